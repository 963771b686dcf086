/* The DuckDB sink: one embedded database per process, loads inside one transaction per table. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/interrupt.h"
#include "core/log.h"
#include "sink/duckdb/duckdb_internal.h"
#include "sink/duckdb/duckdb_undo.h"

#define EXPECTED_VERSION "v1.4.4"

/* An appender is flushed into its transaction every 4 MB of rows: it copies each chunk into a
 * collection of its own first, and a small one is reused while still in the caches. 64 MB (and
 * DuckDB's own 204,800 rows) held ~70 MB more per 2-stream load for no speed (docs/architecture.md). */
#define APPENDER_FLUSH_BYTES (4u << 20)
/* DuckDB's memory cap follows the large values loaded (see make_room) */
#define LARGE_VALUE (256u << 10)
static pthread_mutex_t room_mu = PTHREAD_MUTEX_INITIALIZER;
static long long room_base = -1, room_large, room_set;

struct duck_appender {
	duckdb_appender app;
	duckdb_data_chunk chunk;
	duckdb_logical_type *types;
	idx_t ntypes;
	size_t unflushed; /* string bytes appended since the appender last flushed */
	duckdb_connection con;
};

struct duck_sink {
	struct pgw_sink base;
	char *path;
	duckdb_database db;
	bool owns_db; /* false in a fork: the parent closes it */
	duckdb_connection con;
	/* the table being loaded */
	struct pgw_target target;
	enum pgw_load_mode mode;
	char *load_name; /* table the appender writes: the target, or a helper beside it */
	struct duck_appender ap;
	bool in_txn;
	bool shared; /* the helper table was committed for parallel writers */
};

/* Another connection appending to a REPLACE load's helper table from its own thread. */
struct pgw_sink_writer {
	struct duck_sink *s;
	duckdb_connection con;
	struct duck_appender ap;
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
		return pgw_err_set(
			err, PGW_ERR_WAREHOUSE,
			"DuckDB file %s is in use by another process%s%.*s; wait for it to finish or stop it", path,
			pid ? " " : "", pid ? (int)strcspn(pid, ")") + 1 : 0, pid ? pid : "");
	/* DuckDB (1.4 and 1.5) rewrites blocks in place during a checkpoint: a write cut there leaves a
	 * block that fails its checksum. The undo record (duckdb_undo.c) puts back a write cut by a
	 * kill; a power cut, or a kill while another program had the file, can still leave one.
	 * Nothing in the file can be trusted then; a reload rebuilds it. */
	if (msg && strstr(msg, "Corrupt database file"))
		return pgw_err_set(err, PGW_ERR_WAREHOUSE,
				   "DuckDB file %s is damaged (%.*s): a write DuckDB was making in place was cut "
				   "(a power cut, or a kill of a program without pgwarehouse's undo record); restore "
				   "it from a backup, or move it away and run `pgwarehouse reload all` to copy every "
				   "table again",
				   path, (int)strcspn(msg, "\n"), msg);
	return pgw_err_set(err, PGW_ERR_WAREHOUSE, "cannot open DuckDB file %s: %s; check duckdb_path / DUCKDB_PATH",
			   path, msg ? msg : "unknown error");
}

static int duck_open(const struct pgw_config *cfg, struct pgw_sink **out, struct pgw_err *err)
{
	if (pgw_duckdb_load(err) < 0)
		return -1;
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
	pthread_mutex_lock(&room_mu);
	if (room_base < 0 && pgw_parse_size(cfg->duckdb_memory_limit, &room_base) == 0)
		room_set = room_base;
	pthread_mutex_unlock(&room_mu);
	if (duckdb_set_config(dc, "memory_limit", cfg->duckdb_memory_limit) != DuckDBSuccess) {
		duckdb_destroy_config(&dc);
		free(s);
		return pgw_err_set(err, PGW_ERR_CONFIG, "invalid duckdb_memory_limit `%s`; use a size like 64MB or 1GB",
				   cfg->duckdb_memory_limit);
	}
	/* pgwarehouse's own threads keep the cores busy (COPY readers, one appender per stream or
	 * job); DuckDB's workers would mostly spin waiting for them (measured: a third more CPU, no
	 * faster). */
	if (duckdb_set_config(dc, "threads", cfg->duckdb_threads) != DuckDBSuccess) {
		duckdb_destroy_config(&dc);
		free(s);
		return pgw_err_set(err, PGW_ERR_CONFIG, "invalid duckdb_threads `%s`; use a number like 1 or 4",
				   cfg->duckdb_threads);
	}
	s->path = pgw_strdup(cfg->duckdb_path);
	s->owns_db = true;
	char undo_msg[512];
	if (pgw_duck_undo_recover(s->path, undo_msg, sizeof undo_msg) < 0) {
		duckdb_destroy_config(&dc);
		pgw_err_set(err, PGW_ERR_WAREHOUSE, "%s; check the file's permissions and free space", undo_msg);
		free(s->path);
		free(s);
		return -1;
	}
	pgw_duck_undo_watch(s->path);
	int rc = duckdb_open_ext(s->path, &s->db, dc, &msg);
	duckdb_destroy_config(&dc);
	if (rc != DuckDBSuccess) {
		open_error(s->path, msg, err);
		duckdb_free(msg);
		pgw_duck_undo_unwatch(s->path);
		free(s->path);
		free(s);
		return -1;
	}
	if (duckdb_connect(s->db, &s->con) != DuckDBSuccess || pgw_duck_exec(s->con, "SET TimeZone = 'UTC'", err) < 0) {
		s->base.ops = &pgw_duckdb_sink;
		pgw_duckdb_sink.close(&s->base);
		return pgw_err_set(err, PGW_ERR_WAREHOUSE, "cannot connect to DuckDB file %s", cfg->duckdb_path);
	}
	s->base.ops = &pgw_duckdb_sink;
	s->base.pghash = pgw_duck_register_pghash(s->con) == 0; /* else verify uses md5 */
	s->base.decimal_text = PGW_DECIMAL_TEXT_CAST;
	*out = &s->base;
	return 0;
}

static void appender_free(struct duck_appender *a)
{
	if (a->app)
		duckdb_appender_destroy(&a->app);
	if (a->chunk)
		duckdb_destroy_data_chunk(&a->chunk);
	for (idx_t i = 0; i < a->ntypes; i++)
		duckdb_destroy_logical_type(&a->types[i]);
	free(a->types);
	memset(a, 0, sizeof(*a));
}

static void free_load_state(struct duck_sink *s)
{
	appender_free(&s->ap);
	free(s->load_name);
	s->load_name = NULL;
}

static void duck_abort(struct pgw_sink *base)
{
	struct duck_sink *s = (struct duck_sink *)base;
	/* destroying an appender flushes it: inside the transaction, never after it */
	appender_free(&s->ap);
	if (s->in_txn)
		pgw_duck_exec(s->con, "ROLLBACK", NULL);
	s->in_txn = false;
	if (s->shared && s->load_name) {
		struct pgw_buf sql;
		pgw_buf_init(&sql);
		pgw_buf_puts(&sql, "DROP TABLE IF EXISTS ");
		qualified(&sql, &s->target, s->load_name);
		pgw_duck_exec(s->con, sql.data, NULL);
		pgw_buf_cleanup(&sql);
	}
	free_load_state(s);
}

static void duck_close(struct pgw_sink *base)
{
	struct duck_sink *s = (struct duck_sink *)base;
	if (!s)
		return;
	duck_abort(base);
	if (s->con)
		duckdb_disconnect(&s->con);
	if (s->db && s->owns_db) {
		duckdb_close(&s->db);
		pgw_duck_undo_unwatch(s->path);
	}
	free(s->path);
	free(s);
}

static int duck_inspect(struct pgw_sink *base, const struct pgw_target *t, struct pgw_wh_state *st, struct pgw_err *err)
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
	if (!st->exists || st->ours)
		return 0;
	if (pgw_duck_select(s->con,
			    "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
			    "AND schema_name = ? AND table_name = ? ORDER BY column_index",
			    2, params, &rows, err) < 0)
		return -1;
	st->same_columns = pgw_same_column_names(t->def, rows.cells, rows.nrows);
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

static int duck_watermark(struct pgw_sink *base, const struct pgw_target *t, const int *cols, int ncols, char ***vals,
			  bool *pgtext, bool *found, struct pgw_err *err)
{
	struct duck_sink *s = (struct duck_sink *)base;
	struct pgw_buf sql, name;
	pgw_buf_init(&sql);
	pgw_buf_init(&name);
	qualified(&name, t, t->name);
	pgw_sql_max_row(&sql, name.data, t->def, cols, ncols, watermark_expr, pgw_buf_ident);
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

static int appender_open(struct duck_appender *a, duckdb_connection con, const struct pgw_target *t, const char *table,
			 struct pgw_err *err)
{
	if (duckdb_appender_create(con, schema_of(t), table, &a->app) != DuckDBSuccess)
		return pgw_err_set(err, PGW_ERR_WAREHOUSE, "DuckDB: cannot append to \"%s\": %s", table,
				   duckdb_appender_error(a->app));
	a->con = con;
	a->ntypes = duckdb_appender_column_count(a->app);
	if ((int)a->ntypes != t->def->ncols)
		return pgw_err_set(err, PGW_ERR_WAREHOUSE,
				   "DuckDB table \"%s\" has %llu columns, PostgreSQL has %d; run reload", t->name,
				   (unsigned long long)a->ntypes, t->def->ncols);
	a->types = pgw_calloc(a->ntypes, sizeof(*a->types));
	for (idx_t i = 0; i < a->ntypes; i++)
		a->types[i] = duckdb_appender_column_type(a->app, i);
	a->chunk = duckdb_create_data_chunk(a->types, a->ntypes);
	return 0;
}

/* DuckDB keeps the large strings of a row group in memory until it is checkpointed, and pins
 * all of them to write it (measured with 1.4.4: 48 values of 16 MB fail under a 64 MB cap, even
 * committed two rows at a time). So the cap grows with the large values loaded in this process:
 * the configured cap plus those bytes and a quarter more. It never shrinks during a run. */

static size_t large_bytes(const struct pgw_batch *b)
{
	size_t sum = 0;
	for (int i = 0; i < b->ncols; i++) {
		const struct pgw_column *c = &b->cols[i];
		enum pgw_type t = c->type->type;
		if ((t != PGW_T_TEXT && t != PGW_T_BYTES && t != PGW_T_JSON) || c->arena_len < LARGE_VALUE)
			continue;
		for (size_t r = 0; r < b->rows; r++) {
			size_t len;
			pgw_col_str(c, r, &len);
			if (c->valid[r] && len >= LARGE_VALUE)
				sum += len;
		}
	}
	return sum;
}

static int make_room(duckdb_connection con, const struct pgw_batch *b, struct pgw_err *err)
{
	size_t large = large_bytes(b);
	if (!large)
		return 0;
	pthread_mutex_lock(&room_mu);
	room_large += (long long)large;
	long long want = room_base + room_large + room_large / 4;
	int rc = 0;
	if (room_base >= 0 && want > room_set) {
		char sql[96];
		snprintf(sql, sizeof(sql), "SET memory_limit = '%lldMB'", want / 1000000 + 1);
		pgw_debug("duckdb: %s (large values)", sql);
		if ((rc = pgw_duck_exec(con, sql, err)) == 0)
			room_set = want;
	}
	pthread_mutex_unlock(&room_mu);
	return rc;
}

static int appender_write(struct duck_appender *a, const char *table, const struct pgw_batch *b, struct pgw_err *err)
{
	if (!b->rows)
		return 0;
	duckdb_data_chunk_reset(a->chunk);
	for (int i = 0; i < b->ncols; i++) {
		duckdb_vector v = duckdb_data_chunk_get_vector(a->chunk, (idx_t)i);
		if (pgw_duck_fill_vector(v, a->types[i], &b->cols[i], b->rows, err) < 0)
			return -1;
	}
	duckdb_data_chunk_set_size(a->chunk, b->rows);
	if (duckdb_append_data_chunk(a->app, a->chunk) != DuckDBSuccess)
		return pgw_err_set(err, PGW_ERR_WAREHOUSE, "DuckDB: appending to \"%s\" failed: %s", table,
				   duckdb_appender_error(a->app));
	if (make_room(a->con, b, err) < 0)
		return -1;
	/* by bytes, not DuckDB's row count: with big values that many rows are gigabytes */
	a->unflushed += pgw_batch_bytes(b);
	if (a->unflushed >= APPENDER_FLUSH_BYTES) {
		a->unflushed = 0;
		if (duckdb_appender_flush(a->app) != DuckDBSuccess)
			return pgw_err_set(err, PGW_ERR_WAREHOUSE, "DuckDB: appending to \"%s\" failed: %s", table,
					   duckdb_appender_error(a->app));
	}
	return 0;
}

/* Flushes what the appender holds; COMMIT alone would not. */
static int appender_close(struct duck_appender *a, const char *table, struct pgw_err *err)
{
	if (duckdb_appender_close(a->app) != DuckDBSuccess)
		return pgw_err_set(err, PGW_ERR_WAREHOUSE, "DuckDB: loading \"%s\" failed: %s", table,
				   duckdb_appender_error(a->app));
	return 0;
}

static int duck_begin(struct pgw_sink *base, const struct pgw_target *t, enum pgw_load_mode mode, struct pgw_err *err)
{
	struct duck_sink *s = (struct duck_sink *)base;
	s->target = *t;
	s->mode = mode;
	s->shared = false;
	if (pgw_duck_exec(s->con, "BEGIN TRANSACTION", err) < 0)
		return -1;
	s->in_txn = true;
	static const char *const kinds[] = {
		[PGW_LOAD_REPLACE] = "new", [PGW_LOAD_UPSERT] = "stage", [PGW_LOAD_CHANGES] = "changes"};
	if (mode == PGW_LOAD_APPEND)
		s->load_name = pgw_strdup(t->name);
	else
		s->load_name = pgw_asprintf(PGW_INTERNAL_PREFIX "%s_%s", kinds[mode], t->name);
	struct pgw_target staged = *t; /* changes are staged in their own layout */
	if (mode == PGW_LOAD_CHANGES)
		staged.def = t->stage_def;
	if ((mode != PGW_LOAD_APPEND && create_helper(s, &staged, s->load_name, err) < 0) ||
	    appender_open(&s->ap, s->con, &staged, s->load_name, err) < 0) {
		duck_abort(base);
		return -1;
	}
	return 0;
}

/* Other connections see the helper table only once it is committed (empty): from then on a
 * crash can leave it behind, and the next load of the table drops it. */
static int share_helper(struct duck_sink *s, struct pgw_err *err)
{
	appender_free(&s->ap);
	int rc = pgw_duck_exec(s->con, "COMMIT", err);
	s->in_txn = false;
	s->shared = true;
	if (rc == 0 && (rc = pgw_duck_exec(s->con, "BEGIN TRANSACTION", err)) == 0)
		s->in_txn = true;
	return rc < 0 ? -1 : appender_open(&s->ap, s->con, &s->target, s->load_name, err);
}

static int duck_write(struct pgw_sink *base, const struct pgw_batch *b, struct pgw_err *err)
{
	struct duck_sink *s = (struct duck_sink *)base;
	return appender_write(&s->ap, s->target.name, b, err);
}

static int duck_writer_open(struct pgw_sink *base, struct pgw_sink_writer **out, struct pgw_err *err)
{
	struct duck_sink *s = (struct duck_sink *)base;
	if (s->mode != PGW_LOAD_REPLACE)
		return pgw_err_set(err, PGW_ERR_INTERNAL, "DuckDB: parallel writers serve only reloads");
	if (!s->shared && share_helper(s, err) < 0)
		return -1;
	struct pgw_sink_writer *w = pgw_calloc(1, sizeof(*w));
	w->s = s;
	int rc = 0;
	if (duckdb_connect(s->db, &w->con) != DuckDBSuccess)
		rc = pgw_err_set(err, PGW_ERR_WAREHOUSE, "DuckDB: cannot open another connection to %s", s->path);
	if (rc == 0)
		rc = pgw_duck_exec(w->con, "BEGIN TRANSACTION", err);
	if (rc == 0)
		rc = appender_open(&w->ap, w->con, &s->target, s->load_name, err);
	if (rc < 0) {
		appender_free(&w->ap);
		if (w->con)
			duckdb_disconnect(&w->con);
		free(w);
		return -1;
	}
	*out = w;
	return 0;
}

static int duck_writer_write(struct pgw_sink_writer *w, const struct pgw_batch *b, struct pgw_err *err)
{
	return appender_write(&w->ap, w->s->target.name, b, err);
}

static int duck_writer_close(struct pgw_sink_writer *w, bool ok, struct pgw_err *err)
{
	int rc = ok ? appender_close(&w->ap, w->s->target.name, err) : -1;
	appender_free(&w->ap);
	if (rc == 0)
		rc = pgw_duck_exec(w->con, "COMMIT", err);
	else
		pgw_duck_exec(w->con, "ROLLBACK", NULL);
	duckdb_disconnect(&w->con);
	free(w);
	return ok ? rc : 0;
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

/* WHERE n.k1 = t.k1 AND ... between the stage (n) and the table */
static void key_match(struct pgw_buf *sql, const struct pgw_target *t, const char *stage_alias, const char *table_sql)
{
	for (int i = 0; i < t->def->npk; i++) {
		const char *col = t->def->cols[t->def->pk[i]].name;
		pgw_buf_printf(sql, "%s%s.", i ? " AND " : "", stage_alias);
		pgw_buf_ident(sql, col);
		pgw_buf_printf(sql, " = %s.", table_sql);
		pgw_buf_ident(sql, col);
	}
}

/* Every column of the stage (n) and the table (o) equal, NULL as NULL (-0 equals 0, as in
 * PostgreSQL's own logical replication of such a table; DuckDB may store a -0 next to a 0 as 0) */
static void row_match(struct pgw_buf *sql, const struct pgw_table_def *def)
{
	for (int c = 0; c < def->ncols; c++) {
		pgw_buf_puts(sql, c ? " AND n." : "n.");
		pgw_buf_ident(sql, def->cols[c].name);
		pgw_buf_puts(sql, " IS NOT DISTINCT FROM o.");
		pgw_buf_ident(sql, def->cols[c].name);
	}
}

/* INSERT INTO the table SELECT the staged columns FROM the stage AS n <rest>, then the stage goes */
static int insert_staged(struct duck_sink *s, struct pgw_buf *sql, const char *rest, struct pgw_err *err)
{
	const struct pgw_target *t = &s->target;
	pgw_buf_puts(sql, "INSERT INTO ");
	qualified(sql, t, t->name);
	pgw_buf_puts(sql, " SELECT ");
	for (int c = 0; c < t->def->ncols; c++) {
		pgw_buf_puts(sql, c ? ", n." : "n.");
		pgw_buf_ident(sql, t->def->cols[c].name);
	}
	pgw_buf_puts(sql, " FROM ");
	qualified(sql, t, s->load_name);
	pgw_buf_printf(sql, " AS n%s", rest);
	if (exec_buf(s, sql, err) < 0)
		return -1;
	pgw_buf_puts(sql, "DROP TABLE ");
	qualified(sql, t, s->load_name);
	return exec_buf(s, sql, err);
}

/* A keyless table's staged rows: as many copies of each as it says go (the first ones found), then
 * as many as come */
static int apply_counts(struct duck_sink *s, struct pgw_buf *sql, struct pgw_err *err)
{
	const struct pgw_target *t = &s->target;
	pgw_buf_puts(sql, "DELETE FROM ");
	qualified(sql, t, t->name);
	pgw_buf_puts(sql, " WHERE rowid IN (SELECT rid FROM (SELECT o.rowid AS rid, n._pgw_op AS k, row_number() "
			  "OVER (PARTITION BY n._pgw_keep ORDER BY o.rowid) AS r FROM ");
	qualified(sql, t, t->name);
	pgw_buf_puts(sql, " AS o JOIN ");
	qualified(sql, t, s->load_name);
	pgw_buf_puts(sql, " AS n ON ");
	row_match(sql, t->def);
	pgw_buf_puts(sql, " WHERE n._pgw_op < 0) WHERE r <= -k)");
	if (exec_buf(s, sql, err) < 0)
		return -1;
	return insert_staged(s, sql, ", range(n._pgw_op) WHERE n._pgw_op > 0", err);
}

/* Net changes staged for one table: kept columns filled from the current rows, the staged keys
 * deleted, the upserted rows inserted, the stage dropped (all in the load's transaction). */
static int apply_changes(struct duck_sink *s, struct pgw_buf *sql, struct pgw_err *err)
{
	const struct pgw_target *t = &s->target;
	if (t->truncate_first) {
		pgw_buf_puts(sql, "DELETE FROM ");
		qualified(sql, t, t->name);
		if (exec_buf(s, sql, err) < 0)
			return -1;
	}
	if (!t->def->npk)
		return apply_counts(s, sql, err);
	for (int c = 0; t->keep_cols && c < t->def->ncols; c++) {
		if (!t->keep_cols[c])
			continue;
		pgw_buf_puts(sql, "UPDATE ");
		qualified(sql, t, s->load_name);
		pgw_buf_puts(sql, " AS n SET ");
		pgw_buf_ident(sql, t->def->cols[c].name);
		pgw_buf_puts(sql, " = o.");
		pgw_buf_ident(sql, t->def->cols[c].name);
		pgw_buf_puts(sql, " FROM ");
		qualified(sql, t, t->name);
		pgw_buf_printf(sql, " AS o WHERE n._pgw_keep LIKE '%%,%d,%%' AND ", c);
		key_match(sql, t, "n", "o");
		if (exec_buf(s, sql, err) < 0)
			return -1;
	}
	pgw_buf_puts(sql, "DELETE FROM ");
	qualified(sql, t, t->name);
	pgw_buf_puts(sql, " AS o WHERE EXISTS (SELECT 1 FROM ");
	qualified(sql, t, s->load_name);
	pgw_buf_puts(sql, " AS n WHERE ");
	key_match(sql, t, "n", "o");
	pgw_buf_puts(sql, ")");
	if (exec_buf(s, sql, err) < 0)
		return -1;
	char upserts[48];
	snprintf(upserts, sizeof(upserts), " WHERE n._pgw_op = %d", PGW_OP_UPSERT);
	return insert_staged(s, sql, upserts, err);
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
	pgw_buf_init(&sql);
	int rc = appender_close(&s->ap, s->target.name, err);
	if (rc == 0 && s->mode == PGW_LOAD_REPLACE && s->shared) {
		/* a new transaction, which sees what parallel writers committed */
		rc = pgw_duck_exec(s->con, "COMMIT", err);
		s->in_txn = false;
		if (rc == 0 && (rc = pgw_duck_exec(s->con, "BEGIN TRANSACTION", err)) == 0)
			s->in_txn = true;
		if (rc == 0)
			rc = swap_in(s, &sql, err);
	} else if (rc == 0 && s->mode == PGW_LOAD_REPLACE) {
		rc = swap_in(s, &sql, err);
	} else if (rc == 0 && s->mode == PGW_LOAD_UPSERT) {
		rc = merge_stage(s, &sql, err);
	} else if (rc == 0 && s->mode == PGW_LOAD_CHANGES) {
		rc = apply_changes(s, &sql, err);
	}
	if (rc == 0 && s->target.commit_sql)
		rc = pgw_duck_exec(s->con, s->target.commit_sql, err);
	if (rc == 0 && s->mode == PGW_LOAD_CHANGES)
		pgw_failpoint("apply-before-commit"); /* tests: all applied, not committed */
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

static int duck_fork(struct pgw_sink *base, struct pgw_sink **out, struct pgw_err *err)
{
	struct duck_sink *parent = (struct duck_sink *)base;
	struct duck_sink *s = pgw_calloc(1, sizeof(*s));
	s->base.ops = parent->base.ops;
	s->base.pghash = parent->base.pghash; /* registered in the database, seen by its connections */
	s->base.decimal_text = parent->base.decimal_text;
	s->db = parent->db;
	s->path = pgw_strdup(parent->path);
	if (duckdb_connect(s->db, &s->con) != DuckDBSuccess || pgw_duck_exec(s->con, "SET TimeZone = 'UTC'", err) < 0) {
		duck_close(&s->base);
		return pgw_err_set(err, PGW_ERR_WAREHOUSE, "cannot open another connection to DuckDB file %s",
				   parent->path);
	}
	*out = &s->base;
	return 0;
}

static int duck_sql(struct pgw_sink *base, const char *sql, struct pgw_rows *out, struct pgw_err *err)
{
	struct duck_sink *s = (struct duck_sink *)base;
	if (!out)
		return pgw_duck_exec(s->con, sql, err);
	struct pgw_duck_rows r;
	if (pgw_duck_select(s->con, sql, 0, NULL, &r, err) < 0)
		return -1;
	*out = (struct pgw_rows){.nrows = r.nrows, .ncols = r.ncols, .cells = r.cells};
	return 0;
}

static void duck_own_table(struct pgw_sink *base, struct pgw_buf *b, const char *name)
{
	(void)base;
	struct pgw_target t = {0};
	qualified(b, &t, name);
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

static void duck_relation(struct pgw_sink *s, const struct pgw_target *t, struct pgw_buf *b)
{
	(void)s;
	qualified(b, t, t->name);
}

static bool duck_keeps_pg_text(struct pgw_sink *s, const struct pgw_typeinfo *ti)
{
	(void)s;
	(void)ti;
	return false;
}

static bool duck_holds_text(struct pgw_sink *s, const struct pgw_typeinfo *ti)
{
	(void)s;
	return ti->type == PGW_T_TEXT || ti->type == PGW_T_JSON;
}

const struct pgw_sink_ops pgw_duckdb_sink = {
	.name = "duckdb",
	.dialect = PGW_SQL_DUCKDB,
	.sql = duck_sql,
	.literal = pgw_buf_literal,
	.own_table = duck_own_table,
	.open = duck_open,
	.close = duck_close,
	.inspect = duck_inspect,
	.watermark = duck_watermark,
	.holds_text = duck_holds_text,
	.relation = duck_relation,
	.ident = pgw_buf_ident,
	.keeps_pg_text = duck_keeps_pg_text,
	.begin = duck_begin,
	.write = duck_write,
	.commit = duck_commit,
	.abort = duck_abort,
	.list = duck_list,
	.writer_open = duck_writer_open,
	.writer_write = duck_writer_write,
	.writer_close = duck_writer_close,
	.fork = duck_fork,
};
