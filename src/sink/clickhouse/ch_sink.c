/* The ClickHouse sink: MergeTree tables ordered by the primary key; every load goes to a helper
 * table first (a failed INSERT keeps the blocks before the bad row), then moves:
 *   reload  -> EXCHANGE TABLES (or a multi-table RENAME on old servers)
 *   append  -> INSERT ... SELECT ... ORDER BY key (a crash leaves a prefix in key order)
 *   upsert  -> a new copy = old rows without the staged keys + the staged rows, then swapped in
 *              (old servers: a copy linked from one partition replaces it, REPLACE PARTITION)
 *   changes -> the same, with the staged deletes left out and kept columns filled from the old rows
 *              (a keyless table: the rows grouped with the staged counts), and the position
 *              swapped in with it (ch_commit.c)
 * ClickHouse has no transactions: a target's commit_sql runs after the swap. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/interrupt.h"
#include "core/log.h"
#include "sink/clickhouse/ch_internal.h"

#define FLUSH_BYTES (16u << 20) /* one INSERT request per 16 MB of rows */
/* chDB parses in pgwarehouse's memory: 4 MB inserts kept the 2M-row bench reload's peak RSS at
 * 430 MB (16 MB: 480 MB, as fast; 1 MB: 20% slower) */
#define FLUSH_BYTES_EMBEDDED (4u << 20)

/* Rows are encoded into a chunk per COPY stream (copy_streams: at most 16), so that an INSERT holds
 * one stream's rows in the order PostgreSQL's heap gave them, most often the key's. The server
 * writes a block it finds sorted by the table's key as it is; one made of two streams' rows it
 * sorts, then permutes every column: on the bench table 82% of the parts of a 2-stream reload
 * into 18.16 were unsorted, and the server's CPU a quarter higher than with one stream. */
#define CHUNKS 16

/* One INSERT in flight on a thread of its own, so reading PostgreSQL and encoding the next chunk
 * go on while ClickHouse parses this one. */
struct ch_send {
	pthread_t thread;
	bool running;
	struct ch_conn *conn;
	char *table_sql;
	struct pgw_buf data;
	int rc;
	struct pgw_err err;
};

struct ch_sink {
	struct pgw_sink base;
	const struct pgw_config *cfg; /* borrowed: for fork */
	bool embedded;
	struct ch_conn *conn;
	struct ch_features f;
	struct pgw_target target;
	enum pgw_load_mode mode;
	bool target_exists;
	bool trimmed; /* chDB's start-up pages released, once, before change loads */
	char *load_name;
	struct pgw_buf rows[CHUNKS]; /* encoded rows not yet sent, per stream */
	size_t flush_bytes;	     /* a chunk's size: FLUSH_BYTES, or FLUSH_BYTES_EMBEDDED */
	struct ch_send send;
};

extern const struct pgw_sink_ops pgw_clickhouse_sink;

static const char *db_of(struct ch_sink *s, const struct pgw_target *t)
{
	return t->schema ? t->schema : s->conn->database;
}

/* " database = 'db' AND table = 'name'": a condition on ClickHouse's system tables */
static void system_of(struct pgw_buf *b, const char *db, const char *name)
{
	pgw_buf_puts(b, " database = ");
	pgw_ch_literal(b, db, strlen(db));
	pgw_buf_puts(b, " AND table = ");
	pgw_ch_literal(b, name, strlen(name));
}

static void qualified(struct pgw_buf *b, struct ch_sink *s, const struct pgw_target *t, const char *name)
{
	pgw_ch_ident(b, db_of(s, t));
	pgw_buf_puts(b, ".");
	pgw_ch_ident(b, name);
}

static int run(struct ch_sink *s, struct pgw_buf *sql, bool idempotent, struct pgw_err *err)
{
	int rc = s->conn->exec(s->conn, sql->data, NULL, idempotent, err);
	pgw_buf_reset(sql);
	return rc;
}

static void *send_main(void *arg)
{
	struct ch_send *snd = arg;
	snd->rc = snd->conn->insert(snd->conn, snd->table_sql, snd->data.data, snd->data.len, &snd->err);
	return NULL;
}

/* Waits for the INSERT in flight, if any; returns its outcome. */
static int send_wait(struct ch_sink *s, struct pgw_err *err)
{
	struct ch_send *snd = &s->send;
	if (!snd->running)
		return 0;
	pthread_join(snd->thread, NULL);
	snd->running = false;
	free(snd->table_sql);
	snd->table_sql = NULL;
	if (snd->rc < 0 && err)
		*err = snd->err;
	return snd->rc;
}

static int ch_open(const struct pgw_config *cfg, struct pgw_sink **out, struct pgw_err *err)
{
	struct ch_sink *s = pgw_calloc(1, sizeof(*s));
	s->base.ops = &pgw_clickhouse_sink;
	for (int i = 0; i < CHUNKS; i++)
		pgw_buf_init(&s->rows[i]);
	bool embedded = cfg->clickhouse_host && !strcmp(cfg->clickhouse_host, "embedded");
	s->cfg = cfg;
	s->embedded = embedded;
	s->flush_bytes = embedded ? FLUSH_BYTES_EMBEDDED : FLUSH_BYTES;
	if (getenv("PGW_CLICKHOUSE_FLUSH_BYTES")) /* tests: many INSERTs from a small table */
		s->flush_bytes = (size_t)strtoull(getenv("PGW_CLICKHOUSE_FLUSH_BYTES"), NULL, 10);
	if ((embedded ? pgw_ch_chdb_open(cfg, &s->conn, err) : pgw_ch_http_open(cfg, &s->conn, err)) < 0) {
		free(s);
		return -1;
	}
	struct pgw_buf v;
	pgw_buf_init(&v);
	if (s->conn->exec(s->conn, "SELECT version()", &v, true, err) < 0) {
		pgw_buf_cleanup(&v);
		pgw_clickhouse_sink.close(&s->base);
		return -1;
	}
	if (!embedded)
		pgw_ch_http_stop_orphans(s->conn);
	pgw_ch_features(v.data ? v.data : "0.0", &s->f);
	s->base.change_load_copies = !s->f.lwdelete;
	/* toString prints a decimal's trailing zeros before 21.9 and not since; toDecimalString (23.3)
	 * prints them */
	bool v21_9 = s->f.major > 21 || (s->f.major == 21 && s->f.minor >= 9);
	bool v23_3 = s->f.major > 23 || (s->f.major == 23 && s->f.minor >= 3);
	s->base.decimal_text = !v21_9  ? PGW_DECIMAL_TEXT_CAST
			       : v23_3 ? PGW_DECIMAL_TEXT_TO_DECIMAL_STRING
				       : PGW_DECIMAL_TEXT_NONE;
	pgw_debug("clickhouse: server %.*s%s", (int)strcspn(v.data ? v.data : "", "\n"), v.data ? v.data : "",
		  s->f.modern ? "" : " (old: dates and timestamps kept as text)");
	pgw_buf_cleanup(&v);
	*out = &s->base;
	return 0;
}

/* A helper's name made free for a CREATE or RENAME (see pgw_ch_clear_name) */
static void clear_name(struct ch_sink *s, const struct pgw_target *t, const char *name)
{
	struct pgw_buf q;
	pgw_buf_init(&q);
	qualified(&q, s, t, name);
	pgw_ch_clear_name(s->conn, &s->f, q.data);
	pgw_buf_cleanup(&q);
}

static void drop_quietly(struct ch_sink *s, const struct pgw_target *t, const char *name)
{
	struct pgw_buf q;
	pgw_buf_init(&q);
	qualified(&q, s, t, name);
	pgw_ch_drop_quietly(s->conn, q.data);
	pgw_buf_cleanup(&q);
}

static void reset_rows(struct ch_sink *s)
{
	for (int i = 0; i < CHUNKS; i++)
		pgw_buf_reset(&s->rows[i]);
}

static void ch_abort(struct pgw_sink *base)
{
	struct ch_sink *s = (struct ch_sink *)base;
	send_wait(s, NULL);
	if (s->load_name) {
		if (s->mode != PGW_LOAD_APPEND || strcmp(s->load_name, s->target.name))
			drop_quietly(s, &s->target, s->load_name);
		free(s->load_name);
		s->load_name = NULL;
	}
	reset_rows(s);
}

static void ch_close(struct pgw_sink *base)
{
	struct ch_sink *s = (struct ch_sink *)base;
	if (!s)
		return;
	ch_abort(base);
	for (int i = 0; i < CHUNKS; i++)
		pgw_buf_cleanup(&s->rows[i]);
	pgw_buf_cleanup(&s->send.data);
	if (s->conn)
		s->conn->close(s->conn);
	free(s);
}

/* Reads one TabSeparated field starting at *p (unescaping); NULL for \N. */
static char *tsv_field(const char **p)
{
	if ((*p)[0] == '\\' && (*p)[1] == 'N' && ((*p)[2] == '\t' || (*p)[2] == '\n' || !(*p)[2])) {
		*p += 2;
		return NULL;
	}
	struct pgw_buf b;
	pgw_buf_init(&b);
	pgw_buf_add(&b, "", 0);
	for (; **p && **p != '\t' && **p != '\n'; (*p)++) {
		char ch = **p;
		if (ch == '\\' && (*p)[1]) {
			(*p)++;
			static const char from[] = "tnr0bf", to[] = "\t\n\r\0\b\f";
			const char *k = strchr(from, **p);
			ch = k ? to[k - from] : **p;
		}
		pgw_buf_add(&b, &ch, 1);
	}
	return pgw_buf_steal(&b);
}

int pgw_ch_rows(struct ch_conn *conn, const char *sql, int ncols, char ***cells, int *nrows, struct pgw_err *err)
{
	struct pgw_buf out;
	pgw_buf_init(&out);
	*cells = NULL;
	*nrows = 0;
	if (conn->exec(conn, sql, &out, true, err) < 0) {
		pgw_buf_cleanup(&out);
		return -1;
	}
	const char *p = out.data ? out.data : "";
	while (*p) {
		*cells = pgw_realloc(*cells, sizeof(char *) * (size_t)(*nrows + 1) * (size_t)ncols);
		for (int c = 0; c < ncols; c++) {
			(*cells)[*nrows * ncols + c] = tsv_field(&p);
			if (*p == '\t')
				p++;
		}
		(*nrows)++;
		if (*p == '\n')
			p++;
	}
	pgw_buf_cleanup(&out);
	return 0;
}

static void free_cells(char **cells, int n)
{
	for (int i = 0; i < n; i++)
		free(cells[i]);
	free(cells);
}

static int ch_inspect(struct pgw_sink *base, const struct pgw_target *t, struct pgw_wh_state *st, struct pgw_err *err)
{
	struct ch_sink *s = (struct ch_sink *)base;
	struct pgw_buf sql, want, have;
	pgw_buf_init(&sql);
	pgw_buf_init(&want);
	pgw_buf_init(&have);
	pgw_buf_puts(&sql, "SELECT name, type FROM system.columns WHERE");
	system_of(&sql, db_of(s, t), t->name);
	char **cells;
	int n;
	int rc = pgw_ch_rows(s->conn, sql.data, 2, &cells, &n, err);
	if (rc == 0) {
		for (int i = 0; i < n; i++)
			pgw_buf_printf(&have, "%s %s\n", cells[2 * i], cells[2 * i + 1]);
		for (int i = 0; i < t->def->ncols; i++) {
			pgw_buf_printf(&want, "%s ", t->def->cols[i].name);
			pgw_ch_type_sql(&want, &s->f, &t->def->cols[i]);
			pgw_buf_puts(&want, "\n");
		}
		st->exists = n > 0;
		st->same_shape = n > 0 && have.len == want.len && !memcmp(have.data, want.data, have.len);
		st->ours = st->same_shape;
		st->unmarked = true; /* no table comments on old servers: the run log tells (see plan.c) */
		char **names = pgw_calloc((size_t)n + 1, sizeof(char *));
		for (int i = 0; i < n; i++)
			names[i] = cells[2 * i];
		st->same_columns = pgw_same_column_names(t->def, names, n);
		free(names);
		free_cells(cells, 2 * n);
	}
	pgw_buf_cleanup(&sql);
	pgw_buf_cleanup(&want);
	pgw_buf_cleanup(&have);
	return rc;
}

static void watermark_expr(struct ch_sink *s, struct pgw_buf *b, const struct pgw_coldef *c, bool *pgtext)
{
	struct pgw_buf id;
	pgw_buf_init(&id);
	pgw_ch_ident(&id, c->name);
	*pgtext = pgw_ch_store(&s->f, c->ti.type) == CH_AS_TEXT;
	if (*pgtext)
		pgw_buf_puts(b, id.data);
	else if (c->ti.type == PGW_T_DATE)
		pgw_buf_printf(b, "toString(toInt32(%s))", id.data);
	else if (c->ti.type == PGW_T_TIMESTAMP || c->ti.type == PGW_T_TIMESTAMPTZ)
		pgw_buf_printf(b, "toString(toUnixTimestamp64Micro(%s))", id.data);
	else if (c->ti.type == PGW_T_BYTES)
		pgw_buf_printf(b, "hex(%s)", id.data);
	else
		pgw_buf_printf(b, "toString(%s)", id.data);
	pgw_buf_cleanup(&id);
}

static int ch_watermark(struct pgw_sink *base, const struct pgw_target *t, const int *cols, int ncols, char ***vals,
			bool *pgtext, bool *found, struct pgw_err *err)
{
	struct ch_sink *s = (struct ch_sink *)base;
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	/* the text of the one row found, not of every row (10M rows on 18.16: 110 ms instead of 200) */
	pgw_buf_puts(&sql, "SELECT ");
	for (int i = 0; i < ncols; i++) {
		pgw_buf_puts(&sql, i ? ", " : "");
		watermark_expr(s, &sql, &t->def->cols[cols[i]], &pgtext[i]);
	}
	pgw_buf_puts(&sql, " FROM (SELECT ");
	for (int i = 0; i < ncols; i++) {
		pgw_buf_puts(&sql, i ? ", " : "");
		pgw_ch_ident(&sql, t->def->cols[cols[i]].name);
	}
	pgw_buf_puts(&sql, " FROM ");
	qualified(&sql, s, t, t->name);
	pgw_buf_puts(&sql, " WHERE ");
	for (int i = 0; i < ncols; i++) {
		pgw_buf_puts(&sql, i ? " AND isNotNull(" : "isNotNull(");
		pgw_ch_ident(&sql, t->def->cols[cols[i]].name);
		pgw_buf_puts(&sql, ")");
	}
	pgw_buf_puts(&sql, " ORDER BY ");
	for (int i = 0; i < ncols; i++) {
		bool uuid = t->def->cols[cols[i]].ti.type == PGW_T_UUID; /* ClickHouse orders UUIDs by halves */
		pgw_buf_puts(&sql, i ? ", " : "");
		pgw_buf_puts(&sql, uuid ? "toString(" : "");
		pgw_ch_ident(&sql, t->def->cols[cols[i]].name);
		pgw_buf_puts(&sql, uuid ? ") DESC" : " DESC");
	}
	pgw_buf_puts(&sql, " LIMIT 1) FORMAT TabSeparated");
	char **cells;
	int n;
	int rc = pgw_ch_rows(s->conn, sql.data, ncols, &cells, &n, err);
	pgw_buf_cleanup(&sql);
	if (rc < 0)
		return -1;
	*found = n > 0;
	*vals = NULL;
	if (*found) {
		*vals = cells;
		for (int i = ncols; i < n * ncols; i++)
			free(cells[i]);
	} else {
		free(cells);
	}
	return 0;
}

/* The layout rows are written in: the stage of changes has two more columns */
static const struct pgw_table_def *load_def(const struct ch_sink *s)
{
	return s->mode == PGW_LOAD_CHANGES ? s->target.stage_def : s->target.def;
}

static void key_columns(struct pgw_buf *sql, const struct pgw_table_def *def)
{
	for (int i = 0; i < def->npk; i++) {
		pgw_buf_puts(sql, i ? ", " : "");
		pgw_ch_ident(sql, def->cols[def->pk[i]].name);
	}
}

static void key_list(struct pgw_buf *sql, const struct pgw_table_def *def)
{
	pgw_buf_puts(sql, "(");
	key_columns(sql, def);
	pgw_buf_puts(sql, ")");
}

static void create_sql(struct ch_sink *s, struct pgw_buf *sql, const struct pgw_target *t,
		       const struct pgw_table_def *def, const char *name)
{
	pgw_buf_puts(sql, "CREATE TABLE ");
	qualified(sql, s, t, name);
	pgw_buf_puts(sql, " (");
	for (int i = 0; i < def->ncols; i++) {
		pgw_buf_puts(sql, i ? ", " : "");
		pgw_ch_ident(sql, def->cols[i].name);
		pgw_buf_puts(sql, " ");
		pgw_ch_type_sql(sql, &s->f, &def->cols[i]);
	}
	pgw_buf_puts(sql, ") ENGINE = MergeTree ORDER BY ");
	if (def->npk)
		key_list(sql, def);
	else
		pgw_buf_puts(sql, "tuple()");
	/* In-process, a background merge's memory is pgwarehouse's: merged column by column rather
	 * than with every column's readers at once, a merge that ran beside a change load's DELETE
	 * took 20 MB instead of 50-100 (bench/cdc_bench.sh's catch-up, with the trims: peak RSS
	 * 257-277 -> 219-223 MB; a 5M-row reload: 455-463 -> 326-336 MB, no slower) */
	if (s->embedded)
		pgw_buf_puts(sql, " SETTINGS vertical_merge_algorithm_min_rows_to_activate = 1, "
				  "vertical_merge_algorithm_min_columns_to_activate = 1");
}

static bool table_exists(struct ch_sink *s, const struct pgw_target *t, struct pgw_err *err, int *rc)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "EXISTS TABLE ");
	qualified(&sql, s, t, t->name);
	char **cells;
	int n;
	*rc = pgw_ch_rows(s->conn, sql.data, 1, &cells, &n, err);
	bool yes = *rc == 0 && n == 1 && cells[0] && !strcmp(cells[0], "1");
	if (*rc == 0)
		free_cells(cells, n);
	pgw_buf_cleanup(&sql);
	return yes;
}

/* Changes (a repair's or the stream's) would pile up on top of the pages chDB's start-up touched */
static void trim_start_up(struct ch_sink *s)
{
	if (s->conn->trim && !s->trimmed) {
		s->trimmed = true;
		s->conn->trim(s->conn, true);
	}
}

static int ch_begin(struct pgw_sink *base, const struct pgw_target *t, enum pgw_load_mode mode, struct pgw_err *err)
{
	struct ch_sink *s = (struct ch_sink *)base;
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	s->target = *t;
	s->mode = mode;
	reset_rows(s);
	if (mode == PGW_LOAD_CHANGES)
		trim_start_up(s);
	int rc = 0;
	if (t->schema) {
		pgw_buf_puts(&sql, "CREATE DATABASE IF NOT EXISTS ");
		pgw_ch_ident(&sql, t->schema);
		rc = run(s, &sql, true, err);
	}
	s->target_exists = rc == 0 && table_exists(s, t, err, &rc);
	s->load_name = pgw_asprintf(PGW_INTERNAL_PREFIX "%s_%s", mode == PGW_LOAD_REPLACE ? "new" : "stage", t->name);
	if (rc == 0) /* left over by a run that was killed */
		clear_name(s, t, s->load_name);
	if (rc == 0) {
		create_sql(s, &sql, t, load_def(s), s->load_name);
		rc = run(s, &sql, false, err);
	}
	pgw_buf_cleanup(&sql);
	if (rc < 0)
		ch_abort(base);
	return rc;
}

/* Hands chunk i's rows to the sender thread (after the previous INSERT finished). */
static int flush(struct ch_sink *s, int i, struct pgw_err *err)
{
	if (send_wait(s, err) < 0)
		return -1;
	if (!s->rows[i].len)
		return 0;
	struct ch_send *snd = &s->send;
	struct pgw_buf name;
	pgw_buf_init(&name);
	qualified(&name, s, &s->target, s->load_name);
	snd->table_sql = pgw_buf_steal(&name);
	snd->conn = s->conn;
	struct pgw_buf t = snd->data; /* swap buffers: keep both allocations */
	snd->data = s->rows[i];
	s->rows[i] = t;
	pgw_buf_reset(&s->rows[i]);
	memset(&snd->err, 0, sizeof(snd->err));
	if (pthread_create(&snd->thread, NULL, send_main, snd) != 0) {
		snd->rc = snd->conn->insert(snd->conn, snd->table_sql, snd->data.data, snd->data.len, err);
		free(snd->table_sql);
		snd->table_sql = NULL;
		return snd->rc;
	}
	snd->running = true;
	return 0;
}

/* A chunk is sent when it holds FLUSH_BYTES; with many streams, the largest one is sent when all
 * hold twice that, which bounds the memory whatever copy_streams says. */
static int ch_write(struct pgw_sink *base, const struct pgw_batch *b, struct pgw_err *err)
{
	struct ch_sink *s = (struct ch_sink *)base;
	int i = b->stream % CHUNKS, largest = 0;
	size_t limit = s->flush_bytes, buffered = 0;
	if (pgw_ch_native(&s->rows[i], b, load_def(s), &s->f, err) < 0)
		return -1;
	if (s->rows[i].len >= limit)
		return flush(s, i, err);
	for (int j = 0; j < CHUNKS; j++) {
		buffered += s->rows[j].len;
		largest = s->rows[j].len > s->rows[largest].len ? j : largest;
	}
	if (buffered < 2 * limit)
		return 0;
	pgw_debug("clickhouse: %zu bytes in the streams' chunks: the largest goes", buffered);
	return flush(s, largest, err);
}

/* Puts table `name` in the target's place, atomically; the old table goes. */
static int swap_in(struct ch_sink *s, const char *name, struct pgw_buf *sql, struct pgw_err *err)
{
	const struct pgw_target *t = &s->target;
	int rc;
	if (!s->target_exists) {
		pgw_buf_puts(sql, "RENAME TABLE ");
		qualified(sql, s, t, name);
		pgw_buf_puts(sql, " TO ");
		qualified(sql, s, t, t->name);
		return run(s, sql, false, err);
	}
	if (s->f.modern) {
		pgw_buf_puts(sql, "EXCHANGE TABLES ");
		qualified(sql, s, t, t->name);
		pgw_buf_puts(sql, " AND ");
		qualified(sql, s, t, name);
		rc = run(s, sql, false, err);
	} else { /* one RENAME of both tables is atomic on old servers */
		char *old = pgw_asprintf(PGW_INTERNAL_PREFIX "old_%s", t->name);
		clear_name(s, t, old);
		pgw_buf_puts(sql, "RENAME TABLE ");
		qualified(sql, s, t, t->name);
		pgw_buf_puts(sql, " TO ");
		qualified(sql, s, t, old);
		pgw_buf_puts(sql, ", ");
		qualified(sql, s, t, name);
		pgw_buf_puts(sql, " TO ");
		qualified(sql, s, t, t->name);
		rc = run(s, sql, false, err);
		name = old;
		if (rc == 0)
			drop_quietly(s, t, name);
		free(old);
		return rc;
	}
	if (rc == 0)
		drop_quietly(s, t, name);
	return rc;
}

static int append_stage(struct ch_sink *s, struct pgw_buf *sql, struct pgw_err *err)
{
	const struct pgw_target *t = &s->target;
	pgw_buf_puts(sql, "INSERT INTO ");
	qualified(sql, s, t, t->name);
	pgw_buf_puts(sql, " SELECT * FROM ");
	qualified(sql, s, t, s->load_name);
	if (t->def->npk) { /* in key order: an interrupted insert leaves a prefix the next run continues */
		pgw_buf_puts(sql, " ORDER BY ");
		key_list(sql, t->def);
	}
	int rc = run(s, sql, false, err);
	if (rc == 0)
		drop_quietly(s, t, s->load_name);
	return rc;
}

/* " WHERE (keys) [NOT] IN (SELECT keys FROM stage)" */
static void where_staged(struct ch_sink *s, struct pgw_buf *sql, bool staged)
{
	const struct pgw_target *t = &s->target;
	pgw_buf_puts(sql, " WHERE ");
	key_list(sql, t->def);
	pgw_buf_puts(sql, staged ? " IN (SELECT " : " NOT IN (SELECT ");
	key_columns(sql, t->def);
	pgw_buf_puts(sql, " FROM ");
	qualified(sql, s, t, s->load_name);
	pgw_buf_puts(sql, ")");
}

/* The current rows whose key is not staged */
static int merge_unstaged(struct ch_sink *s, const char *merged, struct pgw_buf *sql, struct pgw_err *err)
{
	const struct pgw_target *t = &s->target;
	pgw_buf_puts(sql, "INSERT INTO ");
	qualified(sql, s, t, merged);
	pgw_buf_puts(sql, " SELECT * FROM ");
	qualified(sql, s, t, t->name);
	where_staged(s, sql, false);
	return run(s, sql, false, err);
}

/* A mutation runs in the background and 18.16 has no mutations_sync: its parts still to rewrite
 * are polled until none is left. Progress is a part rewritten or rows written by what the server
 * runs on the table (system.merges, where a large part's rewrite shows as it goes); a mutation
 * without either for MUTATION_STALL_S gives up (-1: the caller copies instead, dropping the table
 * and the mutation with it). */
#define MUTATION_STALL_S 300.0

static char *mutation_poll_sql(struct ch_sink *s, const char *merged, struct pgw_buf *sql)
{
	const char *db = db_of(s, &s->target);
	pgw_buf_puts(sql, "SELECT toString(count()), toString(sum(parts_to_do)), toString((SELECT sum(rows_written) "
			  "FROM system.merges WHERE");
	system_of(sql, db, merged);
	pgw_buf_puts(sql, ")) FROM system.mutations WHERE NOT is_done AND");
	system_of(sql, db, merged);
	return pgw_buf_steal(sql);
}

static int mutation_wait(struct ch_sink *s, const char *merged, struct pgw_buf *sql)
{
	char *poll = mutation_poll_sql(s, merged, sql);
	long long last[2] = {-1, -1};
	double since = pgw_now();
	useconds_t nap = 10000;
	int rc;
	for (;;) {
		char **cells = NULL;
		int nrows = 0;
		rc = pgw_ch_rows(s->conn, poll, 3, &cells, &nrows, NULL);
		long long left = rc == 0 && nrows == 1 ? atoll(cells[0]) : -1;
		long long now[2] = {left > 0 ? atoll(cells[1]) : 0, left > 0 ? atoll(cells[2]) : 0};
		free_cells(cells, nrows * 3);
		if (left <= 0) {
			rc = left == 0 ? 0 : -1;
			break;
		}
		if (now[0] != last[0] || now[1] != last[1]) {
			memcpy(last, now, sizeof(last));
			since = pgw_now();
		} else if (pgw_now() - since > MUTATION_STALL_S) {
			pgw_debug("clickhouse: the delete on %s made no progress in %.0f s", merged, MUTATION_STALL_S);
			rc = -1;
			break;
		}
		if (pgw_interrupted()) {
			rc = -1;
			break;
		}
		/* the swap waits for the poll that sees the end: a nap of up to 320 ms cost a mutation
		 * 160 ms on average; a poll costs the server 1-2 ms */
		usleep(nap);
		nap = nap < 50000 ? nap * 2 : 50000;
	}
	free(poll);
	return rc;
}

/* The ids of the partitions that hold table name's active parts */
static int partitions(struct ch_sink *s, const char *name, struct pgw_buf *sql, char ***cells, int *nrows,
		      struct pgw_err *err)
{
	pgw_buf_puts(sql, "SELECT DISTINCT partition_id FROM system.parts WHERE active AND");
	system_of(sql, db_of(s, &s->target), name);
	int rc = pgw_ch_rows(s->conn, sql->data, 1, cells, nrows, err);
	pgw_buf_reset(sql);
	return rc;
}

/* merge_unstaged without copying a row: the current table's parts hard-linked into the new copy
 * (ATTACH PARTITION ... FROM), the staged keys deleted there: on servers from 24.4 by a
 * lightweight DELETE (a mask beside the parts it touches), before by a mutation, which rewrites
 * the parts holding such keys (10M rows on 18.16: 0.7-3.0 s, where copying the rows took 16 s:
 * the copy's blocks came out of key order, to be sorted again, and its parts merged again). The
 * current table stays as it was until the swap, so a killed run leaves it whole, as the copy
 * does; a plain SELECT skips deleted rows. A table made otherwise (another engine, its own
 * partitioning) fails the ATTACH: -1, nothing said, and the caller copies. */
static int link_unstaged(struct ch_sink *s, const char *merged, struct pgw_buf *sql, char **one_partition)
{
	const struct pgw_target *t = &s->target;
	char **cells = NULL;
	int nrows = 0, rc = partitions(s, t->name, sql, &cells, &nrows, NULL);
	for (int r = 0; r < nrows; r++) {
		if (rc == 0 && cells[r]) {
			pgw_buf_puts(sql, "ALTER TABLE ");
			qualified(sql, s, t, merged);
			pgw_buf_puts(sql, " ATTACH PARTITION ID ");
			pgw_ch_literal(sql, cells[r], strlen(cells[r]));
			pgw_buf_puts(sql, " FROM ");
			qualified(sql, s, t, t->name);
			rc = run(s, sql, false, NULL);
		}
		if (rc == 0 && nrows == 1 && cells[r])
			*one_partition = cells[r];
		else
			free(cells[r]);
	}
	free(cells);
	if (rc < 0)
		return -1;
	if (!s->f.lwdelete) {
		pgw_buf_puts(sql, "ALTER TABLE ");
		qualified(sql, s, t, merged);
		pgw_buf_puts(sql, " DELETE");
		where_staged(s, sql, true);
		return run(s, sql, false, NULL) < 0 ? -1 : mutation_wait(s, merged, sql);
	}
	if (s->conn->trim) /* the lightweight DELETE is where chDB's memory peaks */
		s->conn->trim(s->conn, true);
	pgw_buf_puts(sql, "DELETE FROM ");
	qualified(sql, s, t, merged);
	where_staged(s, sql, true);
	pgw_buf_puts(sql, " SETTINGS lightweight_deletes_sync = 2");
	return run(s, sql, false, NULL);
}

/* The staged upserts; a column PostgreSQL sent as unchanged (TOAST) takes the current row's value,
 * joined by key as _pgw_old_<i> */
static int merge_changes(struct ch_sink *s, const char *merged, struct pgw_buf *sql, struct pgw_err *err)
{
	const struct pgw_target *t = &s->target;
	const struct pgw_table_def *def = t->def;
	bool any_kept = false;
	pgw_buf_puts(sql, "INSERT INTO ");
	qualified(sql, s, t, merged);
	pgw_buf_puts(sql, " SELECT ");
	for (int c = 0; c < def->ncols; c++) {
		pgw_buf_puts(sql, c ? ", " : "");
		if (t->keep_cols && t->keep_cols[c]) {
			any_kept = true;
			pgw_buf_printf(sql, "if(position(ifNull(_pgw_keep, ''), ',%d,') > 0, _pgw_old_%d, ", c, c);
			pgw_ch_ident(sql, def->cols[c].name);
			pgw_buf_puts(sql, ")");
		} else {
			pgw_ch_ident(sql, def->cols[c].name);
		}
	}
	pgw_buf_puts(sql, " FROM ");
	qualified(sql, s, t, s->load_name);
	if (any_kept) {
		pgw_buf_puts(sql, " ANY LEFT JOIN (SELECT ");
		key_columns(sql, def);
		for (int c = 0; c < def->ncols; c++)
			if (t->keep_cols[c]) {
				pgw_buf_puts(sql, ", ");
				pgw_ch_ident(sql, def->cols[c].name);
				pgw_buf_printf(sql, " AS _pgw_old_%d", c);
			}
		pgw_buf_puts(sql, " FROM ");
		qualified(sql, s, t, t->name);
		pgw_buf_puts(sql, ") AS _pgw_old USING "); /* the alias: modern servers require one */
		key_list(sql, def);
	}
	pgw_buf_printf(sql, " WHERE _pgw_op = %d", PGW_OP_UPSERT);
	return run(s, sql, false, err);
}

static void column_list(struct pgw_buf *sql, const struct pgw_table_def *def)
{
	for (int c = 0; c < def->ncols; c++) {
		pgw_buf_puts(sql, c ? ", " : "");
		pgw_ch_ident(sql, def->cols[c].name);
	}
}

/* A keyless table (a multiset): the current rows and the staged ones, each staged row counted as
 * many times as it comes (or goes, negative), grouped by every column; each row as many times as
 * its count says. */
static int merge_counts(struct ch_sink *s, const char *merged, struct pgw_buf *sql, struct pgw_err *err)
{
	const struct pgw_target *t = &s->target;
	pgw_buf_puts(sql, "INSERT INTO ");
	qualified(sql, s, t, merged);
	pgw_buf_puts(sql, " SELECT ");
	column_list(sql, t->def);
	pgw_buf_puts(sql, " FROM (SELECT ");
	column_list(sql, t->def);
	pgw_buf_puts(sql, ", sum(_pgw_w) AS _pgw_n FROM (");
	if (!t->truncate_first) {
		pgw_buf_puts(sql, "SELECT ");
		column_list(sql, t->def);
		pgw_buf_puts(sql, ", toInt64(1) AS _pgw_w FROM ");
		qualified(sql, s, t, t->name);
		pgw_buf_puts(sql, " UNION ALL ");
	}
	pgw_buf_puts(sql, "SELECT ");
	column_list(sql, t->def);
	pgw_buf_puts(sql, ", ifNull(_pgw_op, 0) AS _pgw_w FROM ");
	qualified(sql, s, t, s->load_name);
	pgw_buf_puts(sql, ") GROUP BY ");
	column_list(sql, t->def);
	pgw_buf_puts(sql, " HAVING _pgw_n > 0) ARRAY JOIN range(toUInt64(_pgw_n)) AS _pgw_i");
	return run(s, sql, false, err);
}

/* An empty new copy of the target named merged */
static int new_copy(struct ch_sink *s, const char *merged, struct pgw_buf *sql, struct pgw_err *err)
{
	clear_name(s, &s->target, merged);
	create_sql(s, sql, &s->target, s->target.def, merged);
	return run(s, sql, false, err);
}

/* The current rows whose key is not staged, into the new copy: linked where the server can, else
 * copied */
static int unstaged(struct ch_sink *s, const char *merged, struct pgw_buf *sql, char **one_partition,
		    struct pgw_err *err)
{
	if (link_unstaged(s, merged, sql, one_partition) == 0)
		return 0;
	free(*one_partition);
	*one_partition = NULL;
	pgw_debug("clickhouse: %s: parts not linked; copying its rows", s->target.name);
	pgw_buf_reset(sql);
	if (new_copy(s, merged, sql, err) < 0)
		return -1;
	return merge_unstaged(s, merged, sql, err);
}

/* On old servers, a copy whose parts were linked from the table's one partition replaces that
 * partition's parts (REPLACE PARTITION, atomic for one partition) rather than being renamed into
 * the table's place: the server merges the parts a mutation just rewrote at once, and 18.16's
 * RENAME waited for that merge (about a second of a 6M-row repair's 3). Linking succeeded, so the
 * copy has the table's partition key and its rows are all in that partition. The table's old
 * parts go when the server drops outdated parts. 1: not such a case, swap_in instead. */
static int replace_in(struct ch_sink *s, const char *merged, const char *linked, struct pgw_buf *sql,
		      struct pgw_err *err)
{
	const struct pgw_target *t = &s->target;
	if (s->f.modern || !linked)
		return 1;
	pgw_buf_puts(sql, "ALTER TABLE ");
	qualified(sql, s, t, t->name);
	pgw_buf_puts(sql, " REPLACE PARTITION ID ");
	pgw_ch_literal(sql, linked, strlen(linked));
	pgw_buf_puts(sql, " FROM ");
	qualified(sql, s, t, merged);
	if (run(s, sql, false, err) < 0)
		return -1;
	drop_quietly(s, t, merged);
	return 0;
}

/* A new copy of the table with the staged rows in (upserts) or the staged changes applied, swapped
 * in: a crash at any point leaves the old table whole. Changes come with their position, which
 * the swap makes count (ch_commit.c); upserts may be applied again. */
static int merge_stage(struct ch_sink *s, struct pgw_buf *sql, struct pgw_err *err)
{
	const struct pgw_target *t = &s->target;
	bool changes = s->mode == PGW_LOAD_CHANGES;
	char *merged = pgw_asprintf(PGW_INTERNAL_PREFIX "merged_%s", t->name);
	char *linked = NULL; /* the one partition linked from the table, if so */
	int rc = new_copy(s, merged, sql, err);
	if (rc == 0 && changes && !t->def->npk)
		rc = merge_counts(s, merged, sql, err);
	else if (rc == 0 && !(changes && t->truncate_first))
		rc = unstaged(s, merged, sql, &linked, err);
	if (rc == 0 && changes && t->def->npk) {
		rc = merge_changes(s, merged, sql, err);
	} else if (rc == 0 && !changes) {
		pgw_buf_puts(sql, "INSERT INTO ");
		qualified(sql, s, t, merged);
		pgw_buf_puts(sql, " SELECT * FROM ");
		qualified(sql, s, t, s->load_name);
		rc = run(s, sql, false, err);
	}
	if (rc == 0 && changes && t->commit_sql) {
		rc = pgw_ch_swap_committed(s->conn, &s->f, db_of(s, t), t->name, merged, t->commit_sql, err);
	} else if (rc == 0) {
		pgw_failpoint("merge-before-swap"); /* tests: the copy made, not swapped in */
		rc = replace_in(s, merged, linked, sql, err);
		if (rc > 0)
			rc = swap_in(s, merged, sql, err);
	}
	if (rc < 0)
		drop_quietly(s, t, merged);
	free(linked);
	free(merged);
	if (rc == 0)
		drop_quietly(s, t, s->load_name);
	return rc;
}

static int ch_commit(struct pgw_sink *base, struct pgw_err *err)
{
	struct ch_sink *s = (struct ch_sink *)base;
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	int rc = 0;
	for (int i = 0; i < CHUNKS && rc == 0; i++)
		rc = flush(s, i, err);
	if (send_wait(s, rc == 0 ? err : NULL) < 0)
		rc = -1;
	if (rc == 0 && s->mode == PGW_LOAD_REPLACE)
		rc = swap_in(s, s->load_name, &sql, err);
	else if (rc == 0 && !s->target_exists && s->mode == PGW_LOAD_CHANGES)
		rc = pgw_err_set(err, PGW_ERR_WAREHOUSE, "table %s is gone from ClickHouse", s->target.name);
	else if (rc == 0 && !s->target_exists)
		rc = swap_in(s, s->load_name, &sql, err); /* the stage becomes the table */
	else if (rc == 0 && s->mode == PGW_LOAD_APPEND)
		rc = append_stage(s, &sql, err);
	else if (rc == 0)
		rc = merge_stage(s, &sql, err); /* changes: with their commit_sql */
	/* after the swap: a replay of the same load converges */
	if (rc == 0 && s->target.commit_sql && s->mode != PGW_LOAD_CHANGES)
		rc = s->conn->exec(s->conn, s->target.commit_sql, NULL, false, err);
	pgw_buf_cleanup(&sql);
	if (rc < 0) {
		ch_abort(base);
		return -1;
	}
	free(s->load_name);
	s->load_name = NULL;
	/* what the apply freed, returned before the next changes are read rather than kept through
	 * them by chDB's allocator (its pages go back after 5 s: a stream applies every second) */
	if (s->mode == PGW_LOAD_CHANGES && s->conn->trim)
		s->conn->trim(s->conn, false);
	return 0;
}

static int ch_list(struct pgw_sink *base, struct pgw_wh_table **tables, int *n, struct pgw_err *err)
{
	struct ch_sink *s = (struct ch_sink *)base;
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "SELECT name FROM system.tables WHERE database = ");
	pgw_ch_literal(&sql, s->conn->database, strlen(s->conn->database));
	pgw_buf_puts(&sql, " AND NOT startsWith(name, '" PGW_INTERNAL_PREFIX "') ORDER BY name FORMAT TabSeparated");
	char **names;
	int rc = pgw_ch_rows(s->conn, sql.data, 1, &names, n, err);
	*tables = rc == 0 ? pgw_calloc((size_t)*n, sizeof(**tables)) : NULL;
	for (int i = 0; rc == 0 && i < *n; i++) {
		struct pgw_target t = {.name = names[i]};
		pgw_buf_reset(&sql);
		pgw_buf_puts(&sql, "SELECT count() FROM ");
		qualified(&sql, s, &t, names[i]);
		char **cnt;
		int one;
		rc = pgw_ch_rows(s->conn, sql.data, 1, &cnt, &one, err);
		(*tables)[i].name = pgw_strdup(names[i]);
		if (rc == 0) {
			(*tables)[i].rows = one ? atoll(cnt[0]) : 0;
			free_cells(cnt, one);
		}
	}
	if (rc == 0 || names)
		free_cells(names, *n);
	pgw_buf_cleanup(&sql);
	return rc;
}

/* Rows of TabSeparated text; the column count comes from the first row. */
static void parse_tsv(const char *p, struct pgw_rows *out)
{
	memset(out, 0, sizeof(*out));
	int cap = 0, n = 0;
	while (*p) {
		char *v = tsv_field(&p);
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			out->cells = pgw_realloc(out->cells, sizeof(char *) * (size_t)cap);
		}
		out->cells[n++] = v;
		if (!out->nrows && !out->ncols && *p != '\t')
			out->ncols = n;
		if (*p == '\n' && out->ncols)
			out->nrows = n / out->ncols;
		if (*p)
			p++;
	}
	if (out->ncols)
		out->nrows = n / out->ncols;
}

static int ch_sql(struct pgw_sink *base, const char *sql, struct pgw_rows *out, struct pgw_err *err)
{
	struct ch_sink *s = (struct ch_sink *)base;
	if (!out)
		return s->conn->exec(s->conn, sql, NULL, false, err);
	struct pgw_buf q, res;
	pgw_buf_init(&q);
	pgw_buf_init(&res);
	pgw_buf_printf(&q, "%s FORMAT TabSeparated", sql);
	int rc = s->conn->exec(s->conn, q.data, &res, true, err);
	if (rc == 0)
		parse_tsv(res.data ? res.data : "", out);
	pgw_buf_cleanup(&q);
	pgw_buf_cleanup(&res);
	return rc;
}

static void ch_string(struct pgw_buf *b, const char *s)
{
	pgw_ch_literal(b, s, strlen(s));
}

static void ch_own_table(struct pgw_sink *base, struct pgw_buf *b, const char *name)
{
	struct ch_sink *s = (struct ch_sink *)base;
	struct pgw_target t = {0};
	qualified(b, s, &t, name);
}

/* Over HTTP another connection; chDB runs one query at a time per process. */
static int ch_fork(struct pgw_sink *base, struct pgw_sink **out, struct pgw_err *err)
{
	struct ch_sink *s = (struct ch_sink *)base;
	if (s->embedded) {
		pgw_err_set(err, PGW_ERR_WAREHOUSE, "embedded ClickHouse loads one table at a time");
		return 1;
	}
	return ch_open(s->cfg, out, err);
}

static int ch_recover(struct pgw_sink *base, struct pgw_err *err)
{
	struct ch_sink *s = (struct ch_sink *)base;
	trim_start_up(s); /* change data capture starts: the stream's first changes come next */
	return pgw_ch_recover(s->conn, err);
}

static bool ch_holds_text(struct pgw_sink *base, const struct pgw_typeinfo *ti)
{
	struct ch_sink *s = (struct ch_sink *)base;
	switch (ti->type) {
	case PGW_T_DATE:
	case PGW_T_TIME:
	case PGW_T_TIMESTAMP:
	case PGW_T_TIMESTAMPTZ:
		/* old servers keep these as PostgreSQL's ISO text, fixed-width with the fraction's
		 * trailing zeros dropped, which sorts as the values do (years 1 to 9999) */
		return false;
	default: break;
	}
	if (pgw_ch_store(&s->f, ti->type) == CH_AS_TEXT || ti->type == PGW_T_JSON || ti->type == PGW_T_LIST)
		return true;
	/* wide numerics are Decimal256 on servers that have it (see pgw_ch_type_sql) */
	return ti->type == PGW_T_TEXT && !(s->f.modern && ti->precision > 38 && ti->precision <= 76);
}

static void ch_relation(struct pgw_sink *base, const struct pgw_target *t, struct pgw_buf *b)
{
	qualified(b, (struct ch_sink *)base, t, t->name);
}

static bool ch_keeps_pg_text(struct pgw_sink *base, const struct pgw_typeinfo *ti)
{
	return pgw_ch_store(&((struct ch_sink *)base)->f, ti->type) == CH_AS_TEXT;
}

const struct pgw_sink_ops pgw_clickhouse_sink = {
	.dialect = PGW_SQL_CLICKHOUSE,
	.sql = ch_sql,
	.literal = ch_string,
	.own_table = ch_own_table,
	.name = "clickhouse",
	.open = ch_open,
	.close = ch_close,
	.inspect = ch_inspect,
	.watermark = ch_watermark,
	.holds_text = ch_holds_text,
	.relation = ch_relation,
	.ident = pgw_ch_ident,
	.keeps_pg_text = ch_keeps_pg_text,
	.begin = ch_begin,
	.write = ch_write,
	.commit = ch_commit,
	.abort = ch_abort,
	.list = ch_list,
	.fork = ch_fork,
	.recover = ch_recover,
};
