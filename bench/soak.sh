#!/usr/bin/env bash
# Soak: rounds of random changes in PostgreSQL, syncs killed at random moments, concurrent writers,
# transactions held open across a sync and schema changes, each round ended by a clean `sync all`
# and `verify all`, which must say equal. Tables: five followed by change data capture (an integer
# key with json, arrays and TOASTed text; a composite text key; no key, REPLICA IDENTITY FULL; random
# values of many types; a partitioned table, partitions added, truncated, detached and dropped), one
# new-records table with `deletes: true` (a key deleted and inserted again gets its same values:
# to new-records anything else is an update, which it does not see) and one last_modified table
# with `deletes: true`.
#   bash bench/soak.sh [BUILD_DIR]
#   SOAK_ROUNDS=20 SOAK_BACKENDS="duckdb clickhouse chdb snowflake" (default duckdb clickhouse;
#   snowflake is the local double: pgwarehouse's side, not the service) SOAK_SEED=1 SOAK_KEEP=1
#   (keep the work directory when a round fails) SOAK_DDL=N (only schema change N of ddl() below)
# A round's run is a `sync all`, a `reload` of one table, or a `stream` running through the
# round's changes; killed now and then (kill -9, or SIGTERM for stream), or with PostgreSQL or
# ClickHouse restarted under it; in half the rounds with every copy split into parallel ctid ranges
# and several tables at once.
# Stops at the first round whose verify finds a difference or whose clean sync fails, printing
# what it did; exit 0 when every round of every backend was equal.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
PGW="$build/pgwarehouse"
ROUNDS=${SOAK_ROUNDS:-20}
SEED=${SOAK_SEED:-$RANDOM}
export PGW_TEST_TMPDIR=${PGW_TEST_TMPDIR:-/tmp}
export PGOPTIONS="-c client_min_messages=warning"
source "$root/tests/lib/pgcluster.sh"
source "$root/tests/lib/chserver.sh"
work=$(mktemp -d /tmp/pgw-soak.XXXXXX)
chmod 777 "$work"
failed=0
cleanup() {
  set +e
  pkill -f -- "$work/" 2>/dev/null
  [[ -n ${SFD_PID:-} ]] && sfd_stop
  jobs -p | xargs -r kill 2>/dev/null
  if [[ $failed == 1 && -n ${SOAK_KEEP:-} ]]; then # the servers' logs, which their stop removes
    cp "${CHS_DIR:-/nonexistent}/server.log" "$work/clickhouse-server.log" 2>/dev/null
    cp "${PGC_DIR:-/nonexistent}/server.log" "$work/postgresql.log" 2>/dev/null
  fi
  chs_stop; pgc_stop
  if [[ $failed == 1 && -n ${SOAK_KEEP:-} ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
pgc_start || exit 1
backends=${SOAK_BACKENDS:-duckdb clickhouse}
[[ $backends == *clickhouse* ]] && { chs_start || exit 1; }
server_host=${CLICKHOUSE_HOST:-}
if [[ $backends == *snowflake* ]]; then
  export PGW_ROOT=$root SFD_KEY_CACHE=$work/sfkeys
  source "$root/tests/lib/sfdouble.sh"
  sfd_start "$work/sf" >&2 || exit 1
fi
echo "seed $SEED" >&2
RANDOM=$SEED

schema() {
  psql -qX -v ON_ERROR_STOP=1 -v backend="$b" <<'SQL'
CREATE TABLE c_acct (id int PRIMARY KEY, bal numeric(14,2) NOT NULL, note text, doc jsonb,
  tags text[] NOT NULL DEFAULT '{}', at timestamptz, big text);
INSERT INTO c_acct SELECT g, 100, 'n' || g, jsonb_build_object('g', g), ARRAY['a', 'b' || g], now(),
  CASE WHEN g % 50 = 0 THEN repeat(md5(g::text), 400) END FROM generate_series(1, 3000) g;
CREATE TABLE c_link (a text, b text, w int, PRIMARY KEY (a, b));
INSERT INTO c_link SELECT 'a' || (g % 40), 'b' || g, g FROM generate_series(1, 1000) g;
CREATE TYPE soak_mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE soak_opts (t24 bool); -- 24:00:00, which Snowflake's TIME refuses
INSERT INTO soak_opts VALUES (:'backend' <> 'snowflake');
CREATE TABLE c_types (id int PRIMARY KEY, n numeric(20,6), f float8, r real, ts timestamp, tz timestamptz, d date,
  tm time, iv interval, b bytea, u uuid, e soak_mood, j jsonb, bo bool, ia int[] NOT NULL DEFAULT '{}',
  ta text[] NOT NULL DEFAULT '{}', s text, c char(5), ttz timetz, na numeric(8,3)[] NOT NULL DEFAULT '{}',
  tza timestamptz[] NOT NULL DEFAULT '{}', ea soak_mood[] NOT NULL DEFAULT '{}');
CREATE FUNCTION soak_types(lo int, hi int) RETURNS SETOF c_types LANGUAGE sql AS $$
  SELECT g, CASE WHEN random() < 0.1 THEN NULL ELSE round((random() * 2e8 - 1e8)::numeric, (random() * 6)::int) END,
    CASE WHEN random() < 0.05 THEN 'NaN' WHEN random() < 0.05 THEN '-0' ELSE random() * 1e6 - 5e5 END,
    CASE WHEN random() < 0.1 THEN NULL ELSE (random() * 1000)::real END,
    timestamp '1900-01-01' + random() * interval '390 years', timestamptz '1950-01-01 00:00:00+00' + random() * interval '300 years',
    CASE WHEN random() < 0.1 THEN NULL ELSE date '1900-01-01' + (random() * 140000)::int END,
    CASE WHEN random() < 0.05 AND (SELECT t24 FROM soak_opts) THEN time '24:00' ELSE time '00:00' + random() * interval '23 hours 59 minutes' END,
    CASE WHEN random() < 0.3 THEN make_interval(months => (random() * 40 - 20)::int, days => (random() * 60 - 30)::int,
      secs => random() * 1e5 - 5e4) ELSE random() * interval '400 days' END,
    CASE WHEN random() < 0.1 THEN NULL ELSE decode(md5(random()::text), 'hex') END, md5(g::text || random())::uuid,
    (ARRAY['sad', 'ok', 'happy'])[1 + (random() * 2)::int]::soak_mood,
    CASE WHEN random() < 0.1 THEN NULL ELSE jsonb_build_object('a', random(), 'b', ARRAY[g, NULL], 'c', 'q"\u') END,
    random() < 0.5, ARRAY[g, NULL, -g], ARRAY['x,y', 'tab	', E'nl\n', NULL, 'ü'],
    CASE WHEN random() < 0.1 THEN NULL WHEN random() < 0.1 THEN '' ELSE E'it''s a \\ \t ' || g END,
    CASE WHEN random() < 0.1 THEN NULL ELSE left('c' || g, (random() * 5)::int) END,
    time with time zone '12:34:56.789+05:30' + random() * interval '10 hours',
    ARRAY[round((random() * 1000)::numeric, (random() * 3)::int), NULL, 1.500],
    ARRAY[timestamptz '2000-01-01 00:00:00+00' + random() * interval '100 years', NULL],
    ARRAY['ok', NULL, 'happy']::soak_mood[]
  FROM generate_series(lo, hi) g
$$;
INSERT INTO c_types SELECT * FROM soak_types(1, 2000);
CREATE TABLE c_part (id int, v text, n int, PRIMARY KEY (id)) PARTITION BY RANGE (id);
CREATE TABLE c_part_0 PARTITION OF c_part FOR VALUES FROM (0) TO (1000);
CREATE TABLE c_part_1 PARTITION OF c_part FOR VALUES FROM (1000) TO (2000);
INSERT INTO c_part SELECT g, 'p' || g, g % 10 FROM generate_series(0, 1999) g;
CREATE TABLE c_ev (kind text, n int, f float8);
ALTER TABLE c_ev REPLICA IDENTITY FULL;
INSERT INTO c_ev SELECT 'k' || (g % 7), g % 5, g / 4.0 FROM generate_series(1, 500) g;
CREATE TABLE k_new (id bigint PRIMARY KEY, v text, n int);
INSERT INTO k_new SELECT g, 'v' || g, g % 1000 FROM generate_series(1, 5000) g;
CREATE TABLE k_lm (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT clock_timestamp());
INSERT INTO k_lm SELECT g, 'v' || g, clock_timestamp() FROM generate_series(1, 3000) g;
SQL
}

config() {
  cat > pgwarehouse_conf.yaml <<'YAML'
tables:
  - c_acct: {cdc: true}
  - c_link: {cdc: true}
  - c_ev: {cdc: true}
  - c_types: {cdc: true}
  - c_part: {cdc: true}
  - k_new: {deletes: true, key_check: true}
  - k_lm: {last_modified: updated_at, deletes: true}
YAML
}

# Random changes to every table; $1 seeds PostgreSQL's random()
changes() {
  psql -qX -v ON_ERROR_STOP=1 > /dev/null <<SQL
SELECT setseed($1 / 32768.0);
UPDATE c_acct SET bal = bal + 1, doc = doc || jsonb_build_object('r', random()) WHERE random() < 0.05;
UPDATE c_acct SET note = NULL, tags = tags || 'x'::text WHERE random() < 0.02;
UPDATE c_acct SET id = id + 100000 WHERE id IN (SELECT id FROM c_acct WHERE id < 100000 ORDER BY random() LIMIT 3);
DELETE FROM c_acct WHERE random() < 0.01;
INSERT INTO c_acct SELECT coalesce((SELECT max(id) FROM c_acct WHERE id < 100000), 0) + g, 1, 'new', '{"n": 1}', '{}',
  now(), CASE WHEN g % 3 = 0 THEN repeat('t', 5000) END FROM generate_series(1, (random() * 60)::int) g;
UPDATE c_link SET w = w + 1 WHERE random() < 0.05;
UPDATE c_link SET b = b || 'x' WHERE ctid IN (SELECT ctid FROM c_link ORDER BY random() LIMIT 2);
DELETE FROM c_link WHERE random() < 0.02;
INSERT INTO c_link SELECT 'a' || (g % 40), 'n' || md5(random()::text), g FROM generate_series(1, (random() * 40)::int) g
  ON CONFLICT DO NOTHING;
INSERT INTO c_ev SELECT kind, n, f FROM c_ev WHERE random() < 0.02;
DELETE FROM c_ev WHERE ctid IN (SELECT ctid FROM c_ev ORDER BY random() LIMIT 5);
UPDATE c_ev SET n = n + 1 WHERE random() < 0.02;
UPDATE c_types t SET (n, f, r, ts, tz, d, tm, iv, b, u, e, j, bo, ia, ta, s, c, ttz, na, tza, ea) = (SELECT n, f, r, ts, tz, d, tm,
  iv, b, u, e, j, bo, ia, ta, s, c, ttz, na, tza, ea FROM soak_types(t.id, t.id)) WHERE random() < 0.05;
UPDATE c_types SET id = -id WHERE id IN (SELECT id FROM c_types WHERE id > 0 ORDER BY random() LIMIT 2);
DELETE FROM c_types WHERE random() < 0.01;
INSERT INTO c_types SELECT * FROM soak_types((SELECT max(id) + 1 FROM c_types), (SELECT max(id) FROM c_types) + (random() * 40)::int);
UPDATE c_part SET n = n + 1 WHERE random() < 0.05;
UPDATE c_part SET id = id + 1000 WHERE id IN (SELECT id FROM c_part ORDER BY random() LIMIT 3)
  AND id + 1000 < (SELECT max(id) FROM c_part) AND NOT EXISTS (SELECT 1 FROM c_part p WHERE p.id = c_part.id + 1000);
DELETE FROM c_part WHERE random() < 0.01;
INSERT INTO c_part SELECT g, 'n' || g, 0 FROM generate_series((SELECT max(id) + 1 FROM c_part),
  least((SELECT max(id) FROM c_part) + (random() * 80)::int, (SELECT max(id) / 1000 * 1000 + 999 FROM c_part))) g;
DELETE FROM k_new WHERE random() < 0.01;
INSERT INTO k_new SELECT id, 'v' || id, id % 1000 FROM (SELECT (random() * 5000)::bigint + 1 AS id FROM generate_series(1, 20)) r
  ON CONFLICT DO NOTHING;
INSERT INTO k_new SELECT id, 'v' || id, id % 1000 FROM (SELECT (SELECT max(id) FROM k_new) + g AS id
  FROM generate_series(1, (random() * 100)::int) g) s;
UPDATE k_lm SET v = v || '.', updated_at = clock_timestamp() WHERE random() < 0.05;
DELETE FROM k_lm WHERE random() < 0.01;
INSERT INTO k_lm SELECT (SELECT max(id) FROM k_lm) + g, 'n', clock_timestamp() FROM generate_series(1, (random() * 50)::int) g;
SQL
}

# A schema change now and then: columns added, dropped, renamed, a type changed, a primary key
# changed, a table dropped and created again under its name (a migration), a partition added,
# truncated, or detached and dropped, a table leaving change data capture or joining it again
ddl() {
  local r=${SOAK_DDL:-$((RANDOM % 14))} col="x$RANDOM"
  LAST_DDL=$r
  case $r in
    0) psql -qX -c "ALTER TABLE c_acct ADD COLUMN $col int DEFAULT 7" ;;
    1) psql -qX -c "ALTER TABLE c_acct ADD COLUMN $col text" -c "UPDATE c_acct SET $col = 'v' WHERE id % 3 = 0" ;;
    2) local c; c=$(psql -qAtX -c "SELECT attname FROM pg_attribute WHERE attrelid = 'c_acct'::regclass AND attname LIKE 'x%' AND NOT attisdropped LIMIT 1")
       [[ -n $c ]] && psql -qX -c "ALTER TABLE c_acct DROP COLUMN $c" ;;
    3) psql -qX -c "ALTER TABLE k_new ADD COLUMN $col numeric(10,2) DEFAULT 1.5" ;;
    4) psql -qX -c "ALTER TABLE c_link ALTER COLUMN w TYPE bigint" ;;
    5) psql -qX -c "ALTER TABLE c_link ALTER COLUMN w TYPE int" ;;
    6) local c; c=$(psql -qAtX -c "SELECT attname FROM pg_attribute WHERE attrelid = 'c_acct'::regclass AND attname LIKE 'x%' AND NOT attisdropped LIMIT 1")
       [[ -n $c ]] && psql -qX -c "ALTER TABLE c_acct RENAME COLUMN $c TO y${c#x}" ;;
    7) local k; k=$(psql -qAtX -c "SELECT string_agg(a.attname, ',' ORDER BY array_position(i.indkey::int2[], a.attnum)) FROM pg_index i
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'c_link'::regclass AND i.indisprimary")
       psql -qX -c "ALTER TABLE c_link DROP CONSTRAINT c_link_pkey, ADD PRIMARY KEY ($([[ $k == a,b ]] && echo b,a || echo a,b))" ;;
    8) psql -qX -v ON_ERROR_STOP=1 -c "BEGIN" -c "CREATE TABLE k_lm_new (LIKE k_lm INCLUDING ALL)" \
         -c "INSERT INTO k_lm_new SELECT * FROM k_lm WHERE id % 5 <> 0" -c "DROP TABLE k_lm" -c "ALTER TABLE k_lm_new RENAME TO k_lm" -c "COMMIT" ;;
    9) psql -qX -v ON_ERROR_STOP=1 -c "BEGIN" -c "CREATE TABLE c_link_new (LIKE c_link INCLUDING ALL)" \
         -c "INSERT INTO c_link_new SELECT * FROM c_link WHERE w % 4 <> 0" -c "DROP TABLE c_link" -c "ALTER TABLE c_link_new RENAME TO c_link" \
         -c "ALTER TABLE c_link RENAME CONSTRAINT c_link_new_pkey TO c_link_pkey" -c "COMMIT" ;;
    10) local top; top=$(psql -qAtX -c "SELECT max(id) / 1000 + 1 FROM c_part") # the next partition
        psql -qX -c "CREATE TABLE c_part_$top PARTITION OF c_part FOR VALUES FROM ($((top * 1000))) TO ($((top * 1000 + 1000)))" \
          -c "INSERT INTO c_part SELECT g, 'np' || g, 1 FROM generate_series($((top * 1000)), $((top * 1000 + 99))) g" ;;
    11) local low; low=$(psql -qAtX -c "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'c_part'::regclass AND (SELECT count(*) FROM pg_inherits WHERE inhparent = 'c_part'::regclass) > 2
          ORDER BY substring(c.relname FROM '[0-9]+$')::int LIMIT 1")
        [[ -n $low ]] && psql -qX -c "ALTER TABLE c_part DETACH PARTITION $low" -c "DROP TABLE $low" ;; # retention
    12) local one; one=$(psql -qAtX -c "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'c_part'::regclass ORDER BY random() LIMIT 1")
        psql -qX -c "TRUNCATE $one" ;;
    13) if grep -q 'c_ev: {cdc: true}' pgwarehouse_conf.yaml; then # leaves change data capture (reloaded by
          sed -i 's/c_ev: {cdc: true}/c_ev: {cdc: false}/' pgwarehouse_conf.yaml # each sync), or joins it again
        else
          sed -i 's/c_ev: {cdc: false}/c_ev: {cdc: true}/' pgwarehouse_conf.yaml
        fi ;;
  esac
}

# transfers and inserts while a sync runs
# (stopped through a file, not a signal: a killed loop left its psql running, whose transaction then
# committed after the clean sync's snapshot, and verify named that row missing)
writer() {
  while [[ ! -e writer.stop ]]; do
    psql -qX -c "BEGIN; UPDATE c_acct SET bal = bal - 1 WHERE id = (SELECT min(id) FROM c_acct) ; INSERT INTO k_new SELECT max(id) + 1, 'v' || (max(id) + 1), (max(id) + 1) % 1000 FROM k_new; UPDATE k_lm SET updated_at = clock_timestamp(), v = 'w' WHERE id = (SELECT min(id) FROM k_lm); INSERT INTO c_ev VALUES ('w', 1, 0.5); COMMIT;" > /dev/null 2>&1
  done
}

# A transaction that commits after the sync started, with an old updated_at and a low new key
late() {
  psql -qX > /dev/null 2>&1 <<'SQL'
BEGIN;
UPDATE k_lm SET v = 'late', updated_at = clock_timestamp() WHERE id = (SELECT max(id) FROM k_lm WHERE id % 2 = 0);
INSERT INTO k_new SELECT -id, 'v' || -id, -id % 1000 FROM (SELECT coalesce(min(id), 0) - 1 AS id FROM k_new WHERE id < 0 UNION ALL SELECT 1 LIMIT 1) s
  WHERE NOT EXISTS (SELECT 1 FROM k_new WHERE id = -s.id);
SELECT pg_sleep(2);
COMMIT;
SQL
}

# Rows changed behind pgwarehouse's back in the warehouse (an extra row in two tables; on DuckDB
# also a row deleted and one changed), for verify --repair to find and undo
tamper() {
  local sql="INSERT INTO k_new (id, v, n) VALUES (-77$round, 'tampered', 1); INSERT INTO c_acct (id, bal, tags) VALUES (-77$round, 1, [])"
  case $b in
    duckdb) "$build/duckq" --exec "$DUCKDB_PATH" "$sql; DELETE FROM k_lm WHERE id = (SELECT max(id) FROM k_lm);
      UPDATE c_link SET w = -1 WHERE a = (SELECT min(a) FROM c_link)" ;;
    clickhouse) local q; for q in "${sql%%;*}" "${sql#*; }"; do chq "$q"; done ;;
    chdb) "$build/chdbq" "$dir/chdb" "${sql%%;*}" && "$build/chdbq" "$dir/chdb" "${sql#*; }" ;;
    snowflake) "$build/sfq" "${sql%%;*}" "${sql#*; }" ;;
  esac
}

fail() {
  failed=1
  echo "FAIL [$b round $round]: $* (the round so far: ${what:-nothing})" >&2
  exit 1
}

for b in $backends; do
  db="soak_$b"
  psql -qAtX -d postgres -c "CREATE DATABASE $db" > /dev/null
  dir="$work/$b"; mkdir -p "$dir"; cd "$dir" || exit 1
  export PGDATABASE=$db PGWAREHOUSE_REPLICATION_SLOT="soak_$b" PGWAREHOUSE_PUBLICATION="soak_$b"
  # chDB's settings must not outlive its rounds: after them, "clickhouse" ran in chDB too, and the
  # tampering (through the server) found no table
  unset CLICKHOUSE_PATH; [[ -n $server_host ]] && export CLICKHOUSE_HOST=$server_host
  case $b in
    duckdb) export PGWAREHOUSE_BACKEND=duckdb DUCKDB_PATH="$dir/soak.duckdb" ;;
    clickhouse) CLICKHOUSE_DATABASE=default chq "CREATE DATABASE $db"
                export PGWAREHOUSE_BACKEND=clickhouse CLICKHOUSE_DATABASE=$db ;;
    chdb) export PGWAREHOUSE_BACKEND=clickhouse CLICKHOUSE_HOST=embedded CLICKHOUSE_PATH="$dir/chdb" ;;
    snowflake) export PGWAREHOUSE_BACKEND=snowflake SNOWSQL_SCHEMA=SOAK; "$build/sfq" "CREATE SCHEMA IF NOT EXISTS SOAK" > /dev/null ;;
  esac
  schema; config
  "$PGW" -q sync all > sync.log 2>&1 || { cat sync.log; round=0; fail "first sync"; }
  for round in $(seq 1 "$ROUNDS"); do
    what=""
    if (( RANDOM % 2 )); then # copies split into ctid ranges however small the table, tables in parallel
      export PGWAREHOUSE_COPY_STREAMS_MIN_SIZE=0 PGWAREHOUSE_JOBS=$((2 + RANDOM % 3)); what+="split "
    else
      unset PGWAREHOUSE_COPY_STREAMS_MIN_SIZE PGWAREHOUSE_JOBS
    fi
    if (( RANDOM % 5 == 0 )); then # stream follows the changes as they are made
      "$PGW" -q stream all --interval 1 > stream.log 2>&1 &
      stpid=$!; sleep 1
      changes "$RANDOM"; sleep 1.$((RANDOM % 10))
      if (( RANDOM % 2 )); then kill -9 "$stpid"; what+="stream-killed "
      else kill -TERM "$stpid"; what+="stream-stopped "; fi
      wait "$stpid" 2>/dev/null
    else
      changes "$RANDOM"
    fi
    (( RANDOM % 4 == 0 )) && { ddl > ddl.log 2>&1; what+="ddl$LAST_DDL "; }
    (( RANDOM % 10 == 0 )) && { psql -qX -c "TRUNCATE c_ev" -c "INSERT INTO c_ev VALUES ('t', 1, 1.5)"; what+="truncate "; }
    wpid= lpid=
    (( RANDOM % 2 == 0 )) && { writer & wpid=$!; what+="writer "; }
    (( RANDOM % 3 == 0 )) && { late & lpid=$!; sleep 0.3; what+="late-commit "; }
    cmd=(sync all)
    (( RANDOM % 8 == 0 )) && { cmd=(reload "$(shuf -n1 -e c_acct c_link c_ev k_new k_lm)"); what+="${cmd[*]} "; }
    if (( RANDOM % 2 == 0 )); then # killed after 0 to 1.5 s
      "$PGW" -q "${cmd[@]}" > killed.log 2>&1 &
      spid=$!
      sleep "0.$((RANDOM % 10))$((RANDOM % 10))"; (( RANDOM % 2 )) && sleep 0.5
      kill -9 "$spid" 2>/dev/null && what+="killed "
      wait "$spid" 2>/dev/null
    elif (( RANDOM % 6 == 0 )); then # a server restarted under a run
      "$PGW" -q "${cmd[@]}" > killed.log 2>&1 &
      spid=$!
      sleep "0.$((RANDOM % 10))"
      if [[ $b == clickhouse ]] && (( RANDOM % 2 )); then
        chs_kill; chs_restart; what+="clickhouse-restart "
      else
        pgc_as_owner "$PGC_BIN/pg_ctl" -D "$PGC_DIR/data" -m fast -w restart > /dev/null 2>&1; what+="pg-restart "
      fi
      wait "$spid" 2>/dev/null
    fi
    "$PGW" -q sync all > round.log 2>&1 || true # may report a late transaction's lock or a table busy
    if (( RANDOM % 6 == 0 )); then # verify --repair, killed now and then
      tamper > tamper.log 2>&1 || { cat tamper.log; fail "could not change the warehouse behind pgwarehouse"; }
      what+="tampered "
      "$PGW" -q verify all --repair > repair.log 2>&1 &
      rpid=$!
      if (( RANDOM % 2 )); then sleep "0.$((RANDOM % 10))"; kill -9 "$rpid" 2>/dev/null && what+="repair-killed "; fi
      wait "$rpid" 2>/dev/null
      "$PGW" -q verify all --repair > repair.log 2>&1
      what+="repair "
    fi
    [[ -n $wpid ]] && { touch writer.stop; wait "$wpid" 2>/dev/null; rm -f writer.stop; }
    [[ -n $lpid ]] && wait "$lpid"
    "$PGW" -q sync all > sync.log 2>&1 || { cat round.log sync.log; fail "clean sync after: ${what}sync"; }
    if ! "$PGW" verify all > verify.log 2>&1; then
      cat round.log sync.log verify.log; fail "verify after: ${what}sync"
    fi
    # nothing else reads the slot: a table found behind it would be a needless copy, or a lost change
    if grep -h "was read past this warehouse's position" ./*.log > behind.txt 2>/dev/null; then
      fail "found behind the slot, which only this warehouse reads: $(head -n1 behind.txt)"
    fi
    printf '%s round %d: %ssync, equal\n' "$b" "$round" "$what" >&2
  done
  "$PGW" -q teardown > /dev/null 2>&1
  cd "$work" || exit 1
done
echo "soak: $ROUNDS rounds on each of: $backends, seed $SEED, every verify equal"
