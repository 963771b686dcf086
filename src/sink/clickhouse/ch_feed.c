/* One INSERT fed chunk by chunk (ch_internal.h): the sink's thread encodes the next chunk while the
 * INSERT's own thread sends this one. A load's rows go as one long INSERT rather than one per
 * chunk: the server then cuts parts of its own block size (a million rows) instead of one small
 * part per chunk, which its background merges had to rewrite again and again. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sink/clickhouse/ch_internal.h"

/* An INSERT left without rows this long ends (the next chunk starts another): no server or proxy
 * timeout sees an idle request while PostgreSQL takes its time to produce rows. Tests shorten it
 * (PGW_CH_INSERT_IDLE_MS) to split a load in many INSERTs. */
static long idle_end_ms(void)
{
	const char *v = getenv("PGW_CH_INSERT_IDLE_MS");
	return v && atol(v) > 0 ? atol(v) : 10000;
}

void pgw_ch_feed_init(struct ch_feed *f)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	pgw_buf_init(&f->data);
}

void pgw_ch_feed_cleanup(struct ch_feed *f)
{
	pgw_ch_feed_abandon(f);
	pgw_buf_cleanup(&f->data);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
}

static void set_accepting(struct ch_feed *f, bool on)
{
	pthread_mutex_lock(&f->mu);
	f->accepting = on;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

static void *insert_main(void *arg)
{
	struct ch_feed *f = arg;
	f->rc = f->conn->insert(f->conn, f->table_sql, f, &f->err);
	set_accepting(f, false); /* also when the INSERT failed before taking its chunks */
	return NULL;
}

int pgw_ch_feed_next(struct ch_feed *f, const char **data, size_t *len)
{
	pthread_mutex_lock(&f->mu);
	if (f->taken) { /* the previous chunk is sent: its buffer goes back to the sink */
		f->taken = f->handed = false;
		pthread_cond_broadcast(&f->cv);
	}
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	long ns = until.tv_nsec + idle_end_ms() % 1000 * 1000000L;
	until.tv_sec += idle_end_ms() / 1000 + ns / 1000000000L;
	until.tv_nsec = ns % 1000000000L;
	int wait = 0;
	while (!f->handed && !f->closing && !f->abandoned && wait != ETIMEDOUT)
		wait = pthread_cond_timedwait(&f->cv, &f->mu, &until);
	int rc = f->abandoned ? -1 : f->handed ? 1 : 0;
	if (rc == 1) {
		f->taken = true;
		*data = f->data.data;
		*len = f->data.len;
	} else {
		f->accepting = false; /* decided under the lock: no chunk is handed to an ending INSERT */
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

/* Waits for the open INSERT's thread; returns its outcome. */
static int join(struct ch_feed *f, struct pgw_err *err)
{
	if (!f->running)
		return 0;
	pthread_join(f->thread, NULL);
	f->running = false;
	free(f->table_sql);
	f->table_sql = NULL;
	if (f->rc < 0 && err)
		*err = f->err;
	return f->rc;
}

static int finish(struct ch_feed *f, bool abandon, struct pgw_err *err)
{
	if (!f->running)
		return 0;
	pthread_mutex_lock(&f->mu);
	f->closing = true;
	f->abandoned = abandon;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	int rc = join(f, err);
	f->handed = f->taken = false;
	return rc;
}

/* Under the lock, or before the INSERT's thread starts */
static void hand(struct ch_feed *f, struct pgw_buf *rows)
{
	struct pgw_buf t = f->data; /* swap buffers: keep both allocations */
	f->data = *rows;
	*rows = t;
	pgw_buf_reset(rows);
	f->handed = true;
	f->taken = false;
	pthread_cond_broadcast(&f->cv);
}

int pgw_ch_feed_put(struct ch_feed *f, struct ch_conn *conn, const char *table_sql, struct pgw_buf *rows,
		    struct pgw_err *err)
{
	if (!rows->len)
		return 0;
	pthread_mutex_lock(&f->mu);
	while (f->running && f->accepting && f->handed)
		pthread_cond_wait(&f->cv, &f->mu);
	bool open = f->running && f->accepting && !strcmp(f->table_sql, table_sql);
	if (open)
		hand(f, rows);
	pthread_mutex_unlock(&f->mu);
	if (open)
		return 0;
	/* an INSERT that ended (left idle, or failed), or one into another table */
	if (finish(f, false, err) < 0)
		return -1;
	hand(f, rows);
	f->conn = conn;
	f->table_sql = pgw_strdup(table_sql);
	f->closing = f->abandoned = false;
	f->accepting = true;
	f->rc = 0;
	memset(&f->err, 0, sizeof(f->err));
	f->running = true;
	if (pthread_create(&f->thread, NULL, insert_main, f) != 0) {
		f->running = false;
		f->closing = true; /* no thread: send this chunk alone, now */
		insert_main(f);
		free(f->table_sql);
		f->table_sql = NULL;
		f->handed = f->taken = false;
		if (f->rc < 0 && err)
			*err = f->err;
		return f->rc;
	}
	return 0;
}

int pgw_ch_feed_end(struct ch_feed *f, struct pgw_err *err)
{
	return finish(f, false, err);
}

void pgw_ch_feed_abandon(struct ch_feed *f)
{
	finish(f, true, NULL);
}
