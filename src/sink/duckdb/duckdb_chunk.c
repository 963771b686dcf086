/* Batch columns -> DuckDB data-chunk vectors (the appender's fast path). */
#include <string.h>

#include "sink/duckdb/duckdb_internal.h"

static void set_validity(duckdb_vector v, const struct pgw_column *c, size_t n)
{
	bool any_null = memchr(c->valid, 0, n) != NULL;
	if (!any_null && !duckdb_vector_get_validity(v))
		return;
	duckdb_vector_ensure_validity_writable(v);
	uint64_t *validity = duckdb_vector_get_validity(v);
	for (size_t i = 0; i < n; i++)
		duckdb_validity_set_row_validity(validity, i, c->valid[i]);
}

static void fill_decimal(duckdb_vector v, duckdb_logical_type lt, const struct pgw_column *c, size_t n)
{
	const pgw_int128 *src = c->data;
	void *dst = duckdb_vector_get_data(v);
	switch (duckdb_decimal_internal_type(lt)) {
	case DUCKDB_TYPE_SMALLINT:
		for (size_t i = 0; i < n; i++)
			((int16_t *)dst)[i] = (int16_t)src[i];
		break;
	case DUCKDB_TYPE_INTEGER:
		for (size_t i = 0; i < n; i++)
			((int32_t *)dst)[i] = (int32_t)src[i];
		break;
	case DUCKDB_TYPE_BIGINT:
		for (size_t i = 0; i < n; i++)
			((int64_t *)dst)[i] = (int64_t)src[i];
		break;
	default:
		for (size_t i = 0; i < n; i++) {
			duckdb_hugeint *h = &((duckdb_hugeint *)dst)[i];
			h->lower = (uint64_t)src[i];
			h->upper = (int64_t)(src[i] >> 64);
		}
	}
}

static void fill_enum(duckdb_vector v, duckdb_logical_type lt, const struct pgw_column *c, size_t n)
{
	const uint32_t *src = c->data;
	void *dst = duckdb_vector_get_data(v);
	switch (duckdb_enum_internal_type(lt)) {
	case DUCKDB_TYPE_UTINYINT:
		for (size_t i = 0; i < n; i++)
			((uint8_t *)dst)[i] = (uint8_t)src[i];
		break;
	case DUCKDB_TYPE_USMALLINT:
		for (size_t i = 0; i < n; i++)
			((uint16_t *)dst)[i] = (uint16_t)src[i];
		break;
	default: memcpy(dst, src, n * 4);
	}
}

static uint64_t be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void fill_uuid(duckdb_vector v, const struct pgw_column *c, size_t n)
{
	const unsigned char *src = c->data;
	duckdb_hugeint *dst = duckdb_vector_get_data(v);
	for (size_t i = 0; i < n; i++) {
		/* DuckDB keeps UUIDs as a hugeint with the top bit flipped, so signed order is byte order */
		dst[i].upper = (int64_t)(be64(src + 16 * i) ^ (1ULL << 63));
		dst[i].lower = be64(src + 16 * i + 8);
	}
}

/* The vector's strings point into the batch instead of being copied into the vector's own heap
 * (duckdb_vector_assign_string_element_len): the appender copies every value of a chunk before
 * duckdb_append_data_chunk returns, so one copy of each string is enough. Short strings are
 * inlined, zero-padded, as DuckDB compares them. */
static void fill_strings(duckdb_vector v, const struct pgw_column *c, size_t n)
{
	duckdb_string_t *dst = duckdb_vector_get_data(v);
	for (size_t i = 0; i < n; i++) {
		if (!c->valid[i]) { /* an empty string, not a pointer into an earlier batch */
			memset(&dst[i], 0, sizeof(dst[i]));
			continue;
		}
		size_t len;
		const char *p = pgw_col_str(c, i, &len);
		dst[i].value.inlined.length = (uint32_t)len;
		if (len <= sizeof(dst[i].value.inlined.inlined)) {
			memset(dst[i].value.inlined.inlined, 0, sizeof(dst[i].value.inlined.inlined));
			memcpy(dst[i].value.inlined.inlined, p, len);
		} else {
			memcpy(dst[i].value.pointer.prefix, p, sizeof(dst[i].value.pointer.prefix));
			dst[i].value.pointer.ptr = (char *)p;
		}
	}
}

static void fill_times(duckdb_vector v, const struct pgw_column *c, size_t n)
{
	int64_t *dst = duckdb_vector_get_data(v);
	const int64_t *src = c->data;
	for (size_t i = 0; i < n; i++) /* DuckDB's -infinity is -INT64_MAX */
		dst[i] = src[i] == PGW_TS_NINF ? -INT64_MAX : src[i];
}

static void fill_dates(duckdb_vector v, const struct pgw_column *c, size_t n)
{
	int32_t *dst = duckdb_vector_get_data(v);
	const int32_t *src = c->data;
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i] == PGW_DATE_NINF ? -INT32_MAX : src[i];
}

static void fill_timetz(duckdb_vector v, const struct pgw_column *c, size_t n)
{
	duckdb_time_tz *dst = duckdb_vector_get_data(v);
	const struct pgw_timetz *src = c->data;
	for (size_t i = 0; i < n; i++)
		dst[i] = duckdb_create_time_tz(src[i].micros, src[i].offset);
}

static void fill_interval(duckdb_vector v, const struct pgw_column *c, size_t n)
{
	duckdb_interval *dst = duckdb_vector_get_data(v);
	const struct pgw_interval *src = c->data;
	for (size_t i = 0; i < n; i++) {
		dst[i].months = src[i].months;
		dst[i].days = src[i].days;
		dst[i].micros = src[i].micros;
	}
}

static int fill_list(duckdb_vector v, duckdb_logical_type lt, const struct pgw_column *c, size_t n, struct pgw_err *err)
{
	duckdb_list_entry *dst = duckdb_vector_get_data(v);
	const struct pgw_list_entry *src = c->data;
	for (size_t i = 0; i < n; i++) {
		dst[i].offset = src[i].off;
		dst[i].length = src[i].len;
	}
	size_t nchild = c->child->count;
	if (duckdb_list_vector_reserve(v, nchild) != DuckDBSuccess)
		return pgw_err_set(err, PGW_ERR_WAREHOUSE, "DuckDB: cannot reserve %zu list elements", nchild);
	duckdb_vector child = duckdb_list_vector_get_child(v);
	duckdb_logical_type clt = duckdb_list_type_child_type(lt);
	int rc = pgw_duck_fill_vector(child, clt, c->child, nchild, err);
	duckdb_destroy_logical_type(&clt);
	if (rc == 0)
		duckdb_list_vector_set_size(v, nchild);
	return rc;
}

int pgw_duck_fill_vector(duckdb_vector v, duckdb_logical_type lt, const struct pgw_column *c, size_t n,
			 struct pgw_err *err)
{
	set_validity(v, c, n);
	switch (c->type->type) {
	case PGW_T_BOOL:
	case PGW_T_INT16:
	case PGW_T_INT32:
	case PGW_T_INT64:
	case PGW_T_FLOAT32:
	case PGW_T_FLOAT64:
	case PGW_T_TIME: memcpy(duckdb_vector_get_data(v), c->data, n * pgw_type_width(c->type->type)); return 0;
	case PGW_T_DECIMAL: fill_decimal(v, lt, c, n); return 0;
	case PGW_T_ENUM: fill_enum(v, lt, c, n); return 0;
	case PGW_T_UUID: fill_uuid(v, c, n); return 0;
	case PGW_T_TEXT:
	case PGW_T_BYTES:
	case PGW_T_JSON: fill_strings(v, c, n); return 0;
	case PGW_T_DATE: fill_dates(v, c, n); return 0;
	case PGW_T_TIMESTAMP:
	case PGW_T_TIMESTAMPTZ: fill_times(v, c, n); return 0;
	case PGW_T_TIMETZ: fill_timetz(v, c, n); return 0;
	case PGW_T_INTERVAL: fill_interval(v, c, n); return 0;
	case PGW_T_LIST: return fill_list(v, lt, c, n, err);
	}
	return pgw_err_set(err, PGW_ERR_INTERNAL, "no DuckDB mapping for %s", pgw_type_name(c->type->type));
}
