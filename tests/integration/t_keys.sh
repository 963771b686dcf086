# Keys of every kind for new-records and last_modified; tables without a key; shape changes.
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE comp (tenant int, code text, val int, updated_at timestamptz NOT NULL, PRIMARY KEY (tenant, code));
INSERT INTO comp SELECT t, 'c' || g, g, '2024-01-01 00:00:00+00' FROM generate_series(1, 3) t, generate_series(1, 100) g;
CREATE TABLE tkey (k text PRIMARY KEY, v int);
INSERT INTO tkey VALUES ('a', 1), ('B', 2), ('é', 3), ('Z', 4), ('a b', 5);
CREATE TABLE ukey (id uuid PRIMARY KEY, v int);
INSERT INTO ukey SELECT md5(g::text)::uuid, g FROM generate_series(1, 200) g;
CREATE TABLE tskey (at timestamptz PRIMARY KEY, v int);
INSERT INTO tskey SELECT '2024-01-01'::timestamptz + g * interval '1 second', g FROM generate_series(1, 100) g;
CREATE TABLE nokey (a int, b text);
INSERT INTO nokey SELECT g, 'x' || g FROM generate_series(1, 50) g;
SQL

for t in comp tkey ukey tskey; do "$PGW" sync $t >/dev/null 2>&1; done
# new-records takes keys above the warehouse's largest key, in row-value order: (3,'c99') < (3,'c999') < (4,'a')
pgq "INSERT INTO comp SELECT 4, 'c' || g, g, now() FROM generate_series(101, 150) g"
pgq "INSERT INTO comp VALUES (3, 'c999', 1, now()), (5, 'a', 1, now())"
pgq "INSERT INTO tkey VALUES ('é2', 6), ('ü', 7), ('ÿ', 8)"   # above the max ('é') in byte order, below it in many locales
pgq "INSERT INTO ukey SELECT ('ffffffff-ffff-ffff-ffff-ffffff' || lpad(g::text, 6, '0'))::uuid, g FROM generate_series(1, 10) g"
pgq "INSERT INTO tskey VALUES ('2030-01-01', 1000)"
for t in comp tkey ukey tskey; do
  out=$("$PGW" sync $t 2>&1)
  t_eq "$t: incremental sync uses new-records" "1" "$(grep -c "^$t *new-records" <<<"$out")"
  t_same "$t: equal to Postgres after new-records" $t
done

# last_modified with a composite key: updates win, no duplicates
pgq "UPDATE comp SET val = -1, updated_at = '2031-01-01' WHERE code IN ('c1', 'c2')"
out=$("$PGW" sync comp last_modified=updated_at 2>&1)
t_eq "composite last_modified copies the changed rows" "1" "$(grep -cE "^comp *last-modified *8 " <<<"$out")"
t_eq "composite upsert leaves one row per key" "$(pgq 'SELECT count(*) FROM comp')" "$(dq 'SELECT count(*) FROM (SELECT DISTINCT tenant, code FROM comp) AS k')"
t_same "comp equal to Postgres after last_modified" comp

# An upsert links the table's parts into the new copy and deletes the staged keys there, copying
# no row: a lightweight DELETE from ClickHouse 24.4 (chDB), a mutation before (18.16), waited for;
# a table made otherwise (here partitioned by hand) cannot be linked, and its rows are copied
if [[ $BACKEND == chdb || $BACKEND == clickhouse ]]; then
  merged=$CLICKHOUSE_DATABASE._pgwarehouse_merged_comp
  del="DELETE FROM .*_pgwarehouse_merged_comp"
  [[ $BACKEND == clickhouse ]] && del="ALTER TABLE .*_pgwarehouse_merged_comp. DELETE WHERE"
  pgq "UPDATE comp SET val = -2, updated_at = '2032-01-01' WHERE code = 'c3'"
  out=$("$PGW" -d sync comp last_modified=updated_at 2>&1)
  t_eq "$BACKEND upsert: parts linked, staged keys deleted, no row copied" "1 1 0" \
    "$(grep -c "ATTACH PARTITION ID 'all' FROM .$CLICKHOUSE_DATABASE.\..comp." <<<"$out") $(grep -c "$del" <<<"$out") $(grep -c "INSERT INTO .*_pgwarehouse_merged_comp. SELECT \* FROM .$CLICKHOUSE_DATABASE.\..comp. WHERE" <<<"$out")"
  [[ $BACKEND == clickhouse ]] && t_ok "...the mutation waited for" grep -q "FROM system.mutations WHERE NOT is_done" <<<"$out"
  # 18.16: the copy's partition replaces the table's (no RENAME, which waited for merges)
  [[ $BACKEND == clickhouse ]] && t_eq "...the copy's one partition replaced the table's" "1 0" \
    "$(grep -c "ALTER TABLE .$CLICKHOUSE_DATABASE.\..comp. REPLACE PARTITION ID 'all' FROM .*_pgwarehouse_merged_comp" <<<"$out") $(grep -c "RENAME TABLE" <<<"$out")"
  t_same "comp equal to Postgres after a linked upsert" comp
  chsql "CREATE TABLE $merged AS $CLICKHOUSE_DATABASE.comp ENGINE = MergeTree PARTITION BY tenant ORDER BY (tenant, code)"
  chsql "INSERT INTO $merged SELECT * FROM $CLICKHOUSE_DATABASE.comp"
  chsql "RENAME TABLE $CLICKHOUSE_DATABASE.comp TO $CLICKHOUSE_DATABASE.comp_by_hand, $merged TO $CLICKHOUSE_DATABASE.comp"
  chsql "DROP TABLE $CLICKHOUSE_DATABASE.comp_by_hand"
  pgq "UPDATE comp SET val = -3, updated_at = '2033-01-01' WHERE code = 'c4'"
  out=$("$PGW" -d sync comp last_modified=updated_at 2>&1)
  t_eq "$BACKEND upsert into a table partitioned by hand: rows copied instead" "1 1" \
    "$(grep -c 'parts not linked; copying its rows' <<<"$out") $(grep -c "INSERT INTO .*_pgwarehouse_merged_comp. SELECT \* FROM .$CLICKHOUSE_DATABASE.\..comp. WHERE" <<<"$out")"
  [[ $BACKEND == clickhouse ]] && t_eq "...and swapped in by RENAME" "0 1" \
    "$(grep -c "REPLACE PARTITION" <<<"$out") $(grep -c "RENAME TABLE .$CLICKHOUSE_DATABASE.\..comp. TO" <<<"$out")"
  t_same "comp equal to Postgres after the copied upsert" comp
fi

# a table without a primary key falls back to reload with a warning
"$PGW" sync nokey >/dev/null 2>&1
pgq "INSERT INTO nokey VALUES (51, 'new')"
out=$("$PGW" sync nokey 2>&1)
t_eq "no primary key: warning says it reloads" "1" "$(grep -c 'has no primary key; reloading it in full' <<<"$out")"
t_same "no primary key: equal to Postgres" nokey

# a shape change in Postgres (new column, changed type) reloads instead of appending wrong data
pgq "ALTER TABLE tkey ADD COLUMN extra numeric(5,1) DEFAULT 1.5"
pgq "INSERT INTO tkey VALUES ('zzz', 9, 2.5)"
out=$("$PGW" sync tkey 2>&1)
t_eq "shape change is detected" "1" "$(grep -c 'changed shape' <<<"$out")"
t_same "tkey equal to Postgres after a new column" tkey
pgq "ALTER TABLE tkey ALTER COLUMN v TYPE bigint"
"$PGW" sync tkey >/dev/null 2>&1
want_type=BIGINT; is_ch && want_type="Nullable(Int64)"; [[ $BACKEND == snowflake ]] && want_type="DECIMAL(19,0)"
t_eq "type change reaches the warehouse" "v $want_type" "$(wh_columns tkey | grep '^v ')"

# max_records: each run copies at most N rows and later runs continue where it stopped
cat > limited.yaml <<'YAML'
postgres:
  max_records: 40
YAML
pgq "CREATE TABLE big (id int PRIMARY KEY, v text)"
pgq "INSERT INTO big SELECT g, 'v' || g FROM generate_series(1, 100) g ORDER BY random()"
"$PGW" --config limited.yaml sync big >/dev/null 2>&1
t_eq "max_records limits the first copy" "40 40" "$(dq 'SELECT count(*), max(id) FROM big' | tr '\t' ' ')"
"$PGW" --config limited.yaml sync big >/dev/null 2>&1
"$PGW" --config limited.yaml sync big >/dev/null 2>&1
t_same "successive limited syncs converge" big

# a warehouse table of the same name that pgwarehouse did not create: with the PostgreSQL table's
# columns (as the Python pgwarehouse made them) it is replaced with a note; with other columns it
# is someone else's table, refused without --force
pgq "CREATE TABLE handmade (id int PRIMARY KEY, v text)"
pgq "INSERT INTO handmade VALUES (1, 'pg')"
pgq "CREATE TABLE othermade (id int PRIMARY KEY, v text)"
pgq "INSERT INTO othermade VALUES (1, 'pg')"
wh_exec() {
  case $BACKEND in
    duckdb) "$DUCKQ" --exec "$DUCKDB_PATH" "$1" ;;
    snowflake) "$(dirname "$PGW")/sfq" "$1" ;;
    *) chsql "$1" ;;
  esac
}
if is_ch; then
  wh_exec "CREATE TABLE handmade (id Int64, v String) ENGINE = MergeTree ORDER BY id"
  wh_exec "CREATE TABLE othermade (a Int64, b String) ENGINE = MergeTree ORDER BY a"
elif [[ $BACKEND == snowflake ]]; then  # as the Python pgwarehouse made them: unquoted, so upper-case
  wh_exec 'CREATE TABLE "HANDMADE" ("ID" NUMBER(10,0), "V" TEXT)'
  wh_exec 'CREATE TABLE "OTHERMADE" ("A" NUMBER(10,0), "B" TEXT)'
else
  wh_exec "CREATE TABLE handmade (id INTEGER, v VARCHAR)"
  wh_exec "CREATE TABLE othermade (a INTEGER, b VARCHAR)"
fi
wh_exec "INSERT INTO $(sf_name handmade) VALUES (1, 'stale'), (2, 'gone')"
wh_exec "INSERT INTO $(sf_name othermade) VALUES (7, 'theirs')"
out=$("$PGW" sync handmade 2>&1)
t_eq "a table with this table's columns is replaced with a note" "1" "$(grep -c 'has this table.s columns but was not created by pgwarehouse' <<<"$out")"
t_same "and replaced by the PostgreSQL copy" handmade
t_err "a table with other columns is refused, naming --force" 1 'othermade.*not created by pgwarehouse.*--force' "$PGW" sync othermade
t_eq "...and left as it was" "7" "$(dq 'SELECT max(a) FROM othermade')"
out=$("$PGW" --force sync othermade 2>&1)
t_eq "--force replaces it" "1" "$(grep -c 'replacing it (--force)' <<<"$out")"
t_same "with the PostgreSQL copy" othermade
