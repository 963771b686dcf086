/* The Snowflake sink. Rows go as gzip'd CSV files to the table stage of a helper table (PUT), are
 * loaded with one COPY INTO, then:
 *   reload  -> ALTER TABLE t SWAP WITH helper (atomic; grants stay with the name), drop the helper
 *   append  -> INSERT INTO t SELECT * FROM helper (one statement, so all or nothing)
 *   upsert  -> MERGE INTO t from the helper, deduplicated by key
 *   changes -> one transaction: a MERGE that deletes, updates and inserts the staged net changes of
 *              change data capture, then the position statement (commit_sql)
 * Identifiers are always double-quoted with their exact case. */
#include <stdio.h>
#include <ctype.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "core/interrupt.h"
#include "core/log.h"
#include "net/http.h"
#include "sink/snowflake/sf_internal.h"
#include "sink/snowflake/sf_session.h"

#define FILE_BYTES (64u << 20) /* CSV bytes per staged file, before gzip */

extern const struct pgw_sink_ops pgw_snowflake_sink;

struct sf_sink {
	struct pgw_sink base;
	struct sf_session *s;
	struct pgw_target target;
	enum pgw_load_mode mode;
	const struct pgw_table_def *load_def; /* the helper's columns: the table's, or the changes' layout */
	bool target_exists;
	char *load_name;
	struct pgw_buf csv;
	int files;
};

/* Snowflake folds unquoted names to upper case. With snowflake_names: upper (the default) a name
 * PostgreSQL itself leaves unquoted (lower-case letters, digits, _ and $, not a leading digit) is
 * created upper-case, so `select * from users` finds it as Snowflake users expect; any other name
 * keeps its exact case (and is queried quoted). pgwarehouse's own tables keep their names.
 * snowflake_names: exact keeps every name as in PostgreSQL. */
static bool fold_names = true;

static bool plain_name(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '$'))
			return false;
	return true;
}

/* The name as the warehouse holds it; caller frees. */
static char *sf_name(const char *name)
{
	char *n = pgw_strdup(name);
	if (fold_names && plain_name(n) && strncmp(n, PGW_INTERNAL_PREFIX, strlen(PGW_INTERNAL_PREFIX)))
		for (char *p = n; *p; p++)
			*p = (char)toupper((unsigned char)*p);
	return n;
}

static void ident(struct pgw_buf *b, const char *name)
{
	char *n = sf_name(name);
	pgw_buf_ident(b, n);
	free(n);
}

/* The table stage of table name: @%"T", or @"S".%"T" (the namespace goes before the %). */
static void table_stage(struct pgw_buf *b, const struct pgw_target *t, const char *name)
{
	pgw_buf_puts(b, "@");
	if (t->schema) {
		ident(b, t->schema);
		pgw_buf_puts(b, ".");
	}
	pgw_buf_puts(b, "%");
	ident(b, name);
}

static void qualified(struct pgw_buf *b, const struct pgw_target *t, const char *name)
{
	if (t->schema) {
		ident(b, t->schema);
		pgw_buf_puts(b, ".");
	}
	ident(b, name);
}

/* 'text' with Snowflake's escapes (backslash is an escape character there) */
static void literal(struct pgw_buf *b, const char *s)
{
	pgw_buf_add(b, "'", 1);
	for (; *s; s++) {
		if (*s == '\'' || *s == '\\')
			pgw_buf_add(b, s, 1);
		pgw_buf_add(b, s, 1);
	}
	pgw_buf_add(b, "'", 1);
}

static int run(struct sf_sink *s, struct pgw_buf *sql, struct pgw_err *err)
{
	int rc = pgw_sf_query(s->s, sql->data, NULL, err);
	pgw_buf_reset(sql);
	return rc;
}

static char *fingerprint(const struct pgw_table_def *def)
{
	return pgw_shape_fingerprint(def, pgw_sf_type_sql);
}

static int sf_open(const struct pgw_config *cfg, struct pgw_sink **out, struct pgw_err *err)
{
	struct sf_session *sess = pgw_sf_connect(cfg, err);
	if (!sess)
		return -1;
	fold_names = !cfg->snowflake_names || strcasecmp(cfg->snowflake_names, "exact");
	struct sf_sink *s = pgw_calloc(1, sizeof(*s));
	s->base.ops = &pgw_snowflake_sink;
	s->s = sess;
	pgw_buf_init(&s->csv);
	*out = &s->base;
	return 0;
}

static void drop_quietly(struct sf_sink *s, const char *name)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "DROP TABLE IF EXISTS ");
	qualified(&sql, &s->target, name);
	pgw_sf_query(s->s, sql.data, NULL, NULL);
	pgw_buf_cleanup(&sql);
}

static void sf_abort(struct pgw_sink *base)
{
	struct sf_sink *s = (struct sf_sink *)base;
	pgw_sf_end(s->s, false, NULL); /* a transaction under way is rolled back */
	if (s->load_name)
		drop_quietly(s, s->load_name);
	free(s->load_name);
	s->load_name = NULL;
	pgw_buf_reset(&s->csv);
}

static void sf_close(struct pgw_sink *base)
{
	struct sf_sink *s = (struct sf_sink *)base;
	if (!s)
		return;
	sf_abort(base);
	pgw_sf_disconnect(s->s);
	pgw_buf_cleanup(&s->csv);
	free(s);
}

/* One-column result rows as strings (NULL for SQL NULL); caller frees. */
static int rows_of(struct sf_sink *s, const char *sql, int ncols, char ***cells, int *nrows, struct pgw_err *err)
{
	json_t *data = NULL;
	*cells = NULL;
	*nrows = 0;
	if (pgw_sf_query(s->s, sql, &data, err) < 0)
		return -1;
	json_t *rowset = json_object_get(data, "rowset"), *row;
	size_t i;
	*cells = pgw_calloc(json_array_size(rowset) * (size_t)ncols + 1, sizeof(char *));
	json_array_foreach(rowset, i, row)
	{
		for (int c = 0; c < ncols; c++) {
			const char *v = json_string_value(json_array_get(row, (size_t)c));
			(*cells)[i * (size_t)ncols + (size_t)c] = v ? pgw_strdup(v) : NULL;
		}
	}
	*nrows = (int)json_array_size(rowset);
	json_decref(data);
	return 0;
}

static void free_cells(char **cells, int n)
{
	for (int i = 0; cells && i < n; i++)
		free(cells[i]);
	free(cells);
}

/* A name compared with INFORMATION_SCHEMA's, as the warehouse holds it */
static void name_literal(struct pgw_buf *sql, const char *name)
{
	char *n = sf_name(name);
	literal(sql, n);
	free(n);
}

static void schema_match(struct pgw_buf *sql, const struct pgw_target *t)
{
	pgw_buf_puts(sql, "TABLE_SCHEMA = ");
	if (t->schema)
		name_literal(sql, t->schema);
	else
		pgw_buf_puts(sql, "CURRENT_SCHEMA()");
}

static int sf_inspect(struct pgw_sink *base, const struct pgw_target *t, struct pgw_wh_state *st, struct pgw_err *err)
{
	struct sf_sink *s = (struct sf_sink *)base;
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "SELECT COMMENT FROM INFORMATION_SCHEMA.TABLES WHERE ");
	schema_match(&sql, t);
	pgw_buf_puts(&sql, " AND TABLE_NAME = ");
	name_literal(&sql, t->name);
	char **cells;
	int n;
	int rc = rows_of(s, sql.data, 1, &cells, &n, err);
	pgw_buf_cleanup(&sql);
	if (rc < 0)
		return -1;
	char *fp = fingerprint(t->def);
	st->exists = n > 0;
	st->same_shape = n > 0 && cells[0] && !strcmp(cells[0], fp);
	st->ours = n > 0 && cells[0] && !strncmp(cells[0], "pgwarehouse:", 12);
	free(fp);
	free_cells(cells, n);
	if (!st->exists || st->ours)
		return 0;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS WHERE ");
	schema_match(&sql, t);
	pgw_buf_puts(&sql, " AND TABLE_NAME = ");
	name_literal(&sql, t->name);
	pgw_buf_puts(&sql, " ORDER BY ORDINAL_POSITION");
	rc = rows_of(s, sql.data, 1, &cells, &n, err);
	pgw_buf_cleanup(&sql);
	if (rc < 0)
		return -1;
	st->same_columns = pgw_same_column_names(t->def, cells, n);
	free_cells(cells, n);
	return 0;
}

static void watermark_expr(struct pgw_buf *b, const struct pgw_coldef *c)
{
	struct pgw_buf id;
	pgw_buf_init(&id);
	ident(&id, c->name);
	switch (c->ti.type) {
	case PGW_T_DATE: pgw_buf_printf(b, "TO_VARCHAR(DATEDIFF(day, '1970-01-01'::DATE, %s))", id.data); break;
	case PGW_T_TIMESTAMP:
	case PGW_T_TIMESTAMPTZ: pgw_buf_printf(b, "TO_VARCHAR(DATE_PART(epoch_microsecond, %s))", id.data); break;
	case PGW_T_BYTES: pgw_buf_printf(b, "HEX_ENCODE(%s)", id.data); break;
	default: pgw_buf_printf(b, "TO_VARCHAR(%s)", id.data); break;
	}
	pgw_buf_cleanup(&id);
}

static int sf_watermark(struct pgw_sink *base, const struct pgw_target *t, const int *cols, int ncols, char ***vals,
			bool *pgtext, bool *found, struct pgw_err *err)
{
	struct sf_sink *s = (struct sf_sink *)base;
	struct pgw_buf sql, name;
	pgw_buf_init(&sql);
	pgw_buf_init(&name);
	qualified(&name, t, t->name);
	pgw_sql_max_row(&sql, name.data, t->def, cols, ncols, watermark_expr, ident);
	pgw_buf_cleanup(&name);
	for (int i = 0; i < ncols; i++)
		pgtext[i] = false;
	char **cells;
	int n;
	int rc = rows_of(s, sql.data, ncols, &cells, &n, err);
	pgw_buf_cleanup(&sql);
	if (rc < 0)
		return -1;
	*found = n > 0;
	*vals = cells;
	if (!*found) {
		free(cells);
		*vals = NULL;
	}
	return 0;
}

static void create_sql(struct pgw_buf *sql, const struct pgw_target *t, const struct pgw_table_def *def,
		       const char *name)
{
	pgw_buf_puts(sql, "CREATE TABLE ");
	qualified(sql, t, name);
	pgw_buf_puts(sql, " (");
	for (int i = 0; i < def->ncols; i++) {
		pgw_buf_puts(sql, i ? ", " : "");
		ident(sql, def->cols[i].name);
		pgw_buf_puts(sql, " ");
		pgw_sf_type_sql(sql, &def->cols[i].ti);
	}
	pgw_buf_puts(sql, ")");
}

static int sf_begin(struct pgw_sink *base, const struct pgw_target *t, enum pgw_load_mode mode, struct pgw_err *err)
{
	struct sf_sink *s = (struct sf_sink *)base;
	struct pgw_wh_state st = {0};
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	s->target = *t;
	s->mode = mode;
	s->load_def = mode == PGW_LOAD_CHANGES ? t->stage_def : t->def;
	s->files = 0;
	pgw_buf_reset(&s->csv);
	int rc = 0;
	if (t->schema) {
		pgw_buf_puts(&sql, "CREATE SCHEMA IF NOT EXISTS ");
		ident(&sql, t->schema);
		rc = run(s, &sql, err);
	}
	if (rc == 0)
		rc = sf_inspect(base, t, &st, err);
	s->target_exists = st.exists;
	static const char *const kinds[] = {[PGW_LOAD_REPLACE] = "new",
					    [PGW_LOAD_APPEND] = "stage",
					    [PGW_LOAD_UPSERT] = "stage",
					    [PGW_LOAD_CHANGES] = "changes"};
	s->load_name = pgw_asprintf(PGW_INTERNAL_PREFIX "%s_%s", kinds[mode], t->name);
	if (rc == 0) {
		pgw_buf_puts(&sql, "DROP TABLE IF EXISTS ");
		qualified(&sql, t, s->load_name);
		rc = run(s, &sql, err);
	}
	if (rc == 0) {
		create_sql(&sql, t, s->load_def, s->load_name);
		rc = run(s, &sql, err);
	}
	pgw_buf_cleanup(&sql);
	if (rc < 0)
		sf_abort(base);
	return rc;
}

static int put_file(struct sf_sink *s, struct pgw_err *err)
{
	if (!s->csv.len)
		return 0;
	struct pgw_buf gz, name;
	pgw_buf_init(&gz);
	pgw_buf_init(&name);
	int rc = pgw_gzip(s->csv.data, s->csv.len, &gz) < 0 ? pgw_err_set(err, PGW_ERR_INTERNAL, "gzip failed") : 0;
	table_stage(&name, &s->target, s->load_name);
	char *file = pgw_asprintf("part_%05d.csv.gz", ++s->files);
	if (rc == 0)
		rc = pgw_sf_put(s->s, name.data, file, (const unsigned char *)gz.data, gz.len, err);
	free(file);
	pgw_buf_cleanup(&gz);
	pgw_buf_cleanup(&name);
	pgw_buf_reset(&s->csv);
	return rc;
}

static int sf_write(struct pgw_sink *base, const struct pgw_batch *b, struct pgw_err *err)
{
	struct sf_sink *s = (struct sf_sink *)base;
	if (pgw_sf_csv(&s->csv, b, s->load_def, err) < 0)
		return -1;
	return s->csv.len >= FILE_BYTES ? put_file(s, err) : 0;
}

static int copy_into(struct sf_sink *s, struct pgw_buf *sql, struct pgw_err *err)
{
	const struct pgw_target *t = &s->target;
	const struct pgw_table_def *def = s->load_def;
	pgw_buf_puts(sql, "COPY INTO ");
	qualified(sql, t, s->load_name);
	pgw_buf_puts(sql, " FROM (SELECT ");
	for (int i = 0; i < def->ncols; i++)
		pgw_buf_printf(sql, pgw_sf_semistructured(def->cols[i].ti.type) ? "%sPARSE_JSON($%d)" : "%s$%d",
			       i ? ", " : "", i + 1);
	pgw_buf_puts(sql, " FROM ");
	table_stage(sql, t, s->load_name);
	pgw_buf_puts(sql, ") FILE_FORMAT = (TYPE = CSV FIELD_DELIMITER = ',' RECORD_DELIMITER = '\\n' "
			  "FIELD_OPTIONALLY_ENCLOSED_BY = '\"' ESCAPE_UNENCLOSED_FIELD = NONE NULL_IF = ('\\\\N') "
			  "EMPTY_FIELD_AS_NULL = FALSE BINARY_FORMAT = HEX COMPRESSION = GZIP) "
			  "ON_ERROR = ABORT_STATEMENT PURGE = TRUE");
	return run(s, sql, err);
}

static int swap_in(struct sf_sink *s, const char *name, struct pgw_buf *sql, struct pgw_err *err)
{
	const struct pgw_target *t = &s->target;
	int rc;
	if (s->target_exists) {
		pgw_buf_puts(sql, "ALTER TABLE ");
		qualified(sql, t, t->name);
		pgw_buf_puts(sql, " SWAP WITH ");
		qualified(sql, t, name);
		rc = run(s, sql, err);
		if (rc == 0)
			drop_quietly(s, name);
	} else {
		pgw_buf_puts(sql, "ALTER TABLE ");
		qualified(sql, t, name);
		pgw_buf_puts(sql, " RENAME TO ");
		qualified(sql, t, t->name);
		rc = run(s, sql, err);
	}
	if (rc == 0) {
		char *fp = fingerprint(t->def);
		pgw_buf_puts(sql, "COMMENT ON TABLE ");
		qualified(sql, t, t->name);
		pgw_buf_puts(sql, " IS ");
		literal(sql, fp);
		free(fp);
		rc = run(s, sql, err);
	}
	return rc;
}

/* a.k1 = b.k1 AND a.k2 = b.k2 ... over the key columns */
static void keys_equal(struct pgw_buf *sql, const struct pgw_table_def *def, const char *a, const char *b)
{
	for (int i = 0; i < def->npk; i++) {
		const char *k = def->cols[def->pk[i]].name;
		pgw_buf_printf(sql, "%s%s.", i ? " AND " : "", a);
		ident(sql, k);
		pgw_buf_printf(sql, " = %s.", b);
		ident(sql, k);
	}
}

static void key_match(struct pgw_buf *sql, const struct pgw_table_def *def)
{
	keys_equal(sql, def, "t", "s");
}

/* Keys the table holds more than once (target.replace_copies) whose staged upsert is a whole row: a
 * MERGE would update every copy, so the copies go first and the MERGE inserts the row once */
static void drop_copies_sql(struct sf_sink *s, struct pgw_buf *sql)
{
	const struct pgw_target *t = &s->target;
	const struct pgw_table_def *def = t->def;
	pgw_buf_puts(sql, "DELETE FROM ");
	qualified(sql, t, t->name);
	pgw_buf_puts(sql, " AS t WHERE EXISTS (SELECT 1 FROM ");
	qualified(sql, t, s->load_name);
	pgw_buf_puts(sql, " AS s WHERE s.");
	ident(sql, "_pgw_op");
	pgw_buf_printf(sql, " = %d AND s.", PGW_OP_UPSERT);
	ident(sql, "_pgw_keep");
	pgw_buf_puts(sql, " IS NULL AND ");
	key_match(sql, def);
	pgw_buf_puts(sql, ") AND (SELECT COUNT(*) FROM ");
	qualified(sql, t, t->name);
	pgw_buf_puts(sql, " AS d WHERE ");
	keys_equal(sql, def, "d", "t");
	pgw_buf_puts(sql, ") > 1");
}

/* A MERGE's " THEN INSERT (cols) VALUES (s.cols)" */
static void insert_clause(struct pgw_buf *sql, const struct pgw_table_def *def)
{
	pgw_buf_puts(sql, " THEN INSERT (");
	for (int i = 0; i < def->ncols; i++) {
		pgw_buf_puts(sql, i ? ", " : "");
		ident(sql, def->cols[i].name);
	}
	pgw_buf_puts(sql, ") VALUES (");
	for (int i = 0; i < def->ncols; i++) {
		pgw_buf_puts(sql, i ? ", s." : "s.");
		ident(sql, def->cols[i].name);
	}
	pgw_buf_puts(sql, ")");
}

static int merge(struct sf_sink *s, struct pgw_buf *sql, struct pgw_err *err)
{
	const struct pgw_table_def *def = s->target.def;
	pgw_buf_puts(sql, "MERGE INTO ");
	qualified(sql, &s->target, s->target.name);
	pgw_buf_puts(sql, " AS t USING (SELECT * FROM ");
	qualified(sql, &s->target, s->load_name);
	pgw_buf_puts(sql, " QUALIFY ROW_NUMBER() OVER (PARTITION BY ");
	for (int i = 0; i < def->npk; i++) {
		pgw_buf_puts(sql, i ? ", " : "");
		ident(sql, def->cols[def->pk[i]].name);
	}
	pgw_buf_puts(sql, " ORDER BY 1) = 1) AS s ON ");
	key_match(sql, def);
	pgw_buf_puts(sql, " WHEN MATCHED THEN UPDATE SET ");
	for (int i = 0; i < def->ncols; i++) {
		pgw_buf_puts(sql, i ? ", " : "");
		ident(sql, def->cols[i].name);
		pgw_buf_puts(sql, " = s.");
		ident(sql, def->cols[i].name);
	}
	pgw_buf_puts(sql, " WHEN NOT MATCHED");
	insert_clause(sql, def);
	return run(s, sql, err);
}

/* s.col, or the current row's value where the staged row keeps it (a TOASTed value the update
 * left alone) */
static void changed_value(struct pgw_buf *sql, const struct pgw_target *t, int c)
{
	const char *name = t->def->cols[c].name;
	if (t->keep_cols && t->keep_cols[c]) {
		pgw_buf_puts(sql, "CASE WHEN s.");
		ident(sql, "_pgw_keep");
		pgw_buf_printf(sql, " LIKE '%%,%d,%%' THEN t.", c);
		ident(sql, name);
		pgw_buf_puts(sql, " ELSE s.");
		ident(sql, name);
		pgw_buf_puts(sql, " END");
	} else {
		pgw_buf_puts(sql, "s.");
		ident(sql, name);
	}
}

/* The staged net changes in one MERGE (at most one staged row per key): deleted keys go, changed
 * rows are updated, new ones inserted. */
static void merge_changes_sql(struct sf_sink *s, struct pgw_buf *sql)
{
	const struct pgw_target *t = &s->target;
	const struct pgw_table_def *def = t->def;
	pgw_buf_puts(sql, "MERGE INTO ");
	qualified(sql, t, t->name);
	pgw_buf_puts(sql, " AS t USING ");
	qualified(sql, t, s->load_name);
	pgw_buf_puts(sql, " AS s ON ");
	key_match(sql, def);
	pgw_buf_puts(sql, " WHEN MATCHED AND s.");
	ident(sql, "_pgw_op");
	pgw_buf_printf(sql, " = %d THEN DELETE WHEN MATCHED THEN UPDATE SET ", PGW_OP_DELETE);
	for (int i = 0; i < def->ncols; i++) {
		pgw_buf_puts(sql, i ? ", " : "");
		ident(sql, def->cols[i].name);
		pgw_buf_puts(sql, " = ");
		changed_value(sql, t, i);
	}
	pgw_buf_puts(sql, " WHEN NOT MATCHED AND s.");
	ident(sql, "_pgw_op");
	pgw_buf_printf(sql, " = %d", PGW_OP_UPSERT);
	insert_clause(sql, def);
}

/* Every column of the staged row (n) and the table's row (o) equal, NULL as NULL (-0 equals 0, as
 * in PostgreSQL's own logical replication of such a table) */
static void row_match(struct pgw_buf *sql, const struct pgw_table_def *def)
{
	for (int c = 0; c < def->ncols; c++) {
		pgw_buf_puts(sql, c ? " AND n." : "n.");
		ident(sql, def->cols[c].name);
		pgw_buf_puts(sql, " IS NOT DISTINCT FROM o.");
		ident(sql, def->cols[c].name);
	}
}

/* A keyless table's staged rows (distinct, each with how many copies come or go): each staged
 * row's count becomes the number of copies the table will hold, every copy of a staged row goes,
 * and that many come back. DML only, inside the apply's transaction. */
static int apply_counts(struct sf_sink *s, struct pgw_buf *sql, struct pgw_err *err)
{
	const struct pgw_target *t = &s->target;
	pgw_buf_puts(sql, "UPDATE ");
	qualified(sql, t, s->load_name);
	pgw_buf_puts(sql, " AS s SET ");
	ident(sql, "_pgw_op");
	pgw_buf_puts(sql, " = s.");
	ident(sql, "_pgw_op");
	pgw_buf_puts(sql, " + m.c FROM (SELECT n.");
	ident(sql, "_pgw_keep");
	pgw_buf_puts(sql, " AS id, COUNT(*) AS c FROM ");
	qualified(sql, t, s->load_name);
	pgw_buf_puts(sql, " AS n JOIN ");
	qualified(sql, t, t->name);
	pgw_buf_puts(sql, " AS o ON ");
	row_match(sql, t->def);
	pgw_buf_puts(sql, " GROUP BY n.");
	ident(sql, "_pgw_keep");
	pgw_buf_puts(sql, ") AS m WHERE s.");
	ident(sql, "_pgw_keep");
	pgw_buf_puts(sql, " = m.id");
	int rc = run(s, sql, err);
	if (rc == 0) {
		pgw_buf_puts(sql, "DELETE FROM ");
		qualified(sql, t, t->name);
		pgw_buf_puts(sql, " AS o USING ");
		qualified(sql, t, s->load_name);
		pgw_buf_puts(sql, " AS n WHERE ");
		row_match(sql, t->def);
		rc = run(s, sql, err);
	}
	if (rc == 0) {
		pgw_buf_puts(sql, "INSERT INTO ");
		qualified(sql, t, t->name);
		pgw_buf_puts(sql, " SELECT ");
		for (int c = 0; c < t->def->ncols; c++) {
			pgw_buf_puts(sql, c ? ", n." : "n.");
			ident(sql, t->def->cols[c].name);
		}
		pgw_buf_puts(sql, " FROM ");
		qualified(sql, t, s->load_name);
		pgw_buf_puts(sql, " AS n, LATERAL FLATTEN(INPUT => ARRAY_GENERATE_RANGE(0, n.");
		ident(sql, "_pgw_op");
		pgw_buf_puts(sql, ")) WHERE n.");
		ident(sql, "_pgw_op");
		pgw_buf_puts(sql, " > 0");
		rc = run(s, sql, err);
	}
	return rc;
}

/* Change data capture's apply: a truncate, the MERGE (or a keyless table's counts) and the
 * position, in one transaction. */
static int apply_changes(struct sf_sink *s, struct pgw_buf *sql, struct pgw_err *err)
{
	int rc = pgw_sf_begin(s->s, err);
	if (rc == 0 && s->target.truncate_first) {
		pgw_buf_puts(sql, "DELETE FROM ");
		qualified(sql, &s->target, s->target.name);
		rc = run(s, sql, err);
	}
	if (rc == 0 && !s->target.def->npk) {
		rc = apply_counts(s, sql, err);
	} else if (rc == 0) {
		if (s->target.replace_copies) {
			drop_copies_sql(s, sql);
			rc = run(s, sql, err);
		}
		if (rc == 0) {
			merge_changes_sql(s, sql);
			rc = run(s, sql, err);
		}
	}
	if (rc == 0 && s->target.commit_sql)
		rc = pgw_sf_query(s->s, s->target.commit_sql, NULL, err);
	if (rc == 0)
		pgw_failpoint("apply-before-commit"); /* tests: all applied, not committed */
	if (rc == 0)
		rc = pgw_sf_end(s->s, true, err);
	return rc;
}

static int sf_commit(struct pgw_sink *base, struct pgw_err *err)
{
	struct sf_sink *s = (struct sf_sink *)base;
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	int rc = put_file(s, err);
	if (rc == 0 && s->files)
		rc = copy_into(s, &sql, err);
	if (rc == 0 && s->mode == PGW_LOAD_CHANGES) {
		rc = apply_changes(s, &sql, err);
		if (rc == 0)
			drop_quietly(s, s->load_name);
	} else if (rc == 0 && (s->mode == PGW_LOAD_REPLACE || !s->target_exists)) {
		/* DDL commits on its own in Snowflake: the statement that goes with the load follows
		 * the swap (change data capture forgets a table's position before copying it, so a
		 * crash in between copies it again) */
		rc = swap_in(s, s->load_name, &sql, err);
		if (rc == 0 && s->target.commit_sql)
			rc = pgw_sf_query(s->s, s->target.commit_sql, NULL, err);
	} else if (rc == 0) {
		if (s->mode == PGW_LOAD_APPEND) {
			pgw_buf_puts(&sql, "INSERT INTO ");
			qualified(&sql, &s->target, s->target.name);
			pgw_buf_puts(&sql, " SELECT * FROM ");
			qualified(&sql, &s->target, s->load_name);
			rc = run(s, &sql, err);
		} else {
			rc = merge(s, &sql, err);
		}
		if (rc == 0 && s->target.commit_sql)
			rc = pgw_sf_query(s->s, s->target.commit_sql, NULL, err);
		if (rc == 0)
			drop_quietly(s, s->load_name);
	}
	pgw_buf_cleanup(&sql);
	if (rc < 0) {
		sf_abort(base);
		return -1;
	}
	free(s->load_name);
	s->load_name = NULL;
	return 0;
}

static int sf_list(struct pgw_sink *base, struct pgw_wh_table **tables, int *n, struct pgw_err *err)
{
	struct sf_sink *s = (struct sf_sink *)base;
	char **names;
	int rc = rows_of(s,
			 "SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = CURRENT_SCHEMA() "
			 "AND NOT STARTSWITH(TABLE_NAME, '" PGW_INTERNAL_PREFIX "') ORDER BY TABLE_NAME",
			 1, &names, n, err);
	if (rc < 0)
		return -1;
	*tables = pgw_calloc((size_t)*n, sizeof(**tables));
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	for (int i = 0; i < *n && rc == 0; i++) {
		pgw_buf_reset(&sql);
		pgw_buf_puts(&sql, "SELECT TO_VARCHAR(COUNT(*)) FROM ");
		pgw_buf_ident(&sql, names[i]); /* as the warehouse holds it */
		char **cnt;
		int one;
		rc = rows_of(s, sql.data, 1, &cnt, &one, err);
		(*tables)[i].name = pgw_strdup(names[i]);
		if (rc == 0) {
			(*tables)[i].rows = one && cnt[0] ? atoll(cnt[0]) : 0;
			free_cells(cnt, one);
		}
	}
	pgw_buf_cleanup(&sql);
	free_cells(names, *n);
	return rc;
}

static int sf_sql(struct pgw_sink *base, const char *sql, struct pgw_rows *out, struct pgw_err *err)
{
	struct sf_sink *s = (struct sf_sink *)base;
	if (!out)
		return pgw_sf_query(s->s, sql, NULL, err);
	json_t *data = NULL;
	if (pgw_sf_query(s->s, sql, &data, err) < 0)
		return -1;
	json_t *rowset = json_object_get(data, "rowset"), *row;
	memset(out, 0, sizeof(*out));
	out->ncols = (int)json_array_size(json_object_get(data, "rowtype"));
	out->nrows = (int)json_array_size(rowset);
	out->cells = pgw_calloc((size_t)out->nrows * (size_t)out->ncols + 1, sizeof(char *));
	size_t i;
	json_array_foreach(rowset, i, row)
	{
		for (int c = 0; c < out->ncols; c++) {
			const char *v = json_string_value(json_array_get(row, (size_t)c));
			out->cells[i * (size_t)out->ncols + (size_t)c] = v ? pgw_strdup(v) : NULL;
		}
	}
	json_decref(data);
	return 0;
}

static void sf_own_table(struct pgw_sink *base, struct pgw_buf *b, const char *name)
{
	(void)base;
	pgw_buf_ident(b, name); /* pgwarehouse's own names stay exact, as older versions made them */
}

/* Another session (a sign-in per job), so jobs never share a session's renewal. */
static int sf_fork(struct pgw_sink *base, struct pgw_sink **out, struct pgw_err *err)
{
	struct sf_sink *s = (struct sf_sink *)base;
	return sf_open(pgw_sf_session_config(s->s), out, err);
}

static bool sf_holds_text(struct pgw_sink *s, const struct pgw_typeinfo *ti)
{
	(void)s;
	switch (ti->type) { /* TEXT or VARIANT columns (see pgw_sf_type_sql) */
	case PGW_T_TEXT:
	case PGW_T_UUID:
	case PGW_T_ENUM:
	case PGW_T_TIMETZ:
	case PGW_T_INTERVAL:
	case PGW_T_JSON:
	case PGW_T_LIST: return true;
	default: return false;
	}
}

static void sf_relation(struct pgw_sink *s, const struct pgw_target *t, struct pgw_buf *b)
{
	(void)s;
	qualified(b, t, t->name);
}

/* Types kept as PostgreSQL's own text in a TEXT column (see pgw_sf_type_sql) */
static bool sf_keeps_pg_text(struct pgw_sink *s, const struct pgw_typeinfo *ti)
{
	(void)s;
	return ti->type == PGW_T_TIMETZ || ti->type == PGW_T_INTERVAL || (ti->type == PGW_T_TEXT && ti->precision > 0);
}

const struct pgw_sink_ops pgw_snowflake_sink = {
	.dialect = PGW_SQL_SNOWFLAKE,
	.sql = sf_sql,
	.literal = literal,
	.own_table = sf_own_table,
	.name = "snowflake",
	.open = sf_open,
	.close = sf_close,
	.inspect = sf_inspect,
	.watermark = sf_watermark,
	.holds_text = sf_holds_text,
	.relation = sf_relation,
	.ident = ident,
	.keeps_pg_text = sf_keeps_pg_text,
	.begin = sf_begin,
	.write = sf_write,
	.commit = sf_commit,
	.abort = sf_abort,
	.list = sf_list,
	.fork = sf_fork,
};
