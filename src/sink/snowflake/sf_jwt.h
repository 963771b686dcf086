/* Snowflake key-pair authentication: an RS256 JWT signed with the user's private key. */
#ifndef PGW_SF_JWT_H
#define PGW_SF_JWT_H

#include <time.h>

#include "core/err.h"

struct sf_key;

/* Loads a PEM private key (PKCS#8, optionally encrypted with passphrase; PKCS#1 also read). */
struct sf_key *pgw_sf_key_load(const char *path, const char *passphrase, struct pgw_err *err);
void pgw_sf_key_free(struct sf_key *key);
/* "SHA256:<base64 of SHA-256 of the DER public key>", as registered in RSA_PUBLIC_KEY_FP; caller frees. */
char *pgw_sf_key_fingerprint(const struct sf_key *key);
/* The account part of the claims: upper case, without region/cloud suffixes; caller frees. */
char *pgw_sf_account_for_jwt(const char *account);
/* A JWT valid from now for lifetime seconds (Snowflake accepts at most 3600); caller frees. */
char *pgw_sf_jwt(const struct sf_key *key, const char *account, const char *user, time_t now, int lifetime,
		 struct pgw_err *err);

/* base64 (standard alphabet with padding, or url-safe without padding); caller frees. */
char *pgw_base64(const unsigned char *p, size_t n, int url);

#endif
