/* The DuckDB sink: one embedded database per process, loads inside one transaction per table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "sink/duckdb/duckdb_internal.h"

#define EXPECTED_VERSION "v1.4.4"

struct duck_sink {
	struct pgw_sink base;
	char *path;
	duckdb_database db;
	duckdb_connection con;
	/* the table being loaded */
	struct pgw_target target;
	enum pgw_load_mode mode;
	char *load_name; /* table the appender writes: the target, or a helper beside it */
	duckdb_appender app;
	duckdb_data_chunk chunk;
	duckdb_logical_type *types;
	idx_t ntypes;
	bool in_txn;
};

static const char *schema_of(const struct pgw_target *t)
{
	return t->schema ? t->schema : "main";
}

static void qualified(struct pgw_buf *b, const struct pgw_target *t, const char *name)
{
	pgw_buf_ident(b, schema_of(t));
	pgw_buf_puts(b, ".");
	pgw_buf_ident(b, name);
}

static int open_error(const char *path, const char *msg, struct pgw_err *err)
{
	const char *pid = msg ? strstr(msg, "(PID ") : NULL;
	if (msg && strstr(msg, "Could not set lock"))
		return pgw_err_set(err, PGW_ERR_WAREHOUSE,
				   "DuckDB file %s is in use by another process%s%.*s; wait for it to finish or stop it",
				   path, pid ? " " : "", pid ? (int)strcspn(pid, ")") + 1 : 0, pid ? pid : "");
	return pgw_err_set(err, PGW_ERR_WAREHOUSE, "cannot open DuckDB file %s: %s; check duckdb_path / DUCKDB_PATH",
			   path, msg ? msg : "unknown error");
}

static int duck_open(const struct pgw_config *cfg, struct pgw_sink **out, struct pgw_err *err)
{
	if (strcmp(duckdb_library_version(), EXPECTED_VERSION) != 0)
		pgw_warn("libduckdb is %s, pgwarehouse was built and tested with %s", duckdb_library_version(),
			 EXPECTED_VERSION);
	struct duck_sink *s = pgw_calloc(1, sizeof(*s));
	duckdb_config dc;
	char *msg = NULL;
	duckdb_create_config(&dc);
	/* no downloads: json, icu and parquet are built into the library */
	duckdb_set_config(dc, "autoinstall_known_extensions", "false");
	/* Without a limit DuckDB's buffer pool grows with the table during a load (about 15 MB per
	 * million rows measured); a small pool keeps memory bounded at no cost to reload speed. */
	if (duckdb_set_config(dc, "memory_limit", cfg->duckdb_memory_limit) != DuckDBSuccess) {
		duckdb_destroy_config(&dc);
		free(s);
		return pgw_err_set(err, PGW_ERR_CONFIG, "invalid duckdb_memory_limit `%s`; use a size like 64MB or 1GB",
				   cfg->duckdb_memory_limit);
	}
	s->path = pgw_strdup(cfg->duckdb_path);
	int rc = duckdb_open_ext(s->path, &s->db, dc, &msg);
	duckdb_destroy_config(&dc);
	if (rc != DuckDBSuccess) {
		open_error(s->path, msg, err);
		duckdb_free(msg);
		free(s->path);
		free(s);
		return -1;
	}
	if (duckdb_connect(s->db, &s->con) != DuckDBSuccess ||
	    pgw_duck_exec(s->con, "SET TimeZone = 'UTC'", err) < 0) {
		s->base.ops = &pgw_duckdb_sink;
		pgw_duckdb_sink.close(&s->base);
		return pgw_err_set(err, PGW_ERR_WAREHOUSE, "cannot connect to DuckDB file %s", cfg->duckdb_path);
	}
	s->base.ops = &pgw_duckdb_sink;
	*out = &s->base;
	return 0;
}

static void free_load_state(struct duck_sink *s)
{
	if (s->app)
		duckdb_appender_destroy(&s->app);
	if (s->chunk)
		duckdb_destroy_data_chunk(&s->chunk);
	for (idx_t i = 0; i < s->ntypes; i++)
		duckdb_destroy_logical_type(&s->types[i]);
	free(s->types);
	s->types = NULL;
	s->ntypes = 0;
	free(s->load_name);
	s->load_name = NULL;
}

static void duck_abort(struct pgw_sink *base)
{
	struct duck_sink *s = (struct duck_sink *)base;
	free_load_state(s);
	if (s->in_txn)
		pgw_duck_exec(s->con, "ROLLBACK", NULL);
	s->in_txn = false;
}

static void duck_close(struct pgw_sink *base)
{
	struct duck_sink *s = (struct duck_sink *)base;
	if (!s)
		return;
	duck_abort(base);
	if (s->con)
		duckdb_disconnect(&s->con);
	if (s->db)
		duckdb_close(&s->db);
	free(s->path);
	free(s);
}

static int duck_inspect(struct pgw_sink *base, const struct pgw_target *t, struct pgw_wh_state *st,
			struct pgw_err *err)
{
	struct duck_sink *s = (struct duck_sink *)base;
	struct pgw_duck_rows rows;
	const char *params[] = {schema_of(t), t->name};
	if (pgw_duck_select(s->con,
			    "SELECT coalesce(comment, '') FROM duckdb_tables() "
			    "WHERE database_name = current_database() AND schema_name = ? AND table_name = ?",
			    2, params, &rows, err) < 0)
		return -1;
	st->exists = rows.nrows > 0;
	st->same_shape = st->ours = false;
	if (st->exists) {
		char *fp = pgw_duck_fingerprint(t->def);
		st->same_shape = rows.cells[0] && !strcmp(rows.cells[0], fp);
		st->ours = rows.cells[0] && !strncmp(rows.cells[0], fp, strlen("pgwarehouse:"));
		free(fp);
	}
	pgw_duck_rows_cleanup(&rows);
	return 0;
}

/* The canonical watermark text of a column (see sink.h). */
static void watermark_expr(struct pgw_buf *b, const struct pgw_coldef *c)
{
	switch (c->ti.type) {
	case PGW_T_DATE:
		pgw_buf_puts(b, "CAST(date_diff('day', DATE '1970-01-01', ");
		pgw_buf_ident(b, c->name);
		pgw_buf_puts(b, ") AS VARCHAR)");
		return;
	case PGW_T_TIMESTAMP:
	case PGW_T_TIMESTAMPTZ:
		pgw_buf_puts(b, "CAST(epoch_us(");
		pgw_buf_ident(b, c->name);
		pgw_buf_puts(b, ") AS VARCHAR)");
		return;
	case PGW_T_BYTES:
		pgw_buf_puts(b, "hex(");
		pgw_buf_ident(b, c->name);
		pgw_buf_puts(b, ")");
		return;
	default:
		pgw_buf_puts(b, "CAST(");
		pgw_buf_ident(b, c->name);
		pgw_buf_puts(b, " AS VARCHAR)");
	}
}

static int duck_watermark(struct pgw_sink *base, const struct pgw_target *t, const int *cols, int ncols,
			  char ***vals, bool *pgtext, bool *found, struct pgw_err *err)
{
	struct duck_sink *s = (struct duck_sink *)base;
	struct pgw_buf sql, name;
	pgw_buf_init(&sql);
	pgw_buf_init(&name);
	qualified(&name, t, t->name);
	pgw_sql_max_row(&sql, name.data, t->def, cols, ncols, watermark_expr);
	pgw_buf_cleanup(&name);
	for (int i = 0; i < ncols; i++)
		pgtext[i] = false;
	struct pgw_duck_rows rows;
	int rc = pgw_duck_select(s->con, sql.data, 0, NULL, &rows, err);
	pgw_buf_cleanup(&sql);
	if (rc < 0)
		return -1;
	*found = rows.nrows > 0;
	*vals = NULL;
	if (*found) {
		*vals = pgw_calloc((size_t)ncols, sizeof(char *));
		for (int i = 0; i < ncols; i++) {
			(*vals)[i] = rows.cells[i];
			rows.cells[i] = NULL;
		}
	}
	pgw_duck_rows_cleanup(&rows);
	return 0;
}

static void create_table_sql(struct pgw_buf *sql, const struct pgw_target *t, const char *name)
{
	pgw_buf_puts(sql, "CREATE TABLE ");
	qualified(sql, t, name);
	pgw_buf_puts(sql, " (");
	for (int i = 0; i < t->def->ncols; i++) {
		if (i)
			pgw_buf_puts(sql, ", ");
		pgw_buf_ident(sql, t->def->cols[i].name);
		pgw_buf_puts(sql, " ");
		pgw_duck_type_sql(sql, &t->def->cols[i].ti);
	}
	pgw_buf_puts(sql, ")");
}

static int exec_buf(struct duck_sink *s, struct pgw_buf *sql, struct pgw_err *err)
{
	int rc = pgw_duck_exec(s->con, sql->data, err);
	pgw_buf_reset(sql);
	return rc;
}

static int create_helper(struct duck_sink *s, const struct pgw_target *t, const char *name, struct pgw_err *err)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	int rc = 0;
	if (t->schema) {
		pgw_buf_puts(&sql, "CREATE SCHEMA IF NOT EXISTS ");
		pgw_buf_ident(&sql, t->schema);
		rc = exec_buf(s, &sql, err);
	}
	if (rc == 0) {
		pgw_buf_puts(&sql, "DROP TABLE IF EXISTS ");
		qualified(&sql, t, name);
		rc = exec_buf(s, &sql, err);
	}
	if (rc == 0) {
		create_table_sql(&sql, t, name);
		rc = exec_buf(s, &sql, err);
	}
	pgw_buf_cleanup(&sql);
	return rc;
}

static int open_appender(struct duck_sink *s, struct pgw_err *err)
{
	if (duckdb_appender_create(s->con, schema_of(&s->target), s->load_name, &s->app) != DuckDBSuccess)
		return pgw_err_set(err, PGW_ERR_WAREHOUSE, "DuckDB: cannot append to \"%s\": %s", s->load_name,
				   duckdb_appender_error(s->app));
	s->ntypes = duckdb_appender_column_count(s->app);
	if ((int)s->ntypes != s->target.def->ncols)
		return pgw_err_set(err, PGW_ERR_WAREHOUSE,
				   "DuckDB table \"%s\" has %llu columns, PostgreSQL has %d; run reload",
				   s->target.name, (unsigned long long)s->ntypes, s->target.def->ncols);
	s->types = pgw_calloc(s->ntypes, sizeof(*s->types));
	for (idx_t i = 0; i < s->ntypes; i++)
		s->types[i] = duckdb_appender_column_type(s->app, i);
	s->chunk = duckdb_create_data_chunk(s->types, s->ntypes);
	return 0;
}

static int duck_begin(struct pgw_sink *base, const struct pgw_target *t, enum pgw_load_mode mode,
		      struct pgw_err *err)
{
	struct duck_sink *s = (struct duck_sink *)base;
	s->target = *t;
	s->mode = mode;
	if (pgw_duck_exec(s->con, "BEGIN TRANSACTION", err) < 0)
		return -1;
	s->in_txn = true;
	if (mode == PGW_LOAD_APPEND)
		s->load_name = pgw_strdup(t->name);
	else
		s->load_name = pgw_asprintf(PGW_INTERNAL_PREFIX "%s_%s", mode == PGW_LOAD_REPLACE ? "new" : "stage",
					    t->name);
	if ((mode != PGW_LOAD_APPEND && create_helper(s, t, s->load_name, err) < 0) || open_appender(s, err) < 0) {
		duck_abort(base);
		return -1;
	}
	return 0;
}

static int duck_write(struct pgw_sink *base, const struct pgw_batch *b, struct pgw_err *err)
{
	struct duck_sink *s = (struct duck_sink *)base;
	if (!b->rows)
		return 0;
	duckdb_data_chunk_reset(s->chunk);
	for (int i = 0; i < b->ncols; i++) {
		duckdb_vector v = duckdb_data_chunk_get_vector(s->chunk, (idx_t)i);
		if (pgw_duck_fill_vector(v, s->types[i], &b->cols[i], b->rows, err) < 0)
			return -1;
	}
	duckdb_data_chunk_set_size(s->chunk, b->rows);
	if (duckdb_append_data_chunk(s->app, s->chunk) != DuckDBSuccess)
		return pgw_err_set(err, PGW_ERR_WAREHOUSE, "DuckDB: appending to \"%s\" failed: %s", s->target.name,
				   duckdb_appender_error(s->app));
	return 0;
}

/* Rows of the stage replace the rows with the same key, then the stage goes. */
static int merge_stage(struct duck_sink *s, struct pgw_buf *sql, struct pgw_err *err)
{
	const struct pgw_target *t = &s->target;
	pgw_buf_puts(sql, "DELETE FROM ");
	qualified(sql, t, t->name);
	pgw_buf_puts(sql, " WHERE EXISTS (SELECT 1 FROM ");
	qualified(sql, t, s->load_name);
	pgw_buf_puts(sql, " AS n WHERE ");
	for (int i = 0; i < t->def->npk; i++) {
		const char *col = t->def->cols[t->def->pk[i]].name;
		pgw_buf_puts(sql, i ? " AND n." : "n.");
		pgw_buf_ident(sql, col);
		pgw_buf_puts(sql, " = ");
		pgw_buf_ident(sql, t->name);
		pgw_buf_puts(sql, ".");
		pgw_buf_ident(sql, col);
	}
	pgw_buf_puts(sql, ")");
	if (exec_buf(s, sql, err) < 0)
		return -1;
	pgw_buf_puts(sql, "INSERT INTO ");
	qualified(sql, t, t->name);
	pgw_buf_puts(sql, " SELECT * FROM ");
	qualified(sql, t, s->load_name);
	if (exec_buf(s, sql, err) < 0)
		return -1;
	pgw_buf_puts(sql, "DROP TABLE ");
	qualified(sql, t, s->load_name);
	return exec_buf(s, sql, err);
}

static int swap_in(struct duck_sink *s, struct pgw_buf *sql, struct pgw_err *err)
{
	const struct pgw_target *t = &s->target;
	pgw_buf_puts(sql, "DROP TABLE IF EXISTS ");
	qualified(sql, t, t->name);
	if (exec_buf(s, sql, err) < 0)
		return -1;
	pgw_buf_puts(sql, "ALTER TABLE ");
	qualified(sql, t, s->load_name);
	pgw_buf_puts(sql, " RENAME TO ");
	pgw_buf_ident(sql, t->name);
	if (exec_buf(s, sql, err) < 0)
		return -1;
	char *fp = pgw_duck_fingerprint(t->def);
	pgw_buf_puts(sql, "COMMENT ON TABLE ");
	qualified(sql, t, t->name);
	pgw_buf_puts(sql, " IS ");
	pgw_buf_literal(sql, fp);
	free(fp);
	return exec_buf(s, sql, err);
}

static int duck_commit(struct pgw_sink *base, struct pgw_err *err)
{
	struct duck_sink *s = (struct duck_sink *)base;
	struct pgw_buf sql;
	int rc = 0;
	pgw_buf_init(&sql);
	/* close flushes the appender; COMMIT alone would not */
	if (duckdb_appender_close(s->app) != DuckDBSuccess)
		rc = pgw_err_set(err, PGW_ERR_WAREHOUSE, "DuckDB: loading \"%s\" failed: %s", s->target.name,
				 duckdb_appender_error(s->app));
	if (rc == 0 && s->mode == PGW_LOAD_REPLACE)
		rc = swap_in(s, &sql, err);
	else if (rc == 0 && s->mode == PGW_LOAD_UPSERT)
		rc = merge_stage(s, &sql, err);
	if (rc == 0)
		rc = pgw_duck_exec(s->con, "COMMIT", err);
	pgw_buf_cleanup(&sql);
	if (rc < 0) {
		duck_abort(base);
		return -1;
	}
	s->in_txn = false;
	free_load_state(s);
	return 0;
}

static int duck_list(struct pgw_sink *base, struct pgw_wh_table **tables, int *n, struct pgw_err *err)
{
	struct duck_sink *s = (struct duck_sink *)base;
	struct pgw_duck_rows rows;
	if (pgw_duck_select(s->con,
			    "SELECT schema_name, table_name FROM duckdb_tables() "
			    "WHERE database_name = current_database() AND NOT temporary "
			    "AND NOT starts_with(table_name, '" PGW_INTERNAL_PREFIX "') "
			    "ORDER BY schema_name <> 'main', schema_name, table_name",
			    0, NULL, &rows, err) < 0)
		return -1;
	*tables = pgw_calloc((size_t)rows.nrows, sizeof(**tables));
	*n = rows.nrows;
	int rc = 0;
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	for (int i = 0; i < rows.nrows && rc == 0; i++) {
		struct pgw_wh_table *wt = &(*tables)[i];
		struct pgw_target t = {.schema = rows.cells[2 * i], .name = rows.cells[2 * i + 1]};
		wt->schema = strcmp(t.schema, "main") ? pgw_strdup(t.schema) : NULL;
		wt->name = pgw_strdup(t.name);
		pgw_buf_reset(&sql);
		pgw_buf_puts(&sql, "SELECT CAST(count(*) AS VARCHAR) FROM ");
		qualified(&sql, &t, t.name);
		struct pgw_duck_rows cnt;
		rc = pgw_duck_select(s->con, sql.data, 0, NULL, &cnt, err);
		if (rc == 0) {
			wt->rows = atoll(cnt.cells[0]);
			pgw_duck_rows_cleanup(&cnt);
		}
	}
	pgw_buf_cleanup(&sql);
	pgw_duck_rows_cleanup(&rows);
	return rc;
}

const struct pgw_sink_ops pgw_duckdb_sink = {
	.name = "duckdb",
	.open = duck_open,
	.close = duck_close,
	.inspect = duck_inspect,
	.watermark = duck_watermark,
	.begin = duck_begin,
	.write = duck_write,
	.commit = duck_commit,
	.abort = duck_abort,
	.list = duck_list,
};
