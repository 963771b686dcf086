/* PostgreSQL text output (as COPY ... CSV writes it under the session settings of pg.c:
 * DateStyle ISO, IntervalStyle iso_8601, TimeZone UTC) decoded into batch columns.
 * Used by `load`, which reads the files `extract` wrote. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/pg.h"

struct tctx {
	const char *col;
	struct pgw_err *err;
};

static int bad(struct tctx *t, const char *what, const char *s, size_t len)
{
	return pgw_err_set(t->err, PGW_ERR_DATA, "column \"%s\": cannot read %s from \"%.*s\"", t->col, what,
			   (int)(len > 60 ? 60 : len), s);
}

/* Parses digits [p, end) as a number; returns false when none or on overflow. */
static bool digits(const char **p, const char *end, int64_t *out, int *ndig)
{
	int64_t v = 0;
	int n = 0;
	while (*p < end && isdigit((unsigned char)**p)) {
		if (v > (INT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	*out = v;
	if (ndig)
		*ndig = n;
	return n > 0;
}

static bool expect(const char **p, const char *end, char c)
{
	if (*p < end && **p == c) {
		(*p)++;
		return true;
	}
	return false;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (astronomical year numbering). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static bool parse_date(const char **p, const char *end, int64_t *days)
{
	int64_t y, m, d;
	if (!digits(p, end, &y, NULL) || !expect(p, end, '-') || !digits(p, end, &m, NULL) || !expect(p, end, '-') ||
	    !digits(p, end, &d, NULL) || m < 1 || m > 12 || d < 1 || d > 31)
		return false;
	*days = days_from_civil(y, m, d);
	return true;
}

/* "HH:MM:SS[.ffffff]" -> microseconds */
static bool parse_time(const char **p, const char *end, int64_t *micros)
{
	int64_t h, m, s, frac = 0;
	int n = 0;
	if (!digits(p, end, &h, NULL) || !expect(p, end, ':') || !digits(p, end, &m, NULL) || !expect(p, end, ':') ||
	    !digits(p, end, &s, NULL))
		return false;
	if (expect(p, end, '.') && (!digits(p, end, &frac, &n) || n > 6))
		return false;
	while (n++ < 6)
		frac *= 10;
	*micros = ((h * 60 + m) * 60 + s) * 1000000 + frac;
	return true;
}

/* "+HH[:MM[:SS]]" -> seconds east of UTC */
static bool parse_offset(const char **p, const char *end, int32_t *secs)
{
	if (*p >= end || (**p != '+' && **p != '-'))
		return false;
	int sign = **p == '-' ? -1 : 1;
	(*p)++;
	int64_t h, m = 0, s = 0;
	if (!digits(p, end, &h, NULL))
		return false;
	if (expect(p, end, ':') && !digits(p, end, &m, NULL))
		return false;
	if (expect(p, end, ':') && !digits(p, end, &s, NULL))
		return false;
	*secs = (int32_t)(sign * (h * 3600 + m * 60 + s));
	return true;
}

static bool is_bc(const char **p, const char *end)
{
	if (end - *p == 3 && !memcmp(*p, " BC", 3)) {
		*p += 3;
		return true;
	}
	return false;
}

static bool infinity(const char *s, size_t len, int *sign)
{
	if (len == 8 && !memcmp(s, "infinity", 8))
		*sign = 1;
	else if (len == 9 && !memcmp(s, "-infinity", 9))
		*sign = -1;
	else
		return false;
	return true;
}

static int decode_date(struct tctx *t, const char *s, size_t len, struct pgw_column *c)
{
	const char *p = s, *end = s + len;
	int sign;
	int64_t days;
	if (infinity(s, len, &sign)) {
		*(int32_t *)pgw_col_push(c) = sign > 0 ? PGW_DATE_INF : PGW_DATE_NINF;
		return 0;
	}
	/* BC years: year N BC is astronomical year 1 - N, so re-parse with the year adjusted */
	if (!parse_date(&p, end, &days))
		return bad(t, "a date", s, len);
	if (is_bc(&p, end)) {
		int64_t y = atoll(s);
		days = days_from_civil(1 - y, atoll(strchr(s, '-') + 1), atoll(strrchr(s, '-') + 1));
	}
	if (p != end)
		return bad(t, "a date", s, len);
	*(int32_t *)pgw_col_push(c) = (int32_t)days;
	return 0;
}

static int decode_timestamp(struct tctx *t, const char *s, size_t len, struct pgw_column *c, bool tz)
{
	const char *p = s, *end = s + len;
	int sign;
	if (infinity(s, len, &sign)) {
		*(int64_t *)pgw_col_push(c) = sign > 0 ? PGW_TS_INF : PGW_TS_NINF;
		return 0;
	}
	int64_t days, micros;
	int32_t off = 0;
	if (!parse_date(&p, end, &days) || !expect(&p, end, ' ') || !parse_time(&p, end, &micros) ||
	    (tz && !parse_offset(&p, end, &off)))
		return bad(t, "a timestamp", s, len);
	if (is_bc(&p, end)) {
		int64_t y = atoll(s);
		const char *m = strchr(s, '-') + 1;
		days = days_from_civil(1 - y, atoll(m), atoll(strchr(m, '-') + 1));
	}
	if (p != end)
		return bad(t, "a timestamp", s, len);
	int64_t v;
	if (__builtin_mul_overflow(days, 86400000000LL, &v) || __builtin_add_overflow(v, micros, &v) ||
	    __builtin_sub_overflow(v, (int64_t)off * 1000000, &v) || v == PGW_TS_INF || v == PGW_TS_NINF)
		return pgw_err_set(t->err, PGW_ERR_DATA, "column \"%s\": timestamp \"%.*s\" " PGW_TS_RANGE_ERROR,
				   t->col, (int)(len > 60 ? 60 : len), s);
	*(int64_t *)pgw_col_push(c) = v;
	return 0;
}

static int decode_timetz(struct tctx *t, const char *s, size_t len, struct pgw_column *c, bool tz)
{
	const char *p = s, *end = s + len;
	int64_t micros;
	int32_t off = 0;
	if (!parse_time(&p, end, &micros) || (tz && !parse_offset(&p, end, &off)) || p != end)
		return bad(t, tz ? "a time with time zone" : "a time", s, len);
	if (tz) {
		struct pgw_timetz *v = pgw_col_push(c);
		v->micros = micros;
		v->offset = off;
	} else {
		*(int64_t *)pgw_col_push(c) = micros;
	}
	return 0;
}

/* ISO 8601 "P1Y2M3DT4H5M6.5S" with signed parts, as IntervalStyle iso_8601 prints */
static int decode_interval(struct tctx *t, const char *s, size_t len, struct pgw_column *c)
{
	const char *p = s, *end = s + len;
	struct pgw_interval v = {0};
	bool in_time = false;
	if (!expect(&p, end, 'P'))
		return bad(t, "an interval", s, len);
	while (p < end) {
		if (expect(&p, end, 'T')) {
			in_time = true;
			continue;
		}
		char *q;
		errno = 0;
		double num = strtod(p, &q);
		if (q == p || q >= end || errno)
			return bad(t, "an interval", s, len);
		int64_t whole = (int64_t)num;
		char unit = *q;
		p = q + 1;
		if (!in_time && unit == 'Y')
			v.months += (int32_t)(whole * 12);
		else if (!in_time && unit == 'M')
			v.months += (int32_t)whole;
		else if (!in_time && unit == 'D')
			v.days += (int32_t)whole;
		else if (in_time && unit == 'H')
			v.micros += whole * 3600000000LL;
		else if (in_time && unit == 'M')
			v.micros += whole * 60000000LL;
		else if (in_time && unit == 'S')
			v.micros += (int64_t)llround(num * 1e6);
		else
			return bad(t, "an interval", s, len);
	}
	*(struct pgw_interval *)pgw_col_push(c) = v;
	return 0;
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

static int decode_uuid(struct tctx *t, const char *s, size_t len, struct pgw_column *c)
{
	unsigned char out[16];
	int n = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '-')
			continue;
		int hi = hexval((unsigned char)s[i]), lo = i + 1 < len ? hexval((unsigned char)s[i + 1]) : -1;
		if (hi < 0 || lo < 0 || n == 16)
			return bad(t, "a uuid", s, len);
		out[n++] = (unsigned char)(hi << 4 | lo);
		i++;
	}
	if (n != 16)
		return bad(t, "a uuid", s, len);
	memcpy(pgw_col_push(c), out, 16);
	return 0;
}

static int decode_bytea(struct tctx *t, const char *s, size_t len, struct pgw_column *c)
{
	if (len < 2 || s[0] != '\\' || s[1] != 'x' || len % 2)
		return bad(t, "bytea (hex format)", s, len);
	size_t n = (len - 2) / 2;
	char *tmp = pgw_malloc(n);
	for (size_t i = 0; i < n; i++) {
		int hi = hexval((unsigned char)s[2 + 2 * i]), lo = hexval((unsigned char)s[3 + 2 * i]);
		if (hi < 0 || lo < 0) {
			free(tmp);
			return bad(t, "bytea (hex format)", s, len);
		}
		tmp[i] = (char)(hi << 4 | lo);
	}
	pgw_col_push_str(c, tmp, n);
	free(tmp);
	return 0;
}

static int decode_decimal(struct tctx *t, const struct pgw_typeinfo *ti, const char *s, size_t len,
			  struct pgw_column *c)
{
	const char *p = s, *end = s + len;
	bool neg = expect(&p, end, '-');
	pgw_int128 v = 0;
	int frac = -1, nd = 0;
	for (; p < end; p++) {
		if (*p == '.' && frac < 0) {
			frac = 0;
			continue;
		}
		if (!isdigit((unsigned char)*p) || ++nd > 38)
			return bad(t, "a decimal", s, len);
		if (frac >= 0 && ++frac > ti->scale)
			return bad(t, "a decimal of this scale", s, len);
		v = v * 10 + (*p - '0');
	}
	if (nd == 0)
		return bad(t, "a decimal", s, len);
	for (int i = frac < 0 ? 0 : frac; i < ti->scale; i++)
		v *= 10;
	*(pgw_int128 *)pgw_col_push(c) = neg ? -v : v;
	return 0;
}

static int decode_int(struct tctx *t, const struct pgw_typeinfo *ti, const char *s, size_t len, struct pgw_column *c)
{
	char buf[32];
	if (len == 0 || len >= sizeof(buf))
		return bad(t, "an integer", s, len);
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *e;
	errno = 0;
	long long v = strtoll(buf, &e, 10);
	if (*e || errno)
		return bad(t, "an integer", s, len);
	if (ti->type == PGW_T_INT16)
		*(int16_t *)pgw_col_push(c) = (int16_t)v;
	else if (ti->type == PGW_T_INT32)
		*(int32_t *)pgw_col_push(c) = (int32_t)v;
	else
		*(int64_t *)pgw_col_push(c) = v;
	return 0;
}

static int decode_float(struct tctx *t, const struct pgw_typeinfo *ti, const char *s, size_t len, struct pgw_column *c)
{
	char buf[64];
	if (len == 0 || len >= sizeof(buf))
		return bad(t, "a float", s, len);
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *e;
	double v = strtod(buf, &e); /* accepts NaN, Infinity, -Infinity */
	if (*e)
		return bad(t, "a float", s, len);
	if (ti->type == PGW_T_FLOAT32)
		*(float *)pgw_col_push(c) = strtof(buf, NULL);
	else
		*(double *)pgw_col_push(c) = v;
	return 0;
}

static int decode_list(struct tctx *t, const struct pgw_typeinfo *ti, const char *s, size_t len, struct pgw_column *c);

int pgw_text_decode(const char *colname, const struct pgw_typeinfo *ti, const char *s, size_t len, struct pgw_column *c,
		    struct pgw_err *err)
{
	struct tctx t = {colname, err};
	switch (ti->type) {
	case PGW_T_BOOL:
		if (len != 1 || (s[0] != 't' && s[0] != 'f'))
			return bad(&t, "a boolean", s, len);
		*(uint8_t *)pgw_col_push(c) = s[0] == 't';
		return 0;
	case PGW_T_INT16:
	case PGW_T_INT32:
	case PGW_T_INT64: return decode_int(&t, ti, s, len, c);
	case PGW_T_FLOAT32:
	case PGW_T_FLOAT64: return decode_float(&t, ti, s, len, c);
	case PGW_T_DECIMAL: return decode_decimal(&t, ti, s, len, c);
	case PGW_T_TEXT:
	case PGW_T_JSON: pgw_col_push_str(c, s, len); return 0;
	case PGW_T_BYTES: return decode_bytea(&t, s, len, c);
	case PGW_T_UUID: return decode_uuid(&t, s, len, c);
	case PGW_T_DATE: return decode_date(&t, s, len, c);
	case PGW_T_TIME: return decode_timetz(&t, s, len, c, false);
	case PGW_T_TIMETZ: return decode_timetz(&t, s, len, c, true);
	case PGW_T_TIMESTAMP: return decode_timestamp(&t, s, len, c, false);
	case PGW_T_TIMESTAMPTZ: return decode_timestamp(&t, s, len, c, true);
	case PGW_T_INTERVAL: return decode_interval(&t, s, len, c);
	case PGW_T_ENUM: {
		uint32_t idx;
		if (pgw_enum_lookup(ti, s, len, &idx) < 0)
			return bad(&t, "a label of the enum", s, len);
		*(uint32_t *)pgw_col_push(c) = idx;
		return 0;
	}
	case PGW_T_LIST: return decode_list(&t, ti, s, len, c);
	}
	return bad(&t, "a value", s, len);
}

/* One array element: "quoted with \\ escapes", NULL, or bare (backslash escapes allowed). */
static int list_element(struct tctx *t, const struct pgw_typeinfo *elem, const char **p, const char *end,
			struct pgw_column *child, struct pgw_buf *tmp)
{
	while (*p < end && isspace((unsigned char)**p))
		(*p)++;
	pgw_buf_reset(tmp);
	bool quoted = *p < end && **p == '"';
	if (quoted) {
		for ((*p)++; *p < end && **p != '"'; (*p)++) {
			if (**p == '\\' && *p + 1 < end)
				(*p)++;
			pgw_buf_add(tmp, *p, 1);
		}
		if (!expect(p, end, '"'))
			return -1;
	} else {
		if (*p < end && **p == '{')
			return pgw_err_set(t->err, PGW_ERR_DATA,
					   "column \"%s\" holds a multi-dimensional array; only one-dimensional arrays "
					   "map to a list",
					   t->col);
		for (; *p < end && **p != ',' && **p != '}'; (*p)++) {
			if (**p == '\\' && *p + 1 < end)
				(*p)++;
			pgw_buf_add(tmp, *p, 1);
		}
		while (tmp->len && isspace((unsigned char)tmp->data[tmp->len - 1]))
			tmp->data[--tmp->len] = '\0';
		if (tmp->len == 4 && !strncasecmp(tmp->data, "NULL", 4)) {
			pgw_col_push_null(child);
			return 0;
		}
	}
	return pgw_text_decode(t->col, elem, tmp->data ? tmp->data : "", tmp->len, child, t->err);
}

static int decode_list(struct tctx *t, const struct pgw_typeinfo *ti, const char *s, size_t len, struct pgw_column *c)
{
	const char *p = s, *end = s + len;
	if (len && *p == '[') { /* explicit bounds "[0:2]={...}" */
		const char *eq = memchr(s, '=', len);
		if (!eq)
			return bad(t, "an array", s, len);
		p = eq + 1;
	}
	if (!expect(&p, end, '{'))
		return bad(t, "an array", s, len);
	struct pgw_list_entry *e = pgw_col_push(c);
	size_t entry = c->count - 1;
	uint32_t off = (uint32_t)c->child->count, n = 0;
	struct pgw_buf tmp;
	pgw_buf_init(&tmp);
	int rc = 0;
	if (!expect(&p, end, '}')) {
		do {
			rc = list_element(t, ti->elem, &p, end, c->child, &tmp);
			n++;
		} while (rc == 0 && expect(&p, end, ','));
		if (rc == 0 && !expect(&p, end, '}'))
			rc = -1;
	}
	pgw_buf_cleanup(&tmp);
	if (rc < 0 && t->err && !t->err->msg[0])
		bad(t, "an array", s, len);
	if (rc < 0)
		return -1;
	e = (struct pgw_list_entry *)c->data + entry; /* the push may have moved it */
	e->off = off;
	e->len = n;
	return p == end ? 0 : bad(t, "an array", s, len);
}
