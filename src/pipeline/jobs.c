/* A fixed set of job threads taking tables from a shared counter. */
#include "pipeline/jobs.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/interrupt.h"
#include "core/log.h"

struct pool {
	struct pgw_run *base;
	int n;
	pgw_job_fn fn;
	void *ctx;
	pthread_mutex_t mu;
	int next;
	bool warned;
};

struct job {
	struct pool *p;
	pthread_t thread;
	struct pgw_run run;
	struct pgw_pg pg;
};

static int take(struct pool *p)
{
	pthread_mutex_lock(&p->mu);
	int i = p->next < p->n && !pgw_interrupted() ? p->next++ : -1;
	pthread_mutex_unlock(&p->mu);
	return i;
}

static void drain(struct pool *p, struct pgw_run *run)
{
	int i;
	while ((i = take(p)) >= 0)
		p->fn(run, i, p->ctx);
}

static void warn_once(struct pool *p, const struct pgw_err *err, bool by_design)
{
	pthread_mutex_lock(&p->mu);
	if (!p->warned && by_design)
		pgw_debug("%s", err->msg);
	else if (!p->warned)
		pgw_warn("cannot open connections for another job (%s); running fewer jobs at once", err->msg);
	p->warned = true;
	pthread_mutex_unlock(&p->mu);
}

/* A job with its own PostgreSQL connection and its own sink. */
static void *job_main(void *arg)
{
	struct job *j = arg;
	struct pool *p = j->p;
	struct pgw_err err = {0};
	struct pgw_sink *sink = NULL;
	j->run = *p->base;
	int forked = -1;
	if (pgw_pg_connect(&j->pg, p->base->cfg, &err) < 0 ||
	    (forked = p->base->sink->ops->fork(p->base->sink, &sink, &err)) != 0) {
		warn_once(p, &err, forked == 1);
		pgw_pg_close(&j->pg);
		return NULL;
	}
	j->run.pg = &j->pg;
	j->run.sink = sink;
	drain(p, &j->run);
	sink->ops->close(sink);
	pgw_pg_close(&j->pg);
	return NULL;
}

void pgw_run_jobs(struct pgw_run *run, int n, int njobs, pgw_job_fn fn, void *ctx)
{
	struct pool p = {.base = run, .n = n, .fn = fn, .ctx = ctx};
	pthread_mutex_init(&p.mu, NULL);
	if (njobs > n)
		njobs = n;
	if (!run->sink || !run->sink->ops->fork)
		njobs = 1;
	struct job *jobs = pgw_calloc((size_t)(njobs > 1 ? njobs - 1 : 1), sizeof(*jobs));
	int started = 0;
	for (int k = 0; k < njobs - 1; k++) {
		jobs[started].p = &p;
		if (pthread_create(&jobs[started].thread, NULL, job_main, &jobs[started]) == 0)
			started++;
	}
	drain(&p, run);
	for (int k = 0; k < started; k++)
		pthread_join(jobs[k].thread, NULL);
	free(jobs);
	pthread_mutex_destroy(&p.mu);
}
