pgq "CREATE TABLE t1 (id int PRIMARY KEY)"
printf 'tables:\n  - t1\n' > pgwarehouse_conf.yaml
"$PGW" -q sync all
"$DUCKQ" --exec "$WH_DUCKDB" "SELECT count(*) FROM range(3000000000)" >/dev/null 2>&1 &
holder=$!
sleep 0.5
"$PGW" sync all; echo "rc=$?"
wait $holder
