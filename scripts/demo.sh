#!/usr/bin/env bash
# `make demo`: a throwaway PostgreSQL with a realistic sample schema, `pgwarehouse sync all` into
# demo.duckdb, some changes, an incremental sync, and a look at what arrived. Stops the server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
PGW="$build/pgwarehouse"; DUCKQ="$build/duckq"
# data on disk, as a user's would be (tests use a RAM file system when there is one)
export PGW_TEST_TMPDIR=${PGW_TEST_TMPDIR:-/tmp}
source "$root/tests/lib/pgcluster.sh"
work=$(mktemp -d /tmp/pgw-demo.XXXXXX)
trap 'set +e; pgc_stop; rm -rf "$work"' EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "starting a throwaway PostgreSQL"
pgc_start
echo "PostgreSQL on 127.0.0.1:$PGPORT, database $PGDATABASE"

say "creating the sample schema (the largest table has 1,200,000 rows)"
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped', 'cancelled');
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email text, country char(2),
  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE products (sku text PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL,
  tags text[], attributes jsonb, photo bytea);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL, status order_status NOT NULL,
  total numeric(12,2) NOT NULL, placed_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, note text);
CREATE TABLE order_items (order_id bigint, line_no int, sku text NOT NULL, qty int NOT NULL,
  unit_price numeric(10,2) NOT NULL, PRIMARY KEY (order_id, line_no));
CREATE TABLE page_views (url text, viewed_at timestamp, visitor uuid, duration interval, client inet);

INSERT INTO customers (name, email, country, created_at)
  SELECT 'Customer ' || g, 'c' || g || '@example.com', (ARRAY['US','DE','FR','JP','BR'])[1 + g % 5],
         '2023-01-01'::timestamptz + g * interval '10 minutes'
  FROM generate_series(1, 50000) g;
INSERT INTO products
  SELECT 'SKU-' || lpad(g::text, 5, '0'), 'Product ' || g, (g % 500) + 0.99,
         ARRAY['tag' || (g % 7), 'tag' || (g % 11)], jsonb_build_object('weight_g', g % 900, 'color', (ARRAY['red','blue','black'])[1 + g % 3]),
         decode(md5(g::text), 'hex')
  FROM generate_series(1, 2000) g;
INSERT INTO orders (customer_id, status, total, placed_at, updated_at, note)
  SELECT 1 + g % 50000, (ARRAY['pending','paid','shipped','cancelled'])[1 + g % 4]::order_status,
         round((g % 1000) * 1.37 + 5, 2), '2024-01-01'::timestamptz + g * interval '20 seconds',
         '2024-01-01'::timestamptz + g * interval '20 seconds', CASE WHEN g % 10 = 0 THEN 'gift wrap' END
  FROM generate_series(1, 1200000) g;
INSERT INTO order_items
  SELECT o, l, 'SKU-' || lpad((1 + (o * l) % 2000)::text, 5, '0'), 1 + (o + l) % 3, ((o * l) % 500) + 0.99
  FROM generate_series(1, 150000) o, generate_series(1, 2) l;
INSERT INTO page_views
  SELECT '/products/' || (g % 2000), '2024-06-01'::timestamp + g * interval '1 second', md5(g::text)::uuid,
         (g % 300) * interval '1 second', ('10.0.' || (g % 250) || '.' || (g % 200))::inet
  FROM generate_series(1, 100000) g;
ANALYZE;
SQL

cd "$work"
cat > pgwarehouse_conf.yaml <<YAML
warehouse:
  backend: duckdb
  duckdb_path: $root/demo.duckdb
tables:
  - customers
  - products
  - orders:
      last_modified: updated_at
  - order_items
  - page_views:
      reload: true
YAML
rm -f "$root/demo.duckdb" "$root/demo.duckdb.wal"

say "pgwarehouse list"
"$PGW" list

say "pgwarehouse sync all   (first run: every table is created and filled)"
time "$PGW" sync all

say "changing data in PostgreSQL: new customers and orders, updated order statuses"
psql -qX -v ON_ERROR_STOP=1 <<'SQL'
INSERT INTO customers (name, email, country) SELECT 'New customer ' || g, NULL, 'NZ' FROM generate_series(1, 100) g;
INSERT INTO orders (customer_id, status, total, placed_at, updated_at)
  SELECT 1 + g % 50000, 'pending', 19.99, now(), now() FROM generate_series(1, 5000) g;
UPDATE orders SET status = 'shipped', updated_at = now() WHERE id % 1000 = 1 AND status <> 'shipped';
SQL

say "pgwarehouse sync all   (incremental: new records, last_modified upserts, reload of page_views)"
time "$PGW" sync all

say "pgwarehouse listwh"
"$PGW" listwh

say "a sample query on demo.duckdb: orders by status"
echo -e "status\torders\trevenue"
"$DUCKQ" "$root/demo.duckdb" "SELECT status, count(*), sum(total) FROM orders GROUP BY status ORDER BY status"

say "check: DuckDB and PostgreSQL agree"
pg=$(psql -qAtX -c "SELECT count(*) || ' ' || sum(total) || ' ' || count(*) FILTER (WHERE status = 'shipped') FROM orders")
dk=$("$DUCKQ" "$root/demo.duckdb" "SELECT count(*) || ' ' || sum(total) || ' ' || count(*) FILTER (WHERE status = 'shipped') FROM orders")
echo "PostgreSQL: $pg"
echo "DuckDB:     $dk"
[[ "$pg" == "$dk" ]] && echo "orders match." || { echo "MISMATCH"; exit 1; }
say "done: the warehouse is $root/demo.duckdb; the PostgreSQL server is being stopped"
