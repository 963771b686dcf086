/* What is being copied right now: on a terminal a live line per active table plus an overall
 * line; otherwise a plain (or JSON) progress line per active table every few seconds. */
#ifndef PGW_PROGRESS_H
#define PGW_PROGRESS_H

#include <stdbool.h>

struct pgw_progress;

/* Starts the display for a command over ntables tables (nothing under -q). */
void pgw_progress_start(int ntables);
/* Stops it and clears the live lines. */
void pgw_progress_stop(void);

/* A table being copied; est_rows < 0 when unknown (no percent or ETA). NULL when not started. */
struct pgw_progress *pgw_progress_begin(const char *table, double est_rows);
/* Sets the row estimate once known (for a full copy). */
void pgw_progress_estimate(struct pgw_progress *p, double est_rows);
/* Adds rows and bytes copied (any thread). p may be NULL. */
void pgw_progress_add(struct pgw_progress *p, long long rows, unsigned long long bytes);
/* The table is done (ok or not). p may be NULL. */
void pgw_progress_end(struct pgw_progress *p);

/* pgwarehouse stream's state, shown as the overall line on a terminal: changes applied so far,
 * changes held (read, not yet applied) and the wall-clock commit time (seconds since 1970) of the
 * oldest transaction held (0: none; the lag shown is how long ago that was), and the WAL between
 * the last apply and the server at that time. */
void pgw_progress_stream(long long applied, long long held, double oldest_held, long long behind_bytes);

#endif
