# Snowflake's official Node.js driver (snowflake-sdk, pinned in scripts/deps.sh) against the double,
# both endpoints over HTTPS with a test CA (tests/snowflake/conformance.js); then pgwarehouse against
# the same kind of double, its requests compared with the driver's point by point
# (tests/snowflake/compare.js), and the data that arrived checked. Both doubles expire sessions
# after 5 statements, answer one statement 503, cut one answer off and poll "still running" once.
[[ $BACKEND == snowflake ]] || return 0
# make test runs the Snowflake backend in two passes; this test, about the double and the protocol
# more than the build, runs in the plain one (tests/run-passes.sh)
[[ -n ${PGW_TEST_SFDRIVER_ELSEWHERE:-} ]] && { echo "  (run in the other Snowflake pass)"; return 0; }
driver_modules="$PGW_ROOT/deps/sfdriver/node_modules"
[[ -d $driver_modules/snowflake-sdk ]] || { t_fail "snowflake-sdk is installed (scripts/deps.sh --test)"; return 0; }
sfd_stop  # the suite's double; these serve HTTPS

SFD_TLS=1 SFD_TLS_SERVICE=1 SFD_EXTRA="--trace $PWD/driver.trace --token-max-uses 5 --running-polls 1 --drop-after ^INSERT.INTO..RETRIED --busy-once ^SELECT.COUNT" sfd_start "$PWD/sfdrv" ||
  { t_fail "the HTTPS double starts" "$(cat "$PWD/sfdrv/double.log")"; return 0; }
t_eq "the double wrote its test CA" "1" "$(grep -c 'BEGIN CERTIFICATE' "$SFD_DIR/ca.pem")"
NODE_EXTRA_CA_CERTS="$SFD_DIR/ca.pem" NODE_PATH="$driver_modules" NODE_NO_WARNINGS=1 \
  timeout 180 node "$PGW_ROOT/tests/snowflake/conformance.js" "$PWD" > driver.out 2>&1
while read -r status what; do
  [[ $status == ok ]] && t_pass "driver: $what" || t_fail "driver: $what" "$(head -c 800 driver.out)"
done < <(sed -n 's/^\(ok\|FAIL\) /\1 /p' driver.out)
t_eq "every driver check ran" "11 0" "$(grep -c '^ok ' driver.out) $(grep -vc '^ok ' driver.out)"
t_eq "the driver's 503 and lost answer were resent; the lost one was replayed, not run again" "1 1" \
  "$(grep -c '^busy' "$SFD_DIR/double.log") $(grep -c "^replayed $(sed -n 's/^dropped //p' "$SFD_DIR/double.log")" "$SFD_DIR/double.log")"
# two sign-ins: the transaction check opens a second connection
t_eq "the driver renewed its expiring sessions through the double's token-request" "2 1" \
  "$(grep -c '^login' "$SFD_DIR/double.log") $(( $(grep -c '^renewed' "$SFD_DIR/double.log") > 0 ))"
t_eq "the driver's stage file was decrypted and loaded (1001 rows)" "1001	1001" \
  "$(wh_duckq "$SFD_DIR/snowflake.duckdb" 'SELECT count(*), max("ID") FROM "LOADED"')"
sfd_stop

# pgwarehouse over HTTPS (service and stage) against a double like the driver's: PGWAREHOUSE_CA_FILE names the CA
SFD_TLS=1 SFD_TLS_SERVICE=1 SFD_EXTRA="--trace $PWD/pgw.trace --token-max-uses 5 --running-polls 1 --drop-after ^INSERT.INTO..DRV --busy-once ^COPY.INTO" sfd_start "$PWD/sfpgw" ||
  { t_fail "the second HTTPS double starts"; return 0; }
WH_DUCKDB=$SFD_DIR/snowflake.duckdb
pgq "CREATE TABLE drv (id int PRIMARY KEY, n numeric(12,3), t text, d date, ts timestamp, tz timestamptz, b bool, f float8, raw bytea, j jsonb)"
pgq "INSERT INTO drv SELECT g, g * 1.5, 'row \"' || g || '\"', date '2024-02-29' + g, timestamp '1969-12-31 23:59:59.5' + g * interval '1 hour',
     timestamptz '2021-03-04 05:06:07.123456+02' + g * interval '1 day', g % 2 = 0, g / 3.0, decode(lpad(to_hex(g), 4, '0'), 'hex'),
     jsonb_build_object('g', g) FROM generate_series(1, 500) g"
pgq "INSERT INTO drv (id) VALUES (501)"
t_err "without the CA, one line says what to set" 4 "certificate.*PGWAREHOUSE_CA_FILE" \
  env PGWAREHOUSE_CA_FILE= PGWAREHOUSE_BACKEND=snowflake "$PGW" sync drv
t_ok "sync over HTTPS (test CA)" env PGWAREHOUSE_BACKEND=snowflake "$PGW" sync drv
pgq "INSERT INTO drv (id, t) SELECT g, 'late' FROM generate_series(502, 520) g"
t_ok "an incremental sync whose INSERT answer is lost completes" env PGWAREHOUSE_BACKEND=snowflake "$PGW" sync drv
t_eq "pgwarehouse's 503 and lost answer were resent; the lost one was replayed, not run again" "1 1" \
  "$(grep -c '^busy' "$SFD_DIR/double.log") $(grep -c "^replayed $(sed -n 's/^dropped //p' "$SFD_DIR/double.log")" "$SFD_DIR/double.log")"
t_eq "the rows arrived once, values intact" "$(pgq "SELECT count(*), count(DISTINCT id), sum(n), sum(length(t)), count(raw), count(j) FROM drv" | tr '|' '\t')" \
  "$(wh_duckq "$WH_DUCKDB" 'SELECT count(*), count(DISTINCT "ID"), sum("N"), sum(length("T")), count("RAW"), count("J") FROM "DRV"')"
NODE_PATH="$driver_modules" node "$PGW_ROOT/tests/snowflake/compare.js" driver.trace pgw.trace > compare.out 2>&1
while read -r status what; do
  [[ $status == ok ]] && t_pass "same as the driver: $what" || t_fail "same as the driver: $what" "$(grep -m1 "$what" compare.out | head -c 600)"
done < <(sed -n 's/^\(ok\|FAIL\) /\1 /p' compare.out)
t_eq "every comparison ran" "11 0" "$(grep -c '^ok ' compare.out) $(grep -vc '^ok ' compare.out)"
sfd_stop
