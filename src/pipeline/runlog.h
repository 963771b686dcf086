/* The run log: one row per sync/reload/load in the warehouse table _pgwarehouse_runs, and the
 * latest run per table for `pgwarehouse status`. */
#ifndef PGW_RUNLOG_H
#define PGW_RUNLOG_H

#include "sink/sink.h"

#define PGW_RUNS_TABLE PGW_INTERNAL_PREFIX "runs"

struct pgw_run_record {
	const char *table;
	const char *command;	  /* sync, reload, load */
	const char *strategy;	  /* NULL when the table failed before choosing one */
	double started, finished; /* seconds since 1970, UTC */
	long long rows;
	unsigned long long bytes;
	const char *watermark_before, *watermark_after; /* PostgreSQL's text of the key values, or NULL */
	const char *status;				/* ok, failed, interrupted */
	const char *error;				/* NULL when ok */
	unsigned source_oid; /* the PostgreSQL table's oid: a new one means dropped and created again (0: unknown) */
};

/* Appends r, creating the table on first use. */
int pgw_runlog_append(struct pgw_sink *sink, const struct pgw_run_record *r, struct pgw_err *err);

/* Whether the run log records a successful load of table (false when there is no log). */
int pgw_runlog_loaded(struct pgw_sink *sink, const char *table, bool *loaded, struct pgw_err *err);

/* The watermark_after of table's latest successful sync or reload (*text NULL when none) */
int pgw_runlog_resume(struct pgw_sink *sink, const char *table, char **text, struct pgw_err *err);

/* The PostgreSQL oid of table at its latest successful sync or reload (0 when none is recorded) */
int pgw_runlog_source_oid(struct pgw_sink *sink, const char *table, unsigned *oid, struct pgw_err *err);

/* What the latest successful change data capture run of a table recorded of its identity (in
 * watermark_before: "oid N", and a partitioned table's ", partitions N, signature HEX"; runs before
 * the oid was kept: the partitions only), *text NULL when none */
int pgw_runlog_cdc_identity(struct pgw_sink *sink, const char *table, char **text, struct pgw_err *err);

/* The latest run of each table (or of `table`), by table name: cells table, command, strategy,
 * started, finished, rows, status, error, started of the latest ok run (NULL if none), watermark
 * after. An absent log gives no rows. */
#define PGW_STATUS_COLS 10
int pgw_runlog_latest(struct pgw_sink *sink, const char *table, struct pgw_rows *out, struct pgw_err *err);

#endif
