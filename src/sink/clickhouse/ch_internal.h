/* Shared between the ClickHouse sink's files: the transport interface (HTTP or embedded chDB),
 * server features, type mapping and Native encoding. The SQL is the same for both transports. */
#ifndef PGW_CH_INTERNAL_H
#define PGW_CH_INTERNAL_H

#include "core/buf.h"
#include "sink/sink.h"

/* A way to run statements on ClickHouse. */
struct ch_conn {
	/* Runs sql; the result (TabSeparated) is appended to out when out is not NULL. idempotent:
	 * the statement may be sent again after a transport failure. */
	int (*exec)(struct ch_conn *c, const char *sql, struct pgw_buf *out, bool idempotent, struct pgw_err *err);
	/* INSERT INTO <table_sql> FORMAT Native with data as the rows. */
	int (*insert)(struct ch_conn *c, const char *table_sql, const char *data, size_t len, struct pgw_err *err);
	void (*close)(struct ch_conn *c);
	/* Optional: hands back memory the transport holds but does not need now (chDB: what its
	 * allocator keeps for reuse, and with code the pages of its library's code run so far), before
	 * a statement known to peak and between change loads */
	void (*trim)(struct ch_conn *c, bool code);
	char *database;
};

int pgw_ch_http_open(const struct pgw_config *cfg, struct ch_conn **out, struct pgw_err *err);
/* Stops the statements that pgwarehouse processes of this machine, now gone (kill -9), left running */
void pgw_ch_http_stop_orphans(struct ch_conn *c);
/* clickhouse_host: embedded -> chDB in this process, data under clickhouse_path */
int pgw_ch_chdb_open(const struct pgw_config *cfg, struct ch_conn **out, struct pgw_err *err);

/* What the server can do, from SELECT version(). */
struct ch_features {
	int major, minor;
	bool modern;   /* DateTime64, Date32, Bool, EXCHANGE TABLES, Decimal up to 76 (>= 22.3) */
	bool json;     /* the JSON type (>= 25.3) */
	bool lwdelete; /* lightweight DELETE that waits for its marks (lightweight_deletes_sync, >= 24.4) */
};
void pgw_ch_features(const char *version, struct ch_features *f);

/* How a column is stored. */
enum ch_store {
	CH_AS_VALUE, /* the native ClickHouse type */
	CH_AS_TEXT,  /* PostgreSQL's text form in a String (old servers' dates, time, interval) */
};
enum ch_store pgw_ch_store(const struct ch_features *f, enum pgw_type t);

/* The column type as ClickHouse prints it in system.columns (used to compare shapes). */
void pgw_ch_type_sql(struct pgw_buf *b, const struct ch_features *f, const struct pgw_coldef *col);
/* `name` with backslash escapes, ClickHouse's identifier quoting */
void pgw_ch_ident(struct pgw_buf *b, const char *s);
/* 'text' with backslash escapes, ClickHouse's string literal */
void pgw_ch_literal(struct pgw_buf *b, const char *s, size_t len);

/* numeric(P > 38, S), which the batch holds as text, kept as Decimal(P, S) (modern servers) */
bool pgw_ch_decimal256(const struct ch_features *f, const struct pgw_typeinfo *ti);
/* PostgreSQL's text form of a value kept as text (CH_AS_TEXT) */
void pgw_ch_pg_text(struct pgw_buf *b, const struct pgw_typeinfo *ti, const void *v);
/* The days Date32 and DateTime64 hold: 1900-01-01 to 2299-12-31 */
#define PGW_CH_MIN_DAYS (-25567)
#define PGW_CH_MAX_DAYS 120529
/* The error of a date or timestamp (`what`) of column col outside that range */
int pgw_ch_out_of_range(struct pgw_err *err, const char *col, const char *what);
/* Appends the first b->rows rows as a block of the Native format, the columns typed as
 * pgw_ch_type_sql makes them. */
int pgw_ch_native(struct pgw_buf *out, const struct pgw_batch *b, const struct pgw_table_def *def,
		  const struct ch_features *f, struct pgw_err *err);

/* Rows of sql (TabSeparated, ncols columns) as cells, NULL for \N; caller frees each and cells */
int pgw_ch_rows(struct ch_conn *conn, const char *sql, int ncols, char ***cells, int *nrows, struct pgw_err *err);

/* ch_commit.c. DROP TABLE IF EXISTS `qualified` (db.name, quoted), errors ignored */
void pgw_ch_drop_quietly(struct ch_conn *conn, const char *qualified);

/* Drops the helper table `qualified` (db.name, quoted) before a CREATE or RENAME makes one of that
 * name. On old servers (Ordinary databases: a table's data in its name's directory) also removes
 * the directory a DROP cut short by a server crash leaves without a table, which makes every
 * later RENAME to that name fail ("Target path already exists") and a CREATE fail ("already
 * containing data parts") until it goes: ATTACH makes a table of it, whatever its columns were,
 * and DROP removes it (seen by bench/soak.sh after a kill -9 of the server). */
void pgw_ch_clear_name(struct ch_conn *conn, const struct ch_features *f, const char *qualified);
/* Change data capture's swap and position as one step (see ch_commit.c). Swaps db.merged in for
 * db.name, then runs commit_sql. */
int pgw_ch_swap_committed(struct ch_conn *conn, const struct ch_features *f, const char *db, const char *name,
			  const char *merged, const char *commit_sql, struct pgw_err *err);
/* Runs the position statement of every swap a killed run left without it */
int pgw_ch_recover(struct ch_conn *conn, struct pgw_err *err);

/* One line from a ClickHouse error body: "Code: 60: Table x doesn't exist". */
void pgw_ch_error_text(const char *body, char *out, size_t outsz);

#endif
