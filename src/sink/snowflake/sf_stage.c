/* PUT to a table stage without a driver: the PUT statement returns where the file goes (stageInfo)
 * and the key to encrypt it with (encryptionMaterial); the client encrypts and uploads it itself.
 * S3 stages only so far; Azure and GCS stages are refused with a clear message. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "sink/snowflake/sf_jwt.h"
#include "sink/snowflake/sf_s3.h"
#include "sink/snowflake/sf_session.h"

static const char *jstr(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "";
}

static unsigned char *unbase64(const char *s, size_t *len)
{
	size_t n = strlen(s);
	unsigned char *out = pgw_malloc(n + 3);
	int got = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
	if (got < 0)
		got = 0;
	if (n >= 1 && s[n - 1] == '=')
		got--;
	if (n >= 2 && s[n - 2] == '=')
		got--;
	*len = (size_t)got;
	return out;
}

static int upload(json_t *data, const char *name, const unsigned char *gz, size_t len, struct pgw_err *err)
{
	json_t *si = json_object_get(data, "stageInfo"), *em = json_object_get(data, "encryptionMaterial");
	json_t *creds = json_object_get(si, "creds");
	if (strcmp(jstr(si, "locationType"), "S3"))
		return pgw_err_set(err, PGW_ERR_WAREHOUSE,
				   "this account's stages are on %s; pgwarehouse uploads to S3 stages only so far",
				   jstr(si, "locationType"));
	const char *location = jstr(si, "location"); /* "bucket/prefix/" */
	const char *slash = strchr(location, '/');
	char *bucket = pgw_strndup(location, slash ? (size_t)(slash - location) : strlen(location));
	const char *prefix = slash ? slash + 1 : "";
	const char *endpoint = jstr(si, "endPoint");
	char *host, *base, *path;
	if (*endpoint) { /* a custom endpoint (FIPS, a region's, the tests'): HTTPS, path-style requests,
			    as the drivers reach it */
		host = pgw_strdup(endpoint);
		base = pgw_asprintf("https://%s", endpoint);
		path = pgw_asprintf("/%s/%s%s", bucket, prefix, name);
	} else {
		host = pgw_asprintf("%s.s3.%s.amazonaws.com", bucket, jstr(si, "region"));
		base = pgw_asprintf("https://%s", host);
		path = pgw_asprintf("/%s%s", prefix, name);
	}
	size_t mlen;
	unsigned char *master = unbase64(jstr(em, "queryStageMasterKey"), &mlen);
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(gz, len, md, &mdlen, EVP_sha256(), NULL);
	char *digest = pgw_base64(md, mdlen, 0);
	struct sf_s3_target t = {.endpoint = base,
				 .host = host,
				 .path = path,
				 .region = jstr(si, "region"),
				 .key_id = jstr(creds, "AWS_KEY_ID"),
				 .secret = jstr(creds, "AWS_SECRET_KEY"),
				 .token = *jstr(creds, "AWS_TOKEN") ? jstr(creds, "AWS_TOKEN") : NULL};
	struct sf_encryption enc = {.master_key = master,
				    .master_len = mlen,
				    .query_id = jstr(em, "queryId"),
				    .smk_id = (long long)json_integer_value(json_object_get(em, "smkId"))};
	int rc = pgw_sf_s3_put(&t, &enc, gz, len, digest, err);
	OPENSSL_cleanse(master, mlen);
	free(master), free(digest), free(bucket), free(host), free(base), free(path);
	return rc;
}

int pgw_sf_put(struct sf_session *s, const char *stage_sql, const char *name, const unsigned char *gz, size_t len,
	       struct pgw_err *err)
{
	char *sql = pgw_asprintf("PUT 'file:///pgwarehouse/%s' %s AUTO_COMPRESS = FALSE SOURCE_COMPRESSION = GZIP "
				 "OVERWRITE = TRUE",
				 name, stage_sql);
	json_t *data = NULL;
	int rc = pgw_sf_transfer(s, sql, &data, err);
	free(sql);
	if (rc == 0)
		rc = upload(data, name, gz, len, err);
	json_decref(data);
	return rc;
}
