# kill -9 in the middle of a reload and of an incremental sync: the warehouse keeps its previous
# state, and the next run converges to Postgres. The killed runs read through a throttled loopback
# proxy (2 MB/s), so a modest table is still mid-copy when the kill comes.
pgq "CREATE TABLE events (id bigint PRIMARY KEY, kind text, payload jsonb, at timestamptz, tags int[])"
pgq "INSERT INTO events SELECT g, 'k' || (g % 7), jsonb_build_object('n', g, 's', repeat('x', 20)), '2024-01-01'::timestamptz + g * interval '1 s', ARRAY[g, g+1] FROM generate_series(1, 50000) g"
t_ok "initial sync of events" "$PGW" sync events
pgq "INSERT INTO events SELECT g, 'k', '{}', now(), '{}' FROM generate_series(50001, 200000) g"
proxy_start "$PGPORT" 2000000

# kill_mid CMD...: starts the command and kills it with SIGKILL once its COPY runs in PostgreSQL
# (or has run, its rows still in the proxy on their way: wait_copy), plus KILL_AFTER seconds;
# prints "killed" if it was still running then
kill_mid() {
  PGPORT=$PROXY_PORT "$@" >/dev/null 2>&1 &
  local pid=$!
  wait_copy
  sleep "${KILL_AFTER:-0.3}"
  if kill -0 $pid 2>/dev/null; then kill -9 $pid; wait $pid 2>/dev/null; echo killed; else wait $pid; echo "finished (exit $?)"; fi
}

t_eq "reload was killed mid-copy" "killed" "$(kill_mid "$PGW" reload events)"
t_eq "after a killed reload the old table is intact" "50000 50000" "$(dq 'SELECT count(*), max(id) FROM events' | tr '\t' ' ')"
if [[ $BACKEND == duckdb ]]; then  # ClickHouse keeps the helper until the next run drops it
  t_eq "no helper table left behind" "0" "$(wh_tables | grep -v _pgwarehouse_runs | grep -c _pgwarehouse_)"
fi

t_eq "incremental sync was killed mid-copy" "killed" "$(kill_mid "$PGW" sync events)"
if [[ $BACKEND == duckdb ]]; then
  t_eq "after a killed sync no partial rows were added" "50000 50000" "$(dq 'SELECT count(*), max(id) FROM events' | tr '\t' ' ')"
else  # ClickHouse moves staged rows in key order: at most a gapless prefix arrived
  read -r cnt mx <<<"$(dq 'SELECT count(*), max(id) FROM events' | tr '\t' ' ')"
  t_eq "after a killed sync the table holds a gapless prefix" "$cnt" "$mx"
fi

t_ok "rerun after the kills" "$PGW" sync events
t_eq "rerun converges: count" "200000" "$(dq 'SELECT count(*) FROM events')"
t_same "rerun converges: every value" events

pgq "UPDATE events SET kind = 'changed' WHERE id % 3 = 0"
t_eq "reload killed again after updates" "killed" "$(KILL_AFTER=0.2 kill_mid "$PGW" reload events)"
t_eq "old values still there" "0" "$(dq "SELECT count(*) FROM events WHERE kind = 'changed'")"
t_ok "reload after the kill" "$PGW" reload events
t_same "reload converges" events
proxy_stop
