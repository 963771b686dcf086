#!/usr/bin/env bash
# `make test`: the whole suite plainly (build, every backend) and under AddressSanitizer +
# UndefinedBehaviorSanitizer (build-asan; chDB cannot be loaded under ASan, so duckdb, clickhouse
# and snowflake), as eight runs at once of about equal length (chDB's scripts in two halves:
# PGW_TEST_PART). Each run starts its own PostgreSQL cluster and servers on free ports. Much of a
# run is waiting (servers starting, throttled proxies, pgbench, the Snowflake double): measured,
# six runs kept the two cores busy ~68% of the time, so more of them overlap better. Their outputs
# are printed one after the other at the end.
here=$(cd "$(dirname "$0")" && pwd)
logs=$(mktemp -d /tmp/pgw-passes.XXXXXX)
names=(plain-snowflake plain-clickhouse plain-duckdb plain-chdb-1 plain-chdb-2 asan-snowflake asan-duckdb asan-clickhouse)
builds=(build build build build build build-asan build-asan build-asan)
backends=("snowflake" "clickhouse" "duckdb" "chdb" "chdb" "snowflake" "duckdb" "clickhouse")
# the official Snowflake driver's conformance test (t_sfdriver) runs in the plain Snowflake run
once=("" "" "" "PGW_TEST_PART=1/2" "PGW_TEST_PART=2/2" "PGW_TEST_SFDRIVER_ELSEWHERE=1" "" "")
runs=(0 1 2 3 4 5 6 7)
for i in "${runs[@]}"; do
  env ${once[$i]} PGW_TEST_BACKENDS="${backends[$i]}" bash "$here/run.sh" "${builds[$i]}" >"$logs/${names[$i]}.log" 2>&1 &
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
rm -rf "$logs"
echo "exit statuses: ${names[*]}: ${rcs[*]}"
[[ $failed -eq 0 ]]
