/* Client-side encryption and SigV4-signed S3 PUTs for Snowflake stages (see sf_s3.h).
 * Encryption as Snowflake's drivers do it for S3: AES-CBC over the file with a random key of the
 * master key's length and a random IV; the file key encrypted with the master key in AES-ECB; both
 * sent as object metadata together with {"smkId", "queryId", "keySize"}. */
#include "sink/snowflake/sf_s3.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "net/http.h"
#include "sink/snowflake/sf_jwt.h"

void pgw_sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;
	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void hmac(const void *key, size_t klen, const char *msg, unsigned char out[32])
{
	unsigned int len = 32;
	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &len);
}

char *pgw_sigv4_authorization(const char *method, const char *host, const char *path, const char *region,
			      const char *key_id, const char *secret, const char *amz_date, const char *payload_sha256,
			      const char *const *extra, int nextra)
{
	/* canonical headers: host, x-amz-content-sha256, x-amz-date and the extra ones, sorted;
	 * the caller passes extra headers already lower-case and sorted, all after "host" */
	struct pgw_buf canon, signed_names;
	pgw_buf_init(&canon);
	pgw_buf_init(&signed_names);
	pgw_buf_printf(&canon, "%s\n%s\n\n", method, path); /* no query string */
	pgw_buf_printf(&canon, "host:%s\n", host);
	pgw_buf_puts(&signed_names, "host");
	for (int i = 0; i < nextra; i += 2) {
		pgw_buf_printf(&canon, "%s:%s\n", extra[i], extra[i + 1]);
		pgw_buf_printf(&signed_names, ";%s", extra[i]);
	}
	pgw_buf_printf(&canon, "\n%s\n%s", signed_names.data, payload_sha256);
	char canon_hash[65];
	pgw_sha256_hex(canon.data, canon.len, canon_hash);
	char day[9];
	memcpy(day, amz_date, 8);
	day[8] = '\0';
	char *scope = pgw_asprintf("%s/%s/s3/aws4_request", day, region);
	char *to_sign = pgw_asprintf("AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, canon_hash);
	char *k0 = pgw_asprintf("AWS4%s", secret);
	unsigned char k1[32], k2[32], k3[32], k4[32], sig[32];
	hmac(k0, strlen(k0), day, k1);
	hmac(k1, 32, region, k2);
	hmac(k2, 32, "s3", k3);
	hmac(k3, 32, "aws4_request", k4);
	hmac(k4, 32, to_sign, sig);
	char sighex[65];
	for (int i = 0; i < 32; i++)
		snprintf(sighex + 2 * i, 3, "%02x", sig[i]);
	char *auth = pgw_asprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s", key_id, scope,
				  signed_names.data, sighex);
	OPENSSL_cleanse(k0, strlen(k0));
	free(k0), free(scope), free(to_sign);
	pgw_buf_cleanup(&canon);
	pgw_buf_cleanup(&signed_names);
	return auth;
}

static const EVP_CIPHER *aes(size_t keylen, int cbc)
{
	if (keylen == 16)
		return cbc ? EVP_aes_128_cbc() : EVP_aes_128_ecb();
	if (keylen == 24)
		return cbc ? EVP_aes_192_cbc() : EVP_aes_192_ecb();
	return cbc ? EVP_aes_256_cbc() : EVP_aes_256_ecb();
}

static int cipher(const EVP_CIPHER *c, const unsigned char *key, const unsigned char *iv, const unsigned char *in,
		  size_t len, struct pgw_buf *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n1 = 0, n2 = 0, ok = EVP_EncryptInit_ex(ctx, c, NULL, key, iv) == 1;
	pgw_buf_reserve(out, len + 32);
	ok = ok && EVP_EncryptUpdate(ctx, (unsigned char *)out->data + out->len, &n1, in, (int)len) == 1;
	ok = ok && EVP_EncryptFinal_ex(ctx, (unsigned char *)out->data + out->len + n1, &n2) == 1;
	EVP_CIPHER_CTX_free(ctx);
	if (ok)
		out->len += (size_t)(n1 + n2);
	return ok ? 0 : -1;
}

int pgw_sf_encrypt(const struct sf_encryption *enc, const unsigned char *data, size_t len, struct pgw_buf *out,
		   char **meta_key, char **meta_iv, char **meta_matdesc, struct pgw_err *err)
{
	unsigned char file_key[32], iv[16];
	size_t klen = enc->master_len;
	if (klen != 16 && klen != 24 && klen != 32)
		return pgw_err_set(err, PGW_ERR_WAREHOUSE, "Snowflake sent a stage master key of %zu bytes", klen);
	if (RAND_bytes(file_key, (int)klen) != 1 || RAND_bytes(iv, sizeof(iv)) != 1)
		return pgw_err_set(err, PGW_ERR_INTERNAL, "no random bytes for the file key");
	struct pgw_buf wrapped;
	pgw_buf_init(&wrapped);
	int rc = cipher(aes(klen, 1), file_key, iv, data, len, out);
	if (rc == 0)
		rc = cipher(aes(klen, 0), enc->master_key, NULL, file_key, klen, &wrapped);
	OPENSSL_cleanse(file_key, sizeof(file_key));
	if (rc < 0) {
		pgw_buf_cleanup(&wrapped);
		return pgw_err_set(err, PGW_ERR_INTERNAL, "encrypting a staged file failed");
	}
	*meta_key = pgw_base64((unsigned char *)wrapped.data, wrapped.len, 0);
	*meta_iv = pgw_base64(iv, sizeof(iv), 0);
	*meta_matdesc = pgw_asprintf("{\"smkId\":\"%lld\",\"queryId\":\"%s\",\"keySize\":\"%zu\"}", enc->smk_id,
				     enc->query_id, klen * 8);
	pgw_buf_cleanup(&wrapped);
	return 0;
}

static void amz_date_now(char out[17])
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

int pgw_sf_s3_put(const struct sf_s3_target *t, const struct sf_encryption *enc, const unsigned char *data, size_t len,
		  const char *digest_b64, struct pgw_err *err)
{
	struct pgw_buf body;
	pgw_buf_init(&body);
	char *mkey = NULL, *miv = NULL, *mdesc = NULL;
	if (pgw_sf_encrypt(enc, data, len, &body, &mkey, &miv, &mdesc, err) < 0)
		return -1;
	char date[17], payload[65];
	amz_date_now(date);
	pgw_sha256_hex(body.data, body.len, payload);
	/* The key envelope is S3 user metadata (x-amz-meta-*), as the official drivers store it: the
	 * object keeps it, and COPY INTO reads it to decrypt. Lower-case and sorted after "host", as
	 * SigV4's canonical request wants them. */
	const char *sorted[] = {"x-amz-content-sha256",
				payload,
				"x-amz-date",
				date,
				"x-amz-meta-sfc-digest",
				digest_b64,
				"x-amz-meta-x-amz-iv",
				miv,
				"x-amz-meta-x-amz-key",
				mkey,
				"x-amz-meta-x-amz-matdesc",
				mdesc,
				"x-amz-security-token",
				t->token ? t->token : ""};
	int nsorted = t->token ? 14 : 12;
	char *auth = pgw_sigv4_authorization("PUT", t->host, t->path, t->region, t->key_id, t->secret, date, payload,
					     sorted, nsorted);
	struct pgw_http_header hdrs[9];
	int nh = 0;
	hdrs[nh++] = (struct pgw_http_header){"Authorization", auth};
	for (int i = 0; i < nsorted; i += 2)
		hdrs[nh++] = (struct pgw_http_header){sorted[i], sorted[i + 1]};
	char *url = pgw_asprintf("%s%s", t->endpoint, t->path);
	struct pgw_http_request req = {.url = url,
				       .headers = hdrs,
				       .nheaders = nh,
				       .body = body.data,
				       .body_len = body.len,
				       .idempotent = true,
				       .put = true};
	struct pgw_http_response resp;
	int rc = pgw_http_send(&req, &resp, "the Snowflake stage (S3)", err);
	if (rc == 0 && resp.status != 200)
		rc = pgw_err_set(err, PGW_ERR_WAREHOUSE, "uploading to the Snowflake stage failed: HTTP %ld: %.200s",
				 resp.status, resp.body.data ? resp.body.data : "");
	pgw_http_response_cleanup(&resp);
	free(url), free(auth), free(mkey), free(miv), free(mdesc);
	pgw_buf_cleanup(&body);
	return rc;
}
