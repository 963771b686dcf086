/* Logical replication over a walsender connection (PostgreSQL's "Streaming Replication Protocol");
 * see repl.h. */
#include "source/replication/repl.h"

#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"

#define PG_EPOCH_OFFSET_S 946684800LL /* 2000-01-01 in Unix time: the protocol's clock starts there */
#define STATUS_EVERY_US 10000000LL    /* well within wal_sender_timeout (60 s by default) */

void pgw_lsn_format(uint64_t lsn, char out[24])
{
	snprintf(out, 24, "%X/%X", (unsigned)(lsn >> 32), (unsigned)(lsn & 0xffffffffu));
}

int pgw_lsn_parse(const char *s, uint64_t *lsn)
{
	unsigned hi, lo;
	int used = 0;
	if (!s || sscanf(s, "%X/%X%n", &hi, &lo, &used) != 2 || s[used])
		return -1;
	*lsn = (uint64_t)hi << 32 | lo;
	return 0;
}

static int64_t now_us(int clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int pgw_repl_connect(struct pgw_repl *r, const struct pgw_config *cfg, struct pgw_err *err)
{
	memset(r, 0, sizeof(*r));
	return pgw_pg_connect_replication(&r->pg, cfg, err);
}

int pgw_repl_identify(struct pgw_repl *r, uint64_t *xlogpos, struct pgw_err *err)
{
	PGresult *res = PQexec(r->pg.conn, "IDENTIFY_SYSTEM");
	int rc = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 3)
		rc = pgw_pg_result_error(&r->pg, res, "IDENTIFY_SYSTEM: ", err);
	else if (pgw_lsn_parse(PQgetvalue(res, 0, 2), xlogpos) < 0)
		rc = pgw_err_set(err, PGW_ERR_SOURCE, "IDENTIFY_SYSTEM: unreadable position `%s`",
				 PQgetvalue(res, 0, 2));
	PQclear(res);
	return rc;
}

void pgw_repl_close(struct pgw_repl *r)
{
	if (r->buf)
		PQfreemem(r->buf);
	r->buf = NULL;
	pgw_pg_close(&r->pg);
}

/* Slot names are lower-case letters, digits and '_' (PostgreSQL's rule): no quoting needed, and a
 * name that breaks it is refused here with the rule rather than by the server */
static int check_slot_name(const char *slot, struct pgw_err *err)
{
	size_t n = strlen(slot);
	if (n == 0 || n > 63 || strspn(slot, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
		return pgw_err_set(err, PGW_ERR_CONFIG,
				   "replication_slot `%s`: use 1 to 63 lower-case letters, digits or '_'", slot);
	return 0;
}

int pgw_repl_create_slot(struct pgw_repl *r, const char *slot, bool temporary, uint64_t *lsn, char **snapshot,
			 struct pgw_err *err)
{
	if (check_slot_name(slot, err) < 0)
		return -1;
	/* PostgreSQL 15 took the option list; older servers the bare keyword */
	char *sql = pgw_asprintf(pgw_pg_version(&r->pg) >= 150000
					 ? "CREATE_REPLICATION_SLOT %s%s LOGICAL pgoutput (SNAPSHOT 'export')"
					 : "CREATE_REPLICATION_SLOT %s%s LOGICAL pgoutput EXPORT_SNAPSHOT",
				 slot, temporary ? " TEMPORARY" : "");
	PGresult *res = PQexec(r->pg.conn, sql);
	free(sql);
	int rc = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) < 3) {
		rc = pgw_pg_result_error(&r->pg, res, "creating replication slot: ", err);
	} else if (pgw_lsn_parse(PQgetvalue(res, 0, 1), lsn) < 0) {
		rc = pgw_err_set(err, PGW_ERR_SOURCE, "replication slot %s: unreadable consistent point `%s`", slot,
				 PQgetvalue(res, 0, 1));
	} else {
		*snapshot = pgw_strdup(PQgetvalue(res, 0, 2));
	}
	PQclear(res);
	return rc;
}

/* publication_names takes a list of identifiers inside a string literal: "name" with '"' doubled,
 * then the literal with "'" doubled */
static void publication_option(struct pgw_buf *sql, const char *publication)
{
	pgw_buf_puts(sql, "'\"");
	for (const char *p = publication; *p; p++) {
		if (*p == '"')
			pgw_buf_puts(sql, "\"\"");
		else if (*p == '\'')
			pgw_buf_puts(sql, "''");
		else
			pgw_buf_add(sql, p, 1);
	}
	pgw_buf_puts(sql, "\"'");
}

int pgw_repl_start(struct pgw_repl *r, const char *slot, const char *publication, uint64_t lsn, struct pgw_err *err)
{
	if (check_slot_name(slot, err) < 0)
		return -1;
	char at[24];
	pgw_lsn_format(lsn, at);
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_printf(&sql, "START_REPLICATION SLOT %s LOGICAL %s (\"proto_version\" '1', \"publication_names\" ",
		       slot, at);
	publication_option(&sql, publication);
	/* values in their binary send format: no text formatting on the server, none parsed here */
	r->binary_on = r->binary && PQserverVersion(r->pg.conn) >= 140000;
	pgw_buf_puts(&sql, r->binary_on ? ", \"binary\" 'true')" : ")");
	PGresult *res = PQexec(r->pg.conn, sql.data);
	pgw_buf_cleanup(&sql);
	int rc = 0;
	if (PQresultStatus(res) != PGRES_COPY_BOTH) {
		rc = pgw_pg_result_error(&r->pg, res, "starting replication: ", err);
		/* a slot has one reader: most often an earlier run still going (a cron run overlapping) */
		if (!strcmp(err->sqlstate, "55006")) {
			pgw_err_set(err, PGW_ERR_SOURCE,
				    "replication slot %s is being read by another process (%s): another pgwarehouse "
				    "sync or stream is still running; let it finish (or stop it), or give this one "
				    "its own replication_slot",
				    slot, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
			strcpy(err->sqlstate, "55006");
		}
	}
	PQclear(res);
	if (rc == 0) {
		r->streaming = true;
		r->received = r->confirmed = lsn;
		r->last_status_us = now_us(CLOCK_MONOTONIC);
	}
	return rc;
}

static void put64(char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (char)(v & 0xff);
}

static uint64_t get64(const char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | (unsigned char)p[i];
	return v;
}

/* Standby status update: 'r', written, flushed, applied, client time (µs since 2000), reply wanted */
static int send_status(struct pgw_repl *r, struct pgw_err *err)
{
	char msg[34];
	msg[0] = 'r';
	put64(msg + 1, r->received);
	put64(msg + 9, r->confirmed);
	put64(msg + 17, r->confirmed);
	put64(msg + 25, (uint64_t)(now_us(CLOCK_REALTIME) - PG_EPOCH_OFFSET_S * 1000000));
	msg[33] = 0;
	if (PQputCopyData(r->pg.conn, msg, sizeof(msg)) <= 0 || PQflush(r->pg.conn) < 0)
		return pgw_pg_result_error(&r->pg, NULL, "replication status update: ", err);
	r->last_status_us = now_us(CLOCK_MONOTONIC);
	return 0;
}

int pgw_repl_confirm(struct pgw_repl *r, uint64_t lsn, struct pgw_err *err)
{
	if (lsn > r->confirmed)
		r->confirmed = lsn;
	return send_status(r, err);
}

/* Waits until the socket is readable or timeout_ms passed; 0 either way, -1 on error. The
 * walsender sends message by message: woken at once, each read got a message or two, and reading
 * took a third of pgwarehouse's CPU during a catch-up (recvfrom, poll, context switches). A nap of
 * 0.1 ms first lets a few kB gather: a 1M-change catch-up into DuckDB spent 0.6 s of system CPU
 * instead of 2.0 s, in the same time (1 ms naps made it twice as long). */
static int wait_readable(struct pgw_repl *r, int timeout_ms, struct pgw_err *err)
{
	struct pollfd p = {.fd = PQsocket(r->pg.conn), .events = POLLIN};
	nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL);
	if (poll(&p, 1, timeout_ms) < 0)
		return 0; /* EINTR: a signal; the caller looks at stop requests */
	if (PQconsumeInput(r->pg.conn) == 0)
		return pgw_pg_result_error(&r->pg, NULL, "replication stream: ", err);
	return 0;
}

/* The stream ended from the server's side (an error, or the server shut down). */
static int stream_ended(struct pgw_repl *r, struct pgw_err *err)
{
	PGresult *res = PQgetResult(r->pg.conn);
	ExecStatusType st = PQresultStatus(res);
	int rc = st == PGRES_COMMAND_OK || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH
			 ? pgw_err_set(err, PGW_ERR_SOURCE,
				       "PostgreSQL ended the replication stream (a shutdown or restart?)")
			 : pgw_pg_result_error(&r->pg, res, "replication stream ended: ", err);
	PQclear(res);
	r->streaming = false;
	return rc;
}

int pgw_repl_next(struct pgw_repl *r, int timeout_ms, const char **data, int *len, uint64_t *lsn, struct pgw_err *err)
{
	int64_t deadline = now_us(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000;
	for (;;) {
		if (r->buf)
			PQfreemem(r->buf);
		r->buf = NULL;
		if (now_us(CLOCK_MONOTONIC) - r->last_status_us > STATUS_EVERY_US && send_status(r, err) < 0)
			return -1;
		int n = PQgetCopyData(r->pg.conn, &r->buf, 1);
		if (n == 0) {
			int64_t left = deadline - now_us(CLOCK_MONOTONIC);
			if (left <= 0)
				return 0;
			if (wait_readable(r, (int)(left / 1000) + 1, err) < 0)
				return -1;
			continue;
		}
		if (n < 0)
			return stream_ended(r, err);
		if (r->buf[0] == 'w' && n >= 25) { /* XLogData: start, end of WAL, send time, payload */
			*lsn = get64(r->buf + 1);
			uint64_t end = get64(r->buf + 9);
			if (end > r->received)
				r->received = end;
			*data = r->buf + 25;
			*len = n - 25;
			return 1;
		}
		if (r->buf[0] == 'k' && n >= 18) { /* keepalive: end of WAL, send time, reply requested */
			uint64_t end = get64(r->buf + 1);
			bool moved = end > r->received;
			if (moved)
				r->received = end;
			if (r->buf[17] && send_status(r, err) < 0)
				return -1;
			/* the walsender pings as it catches up: the caller's "read up to here?" is
			 * answered now, not after the rest of timeout_ms (0.1 s a sync) */
			if (moved)
				return 0;
			continue;
		}
		return pgw_err_set(err, PGW_ERR_SOURCE, "replication stream: an unknown message '%c'", r->buf[0]);
	}
}
