/* Stop requests: sigwait on a dedicated thread instead of a signal handler, so the cancel
 * callbacks may take locks and call libpq freely. */
#include "core/interrupt.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

#define SLOTS 128

/* what a stop request does, for its message (pgw_interrupt_note) */
static _Atomic(const char *) stop_note;

static atomic_int stop_signal;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	void (*fn)(void *);
	void *arg;
} slots[SLOTS];

static void *waiter(void *arg)
{
	sigset_t *set = arg;
	for (;;) {
		int sig = 0;
		if (sigwait(set, &sig) != 0)
			continue;
		if (atomic_load(&stop_signal)) {
			/* a second request: stop now; the warehouse is as safe as after kill -9 */
			static const char msg[] = "pgwarehouse: error: interrupted again; exiting at once\n";
			if (write(2, msg, sizeof(msg) - 1) < 0)
				_exit(128 + sig);
			_exit(128 + sig);
		}
		atomic_store(&stop_signal, sig);
		pgw_warn("%s received: stopping; %s (send it again to exit at once)",
			 sig == SIGINT ? "SIGINT" : "SIGTERM",
			 atomic_load(&stop_note) ? atomic_load(&stop_note) : "tables in progress are rolled back");
		pthread_mutex_lock(&mu);
		for (int i = 0; i < SLOTS; i++)
			if (slots[i].fn)
				slots[i].fn(slots[i].arg);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

void pgw_interrupt_init(void)
{
	static sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_t t;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_create(&t, &attr, waiter, &set);
	pthread_attr_destroy(&attr);
}

static _Thread_local int cleanup_depth;

void pgw_cleanup_begin(void)
{
	cleanup_depth++;
}

void pgw_cleanup_end(void)
{
	cleanup_depth--;
}

bool pgw_cleaning_up(void)
{
	return cleanup_depth > 0;
}

int pgw_interrupted(void)
{
	return atomic_load(&stop_signal);
}

int pgw_interrupt_add(void (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&mu);
	int slot = -1;
	for (int i = 0; i < SLOTS && slot < 0; i++)
		if (!slots[i].fn) {
			slots[i].fn = fn;
			slots[i].arg = arg;
			slot = i;
		}
	bool late = atomic_load(&stop_signal) != 0;
	pthread_mutex_unlock(&mu);
	if (late && slot >= 0) /* the stop came before this registration */
		fn(arg);
	return slot;
}

void pgw_interrupt_remove(int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&mu);
	slots[slot].fn = NULL;
	slots[slot].arg = NULL;
	pthread_mutex_unlock(&mu);
}

void pgw_failpoint(const char *name)
{
	const char *fp = getenv("PGW_FAILPOINT");
	if (fp && !strcmp(fp, name))
		_exit(137);
}

void pgw_interrupt_note(const char *what)
{
	atomic_store(&stop_note, what);
}
