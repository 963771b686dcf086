# PostgreSQL restarted in the middle of a table: that table fails cleanly, the run reconnects
# (with backoff) for the tables after it, and the next run converges.
pgq "CREATE TABLE aaa_slow (id bigint PRIMARY KEY, body text)"
pgq "INSERT INTO aaa_slow SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 40000) g"
pgq "CREATE TABLE zzz_small (id int PRIMARY KEY)"
pgq "INSERT INTO zzz_small SELECT generate_series(1, 100)"
t_ok "first sync" "$PGW" -q sync all
# far more than the socket buffers hold, so the server is still sending when it restarts
pgq "INSERT INTO aaa_slow SELECT g, repeat(md5(g::text), 3) FROM generate_series(40001, 300000) g"
pgq "INSERT INTO zzz_small SELECT generate_series(101, 200)"
proxy_start "$PGPORT" 8000000

PGPORT=$PROXY_PORT "$PGW" --jobs 1 sync all >"$PWD/run.out" 2>"$PWD/run.err" &
pid=$!
wait_copy
sleep 0.3
pgc_as_owner "$PGC_BIN/pg_ctl" -D "$PGC_DIR/data" -m fast -w restart >/dev/null 2>&1
wait $pid
t_eq "the run reports a failed table (exit 1)" "1" "$?"
t_ok "the interrupted table's error names it" grep -q "^pgwarehouse: error: sync aaa_slow: PostgreSQL" "$PWD/run.err"
t_eq "...in one line" "1" "$(grep -c "error:" "$PWD/run.err")"
t_ok "the table after it still ran" grep -Eq "^zzz_small +new-records +100 .* ok" "$PWD/run.out"
t_eq "aaa_slow kept its previous rows only" "40000" "$(dq 'SELECT count(*) FROM aaa_slow')"
proxy_stop
t_ok "the next run converges" "$PGW" -q sync all
t_same_each "aaa_slow equals Postgres" aaa_slow \
  "zzz_small equals Postgres" zzz_small
