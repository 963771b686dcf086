#!/usr/bin/env bash
# Runs the unit tests, then every tests/integration/t_*.sh once per warehouse backend, against a
# throwaway PostgreSQL cluster and (for ClickHouse) a throwaway clickhouse-server, with the
# binaries of BUILD_DIR (build or build-asan). Ends with "N passed, N failed, in N s".
#   PGW_TEST_FILTER=keys      only scripts whose name contains "keys"
#   PGW_TEST_BACKENDS=duckdb  only these backends (default: duckdb clickhouse chdb snowflake)
#   PGW_TEST_PART=1/2         every second script, from the first (to split a run in two)
#   PGW_TEST_ONLY="t_a t_b"   only these scripts; PGW_TEST_EXCEPT="t_a t_b": all but these
#   PGW_TEST_KEEP=1           keeps the scripts' work directories (warehouse files, logs) when a check failed
#   PGW_TEST_STAMP=1          starts each check's line with the time it ended
#   PGW_TEST_SCRIPT_LIMIT=N   stops a script (a failure) still running after N seconds (default 1500)
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=$(cd "${1:-build}" && pwd)
# The query tools only read results back for the checks: the plain build's are used when there is
# one (the sanitizer pass tests pgwarehouse, not them, and instrumented they take minutes to
# export a big table)
tools=$build
[[ -x $root/build/duckq && -x $root/build/chdbq ]] && tools=$root/build
export PGW="$build/pgwarehouse" DUCKQ="$tools/duckq" CHDBQ="$tools/chdbq" PGSH="$tools/pgsh" PGW_ROOT=$root
export CHDB_LIBRARY=${CHDB_LIBRARY:-$root/deps/lib/libchdb.so}
# Debian's python3 (scripts/deps.sh), not a version manager's shim first on PATH (~0.3 s a start)
PY=/usr/bin/python3; [[ -x $PY ]] || PY=python3; export PY
export T_RESULTS; T_RESULTS=$(mktemp)
# malloc_context_size: shorter allocation stacks (the default 30 frames are unwound at every
# malloc, CPU the suite is short of; a report still names the frames that matter)
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:malloc_context_size=10"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export PGOPTIONS="-c client_min_messages=warning"

source "$here/lib/pgcluster.sh"
source "$here/lib/chserver.sh"
tree_pids() { # PID: the process and its descendants, parents first (one ps, not a pgrep for each)
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { kids[$2] = kids[$2] " " $1 }
    function walk(p,   n, i, k) { print p; n = split(kids[p], k, " "); for (i = 1; i <= n; i++) walk(k[i]) }
    END { walk(root) }'
}
# kill_tree PID: the process and all its descendants. All are stopped first, parents before their
# children, and looked for again once stopped: none can start another process, nor go on to its next
# command when a child ends (a watchdog whose sleep ended first went on to kill). Then killed, the
# process itself last: whoever waits for it (run.sh, for a script) finds the others gone (killed
# first, a script's end let run.sh stop its watchdog in the middle of the killing, and a stream the
# script had started lived on).
kill_tree() {
  local pids
  kill -STOP $(tree_pids "$1") 2>/dev/null
  pids=$(tree_pids "$1")
  kill -STOP $pids 2>/dev/null
  kill -KILL $(tac <<<"$pids") 2>/dev/null
}

script_pid="" watchdog_pid=""
stop_script() { # the watchdog first: it must not outlive its script's end
  { [[ -z $watchdog_pid ]] || { kill_tree "$watchdog_pid"; wait "$watchdog_pid"; }
    [[ -z $script_pid ]] || { kill_tree "$script_pid"; wait "$script_pid"; }; } 2>/dev/null
  watchdog_pid="" script_pid=""
}

# a helper server of the script running (the Snowflake double) goes too when the run is stopped
# (and the script running, with its watchdog: run.sh stopped by a signal does not wait for them)
trap 'stop_script; [[ -n ${WORK:-} ]] && pkill -f -- "$WORK/"; chs_stop; pgc_stop; keep_or_remove_work' EXIT
keep_or_remove_work() {
  if [[ -n ${PGW_TEST_KEEP:-} && -n ${WORK:-} ]] && grep -q '^fail$' "$T_RESULTS" 2>/dev/null; then
    echo "kept $WORK"
  else
    rm -rf "${WORK:-}"
  fi
  rm -f "$T_RESULTS"
}
trap 'exit 130' INT TERM

echo "== unit tests ($build)"
if "$build/unit_tests"; then echo pass >> "$T_RESULTS"; else echo fail >> "$T_RESULTS"; fi

# no autovacuum (the tests ANALYZE where they need statistics), no JIT compilation, and SCRAM
# passwords derived 16 times instead of 4096 at each connection (tests/lib/pgcluster.sh): CPU the
# suite, bound by the machine's two cores, spends on nothing it checks
PGC_SCRAM_ITERATIONS=16 PGC_EXTRA_OPTS="-c autovacuum=off -c jit=off" pgc_start || { echo "cannot start PostgreSQL"; exit 1; }
WORK=$(mktemp -d "$(pgw_test_tmp)/pgw-test.XXXXXX")
chmod 777 "$WORK"
export SFD_KEY_CACHE=$WORK/sfkeys  # the Snowflake double's keys and certificates, made once
filter=${PGW_TEST_FILTER:-}

script_cpu() { # the `times` output of a script's shell: its children's user + sys, as "N.N s"
  sed -n 2p "$1" 2>/dev/null | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); t += p[1] * 60 + p[2] } printf "%.1f s", t }'
}

run_script() { # backend script
  local backend=$1 t=$2 name; name=$(basename "$t" .sh)
  local db="${name}_db" dir="$WORK/$backend/$name" started=$SECONDS
  echo "== $name [$backend]"
  psql -qAtX -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  if [[ $backend == clickhouse ]]; then
    chq "DROP DATABASE IF EXISTS $db" && chq "CREATE DATABASE $db" || { echo fail >> "$T_RESULTS"; return; }
  fi
  mkdir -p "$dir"; chmod 777 "$dir"
  local pgw_backend=$backend ch_env=()
  if [[ $backend == chdb ]]; then  # embedded ClickHouse: the same sink, another transport
    pgw_backend=clickhouse
    # outside UTC, as the server is (tests/lib/chserver.sh): times must not depend on the zone
    ch_env=(CLICKHOUSE_HOST=embedded CLICKHOUSE_PATH="$dir/chdb" TZ=America/New_York)
  fi
  # T_DIR: the script's own directory, for the helpers' files; umask 022: files the server reads
  ( umask 022 && cd "$dir" && export T_DIR=$dir PGDATABASE=$db PGW_BACKEND=$backend PGWAREHOUSE_BACKEND=$pgw_backend \
      DUCKDB_PATH="$dir/test.duckdb" CLICKHOUSE_DATABASE=$db "${ch_env[@]}" \
      && { [[ $backend != snowflake ]] || { source "$here/lib/sfdouble.sh" && sfd_start "$dir/sf"; }; } \
      && source "$here/lib/assert.sh" && source "$t" && touch "$dir/.finished"; pgs_stop 2>/dev/null; qs_stop 2>/dev/null; sfd_stop 2>/dev/null
      times > "$dir/.times"; true ) 0<&0 &
  script_pid=$!
  # a script still running after PGW_TEST_SCRIPT_LIMIT seconds is stopped (a hang, as a test waiting
  # for a process that never ends, fails the run rather than holding it forever)
  local limit=${PGW_TEST_SCRIPT_LIMIT:-1500}
  ( sleep "$limit"; echo "  FAIL  $name [$backend] still running after $limit s: stopped"; kill_tree "$script_pid" ) &
  watchdog_pid=$!
  wait "$script_pid"
  script_pid=""  # ended and reaped: its number may be another process's now
  stop_script
  pkill -f -- "$dir/" 2>/dev/null  # a helper server a failed script left behind (the Snowflake double)
  # a script that stopped early (syntax error, crash of the shell) counts as a failure
  [[ -f "$dir/.finished" ]] || { echo "  FAIL  $name did not run to its end"; echo fail >> "$T_RESULTS"; }
  # CPU of the script's own processes (pgwarehouse, the tools, the Snowflake double), not the servers'
  echo "   ($name [$backend]: $((SECONDS - started)) s, $(script_cpu "$dir/.times") CPU)"
}

for backend in ${PGW_TEST_BACKENDS:-duckdb clickhouse chdb snowflake}; do
  if [[ $backend == clickhouse ]]; then
    chs_start || { echo "cannot start clickhouse-server"; echo fail >> "$T_RESULTS"; continue; }
  fi
  idx=0
  for t in "$here"/integration/t_*.sh; do
    name=$(basename "$t" .sh)
    [[ -n "$filter" && "$name" != *$filter* ]] && continue
    [[ -n ${PGW_TEST_ONLY:-} && " $PGW_TEST_ONLY " != *" $name "* ]] && continue
    [[ -n ${PGW_TEST_EXCEPT:-} && " $PGW_TEST_EXCEPT " == *" $name "* ]] && continue
    if [[ -n ${PGW_TEST_PART:-} ]]; then
      (( idx++ % ${PGW_TEST_PART#*/} == ${PGW_TEST_PART%/*} - 1 )) || continue
    fi
    run_script "$backend" "$t"
  done
  [[ $backend == clickhouse ]] && chs_stop
done

passed=$(grep -c '^pass$' "$T_RESULTS")
failed=$(grep -c '^fail$' "$T_RESULTS")
echo "$passed passed, $failed failed, in $SECONDS s"
[[ $failed -eq 0 ]]
