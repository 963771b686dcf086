/* _pgwarehouse_runs in each warehouse's dialect. Times are stored as UTC without a zone. */
#include "pipeline/runlog.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

/* Plain lower-case names that no dialect reserves, left unquoted so Snowflake resolves them
 * (it upper-cases unquoted names) the same way in CREATE, INSERT and SELECT. */
static const char *const columns[] = {"table_name", "command",	  "strategy",	      "started_at",	 "finished_at",
				      "row_count",  "byte_count", "watermark_before", "watermark_after", "status",
				      "error",	    "started_us", "source_oid"};

/* Column types, in the order of columns[]: t text, T time, i integer. started_us (microseconds
 * since 1970) orders runs everywhere: ClickHouse's DateTime holds whole seconds only. */
static const char kinds[] = "tttTTiittttii";

static const char *type_of(enum pgw_dialect d, char kind)
{
	static const char *const types[3][3] = {
		{"VARCHAR", "TIMESTAMP", "BIGINT"},
		{"Nullable(String)", "DateTime('UTC')", "Int64"},
		{"VARCHAR", "TIMESTAMP_NTZ", "NUMBER(19,0)"},
	};
	return types[d][kind == 't' ? 0 : kind == 'T' ? 1 : 2];
}

static void literal(struct pgw_sink *sink, struct pgw_buf *b, const char *v)
{
	if (v)
		sink->ops->literal(b, v);
	else
		pgw_buf_puts(b, "NULL");
}

static void time_literal(enum pgw_dialect d, struct pgw_buf *b, double t)
{
	time_t secs = (time_t)t;
	struct tm tm;
	gmtime_r(&secs, &tm);
	char text[40];
	strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm);
	if (d == PGW_SQL_CLICKHOUSE) { /* DateTime holds seconds */
		pgw_buf_printf(b, "toDateTime('%s', 'UTC')", text);
		return;
	}
	pgw_buf_printf(b, "'%s.%06d'::%s", text, (int)((t - (double)secs) * 1e6), type_of(d, 'T'));
}

static int create_table(struct pgw_sink *sink, struct pgw_err *err)
{
	enum pgw_dialect d = sink->ops->dialect;
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "CREATE TABLE IF NOT EXISTS ");
	sink->ops->own_table(sink, &sql, PGW_RUNS_TABLE);
	pgw_buf_puts(&sql, " (");
	for (size_t i = 0; i < sizeof(columns) / sizeof(columns[0]); i++) {
		const char *type = type_of(d, kinds[i]);
		if (d == PGW_SQL_CLICKHOUSE && i < 2) /* key columns cannot be Nullable */
			type = "String";
		pgw_buf_printf(&sql, "%s%s %s", i ? ", " : "", columns[i], type);
	}
	pgw_buf_puts(&sql, ")");
	if (d == PGW_SQL_CLICKHOUSE)
		pgw_buf_puts(&sql, " ENGINE = MergeTree ORDER BY (table_name, started_us)");
	int rc = sink->ops->sql(sink, sql.data, NULL, err);
	pgw_buf_cleanup(&sql);
	return rc;
}

/* A log made before source_oid was kept gets the column (last, as the INSERT lists its values) */
static int add_source_oid(struct pgw_sink *sink, struct pgw_err *err)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "SELECT source_oid FROM ");
	sink->ops->own_table(sink, &sql, PGW_RUNS_TABLE);
	pgw_buf_puts(&sql, " WHERE 1 = 0");
	struct pgw_err probe = {0};
	int rc = sink->ops->sql(sink, sql.data, NULL, &probe);
	if (rc < 0) {
		pgw_buf_reset(&sql);
		pgw_buf_puts(&sql, "ALTER TABLE ");
		sink->ops->own_table(sink, &sql, PGW_RUNS_TABLE);
		pgw_buf_printf(&sql, " ADD COLUMN source_oid %s", type_of(sink->ops->dialect, 'i'));
		rc = sink->ops->sql(sink, sql.data, NULL, err);
	}
	pgw_buf_cleanup(&sql);
	return rc;
}

/* The log, made or brought up to date once per process (jobs share one warehouse: concurrent
 * CREATEs of the same table could conflict) */
static int ensure_log(struct pgw_sink *sink, struct pgw_err *err)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static bool ready;
	pthread_mutex_lock(&mu);
	int rc = ready ? 0 : create_table(sink, err);
	if (rc == 0 && !ready)
		rc = add_source_oid(sink, err);
	ready = rc == 0;
	pthread_mutex_unlock(&mu);
	return rc;
}

int pgw_runlog_append(struct pgw_sink *sink, const struct pgw_run_record *r, struct pgw_err *err)
{
	int rc = ensure_log(sink, err);
	if (rc < 0)
		return -1;
	enum pgw_dialect d = sink->ops->dialect;
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "INSERT INTO ");
	sink->ops->own_table(sink, &sql, PGW_RUNS_TABLE);
	pgw_buf_puts(&sql, " VALUES (");
	const char *head[] = {r->table, r->command, r->strategy},
		   *tail[] = {r->watermark_before, r->watermark_after, r->status, r->error};
	for (size_t i = 0; i < 3; i++) {
		literal(sink, &sql, head[i]);
		pgw_buf_puts(&sql, ", ");
	}
	time_literal(d, &sql, r->started);
	pgw_buf_puts(&sql, ", ");
	time_literal(d, &sql, r->finished);
	pgw_buf_printf(&sql, ", %lld, %llu", r->rows, r->bytes);
	for (size_t i = 0; i < 4; i++) {
		pgw_buf_puts(&sql, ", ");
		literal(sink, &sql, tail[i]);
	}
	pgw_buf_printf(&sql, ", %lld, %u)", (long long)(r->started * 1e6), r->source_oid);
	rc = sink->ops->sql(sink, sql.data, NULL, err);
	pgw_buf_cleanup(&sql);
	return rc;
}

/* Whether the log exists: reading an absent table is an error on every warehouse. */
static int log_exists(struct pgw_sink *sink, bool *exists, struct pgw_err *err)
{
	struct pgw_wh_state st = {0};
	struct pgw_table_def def = {.name = PGW_RUNS_TABLE};
	struct pgw_target t = {.name = PGW_RUNS_TABLE, .def = &def};
	if (sink->ops->inspect(sink, &t, &st, err) < 0)
		return -1;
	*exists = st.exists;
	return 0;
}

/* Runs a query on the log into out; an absent log gives no rows. */
static int query_log(struct pgw_sink *sink, const char *sql, struct pgw_rows *out, struct pgw_err *err)
{
	memset(out, 0, sizeof(*out));
	bool exists = false;
	if (log_exists(sink, &exists, err) < 0)
		return -1;
	return exists ? sink->ops->sql(sink, sql, out, err) : 0;
}

int pgw_runlog_loaded(struct pgw_sink *sink, const char *table, bool *loaded, struct pgw_err *err)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "SELECT count(*) FROM ");
	sink->ops->own_table(sink, &sql, PGW_RUNS_TABLE);
	pgw_buf_puts(&sql, " WHERE status = 'ok' AND table_name = ");
	literal(sink, &sql, table);
	struct pgw_rows rows;
	int rc = query_log(sink, sql.data, &rows, err);
	pgw_buf_cleanup(&sql);
	*loaded = rc == 0 && rows.nrows && rows.cells[0] && atoll(rows.cells[0]) > 0;
	pgw_rows_cleanup(&rows);
	return rc;
}

/* column (a constant) of table's latest successful run matching cond (a constant); *text NULL when
 * none */
static int latest_ok(struct pgw_sink *sink, const char *table, const char *column, const char *cond, char **text,
		     struct pgw_err *err)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_printf(&sql, "SELECT %s FROM ", column);
	sink->ops->own_table(sink, &sql, PGW_RUNS_TABLE);
	pgw_buf_printf(&sql, " WHERE status = 'ok' AND %s AND table_name = ", cond);
	literal(sink, &sql, table);
	pgw_buf_puts(&sql, " ORDER BY started_us DESC LIMIT 1");
	struct pgw_rows rows;
	int rc = query_log(sink, sql.data, &rows, err);
	pgw_buf_cleanup(&sql);
	*text = rc == 0 && rows.nrows && rows.cells[0] ? pgw_strdup(rows.cells[0]) : NULL;
	pgw_rows_cleanup(&rows);
	return rc;
}

int pgw_runlog_resume(struct pgw_sink *sink, const char *table, char **text, struct pgw_err *err)
{
	return latest_ok(sink, table, "watermark_after", "command IN ('sync', 'reload')", text, err);
}

/* Every table's oid at its latest successful sync or reload, read once per process (one query, not
 * one per table: a round trip each on a remote warehouse); rows of table_name, source_oid */
static int source_oids(struct pgw_sink *sink, const struct pgw_rows **rows, struct pgw_err *err)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static struct pgw_rows cache;
	static bool loaded;
	pthread_mutex_lock(&mu);
	bool exists = false;
	int rc = loaded ? 0 : log_exists(sink, &exists, err);
	if (rc == 0 && !loaded && exists && (rc = ensure_log(sink, err)) == 0) {
		struct pgw_buf sql;
		pgw_buf_init(&sql);
		bool ch = sink->ops->dialect == PGW_SQL_CLICKHOUSE;
		pgw_buf_puts(&sql,
			     ch ? "SELECT table_name, toString(argMax(source_oid, started_us)) FROM "
				: "SELECT table_name, CAST(source_oid AS VARCHAR) FROM (SELECT table_name, "
				  "source_oid, row_number() OVER (PARTITION BY table_name ORDER BY started_us DESC) "
				  "AS pgw_n FROM ");
		sink->ops->own_table(sink, &sql, PGW_RUNS_TABLE);
		pgw_buf_puts(&sql, " WHERE status = 'ok' AND command IN ('sync', 'reload')");
		pgw_buf_puts(&sql, ch ? " GROUP BY table_name" : ") AS pgw_latest WHERE pgw_n = 1");
		rc = sink->ops->sql(sink, sql.data, &cache, err);
		pgw_buf_cleanup(&sql);
	}
	loaded = rc == 0;
	*rows = &cache;
	pthread_mutex_unlock(&mu);
	return rc;
}

int pgw_runlog_source_oid(struct pgw_sink *sink, const char *table, unsigned *oid, struct pgw_err *err)
{
	const struct pgw_rows *rows = NULL;
	*oid = 0;
	if (source_oids(sink, &rows, err) < 0)
		return -1;
	for (int r = 0; r < rows->nrows; r++)
		if (rows->cells[r * rows->ncols] && !strcmp(rows->cells[r * rows->ncols], table))
			*oid = rows->cells[r * rows->ncols + 1]
				       ? (unsigned)strtoul(rows->cells[r * rows->ncols + 1], NULL, 10)
				       : 0;
	return 0;
}

int pgw_runlog_cdc_identity(struct pgw_sink *sink, const char *table, char **text, struct pgw_err *err)
{
	return latest_ok(sink, table, "watermark_before", "strategy = 'cdc'", text, err);
}

static void latest_sql(enum pgw_dialect d, struct pgw_sink *sink, const char *table, struct pgw_buf *sql)
{
	/* times come back as text starting "YYYY-MM-DD HH:MM:SS" */
	const char *fmt_time = d == PGW_SQL_CLICKHOUSE ? "toString(%s, 'UTC')" : "CAST(%s AS VARCHAR)";
	const char *text = d == PGW_SQL_CLICKHOUSE ? "toString(%s)" : fmt_time;
	if (d == PGW_SQL_CLICKHOUSE) { /* argMax skips NULLs, hence ifNull: '' reads as none */
		pgw_buf_puts(
			sql,
			"SELECT table_name, argMax(command, started_us), argMax(ifNull(strategy, ''), started_us), ");
		pgw_buf_printf(sql, fmt_time, "argMax(started_at, started_us)");
		pgw_buf_puts(sql, ", ");
		pgw_buf_printf(sql, fmt_time, "argMax(finished_at, started_us)");
		pgw_buf_puts(sql, ", ");
		pgw_buf_printf(sql, text, "argMax(row_count, started_us)");
		pgw_buf_puts(sql, ", argMax(ifNull(status, ''), started_us), argMax(ifNull(error, ''), started_us), ");
		pgw_buf_puts(sql,
			     "if(countIf(status = 'ok') = 0, '', toString(maxIf(started_at, status = 'ok'), 'UTC')), ");
		pgw_buf_puts(sql, "argMax(ifNull(watermark_after, ''), started_us) FROM ");
	} else {
		pgw_buf_puts(sql, "SELECT table_name, command, strategy, ");
		pgw_buf_printf(sql, fmt_time, "started_at");
		pgw_buf_puts(sql, ", ");
		pgw_buf_printf(sql, fmt_time, "finished_at");
		pgw_buf_puts(sql, ", ");
		pgw_buf_printf(sql, text, "row_count");
		pgw_buf_puts(sql, ", status, error, ");
		pgw_buf_printf(sql, fmt_time,
			       "max(CASE WHEN status = 'ok' THEN started_at END) OVER (PARTITION BY table_name)");
		pgw_buf_puts(sql, ", watermark_after FROM ");
	}
	sink->ops->own_table(sink, sql, PGW_RUNS_TABLE);
	if (table) {
		pgw_buf_puts(sql, " WHERE table_name = ");
		literal(sink, sql, table);
	}
	if (d == PGW_SQL_CLICKHOUSE)
		pgw_buf_puts(sql, " GROUP BY table_name");
	else
		pgw_buf_puts(sql, " QUALIFY row_number() OVER (PARTITION BY table_name ORDER BY started_us DESC) = 1");
	pgw_buf_puts(sql, " ORDER BY table_name");
}

int pgw_runlog_latest(struct pgw_sink *sink, const char *table, struct pgw_rows *out, struct pgw_err *err)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	latest_sql(sink->ops->dialect, sink, table, &sql);
	int rc = query_log(sink, sql.data, out, err);
	pgw_buf_cleanup(&sql);
	if (rc == 0 && out->nrows && out->ncols != PGW_STATUS_COLS)
		rc = pgw_err_set(err, PGW_ERR_WAREHOUSE, "unexpected shape of %s; drop it to start a new log",
				 PGW_RUNS_TABLE);
	return rc;
}
