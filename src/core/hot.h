/* PGW_HOT: a static function inlined into every caller, for the few small functions called for
 * every value (COPY decoding, the hash verify gives DuckDB), where a call costs more than the work. */
#ifndef PGW_HOT_H
#define PGW_HOT_H

#define PGW_HOT static inline __attribute__((always_inline))

#endif
