/* Column storage for batches; memory is kept between batches and only grows. */
#include "batch/batch.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

size_t pgw_type_width(enum pgw_type t)
{
	switch (t) {
	case PGW_T_BOOL: return 1;
	case PGW_T_INT16: return 2;
	case PGW_T_INT32:
	case PGW_T_FLOAT32:
	case PGW_T_DATE:
	case PGW_T_ENUM: return 4;
	case PGW_T_INT64:
	case PGW_T_FLOAT64:
	case PGW_T_TIME:
	case PGW_T_TIMESTAMP:
	case PGW_T_TIMESTAMPTZ:
	case PGW_T_TEXT:
	case PGW_T_BYTES:
	case PGW_T_JSON:
	case PGW_T_LIST: return 8;
	case PGW_T_DECIMAL:
	case PGW_T_UUID:
	case PGW_T_TIMETZ:
	case PGW_T_INTERVAL: return 16;
	}
	return 16;
}

const char *pgw_type_name(enum pgw_type t)
{
	static const char *const names[] = {
		"bool", "int16", "int32",  "int64",	"float32",     "float64",  "decimal", "text", "bytes", "uuid",
		"date", "time",	 "timetz", "timestamp", "timestamptz", "interval", "json",    "enum", "list"};
	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

static void col_init(struct pgw_column *c, const struct pgw_typeinfo *type, size_t cap)
{
	memset(c, 0, sizeof(*c));
	c->type = type;
	c->cap = cap;
	c->width = pgw_type_width(type->type);
	c->valid = pgw_malloc(cap);
	c->data = pgw_malloc(cap * c->width);
	if (type->type == PGW_T_LIST) {
		c->child = pgw_malloc(sizeof(*c->child));
		col_init(c->child, type->elem, cap * 4);
	}
}

static void col_cleanup(struct pgw_column *c)
{
	if (c->child) {
		col_cleanup(c->child);
		free(c->child);
	}
	free(c->valid);
	free(c->data);
	free(c->arena);
}

static void col_reset(struct pgw_column *c)
{
	c->count = 0;
	c->arena_len = 0;
	if (c->child)
		col_reset(c->child);
}

struct pgw_batch *pgw_batch_new(int ncols, const struct pgw_typeinfo *const *types, size_t cap)
{
	struct pgw_batch *b = pgw_calloc(1, sizeof(*b));
	b->ncols = ncols;
	b->cap = cap;
	b->cols = pgw_calloc((size_t)ncols, sizeof(*b->cols));
	for (int i = 0; i < ncols; i++)
		col_init(&b->cols[i], types[i], cap);
	return b;
}

void pgw_batch_free(struct pgw_batch *b)
{
	if (!b)
		return;
	for (int i = 0; i < b->ncols; i++)
		col_cleanup(&b->cols[i]);
	free(b->cols);
	free(b);
}

void pgw_batch_reset(struct pgw_batch *b)
{
	b->rows = 0;
	for (int i = 0; i < b->ncols; i++)
		col_reset(&b->cols[i]);
}

static size_t col_bytes(const struct pgw_column *c)
{
	size_t n = c->arena_len + c->count * pgw_type_width(c->type->type);
	return c->child ? n + col_bytes(c->child) : n;
}

size_t pgw_batch_bytes(const struct pgw_batch *b)
{
	size_t n = 0;
	for (int i = 0; i < b->ncols; i++)
		n += col_bytes(&b->cols[i]);
	return n;
}

void pgw_col_grow(struct pgw_column *c)
{
	c->cap = c->cap ? c->cap * 2 : 16;
	c->valid = pgw_realloc(c->valid, c->cap);
	c->data = pgw_realloc(c->data, c->cap * c->width);
}

void pgw_col_grow_arena(struct pgw_column *c, size_t len)
{
	size_t cap = c->arena_cap ? c->arena_cap : 65536;
	while (cap < c->arena_len + len)
		cap *= 2;
	c->arena = pgw_realloc(c->arena, cap);
	c->arena_cap = cap;
}
