# The run log (_pgwarehouse_runs), `status`, and `check`.
pgq "CREATE TABLE orders (id int PRIMARY KEY, amount numeric(10,2), updated_at timestamp NOT NULL)"
pgq "INSERT INTO orders SELECT g, g, '2024-01-01'::timestamp + g * interval '1 min' FROM generate_series(1, 100) g"
pgq "CREATE TABLE nokey (a int, b text)"
pgq "INSERT INTO nokey VALUES (1, 'x'), (2, 'y')"

t_ok "status before any run says so" true
t_err "status with no runs" 2 "no runs recorded" "$PGW" status

t_ok "first sync" "$PGW" -q sync orders
pgq "INSERT INTO orders SELECT g, g, now() FROM generate_series(101, 130) g"
t_ok "incremental sync" "$PGW" -q sync orders
t_ok "reload" "$PGW" -q reload nokey
"$PGW" -q sync missing_table >/dev/null 2>&1

runs="SELECT table_name, command, coalesce(strategy, '-'), row_count, coalesce(watermark_before, '-'), coalesce(watermark_after, '-'), status FROM _pgwarehouse_runs ORDER BY started_us"
t_eq "one run-log row per run, with strategy, rows, watermarks and status" \
"orders sync initial load 100 - 100 ok
orders sync new-records 30 100 130 ok
nokey reload reload 2 - - ok
missing_table sync - 0 - - failed" "$(dq "$runs" | tr '\t' ' ')"
t_eq "the failure's error text is kept" "1" "$(dq "SELECT count(*) FROM _pgwarehouse_runs WHERE error LIKE '%missing_table%not found%'")"
t_eq "bytes are counted" "1" "$(dq "SELECT count(*) FROM _pgwarehouse_runs WHERE table_name = 'nokey' AND byte_count > 0")"
t_eq "finished after started" "0" "$(dq "SELECT count(*) FROM _pgwarehouse_runs WHERE finished_at < started_at")"
t_eq "listwh does not show the run log" "0" "$("$PGW" listwh | grep -c _pgwarehouse)"
t_ok "sync all does not sync the run log" "$PGW" -q sync all
t_eq "...nor record it as a table" "0" "$(dq "SELECT count(*) FROM _pgwarehouse_runs WHERE table_name LIKE '%pgwarehouse%'")"

out=$("$PGW" status 2>&1)
t_eq "status: one line per table plus a header" "4" "$(wc -l <<<"$out")"
t_ok "status: orders ok, by new-records (sync all: 0 new rows), just now" grep -Eq "^orders +[0-9-]+ [0-9:]+ +new-records +0 +ok +[0-9]+s" <<<"$out"
t_ok "status: the failed table shows its error and never synced" grep -Eq "^missing_table .* failed +never synced +table \"missing_table\" not found" <<<"$out"
t_eq "status TABLE shows just that table" "2" "$("$PGW" status nokey | wc -l)"
t_err "status of a table never run" 2 "no runs recorded for table zzz" "$PGW" status zzz

# check: settings, versions, tables, privileges, config mistakes
out=$("$PGW" check 2>&1); code=$?
t_eq "check passes on a good setup" "0" "$code"
t_ok "check reports the PostgreSQL version" grep -q "^ok    PostgreSQL 1[0-9]" <<<"$out"
t_ok "check reports the warehouse" grep -Eq "^ok    (duckdb|clickhouse|snowflake) " <<<"$out"
t_ok "check warns about a table without a key" grep -q "^warn  table nokey: no primary key" <<<"$out"
t_ok "check lists a good table" grep -q "^ok    table orders" <<<"$out"

pgq "DROP ROLE IF EXISTS pgw_limited" 2>/dev/null
pgq "CREATE ROLE pgw_limited LOGIN PASSWORD 'limited-pw'"
pgq "GRANT USAGE ON SCHEMA public TO pgw_limited"
pgq "GRANT SELECT ON orders TO pgw_limited"
out=$(PGUSER=pgw_limited PGPASSWORD=limited-pw "$PGW" check 2>&1); code=$?
t_eq "check fails when a table cannot be read" "1" "$code"
t_ok "...naming the table and the GRANT" grep -q "^FAIL  table nokey: no SELECT privilege; GRANT SELECT ON public.nokey" <<<"$out"
t_ok "...while the readable table is ok" grep -q "^ok    table orders" <<<"$out"
t_ok "...and never prints the password" bash -c '! grep -q limited-pw <<<"$1"' _ "$out"
pgq "DROP OWNED BY pgw_limited; DROP ROLE pgw_limited"

cat > bad_lm.yaml <<'EOF'
tables:
  - orders:
      last_modified: changed_at
EOF
out=$("$PGW" -c bad_lm.yaml check 2>&1); code=$?
t_eq "check fails on a last_modified column that does not exist" "1" "$code"
t_ok "...naming table and column" grep -q "^FAIL  table orders: table \"orders\" has no column \"changed_at\"" <<<"$out"

cat > bad_key.yaml <<'EOF'
postgres:
  pgschmea: public
EOF
t_err "check fails on an unknown config key, with file:line" 2 "bad_key.yaml:2: unknown setting \`pgschmea\`" "$PGW" -c bad_key.yaml check
t_err "check fails when PostgreSQL is unreachable" 3 "cannot connect to PostgreSQL" env PGPORT=1 "$PGW" check
