/* Strategies: which rows to read from PostgreSQL and how the sink applies them.
 */
#ifndef PGW_SYNC_H
#define PGW_SYNC_H

#include "config/config.h"
#include "sink/sink.h"
#include "source/pg.h"

struct pgw_progress;

enum pgw_command { PGW_CMD_SYNC, PGW_CMD_RELOAD, PGW_CMD_EXTRACT, PGW_CMD_LOAD };
/* "sync", "reload", "extract", "load" */
const char *pgw_command_name(enum pgw_command cmd);

struct pgw_run {
	const struct pgw_config *cfg;
	struct pgw_pg *pg;
	struct pgw_sink *sink;
	const char *last_modified;	  /* from the command line, or NULL */
	bool last_modified_where_present; /* `all`: tables without that column keep
					     their own strategy */
	bool force;			  /* replace warehouse tables pgwarehouse did not create */
	struct pgw_progress *progress;	  /* of the table being run, or NULL */
	/* change data capture's copy of a table: the transaction imports the
	 * replication slot's snapshot, and the load commits with commit_sql (the
	 * table's stream position) */
	const char *import_snapshot;
	const char *commit_sql;
};

struct pgw_table_result {
	char *name;
	const char *strategy; /* "reload", "new-records", "last-modified", ... */
	long long rows;
	unsigned long long bytes;
	double seconds;
	bool ok;
	struct pgw_err err;
	char *wm_before, *wm_after;   /* for the run log */
	long long picked_up, deleted; /* rows the key check found missing, and gone from PostgreSQL */
	char *warning;		      /* drift a sync found and left (the run log's error of an ok run) */
	char *horizon;		      /* last_modified's horizon (pgw_lm_horizon) */
	unsigned source_oid;	      /* the PostgreSQL table's oid (0: not read), for the run log */
};
void pgw_table_result_cleanup(struct pgw_table_result *res);

/* Adds a table's run to the warehouse's run log (a warning when it cannot).
 * started: Unix time. */
void pgw_run_record(struct pgw_run *run, enum pgw_command cmd, const struct pgw_table_result *res, double started);
/* Runs one command for one table. Fills res; returns 0 or -1 (res->err says
 * why). */
int pgw_run_table(struct pgw_run *run, enum pgw_command cmd, const char *name, struct pgw_table_result *res);

/* The plan for one table, shared by sync and extract/load. */
struct pgw_plan {
	struct pgw_table_def *def;
	struct pgw_target target;
	enum pgw_load_mode mode;
	const char *strategy;
	char *select_sql; /* the SELECT to COPY out */
	int *order;	  /* columns that order rows under max_records (NULL: the key) */
	int norder;
	char *wm_before;		 /* the watermark of an incremental strategy, as PostgreSQL's
					    text */
	char *where;			 /* the incremental strategy's condition on PostgreSQL's rows, or NULL */
	struct pgw_table_def *stage_def; /* PGW_LOAD_CHANGES: pgw_changes_def(def) */
};

/* last_modified's horizon (plan.c): run before the table's snapshot, for a table synced by
 * last_modified; *horizon (UTC text) stays NULL when it cannot be known (a warning says why, once).
 * pgw_lm_next: after a load, where the next one starts, for the run log. */
int pgw_lm_horizon(struct pgw_run *run, const char *name, char **horizon, struct pgw_err *err);
char *pgw_lm_next(struct pgw_run *run, struct pgw_plan *plan, const char *horizon);

/* The SELECT of plan's rows (in stage_def's layout, as upserts, for PGW_LOAD_CHANGES), and its
 * select list alone (SELECT ... FROM table) */
char *pgw_plan_select(const struct pgw_run *run, const struct pgw_plan *plan);
void pgw_plan_select_list(struct pgw_buf *sql, const struct pgw_plan *plan);
/* Copies sql's rows (decoded as def) into the sink's current load through b; adds them to *rows */
int pgw_copy_to_sink(struct pgw_run *run, const struct pgw_table_def *def, const char *sql, struct pgw_batch *b,
		     long long *rows, struct pgw_err *err);

/* Reads the table's definition and the warehouse's state inside the current
 * Postgres transaction and decides the strategy. */
int pgw_plan_table(struct pgw_run *run, enum pgw_command cmd, const char *name, struct pgw_plan *plan,
		   struct pgw_err *err);
void pgw_plan_cleanup(struct pgw_plan *plan);
/* The watermark the next incremental run would start from, read back from the
 * warehouse, as PostgreSQL's text; NULL without a key or when it cannot be
 * read. */
char *pgw_plan_watermark_after(struct pgw_run *run, const struct pgw_plan *plan);

/* verify (verify.c): compares each table of names[0..n) with PostgreSQL and prints the result
 * (with repair, fixes the differing rows); *differ counts the tables that differ (unrepaired). -1
 * when a table could not be compared or repaired (err: the first; every error is printed
 * already). */
int pgw_verify(struct pgw_run *run, char *const *names, int n, bool repair, int *differ, struct pgw_err *err);

/* sync's key check (verify.c): in the current PostgreSQL snapshot, which keys of plan's table
 * the warehouse lacks (missing) and which it holds that PostgreSQL does not (extra), by verify's
 * range checksums of the keys alone; PostgreSQL's rows limited to pg_domain (a condition, or
 * NULL). *out is set (free it) even when it fails. */
struct pgw_keycheck;
int pgw_keycheck_run(struct pgw_run *run, const struct pgw_plan *plan, const char *pg_domain, struct pgw_keycheck **out,
		     struct pgw_err *err);
long long pgw_keycheck_missing(const struct pgw_keycheck *kc);
long long pgw_keycheck_extra(const struct pgw_keycheck *kc);
/* Of the extra rows, those whose key PostgreSQL has (the warehouse holds it twice or more) */
long long pgw_keycheck_twice(const struct pgw_keycheck *kc);
/* For a load that upserts: such keys are loaded again from PostgreSQL (with the missing rows), which
 * replaces every copy */
void pgw_keycheck_upsert_twice(struct pgw_keycheck *kc);
/* Lines naming up to 20 of the keys found ("  missing   id=5\n"), or "" */
const char *pgw_keycheck_keys(const struct pgw_keycheck *kc);
/* Appends PostgreSQL's condition selecting the missing rows (when there are some) */
void pgw_keycheck_missing_where(const struct pgw_keycheck *kc, struct pgw_buf *sql);
/* Writes the extra keys as deletes to the sink's PGW_LOAD_CHANGES load, through b (a batch of
 * pgw_changes_def's layout) */
int pgw_keycheck_stage_deletes(struct pgw_run *run, struct pgw_keycheck *kc, struct pgw_batch *b, struct pgw_err *err);
void pgw_keycheck_free(struct pgw_keycheck *kc);

/* Change data capture (cdc.c): the CDC tables of names[0..n) caught up with the
 * replication stream, copied first where needed (recopy: copied again, as
 * `reload` does); results in res[i] (ok, rows, error) for each. */
int pgw_cdc_sync(struct pgw_run *run, char *const *names, int n, bool recopy, struct pgw_table_result *res,
		 struct pgw_err *err);
/* Drops the replication slot and the publication (what stops WAL retention);
 * says what it dropped. */
/* pgwarehouse stream: the same, continuously, applying every interval seconds
 * until SIGINT/SIGTERM, which end it (0) after the changes in hand are applied
 */
int pgw_cdc_stream(struct pgw_run *run, char *const *names, int n, double interval, struct pgw_table_result *res,
		   struct pgw_err *err);
int pgw_cdc_teardown(struct pgw_run *run, struct pgw_err *err);
/* What change data capture needs of the server (wal_level = logical) and of the role (REPLICATION),
 * and of a table (a primary key, which its replica identity sends with every update and delete):
 * 0, or -1 with err naming the fix. sync runs them before changing anything; check reports them. */
int pgw_cdc_check_wal_level(struct pgw_pg *pg, struct pgw_err *err);
int pgw_cdc_check_role(struct pgw_pg *pg, struct pgw_err *err);
int pgw_cdc_check_table(struct pgw_pg *pg, const struct pgw_table_def *def, struct pgw_err *err);
/* ...and of an existing publication named pub: every kind of change, the table's whole rows */
int pgw_cdc_check_publication(struct pgw_pg *pg, const char *pub, const struct pgw_table_def *def, struct pgw_err *err);
/* A boolean SQL expression: publication $1 publishes the table of oid $2 (listed itself, FOR ALL
 * TABLES, or by its schema). pg_publication_tables alone would not do: it names a partitioned
 * table's partitions instead of it unless the publication publishes through the root. */
#define PGW_CDC_IN_PUBLICATION_OF(o)                                                                           \
	"EXISTS (SELECT 1 FROM pg_publication p WHERE p.pubname = $1 AND (p.puballtables OR EXISTS (SELECT 1 " \
	"FROM pg_publication_rel r WHERE r.prpubid = p.oid AND r.prrelid = " o ") OR EXISTS (SELECT 1 FROM "   \
	"pg_publication_tables t JOIN pg_class c ON c.relname = t.tablename JOIN pg_namespace n ON n.oid = "   \
	"c.relnamespace AND n.nspname = t.schemaname WHERE t.pubname = p.pubname AND c.oid = " o ")))"
#define PGW_CDC_IN_PUBLICATION PGW_CDC_IN_PUBLICATION_OF("$2::oid")

/* For status: the slot (confirmed LSN, WAL retained, wal_status) and each CDC
 * table's position */
int pgw_cdc_status(struct pgw_run *run, struct pgw_err *err);

/* Names `sync all` works on: the config's tables (without skip: true), else
 * every table of pgschema. */
int pgw_all_tables(struct pgw_run *run, char ***names, int *n, struct pgw_err *err);

/* The table's size on disk (a partitioned table's: its partitions') and, for the block ranges of
 * COPY streams, its largest leaf's blocks (0 when they cannot be split by blocks). */
int pgw_table_size(struct pgw_run *run, const struct pgw_table_def *def, long long *bytes, long long *blocks,
		   struct pgw_err *err);
/* The SELECT of each COPY stream for plan (see split.c); returns how many (1:
 * plan->select_sql), or -1. When there are several, *snapshot is the exported snapshot the streams
 * adopt and *conns their connections, open (the caller owns both). */
int pgw_split_copy(struct pgw_run *run, const struct pgw_plan *plan, char ***sqls, char **snapshot,
		   struct pgw_pg **conns, struct pgw_err *err);

/* Whether col can serve as the table's last_modified column; *idx is its index.
 */
int pgw_check_last_modified(const struct pgw_table_def *def, const char *col, int *idx, struct pgw_err *err);

#endif
