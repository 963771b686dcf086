/* HTTP(S) requests through libcurl, for warehouse sinks that speak HTTP. */
#ifndef PGW_HTTP_H
#define PGW_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

struct pgw_http_header {
	const char *name, *value;
};

struct pgw_http_request {
	const char *url;		       /* full URL; never carries credentials */
	const struct pgw_http_header *headers; /* may hold credentials: never logged */
	int nheaders;
	const char *body;
	size_t body_len;
	bool gzip;	   /* compress the body (Content-Encoding: gzip) */
	bool get;	   /* GET instead of POST (no body) */
	bool put;	   /* PUT instead of POST */
	bool idempotent;   /* safe to send again after a transport failure */
	long timeout_s;	   /* no byte received for this long: give up (0: 300 s) */
	bool retry_params; /* a retry names itself in the URL (retryCount, clientStartTime, retryReason), as
			      Snowflake's drivers do */
};

struct pgw_http_response {
	long status; /* 0 when no HTTP answer arrived */
	struct pgw_buf body;
	struct pgw_buf exception_code; /* X-ClickHouse-Exception-Code, when sent */
};

/* Sends req; fills resp (caller cleans resp->body with pgw_buf_cleanup). Returns -1 with err set
 * only for transport failures (no HTTP answer); HTTP error statuses are left to the caller. */
int pgw_http_send(const struct pgw_http_request *req, struct pgw_http_response *resp, const char *what,
		  struct pgw_err *err);
void pgw_http_response_cleanup(struct pgw_http_response *resp);
/* Appends n bytes of p gzip-compressed (level 1) to out. */
int pgw_gzip(const char *p, size_t n, struct pgw_buf *out);
/* URL-encodes s onto b. */
void pgw_http_escape(struct pgw_buf *b, const char *s);

#endif
