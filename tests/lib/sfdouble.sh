# The local Snowflake double (tests/snowflake/double.js) for tests: a key pair for the test user, the
# double on a free loopback port, and the SNOWSQL_* settings that point pgwarehouse at it.
# Source, then sfd_start DIR / sfd_stop.

sfd_start() {
  SFD_DIR=$1
  mkdir -p "$SFD_DIR"
  openssl genrsa 2048 2>/dev/null | openssl pkcs8 -topk8 -v2 aes256 -passout pass:key-pass -out "$SFD_DIR/key.p8"
  openssl pkey -in "$SFD_DIR/key.p8" -passin pass:key-pass -pubout -out "$SFD_DIR/key.pub"
  NODE_PATH="$PGW_ROOT/deps/sfdouble/node_modules" node "$PGW_ROOT/tests/snowflake/double.js" \
    --db "$SFD_DIR/snowflake.duckdb" --account xy12345 --user pgw_user --pubkey "$SFD_DIR/key.pub" \
    --password sf-password --token sf-access-token ${SFD_EXTRA:-} > "$SFD_DIR/double.log" 2>&1 &
  SFD_PID=$!
  for _ in $(seq 1 100); do grep -q listening "$SFD_DIR/double.log" && break; sleep 0.1; done
  grep -q listening "$SFD_DIR/double.log" || { cat "$SFD_DIR/double.log" >&2; return 1; }
  read -r _ SFD_PORT SFD_S3PORT < <(grep -m1 listening "$SFD_DIR/double.log")
  export SNOWSQL_ACCOUNT=xy12345.us-east-1 SNOWSQL_USER=pgw_user SNOWSQL_HOST=127.0.0.1 SNOWSQL_PORT=$SFD_PORT \
    SNOWSQL_PROTOCOL=http SNOWSQL_DATABASE=PGW SNOWSQL_SCHEMA=PUBLIC SNOWSQL_WAREHOUSE=WH \
    SNOWSQL_PRIVATE_KEY_PATH="$SFD_DIR/key.p8" SNOWSQL_PRIVATE_KEY_PASSPHRASE=key-pass
}

sfd_stop() {
  [[ -n "${SFD_PID:-}" ]] && kill "$SFD_PID" 2>/dev/null && wait "$SFD_PID" 2>/dev/null
  SFD_PID=
}
