#!/usr/bin/env bash
# Reload throughput into DuckDB, next to (a) the raw COPY ... (FORMAT binary) rate and (b) the seed
# tool's way (psql CSV -> Python line loop -> gzip level 9 files -> DuckDB COPY FROM), in one run.
# BENCH_ROWS (default 10,000,000) sets the size. Prints a Markdown table for the README.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
PGW="$build/pgwarehouse"; DUCKQ="$build/duckq"
ROWS=${BENCH_ROWS:-10000000}
source "$root/tests/lib/pgcluster.sh"
work=$(mktemp -d /tmp/pgw-bench.XXXXXX)
chmod 777 "$work"
trap 'pgc_stop; rm -rf "$work"' EXIT
PGC_EXTRA_OPTS="-c shared_buffers=512MB" pgc_start

echo "creating $ROWS rows..." >&2
psql -qX -v ON_ERROR_STOP=1 <<SQL
CREATE TABLE t (id bigint PRIMARY KEY, qty int, amount numeric(12,2), happened_at timestamptz, local_at timestamp,
  code text, descr text, nums int[], doc jsonb);
INSERT INTO t SELECT g, g % 1000, (g % 100000) / 100.0, '2024-01-01'::timestamptz + g * interval '1 s',
  '2024-01-01'::timestamp + g * interval '1 s', 'C' || (g % 97), 'description number ' || lpad(g::text, 11, '0'),
  ARRAY[g % 10, g % 100, g % 1000], jsonb_build_object('k', g % 7, 'v', 'x')
FROM generate_series(1, $ROWS) g;
VACUUM ANALYZE t;
SQL
copy_sql="COPY (SELECT * FROM t) TO STDOUT (FORMAT binary)"
psql -qX -c "$copy_sql" > /dev/null   # warm the cache

now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

t0=$(now); bytes=$(psql -qX -c "$copy_sql" | wc -c); t1=$(now)
raw_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
mb=$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')

cd "$work"
out=$( { /usr/bin/time -f "%e %M" "$PGW" -q reload t > /dev/null; } 2>&1 | tail -n1)
pgw_s=${out% *}; pgw_rss_kb=${out#* }
dk=$("$DUCKQ" duck.db "SELECT count(*) FROM t")
[[ "$dk" == "$ROWS" ]] || { echo "reload copied $dk rows, expected $ROWS" >&2; exit 1; }

mkdir -p seed
t0=$(now)
psql -qX -c "\\copy (SELECT * FROM t) TO STDOUT WITH CSV HEADER" | python3 "$root/bench/seed_way.py" seed 1000000
t1=$(now)
"$DUCKQ" --exec seed.duckdb "CREATE TABLE t (id BIGINT, qty INTEGER, amount DECIMAL(12,2), happened_at TIMESTAMPTZ, local_at TIMESTAMP, code VARCHAR, descr VARCHAR, nums VARCHAR, doc JSON); COPY t FROM 'seed/*.csv.gz' (FORMAT csv, HEADER true)"
t2=$(now)
seed_extract=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
seed_s=$(awk -v a="$t0" -v b="$t2" 'BEGIN { print b - a }')
[[ $("$DUCKQ" seed.duckdb "SELECT count(*) FROM t") == "$ROWS" ]] || { echo "seed way lost rows" >&2; exit 1; }

cores=$(nproc)
echo
echo "rows: $ROWS, COPY binary size: $(printf %.0f "$mb") MB, $cores cores, PostgreSQL $(psql -qAtX -c 'SHOW server_version')"
echo
echo "| path | seconds | rows/s | MB/s (of COPY binary) | peak RSS |"
echo "|---|---:|---:|---:|---:|"
printf "| raw \`COPY ... (FORMAT binary)\` to /dev/null | %.2f | %s | %.0f | - |\n" "$raw_s" "$(rate "$ROWS" "$raw_s")" "$(awk -v m="$mb" -v s="$raw_s" 'BEGIN{print m/s}')"
printf "| \`pgwarehouse reload\` into DuckDB | %.2f | %s | %.0f | %.0f MB |\n" "$pgw_s" "$(rate "$ROWS" "$pgw_s")" "$(awk -v m="$mb" -v s="$pgw_s" 'BEGIN{print m/s}')" "$(awk -v k="$pgw_rss_kb" 'BEGIN{print k/1024}')"
printf "| seed's way: CSV + gzip -9 files (%.1f s), then DuckDB COPY FROM | %.2f | %s | %.0f | - |\n" "$seed_extract" "$seed_s" "$(rate "$ROWS" "$seed_s")" "$(awk -v m="$mb" -v s="$seed_s" 'BEGIN{print m/s}')"
echo
awk -v r="$raw_s" -v p="$pgw_s" -v s="$seed_s" 'BEGIN { printf "reload vs raw COPY: %.2fx of the raw rate; vs the seed'"'"'s way: %.1fx faster\n", r / p, s / p }'
