/* ClickHouse over its HTTP interface: statements in the request body, credentials in headers. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/interrupt.h"
#include "core/log.h"
#include "net/http.h"
#include "sink/clickhouse/ch_internal.h"

struct ch_http {
	struct ch_conn base;
	char *url;   /* scheme://host:port/ */
	char *where; /* "ClickHouse at host:port" for messages */
	char *user, *password;
	bool gzip; /* compress INSERT bodies: worth it off this machine */
};

static void add_setting(struct pgw_buf *url, const char *k, const char *v)
{
	pgw_buf_printf(url, "&%s=", k);
	pgw_http_escape(url, v);
}

static int http_error(struct ch_http *h, const struct pgw_http_response *resp, struct pgw_err *err)
{
	char line[700];
	pgw_ch_error_text(resp->body.data ? resp->body.data : "", line, sizeof(line));
	if (resp->status == 401 || resp->status == 403 || strstr(line, "Authentication failed") ||
	    strstr(line, "Wrong password") || strstr(line, "password is incorrect"))
		return pgw_err_set(err, PGW_ERR_WAREHOUSE,
				   "%s rejected user \"%s\": %s; check clickhouse_user/clickhouse_password "
				   "(CLICKHOUSE_USER/CLICKHOUSE_PWD)",
				   h->where, h->user, line);
	return pgw_err_set(err, PGW_ERR_WAREHOUSE, "ClickHouse (HTTP %ld): %s", resp->status, line);
}

static int post(struct ch_http *h, const char *query_param, const char *body, size_t len, bool gzip, bool idempotent,
		struct pgw_buf *out, struct pgw_err *err);

/* A statement a stop request cut off may go on running in the server (an INSERT ... SELECT, a
 * copy-and-swap): stop it there too, within the cleanup's time bound. */
static void kill_query(struct ch_http *h, const char *query_id)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "KILL QUERY WHERE query_id = ");
	pgw_ch_literal(&sql, query_id, strlen(query_id));
	pgw_buf_puts(&sql, " SYNC");
	pgw_debug("clickhouse: %s", sql.data);
	pgw_cleanup_begin();
	post(h, NULL, sql.data, sql.len, false, false, NULL, NULL);
	pgw_cleanup_end();
	pgw_buf_cleanup(&sql);
}

/* Where this process's pid means something, in query ids: a statement's process is known to be gone
 * only there. The machine's name, and the pid namespace's inode: containers sharing the host's
 * network (and so its name) each have their own pids. */
static char host[160];

static void host_init(void)
{
	char name[128];
	struct stat ns;
	if (gethostname(name, sizeof(name) - 1) < 0 || !name[0])
		strcpy(name, "localhost");
	name[sizeof(name) - 1] = 0;
	snprintf(host, sizeof(host), "%s~%lu", name,
		 stat("/proc/self/ns/pid", &ns) == 0 ? (unsigned long)ns.st_ino : 0UL);
}

static const char *host_name(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, host_init); /* the sender threads post too */
	return host;
}

static int post(struct ch_http *h, const char *query_param, const char *body, size_t len, bool gzip, bool idempotent,
		struct pgw_buf *out, struct pgw_err *err)
{
	static atomic_uint counter;
	char query_id[200];
	snprintf(query_id, sizeof(query_id), "pgwarehouse-%ld-%lld-%u-%s", (long)getpid(), (long long)time(NULL),
		 atomic_fetch_add(&counter, 1), host_name());
	struct pgw_buf url;
	pgw_buf_init(&url);
	pgw_buf_printf(&url, "%s?database=", h->url);
	pgw_http_escape(&url, h->base.database);
	add_setting(&url, "query_id", query_id);
	/* an error after the first result bytes would otherwise arrive as HTTP 200 */
	add_setting(&url, "wait_end_of_query", "1");
	/* progress headers keep a long INSERT ... SELECT from looking like a dead connection */
	add_setting(&url, "send_progress_in_http_headers", "1");
	add_setting(&url, "http_headers_progress_interval_ms", "10000");
	if (query_param)
		add_setting(&url, "query", query_param);
	struct pgw_http_header hdrs[] = {{"X-ClickHouse-User", h->user}, {"X-ClickHouse-Key", h->password}};
	struct pgw_http_request req = {.url = url.data,
				       .headers = hdrs,
				       .nheaders = 2,
				       .body = body,
				       .body_len = len,
				       .gzip = gzip,
				       .idempotent = idempotent};
	struct pgw_http_response resp;
	int rc = pgw_http_send(&req, &resp, h->where, err);
	if (rc < 0 && pgw_interrupted() && !pgw_cleaning_up())
		kill_query(h, query_id);
	if (rc == 0 && resp.status != 200)
		rc = http_error(h, &resp, err);
	if (rc == 0 && out)
		pgw_buf_add(out, resp.body.data ? resp.body.data : "", resp.body.len);
	if (rc < 0 && err && strstr(err->msg, "cannot reach"))
		pgw_err_append(err,
			       "; check clickhouse_host/clickhouse_port (CLICKHOUSE_HOST/CLICKHOUSE_PORT) and that the "
			       "server runs");
	pgw_http_response_cleanup(&resp);
	pgw_buf_cleanup(&url);
	return rc;
}

static int http_exec(struct ch_conn *c, const char *sql, struct pgw_buf *out, bool idempotent, struct pgw_err *err)
{
	pgw_debug("clickhouse: %s", sql);
	return post((struct ch_http *)c, NULL, sql, strlen(sql), false, idempotent, out, err);
}

/* The process of a query id of this machine is gone */
static bool orphaned(const char *query_id)
{
	long pid;
	long long at;
	unsigned n;
	int used = 0;
	if (sscanf(query_id, "pgwarehouse-%ld-%lld-%u-%n", &pid, &at, &n, &used) != 3 || !used ||
	    strcmp(query_id + used, host_name()) || pid <= 0)
		return false;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* A run killed with kill -9 (or whose machine lost the connection) leaves its statement running in
 * the server: an INSERT ... SELECT of an append or a merge goes on to the end. The next run would
 * race with it, e.g. read a watermark before the old append lands and then append the same rows
 * again. So each run first stops what runs for a pgwarehouse process of this machine that no longer
 * exists (its effect is then that of a run killed at that point, which every load allows for). */
void pgw_ch_http_stop_orphans(struct ch_conn *c)
{
	struct ch_http *h = (struct ch_http *)c;
	struct pgw_buf ids;
	pgw_buf_init(&ids);
	struct pgw_err err = {0};
	/* a user who may not read system.processes sees its own queries only, or none: nothing to do */
	int rc = http_exec(c, "SELECT query_id FROM system.processes WHERE query_id LIKE 'pgwarehouse-%'", &ids, true,
			   &err);
	if (rc < 0)
		pgw_debug("clickhouse: %s", err.msg);
	for (char *line = ids.data, *next; rc == 0 && line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (!orphaned(line))
			continue;
		pgw_info("clickhouse: stopping a statement that a pgwarehouse run no longer running left in the server "
			 "(query_id %s)",
			 line);
		kill_query(h, line);
	}
	pgw_buf_cleanup(&ids);
}

static int http_insert(struct ch_conn *c, const char *table_sql, const char *data, size_t len, struct pgw_err *err)
{
	struct ch_http *h = (struct ch_http *)c;
	char *q = pgw_asprintf("INSERT INTO %s FORMAT Native", table_sql);
	pgw_debug("clickhouse: %s (%zu bytes)", q, len);
	int rc = post(h, q, data, len, h->gzip, false, NULL, err);
	free(q);
	return rc;
}

static void http_close(struct ch_conn *c)
{
	struct ch_http *h = (struct ch_http *)c;
	free(h->url);
	free(h->where);
	free(h->user);
	free(h->password);
	free(c->database);
	free(h);
}

int pgw_ch_http_open(const struct pgw_config *cfg, struct ch_conn **out, struct pgw_err *err)
{
	if (!cfg->clickhouse_host)
		return pgw_err_set(err, PGW_ERR_CONFIG,
				   "clickhouse_host is not set; set it in the warehouse stanza or CLICKHOUSE_HOST");
	bool secure = pgw_config_true(cfg->clickhouse_secure);
	const char *port = cfg->clickhouse_port ? cfg->clickhouse_port : secure ? "8443" : "8123";
	struct ch_http *h = pgw_calloc(1, sizeof(*h));
	h->url = pgw_asprintf("%s://%s:%s/", secure ? "https" : "http", cfg->clickhouse_host, port);
	h->where = pgw_asprintf("ClickHouse at %s:%s", cfg->clickhouse_host, port);
	h->user = pgw_strdup(cfg->clickhouse_user ? cfg->clickhouse_user : "default");
	h->password = pgw_strdup(cfg->clickhouse_password ? cfg->clickhouse_password : "");
	h->gzip = strcmp(cfg->clickhouse_host, "127.0.0.1") && strcmp(cfg->clickhouse_host, "localhost") &&
		  strcmp(cfg->clickhouse_host, "::1");
	if (getenv("PGW_CLICKHOUSE_GZIP")) /* tests: the remote server's way on loopback */
		h->gzip = true;
	h->base.database = pgw_strdup(cfg->clickhouse_database ? cfg->clickhouse_database : "default");
	h->base.exec = http_exec;
	h->base.insert = http_insert;
	h->base.close = http_close;
	*out = &h->base;
	return 0;
}
