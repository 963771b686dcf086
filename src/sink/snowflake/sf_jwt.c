/* RS256 JWTs for Snowflake's key-pair authentication (OpenSSL for keys, digests, signatures).
 * Claims as Snowflake documents them: iss = ACCOUNT.USER.SHA256:<fingerprint>, sub = ACCOUNT.USER,
 * iat and exp, with account and user in upper case. */
#include "sink/snowflake/sf_jwt.h"

#include <ctype.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

struct sf_key {
	EVP_PKEY *pkey;
};

static int pass_cb(char *buf, int size, int rwflag, void *u)
{
	(void)rwflag;
	const char *pass = u;
	if (!pass)
		return 0;
	int n = (int)strlen(pass);
	if (n > size)
		n = size;
	memcpy(buf, pass, (size_t)n);
	return n;
}

struct sf_key *pgw_sf_key_load(const char *path, const char *passphrase, struct pgw_err *err)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		pgw_err_set(err, PGW_ERR_CONFIG, "cannot read private key %s; check snowsql_private_key_path", path);
		return NULL;
	}
	EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, pass_cb, (void *)passphrase);
	fclose(f);
	if (!pkey) {
		unsigned long e = ERR_get_error();
		char reason[256];
		ERR_error_string_n(e, reason, sizeof(reason));
		ERR_clear_error();
		pgw_err_set(err, PGW_ERR_CONFIG,
			    "cannot load private key %s (%s); it must be a PEM private key, and an encrypted one "
			    "needs snowsql_private_key_passphrase",
			    path, reason);
		return NULL;
	}
	if (EVP_PKEY_base_id(pkey) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pkey);
		pgw_err_set(err, PGW_ERR_CONFIG,
			    "private key %s is not an RSA key; Snowflake key-pair sign-in uses RSA", path);
		return NULL;
	}
	struct sf_key *k = pgw_calloc(1, sizeof(*k));
	k->pkey = pkey;
	return k;
}

void pgw_sf_key_free(struct sf_key *key)
{
	if (!key)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

char *pgw_base64(const unsigned char *p, size_t n, int url)
{
	char *out = pgw_malloc(4 * ((n + 2) / 3) + 1);
	int len = EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	if (url) {
		while (len > 0 && out[len - 1] == '=')
			len--;
		out[len] = '\0';
		for (char *c = out; *c; c++)
			*c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
	}
	return out;
}

char *pgw_sf_key_fingerprint(const struct sf_key *key)
{
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(key->pkey, &der);
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL);
	OPENSSL_free(der);
	char *b64 = pgw_base64(md, mdlen, 0);
	char *fp = pgw_asprintf("SHA256:%s", b64);
	free(b64);
	return fp;
}

char *pgw_sf_account_for_jwt(const char *account)
{
	char *a = pgw_strdup(account);
	char *dot = strchr(a, '.'); /* "xy12345.us-east-1" -> "xy12345" */
	if (dot)
		*dot = '\0';
	for (char *c = a; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	return a;
}

static char *upper(const char *s)
{
	char *u = pgw_strdup(s);
	for (char *c = u; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	return u;
}

static char *sign(const struct sf_key *key, const char *input, struct pgw_err *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = 0;
	unsigned char *sig = NULL;
	char *out = NULL;
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key->pkey) == 1 &&
	    EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)input, strlen(input)) == 1) {
		sig = pgw_malloc(siglen);
		if (EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)input, strlen(input)) == 1)
			out = pgw_base64(sig, siglen, 1);
	}
	if (!out)
		pgw_err_set(err, PGW_ERR_INTERNAL, "signing the Snowflake JWT failed");
	free(sig);
	EVP_MD_CTX_free(ctx);
	return out;
}

char *pgw_sf_jwt(const struct sf_key *key, const char *account, const char *user, time_t now, int lifetime,
		 struct pgw_err *err)
{
	char *acct = pgw_sf_account_for_jwt(account), *usr = upper(user), *fp = pgw_sf_key_fingerprint(key);
	/* account and user names are identifiers ([A-Z0-9_$-]), so no JSON escaping is needed; refuse others */
	for (const char *c = usr; *c; c++)
		if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) {
			free(acct), free(usr), free(fp);
			pgw_err_set(err, PGW_ERR_CONFIG,
				    "snowsql_user contains a character a Snowflake user name cannot have");
			return NULL;
		}
	const char *header = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	char *claims = pgw_asprintf("{\"iss\":\"%s.%s.%s\",\"sub\":\"%s.%s\",\"iat\":%lld,\"exp\":%lld}", acct, usr, fp,
				    acct, usr, (long long)now, (long long)now + lifetime);
	char *h64 = pgw_base64((const unsigned char *)header, strlen(header), 1);
	char *c64 = pgw_base64((const unsigned char *)claims, strlen(claims), 1);
	char *input = pgw_asprintf("%s.%s", h64, c64);
	char *sig = sign(key, input, err);
	char *jwt = sig ? pgw_asprintf("%s.%s", input, sig) : NULL;
	free(acct), free(usr), free(fp), free(claims), free(h64), free(c64), free(input), free(sig);
	return jwt;
}
