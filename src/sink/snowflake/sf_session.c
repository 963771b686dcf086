/* Snowflake's session protocol: POST /session/v1/login-request, POST /queries/v1/query-request,
 * GET of an async query's result URL. JSON bodies through jansson; HTTP through src/net/http.c.
 * Every request carries a requestId; a retry sends the same id, so Snowflake runs it once. */
#include "sink/snowflake/sf_session.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <time.h>

#include "core/buf.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "net/http.h"
#include "core/version.h"
#include "sink/snowflake/sf_jwt.h"

struct sf_session {
	const struct pgw_config *cfg; /* borrowed: to sign in again when the session expires */
	char *protocol;
	char *base;	 /* protocol://host:port */
	char *where;	 /* "Snowflake at host" for messages */
	char *token;	 /* session token: never logged */
	char *master;	 /* master token, to renew the session token (token-request): never logged */
	time_t renew_at; /* sign in again from then on, before the session expires */
	long seq;
	bool in_txn; /* BEGIN sent, no COMMIT/ROLLBACK yet: a new sign-in would lose the transaction */
};

char *pgw_uuid4(void)
{
	unsigned char u[16];
	if (RAND_bytes(u, sizeof(u)) != 1)
		abort();
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
	return pgw_asprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
			    u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

static void add_param(struct pgw_buf *url, const char *k, const char *v)
{
	if (!v)
		return;
	pgw_buf_printf(url, "&%s=", k);
	pgw_http_escape(url, v);
}

/* POSTs (or GETs when body is NULL) JSON with the given token; returns the parsed response object.
 * Every request gets a request_guid of its own, and a retry names itself (retryCount...), as the
 * drivers send them. */
static json_t *call_as(struct sf_session *s, const char *token, const char *path, const char *body, struct pgw_err *err)
{
	char *guid = pgw_uuid4();
	char *url = pgw_asprintf("%s%s%crequest_guid=%s", s->base, path, strchr(path, '?') ? '&' : '?', guid);
	free(guid);
	char *auth = token ? pgw_asprintf("Snowflake Token=\"%s\"", token) : NULL;
	struct pgw_http_header hdrs[] = {{"Content-Type", "application/json"},
					 {"Accept", "application/snowflake"},
					 {"User-Agent", "pgwarehouse/" PGW_VERSION},
					 {"Authorization", auth}};
	struct pgw_http_request req = {.url = url,
				       .headers = hdrs,
				       .nheaders = auth ? 4 : 3,
				       .body = body,
				       .body_len = body ? strlen(body) : 0,
				       .idempotent = true,
				       .get = body == NULL,
				       .retry_params = true};
	struct pgw_http_response resp;
	json_t *root = NULL;
	if (pgw_http_send(&req, &resp, s->where, err) == 0) {
		json_error_t jerr;
		root = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, &jerr);
		if (!root || !json_is_object(root)) {
			pgw_err_set(err, PGW_ERR_WAREHOUSE, "%s answered HTTP %ld without a JSON body", s->where,
				    resp.status);
			json_decref(root);
			root = NULL;
		}
	} else if (err && !strstr(err->msg, "PGWAREHOUSE_CA_FILE")) { /* not for an untrusted certificate */
		pgw_err_append(err, "; check snowsql_account (or snowsql_host/snowsql_port)");
	}
	pgw_http_response_cleanup(&resp);
	free(auth);
	free(url);
	return root;
}

static json_t *call(struct sf_session *s, const char *path, const char *body, struct pgw_err *err)
{
	return call_as(s, s->token, path, body, err);
}

static const char *str(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? v : "";
}

static int login_error(struct sf_session *s, json_t *r, const struct pgw_config *cfg, bool keypair, struct pgw_err *err)
{
	const char *code = str(r, "code"), *msg = str(r, "message");
	if (cfg->snowsql_token)
		return pgw_err_set(
			err, PGW_ERR_WAREHOUSE,
			"%s rejected the %s token of user %s (%s: %s); check snowsql_token and "
			"snowsql_authenticator",
			s->where, cfg->snowsql_authenticator ? cfg->snowsql_authenticator : "PROGRAMMATIC_ACCESS_TOKEN",
			cfg->snowsql_user, code, msg);
	if (keypair)
		return pgw_err_set(err, PGW_ERR_WAREHOUSE,
				   "%s rejected the key-pair sign-in of user %s (%s: %s); check that the user's "
				   "RSA_PUBLIC_KEY matches snowsql_private_key_path",
				   s->where, cfg->snowsql_user, code, msg);
	return pgw_err_set(err, PGW_ERR_WAREHOUSE,
			   "%s rejected the password of user %s (%s: %s); Snowflake is ending password-only sign-in "
			   "for service users: set snowsql_private_key_path to use key-pair authentication (README: "
			   "Snowflake)",
			   s->where, cfg->snowsql_user, code, msg);
}

static char *login_body(const struct pgw_config *cfg, bool *keypair, struct pgw_err *err)
{
	json_t *data = json_object();
	char *account = pgw_sf_account_for_jwt(cfg->snowsql_account);
	json_object_set_new(data, "CLIENT_APP_ID", json_string("pgwarehouse"));
	json_object_set_new(data, "CLIENT_APP_VERSION", json_string(PGW_VERSION));
	json_object_set_new(data, "ACCOUNT_NAME", json_string(account));
	json_object_set_new(data, "LOGIN_NAME", json_string(cfg->snowsql_user));
	free(account);
	/* what the service shows in LOGIN_HISTORY and uses to pick client behaviour, as the drivers send */
	struct utsname u;
	const char *release = uname(&u) == 0 ? u.release : "";
	json_object_set_new(
		data, "CLIENT_ENVIRONMENT",
		json_pack("{s:s, s:s, s:s}", "APPLICATION", "pgwarehouse", "OS", "Linux", "OS_VERSION", release));
	*keypair = cfg->snowsql_private_key_path != NULL && !cfg->snowsql_token;
	if (cfg->snowsql_token) { /* a programmatic access token or an OAuth access token */
		const char *auth =
			cfg->snowsql_authenticator ? cfg->snowsql_authenticator : "PROGRAMMATIC_ACCESS_TOKEN";
		json_object_set_new(data, "AUTHENTICATOR", json_string(auth));
		json_object_set_new(data, "TOKEN", json_string(cfg->snowsql_token));
	} else if (*keypair) {
		struct sf_key *key =
			pgw_sf_key_load(cfg->snowsql_private_key_path, cfg->snowsql_private_key_passphrase, err);
		char *jwt =
			key ? pgw_sf_jwt(key, cfg->snowsql_account, cfg->snowsql_user, time(NULL), 3540, err) : NULL;
		pgw_sf_key_free(key);
		if (!jwt) {
			json_decref(data);
			return NULL;
		}
		json_object_set_new(data, "AUTHENTICATOR", json_string("SNOWFLAKE_JWT"));
		json_object_set_new(data, "TOKEN", json_string(jwt));
		free(jwt);
	} else {
		json_object_set_new(data, "PASSWORD", json_string(cfg->snowsql_pwd));
	}
	json_t *root = json_pack("{s:o}", "data", data);
	char *body = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return body;
}

static int check_settings(const struct pgw_config *cfg, struct pgw_err *err)
{
	if (!cfg->snowsql_account || !cfg->snowsql_user)
		return pgw_err_set(err, PGW_ERR_CONFIG,
				   "snowsql_account and snowsql_user must be set (or SNOWSQL_ACCOUNT, SNOWSQL_USER)");
	if (!cfg->snowsql_private_key_path && !cfg->snowsql_pwd && !cfg->snowsql_token)
		return pgw_err_set(err, PGW_ERR_CONFIG,
				   "no Snowflake credentials: set snowsql_private_key_path (key-pair, recommended), "
				   "snowsql_token (programmatic access or OAuth token) or snowsql_pwd");
	if (cfg->snowsql_authenticator && strcasecmp(cfg->snowsql_authenticator, "PROGRAMMATIC_ACCESS_TOKEN") &&
	    strcasecmp(cfg->snowsql_authenticator, "OAUTH"))
		return pgw_err_set(
			err, PGW_ERR_CONFIG,
			"snowsql_authenticator `%s` is not supported; use PROGRAMMATIC_ACCESS_TOKEN or OAUTH "
			"with snowsql_token, or leave it unset for key-pair or password sign-in",
			cfg->snowsql_authenticator);
	return 0;
}

static void took_token(struct sf_session *s, const char *token, json_int_t validity)
{
	free(s->token);
	s->token = pgw_strdup(token);
	if (validity <= 0)
		validity = 3600;
	/* renew with a quarter of the validity left, at most five minutes before expiry */
	s->renew_at = time(NULL) + validity - (validity / 4 < 300 ? validity / 4 : 300);
}

/* login-request: a new session token (the JWT is made fresh for each sign-in). */
static int sign_in(struct sf_session *s, struct pgw_err *err)
{
	const struct pgw_config *cfg = s->cfg;
	free(s->token);
	s->token = NULL;
	bool keypair = false;
	char *body = login_body(cfg, &keypair, err);
	char *rid = pgw_uuid4();
	struct pgw_buf url;
	pgw_buf_init(&url);
	pgw_buf_printf(&url, "/session/v1/login-request?requestId=%s", rid);
	add_param(&url, "databaseName", cfg->snowsql_database);
	add_param(&url, "schemaName", cfg->snowsql_schema);
	add_param(&url, "warehouse", cfg->snowsql_warehouse);
	add_param(&url, "roleName", cfg->snowsql_role);
	json_t *r = body ? call(s, url.data, body, err) : NULL;
	if (r && json_is_true(json_object_get(r, "success"))) {
		json_t *d = json_object_get(r, "data");
		free(s->master);
		s->master = pgw_strdup(str(d, "masterToken"));
		took_token(s, str(d, "token"), json_integer_value(json_object_get(d, "validityInSeconds")));
	} else if (r)
		login_error(s, r, cfg, keypair, err);
	json_decref(r);
	free(body);
	free(rid);
	pgw_buf_cleanup(&url);
	if (s->token && !*s->token) {
		free(s->token);
		s->token = NULL;
	}
	return s->token ? 0 : -1;
}

/* A new session token for the master token (token-request, RENEW), as the drivers renew a session;
 * when the master token has expired too (or renewal fails), a new sign-in. */
static int renew(struct sf_session *s, struct pgw_err *err)
{
	if (s->master && *s->master && s->token) {
		char *rid = pgw_uuid4();
		char *url = pgw_asprintf("/session/token-request?requestId=%s", rid);
		json_t *req = json_pack("{s:s, s:s}", "oldSessionToken", s->token, "requestType", "RENEW");
		char *body = json_dumps(req, JSON_COMPACT);
		json_t *r = call_as(s, s->master, url, body, NULL);
		bool ok = r && json_is_true(json_object_get(r, "success"));
		if (ok) {
			json_t *d = json_object_get(r, "data");
			took_token(s, str(d, "sessionToken"),
				   json_integer_value(json_object_get(d, "validityInSecondsST")));
			if (*str(d, "masterToken")) {
				free(s->master);
				s->master = pgw_strdup(str(d, "masterToken"));
			}
		} else {
			pgw_debug("snowflake: renewal refused (%s), signing in again",
				  r ? str(r, "code") : "no answer");
		}
		OPENSSL_cleanse(body, strlen(body));
		free(body), free(url), free(rid);
		json_decref(req);
		json_decref(r);
		if (ok && *s->token)
			return 0;
	}
	/* a transaction lives in its session: a new one would run the rest of it in autocommit */
	if (s->in_txn)
		return pgw_err_set(err, PGW_ERR_WAREHOUSE,
				   "the Snowflake session ended during a transaction (its token could not be renewed); "
				   "nothing of it was committed: run again");
	return sign_in(s, err);
}

struct sf_session *pgw_sf_connect(const struct pgw_config *cfg, struct pgw_err *err)
{
	if (check_settings(cfg, err) < 0)
		return NULL;
	struct sf_session *s = pgw_calloc(1, sizeof(*s));
	s->cfg = cfg;
	char *host = cfg->snowsql_host ? pgw_strdup(cfg->snowsql_host)
				       : pgw_asprintf("%s.snowflakecomputing.com", cfg->snowsql_account);
	s->protocol = pgw_strdup(cfg->snowsql_protocol ? cfg->snowsql_protocol : "https");
	s->base = pgw_asprintf("%s://%s:%s", s->protocol, host, cfg->snowsql_port ? cfg->snowsql_port : "443");
	s->where = pgw_asprintf("Snowflake at %s", host);
	free(host);
	if (sign_in(s, err) < 0) {
		pgw_sf_disconnect(s);
		return NULL;
	}
	return s;
}

void pgw_sf_disconnect(struct sf_session *s)
{
	if (!s)
		return;
	if (s->token) {
		char *rid = pgw_uuid4();
		char *url = pgw_asprintf("/session?delete=true&requestId=%s", rid);
		json_decref(call(s, url, "{}", NULL));
		free(rid);
		free(url);
	}
	free(s->base);
	free(s->protocol);
	free(s->where);
	free(s->token);
	free(s->master);
	free(s);
}

static int query_error(struct sf_session *s, json_t *r, struct pgw_err *err)
{
	/* one line: Snowflake's messages span lines ("SQL compilation error:\n...") */
	struct pgw_buf m;
	pgw_buf_init(&m);
	bool space = false;
	for (const char *p = str(r, "message"); *p; p++) {
		bool ws = *p == '\n' || *p == '\r' || *p == '\t' || *p == ' ';
		if (ws) {
			space = m.len > 0;
			continue;
		}
		if (space)
			pgw_buf_add(&m, " ", 1);
		space = false;
		pgw_buf_add(&m, p, 1);
	}
	pgw_err_set(err, PGW_ERR_WAREHOUSE, "%s: error %s: %s", s->where, str(r, "code"), m.data ? m.data : "");
	pgw_buf_cleanup(&m);
	return -1;
}

/* Async statements answer 333334 with a result URL; poll it until the statement is done: first
 * after 10 ms (most of pgwarehouse's statements are metadata and small DML: a first poll at 50 ms
 * was most of a sync's time against the test double), doubling up to 2 s. */
static json_t *wait_result(struct sf_session *s, json_t *r, struct pgw_err *err)
{
	long delay_ms = 10;
	for (;;) {
		const char *code = str(r, "code");
		if (strcmp(code, "333333") && strcmp(code, "333334"))
			return r;
		char *url = pgw_strdup(str(json_object_get(r, "data"), "getResultUrl"));
		json_decref(r);
		struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		if (delay_ms < 2000)
			delay_ms *= 2;
		r = call(s, url, NULL, err);
		free(url);
		if (!r)
			return NULL;
	}
}

/* A statement a stop request cut off goes on in Snowflake: ask it to stop there too, as the
 * drivers' cancel does (abort-request naming the statement's requestId). */
static void abort_statement(struct sf_session *s, const char *sql, const char *rid)
{
	char *id = pgw_uuid4();
	char *url = pgw_asprintf("/queries/v1/abort-request?requestId=%s", id);
	json_t *req = json_pack("{s:s, s:s}", "sqlText", sql, "requestId", rid);
	char *body = json_dumps(req, JSON_COMPACT);
	pgw_debug("snowflake: aborting request %s", rid);
	pgw_cleanup_begin();
	json_decref(call(s, url, body, NULL));
	pgw_cleanup_end();
	free(body);
	json_decref(req);
	free(url);
	free(id);
}

/* async: asyncExec with the result polled, as for every statement but PUT/GET, which no driver
 * sends asynchronously (JDBC and Python document it as unsupported). */
static int run_query(struct sf_session *s, const char *sql, bool async, json_t **data, struct pgw_err *err)
{
	pgw_debug("snowflake: %s", sql);
	if (time(NULL) >= s->renew_at) {
		pgw_debug("snowflake: renewing the session before it expires");
		if (renew(s, err) < 0)
			return -1;
	}
	char *rid = pgw_uuid4();
	char *url = pgw_asprintf("/queries/v1/query-request?requestId=%s", rid);
	json_t *req = json_pack("{s:s, s:b, s:I, s:I}", "sqlText", sql, "asyncExec", async, "sequenceId",
				(json_int_t)++s->seq, "querySubmissionTime", (json_int_t)time(NULL) * 1000);
	char *body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	json_t *r = call(s, url, body, err);
	if (r && !strcmp(str(r, "code"), "390112")) {
		/* the session expired during a long run: renew it, resend the same request */
		json_decref(r);
		r = NULL;
		pgw_debug("snowflake: session expired, renewing it");
		if (renew(s, err) == 0)
			r = call(s, url, body, err);
	}
	if (r)
		r = wait_result(s, r, err);
	if (!r && pgw_interrupted() && !pgw_cleaning_up())
		abort_statement(s, sql, rid);
	int rc = -1;
	if (r && json_is_true(json_object_get(r, "success"))) {
		rc = 0;
		if (data)
			*data = json_incref(json_object_get(r, "data"));
	} else if (r) {
		query_error(s, r, err);
	}
	json_decref(r);
	free(body);
	free(url);
	free(rid);
	return rc;
}

int pgw_sf_query(struct sf_session *s, const char *sql, json_t **data, struct pgw_err *err)
{
	return run_query(s, sql, true, data, err);
}

int pgw_sf_transfer(struct sf_session *s, const char *sql, json_t **data, struct pgw_err *err)
{
	return run_query(s, sql, false, data, err);
}

int pgw_sf_begin(struct sf_session *s, struct pgw_err *err)
{
	if (pgw_sf_query(s, "BEGIN", NULL, err) < 0)
		return -1;
	s->in_txn = true;
	return 0;
}

int pgw_sf_end(struct sf_session *s, bool commit, struct pgw_err *err)
{
	if (!s->in_txn)
		return 0;
	int rc = pgw_sf_query(s, commit ? "COMMIT" : "ROLLBACK", NULL, err);
	s->in_txn = false;
	return rc;
}

const struct pgw_config *pgw_sf_session_config(const struct sf_session *s)
{
	return s->cfg;
}
