#!/usr/bin/env bash
# `make test`: the whole suite plainly (build, every backend) and under AddressSanitizer +
# UndefinedBehaviorSanitizer (build-asan; chDB cannot be loaded under ASan, so duckdb, clickhouse
# and snowflake): each of those seven backend passes split in two runs of about equal length (the
# scripts in GROUP_A, about half of the time measured, and the others), fourteen runs at once.
# Each run starts its own PostgreSQL cluster and servers on free ports. The suite is bound by the
# two cores: runs of equal length keep both busy to the end (eight unequal runs left the last
# minutes to one or two). Their outputs are printed one after the other at the end, then how busy
# the CPU was.
here=$(cd "$(dirname "$0")" && pwd)
logs=$(mktemp -d /tmp/pgw-passes.XXXXXX)
GROUP_A="t_cdc t_kill t_signals t_concurrent t_pgrestart t_types t_operate"
passes=(plain:snowflake plain:clickhouse plain:duckdb plain:chdb asan:snowflake asan:duckdb asan:clickhouse)
names=() builds=() backends=() sels=() extras=()
for p in "${passes[@]}"; do
  for half in a b; do
    names+=("${p%%:*}-${p#*:}-$half"); backends+=("${p#*:}")
    [[ ${p%%:*} == plain ]] && builds+=(build) || builds+=(build-asan)
    [[ $half == a ]] && sels+=("PGW_TEST_ONLY=$GROUP_A") || sels+=("PGW_TEST_EXCEPT=$GROUP_A")
    # the official Snowflake driver's conformance test (t_sfdriver) runs in the plain Snowflake run
    [[ $p == asan:snowflake ]] && extras+=("PGW_TEST_SFDRIVER_ELSEWHERE=1") || extras+=("PGW_TEST_UNUSED=")
  done
done
read -r _ u n s i _ < /proc/stat; busy0=$((u + n + s)) idle0=$i started=$SECONDS
runs=("${!names[@]}")
for i in "${runs[@]}"; do
  env "${extras[$i]}" "${sels[$i]}" PGW_TEST_BACKENDS="${backends[$i]}" \
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
read -r _ u n s i _ < /proc/stat
echo "CPU busy $(( 100 * (u + n + s - busy0) / (u + n + s - busy0 + i - idle0 + 1) ))% over $((SECONDS - started)) s"
[[ $failed -eq 0 ]]
