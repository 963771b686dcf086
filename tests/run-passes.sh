#!/usr/bin/env bash
# `make test`: the whole suite plainly (build, every backend) and under AddressSanitizer +
# UndefinedBehaviorSanitizer (build-asan; chDB cannot be loaded under ASan, so duckdb, clickhouse
# and snowflake), as eleven runs at once: each pass by warehouse, the longer ones in two halves
# (PGW_TEST_PART). Each run starts its own PostgreSQL cluster and servers on free ports. Much of a
# run is waiting (servers starting, throttled proxies, pgbench, the Snowflake double): measured,
# four runs kept the two cores busy ~62% of the time and six ~72%, so more runs overlap better.
# Their outputs are printed one after the other at the end.
here=$(cd "$(dirname "$0")" && pwd)
logs=$(mktemp -d /tmp/pgw-passes.XXXXXX)
names=() builds=() backends=() parts=()
add_run() { names+=("$1"); builds+=("$2"); backends+=("$3"); parts+=("${4:-}"); }
for half in 1 2; do
  add_run "plain-snowflake-$half" build snowflake "$half/2"
  add_run "plain-clickhouse-duckdb-$half" build "clickhouse duckdb" "$half/2"
  add_run "plain-chdb-$half" build chdb "$half/2"
  add_run "asan-snowflake-$half" build-asan snowflake "$half/2"
  add_run "asan-duckdb-$half" build-asan duckdb "$half/2"
done
add_run asan-clickhouse build-asan clickhouse
# the official Snowflake driver's conformance test (t_sfdriver) runs in the plain Snowflake runs only
runs=("${!names[@]}")
for i in "${runs[@]}"; do
  elsewhere=; [[ ${names[$i]} == asan-snowflake* ]] && elsewhere=PGW_TEST_SFDRIVER_ELSEWHERE=1
  env $elsewhere PGW_TEST_PART="${parts[$i]}" PGW_TEST_BACKENDS="${backends[$i]}" \
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
rm -rf "$logs"
echo "exit statuses: ${names[*]}: ${rcs[*]}"
[[ $failed -eq 0 ]]
