# Two pgwarehouse runs on the same warehouse at once. DuckDB and embedded ClickHouse: the second
# process cannot open the store and stops with a clear error. ClickHouse over HTTP / Snowflake: a
# table being loaded by one run is skipped by the other (a PostgreSQL advisory lock); other tables
# load side by side.
pgq "CREATE TABLE big (id bigint PRIMARY KEY, body text)"
pgq "INSERT INTO big SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 60000) g"
pgq "CREATE TABLE other (id int PRIMARY KEY)"
pgq "INSERT INTO other SELECT generate_series(1, 50)"
t_ok "first copy" "$PGW" -q sync big
proxy_start "$PGPORT" 1500000
PGPORT=$PROXY_PORT "$PGW" -q reload big >/dev/null 2>"$PWD/first.err" &
first=$!
wait_copy
if [[ $BACKEND == duckdb || $BACKEND == chdb ]]; then
  t_err "a second process on the same DuckDB file or chDB store stops clearly" 4 "is in use by another process" "$PGW" sync other
else
  t_err "a second run skips the table the first is loading" 4 "another pgwarehouse run is loading table big into the same warehouse" "$PGW" reload big
  t_ok "...and loads another table meanwhile" "$PGW" -q sync other
  t_eq "...which arrived" "50" "$(dq 'SELECT count(*) FROM other')"
fi
wait $first; rc=$?
t_eq "the first run finished normally" "0" "$rc"
[[ $rc == 0 ]] || sed 's/^/        /' first.err
proxy_stop
t_same "big equals Postgres" big
t_ok "afterwards the table loads again" "$PGW" -q reload big
t_eq "no lock left behind" "0" "$(pgq "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")"
