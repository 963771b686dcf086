/* Uploading a staged file the way Snowflake's drivers do for an S3 stage: client-side encryption
 * with a random file key wrapped by the stage's master key, then an S3 PUT signed with SigV4. */
#ifndef PGW_SF_S3_H
#define PGW_SF_S3_H

#include <stddef.h>
#include <time.h>

#include "core/buf.h"
#include "core/err.h"

struct sf_s3_target {
	const char *endpoint; /* "https://bucket.s3.region.amazonaws.com" or a custom endPoint URL */
	const char *host;     /* the Host header value */
	const char *path;     /* "/key/of/the/object" (path-style endpoints include the bucket) */
	const char *region;
	const char *key_id, *secret, *token; /* temporary credentials from stageInfo.creds */
};

struct sf_encryption {
	const unsigned char *master_key; /* decoded queryStageMasterKey */
	size_t master_len;		 /* 16, 24 or 32 */
	const char *query_id;
	long long smk_id;
};

/* AWS Signature Version 4 "Authorization" header for a request (exposed for tests). */
char *pgw_sigv4_authorization(const char *method, const char *host, const char *path, const char *region,
			      const char *key_id, const char *secret, const char *amz_date, const char *payload_sha256,
			      const char *const *extra_headers, int nextra);

/* Encrypts data (AES-CBC, PKCS#7 padding) with a fresh random file key and IV; fills out and
 * the values of the user metadata x-amz-meta-x-amz-key, -x-amz-iv and -x-amz-matdesc. */
int pgw_sf_encrypt(const struct sf_encryption *enc, const unsigned char *data, size_t len, struct pgw_buf *out,
		   char **meta_key, char **meta_iv, char **meta_matdesc, struct pgw_err *err);

/* PUTs one encrypted object with its Snowflake metadata headers. */
int pgw_sf_s3_put(const struct sf_s3_target *t, const struct sf_encryption *enc, const unsigned char *data, size_t len,
		  const char *digest_b64, struct pgw_err *err);

/* hex SHA-256 of p (exposed for tests) */
void pgw_sha256_hex(const void *p, size_t n, char out[65]);

#endif
