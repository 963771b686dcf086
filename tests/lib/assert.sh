# Assertions for the integration tests. Each prints one line per check and counts it.
# Results are appended to $T_RESULTS ("pass"/"fail" lines) so the runner can total them.

T_FAILS_HERE=0
_t_record() { echo "$1" >> "$T_RESULTS"; }
t_pass() { echo "  ok    $1"; _t_record pass; }
t_fail() { echo "  FAIL  $1"; shift; for l in "$@"; do echo "        $l"; done; _t_record fail; T_FAILS_HERE=$((T_FAILS_HERE + 1)); }

# t_eq NAME EXPECTED ACTUAL
t_eq() {
  if [[ "$2" == "$3" ]]; then t_pass "$1"; else t_fail "$1" "expected: $(printf %q "$2")" "actual:   $(printf %q "$3")"; fi
}

# t_ok NAME CMD... : the command succeeds
t_ok() {
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then t_pass "$name"; else t_fail "$name" "exit $?: $(echo "$out" | tail -n 5)"; fi
}

# t_err NAME CODE PATTERN CMD... : exits with CODE, stderr matches PATTERN (grep -E), one error line
t_err() {
  local name=$1 code=$2 pat=$3; shift 3
  local errf; errf=$(mktemp)
  "$@" >/dev/null 2>"$errf"
  local rc=$?
  local msg; msg=$(grep -E '^pgwarehouse: error:' "$errf")
  if [[ $rc -eq $code ]] && grep -qE -- "$pat" <<<"$msg"; then
    t_pass "$name"
  else
    t_fail "$name" "exit $rc (want $code), stderr:" "$(head -c 600 "$errf")" "want pattern: $pat"
  fi
  rm -f "$errf"
}

pgq() { psql -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
dq() { "$DUCKQ" "$DUCKDB_PATH" "$1"; }

# t_same NAME PGTABLE [DUCKTABLE [DUCKSCHEMA]] : every row and value of PGTABLE is in DuckDB, and no more
t_same() {
  local name=$1 src=$2 dst=${3:-$2} schema=${4:-main}
  local csv; csv=$(mktemp)
  if ! "$DUCKQ" --pg-csv "$DUCKDB_PATH" "$dst" "$schema" > "$csv"; then t_fail "$name" "duckq failed"; rm -f "$csv"; return; fi
  local out
  out=$(psql -qAtX -v ON_ERROR_STOP=1 2>&1 <<SQL
CREATE TEMP TABLE back AS SELECT * FROM $src LIMIT 0;
\copy back FROM '$csv' (FORMAT csv)
SELECT 'missing: ' || r FROM (SELECT ROW(s.*)::text r FROM $src s EXCEPT ALL SELECT ROW(b.*)::text FROM back b) x;
SELECT 'extra: ' || r FROM (SELECT ROW(b.*)::text r FROM back b EXCEPT ALL SELECT ROW(s.*)::text FROM $src s) x;
SQL
)
  rm -f "$csv"
  if [[ -z "$out" ]]; then t_pass "$name"; else t_fail "$name" "$(echo "$out" | head -n 10)"; fi
}
