# Shared by the benches: source it, then bench_table ROWS makes the bench table t (bigint key, int,
# numeric(12,2), timestamptz, timestamp, short text, ~30-char text, int[], small jsonb).
bench_table() {
  echo "creating $1 rows..." >&2
  # synchronous_commit on (the harness's cluster runs without it): VACUUM cannot mark the pages of
  # an asynchronously committed insert all-visible, which left every scan checking each row's
  # visibility (11% of PostgreSQL's CPU in verify), unlike a production table autovacuum has seen
  psql -qX -v ON_ERROR_STOP=1 <<SQL
SET synchronous_commit = on;
CREATE TABLE t (id bigint PRIMARY KEY, qty int, amount numeric(12,2), happened_at timestamptz, local_at timestamp,
  code text, descr text, nums int[], doc jsonb);
INSERT INTO t SELECT g, g % 1000, (g % 100000) / 100.0, '2024-01-01'::timestamptz + g * interval '1 s',
  '2024-01-01'::timestamp + g * interval '1 s', 'C' || (g % 97), 'description number ' || lpad(g::text, 11, '0'),
  ARRAY[g % 10, g % 100, g % 1000], jsonb_build_object('k', g % 7, 'v', 'x')
FROM generate_series(1, $1) g;
VACUUM ANALYZE t;
SQL
}

# median "1.2 0.9 1.1": the middle of space-separated numbers (the lower middle of an even count)
median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
