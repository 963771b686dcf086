# Assertions for the integration tests. Each prints one line per check and counts it.
# Results are appended to $T_RESULTS ("pass"/"fail" lines) so the runner can total them.

T_FAILS_HERE=0
: "${PY:=python3}"  # run.sh sets Debian's
_t_record() { echo "$1" >> "$T_RESULTS"; }
# PGW_TEST_STAMP=1: each check's line starts with the time it ended (to find where a script's time goes)
_t_stamp() { [[ -z ${PGW_TEST_STAMP:-} ]] || printf '%s ' "${EPOCHREALTIME%???}"; }  # no subshell: a fork per check
t_pass() { _t_stamp; echo "  ok    $1"; _t_record pass; }
t_fail() { _t_stamp; echo "  FAIL  $1"; shift; for l in "$@"; do echo "        $l"; done; _t_record fail; T_FAILS_HERE=$((T_FAILS_HERE + 1)); }

# The helpers below use builtins where a program would do: a fork is a few ms of CPU on these
# machines, and the scripts' forks were a tenth of make test's CPU (perf, README "Tests").
# sleep SECONDS, in the scripts' polls: a read that times out on a pipe nobody writes to
if [[ -n ${T_DIR:-} ]] && mkfifo "$T_DIR/.sleep" && exec {_T_SLEEP}<>"$T_DIR/.sleep"; then
  sleep() { read -r -t "$1" -u "$_T_SLEEP" _; true; }
fi

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

# _tmpname VAR: sets VAR to a new file name for this shell (a mktemp per check added up to seconds)
_tmpname() {
  _tmp_n=$(( ${_tmp_n:-0} + 1 ))
  printf -v "$1" '%s/pgw-t.%s.%s' "${TMPDIR:-/tmp}" "$BASHPID" "$_tmp_n"
}

# t_err NAME CODE PATTERN CMD... : exits with CODE, an error line of stderr matches PATTERN (an
# extended regular expression, as grep -E reads it), one error line
t_err() {
  local name=$1 code=$2 pat=$3; shift 3
  local errf=${T_DIR:-${TMPDIR:-/tmp}}/.t_err.$BASHPID line ok=""
  "$@" >/dev/null 2>"$errf"
  local rc=$?
  if [[ $rc -eq $code ]]; then
    while IFS= read -r line || [[ -n $line ]]; do
      [[ $line == "pgwarehouse: error:"* && $line =~ $pat ]] && { ok=1; break; }
    done <"$errf"
  fi
  if [[ -n $ok ]]; then
    t_pass "$name"
  else
    local text=""; IFS= read -r -d '' -N 600 text <"$errf"
    t_fail "$name" "exit $rc (want $code), stderr:" "$text" "want pattern: $pat"
  fi
}

# pgq SQL: runs SQL as `psql -qAtX -v ON_ERROR_STOP=1 -c SQL` does, in the script's one PostgreSQL
# session (tests/tools/pgsh.c; a psql per statement costs ~65 ms of CPU, the suite's largest
# overhead); with other connection settings than the session's (PGPORT=... pgq), psql itself
_pgs_sig() { _PGS_NOW="${PGHOST-}|${PGPORT-}|${PGUSER-}|${PGDATABASE-}|${PGPASSWORD-}|${PGOPTIONS-}|${PGTZ-}|${PGAPPNAME-}"; }
# _srv_start NAME DIR CMD...: CMD in the background, reading requests from the pipe DIR/in and
# answering on DIR/out; sets NAME_PID, NAME_DIR, NAME_W (the requests' end), NAME_R (the answers')
# and NAME_T (the lock's pipe, below)
_srv_start() {
  local name=$1 d=$2 w r t; shift 2
  mkfifo "$d/in" "$d/out" "$d/token"
  "$@" <"$d/in" >"$d/out" &
  declare -g "${name}_PID=$!" "${name}_DIR=$d"
  exec {w}>"$d/in" {r}<"$d/out" {t}<>"$d/token"
  declare -g "${name}_W=$w" "${name}_R=$r" "${name}_T=$t"
  printf x >&"$t"
}
# _srv_lock NAME ... _srv_unlock NAME: one request at a time on the server's pipes (a background
# job of the script may use them too). The lock is a byte in a pipe, taken and put back by builtins
# (flock was a process per query). A holder killed with the byte in hand costs the next request a
# wait of 120 s, not a hang.
_srv_lock() { local t=${1}_T; read -r -N 1 -t 120 -u "${!t}" _ || true; }
_srv_unlock() { local t=${1}_T; printf x >&"${!t}"; }
# _srv_stop NAME END: the server ends when sent END (children of the script hold its pipe open: no
# end of file; and a signal sent before it has started can be lost: bash's trap catches it in the
# child before exec). A subshell writes, in case the server died (SIGPIPE).
_srv_stop() {
  local pid=${1}_PID w=${1}_W r=${1}_R t=${1}_T dir=${1}_DIR
  [[ -n ${!pid:-} ]] || return 0
  (printf "$2" >&"${!w}") 2>/dev/null
  eval "exec ${!w}>&- ${!r}<&- ${!t}<&-"
  wait "${!pid}" 2>/dev/null
  rm -rf "${!dir}"; declare -g "$pid="
}
pgs_start() {
  [[ -x ${PGSH:-} ]] || return 0
  local d; d=$(mktemp -d)
  _PGS_ROWS=$d/rows
  _srv_start _PGS "$d" "$PGSH" "$_PGS_ROWS"
  _pgs_sig; _PGS_SIG=$_PGS_NOW
}
# the session ends with the script (run.sh), told through its pipe by an empty statement
pgs_stop() { _srv_stop _PGS '\0'; }
pgq() {
  _pgs_sig
  if [[ -z ${_PGS_PID:-} || $_PGS_NOW != "$_PGS_SIG" ]] || ! kill -0 "$_PGS_PID" 2>/dev/null; then
    psql -qAtX -v ON_ERROR_STOP=1 -c "$1"; return
  fi
  local line rc="" rows
  _srv_lock _PGS
  printf '%s\0' "$1" >&"$_PGS_W"
  while IFS= read -r line <&"$_PGS_R"; do
    case $line in
      $'\x1e'*) rc=${line#?}; break ;;
      *) printf '%s\n' "${line#?}" >&2 ;;
    esac
  done
  if [[ -n $rc ]]; then IFS= read -r -d '' rows <"$_PGS_ROWS"; printf '%s' "$rows"; fi
  _srv_unlock _PGS
  # the session ended without an answer (it could not connect again): psql
  [[ -n $rc ]] || { _PGS_PID=""; psql -qAtX -v ON_ERROR_STOP=1 -c "$1"; return; }
  return "$rc"
}
pgs_start

# The query tools as servers (tests/tools/serve.c): duckq or chdbq started once per script and sent
# each query through a pipe, as pgsh is. A process per query cost ~0.25 s of CPU (duckq) and ~1 s
# (chdbq: loading chDB), a tenth of the suite's; the engine opened again in the running process, a
# fraction of that. The server opens the store for each query and closes it after, as the tool did.
# qs_start TOOL: the script's server of TOOL (one per script: its backend's tool)
_qs_sig() { _QS_NOW="$PWD|${TZ-}|${CLICKHOUSE_DATABASE-}|${CHDB_LIBRARY-}"; }
qs_start() {
  [[ -x ${1:-} ]] || return 0
  local d; d=$(mktemp -d)
  _QS_TOOL=$1
  _srv_start _QS "$d" "$1" --serve "$d/rows" "$d/err"
  _qs_sig; _QS_SIG=$_QS_NOW
}
# ended by a request of no arguments
qs_stop() { _srv_stop _QS '0\0'; }
# _qs_call TOOL ARGS...: what `TOOL ARGS...` prints and returns, through the script's server of
# TOOL; the tool itself elsewhere (another tool, directory or setting than the server's)
_qs_call() {
  local tool=$1 rc="" out; shift
  _qs_sig
  if [[ $tool != "${_QS_TOOL:-}" || -z ${_QS_PID:-} || $_QS_NOW != "$_QS_SIG" ]] || ! kill -0 "$_QS_PID" 2>/dev/null; then
    "$tool" "$@"; return
  fi
  _srv_lock _QS
  printf '%s\0' "$#" "$@" >&"$_QS_W"
  IFS= read -r rc <&"$_QS_R"
  IFS= read -r -d '' out <"$_QS_DIR/rows"; printf '%s' "$out"
  [[ ! -s $_QS_DIR/err ]] || cat "$_QS_DIR/err" >&2
  _srv_unlock _QS
  [[ -n $rc ]] || { echo "the ${tool##*/} server ended" >&2; return 1; }
  return "$rc"
}

# The warehouse under test: $PGW_BACKEND: duckdb, clickhouse (a server over HTTP) or chdb
# (ClickHouse embedded). SQL given to whq must be valid in both dialects (counts, simple SELECTs);
# backend-specific checks test $BACKEND or is_ch.
BACKEND=${PGW_BACKEND:-duckdb}
is_ch() { [[ $BACKEND == clickhouse || $BACKEND == chdb ]]; }
# chsql SQL: a statement on the ClickHouse under test (server or embedded)
chsql() {
  if [[ $BACKEND == chdb ]]; then _qs_call "$CHDBQ" "$CLICKHOUSE_PATH" "$1"; else chq "$1"; fi
}
# Snowflake runs as the local double, which keeps its tables in a DuckDB file the tests read directly.
[[ $BACKEND == snowflake ]] && WH_DUCKDB=$SFD_DIR/snowflake.duckdb || WH_DUCKDB=${DUCKDB_PATH:-}
case $BACKEND in
  duckdb | snowflake) qs_start "${DUCKQ:-}" ;;
  chdb) qs_start "${CHDBQ:-}" ;;
esac
whq() {
  case $BACKEND in
    duckdb) wh_duckq "$WH_DUCKDB" "$1" ;;
    snowflake) wh_duckq "$WH_DUCKDB" "$1" ;;
    *) chsql "$1 FORMAT TabSeparated" ;;
  esac
}
# wh_duckq ARGS...: duckq on a warehouse file. The Snowflake double keeps its file open: its file is
# read through the double (duckq --double), which runs the same SQL on a connection of its own.
wh_duckq() {
  local a
  for a in "$@"; do
    if [[ -n ${SFD_PID:-} && $a == "$SFD_DIR/snowflake.duckdb" ]]; then
      _qs_call "$DUCKQ" --double "$SNOWSQL_PROTOCOL://127.0.0.1:$SFD_PORT" "$SFD_DIR/ca.pem" "$@"
      return
    fi
  done
  _qs_call "$DUCKQ" "$@"
}
dq() { whq "$1"; }
# whx SQL: runs a statement in the warehouse (read-write)
whx() {
  case $BACKEND in
    duckdb | snowflake) wh_duckq --exec "$WH_DUCKDB" "$1" ;;
    *) chsql "$1" ;;
  esac
}
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

# SQL exporting a ClickHouse table as CSV in a form PostgreSQL's COPY reads back into the source's
# types. The columns (in order, arrays and bytea told apart) come from PostgreSQL's side.
_ch_pg_csv_sql() {
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
  done < <(pgq "SELECT attname || E'\\t' || CASE WHEN t.typcategory = 'A' THEN 'a' WHEN a.atttypid = 'bytea'::regtype THEN 'b' ELSE '-' END
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid WHERE attrelid = '$src'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum")
  echo "SELECT $sel FROM \`$db\`.\`${dst//\`/\\\`}\` FORMAT CSV"
}

# _same_export SRC... : each table's rows into the file ${_same_csv[i]}, in one warehouse read
# (a read starts a process: ~0.1 s of CPU, ~0.4 s on chDB). Tables as _same_dst and _same_schema.
_same_export() {
  local i args=() schema
  case $BACKEND in
    duckdb|snowflake)
      for i in "${!_same_src[@]}"; do
        schema=${_same_schema[$i]}
        args+=("$([[ -n $schema ]] && sf_name "$schema" || echo main)" "$(sf_name "${_same_dst[$i]}")" "${_same_csv[$i]}")
      done
      wh_duckq --pg-csv-to "$WH_DUCKDB" "${args[@]}" ;;
    chdb)
      for i in "${!_same_src[@]}"; do
        args+=("${_same_csv[$i]}" "$(_ch_pg_csv_sql "${_same_src[$i]}" "${_same_dst[$i]}" "${_same_schema[$i]:-$CLICKHOUSE_DATABASE}")")
      done
      _qs_call "$CHDBQ" --to "$CLICKHOUSE_PATH" "${args[@]}" ;;
    *)
      for i in "${!_same_src[@]}"; do
        chq "$(_ch_pg_csv_sql "${_same_src[$i]}" "${_same_dst[$i]}" "${_same_schema[$i]:-$CLICKHOUSE_DATABASE}")" >"${_same_csv[$i]}" || return 1
      done ;;
  esac
}

# SQL comparing table I's file with its source, each difference a line "I missing: ROW" or
# "I extra: ROW" (as often as the row is missing or extra: the tables are compared as multisets). One
# GROUP BY over both sides, not two EXCEPT ALL: each row's text made once, one sort (2.4M rows:
# 10.9 -> 6.8 s). It runs only when the two sides' row counts or sums of 64-bit hashes of the same
# row texts differ (a one-time filter: equal tables, the usual case, cost two scans and no sort;
# 2.4M rows 8.9 -> 4.8 s). Snowflake keeps json as VARIANT and arrays as ARRAY (JSON): those compare
# as jsonb.
_same_sql() {
  local i=$1 src=${_same_src[$1]} null=""
  is_ch && null=", NULL '\\N'"
  if [[ $BACKEND == snowflake ]]; then
    src="(SELECT $(pgq "SELECT string_agg(CASE WHEN t.typcategory = 'A' THEN format('array_to_json(%I%s)::jsonb AS %I', attname,
        CASE WHEN t.typelem = 'bpchar'::regtype THEN '::text[]' ELSE '' END, attname)
      WHEN t.typname IN ('json', 'jsonb') THEN format('%I::jsonb AS %I', attname, attname) ELSE format('%I', attname) END, ', ' ORDER BY attnum)
      FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid WHERE attrelid = '$src'::regclass AND attnum > 0 AND NOT attisdropped") FROM $src)"
  fi
  echo "CREATE TEMP TABLE back_$i ON COMMIT DROP AS SELECT * FROM $src s LIMIT 0;
COPY back_$i FROM '${_same_csv[$i]}' (FORMAT csv$null);
SELECT '$i ' || CASE WHEN d.n > 0 THEN 'missing: ' ELSE 'extra: ' END || d.r
FROM (SELECT r, sum(n) n FROM (SELECT ROW(s.*)::text r, 1 n FROM $src s UNION ALL SELECT ROW(b.*)::text, -1 FROM back_$i b) u
  GROUP BY r HAVING sum(n) <> 0) d, generate_series(1, abs(d.n)) g
WHERE (SELECT (count(*), sum(hashtextextended(ROW(s.*)::text, 0))) FROM $src s)
  IS DISTINCT FROM (SELECT (count(*), sum(hashtextextended(ROW(b.*)::text, 0))) FROM back_$i b);"
}

# _same_check NAME...: exports the tables in _same_src (and _same_dst, _same_schema), compares
# them with PostgreSQL in one transaction of the script's session (the server reads the files: a
# superuser's COPY), one check per table
_same_check() {
  local names=("$@") i sql="SET LOCAL TimeZone = 'UTC';" out line
  local -a _same_csv=() diffs=()
  local f
  # readable by the server (run.sh sets umask 022 for the scripts)
  for i in "${!_same_src[@]}"; do _tmpname f; : > "$f"; _same_csv+=("$f"); done
  if ! out=$(_same_export 2>&1); then
    for i in "${!names[@]}"; do t_fail "${names[$i]}" "export from $BACKEND failed: ${out:0:300}"; done
    rm -f "${_same_csv[@]}"; return
  fi
  for i in "${!_same_src[@]}"; do sql+=$'\n'"$(_same_sql "$i")"; done
  out=$(pgq "$sql" 2>&1)
  rm -f "${_same_csv[@]}"
  while IFS= read -r line; do
    [[ $line =~ ^([0-9]+)\ (missing|extra):\  ]] && diffs[${BASH_REMATCH[1]}]+="$line"$'\n'
  done <<<"$out"
  for i in "${!names[@]}"; do
    if [[ -n ${diffs[$i]:-} ]]; then t_fail "${names[$i]}" "$(grep -m 5 ' missing: ' <<<"${diffs[$i]}")" "$(grep -m 5 ' extra: ' <<<"${diffs[$i]}")"
    elif [[ -n $out && ${#diffs[@]} == 0 ]]; then t_fail "${names[$i]}" "$(head -n 5 <<<"$out")"
    else t_pass "${names[$i]}"; fi
  done
}

# t_same NAME PGTABLE [WHTABLE [WHSCHEMA]] : every row and value of PGTABLE is in the warehouse, and no more
t_same() {
  local _same_src=("$2") _same_dst=("${3:-$2}") _same_schema=("${4:-}")
  _same_check "$1"
}

# t_same_each NAME TABLE [NAME TABLE]...: t_same of each table, read and compared in one go
t_same_each() {
  local names=() _same_src=() _same_dst=() _same_schema=()
  while (( $# >= 2 )); do names+=("$1"); _same_src+=("$2"); _same_dst+=("$2"); _same_schema+=(""); shift 2; done
  _same_check "${names[@]}"
}

# proxy_start TARGET_PORT [RATE]: a loopback TCP proxy (tests/lib/tcpproxy.py) in the background;
# sets PROXY_PORT and PROXY_PID. proxy_cut resets its open connections; proxy_stop ends it.
proxy_start() {
  "$PY" "$PGW_ROOT/tests/lib/tcpproxy.py" "$1" "${2:-0}" "$PWD/proxy" > "$PWD/proxy.out" 2>&1 &
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
  pgq "DO \$pgw_wait\$ BEGIN
  FOR i IN 1..$(( ${2:-10} * 50 )) LOOP
    PERFORM pg_stat_clear_snapshot();
    IF ($1) THEN RETURN; END IF;
    PERFORM pg_sleep(0.02);
  END LOOP;
  RAISE EXCEPTION 'timeout';
END \$pgw_wait\$" >/dev/null 2>&1 && return 0
  echo "  note  pg_wait: not true after ${2:-10} s: $1"  # a later check then fails, or a script waits long
  return 1
}

# wal_lsn_flushed: PostgreSQL's WAL position once every commit before it is flushed. The test
# cluster commits asynchronously, so pg_current_wal_lsn() alone can lie before the last commit's
# record, and a wait for a slot to be confirmed past it can end before that commit is sent; one
# commit with synchronous_commit on flushes all of them.
wal_lsn_flushed() {
  pgq "BEGIN; SET LOCAL synchronous_commit = on; SELECT txid_current(); COMMIT" >/dev/null
  pgq "SELECT pg_current_wal_lsn()"
}

# wait_copy [PATTERN]: waits (up to 10 s) until pgwarehouse runs a COPY in PostgreSQL. The
# server may have sent all of it into the socket buffers already (then the session is idle in
# its transaction, the COPY its last statement) while pgwarehouse still reads it.
wait_copy() {
  pg_wait "(SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgwarehouse' AND query LIKE 'COPY%${1:-}%' AND state IN ('active', 'idle in transaction')) >= 1"
}
