/* PostgreSQL-derived types -> Snowflake column types, and rows as the CSV the COPY INTO reads:
 * every value double-quoted, NULL as an unquoted \N, binary as hex, arrays as JSON text. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "batch/format.h"
#include "sink/snowflake/sf_internal.h"

void pgw_sf_type_sql(struct pgw_buf *b, const struct pgw_typeinfo *ti)
{
	switch (ti->type) {
	case PGW_T_BOOL: pgw_buf_puts(b, "BOOLEAN"); return;
	case PGW_T_INT16: pgw_buf_puts(b, "NUMBER(5,0)"); return;
	case PGW_T_INT32: pgw_buf_puts(b, "NUMBER(10,0)"); return;
	case PGW_T_INT64: pgw_buf_puts(b, "NUMBER(19,0)"); return;
	case PGW_T_FLOAT32:
	case PGW_T_FLOAT64: pgw_buf_puts(b, "FLOAT"); return;
	case PGW_T_DECIMAL: pgw_buf_printf(b, "NUMBER(%d,%d)", ti->precision, ti->scale); return;
	case PGW_T_BYTES: pgw_buf_puts(b, "BINARY"); return;
	case PGW_T_DATE: pgw_buf_puts(b, "DATE"); return;
	case PGW_T_TIME: pgw_buf_puts(b, "TIME"); return;
	case PGW_T_TIMESTAMP: pgw_buf_puts(b, "TIMESTAMP_NTZ"); return;
	case PGW_T_TIMESTAMPTZ: pgw_buf_puts(b, "TIMESTAMP_TZ"); return;
	case PGW_T_JSON: pgw_buf_puts(b, "VARIANT"); return;
	case PGW_T_LIST: pgw_buf_puts(b, "ARRAY"); return;
	default: pgw_buf_puts(b, "TEXT"); return; /* text, uuid, enum, timetz, interval, wide numeric */
	}
}

bool pgw_sf_semistructured(enum pgw_type t)
{
	return t == PGW_T_JSON || t == PGW_T_LIST;
}

static void quoted(struct pgw_buf *b, const char *s, size_t len)
{
	pgw_buf_add(b, "\"", 1);
	size_t start = 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '"') {
			pgw_buf_add(b, s + start, i + 1 - start);
			pgw_buf_add(b, "\"", 1);
			start = i + 1;
		}
	pgw_buf_add(b, s + start, len - start);
	pgw_buf_add(b, "\"", 1);
}

static void json_string(struct pgw_buf *b, const char *s, size_t len)
{
	pgw_buf_add(b, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			pgw_buf_add(b, "\\", 1);
			pgw_buf_add(b, &s[i], 1);
		} else if (c < 0x20) {
			pgw_buf_printf(b, "\\u%04x", c);
		} else {
			pgw_buf_add(b, &s[i], 1);
		}
	}
	pgw_buf_add(b, "\"", 1);
}

struct enc {
	const char *col;
	struct pgw_err *err;
};

static int range_error(struct enc *e, const char *what)
{
	return pgw_err_set(e->err, PGW_ERR_DATA,
			   "column \"%s\" holds %s outside Snowflake's range (years 1 to 9999, times below 24:00); "
			   "it cannot be stored exactly",
			   e->col, what);
}

static void hex(struct pgw_buf *b, const char *p, size_t len)
{
	static const char digits[] = "0123456789ABCDEF";
	pgw_buf_reserve(b, 2 * len);
	for (size_t i = 0; i < len; i++) {
		char two[2] = {digits[(unsigned char)p[i] >> 4], digits[(unsigned char)p[i] & 15]};
		pgw_buf_add(b, two, 2);
	}
}

/* The unquoted text of one value; *is_string says whether JSON needs quotes around it. */
static int text_of(struct enc *e, struct pgw_buf *t, const struct pgw_column *c, size_t i, bool *is_string)
{
	const struct pgw_typeinfo *ti = c->type;
	const char *p = (const char *)c->data + i * pgw_type_width(ti->type);
	*is_string = true;
	switch (ti->type) {
	case PGW_T_BOOL:
		pgw_buf_puts(t, *p ? "true" : "false");
		*is_string = false;
		return 0;
	case PGW_T_INT16:
		pgw_fmt_int(t, *(const int16_t *)p);
		*is_string = false;
		return 0;
	case PGW_T_INT32:
		pgw_fmt_int(t, *(const int32_t *)p);
		*is_string = false;
		return 0;
	case PGW_T_INT64:
		pgw_fmt_int(t, *(const int64_t *)p);
		*is_string = false;
		return 0;
	case PGW_T_FLOAT32: /* NaN and infinities are not JSON numbers: inside arrays they stay strings */
		pgw_fmt_float(t, *(const float *)p);
		*is_string = !isfinite(*(const float *)p);
		return 0;
	case PGW_T_FLOAT64:
		pgw_fmt_double(t, *(const double *)p);
		*is_string = !isfinite(*(const double *)p);
		return 0;
	case PGW_T_DECIMAL:
		pgw_fmt_decimal(t, *(const pgw_int128 *)p, ti->scale);
		*is_string = false;
		return 0;
	case PGW_T_TEXT:
	case PGW_T_JSON: {
		size_t len;
		const char *s = pgw_col_str(c, i, &len);
		pgw_buf_add(t, s, len);
		return 0;
	}
	case PGW_T_BYTES: {
		size_t len;
		const char *s = pgw_col_str(c, i, &len);
		hex(t, s, len);
		return 0;
	}
	case PGW_T_UUID: pgw_fmt_uuid(t, (const unsigned char *)p); return 0;
	case PGW_T_ENUM: pgw_buf_puts(t, ti->labels[*(const uint32_t *)p]); return 0;
	case PGW_T_DATE: {
		int32_t d = *(const int32_t *)p;
		if (d < -719162 || d > 2932896 || !pgw_fmt_date(t, d, false))
			return range_error(e, "a date");
		return 0;
	}
	case PGW_T_TIME: {
		int64_t us = *(const int64_t *)p;
		if (us >= 86400000000LL)
			return range_error(e, "a time");
		pgw_fmt_time(t, us, false);
		return 0;
	}
	case PGW_T_TIMETZ: {
		const struct pgw_timetz *v = (const struct pgw_timetz *)p;
		pgw_fmt_time(t, v->micros, true);
		pgw_fmt_offset(t, v->offset);
		return 0;
	}
	case PGW_T_TIMESTAMP:
	case PGW_T_TIMESTAMPTZ: {
		int64_t us = *(const int64_t *)p;
		if (us < -62135596800000000LL || us >= 253402300800000000LL || !pgw_fmt_timestamp(t, us, false, false))
			return range_error(e, "a timestamp");
		if (ti->type == PGW_T_TIMESTAMPTZ)
			pgw_buf_puts(t, "+00:00");
		return 0;
	}
	case PGW_T_INTERVAL: pgw_fmt_interval(t, (const struct pgw_interval *)p); return 0;
	case PGW_T_LIST: break;
	}
	return 0;
}

/* Dates and times inside arrays read as PostgreSQL's to_json writes them: "2024-01-01T10:00:00+00:00",
 * fractions without trailing zeros. */
static void json_time_style(struct pgw_buf *t, enum pgw_type type)
{
	if (type != PGW_T_TIMESTAMP && type != PGW_T_TIMESTAMPTZ)
		return;
	char *sp = memchr(t->data, ' ', t->len);
	if (sp)
		*sp = 'T';
	char *dot = memchr(t->data, '.', t->len);
	if (!dot)
		return;
	size_t end = (size_t)(dot - t->data) + 7; /* ".ffffff" */
	size_t keep = end;
	while (keep > (size_t)(dot - t->data) + 1 && t->data[keep - 1] == '0')
		keep--;
	if (keep == (size_t)(dot - t->data) + 1)
		keep--; /* no fraction left: drop the dot */
	memmove(t->data + keep, t->data + end, t->len - end + 1);
	t->len -= end - keep;
}

static int list_json(struct enc *e, struct pgw_buf *out, const struct pgw_column *c, size_t i, struct pgw_buf *t)
{
	const struct pgw_list_entry *le = (const struct pgw_list_entry *)c->data + i;
	pgw_buf_reset(out);
	pgw_buf_puts(out, "[");
	for (uint32_t k = 0; k < le->len; k++) {
		if (k)
			pgw_buf_puts(out, ",");
		size_t j = le->off + k;
		if (!c->child->valid[j]) {
			pgw_buf_puts(out, "null");
			continue;
		}
		bool is_string;
		pgw_buf_reset(t);
		if (text_of(e, t, c->child, j, &is_string) < 0)
			return -1;
		json_time_style(t, c->child->type->type);
		if (is_string)
			json_string(out, t->data ? t->data : "", t->len);
		else
			pgw_buf_add(out, t->data, t->len);
	}
	pgw_buf_puts(out, "]");
	return 0;
}

int pgw_sf_csv(struct pgw_buf *out, const struct pgw_batch *b, const struct pgw_table_def *def, struct pgw_err *err)
{
	struct pgw_buf t, l;
	pgw_buf_init(&t);
	pgw_buf_init(&l);
	struct enc e = {.err = err};
	int rc = 0;
	for (size_t r = 0; r < b->rows && rc == 0; r++) {
		for (int c = 0; c < b->ncols && rc == 0; c++) {
			const struct pgw_column *col = &b->cols[c];
			if (c)
				pgw_buf_add(out, ",", 1);
			if (!col->valid[r]) {
				pgw_buf_puts(out, "\\N");
				continue;
			}
			e.col = def->cols[c].name;
			bool is_string;
			pgw_buf_reset(&t);
			if (col->type->type == PGW_T_LIST) {
				rc = list_json(&e, &l, col, r, &t);
				if (rc == 0)
					quoted(out, l.data, l.len);
				continue;
			}
			rc = text_of(&e, &t, col, r, &is_string);
			if (rc == 0)
				quoted(out, t.data ? t.data : "", t.len);
		}
		pgw_buf_add(out, "\n", 1);
	}
	pgw_buf_cleanup(&t);
	pgw_buf_cleanup(&l);
	return rc;
}
