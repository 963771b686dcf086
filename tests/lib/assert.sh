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

# The warehouse under test: $PGW_BACKEND: duckdb, clickhouse (a server over HTTP) or chdb
# (ClickHouse embedded). SQL given to whq must be valid in both dialects (counts, simple SELECTs);
# backend-specific checks test $BACKEND or is_ch.
BACKEND=${PGW_BACKEND:-duckdb}
is_ch() { [[ $BACKEND == clickhouse || $BACKEND == chdb ]]; }
# chsql SQL: a statement on the ClickHouse under test (server or embedded)
chsql() {
  if [[ $BACKEND == chdb ]]; then "$CHDBQ" "$CLICKHOUSE_PATH" "$1"; else chq "$1"; fi
}
# Snowflake runs as the local double, which keeps its tables in a DuckDB file the tests read directly.
[[ $BACKEND == snowflake ]] && WH_DUCKDB=$SFD_DIR/snowflake.duckdb || WH_DUCKDB=${DUCKDB_PATH:-}
whq() {
  case $BACKEND in
    duckdb) wh_duckq "$WH_DUCKDB" "$1" ;;
    snowflake) wh_duckq "$WH_DUCKDB" "$1" ;;
    *) chsql "$1 FORMAT TabSeparated" ;;
  esac
}
# wh_duckq ARGS...: duckq on a warehouse file. The Snowflake double keeps its file open: a read of
# it asks the double to close it and hold its statements meanwhile (sfd_pause, sfd_resume).
wh_duckq() {
  local a rc
  for a in "$@"; do
    if [[ -n ${SFD_PID:-} && $a == "$SFD_DIR/snowflake.duckdb" ]]; then
      sfd_pause || return 1
      "$DUCKQ" "$@"; rc=$?
      sfd_resume
      return $rc
    fi
  done
  "$DUCKQ" "$@"
}
dq() { whq "$1"; }
# Snowflake creates a name PostgreSQL leaves unquoted in upper case (snowflake_names: upper): the
# helpers below take and print PostgreSQL's names, so the tests read the same on every backend.
# sf_name NAME: the name as the Snowflake double holds it
sf_name() {
  if [[ $BACKEND == snowflake && $1 =~ ^[a-z_][a-z0-9_\$]*$ && $1 != _pgwarehouse_* ]]; then echo "${1^^}"; else echo "$1"; fi
}
# SQL (DuckDB) turning a stored name back into PostgreSQL's
_pg_name_sql() {
  if [[ $BACKEND == snowflake ]]; then
    echo "CASE WHEN regexp_full_match($1, '[A-Z_][A-Z0-9_\$]*') AND NOT starts_with($1, '_PGWAREHOUSE_') THEN lower($1) ELSE $1 END"
  else
    echo "$1"
  fi
}
# every table in the warehouse's default schema/database, helper tables included, one per line
wh_tables() {
  case $BACKEND in
    duckdb|snowflake) wh_duckq "$WH_DUCKDB" "SELECT $(_pg_name_sql table_name) FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY 1" ;;
    *) chsql "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name FORMAT TabSeparated" ;;
  esac
}
# column names and types of a warehouse table: "name type" lines
wh_columns() {
  case $BACKEND in
    duckdb|snowflake) wh_duckq "$WH_DUCKDB" "SELECT $(_pg_name_sql column_name) || ' ' || data_type FROM duckdb_columns() WHERE table_name = '$(sf_name "$1")' ORDER BY column_index" ;;
    *) chsql "SELECT concat(name, ' ', type) FROM system.columns WHERE database = currentDatabase() AND table = '$1' FORMAT TabSeparatedRaw" ;;
  esac
}

# column names of a warehouse table, one per line
wh_colnames() {
  case $BACKEND in
    duckdb|snowflake) wh_duckq "$WH_DUCKDB" "SELECT $(_pg_name_sql column_name) FROM duckdb_columns() WHERE table_name = '$(sf_name "$1")' ORDER BY column_index" ;;
    *) chsql "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = '$1' FORMAT TabSeparated" ;;
  esac
}

# CSV of a ClickHouse table in a form PostgreSQL's COPY reads back into the source's types. The
# columns (in order, arrays and bytea told apart) come from PostgreSQL's side: one warehouse query
# (a chDB query loads the library: ~0.35 s of CPU)
_ch_pg_csv() {
  local src=$1 dst=$2 db=$3 sel="" name kind
  while IFS=$'\t' read -r name kind; do
    local q="\`${name//\`/\\\`}\`" e
    if [[ $kind == a ]]; then
      e="concat('{', arrayStringConcat(arrayMap(x -> ifNull(concat('\"', replaceAll(replaceAll(toString(x), '\\\\', '\\\\\\\\'), '\"', '\\\\\"'), '\"'), 'NULL'), $q), ','), '}')"
    elif [[ $kind == b ]]; then
      e="concat('\\\\x', hex($q))"
    else
      e="$q"
    fi
    sel+="${sel:+, }$e"
  done < <(psql -qAtX -F $'\t' -c "SELECT attname, CASE WHEN t.typcategory = 'A' THEN 'a' WHEN a.atttypid = 'bytea'::regtype THEN 'b' ELSE '-' END
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid WHERE attrelid = '$src'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum")
  chsql "SELECT $sel FROM \`$db\`.\`${dst//\`/\\\`}\` FORMAT CSV"
}

# t_same NAME PGTABLE [WHTABLE [WHSCHEMA]] : every row and value of PGTABLE is in the warehouse, and no more
t_same() {
  local name=$1 src=$2 dst=${3:-$2} schema=${4:-}
  local csv; csv=$(mktemp)
  chmod 644 "$csv"
  local null="" ok=1
  if [[ $BACKEND == duckdb || $BACKEND == snowflake ]]; then
    wh_duckq --pg-csv "$WH_DUCKDB" "$(sf_name "$dst")" "$([[ -n $schema ]] && sf_name "$schema" || echo main)" > "$csv" || ok=0
  else
    _ch_pg_csv "$src" "$dst" "${schema:-$CLICKHOUSE_DATABASE}" > "$csv" || ok=0
    null=", NULL '\\N'"
  fi
  if [[ $ok == 0 ]]; then t_fail "$name" "export from $BACKEND failed: $(head -c 300 "$csv")"; rm -f "$csv"; return; fi
  # Snowflake keeps json as VARIANT and arrays as ARRAY (JSON): compare those as jsonb
  local prelude=""
  if [[ $BACKEND == snowflake ]]; then
    local cols
    cols=$(psql -qAtX -c "SELECT string_agg(CASE WHEN t.typcategory = 'A' THEN format('array_to_json(%I%s)::jsonb AS %I', attname,
        CASE WHEN t.typelem = 'bpchar'::regtype THEN '::text[]' ELSE '' END, attname)
      WHEN t.typname IN ('json', 'jsonb') THEN format('%I::jsonb AS %I', attname, attname) ELSE format('%I', attname) END, ', ' ORDER BY attnum)
      FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid WHERE attrelid = '$src'::regclass AND attnum > 0 AND NOT attisdropped")
    prelude="CREATE TEMP VIEW expected AS SELECT $cols FROM $src;"
    src=expected
  fi
  local out
  out=$(PGTZ=UTC psql -qAtX -v ON_ERROR_STOP=1 2>&1 <<SQL
$prelude
CREATE TEMP TABLE back AS SELECT * FROM $src LIMIT 0;
\copy back FROM '$csv' (FORMAT csv$null)
SELECT 'missing: ' || r FROM (SELECT ROW(s.*)::text r FROM $src s EXCEPT ALL SELECT ROW(b.*)::text FROM back b) x;
SELECT 'extra: ' || r FROM (SELECT ROW(b.*)::text r FROM back b EXCEPT ALL SELECT ROW(s.*)::text FROM $src s) x;
SQL
)
  rm -f "$csv"
  if [[ -z "$out" ]]; then t_pass "$name"; else t_fail "$name" "$(grep -m 5 -A 2 '^missing' <<<"$out")" "$(grep -m 5 -A 2 '^extra' <<<"$out")"; fi
}

# proxy_start TARGET_PORT [RATE]: a loopback TCP proxy (tests/lib/tcpproxy.py) in the background;
# sets PROXY_PORT and PROXY_PID. proxy_cut resets its open connections; proxy_stop ends it.
proxy_start() {
  python3 "$PGW_ROOT/tests/lib/tcpproxy.py" "$1" "${2:-0}" "$PWD/proxy" > "$PWD/proxy.out" 2>&1 &
  PROXY_PID=$!
  for _ in $(seq 1 100); do
    PROXY_PORT=$(sed -n 's/^listening //p' "$PWD/proxy.out")
    [[ -n $PROXY_PORT ]] && return 0
    sleep 0.05
  done
  echo "tcpproxy did not start: $(cat "$PWD/proxy.out")" >&2
  return 1
}
proxy_cut() { kill -USR1 "$PROXY_PID"; }
proxy_stop() { kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null; true; }

# pg_wait CONDITION [SECONDS]: waits (up to SECONDS, default 10) until the SQL boolean CONDITION
# holds, polling every 20 ms inside one session: a psql per poll costs more CPU than the thing
# waited for gets (a connection is ~60 ms of CPU on the test machines). Fails on the timeout.
pg_wait() {
  psql -qAtX -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<SQL
DO \$pgw_wait\$ BEGIN
  FOR i IN 1..$(( ${2:-10} * 50 )) LOOP
    PERFORM pg_stat_clear_snapshot();
    IF ($1) THEN RETURN; END IF;
    PERFORM pg_sleep(0.02);
  END LOOP;
  RAISE EXCEPTION 'timeout';
END \$pgw_wait\$;
SQL
}

# wait_copy [PATTERN]: waits (up to 10 s) until pgwarehouse runs a COPY in PostgreSQL. The
# server may have sent all of it into the socket buffers already (then the session is idle in
# its transaction, the COPY its last statement) while pgwarehouse still reads it.
wait_copy() {
  pg_wait "(SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgwarehouse' AND query LIKE 'COPY%${1:-}%' AND state IN ('active', 'idle in transaction')) >= 1"
}
