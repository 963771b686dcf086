/* Dividing a full copy between COPY streams. PostgreSQL 14+ scans ctid ranges directly (TID
 * range scan); older servers get ranges of a single integer key, read through its index. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "pipeline/sync.h"

enum split { SPLIT_NONE, SPLIT_CTID, SPLIT_KEY };

static enum split choose(struct pgw_run *run, const struct pgw_plan *plan)
{
	const struct pgw_config *cfg = run->cfg;
	const struct pgw_table_def *def = plan->def;
	if (cfg->copy_streams < 2 || plan->mode != PGW_LOAD_REPLACE || cfg->max_records > 0)
		return SPLIT_NONE;
	if (def->relkind != 'r' && def->relkind != 'm' && def->relkind != 'p')
		return SPLIT_NONE;
	if (def->relkind == 'p' && pgw_pg_version(run->pg) < 140000)
		return SPLIT_NONE; /* split by its partitions' ctid ranges only */
	/* PGWAREHOUSE_COPY_SPLIT=key forces what servers before 14 get (for tests) */
	const char *force = getenv("PGWAREHOUSE_COPY_SPLIT");
	bool key_only = force && !strcmp(force, "key");
	if (pgw_pg_version(run->pg) >= 140000 && !key_only)
		return SPLIT_CTID;
	if (pgw_table_int_key(def))
		return SPLIT_KEY;
	pgw_debug("%s: one COPY stream: no TID range scans before PostgreSQL 14 and no single integer key", def->name);
	return SPLIT_NONE;
}

/* Size on disk and block count; -1 on error. A partitioned table's ctid ranges apply to each of its
 * partitions (each scans its own range): its size is theirs, its block count the largest one's, and
 * 0 (one stream) when a partition is not a plain table (a foreign one has no ctid). */
int pgw_table_size(struct pgw_run *run, const struct pgw_table_def *def, long long *bytes, long long *blocks,
		   struct pgw_err *err)
{
	char oid[16];
	snprintf(oid, sizeof(oid), "%u", def->oid);
	const char *params[] = {oid};
	PGresult *res = pgw_pg_query(
		run->pg,
		def->relkind != 'p' ? "SELECT pg_relation_size($1::oid), pg_relation_size($1::oid) / "
				      "current_setting('block_size')::int8"
				    : "SELECT coalesce(sum(pg_relation_size(c.oid)), 0), CASE WHEN "
				      "bool_and(c.relkind = 'r') THEN coalesce(max(pg_relation_size(c.oid)), 0) / "
				      "current_setting('block_size')::int8 ELSE 0 END FROM "
				      "pg_partition_tree($1::oid::regclass) t JOIN pg_class c ON c.oid = t.relid "
				      "WHERE t.isleaf",
		1, params, err);
	if (!res)
		return -1;
	*bytes = atoll(PQgetvalue(res, 0, 0));
	*blocks = atoll(PQgetvalue(res, 0, 1));
	PQclear(res);
	return 0;
}

static void ctid_ranges(const struct pgw_plan *plan, long long blocks, char **sqls, int n)
{
	for (int i = 0; i < n; i++) {
		long long lo = blocks * i / n, hi = blocks * (i + 1) / n;
		/* the last range is open: rows in blocks added since the size was read are not missed */
		sqls[i] = i < n - 1 ? pgw_asprintf("%s WHERE ctid >= '(%lld,0)'::tid AND ctid < '(%lld,0)'::tid",
						   plan->select_sql, lo, hi)
				    : pgw_asprintf("%s WHERE ctid >= '(%lld,0)'::tid", plan->select_sql, lo);
	}
}

/* Smallest and largest key inside the snapshot; false for an empty table. */
static int key_bounds(struct pgw_run *run, const struct pgw_table_def *def, long long *lo, long long *hi,
		      struct pgw_err *err)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	const char *key = def->cols[def->pk[0]].name;
	pgw_buf_puts(&sql, "SELECT min(");
	pgw_buf_ident(&sql, key);
	pgw_buf_puts(&sql, ")::int8, max(");
	pgw_buf_ident(&sql, key);
	pgw_buf_puts(&sql, ")::int8 FROM ");
	pgw_pg_relation_sql(&sql, def);
	PGresult *res = pgw_pg_query(run->pg, sql.data, 0, NULL, err);
	pgw_buf_cleanup(&sql);
	if (!res)
		return -1;
	int found = !PQgetisnull(res, 0, 0);
	if (found) {
		*lo = atoll(PQgetvalue(res, 0, 0));
		*hi = atoll(PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return found;
}

/* n ranges of the key; the first and last are open so every row falls in exactly one. */
static void key_ranges(const struct pgw_plan *plan, long long lo, long long hi, char **sqls, int n)
{
	struct pgw_buf key;
	pgw_buf_init(&key);
	pgw_buf_ident(&key, plan->def->cols[plan->def->pk[0]].name);
	__int128 span = (__int128)hi - lo + 1;
	for (int i = 0; i < n; i++) {
		long long from = (long long)(lo + span * i / n), to = (long long)(lo + span * (i + 1) / n);
		if (i == 0)
			sqls[i] = pgw_asprintf("%s WHERE %s < %lld", plan->select_sql, key.data, to);
		else if (i == n - 1)
			sqls[i] = pgw_asprintf("%s WHERE %s >= %lld", plan->select_sql, key.data, from);
		else
			sqls[i] = pgw_asprintf("%s WHERE %s >= %lld AND %s < %lld", plan->select_sql, key.data, from,
					       key.data, to);
	}
	pgw_buf_cleanup(&key);
}

/* How many streams the table gets (1 when too small or not splittable); -1 on error. */
static int stream_count(struct pgw_run *run, const struct pgw_plan *plan, enum split how, long long *blocks,
			long long *lo, long long *hi, struct pgw_err *err)
{
	long long bytes = 0;
	int n = run->cfg->copy_streams;
	if (how == SPLIT_NONE)
		return 1;
	if (pgw_table_size(run, plan->def, &bytes, blocks, err) < 0)
		return -1;
	if (bytes < run->cfg->copy_streams_min_bytes || *blocks < n)
		return 1;
	if (how == SPLIT_KEY) {
		int found = key_bounds(run, plan->def, lo, hi, err);
		if (found < 0)
			return -1;
		if (!found || (__int128)*hi - *lo + 1 < n)
			return 1;
	}
	return n;
}

/* The streams' own connections, as many of n as PostgreSQL gives (a role's CONNECTION LIMIT, a
 * server near max_connections): the copy goes on with those, or on the table's own connection when
 * fewer than two, rather than fail. Returns how many streams. */
static int open_streams(struct pgw_run *run, const struct pgw_plan *plan, int n, struct pgw_pg **conns)
{
	struct pgw_pg *c = pgw_calloc((size_t)n, sizeof(*c));
	struct pgw_err e = {0};
	int got = 0;
	while (got < n && pgw_pg_connect_once(&c[got], run->cfg, &e) == 0)
		got++;
	if (got < n)
		pgw_info("%s: copying with %d COPY stream%s instead of %d, as PostgreSQL gives no more connections "
			 "(%s)",
			 plan->def->name, got < 2 ? 1 : got, got < 2 ? "" : "s", n, e.msg);
	if (got < 2) {
		pgw_pg_close_all(c, got);
		return 1;
	}
	*conns = c;
	return got;
}

int pgw_split_copy(struct pgw_run *run, const struct pgw_plan *plan, char ***sqls, char **snapshot,
		   struct pgw_pg **conns, struct pgw_err *err)
{
	enum split how = choose(run, plan);
	long long blocks = 0, lo = 0, hi = 0;
	*conns = NULL;
	int n = stream_count(run, plan, how, &blocks, &lo, &hi, err);
	if (n > 1)
		n = open_streams(run, plan, n, conns);
	if (n > 1 && pgw_pg_export_snapshot(run->pg, snapshot, err) < 0) {
		pgw_pg_close_all(*conns, n);
		*conns = NULL;
		return -1;
	}
	if (n < 0)
		return -1;
	*sqls = pgw_calloc((size_t)n, sizeof(char *));
	if (n == 1) {
		(*sqls)[0] = pgw_strdup(plan->select_sql);
		return 1;
	}
	if (how == SPLIT_CTID) {
		ctid_ranges(plan, blocks, *sqls, n);
		pgw_info("%s: %d COPY streams over %lld blocks", plan->def->name, n, blocks);
	} else {
		key_ranges(plan, lo, hi, *sqls, n);
		pgw_info("%s: %d COPY streams over key ranges from %lld to %lld", plan->def->name, n, lo, hi);
	}
	return n;
}
