# Production databases: a TRUNCATE racing the snapshot, roles with timeouts, row-level security,
# char(n) padding, keys that the warehouse keeps as text, max_records with last_modified,
# inheritance, load refusing incomplete extract files, and SSL (hostssl, require, verify-full).
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE race (id int PRIMARY KEY, v text);
INSERT INTO race SELECT g, 'old' || g FROM generate_series(1, 100) g;
CREATE TABLE padded (code char(5) PRIMARY KEY, label char(3), tags char(2)[]);
INSERT INTO padded VALUES ('ab', 'x', '{a,bb}'), ('abcde', 'xyz', '{}'), ('c', NULL, '{c}');
CREATE TABLE numkey (id numeric PRIMARY KEY, v text);
INSERT INTO numkey SELECT g, 'v' || g FROM generate_series(1, 100) g;
CREATE TABLE lmties (id int PRIMARY KEY, v int, updated_at timestamp NOT NULL);
INSERT INTO lmties SELECT g, g, '2024-03-10 02:30:00' FROM generate_series(1, 60) g;
INSERT INTO lmties SELECT g, g, '2024-03-10 07:00:00' FROM generate_series(61, 70) g;
CREATE TABLE parent (id int PRIMARY KEY, v text);
CREATE TABLE child (extra int) INHERITS (parent);
INSERT INTO parent VALUES (1, 'parent row');
INSERT INTO child VALUES (2, 'child row', 7);
CREATE TABLE secret (id int PRIMARY KEY, owner_name text);
INSERT INTO secret SELECT g, CASE WHEN g % 2 = 0 THEN 'pgw_rls' ELSE 'other' END FROM generate_series(1, 100) g;
ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine ON secret USING (owner_name = current_user);
CREATE VIEW slow AS SELECT g AS id, 'x' || g AS v FROM generate_series(1, 3) g, pg_sleep(0.6);
SQL

# 1. A TRUNCATE and new rows committed while pgwarehouse waits to start: the copy waits for the
# lock before it takes its snapshot, so it sees the new rows rather than an empty table
"$PGW" sync race >/dev/null 2>&1
psql -qX -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<'SQL' &
BEGIN;
LOCK TABLE race IN ACCESS EXCLUSIVE MODE;
SELECT pg_sleep(2);
TRUNCATE race;
INSERT INTO race SELECT g, 'new' || g FROM generate_series(1, 50) g;
COMMIT;
SQL
locker=$!
pg_wait "(SELECT count(*) FROM pg_locks WHERE relation = 'race'::regclass AND mode = 'AccessExclusiveLock' AND granted) = 1" 2
"$PGW" reload race >/dev/null 2>&1; rc=$?
wait $locker
t_eq "reload after a concurrent TRUNCATE succeeds" 0 "$rc"
t_eq "and holds the rows committed with the TRUNCATE" "50" "$(dq 'SELECT count(*) FROM race')"
t_same "race equal to Postgres" race

# 2. A role with statement and idle-in-transaction timeouts still copies a long-running read
pgq "DROP ROLE IF EXISTS pgw_timeouts"
pgq "CREATE ROLE pgw_timeouts LOGIN PASSWORD 'timeouts-pw' IN ROLE pg_read_all_data"
pgq "ALTER ROLE pgw_timeouts SET statement_timeout = '300ms'"
pgq "ALTER ROLE pgw_timeouts SET idle_in_transaction_session_timeout = '300ms'"
pgq "ALTER ROLE pgw_timeouts SET lock_timeout = '100ms'"
out=$(PGUSER=pgw_timeouts PGPASSWORD=timeouts-pw "$PGW" sync slow 2>&1); rc=$?
t_eq "a role's statement_timeout does not stop a slow copy" 0 "$rc"
[[ $rc == 0 ]] || echo "$out" | tail -3
t_eq "all rows of the slow view arrive" "3" "$(dq 'SELECT count(*) FROM slow')"

# 3. Row-level security: a role that would see half the rows is refused, the owner copies all
pgq "DROP ROLE IF EXISTS pgw_rls"
pgq "CREATE ROLE pgw_rls LOGIN PASSWORD 'rls-pw'; GRANT SELECT ON secret TO pgw_rls"
t_err "a table under row-level security is refused for a role that sees part of it" 1 \
  'row-level security and role "pgw_rls".*BYPASSRLS' env PGUSER=pgw_rls PGPASSWORD=rls-pw "$PGW" sync secret
t_eq "and nothing was loaded" "" "$(wh_tables | grep -x secret)"
out=$(PGUSER=pgw_rls PGPASSWORD=rls-pw "$PGW" check 2>&1)
t_eq "check names the row-level security problem" "1" "$(grep -c 'FAIL.*row-level security' <<<"$out")"
pgq "ALTER ROLE pgw_rls BYPASSRLS"
PGUSER=pgw_rls PGPASSWORD=rls-pw "$PGW" sync secret >/dev/null 2>&1
t_eq "with BYPASSRLS every row arrives" "100" "$(dq 'SELECT count(*) FROM secret')"
pgq "DROP OWNED BY pgw_rls; DROP ROLE pgw_rls; DROP OWNED BY pgw_timeouts; DROP ROLE pgw_timeouts"

# 4. char(n): the padding PostgreSQL ignores does not reach the warehouse (nor extract files)
"$PGW" extract padded >/dev/null 2>&1
t_eq "extract files hold char(n) without padding" "1" "$(zcat pgw_data/padded_data/*.csv.gz | grep -c '^ab,x,"{a,bb}"$')"
rm -rf pgw_data
"$PGW" sync padded >/dev/null 2>&1
t_eq "char(n) values arrive without padding" "2 1" "$(dq "SELECT length(code), length(label) FROM padded WHERE code = 'ab'" | tr '\t' ' ')"
t_same "padded equal to Postgres" padded

# 5. A numeric key is kept as text in the warehouse (except ClickHouse's Decimal256 for wide
# precisions): new-records cannot compare it, so the table is reloaded rather than rows lost
"$PGW" sync numkey >/dev/null 2>&1
pgq "INSERT INTO numkey SELECT g, 'v' || g FROM generate_series(101, 150) g"
out=$("$PGW" sync numkey 2>&1)
t_eq "a text-kept numeric key is named in a warning" "1" "$(grep -c 'key column "id" (numeric) is kept as text' <<<"$out")"
t_same "numkey: all 150 rows after the second sync" numkey
if [[ $BACKEND == chdb ]]; then  # modern ClickHouse keeps numeric(50,0) as Decimal256: compared as numbers
  pgq "CREATE TABLE widekey (id numeric(50,0) PRIMARY KEY, v text)"
  pgq "INSERT INTO widekey SELECT g, 'v' || g FROM generate_series(1, 100) g"
  "$PGW" sync widekey >/dev/null 2>&1
  pgq "INSERT INTO widekey SELECT g, 'v' || g FROM generate_series(101, 150) g"
  out=$("$PGW" sync widekey 2>&1)
  t_eq "Decimal256 keys use new-records" "1" "$(grep -cE '^widekey +new-records +50 ' <<<"$out")"
  t_same "widekey: no row twice, none missing" widekey
  # Decimal256 goes in binary as a 256-bit integer made from PostgreSQL's text: the widest
  # values, negatives, fractions, zero, NULL; NaN, which Decimal cannot hold, is refused
  pgq "CREATE TABLE dec256 (id int PRIMARY KEY, v numeric(76,10), w numeric(39,0))"
  pgq "INSERT INTO dec256 VALUES (1, (repeat('9', 66) || '.' || repeat('9', 10))::numeric, repeat('9', 39)::numeric),
    (2, ('-' || repeat('9', 66) || '.' || repeat('9', 10))::numeric, -1), (3, -1.5, 0), (4, 0, NULL), (5, NULL, 10::numeric ^ 38),
    (6, '-0.0000000001', ('-' || repeat('9', 39))::numeric), (7, 12345678901234567890.0123456789, 1)"
  t_eq "...(the values are there)" "7" "$(pgq 'SELECT count(*) FROM dec256')"
  t_ok "sync of Decimal256 values" "$PGW" -q sync dec256
  t_same "dec256 equals PostgreSQL, value by value" dec256
  pgq "INSERT INTO dec256 VALUES (8, 'NaN', 1)"
  t_err "NaN in a Decimal256 column is refused, naming the column" 1 'column "v" holds NaN, which ClickHouse.s Decimal\(76\) cannot hold' "$PGW" reload dec256
fi

# 6. max_records with last_modified: (last_modified, key) order converges even when more rows
# than max_records share one timestamp; a timestamp in a DST gap of the server's zone survives
cat > limited.yaml <<'YAML'
postgres:
  max_records: 25
tables:
  - lmties:
      last_modified: updated_at
YAML
for _ in 1 2 3 4; do "$PGW" --config limited.yaml sync lmties >/dev/null 2>&1; done
t_same "limited last_modified syncs converge past a shared timestamp" lmties
pgq "UPDATE lmties SET v = -v, updated_at = '2024-03-10 08:00:00' WHERE id IN (3, 65)"
"$PGW" --config limited.yaml sync lmties >/dev/null 2>&1
t_same "and later updates arrive" lmties

# 7. An inheritance parent is copied without its children's rows
"$PGW" sync parent >/dev/null 2>&1
t_eq "inheritance parent: only its own rows" "1" "$(dq 'SELECT count(*) FROM parent')"

# 8. load refuses a file set that is not what extract wrote
pgq "CREATE TABLE chunks (id int PRIMARY KEY, v text)"
pgq "INSERT INTO chunks SELECT g, repeat('x', 10) FROM generate_series(1, 2500) g"
PGWAREHOUSE_EXTRACT_ROWS_PER_FILE=1000 "$PGW" extract chunks >/dev/null 2>&1
nfiles=$(ls pgw_data/chunks_data/*.csv.gz | wc -l)
t_eq "extract wrote a file per 1000 rows" "3" "$nfiles"
mv pgw_data/chunks_data/00002.csv.gz missing.csv.gz
t_err "load names the missing chunk" 1 '00002.csv.gz is missing' "$PGW" load chunks
t_eq "and loaded nothing" "" "$(wh_tables | grep -x chunks)"
mv missing.csv.gz pgw_data/chunks_data/00002.csv.gz
"$PGW" load chunks >/dev/null 2>&1
t_same "with every file back, load completes" chunks
rm -rf pgw_data

# Messages on a sample schema: list sums a partitioned table's partitions; sync all names the
# views it leaves out
pgq "CREATE TABLE parted (id int, v text) PARTITION BY RANGE (id)"
pgq "CREATE TABLE parted_a PARTITION OF parted FOR VALUES FROM (0) TO (1000)"
pgq "CREATE TABLE parted_b PARTITION OF parted FOR VALUES FROM (1000) TO (3000)"
pgq "INSERT INTO parted SELECT g, 'x' FROM generate_series(1, 2500) g"
pgq "ANALYZE parted_a; ANALYZE parted_b"
t_eq "list: a partitioned table shows its partitions' rows" "2500" "$("$PGW" list | awk '$2 == "parted" {print $NF}')"
t_eq "list: ...and their size" "0" "$("$PGW" list | awk '$2 == "parted" {print ($3 == "0")}')"
# sync all on a small schema of its own (pgschema msgs): it names the views it leaves out, and
# last_modified=COL applies where COL exists
pgq "CREATE SCHEMA msgs; CREATE VIEW msgs.v_counts AS SELECT 1 AS n"
pgq "CREATE TABLE msgs.plain (id int PRIMARY KEY)"
pgq "CREATE TABLE msgs.touchy (id int PRIMARY KEY, v int, touched timestamptz NOT NULL DEFAULT '2024-01-01')"
pgq "INSERT INTO msgs.touchy (id, v) SELECT g, g FROM generate_series(1, 10) g"
out=$(PGSCHEMA=msgs "$PGW" sync all 2>&1)
t_eq "sync all says which views it leaves out" "1" "$(grep -c 'leaves out the views of schema "msgs" (v_counts)' <<<"$out")"
pgq "UPDATE msgs.touchy SET v = -1, touched = '2025-01-01' WHERE id = 4"
out=$(PGSCHEMA=msgs "$PGW" sync all last_modified=touched 2>&1); rc=$?
t_eq "sync all last_modified=COL: the tables with COL use it" "1" "$(grep -cE '^touchy +last-modified ' <<<"$out")"
t_same "touchy equal to Postgres" msgs.touchy touchy
t_eq "sync all last_modified=COL: tables without COL keep their strategy" "0" "$rc"
t_eq "...and say so" "1" "$(grep -c 'plain: no column "touched", so not synced by last_modified=touched' <<<"$out")"

# an unpopulated materialized view fails as a table (exit 1), with PostgreSQL's hint
pgq "CREATE MATERIALIZED VIEW unfilled AS SELECT 1 AS x WITH NO DATA"
t_err "an unpopulated materialized view: exit 1 with the hint" 1 'has not been populated; .*REFRESH MATERIALIZED VIEW' "$PGW" sync unfilled

# SSL, as managed databases require it: a role the server takes only over SSL (hostssl) syncs with
# sslmode=require and verify-full (its certificate checked against PGSSLROOTCERT), its replication
# connection included; without SSL, one line naming pgsslmode. The cluster's SSL and pg_hba lines
# are put back afterwards (the pass's other scripts share the cluster).
if [[ $BACKEND == duckdb ]]; then
  ssl_dir="$PWD/ssl"; mkdir -p "$ssl_dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$ssl_dir/server.key" -out "$ssl_dir/server.crt" >/dev/null 2>&1
  for f in server.key server.crt; do pgc_as_owner tee "$PGC_DIR/data/$f" < "$ssl_dir/$f" >/dev/null; done
  pgc_as_owner chmod 600 "$PGC_DIR/data/server.key"
  hba="$PGC_DIR/data/pg_hba.conf"
  pgc_as_owner cp "$hba" "$hba.before-ssl"
  { printf 'hostssl all pgw_ssl 127.0.0.1/32 scram-sha-256\nhostnossl all pgw_ssl 127.0.0.1/32 reject\n'
    cat "$hba.before-ssl"; } > "$ssl_dir/pg_hba.conf"
  pgc_as_owner tee "$hba" < "$ssl_dir/pg_hba.conf" >/dev/null
  pgq "ALTER SYSTEM SET ssl = on"
  pgq "SELECT pg_reload_conf()"
  pgq "CREATE ROLE pgw_ssl LOGIN REPLICATION PASSWORD 'ssl-pw'; GRANT SELECT ON race TO pgw_ssl"
  pgq "CREATE PUBLICATION pgw_ssl_pub FOR TABLE race"
  t_eq "the server now takes SSL connections" "t" "$(PGSSLMODE=require psql -qAtX -c "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")"
  export PGUSER=pgw_ssl PGPASSWORD=ssl-pw
  t_err "a server that takes the role only over SSL, with sslmode=disable: one line naming pgsslmode" 3 \
    "no encryption; the server takes this connection only with SSL: set pgsslmode \(PGSSLMODE\) to require" \
    env PGSSLMODE=disable "$PGW" sync race
  t_ok "sslmode=require: the sync runs over SSL" env PGSSLMODE=require "$PGW" -q reload race
  t_ok "sslmode=verify-full with the server's CA certificate" env PGSSLMODE=verify-full PGSSLROOTCERT="$ssl_dir/server.crt" \
    "$PGW" -q reload race
  printf 'tables:\n  - race: {cdc: true}\npostgres:\n  replication_slot: pgw_ssl_slot\n  publication: pgw_ssl_pub\n' > "$PWD/ssl.yaml"
  t_ok "change data capture over SSL: the copy" env PGSSLMODE=require "$PGW" -q -c "$PWD/ssl.yaml" sync race
  export PGUSER=pgw PGPASSWORD=$(cat "$PGC_DIR/pw")
  pgq "UPDATE race SET v = 'over ssl' WHERE id = 1"
  export PGUSER=pgw_ssl PGPASSWORD=ssl-pw
  t_ok "...and the stream" env PGSSLMODE=require "$PGW" -q -c "$PWD/ssl.yaml" sync race
  export PGUSER=pgw PGPASSWORD=$(cat "$PGC_DIR/pw")
  t_same "race equal to PostgreSQL after its changes came over SSL" race
  pgq "SELECT pg_drop_replication_slot('pgw_ssl_slot')"
  pgq "DROP PUBLICATION pgw_ssl_pub"
  pgc_as_owner cp "$hba.before-ssl" "$hba"
  pgq "ALTER SYSTEM RESET ssl"
  pgq "SELECT pg_reload_conf()"
fi
