/* libcurl requests with bounded retries for idempotent ones (see http.h). */
#include "net/http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <stdlib.h>
#include <zlib.h>

#include "core/interrupt.h"
#include "core/log.h"

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	pgw_buf_add(ud, p, size * n);
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	static const char name[] = "X-ClickHouse-Exception-Code:";
	size_t len = size * n;
	if (len > sizeof(name) && !strncasecmp(p, name, sizeof(name) - 1)) {
		const char *v = p + sizeof(name) - 1;
		size_t vl = len - (sizeof(name) - 1);
		while (vl && isspace((unsigned char)*v))
			v++, vl--;
		while (vl && isspace((unsigned char)v[vl - 1]))
			vl--;
		pgw_buf_reset(ud);
		pgw_buf_add(ud, v, vl);
	}
	return len;
}

int pgw_gzip(const char *p, size_t n, struct pgw_buf *out)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	pgw_buf_reserve(out, deflateBound(&zs, n));
	zs.next_in = (Bytef *)p;
	zs.avail_in = (uInt)n;
	zs.next_out = (Bytef *)out->data + out->len;
	zs.avail_out = (uInt)(out->cap - out->len - 1);
	int rc = deflate(&zs, Z_FINISH);
	out->len += zs.total_out;
	deflateEnd(&zs);
	return rc == Z_STREAM_END ? 0 : -1;
}

#define CLEANUP_TIMEOUT_S 10L

static bool transient(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
	       rc == CURLE_GOT_NOTHING || rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_PARTIAL_FILE;
}

/* Aborts a transfer once SIGINT/SIGTERM asked pgwarehouse to stop, unless it is part of the
 * cleanup after that request (bounded by CLEANUP_TIMEOUT_S instead). */
static int stop_requested(void *p, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)p, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return pgw_interrupted() != 0 && !pgw_cleaning_up();
}

static CURLcode send_once(CURL *c, const struct pgw_http_request *req, const char *body, size_t len,
			  struct pgw_http_response *resp)
{
	struct curl_slist *hdrs = NULL;
	for (int i = 0; i < req->nheaders; i++) {
		char *h = pgw_asprintf("%s: %s", req->headers[i].name, req->headers[i].value);
		hdrs = curl_slist_append(hdrs, h);
		free(h);
	}
	if (req->gzip)
		hdrs = curl_slist_append(hdrs, "Content-Encoding: gzip");
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	if (req->get) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else if (req->put) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp->body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &resp->exception_code);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	/* a company CA (TLS inspection) or a test CA: trusted instead of the system's store */
	const char *ca = getenv("PGWAREHOUSE_CA_FILE");
	if (ca && *ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	/* a read timeout: give up when nothing arrives for timeout_s seconds */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, req->timeout_s ? req->timeout_s : 300L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stop_requested);
	if (pgw_interrupted() && pgw_cleaning_up())
		curl_easy_setopt(c, CURLOPT_TIMEOUT, CLEANUP_TIMEOUT_S);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_slist_free_all(hdrs);
	return rc;
}

/* One handle per thread keeps its connection alive between requests; jobs and the ClickHouse
 * sender thread each get their own, cleaned up when the thread ends. */
static pthread_key_t handle_key;

static void free_handle(void *h)
{
	curl_easy_cleanup(h);
}

static void init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_key_create(&handle_key, free_handle);
}

static CURL *thread_handle(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, init_once);
	CURL *c = pthread_getspecific(handle_key);
	if (!c) {
		c = curl_easy_init();
		pthread_setspecific(handle_key, c);
	}
	return c;
}

int pgw_http_send(const struct pgw_http_request *req, struct pgw_http_response *resp, const char *what,
		  struct pgw_err *err)
{
	CURL *curl = thread_handle();
	memset(resp, 0, sizeof(*resp));
	struct pgw_buf packed;
	pgw_buf_init(&packed);
	const char *body = req->body;
	size_t len = req->body_len;
	if (req->gzip && len) {
		if (pgw_gzip(body, len, &packed) < 0)
			return pgw_err_set(err, PGW_ERR_INTERNAL, "gzip of a request body failed");
		body = packed.data;
		len = packed.len;
	}
	CURLcode rc = CURLE_OK;
	struct timespec t0;
	clock_gettime(CLOCK_REALTIME, &t0);
	long long start_ms = (long long)t0.tv_sec * 1000 + t0.tv_nsec / 1000000;
	for (int attempt = 0; attempt < 4; attempt++) {
		struct pgw_http_request once = *req;
		char *url = NULL;
		if (attempt) {
			struct timespec ts = {0, (long)(200000000L << (attempt - 1))};
			nanosleep(&ts, NULL);
			pgw_debug("retrying %s (attempt %d)", what, attempt + 1);
			if (req->retry_params)
				once.url = url = pgw_asprintf("%s%cretryCount=%d&clientStartTime=%lld&retryReason=%ld",
							      req->url, strchr(req->url, '?') ? '&' : '?', attempt,
							      start_ms, resp->status);
		}
		pgw_buf_reset(&resp->body);
		rc = send_once(curl, &once, body, len, resp);
		free(url);
		bool again = (rc != CURLE_OK && transient(rc)) || resp->status == 429 || resp->status == 502 ||
			     resp->status == 503 || resp->status == 504;
		if (!again || !req->idempotent || pgw_interrupted()) /* stopping: no retries */
			break;
	}
	pgw_buf_cleanup(&packed);
	if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE)
		return pgw_err_set(
			err, PGW_ERR_WAREHOUSE,
			"cannot reach %s: its TLS certificate is not trusted (%s); if a proxy or a private CA "
			"signs it, set PGWAREHOUSE_CA_FILE to that CA's PEM file",
			what, curl_easy_strerror(rc));
	if (rc != CURLE_OK) {
		pgw_err_set(err, PGW_ERR_WAREHOUSE, "cannot reach %s: %s", what, curl_easy_strerror(rc));
		if (err && transient(rc)) /* SQL's connection_failure: a caller that can wait may try again */
			snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", PGW_SQLSTATE_UNREACHABLE);
		return -1;
	}
	return 0;
}

void pgw_http_response_cleanup(struct pgw_http_response *resp)
{
	pgw_buf_cleanup(&resp->body);
	pgw_buf_cleanup(&resp->exception_code);
}

void pgw_http_escape(struct pgw_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			pgw_buf_add(b, s, 1);
		} else {
			char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
			pgw_buf_add(b, e, 3);
		}
	}
}
