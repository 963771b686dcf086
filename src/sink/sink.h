/* The warehouse interface. A sink offers primitives (replace, append, upsert from staging,
 * watermark reads); the strategies that combine them live in src/pipeline. */
#ifndef PGW_SINK_H
#define PGW_SINK_H

#include <stdbool.h>

#include "batch/batch.h"
#include "config/config.h"
#include "core/err.h"
#include "batch/table.h"
#include "config/config.h"
#include "core/buf.h"
#include "core/err.h"

enum pgw_load_mode {
	PGW_LOAD_REPLACE, /* build a new table aside, swap it in at commit */
	PGW_LOAD_APPEND,  /* add rows to the existing table */
	PGW_LOAD_UPSERT,  /* stage rows, then replace rows with the same key at commit */
	PGW_LOAD_CHANGES, /* stage net changes (rows in pgw_changes_def's layout), apply them at commit */
};

/* Change data capture's staging layout: the table's columns (nullable, but for the key), then
 * _pgw_op (bigint: PGW_OP_UPSERT or PGW_OP_DELETE, at most one row per key) and _pgw_keep
 * (text ",i,j,": columns whose value the warehouse keeps from the current row, as PostgreSQL sends
 * no new value for a TOASTed column an UPDATE left alone). At commit the sink fills the kept
 * columns from the current rows, deletes the staged keys, inserts the upserted rows and runs
 * commit_sql, in one transaction where the warehouse has them.
 * A table without a key (def->npk 0) is a multiset of rows: each staged row is a distinct whole
 * row (columns as nullable as the table's), _pgw_op how many copies of it come (> 0) or go (< 0),
 * _pgw_keep the staged row's number (decimal text). At commit the sink removes and adds that many
 * copies of rows equal to it (NULL equal to NULL, -0 to 0: as PostgreSQL's own subscriber matches
 * such rows). */
enum { PGW_OP_UPSERT = 0, PGW_OP_DELETE = 1 };
struct pgw_table_def *pgw_changes_def(const struct pgw_table_def *def);
void pgw_changes_def_free(struct pgw_table_def *cdef);

/* Where a Postgres table lands. schema NULL means the warehouse's default schema. */
struct pgw_target {
	const char *schema;
	const char *name;
	const struct pgw_table_def *def;
	const char *commit_sql; /* optional: one more statement in the load's transaction, before it commits */
	/* PGW_LOAD_CHANGES: */
	const struct pgw_table_def *stage_def; /* pgw_changes_def(def) */
	bool truncate_first;		       /* empty the table first (PostgreSQL sent a TRUNCATE) */
	const bool *keep_cols;		       /* columns some staged row keeps (ncols of def), or NULL */
	/* some staged upserts are of keys the table holds more than once (a key check or verify found
	 * them): each such key must end with the staged row alone (DuckDB and ClickHouse replace every
	 * copy anyway; Snowflake's MERGE would update each) */
	bool replace_copies;
};

struct pgw_wh_state {
	bool exists;
	bool ours;	   /* created by pgwarehouse */
	bool same_shape;   /* ...from the same columns and types */
	bool same_columns; /* its column names are the PostgreSQL table's (any case), whoever made it */
	bool unmarked;	   /* the warehouse keeps no pgwarehouse marker: ours is unknown (ClickHouse) */
};

struct pgw_wh_table {
	char *schema; /* NULL for the default schema */
	char *name;
	long long rows;
};

struct pgw_sink;
struct pgw_sink_writer;

enum pgw_dialect { PGW_SQL_DUCKDB, PGW_SQL_CLICKHOUSE, PGW_SQL_SNOWFLAKE };

/* A result as text: nrows * ncols cells, NULL for SQL NULL. */
struct pgw_rows {
	int nrows, ncols;
	char **cells;
};
void pgw_rows_cleanup(struct pgw_rows *r);

struct pgw_sink_ops {
	const char *name;
	enum pgw_dialect dialect;
	int (*open)(const struct pgw_config *cfg, struct pgw_sink **out, struct pgw_err *err);
	void (*close)(struct pgw_sink *s);
	int (*inspect)(struct pgw_sink *s, const struct pgw_target *t, struct pgw_wh_state *st, struct pgw_err *err);
	/* The largest value of cols: for one column max(col); for several, the largest row in
	 * lexicographic order (byte order for strings and uuids, as PostgreSQL's COLLATE "C").
	 * Each value comes back as text in one of two forms (forms[i]): canonical (integers and
	 * decimals as digits, dates as days since 1970, timestamps as microseconds since 1970,
	 * bytea as hex, other types as PostgreSQL reads them) or PostgreSQL's own text form of the
	 * column type. *found is false for an empty table. Caller frees vals[i] and vals. */
	int (*watermark)(struct pgw_sink *s, const struct pgw_target *t, const int *cols, int ncols, char ***vals,
			 bool *pgtext, bool *found, struct pgw_err *err);
	/* Whether the warehouse keeps values of this type as text (ordered as strings), rather than
	 * in a type of its own that orders as PostgreSQL's does. */
	bool (*holds_text)(struct pgw_sink *s, const struct pgw_typeinfo *ti);
	int (*begin)(struct pgw_sink *s, const struct pgw_target *t, enum pgw_load_mode mode, struct pgw_err *err);
	int (*write)(struct pgw_sink *s, const struct pgw_batch *b, struct pgw_err *err);
	int (*commit)(struct pgw_sink *s, struct pgw_err *err);
	void (*abort)(struct pgw_sink *s);
	/* User tables (not pgwarehouse's own), with exact row counts. */
	int (*list)(struct pgw_sink *s, struct pgw_wh_table **tables, int *n, struct pgw_err *err);
	/* Runs one statement for pgwarehouse's own bookkeeping (the run log, check); with out, returns
	 * the result rows as text. */
	int (*sql)(struct pgw_sink *s, const char *sql, struct pgw_rows *out, struct pgw_err *err);
	/* Appends s as a string literal of the sink's dialect. */
	void (*literal)(struct pgw_buf *b, const char *s);
	/* Appends the quoted, qualified name of a pgwarehouse table in the default schema/database. */
	void (*own_table)(struct pgw_sink *s, struct pgw_buf *b, const char *name);
	/* Optional. Another writer for the rows of the current REPLACE load, used by one other thread
	 * between begin and commit; every writer is closed before commit (ok false drops its rows). */
	int (*writer_open)(struct pgw_sink *s, struct pgw_sink_writer **w, struct pgw_err *err);
	int (*writer_write)(struct pgw_sink_writer *w, const struct pgw_batch *b, struct pgw_err *err);
	int (*writer_close)(struct pgw_sink_writer *w, bool ok, struct pgw_err *err);
	/* Optional. A second sink on the same warehouse for another thread (--jobs); closed before
	 * its parent. Without it tables load one at a time. Returns 1 (err saying why) where this
	 * warehouse takes one table at a time by design. */
	int (*fork)(struct pgw_sink *s, struct pgw_sink **out, struct pgw_err *err);
	/* Optional. Finishes what a killed run left half done where the warehouse has no transactions
	 * (ClickHouse: the position of a change data capture apply that was swapped in); run before
	 * positions are read. */
	int (*recover)(struct pgw_sink *s, struct pgw_err *err);
	/* verify: appends the quoted, qualified name of t's table; and whether the warehouse keeps
	 * values of type ti as PostgreSQL's text (time types on old ClickHouse servers...). */
	void (*relation)(struct pgw_sink *s, const struct pgw_target *t, struct pgw_buf *b);
	/* Appends a column name quoted in the sink's dialect. */
	void (*ident)(struct pgw_buf *b, const char *name);
	bool (*keeps_pg_text)(struct pgw_sink *s, const struct pgw_typeinfo *ti);
};

struct pgw_sink {
	const struct pgw_sink_ops *ops;
	/* A change load costs a rewrite of the table's parts that hold changed keys (ClickHouse before
	 * 24.4: a mutation), so change data capture holds as many changes before each as its memory
	 * bound allows */
	bool change_load_copies;
	/* The warehouse's SQL has pgw_pghash and pgw_pghash_int8, PostgreSQL's hashtextextended and
	 * hashint8extended (DuckDB, through C functions): verify hashes rows with them instead of md5 */
	bool pghash;
	/* How the warehouse's SQL prints a DECIMAL(p, s) with all s fractional digits, as PostgreSQL
	 * prints a numeric(p, s), for verify; else (NONE) verify trims trailing zeros on both sides */
	enum pgw_decimal_text {
		PGW_DECIMAL_TEXT_NONE,
		PGW_DECIMAL_TEXT_CAST,
		PGW_DECIMAL_TEXT_TO_DECIMAL_STRING
	} decimal_text;
};

const struct pgw_sink_ops *pgw_sink_find(const char *backend);

/* "pgwarehouse:<hex>": a digest of the column names, the sink's types for them and the key,
 * which a sink keeps with the table to tell whether its shape still matches; caller frees. */
char *pgw_shape_fingerprint(const struct pgw_table_def *def,
			    void (*type_sql)(struct pgw_buf *b, const struct pgw_typeinfo *ti));
/* The text of the greatest row by cols (as SELECT expr(cols) FROM table_sql WHERE cols IS NOT
 * NULL ORDER BY cols DESC LIMIT 1), for dialects that quote identifiers with double quotes. */
void pgw_sql_max_row(struct pgw_buf *sql, const char *table_sql, const struct pgw_table_def *def, const int *cols,
		     int ncols, void (*expr)(struct pgw_buf *b, const struct pgw_coldef *c),
		     void (*ident)(struct pgw_buf *b, const char *name));
void pgw_wh_tables_free(struct pgw_wh_table *t, int n);
/* Whether names[0..n) are def's column names in order, compared without case. */
bool pgw_same_column_names(const struct pgw_table_def *def, char *const *names, int n);

/* Prefix of the names pgwarehouse gives its own helper tables; never synced or listed. */
#define PGW_INTERNAL_PREFIX "_pgwarehouse_"

#endif
