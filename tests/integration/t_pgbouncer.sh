# Through pgbouncer in transaction mode (Debian's package), where a client's transactions may run
# on different server connections and session state leaks to other clients: every setting is per
# transaction, the advisory lock is per transaction, and parallel streams still share a snapshot.
# The PostgreSQL side does not depend on the warehouse: run it once, on DuckDB.
[[ $BACKEND == duckdb ]] || return 0
PGB_BIN=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
pgb_dir=$PWD/pgbouncer
mkdir -p "$pgb_dir"
pgb_port=$(pgc_free_port)
printf '"%s" "%s"\n' "$PGUSER" "$PGPASSWORD" > "$pgb_dir/userlist.txt"
cat > "$pgb_dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$PGPORT
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $pgb_port
unix_socket_dir =
auth_type = plain
auth_file = $pgb_dir/userlist.txt
pool_mode = transaction
default_pool_size = 3
max_client_conn = 50
ignore_startup_parameters = options,extra_float_digits
logfile = $pgb_dir/pgbouncer.log
pidfile = $pgb_dir/pgbouncer.pid
INI
chmod -R a+rwX "$pgb_dir"
pgc_as_owner "$PGB_BIN" -d "$pgb_dir/pgbouncer.ini" >/dev/null 2>&1
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$pgb_port") 2>/dev/null && break; sleep 0.05; done
pgb_stop() { [[ -f $pgb_dir/pgbouncer.pid ]] && kill "$(cat "$pgb_dir/pgbouncer.pid")" 2>/dev/null; true; }

pgq "CREATE TABLE pooled (id bigint PRIMARY KEY, v text, at timestamptz, d interval)"
pgq "INSERT INTO pooled SELECT g, 'v' || g, '2024-01-01'::timestamptz + g * interval '1 min', g * interval '1 h' FROM generate_series(1, 20000) g"
export PGWAREHOUSE_COPY_STREAMS_MIN_SIZE=0
t_ok "reload with 2 streams through pgbouncer" env PGPORT=$pgb_port "$PGW" -q --streams 2 reload pooled
t_same "pooled equal to Postgres" pooled
pgq "INSERT INTO pooled SELECT g, 'v' || g, now(), '1 day' FROM generate_series(20001, 20100) g"
t_ok "incremental sync through pgbouncer" env PGPORT=$pgb_port "$PGW" -q sync pooled
t_ok "and again (no lock left behind on a pooled connection)" env PGPORT=$pgb_port "$PGW" -q sync pooled
t_same "pooled equal to Postgres after the syncs" pooled
unset PGWAREHOUSE_COPY_STREAMS_MIN_SIZE
# another client of the pool sees the server's defaults, not pgwarehouse's settings
leaked=$(for _ in 1 2 3 4 5 6; do PGPORT=$pgb_port psql -qAtX -c "SHOW IntervalStyle" -c "SHOW statement_timeout" -c "SHOW extra_float_digits"; done | sort -u | paste -sd' ')
t_eq "no setting leaked into the pool's other clients" "0 1 postgres" "$leaked"
pgb_stop
