/* A session with Snowflake over its REST session protocol (the one the official drivers use):
 * login-request, then query-request with the session token. */
#ifndef PGW_SF_SESSION_H
#define PGW_SF_SESSION_H

#include <jansson.h>

#include "config/config.h"
#include "core/err.h"

struct sf_session;

/* Signs in with key-pair (snowsql_private_key_path) or, failing that, the password (snowsql_pwd). */
struct sf_session *pgw_sf_connect(const struct pgw_config *cfg, struct pgw_err *err);
/* The settings the session signed in with. */
const struct pgw_config *pgw_sf_session_config(const struct sf_session *s);
void pgw_sf_disconnect(struct sf_session *s);
/* Runs sql; on success *data (if not NULL) gets the response's "data" object (caller json_decref). */
int pgw_sf_query(struct sf_session *s, const char *sql, json_t **data, struct pgw_err *err);
/* The same for PUT/GET, sent synchronously as the drivers send them. */
int pgw_sf_transfer(struct sf_session *s, const char *sql, json_t **data, struct pgw_err *err);
/* A transaction of the session (BEGIN ... COMMIT or ROLLBACK): DML only, as Snowflake commits an
 * open transaction before any DDL statement. pgw_sf_end does nothing outside a transaction. */
int pgw_sf_begin(struct sf_session *s, struct pgw_err *err);
int pgw_sf_end(struct sf_session *s, bool commit, struct pgw_err *err);
/* Uploads gzip'd data as file `name` to the table stage `stage_sql` (@%"t" or @"s".%"t") through PUT. */
int pgw_sf_put(struct sf_session *s, const char *stage_sql, const char *name, const unsigned char *gz, size_t len,
	       struct pgw_err *err);
/* A fresh random UUID (v4) as text; caller frees. */
char *pgw_uuid4(void);

#endif
