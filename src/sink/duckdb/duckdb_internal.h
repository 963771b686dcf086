/* Shared between the DuckDB sink's files. */
#ifndef PGW_DUCKDB_INTERNAL_H
#define PGW_DUCKDB_INTERNAL_H

#include "core/buf.h"
#include "sink/duckdb/duckdb_api.h"
#include "sink/sink.h"

extern const struct pgw_sink_ops pgw_duckdb_sink;

/* Appends the DuckDB column type for ti ("DECIMAL(12,2)", "ENUM('a','b')", "INTEGER[]"). */
void pgw_duck_type_sql(struct pgw_buf *b, const struct pgw_typeinfo *ti);
/* "pgwarehouse:<hex>": a digest of the column names, types and key, kept as the table's comment. */
char *pgw_duck_fingerprint(const struct pgw_table_def *def);

/* Copies the first n values of column c into vector v of logical type lt. */
int pgw_duck_fill_vector(duckdb_vector v, duckdb_logical_type lt, const struct pgw_column *c, size_t n,
			 struct pgw_err *err);

/* A query result as strings: rows*cols cells, NULL for SQL NULL. */
struct pgw_duck_rows {
	int nrows, ncols;
	char **cells;
};
/* Runs sql with optional VARCHAR parameters; every result column must be VARCHAR. */
int pgw_duck_select(duckdb_connection con, const char *sql, int nparams, const char *const *params,
		    struct pgw_duck_rows *out, struct pgw_err *err);
void pgw_duck_rows_cleanup(struct pgw_duck_rows *r);
int pgw_duck_exec(duckdb_connection con, const char *sql, struct pgw_err *err);
/* Registers pgw_pghash(VARCHAR, seed) and pgw_pghash_int8(BIGINT|TIME|TIMESTAMP|TIMESTAMPTZ, seed),
 * PostgreSQL's hashtextextended, hashint8extended, time_hash_extended and timestamp_hash_extended,
 * in con's database; -1 when DuckDB refuses them. */
int pgw_duck_register_pghash(duckdb_connection con);

#endif
