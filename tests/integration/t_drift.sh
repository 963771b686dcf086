# Drift the key-based strategies used to leave silently: rows inserted below new-records' watermark
# (a link table, a transaction that commits late) are picked up by the next sync; rows deleted in
# PostgreSQL are a warning (in the summary and the run log), or deleted with deletes: true, in the
# same load; last_modified with deletes: true.
# last_modified with deletes on a single integer key: a burst of new rows is the strategy's to copy,
# not keys the key check counts missing (and lists to copy a second way); a row above the
# warehouse's largest key with an old timestamp, which the strategy cannot see, is still found, and
# so are deletes
lm_burst() {
  pgq "CREATE TABLE lmd (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL)"
  pgq "INSERT INTO lmd SELECT g, 'v' || g, '2024-01-01' FROM generate_series(1, 1000) g"
  printf 'tables:\n  - lmd: {last_modified: updated_at, deletes: true}\n' > "$PWD/lmd.yaml"
  "$PGW" -q -c "$PWD/lmd.yaml" sync lmd >/dev/null 2>&1
  pgq "INSERT INTO lmd SELECT g, 'new', now() FROM generate_series(1001, 1500) g; INSERT INTO lmd VALUES (1501, 'old timestamp', '2020-01-01'); DELETE FROM lmd WHERE id IN (7, 8)"
  out=$("$PGW" -c "$PWD/lmd.yaml" --debug sync lmd 2>&1); rc=$?
  t_eq "last_modified + deletes: 500 new rows not counted missing, the old-timestamp one found, 2 deletes" "0|1|1" \
    "$rc|$(grep -cE 'lmd: key check in [0-9.]+ s: 1 keys missing, 2 gone from PostgreSQL' <<<"$out")|$(grep -cE '^lmd +last-modified +501 ' <<<"$out")"
  t_same "lmd equal to PostgreSQL" lmd
}
# hold_open SQL: runs SQL in a transaction, in the background, left open (waiting for an advisory
# lock this script's session holds) until release; returns once SQL has run
hold_open() {
  pgq "SELECT pg_advisory_lock(4242)" >/dev/null
  printf 'BEGIN;\n%s;\nSELECT pg_advisory_lock(4242);\nCOMMIT;\n' "$1" | psql -qX -v ON_ERROR_STOP=1 >/dev/null &
  held=$!
  until [[ $(pgq "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") == 1 ]]; do sleep 0.05; done
}
release() { pgq "SELECT pg_advisory_unlock(4242)" >/dev/null; wait "$held"; }

psql -qX -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE film_actor (actor_id int, film_id int, role text, PRIMARY KEY (actor_id, film_id));
INSERT INTO film_actor SELECT a, f, 'r' || a || '/' || f FROM generate_series(1, 50) a, generate_series(1, 40) f WHERE (a + f) % 3 = 0;
CREATE TABLE orders (id bigserial PRIMARY KEY, amount numeric(10,2), note text);
INSERT INTO orders (amount, note) SELECT g / 4.0, 'o' || g FROM generate_series(1, 5000) g;
CREATE TABLE "del me" ("k 1" text, "k""2" int, v text, updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY ("k 1", "k""2"));
INSERT INTO "del me" SELECT 'key ' || (g % 50) || E' \'', g, 'v' || g, '2024-01-01' FROM generate_series(1, 3000) g;
ANALYZE;
SQL
cat > pgwarehouse_conf.yaml <<'YAML'
tables:
  - film_actor
  - orders
  - del me:
      last_modified: updated_at
      deletes: true
YAML
t_ok "first sync" "$PGW" -q sync all

# a new film's cast: every key below the watermark (actor 50 is the largest)
pgq "INSERT INTO film_actor SELECT a, 41, 'new film' FROM generate_series(1, 30) a"
# a transaction that took its id first and commits after the next sync
pgq "INSERT INTO orders (amount, note) SELECT 1, 'before' FROM generate_series(1, 10)"
hold_open "INSERT INTO orders (amount, note) VALUES (7.5, 'late commit')"
pgq "INSERT INTO orders (amount, note) SELECT 2, 'after' FROM generate_series(1, 10)"
out=$("$PGW" sync all 2>&1)
t_eq "film_actor: the new film's 30 rows below the watermark arrive" "1" "$(grep -cE '^film_actor +new-records +30 ' <<<"$out")"
t_same "film_actor equal to PostgreSQL" film_actor
t_eq "the late transaction's row is not there yet" "0" "$(whq "SELECT count(*) FROM orders WHERE note = 'late commit'")"
release
out=$("$PGW" sync orders 2>&1)
t_eq "orders: the late commit is picked up below the watermark" "1" "$(grep -cE '^orders +new-records +1 ' <<<"$out")"
t_eq "orders: said so" "1" "$(grep -c 'rows that earlier syncs had not copied' <<<"$out")"
t_same "orders equal to PostgreSQL" orders

# deletes in PostgreSQL: new-records without deletes: a warning naming the keys and the fix
pgq "DELETE FROM orders WHERE id IN (3, 4000); DELETE FROM film_actor WHERE film_id = 3"
out=$("$PGW" sync orders 2>&1); rc=$?
t_eq "orders: deleted rows are a warning, exit 0" "0|1|1" \
  "$rc|$(grep -c '2 rows deleted in PostgreSQL are still in the warehouse; set deletes: true' <<<"$out")|$(grep -cE '^orders +new-records +0 .*ok, warning' <<<"$out")"
t_eq "orders: the keys are named" "id=3|id=4000" "$(grep -oE '^ +extra +id=[0-9]+' <<<"$out" | awk '{print $2}' | paste -sd'|')"
t_eq "orders: the rows stay" "5021" "$(whq 'SELECT count(*) FROM orders')"
t_eq "the run log records the warning" "1" \
  "$(whq "SELECT count(*) FROM _pgwarehouse_runs WHERE table_name = 'orders' AND status = 'ok' AND error LIKE '2 rows deleted in PostgreSQL%'")"

# tables above PGWAREHOUSE_KEY_CHECK_MAX_ROWS (PostgreSQL's estimate; 10M by default): no key check
# unless asked for, and the run says so
out=$(PGWAREHOUSE_KEY_CHECK_MAX_ROWS=100 "$PGW" sync orders 2>&1)
t_eq "a big table: no key check by default, said so" "1|0" \
  "$(grep -c 'orders: no key check (about [0-9]* rows, more than 100)' <<<"$out")|$(grep -c 'still in the warehouse' <<<"$out")"
printf 'tables:\n  - orders: {key_check: true}\n' > pgwarehouse_conf.yaml
out=$(PGWAREHOUSE_KEY_CHECK_MAX_ROWS=100 "$PGW" sync orders 2>&1)
t_eq "...key_check: true checks it anyway" "1" "$(grep -c '2 rows deleted in PostgreSQL are still in the warehouse' <<<"$out")"

# deletes: true: the deletes and the new rows in one load
cat > pgwarehouse_conf.yaml <<'YAML'
deletes: true
tables:
  - film_actor
  - orders
  - del me:
      last_modified: updated_at
YAML
pgq "INSERT INTO orders (amount, note) VALUES (9, 'new'); INSERT INTO film_actor VALUES (1, 4, 'below')"
out=$("$PGW" sync all 2>&1); rc=$?
t_eq "deletes: true: exit 0, no warning" "0|0" "$rc|$(grep -c 'warning' <<<"$out")"
t_same_each "orders: deleted and added" orders "film_actor: deleted and added" film_actor

# a key the warehouse holds twice (made behind pgwarehouse's back, or by an older version's killed
# ClickHouse append): the key check counts the second copy, which is no delete: without deletes a
# warning; with deletes: true the load leaves PostgreSQL's row alone for that key
whx "INSERT INTO orders SELECT * FROM orders WHERE id = 50"
printf 'tables:\n  - orders\n' > "$PWD/nodel.yaml"
out=$("$PGW" -c "$PWD/nodel.yaml" sync orders 2>&1); rc=$?
t_eq "a key held twice, without deletes: a warning naming the key and the fix" "0|1|1" \
  "$rc|$(grep -c 'orders: 1 more copies of rows PostgreSQL holds once are in the warehouse (keys held twice); run pgwarehouse verify orders --repair' <<<"$out")|$(grep -cE '^ +extra +id=50$' <<<"$out")"
t_eq "...and no third copy" "2" "$(whq 'SELECT count(*) FROM orders WHERE id = 50')"
out=$("$PGW" sync orders 2>&1); rc=$?
t_eq "...with deletes: true: one copy left" "0|1" \
  "$rc|$(grep -c 'orders: 1 more copies of rows PostgreSQL holds once are removed from the warehouse' <<<"$out")"
t_same "orders equal to PostgreSQL, key 50 once" orders

# killed before its commit, the deletes and the new rows go together (DuckDB, Snowflake: one
# transaction; ClickHouse: one copy swapped in), and the next sync converges
pgq "DELETE FROM orders WHERE id BETWEEN 100 AND 109; INSERT INTO orders (amount, note) VALUES (1, 'killed')"
if ! is_ch; then
  before=$(whq 'SELECT count(*) FROM orders')
  PGW_FAILPOINT=apply-before-commit "$PGW" -q sync orders >/dev/null 2>&1
  t_eq "a deletes: true sync killed before its commit" "137" "$?"
  t_eq "...left orders as it was" "$before|0" "$(whq 'SELECT count(*) FROM orders')|$(whq "SELECT count(*) FROM orders WHERE note = 'killed'")"
fi
"$PGW" -q sync orders >/dev/null 2>&1
t_same "orders equal to PostgreSQL after the next sync" orders

# last_modified with deletes: a key change (delete + insert with an old timestamp), deletes, updates
pgq "UPDATE \"del me\" SET \"k\"\"2\" = -\"k\"\"2\", updated_at = '2020-01-01' WHERE \"k\"\"2\" <= 5"
pgq "DELETE FROM \"del me\" WHERE \"k\"\"2\" BETWEEN 100 AND 199; UPDATE \"del me\" SET v = 'upd', updated_at = now() WHERE \"k\"\"2\" = 300"
out=$("$PGW" sync "del me" 2>&1)
t_eq "del me: 5 old-timestamp rows picked up, 1 updated" "1" "$(grep -cE '^del me +last-modified +6 ' <<<"$out")"
t_same "del me equal to PostgreSQL" '"del me"' "del me"
out=$("$PGW" verify all 2>&1); rc=$?
t_eq "verify agrees" "0" "$rc"

# last_modified and a transaction that commits late: its row carries its start time, older than
# rows committed before the sync; the next sync still takes it. Rows sharing the largest value are
# not copied again and again.
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE events (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT now(), day date, local timestamp);
INSERT INTO events SELECT g, 'v' || g, '2024-01-01', '2024-01-01', '2024-01-01' FROM generate_series(1, 1000) g;
SQL
cat > pgwarehouse_conf.yaml <<'YAML'
tables:
  - events: {last_modified: updated_at}
YAML
"$PGW" -q sync events >/dev/null 2>&1
out=$("$PGW" sync events 2>&1)
t_eq "events: the 1000 rows sharing the largest updated_at are not copied again" "1" "$(grep -cE '^events +last-modified +0 ' <<<"$out")"
hold_open "UPDATE events SET v = 'late', updated_at = now() WHERE id = 1"
pgq "UPDATE events SET v = 'early', updated_at = now() WHERE id = 2"
out=$("$PGW" sync events 2>&1)
t_eq "events: the committed update arrives" "1|early|v1" \
  "$(grep -cE '^events +last-modified +1 ' <<<"$out")|$(whq 'SELECT v FROM events WHERE id = 2')|$(whq 'SELECT v FROM events WHERE id = 1')"
release
"$PGW" -q sync events >/dev/null 2>&1
t_eq "events: the late commit arrives at the next sync" "late" "$(whq 'SELECT v FROM events WHERE id = 1')"
t_same "events equal to PostgreSQL" events
t_eq "the run log says where the next sync starts" "1" \
  "$(whq "SELECT least(count(*), 1) FROM _pgwarehouse_runs WHERE table_name = 'events' AND watermark_after LIKE '\"updated_at\" >= 20%'")"
# date and timestamp columns
for col in day local; do
  pgq "UPDATE events SET $col = '2024-01-02' WHERE id = 3"
  "$PGW" -q sync events last_modified=$col >/dev/null 2>&1
  out=$("$PGW" sync events last_modified=$col 2>&1)
  t_eq "events by $col: the rows sharing the largest value are not copied again" "1" "$(grep -cE '^events +last-modified +0 ' <<<"$out")"
done
# rows without a last_modified value (NULL) cannot be placed in time: each sync copies them again,
# and says how many: PostgreSQL's estimate without an index on the column (a count would scan the
# table once more at every sync), a count with one
"$PGW" -q sync events last_modified=day >/dev/null 2>&1
pgq "UPDATE events SET day = NULL, v = 'no day' WHERE id IN (4, 5)"
pgq "ANALYZE events"
out=$("$PGW" sync events last_modified=day 2>&1)
t_eq "events by day: rows whose day is NULL are copied, and the run says about how many" "1|1|no day" \
  "$(grep -cE '^events +last-modified +2 ' <<<"$out")|$(grep -c "events: about 2 rows have no day (NULL: PostgreSQL's estimate), so each sync copies them again" <<<"$out")|$(whq 'SELECT v FROM events WHERE id = 5')"
pgq "CREATE INDEX events_day ON events (day)"
out=$("$PGW" sync events last_modified=day 2>&1)
t_eq "...counted where an index on the column answers it" "1" \
  "$(grep -c 'events: 2 rows have no day (NULL), so each sync copies them again' <<<"$out")"
pgq "INSERT INTO events VALUES (2001, 'new without a day', '2024-01-01', NULL, NULL)"
"$PGW" -q sync events last_modified=day >/dev/null 2>&1
t_eq "...and a new row without one arrives" "new without a day" "$(whq 'SELECT v FROM events WHERE id = 2001')"

# a role that cannot see other roles' transactions is told what it risks and the grant that helps
pgq "CREATE ROLE lm_reader_$BACKEND LOGIN PASSWORD 'lm-pass'; GRANT SELECT ON events TO lm_reader_$BACKEND"
hold_open "SELECT txid_current()"
out=$(PGUSER=lm_reader_$BACKEND PGPASSWORD=lm-pass "$PGW" sync events 2>&1); rc=$?
release
t_eq "unprivileged role: a warning naming the grant, the sync goes on" "0|1" \
  "$rc|$(grep -c "role lm_reader_$BACKEND cannot see other roles.* transactions (GRANT pg_read_all_stats TO lm_reader_$BACKEND lets it)" <<<"$out")"
pgq "GRANT pg_read_all_stats TO lm_reader_$BACKEND"
hold_open "SELECT txid_current()"
out=$(PGUSER=lm_reader_$BACKEND PGPASSWORD=lm-pass "$PGW" sync events 2>&1); rc=$?
release
t_eq "...and with pg_read_all_stats, no warning" "0|0" "$rc|$(grep -c "cannot see other roles" <<<"$out")"

lm_burst

# a table dropped and created again under its name: its keys and timestamps start again, below the
# watermark, and the old table's rows are not PostgreSQL's: reloaded, saying why
pgq "CREATE TABLE remade_nr (id int PRIMARY KEY, v text); INSERT INTO remade_nr SELECT g, 'old ' || g FROM generate_series(1, 100) g"
pgq "CREATE TABLE remade_lm (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL); INSERT INTO remade_lm SELECT g, 'old ' || g, now() FROM generate_series(1, 100) g"
printf 'tables:\n  - remade_nr\n  - remade_lm: {last_modified: updated_at}\n' > "$PWD/remade.yaml"
t_ok "tables to be made again, synced" "$PGW" -q -c "$PWD/remade.yaml" sync all
pgq "DROP TABLE remade_nr; CREATE TABLE remade_nr (id int PRIMARY KEY, v text); INSERT INTO remade_nr SELECT g, 'new ' || g FROM generate_series(1, 5) g"
pgq "DROP TABLE remade_lm; CREATE TABLE remade_lm (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL); INSERT INTO remade_lm VALUES (1, 'new', '2020-01-01')"
out=$("$PGW" -c "$PWD/remade.yaml" sync all 2>&1); rc=$?
t_eq "made again under their names (same columns): both reloaded, saying why" "0 2 1 1" \
  "$rc $(grep -c 'was dropped and created again in PostgreSQL since its last sync (a new table under its name, whose rows a sync by key would miss); reloading it' <<<"$out") $(grep -cE '^remade_nr +reload +5 ' <<<"$out") $(grep -cE '^remade_lm +reload +1 ' <<<"$out")"
t_same_each "...equal (new-records)" remade_nr "...equal (last_modified)" remade_lm
pgq "INSERT INTO remade_nr VALUES (6, 'six')"
out=$("$PGW" -c "$PWD/remade.yaml" sync all 2>&1)
t_eq "...then synced by key again" "1 1" "$(grep -cE '^remade_nr +new-records +1 ' <<<"$out") $(grep -cE '^remade_lm +last-modified +0 ' <<<"$out")"
# a run log from before the oid was kept gets its column
whx "ALTER TABLE _pgwarehouse_runs DROP COLUMN source_oid"
pgq "INSERT INTO remade_nr VALUES (7, 'seven')"
t_ok "a run log without the oid column: the sync adds it" "$PGW" -q -c "$PWD/remade.yaml" sync all
t_same "...equal" remade_nr
t_eq "...and records the oid again" "$(pgq "SELECT 'remade_nr'::regclass::oid")" \
  "$(whq "SELECT source_oid FROM _pgwarehouse_runs WHERE table_name = 'remade_nr' ORDER BY started_us DESC LIMIT 1")"

# the key check's ranges at both ends of bigint: PostgreSQL sums each range from the key's index
# (the tables vacuumed: all-visible), its bounds computed without overflowing (10 keys a bucket:
# bucket bounds near the ends)
pgq "CREATE TABLE ends_lo (id bigint PRIMARY KEY, v text); INSERT INTO ends_lo SELECT -9223372036854775808 + g::int8 * 1000000007, 'lo' FROM generate_series(0, 199) g"
pgq "CREATE TABLE ends_hi (id bigint PRIMARY KEY, v text); INSERT INTO ends_hi SELECT 9223372036854775807 - g::int8 * 1000000007, 'hi' FROM generate_series(0, 199) g"
printf 'deletes: true\ntables:\n  - ends_lo\n  - ends_hi\n' > "$PWD/ends.yaml"
t_ok "bigint keys at both ends, synced" "$PGW" -q -c "$PWD/ends.yaml" sync all
pgq "SET synchronous_commit = on; DELETE FROM ends_lo WHERE id IN (-9223372036854775808 + 1000000007, -9223372036854775808 + 77::int8 * 1000000007); INSERT INTO ends_lo VALUES (-9223372036854775807, 'below')"
pgq "SET synchronous_commit = on; DELETE FROM ends_hi WHERE id IN (9223372036854775807 - 199::int8 * 1000000007, 9223372036854775807 - 5::int8 * 1000000007); INSERT INTO ends_hi VALUES (9223372036854775806, 'below')"
pgq "VACUUM ends_lo"; pgq "VACUUM ends_hi"
out=$(PGW_VERIFY_BUCKET_ROWS=10 "$PGW" -c "$PWD/ends.yaml" --debug sync all 2>&1); rc=$?
t_eq "...the key check (by index ranges) finds the missing key and both deletes at each end" "0|1|1|2" \
  "$rc|$(grep -cE 'ends_lo: key check in [0-9.]+ s: 1 keys missing, 2 gone from PostgreSQL' <<<"$out")|$(grep -cE 'ends_hi: key check in [0-9.]+ s: 1 keys missing, 2 gone from PostgreSQL' <<<"$out")|$(grep -c 'BETWEEN _pgw_g.lo AND _pgw_g.hi' <<<"$out")"
t_same_each "...ends_lo equal" ends_lo "...ends_hi equal" ends_hi
