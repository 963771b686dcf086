/* COPY ... TO STDOUT (FORMAT binary) decoding into batches.
 * Format: PostgreSQL docs "COPY - Binary Format"; each type's send function gives the field bytes. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hot.h"
#include "core/interrupt.h"
#include "core/log.h"
#include "source/pg.h"

#define PG_EPOCH_DAYS 10957		  /* 2000-01-01 - 1970-01-01 */
#define PG_EPOCH_MICROS 946684800000000LL /* the same in microseconds */

static const char copy_signature[11] = "PGCOPY\n\377\r\n\0";

struct pgw_copy {
	struct pgw_pg *pg;
	const struct pgw_table_def *def;
	bool header_done;
	bool finished;
	struct pgw_pg_watch *watch;
	unsigned long long bytes;
};

static inline uint16_t rd16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t rd64(const unsigned char *p)
{
	return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

struct field_ctx {
	const struct pgw_coldef *col;
	struct pgw_err *err;
};

static int bad_len(struct field_ctx *fc, size_t len)
{
	return pgw_err_set(fc->err, PGW_ERR_DATA, "column \"%s\": unexpected binary field length %zu for %s",
			   fc->col->name, len, fc->col->pgtype);
}

static pgw_int128 pow10_values[39];

static void fill_pow10(void)
{
	pow10_values[0] = 1;
	for (int i = 1; i < 39; i++)
		pow10_values[i] = pow10_values[i - 1] * 10;
}

/* Filled once: COPY readers decode on several threads. */
static const pgw_int128 *pow10_table(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, fill_pow10);
	return pow10_values;
}

/* numeric: ndigits, weight, sign, dscale, then base-10000 digits. */
static int decode_decimal(struct field_ctx *fc, const struct pgw_typeinfo *ti, const unsigned char *p, size_t len,
			  pgw_int128 *out)
{
	if (len < 8)
		return bad_len(fc, len);
	int ndigits = (int16_t)rd16(p), weight = (int16_t)rd16(p + 2);
	uint16_t sign = rd16(p + 4);
	if (len != 8 + 2 * (size_t)ndigits)
		return bad_len(fc, len);
	if (sign != 0 && sign != 0x4000)
		return pgw_err_set(fc->err, PGW_ERR_DATA,
				   "column \"%s\" holds NaN or Infinity, which DECIMAL(%d,%d) cannot store; "
				   "declare the column as plain numeric to keep it as exact text",
				   fc->col->name, ti->precision, ti->scale);
	const pgw_int128 *p10 = pow10_table();
	pgw_int128 acc = 0;
	for (int i = 0; i < ndigits; i++) {
		int d = rd16(p + 8 + 2 * i);
		int e = 4 * (weight - i) + ti->scale;
		if (e >= 0 && e <= 38) {
			acc += (pgw_int128)d * p10[e];
		} else if (e < 0 && e > -4 && d % (int)p10[-e] == 0) {
			acc += d / (int)p10[-e];
		} else if (d != 0) {
			return pgw_err_set(fc->err, PGW_ERR_DATA,
					   "column \"%s\": numeric value does not fit DECIMAL(%d,%d)", fc->col->name,
					   ti->precision, ti->scale);
		}
	}
	*out = sign == 0x4000 ? -acc : acc;
	return 0;
}

int pgw_enum_lookup(const struct pgw_typeinfo *ti, const char *p, size_t len, uint32_t *out)
{
	int lo = 0, hi = ti->nlabels - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		const char *label = ti->labels[ti->label_order[mid]];
		int c = strncmp(label, p, len);
		if (c == 0 && label[len] != '\0')
			c = 1;
		if (c == 0) {
			*out = (uint32_t)ti->label_order[mid];
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static int enum_index(struct field_ctx *fc, const struct pgw_typeinfo *ti, const char *p, size_t len, uint32_t *out)
{
	if (pgw_enum_lookup(ti, p, len, out) == 0)
		return 0;
	return pgw_err_set(fc->err, PGW_ERR_DATA,
			   "column \"%s\": enum label \"%.*s\" was added after the sync started; run the sync again",
			   fc->col->name, (int)len, p);
}

/* Inlined where it is called (each row's loop, a list's elements): a call for every value cost
 * more than most values' decoding. */
PGW_HOT int decode_value(struct field_ctx *fc, const struct pgw_typeinfo *ti, struct pgw_column *c,
			 const unsigned char *p, size_t len);

static int decode_list(struct field_ctx *fc, const struct pgw_typeinfo *ti, struct pgw_column *c,
		       const unsigned char *p, size_t len)
{
	if (len < 12)
		return bad_len(fc, len);
	int ndim = (int)rd32(p);
	struct pgw_list_entry *e = pgw_col_push(c);
	e->off = (uint32_t)c->child->count;
	e->len = 0;
	if (ndim == 0)
		return 0;
	if (ndim != 1)
		return pgw_err_set(
			fc->err, PGW_ERR_DATA,
			"column \"%s\" holds a %d-dimensional array; only one-dimensional arrays map to a list "
			"(sync a view that casts it to text instead: a view is synced by key or reload, not by change "
			"data capture)",
			fc->col->name, ndim);
	if (len < 20)
		return bad_len(fc, len);
	uint32_t n = rd32(p + 12);
	size_t pos = 20;
	for (uint32_t i = 0; i < n; i++) {
		if (pos + 4 > len)
			return bad_len(fc, len);
		int32_t elen = (int32_t)rd32(p + pos);
		pos += 4;
		if (elen < 0) {
			pgw_col_push_null(c->child);
		} else {
			if (pos + (size_t)elen > len)
				return bad_len(fc, len);
			if (decode_value(fc, ti->elem, c->child, p + pos, (size_t)elen) < 0)
				return -1;
			pos += (size_t)elen;
		}
	}
	e->len = n;
	return 0;
}

PGW_HOT int shift_ts(struct field_ctx *fc, uint64_t raw, int64_t *out)
{
	int64_t v = (int64_t)raw;
	if (v == INT64_MAX || v == INT64_MIN) {
		*out = v; /* +-infinity keep their codes */
		return 0;
	}
	if (__builtin_add_overflow(v, PG_EPOCH_MICROS, out) || *out == PGW_TS_INF)
		return pgw_err_set(fc->err, PGW_ERR_DATA, "column \"%s\": a timestamp " PGW_TS_RANGE_ERROR,
				   fc->col->name);
	return 0;
}

PGW_HOT int decode_fixed(struct field_ctx *fc, const struct pgw_typeinfo *ti, struct pgw_column *c,
			 const unsigned char *p, size_t len)
{
	static const size_t need[] = {
		[PGW_T_BOOL] = 1,     [PGW_T_INT16] = 2,   [PGW_T_INT32] = 4,	  [PGW_T_INT64] = 8,
		[PGW_T_FLOAT32] = 4,  [PGW_T_FLOAT64] = 8, [PGW_T_UUID] = 16,	  [PGW_T_DATE] = 4,
		[PGW_T_TIME] = 8,     [PGW_T_TIMETZ] = 12, [PGW_T_TIMESTAMP] = 8, [PGW_T_TIMESTAMPTZ] = 8,
		[PGW_T_INTERVAL] = 16};
	if (len != need[ti->type])
		return bad_len(fc, len);
	void *slot = pgw_col_push(c);
	switch (ti->type) {
	case PGW_T_BOOL: *(uint8_t *)slot = p[0] != 0; break;
	case PGW_T_INT16: *(int16_t *)slot = (int16_t)rd16(p); break;
	case PGW_T_INT32: *(int32_t *)slot = (int32_t)rd32(p); break;
	case PGW_T_INT64: *(int64_t *)slot = (int64_t)rd64(p); break;
	case PGW_T_FLOAT32: {
		uint32_t u = rd32(p);
		memcpy(slot, &u, 4);
		break;
	}
	case PGW_T_FLOAT64: {
		uint64_t u = rd64(p);
		memcpy(slot, &u, 8);
		break;
	}
	case PGW_T_UUID: memcpy(slot, p, 16); break;
	case PGW_T_DATE: {
		int32_t d = (int32_t)rd32(p);
		*(int32_t *)slot = (d == INT32_MAX || d == INT32_MIN) ? d : d + PG_EPOCH_DAYS;
		break;
	}
	case PGW_T_TIME: *(int64_t *)slot = (int64_t)rd64(p); break;
	case PGW_T_TIMETZ: {
		struct pgw_timetz *t = slot;
		t->micros = (int64_t)rd64(p);
		t->offset = -(int32_t)rd32(p + 8); /* PostgreSQL stores seconds west */
		break;
	}
	case PGW_T_TIMESTAMP:
	case PGW_T_TIMESTAMPTZ:
		if (shift_ts(fc, rd64(p), slot) < 0) {
			c->count--; /* the slot pushed holds no value */
			return -1;
		}
		break;
	case PGW_T_INTERVAL: {
		struct pgw_interval *iv = slot;
		iv->micros = (int64_t)rd64(p);
		iv->days = (int32_t)rd32(p + 8);
		iv->months = (int32_t)rd32(p + 12);
		break;
	}
	default: break;
	}
	return 0;
}

PGW_HOT int decode_value(struct field_ctx *fc, const struct pgw_typeinfo *ti, struct pgw_column *c,
			 const unsigned char *p, size_t len)
{
	switch (ti->type) {
	case PGW_T_TEXT:
	case PGW_T_BYTES: pgw_col_push_str(c, (const char *)p, len); return 0;
	case PGW_T_JSON:
		if (ti->src_oid == 3802) { /* jsonb: a version byte, then text */
			if (len < 1 || p[0] != 1)
				return pgw_err_set(fc->err, PGW_ERR_DATA, "column \"%s\": unknown jsonb version",
						   fc->col->name);
			p++, len--;
		}
		pgw_col_push_str(c, (const char *)p, len);
		return 0;
	case PGW_T_DECIMAL: {
		pgw_int128 v = 0;
		if (decode_decimal(fc, ti, p, len, &v) < 0)
			return -1;
		*(pgw_int128 *)pgw_col_push(c) = v;
		return 0;
	}
	case PGW_T_ENUM: {
		uint32_t idx = 0;
		if (enum_index(fc, ti, (const char *)p, len, &idx) < 0)
			return -1;
		*(uint32_t *)pgw_col_push(c) = idx;
		return 0;
	}
	case PGW_T_LIST: return decode_list(fc, ti, c, p, len);
	default: return decode_fixed(fc, ti, c, p, len);
	}
}

int pgw_binary_decode(const struct pgw_coldef *col, const char *p, size_t len, struct pgw_column *c,
		      struct pgw_err *err)
{
	struct field_ctx fc = {col, err};
	return decode_value(&fc, &col->ti, c, (const unsigned char *)p, len);
}

int pgw_copy_decode_tuple(const struct pgw_table_def *def, const char *data, size_t len, struct pgw_batch *b,
			  struct pgw_err *err)
{
	const unsigned char *p = (const unsigned char *)data;
	if (len < 2 || (int16_t)rd16(p) != def->ncols)
		return pgw_err_set(err, PGW_ERR_DATA, "table \"%s\": COPY row has an unexpected column count",
				   def->name);
	size_t pos = 2;
	for (int i = 0; i < def->ncols; i++) {
		struct field_ctx fc = {&def->cols[i], err};
		if (pos + 4 > len)
			return bad_len(&fc, len);
		int32_t flen = (int32_t)rd32(p + pos);
		pos += 4;
		if (flen < 0) {
			pgw_col_push_null(&b->cols[i]);
			continue;
		}
		if (pos + (size_t)flen > len)
			return bad_len(&fc, len);
		if (decode_value(&fc, &def->cols[i].ti, &b->cols[i], p + pos, (size_t)flen) < 0)
			return -1;
		pos += (size_t)flen;
	}
	b->rows++;
	return 0;
}

struct pgw_copy *pgw_copy_start(struct pgw_pg *pg, const struct pgw_table_def *def, const char *select_sql,
				struct pgw_err *err)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_printf(&sql, "COPY (%s) TO STDOUT (FORMAT binary)", select_sql);
	pgw_debug("pg: %s", sql.data);
	PGresult *res = PQexec(pg->conn, sql.data);
	pgw_buf_cleanup(&sql);
	if (PQresultStatus(res) != PGRES_COPY_OUT) {
		pgw_pg_result_error(pg, res, "", err);
		PQclear(res);
		return NULL;
	}
	PQclear(res);
	struct pgw_copy *cp = pgw_calloc(1, sizeof(*cp));
	cp->pg = pg;
	cp->def = def;
	cp->watch = pgw_pg_watch(pg);
	return cp;
}

/* Skips the file header in front of the first row. */
static int skip_header(struct pgw_copy *cp, const char **p, int *len, struct pgw_err *err)
{
	if (*len < 19 || memcmp(*p, copy_signature, 11) != 0)
		return pgw_err_set(err, PGW_ERR_SOURCE, "unexpected binary COPY header from PostgreSQL");
	uint32_t ext = rd32((const unsigned char *)*p + 15);
	if ((uint32_t)*len < 19 + ext)
		return pgw_err_set(err, PGW_ERR_SOURCE, "truncated binary COPY header");
	*p += 19 + ext;
	*len -= (int)(19 + ext);
	cp->header_done = true;
	return 0;
}

static int finish(struct pgw_copy *cp, struct pgw_err *err)
{
	cp->finished = true;
	PGresult *res;
	int rc = 0;
	while ((res = PQgetResult(cp->pg->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0)
			rc = pgw_pg_result_error(cp->pg, res, "COPY failed: ", err);
		PQclear(res);
	}
	return rc;
}

long pgw_copy_next(struct pgw_copy *cp, struct pgw_batch *batch, struct pgw_err *err)
{
	pgw_batch_reset(batch);
	/* the server may have sent everything already, so its cancel alone would not stop us */
	if (pgw_interrupted())
		return pgw_err_set(err, PGW_ERR_INTERRUPTED, "interrupted");
	/* a batch also ends at 32 MB of COPY data, checked on every row, so a few huge values never
	 * make a batch bigger than that plus one row */
	size_t bytes = 0;
	while (!cp->finished && batch->rows < batch->cap && bytes < PGW_BATCH_MAX_BYTES) {
		char *buf = NULL;
		int len = PQgetCopyData(cp->pg->conn, &buf, 0);
		if (len == -1) {
			if (finish(cp, err) < 0)
				return -1;
			break;
		}
		if (len < 0) {
			char line[512];
			snprintf(line, sizeof(line), "%s", PQerrorMessage(cp->pg->conn));
			line[strcspn(line, "\n")] = '\0';
			return pgw_err_set(err, PGW_ERR_SOURCE, "PostgreSQL: reading COPY data failed: %s", line);
		}
		cp->bytes += (unsigned)len;
		bytes += (unsigned)len;
		const char *p = buf;
		int rc = 0;
		if (!cp->header_done)
			rc = skip_header(cp, &p, &len, err);
		/* the trailer is a field count of -1 */
		if (rc == 0 && !(len == 2 && (unsigned char)p[0] == 0xff && (unsigned char)p[1] == 0xff) && len > 0)
			rc = pgw_copy_decode_tuple(cp->def, p, (size_t)len, batch, err);
		PQfreemem(buf);
		if (rc < 0)
			return -1;
	}
	return (long)batch->rows;
}

unsigned long long pgw_copy_bytes(const struct pgw_copy *cp)
{
	return cp->bytes;
}

void pgw_copy_free(struct pgw_copy *cp)
{
	if (!cp)
		return;
	pgw_pg_unwatch(cp->watch);
	/* When stopping, do not wait for what is in flight: the connection is closed unread, and the
	 * server ends the COPY and rolls back when it goes. */
	if (!cp->finished && pgw_interrupted()) {
		PQfinish(cp->pg->conn);
		cp->pg->conn = NULL;
		cp->finished = true;
	}
	if (!cp->finished) {
		/* Abandoning a COPY: cancel on the server, then drain what is in flight. */
		PGcancel *cancel = PQgetCancel(cp->pg->conn);
		char errbuf[256];
		if (cancel) {
			PQcancel(cancel, errbuf, sizeof(errbuf));
			PQfreeCancel(cancel);
		}
		char *buf;
		int len;
		while ((len = PQgetCopyData(cp->pg->conn, &buf, 0)) >= 0)
			PQfreemem(buf);
		finish(cp, NULL);
	}
	free(cp);
}
