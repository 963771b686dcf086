# Snowflake sign-in and statements against the local double (tests/snowflake/double.js), which
# verifies the JWT's signature and claims against the registered public key as Snowflake does.
[[ $BACKEND == duckdb ]] || return 0   # not a warehouse test: run once
source "$PGW_ROOT/tests/lib/sfdouble.sh"
sfd_start "$PWD/sf" || { t_fail "the Snowflake double starts" "$(cat "$PWD/sf/double.log")"; return 0; }
SFQ="$(dirname "$PGW")/sfq"

t_eq "key-pair (encrypted PKCS#8) sign-in and a query" "9.0.0-double	42	\\N" "$("$SFQ" 'SELECT CURRENT_VERSION(), 42, NULL')"
t_ok "statements run (CREATE TABLE with Snowflake types)" "$SFQ" "CREATE TABLE t (a NUMBER(10,2), b TEXT, c TIMESTAMP_TZ)"
errf=$(mktemp)
"$SFQ" "SELEC 1" 2>"$errf"; rc=$?
t_eq "a failing statement exits non-zero" "1" "$rc"
t_eq "its error is one line with the code" "1" "$(grep -c '^sfq: Snowflake at 127.0.0.1: error 002003: SQL compilation error: Parser Error' "$errf")"
t_eq "...and only one line" "1" "$(wc -l < "$errf")"

openssl genrsa 2048 2>/dev/null > "$PWD/sf/other.pem"
SNOWSQL_PRIVATE_KEY_PATH="$PWD/sf/other.pem" "$SFQ" "SELECT 1" 2>"$errf"
t_eq "a key that is not the registered one is rejected clearly" "1" "$(grep -c "rejected the key-pair sign-in of user pgw_user (390144.*RSA_PUBLIC_KEY matches" "$errf")"
SNOWSQL_PRIVATE_KEY_PASSPHRASE=wrong "$SFQ" "SELECT 1" 2>"$errf"
t_eq "a wrong passphrase names the setting" "1" "$(grep -c 'snowsql_private_key_passphrase' "$errf")"
SNOWSQL_PRIVATE_KEY_PATH= SNOWSQL_PWD=bad-sf-pw "$SFQ" "SELECT 1" 2>"$errf"
t_eq "a rejected password points to key-pair sign-in" "1" "$(grep -c 'rejected the password of user pgw_user.*set snowsql_private_key_path' "$errf")"
t_eq "the password never appears in messages" "0" "$(grep -c 'bad-sf-pw' "$errf")"
t_eq "password sign-in still works" "1" "$(SNOWSQL_PRIVATE_KEY_PATH= SNOWSQL_PWD=sf-password "$SFQ" 'SELECT 1')"
t_eq "programmatic access token sign-in" "1" "$(SNOWSQL_PRIVATE_KEY_PATH= SNOWSQL_TOKEN=sf-access-token "$SFQ" 'SELECT 1')"
t_eq "OAuth token sign-in" "1" "$(SNOWSQL_PRIVATE_KEY_PATH= SNOWSQL_TOKEN=sf-access-token SNOWSQL_AUTHENTICATOR=OAUTH "$SFQ" 'SELECT 1')"
SNOWSQL_TOKEN=wrong-token "$SFQ" "SELECT 1" 2>"$errf"
t_eq "a rejected token names the settings" "1" "$(grep -c 'rejected the PROGRAMMATIC_ACCESS_TOKEN token of user pgw_user.*check snowsql_token' "$errf")"
rm -f "$errf"
sfd_stop

# a session that expires in the middle of a run (sessions here last 3 statements): pgwarehouse
# renews it with the master token (token-request), as the drivers do, resends the statement, and
# the sync completes
SFD_EXTRA="--token-max-uses 3" sfd_start "$PWD/sf2" || { t_fail "the short-session double starts"; return 0; }
pgq "CREATE TABLE renew (id int PRIMARY KEY, v text)"
pgq "INSERT INTO renew SELECT g, 'v' || g FROM generate_series(1, 100) g"
t_ok "a sync outlives three expired sessions" env PGWAREHOUSE_BACKEND=snowflake "$PGW" sync renew
t_eq "all rows arrived" "100" "$(wh_duckq "$SFD_DIR/snowflake.duckdb" 'SELECT count(*) FROM renew')"
t_eq "expired sessions were renewed, not signed in again" "1 1" \
  "$(( $(grep -c '^renewed' "$SFD_DIR/double.log") > 0 )) $(( $(grep -c '^login' "$SFD_DIR/double.log") < $(grep -c '^renewed' "$SFD_DIR/double.log") ))"
sfd_stop

# sessions valid for 2 s: a client idle past three quarters of that renews it before using it
SFD_EXTRA="--validity 2" sfd_start "$PWD/sf3" || { t_fail "the short-validity double starts"; return 0; }
t_eq "statements after the session's renewal point still run" "2" "$(SFQ_PAUSE=2 "$SFQ" 'SELECT 1' 'SELECT 2')"
t_eq "the session was renewed before it expired (one sign-in, one renewal, no expired token used)" "1 1 0" \
  "$(grep -c '^login' "$SFD_DIR/double.log") $(grep -c '^renewed' "$SFD_DIR/double.log") $(grep -c '^expired' "$SFD_DIR/double.log")"
sfd_stop
# the master token expired too (390114 to the renewal): a new sign-in
SFD_EXTRA="--validity 2 --master-validity 1" sfd_start "$PWD/sf3b" || { t_fail "the short-master double starts"; return 0; }
t_eq "after the master token expired, statements still run" "2" "$(SFQ_PAUSE=2 "$SFQ" 'SELECT 1' 'SELECT 2')"
t_eq "a refused renewal signs in again (two sign-ins, no renewal)" "2 0" \
  "$(grep -c '^login' "$SFD_DIR/double.log") $(grep -c '^renewed' "$SFD_DIR/double.log")"
sfd_stop

# what a long run must survive: polls answered "still running" (333333), and a transport error after
# Snowflake ran a statement. The retry carries the same requestId and the double, as the service
# does, answers it without running the statement again: no row arrives twice.
SFD_EXTRA="--running-polls 2 --drop-after ^INSERT.INTO..RETRIED" sfd_start "$PWD/sf4" || { t_fail "the flaky double starts"; return 0; }
pgq "CREATE TABLE retried (id int PRIMARY KEY, v text)"
pgq "INSERT INTO retried SELECT g, 'v' || g FROM generate_series(1, 100) g"
t_ok "first sync through slow polls" env PGWAREHOUSE_BACKEND=snowflake "$PGW" sync retried
pgq "INSERT INTO retried SELECT g, 'v' || g FROM generate_series(101, 150) g"
t_ok "a sync whose INSERT answer was lost completes" env PGWAREHOUSE_BACKEND=snowflake "$PGW" sync retried
t_eq "the double cut the INSERT's answer and saw the same requestId again" "1 1" \
  "$(grep -c '^dropped' "$SFD_DIR/double.log") $(grep -c "^replayed $(sed -n 's/^dropped //p' "$SFD_DIR/double.log")" "$SFD_DIR/double.log")"
t_eq "no row arrived twice" "150 150" "$(wh_duckq "$SFD_DIR/snowflake.duckdb" 'SELECT count(*), count(DISTINCT id) FROM retried' | tr '\t' ' ')"
t_eq "polls were answered still running" "1" "$(( $(grep -c '^running' "$SFD_DIR/double.log") > 0 ))"
sfd_stop
