/* ClickHouse types for PostgreSQL columns, identifier/literal quoting, and the text kept for the
 * types an old server lacks. */
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
	f->lwdelete = v >= 2404;
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

bool pgw_ch_decimal256(const struct ch_features *f, const struct pgw_typeinfo *ti)
{
	return f->modern && ti->type == PGW_T_TEXT && ti->precision > 38 && ti->precision <= 76;
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
		if (pgw_ch_decimal256(f, ti)) {
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

/* PostgreSQL's text form for values kept as text */
void pgw_ch_pg_text(struct pgw_buf *b, const struct pgw_typeinfo *ti, const void *v)
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
			size_t start = b->len;
			pgw_fmt_timestamp(b, t, true, true);
			bool bc = b->len - start > 3 && !memcmp(b->data + b->len - 3, " BC", 3);
			b->len -= bc ? 3 : 0;
			pgw_buf_add(b, bc ? "+00 BC" : "+00", bc ? 6 : 3);
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

int pgw_ch_out_of_range(struct pgw_err *err, const char *col, const char *what)
{
	return pgw_err_set(err, PGW_ERR_DATA,
			   "column \"%s\" holds %s, outside ClickHouse's %s range (1900-01-01 to 2299-12-31); "
			   "it cannot be stored exactly",
			   col, what, "Date32/DateTime64");
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
