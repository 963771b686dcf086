/* Deciding a table's strategy and building the SELECT that feeds it. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "pipeline/sync.h"

double pgw_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The column as the COPY exports it, in an order that matches the warehouse's. */
static void column_expr(struct pgw_buf *b, const struct pgw_coldef *c)
{
	bool text = c->ti.type == PGW_T_TEXT || c->ti.type == PGW_T_JSON;
	if (text)
		pgw_buf_puts(b, "(");
	pgw_buf_ident(b, c->name);
	pgw_buf_puts(b, c->cast);
	if (text) /* byte order, as DuckDB compares strings */
		pgw_buf_puts(b, " COLLATE \"C\")");
}

/* A literal of the column's type from the watermark text (see sink.h). */
static void watermark_literal(struct pgw_buf *b, const struct pgw_coldef *c, const char *v, bool pgtext)
{
	switch (pgtext ? PGW_T_TEXT : c->ti.type) {
	case PGW_T_DATE:
		pgw_buf_puts(b, "(DATE '1970-01-01' + ");
		pgw_buf_literal(b, v);
		pgw_buf_puts(b, "::int4)");
		return;
	case PGW_T_TIMESTAMP:
	case PGW_T_TIMESTAMPTZ:
		pgw_buf_puts(b, c->ti.type == PGW_T_TIMESTAMP ? "(TIMESTAMP '1970-01-01'" : "(TIMESTAMPTZ '1970-01-01 00:00:00+00'");
		pgw_buf_puts(b, " + ");
		pgw_buf_literal(b, v);
		pgw_buf_puts(b, "::int8 * INTERVAL '1 microsecond')");
		return;
	case PGW_T_BYTES:
		pgw_buf_puts(b, "decode(");
		pgw_buf_literal(b, v);
		pgw_buf_puts(b, ", 'hex')");
		return;
	default:
		pgw_buf_literal(b, v);
		pgw_buf_puts(b, "::");
		pgw_buf_puts(b, c->cast[0] ? "text" : c->pgtype);
	}
}

static void row_expr(struct pgw_buf *b, const struct pgw_table_def *def, const int *cols, int n, char **vals,
		     const bool *pgtext)
{
	pgw_buf_puts(b, "(");
	for (int i = 0; i < n; i++) {
		if (i)
			pgw_buf_puts(b, ", ");
		if (vals)
			watermark_literal(b, &def->cols[cols[i]], vals[i], pgtext[i]);
		else
			column_expr(b, &def->cols[cols[i]]);
	}
	pgw_buf_puts(b, ")");
}

/* PostgreSQL's text of a watermark row, for the run log; NULL when it cannot be had. */
static char *watermark_text(struct pgw_run *run, const struct pgw_table_def *def, const int *cols, int n,
			    char **vals, const bool *pgtext)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "SELECT (");
	row_expr(&sql, def, cols, n, vals, pgtext);
	pgw_buf_puts(&sql, ")::text");
	PGresult *res = pgw_pg_query(run->pg, sql.data, 0, NULL, NULL);
	pgw_buf_cleanup(&sql);
	char *text = res && !PQgetisnull(res, 0, 0) ? pgw_strdup(PQgetvalue(res, 0, 0)) : NULL;
	PQclear(res);
	return text;
}

static void free_vals(char **vals, int n)
{
	for (int i = 0; vals && i < n; i++)
		free(vals[i]);
	free(vals);
}

/* WHERE (cols) op (watermark) and, under max_records, ORDER BY cols so later runs continue. */
static int incremental_where(struct pgw_run *run, struct pgw_plan *plan, const int *cols, int n, const char *op,
			     struct pgw_buf *sql, struct pgw_err *err)
{
	char **vals = NULL;
	bool found = false;
	bool *pgtext = pgw_calloc((size_t)n, sizeof(bool));
	if (run->sink->ops->watermark(run->sink, &plan->target, cols, n, &vals, pgtext, &found, err) < 0) {
		free(pgtext);
		return -1;
	}
	if (found) {
		pgw_buf_puts(sql, " WHERE ");
		row_expr(sql, plan->def, cols, n, NULL, NULL);
		pgw_buf_printf(sql, " %s ", op);
		row_expr(sql, plan->def, cols, n, vals, pgtext);
		plan->wm_before = watermark_text(run, plan->def, cols, n, vals, pgtext);
		pgw_debug("%s: watermark %s", plan->def->name, plan->wm_before ? plan->wm_before : "?");
	}
	free_vals(vals, n);
	free(pgtext);
	return 0;
}

/* Under max_records, rows go in key order so the next run continues where this one stopped. */
static void limit_clause(const struct pgw_config *cfg, const struct pgw_table_def *def, const int *cols, int n,
			 struct pgw_buf *sql)
{
	if (cfg->max_records <= 0)
		return;
	if (n > 0) {
		pgw_buf_puts(sql, " ORDER BY ");
		for (int i = 0; i < n; i++) {
			pgw_buf_puts(sql, i ? ", " : "");
			column_expr(sql, &def->cols[cols[i]]);
		}
	}
	pgw_buf_printf(sql, " LIMIT %lld", cfg->max_records);
}

static bool orderable_for_last_modified(enum pgw_type t)
{
	switch (t) {
	case PGW_T_INT16: case PGW_T_INT32: case PGW_T_INT64: case PGW_T_FLOAT32: case PGW_T_FLOAT64:
	case PGW_T_DECIMAL: case PGW_T_DATE: case PGW_T_TIMESTAMP: case PGW_T_TIMESTAMPTZ:
		return true;
	default:
		return false;
	}
}

int pgw_check_last_modified(const struct pgw_table_def *def, const char *col, int *idx, struct pgw_err *err)
{
	*idx = pgw_table_def_col(def, col);
	if (*idx < 0)
		return pgw_err_set(err, PGW_ERR_CONFIG,
				   "table \"%s\" has no column \"%s\" for last_modified; fix last_modified in the config "
				   "or on the command line",
				   def->name, col);
	if (!orderable_for_last_modified(def->cols[*idx].ti.type))
		return pgw_err_set(err, PGW_ERR_CONFIG,
				   "column \"%s\".\"%s\" (%s) cannot serve as last_modified; use a timestamp, date or "
				   "number column",
				   def->name, col, def->cols[*idx].pgtype);
	return 0;
}

static const char *lm_setting(struct pgw_run *run, const struct pgw_table_conf *tc)
{
	if (run->last_modified)
		return run->last_modified;
	return tc ? tc->last_modified : NULL;
}

/* Picks mode and strategy; appends the WHERE/ORDER BY of incremental strategies to sql. */
static int choose_strategy(struct pgw_run *run, enum pgw_command cmd, const char *name, struct pgw_plan *plan,
			   struct pgw_buf *sql, struct pgw_err *err)
{
	const struct pgw_table_def *def = plan->def;
	const struct pgw_table_conf *tc = pgw_config_table(run->cfg, name);
	const char *lm = lm_setting(run, tc);
	int lm_idx = -1;
	if (lm && pgw_check_last_modified(def, lm, &lm_idx, err) < 0)
		return -1;
	if (lm && def->npk == 0 && cmd != PGW_CMD_RELOAD)
		return pgw_err_set(err, PGW_ERR_CONFIG,
				   "table \"%s\" has no primary key, which last_modified needs to merge rows; add one "
				   "or use reload: true",
				   def->name);
	struct pgw_wh_state st;
	if (run->sink->ops->inspect(run->sink, &plan->target, &st, err) < 0)
		return -1;
	plan->mode = PGW_LOAD_REPLACE;
	plan->strategy = "reload";
	if (cmd == PGW_CMD_RELOAD)
		return 0;
	if (!st.exists) {
		plan->strategy = "initial load";
		return 0;
	}
	if (!st.same_shape) {
		if (st.ours)
			pgw_warn("table \"%s\" changed shape in PostgreSQL (columns or types) since it was loaded; "
				 "reloading",
				 def->name);
		else
			pgw_warn("warehouse table \"%s\" was not created by pgwarehouse; replacing it with a full copy",
				 def->name);
		return 0;
	}
	if (pgw_table_reload_due(tc, time(NULL)))
		return 0;
	if (def->npk == 0) {
		pgw_warn("table \"%s\" has no primary key; reloading it in full (set reload: true to silence this)",
			 def->name);
		return 0;
	}
	if (lm) {
		plan->mode = PGW_LOAD_UPSERT;
		plan->strategy = "last-modified";
		plan->order = pgw_calloc(1, sizeof(int));
		plan->order[0] = lm_idx;
		plan->norder = 1;
		return incremental_where(run, plan, &lm_idx, 1, ">=", sql, err);
	}
	plan->mode = PGW_LOAD_APPEND;
	plan->strategy = "new-records";
	return incremental_where(run, plan, def->pk, def->npk, ">", sql, err);
}

int pgw_plan_table(struct pgw_run *run, enum pgw_command cmd, const char *name, struct pgw_plan *plan,
		   struct pgw_err *err)
{
	memset(plan, 0, sizeof(*plan));
	if (!strncmp(name, PGW_INTERNAL_PREFIX, strlen(PGW_INTERNAL_PREFIX)))
		return pgw_err_set(err, PGW_ERR_USAGE, "table names starting with %s are reserved for pgwarehouse",
				   PGW_INTERNAL_PREFIX);
	if (pgw_pg_table_def(run->pg, name, &plan->def, err) < 0)
		return -1;
	const struct pgw_table_def *def = plan->def;
	plan->target.def = def;
	plan->target.name = def->name;
	plan->target.schema = strcmp(def->schema, run->cfg->pgschema) ? def->schema : NULL;
	for (int i = 0; i < def->ncols; i++)
		if (def->cols[i].lossy_text)
			pgw_warn("column \"%s\".\"%s\" has type %s, kept as text", def->name, def->cols[i].name,
				 def->cols[i].pgtype);
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_pg_select_list(&sql, def);
	if (choose_strategy(run, cmd, name, plan, &sql, err) < 0) {
		pgw_buf_cleanup(&sql);
		return -1;
	}
	if (plan->order)
		limit_clause(run->cfg, def, plan->order, plan->norder, &sql);
	else
		limit_clause(run->cfg, def, def->pk, def->npk, &sql);
	plan->select_sql = pgw_buf_steal(&sql);
	return 0;
}

char *pgw_plan_watermark_after(struct pgw_run *run, const struct pgw_plan *plan)
{
	const int *cols = plan->order ? plan->order : plan->def->pk;
	int n = plan->order ? plan->norder : plan->def->npk;
	if (n == 0)
		return NULL;
	char **vals = NULL;
	bool found = false;
	bool *pgtext = pgw_calloc((size_t)n, sizeof(bool));
	char *text = NULL;
	struct pgw_err err = {0};
	if (run->sink->ops->watermark(run->sink, &plan->target, cols, n, &vals, pgtext, &found, &err) == 0 && found)
		text = watermark_text(run, plan->def, cols, n, vals, pgtext);
	free_vals(vals, n);
	free(pgtext);
	return text;
}

void pgw_plan_cleanup(struct pgw_plan *plan)
{
	free(plan->wm_before);
	pgw_table_def_free(plan->def);
	free(plan->select_sql);
	free(plan->order);
	memset(plan, 0, sizeof(*plan));
}

int pgw_all_tables(struct pgw_run *run, char ***names, int *n, struct pgw_err *err)
{
	const struct pgw_config *cfg = run->cfg;
	if (!cfg->has_tables)
		return pgw_pg_list_tables(run->pg, cfg->pgschema, names, n, err);
	*names = pgw_calloc((size_t)cfg->ntables, sizeof(char *));
	*n = 0;
	for (int i = 0; i < cfg->ntables; i++)
		if (!cfg->tables[i].skip)
			(*names)[(*n)++] = pgw_strdup(cfg->tables[i].name);
	return 0;
}
