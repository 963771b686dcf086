/* PostgreSQL source: connection, catalog introspection, COPY streams into batches. */
#ifndef PGW_PG_H
#define PGW_PG_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "batch/batch.h"
#include "batch/table.h"
#include "config/config.h"
#include "core/buf.h"
#include "core/err.h"

struct pgw_pg {
	PGconn *conn;
	const struct pgw_config *cfg; /* borrowed */
};

int pgw_pg_connect(struct pgw_pg *pg, const struct pgw_config *cfg, struct pgw_err *err);
/* One attempt, no retries: for connections the run can do without (extra COPY streams) */
int pgw_pg_connect_once(struct pgw_pg *pg, const struct pgw_config *cfg, struct pgw_err *err);
/* The same with replication=database: a walsender connection for logical replication commands. */
int pgw_pg_connect_replication(struct pgw_pg *pg, const struct pgw_config *cfg, struct pgw_err *err);
void pgw_pg_close(struct pgw_pg *pg);
/* Closes n connections of an array (NULL: none) and frees it */
void pgw_pg_close_all(struct pgw_pg *pgs, int n);
/* Whether an error message is of a failure that may be gone a moment later (a server restarting or
 * shutting down, a connection refused or reset, too many clients) */
bool pgw_pg_transient(const char *msg);
/* Reconnects (as pgw_pg_connect) when the connection was lost or closed. */
int pgw_pg_ensure(struct pgw_pg *pg, struct pgw_err *err);
/* BEGIN mode ("ISOLATION LEVEL REPEATABLE READ READ ONLY"...) with pgwarehouse's settings for the
 * transaction (text formats, no timeouts, row_security off). */
int pgw_pg_begin(struct pgw_pg *pg, const char *mode, struct pgw_err *err);
/* Runs a command that returns no rows. */
int pgw_pg_exec(struct pgw_pg *pg, const char *sql, struct pgw_err *err);
/* Runs a parameterised query; returns a result the caller PQclear()s, or NULL with err set. */
PGresult *pgw_pg_query(struct pgw_pg *pg, const char *sql, int nparams, const char *const *params, struct pgw_err *err);
/* Fills err from a failed result (NULL: the connection's error): "PostgreSQL: <what><message>;
 * <hint>", the SQLSTATE kept; returns -1. */
int pgw_pg_result_error(struct pgw_pg *pg, const PGresult *res, const char *what, struct pgw_err *err);
/* Cancels the connection's running statement when SIGINT/SIGTERM arrives, until unwatched. */
struct pgw_pg_watch;
struct pgw_pg_watch *pgw_pg_watch(struct pgw_pg *pg);
void pgw_pg_unwatch(struct pgw_pg_watch *w);
/* Server version as PQserverVersion(). */
int pgw_pg_version(struct pgw_pg *pg);

/* Finds `name` ("table" in pgschema, or "schema.table") and reads its columns and key. */
int pgw_pg_table_def(struct pgw_pg *pg, const char *name, struct pgw_table_def **out, struct pgw_err *err);
/* LOCK TABLE ... IN ACCESS SHARE MODE: as pg_dump, taken before the snapshot so that a TRUNCATE
 * or table rewrite (not MVCC-safe) cannot commit between the snapshot and the read. Relations
 * that cannot be locked (materialized views, foreign tables) are left alone. */
int pgw_pg_lock(struct pgw_pg *pg, const char *schema, const char *name, char relkind, bool nowait,
		struct pgw_err *err);
/* pg_export_snapshot() of the connection's transaction; *snapshot is the caller's to free. */
int pgw_pg_export_snapshot(struct pgw_pg *pg, char **snapshot, struct pgw_err *err);
/* Another connection inside that snapshot, to read def with it. Its lock comes first, without
 * waiting: the exporting connection holds one already, and a lock request queued behind someone's
 * exclusive lock would wait for ever on this one. */
int pgw_pg_join_snapshot(struct pgw_pg *pg, const struct pgw_table_def *def, const char *snapshot,
			 struct pgw_err *err);
struct pgw_relation {
	char *schema, *name; /* caller frees */
	char relkind;
};
/* Finds name as pgw_pg_table_def does, reading only pg_class: run it before the snapshot. */
int pgw_pg_find_table(struct pgw_pg *pg, const char *name, struct pgw_relation *rel, struct pgw_err *err);
/* Tables (not views) of a schema, sorted by name; caller frees each and the array. */
int pgw_pg_list_tables(struct pgw_pg *pg, const char *schema, char ***names, int *n, struct pgw_err *err);

/* Appends `SELECT <cols><more> FROM "s"."t"` with every column in its exported form (more: further
 * select items, or NULL). */
void pgw_pg_select_list(struct pgw_buf *sql, const struct pgw_table_def *def, const char *more);
/* Appends the table as a FROM item: `ONLY "s"."t"` where inheritance children would add rows. */
void pgw_pg_relation_sql(struct pgw_buf *sql, const struct pgw_table_def *def);

/* A COPY ... TO STDOUT (FORMAT binary) read into batches. */
struct pgw_copy;
struct pgw_copy *pgw_copy_start(struct pgw_pg *pg, const struct pgw_table_def *def, const char *select_sql,
				struct pgw_err *err);
/* Fills batch (reset first) with up to batch->cap rows; returns rows read, 0 at the end, -1 on error. */
long pgw_copy_next(struct pgw_copy *cp, struct pgw_batch *batch, struct pgw_err *err);
/* Bytes of COPY data received so far. */
unsigned long long pgw_copy_bytes(const struct pgw_copy *cp);
/* Ends the COPY (cancelling it if unfinished) and frees cp. */
void pgw_copy_free(struct pgw_copy *cp);

/* Index of an enum label in ti->labels; -1 when it is not one of them. */
int pgw_enum_lookup(const struct pgw_typeinfo *ti, const char *p, size_t len, uint32_t *out);
/* Decodes one value of PostgreSQL's text output into column c (see text_decode.c). */
int pgw_text_decode(const char *colname, const struct pgw_typeinfo *ti, const char *s, size_t len, struct pgw_column *c,
		    struct pgw_err *err);

/* Decodes one binary COPY tuple into the batch (exposed for unit tests). */
/* One value in PostgreSQL's binary send format (as binary COPY and pgoutput's binary option send
 * it), of a column whose cast is empty, appended to c */
int pgw_binary_decode(const struct pgw_coldef *col, const char *p, size_t len, struct pgw_column *c,
		      struct pgw_err *err);
int pgw_copy_decode_tuple(const struct pgw_table_def *def, const char *p, size_t len, struct pgw_batch *b,
			  struct pgw_err *err);

#endif
