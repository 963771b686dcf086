/* list, listwh, and the per-table commands with their summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "core/progress.h"
#include "pipeline/extract.h"
#include "pipeline/jobs.h"
#include "pipeline/runlog.h"
#include "pipeline/sync.h"

static int fail(const struct pgw_err *err)
{
	pgw_error("%s", err->msg);
	return pgw_exit_code(err->code ? err->code : PGW_ERR_INTERNAL);
}

/* Prints rows of cells as aligned columns; the first row is the header. */
static void print_table(char **cells, int nrows, int ncols, const bool *right)
{
	int width[16] = {0};
	for (int r = 0; r < nrows; r++)
		for (int c = 0; c < ncols; c++) {
			int w = (int)strlen(cells[r * ncols + c]);
			if (w > width[c])
				width[c] = w;
		}
	for (int r = 0; r < nrows; r++) {
		for (int c = 0; c < ncols; c++) {
			const char *v = cells[r * ncols + c];
			bool last = c == ncols - 1;
			if (right[c])
				printf("%*s%s", width[c], v, last ? "" : "  ");
			else
				printf("%-*s%s", last ? 0 : width[c], v, last ? "" : "  ");
		}
		putchar('\n');
	}
}

static int cmd_list(struct pgw_pg *pg)
{
	struct pgw_err err = {0};
	PGresult *res = pgw_pg_query(pg,
				     /* a partitioned table holds nothing itself: its size and rows are its
					partitions' */
				     "SELECT n.nspname, c.relname, pg_size_pretty(CASE WHEN c.relkind = 'p' "
				     "THEN (SELECT "
				     "coalesce(sum(pg_total_relation_size(t.relid)), 0) FROM "
				     "pg_partition_tree(c.oid) t) "
				     "ELSE pg_total_relation_size(c.oid) END), "
				     "CASE WHEN c.relkind = 'p' THEN (SELECT "
				     "coalesce(sum(greatest(p.reltuples, 0)), 0)::bigint::text "
				     "FROM pg_partition_tree(c.oid) t JOIN pg_class p ON p.oid = t.relid "
				     "WHERE t.isleaf) "
				     "WHEN c.reltuples < 0 THEN '-' ELSE c.reltuples::bigint::text END "
				     "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
				     "WHERE c.relkind IN ('r','p') AND NOT c.relispartition "
				     "AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname "
				     "NOT LIKE 'pg\\_%' "
				     "ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"",
				     0, NULL, &err);
	if (!res)
		return fail(&err);
	int n = PQntuples(res);
	char **cells = pgw_calloc((size_t)(n + 1) * 4, sizeof(char *));
	const char *head[] = {"schema", "table", "size", "est. rows"};
	for (int c = 0; c < 4; c++)
		cells[c] = (char *)head[c];
	for (int r = 0; r < n; r++)
		for (int c = 0; c < 4; c++)
			cells[(r + 1) * 4 + c] = PQgetvalue(res, r, c);
	const bool right[] = {false, false, true, true};
	print_table(cells, n + 1, 4, right);
	free(cells);
	PQclear(res);
	return 0;
}

static int cmd_listwh(struct pgw_sink *sink)
{
	struct pgw_err err = {0};
	struct pgw_wh_table *t;
	int n;
	if (sink->ops->list(sink, &t, &n, &err) < 0)
		return fail(&err);
	char **cells = pgw_calloc((size_t)(n + 1) * 2, sizeof(char *));
	cells[0] = pgw_strdup("table");
	cells[1] = pgw_strdup("rows");
	for (int i = 0; i < n; i++) {
		cells[(i + 1) * 2] =
			t[i].schema ? pgw_asprintf("%s.%s", t[i].schema, t[i].name) : pgw_strdup(t[i].name);
		cells[(i + 1) * 2 + 1] = pgw_asprintf("%lld", t[i].rows);
	}
	const bool right[] = {false, true};
	print_table(cells, n + 1, 2, right);
	for (int i = 0; i < (n + 1) * 2; i++)
		free(cells[i]);
	free(cells);
	pgw_wh_tables_free(t, n);
	return 0;
}

/* "45s", "12m", "3h 20m", "2d 4h" */
static char *age_text(double secs)
{
	long s = secs < 0 ? 0 : (long)secs;
	if (s < 60)
		return pgw_asprintf("%lds", s);
	if (s < 3600)
		return pgw_asprintf("%ldm", s / 60);
	if (s < 86400)
		return pgw_asprintf("%ldh %ldm", s / 3600, s % 3600 / 60);
	return pgw_asprintf("%ldd %ldh", s / 86400, s % 86400 / 3600);
}

/* Seconds since "YYYY-MM-DD HH:MM:SS" (UTC); -1 when empty or unreadable. */
static double seconds_since(const char *utc)
{
	struct tm tm = {0};
	if (!utc || !*utc || !strptime(utc, "%Y-%m-%d %H:%M:%S", &tm))
		return -1;
	return difftime(time(NULL), timegm(&tm));
}

static bool cdc_in_use(const struct pgw_config *cfg)
{
	bool any = cfg->cdc;
	for (int i = 0; i < cfg->ntables; i++)
		any |= cfg->tables[i].cdc == 1;
	return any;
}

/* After the run log: the replication slot, when change data capture is
 * configured (PostgreSQL is reached only then: status otherwise reads the
 * warehouse alone) */
static int slot_status(struct pgw_run *run)
{
	struct pgw_err err = {0};
	if (!cdc_in_use(run->cfg))
		return 0;
	int rc = pgw_pg_connect(run->pg, run->cfg, &err);
	if (rc == 0)
		rc = pgw_cdc_status(run, &err);
	return rc < 0 ? fail(&err) : 0;
}

static int cmd_status(struct pgw_run *run, const char *table)
{
	struct pgw_sink *sink = run->sink;
	struct pgw_err err = {0};
	struct pgw_rows r;
	if (pgw_runlog_latest(sink, table, &r, &err) < 0)
		return fail(&err);
	if (r.nrows == 0) {
		pgw_rows_cleanup(&r);
		pgw_err_set(&err, PGW_ERR_USAGE, "no runs recorded%s%s yet; they are recorded by sync, reload and load",
			    table ? " for table " : "", table ? table : "");
		return fail(&err);
	}
	enum { NC = 7 };
	char **cells = pgw_calloc((size_t)(r.nrows + 1) * NC, sizeof(char *));
	const char *head[NC] = {"table", "last run (UTC)", "strategy", "rows", "status", "behind", "error"};
	for (int c = 0; c < NC; c++)
		cells[c] = pgw_strdup(head[c]);
	for (int i = 0; i < r.nrows; i++) {
		char **in = &r.cells[i * r.ncols], **out = &cells[(i + 1) * NC];
		double behind = seconds_since(in[8]);
		const char *err_text = in[7] ? in[7] : "";
		out[0] = pgw_strdup(in[0]);
		out[1] = pgw_asprintf("%.19s", in[3] ? in[3] : "");
		out[2] = pgw_strdup(in[2] && *in[2] ? in[2] : in[1]);
		out[3] = pgw_strdup(in[5] ? in[5] : "0");
		out[4] = pgw_strdup(in[6] && *in[6] ? in[6] : "?");
		out[5] = behind < 0 ? pgw_strdup("never synced") : age_text(behind);
		out[6] = pgw_asprintf("%.100s", err_text);
	}
	const bool right[NC] = {false, false, false, true, false, true, false};
	print_table(cells, r.nrows + 1, NC, right);
	for (int i = 0; i < (r.nrows + 1) * NC; i++)
		free(cells[i]);
	free(cells);
	pgw_rows_cleanup(&r);
	return slot_status(run);
}

static void print_summary(char **names, struct pgw_table_result *res, int n)
{
	char **cells = pgw_calloc((size_t)(n + 1) * 5, sizeof(char *));
	const char *head[] = {"table", "strategy", "rows", "time", "status"};
	for (int c = 0; c < 5; c++)
		cells[c] = pgw_strdup(head[c]);
	for (int i = 0; i < n; i++) {
		char **row = &cells[(i + 1) * 5];
		row[0] = pgw_strdup(names[i]);
		row[1] = pgw_strdup(res[i].strategy ? res[i].strategy : "-");
		row[2] = pgw_asprintf("%lld", res[i].rows);
		row[3] = pgw_asprintf("%.1fs", res[i].seconds);
		row[4] = pgw_strdup(res[i].ok && res[i].warning ? "ok, warning"
				    : res[i].ok			? "ok"
				    : res[i].name		? "FAILED"
								: "not run");
	}
	const bool right[] = {false, false, true, true, false};
	print_table(cells, n + 1, 5, right);
	for (int i = 0; i < (n + 1) * 5; i++)
		free(cells[i]);
	free(cells);
}

struct table_job {
	const struct pgw_cli *cli;
	char **names;
	struct pgw_table_result *res;
};

static void run_one(struct pgw_run *run, int i, void *ctx)
{
	static const enum pgw_command map[] = {[CLI_SYNC] = PGW_CMD_SYNC,
					       [CLI_RELOAD] = PGW_CMD_RELOAD,
					       [CLI_EXTRACT] = PGW_CMD_EXTRACT,
					       [CLI_LOAD] = PGW_CMD_LOAD};
	struct table_job *tj = ctx;
	enum pgw_command cmd = map[tj->cli->cmd];
	if (cmd != PGW_CMD_LOAD)
		pgw_archive_clean(run->cfg, tj->names[i]);
	if (pgw_run_table(run, cmd, tj->names[i], &tj->res[i]) < 0)
		pgw_error("%s %s: %s", pgw_command_name(cmd), tj->names[i], tj->res[i].err.msg);
}

/* Moves the tables synced by change data capture to the end of names; returns
 * how many. */
static int cdc_last(const struct pgw_config *cfg, char **names, int n)
{
	int k = 0;
	char **sorted = pgw_calloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++)
		if (!pgw_table_cdc(cfg, names[i]))
			sorted[k++] = names[i];
	int plain = k;
	for (int i = 0; i < n; i++)
		if (pgw_table_cdc(cfg, names[i]))
			sorted[k++] = names[i];
	memcpy(names, sorted, (size_t)n * sizeof(char *));
	free(sorted);
	return n - plain;
}

static int run_tables(const struct pgw_cli *cli, struct pgw_run *run)
{
	struct pgw_err err = {0};
	char **names = NULL;
	int n = 0;
	if (!strcmp(cli->table, "all")) {
		run->last_modified_where_present = true;
		if (pgw_all_tables(run, &names, &n, &err) < 0)
			return fail(&err);
	} else {
		names = pgw_calloc(1, sizeof(char *));
		names[n++] = pgw_strdup(cli->table);
	}
	struct pgw_table_result *res = pgw_calloc((size_t)(n ? n : 1), sizeof(*res));
	/* sync and reload of change data capture tables: one stream for all of them,
	 * after the others (a reload copies them again from a slot's snapshot, with
	 * the position that goes with it) */
	int ncdc = cli->cmd == CLI_SYNC || cli->cmd == CLI_RELOAD ? cdc_last(run->cfg, names, n) : 0;
	struct table_job tj = {.cli = cli, .names = names, .res = res};
	pgw_progress_start(n);
	pgw_run_jobs(run, n - ncdc, run->cfg->jobs, run_one, &tj);
	if (ncdc && !pgw_interrupted() &&
	    pgw_cdc_sync(run, names + n - ncdc, ncdc, cli->cmd == CLI_RELOAD, res + n - ncdc, &err) < 0)
		pgw_error("%s (change data capture): %s", cli->cmd == CLI_RELOAD ? "reload" : "sync", err.msg);
	pgw_progress_stop();
	int failed = 0, code = 0;
	for (int i = 0; i < n; i++)
		if (!res[i].ok) {
			failed++;
			code = pgw_exit_code(res[i].err.code);
		}
	print_summary(names, res, n);
	for (int i = 0; i < n; i++) {
		pgw_table_result_cleanup(&res[i]);
		free(names[i]);
	}
	free(res);
	free(names);
	if (pgw_interrupted()) /* the exit status a shell gives a command stopped by
				  the signal */
		return 128 + pgw_interrupted();
	if (!failed)
		return 0;
	return n == 1 ? code : 1;
}

/* pgwarehouse stream: the change data capture tables among TABLE|all,
 * continuously */
static int cmd_stream(const struct pgw_cli *cli, struct pgw_run *run)
{
	struct pgw_err err = {0};
	char **names = NULL;
	int n = 0;
	bool all = !strcmp(cli->table, "all");
	if (all && pgw_all_tables(run, &names, &n, &err) < 0)
		return fail(&err);
	if (!all) {
		names = pgw_calloc(1, sizeof(char *));
		names[n++] = pgw_strdup(cli->table);
	}
	int ncdc = cdc_last(run->cfg, names, n), rc = 0;
	if (!ncdc || (!all && ncdc < n)) {
		pgw_err_set(&err, PGW_ERR_CONFIG,
			    "stream follows tables synced by change data capture, and %s%s "
			    "is not one: set cdc: true "
			    "(at the top of the config for every table, or per table)",
			    all ? "no table of " : "table ",
			    all ? (run->cfg->path ? run->cfg->path : "the config") : cli->table);
		rc = fail(&err);
	} else {
		struct pgw_table_result *res = pgw_calloc((size_t)ncdc, sizeof(*res));
		pgw_progress_start(ncdc); /* copies, then the stream's line (lag) */
		rc = pgw_cdc_stream(run, names + n - ncdc, ncdc, cli->interval, res, &err);
		pgw_progress_stop();
		if (rc < 0)
			rc = fail(&err);
		print_summary(names + n - ncdc, res, ncdc);
		for (int i = 0; i < ncdc; i++) {
			if (rc == 0 && !res[i].ok) /* left out at the start (gone, refused): named then */
				rc = 1;
			free(res[i].name);
		}
		free(res);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* pgwarehouse verify: exit 0 when every table equals PostgreSQL, 1 when one differs */
static int cmd_verify(const struct pgw_cli *cli, struct pgw_run *run)
{
	struct pgw_err err = {0};
	char **names = NULL;
	int n = 0, differ = 0;
	if (!strcmp(cli->table, "all")) {
		if (pgw_all_tables(run, &names, &n, &err) < 0)
			return fail(&err);
	} else {
		names = pgw_calloc(1, sizeof(char *));
		names[n++] = pgw_strdup(cli->table);
	}
	int rc = pgw_verify(run, names, n, cli->repair, &differ, &err);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rc < 0)
		return pgw_exit_code(err.code ? err.code : PGW_ERR_INTERNAL);
	return differ ? 1 : 0;
}

static int with_connections(const struct pgw_cli *cli, const struct pgw_config *cfg)
{
	struct pgw_err err = {0};
	struct pgw_pg pg = {0};
	struct pgw_sink *sink = NULL;
	int rc = 0;
	bool need_pg = cli->cmd != CLI_LISTWH && cli->cmd != CLI_STATUS;
	bool need_sink = cli->cmd != CLI_LIST;
	if (need_pg && pgw_pg_connect(&pg, cfg, &err) < 0)
		return fail(&err);
	if (need_sink) {
		const struct pgw_sink_ops *ops = pgw_sink_find(cfg->backend);
		if (!ops) {
			pgw_err_set(&err, PGW_ERR_CONFIG,
				    "the %s backend is not available in this build yet; use duckdb", cfg->backend);
			rc = fail(&err);
			goto out;
		}
		if (ops->open(cfg, &sink, &err) < 0) {
			rc = fail(&err);
			goto out;
		}
	}
	struct pgw_run run = {
		.cfg = cfg, .pg = &pg, .sink = sink, .last_modified = cli->last_modified, .force = cli->force};
	if (cli->cmd == CLI_LIST)
		rc = cmd_list(&pg);
	else if (cli->cmd == CLI_LISTWH)
		rc = cmd_listwh(sink);
	else if (cli->cmd == CLI_STATUS)
		rc = cmd_status(&run, cli->table);
	else if (cli->cmd == CLI_CHECK)
		rc = pgw_cmd_check(&run);
	else if (cli->cmd == CLI_STREAM)
		rc = cmd_stream(cli, &run);
	else if (cli->cmd == CLI_VERIFY)
		rc = cmd_verify(cli, &run);
	else if (cli->cmd == CLI_TEARDOWN)
		rc = pgw_cdc_teardown(&run, &err) < 0 ? fail(&err) : 0;
	else
		rc = run_tables(cli, &run);
out:
	if (sink)
		sink->ops->close(sink);
	pgw_pg_close(&pg);
	return rc;
}

int pgw_cli_run(const struct pgw_cli *cli)
{
	if (cli->cmd == CLI_INIT)
		return pgw_cmd_init(cli);
	struct pgw_config cfg;
	struct pgw_err err = {0};
	int rc;
	if (pgw_config_load(&cfg, &cli->over, &err) < 0)
		rc = fail(&err);
	else
		rc = with_connections(cli, &cfg);
	pgw_config_cleanup(&cfg);
	return rc;
}
