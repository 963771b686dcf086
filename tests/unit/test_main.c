/* Unit tests: config parsing, reload rules, quoting, binary COPY decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch/batch.h"
#include "core/pghash.h"
#include "batch/format.h"
#include "config/config.h"
#include "config/yamltree.h"
#include "core/buf.h"
#include "source/pg.h"

static char *write_temp(const char *text)
{
	char *path = strdup("/tmp/pgw-unit-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static int load(const char *text, struct pgw_config *cfg, struct pgw_err *err)
{
	char *path = write_temp(text);
	struct pgw_cli_overrides over = {.config_path = path};
	int rc = pgw_config_load(cfg, &over, err);
	unlink(path);
	free(path);
	return rc;
}

static void test_config_tables(void **state)
{
	(void)state;
	struct pgw_config cfg;
	struct pgw_err err = {0};
	int rc = load(
		"postgres:\n  pghost: db.example\n  pgport: 6543\n  max_records: 10\n"
		"warehouse:\n  backend: duckdb\n  duckdb_path: /tmp/x.db\n"
		"tables:\n  - accounts\n  - users:\n      reload: true\n  - orders:\n      last_modified: updated_at\n"
		"  - shoppers:\n      last_modified: update_time\n      reload: [sun, thur]\n"
		"  - monthly:\n      reload: 15\n  - original_orders:\n      skip: true\n",
		&cfg, &err);
	assert_int_equal(rc, 0);
	assert_string_equal(cfg.pghost, "db.example");
	assert_string_equal(cfg.pgport, "6543");
	assert_int_equal(cfg.max_records, 10);
	assert_string_equal(cfg.duckdb_path, "/tmp/x.db");
	assert_int_equal(cfg.ntables, 6);
	assert_int_equal(cfg.tables[0].reload, PGW_RELOAD_NEVER);
	assert_int_equal(cfg.tables[1].reload, PGW_RELOAD_ALWAYS);
	assert_string_equal(cfg.tables[2].last_modified, "updated_at");
	assert_int_equal(cfg.tables[3].weekdays, (1u << 0) | (1u << 4));
	assert_int_equal(cfg.tables[4].monthdays, 1u << 15);
	assert_true(cfg.tables[5].skip);
	pgw_config_cleanup(&cfg);
}

static void test_config_errors(void **state)
{
	(void)state;
	struct pgw_config cfg;
	struct pgw_err err = {0};
	assert_int_equal(load("postgres:\n  pghots: x\n", &cfg, &err), -1);
	assert_non_null(strstr(err.msg, ":2: unknown setting `pghots`"));
	pgw_config_cleanup(&cfg);
	assert_int_equal(load("tables:\n  - a:\n      reload: someday\n", &cfg, &err), -1);
	assert_non_null(strstr(err.msg, ":3: reload: `someday`"));
	pgw_config_cleanup(&cfg);
	assert_int_equal(load("postgres: [\n", &cfg, &err), -1);
	assert_non_null(strstr(err.msg, "invalid YAML"));
	pgw_config_cleanup(&cfg);
	assert_int_equal(load("warehouse:\n  backend: oracle\n", &cfg, &err), -1);
	assert_non_null(strstr(err.msg, "unknown backend `oracle`"));
	pgw_config_cleanup(&cfg);
}

static void test_weekdays(void **state)
{
	(void)state;
	assert_int_equal(pgw_weekday_parse("sun"), 0);
	assert_int_equal(pgw_weekday_parse("Thur"), 4);
	assert_int_equal(pgw_weekday_parse("saturday"), 6);
	assert_int_equal(pgw_weekday_parse("sunny"), -1);
	assert_int_equal(pgw_weekday_parse("su"), -1);
	struct pgw_table_conf t = {.reload = PGW_RELOAD_ON_DAYS, .weekdays = 1u << 2};
	time_t tuesday = 1732579200 - 86400 * 1; /* 2024-11-25 00:00 UTC is a Monday; noon keeps the local day */
	tuesday += 86400 + 43200;
	assert_true(pgw_table_reload_due(&t, tuesday));
	assert_false(pgw_table_reload_due(&t, tuesday + 86400));
}

static void test_quoting(void **state)
{
	(void)state;
	struct pgw_buf b;
	pgw_buf_init(&b);
	pgw_buf_ident(&b, "we\"ird name");
	pgw_buf_puts(&b, " ");
	pgw_buf_literal(&b, "it's; DROP TABLE x; --");
	assert_string_equal(b.data, "\"we\"\"ird name\" 'it''s; DROP TABLE x; --'");
	pgw_buf_cleanup(&b);
}

/* numeric 12345.67 as numeric(12,2): ndigits 3, weight 1, digits 1 2345 6700 */
static void test_decode_numeric(void **state)
{
	(void)state;
	struct pgw_coldef col = {.name = "n",
				 .pgtype = "numeric(12,2)",
				 .cast = "",
				 .ti = {.type = PGW_T_DECIMAL, .precision = 12, .scale = 2}};
	struct pgw_table_def def = {.name = "t", .ncols = 1, .cols = &col};
	const struct pgw_typeinfo *types[] = {&col.ti};
	struct pgw_batch *b = pgw_batch_new(1, types, 4);
	const unsigned char tuple[] = {0, 1, 0, 0, 0, 14, 0, 3, 0, 1, 0x40, 0, 0, 2, 0, 1, 0x09, 0x29, 0x1a, 0x2c};
	struct pgw_err err = {0};
	assert_int_equal(pgw_copy_decode_tuple(&def, (const char *)tuple, sizeof(tuple), b, &err), 0);
	assert_int_equal(b->rows, 1);
	assert_true(((pgw_int128 *)b->cols[0].data)[0] == -1234567);
	/* NaN cannot be stored in a DECIMAL: a clear error, not a silent NULL */
	const unsigned char nan[] = {0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0xc0, 0, 0, 0};
	assert_int_equal(pgw_copy_decode_tuple(&def, (const char *)nan, sizeof(nan), b, &err), -1);
	assert_non_null(strstr(err.msg, "NaN"));
	pgw_batch_free(b);
}

/* A real's text is PostgreSQL's (its shortest digits strictly inside the rounding interval): a
 * text on the interval's bound reads back as the real, but as another double in a FLOAT column */
static void test_fmt_float(void **state)
{
	(void)state;
	static const struct {
		float v;
		const char *text;
	} cases[] = {{39341592.0f, "39341592"},
		     {406.953125f, "406.95312"},
		     {0.1f, "0.1"},
		     {1e-40f, "1e-40"},
		     {-0.0f, "-0"},
		     {3.4028235e38f, "3.4028235e+38"},
		     {73995136.0f, "73995136"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pgw_buf b;
		pgw_buf_init(&b);
		pgw_fmt_float(&b, cases[i].v);
		assert_string_equal(b.data, cases[i].text);
		pgw_buf_cleanup(&b);
	}
}

/* A timestamp past what 64-bit microseconds since 1970 hold is refused, never wrapped around */
static void test_decode_timestamp_range(void **state)
{
	(void)state;
	struct pgw_coldef col = {
		.name = "ts", .pgtype = "timestamp with time zone", .cast = "", .ti = {.type = PGW_T_TIMESTAMPTZ}};
	struct pgw_table_def def = {.name = "t", .ncols = 1, .cols = &col};
	const struct pgw_typeinfo *types[] = {&col.ti};
	struct pgw_batch *b = pgw_batch_new(1, types, 4);
	struct pgw_err err = {0};
	const unsigned char last[] = {0, 1, 0, 0, 0, 8, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
	assert_int_equal(pgw_copy_decode_tuple(&def, (const char *)last, sizeof(last), b, &err), -1);
	assert_non_null(strstr(err.msg, "294247-01-10"));
	const unsigned char inf[] = {0, 1, 0, 0, 0, 8, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	assert_int_equal(pgw_copy_decode_tuple(&def, (const char *)inf, sizeof(inf), b, &err), 0);
	assert_true(((int64_t *)b->cols[0].data)[0] == PGW_TS_INF);
	const char *far = "294276-12-31 23:59:59.999999+00", *near = "294247-01-09 00:00:00+00";
	assert_int_equal(pgw_text_decode("ts", &col.ti, far, strlen(far), &b->cols[0], &err), -1);
	assert_non_null(strstr(err.msg, "294276-12-31"));
	assert_int_equal(pgw_text_decode("ts", &col.ti, near, strlen(near), &b->cols[0], &err), 0);
	assert_int_equal(b->cols[0].count, 2);
	pgw_batch_free(b);
}

/* Dates and timestamps as PostgreSQL prints them, at the ends of its ranges and around year 0, one
 * after the other (each thread keeps the last day's text) */
static void test_fmt_dates(void **state)
{
	(void)state;
	static const struct {
		int32_t days;
		const char *text;
	} cases[] = {{0, "1970-01-01"},
		     {0, "1970-01-01"},
		     {2145042905, "5874897-12-31"}, /* PostgreSQL's last date */
		     {26403, "2042-04-16"},
		     {-2440588, "4714-11-24 BC"}, /* its first */
		     {-719163, "0001-12-31 BC"},
		     {-719528, "0001-01-01 BC"},
		     {-719162, "0001-01-01"},
		     {29219999, "81971-08-23"},
		     {364907999, "1001054-03-03"}};
	struct pgw_buf b;
	pgw_buf_init(&b);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pgw_buf_reset(&b);
		assert_true(pgw_fmt_date(&b, cases[i].days, true));
		assert_string_equal(b.data, cases[i].text);
	}
	pgw_buf_reset(&b);
	/* 8 days 04:00:54.775808 before the last microsecond int64 holds, 294247-01-10 04:00:54.775807 */
	assert_true(pgw_fmt_timestamp(&b, 9223371331200000000LL - 1, true, true));
	assert_string_equal(b.data, "294247-01-01 23:59:59.999999");
	pgw_buf_reset(&b);
	assert_true(pgw_fmt_timestamp(&b, 1500000, true, false));
	assert_string_equal(b.data, "1970-01-01 00:00:01.500000");
	pgw_buf_cleanup(&b);
}

void test_sf_jwt(void **state);
void test_sigv4(void **state);
void test_sf_encrypt(void **state);
void test_pgoutput(void **state);
void test_undo(void **state);

/* Values of PostgreSQL 15's hashtextextended(s, 0), read from the server: lengths 0, 1, 12 (one
 * block, no tail), 13, 24 and UTF-8 */
static void test_pghash(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		long long want;
	} cases[] = {{"", -6939563903564495251LL},
		     {"a", 3591986179850072241LL},
		     {"abcdefghijkl", -7556637188122330412LL},
		     {"abcdefghijklm", 8871624171452417744LL},
		     {"'1''2'NULL'2024'x \xc3\xa9 \xc3\xbc'", 4184640246816981764LL},
		     {"0123456789ab0123456789ab", 785109760829803144LL}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal((long long)pgw_pghash(cases[i].s, strlen(cases[i].s), 0), cases[i].want);
	/* seeds: hashtextextended(s, seed) and hashint8extended(v, seed), from the server */
	static const long long seeds[] = {1, -1, 1311768467463790320LL};
	static const long long text_want[][3] = {
		{-150071773020461347LL, -5142811166230430645LL, -5474902842522593013LL},
		{3325245193489759299LL, 8688456822845412000LL, 2200919460989278029LL},
		{-6429754808531195817LL, -3669402583748189229LL, -1056605785036418027LL}};
	static const char *const texts[] = {"", "a", "abcdefghijkl"};
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			assert_int_equal((long long)pgw_pghash(texts[i], strlen(texts[i]), (uint64_t)seeds[j]),
					 text_want[i][j]);
	static const struct {
		long long v, want[4]; /* seeds 0, 1, -1, 1311768467463790320 */
	} ints[] = {
		{0, {4154612158245552303LL, 434346878670890809LL, -4140905993450701875LL, 1443946471723951339LL}},
		{1, {-3670598878359251130LL, -7620678293940249823LL, 1505930170527472848LL, -3785664150226263730LL}},
		{-1, {-1888257769727981238LL, 3987656643895367148LL, 6481520839006961279LL, -317915431777667489LL}},
		{INT64_MIN,
		 {-9109110466470504941LL, 2560836655869490746LL, 8384907054876656385LL, -3645957680647369781LL}},
		{INT64_MAX,
		 {1977219185673256887LL, 3044001184559810835LL, 6110074166949006181LL, -1596982500283314638LL}},
		{4294967295LL,
		 {-1888257769727981238LL, 3987656643895367148LL, 6481520839006961279LL, -317915431777667489LL}}};
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		assert_int_equal((long long)pgw_pghash_int8(ints[i].v, 0), ints[i].want[0]);
		for (int j = 0; j < 3; j++)
			assert_int_equal((long long)pgw_pghash_int8(ints[i].v, (uint64_t)seeds[j]),
					 ints[i].want[j + 1]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_tables),  cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_weekdays),       cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_decode_numeric), cmocka_unit_test(test_sf_jwt),
		cmocka_unit_test(test_sigv4),	       cmocka_unit_test(test_sf_encrypt),
		cmocka_unit_test(test_pgoutput),       cmocka_unit_test(test_decode_timestamp_range),
		cmocka_unit_test(test_fmt_float),      cmocka_unit_test(test_fmt_dates),      cmocka_unit_test(test_pghash),
		cmocka_unit_test(test_undo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
