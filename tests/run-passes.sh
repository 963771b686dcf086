#!/usr/bin/env bash
# `make test`: the whole suite twice at once, plainly (build, every backend) and under
# AddressSanitizer + UndefinedBehaviorSanitizer (build-asan; chDB cannot be loaded under ASan, so
# duckdb, clickhouse and snowflake). Each pass starts its own PostgreSQL cluster and servers on
# free ports. Much of a pass is waiting (servers starting, throttled proxies, pgbench), so the two
# overlap well on two cores. The passes' outputs are printed one after the other at the end.
here=$(cd "$(dirname "$0")" && pwd)
logs=$(mktemp -d /tmp/pgw-passes.XXXXXX)
bash "$here/run.sh" build >"$logs/plain.log" 2>&1 &
plain=$!
PGW_TEST_BACKENDS="duckdb clickhouse snowflake" bash "$here/run.sh" build-asan >"$logs/asan.log" 2>&1 &
asan=$!
# each run.sh stops its own servers when it ends, also when killed by these signals
trap 'kill -TERM $plain $asan 2>/dev/null; wait; rm -rf "$logs"; exit 130' INT TERM
wait $plain; plain_rc=$?
echo "plain pass done ($(tail -n1 "$logs/plain.log"))"
wait $asan; asan_rc=$?
echo "sanitizer pass done ($(tail -n1 "$logs/asan.log"))"
echo "=================== plain pass (build)"
cat "$logs/plain.log"
echo "=================== AddressSanitizer + UndefinedBehaviorSanitizer pass (build-asan)"
cat "$logs/asan.log"
rm -rf "$logs"
echo "plain: $plain_rc, sanitizers: $asan_rc"
[[ $plain_rc -eq 0 && $asan_rc -eq 0 ]]
