#!/usr/bin/env bash
# `sync all` over many small tables into DuckDB: total time and per-table time with --jobs 1
# and --jobs 4, for the first load and for an incremental run (a few new rows per table).
# BENCH_TABLES (default 300) and BENCH_TABLE_ROWS (default 1000) set the size.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
PGW="$build/pgwarehouse"; DUCKQ="$build/duckq"
TABLES=${BENCH_TABLES:-300}; ROWS=${BENCH_TABLE_ROWS:-1000}
# data on disk, as a user's would be (tests use a RAM file system when there is one)
export PGW_TEST_TMPDIR=${PGW_TEST_TMPDIR:-/tmp}
source "$root/tests/lib/pgcluster.sh"
work=$(mktemp -d /tmp/pgw-bench.XXXXXX)
chmod 777 "$work"
trap 'set +e; pgc_stop; rm -rf "$work"' EXIT
pgc_start

echo "creating $TABLES tables of $ROWS rows..." >&2
psql -qX -v ON_ERROR_STOP=1 <<SQL
DO \$\$ BEGIN FOR i IN 1..$TABLES LOOP
  EXECUTE format('CREATE TABLE t%s (id bigint PRIMARY KEY, name text, amount numeric(10,2), at timestamptz, tags int[])', i);
  EXECUTE format('INSERT INTO t%s SELECT g, ''name '' || g, g / 3.0, now(), ARRAY[g] FROM generate_series(1, $ROWS) g', i);
END LOOP; END \$\$;
VACUUM ANALYZE;
SQL
cd "$work"
now() { date +%s.%N; }
# run LABEL ARGS...: times one `sync all` and checks every table arrived
run() {
  local label=$1; shift
  local t0 t1; t0=$(now); "$PGW" -q "$@" sync all > /dev/null; t1=$(now)
  local got; got=$("$DUCKQ" duck.db "SELECT count(*) FROM duckdb_tables() WHERE table_name NOT LIKE '\\_pgwarehouse\\_%' ESCAPE '\\'")
  [[ $got == "$TABLES" ]] || { echo "$label: $got tables in DuckDB, expected $TABLES" >&2; exit 1; }
  awk -v l="$label" -v a="$t0" -v b="$t1" -v n="$TABLES" 'BEGIN { printf "| %s | %.2f | %.1f |\n", l, b - a, (b - a) * 1000 / n }'
}
add_rows() {
  psql -qX -v ON_ERROR_STOP=1 -c "DO \$\$ BEGIN FOR i IN 1..$TABLES LOOP EXECUTE format('INSERT INTO t%s SELECT max(id) + 1, ''new'', 1, now(), NULL FROM t%s', i, i); END LOOP; END \$\$"
}
echo
echo "$TABLES tables x $ROWS rows, $(nproc) cores, PostgreSQL $(psql -qAtX -c 'SHOW server_version'), DuckDB"
echo
echo "| run | seconds | ms per table |"
echo "|---|---:|---:|"
rm -f duck.db; run "first load, --jobs 1" --jobs 1
add_rows; run "incremental, --jobs 1" --jobs 1
rm -f duck.db; run "first load, --jobs 4" --jobs 4
add_rows; run "incremental, --jobs 4" --jobs 4
