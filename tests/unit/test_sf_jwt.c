/* Unit tests: Snowflake JWTs verify with the public key and carry the documented claims. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink/snowflake/sf_jwt.h"

static unsigned char *b64url_decode(const char *s, size_t len, size_t *out_len)
{
	char *t = calloc(1, len + 4);
	memcpy(t, s, len);
	for (size_t i = 0; i < len; i++)
		t[i] = t[i] == '-' ? '+' : t[i] == '_' ? '/' : t[i];
	while (len % 4)
		t[len++] = '=';
	unsigned char *out = calloc(1, len);
	int n = EVP_DecodeBlock(out, (unsigned char *)t, (int)len);
	*out_len = (size_t)n - (t[len - 1] == '=') - (t[len - 2] == '=');
	free(t);
	return out;
}

void test_sf_jwt(void **state);
void test_sf_jwt(void **state)
{
	(void)state;
	EVP_PKEY *pkey = EVP_RSA_gen(2048);
	assert_non_null(pkey);
	char path[] = "/tmp/pgw-key-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	/* an encrypted PKCS#8 key, as `openssl genrsa | openssl pkcs8 -topk8 -v2 aes256` writes */
	assert_int_equal(PEM_write_PKCS8PrivateKey(f, pkey, EVP_aes_256_cbc(), NULL, 0, NULL, "s3cret"), 1);
	fclose(f);

	struct pgw_err err = {0};
	assert_null(pgw_sf_key_load(path, "wrong", &err));
	assert_non_null(strstr(err.msg, "snowsql_private_key_passphrase"));
	struct sf_key *key = pgw_sf_key_load(path, "s3cret", &err);
	unlink(path);
	assert_non_null(key);
	char *jwt = pgw_sf_jwt(key, "xy12345.us-east-1", "pgw_user", 1700000000, 3600, &err);
	assert_non_null(jwt);

	char *dot1 = strchr(jwt, '.'), *dot2 = strrchr(jwt, '.');
	size_t clen, slen;
	unsigned char *claims = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &clen);
	unsigned char *sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &slen);
	char *fp = pgw_sf_key_fingerprint(key);
	char *want = NULL;
	assert_true(asprintf(&want,
			     "{\"iss\":\"XY12345.PGW_USER.%s\",\"sub\":\"XY12345.PGW_USER\",\"iat\":1700000000,"
			     "\"exp\":1700003600}",
			     fp) > 0);
	assert_int_equal(clen, strlen(want));
	assert_memory_equal(claims, want, clen);

	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey), 1);
	assert_int_equal(EVP_DigestVerify(ctx, sig, slen, (unsigned char *)jwt, (size_t)(dot2 - jwt)), 1);
	EVP_MD_CTX_free(ctx);

	char *acct = pgw_sf_account_for_jwt("myorg-myaccount");
	assert_string_equal(acct, "MYORG-MYACCOUNT");
	free(acct);
	free(want), free(fp), free(claims), free(sig), free(jwt);
	pgw_sf_key_free(key);
	EVP_PKEY_free(pkey);
}

#include "sink/snowflake/sf_s3.h"

/* The "GET Object" example of AWS's Signature Version 4 documentation for S3. */
void test_sigv4(void **state);
void test_sigv4(void **state)
{
	(void)state;
	const char *empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	const char *extra[] = {"range", "bytes=0-9", "x-amz-content-sha256", empty, "x-amz-date", "20130524T000000Z"};
	char *auth = pgw_sigv4_authorization("GET", "examplebucket.s3.amazonaws.com", "/test.txt", "us-east-1",
					     "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
					     "20130524T000000Z", empty, extra, 6);
	assert_string_equal(auth,
			    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
			    "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
			    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	free(auth);
}

/* A file encrypted for the stage decrypts with the wrapped key and IV from its metadata. */
void test_sf_encrypt(void **state);
void test_sf_encrypt(void **state)
{
	(void)state;
	unsigned char master[16];
	for (int i = 0; i < 16; i++)
		master[i] = (unsigned char)(i * 7 + 1);
	struct sf_encryption enc = {.master_key = master, .master_len = 16, .query_id = "q-1", .smk_id = 42};
	const char *plain = "id,name\n1,\"a,b\"\n";
	struct pgw_buf out;
	pgw_buf_init(&out);
	char *mkey, *miv, *mdesc;
	struct pgw_err err = {0};
	assert_int_equal(
		pgw_sf_encrypt(&enc, (const unsigned char *)plain, strlen(plain), &out, &mkey, &miv, &mdesc, &err), 0);
	assert_string_equal(mdesc, "{\"smkId\":\"42\",\"queryId\":\"q-1\",\"keySize\":\"128\"}");
	unsigned char wrapped[64], iv[32], file_key[64], back[128];
	size_t ml = strlen(mkey);
	int wl = EVP_DecodeBlock(wrapped, (unsigned char *)mkey, (int)ml) - (mkey[ml - 1] == '=') -
		 (mkey[ml - 2] == '=');
	EVP_DecodeBlock(iv, (unsigned char *)miv, (int)strlen(miv));
	int n1, n2;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	EVP_DecryptInit_ex(ctx, EVP_aes_128_ecb(), NULL, master, NULL);
	EVP_DecryptUpdate(ctx, file_key, &n1, wrapped, wl);
	assert_int_equal(EVP_DecryptFinal_ex(ctx, file_key + n1, &n2), 1);
	assert_int_equal(n1 + n2, 16);
	EVP_DecryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, file_key, iv);
	EVP_DecryptUpdate(ctx, back, &n1, (unsigned char *)out.data, (int)out.len);
	assert_int_equal(EVP_DecryptFinal_ex(ctx, back + n1, &n2), 1);
	EVP_CIPHER_CTX_free(ctx);
	assert_int_equal(n1 + n2, (int)strlen(plain));
	assert_memory_equal(back, plain, strlen(plain));
	free(mkey), free(miv), free(mdesc);
	pgw_buf_cleanup(&out);
}
