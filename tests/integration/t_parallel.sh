# Several COPY streams per table (ctid ranges in one exported snapshot): every row exactly once,
# one point in time while writers run, failures and kills leave the old table.
pgq "CREATE TABLE acct (id bigint PRIMARY KEY, balance bigint NOT NULL, note text)"
pgq "INSERT INTO acct SELECT g, 1000, repeat('n', g % 50) FROM generate_series(1, 20000) g"
pgq "VACUUM ANALYZE acct"
export PGWAREHOUSE_COPY_STREAMS_MIN_SIZE=0

out=$("$PGW" --streams 3 reload acct 2>&1)
t_eq "reload with 3 streams" "0" "$?"
t_ok "the log says 3 streams" grep -q "acct: 3 COPY streams" <<<"$out"
t_eq "every row exactly once" "20000 20000 200010000" "$(dq 'SELECT count(*), count(DISTINCT id), sum(id) FROM acct' | tr '\t' ' ')"
t_same "3-stream copy equals Postgres" acct

# The key check of a table COPY streams would read sums half of its key ranges on a second
# connection inside the table's snapshot (a table vacuumed, whose index alone answers): a key below
# the watermark and two deleted keys found
kc_vacuum() { # until VACUUM finds the pages all-visible: it cannot mark a row's page before the
  # commit's hint bit may be set, which the test cluster's asynchronous commits leave to the WAL writer
  for _ in $(seq 1 50); do
    pgq "VACUUM ANALYZE kc"
    [[ $(pgq "SELECT relallvisible >= 0.9 * relpages FROM pg_class WHERE relname = 'kc'") == t ]] && return 0
    sleep 0.2
  done
  echo "  note  kc not all-visible after 50 VACUUMs"
}
pgq "CREATE TABLE kc (id bigint PRIMARY KEY, v text); INSERT INTO kc SELECT g, 'v' || g FROM generate_series(1, 20000) g"
kc_vacuum
printf 'deletes: true\ntables:\n  - kc\n' > "$T_DIR/deletes.yaml"
t_ok "kc synced" "$PGW" -c "$T_DIR/deletes.yaml" sync kc
pgq "DELETE FROM kc WHERE id IN (5, 15000); INSERT INTO kc VALUES (0, 'below')"
kc_vacuum
out=$("$PGW" -c "$T_DIR/deletes.yaml" -d sync kc 2>&1)
t_ok "...its PostgreSQL side on two connections" grep -q "kc: the warehouse's sums in .* (two connections)" <<<"$out"
t_ok "...the two deleted keys found and deleted" grep -q "kc: 2 rows deleted in PostgreSQL are deleted" <<<"$out"
t_same "...and the key below the watermark loaded" kc

# ClickHouse keeps one chunk of rows per stream (an INSERT in one stream's order). A stream's rows
# of this table encode to ~280 kB: with 400 kB chunks none fills, and the three together reach
# twice that before the end, where the largest goes
if [[ $BACKEND == clickhouse || $BACKEND == chdb ]]; then
  PGW_CLICKHOUSE_FLUSH_BYTES=409600 "$PGW" -d --streams 3 reload acct >"$PWD/chunks.log" 2>&1
  t_eq "reload with 3 streams in 400 kB INSERTs" "0" "$?"
  t_ok "...the largest chunk sent when the three hold 800 kB" grep -q "bytes in the streams' chunks: the largest goes" "$PWD/chunks.log"
  t_eq "...one INSERT a stream" "3" "$(grep -c 'INSERT INTO .*_pgwarehouse_new_acct' "$PWD/chunks.log")"
  t_eq "...every row exactly once" "20000 20000 200010000" "$(dq 'SELECT count(*), count(DISTINCT id), sum(id) FROM acct' | tr '\t' ' ')"
  t_same "...equal to Postgres" acct
fi

# A role's CONNECTION LIMIT (or a server near max_connections) gives fewer connections than
# streams: the copy goes on with those it gets, or with the table's own connection
lim=pgw_limited_$BACKEND
pgq "CREATE ROLE $lim LOGIN PASSWORD 'limited-pw' CONNECTION LIMIT 3; GRANT SELECT ON acct TO $lim"
pgq "UPDATE acct SET note = 'while limited' WHERE id % 1000 = 0"
out=$(PGUSER=$lim PGPASSWORD=limited-pw "$PGW" --streams 4 reload acct 2>&1); rc=$?
t_eq "a connection limit below the streams: 2 streams instead of 4, saying why" "0 1" \
  "$rc $(grep -c "acct: copying with 2 COPY streams instead of 4, as PostgreSQL gives no more connections (.*too many connections for role" <<<"$out")"
t_same "...equal" acct
pgq "ALTER ROLE $lim CONNECTION LIMIT 1; UPDATE acct SET note = 'one connection' WHERE id % 1000 = 1"
out=$(PGUSER=$lim PGPASSWORD=limited-pw "$PGW" --streams 4 reload acct 2>&1); rc=$?
t_eq "...no connection to spare: one stream on the table's own" "0 1" \
  "$rc $(grep -c "acct: copying with 1 COPY stream instead of 4" <<<"$out")"
t_same "...equal" acct
pgq "DROP OWNED BY $lim; DROP ROLE $lim"

# What servers before 14 get: ranges of the integer key instead of ctid ranges.
out=$(PGWAREHOUSE_COPY_SPLIT=key "$PGW" --streams 3 reload acct 2>&1)
t_ok "key-range split: 3 streams" grep -q "acct: 3 COPY streams over key ranges from 1 to 20000" <<<"$out"
t_same "key-range copy equals Postgres" acct
pgq "CREATE TABLE textkey (k text PRIMARY KEY, v int)"
pgq "INSERT INTO textkey SELECT 'k' || g, g FROM generate_series(1, 20000) g"
out=$(PGWAREHOUSE_COPY_SPLIT=key "$PGW" --streams 3 reload textkey 2>&1)
t_ok "key-range split needs one integer key: else one stream" bash -c '! grep -q "COPY streams" <<<"$1"' _ "$out"
t_same "...and the copy is complete" textkey

# A partitioned table: each stream reads its ctid range of every partition (partitions of unequal
# sizes, an empty one, a partitioned one)
pgq "CREATE TABLE parts (id bigint, grp int, note text, PRIMARY KEY (id, grp)) PARTITION BY LIST (grp)"
pgq "CREATE TABLE parts_a PARTITION OF parts FOR VALUES IN (1)"
pgq "CREATE TABLE parts_b PARTITION OF parts FOR VALUES IN (2)"
pgq "CREATE TABLE parts_e PARTITION OF parts FOR VALUES IN (3)"
pgq "CREATE TABLE parts_s PARTITION OF parts FOR VALUES IN (4, 5) PARTITION BY LIST (grp)"
pgq "CREATE TABLE parts_s4 PARTITION OF parts_s FOR VALUES IN (4)"
pgq "CREATE TABLE parts_s5 PARTITION OF parts_s FOR VALUES IN (5)"
pgq "INSERT INTO parts SELECT g, CASE WHEN g % 10 < 6 THEN 1 WHEN g % 10 < 7 THEN 2 WHEN g % 10 < 9 THEN 4 ELSE 5 END,
  repeat('p', g % 40) FROM generate_series(1, 30000) g"
out=$("$PGW" --streams 3 reload parts 2>&1)
t_ok "a partitioned table: 3 streams over its partitions' ctid ranges" grep -qE "parts: 3 COPY streams over [0-9]+ blocks" <<<"$out"
t_eq "...every row exactly once" "30000 30000 450015000" "$(dq 'SELECT count(*), count(DISTINCT id), sum(id) FROM parts' | tr '\t' ' ')"
t_same "...equal to Postgres" parts

# Transfers keep sum(balance) at 20,000,000 and inserts add pairs summing to 0: a copy mixing two
# points in time would break one of the two.
pgq "CREATE SEQUENCE acct_seq START 1000000"
cat > "$PWD/writer.sql" <<'SQL'
\set a random(1, 20000)
\set b :a % 20000 + 1
BEGIN;
UPDATE acct SET balance = balance + CASE WHEN id = :a THEN -7 ELSE 7 END WHERE id IN (:a, :b);
INSERT INTO acct VALUES (nextval('acct_seq'), 5, 'p'), (nextval('acct_seq'), -5, 'm');
COMMIT;
SQL
"$(pgc_bindir)/pgbench" -n -c 2 -T 3 -f "$PWD/writer.sql" >"$PWD/pgbench.log" 2>&1 &
bench=$!
sleep 0.5
for i in 1 2 3; do
  split=ctid; [[ $i == 3 ]] && split=key
  PGWAREHOUSE_COPY_SPLIT=$split "$PGW" -q --streams 3 reload acct >/dev/null 2>&1 || echo "reload $i failed"
  sum=$(dq 'SELECT sum(balance), count(*) % 2 FROM acct' | tr '\t' ' ')
  t_eq "reload $i ($split ranges) under concurrent writes is one point in time" "20000000 0" "$sum"
done
wait $bench
t_ok "the writers ran without errors" grep -q "number of failed transactions: 0" "$PWD/pgbench.log"
t_ok "...and changed the table" test "$(pgq 'SELECT count(*) FROM acct')" -gt 20000

# One stream's connection dropped by the server, or cut on the network (through a throttled
# proxy): the table fails, the old copy stays, the next run converges.
# A wide table, so each stream holds more than the socket buffers (the proxy keeps its own small;
# PostgreSQL's send buffer still takes ~4 MB) and its server is still sending.
pgq "CREATE TABLE wide (id bigint PRIMARY KEY, body text)"
pgq "INSERT INTO wide SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 80000) g"
t_ok "first copy of wide" "$PGW" -q reload wide
proxy_start "$PGPORT" 2000000  # 2 MB/s per connection: each stream still mid-copy when it fails
fail_one_stream() { # how
  pgq "INSERT INTO wide SELECT g, 'new' FROM generate_series((SELECT max(id) + 1 FROM wide), (SELECT max(id) + 1000 FROM wide)) g"
  local before; before=$(dq 'SELECT count(*) FROM wide')
  PGPORT=$PROXY_PORT "$PGW" --streams 2 reload wide >"$PWD/drop.log" 2>&1 &
  local pid=$!
  wait_copy "ctid >= ''(0,0)''"
  sleep 0.3
  if [[ $1 == terminate ]]; then
    pgq "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgwarehouse' AND query LIKE 'COPY%ctid >= ''(0,0)''%'" >/dev/null
  else
    proxy_cut
  fi
  wait $pid
  t_eq "$1: the table fails (exit 3: PostgreSQL)" "3" "$?"
  t_ok "$1: the error names the table" grep -q "reload wide: " "$PWD/drop.log"
  t_eq "$1: one error line" "1" "$(grep -c "error:" "$PWD/drop.log")"
  cp "$PWD/drop.log" "$PWD/drop-$1.log"
  t_eq "$1: the old copy is untouched" "$before" "$(dq 'SELECT count(*) FROM wide')"
  if [[ $BACKEND == duckdb ]]; then
    t_eq "$1: no helper table left behind" "0" "$(wh_tables | grep -v _pgwarehouse_runs | grep -c _pgwarehouse_)"
  fi
  t_ok "$1: the next run converges" "$PGW" -q --streams 2 reload wide
  t_same "$1: equal to Postgres after the failure" wide
}
fail_one_stream terminate
fail_one_stream cut

# SIGKILL in the middle of a parallel reload: the old copy stays; a helper table may stay until
# the next load of the table drops it.
pgq "INSERT INTO wide SELECT g, 'new' FROM generate_series((SELECT max(id) + 1 FROM wide), (SELECT max(id) + 1000 FROM wide)) g"
before=$(dq 'SELECT count(*) FROM wide')
PGPORT=$PROXY_PORT "$PGW" --streams 2 reload wide >/dev/null 2>&1 &
pid=$!
wait_copy "ctid"
sleep 0.5
kill -9 $pid; wait $pid 2>/dev/null
t_eq "killed parallel reload: the old copy is untouched" "$before" "$(dq 'SELECT count(*) FROM wide')"
t_eq "...and listwh does not show a helper" "0" "$("$PGW" listwh | grep -c _pgwarehouse_)"
t_ok "the next run converges" "$PGW" -q --streams 2 reload wide
t_same "equal to Postgres after the kill" wide
if [[ $BACKEND == duckdb ]]; then
  t_eq "the next run dropped the helper" "0" "$(wh_tables | grep -v _pgwarehouse_runs | grep -c _pgwarehouse_)"
fi
proxy_stop

# PostgreSQL connections left behind by the streams: none.
t_eq "no stream connection lingers" "0" "$(pgq "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgwarehouse'")"
