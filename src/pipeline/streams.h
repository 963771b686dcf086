/* Reading a table's COPY on worker threads: one stream on the table's own connection, or several
 * connections that adopt its exported snapshot and each copy one ctid range. The caller takes
 * decoded batches in arrival order and writes them to the sink on its own thread, so PostgreSQL
 * keeps sending while the sink works. */
#ifndef PGW_STREAMS_H
#define PGW_STREAMS_H

#include "pipeline/sync.h"

struct pgw_streams;

/* Starts n workers. n == 1: sqls[0] runs on run->pg. n > 1: worker i takes connection conns[i]
 * (open: st closes them, and frees conns, in pgw_streams_free), imports `snapshot` and runs sqls[i]. */
struct pgw_streams *pgw_streams_start(struct pgw_run *run, const struct pgw_table_def *def, char **sqls, int n,
				      const char *snapshot, struct pgw_pg *conns, struct pgw_err *err);
/* The next filled batch; NULL at the end (0) or on error (-1 in *rc, err set). */
struct pgw_batch *pgw_streams_next(struct pgw_streams *st, int *rc, struct pgw_err *err);
/* Gives a batch from pgw_streams_next back to the workers. */
void pgw_streams_release(struct pgw_streams *st, struct pgw_batch *b);
/* Rows and COPY bytes received so far (any thread). */
void pgw_streams_counts(struct pgw_streams *st, long long *rows, unsigned long long *bytes);
/* Stops the workers (cancelling their COPYs if unfinished), joins them and frees st. */
void pgw_streams_free(struct pgw_streams *st);

#endif
