/* Test helper: reads a DuckDB file the way the tests need.
 *   duckq DB SQL              rows of SQL as tab-separated text, NULL as \N
 *   duckq --exec DB SQL       runs SQL read-write
 *   duckq --hold DB SECONDS   keeps DB open for writing (a concurrent writer)
 *   duckq --pg-csv-to DB SCHEMA TABLE FILE [SCHEMA TABLE FILE]...   each TABLE into its FILE as CSV
 *                             that PostgreSQL's COPY reads back into the source's types
 *   duckq --double URL CA ...  any of the above (but --hold) on what the Snowflake double at URL holds,
 *                             through its POST /__test/sql (CA: the PEM file its HTTPS is signed by)
 *   duckq --serve OUT ERR     the above, one request after another (tests/tools/serve.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "net/http.h"
#include "serve.h"
#include "sink/duckdb/duckdb_internal.h"
#include "sink/duckdb/duckdb_undo.h"

/* the database a query has open: closed when a served request fails (cleanup) */
static duckdb_database open_db;
static duckdb_connection open_con;
static FILE *open_csv;

static void close_open(void)
{
	if (open_csv)
		fclose(open_csv);
	open_csv = NULL;
	if (open_con)
		duckdb_disconnect(&open_con);
	if (open_db)
		duckdb_close(&open_db);
	open_con = NULL;
	open_db = NULL;
}

_Noreturn static void die(const char *what, const struct pgw_err *err)
{
	fprintf(stderr, "duckq: %s: %s\n", what, err->msg);
	tool_fail();
}

/* --double URL: the SQL runs in the Snowflake double, which keeps its file open (a read of the file
 * itself made it close the file, checkpointing, and open it again: most of its time in the suite) */
static const char *double_url;

/* The double's answer (double.js, testSql): "<columns>\n", then each cell "<length>\n<bytes>" or
 * "-\n" for NULL. */
static int parse_double_rows(const char *p, const char *end, struct pgw_duck_rows *out, struct pgw_err *err)
{
	memset(out, 0, sizeof(*out));
	char *next;
	out->ncols = (int)strtol(p, &next, 10);
	size_t n = 0, cap = 0;
	for (p = next + 1; p < end; n++) {
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			out->cells = pgw_realloc(out->cells, cap * sizeof(char *));
		}
		if (*p == '-') {
			out->cells[n] = NULL;
			p += 2;
			continue;
		}
		size_t len = strtoul(p, &next, 10);
		if (*next != '\n' || next + 1 + len > end) {
			out->nrows = 1, out->ncols = (int)n; /* what was read, freed as one row */
			pgw_duck_rows_cleanup(out);
			return pgw_err_set(err, PGW_ERR_WAREHOUSE, "the double's answer is cut short");
		}
		out->cells[n] = pgw_strndup(next + 1, len);
		p = next + 1 + len;
	}
	out->nrows = out->ncols ? (int)(n / (size_t)out->ncols) : 0;
	return 0;
}

static int double_sql(const char *sql, int nparams, const char *const *params, bool exec,
		      struct pgw_duck_rows *out, struct pgw_err *err)
{
	struct pgw_buf body, url;
	pgw_buf_init(&body);
	pgw_buf_init(&url);
	pgw_buf_puts(&body, "{\"sql\": ");
	pgw_json_string(&body, sql);
	pgw_buf_printf(&body, ", \"exec\": %s, \"params\": [", exec ? "true" : "false");
	for (int i = 0; i < nparams; i++) {
		pgw_buf_puts(&body, i ? ", " : "");
		pgw_json_string(&body, params[i]);
	}
	pgw_buf_puts(&body, "]}");
	pgw_buf_printf(&url, "%s/__test/sql", double_url);
	struct pgw_http_request req = {.url = url.data, .body = body.data, .body_len = body.len, .timeout_s = 60};
	struct pgw_http_response resp = {0};
	int rc = pgw_http_send(&req, &resp, "the Snowflake double", err);
	if (rc == 0 && resp.status != 200)
		rc = pgw_err_set(err, PGW_ERR_WAREHOUSE, "%.*s", (int)resp.body.len, resp.body.data ? resp.body.data : "");
	else if (rc == 0 && out)
		rc = parse_double_rows(resp.body.data, resp.body.data + resp.body.len, out, err);
	pgw_http_response_cleanup(&resp);
	pgw_buf_cleanup(&body);
	pgw_buf_cleanup(&url);
	return rc;
}

static int select_rows(duckdb_connection con, const char *sql, int nparams, const char *const *params,
		       struct pgw_duck_rows *out, struct pgw_err *err)
{
	if (double_url)
		return double_sql(sql, nparams, params, false, out, err);
	return pgw_duck_select(con, sql, nparams, params, out, err);
}

/* An expression whose text PostgreSQL's input functions read back as the same value. */
static void pg_text_expr(struct pgw_buf *b, const char *col, const char *type)
{
	struct pgw_buf q;
	pgw_buf_init(&q);
	pgw_buf_ident(&q, col);
	const char *c = q.data;
	if (!strcmp(type, "BLOB"))
		pgw_buf_printf(b, "'\\x' || hex(%s)", c);
	else if (strstr(type, "[]"))
		pgw_buf_printf(b,
			       "CASE WHEN %s IS NOT NULL THEN '{' || coalesce(array_to_string(list_transform(%s, x -> "
			       "CASE WHEN x IS NULL THEN 'NULL' ELSE "
			       "'\"' || replace(replace(CAST(x AS VARCHAR), '\\', '\\\\'), '\"', '\\\"') || '\"' END), "
			       "','), '') "
			       "|| '}' END",
			       c, c);
	else if (!strncmp(type, "DATE", 4) || !strncmp(type, "TIMESTAMP", 9))
		pgw_buf_printf(b, "regexp_replace(CAST(%s AS VARCHAR), ' \\(BC\\)(.*)$', '\\1 BC')", c);
	else
		pgw_buf_printf(b, "CAST(%s AS VARCHAR)", c);
	pgw_buf_cleanup(&q);
}

static void print_csv_cell(FILE *out, const char *v)
{
	if (!v)
		return;
	fputc('"', out);
	for (; *v; v++) {
		if (*v == '"')
			fputc('"', out);
		fputc(*v, out);
	}
	fputc('"', out);
}

static void pg_csv(duckdb_connection con, const char *schema, const char *table, FILE *out)
{
	struct pgw_err err = {0};
	struct pgw_duck_rows cols, rows;
	const char *params[] = {schema, table};
	if (select_rows(con,
			"SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? "
			"AND table_name = ? ORDER BY column_index",
			2, params, &cols, &err) < 0)
		die("columns", &err);
	if (!cols.nrows) {
		fprintf(stderr, "duckq: no table %s\n", table);
		tool_fail();
	}
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "SELECT ");
	for (int i = 0; i < cols.nrows; i++) {
		if (i)
			pgw_buf_puts(&sql, ", ");
		pg_text_expr(&sql, cols.cells[2 * i], cols.cells[2 * i + 1]);
	}
	pgw_buf_puts(&sql, " FROM ");
	pgw_buf_ident(&sql, schema);
	pgw_buf_puts(&sql, ".");
	pgw_buf_ident(&sql, table);
	if (select_rows(con, sql.data, 0, NULL, &rows, &err) < 0)
		die(sql.data, &err);
	for (int r = 0; r < rows.nrows; r++) {
		for (int c = 0; c < rows.ncols; c++) {
			if (c)
				fputc(',', out);
			print_csv_cell(out, rows.cells[r * rows.ncols + c]);
		}
		fputc('\n', out);
	}
	pgw_buf_cleanup(&sql);
	pgw_duck_rows_cleanup(&rows);
	pgw_duck_rows_cleanup(&cols);
}

static void tsv(duckdb_connection con, const char *query)
{
	struct pgw_err err = {0};
	struct pgw_duck_rows rows;
	char *sql = pgw_asprintf("SELECT CAST(COLUMNS(*) AS VARCHAR) FROM (%s)", query);
	if (select_rows(con, sql, 0, NULL, &rows, &err) < 0)
		die(query, &err);
	for (int r = 0; r < rows.nrows; r++)
		for (int c = 0; c < rows.ncols; c++) {
			const char *v = rows.cells[r * rows.ncols + c];
			printf("%s%c", v ? v : "\\N", c == rows.ncols - 1 ? '\n' : '\t');
		}
	pgw_duck_rows_cleanup(&rows);
	free(sql);
}

/* As pgwarehouse does before it opens a file: puts back a write a killed run may have cut. */
static void undo_cut_write(const char *path)
{
	char msg[512];
	if (pgw_duck_undo_recover(path, msg, sizeof msg) < 0)
		fprintf(stderr, "duckq: %s\n", msg);
}

/* Holds the file open for writing, as another pgwarehouse run would. */
static int hold(const char *path, int seconds)
{
	duckdb_database db;
	if (duckdb_open(path, &db) != DuckDBSuccess)
		return 1;
	puts("holding");
	fflush(stdout);
	sleep((unsigned)seconds);
	duckdb_close(&db);
	return 0;
}

/* Runs statements read-write (the bench loads CSV files this way). */
static int exec_sql(const char *path, const char *sql)
{
	struct pgw_err err = {0};
	if (double_url) {
		if (double_sql(sql, 0, NULL, true, NULL, &err) < 0)
			die(sql, &err);
		return 0;
	}
	duckdb_database db;
	duckdb_connection con;
	undo_cut_write(path);
	if (duckdb_open(path, &db) != DuckDBSuccess || duckdb_connect(db, &con) != DuckDBSuccess)
		return 1;
	int rc = pgw_duck_exec(con, sql, &err);
	if (rc < 0)
		fprintf(stderr, "duckq: %s\n", err.msg);
	duckdb_disconnect(&con);
	duckdb_close(&db);
	return rc < 0;
}

/* Reads (tsv, pg_csv) on con: the file's, or none through the double */
static void reads(duckdb_connection con, int argc, char **argv, bool csv)
{
	for (int i = 3; csv && i < argc; i += 3) {
		if (!(open_csv = fopen(argv[i + 2], "w"))) {
			perror(argv[i + 2]);
			tool_fail();
		}
		pg_csv(con, argv[i], argv[i + 1], open_csv);
		fclose(open_csv);
		open_csv = NULL;
	}
	if (!csv)
		tsv(con, argv[2]);
}

static int duckq(int argc, char **argv)
{
	double_url = NULL;
	if (argc >= 4 && !strcmp(argv[1], "--double")) {
		double_url = argv[2];
		setenv("PGWAREHOUSE_CA_FILE", argv[3], 1);
		argv += 3;
		argc -= 3;
	}
	if (argc == 4 && !strcmp(argv[1], "--hold"))
		return hold(argv[2], atoi(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "--exec"))
		return exec_sql(argv[2], argv[3]);
	bool csv = argc >= 6 && (argc - 3) % 3 == 0 && !strcmp(argv[1], "--pg-csv-to");
	if (argc != 3 && !csv) {
		fputs("usage: duckq DB SQL | duckq --pg-csv-to DB SCHEMA TABLE FILE...\n", stderr);
		return 2;
	}
	if (double_url) {
		reads(NULL, argc, argv, csv);
		return 0;
	}
	const char *path = argv[csv ? 2 : 1];
	char *msg = NULL;
	duckdb_config dc;
	duckdb_create_config(&dc);
	duckdb_set_config(dc, "autoinstall_known_extensions", "false");
	duckdb_set_config(dc, "access_mode", "READ_ONLY");
	undo_cut_write(path);
	if (duckdb_open_ext(path, &open_db, dc, &msg) != DuckDBSuccess) {
		fprintf(stderr, "duckq: cannot open %s: %s\n", path, msg ? msg : "?");
		duckdb_free(msg);
		duckdb_destroy_config(&dc);
		open_db = NULL;
		return 1;
	}
	duckdb_destroy_config(&dc);
	duckdb_connect(open_db, &open_con);
	duckdb_connection con = open_con;
	struct pgw_err err = {0};
	if (pgw_duck_exec(con, "SET TimeZone = 'UTC'", &err) < 0)
		die("timezone", &err);
	reads(con, argc, argv, csv);
	close_open();
	return 0;
}

int main(int argc, char **argv)
{
	struct pgw_err err = {0};
	if (pgw_duckdb_load(&err) < 0)
		die("libduckdb.so", &err);
	if (argc == 4 && !strcmp(argv[1], "--serve"))
		return tool_serve(argv[2], argv[3], duckq, close_open);
	return duckq(argc, argv);
}
