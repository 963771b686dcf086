/* The walsender side of logical replication: slots, and the stream of changes of a slot through a
 * publication (pgoutput v1), read without blocking for longer than asked, confirmed only as far as
 * the caller says the warehouse holds. */
#ifndef PGW_REPL_H
#define PGW_REPL_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/err.h"
#include "source/pg.h"

struct pgw_repl {
	struct pgw_pg pg;      /* a replication=database connection */
	bool streaming;        /* after START_REPLICATION */
	uint64_t received;     /* end of the last XLogData or keepalive seen */
	uint64_t confirmed;    /* what the server was told the warehouse holds */
	int64_t last_status_us; /* when the last status update went out (monotonic) */
	char *buf;             /* the last message, freed on the next read */
	bool binary;           /* ask for values in binary (pgoutput's binary option, PostgreSQL 14+) */
	bool binary_on;        /* ...and the server was asked for it */
};

/* LSNs as PostgreSQL writes them: "16/B374D848" */
void pgw_lsn_format(uint64_t lsn, char out[24]);
int pgw_lsn_parse(const char *s, uint64_t *lsn);

int pgw_repl_connect(struct pgw_repl *r, const struct pgw_config *cfg, struct pgw_err *err);
/* IDENTIFY_SYSTEM: the server's current WAL position (where a catch-up run stops). */
int pgw_repl_identify(struct pgw_repl *r, uint64_t *xlogpos, struct pgw_err *err);
void pgw_repl_close(struct pgw_repl *r);
/* CREATE_REPLICATION_SLOT slot [TEMPORARY: dropped with this connection] LOGICAL pgoutput with an
 * exported snapshot: *lsn is the slot's
 * consistent point and *snapshot (caller frees) a snapshot other connections import with
 * SET TRANSACTION SNAPSHOT while this connection runs no other command. */
int pgw_repl_create_slot(struct pgw_repl *r, const char *slot, bool temporary, uint64_t *lsn, char **snapshot,
			 struct pgw_err *err);
/* START_REPLICATION of slot from lsn (0: where the slot is) through publication. */
int pgw_repl_start(struct pgw_repl *r, const char *slot, const char *publication, uint64_t lsn,
		   struct pgw_err *err);

/* One message of the stream: 1 with *data and *len the pgoutput payload of an XLogData (valid until the
 * next call) and *lsn its start, 0 when nothing came within timeout_ms or a keepalive moved
 * r->received (keepalives are answered here), -1 on error. */
int pgw_repl_next(struct pgw_repl *r, int timeout_ms, const char **data, int *len, uint64_t *lsn,
		  struct pgw_err *err);
/* Tells the server the warehouse holds everything up to lsn (a standby status update with it as
 * the flushed position): the slot may then drop the WAL before it. */
int pgw_repl_confirm(struct pgw_repl *r, uint64_t lsn, struct pgw_err *err);

#endif
