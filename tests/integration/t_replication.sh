# Logical replication through pgwarehouse's walsender client and pgoutput decoder (the base of change
# data capture), against the test server (wal_level = logical): a slot with an exported snapshot,
# then every kind of change read back as PostgreSQL sent it, the catch-up stopping at the WAL
# position of its start, and the slot confirmed only as far as what was read.
[[ $BACKEND == duckdb ]] || return 0   # not a warehouse test: run once
PGREPL="$(dirname "$PGW")/pgrepl"
slot="pgw_t_${RANDOM}"
pgq "CREATE TABLE orders (id int PRIMARY KEY, note text, doc text)"
pgq "CREATE TABLE items (a int, b text, PRIMARY KEY (a, b))"
pgq "CREATE TABLE keyless (v text)"
pgq "ALTER TABLE keyless REPLICA IDENTITY FULL"
pgq "CREATE PUBLICATION pub_t FOR TABLE orders, items, keyless"
pgq "INSERT INTO orders VALUES (100, 'before the slot', NULL)"
created=$("$PGREPL" create "$slot")
t_eq "a slot with a consistent point and an exported snapshot" "1" "$(grep -cE '^[0-9A-F]+/[0-9A-F]+ [0-9A-F-]+$' <<<"$created")"
big="(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 5000) g)"  # 160 kB: TOASTed out of line
pgq "INSERT INTO orders VALUES (1, 'one', $big), (2, 'two', 'small'), (3, NULL, NULL)"
pgq "UPDATE orders SET note = 'uno' WHERE id = 1"
pgq "UPDATE orders SET id = 20 WHERE id = 2"
pgq "DELETE FROM orders WHERE id = 3"
pgq "INSERT INTO items VALUES (1, 'a'), (1, 'b')"
psql -qX -v ON_ERROR_STOP=1 -c "BEGIN" -c "DELETE FROM items WHERE b = 'a'" -c "UPDATE items SET b = 'c' WHERE b = 'b'" -c "COMMIT"
pgq "INSERT INTO keyless VALUES ('k1'), ('k2')"
pgq "DELETE FROM keyless WHERE v = 'k1'"
pgq "TRUNCATE items"
out=$("$PGREPL" read "$slot" pub_t 2>&1)
t_eq "the row from before the slot is not in the stream" "0" "$(grep -c 'before the slot' <<<"$out")"
t_eq "inserts arrive with their values and NULLs" "I orders 2|two|small
I orders 3|\\N|\\N" "$(grep -E '^I orders (2|3)' <<<"$out")"
t_eq "an update that leaves a TOASTed column alone marks it unchanged" "U orders 1|uno|<unchanged>" "$(grep '^U orders 1|' <<<"$out")"
t_eq "an update of the key carries the old key" "U orders K:2|\\N|\\N 20|two|small" "$(grep '^U orders K:' <<<"$out")"
t_eq "a delete carries the key" "D orders K:3|\\N|\\N" "$(grep '^D orders' <<<"$out")"
t_eq "composite keys, one transaction" "D items K:1|a
U items K:1|b 1|c" "$(grep -E '^(D|U) items' <<<"$out")"
t_eq "REPLICA IDENTITY FULL sends the old row" "D keyless O:k1" "$(grep '^D keyless' <<<"$out")"
t_eq "truncate" "T 1" "$(grep '^T' <<<"$out")"
t_eq "relations described before their first change" "R public.orders d 3" "$(grep -m1 '^R public.orders' <<<"$out")"
t_eq "every transaction begins and commits" "$(grep -c '^B' <<<"$out")" "$(grep -c '^C' <<<"$out")"
t_eq "nine transactions" "9" "$(grep -c '^C' <<<"$out")"
t_eq "the slot is confirmed past its start, up to what was read" "t" \
  "$(pgq "SELECT confirmed_flush_lsn > '${created%% *}'::pg_lsn FROM pg_replication_slots WHERE slot_name = '$slot'")"
t_eq "a second read finds nothing new" "" "$("$PGREPL" read "$slot" pub_t 2>&1)"
pgq "INSERT INTO orders VALUES (7, 'later', NULL)"
t_eq "and then only what came after" "B
R public.orders d 3
I orders 7|later|\\N
C" "$("$PGREPL" read "$slot" pub_t 2>&1)"
pgq "SELECT pg_drop_replication_slot('$slot')" >/dev/null
pgq "DROP PUBLICATION pub_t"
