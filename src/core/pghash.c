#include "core/pghash.h"

#include "core/hot.h"

/* Inlined (PGW_HOT), so that a, b and c live in registers: as calls through pointers the three words
 * went to memory at every step, and mix + final_mix were 40% of DuckDB's CPU in verify. */
PGW_HOT uint32_t rotl(uint32_t x, int k)
{
	return (x << k) | (x >> (32 - k));
}

/* three rounds to a line, as the algorithm is published */
/* clang-format off */
PGW_HOT void mix(uint32_t *a, uint32_t *b, uint32_t *c)
{
	*a -= *c; *a ^= rotl(*c, 4);  *c += *b;
	*b -= *a; *b ^= rotl(*a, 6);  *a += *c;
	*c -= *b; *c ^= rotl(*b, 8);  *b += *a;
	*a -= *c; *a ^= rotl(*c, 16); *c += *b;
	*b -= *a; *b ^= rotl(*a, 19); *a += *c;
	*c -= *b; *c ^= rotl(*b, 4);  *b += *a;
}

PGW_HOT void final_mix(uint32_t *a, uint32_t *b, uint32_t *c)
{
	*c ^= *b; *c -= rotl(*b, 14);
	*a ^= *c; *a -= rotl(*c, 11);
	*b ^= *a; *b -= rotl(*a, 25);
	*c ^= *b; *c -= rotl(*b, 16);
	*a ^= *c; *a -= rotl(*c, 4);
	*b ^= *a; *b -= rotl(*a, 14);
	*c ^= *b; *c -= rotl(*b, 24);
}

/* clang-format on */

/* n (<= 4) bytes of p little-endian, the first at the low end */
PGW_HOT uint32_t word(const unsigned char *p, size_t n)
{
	uint32_t w = 0;
	for (size_t i = 0; i < n; i++)
		w |= (uint32_t)p[i] << (8 * i);
	return w;
}

/* PostgreSQL's set-up of the state for len bytes: a seed other than 0 is mixed in first */
PGW_HOT void start(uint32_t *a, uint32_t *b, uint32_t *c, size_t len, uint64_t seed)
{
	*a = *b = *c = 0x9e3779b9u + (uint32_t)len + 3923095u;
	if (seed) {
		*a += (uint32_t)(seed >> 32);
		*b += (uint32_t)seed;
		mix(a, b, c);
	}
}

uint64_t pgw_pghash(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *k = data;
	uint32_t a, b, c;
	start(&a, &b, &c, len, seed);
	for (; len >= 12; len -= 12, k += 12) {
		a += word(k, 4);
		b += word(k + 4, 4);
		c += word(k + 8, 4);
		mix(&a, &b, &c);
	}
	/* the tail: c's lowest byte is left for the length (added above), so c takes bytes 8..10
	 * shifted up by one byte */
	if (len > 8)
		c += word(k + 8, len - 8) << 8;
	if (len > 4)
		b += word(k + 4, len > 8 ? 4 : len - 4);
	if (len > 0)
		a += word(k, len > 4 ? 4 : len);
	final_mix(&a, &b, &c);
	return ((uint64_t)b << 32) | c;
}

uint64_t pgw_pghash_int8(int64_t v, uint64_t seed)
{
	/* PostgreSQL folds the two halves into one word (so that an int8 hashes as the int4 of the
	 * same value), then hashes that word as a 4-byte key */
	uint32_t lo = (uint32_t)v, hi = (uint32_t)((uint64_t)v >> 32);
	lo ^= v >= 0 ? hi : ~hi;
	uint32_t a, b, c;
	start(&a, &b, &c, 4, seed);
	a += lo;
	final_mix(&a, &b, &c);
	return ((uint64_t)b << 32) | c;
}
