#!/usr/bin/env bash
# `make test`: the whole suite plainly (build, every backend) and under AddressSanitizer +
# UndefinedBehaviorSanitizer (build-asan; chDB cannot be loaded under ASan, so duckdb, clickhouse
# and snowflake), as three runs at once: the plain pass split in two halves of about equal length,
# and the sanitizer pass. Each run starts its own PostgreSQL cluster and servers on free ports.
# Much of a run is waiting (servers starting, throttled proxies, pgbench, the Snowflake double), so
# they overlap well on two cores. Their outputs are printed one after the other at the end.
here=$(cd "$(dirname "$0")" && pwd)
logs=$(mktemp -d /tmp/pgw-passes.XXXXXX)
names=(plain-duckdb-snowflake plain-clickhouse-chdb asan)
PGW_TEST_BACKENDS="duckdb snowflake" bash "$here/run.sh" build >"$logs/${names[0]}.log" 2>&1 &
pids[0]=$!
PGW_TEST_BACKENDS="clickhouse chdb" bash "$here/run.sh" build >"$logs/${names[1]}.log" 2>&1 &
pids[1]=$!
PGW_TEST_BACKENDS="duckdb clickhouse snowflake" bash "$here/run.sh" build-asan >"$logs/${names[2]}.log" 2>&1 &
pids[2]=$!
# each run.sh stops its own servers when it ends, also when killed by these signals
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait; rm -rf "$logs"; exit 130' INT TERM
rcs=()
for i in 0 1 2; do
  wait "${pids[$i]}"; rcs[$i]=$?
  echo "${names[$i]} done ($(tail -n1 "$logs/${names[$i]}.log"))"
done
failed=0
for i in 0 1 2; do
  echo "=================== ${names[$i]}"
  cat "$logs/${names[$i]}.log"
  [[ ${rcs[$i]} -eq 0 ]] || failed=1
done
rm -rf "$logs"
echo "exit statuses: ${names[0]} ${rcs[0]}, ${names[1]} ${rcs[1]}, ${names[2]} ${rcs[2]}"
[[ $failed -eq 0 ]]
