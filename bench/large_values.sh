#!/usr/bin/env bash
# Peak memory of a reload of a table with large values (issue 12, point 9): BENCH_LARGE_COUNT values
# (default 50) of BENCH_LARGE_MB MB (default 16) in a text column, reloaded into each warehouse
# (DuckDB, ClickHouse over HTTP, the Snowflake double; BENCH_BACKENDS narrows it), one run each,
# with its peak RSS (/usr/bin/time) and the data checked. The PostgreSQL server's memory is not
# counted (another process). Prints a Markdown table.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
PGW="$build/pgwarehouse"; DUCKQ="$build/duckq"
COUNT=${BENCH_LARGE_COUNT:-50}; MB=${BENCH_LARGE_MB:-16}
export PGW_ROOT=$root
# data on disk, as a user's would be (tests use a RAM file system when there is one)
export PGW_TEST_TMPDIR=${PGW_TEST_TMPDIR:-/tmp}
source "$root/tests/lib/pgcluster.sh"
source "$root/tests/lib/chserver.sh"
source "$root/tests/lib/sfdouble.sh"
work=$(mktemp -d /tmp/pgw-bench.XXXXXX)
chmod 777 "$work"
trap 'set +e; sfd_stop; chs_stop; pgc_stop; rm -rf "$work"' EXIT
pgc_start
psql -qX -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE big (id int PRIMARY KEY, v text);
INSERT INTO big SELECT g, repeat(chr(65 + g % 26), $MB * 1024 * 1024) FROM generate_series(1, $COUNT) g;
SQL
want=$(psql -qAtX -c "SELECT count(*) || ' ' || sum(length(v)) FROM big")
cd "$work"
timed() { # CMD...: sets T (seconds), RSS (MB) and ERR (the command's last error line, if it failed)
  local out; out=$( { /usr/bin/time -f "%e %M" "$@" > /dev/null 2>"$work/err"; } 2>&1 | tail -n1) || true
  out=$(tail -n1 "$work/err")
  T=${out% *}; RSS=$(awk -v k="${out#* }" 'BEGIN { printf "%.0f", k / 1024 }')
  ERR=$(grep -m1 'error:' "$work/err" || true)
}
echo "| warehouse | values | peak RSS (MB) | seconds | data checked |"
echo "|---|---|---|---|---|"
for b in ${BENCH_BACKENDS:-duckdb clickhouse snowflake}; do
  case $b in
    duckdb)
      export DUCKDB_PATH="$work/big.duckdb"
      timed env PGWAREHOUSE_BACKEND=duckdb "$PGW" -q reload big
      got=$("$DUCKQ" "$DUCKDB_PATH" "SELECT count(*) || ' ' || sum(length(v)) FROM big" 2>/dev/null || true) ;;
    clickhouse)
      chs_start
      timed env PGWAREHOUSE_BACKEND=clickhouse "$PGW" -q reload big
      got=$(chq "SELECT toString(count()) || ' ' || toString(sum(length(v))) FROM big" 2>/dev/null || true)
      chs_stop || true ;;
    snowflake)
      sfd_start "$work/sf"
      timed env PGWAREHOUSE_BACKEND=snowflake "$PGW" -q reload big
      got=$("$DUCKQ" "$SFD_DIR/snowflake.duckdb" "SELECT count(*) || ' ' || sum(length(\"V\")) FROM \"BIG\"" 2>/dev/null || true)
      sfd_stop || true ;;
  esac
  [[ $got == "$want" ]] && ok=yes || ok="no: ${ERR:-$got, want $want}"
  echo "| $b | $COUNT × $MB MB | $RSS | $T | $ok |"
done
