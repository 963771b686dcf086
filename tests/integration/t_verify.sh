# verify: every type hashed the same in PostgreSQL and the warehouse (equal tables say equal),
# then differences made on either side found exactly (counts and keys), in tables with a
# composite text key, odd identifiers, no key (duplicates), edge values of every type.
if [[ $BACKEND != duckdb ]]; then
  pgq "CREATE TABLE vt (id int PRIMARY KEY)"
  t_err "verify says which warehouses it compares so far" 2 "verify compares DuckDB warehouses so far" \
    "$PGW" verify vt
  return 0
fi
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
CREATE TYPE v_mood AS ENUM ('sad', 'ok');
CREATE TABLE allt (id int PRIMARY KEY, n numeric(12,3), t text, j jsonb, js json, u uuid, b bytea, d date,
  ts timestamp, tz timestamptz, tm time, ttz timetz, iv interval, m v_mood, arr text[], ia int[], bo boolean,
  c char(5), big numeric, f8 float8, f4 real, s2 smallint, i8 bigint);
INSERT INTO allt SELECT g, g / 7.0, 'text ' || g || E'\t\n é', jsonb_build_object('b', g, 'a', 'x'), '{"z": 1,  "a": 2}',
  md5(g::text)::uuid, decode(md5(g::text), 'hex'), date '2024-02-29' + g,
  '2024-01-01 12:00:00.123456'::timestamp + g * interval '1 minute', '2024-01-01 00:00:00+05'::timestamptz + g * interval '1 hour',
  '23:59:59.999999'::time - g * interval '1 second', '12:34:56.789+05:30'::timetz,
  make_interval(0, g % 14, 0, g % 40, g % 30, 0, g / 3.0), (ARRAY['sad','ok'])[1 + g % 2]::v_mood,
  ARRAY['a', NULL, 'b,c', ''], ARRAY[g, NULL], g % 2 = 0, 'c' || g % 10, 12345678901234567890.123456789 * g,
  g / 3.0, g / 7.0, g % 300, g::bigint * 1000000007
FROM generate_series(1, 3000) g;
-- edge values: NULL everywhere, empty strings and arrays, infinities, -0, NaN, 24:00, negative intervals
INSERT INTO allt (id) VALUES (0);
INSERT INTO allt (id, t, d, ts, tz, n, iv, tm, ttz, arr, f8, f4, b, js, big) VALUES
  (-1, '', 'infinity', '-infinity', 'infinity', -0.5, '-1 year -2 days -3 hours', '24:00:00', '00:00:00-14:59', '{}',
   '-0', 'NaN', '', '{}', 'NaN'),
  (-2, '\N', '-infinity', 'infinity', '-infinity', 0, '0', '00:00:00', '24:00:00+00', '{NULL}', 'Infinity', '-0',
   '\x00', '[]', '0.000'),
  (-3, 'NULL', '0001-01-01 BC', '4713-01-01 00:00:00 BC', '9999-12-31 23:59:59.999999+00', 99999999.999, '178000000 years',
   '00:00:00.000001', '23:59:59.999999+14:59', '{"a\"b","c\\d"}', 1e-300, 1e-40, '\xff', '"x"', -1e-20),
  (-4, ' ', '2000-01-01', '2000-01-01', '2000-01-01 00:00:00+00', -99999999.999, '-0.000001 seconds', '12:00:00',
   '12:00:00+00', '{" "}', 1.7976931348623157e308, 3.4028235e38, '\x', 'null', 1e30);
CREATE TABLE "odd ""names""" ("the key" text, "k2" int, "v a l" text, PRIMARY KEY ("the key", "k2"));
INSERT INTO "odd ""names""" SELECT 'key ' || (g % 40) || E'\'"', g, 'v' || g FROM generate_series(1, 400) g;
CREATE TABLE bag (v text, w int);
INSERT INTO bag SELECT 'v' || (g % 5), g % 3 FROM generate_series(1, 100) g;
INSERT INTO bag VALUES (NULL, NULL), (NULL, NULL), ('', 0);
CREATE TABLE big (id bigint PRIMARY KEY, v text);
INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
ANALYZE big;
SQL
printf 'tables:\n  - allt\n  - odd "names"\n  - bag\n  - big\n' > pgwarehouse_conf.yaml
t_ok "sync" "$PGW" -q sync all
out=$("$PGW" verify all 2>&1); rc=$?
t_eq "verify all: every table equal, exit 0" "0|allt: equal (3005 rows)|odd \"names\": equal (400 rows)|bag: equal (103 rows)|big: equal (20000 rows)" \
  "$rc|$(paste -sd'|' <<<"$out")"

# differences in the warehouse, one per kind and type
whx() { "$DUCKQ" --exec "$DUCKDB_PATH" "$1"; }
whx "DELETE FROM allt WHERE id IN (5, 77)"
whx "INSERT INTO allt (id) VALUES (100000)"
id=0
for change in "t = 'text 9' || chr(9) || chr(10) || ' e'" "f8 = 0.30000000000000004" "f4 = nextafter(f4, 1000::REAL)" \
  "tz = tz + INTERVAL 1 MICROSECOND" "iv = iv + INTERVAL 1 DAY" "arr = ['a', NULL, 'b,c']" "arr = ['a', '', 'b,c', '']" \
  "n = n + 0.001" "ttz = '12:34:56.789+05:31'" "b = NULL" "js = '{\"z\": 1, \"a\": 2}'" "c = 'c0 '" "big = CAST(big AS VARCHAR) || '1'"; do
  id=$((id + 1))
  whx "UPDATE allt SET $change WHERE id = $((10 + id))"
done
# -0 becomes 0 (DuckDB's UPDATE keeps a -0 it compares equal to: the row is written again)
whx "CREATE TEMP TABLE z AS SELECT * REPLACE (CAST('0' AS DOUBLE) AS f8) FROM allt WHERE id = -1; DELETE FROM allt WHERE id = -1; INSERT INTO allt SELECT * FROM z"
whx "UPDATE allt SET f4 = 'nan' WHERE id = -2"      # -0 becomes NaN
whx "UPDATE \"odd \"\"names\"\"\" SET \"v a l\" = 'changed' WHERE \"k2\" = 7"
whx "DELETE FROM bag WHERE v IS NULL AND rowid = (SELECT min(rowid) FROM bag WHERE v IS NULL)"
whx "INSERT INTO bag VALUES ('v1', 1), ('new', NULL)"
whx "DELETE FROM big WHERE id = 12345"
# ...and in PostgreSQL: a hard delete, an update without a timestamp
pgq "DELETE FROM big WHERE id = 777; UPDATE big SET v = 'updated' WHERE id = 4242"
out=$("$PGW" -d verify all 2>"$PWD/verify.log"); rc=$?
t_eq "verify exits 1 when a table differs" "1" "$rc"
t_eq "allt: the counts" "allt: differs: 2 missing, 1 extra, 15 different (PostgreSQL has 3005 rows)" "$(grep '^allt' <<<"$out")"
want=$( { printf 'missing id=%s\n' 5 77; echo "extra id=100000"; printf 'different id=%s\n' -1 -2 $(seq 11 23); } | sort | paste -sd'|')
t_eq "allt: the keys" "$want" "$(sed -n '/^allt/,/^[a-z]/p' <<<"$out" | awk '/^  / {print $1 " " $2}' | sort | paste -sd'|')"
t_eq "a composite key with odd names: line" "odd \"names\": differs: 0 missing, 0 extra, 1 different (PostgreSQL has 400 rows)" "$(grep '^odd' <<<"$out")"
t_eq "a composite key with odd names: its key" "  different the key=key 7'\", k2=7" "$(grep -A1 '^odd' <<<"$out" | tail -n1)"
t_eq "a table without a key: a multiset (duplicates counted)" "bag: differs: 1 missing, 2 extra, 0 different (PostgreSQL has 103 rows)" \
  "$(grep '^bag' <<<"$out")"
t_eq "big: a delete on each side" "  different id=4242|  extra     id=777|  missing   id=12345|big: differs: 1 missing, 1 extra, 1 different (PostgreSQL has 19999 rows)" \
  "$(grep -A3 '^big' <<<"$out" | sort | paste -sd'|')"
# only the differing buckets were read again: of 20 buckets, at most 3 (in one IN list)
t_ok "big: only the buckets that differ are read row by row" \
  grep -qE "pg: SELECT .* FROM ONLY \"public\".\"big\" WHERE .* IN \([0-9]+(, [0-9]+){0,2}\)$" "$PWD/verify.log"

# a reload makes them equal again; verify of one table
t_ok "reload" "$PGW" -q reload all
out=$("$PGW" verify all 2>&1); rc=$?
t_eq "after a reload: all equal" "0|4" "$rc|$(grep -c ': equal' <<<"$out")"
out=$("$PGW" verify big 2>&1); rc=$?
t_eq "verify of one table" "0|big: equal (19999 rows)" "$rc|$out"
t_err "verify of a table PostgreSQL does not have" 2 "nosuch" "$PGW" verify nosuch

# found by verify: a timestamp past 294247-01-10 (PostgreSQL's go to 294276) wrapped around to a
# date in 290279 BC; it is refused with one line, and nothing is stored
pgq "CREATE TABLE far (id int PRIMARY KEY, ts timestamptz); INSERT INTO far VALUES (1, '294276-12-31 23:59:59.999999+00')"
t_err "a timestamp past what the warehouse holds is refused" 1 'column "ts": a timestamp is after 294247-01-10' "$PGW" sync far
t_eq "...and nothing of it stored" "0" "$(dq "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'far'")"
