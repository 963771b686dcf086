# Throwaway PostgreSQL cluster for tests, the demo and the bench: initdb in a temp dir, a free
# loopback port, password auth over TCP. Source this file, then call pgc_start / pgc_stop.
# Exports PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE for the started cluster.

pgc_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [[ -x "$d/initdb" ]] && { echo "$d"; return; }; done
  echo "pgcluster: initdb not found; run scripts/deps.sh" >&2
  return 1
}

pgc_free_port() {
  local p
  for _ in $(seq 1 200); do
    # below the kernel's ephemeral range (32768+), where outgoing connections take their ports;
    # not $RANDOM: subshells repeat it
    p=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 12000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  return 1
}

# Runs a command as the cluster's owner (initdb and postgres refuse to run as root).
pgc_as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Where tests keep their files: a RAM file system when there is one with room (/dev/shm), else
# /tmp; PGW_TEST_TMPDIR chooses. DuckDB, chDB and ClickHouse fsync at every commit: with six runs
# at once on one disk those waits, not the CPU, made the suite slow.
pgw_test_tmp() {
  if [[ -n ${PGW_TEST_TMPDIR:-} ]]; then echo "$PGW_TEST_TMPDIR"; return; fi
  local free; free=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')
  if [[ -w /dev/shm && ${free:-0} -gt 4000000 ]]; then echo /dev/shm; else echo /tmp; fi
}

# scram_verifier PASSWORD ITERATIONS: PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC
# 5802 and 7677: StoredKey and ServerKey from the salted password)
scram_verifier() {
  "${PY:-python3}" - "$1" "$2" <<'PY'
import base64, hashlib, hmac, os, sys
password, iterations, salt = sys.argv[1].encode(), int(sys.argv[2]), os.urandom(16)
salted = hashlib.pbkdf2_hmac("sha256", password, salt, iterations)
client_key = hmac.new(salted, b"Client Key", "sha256").digest()
server_key = hmac.new(salted, b"Server Key", "sha256").digest()
b64 = lambda b: base64.b64encode(b).decode()
print(f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(hashlib.sha256(client_key).digest())}:{b64(server_key)}")
PY
}

pgc_start() {
  local bin; bin=$(pgc_bindir) || return 1
  PGC_DIR=$(mktemp -d "$(pgw_test_tmp)/pgw-pg.XXXXXX")
  chmod 755 "$PGC_DIR"
  [[ $(id -u) -eq 0 ]] && chown postgres "$PGC_DIR"
  PGC_BIN=$bin
  # psql, pgbench...: the programs themselves, not Debian's wrapper (a Perl script that reads the
  # cluster list at every call: a fifth of the suite's CPU time when measured)
  export PATH="$bin:$PATH"
  local pw=pgw-secret-pw pwfile=$PGC_DIR/pw
  echo "$pw" > "$PGC_DIR/pw"; chmod 644 "$PGC_DIR/pw"
  # PGC_SCRAM_ITERATIONS=N: the user's SCRAM verifier made here with N iterations, which initdb
  # stores as given. The client repeats the key derivation N times at every connection (4096 by
  # default: ~20 ms of a sanitizer build's CPU, a tenth of a small sync); the tests connect
  # thousands of times, through the same SCRAM exchange with a cheaper derivation.
  if [[ -n ${PGC_SCRAM_ITERATIONS:-} ]]; then
    pwfile=$PGC_DIR/pw.scram
    scram_verifier "$pw" "$PGC_SCRAM_ITERATIONS" > "$pwfile" && chmod 644 "$pwfile" || return 1
  fi
  pgc_as_owner "$bin/initdb" -D "$PGC_DIR/data" -U pgw --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$PGC_DIR/initdb.log" 2>&1 \
    || { cat "$PGC_DIR/initdb.log" >&2; return 1; }
  PGC_PORT=$(pgc_free_port)
  pgc_as_owner "$bin/pg_ctl" -D "$PGC_DIR/data" -l "$PGC_DIR/server.log" -w -t 30 start \
    -o "-p $PGC_PORT -k $PGC_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=50 -c wal_level=logical ${PGC_EXTRA_OPTS:-}" \
    >/dev/null || { cat "$PGC_DIR/server.log" >&2; return 1; }
  export PGHOST=127.0.0.1 PGPORT=$PGC_PORT PGUSER=pgw PGPASSWORD=$pw PGDATABASE=postgres
  psql -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE pgw" >/dev/null || return 1
  export PGDATABASE=pgw
}

pgc_stop() {
  [[ -n "${PGC_DIR:-}" && -d "$PGC_DIR" ]] || return 0
  pgc_as_owner "$PGC_BIN/pg_ctl" -D "$PGC_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$PGC_DIR"
  PGC_DIR=
}
