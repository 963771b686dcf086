/* Unit tests: one INSERT fed chunk by chunk (src/sink/clickhouse/ch_feed.c), against a transport
 * that records what each INSERT received. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sink/clickhouse/ch_internal.h"

struct recorder {
	struct ch_conn base;
	int inserts;	       /* INSERTs begun */
	char got[8][64];       /* what each received, chunks concatenated */
	int stopped;	       /* INSERTs told to stop unfinished */
	bool fail_second_chunk; /* the server refuses an INSERT's second chunk */
};

static int record(struct ch_conn *c, const char *table_sql, struct ch_feed *rows, struct pgw_err *err)
{
	struct recorder *r = (struct recorder *)c;
	assert_string_equal(table_sql, "t");
	char *into = r->got[r->inserts++];
	const char *data;
	size_t len;
	int more, chunks = 0;
	while ((more = pgw_ch_feed_next(rows, &data, &len)) > 0) {
		if (r->fail_second_chunk && ++chunks == 2)
			return pgw_err_set(err, PGW_ERR_WAREHOUSE, "refused");
		strncat(into, data, len);
	}
	if (more < 0)
		r->stopped++;
	return more < 0 ? -1 : 0;
}

static int put(struct ch_feed *f, struct recorder *r, const char *text, struct pgw_err *err)
{
	struct pgw_buf b;
	pgw_buf_init(&b);
	pgw_buf_puts(&b, text);
	int rc = pgw_ch_feed_put(f, &r->base, "t", &b, err);
	pgw_buf_cleanup(&b);
	return rc;
}

static void pause_ms(long ms)
{
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
}

void test_ch_feed(void **state)
{
	(void)state;
	struct pgw_err err = {0};
	struct ch_feed f;
	setenv("PGW_CH_INSERT_IDLE_MS", "30", 1);

	/* chunks that come while the INSERT is open go in it, in order */
	struct recorder r = {.base.insert = record};
	pgw_ch_feed_init(&f);
	assert_int_equal(put(&f, &r, "a", &err), 0);
	assert_int_equal(put(&f, &r, "b", &err), 0);
	assert_int_equal(put(&f, &r, "c", &err), 0);
	assert_int_equal(pgw_ch_feed_end(&f, &err), 0);
	assert_int_equal(r.inserts, 1);
	assert_string_equal(r.got[0], "abc");

	/* an INSERT left idle ends; the next chunk starts another */
	assert_int_equal(put(&f, &r, "d", &err), 0);
	pause_ms(150);
	assert_int_equal(put(&f, &r, "e", &err), 0);
	assert_int_equal(put(&f, &r, "f", &err), 0);
	assert_int_equal(pgw_ch_feed_end(&f, &err), 0);
	assert_int_equal(r.inserts, 3);
	assert_string_equal(r.got[1], "d");
	assert_string_equal(r.got[2], "ef");

	/* abandoned: the INSERT is told to stop unfinished */
	assert_int_equal(put(&f, &r, "g", &err), 0);
	pgw_ch_feed_abandon(&f);
	assert_int_equal(r.stopped, 1);
	assert_int_equal(pgw_ch_feed_end(&f, &err), 0); /* nothing open */
	pgw_ch_feed_cleanup(&f);

	/* a failed INSERT fails the chunk handed after it, or the end */
	struct recorder bad = {.base.insert = record, .fail_second_chunk = true};
	pgw_ch_feed_init(&f);
	int rc = put(&f, &bad, "x", &err);
	for (int i = 0; rc == 0 && i < 5; i++)
		rc = put(&f, &bad, "y", &err);
	if (rc == 0)
		rc = pgw_ch_feed_end(&f, &err);
	assert_int_equal(rc, -1);
	assert_string_equal(err.msg, "refused");
	pgw_ch_feed_cleanup(&f);
	unsetenv("PGW_CH_INSERT_IDLE_MS");
}
