/* Text forms of canonical batch values, shared by the sinks that load text (Snowflake's CSV,
 * ClickHouse's columns kept as text). Each appends to a buffer; none writes a
 * terminator. */
#ifndef PGW_FORMAT_H
#define PGW_FORMAT_H

#include "batch/batch.h"
#include "core/buf.h"

/* "-123" */
void pgw_fmt_int(struct pgw_buf *b, int64_t v);
/* "-123.45" from a scaled integer */
void pgw_fmt_decimal(struct pgw_buf *b, pgw_int128 v, int scale);
/* "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" */
void pgw_fmt_uuid(struct pgw_buf *b, const unsigned char *u);
/* days since 1970 -> "2024-02-29"; years before 1 as "0044-03-15 BC" when bc_suffix, else
 * astronomical ("-0043-03-15"); returns false for +-infinity (nothing appended) */
bool pgw_fmt_date(struct pgw_buf *b, int32_t days, bool bc_suffix);
/* microseconds since midnight -> "23:59:59.999999"; trim: no trailing zeros in the fraction */
void pgw_fmt_time(struct pgw_buf *b, int64_t micros, bool trim);
/* microseconds since 1970 -> "2024-01-01 12:34:56.123456"; false for +-infinity */
bool pgw_fmt_timestamp(struct pgw_buf *b, int64_t micros, bool bc_suffix, bool trim);
/* seconds east of UTC -> "+05:30" */
void pgw_fmt_offset(struct pgw_buf *b, int32_t secs);
/* ISO 8601 duration with PostgreSQL's iso_8601 style: "P1Y2M3DT4H5M6.5S", "PT0S" */
void pgw_fmt_interval(struct pgw_buf *b, const struct pgw_interval *iv);
/* shortest text that reads back as the same double / float (a float's: PostgreSQL's, strictly
 * inside its rounding interval, so a double column reads the same value); "nan", "inf", "-inf" */
void pgw_fmt_double(struct pgw_buf *b, double v);
void pgw_fmt_float(struct pgw_buf *b, float v);
/* y-m-d of days since 1970 (proleptic Gregorian, astronomical years) */
void pgw_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

#endif
