# The local Snowflake double (tests/snowflake/double.js) for tests: a key pair for the test user, the
# double on a free loopback port, and the SNOWSQL_* settings that point pgwarehouse at it.
# Source, then sfd_start DIR / sfd_stop. The stage's S3 endpoint is always served over HTTPS (as S3
# is, and as the drivers and pgwarehouse reach it) with a certificate of a test CA written to
# DIR/ca.pem, which pgwarehouse is told to trust (PGWAREHOUSE_CA_FILE); SFD_TLS=1 asks for exactly
# that. SFD_TLS_SERVICE=1 serves the service endpoint over HTTPS too (SNOWSQL_PROTOCOL=https).

sfd_start() {
  SFD_DIR=$1
  mkdir -p "$SFD_DIR"
  sfd_keys "$SFD_DIR" || return 1
  local proto=http
  local tls=(--tls-cert "$SFD_DIR/server.pem" --tls-key "$SFD_DIR/server.key")
  if [[ ${SFD_TLS_SERVICE:-} == 1 ]]; then tls+=(--tls-service true); proto=https; fi
  # a transaction whose client died is rolled back once idle 1 s (Snowflake: 5 minutes), see double.js
  NODE_PATH="$PGW_ROOT/deps/sfdouble/node_modules" node "$PGW_ROOT/tests/snowflake/double.js" \
    --db "$SFD_DIR/snowflake.duckdb" --account xy12345 --user pgw_user --pubkey "$SFD_DIR/key.pub" \
    --password sf-password --token sf-access-token --detached-abort-after 1 "${tls[@]}" ${SFD_EXTRA:-} > "$SFD_DIR/double.log" 2>&1 &
  SFD_PID=$!
  for _ in $(seq 1 100); do grep -q listening "$SFD_DIR/double.log" && break; sleep 0.1; done
  grep -q listening "$SFD_DIR/double.log" || { cat "$SFD_DIR/double.log" >&2; return 1; }
  read -r _ SFD_PORT SFD_S3PORT < <(grep -m1 listening "$SFD_DIR/double.log")
  export SNOWSQL_ACCOUNT=xy12345.us-east-1 SNOWSQL_USER=pgw_user SNOWSQL_HOST=127.0.0.1 SNOWSQL_PORT=$SFD_PORT \
    SNOWSQL_PROTOCOL=$proto SNOWSQL_DATABASE=PGW SNOWSQL_SCHEMA=PUBLIC SNOWSQL_WAREHOUSE=WH \
    SNOWSQL_PRIVATE_KEY_PATH="$SFD_DIR/key.p8" SNOWSQL_PRIVATE_KEY_PASSPHRASE=key-pass
}

# The test user's key pair, a test CA and the double's certificate. RSA keys take a while to make:
# with SFD_KEY_CACHE (tests/run.sh sets one per run) they are made once and copied.
SFD_KEY_FILES=(key.p8 key.pub ca.pem ca.key server.pem server.key)
sfd_keys() {
  local d=$1 c=${SFD_KEY_CACHE:-} f
  if [[ -n $c && -f $c/server.key ]]; then
    for f in "${SFD_KEY_FILES[@]}"; do cp "$c/$f" "$d/$f" || return 1; done
    export PGWAREHOUSE_CA_FILE="$d/ca.pem"
    return 0
  fi
  openssl genrsa 2048 2>/dev/null | openssl pkcs8 -topk8 -v2 aes256 -passout pass:key-pass -out "$d/key.p8" &&
  openssl pkey -in "$d/key.p8" -passin pass:key-pass -pubout -out "$d/key.pub" &&
  sfd_make_ca "$d" || return 1
  if [[ -n $c ]] && mkdir -p "$c.tmp.$$"; then  # filled aside, then renamed: never half there
    for f in "${SFD_KEY_FILES[@]}"; do cp "$d/$f" "$c.tmp.$$/$f"; done
    mv -T "$c.tmp.$$" "$c" 2>/dev/null || rm -rf "$c.tmp.$$"
  fi
  return 0
}

# A test CA and a certificate it signs for 127.0.0.1 and localhost
sfd_make_ca() {
  local d=$1
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=pgwarehouse test CA" \
    -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null &&
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null &&
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$d/server.ext" &&
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/server.ext" -out "$d/server.pem" 2>/dev/null &&
  export PGWAREHOUSE_CA_FILE="$d/ca.pem"
}

# The double holds its DuckDB file open; a test reading it directly pauses the double around the read
# (over plain HTTP with bash's /dev/tcp: reads are many, and a process less for each counts)
sfd_test_call() {
  if [[ $SNOWSQL_PROTOCOL != http ]]; then
    curl -sf --max-time 20 --cacert "$SFD_DIR/ca.pem" -X POST "$SNOWSQL_PROTOCOL://127.0.0.1:$SFD_PORT/__test/$1" >/dev/null
    return
  fi
  local fd status line
  exec {fd}<>"/dev/tcp/127.0.0.1/$SFD_PORT" || return 1
  printf 'POST /__test/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' "$1" >&"$fd"
  read -r -t 20 -u "$fd" _ status _
  while read -r -t 20 -u "$fd" line; do :; done
  exec {fd}>&-
  [[ $status == 200 ]]
}
sfd_pause() { sfd_test_call pause; }
sfd_resume() { sfd_test_call resume; }

sfd_stop() {
  [[ -n "${SFD_PID:-}" ]] && kill "$SFD_PID" 2>/dev/null && wait "$SFD_PID" 2>/dev/null
  SFD_PID=
}
