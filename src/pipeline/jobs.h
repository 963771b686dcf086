/* Running one command over many tables on several threads (--jobs). */
#ifndef PGW_JOBS_H
#define PGW_JOBS_H

#include "pipeline/sync.h"

/* Called for table i on some job's own connections; must fill res[i]. */
typedef void (*pgw_job_fn)(struct pgw_run *run, int i, void *ctx);

/* Runs fn for tables 0..n-1 with up to njobs threads. Job 0 uses `run`; each other job opens its
 * own PostgreSQL connection and forks the sink; a job that cannot is skipped with a warning (the
 * others take its tables), as are all but job 0 when the sink cannot fork. */
void pgw_run_jobs(struct pgw_run *run, int n, int njobs, pgw_job_fn fn, void *ctx);

#endif
