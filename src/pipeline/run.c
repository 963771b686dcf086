/* Running sync and reload for one table: Postgres COPY -> batches -> sink, in one snapshot. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "pipeline/extract.h"
#include "pipeline/sync.h"

#define BATCH_ROWS 2048 /* DuckDB's vector size: one batch fills one data chunk */

static int stream_rows(struct pgw_run *run, struct pgw_plan *plan, struct pgw_table_result *res)
{
	struct pgw_err *err = &res->err;
	const struct pgw_table_def *def = plan->def;
	const struct pgw_typeinfo **types = pgw_calloc((size_t)def->ncols, sizeof(*types));
	for (int i = 0; i < def->ncols; i++)
		types[i] = &def->cols[i].ti;
	struct pgw_batch *batch = pgw_batch_new(def->ncols, types, BATCH_ROWS);
	free(types);
	struct pgw_copy *cp = NULL;
	int rc = run->sink->ops->begin(run->sink, &plan->target, plan->mode, err);
	if (rc == 0 && !(cp = pgw_copy_start(run->pg, def, plan->select_sql, err)))
		rc = -1;
	long n = 0;
	while (rc == 0 && (n = pgw_copy_next(cp, batch, err)) > 0) {
		rc = run->sink->ops->write(run->sink, batch, err);
		res->rows += n;
	}
	if (n < 0)
		rc = -1;
	if (cp)
		res->bytes = pgw_copy_bytes(cp);
	pgw_copy_free(cp);
	pgw_batch_free(batch);
	if (rc == 0)
		rc = run->sink->ops->commit(run->sink, err);
	else
		run->sink->ops->abort(run->sink);
	return rc;
}

static int sync_table(struct pgw_run *run, enum pgw_command cmd, const char *name, struct pgw_table_result *res)
{
	struct pgw_plan plan;
	int rc = pgw_plan_table(run, cmd, name, &plan, &res->err);
	if (rc == 0) {
		res->strategy = plan.strategy;
		pgw_info("%s: %s", name, plan.strategy);
		rc = stream_rows(run, &plan, res);
	}
	if (rc == 0 && pgw_pg_exec(run->pg, "COMMIT", &res->err) < 0)
		rc = -1;
	pgw_plan_cleanup(&plan);
	return rc;
}

int pgw_run_table(struct pgw_run *run, enum pgw_command cmd, const char *name, struct pgw_table_result *res)
{
	memset(res, 0, sizeof(*res));
	res->name = pgw_strdup(name);
	double t0 = pgw_now();
	/* one snapshot for the catalog reads and the data */
	int rc = pgw_pg_exec(run->pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &res->err);
	if (rc == 0) {
		if (cmd == PGW_CMD_EXTRACT)
			rc = pgw_extract_table(run, name, res);
		else if (cmd == PGW_CMD_LOAD)
			rc = pgw_load_table(run, name, res);
		else
			rc = sync_table(run, cmd, name, res);
	}
	if (rc < 0)
		pgw_pg_exec(run->pg, "ROLLBACK", NULL);
	res->seconds = pgw_now() - t0;
	res->ok = rc == 0;
	return rc;
}
