/* PostgreSQL's hashtextextended() and hashint8extended(), computed here: Bob Jenkins' lookup3 hash
 * as PostgreSQL sets it up (hash_bytes_extended and hash_uint32_extended on a little-endian server).
 * verify hashes rows with them on both sides when the warehouse can call C (DuckDB): on PostgreSQL
 * they cost a fraction of md5(), whose per-call set-up dominates short texts. */
#ifndef PGW_PGHASH_H
#define PGW_PGHASH_H

#include <stddef.h>
#include <stdint.h>

/* hashtextextended(text, seed) */
uint64_t pgw_pghash(const void *data, size_t len, uint64_t seed);
/* hashint8extended(v, seed), which hashint2extended, hashint4extended and the hashes of timestamps
 * and times (their 64-bit counts of microseconds) equal */
uint64_t pgw_pghash_int8(int64_t v, uint64_t seed);

#endif
