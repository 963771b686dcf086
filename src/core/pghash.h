/* PostgreSQL's hashtextextended() of a byte string, computed here: Bob Jenkins' lookup3 hash as
 * PostgreSQL sets it up (its hash_bytes_extended on a little-endian server). verify uses it to hash
 * a row's canonical text on both sides when the warehouse can call C (DuckDB): on PostgreSQL it
 * costs a fraction of md5(), whose per-call set-up dominates short texts. */
#ifndef PGW_PGHASH_H
#define PGW_PGHASH_H

#include <stddef.h>
#include <stdint.h>

/* hashtextextended(text, 0): with seed 0, the only one pgwarehouse needs */
uint64_t pgw_pghash(const void *data, size_t len);

#endif
