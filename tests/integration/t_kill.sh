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

# DuckDB rewrites some blocks of its file in place when it checkpoints; a process killed inside
# such a write leaves half a block whose checksum fails, and the file no longer opens
# (bench/duckdb_kill.sh). pgwarehouse keeps the old bytes of each in-place write in an undo record
# until the write is done, and puts them back before it next opens the file. The same sync is cut
# in the middle of each of its block rewrites in turn, from the same starting file.
# (DuckDB 1.4 rewrites a metadata block that still holds live entries once the file holds a few
# tables: hence k1 and k2.)
if [[ $BACKEND == duckdb ]]; then
  pgq "CREATE TABLE k1 (id int PRIMARY KEY, s text); CREATE TABLE k2 (LIKE k1 INCLUDING ALL)"
  pgq "INSERT INTO k1 SELECT g, md5(g::text) FROM generate_series(1, 2000) g; INSERT INTO k2 SELECT * FROM k1"
  t_ok "k1 and k2 synced" "$PGW" sync all
  pgq "INSERT INTO events SELECT g, 'late', '{\"k\": 1}', now(), '{7}' FROM generate_series(200001, 210000) g"
  pgq "INSERT INTO k1 VALUES (2001, 'new'); INSERT INTO k2 VALUES (2001, 'new')"
  cp "$DUCKDB_PATH" "$T_DIR/before.duckdb"
  cuts=0 damaged=0 converged=0 undone=0
  for n in 1 2 3 4 5 6 7 8 9 10 11 12; do
    cp "$T_DIR/before.duckdb" "$DUCKDB_PATH"
    PGW_FAILPOINT=duckdb-cut-write:$n "$PGW" sync all >/dev/null 2>&1
    (( $? == 137 )) || break
    cuts=$((cuts + 1))
    [[ -s $DUCKDB_PATH.pgw-undo ]] && undone=$((undone + 1))
    cp "$DUCKDB_PATH" "$T_DIR/cut.duckdb" && cp "$DUCKDB_PATH.wal" "$T_DIR/cut.duckdb.wal"
    [[ $(wh_duckq "$T_DIR/cut.duckdb" "SELECT count(*) FROM events" 2>&1) == *"Corrupt database file"* ]] &&
      damaged=$((damaged + 1)) && first_damaging=$n
    rm -f "$T_DIR/cut.duckdb" "$T_DIR/cut.duckdb.wal"
    "$PGW" sync all >/dev/null 2>&1 &&
      [[ $(dq "SELECT count(*), count(*) FILTER (WHERE kind = 'late'), (SELECT count(*) FROM k1),
                      (SELECT count(*) FROM k2) FROM events" | tr '\t' ' ') == "210000 10000 2001 2001" ]] &&
      converged=$((converged + 1))
  done
  t_ok "the sync rewrote blocks in place (cut $cuts times)" test "$cuts" -ge 1
  t_eq "each cut left its undo record" "$cuts" "$undone"
  t_ok "without the undo record some cut left the file damaged ($damaged of $cuts)" test "$damaged" -ge 1
  t_eq "after each cut the next run put the old bytes back and synced the rows once" "$cuts" "$converged"
  t_same "every value after the last cut" events
  t_same "k1 after the last cut" k1
  t_eq "no undo record left after a clean close" "" "$(ls "$DUCKDB_PATH.pgw-undo" 2>/dev/null)"
  # the same cut with the record lost (as after a power cut): one line naming the file and the way back
  cp "$T_DIR/before.duckdb" "$DUCKDB_PATH"
  PGW_FAILPOINT=duckdb-cut-write:${first_damaging:-1} "$PGW" sync all >/dev/null 2>&1
  rm -f "$DUCKDB_PATH.pgw-undo"
  t_err "a damaged file is named with the way back" 4 "DuckDB file .* is damaged .*reload all" "$PGW" sync all
  mv "$DUCKDB_PATH" "$T_DIR/damaged.duckdb" && rm -f "$DUCKDB_PATH.wal" "$T_DIR/damaged.duckdb"
  t_ok "the way back: a reload of every table into a new file" "$PGW" reload all
  t_same "events after the way back" events
fi

# Writes that fail: a file size limit (EFBIG, a full disk's stand-in that needs no mount; a full
# disk fails the same calls with ENOSPC). 100,000 new rows go through the commit's WAL, which the
# limit stops; 250,000 are written to new blocks of the file as they are appended, which the
# limit stops.
# Each limited sync either fails with one error line, the table as it was, or syncs every row;
# the next run converges.
if [[ $BACKEND == duckdb ]]; then
  export DUCKDB_PATH=$T_DIR/limited.duckdb; WH_DUCKDB=$DUCKDB_PATH
  pgq "CREATE TABLE grows (id int PRIMARY KEY, s text); INSERT INTO grows SELECT g, md5(g::text) FROM generate_series(1, 20000) g"
  for step in "100000 0 1024" "250000 0 2048"; do
    read -r rows limits <<<"$step"
    t_ok "grows synced into a file of its own" "$PGW" sync grows
    before=$(dq 'SELECT count(*) FROM grows')
    pgq "INSERT INTO grows SELECT g, md5(g::text) || g FROM generate_series($before + 1, $before + $rows) g"
    size_kb=$(( $(stat -c %s "$DUCKDB_PATH") / 1024 ))
    failed=0
    for extra in $limits; do
      bash -c 'ulimit -f "$1"; exec "$2" sync grows' _ $((size_kb + extra)) "$PGW" >/dev/null 2>"$T_DIR/limited.err"
      rc=$? n=$(dq 'SELECT count(*) FROM grows')
      [[ $rc == 4 ]] && failed=$((failed + 1))
      t_ok "$rows rows, a file that may grow $extra kB: failed, the table as it was ($rc $n), or synced whole" \
        test "$rc $n" == "4 $before" -o "$rc $n" == "0 $((before + rows))"
      [[ $rc == 0 ]] || t_eq "...one error line naming the file" "1" \
        "$(grep -c 'error: sync grows: DuckDB: .*limited.duckdb.*File too large' "$T_DIR/limited.err")"
    done
    t_ok "$rows rows: the limit stopped a sync" test "$failed" -ge 1
    t_ok "$rows rows: the sync without the limit" "$PGW" sync grows
    t_same "$rows rows: grows converges" grows
  done
fi
