/* Text forms of canonical values (see format.h). */
#include "batch/format.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pgw_fmt_int(struct pgw_buf *b, int64_t v)
{
	char tmp[24];
	int n = sizeof(tmp);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	do {
		tmp[--n] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[--n] = '-';
	pgw_buf_add(b, tmp + n, sizeof(tmp) - (size_t)n);
}

void pgw_fmt_decimal(struct pgw_buf *b, pgw_int128 v, int scale)
{
	char tmp[48];
	int n = sizeof(tmp);
	unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
	int written = 0;
	do {
		if (written == scale && scale > 0)
			tmp[--n] = '.';
		tmp[--n] = (char)('0' + (int)(u % 10));
		u /= 10;
		written++;
	} while (u || written <= scale);
	if (v < 0)
		tmp[--n] = '-';
	pgw_buf_add(b, tmp + n, sizeof(tmp) - (size_t)n);
}

void pgw_fmt_uuid(struct pgw_buf *b, const unsigned char *u)
{
	static const char hex[] = "0123456789abcdef";
	char out[36];
	int o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[u[i] >> 4];
		out[o++] = hex[u[i] & 15];
	}
	pgw_buf_add(b, out, 36);
}

void pgw_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Writes exactly `width` digits of v (zero-padded) at o; these run per value, so no printf */
static size_t put_digits(char *o, uint64_t v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		o[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return (size_t)width;
}

/* YYYY-MM-DD (more digits past 9999, a sign before year 0) at o, at most 14 bytes */
static size_t ymd_text(char *o, int64_t days, bool bc_suffix, bool *bc)
{
	int64_t y;
	unsigned m, d;
	pgw_civil_from_days(days, &y, &m, &d);
	*bc = bc_suffix && y <= 0;
	if (*bc)
		y = 1 - y;
	size_t n = 0;
	if (y < 0)
		o[n++] = '-';
	uint64_t ay = (uint64_t)(y < 0 ? -y : y);
	int width = 4; /* PostgreSQL's dates reach year 5874897: up to 7 digits */
	for (uint64_t top = 10000; ay >= top && width < 7; top *= 10)
		width++;
	n += put_digits(o + n, ay, width);
	o[n++] = '-';
	n += put_digits(o + n, m, 2);
	o[n++] = '-';
	n += put_digits(o + n, d, 2);
	return n;
}

/* Consecutive timestamps mostly fall on the same day: each thread formats a day once (the
 * calendar arithmetic and the digits were a fifth of pgwarehouse's CPU into ClickHouse 18.16, which
 * keeps timestamps as text) */
static _Thread_local struct {
	int64_t days;
	bool bc_suffix, bc;
	size_t len; /* 0: nothing cached */
	char text[16];
} last_day;

static void fmt_ymd(struct pgw_buf *b, int64_t days, bool bc_suffix, bool *bc)
{
	if (!last_day.len || last_day.days != days || last_day.bc_suffix != bc_suffix) {
		last_day.len = ymd_text(last_day.text, days, bc_suffix, &last_day.bc);
		last_day.days = days;
		last_day.bc_suffix = bc_suffix;
	}
	*bc = last_day.bc;
	pgw_buf_add(b, last_day.text, last_day.len);
}

bool pgw_fmt_date(struct pgw_buf *b, int32_t days, bool bc_suffix)
{
	if (days == PGW_DATE_INF || days == PGW_DATE_NINF)
		return false;
	bool bc;
	fmt_ymd(b, days, bc_suffix, &bc);
	if (bc)
		pgw_buf_puts(b, " BC");
	return true;
}

void pgw_fmt_time(struct pgw_buf *b, int64_t micros, bool trim)
{
	char o[24];
	int64_t s = micros / 1000000, f = micros % 1000000;
	size_t n = put_digits(o, (uint64_t)(s / 3600), 2);
	o[n++] = ':';
	n += put_digits(o + n, (uint64_t)(s / 60 % 60), 2);
	o[n++] = ':';
	n += put_digits(o + n, (uint64_t)(s % 60), 2);
	if (f || !trim) {
		int width = 6;
		while (trim && width > 1 && f % 10 == 0) {
			f /= 10;
			width--;
		}
		o[n++] = '.';
		n += put_digits(o + n, (uint64_t)f, width);
	}
	pgw_buf_add(b, o, n);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

bool pgw_fmt_timestamp(struct pgw_buf *b, int64_t micros, bool bc_suffix, bool trim)
{
	if (micros == PGW_TS_INF || micros == PGW_TS_NINF)
		return false;
	int64_t days = floor_div(micros, 86400000000LL);
	bool bc;
	fmt_ymd(b, days, bc_suffix, &bc);
	pgw_buf_puts(b, " ");
	pgw_fmt_time(b, micros - days * 86400000000LL, trim);
	if (bc)
		pgw_buf_puts(b, " BC");
	return true;
}

void pgw_fmt_offset(struct pgw_buf *b, int32_t secs)
{
	char sign = secs < 0 ? '-' : '+';
	int32_t a = secs < 0 ? -secs : secs;
	/* as PostgreSQL prints it: +05, +05:30, +05:30:15 */
	pgw_buf_printf(b, "%c%02d", sign, a / 3600);
	if (a % 3600)
		pgw_buf_printf(b, ":%02d", a / 60 % 60);
	if (a % 60)
		pgw_buf_printf(b, ":%02d", a % 60);
}

void pgw_fmt_interval(struct pgw_buf *b, const struct pgw_interval *iv)
{
	pgw_buf_puts(b, "P");
	int32_t years = iv->months / 12, months = iv->months % 12;
	if (years)
		pgw_buf_printf(b, "%dY", years);
	if (months)
		pgw_buf_printf(b, "%dM", months);
	if (iv->days)
		pgw_buf_printf(b, "%dD", iv->days);
	int64_t us = iv->micros;
	if (us || (!iv->months && !iv->days)) {
		pgw_buf_puts(b, "T");
		int64_t h = us / 3600000000LL, m = us / 60000000LL % 60, s = us % 60000000LL;
		if (h)
			pgw_buf_printf(b, "%lldH", (long long)h);
		if (m)
			pgw_buf_printf(b, "%lldM", (long long)m);
		if (s || (!h && !m)) {
			pgw_buf_printf(b, "%s%lld", s < 0 ? "-" : "", (long long)llabs(s / 1000000));
			if (s % 1000000) {
				char frac[8];
				snprintf(frac, sizeof(frac), "%06lld", (long long)llabs(s % 1000000));
				for (int i = 5; i > 0 && frac[i] == '0'; i--)
					frac[i] = '\0';
				pgw_buf_printf(b, ".%s", frac);
			}
			pgw_buf_puts(b, "S");
		}
	}
}

static bool special(struct pgw_buf *b, double v)
{
	if (isnan(v))
		pgw_buf_puts(b, "nan");
	else if (isinf(v))
		pgw_buf_puts(b, v > 0 ? "inf" : "-inf");
	else
		return false;
	return true;
}

void pgw_fmt_double(struct pgw_buf *b, double v)
{
	if (special(b, v))
		return;
	char tmp[40];
	for (int prec = 15; prec <= 17; prec++) { /* shortest precision that reads back the same */
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	pgw_buf_puts(b, tmp);
}

/* Whether text t lies strictly inside v's rounding interval. A text on its bound reads back as v
 * only because strtof rounds the tie to even; PostgreSQL's shortest digits (Ryu) never take a
 * bound, and a double column reads the bound as another value (3.934159e+07 for the real
 * 39341592, whose PostgreSQL text is 3.9341592e+07). The bounds, halfway to the neighbours, are
 * exact in a double. */
static bool inside_float_interval(const char *t, float v)
{
	double d = strtod(t, NULL);
	double lo = ((double)v + (double)nextafterf(v, -INFINITY)) / 2;
	double hi = ((double)v + (double)nextafterf(v, INFINITY)) / 2;
	return d > lo && d < hi;
}

void pgw_fmt_float(struct pgw_buf *b, float v)
{
	if (special(b, v))
		return;
	char tmp[32];
	/* the shortest digits inside its rounding interval (PostgreSQL's text of it), which a double
	 * column then holds: a normal float's shortest never needs fewer than the six rounded ones
	 * (trailing zeros dropped); a subnormal's six are more than its precision (1e-40, not
	 * 9.99995e-41) */
	for (int prec = fabsf(v) < FLT_MIN ? 1 : 6; prec <= 9; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, (double)v);
		if (inside_float_interval(tmp, v))
			break;
	}
	pgw_buf_puts(b, tmp);
}
