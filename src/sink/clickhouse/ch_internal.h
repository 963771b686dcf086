/* Shared between the ClickHouse sink's files: the transport interface (HTTP or embedded chDB),
 * server features, type mapping and Native encoding. The SQL is the same for both transports. */
#ifndef PGW_CH_INTERNAL_H
#define PGW_CH_INTERNAL_H

#include <pthread.h>

#include "core/buf.h"
#include "sink/sink.h"

struct ch_feed;

/* A way to run statements on ClickHouse. */
struct ch_conn {
	/* Runs sql; the result (TabSeparated) is appended to out when out is not NULL. idempotent:
	 * the statement may be sent again after a transport failure. */
	int (*exec)(struct ch_conn *c, const char *sql, struct pgw_buf *out, bool idempotent, struct pgw_err *err);
	/* INSERT INTO <table_sql> FORMAT Native, its rows the chunks pgw_ch_feed_next gives, sent as
	 * they come (runs on the feed's thread). */
	int (*insert)(struct ch_conn *c, const char *table_sql, struct ch_feed *rows, struct pgw_err *err);
	void (*close)(struct ch_conn *c);
	/* Optional: hands back memory the transport holds but does not need now (chDB: what its
	 * allocator keeps for reuse, and with code the pages of its library's code run so far), before
	 * a statement known to peak and between change loads */
	void (*trim)(struct ch_conn *c, bool code);
	char *database;
};

/* One INSERT fed chunk by chunk from the sink's thread while its own thread sends (ch_feed.c). */
struct ch_feed {
	pthread_t thread;
	bool running; /* an INSERT's thread to join */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pgw_buf data; /* the chunk handed over */
	bool handed;	     /* data holds a chunk the INSERT has not finished sending */
	bool taken;	     /* the INSERT is sending data */
	bool accepting;	     /* the INSERT takes more chunks */
	bool closing;	     /* no more chunks: end the INSERT */
	bool abandoned;	     /* stop the INSERT unfinished */
	struct ch_conn *conn;
	char *table_sql;
	int rc;
	struct pgw_err err;
};
void pgw_ch_feed_init(struct ch_feed *f);
void pgw_ch_feed_cleanup(struct ch_feed *f);
/* Hands rows (swapped for an empty buffer) to the open INSERT into table_sql, or to a new one;
 * waits while the INSERT still sends the previous chunk. -1 when the INSERT failed. */
int pgw_ch_feed_put(struct ch_feed *f, struct ch_conn *conn, const char *table_sql, struct pgw_buf *rows,
		    struct pgw_err *err);
/* Ends the open INSERT once its chunks are sent; returns its outcome. */
int pgw_ch_feed_end(struct ch_feed *f, struct pgw_err *err);
/* Stops the open INSERT unfinished (its table is dropped after) and waits for its thread. */
void pgw_ch_feed_abandon(struct ch_feed *f);
/* For the transport: the INSERT's next chunk (1), its end (0), or stop unfinished (-1). The
 * previous chunk's buffer goes back to the sink, so send or copy a chunk before asking again. */
int pgw_ch_feed_next(struct ch_feed *f, const char **data, size_t *len);

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
