/* COPY readers on worker threads, handing batches to the sink's thread through a small queue. */
#include "pipeline/streams.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/progress.h"

#define BATCH_ROWS 2048 /* DuckDB's vector size: one batch fills one data chunk */
#define BATCHES_PER_STREAM 3

struct worker {
	struct pgw_streams *st;
	pthread_t thread;
	bool started;
	struct pgw_pg *pg; /* the table's connection, or the worker's own when there are several streams */
	PGcancel *cancel;  /* set once the COPY runs, so stop can interrupt it */
	const char *sql;
	struct pgw_sink_writer *out; /* writes its own batches to the sink, else hands them over */
};

struct pgw_streams {
	struct pgw_run *run;
	const struct pgw_table_def *def;
	const char *snapshot;
	struct pgw_pg *conns; /* the workers' own connections (several streams) */
	int nworkers, running;
	struct worker *workers;
	pthread_mutex_t mu;
	pthread_cond_t changed;
	struct pgw_batch **pool; /* every batch, to free them */
	int nbatches;
	struct pgw_batch **free_list, **full; /* stacks/ring of nbatches slots */
	int nfree, full_head, nfull;
	bool stop, failed;
	struct pgw_err err; /* the first worker error */
	long long rows;
	unsigned long long bytes;
};

static void worker_fail(struct pgw_streams *st, const struct pgw_err *err)
{
	pthread_mutex_lock(&st->mu);
	if (!st->failed && !st->stop) {
		st->failed = true;
		st->err = *err;
	}
	pthread_mutex_unlock(&st->mu);
}

static struct pgw_batch *take_free(struct pgw_streams *st)
{
	pthread_mutex_lock(&st->mu);
	while (!st->stop && !st->failed && st->nfree == 0)
		pthread_cond_wait(&st->changed, &st->mu);
	struct pgw_batch *b = st->stop || st->failed ? NULL : st->free_list[--st->nfree];
	pthread_mutex_unlock(&st->mu);
	return b;
}

/* Under st->mu. */
static void count(struct pgw_streams *st, size_t rows, unsigned long long bytes)
{
	st->rows += (long long)rows;
	st->bytes += bytes;
	pgw_progress_add(st->run->progress, (long long)rows, bytes);
}

static void give_full(struct pgw_streams *st, struct pgw_batch *b, unsigned long long bytes)
{
	pthread_mutex_lock(&st->mu);
	st->full[(st->full_head + st->nfull) % st->nbatches] = b;
	st->nfull++;
	count(st, b->rows, bytes);
	pthread_cond_broadcast(&st->changed);
	pthread_mutex_unlock(&st->mu);
}

/* Counts rows a worker wrote itself; false once the streams are stopping. */
static bool count_written(struct pgw_streams *st, size_t rows, unsigned long long bytes)
{
	pthread_mutex_lock(&st->mu);
	count(st, rows, bytes);
	bool go = !st->stop && !st->failed;
	pthread_mutex_unlock(&st->mu);
	return go;
}

static void give_free(struct pgw_streams *st, struct pgw_batch *b)
{
	pthread_mutex_lock(&st->mu);
	st->free_list[st->nfree++] = b;
	pthread_cond_broadcast(&st->changed);
	pthread_mutex_unlock(&st->mu);
}

/* Reads batches and writes them with the worker's own sink writer. */
static int copy_to_writer(struct worker *w, struct pgw_copy *cp, struct pgw_err *err)
{
	struct pgw_streams *st = w->st;
	struct pgw_batch *b = take_free(st);
	long n = 0;
	int rc = 0;
	unsigned long long seen = 0;
	while (b && (n = pgw_copy_next(cp, b, err)) > 0) {
		if ((rc = st->run->sink->ops->writer_write(w->out, b, err)) < 0)
			break;
		bool go = count_written(st, b->rows, pgw_copy_bytes(cp) - seen);
		seen = pgw_copy_bytes(cp);
		if (!go)
			break;
	}
	if (b)
		give_free(st, b);
	return n < 0 ? -1 : rc;
}

/* Reads batches and queues them for the caller's thread. */
static int copy_to_queue(struct worker *w, struct pgw_copy *cp, struct pgw_err *err)
{
	struct pgw_streams *st = w->st;
	unsigned long long seen = 0;
	struct pgw_batch *b;
	while ((b = take_free(st))) {
		long n = pgw_copy_next(cp, b, err);
		if (n <= 0) {
			give_free(st, b);
			return n < 0 ? -1 : 0;
		}
		b->stream = (int)(w - st->workers);
		give_full(st, b, pgw_copy_bytes(cp) - seen);
		seen = pgw_copy_bytes(cp);
	}
	return 0;
}

static int copy_all(struct worker *w, struct pgw_err *err)
{
	struct pgw_streams *st = w->st;
	struct pgw_copy *cp = pgw_copy_start(w->pg, st->def, w->sql, err);
	if (!cp)
		return -1;
	pthread_mutex_lock(&st->mu);
	w->cancel = PQgetCancel(w->pg->conn);
	pthread_mutex_unlock(&st->mu);
	int rc = w->out ? copy_to_writer(w, cp, err) : copy_to_queue(w, cp, err);
	pgw_copy_free(cp);
	return rc;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pgw_streams *st = w->st;
	struct pgw_err err = {0};
	int rc = 0;
	if (st->nworkers > 1)
		rc = pgw_pg_join_snapshot(w->pg, w->st->def, w->st->snapshot, &err);
	if (rc == 0)
		rc = copy_all(w, &err);
	if (w->out) {
		pthread_mutex_lock(&st->mu);
		bool ok = rc == 0 && !st->stop && !st->failed;
		pthread_mutex_unlock(&st->mu);
		if (st->run->sink->ops->writer_close(w->out, ok, &err) < 0 && rc == 0)
			rc = -1;
		w->out = NULL;
	}
	if (rc < 0)
		worker_fail(st, &err);
	if (st->nworkers > 1)
		pgw_pg_close(w->pg);
	pthread_mutex_lock(&st->mu);
	st->running--;
	pthread_cond_broadcast(&st->changed);
	pthread_mutex_unlock(&st->mu);
	return NULL;
}

static void make_pool(struct pgw_streams *st)
{
	const struct pgw_table_def *def = st->def;
	st->nbatches = BATCHES_PER_STREAM * st->nworkers;
	st->pool = pgw_calloc((size_t)st->nbatches, sizeof(*st->pool));
	st->free_list = pgw_calloc((size_t)st->nbatches, sizeof(*st->free_list));
	st->full = pgw_calloc((size_t)st->nbatches, sizeof(*st->full));
	for (int i = 0; i < st->nbatches; i++)
		st->pool[i] = st->free_list[i] = pgw_batch_for_def(def, BATCH_ROWS);
	st->nfree = st->nbatches;
}

struct pgw_streams *pgw_streams_start(struct pgw_run *run, const struct pgw_table_def *def, char **sqls, int n,
				      const char *snapshot, struct pgw_pg *conns, struct pgw_err *err)
{
	struct pgw_streams *st = pgw_calloc(1, sizeof(*st));
	st->run = run;
	st->def = def;
	st->snapshot = snapshot;
	st->conns = conns;
	st->nworkers = n;
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->changed, NULL);
	make_pool(st);
	st->workers = pgw_calloc((size_t)n, sizeof(*st->workers));
	const struct pgw_sink_ops *ops = run->sink->ops;
	for (int i = 0; n > 1 && ops->writer_open && i < n; i++)
		if (ops->writer_open(run->sink, &st->workers[i].out, err) < 0) {
			pgw_streams_free(st);
			return NULL;
		}
	for (int i = 0; i < n; i++) {
		struct worker *w = &st->workers[i];
		w->st = st;
		w->pg = n > 1 ? &conns[i] : run->pg;
		w->sql = sqls[i];
		pthread_mutex_lock(&st->mu);
		st->running++;
		pthread_mutex_unlock(&st->mu);
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			pthread_mutex_lock(&st->mu);
			st->running--;
			pthread_mutex_unlock(&st->mu);
			pgw_err_set(err, PGW_ERR_INTERNAL, "cannot start a COPY reader thread");
			pgw_streams_free(st);
			return NULL;
		}
		w->started = true;
	}
	return st;
}

struct pgw_batch *pgw_streams_next(struct pgw_streams *st, int *rc, struct pgw_err *err)
{
	pthread_mutex_lock(&st->mu);
	while (!st->failed && st->nfull == 0 && st->running > 0)
		pthread_cond_wait(&st->changed, &st->mu);
	struct pgw_batch *b = NULL;
	*rc = 0;
	if (st->failed) {
		*rc = -1;
		if (err)
			*err = st->err;
	} else if (st->nfull > 0) {
		b = st->full[st->full_head];
		st->full_head = (st->full_head + 1) % st->nbatches;
		st->nfull--;
	}
	pthread_mutex_unlock(&st->mu);
	return b;
}

void pgw_streams_release(struct pgw_streams *st, struct pgw_batch *b)
{
	give_free(st, b);
}

void pgw_streams_counts(struct pgw_streams *st, long long *rows, unsigned long long *bytes)
{
	pthread_mutex_lock(&st->mu);
	*rows = st->rows;
	*bytes = st->bytes;
	pthread_mutex_unlock(&st->mu);
}

/* Interrupts COPYs still running so their workers see an error and exit. */
static void stop_workers(struct pgw_streams *st)
{
	pthread_mutex_lock(&st->mu);
	bool busy = st->running > 0;
	st->stop = true;
	pthread_cond_broadcast(&st->changed);
	for (int i = 0; busy && i < st->nworkers; i++) {
		char errbuf[256];
		if (st->workers[i].cancel)
			PQcancel(st->workers[i].cancel, errbuf, sizeof(errbuf));
	}
	pthread_mutex_unlock(&st->mu);
}

void pgw_streams_free(struct pgw_streams *st)
{
	if (!st)
		return;
	stop_workers(st);
	for (int i = 0; i < st->nworkers; i++) {
		if (st->workers[i].started)
			pthread_join(st->workers[i].thread, NULL);
		if (st->workers[i].cancel)
			PQfreeCancel(st->workers[i].cancel);
		if (st->workers[i].out)
			st->run->sink->ops->writer_close(st->workers[i].out, false, NULL);
	}
	pgw_pg_close_all(st->conns, st->nworkers); /* those of workers never started */
	for (int i = 0; i < st->nbatches; i++)
		pgw_batch_free(st->pool[i]);
	free(st->pool);
	free(st->free_list);
	free(st->full);
	free(st->workers);
	pthread_cond_destroy(&st->changed);
	pthread_mutex_destroy(&st->mu);
	free(st);
}
