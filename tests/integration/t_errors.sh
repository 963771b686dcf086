# Bad input: one clear error line naming the thing and the fix, a non-zero exit, no change to the warehouse.
pgq "CREATE TABLE users (id int PRIMARY KEY, doc json, name text)"
pgq "INSERT INTO users VALUES (1, '{}', 'a')"
pgq "CREATE TABLE nokey (a int, changed timestamptz)"
pgq "CREATE TABLE grid (id int PRIMARY KEY, m int[])"
pgq "INSERT INTO grid VALUES (1, '{1,2}'), (2, '{{1,2},{3,4}}')"
"$PGW" sync users >/dev/null 2>&1
before=$(wh_tables | wc -l)

t_err "missing --config file" 2 "cannot read config file nope.yaml" "$PGW" --config nope.yaml list
printf 'postgres:\n  pghost: x\n   bad: [\n' > bad.yaml
t_err "invalid YAML names file and line" 2 "bad.yaml:[0-9]+: invalid YAML" "$PGW" --config bad.yaml list
printf 'postgres:\n  pghots: x\n' > typo.yaml
t_err "unknown setting names file:line and key" 2 "typo.yaml:2: unknown setting .pghots." "$PGW" --config typo.yaml list
t_err "unknown backend" 2 "unknown backend .oracle." "$PGW" --backend oracle listwh
t_err "unknown command" 2 "unknown command .synk." "$PGW" synk users
t_err "sync without a table" 2 "needs a table name or .all." "$PGW" sync
t_err "unknown table" 2 'table "nosuch" not found in PostgreSQL schema "public"' "$PGW" sync nosuch
t_err "a table name containing SQL is just an unknown name" 2 'table "users; DROP TABLE users" not found' "$PGW" sync "users; DROP TABLE users"
t_eq "...and Postgres still has the table" "1" "$(pgq 'SELECT count(*) FROM users')"

t_err "Postgres unreachable" 3 "cannot connect to PostgreSQL: .*check pghost/pgport" env PGPORT=1 "$PGW" sync users
errf=$(mktemp)
PGPASSWORD=wrong-Secret-77 "$PGW" --debug sync users >/dev/null 2>"$errf"; rc=$?
t_eq "wrong password exits 3" "3" "$rc"
t_eq "wrong password names the fix" "1" "$(grep -c 'password authentication failed.*check pgpassword' "$errf")"
t_eq "the password never appears in the output" "0" "$(grep -c 'wrong-Secret-77' "$errf")"
rm -f "$errf"

t_err "no primary key for last_modified" 2 'table "nokey" has no primary key, which last_modified needs' "$PGW" sync nokey last_modified=changed
t_err "missing last_modified column" 2 'table "users" has no column "nope" for last_modified' "$PGW" sync users last_modified=nope
t_err "non-orderable last_modified column" 2 'column "users"."doc" \(json\) cannot serve as last_modified' "$PGW" sync users last_modified=doc
t_err "multi-dimensional array is refused clearly" 1 'column "m" holds a 2-dimensional array' "$PGW" sync grid
t_eq "no table left behind by the failed load" "0" "$(wh_tables | grep -c grid)"

if [[ $BACKEND == duckdb ]]; then
  "$DUCKQ" --hold "$DUCKDB_PATH" 5 > hold.out &
  holder=$!
  for _ in $(seq 50); do grep -q holding hold.out 2>/dev/null && break; sleep 0.1; done
  t_err "DuckDB file locked by another process" 4 "DuckDB file .* is in use by another process \(PID [0-9]+\); wait for it to finish" "$PGW" sync users
  kill $holder 2>/dev/null; wait $holder 2>/dev/null
fi

t_eq "the warehouse is unchanged by all of the above" "$before" "$(wh_tables | wc -l)"
t_same "users still equal Postgres" users

# one failing table does not stop the others; the summary lists both; exit 1
pgq "CREATE TABLE zeta (id int PRIMARY KEY)"
pgq "INSERT INTO zeta VALUES (1)"
out=$("$PGW" sync all 2>&1); rc=$?
t_eq "sync all with one failing table exits 1" "1" "$rc"
t_eq "the failing table is reported" "1" "$(grep -cE '^grid .*FAILED' <<<"$out")"
t_eq "the other tables still ran" "2" "$(grep -cE '^(users|zeta) .* ok$' <<<"$out")"
