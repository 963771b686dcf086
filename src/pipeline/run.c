/* Running sync and reload for one table: Postgres COPY -> batches -> sink, in one snapshot. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/interrupt.h"
#include "core/log.h"
#include "core/progress.h"
#include "pipeline/extract.h"
#include "pipeline/runlog.h"
#include "pipeline/streams.h"
#include "pipeline/sync.h"

static void free_strs(char **v, int n)
{
	for (int i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* Drops what the load built, also (within a time bound) when a stop request cut it short. */
static void abort_load(struct pgw_run *run)
{
	pgw_cleanup_begin();
	run->sink->ops->abort(run->sink);
	pgw_cleanup_end();
}

/* Batches from the readers into the sink, on this thread. */
static int drain(struct pgw_run *run, struct pgw_streams *st, struct pgw_err *err)
{
	int rc = 0;
	struct pgw_batch *b;
	while ((b = pgw_streams_next(st, &rc, err))) {
		rc = run->sink->ops->write(run->sink, b, err);
		pgw_streams_release(st, b);
		if (rc < 0)
			break;
	}
	return rc;
}

int pgw_copy_to_sink(struct pgw_run *run, const struct pgw_table_def *def, const char *sql, struct pgw_batch *b,
		     long long *rows, struct pgw_err *err)
{
	struct pgw_copy *cp = pgw_copy_start(run->pg, def, sql, err);
	if (!cp)
		return -1;
	long n = 0;
	int rc = 0;
	while (rc == 0 && (n = pgw_copy_next(cp, b, err)) > 0) {
		*rows += n;
		rc = run->sink->ops->write(run->sink, b, err);
	}
	if (rc == 0 && n < 0)
		rc = -1;
	pgw_copy_free(cp);
	return rc;
}

/* The rows the key check found missing below the watermark, with the load's new rows */
static int copy_missing(struct pgw_run *run, struct pgw_plan *plan, struct pgw_keycheck *kc,
			struct pgw_table_result *res)
{
	const struct pgw_table_def *def = plan->stage_def ? plan->stage_def : plan->def;
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_plan_select_list(&sql, plan);
	pgw_buf_puts(&sql, " WHERE ");
	pgw_keycheck_missing_where(kc, &sql);
	pgw_buf_printf(&sql, " AND (%s) IS NOT TRUE", plan->where); /* not twice */
	struct pgw_batch *b = pgw_batch_for_def(def, 2048);
	int rc = pgw_copy_to_sink(run, def, sql.data, b, &res->picked_up, &res->err);
	pgw_batch_free(b);
	pgw_buf_cleanup(&sql);
	res->rows += res->picked_up;
	if (rc == 0 && res->picked_up)
		pgw_info("%s: %lld rows that earlier syncs had not copied (keys below the watermark, or committed "
			 "late) are loaded with this one",
			 plan->def->name, res->picked_up);
	return rc;
}

static int stage_deletes(struct pgw_run *run, struct pgw_plan *plan, struct pgw_keycheck *kc,
			 struct pgw_table_result *res)
{
	struct pgw_batch *b = pgw_batch_for_def(plan->stage_def, 2048);
	int rc = pgw_keycheck_stage_deletes(run, kc, b, &res->err);
	pgw_batch_free(b);
	res->deleted = pgw_keycheck_extra(kc) - pgw_keycheck_twice(kc);
	if (rc == 0 && res->deleted)
		pgw_info("%s: %lld rows deleted in PostgreSQL are deleted in the warehouse", plan->def->name,
			 res->deleted);
	if (rc == 0 && pgw_keycheck_twice(kc))
		pgw_info("%s: %lld more copies of rows PostgreSQL holds once are removed from the warehouse",
			 plan->def->name, pgw_keycheck_twice(kc));
	return rc;
}

static int stream_rows(struct pgw_run *run, struct pgw_plan *plan, struct pgw_keycheck *kc,
		       struct pgw_table_result *res)
{
	struct pgw_err *err = &res->err;
	char **sqls = NULL, *snapshot = NULL;
	struct pgw_pg *conns = NULL;
	int n = pgw_split_copy(run, plan, &sqls, &snapshot, &conns, err);
	int rc = n < 0 ? -1 : run->sink->ops->begin(run->sink, &plan->target, plan->mode, err);
	struct pgw_streams *st = NULL;
	const struct pgw_table_def *def = plan->stage_def ? plan->stage_def : plan->def;
	if (rc == 0 && !(st = pgw_streams_start(run, def, sqls, n, snapshot, conns, err)))
		rc = -1;
	else if (rc < 0) /* the streams' connections were not handed over */
		pgw_pg_close_all(conns, n);
	if (rc == 0)
		rc = drain(run, st, err);
	if (st)
		pgw_streams_counts(st, &res->rows, &res->bytes);
	pgw_streams_free(st);
	free_strs(sqls, n);
	free(snapshot);
	if (rc == 0 && pgw_keycheck_missing(kc))
		rc = copy_missing(run, plan, kc, res);
	if (rc == 0 && kc && plan->mode == PGW_LOAD_CHANGES)
		rc = stage_deletes(run, plan, kc, res);
	if (rc == 0)
		rc = run->sink->ops->commit(run->sink, err);
	else if (n >= 0)
		abort_load(run);
	return rc;
}

/* The largest table (PostgreSQL's estimate) new-records checks by default: the check scans the
 * key on both sides, which on a huge table would cost every sync more than its new rows do */
static double key_check_max_rows(void)
{
	const char *v = getenv("PGWAREHOUSE_KEY_CHECK_MAX_ROWS");
	return v && *v ? atof(v) : 10e6;
}

/* new-records (by default, up to a size) and tables with deletes: true compare their keys with
 * PostgreSQL's in the load's snapshot (see pgw_table_key_check) */
static bool wants_key_check(const struct pgw_run *run, enum pgw_command cmd, const char *name,
			    const struct pgw_plan *plan)
{
	if (cmd != PGW_CMD_SYNC || run->import_snapshot || !plan->where || !plan->def->npk ||
	    (plan->mode != PGW_LOAD_APPEND && plan->mode != PGW_LOAD_UPSERT))
		return false;
	int want = pgw_table_key_check(run->cfg, name, plan->mode == PGW_LOAD_APPEND);
	if (want >= 0)
		return want == 1;
	if (plan->def->est_rows <= key_check_max_rows())
		return true;
	pgw_info("%s: no key check (about %.0f rows, more than %.0f): rows below the watermark and rows "
		 "deleted in PostgreSQL are not looked for; set key_check: true (or deletes: true) to check "
		 "every sync, or run pgwarehouse verify %s on a schedule",
		 name, plan->def->est_rows, key_check_max_rows(), name);
	return false;
}

/* PostgreSQL's rows the key check compares for last_modified, a single integer key: every key up to
 * the warehouse's largest (so every deleted key is found), and above it only the rows the strategy
 * does not copy (late commits, old timestamps). A burst of new rows would otherwise all count as
 * missing and be listed to be copied a second way. NULL (every row) otherwise. */
static char *lm_domain(struct pgw_run *run, const struct pgw_plan *plan)
{
	if (!pgw_table_int_key(plan->def))
		return NULL;
	int k = plan->def->pk[0];
	char **vals = NULL, *domain = NULL;
	bool pgtext = false, found = false;
	struct pgw_err err = {0};
	if (run->sink->ops->watermark(run->sink, &plan->target, &k, 1, &vals, &pgtext, &found, &err) == 0 && found) {
		char *end;
		errno = 0;
		long long max = strtoll(vals[0], &end, 10);
		if (!errno && end != vals[0] && !*end) {
			struct pgw_buf d;
			pgw_buf_init(&d);
			pgw_buf_puts(&d, "(");
			pgw_buf_ident(&d, plan->def->cols[k].name);
			pgw_buf_printf(&d, " <= %lld OR (%s) IS NOT TRUE)", max, plan->where);
			domain = pgw_buf_steal(&d);
		}
	}
	if (vals)
		free(vals[0]);
	free(vals);
	return domain;
}

/* Keys below new-records' watermark that the warehouse lacks are loaded with the new rows; keys
 * PostgreSQL deleted are deleted in the same load (the load stages changes then) with deletes:
 * true, and are a warning without it. */
static int key_check(struct pgw_run *run, const char *name, struct pgw_plan *plan, struct pgw_keycheck **kc,
		     struct pgw_table_result *res)
{
	bool deletes = pgw_table_deletes(run->cfg, name);
	/* new-records: the rows above the watermark are new anyway */
	char *domain = plan->mode == PGW_LOAD_APPEND ? pgw_asprintf("NOT (%s)", plan->where) : lm_domain(run, plan);
	double t0 = pgw_now();
	int rc = pgw_keycheck_run(run, plan, domain, kc, &res->err);
	free(domain);
	if (rc < 0 && !deletes && res->err.code == PGW_ERR_CONFIG) { /* a key type it cannot compare yet */
		pgw_warn("%s: no key check: %s", name, res->err.msg);
		memset(&res->err, 0, sizeof(res->err));
		pgw_keycheck_free(*kc);
		*kc = NULL;
		return 0;
	}
	if (rc < 0)
		return -1;
	long long extra = pgw_keycheck_extra(*kc);
	pgw_debug("%s: key check in %.2f s: %lld keys missing, %lld gone from PostgreSQL", name, pgw_now() - t0,
		  pgw_keycheck_missing(*kc), extra);
	long long twice = pgw_keycheck_twice(*kc);
	if (extra && deletes) {
		plan->stage_def = pgw_changes_def(plan->def);
		plan->target.stage_def = plan->stage_def;
		plan->mode = PGW_LOAD_CHANGES;
		free(plan->select_sql);
		plan->select_sql = pgw_plan_select(run, plan);
		plan->target.replace_copies = twice > 0;
		pgw_keycheck_upsert_twice(*kc); /* the load upserts: one copy is left */
	} else if (extra - twice) {
		res->warning = pgw_asprintf("%lld rows deleted in PostgreSQL are still in the warehouse; set "
					    "deletes: true for the table, or run pgwarehouse verify %s --repair",
					    extra - twice, name);
		pgw_warn("%s: %s:\n%s", name, res->warning, pgw_keycheck_keys(*kc));
	} else if (twice) {
		res->warning =
			pgw_asprintf("%lld more copies of rows PostgreSQL holds once are in the warehouse "
				     "(keys held twice); run pgwarehouse verify %s --repair, or set deletes: true "
				     "for the table",
				     twice, name);
		pgw_warn("%s: %s:\n%s", name, res->warning, pgw_keycheck_keys(*kc));
	}
	return 0;
}

static int sync_table(struct pgw_run *run, enum pgw_command cmd, const char *name, struct pgw_table_result *res)
{
	struct pgw_plan plan;
	struct pgw_keycheck *kc = NULL;
	int rc = pgw_plan_table(run, cmd, name, &plan, &res->err);
	if (rc == 0) {
		res->strategy = plan.strategy;
		res->source_oid = plan.def->oid;
		res->wm_before = plan.wm_before ? pgw_strdup(plan.wm_before) : NULL;
		if (plan.mode == PGW_LOAD_REPLACE && run->cfg->max_records <= 0)
			pgw_progress_estimate(run->progress, plan.def->est_rows);
		if (run->import_snapshot)
			res->strategy = "cdc-copy";
		plan.target.commit_sql = run->commit_sql;
		pgw_info("%s: %s", name, res->strategy);
		if (wants_key_check(run, cmd, name, &plan))
			rc = key_check(run, name, &plan, &kc, res);
		if (rc == 0)
			rc = stream_rows(run, &plan, kc, res);
	}
	if (rc == 0 && plan.order && plan.norder == 1) /* last_modified */
		res->wm_after = pgw_lm_next(run, &plan, res->horizon);
	else if (rc == 0)
		res->wm_after = pgw_plan_watermark_after(run, &plan);
	/* a read-only transaction: once the warehouse committed, losing PostgreSQL here loses nothing */
	if (rc == 0)
		pgw_pg_exec(run->pg, "COMMIT", NULL);
	pgw_keycheck_free(kc);
	pgw_plan_cleanup(&plan);
	return rc;
}

const char *pgw_command_name(enum pgw_command cmd)
{
	static const char *const names[] = {[PGW_CMD_SYNC] = "sync",
					    [PGW_CMD_RELOAD] = "reload",
					    [PGW_CMD_EXTRACT] = "extract",
					    [PGW_CMD_LOAD] = "load"};
	return names[cmd];
}

void pgw_run_record(struct pgw_run *run, enum pgw_command cmd, const struct pgw_table_result *res, double started)
{
	struct pgw_run_record r = {
		.table = res->name,
		.command = pgw_command_name(cmd),
		.strategy = res->strategy,
		.started = started,
		.finished = started + res->seconds,
		.rows = res->rows,
		.bytes = res->bytes,
		.watermark_before = res->wm_before,
		.watermark_after = res->wm_after,
		.status = res->ok				 ? "ok"
			  : res->err.code == PGW_ERR_INTERRUPTED ? "interrupted"
								 : "failed",
		.error = res->ok ? res->warning : res->err.msg, /* a sync's warning: drift it found */
		.source_oid = res->source_oid,
	};
	struct pgw_err err = {0};
	pgw_cleanup_begin(); /* an interrupted table is recorded too */
	int rc = pgw_runlog_append(run->sink, &r, &err);
	pgw_cleanup_end();
	if (rc < 0)
		pgw_warn("%s: could not add to the run log %s: %s", res->name, PGW_RUNS_TABLE, err.msg);
}

/* Where a command writes: the warehouse, or the extract directory. */
static char *destination(const struct pgw_config *cfg, enum pgw_command cmd)
{
	if (cmd == PGW_CMD_EXTRACT)
		return pgw_asprintf("files:%s", cfg->data_dir);
	if (!strcmp(cfg->backend, "duckdb")) {
		char *abs = realpath(cfg->duckdb_path, NULL);
		char *id = pgw_asprintf("duckdb:%s", abs ? abs : cfg->duckdb_path);
		free(abs);
		return id;
	}
	if (!strcmp(cfg->backend, "clickhouse"))
		return pgw_asprintf("clickhouse:%s:%s/%s", cfg->clickhouse_host,
				    cfg->clickhouse_port ? cfg->clickhouse_port : "",
				    cfg->clickhouse_database ? cfg->clickhouse_database : "default");
	return pgw_asprintf("snowflake:%s/%s/%s", cfg->snowsql_account ? cfg->snowsql_account : "",
			    cfg->snowsql_database ? cfg->snowsql_database : "",
			    cfg->snowsql_schema ? cfg->snowsql_schema : "");
}

/* Two runs loading the same table into the same place would trip over each other's helper
 * tables: a transaction-level advisory lock in PostgreSQL (released with the transaction, even on
 * a crash, and safe behind a pooler in transaction mode) lets only one of them load it. */
static int lock_table(struct pgw_run *run, enum pgw_command cmd, const char *name, struct pgw_err *err)
{
	char *dest = destination(run->cfg, cmd);
	char *key = pgw_asprintf("%s|%s", dest, name);
	const char *params[] = {key};
	PGresult *res =
		pgw_pg_query(run->pg, "SELECT pg_try_advisory_xact_lock(1885821800, hashtext($1))", 1, params, err);
	int rc = res ? 0 : -1;
	if (res && strcmp(PQgetvalue(res, 0, 0), "t"))
		rc = pgw_err_set(
			err, PGW_ERR_WAREHOUSE,
			"another pgwarehouse run is loading table %s into the same %s; skipped, run again when "
			"it has finished",
			name, cmd == PGW_CMD_EXTRACT ? "directory" : "warehouse");
	PQclear(res);
	free(key);
	free(dest);
	return rc;
}

/* One snapshot for the catalog reads and the data. The table is found before the transaction
 * and locked as its first statement, before the snapshot is taken (see pgw_pg_lock). */
static int begin_table(struct pgw_run *run, enum pgw_command cmd, const char *name, struct pgw_table_result *res)
{
	struct pgw_err *err = &res->err;
	struct pgw_relation rel = {0};
	int rc = pgw_pg_find_table(run->pg, name, &rel, err);
	if (rc == 0 && (cmd == PGW_CMD_SYNC || cmd == PGW_CMD_RELOAD) && !run->import_snapshot)
		rc = pgw_lm_horizon(run, name, &res->horizon, err);
	if (rc == 0)
		rc = pgw_pg_begin(run->pg, "ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
	if (rc == 0 && run->import_snapshot) { /* before the first query of the transaction */
		struct pgw_buf sql;
		pgw_buf_init(&sql);
		pgw_buf_puts(&sql, "SET TRANSACTION SNAPSHOT ");
		pgw_buf_literal(&sql, run->import_snapshot);
		rc = pgw_pg_exec(run->pg, sql.data, err);
		pgw_buf_cleanup(&sql);
	}
	if (rc == 0 && (rc = pgw_pg_lock(run->pg, rel.schema, rel.name, rel.relkind, false, err)) == 0)
		rc = lock_table(run, cmd, name, err);
	free(rel.schema);
	free(rel.name);
	return rc;
}

static int run_locked(struct pgw_run *run, enum pgw_command cmd, const char *name, struct pgw_table_result *res)
{
	int rc = begin_table(run, cmd, name, res);
	if (rc == 0) {
		if (cmd == PGW_CMD_EXTRACT)
			rc = pgw_extract_table(run, name, res);
		else if (cmd == PGW_CMD_LOAD)
			rc = pgw_load_table(run, name, res);
		else
			rc = sync_table(run, cmd, name, res);
	}
	if (rc < 0 && run->pg->conn && PQtransactionStatus(run->pg->conn) != PQTRANS_IDLE)
		pgw_pg_exec(run->pg, "ROLLBACK", NULL);
	return rc;
}

void pgw_table_result_cleanup(struct pgw_table_result *res)
{
	free(res->name);
	free(res->wm_before);
	free(res->wm_after);
	free(res->warning);
	free(res->horizon);
	memset(res, 0, sizeof(*res));
}

int pgw_run_table(struct pgw_run *run, enum pgw_command cmd, const char *name, struct pgw_table_result *res)
{
	memset(res, 0, sizeof(*res));
	res->name = pgw_strdup(name);
	if (pgw_interrupted())
		return pgw_err_set(&res->err, PGW_ERR_INTERRUPTED, "not started: pgwarehouse was asked to stop");
	double t0 = pgw_now();
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	run->progress = pgw_progress_begin(name, -1);
	int rc = pgw_pg_ensure(run->pg, &res->err);
	if (rc == 0)
		rc = run_locked(run, cmd, name, res);
	if (rc < 0 && pgw_interrupted())
		pgw_err_set(&res->err, PGW_ERR_INTERRUPTED,
			    "interrupted: %s; the warehouse table was left as it was before this run",
			    pgw_interrupted() == SIGINT ? "SIGINT" : "SIGTERM");
	pgw_progress_end(run->progress);
	run->progress = NULL;
	res->seconds = pgw_now() - t0;
	res->ok = rc == 0;
	if (cmd != PGW_CMD_EXTRACT)
		pgw_run_record(run, cmd, res, (double)wall.tv_sec + wall.tv_nsec / 1e9);
	return rc;
}
