/* SIGINT/SIGTERM: a thread waits for them, records the request, and runs the registered
 * cancel callbacks (the COPYs in flight), so every table in progress fails and rolls back. */
#ifndef PGW_INTERRUPT_H
#define PGW_INTERRUPT_H

#include <stdbool.h>

/* Blocks SIGINT/SIGTERM in this thread (and the threads it starts) and starts the waiter.
 * Call before any other thread exists. */
void pgw_interrupt_init(void);
/* The signal that asked to stop, or 0. */
int pgw_interrupted(void);

/* What a stop request does, said in its warning (a static string; default "tables in progress are
 * rolled back") */
void pgw_interrupt_note(const char *what);
/* A callback run (on the waiter thread) when a stop is requested; returns a slot for
 * pgw_interrupt_remove, or -1 when all slots are taken. */
int pgw_interrupt_add(void (*fn)(void *), void *arg);
/* After this returns the callback is not running and will not run. */
void pgw_interrupt_remove(int slot);

/* Cleaning up after a stop request (dropping a helper table, cancelling what the warehouse still
 * runs, the run log's row): between begin and end this thread's warehouse requests are not
 * aborted by the stop, and each is bounded in time instead. Calls nest. */
void pgw_cleanup_begin(void);
void pgw_cleanup_end(void);
bool pgw_cleaning_up(void);

/* Tests only: dies as a kill -9 would (exit status 137, nothing cleaned up) when the environment
 * variable PGW_FAILPOINT names this point. */
void pgw_failpoint(const char *name);

#endif
