#!/usr/bin/env bash
# Change data capture: catch-up of BENCH_CHANGES (default 1,000,000) changes on the bench table (60%
# inserts, 30% updates, 10% deletes, in transactions of 1 to 10,000 rows, sizes log-uniform) into
# DuckDB, ClickHouse over HTTP, chDB (when deps/lib/libchdb.so exists) and the Snowflake double
# (when BENCH_SNOWFLAKE=1: it measures pgwarehouse's side and the double, not the service), next to
# pg_recvlogical draining an identical slot (pgoutput) to /dev/null in the same run: PostgreSQL's own
# decoding rate, the limit. Then `pgwarehouse stream --interval 1` into DuckDB under a steady
# BENCH_STREAM_RATE (default 5,000) changes/s for BENCH_STREAM_SECONDS (default 60): the lag at each
# apply (seconds since the last commit applied), as a distribution. Every result is checked against
# PostgreSQL (count and sums). Prints Markdown for the README.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
PGW="$build/pgwarehouse"; DUCKQ="$build/duckq"
ROWS=${BENCH_ROWS:-1000000}
CHANGES=${BENCH_CHANGES:-1000000}
RATE=${BENCH_STREAM_RATE:-5000}
STREAM_S=${BENCH_STREAM_SECONDS:-60}
(( ROWS >= CHANGES * 2 / 5 )) || { echo "BENCH_ROWS must be at least 40% of BENCH_CHANGES (updates and deletes use existing rows)" >&2; exit 2; }
export PGW_TEST_TMPDIR=${PGW_TEST_TMPDIR:-/tmp}   # data on disk, as a user's would be
source "$root/tests/lib/pgcluster.sh"
source "$root/tests/lib/chserver.sh"
source "$root/bench/lib.sh"
work=$(mktemp -d /tmp/pgw-bench.XXXXXX)
chmod 777 "$work"
trap 'set +e; [[ -n ${SFD_PID:-} ]] && sfd_stop; chs_stop; pgc_stop; rm -rf "$work"' EXIT
PGC_EXTRA_OPTS="-c shared_buffers=512MB -c max_wal_size=8GB" pgc_start
chs_start
cd "$work"

bench_table "$ROWS"

# the backends measured: name and environment
backends=(duckdb clickhouse)
declare -A envs=([duckdb]="PGWAREHOUSE_BACKEND=duckdb DUCKDB_PATH=$work/duck.db"
                 [clickhouse]="PGWAREHOUSE_BACKEND=clickhouse")
if [[ -f "$root/deps/lib/libchdb.so" ]]; then
  backends+=(chdb); envs[chdb]="PGWAREHOUSE_BACKEND=clickhouse CLICKHOUSE_HOST=embedded CLICKHOUSE_PATH=$work/chdb"
fi
if [[ ${BENCH_SNOWFLAKE:-0} == 1 ]]; then
  export PGW_ROOT=$root
  source "$root/tests/lib/sfdouble.sh"
  sfd_start "$work/sf" >&2
  backends+=(snowflake); envs[snowflake]="PGWAREHOUSE_BACKEND=snowflake"
fi
pgw() { local b=$1; shift; env ${envs[$b]} PGWAREHOUSE_REPLICATION_SLOT="bench_$b" "$PGW" "$@"; }
printf 'cdc: true\npostgres:\n  publication: bench\ntables:\n  - t\n' > pgwarehouse_conf.yaml

# every slot at the same point: each backend's first sync copies the table, then the reference slot
for b in "${backends[@]}"; do
  echo "first sync (copy) into $b..." >&2
  pgw "$b" -q sync t
done
psql -qAtX -c "SELECT 1 FROM pg_create_logical_replication_slot('bench_ref', 'pgoutput')" > /dev/null

echo "making $CHANGES changes..." >&2
t0=$(date +%s.%N)
psql -qX -v ON_ERROR_STOP=1 <<SQL
DO \$\$
DECLARE
  made bigint := 0; size int; ins int; upd int; del int;
  next_id bigint := $ROWS + 1; upd_from bigint := 1; del_to bigint := $ROWS;
BEGIN
  PERFORM setseed(0.42);
  WHILE made < $CHANGES LOOP
    size := least($CHANGES - made, floor(exp(random() * ln(10000)))::int);
    ins := round(size * 0.6); upd := round(size * 0.3); del := size - ins - upd;
    INSERT INTO t SELECT g, g % 1000, (g % 100000) / 100.0, now(), localtimestamp, 'N' || (g % 97),
      'inserted ' || g, ARRAY[g % 10], jsonb_build_object('k', g % 7)
    FROM generate_series(next_id, next_id + ins - 1) g;
    UPDATE t SET qty = qty + 1, descr = descr || ' updated', doc = doc || '{"u": true}'
    WHERE id >= upd_from AND id < upd_from + upd;
    DELETE FROM t WHERE id > del_to - del AND id <= del_to;
    next_id := next_id + ins; upd_from := upd_from + upd; del_to := del_to - del;
    made := made + size;
    COMMIT;
  END LOOP;
END \$\$;
SQL
t1=$(date +%s.%N)
end_lsn=$(psql -qAtX -c "SELECT pg_current_wal_lsn()")
wal_mb=$(psql -qAtX -c "SELECT round(pg_wal_lsn_diff('$end_lsn', confirmed_flush_lsn) / 1e6) FROM pg_replication_slots WHERE slot_name = 'bench_ref'")
gen_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')

now() { date +%s.%N; }
# timed CMD...: runs CMD, sets T (seconds), RSS (MB) and CPU (its user + system seconds)
timed() {
  local out; out=$( { /usr/bin/time -f "%e %M %U %S" "$@" > /dev/null; } 2>&1 | tail -n1)
  read -r T RSS CPU <<<"$(awk '{ printf "%s %.0f %.2f", $1, $2 / 1024, $3 + $4 }' <<<"$out")"
}
timed pg_recvlogical -d "$PGDATABASE" --slot bench_ref --start --no-loop -o proto_version=1 -o publication_names=bench \
  --endpos "$end_lsn" -f /dev/null
ref_s=$T ref_cpu=$CPU

want=$(psql -qAtX -c "SELECT count(*), sum(qty), sum(length(descr)) FROM t" | tr '|' ' ')
check() { # backend: count and sums equal PostgreSQL's
  local b=$1 got
  case $b in
    duckdb) got=$("$DUCKQ" "$work/duck.db" "SELECT count(*), sum(qty), sum(length(descr)) FROM t" | tr '\t' ' ') ;;
    clickhouse) got=$(chq "SELECT count(), sum(qty), sum(length(descr)) FROM t" | tr '\t' ' ') ;;
    chdb) got=$("$build/chdbq" "$work/chdb" "SELECT count(), sum(qty), sum(length(descr)) FROM t FORMAT TabSeparated" | tr '\t' ' ') ;;
    snowflake) sfd_pause; got=$("$DUCKQ" "$SFD_DIR/snowflake.duckdb" 'SELECT count(*), sum(QTY), sum(length(DESCR)) FROM T' | tr '\t' ' '); sfd_resume ;;
  esac
  [[ $got == "$want" ]] || { echo "$b: count and sums $got, PostgreSQL has $want" >&2; exit 1; }
}
declare -A s rss cpu
for b in "${backends[@]}"; do
  echo "catch-up into $b..." >&2
  timed env ${envs[$b]} PGWAREHOUSE_REPLICATION_SLOT="bench_$b" "$PGW" -q sync t
  s[$b]=$T; rss[$b]=$RSS; cpu[$b]=$CPU
  check "$b"
done

rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
echo
echo "changes: $CHANGES on a table of $ROWS rows ($wal_mb MB of WAL, made in $(printf %.0f "$gen_s") s), $(nproc) cores, PostgreSQL $(psql -qAtX -c 'SHOW server_version')"
echo
# the client's own CPU (user + system) per change: pg_recvlogical's, or pgwarehouse's (chDB's
# engine included), not the servers'
per_change() { awk -v c="$1" -v n="$CHANGES" 'BEGIN { printf "%.2f", c * 1e6 / n }'; }
echo "| path | seconds | changes/s | x pg_recvlogical | peak RSS | client CPU µs/change |"
echo "|---|---:|---:|---:|---:|---:|"
printf "| pg_recvlogical (pgoutput) to /dev/null | %.2f | %s | 1.00 | - | %s |\n" "$ref_s" "$(rate "$CHANGES" "$ref_s")" "$(per_change "$ref_cpu")"
for b in "${backends[@]}"; do
  printf "| \`pgwarehouse sync\` catch-up into %s | %.2f | %s | %.2f | %s MB | %s |\n" "$b" "${s[$b]}" "$(rate "$CHANGES" "${s[$b]}")" \
    "$(awk -v r="$ref_s" -v x="${s[$b]}" 'BEGIN { print r / x }')" "${rss[$b]}" "$(per_change "${cpu[$b]}")"
done

# stream under a steady write rate: each pgbench transaction makes 10 changes (6 inserts, 3
# updates, 1 delete); -R paces the transactions
echo "stream into duckdb at $RATE changes/s for $STREAM_S s..." >&2
psql -qAtX -c "CREATE SEQUENCE ids START $((ROWS * 10))" > /dev/null
cat > writer.sql <<SQL
\\set u random(1, $ROWS)
BEGIN;
INSERT INTO t SELECT nextval('ids'), 1, 1.5, now(), localtimestamp, 'S', 'streamed', ARRAY[1], '{}' FROM generate_series(1, 6);
UPDATE t SET qty = qty + 1 WHERE id >= :u AND id < :u + 3;
DELETE FROM t WHERE id = (SELECT min(id) FROM t WHERE id > :u + 3);
COMMIT;
SQL
/usr/bin/time -f "%M" -o stream.rss env ${envs[duckdb]} PGWAREHOUSE_REPLICATION_SLOT=bench_duckdb "$PGW" stream t --interval 1 > stream.log 2>&1 &
streamer=$!
sleep 2
pgbench -n -c 2 -j 2 -T "$STREAM_S" -R $((RATE / 10)) -f writer.sql > pgbench.out 2>&1
target=$(psql -qAtX -c "SELECT pg_current_wal_lsn()")
for _ in $(seq 1 600); do
  [[ $(psql -qAtX -c "SELECT confirmed_flush_lsn >= '$target' FROM pg_replication_slots WHERE slot_name = 'bench_duckdb'") == t ]] && break
  sleep 0.2
done
pkill -TERM -P $streamer; wait $streamer || true  # the stream is the child of time
want=$(psql -qAtX -c "SELECT count(*), sum(qty), sum(length(descr)) FROM t" | tr '|' ' ')
check duckdb
tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' pgbench.out | head -n1)
echo
echo "stream into DuckDB (\`--interval 1\`), $(awk -v t="$tps" 'BEGIN { printf "%.0f", t * 10 }') changes/s for $STREAM_S s:" \
  "lag at each apply (s since the last commit applied), peak RSS $(awk '{ printf "%.0f", $1 / 1024 }' stream.rss) MB"
echo
sed -n 's/.*; lag \([0-9.]*\)s,.*/\1/p' stream.log | sort -n | awk '{ v[NR] = $1 } END {
  if (!NR) { print "no applies logged"; exit 1 }
  printf "| applies | median | p90 | p99 | max |\n|---:|---:|---:|---:|---:|\n| %d | %.2f | %.2f | %.2f | %.2f |\n",
    NR, v[int(NR * 0.5) + (NR * 0.5 > int(NR * 0.5))], v[int(NR * 0.9) + (NR * 0.9 > int(NR * 0.9))],
    v[int(NR * 0.99) + (NR * 0.99 > int(NR * 0.99))], v[NR] }'
exit 0
