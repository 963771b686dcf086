/* ClickHouse types for PostgreSQL columns, identifier/literal quoting, and TSV encoding. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch/format.h"
#include "sink/clickhouse/ch_internal.h"

void pgw_ch_features(const char *version, struct ch_features *f)
{
	memset(f, 0, sizeof(*f));
	sscanf(version, "%d.%d", &f->major, &f->minor);
	int v = f->major * 100 + f->minor;
	f->modern = v >= 2203;
	f->json = v >= 2503;
}

enum ch_store pgw_ch_store(const struct ch_features *f, enum pgw_type t)
{
	switch (t) {
	case PGW_T_TIME:
	case PGW_T_TIMETZ:
	case PGW_T_INTERVAL: return CH_AS_TEXT;
	case PGW_T_DATE:
	case PGW_T_TIMESTAMP:
	case PGW_T_TIMESTAMPTZ: return f->modern ? CH_AS_VALUE : CH_AS_TEXT; /* no Date32/DateTime64 before 22.x */
	default: return CH_AS_VALUE;
	}
}

static void escaped(struct pgw_buf *b, const char *s, size_t len, char quote)
{
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (ch == quote || ch == '\\')
			pgw_buf_add(b, "\\", 1);
		pgw_buf_add(b, &ch, 1);
	}
}

void pgw_ch_ident(struct pgw_buf *b, const char *s)
{
	pgw_buf_add(b, "`", 1);
	escaped(b, s, strlen(s), '`');
	pgw_buf_add(b, "`", 1);
}

void pgw_ch_literal(struct pgw_buf *b, const char *s, size_t len)
{
	pgw_buf_add(b, "'", 1);
	escaped(b, s, len, '\'');
	pgw_buf_add(b, "'", 1);
}

static void scalar_type(struct pgw_buf *b, const struct ch_features *f, const struct pgw_typeinfo *ti)
{
	static const char *const names[] = {
		[PGW_T_INT16] = "Int16",
		[PGW_T_INT32] = "Int32",
		[PGW_T_INT64] = "Int64",
		[PGW_T_FLOAT32] = "Float32",
		[PGW_T_FLOAT64] = "Float64",
		[PGW_T_TEXT] = "String",
		[PGW_T_BYTES] = "String",
		[PGW_T_UUID] = "UUID",
		[PGW_T_DATE] = "Date32",
		[PGW_T_TIMESTAMP] = "DateTime64(6, 'UTC')",
		[PGW_T_TIMESTAMPTZ] = "DateTime64(6, 'UTC')",
	};
	if (pgw_ch_store(f, ti->type) == CH_AS_TEXT) {
		pgw_buf_puts(b, "String");
		return;
	}
	switch (ti->type) {
	case PGW_T_TEXT:
		if (f->modern && ti->precision > 38 && ti->precision <= 76) { /* Decimal256 */
			pgw_buf_printf(b, "Decimal(%d, %d)", ti->precision, ti->scale);
			return;
		}
		pgw_buf_puts(b, "String");
		return;
	case PGW_T_BOOL: pgw_buf_puts(b, f->modern ? "Bool" : "UInt8"); return;
	case PGW_T_DECIMAL: pgw_buf_printf(b, "Decimal(%d, %d)", ti->precision, ti->scale); return;
	case PGW_T_JSON:
		pgw_buf_puts(b, "String"); /* see docs/clickhouse.md: the JSON type does not keep values exactly */
		return;
	case PGW_T_ENUM:
		pgw_buf_puts(b, ti->nlabels < 128 ? "Enum8(" : "Enum16(");
		for (int i = 0; i < ti->nlabels; i++) {
			pgw_buf_puts(b, i ? ", " : "");
			pgw_ch_literal(b, ti->labels[i], strlen(ti->labels[i]));
			pgw_buf_printf(b, " = %d", i + 1);
		}
		pgw_buf_puts(b, ")");
		return;
	default: pgw_buf_puts(b, names[ti->type]);
	}
}

void pgw_ch_type_sql(struct pgw_buf *b, const struct ch_features *f, const struct pgw_coldef *col)
{
	const struct pgw_typeinfo *ti = &col->ti;
	if (ti->type == PGW_T_LIST) { /* arrays cannot be Nullable: a NULL array arrives as [] */
		pgw_buf_puts(b, "Array(Nullable(");
		if (ti->elem->type == PGW_T_ENUM && !f->modern)
			pgw_buf_puts(b, "String"); /* 18.x cannot print a NULL inside Array(Nullable(Enum)) */
		else
			scalar_type(b, f, ti->elem);
		pgw_buf_puts(b, "))");
		return;
	}
	if (!col->notnull)
		pgw_buf_puts(b, "Nullable(");
	scalar_type(b, f, ti);
	if (!col->notnull)
		pgw_buf_puts(b, ")");
}

/* ---- TSV ---- */

static void tsv_string(struct pgw_buf *b, const char *s, size_t len)
{
	pgw_buf_reserve(b, len + 16);
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		const char *rep = NULL;
		switch (s[i]) {
		case '\\': rep = "\\\\"; break;
		case '\t': rep = "\\t"; break;
		case '\n': rep = "\\n"; break;
		case '\r': rep = "\\r"; break;
		case '\0': rep = "\\0"; break;
		case '\b': rep = "\\b"; break;
		case '\f': rep = "\\f"; break;
		default: continue;
		}
		pgw_buf_add(b, s + start, i - start);
		pgw_buf_puts(b, rep);
		start = i + 1;
	}
	pgw_buf_add(b, s + start, len - start);
}

/* A string inside an array: quoted, with the same escapes plus \' */
static void quoted_string(struct pgw_buf *b, const char *s, size_t len)
{
	pgw_buf_add(b, "'", 1);
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '\'')
			continue;
		tsv_string(b, s + start, i - start);
		pgw_buf_puts(b, "\\'");
		start = i + 1;
	}
	tsv_string(b, s + start, len - start);
	pgw_buf_add(b, "'", 1);
}

struct enc {
	const struct ch_features *f;
	const char *col;
	struct pgw_err *err;
	struct pgw_buf tmp;
};

static int out_of_range(struct enc *e, const char *what)
{
	return pgw_err_set(e->err, PGW_ERR_DATA,
			   "column \"%s\" holds %s, outside ClickHouse's %s range (1900-01-01 to 2299-12-31); "
			   "it cannot be stored exactly",
			   e->col, what, "Date32/DateTime64");
}

/* PostgreSQL's text form for values kept as text */
static void pg_text(struct pgw_buf *b, const struct pgw_typeinfo *ti, const void *v)
{
	switch (ti->type) {
	case PGW_T_DATE: {
		int32_t d = *(const int32_t *)v;
		if (!pgw_fmt_date(b, d, true))
			pgw_buf_puts(b, d == PGW_DATE_INF ? "infinity" : "-infinity");
		return;
	}
	case PGW_T_TIMESTAMP:
	case PGW_T_TIMESTAMPTZ: {
		int64_t t = *(const int64_t *)v;
		if (ti->type == PGW_T_TIMESTAMPTZ && t != PGW_TS_INF && t != PGW_TS_NINF) {
			/* keep the BC marker after the offset, as PostgreSQL prints it */
			struct pgw_buf tmp;
			pgw_buf_init(&tmp);
			pgw_fmt_timestamp(&tmp, t, true, true);
			bool bc = tmp.len > 3 && !strcmp(tmp.data + tmp.len - 3, " BC");
			pgw_buf_add(b, tmp.data, bc ? tmp.len - 3 : tmp.len);
			pgw_buf_puts(b, bc ? "+00 BC" : "+00");
			pgw_buf_cleanup(&tmp);
		} else if (!pgw_fmt_timestamp(b, t, true, true)) {
			pgw_buf_puts(b, t == PGW_TS_INF ? "infinity" : "-infinity");
		}
		return;
	}
	case PGW_T_TIME: pgw_fmt_time(b, *(const int64_t *)v, true); return;
	case PGW_T_TIMETZ: {
		const struct pgw_timetz *t = v;
		pgw_fmt_time(b, t->micros, true);
		pgw_fmt_offset(b, t->offset);
		return;
	}
	default: pgw_fmt_interval(b, v);
	}
}

#define CH_MIN_DAYS (-25567) /* 1900-01-01 */
#define CH_MAX_DAYS 120529   /* 2299-12-31 */

/* One non-NULL value in the text ClickHouse parses; quoted inside arrays. */
static int value(struct enc *e, struct pgw_buf *b, const struct pgw_column *c, size_t i, bool in_array)
{
	const struct pgw_typeinfo *ti = c->type;
	const char *p = (const char *)c->data + i * pgw_type_width(ti->type);
	if (pgw_ch_store(e->f, ti->type) == CH_AS_TEXT) {
		pgw_buf_reset(&e->tmp);
		pg_text(&e->tmp, ti, p);
		if (in_array)
			quoted_string(b, e->tmp.data, e->tmp.len);
		else
			tsv_string(b, e->tmp.data, e->tmp.len);
		return 0;
	}
	switch (ti->type) {
	case PGW_T_BOOL: pgw_buf_puts(b, *p ? (e->f->modern ? "true" : "1") : (e->f->modern ? "false" : "0")); return 0;
	case PGW_T_INT16: pgw_fmt_int(b, *(const int16_t *)p); return 0;
	case PGW_T_INT32: pgw_fmt_int(b, *(const int32_t *)p); return 0;
	case PGW_T_INT64: pgw_fmt_int(b, *(const int64_t *)p); return 0;
	case PGW_T_FLOAT32: pgw_fmt_float(b, *(const float *)p); return 0;
	case PGW_T_FLOAT64: {
		double d = *(const double *)p;
		/* found by verify: 18.x servers read 5e-324 (the smallest double, the one value whose
		 * shortest text has exponent -324) as 0 */
		if (!e->f->modern && fabs(d) == 4.9406564584124654e-324)
			return pgw_err_set(
				e->err, PGW_ERR_DATA,
				"column \"%s\" holds %s, which ClickHouse servers before 22.3 read as 0; "
				"it cannot be stored exactly there (upgrade the server, or change the value)",
				e->col, d < 0 ? "-5e-324" : "5e-324");
		pgw_fmt_double(b, d);
		return 0;
	}
	case PGW_T_DECIMAL: pgw_fmt_decimal(b, *(const pgw_int128 *)p, ti->scale); return 0;
	case PGW_T_TEXT:
	case PGW_T_BYTES:
	case PGW_T_JSON: {
		size_t len;
		const char *s = pgw_col_str(c, i, &len);
		if (in_array)
			quoted_string(b, s, len);
		else
			tsv_string(b, s, len);
		return 0;
	}
	case PGW_T_ENUM: {
		const char *label = ti->labels[*(const uint32_t *)p];
		if (in_array)
			quoted_string(b, label, strlen(label));
		else
			tsv_string(b, label, strlen(label));
		return 0;
	}
	default: break;
	}
	const char *q = in_array ? "'" : "";
	pgw_buf_puts(b, q);
	if (ti->type == PGW_T_UUID) {
		pgw_fmt_uuid(b, (const unsigned char *)p);
	} else if (ti->type == PGW_T_DATE) {
		int32_t d = *(const int32_t *)p;
		if (d < CH_MIN_DAYS || d > CH_MAX_DAYS)
			return out_of_range(e, "a date");
		pgw_fmt_date(b, d, false);
	} else {
		int64_t t = *(const int64_t *)p;
		if (t < (int64_t)CH_MIN_DAYS * 86400000000LL || t >= (int64_t)(CH_MAX_DAYS + 1) * 86400000000LL)
			return out_of_range(e, "a timestamp");
		pgw_fmt_timestamp(b, t, false, false);
	}
	pgw_buf_puts(b, q);
	return 0;
}

static int field(struct enc *e, struct pgw_buf *b, const struct pgw_column *c, size_t i)
{
	if (c->type->type != PGW_T_LIST) {
		if (!c->valid[i]) {
			pgw_buf_puts(b, "\\N");
			return 0;
		}
		return value(e, b, c, i, false);
	}
	pgw_buf_puts(b, "[");
	if (c->valid[i]) {
		const struct pgw_list_entry *le = (const struct pgw_list_entry *)c->data + i;
		for (uint32_t k = 0; k < le->len; k++) {
			if (k)
				pgw_buf_puts(b, ",");
			if (!c->child->valid[le->off + k])
				pgw_buf_puts(b, "NULL");
			else if (value(e, b, c->child, le->off + k, true) < 0)
				return -1;
		}
	}
	pgw_buf_puts(b, "]");
	return 0;
}

int pgw_ch_tsv(struct pgw_buf *out, const struct pgw_batch *b, const struct pgw_table_def *def,
	       const struct ch_features *f, struct pgw_err *err)
{
	struct enc e = {.f = f, .err = err};
	pgw_buf_init(&e.tmp);
	int rc = 0;
	for (size_t r = 0; r < b->rows && rc == 0; r++) {
		for (int c = 0; c < b->ncols && rc == 0; c++) {
			if (c)
				pgw_buf_add(out, "\t", 1);
			e.col = def->cols[c].name;
			rc = field(&e, out, &b->cols[c], r);
		}
		pgw_buf_add(out, "\n", 1);
	}
	pgw_buf_cleanup(&e.tmp);
	return rc;
}

void pgw_ch_error_text(const char *body, char *out, size_t outsz)
{
	const char *code = strstr(body, "Code: ");
	const char *msg = strstr(body, "DB::Exception: ");
	int n = code ? atoi(code + 6) : 0;
	if (!msg) {
		snprintf(out, outsz, "%.*s", (int)strcspn(body, "\n"), body);
		return;
	}
	msg += strlen("DB::Exception: ");
	size_t len = strcspn(msg, "\n");
	const char *tail[] = {", e.what() = ", " (version ", ". Stack trace"};
	for (size_t i = 0; i < sizeof(tail) / sizeof(tail[0]); i++) {
		const char *t = strstr(msg, tail[i]);
		if (t && (size_t)(t - msg) < len)
			len = (size_t)(t - msg);
	}
	snprintf(out, outsz, "Code %d: %.*s", n, (int)len, msg);
}
