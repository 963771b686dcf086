#!/usr/bin/env bash
# Reload throughput into DuckDB, ClickHouse over HTTP (Debian's clickhouse-server) and embedded
# ClickHouse (chDB, when deps/lib/libchdb.so exists), next to (a) the raw COPY ... (FORMAT binary)
# rate and (b) the seed tool's way (psql CSV -> Python line loop -> gzip level 9 files -> DuckDB
# COPY FROM / one ClickHouse INSERT per file), in one run.
# BENCH_ROWS (default 10,000,000) sets the size; BENCH_ROUNDS (default 1) repeats pgwarehouse's
# runs, the table then showing each path's median. Each pgwarehouse run is also compared with a raw
# COPY timed just before it. Prints a Markdown table for the README.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
PGW="$build/pgwarehouse"; DUCKQ="$build/duckq"
ROWS=${BENCH_ROWS:-10000000}
# data on disk, as a user's would be (tests use a RAM file system when there is one)
export PGW_TEST_TMPDIR=${PGW_TEST_TMPDIR:-/tmp}
source "$root/tests/lib/pgcluster.sh"
source "$root/tests/lib/chserver.sh"
source "$root/bench/lib.sh"
work=$(mktemp -d /tmp/pgw-bench.XXXXXX)
chmod 777 "$work"
trap 'set +e; chs_stop; pgc_stop; rm -rf "$work"' EXIT
PGC_EXTRA_OPTS="-c shared_buffers=512MB" pgc_start
chs_start

bench_table "$ROWS"
copy_sql="COPY (SELECT * FROM t) TO STDOUT (FORMAT binary)"
psql -qX -c "$copy_sql" > /dev/null   # warm the cache

now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

t0=$(now); bytes=$(psql -qX -c "$copy_sql" | wc -c); t1=$(now)
raw_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
mb=$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')
# the same COPY split in two ctid ranges, read at once (what --streams 2 asks of the server)
blocks=$(psql -qAtX -c "SELECT pg_relation_size('t') / current_setting('block_size')::int")
half=$((blocks / 2))
t0=$(now)
psql -qX -c "COPY (SELECT * FROM t WHERE ctid < '($half,0)'::tid) TO STDOUT (FORMAT binary)" > /dev/null &
first=$!
psql -qX -c "COPY (SELECT * FROM t WHERE ctid >= '($half,0)'::tid) TO STDOUT (FORMAT binary)" > /dev/null
wait $first  # not a bare wait: clickhouse-server is a child of this shell too
t1=$(now)
raw2_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')

cd "$work"
# timed CMD...: runs CMD, sets T (seconds), RSS (MB) and CPU (its user + system seconds: the
# tool's own CPU, not the servers')
timed() {
  local out; out=$( { /usr/bin/time -f "%e %M %U %S" "$@" > /dev/null; } 2>&1 | tail -n1)
  read -r T RSS CPU <<<"$(awk '{ printf "%s %.0f %.2f", $1, $2 / 1024, $3 + $4 }' <<<"$out")"
}
check_rows() { [[ "$1" == "$ROWS" ]] || { echo "$2 has $1 rows, expected $ROWS" >&2; exit 1; }; }

declare -A duck_s duck_rss duck_cpu
raw_copy() { local a b; a=$(now); psql -qX -c "$copy_sql" > /dev/null; b=$(now); awk -v a="$a" -v b="$b" 'BEGIN { print b - a }'; }
# run_path KEY CMD...: times a raw single-stream COPY, then CMD; appends this round's seconds, peak
# RSS, CPU and the ratio to that COPY (this machine's speed drifts by 20% and more within a run:
# each pgwarehouse run is also measured against the COPY timed just before it)
declare -A S RSSM CPUU RATIO
run_path() {
  local key=$1 r; shift
  r=$(raw_copy)
  timed "$@"
  S[$key]+="$T "; RSSM[$key]+="$RSS "; CPUU[$key]+="$CPU "
  RATIO[$key]+="$(awk -v r="$r" -v t="$T" 'BEGIN { printf "%.2f", r / t }') "
}
# the server's own CPU (user + system ticks of clickhouse-server) over the reload: its parsing,
# sorting, part writing and the merges that run meanwhile
server_ticks() { awk '{ print $14 + $15 }' "/proc/$CHS_PID/stat"; }
ch_server_cpu=
ROUNDS=${BENCH_ROUNDS:-1}
for ((round = 1; round <= ROUNDS; round++)); do
  for n in ${BENCH_STREAMS:-1 2 3 4}; do
    run_path "duck$n" env PGWAREHOUSE_BACKEND=duckdb "$PGW" -q --streams "$n" reload t
    check_rows "$("$DUCKQ" duck.db "SELECT count(*) FROM t")" "DuckDB"
  done
  sleep 10 # the previous round's table may still merge in the server
  t0=$(server_ticks)
  run_path ch env PGWAREHOUSE_BACKEND=clickhouse "$PGW" -q reload t
  ch_server_cpu+="$(awk -v a="$t0" -v b="$(server_ticks)" -v hz="$(getconf CLK_TCK)" 'BEGIN { print (b - a) / hz }') "
  ch_parts=$(chq "SELECT count() FROM system.parts WHERE table = 't' AND active")
  check_rows "$(chq "SELECT count() FROM t")" "ClickHouse"
  if [[ -f "$root/deps/lib/libchdb.so" ]]; then
    rm -rf "$work/chdb"
    run_path chdb env PGWAREHOUSE_BACKEND=clickhouse CLICKHOUSE_HOST=embedded CLICKHOUSE_PATH="$work/chdb" "$PGW" -q reload t
  fi
done
for n in ${BENCH_STREAMS:-1 2 3 4}; do
  duck_s[$n]=$(median "${S[duck$n]}"); duck_rss[$n]=$(median "${RSSM[duck$n]}"); duck_cpu[$n]=$(median "${CPUU[duck$n]}")
done
ch_s=$(median "${S[ch]}"); ch_rss=$(median "${RSSM[ch]}"); ch_cpu=$(median "${CPUU[ch]}")
chdb_s=
if [[ -n ${S[chdb]:-} ]]; then
  chdb_s=$(median "${S[chdb]}"); chdb_rss=$(median "${RSSM[chdb]}"); chdb_cpu=$(median "${CPUU[chdb]}")
fi

mkdir -p seed
t0=$(now)
psql -qX -c "\\copy (SELECT * FROM t) TO STDOUT WITH CSV HEADER" | python3 "$root/bench/seed_way.py" seed 1000000
t1=$(now)
"$DUCKQ" --exec seed.duckdb "CREATE TABLE t (id BIGINT, qty INTEGER, amount DECIMAL(12,2), happened_at TIMESTAMPTZ, local_at TIMESTAMP, code VARCHAR, descr VARCHAR, nums VARCHAR, doc JSON); COPY t FROM 'seed/*.csv.gz' (FORMAT csv, HEADER true)"
t2=$(now)
check_rows "$("$DUCKQ" seed.duckdb "SELECT count(*) FROM t")" "the seed's DuckDB table"
chq "CREATE TABLE seed_t (id Int64, qty Int32, amount Decimal(12, 2), happened_at String, local_at String, code String, descr String, nums String, doc String) ENGINE = MergeTree ORDER BY id"
for f in seed/*.csv.gz; do
  curl -sS --fail -H "X-ClickHouse-User: $CLICKHOUSE_USER" -H "X-ClickHouse-Key: $CLICKHOUSE_PWD" -H "Content-Encoding: gzip" \
    --data-binary @"$f" "http://127.0.0.1:$CLICKHOUSE_PORT/?query=INSERT%20INTO%20seed_t%20FORMAT%20CSVWithNames"
done
t3=$(now)
check_rows "$(chq "SELECT count() FROM seed_t")" "the seed's ClickHouse table"
seed_extract=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
seed_duck=$(awk -v a="$t0" -v b="$t2" -v c="$t1" -v d="$t3" 'BEGIN { print b - a }')
seed_ch=$(awk -v a="$t0" -v e="$t1" -v b="$t2" -v c="$t3" 'BEGIN { print (e - a) + (c - b) }')

row() { # label seconds rss [cpu seconds]
  local us=-
  [[ -n ${4:-} ]] && us=$(awk -v c="$4" -v n="$ROWS" 'BEGIN { printf "%.2f", c * 1e6 / n }')
  printf "| %s | %.2f | %s | %.0f | %s | %s |\n" "$1" "$2" "$(rate "$ROWS" "$2")" "$(awk -v m="$mb" -v s="$2" 'BEGIN{print m/s}')" "$3" "$us"
}
echo
echo "rows: $ROWS, COPY binary size: $(printf %.0f "$mb") MB, $(nproc) cores, PostgreSQL $(psql -qAtX -c 'SHOW server_version'), ClickHouse $(chq 'SELECT version()')"
echo
echo "| path | seconds | rows/s | MB/s (of COPY binary) | peak RSS | pgwarehouse CPU µs/row |"
echo "|---|---:|---:|---:|---:|---:|"
row "raw \`COPY ... (FORMAT binary)\` to /dev/null" "$raw_s" "-"
row "raw, two ctid-range COPYs at once (reference)" "$raw2_s" "-"
for n in ${BENCH_STREAMS:-1 2 3 4}; do
  row "\`pgwarehouse reload --streams $n\` into DuckDB" "${duck_s[$n]}" "${duck_rss[$n]} MB" "${duck_cpu[$n]}"
done
row "\`pgwarehouse reload\` into ClickHouse over HTTP" "$ch_s" "$ch_rss MB" "$ch_cpu"
[[ -n $chdb_s ]] && row "\`pgwarehouse reload\` into embedded ClickHouse (chDB)" "$chdb_s" "$chdb_rss MB" "$chdb_cpu"
row "seed's way into DuckDB: CSV + gzip -9 files ($(printf %.1f "$seed_extract") s), then COPY FROM" "$seed_duck" "-"
row "seed's way into ClickHouse: the same files, one INSERT per file" "$seed_ch" "-"
echo
paired() { # KEY: the ratios to the COPY timed just before each run, their median first
  local m; m=$(median "${RATIO[$1]}")
  if (( ROUNDS > 1 )); then echo "${m}x the raw COPY timed just before it (median of rounds: ${RATIO[$1]% })"
  else echo "${m}x the raw COPY timed just before it"; fi
}
for n in ${BENCH_STREAMS:-1 2 3 4}; do
  awk -v r="$raw_s" -v d="${duck_s[$n]}" -v sd="$seed_duck" -v n="$n" 'BEGIN {
    printf "DuckDB, %d stream(s): %.2fx the raw single-stream COPY rate, %.1fx faster than the seed'"'"'s way; ", n, r / d, sd / d }'
  paired "duck$n"
done
awk -v r="$raw_s" -v c="$ch_s" -v sc="$seed_ch" 'BEGIN {
  printf "ClickHouse (HTTP): %.2fx the raw COPY rate, %.1fx faster than the seed'"'"'s way; ", r / c, sc / c }'
paired ch
awk -v c="$(median "$ch_server_cpu")" -v n="$ROWS" -v p="$ch_parts" 'BEGIN {
  printf "ClickHouse server CPU during the reload: %.2f s, %.2f µs a row; the table has %d active parts after it\n", c, c * 1e6 / n, p }'
if [[ -n $chdb_s ]]; then
  awk -v r="$raw_s" -v c="$chdb_s" 'BEGIN { printf "chDB: %.2fx the raw COPY rate; ", r / c }'
  paired chdb
fi
exit 0
