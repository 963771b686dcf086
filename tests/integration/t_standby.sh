# Reading from a hot standby (a streaming replica), where many users point their syncs: a primary
# and its standby of their own (pg_basebackup), every sync read from the standby. Copies in parallel
# streams (a snapshot exported and imported on the standby), last_modified (which cannot see the
# primary's open transactions there: a warning), deletes, verify and repair; `check`'s standby line;
# change data capture refused with its fix (PostgreSQL 15 decodes only on the primary); and a read
# the standby cancels to replay the primary's VACUUM (max_standby_streaming_delay 0): one error line
# naming hot_standby_feedback, the warehouse as it was, and with hot_standby_feedback on the same
# race copies. The PostgreSQL side does not depend on the warehouse: run it once, on DuckDB.
[[ $BACKEND == duckdb ]] || return 0

# the primary: a cluster of this script's own, under its directory (a server left behind by a
# killed script is stopped with the script's other processes)
PGW_TEST_TMPDIR=$T_DIR PGC_SCRAM_ITERATIONS=16 PGC_EXTRA_OPTS="-c autovacuum=off -c jit=off" pgc_start
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE items (id bigint PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT '2024-01-01');
INSERT INTO items SELECT g, 'v' || g, '2024-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 20000) g;
CREATE TABLE bag (a int, b text);
INSERT INTO bag SELECT g % 10, 'same' FROM generate_series(1, 100) g;
-- a view whose COPY waits (up to 20 s) until the primary sets race_flag to 2: a sequence, read
-- outside the COPY's snapshot, replayed on the standby after what the primary did before it
CREATE SEQUENCE race_flag;
SELECT setval('race_flag', 2);
CREATE FUNCTION wait_flag() RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..1000 LOOP
    IF (SELECT last_value FROM race_flag) >= 2 THEN RETURN 1; END IF;
    PERFORM pg_sleep(0.02);
  END LOOP;
  RETURN 0;
END $$;
CREATE VIEW slow_items AS SELECT i.id, i.v FROM items i, wait_flag() w;
SQL
sb_data=$PGC_DIR/standby
mkdir -p "$sb_data" && chmod 700 "$sb_data" && { [[ $(id -u) -ne 0 ]] || chown postgres "$sb_data"; }
pgc_as_owner env PGPASSWORD="$PGPASSWORD" "$PGC_BIN/pg_basebackup" -h 127.0.0.1 -p "$PGPORT" -U "$PGUSER" \
  -D "$sb_data" -R -X stream -c fast >/dev/null
SB_PORT=$(pgc_free_port)
# replay never waits for a read (max_standby_streaming_delay 0): the cancellation below comes at once
pgc_as_owner "$PGC_BIN/pg_ctl" -D "$sb_data" -l "$PGC_DIR/standby.log" -w -t 30 start \
  -o "-p $SB_PORT -k $PGC_DIR -c listen_addresses=127.0.0.1 -c hot_standby=on -c fsync=off \
      -c max_standby_streaming_delay=0 -c wal_receiver_status_interval=1" >/dev/null
standby_stop() {
  pgc_as_owner "$PGC_BIN/pg_ctl" -D "$sb_data" -m immediate -w stop >/dev/null 2>&1
  pgc_stop
}
sbq() { PGPORT=$SB_PORT psql -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
sbw() { PGPORT=$SB_PORT "$PGW" "$@"; }
# caught_up: the standby has replayed every commit of the primary so far
caught_up() {
  local lsn; lsn=$(wal_lsn_flushed)
  PGPORT=$SB_PORT pg_wait "pg_last_wal_replay_lsn() >= '$lsn'"
}
t_eq "the standby is in recovery" "t" "$(sbq 'SELECT pg_is_in_recovery()')"

cat > pgwarehouse_conf.yaml <<'YAML'
postgres:
  copy_streams_min_size: 1kB
tables:
  - items:
      last_modified: updated_at
      deletes: true
  - bag
YAML

# 1. The first sync, read from the standby in two streams sharing its exported snapshot
caught_up
out=$(sbw sync all 2>&1); rc=$?
t_eq "a sync from the standby succeeds" 0 "$rc"
[[ $rc == 0 ]] || echo "$out" | tail -3
t_ok "items read by two streams on the standby" grep -q "items: 2 COPY streams" <<<"$out"
t_same_each "items equal to the primary" items "bag (duplicates) equal to the primary" bag

# 2. Changes on the primary: deletes, updates with and without a new timestamp, rows below the
# watermark; a sync from the standby says why last_modified cannot be bounded there
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
DELETE FROM items WHERE id % 1000 = 7;
UPDATE items SET v = 'new', updated_at = '2025-01-01' WHERE id IN (5, 6);
INSERT INTO items VALUES (20001, 'added', '2025-01-02');
INSERT INTO bag VALUES (1, 'same');
SQL
caught_up
out=$(sbw sync all 2>&1); rc=$?
t_eq "the next sync from the standby succeeds" 0 "$rc"
t_ok "it warns that the standby cannot see the primary's open transactions" \
  grep -q "warning: last_modified: PostgreSQL is a standby" <<<"$out"
t_ok "the 20 rows deleted on the primary are deleted" grep -q "items: 20 rows deleted in PostgreSQL" <<<"$out"
t_same_each "items equal after the sync" items "bag equal after the sync" bag

# 3. verify and repair read from the standby: an update that moved no timestamp
pgq "UPDATE items SET v = 'silent' WHERE id IN (100, 15000)" >/dev/null
caught_up
out=$(sbw verify items 2>/dev/null); rc=$?
t_eq "verify on the standby finds the difference" 1 "$rc"
t_eq "and names its keys" "items: differs: 0 missing, 0 extra, 2 different (PostgreSQL has 19981 rows)|  different id=100|  different id=15000" \
  "$(paste -sd'|' <<<"$out")"
t_ok "verify --repair on the standby" sbw verify items --repair
t_same "items equal after the repair" items
t_ok "a second verify says equal" sbw verify items

# 4. check names the standby and what may cancel a long read there
out=$(sbw check 2>&1)
t_ok "check warns of hot_standby_feedback off" \
  grep -q "^warn  PostgreSQL is a standby with hot_standby_feedback off" <<<"$out"

# 5. Change data capture cannot decode on a standby before PostgreSQL 16: one line, the fix
if (( $(sbq 'SHOW server_version_num') < 160000 )); then
  t_err "change data capture on a standby is refused, naming the primary" 3 \
    "standby, and PostgreSQL before 16 decodes changes only on the primary; point pghost at the primary" \
    env PGWAREHOUSE_CDC=true PGPORT="$SB_PORT" "$PGW" sync items
fi

# 6. A read the standby cancels: the view's COPY waits for race_flag, the primary updates and
# vacuums the table meanwhile, replaying that removal cancels the COPY
caught_up
t_ok "the view is copied from the standby" sbw reload slow_items
race() { # the primary's VACUUM once the COPY runs on the standby, then the flag the COPY waits for
  PGPORT=$SB_PORT wait_copy slow_items
  psql -qX -v ON_ERROR_STOP=1 -c "UPDATE items SET v = v || '+' WHERE id <= 1000" -c "VACUUM items" \
    -c "SELECT setval('race_flag', 2)" >/dev/null
}
flag_down() { pgq "SELECT setval('race_flag', 1)" >/dev/null; caught_up; }
flag_down
race & racer=$!
t_err "a read cancelled by the standby names hot_standby_feedback" 1 \
  "conflict with recovery; the standby cancelled this read .*set hot_standby_feedback = on" sbw reload slow_items
wait $racer
t_eq "the view's table is as it was" "19981 v1" "$(dq "SELECT count(*), min(v) FILTER (WHERE id = 1) FROM slow_items" | tr '|,\t' '   ')"
# with hot_standby_feedback on, the primary's VACUUM keeps what the standby still reads
sbq "ALTER SYSTEM SET hot_standby_feedback = on" >/dev/null
sbq "SELECT pg_reload_conf()" >/dev/null
pg_wait "(SELECT backend_xmin IS NOT NULL FROM pg_stat_replication)"
flag_down
race & racer=$!
out=$(sbw reload slow_items 2>&1); rc=$?
wait $racer
t_eq "with hot_standby_feedback on, the same race copies" 0 "$rc"
[[ $rc == 0 ]] || echo "$out" | tail -3
t_eq "the rows of the COPY's snapshot (before the second UPDATE)" "19981 v1+" "$(dq "SELECT count(*), min(v) FILTER (WHERE id = 1) FROM slow_items" | tr '|,\t' '   ')"
t_ok "check says the standby is set" grep -q "^ok    PostgreSQL is a standby (hot_standby_feedback on" <<<"$(sbw check 2>&1)"
standby_stop
