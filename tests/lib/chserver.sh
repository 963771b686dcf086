# Throwaway ClickHouse server (Debian's clickhouse-server) for tests and the bench: own config in a
# temp dir, loopback HTTP/TCP ports, a user with a password. Source, then chs_start / chs_stop.
# Exports CLICKHOUSE_HOST CLICKHOUSE_PORT CLICKHOUSE_USER CLICKHOUSE_PWD CLICKHOUSE_DATABASE.

chs_write_config() {
  local dir=$1 http=$2 tcp=$3
  cat > "$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$http</http_port>
  <tcp_port>$tcp</tcp_port>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <users_config>$dir/users.xml</users_config>
  <mark_cache_size>53687091</mark_cache_size>
  <timezone>America/New_York</timezone>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
</yandex>
XML
  cat > "$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users>
    <pgw>
      <password>ch-secret-pw</password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </pgw>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
}

chs_ping() {
  curl -sf --max-time 1 "http://127.0.0.1:$1/ping" 2>/dev/null | grep -q Ok
}

chs_start() {
  CHS_DIR=$(mktemp -d "$(pgw_test_tmp)/pgw-ch.XXXXXX")
  mkdir -p "$CHS_DIR/data" "$CHS_DIR/tmp"
  CHS_HTTP=$(pgc_free_port); CHS_TCP=$(pgc_free_port)
  while [[ $CHS_TCP == "$CHS_HTTP" ]]; do CHS_TCP=$(pgc_free_port); done
  chs_write_config "$CHS_DIR" "$CHS_HTTP" "$CHS_TCP"
  clickhouse-server --config-file="$CHS_DIR/config.xml" > "$CHS_DIR/server.log" 2>&1 &
  CHS_PID=$!
  echo "$CHS_PID" > "$CHS_DIR/pid"
  for _ in $(seq 1 100); do
    chs_ping "$CHS_HTTP" && break
    kill -0 "$CHS_PID" 2>/dev/null || { cat "$CHS_DIR/server.log" >&2; return 1; }
    sleep 0.1
  done
  chs_ping "$CHS_HTTP" || { echo "clickhouse-server did not answer" >&2; return 1; }
  export CLICKHOUSE_HOST=127.0.0.1 CLICKHOUSE_PORT=$CHS_HTTP CLICKHOUSE_USER=pgw CLICKHOUSE_PWD=ch-secret-pw \
    CLICKHOUSE_DATABASE=default
}

# Restarts the same server on the same ports and data (after chs_kill). The pid file, not a
# shell variable, tracks the server, so a restart inside a test's subshell is still stopped.
chs_restart() {
  clickhouse-server --config-file="$CHS_DIR/config.xml" >> "$CHS_DIR/server.log" 2>&1 &
  echo $! > "$CHS_DIR/pid"
  for _ in $(seq 1 100); do chs_ping "$CHS_HTTP" && return 0; sleep 0.1; done
  return 1
}

chs_kill() {
  local pid; pid=$(cat "$CHS_DIR/pid")
  kill -9 "$pid" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}

chs_stop() {
  [[ -n "${CHS_DIR:-}" && -d "$CHS_DIR" ]] || return 0
  local pid; pid=$(cat "$CHS_DIR/pid" 2>/dev/null)
  if [[ -n $pid ]]; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  fi
  rm -rf "$CHS_DIR"
  CHS_DIR=
}

# chq SQL: runs a query over HTTP as the test user, output TSV (an error: its text, status 22, as
# curl --fail-with-body). HTTP/1.0 through bash's /dev/tcp: the server sends the body unchunked and
# closes; a curl per query (~700 a suite, ~30 ms of CPU each) was most of the cost.
chq() {
  local fd line status="" LC_ALL=C  # ${#1}: the query's length in bytes
  exec {fd}<>"/dev/tcp/127.0.0.1/$CLICKHOUSE_PORT" || return 7
  printf 'POST /?database=%s HTTP/1.0\r\nX-ClickHouse-User: %s\r\nX-ClickHouse-Key: %s\r\nContent-Length: %d\r\n\r\n%s' \
    "$CLICKHOUSE_DATABASE" "$CLICKHOUSE_USER" "$CLICKHOUSE_PWD" "${#1}" "$1" >&"$fd"
  IFS=' ' read -r _ status _ <&"$fd"
  while IFS= read -r line <&"$fd" && [[ $line != $'\r' ]]; do :; done
  cat <&"$fd"
  exec {fd}<&-
  [[ $status == 200 ]] || return 22
}
