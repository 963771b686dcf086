/* Error values passed up the call chain; only main() turns them into exit codes. */
#ifndef PGW_ERR_H
#define PGW_ERR_H

#include <stdbool.h>

enum pgw_errcode {
	PGW_OK = 0,
	PGW_ERR_USAGE,	   /* bad command line */
	PGW_ERR_CONFIG,	   /* bad or missing configuration */
	PGW_ERR_SOURCE,	   /* PostgreSQL: connect, query, catalog */
	PGW_ERR_WAREHOUSE, /* the sink refused or failed */
	PGW_ERR_DATA,	   /* a value that cannot be stored exactly */
	PGW_ERR_TABLE,	   /* PostgreSQL refused this table (its state, a privilege, a policy) */
	PGW_ERR_IO,	   /* local files */
	PGW_ERR_INTERNAL,
	PGW_ERR_INTERRUPTED, /* SIGINT/SIGTERM */
};

/* SQL's connection_failure, set on a warehouse that did not answer (a restart, a network cut) */
#define PGW_SQLSTATE_UNREACHABLE "08006"

struct pgw_err {
	enum pgw_errcode code;
	char sqlstate[6]; /* PostgreSQL's; PGW_SQLSTATE_UNREACHABLE for a warehouse that did not answer */
	char msg[1024];
};

/* Sets err (if not NULL) and returns -1, so callers can `return pgw_err_set(...)`. */
int pgw_err_set(struct pgw_err *err, enum pgw_errcode code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void pgw_err_clear(struct pgw_err *err);
/* Prepends context to an existing message: "ctx: old message". */
int pgw_err_prefix(struct pgw_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends to an existing message: "old message; fix". */
int pgw_err_append(struct pgw_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pgw_exit_code(enum pgw_errcode code);

#endif
