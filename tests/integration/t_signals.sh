# Ctrl-C (SIGINT) and SIGTERM in the middle of a load: pgwarehouse stops reading, rolls the
# table back, says so in one line and exits 130 / 143; the next run converges. PostgreSQL is
# reached through a throttled proxy so the loads are still running when the signal comes.
pgq "CREATE TABLE sig (id bigint PRIMARY KEY, body text)"
pgq "INSERT INTO sig SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 100000) g"
for i in 1 2 3; do pgq "CREATE TABLE small$i (id int PRIMARY KEY)"; pgq "INSERT INTO small$i SELECT generate_series(1, 10)"; done
t_ok "first sync" "$PGW" -q sync sig
pgq "UPDATE sig SET body = 'new' WHERE id % 2 = 0"
pgq "INSERT INTO sig SELECT g, repeat(md5(g::text), 3) FROM generate_series(100001, 150000) g"
proxy_start "$PGPORT" 2000000

# stop_mid SIGNAL ARGS...: runs pgwarehouse ARGS through the proxy and sends SIGNAL once a COPY runs
stop_mid() {
  local sig=$1; shift
  PGPORT=$PROXY_PORT "$PGW" "$@" >"$PWD/stop.out" 2>"$PWD/stop.err" &
  local pid=$!
  wait_copy
  sleep 0.3
  kill -s "$sig" $pid
  wait $pid
  echo $?
}

for sig in INT TERM; do
  code=$([[ $sig == INT ]] && echo 130 || echo 143)
  for streams in 1 2; do
    what="SIG$sig, $streams stream(s)"
    t_eq "$what: exit $code" "$code" "$(PGWAREHOUSE_COPY_STREAMS_MIN_SIZE=0 stop_mid $sig --streams $streams reload sig)"
    t_ok "$what: says it was interrupted and rolled back" grep -q "reload sig: interrupted: SIG$sig; the warehouse table was left as it was" "$PWD/stop.err"
    t_eq "$what: one error line" "1" "$(grep -c "error:" "$PWD/stop.err")"
    t_eq "$what: the table is as before" "100000 0" "$(dq "SELECT count(*), sum(CASE WHEN body = 'new' THEN 1 ELSE 0 END) FROM sig" | tr '\t' ' ')"
    t_eq "$what: no helper table left" "0" "$(wh_tables | grep -v _pgwarehouse_runs | grep -ci _pgwarehouse_)"
    t_eq "$what: the run log records the interruption" "interrupted" "$(whq "SELECT status FROM _pgwarehouse_runs ORDER BY started_us DESC LIMIT 1")"
    t_eq "$what: no PostgreSQL session left" "0" "$(pgq "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgwarehouse'")"
  done
done

# An incremental sync interrupted: no partial rows.
t_eq "SIGINT during an incremental sync: exit 130" "130" "$(stop_mid INT sync sig)"
if [[ $BACKEND == clickhouse || $BACKEND == chdb ]]; then  # staged rows move in key order
  read -r cnt mx <<<"$(dq 'SELECT count(*), max(id) FROM sig' | tr '\t' ' ')"
  t_eq "...the table holds a gapless prefix" "$cnt" "$mx"
else
  t_eq "...no partial rows" "100000" "$(dq 'SELECT count(*) FROM sig')"
fi

# sync all interrupted: tables not started are reported as not run.
stop_mid INT --jobs 1 sync all >/dev/null
t_ok "sync all: the summary lists tables not run" grep -q "not run" "$PWD/stop.out"
proxy_stop

t_ok "the next run converges" "$PGW" -q sync all
t_eq "sig has every new row" "150000" "$(dq 'SELECT count(*) FROM sig')"
t_ok "a reload after the interruptions" "$PGW" -q reload sig
t_same "sig equals Postgres" sig
t_eq "small tables all there" "30" "$(dq 'SELECT (SELECT count(*) FROM small1) + (SELECT count(*) FROM small2) + (SELECT count(*) FROM small3)')"
