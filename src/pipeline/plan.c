/* Deciding a table's strategy and building the SELECT that feeds it. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "pipeline/runlog.h"
#include "pipeline/sync.h"

/* Whether a key column is compared as text: where the warehouse keeps it as text, PostgreSQL
 * compares its text form in byte order too, so both sides agree on what is larger. */
static bool key_as_text(const struct pgw_run *run, const struct pgw_coldef *c)
{
	return run->sink->ops->holds_text(run->sink, &c->ti);
}

/* The column in an order that matches the warehouse's. */
static void column_expr(const struct pgw_run *run, struct pgw_buf *b, const struct pgw_coldef *c)
{
	bool text = key_as_text(run, c);
	if (text)
		pgw_buf_puts(b, "(");
	pgw_buf_ident(b, c->name);
	if (text) /* byte order, as the warehouses compare strings */
		pgw_buf_printf(b, "%s COLLATE \"C\")", c->ti.type == PGW_T_TEXT ? c->cast : "::text");
}

/* A literal of the column's type from the watermark text (see sink.h). */
static void watermark_literal(const struct pgw_run *run, struct pgw_buf *b, const struct pgw_coldef *c, const char *v,
			      bool pgtext)
{
	bool text = key_as_text(run, c);
	switch (pgtext || text ? PGW_T_TEXT : c->ti.type) {
	case PGW_T_DATE:
		pgw_buf_puts(b, "(DATE '1970-01-01' + ");
		pgw_buf_literal(b, v);
		pgw_buf_puts(b, "::int4)");
		return;
	case PGW_T_TIMESTAMP:
	case PGW_T_TIMESTAMPTZ:
		pgw_buf_puts(b, c->ti.type == PGW_T_TIMESTAMP ? "(TIMESTAMP '1970-01-01'"
							      : "(TIMESTAMPTZ '1970-01-01 00:00:00+00'");
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
		pgw_buf_puts(b, text ? "text" : c->pgtype);
	}
}

static void row_expr(const struct pgw_run *run, struct pgw_buf *b, const struct pgw_table_def *def, const int *cols,
		     int n, char **vals, const bool *pgtext)
{
	pgw_buf_puts(b, "(");
	for (int i = 0; i < n; i++) {
		if (i)
			pgw_buf_puts(b, ", ");
		if (vals)
			watermark_literal(run, b, &def->cols[cols[i]], vals[i], pgtext[i]);
		else
			column_expr(run, b, &def->cols[cols[i]]);
	}
	pgw_buf_puts(b, ")");
}

/* PostgreSQL's text of a watermark row, for the run log; NULL when it cannot be had. */
static char *watermark_text(struct pgw_run *run, const struct pgw_table_def *def, const int *cols, int n, char **vals,
			    const bool *pgtext)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "SELECT (");
	row_expr(run, &sql, def, cols, n, vals, pgtext);
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

/* plan->where: (cols) op (watermark), when the warehouse table has rows */
static int incremental_where(struct pgw_run *run, struct pgw_plan *plan, const int *cols, int n, const char *op,
			     struct pgw_err *err)
{
	char **vals = NULL;
	bool found = false;
	bool *pgtext = pgw_calloc((size_t)n, sizeof(bool));
	if (run->sink->ops->watermark(run->sink, &plan->target, cols, n, &vals, pgtext, &found, err) < 0) {
		free(pgtext);
		return -1;
	}
	if (found) {
		struct pgw_buf cond;
		pgw_buf_init(&cond);
		row_expr(run, &cond, plan->def, cols, n, NULL, NULL);
		pgw_buf_printf(&cond, " %s ", op);
		row_expr(run, &cond, plan->def, cols, n, vals, pgtext);
		plan->where = pgw_buf_steal(&cond);
		plan->wm_before = watermark_text(run, plan->def, cols, n, vals, pgtext);
		pgw_debug("%s: watermark %s", plan->def->name, plan->wm_before ? plan->wm_before : "?");
	}
	free_vals(vals, n);
	free(pgtext);
	return 0;
}

/* Under max_records, rows go in key order so the next run continues where this one stopped. */
static void limit_clause(const struct pgw_run *run, const struct pgw_table_def *def, const int *cols, int n,
			 struct pgw_buf *sql)
{
	const struct pgw_config *cfg = run->cfg;
	if (cfg->max_records <= 0)
		return;
	if (n > 0) {
		pgw_buf_puts(sql, " ORDER BY ");
		for (int i = 0; i < n; i++) {
			pgw_buf_puts(sql, i ? ", " : "");
			column_expr(run, sql, &def->cols[cols[i]]);
		}
	}
	pgw_buf_printf(sql, " LIMIT %lld", cfg->max_records);
}

static bool orderable_for_last_modified(enum pgw_type t)
{
	switch (t) {
	case PGW_T_INT16:
	case PGW_T_INT32:
	case PGW_T_INT64:
	case PGW_T_FLOAT32:
	case PGW_T_FLOAT64:
	case PGW_T_DECIMAL:
	case PGW_T_DATE:
	case PGW_T_TIMESTAMP:
	case PGW_T_TIMESTAMPTZ: return true;
	default: return false;
	}
}

int pgw_check_last_modified(const struct pgw_table_def *def, const char *col, int *idx, struct pgw_err *err)
{
	*idx = pgw_table_def_col(def, col);
	if (*idx < 0)
		return pgw_err_set(
			err, PGW_ERR_CONFIG,
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

/* The key column new-records cannot use, if any: kept as text by the warehouse, where its text
 * does not sort as PostgreSQL sorts it ('99' > '101' for a numeric). */
static const struct pgw_coldef *unordered_key(const struct pgw_run *run, const struct pgw_table_def *def)
{
	for (int i = 0; i < def->npk; i++) {
		const struct pgw_coldef *c = &def->cols[def->pk[i]];
		if (key_as_text(run, c) && !c->text_sorted)
			return c;
	}
	return NULL;
}

/* last_modified reads rows from the watermark on. Under max_records rows go in (last_modified,
 * key) order, from the first load on, and the watermark is that pair: successive runs move on
 * even when more rows than max_records share one last_modified value. */
static void order_by_last_modified(const struct pgw_config *cfg, struct pgw_plan *plan, int lm_idx)
{
	const struct pgw_table_def *def = plan->def;
	plan->norder = cfg->max_records > 0 ? 1 + def->npk : 1;
	plan->order = pgw_calloc((size_t)plan->norder, sizeof(int));
	plan->order[0] = lm_idx;
	for (int i = 1; i < plan->norder; i++)
		plan->order[i] = def->pk[i - 1];
}

static const char *lm_setting(struct pgw_run *run, const struct pgw_table_conf *tc, const struct pgw_table_def *def)
{
	const char *own = tc ? tc->last_modified : NULL;
	if (!run->last_modified)
		return own;
	if (run->last_modified_where_present && pgw_table_def_col(def, run->last_modified) < 0) {
		pgw_info("%s: no column \"%s\", so not synced by last_modified=%s; %s", def->name, run->last_modified,
			 run->last_modified, own ? "by its own last_modified" : "by its own strategy");
		return own;
	}
	return run->last_modified;
}

/* A warehouse table of the same name that pgwarehouse did not create is someone's table: it is
 * replaced only with --force, or when its columns are the PostgreSQL table's (the Python
 * pgwarehouse made it, or a hand-made copy), and then by an atomic reload. */
static int may_replace(const struct pgw_run *run, const struct pgw_table_def *def, const struct pgw_wh_state *st,
		       struct pgw_err *err)
{
	if (st->same_columns) {
		pgw_info("warehouse table \"%s\" has this table's columns but was not created by pgwarehouse (the "
			 "Python pgwarehouse makes such tables); replacing it with an exact copy",
			 def->name);
		return 0;
	}
	if (run->force) {
		pgw_warn("warehouse table \"%s\" was not created by pgwarehouse; replacing it (--force)", def->name);
		return 0;
	}
	return pgw_err_set(
		err, PGW_ERR_TABLE,
		"warehouse table \"%s\" was not created by pgwarehouse and has other columns; left as it is: "
		"rename it, or run with --force to replace it",
		def->name);
}

/* last_modified and transactions that commit late. A row a transaction writes while a sync's
 * snapshot is taken becomes visible only after it; its last_modified value is (by now(), a
 * trigger or the application's clock) no earlier than that transaction's start. The horizon,
 * read before the snapshot, is the earliest start of the transactions then open (or the time
 * itself), less a margin for application clocks: every row with a value before it was visible to
 * the snapshot. Each load records in the run log where the next one starts: past the largest
 * value loaded when that value is before the horizon (the rows sharing it are not copied again),
 * else from the horizon. */
#define LM_MARGIN "5 seconds"

/* A session pg_stat_activity hides from this role (its state and xact_start NULL): another role's,
 * unless this one has that role's privileges or pg_read_all_stats. Only those count: a session of
 * this role with a NULL state (one starting up, before its first command) has no transaction to
 * wait for, and counting it, a client connecting at the wrong moment turned the horizon off (seen
 * by bench/soak.sh, under a writer connecting in a loop, as the "cannot see other roles'
 * transactions" warning for a database only this role used). */
#define LM_HIDDEN                                                                                               \
	"EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = usesysid AND NOT pg_has_role(r.oid, 'USAGE')) AND NOT " \
	"EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = 'pg_read_all_stats' AND pg_has_role(r.oid, 'USAGE'))"

static atomic_bool lm_noted;

static void lm_note(const char *why)
{
	if (!atomic_exchange(&lm_noted, true))
		pgw_warn("last_modified: %s, so a row of a transaction that commits after a sync starts, with an "
			 "older last_modified value, can be missed; `pgwarehouse verify --repair` finds such rows",
			 why);
}

int pgw_lm_horizon(struct pgw_run *run, const char *name, char **horizon, struct pgw_err *err)
{
	*horizon = NULL;
	const struct pgw_table_conf *tc = pgw_config_table(run->cfg, name);
	if (!run->last_modified && !(tc && tc->last_modified))
		return 0;
	char *sql = pgw_asprintf(
		"SELECT to_char((least(clock_timestamp(), min(xact_start), (SELECT min(prepared) FROM "
		"pg_prepared_xacts WHERE database = current_database())) - interval '" LM_MARGIN "') AT TIME ZONE "
		"'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), count(*) FILTER (WHERE state IS NULL AND " LM_HIDDEN
		"), pg_is_in_recovery(), "
		"current_user FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
		"AND application_name IS DISTINCT FROM 'pgwarehouse'%s",
		pgw_pg_version(run->pg) >= 100000
			? " AND coalesce(backend_type, '') NOT IN ('autovacuum worker', 'walsender', 'parallel worker')"
			: "");
	PGresult *res = pgw_pg_query(run->pg, sql, 0, NULL, err);
	free(sql);
	if (!res)
		return -1;
	if (!strcmp(PQgetvalue(res, 0, 2), "t")) {
		lm_note("PostgreSQL is a standby, where the primary's open transactions cannot be seen");
	} else if (atoll(PQgetvalue(res, 0, 1)) > 0) {
		char *why = pgw_asprintf("role %s cannot see other roles' transactions (GRANT pg_read_all_stats TO "
					 "%s lets it)",
					 PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 3));
		lm_note(why);
		free(why);
	} else {
		*horizon = pgw_strdup(PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return 0;
}

/* The horizon as a value of c's type; NULL when c is not a time: for a timestamp without time
 * zone, the earlier of UTC's and the server's default zone's clock, the zones writers use */
static char *horizon_expr(const struct pgw_coldef *c, const char *horizon)
{
	struct pgw_buf b;
	pgw_buf_init(&b);
	pgw_buf_literal(&b, horizon);
	char *t = pgw_buf_steal(&b), *e = NULL;
	const char *local = "((%s::timestamp AT TIME ZONE 'UTC') AT TIME ZONE (SELECT reset_val FROM pg_settings "
			    "WHERE name = 'TimeZone'))";
	if (c->ti.type == PGW_T_TIMESTAMPTZ)
		e = pgw_asprintf("(%s::timestamp AT TIME ZONE 'UTC')", t);
	else if (c->ti.type == PGW_T_TIMESTAMP || c->ti.type == PGW_T_DATE) {
		char *l = pgw_asprintf(local, t);
		e = pgw_asprintf("least(%s::timestamp, %s)%s", t, l, c->ti.type == PGW_T_DATE ? "::date" : "");
		free(l);
	}
	free(t);
	return e;
}

/* "<column> <op> <value>", as the run log keeps where the next load starts */
static char *lm_start_text(const struct pgw_coldef *c, const char *op, const char *value)
{
	struct pgw_buf b;
	pgw_buf_init(&b);
	pgw_buf_ident(&b, c->name);
	pgw_buf_printf(&b, " %s %s", op, value);
	return pgw_buf_steal(&b);
}

/* Reads a start text back: op (">" or ">=") and the value's text, for column c */
static bool lm_start_parse(const struct pgw_coldef *c, const char *text, bool *strict, const char **value)
{
	struct pgw_buf id;
	pgw_buf_init(&id);
	pgw_buf_ident(&id, c->name);
	bool ok = text && !strncmp(text, id.data, id.len);
	const char *p = ok ? text + id.len : NULL;
	if (ok && !strncmp(p, " >= ", 4))
		*strict = false, *value = p + 4;
	else if (ok && !strncmp(p, " > ", 3))
		*strict = true, *value = p + 3;
	else
		ok = false;
	pgw_buf_cleanup(&id);
	return ok;
}

/* The warehouse's largest value of c as a PostgreSQL expression; false for an empty table */
static int wh_max(struct pgw_run *run, struct pgw_plan *plan, struct pgw_buf *m, bool *found, struct pgw_err *err)
{
	char **vals = NULL;
	bool pgtext = false;
	int rc = run->sink->ops->watermark(run->sink, &plan->target, plan->order, 1, &vals, &pgtext, found, err);
	if (rc == 0 && *found)
		watermark_literal(run, m, &plan->def->cols[plan->order[0]], vals[0], pgtext);
	free_vals(vals, 1);
	return rc;
}

/* Typed literal of c's PostgreSQL text */
static void typed_literal(struct pgw_buf *b, const struct pgw_coldef *c, const char *text)
{
	pgw_buf_puts(b, "(");
	pgw_buf_literal(b, text);
	pgw_buf_printf(b, "::%s)", c->pgtype);
}

/* How many rows have no last_modified value: counted where an index on the column answers it,
 * else PostgreSQL's estimate (a count would be one more scan of the whole table at every sync);
 * -1 when unknown */
static long long null_lm_rows(struct pgw_run *run, const struct pgw_plan *plan, const struct pgw_coldef *c,
			      bool *estimate)
{
	char oid[16];
	snprintf(oid, sizeof(oid), "%u", plan->def->oid);
	const char *params[] = {oid, c->name};
	struct pgw_err err = {0};
	PGresult *res = pgw_pg_query(
		run->pg,
		"SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = "
		"i.indkey[0] WHERE i.indrelid = $1::oid AND a.attname = $2 AND i.indpred IS NULL), (SELECT "
		"round(s.null_frac * greatest(c.reltuples, 0))::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = "
		"c.relnamespace JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname AND "
		"s.attname = $2 AND s.inherited = (c.relkind = 'p') WHERE c.oid = $1::oid)",
		2, params, &err);
	bool indexed = res && !strcmp(PQgetvalue(res, 0, 0), "t");
	long long guess = res && !PQgetisnull(res, 0, 1) ? atoll(PQgetvalue(res, 0, 1)) : -1;
	PQclear(res);
	*estimate = !indexed;
	if (!indexed)
		return guess;
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "SELECT count(*) FROM ");
	pgw_pg_relation_sql(&sql, plan->def);
	pgw_buf_puts(&sql, " WHERE ");
	pgw_buf_ident(&sql, c->name);
	pgw_buf_puts(&sql, " IS NULL");
	res = pgw_pg_query(run->pg, sql.data, 0, NULL, &err);
	long long n = res ? atoll(PQgetvalue(res, 0, 0)) : -1;
	PQclear(res);
	pgw_buf_cleanup(&sql);
	return n;
}

/* Rows without a last_modified value are read on every load; says how many, as they cost a copy */
static void note_null_lm(struct pgw_run *run, const struct pgw_plan *plan, const struct pgw_coldef *c)
{
	bool estimate = false;
	long long n = null_lm_rows(run, plan, c, &estimate);
	if (n > 0)
		pgw_info("%s: %s%lld rows have no %s (NULL%s), so each sync copies them again (nothing says when "
			 "they changed); give them a value to spare that",
			 plan->def->name, estimate ? "about " : "", n, c->name,
			 estimate ? ": PostgreSQL's estimate" : "");
}

/* last_modified's condition: from where the previous load said the next one starts, but never
 * after the warehouse's largest value (a load from older files, a table replaced by hand) */
static int lm_where(struct pgw_run *run, struct pgw_plan *plan, struct pgw_err *err)
{
	const struct pgw_coldef *c = &plan->def->cols[plan->order[0]];
	struct pgw_buf m, sql;
	pgw_buf_init(&m);
	pgw_buf_init(&sql);
	bool found = false, strict = false;
	char *logged = NULL;
	const char *value = NULL;
	int rc = wh_max(run, plan, &m, &found, err);
	if (rc == 0 && found)
		rc = pgw_runlog_resume(run->sink, plan->def->name, &logged, err);
	if (rc == 0 && found) {
		pgw_buf_puts(&sql, "SELECT CASE WHEN ");
		if (lm_start_parse(c, logged, &strict, &value)) {
			typed_literal(&sql, c, value);
			pgw_buf_printf(&sql, " = %s AND %s THEN '>' WHEN ", m.data, strict ? "true" : "false");
			typed_literal(&sql, c, value);
			pgw_buf_printf(&sql, " <= %s THEN '>=' END, ", m.data);
			typed_literal(&sql, c, value);
		} else {
			pgw_buf_puts(&sql, "false THEN NULL END, NULL");
		}
		pgw_buf_printf(&sql, "::text, (%s)::text", m.data);
		PGresult *res = pgw_pg_query(run->pg, sql.data, 0, NULL, err);
		rc = res ? 0 : -1;
		if (res) {
			bool logged_ok = !PQgetisnull(res, 0, 0);
			const char *op = logged_ok ? PQgetvalue(res, 0, 0) : ">=";
			const char *v = PQgetvalue(res, 0, logged_ok && strcmp(op, ">") ? 1 : 2);
			struct pgw_buf cond;
			pgw_buf_init(&cond);
			pgw_buf_puts(&cond, c->notnull ? "" : "(");
			column_expr(run, &cond, c);
			pgw_buf_printf(&cond, " %s ", op);
			typed_literal(&cond, c, v);
			if (!c->notnull) { /* NULL says nothing about when a row changed: such rows every time */
				pgw_buf_puts(&cond, " OR ");
				pgw_buf_ident(&cond, c->name);
				pgw_buf_puts(&cond, " IS NULL)");
				note_null_lm(run, plan, c);
			}
			plan->where = pgw_buf_steal(&cond);
			plan->wm_before = lm_start_text(c, op, v);
			pgw_debug("%s: last_modified from %s (run log: %s)", plan->def->name, plan->wm_before,
				  logged ? logged : "none");
		}
		PQclear(res);
	}
	free(logged);
	pgw_buf_cleanup(&m);
	pgw_buf_cleanup(&sql);
	return rc;
}

char *pgw_lm_next(struct pgw_run *run, struct pgw_plan *plan, const char *horizon)
{
	const struct pgw_coldef *c = &plan->def->cols[plan->order[0]];
	struct pgw_buf m, sql;
	pgw_buf_init(&m);
	pgw_buf_init(&sql);
	bool found = false;
	struct pgw_err err = {0};
	char *text = NULL, *h = horizon ? horizon_expr(c, horizon) : NULL;
	if (wh_max(run, plan, &m, &found, &err) == 0 && found) {
		if (h)
			pgw_buf_printf(
				&sql,
				"SELECT CASE WHEN %s < %s THEN '>' ELSE '>=' END, CASE WHEN %s < %s THEN (%s)::text "
				"ELSE (%s)::text END",
				m.data, h, m.data, h, m.data, h);
		else
			pgw_buf_printf(&sql, "SELECT '>=', (%s)::text", m.data);
		PGresult *res = pgw_pg_query(run->pg, sql.data, 0, NULL, &err);
		if (res)
			text = lm_start_text(c, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
		PQclear(res);
	}
	free(h);
	pgw_buf_cleanup(&m);
	pgw_buf_cleanup(&sql);
	return text;
}

/* A table dropped and created again under its name since its last sync: its keys and last_modified
 * values start again, which a key-based sync would never see (below the watermark) while the old
 * table's rows stay; it is reloaded instead. */
static int made_again_since(struct pgw_run *run, const char *name, const struct pgw_table_def *def, bool *again,
			    struct pgw_err *err)
{
	unsigned logged = 0;
	if (pgw_runlog_source_oid(run->sink, name, &logged, err) < 0)
		return -1;
	*again = logged && logged != def->oid;
	if (*again)
		pgw_warn("table \"%s\" was dropped and created again in PostgreSQL since its last sync (a new table "
			 "under its name, whose rows a sync by key would miss); reloading it",
			 def->name);
	return 0;
}

/* Picks mode and strategy, and the condition of incremental strategies. */
static int choose_strategy(struct pgw_run *run, enum pgw_command cmd, const char *name, struct pgw_plan *plan,
			   struct pgw_err *err)
{
	const struct pgw_table_def *def = plan->def;
	const struct pgw_table_conf *tc = pgw_config_table(run->cfg, name);
	const char *lm = lm_setting(run, tc, def);
	int lm_idx = -1;
	if (lm && pgw_check_last_modified(def, lm, &lm_idx, err) < 0)
		return -1;
	if (lm && def->npk == 0 && cmd != PGW_CMD_RELOAD)
		return pgw_err_set(err, PGW_ERR_CONFIG,
				   "table \"%s\" has no primary key, which last_modified needs to merge rows; add one "
				   "or use reload: true",
				   def->name);
	if (lm && def->npk > 0)
		order_by_last_modified(run->cfg, plan, lm_idx);
	struct pgw_wh_state st = {0};
	if (run->sink->ops->inspect(run->sink, &plan->target, &st, err) < 0 ||
	    (st.exists && !st.ours && st.unmarked && pgw_runlog_loaded(run->sink, name, &st.ours, err) < 0))
		return -1;
	plan->mode = PGW_LOAD_REPLACE;
	plan->strategy = "reload";
	if (st.exists && !st.ours && may_replace(run, def, &st, err) < 0)
		return -1;
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
		return 0;
	}
	if (pgw_table_reload_due(tc, time(NULL)))
		return 0;
	bool made_again = false;
	if (made_again_since(run, name, def, &made_again, err) < 0)
		return -1;
	if (made_again)
		return 0;
	if (def->npk == 0) {
		pgw_warn("table \"%s\" has no primary key; reloading it in full (set reload: true to silence this)",
			 def->name);
		return 0;
	}
	if (lm) {
		plan->mode = PGW_LOAD_UPSERT;
		plan->strategy = "last-modified";
		if (plan->norder == 1) /* under max_records, by (last_modified, key) */
			return lm_where(run, plan, err);
		return incremental_where(run, plan, plan->order, plan->norder, ">=", err);
	}
	const struct pgw_coldef *k = unordered_key(run, def);
	if (k) {
		pgw_warn(
			"table \"%s\": key column \"%s\" (%s) is kept as text in the warehouse, where it does not sort "
			"as in PostgreSQL, so new rows cannot be found by key; reloading it in full (set "
			"last_modified, "
			"or reload: true to silence this)",
			def->name, k->name, k->pgtype);
		return 0;
	}
	plan->mode = PGW_LOAD_APPEND;
	plan->strategy = "new-records";
	return incremental_where(run, plan, def->pk, def->npk, ">", err);
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
	int rc = choose_strategy(run, cmd, name, plan, err);
	/* said when the warehouse table is made, not at every sync into it (cron would mail it each
	 * time); `check` lists them at any time */
	for (int i = 0; rc == 0 && plan->mode == PGW_LOAD_REPLACE && i < def->ncols; i++)
		if (def->cols[i].lossy_text)
			pgw_warn("column \"%s\".\"%s\" has type %s, kept as text", def->name, def->cols[i].name,
				 def->cols[i].pgtype);
	if (rc == 0)
		plan->select_sql = pgw_plan_select(run, plan);
	return rc;
}

void pgw_plan_select_list(struct pgw_buf *sql, const struct pgw_plan *plan)
{
	pgw_pg_select_list(sql, plan->def, plan->mode == PGW_LOAD_CHANGES ? ", 0::bigint, NULL::text" : NULL);
}

char *pgw_plan_select(const struct pgw_run *run, const struct pgw_plan *plan)
{
	const struct pgw_table_def *def = plan->def;
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_plan_select_list(&sql, plan);
	if (plan->where)
		pgw_buf_printf(&sql, " WHERE %s", plan->where);
	if (plan->order)
		limit_clause(run, def, plan->order, plan->norder, &sql);
	else
		limit_clause(run, def, def->pk, def->npk, &sql);
	return pgw_buf_steal(&sql);
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
	free(plan->where);
	if (plan->stage_def)
		pgw_changes_def_free(plan->stage_def);
	pgw_table_def_free(plan->def);
	free(plan->select_sql);
	free(plan->order);
	memset(plan, 0, sizeof(*plan));
}

/* `sync all` takes tables only; say once which views it leaves out (named, they sync). */
static void note_views(struct pgw_run *run)
{
	const char *params[] = {run->cfg->pgschema};
	PGresult *res = pgw_pg_query(run->pg,
				     "SELECT string_agg(quote_ident(c.relname), ', ' ORDER BY c.relname COLLATE \"C\") "
				     "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
				     "WHERE n.nspname = $1 AND c.relkind IN ('v', 'm')",
				     1, params, NULL);
	if (res && !PQgetisnull(res, 0, 0))
		pgw_info("sync all leaves out the views of schema \"%s\" (%s); name them, or list them under "
			 "tables:, to sync them",
			 run->cfg->pgschema, PQgetvalue(res, 0, 0));
	PQclear(res);
}

int pgw_all_tables(struct pgw_run *run, char ***names, int *n, struct pgw_err *err)
{
	const struct pgw_config *cfg = run->cfg;
	if (!cfg->has_tables) {
		if (pgw_pg_list_tables(run->pg, cfg->pgschema, names, n, err) < 0)
			return -1;
		note_views(run);
		return 0;
	}
	*names = pgw_calloc((size_t)cfg->ntables, sizeof(char *));
	*n = 0;
	for (int i = 0; i < cfg->ntables; i++)
		if (!cfg->tables[i].skip)
			(*names)[(*n)++] = pgw_strdup(cfg->tables[i].name);
	return 0;
}
