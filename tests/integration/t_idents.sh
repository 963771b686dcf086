# Table and column names are kept exactly: spaces, capitals, quotes, reserved words, non-ASCII.
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE "Order Items" ("ID" int PRIMARY KEY, "select" text, "from" int, "with ""quote""" text, "ünïcödé 列" text, "a.b" int, "MiXeD cAsE" bool);
INSERT INTO "Order Items" VALUES (1, 'x', 2, 'q', 'ü', 3, true), (2, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE "user" (id int PRIMARY KEY, "group" text);
INSERT INTO "user" VALUES (1, 'g');
CREATE SCHEMA "Sales Dept";
CREATE TABLE "Sales Dept"."Q1 ""report""" (id int PRIMARY KEY, amount numeric(10,2));
INSERT INTO "Sales Dept"."Q1 ""report""" VALUES (1, 10.5), (2, 20.25);
SQL

t_ok "sync a table whose name has a space and capitals" "$PGW" sync "Order Items"
if [[ $BACKEND == snowflake ]]; then  # plain lower-case names as Snowflake folds them, the others exact
  t_eq "column names: plain ones upper-case, the others exactly" 'ID|SELECT|FROM|with "quote"|ünïcödé 列|a.b|MiXeD cAsE' \
    "$(wh_duckq "$WH_DUCKDB" "SELECT column_name FROM duckdb_columns() WHERE table_name = 'Order Items' ORDER BY column_index" | paste -sd'|')"
else
  t_eq "column names kept exactly" 'ID|select|from|with "quote"|ünïcödé 列|a.b|MiXeD cAsE' \
    "$(wh_colnames 'Order Items' | paste -sd'|')"
fi
t_same "values of \"Order Items\" equal Postgres" '"Order Items"' 'Order Items'
pgq "INSERT INTO \"Order Items\" VALUES (3, 'y', 4, 'r', 'é', 5, false)"
t_ok "incremental sync with a quoted key column" "$PGW" sync "Order Items"
t_same "\"Order Items\" equal after incremental sync" '"Order Items"' 'Order Items'

t_ok "sync a table named by a reserved word" "$PGW" sync user
t_same "\"user\" equals Postgres" '"user"' user

t_ok "sync schema.table outside pgschema" "$PGW" sync 'Sales Dept.Q1 "report"'
t_same "a table in another schema lands in a schema (ClickHouse: database) of the same name" '"Sales Dept"."Q1 ""report"""' 'Q1 "report"' 'Sales Dept'
if [[ $BACKEND == duckdb ]]; then
  out=$("$PGW" listwh)
  t_eq "listwh names the schema" "1" "$(grep -c '^Sales Dept.Q1 "report" *2$' <<<"$out")"
fi

if [[ $BACKEND == snowflake ]]; then
  pgq "CREATE TABLE plain_names (id int PRIMARY KEY, created_at date)"
  pgq "INSERT INTO plain_names VALUES (1, '2024-01-01')"
  "$PGW" sync plain_names >/dev/null 2>&1
  t_eq "Snowflake: a plain table name is created upper-case" "PLAIN_NAMES" "$(wh_duckq "$WH_DUCKDB" "SELECT table_name FROM duckdb_tables() WHERE lower(table_name) = 'plain_names'")"
  t_eq "...and its plain column names" "ID|CREATED_AT" "$(wh_duckq "$WH_DUCKDB" "SELECT column_name FROM duckdb_columns() WHERE table_name = 'PLAIN_NAMES' ORDER BY column_index" | paste -sd'|')"
  pgq "INSERT INTO plain_names VALUES (2, '2024-01-02')"
  out=$("$PGW" sync plain_names 2>&1)
  t_eq "...and later syncs find it (new-records)" "1" "$(grep -cE '^plain_names +new-records +1 ' <<<"$out")"
  pgq "CREATE TABLE exact_names (id int PRIMARY KEY)"
  PGWAREHOUSE_SNOWFLAKE_NAMES=exact "$PGW" sync exact_names >/dev/null 2>&1
  t_eq "snowflake_names: exact keeps PostgreSQL's case" "exact_names" "$(wh_duckq "$WH_DUCKDB" "SELECT table_name FROM duckdb_tables() WHERE lower(table_name) = 'exact_names'")"
fi
