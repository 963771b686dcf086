# The config file, the environment and .env; per-table options; init; help and version.
# Config handling does not depend on the warehouse: run it once, on DuckDB.
[[ $BACKEND == duckdb ]] || return 0
pgq "CREATE TABLE accounts (id int PRIMARY KEY, v text)"
pgq "CREATE TABLE users (id int PRIMARY KEY, v text)"
pgq "CREATE TABLE orders (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT '2024-01-01')"
pgq "CREATE TABLE original_orders (id int PRIMARY KEY)"
pgq "CREATE SCHEMA other; CREATE TABLE other.things (id int PRIMARY KEY)"
for t in accounts users orders; do pgq "INSERT INTO $t (id, v) SELECT g, 'v' || g FROM generate_series(1, 10) g"; done
pgq "INSERT INTO other.things SELECT generate_series(1, 3)"

cat > pgwarehouse_conf.yaml <<'YAML'
postgres:
  pgschema: public
warehouse:
  backend: duckdb
tables:
  - accounts
  - users:
      reload: true
  - orders:
      last_modified: updated_at
  - original_orders:
      skip: true
  - other.things
YAML
out=$("$PGW" sync all 2>&1)
t_eq "sync all uses the tables list and skips skip: true" "accounts|users|orders|other.things" "$(echo "$out" | awk 'NR>1 && /ok$/ {print $1}' | paste -sd'|')"
t_eq "skipped table is not in the warehouse" "0" "$(dq "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'original_orders'")"
pgq "UPDATE users SET v = 'changed' WHERE id = 1"
pgq "UPDATE orders SET v = 'changed', updated_at = '2024-06-01' WHERE id = 2"
out=$("$PGW" sync all 2>&1)
t_eq "reload: true reloads" "1" "$(grep -cE '^users +reload' <<<"$out")"
t_eq "last_modified from the config" "1" "$(grep -cE '^orders +last-modified' <<<"$out")"
t_same_each "users reloaded" users \
  "orders upserted" orders
t_same "schema.table from the config" other.things things other

# reload on a day name or day of the month: today's triggers it, another day's does not
today=$(date +%a | tr A-Z a-z); other_day=$(date -d tomorrow +%a | tr A-Z a-z); mday=$(date +%-d)
printf 'tables:\n  - accounts:\n      reload: [%s]\n' "$today" > today.yaml
printf 'tables:\n  - accounts:\n      reload: %s\n' "$other_day" > other.yaml
printf 'tables:\n  - accounts:\n      reload: %s\n' "$mday" > mday.yaml
t_eq "reload on today's weekday" "1" "$("$PGW" -c today.yaml sync accounts 2>&1 | grep -cE '^accounts +reload')"
t_eq "no reload on another weekday" "1" "$("$PGW" -c other.yaml sync accounts 2>&1 | grep -cE '^accounts +new-records')"
t_eq "reload on today's day of the month" "1" "$("$PGW" -c mday.yaml sync accounts 2>&1 | grep -cE '^accounts +reload')"

# the config file wins over the environment; .env fills what is unset and never overrides
mkdir -p envdir && cd envdir
printf 'DUCKDB_PATH=from-dotenv.duckdb\nPGSCHEMA="other"\n' > .env
( unset DUCKDB_PATH; "$PGW" sync things >/dev/null 2>&1 )
t_eq ".env supplies DUCKDB_PATH and PGSCHEMA" "3" "$("$DUCKQ" from-dotenv.duckdb 'SELECT count(*) FROM things')"
printf 'warehouse:\n  duckdb_path: from-config.duckdb\n' > pgwarehouse_conf.yaml
( unset DUCKDB_PATH; "$PGW" sync things >/dev/null 2>&1 )
t_eq "the config file wins over the environment" "3" "$("$DUCKQ" from-config.duckdb 'SELECT count(*) FROM things')"
cd ..

# init
mkdir -p initdir && cd initdir
t_eq "init asks for the backend" "1" "$(echo clickhouse | "$PGW" init | grep -c 'backend clickhouse')"
t_eq "the template names the clickhouse settings" "1" "$(grep -c '^  clickhouse_host:' pgwarehouse_conf.yaml)"
t_err "init never overwrites" 2 "pgwarehouse_conf.yaml already exists" "$PGW" init --backend duckdb
rm pgwarehouse_conf.yaml
t_ok "init --backend skips the prompt" "$PGW" init --backend duckdb < /dev/null
t_ok "the template is a valid config" "$PGW" listwh
cd ..

t_eq "--help lists the commands" "7" "$("$PGW" --help | grep -cE '^  (init|list|listwh|sync|reload|extract|load) ')"
t_eq "--version" "1" "$("$PGW" --version | grep -cE '^pgwarehouse [0-9]+\.[0-9]+\.[0-9]+$')"

# What the Python pgwarehouse's users have in their files: options at the name's indent,
# reload: True, snowsql_password, ${VAR} in .env, numbered init answers
mkdir -p pydir && cd pydir
cat > pgwarehouse_conf.yaml <<'YAML'
warehouse:
  backend: duckdb
  snowsql_password: not-used-here
tables:
  - users:
    reload: True
  - orders:
    last_modified: updated_at
YAML
out=$("$PGW" sync all 2>&1)
t_eq "options at the name's indent are read, with a note" "1" "$(grep -c 'options of table `users` are at the same indent' <<<"$out")"
out=$("$PGW" sync all 2>&1)
t_eq "reload: True reloads" "1" "$(grep -cE '^users +reload' <<<"$out")"
t_eq "the flat form's last_modified is used" "1" "$(grep -cE '^orders +last-modified' <<<"$out")"
printf 'BASE=from-var\nDUCKDB_PATH="${BASE}.duckdb"\nPLAIN='"'"'${BASE}'"'"'\n' > .env
( unset DUCKDB_PATH; "$PGW" sync accounts >/dev/null 2>&1 )
t_eq '${VAR} in .env is expanded' "10" "$("$DUCKQ" from-var.duckdb 'SELECT count(*) FROM accounts' 2>&1)"
rm -f pgwarehouse_conf.yaml .env
t_eq "init takes a number" "1" "$(echo 3 | "$PGW" init | grep -c 'backend snowflake')"
cd ..
