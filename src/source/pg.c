/* The one funnel for libpq calls: connecting, session settings, queries, errors. */
#include "source/pg.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/interrupt.h"
#include "core/log.h"

/* libpq messages are multi-line ("...\nDETAIL: ..."); keep the first line. */
static const char *first_line(const char *msg, char *out, size_t outsz)
{
	size_t n = strcspn(msg, "\n");
	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, msg, n);
	out[n] = '\0';
	return out;
}

static const char *connect_hint(const char *msg)
{
	if (strstr(msg, "REPLICATION attribute") || strstr(msg, "superuser or replication role"))
		return "change data capture reads the replication stream: a superuser runs ALTER ROLE <user> WITH "
		       "REPLICATION";
	/* pg_hba.conf's hostssl lines: the server takes this client only over SSL */
	if (strstr(msg, "no encryption"))
		return "the server takes this connection only with SSL: set pgsslmode (PGSSLMODE) to require, or "
		       "verify-full with PGSSLROOTCERT naming its CA certificate";
	if (strstr(msg, "server does not support SSL"))
		return "the server has no SSL: set pgsslmode (PGSSLMODE) to prefer or disable, or turn ssl on in "
		       "the server";
	if (strstr(msg, "password authentication failed") || strstr(msg, "no password supplied"))
		return "check pgpassword in the config or PGPASSWORD";
	if (strstr(msg, "does not exist") && strstr(msg, "database"))
		return "check pgdatabase in the config or PGDATABASE";
	if (strstr(msg, "role") && strstr(msg, "does not exist"))
		return "check pguser in the config or PGUSER";
	if (strstr(msg, "Connection refused") || strstr(msg, "No such file") || strstr(msg, "could not translate") ||
	    strstr(msg, "timeout"))
		return "check pghost/pgport (PGHOST/PGPORT) and that the server is running";
	return "check the postgres settings";
}

/* Failures that a moment later may be gone: a server restarting, a dropped network path. */
bool pgw_pg_transient(const char *msg)
{
	static const char *const signs[] = {"Connection refused",
					    "starting up",
					    "shutting down",
					    "in recovery mode",
					    "timeout expired",
					    "Connection reset",
					    "server closed the connection",
					    "too many clients",
					    "No route to host"};
	for (size_t i = 0; i < sizeof(signs) / sizeof(signs[0]); i++)
		if (strstr(msg, signs[i]))
			return true;
	return false;
}

static int connect_once(struct pgw_pg *pg, const struct pgw_config *cfg, bool replication, struct pgw_err *err);

static int connect_retrying(struct pgw_pg *pg, const struct pgw_config *cfg, bool replication, struct pgw_err *err)
{
	struct pgw_err e = {0};
	for (int attempt = 0;; attempt++) {
		if (connect_once(pg, cfg, replication, &e) == 0)
			return 0;
		if (attempt == 3 || !pgw_pg_transient(e.msg) || pgw_interrupted())
			break;
		pgw_warn("%s; retrying in %.1fs", e.msg, 0.5 * (1 << attempt));
		usleep(500000u << attempt);
	}
	if (err)
		*err = e;
	return -1;
}

/* Connects, retrying transient failures 3 times after 0.5, 1 and 2 seconds. */
int pgw_pg_connect(struct pgw_pg *pg, const struct pgw_config *cfg, struct pgw_err *err)
{
	return connect_retrying(pg, cfg, false, err);
}

int pgw_pg_connect_once(struct pgw_pg *pg, const struct pgw_config *cfg, struct pgw_err *err)
{
	return connect_once(pg, cfg, false, err);
}

int pgw_pg_connect_replication(struct pgw_pg *pg, const struct pgw_config *cfg, struct pgw_err *err)
{
	return connect_retrying(pg, cfg, true, err);
}

int pgw_pg_ensure(struct pgw_pg *pg, struct pgw_err *err)
{
	if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK)
		return 0;
	const struct pgw_config *cfg = pg->cfg;
	pgw_pg_close(pg);
	pgw_info("reconnecting to PostgreSQL");
	return pgw_pg_connect(pg, cfg, err);
}

static int connect_once(struct pgw_pg *pg, const struct pgw_config *cfg, bool replication, struct pgw_err *err)
{
	const char *keys[14], *vals[14];
	int n = 0;
#define KV(k, v)                       \
	do {                           \
		if (v) {               \
			keys[n] = k;   \
			vals[n++] = v; \
		}                      \
	} while (0)
	KV("host", cfg->pghost);
	KV("port", cfg->pgport);
	KV("dbname", cfg->pgdatabase);
	KV("user", cfg->pguser);
	KV("password", cfg->pgpassword);
	KV("sslmode", cfg->pgsslmode);
	KV("application_name", "pgwarehouse");
	KV("client_encoding", "UTF8"); /* a startup parameter: poolers keep it per client */
	KV("connect_timeout", "10");
	KV("replication", replication ? "database" : NULL); /* a walsender for logical decoding */
#undef KV
	keys[n] = vals[n] = NULL;
	memset(pg, 0, sizeof(*pg));
	pg->cfg = cfg;
	pg->conn = PQconnectdbParams(keys, vals, 0);
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		char line[512];
		first_line(PQerrorMessage(pg->conn), line, sizeof(line));
		pgw_err_set(err, PGW_ERR_SOURCE, "cannot connect to PostgreSQL: %s; %s", line, connect_hint(line));
		pgw_pg_close(pg);
		return -1;
	}
	return 0;
}

/* What every pgwarehouse transaction runs with, as SET LOCAL: session SETs would not follow a
 * client through a pooler in transaction mode (pgbouncer) and would leak into its other clients.
 * Fixed text formats so any text we read means the same on every server; the timeouts a
 * production role may carry would kill a long COPY (pg_dump clears them too); row_security off
 * makes a table the role may only partly see an error instead of a silent subset. */
static const char SESSION_SETTINGS[] =
	"SET LOCAL jit = off; SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; "
	"SET LOCAL IntervalStyle = 'iso_8601'; SET LOCAL extra_float_digits = 3; "
	"SET LOCAL standard_conforming_strings = on; SET LOCAL bytea_output = 'hex'; "
	"SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0; "
	"SET LOCAL idle_in_transaction_session_timeout = 0; SET LOCAL row_security = off";

int pgw_pg_begin(struct pgw_pg *pg, const char *mode, struct pgw_err *err)
{
	char *sql = pgw_asprintf("BEGIN %s; %s", mode, SESSION_SETTINGS);
	int rc = pgw_pg_exec(pg, sql, err);
	free(sql);
	return rc;
}

void pgw_pg_close(struct pgw_pg *pg)
{
	if (pg->conn)
		PQfinish(pg->conn);
	pg->conn = NULL;
}

void pgw_pg_close_all(struct pgw_pg *pgs, int n)
{
	for (int i = 0; pgs && i < n; i++)
		pgw_pg_close(&pgs[i]);
	free(pgs);
}

int pgw_pg_version(struct pgw_pg *pg)
{
	return PQserverVersion(pg->conn);
}

/* Errors about the server or the session are PostgreSQL errors (exit 3); the others concern
 * one table (an unpopulated materialized view, a privilege, a policy) and fail only it. */
static enum pgw_errcode error_class(const char *state)
{
	static const char *const server[] = {"08", "28", "3D", "53", "57", "58", "XX"};
	if (!state)
		return PGW_ERR_SOURCE;
	for (size_t i = 0; i < sizeof(server) / sizeof(server[0]); i++)
		if (!strncmp(state, server[i], 2))
			return PGW_ERR_SOURCE;
	return PGW_ERR_TABLE;
}

/* A standby cancels a read whose snapshot still needs rows the primary's VACUUM removed, once
 * replaying that removal has waited max_standby_streaming_delay (SQLSTATE 40001, which pgwarehouse's
 * read-only transactions meet for no other reason; in_hot_standby is reported from PostgreSQL 14,
 * the message's text is for older servers). */
static bool standby_conflict(struct pgw_pg *pg, const char *state, const char *msg)
{
	const char *standby = PQparameterStatus(pg->conn, "in_hot_standby");
	return state && !strcmp(state, "40001") &&
	       ((standby && !strcmp(standby, "on")) || (msg && strstr(msg, "conflict with recovery")));
}

int pgw_pg_result_error(struct pgw_pg *pg, const PGresult *res, const char *what, struct pgw_err *err)
{
	char line[900];
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	first_line(msg ? msg : PQerrorMessage(pg->conn), line, sizeof(line));
	pgw_err_set(err, error_class(state), "PostgreSQL: %s%s", what, line);
	if (standby_conflict(pg, state, msg))
		pgw_err_append(err, "; the standby cancelled this read to replay the primary's changes: set "
				    "hot_standby_feedback = on on the standby (or raise its "
				    "max_standby_streaming_delay), or read from the primary");
	else if (hint) /* PostgreSQL's own hint often names the fix */
		pgw_err_append(err, "; %s", first_line(hint, line, sizeof(line)));
	if (err && state)
		snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", state);
	return -1;
}

static int result_error(struct pgw_pg *pg, PGresult *res, struct pgw_err *err)
{
	return pgw_pg_result_error(pg, res, "", err);
}

int pgw_pg_exec(struct pgw_pg *pg, const char *sql, struct pgw_err *err)
{
	pgw_debug("pg: %s", sql);
	PGresult *res = PQexec(pg->conn, sql);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		result_error(pg, res, err);
	PQclear(res);
	return ok ? 0 : -1;
}

PGresult *pgw_pg_query(struct pgw_pg *pg, const char *sql, int nparams, const char *const *params, struct pgw_err *err)
{
	pgw_debug("pg: %s", sql);
	PGresult *res = PQexecParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK)
		return res;
	result_error(pg, res, err);
	PQclear(res);
	return NULL;
}

struct pgw_pg_watch {
	PGcancel *cancel;
	int slot;
};

static void cancel_now(void *arg)
{
	struct pgw_pg_watch *w = arg;
	char errbuf[256];
	PQcancel(w->cancel, errbuf, sizeof(errbuf));
}

struct pgw_pg_watch *pgw_pg_watch(struct pgw_pg *pg)
{
	struct pgw_pg_watch *w = pgw_calloc(1, sizeof(*w));
	w->cancel = PQgetCancel(pg->conn);
	w->slot = w->cancel ? pgw_interrupt_add(cancel_now, w) : -1;
	return w;
}

void pgw_pg_unwatch(struct pgw_pg_watch *w)
{
	if (!w)
		return;
	pgw_interrupt_remove(w->slot);
	if (w->cancel)
		PQfreeCancel(w->cancel);
	free(w);
}
