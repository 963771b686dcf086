#!/usr/bin/env bash
# Runs the unit tests and every tests/integration/*.sh against a throwaway PostgreSQL cluster,
# with the binaries of BUILD_DIR (build or build-asan). Ends with "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=$(cd "${1:-build}" && pwd)
export PGW="$build/pgwarehouse" DUCKQ="$build/duckq" PGW_ROOT=$root
export T_RESULTS; T_RESULTS=$(mktemp)
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export PGOPTIONS="-c client_min_messages=warning"

source "$here/lib/pgcluster.sh"
trap 'pgc_stop; rm -rf "${WORK:-}"' EXIT
trap 'exit 130' INT TERM

echo "== unit tests ($build)"
if "$build/unit_tests"; then echo pass >> "$T_RESULTS"; else echo fail >> "$T_RESULTS"; fi

pgc_start || { echo "cannot start PostgreSQL"; exit 1; }
WORK=$(mktemp -d /tmp/pgw-test.XXXXXX)
chmod 777 "$WORK"
filter=${PGW_TEST_FILTER:-}
for t in "$here"/integration/t_*.sh; do
  name=$(basename "$t" .sh)
  [[ -n "$filter" && "$name" != *$filter* ]] && continue
  echo "== $name"
  db="${name}_db"
  psql -qAtX -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
  mkdir -p "$WORK/$name"
  ( cd "$WORK/$name" && export PGDATABASE=$db DUCKDB_PATH="$WORK/$name/test.duckdb" \
      && source "$here/lib/assert.sh" && source "$t" && touch "$WORK/$name/.finished" )
  # a script that stopped early (syntax error, crash of the shell) counts as a failure
  [[ -f "$WORK/$name/.finished" ]] || { echo "  FAIL  $name did not run to its end"; echo fail >> "$T_RESULTS"; }
done

passed=$(grep -c '^pass$' "$T_RESULTS")
failed=$(grep -c '^fail$' "$T_RESULTS")
rm -f "$T_RESULTS"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
