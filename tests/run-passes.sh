#!/usr/bin/env bash
# `make test`: the whole suite plainly (build, every backend) and under AddressSanitizer +
# UndefinedBehaviorSanitizer (build-asan; chDB cannot be loaded under ASan, so duckdb, clickhouse
# and snowflake), as six runs at once of about equal length. Each run starts its own PostgreSQL
# cluster and servers on free ports. The suite is bound by the two cores (measured: 99% busy with
# fourteen runs, which took a minute longer than six: every run starts its own servers), so six
# runs it is. Their outputs are printed one after the other at the end, then how busy the CPU was.
here=$(cd "$(dirname "$0")" && pwd)
# PGW_PASSES_KEEP=DIR keeps each run's log there (to compare the runs' script times)
logs=$(mktemp -d /tmp/pgw-passes.XXXXXX)
names=(plain-snowflake plain-clickhouse-duckdb plain-chdb asan-snowflake asan-duckdb asan-clickhouse)
builds=(build build build build-asan build-asan build-asan)
backends=("snowflake" "clickhouse duckdb" "chdb" "snowflake" "duckdb" "clickhouse")
# the official Snowflake driver's conformance test (t_sfdriver) runs in the plain Snowflake run
extras=("PGW_TEST_UNUSED=" "PGW_TEST_UNUSED=" "PGW_TEST_UNUSED=" "PGW_TEST_SFDRIVER_ELSEWHERE=1" "PGW_TEST_UNUSED=" "PGW_TEST_UNUSED=")
read -r _ u n s i _ < /proc/stat; busy0=$((u + n + s)) idle0=$i started=$SECONDS
runs=("${!names[@]}")
for i in "${runs[@]}"; do
  env "${extras[$i]}" PGW_TEST_BACKENDS="${backends[$i]}" \
    bash "$here/run.sh" "${builds[$i]}" >"$logs/${names[$i]}.log" 2>&1 &
  pids[$i]=$!
done
# each run.sh stops its own servers when it ends, also when killed by these signals
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait; rm -rf "$logs"; exit 130' INT TERM
rcs=()
for i in "${runs[@]}"; do
  wait "${pids[$i]}"; rcs[$i]=$?
  echo "${names[$i]} done ($(tail -n1 "$logs/${names[$i]}.log"))"
done
failed=0
for i in "${runs[@]}"; do
  echo "=================== ${names[$i]}"
  cat "$logs/${names[$i]}.log"
  [[ ${rcs[$i]} -eq 0 ]] || failed=1
done
[[ -n ${PGW_PASSES_KEEP:-} ]] && mkdir -p "$PGW_PASSES_KEEP" && cp "$logs"/*.log "$PGW_PASSES_KEEP"/
rm -rf "$logs"
echo "exit statuses: ${names[*]}: ${rcs[*]}"
read -r _ u n s i _ < /proc/stat
echo "CPU busy $(( 100 * (u + n + s - busy0) / (u + n + s - busy0 + i - idle0 + 1) ))% over $((SECONDS - started)) s"
[[ $failed -eq 0 ]]
