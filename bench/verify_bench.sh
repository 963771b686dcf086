#!/usr/bin/env bash
# verify on the bench table (BENCH_ROWS, default 10,000,000) in DuckDB, ClickHouse over HTTP, chDB
# (when deps/lib/libchdb.so exists) and the Snowflake double (when BENCH_SNOWFLAKE=1: it measures
# pgwarehouse's side and the double, not the service; json and arrays compared by shape there), in
# one run: a reload (the reference), verify with no
# differences, then 100 scattered differences made in PostgreSQL (updates, deletes, inserts) and
# verify --repair, then verify again (equal). Prints Markdown for the README: seconds, rows/s and
# each as a fraction of the reload's time; then 30 rows deleted and 30 inserted in PostgreSQL and a
# sync with `deletes: true` (the key check finds the deletes, the load applies them with the new
# rows), with the key check's own time. BENCH_PAIRS=N times N reload + verify pairs per warehouse
# and reports the median of verify's speed against the reload just before it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
PGW="$build/pgwarehouse"
ROWS=${BENCH_ROWS:-10000000}
export PGW_TEST_TMPDIR=${PGW_TEST_TMPDIR:-/tmp}   # data on disk, as a user's would be
source "$root/tests/lib/pgcluster.sh"
source "$root/tests/lib/chserver.sh"
source "$root/bench/lib.sh"
work=$(mktemp -d /tmp/pgw-bench.XXXXXX)
chmod 777 "$work"
trap 'set +e; [[ -n ${SFD_PID:-} ]] && sfd_stop; chs_stop; pgc_stop; rm -rf "$work"' EXIT
PGC_EXTRA_OPTS="-c shared_buffers=512MB" pgc_start
chs_start
cd "$work"
bench_table "$ROWS"
printf 'tables:\n  - t: {deletes: true}\n' > pgwarehouse_conf.yaml

backends=(duckdb clickhouse)
declare -A envs=([duckdb]="PGWAREHOUSE_BACKEND=duckdb DUCKDB_PATH=$work/duck.db" [clickhouse]="PGWAREHOUSE_BACKEND=clickhouse")
if [[ -f "$root/deps/lib/libchdb.so" ]]; then
  backends+=(chdb); envs[chdb]="PGWAREHOUSE_BACKEND=clickhouse CLICKHOUSE_HOST=embedded CLICKHOUSE_PATH=$work/chdb"
fi
if [[ ${BENCH_SNOWFLAKE:-0} == 1 ]]; then
  export PGW_ROOT=$root
  source "$root/tests/lib/sfdouble.sh"
  sfd_start "$work/sf" >&2
  backends+=(snowflake); envs[snowflake]="PGWAREHOUSE_BACKEND=snowflake"
fi
pgw() { local b=$1; shift; env ${envs[$b]} "$PGW" "$@"; }
# seconds CMD...: runs CMD, sets T (seconds); OUT holds its stdout
seconds() { local t0 t1; t0=$(date +%s.%N); OUT=$("$@") || true; t1=$(date +%s.%N); T=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'); }
# 100 differences: 40 updates, 30 deletes, 30 inserts, scattered over the key range
differences() {
  psql -qX -v ON_ERROR_STOP=1 <<SQL
UPDATE t SET qty = qty + 1 WHERE id IN (SELECT 1 + (g * 7919) % $ROWS FROM generate_series(1, 40) g);
DELETE FROM t WHERE id IN (SELECT 1 + (g * 104729) % $ROWS FROM generate_series(41, 70) g);
INSERT INTO t SELECT $ROWS + g, 1, 1.5, now(), localtimestamp, 'new', 'new row', ARRAY[1], '{}' FROM generate_series(1, 30) g;
SQL
}
undo() { # the same table again for the next backend
  psql -qX -c "DELETE FROM t WHERE id > $ROWS" > /dev/null
}
# 30 more deletes, scattered, and 30 inserts above the largest key
deletes_and_inserts() {
  psql -qX -v ON_ERROR_STOP=1 <<SQL
DELETE FROM t WHERE id IN (SELECT 1 + (g * 15485863) % $ROWS FROM generate_series(1, 30) g);
INSERT INTO t SELECT $ROWS + 1000 + g, 1, 1.5, now(), localtimestamp, 'new', 'new row', ARRAY[1], '{}' FROM generate_series(1, 30) g;
SQL
}
declare -A reload verify repair fix dsync kcheck pairs
for b in "${backends[@]}"; do
  echo "$b: reload, verify, 100 differences, verify --repair..." >&2
  seconds pgw "$b" -q reload t; reload[$b]=$T
  seconds pgw "$b" verify t; verify[$b]=$T
  [[ $(head -n1 <<<"$OUT") == "t: equal ($ROWS rows)" ]] || { echo "$b: verify said: $OUT" >&2; exit 1; }
  # BENCH_PAIRS=N: N reloads each followed by a verify, their ratios' median (the machine's speed
  # drifts by 20% and more within a run: each verify against the reload just before it)
  pairs[$b]="$(awk -v rl="${reload[$b]}" -v vf="$T" 'BEGIN { printf "%.2f", rl / vf }') "
  for ((p = 2; p <= ${BENCH_PAIRS:-1}; p++)); do
    seconds pgw "$b" -q reload t; r=$T
    seconds pgw "$b" verify t
    [[ $(head -n1 <<<"$OUT") == "t: equal ($ROWS rows)" ]] || { echo "$b: verify said: $OUT" >&2; exit 1; }
    pairs[$b]+="$(awk -v rl="$r" -v vf="$T" 'BEGIN { printf "%.2f", rl / vf }') "
  done
  differences
  seconds pgw "$b" verify t --repair; repair[$b]=$T
  grep -q "repaired: 70 rows written, 30 deleted" <<<"$OUT" || { echo "$b: the repair said: $OUT" >&2; exit 1; }
  fix[$b]=$(sed -n 's/.*repaired: .* (\([0-9.]*\) s)$/\1/p' <<<"$OUT")
  seconds pgw "$b" verify t
  [[ $OUT == "t: equal ($((ROWS))) rows)" || $OUT == t:\ equal* ]] || { echo "$b: after the repair: $OUT" >&2; exit 1; }
  deletes_and_inserts
  seconds pgw "$b" -d sync t 2> "$work/sync.log"; dsync[$b]=$T
  grep -q "30 rows deleted in PostgreSQL are deleted in the warehouse" "$work/sync.log" || { echo "$b: the deletes: true sync said: $(grep -v "debug: " "$work/sync.log")" >&2; exit 1; }
  kcheck[$b]=$(sed -n 's/.*key check in \([0-9.]*\) s.*/\1/p' "$work/sync.log")
  seconds pgw "$b" verify t
  [[ $OUT == t:\ equal* ]] || { echo "$b: after the deletes: true sync: $OUT" >&2; exit 1; }
  # put the table back as it was for the next backend (deleted rows come back from a fresh table)
  psql -qX -c "DROP TABLE t" > /dev/null; bench_table "$ROWS" 2> /dev/null
done

rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
echo
echo "verify on the bench table, $ROWS rows, $(nproc) cores, PostgreSQL $(psql -qAtX -c 'SHOW server_version')"
echo
echo "| warehouse | reload | verify, no differences | rows/s | x reload's speed | verify --repair, 100 differences | of which the repair | repair / reload |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for b in "${backends[@]}"; do
  printf "| %s | %.1f s | %.1f s | %s | %.2f | %.1f s | %.1f s | %.2f |\n" "$b" "${reload[$b]}" "${verify[$b]}" \
    "$(rate "$ROWS" "${verify[$b]}")" "$(awk -v r="${reload[$b]}" -v v="${verify[$b]}" 'BEGIN { print r / v }')" \
    "${repair[$b]}" "${fix[$b]}" "$(awk -v r="${reload[$b]}" -v v="${fix[$b]}" 'BEGIN { print v / r }')"
done
if (( ${BENCH_PAIRS:-1} > 1 )); then
  echo
  for b in "${backends[@]}"; do
    echo "$b: verify $(median "${pairs[$b]}")x the speed of the reload just before it (median of pairs: ${pairs[$b]% })"
  done
fi
echo
echo "| warehouse | sync, deletes: true (30 deletes, 30 inserts) | of which the key check | key check rows/s | reload / key check |"
echo "|---|---:|---:|---:|---:|"
for b in "${backends[@]}"; do
  printf "| %s | %.1f s | %.2f s | %s | %.1f |\n" "$b" "${dsync[$b]}" "${kcheck[$b]}" "$(rate "$ROWS" "${kcheck[$b]}")" \
    "$(awk -v r="${reload[$b]}" -v k="${kcheck[$b]}" 'BEGIN { print r / k }')"
done
