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
rm -f "$errf"
sfd_stop
