/* The progress display: a registry of active tables and a thread that shows them. */
#include "core/progress.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"

#define MAX_ACTIVE 64

struct pgw_progress {
	char *table;
	double est_rows, started;
	atomic_llong rows;
	atomic_ullong bytes;
	bool used;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t wake;
	pthread_t thread;
	bool running, stopping;
	int ntables, done;
	long long done_rows;
	double started;
	struct pgw_progress slots[MAX_ACTIVE];
	struct {
		bool on;
		long long applied, held, behind;
		double oldest_held;
	} stream;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

/* "812", "45.3k", "1.25M" */
static void human(struct pgw_buf *b, double v, const char *unit)
{
	if (v >= 1e9)
		pgw_buf_printf(b, "%.2fG%s", v / 1e9, unit);
	else if (v >= 1e6)
		pgw_buf_printf(b, "%.2fM%s", v / 1e6, unit);
	else if (v >= 1e4)
		pgw_buf_printf(b, "%.1fk%s", v / 1e3, unit);
	else
		pgw_buf_printf(b, "%.0f%s", v, unit);
}

static void table_line(struct pgw_buf *b, const struct pgw_progress *p, double t)
{
	double rows = (double)atomic_load(&p->rows), mb = (double)atomic_load(&p->bytes) / 1e6;
	double secs = t - p->started, rate = secs > 0 ? rows / secs : 0;
	pgw_buf_printf(b, "  %s: ", p->table);
	human(b, rows, " rows");
	pgw_buf_printf(b, ", %.1f MB, ", mb);
	human(b, rate, " rows/s");
	if (p->est_rows > 0 && rows <= p->est_rows * 1.5) {
		double pct = rows < p->est_rows ? 100.0 * rows / p->est_rows : 99.9;
		pgw_buf_printf(b, ", %.0f%%", pct);
		if (rate > 0 && rows < p->est_rows)
			pgw_buf_printf(b, ", ETA %.0fs", (p->est_rows - rows) / rate);
	}
}

static void draw_terminal(double t)
{
	struct pgw_buf b;
	pgw_buf_init(&b);
	int lines = 0;
	long long active_rows = 0;
	for (int i = 0; i < MAX_ACTIVE; i++)
		if (P.slots[i].used) {
			table_line(&b, &P.slots[i], t);
			pgw_buf_puts(&b, "\n");
			active_rows += atomic_load(&P.slots[i].rows);
			lines++;
		}
	if (P.stream.on) {
		struct timespec wall;
		clock_gettime(CLOCK_REALTIME, &wall);
		double lag =
			P.stream.oldest_held > 0 ? (double)wall.tv_sec + wall.tv_nsec / 1e9 - P.stream.oldest_held : 0;
		pgw_buf_puts(&b, "stream: ");
		human(&b, (double)P.stream.applied, " changes applied, ");
		human(&b, (double)P.stream.held, " held; ");
		pgw_buf_printf(&b, "lag %.1fs, ", lag < 0 ? 0 : lag);
		human(&b, (double)P.stream.behind, "B");
		pgw_buf_printf(&b, " of WAL behind at the last apply; %.0fs\n", t - P.started);
	} else {
		pgw_buf_printf(&b, "%d/%d tables done, ", P.done, P.ntables);
		human(&b, (double)(P.done_rows + active_rows), " rows");
		pgw_buf_printf(&b, ", %.0fs\n", t - P.started);
	}
	pgw_log_status(b.data, lines + 1);
	pgw_buf_cleanup(&b);
}

static void log_lines(double t)
{
	for (int i = 0; i < MAX_ACTIVE; i++) {
		const struct pgw_progress *p = &P.slots[i];
		if (!p->used)
			continue;
		struct pgw_buf msg, fields;
		pgw_buf_init(&msg);
		pgw_buf_init(&fields);
		pgw_buf_puts(&msg, "progress");
		table_line(&msg, p, t);
		pgw_buf_puts(&fields, "\"table\":");
		pgw_json_string(&fields, p->table);
		pgw_buf_printf(&fields, ",\"rows\":%lld,\"bytes\":%llu,\"seconds\":%.1f", atomic_load(&p->rows),
			       atomic_load(&p->bytes), t - p->started);
		if (p->est_rows > 0)
			pgw_buf_printf(&fields, ",\"estimated_rows\":%.0f", p->est_rows);
		pgw_log_fields(PGW_LOG_INFO, fields.data, msg.data);
		pgw_buf_cleanup(&msg);
		pgw_buf_cleanup(&fields);
	}
}

static void *show(void *arg)
{
	(void)arg;
	bool tty = pgw_log_tty();
	const char *env = getenv("PGWAREHOUSE_PROGRESS_INTERVAL");
	double every = tty ? 0.5 : env && atof(env) > 0 ? atof(env) : 5.0, last_log = pgw_now();
	pthread_mutex_lock(&P.mu);
	while (!P.stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)(every * 1e9);
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&P.wake, &P.mu, &until);
		double t = pgw_now();
		if (P.stopping)
			break;
		if (tty)
			draw_terminal(t);
		else if (t - last_log >= every - 0.01) {
			log_lines(t);
			last_log = t;
		}
	}
	pthread_mutex_unlock(&P.mu);
	if (tty)
		pgw_log_status(NULL, 0);
	return NULL;
}

void pgw_progress_start(int ntables)
{
	if (!pgw_log_enabled(PGW_LOG_INFO) || P.running)
		return;
	P.ntables = ntables;
	P.done = 0;
	P.done_rows = 0;
	P.started = pgw_now();
	P.stopping = false;
	P.stream.on = false;
	P.running = pthread_create(&P.thread, NULL, show, NULL) == 0;
}

void pgw_progress_stop(void)
{
	if (!P.running)
		return;
	pthread_mutex_lock(&P.mu);
	P.stopping = true;
	pthread_cond_broadcast(&P.wake);
	pthread_mutex_unlock(&P.mu);
	pthread_join(P.thread, NULL);
	P.running = false;
}

struct pgw_progress *pgw_progress_begin(const char *table, double est_rows)
{
	if (!P.running)
		return NULL;
	struct pgw_progress *p = NULL;
	pthread_mutex_lock(&P.mu);
	for (int i = 0; i < MAX_ACTIVE && !p; i++)
		if (!P.slots[i].used) {
			p = &P.slots[i];
			p->used = true;
			p->table = pgw_strdup(table);
			p->est_rows = est_rows;
			p->started = pgw_now();
			atomic_store(&p->rows, 0);
			atomic_store(&p->bytes, 0);
		}
	pthread_mutex_unlock(&P.mu);
	return p;
}

void pgw_progress_estimate(struct pgw_progress *p, double est_rows)
{
	if (p)
		p->est_rows = est_rows;
}

void pgw_progress_add(struct pgw_progress *p, long long rows, unsigned long long bytes)
{
	if (!p)
		return;
	atomic_fetch_add(&p->rows, rows);
	atomic_fetch_add(&p->bytes, bytes);
}

void pgw_progress_end(struct pgw_progress *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&P.mu);
	P.done++;
	P.done_rows += atomic_load(&p->rows);
	p->used = false;
	free(p->table);
	p->table = NULL;
	pthread_mutex_unlock(&P.mu);
}

void pgw_progress_stream(long long applied, long long held, double oldest_held, long long behind_bytes)
{
	if (!P.running)
		return;
	pthread_mutex_lock(&P.mu);
	P.stream.on = true;
	P.stream.applied = applied;
	P.stream.held = held;
	P.stream.oldest_held = oldest_held;
	if (behind_bytes >= 0)
		P.stream.behind = behind_bytes;
	pthread_mutex_unlock(&P.mu);
}
