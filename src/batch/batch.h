/* Typed column batches: the only thing the Postgres source and the sinks share.
 * Values are in canonical form (UTC microseconds since 1970, days since 1970, ...). */
#ifndef PGW_BATCH_H
#define PGW_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum pgw_type {
	PGW_T_BOOL,
	PGW_T_INT16,
	PGW_T_INT32,
	PGW_T_INT64,
	PGW_T_FLOAT32,
	PGW_T_FLOAT64,
	PGW_T_DECIMAL, /* precision <= 38: scaled __int128 */
	PGW_T_TEXT,    /* also numeric wider than 38 digits (precision set) and types kept as text */
	PGW_T_BYTES,
	PGW_T_UUID,	   /* 16 bytes, network order */
	PGW_T_DATE,	   /* int32 days since 1970-01-01; INT32_MAX/MIN = +-infinity */
	PGW_T_TIME,	   /* int64 microseconds since midnight */
	PGW_T_TIMETZ,	   /* struct pgw_timetz */
	PGW_T_TIMESTAMP,   /* int64 microseconds since 1970; INT64_MAX/MIN = +-infinity */
	PGW_T_TIMESTAMPTZ, /* same, UTC */
	PGW_T_INTERVAL,	   /* struct pgw_interval */
	PGW_T_JSON,	   /* text */
	PGW_T_ENUM,	   /* uint32 index into the type's labels (in sort order) */
	PGW_T_LIST,	   /* struct pgw_list_entry into the child column */
};

#define PGW_DATE_INF INT32_MAX
#define PGW_DATE_NINF INT32_MIN
#define PGW_TS_INF INT64_MAX
/* A finite timestamp past 294247-01-10 04:00:54.775806 (PostgreSQL's go to 294276) does not fit
 * microseconds since 1970 in 64 bits: refused, never wrapped */
#define PGW_TS_RANGE_ERROR                                                                          \
	"is after 294247-01-10, the latest timestamp the warehouse holds; change it in PostgreSQL " \
	"('infinity' is kept) or leave the table out"
#define PGW_TS_NINF INT64_MIN

typedef __int128 pgw_int128;

struct pgw_timetz {
	int64_t micros;
	int32_t offset; /* seconds east of UTC */
};

struct pgw_interval {
	int32_t months;
	int32_t days;
	int64_t micros;
};

struct pgw_str {
	uint32_t off; /* into the column's arena */
	uint32_t len;
};

struct pgw_list_entry {
	uint32_t off; /* first element in the child column */
	uint32_t len;
};

/* The warehouse-independent description of a column's values. */
struct pgw_typeinfo {
	enum pgw_type type;
	int precision, scale; /* PGW_T_DECIMAL; PGW_T_TEXT holding numeric(p > 38, s): p and s */
	char **labels;	      /* PGW_T_ENUM, in sort order */
	int nlabels;
	struct pgw_typeinfo *elem; /* PGW_T_LIST */
	/* Source-side details the sinks ignore. */
	uint32_t src_oid; /* PostgreSQL type of the values as selected */
	int *label_order; /* labels' indexes sorted by strcmp, for lookups */
};

struct pgw_column {
	const struct pgw_typeinfo *type; /* borrowed */
	size_t count;			 /* values held */
	size_t cap;
	size_t width;	/* bytes of a value in data: pgw_type_width(type->type) */
	uint8_t *valid; /* 1 = value, 0 = NULL */
	void *data;	/* cap values of the type's fixed-width form */
	char *arena;	/* string bytes for TEXT/BYTES/JSON */
	size_t arena_len, arena_cap;
	struct pgw_column *child; /* PGW_T_LIST */
};

/* A batch ends once it holds this much source data (COPY bytes), whatever its row count. */
#define PGW_BATCH_MAX_BYTES (32u << 20)

struct pgw_batch {
	int ncols;
	size_t rows;
	size_t cap;
	struct pgw_column *cols;
	int stream; /* the COPY stream that filled it (0 but with several): a sink keeps each one's order */
};

size_t pgw_type_width(enum pgw_type t);
const char *pgw_type_name(enum pgw_type t);

/* ncols columns of the given types (borrowed: they must outlive the batch). */
struct pgw_batch *pgw_batch_new(int ncols, const struct pgw_typeinfo *const *types, size_t cap);
void pgw_batch_free(struct pgw_batch *b);
void pgw_batch_reset(struct pgw_batch *b);
/* Bytes held by strings in the batch, for memory accounting and progress. */
size_t pgw_batch_bytes(const struct pgw_batch *b);

/* Appending one value at the end of a column: pgw_col_push returns the place to write a fixed
 * value. Inline: the COPY decoder calls them for every value. */
void pgw_col_grow(struct pgw_column *c);
void pgw_col_grow_arena(struct pgw_column *c, size_t len);

static inline void *pgw_col_push(struct pgw_column *c)
{
	if (c->count == c->cap)
		pgw_col_grow(c);
	c->valid[c->count] = 1;
	return (char *)c->data + c->count++ * c->width;
}

static inline void pgw_col_push_null(struct pgw_column *c)
{
	memset(pgw_col_push(c), 0, c->width);
	c->valid[c->count - 1] = 0;
}

static inline void pgw_col_push_str(struct pgw_column *c, const char *p, size_t len)
{
	if (c->arena_len + len > c->arena_cap)
		pgw_col_grow_arena(c, len);
	struct pgw_str *s = (struct pgw_str *)pgw_col_push(c);
	s->off = (uint32_t)c->arena_len;
	s->len = (uint32_t)len;
	if (len)
		memcpy(c->arena + c->arena_len, p, len);
	c->arena_len += len;
}

static inline const char *pgw_col_str(const struct pgw_column *c, size_t i, size_t *len)
{
	const struct pgw_str *s = (const struct pgw_str *)c->data + i;
	*len = s->len;
	return c->arena + s->off;
}

#endif
