/* verify: compares warehouse tables with PostgreSQL without moving their rows. Both engines hash
 * every row's canonical text (the same text in both: see canon()) and sum the hashes per bucket
 * (a single integer key: by key range; other keys: by the key's hash, which no collation
 * orders differently); only the buckets whose count or sum differ are read again (key and
 * hash), which names the keys missing, extra or different; --repair then writes and deletes
 * exactly those rows. PostgreSQL is read in one REPEATABLE READ snapshot. docs/verify.md. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/pghash.h"
#include "pipeline/runlog.h"
#include "pipeline/sync.h"

#define MAX_KEYS_SHOWN 20

enum side { PG, WH };
enum lang { L_PG, L_DUCK, L_CH, L_SF };

struct vtable;
static enum lang lang_of(const struct vtable *v, enum side s);

/* Appends tmpl with each '@' replaced by col (already quoted). */
static void fill(struct pgw_buf *b, const char *tmpl, const char *col)
{
	for (const char *p = tmpl; *p; p++) {
		if (*p == '@')
			pgw_buf_puts(b, col);
		else
			pgw_buf_add(b, p, 1);
	}
}

static void to_text(struct pgw_buf *b, enum lang l, const char *expr)
{
	static const char *const t[] = {[L_PG] = "(@)::text",
					[L_DUCK] = "CAST(@ AS VARCHAR)",
					[L_CH] = "toString(@)",
					[L_SF] = "CAST(@ AS VARCHAR)"};
	fill(b, t[l], expr);
}

/* A decimal's text without trailing fractional zeros (ClickHouse prints 1.5 for 1.500; '@' is the
 * text); rtrim only where there is a zero to trim (DuckDB's rtrim was most of a decimal's cost) */
static const char decimal_sql[] =
	"CASE WHEN position('.' IN @) > 0 AND right(@, 1) = '0' THEN rtrim(rtrim(@, '0'), '.') ELSE @ END";
static const char decimal_ch[] =
	"if(position(@, '.') > 0, replaceRegexpOne(replaceRegexpOne(@, '0+$', ''), '\\\\.$', ''), @)";

/* PostgreSQL: the microseconds a timestamp or time holds, from its binary form (send: its send
 * function, arg: the value) */
#define PG_MICROS(send, arg) "('x' || encode(" send "(" arg "), 'hex'))::bit(64)::bigint"
/* ... of a timestamp, since 1970 (its binary form counts from 2000) */
#define PG_EPOCH_US(send) "(" PG_MICROS(send, "@") " + 946684800000000)::text"

/* ClickHouse's DateTime64 as the hex of PostgreSQL's binary form of the same value (µs since 2000,
 * big-endian): PostgreSQL's side is then encode(timestamp[tz]_send(x), 'hex'), 0.2 µs a value
 * cheaper for it than its number of µs since 1970 (canon()) */
#define CH_PG_BINARY_HEX                                                                  \
	"lower(hex(reverse(reinterpretAsFixedString(toInt64(toUnixTimestamp64Micro(@) - " \
	"toInt64(946684800000000))))))"

/* Per type, the canonical text of a value held in a column of the type (docs/verify.md) */
static const char *const canon_sql[][4] = {
	[PGW_T_BOOL] = {"(@)::int::text", "CAST(CAST(@ AS INTEGER) AS VARCHAR)", "toString(toUInt8(@))",
			"CASE WHEN @ THEN '1' WHEN NOT @ THEN '0' END"},
	[PGW_T_INT16] = {"(@)::text", "CAST(@ AS VARCHAR)", "toString(@)", "CAST(@ AS VARCHAR)"},
	[PGW_T_INT32] = {"(@)::text", "CAST(@ AS VARCHAR)", "toString(@)", "CAST(@ AS VARCHAR)"},
	[PGW_T_INT64] = {"(@)::text", "CAST(@ AS VARCHAR)", "toString(@)", "CAST(@ AS VARCHAR)"},
	[PGW_T_TEXT] = {"(@)::text", "CAST(@ AS VARCHAR)", "toString(@)", "CAST(@ AS VARCHAR)"},
	[PGW_T_JSON] = {"(@)::text", "CAST(@ AS VARCHAR)", "toString(@)"},
	[PGW_T_ENUM] = {"(@)::text", "CAST(@ AS VARCHAR)", "toString(@)", "CAST(@ AS VARCHAR)"},
	[PGW_T_UUID] = {"(@)::text", "CAST(@ AS VARCHAR)", "toString(@)", "CAST(@ AS VARCHAR)"},
	[PGW_T_BYTES] = {"encode(@, 'hex')", "lower(hex(@))", "lower(hex(@))", "LOWER(HEX_ENCODE(@))"},
	[PGW_T_DATE] = {"CASE WHEN isfinite(@) THEN (@ - DATE '1970-01-01')::text ELSE (@)::text END",
			"CASE WHEN isfinite(@) THEN CAST(date_diff('day', DATE '1970-01-01', @) AS VARCHAR) "
			"ELSE CAST(@ AS VARCHAR) END",
			"toString(toInt32(@))", "CAST(DATEDIFF(day, DATE '1970-01-01', @) AS VARCHAR)"},
	/* PostgreSQL's timestamps go past a bigint of µs since 1970 (to year 294276): those beyond, which no
	 * warehouse holds, keep their text. Its µs since 2000 come from the binary form: extract(epoch)
	 * computes a numeric, which cost PostgreSQL's side 0.3-0.4 µs more per value */
	[PGW_T_TIMESTAMP] = {"CASE WHEN isfinite(@) AND @ < TIMESTAMP '294247-01-10 04:00:54.775807' THEN " PG_EPOCH_US(
				     "timestamp_send") " ELSE (@)::text END",
			     "CASE WHEN isfinite(@) THEN CAST(epoch_us(@) AS VARCHAR) ELSE CAST(@ AS VARCHAR) END",
			     CH_PG_BINARY_HEX, "CAST(DATE_PART(epoch_microsecond, @) AS VARCHAR)"},
	[PGW_T_TIMESTAMPTZ] =
		{"CASE WHEN isfinite(@) AND @ < TIMESTAMPTZ '294247-01-10 04:00:54.775807+00' THEN " PG_EPOCH_US(
			 "timestamptz_send") " ELSE (@)::text END",
		 "CASE WHEN isfinite(@) THEN CAST(epoch_us(@) AS VARCHAR) ELSE CAST(@ AS VARCHAR) END",
		 CH_PG_BINARY_HEX, "CAST(DATE_PART(epoch_microsecond, @) AS VARCHAR)"},
	[PGW_T_TIME] = {PG_MICROS("time_send", "@") "::text",
			"CAST(date_diff('microsecond', TIME '00:00:00', @) AS VARCHAR)", NULL,
			"CAST(DATEDIFF(microsecond, TIME '00:00:00', @) AS VARCHAR)"},
	[PGW_T_TIMETZ] = {PG_MICROS("time_send", "(@)::time") "::text || ' ' || "
							      "extract(timezone FROM @)::int::text",
			  "CAST(date_diff('microsecond', TIME '00:00:00', CAST(@ AS TIME)) AS VARCHAR) || ' ' || "
			  "CAST(datepart('timezone', @) AS VARCHAR)",
			  NULL},
	[PGW_T_INTERVAL] = {"(extract(year FROM @) * 12 + extract(month FROM @))::bigint::text || ' ' || "
			    "extract(day FROM @)::bigint::text || ' ' || (extract(hour FROM @) * 3600000000 "
			    "+ extract(minute FROM @) * 60000000 + extract(microseconds FROM @))::bigint::text",
			    "CAST(datepart('year', @) * 12 + datepart('month', @) AS VARCHAR) || ' ' || "
			    "CAST(datepart('day', @) AS VARCHAR) || ' ' || CAST(datepart('hour', @) * 3600000000 + "
			    "datepart('minute', @) * 60000000 + datepart('microseconds', @) AS VARCHAR)",
			    NULL},
};

/* text quoted as PostgreSQL's quote_nullable() quotes it ('it''s', E'a\\b', NULL): concatenated,
 * no value can forge a separator, and PostgreSQL evaluates the text once */
static void quoted(struct pgw_buf *b, enum lang l, const char *v)
{
	if (l == L_PG)
		pgw_buf_printf(b, "quote_nullable(%s)", v);
	else if (l == L_DUCK || l == L_SF) {
		/* most texts hold neither a quote nor a backslash: no replace() then. A backslash is an
		 * escape character in Snowflake's literals ('\\'), not in DuckDB's ('\') */
		const char *bs = l == L_SF ? "'\\\\'" : "'\\'", *bs2 = l == L_SF ? "'\\\\\\\\'" : "'\\\\'";
		pgw_buf_printf(
			b,
			"CASE WHEN %s IS NULL THEN 'NULL' WHEN NOT contains(%s, '''') AND NOT contains(%s, %s) "
			"THEN '''' || %s || '''' WHEN contains(%s, %s) THEN 'E''' || replace(replace(%s, %s, %s), "
			"'''', '''''') || '''' ELSE '''' || replace(%s, '''', '''''') || '''' END",
			v, v, v, bs, v, v, bs, v, bs, bs2, v);
	} else
		pgw_buf_printf(b,
			       "multiIf(isNull(%s), 'NULL', position(assumeNotNull(%s), '\\\\') > 0, concat('E''', "
			       "replaceAll(replaceAll(assumeNotNull(%s), '\\\\', '\\\\\\\\'), '''', ''''''), ''''), "
			       "concat('''', replaceAll(assumeNotNull(%s), '''', ''''''), ''''))",
			       v, v, v, v);
}

static bool int_type(enum pgw_type t)
{
	return t == PGW_T_INT16 || t == PGW_T_INT32 || t == PGW_T_INT64;
}

/* Whether a type's canonical text can never hold a quote or a backslash (digits, signs, hex,
 * PostgreSQL's date and interval texts, arrays of integers): then quoting needs no escaping */
static bool plain(const struct pgw_typeinfo *ti)
{
	switch (ti->type) {
	case PGW_T_TEXT: return ti->precision > 0; /* a wide numeric */
	case PGW_T_LIST: return int_type(ti->elem->type);
	case PGW_T_JSON:
	case PGW_T_ENUM: return false;
	default: return true;
	}
}

/* quoted() for a plain text: the same result without looking for quotes (the warehouse's side;
 * PostgreSQL's quote_nullable() is already one call) */
static void quoted_plain(struct pgw_buf *b, enum lang l, const char *v)
{
	if (l == L_CH)
		pgw_buf_printf(b, "if(isNull(%s), 'NULL', concat('''', assumeNotNull(%s), ''''))", v, v);
	else
		pgw_buf_printf(b, "CASE WHEN %s IS NULL THEN 'NULL' ELSE '''' || %s || '''' END", v, v);
}

static bool canon(struct pgw_buf *b, const struct vtable *v, enum side s, const struct pgw_typeinfo *ti,
		  const char *col);

/* An array: '[' + its elements' texts, comma-separated + ']': integers as they print (N for NULL;
 * no quoting needed, and PostgreSQL needs no subquery per row), others quoted canonical texts.
 * ClickHouse arrays cannot be NULL (a NULL array is stored as []): there PostgreSQL's NULL array
 * counts as []. */
static bool canon_list(struct pgw_buf *b, const struct vtable *v, enum side s, const struct pgw_typeinfo *ti,
		       const char *col)
{
	enum lang l = lang_of(v, s);
	bool ints = int_type(ti->elem->type), ok = ti->elem->type != PGW_T_LIST;
	struct pgw_buf e, pe;
	pgw_buf_init(&e);
	pgw_buf_init(&pe);
	if (ints)
		pgw_buf_puts(&pe,
			     l == L_CH ? "ifNull(toString(_pgw_e), 'N')" : "coalesce(CAST(_pgw_e AS VARCHAR), 'N')");
	else if (l == L_CH && ti->elem->type == PGW_T_ENUM) /* 18.16 keeps arrays of enums as strings */
		quoted(&pe, l, "toString(_pgw_e)");
	else if (ok && (ok = canon(&e, v, s, ti->elem, "_pgw_e")))
		quoted(&pe, l, e.data);
	const char *null = lang_of(v, WH) == L_CH ? "'[]'" : "NULL";
	if (ok && l == L_PG && ints)
		pgw_buf_printf(b, "CASE WHEN %s IS NULL THEN %s ELSE '[' || array_to_string(%s, ',', 'N') || ']' END",
			       col, null, col);
	else if (ok && l == L_PG)
		pgw_buf_printf(b,
			       "CASE WHEN %s IS NULL THEN %s ELSE '[' || coalesce((SELECT string_agg(_pgw_x, ',' "
			       "ORDER BY _pgw_o) FROM unnest(%s) WITH ORDINALITY AS _pgw_u(_pgw_e, _pgw_o), LATERAL "
			       "(SELECT %s AS _pgw_x) AS _pgw_l), '') || ']' END",
			       col, null, col, pe.data);
	else if (ok && l == L_DUCK)
		pgw_buf_printf(b,
			       "CASE WHEN %s IS NULL THEN NULL ELSE '[' || coalesce(array_to_string(list_transform(%s, "
			       "_pgw_e -> %s), ','), '') || ']' END",
			       col, col, pe.data);
	else if (ok)
		pgw_buf_printf(b, "'[' || arrayStringConcat(arrayMap(_pgw_e -> %s, %s), ',') || ']'", pe.data, col);
	pgw_buf_cleanup(&e);
	pgw_buf_cleanup(&pe);
	return ok;
}

struct vtable {
	const char *name;
	struct pgw_sink *sink;
	enum lang wh; /* the warehouse's SQL */
	bool pg13;    /* PostgreSQL has trim_scale() */
	bool pghash;  /* rows hashed by hashtextextended() on both sides (hash_expr) */
	struct pgw_table_def *def;
	struct pgw_buf rel[2]; /* the table's name on each side */
	long long buckets;
	char *key_text[2], *hash[2], *bucket[2], *display[2];
	/* results */
	long long rows, missing, extra, different;
	int shown;
	struct pgw_buf keys;	   /* lines naming them */
	struct pgw_buf shape_cols; /* the columns compared by their shape only (see shape_only()) */
	/* a single integer key is bucketed by ranges of width keys from kmin (an index answers them) */
	bool ranges;
	long long kmin, kmax, width;
	bool key_domain; /* PostgreSQL's rows compared are chosen by the key alone (or all of them) */
	/* the differing buckets as a predicate on each side; for a repair, the canonical key texts to
	 * write and to delete */
	char *pred[2];
	char **up, **del;
	int nup, ndel;
	/* keys the warehouse holds twice or more that PostgreSQL has (counted in extra): a repair
	 * upserts them, which replaces every copy; the key check keeps them aside (dup) for a load
	 * that upserts (deletes: true), as an append would add one more copy */
	long long twice;
	char **dup;
	int ndup;
	/* sync's key check: keys only (no row hashes), PostgreSQL's rows limited to domain (or NULL),
	 * the table definition the sync's plan owns */
	bool keys_only;
	const char *domain;
	bool borrowed_def;
};

static enum lang lang_of(const struct vtable *v, enum side s)
{
	return s == PG ? L_PG : v->wh;
}

/* Columns compared by their shape only: json and arrays on Snowflake, where a VARIANT's text has
 * no fixed key order (TO_JSON's is documented as unpredictable) and its numbers are Snowflake's;
 * what both sides can tell exactly is whether the value is NULL and an array's length */
static bool shape_only(const struct vtable *v, const struct pgw_typeinfo *ti)
{
	return v->wh == L_SF && (ti->type == PGW_T_JSON || ti->type == PGW_T_LIST);
}

/* float_exact() in ClickHouse: if() and multiIf() evaluate every branch (a NaN's integer cast is
 * computed and thrown away), 18.16 has no atan2 (1 / -0 is -inf) */
static void float_exact_ch(struct pgw_buf *b, const char *col)
{
	char *x = pgw_asprintf("toFloat64(assumeNotNull(%s))", col);
	char *e1 = pgw_asprintf("least(greatest(floor(log2(abs(%s))), -1074), 1023)", x);
	char *r = pgw_asprintf("abs(%s) / pow(2, %s)", x, e1);
	char *q = pgw_asprintf("greatest(%s - if(%s < 1, 1, 0) + if(%s >= 2, 1, 0) - 52, -1074)", e1, r, r);
	pgw_buf_printf(b,
		       "if(isNull(%s), NULL, multiIf(isNaN(%s), 'nan', isInfinite(%s), if(%s > 0, 'inf', '-inf'), "
		       "%s = 0, if(1 / %s < 0, '-0', '0'), concat(if(%s < 0, '-', ''), toString(toInt64(abs(%s) / "
		       "pow(2, %s))), 'p', toString(toInt64(%s)))))",
		       col, x, x, x, x, x, x, x, q, q);
	free(x);
	free(e1);
	free(r);
	free(q);
}

/* A double's canonical text is its exact value in integers, "m p q" for |x| = m * 2^q, q =
 * max(e - 52, -1074), e the binary exponent (an estimate from the logarithm, corrected by one
 * either way: |x| / 2^e is in [1, 2)); nan, inf, -inf, 0 and -0 as words. It is IEEE arithmetic
 * every engine does exactly (dividing by a power of two, an integer below 2^53 cast to an integer
 * type). The engines' own texts do not agree: shortest round-trip digits differ where two
 * candidates tie or a candidate is the rounding interval's bound (a double of a few significant
 * bits, 1.6792762063624602e+17 in PostgreSQL, 1.67927620636246e+17 in DuckDB; a real's
 * 406.95312 against 406.953125), and Snowflake's own text of a FLOAT has 12 or 13 significant
 * digits (its TO_VARCHAR, what its drivers report). x is a double expression. */
static void float_exact(struct pgw_buf *b, enum lang l, const char *x)
{
	if (l == L_CH) {
		float_exact_ch(b, x);
		return;
	}
	const char *f8 = l == L_PG ? "float8" : l == L_DUCK ? "DOUBLE" : "FLOAT";
	const char *i8 = l == L_PG ? "bigint" : l == L_DUCK ? "BIGINT" : "NUMBER(20, 0)";
	char *a = pgw_asprintf("abs(%s)", x);
	/* the estimate kept within the exponents a double has: PostgreSQL's power() fails beyond them */
	char *e1 = pgw_asprintf("least(greatest(floor(ln(%s) / ln(CAST(2 AS %s))), -1074), 1023)", a, f8);
	char *r = pgw_asprintf("%s / power(2, %s)", a, e1);
	char *e = pgw_asprintf("(%s - CASE WHEN %s < 1 THEN 1 ELSE 0 END + CASE WHEN %s >= 2 THEN 1 ELSE 0 END)", e1, r,
			       r);
	char *q = pgw_asprintf("greatest(%s - 52, -1074)", e);
	pgw_buf_printf(
		b,
		"CASE WHEN %s IS NULL THEN NULL WHEN %s = CAST('NaN' AS %s) THEN 'nan' WHEN %s = CAST('inf' AS %s) "
		"THEN 'inf' WHEN %s = CAST('-inf' AS %s) THEN '-inf' WHEN %s = 0 THEN CASE WHEN atan2(%s, -1) < 0 "
		"THEN '-0' ELSE '0' END ELSE CASE WHEN %s < 0 THEN '-' ELSE '' END || CAST(CAST(%s / power(2, %s) "
		"AS %s) AS VARCHAR) || 'p' || CAST(CAST(%s AS %s) AS VARCHAR) END",
		x, x, f8, x, f8, x, f8, x, x, x, a, q, i8, q, i8);
	free(a);
	free(e1);
	free(r);
	free(e);
	free(q);
}

/* The canonical text of a value of type ti held in expression col, on one side (see
 * docs/verify.md). Returns false for a type not compared yet. */
static bool canon(struct pgw_buf *b, const struct vtable *v, enum side s, const struct pgw_typeinfo *ti,
		  const char *col)
{
	enum lang l = lang_of(v, s);
	if (shape_only(v, ti)) {
		fill(b,
		     ti->type == PGW_T_JSON ? "CASE WHEN @ IS NULL THEN NULL ELSE 'j' END"
		     : l == L_PG ? "CASE WHEN @ IS NULL THEN NULL ELSE coalesce(array_length(@, 1), 0)::text END"
				 : "CAST(ARRAY_SIZE(@) AS VARCHAR)",
		     col);
		return true;
	}
	if (ti->type == PGW_T_LIST)
		return canon_list(b, v, s, ti, col);
	if (v->sink->ops->keeps_pg_text(v->sink, ti)) { /* as PostgreSQL prints it */
		fill(b, l == L_PG ? "(@)::text" : "@", col);
		return true;
	}
	struct pgw_buf text;
	pgw_buf_init(&text);
	bool ok = true;
	if (ti->type == PGW_T_FLOAT32 || ti->type == PGW_T_FLOAT64) {
		/* a real as the double it widens to, on both sides; in Snowflake a real is the double
		 * its PostgreSQL text reads as (the FLOAT its load made of that text) */
		bool real = ti->type == PGW_T_FLOAT32;
		char *x = l == L_DUCK		  ? pgw_asprintf("CAST(%s AS DOUBLE)", col)
			  : l != L_PG		  ? pgw_strdup(col)
			  : real && v->wh == L_SF ? pgw_asprintf("(%s)::text::float8", col)
						  : pgw_asprintf("(%s)::float8", col);
		float_exact(b, l, x);
		free(x);
	} else if ((ti->type == PGW_T_TIMESTAMP || ti->type == PGW_T_TIMESTAMPTZ) && l == L_PG && v->wh == L_CH) {
		/* the other side of CH_PG_BINARY_HEX */
		fill(b,
		     ti->type == PGW_T_TIMESTAMP ? "encode(timestamp_send(@), 'hex')"
						 : "encode(timestamptz_send(@), 'hex')",
		     col);
	} else if (ti->type == PGW_T_DECIMAL && v->sink->decimal_text != PGW_DECIMAL_TEXT_NONE) {
		/* all s digits, as both print them: no trimming (ClickHouse's was a regular expression) */
		if (l == L_CH && v->sink->decimal_text == PGW_DECIMAL_TEXT_TO_DECIMAL_STRING)
			pgw_buf_printf(b, "toDecimalString(%s, %d)", col, ti->scale);
		else
			to_text(b, l, col);
	} else if ((ti->type == PGW_T_DECIMAL || (ti->type == PGW_T_TEXT && ti->precision > 0)) && l == L_PG &&
		   v->pg13) {
		pgw_buf_printf(b, "trim_scale((%s)::numeric)::text", col); /* one pass */
	} else if (ti->type == PGW_T_DECIMAL || (ti->type == PGW_T_TEXT && ti->precision > 0)) {
		to_text(&text, l, col);
		fill(b, l == L_CH ? decimal_ch : decimal_sql, text.data);
	} else if (ti->type == PGW_T_ENUM && l == L_CH) {
		/* by number: 18.16's toString of a NULL Nullable(Enum) fails on the value 0 under it */
		pgw_buf_printf(b, "if(isNull(%s), NULL, transform(toInt16(assumeNotNull(%s)), [", col, col);
		for (int i = 0; i < ti->nlabels; i++)
			pgw_buf_printf(b, "%s%d", i ? ", " : "", i + 1);
		pgw_buf_puts(b, "], [");
		for (int i = 0; i < ti->nlabels; i++) {
			pgw_buf_puts(b, i ? ", " : "");
			v->sink->ops->literal(b, ti->labels[i]);
		}
		pgw_buf_puts(b, "], ''))");
	} else if ((size_t)ti->type < sizeof(canon_sql) / sizeof(canon_sql[0]) && canon_sql[ti->type][l]) {
		fill(b, canon_sql[ti->type][l], col);
	} else {
		ok = false;
	}
	pgw_buf_cleanup(&text);
	return ok;
}

/* A column name quoted for one side */
static void ident(struct pgw_buf *b, const struct vtable *v, enum side s, const char *name)
{
	if (s == PG)
		pgw_buf_ident(b, name);
	else
		v->sink->ops->ident(b, name);
}

/* Prefixed canonical texts of cols (all columns: n = -1), concatenated */
static void row_text(struct pgw_buf *b, const struct vtable *v, enum side s, const int *cols, int n)
{
	const struct pgw_table_def *def = v->def;
	int count = n < 0 ? def->ncols : n;
	for (int i = 0; i < count; i++) {
		const struct pgw_coldef *c = &def->cols[n < 0 ? i : cols[i]];
		struct pgw_buf q, t;
		pgw_buf_init(&q);
		pgw_buf_init(&t);
		ident(&q, v, s, c->name);
		canon(&t, v, s, &c->ti, q.data);
		pgw_buf_puts(b, i ? " || " : "");
		if (s == WH && plain(&c->ti))
			quoted_plain(b, v->wh, t.data);
		else
			quoted(b, lang_of(v, s), t.data);
		pgw_buf_cleanup(&q);
		pgw_buf_cleanup(&t);
	}
}

/* 60 bits of a hash of text as a bigint (positive in every engine), and 28 bits of it modulo the
 * bucket count. Against DuckDB, PostgreSQL's hashtextextended() (v->pghash: DuckDB computes it
 * through pgw_pghash, a C function; a fraction of md5()'s cost on PostgreSQL, whose md5() sets up a
 * digest context at every call); elsewhere MD5: its first bits, or its last ones where the
 * warehouse is Snowflake (whose MD5_NUMBER_LOWER64 gives them as a number, which MOD cuts exactly).
 * COLLATE "C": hashtextextended hashes the bytes under a deterministic collation only. */
static void hash_expr(struct pgw_buf *b, const struct vtable *v, enum lang l, const char *text, int bits,
		      long long buckets)
{
	if (v->pghash)
		pgw_buf_printf(b,
			       l == L_PG ? "(hashtextextended((%s) COLLATE \"C\", 0) & %lld)"
					 : "(pgw_pghash(%s, 0) & %lld)",
			       text, (1LL << bits) - 1);
	else if (l == L_PG)
		pgw_buf_printf(b, "('x' || substr(md5(%s), %d, %d))::bit(%d)::bigint", text,
			       v->wh == L_SF ? 33 - bits / 4 : 1, bits / 4, bits);
	else if (l == L_SF)
		pgw_buf_printf(b, "MOD(MD5_NUMBER_LOWER64(%s), %lld)", text, 1LL << bits);
	else if (l == L_DUCK)
		pgw_buf_printf(b, "CAST('0x' || substr(md5(%s), 1, %d) AS BIGINT)", text, bits / 4);
	else
		/* the digest's first bytes read big-endian (no hex and back: 0.03 µs a row less) */
		pgw_buf_printf(b, "bitShiftRight(reinterpretAsUInt64(reverse(substring(MD5(%s), 1, %d))), 4)", text,
			       (bits / 4 + 1) / 2);
	if (buckets)
		pgw_buf_printf(b, " %% %lld", buckets);
}

/* Against DuckDB (v->pghash) a row is hashed column by column with PostgreSQL's own hash
 * functions, each seeded with the hash of the columns before it: no text made of the whole row
 * (quoting and concatenating were most of PostgreSQL's cost), and integers and timestamps hashed
 * from their 64-bit values, not from text. PostgreSQL's int8 hash folds the value's halves into 32
 * bits first, so an integer's value is also XORed into its hash (0 and 4294967297 fold alike);
 * a timestamp's is not (no SQL gives its 64 bits cheaply): two timestamps collide there with a
 * chance of 1 in 2^32. A NULL is the empty text or a zero, with the seed's low bit flipped, where
 * the canonical text can be empty or the value is a number. Nested one level a column or two: up to
 * MAX_CHAIN columns (DuckDB allows expressions 1,000 deep), wider tables hash the row's text. */
#define MAX_CHAIN 250

enum hkind { H_TEXT, H_INT, H_TIMESTAMP, H_TIMESTAMPTZ, H_TIME };

static enum hkind hash_kind(const struct pgw_typeinfo *ti)
{
	switch (ti->type) {
	case PGW_T_INT16:
	case PGW_T_INT32:
	case PGW_T_INT64: return H_INT;
	case PGW_T_TIMESTAMP: return H_TIMESTAMP;
	case PGW_T_TIMESTAMPTZ: return H_TIMESTAMPTZ;
	case PGW_T_TIME: return H_TIME;
	default: return H_TEXT;
	}
}

/* Whether a type's canonical text is never empty, so that '' can stand for NULL */
static bool text_never_empty(const struct pgw_typeinfo *ti)
{
	switch (ti->type) {
	case PGW_T_BOOL:
	case PGW_T_DECIMAL:
	case PGW_T_FLOAT32:
	case PGW_T_FLOAT64:
	case PGW_T_DATE:
	case PGW_T_TIMETZ:
	case PGW_T_INTERVAL:
	case PGW_T_UUID:
	case PGW_T_JSON:
	case PGW_T_LIST: return true;
	case PGW_T_TEXT: return ti->precision > 0; /* a numeric kept as text */
	default: return false;
	}
}

/* One column's step of the chain: its hash seeded with prev (the hash so far) */
static void hash_step(struct pgw_buf *b, const struct vtable *v, enum side s, const struct pgw_coldef *c,
		      const char *prev)
{
	static const char *const zero[][2] = {
		[H_INT] = {"0", "0"},
		[H_TIMESTAMP] = {"TIMESTAMP 'epoch'", "TIMESTAMP '1970-01-01'"},
		[H_TIMESTAMPTZ] = {"TIMESTAMPTZ 'epoch'", "TIMESTAMPTZ '1970-01-01 00:00:00+00'"},
		[H_TIME] = {"TIME '00:00'", "TIME '00:00:00'"}};
	bool pg = s == PG;
	enum hkind k = hash_kind(&c->ti);
	struct pgw_buf q, x, seed;
	pgw_buf_init(&q);
	pgw_buf_init(&x);
	pgw_buf_init(&seed);
	ident(&q, v, s, c->name);
	bool flag = !c->notnull && (k != H_TEXT || !text_never_empty(&c->ti));
	if (flag)
		pgw_buf_printf(&seed,
			       pg ? "(%s # CASE WHEN %s IS NULL THEN 1 ELSE 0 END)"
				  : "xor(%s, CASE WHEN %s IS NULL THEN 1 ELSE 0 END)",
			       prev, q.data);
	else
		pgw_buf_puts(&seed, prev);
	if (k == H_TEXT)
		canon(&x, v, s, &c->ti, q.data);
	else if (k == H_INT)
		pgw_buf_printf(&x, pg ? "(%s)::int8" : "CAST(%s AS BIGINT)", q.data);
	else
		pgw_buf_puts(&x, q.data);
	if (!c->notnull) {
		char *t = pgw_asprintf("coalesce(%s, %s)", x.data, k == H_TEXT ? "''" : zero[k][pg ? 0 : 1]);
		pgw_buf_reset(&x);
		pgw_buf_puts(&x, t);
		free(t);
	}
	if (k == H_TEXT)
		pgw_buf_printf(b, pg ? "hashtextextended((%s) COLLATE \"C\", %s)" : "pgw_pghash(%s, %s)", x.data,
			       seed.data);
	else if (k == H_INT)
		pgw_buf_printf(b, pg ? "(hashint8extended(%s, %s) # %s)" : "xor(pgw_pghash_int8(%s, %s), %s)", x.data,
			       seed.data, x.data);
	else if (pg)
		pgw_buf_printf(b,
			       k == H_TIME	  ? "time_hash_extended(%s, %s)"
			       : k == H_TIMESTAMP ? "timestamp_hash_extended(%s, %s)"
						  : "timestamp_hash_extended(%s AT TIME ZONE 'UTC', %s)",
			       x.data, seed.data);
	else
		pgw_buf_printf(b, "pgw_pghash_int8(%s, %s)", x.data, seed.data);
	pgw_buf_cleanup(&q);
	pgw_buf_cleanup(&x);
	pgw_buf_cleanup(&seed);
}

/* bits of the hash of columns cols (all: n = -1) on side s, modulo buckets when not 0 */
static void row_hash(struct pgw_buf *b, const struct vtable *v, enum side s, const int *cols, int n, int bits,
		     long long buckets)
{
	const struct pgw_table_def *def = v->def;
	int count = n < 0 ? def->ncols : n;
	if (!v->pghash || count > MAX_CHAIN) {
		struct pgw_buf text;
		pgw_buf_init(&text);
		row_text(&text, v, s, cols, n);
		hash_expr(b, v, lang_of(v, s), text.data, bits, buckets);
		pgw_buf_cleanup(&text);
		return;
	}
	struct pgw_buf h[2];
	pgw_buf_init(&h[0]);
	pgw_buf_init(&h[1]);
	pgw_buf_puts(&h[0], s == PG ? "0::int8" : "CAST(0 AS BIGINT)");
	for (int i = 0; i < count; i++) {
		pgw_buf_reset(&h[(i + 1) % 2]);
		hash_step(&h[(i + 1) % 2], v, s, &def->cols[n < 0 ? i : cols[i]], h[i % 2].data);
	}
	pgw_buf_printf(b, "(%s & %lld)", h[count % 2].data, (1LL << bits) - 1);
	if (buckets)
		pgw_buf_printf(b, " %% %lld", buckets);
	pgw_buf_cleanup(&h[0]);
	pgw_buf_cleanup(&h[1]);
}

/* Whether the server's hashtextextended() and hashint8extended() are the ones pgw_pghash and
 * pgw_pghash_int8 compute (PostgreSQL 11 has them; a big-endian server hashes differently): a
 * test text and number through both, seeded */
static bool pg_hash_agrees(struct pgw_run *run)
{
	static const char probe[] = "pgwarehouse 'v\u00e9rifie' 0123456789";
	const long long seed = -1311768467463790320LL, num = -4294967297LL;
	if (!run->sink->pghash || pgw_pg_version(run->pg) < 110000)
		return false;
	char *sql = pgw_asprintf(
		"SELECT hashtextextended($1 COLLATE \"C\", %lld)::text, hashint8extended(%lld, %lld)::text", seed, num,
		seed);
	const char *params[] = {probe};
	PGresult *res = PQexecParams(run->pg->conn, sql, 1, NULL, params, NULL, NULL, 0);
	free(sql);
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
		  strtoll(PQgetvalue(res, 0, 0), NULL, 10) ==
			  (long long)pgw_pghash(probe, strlen(probe), (uint64_t)seed) &&
		  strtoll(PQgetvalue(res, 0, 1), NULL, 10) == (long long)pgw_pghash_int8(num, (uint64_t)seed);
	PQclear(res);
	pgw_debug("verify: PostgreSQL's hash functions %s pgwarehouse's", ok ? "agree with" : "differ from");
	return ok;
}

/* A hash of an integer key without text or MD5, for the key check: two multiplicative hashes
 * modulo primes below 2^31, side by side in 62 bits (non-negative, so that ClickHouse's halves
 * sum as the others' sums). The same integer arithmetic in every engine. */
static void int_hash_expr(struct pgw_buf *b, enum lang l, const char *col)
{
	static const char *const i64[] = {
		[L_PG] = "(@)::int8", [L_DUCK] = "CAST(@ AS BIGINT)", [L_CH] = "toInt64(@)", [L_SF] = "(@)"};
	struct pgw_buf k;
	pgw_buf_init(&k);
	fill(&k, i64[l], col);
	const char *c = l == L_CH ? "toInt64(%lld)" : "%lld";
	char p1[32], a1[32], p2[32], a2[32], sh[32];
	snprintf(p1, sizeof(p1), c, 2147483647LL);
	snprintf(a1, sizeof(a1), c, 1103515245LL);
	snprintf(p2, sizeof(p2), c, 2147483629LL);
	snprintf(a2, sizeof(a2), c, 48271LL);
	snprintf(sh, sizeof(sh), c, 2147483648LL);
	pgw_buf_printf(b, "(((%s %% %s + %s) %% %s * %s %% %s) * %s + (%s %% %s + %s) %% %s * %s %% %s)", k.data, p1,
		       p1, p1, a1, p1, sh, k.data, p2, p2, p2, a2, p2);
	pgw_buf_cleanup(&k);
}

/* A key column's value as PostgreSQL's text (which reads it back for deletes, and shows it): the
 * warehouses' own text but for binaries (DuckDB writes \x00\x07), ClickHouse's timestamptz (UTC, no
 * offset written) and Snowflake's dates and times (session formats, milliseconds by default) */
static void key_pg_text(struct pgw_buf *b, const struct vtable *v, enum side s, const struct pgw_typeinfo *ti,
			const char *col)
{
	const char *f = NULL;
	enum lang l = lang_of(v, s);
	if (ti->type == PGW_T_BYTES && l == L_DUCK)
		f = "'\\x' || lower(hex(@))";
	else if (ti->type == PGW_T_BYTES && l == L_CH)
		f = "concat('\\\\x', lower(hex(@)))";
	else if (ti->type == PGW_T_TIMESTAMPTZ && l == L_CH && !v->sink->ops->keeps_pg_text(v->sink, ti))
		f = "concat(toString(@), '+00')"; /* DateTime64(6, 'UTC') */
	else if (l == L_SF) {
		switch (ti->type) {
		case PGW_T_DATE: f = "TO_VARCHAR(@, 'YYYY-MM-DD')"; break;
		case PGW_T_TIME: f = "TO_VARCHAR(@, 'HH24:MI:SS.FF6')"; break;
		case PGW_T_TIMESTAMP: f = "TO_VARCHAR(@, 'YYYY-MM-DD HH24:MI:SS.FF6')"; break;
		case PGW_T_TIMESTAMPTZ: f = "TO_VARCHAR(@, 'YYYY-MM-DD HH24:MI:SS.FF6TZH:TZM')"; break;
		case PGW_T_BOOL: f = "CASE WHEN @ THEN 't' WHEN NOT @ THEN 'f' END"; break;
		case PGW_T_BYTES: f = "'\\\\x' || LOWER(HEX_ENCODE(@))"; break;
		default: break;
		}
	}
	if (f)
		fill(b, f, col);
	else
		to_text(b, l, col);
}

static void key_display(struct pgw_buf *b, const struct vtable *v, enum side s)
{
	const struct pgw_table_def *def = v->def;
	enum lang l = lang_of(v, s);
	for (int i = 0; i < def->npk; i++) {
		const struct pgw_coldef *c = &def->cols[def->pk[i]];
		char *label = pgw_asprintf("%s=", c->name);
		struct pgw_buf q, t;
		pgw_buf_init(&q);
		pgw_buf_init(&t);
		ident(&q, v, s, c->name);
		key_pg_text(&t, v, s, &c->ti, q.data);
		pgw_buf_puts(b, i ? " || ', ' || " : "");
		if (s == WH)
			v->sink->ops->literal(b, label);
		else
			pgw_buf_literal(b, label);
		pgw_buf_printf(b, l == L_CH ? " || ifNull(%s, 'NULL')" : " || coalesce(%s, 'NULL')", t.data);
		pgw_buf_cleanup(&q);
		pgw_buf_cleanup(&t);
		free(label);
	}
}

static void build_exprs(struct vtable *v)
{
	const struct pgw_table_def *def = v->def;
	for (int s = PG; s <= WH; s++) {
		enum lang l = lang_of(v, (enum side)s);
		struct pgw_buf key, h, bk, disp;
		pgw_buf_init(&key);
		pgw_buf_init(&h);
		pgw_buf_init(&bk);
		pgw_buf_init(&disp);
		if (v->keys_only && !v->pghash && pgw_table_int_key(def)) {
			struct pgw_buf q;
			pgw_buf_init(&q);
			ident(&q, v, (enum side)s, def->cols[def->pk[0]].name);
			int_hash_expr(&h, l, q.data);
			pgw_buf_cleanup(&q);
		} else {
			row_hash(&h, v, (enum side)s, v->keys_only ? def->pk : NULL, v->keys_only ? def->npk : -1, 60,
				 0);
		}
		if (def->npk) {
			row_text(&key, v, (enum side)s, def->pk, def->npk);
			key_display(&disp, v, (enum side)s);
		}
		if (pgw_table_int_key(def)) { /* no hash needed */
			struct pgw_buf q;
			pgw_buf_init(&q);
			ident(&q, v, (enum side)s, def->cols[def->pk[0]].name);
			if (v->ranges && l == L_CH)
				pgw_buf_printf(
					&bk,
					"multiIf(%s < %lld, 0, %s > %lld, %lld, intDiv(toInt64(%s) - toInt64(%lld), "
					"toInt64(%lld)))",
					q.data, v->kmin, q.data, v->kmax, v->buckets - 1, q.data, v->kmin, v->width);
			else if (v->ranges) /* integer division: Snowflake's / keeps fractional digits */
				pgw_buf_printf(&bk,
					       "CASE WHEN %s < %lld THEN 0 WHEN %s > %lld THEN %lld ELSE %s(%s - %lld) "
					       "%s %lld%s END",
					       q.data, v->kmin, q.data, v->kmax, v->buckets - 1,
					       l == L_SF ? "FLOOR(" : "", q.data, v->kmin, l == L_DUCK ? "//" : "/",
					       v->width, l == L_SF ? ")" : "");
			else if (l == L_CH) /* typed: ClickHouse gives x % 200 the divisor's type, Int8, and wraps */
				pgw_buf_printf(&bk, "((toInt64(%s) %% toInt64(%lld)) + toInt64(%lld)) %% toInt64(%lld)",
					       q.data, v->buckets, v->buckets, v->buckets);
			else
				pgw_buf_printf(&bk, "((%s %% %lld) + %lld) %% %lld", q.data, v->buckets, v->buckets,
					       v->buckets);
			pgw_buf_cleanup(&q);
		} else if (def->npk) {
			pgw_buf_puts(&bk, "(");
			row_hash(&bk, v, (enum side)s, def->pk, def->npk, 28, v->buckets);
			pgw_buf_puts(&bk, ")");
		} else { /* a multiset: buckets by the row's hash (the column _pgw_h) */
			pgw_buf_printf(&bk, "(_pgw_h %% %lld)", v->buckets);
			pgw_buf_puts(&key, "''");
			pgw_buf_puts(&disp, "''");
		}
		v->key_text[s] = pgw_strdup(key.data);
		v->hash[s] = pgw_strdup(h.data);
		v->bucket[s] = pgw_strdup(bk.data);
		v->display[s] = pgw_strdup(disp.data);
		pgw_buf_cleanup(&key);
		pgw_buf_cleanup(&h);
		pgw_buf_cleanup(&bk);
		pgw_buf_cleanup(&disp);
	}
}

static void rows_of(const PGresult *res, struct pgw_rows *out)
{
	out->nrows = PQntuples(res);
	out->ncols = PQnfields(res);
	out->cells = pgw_calloc((size_t)out->nrows * (size_t)out->ncols + 1, sizeof(char *));
	for (int r = 0; r < out->nrows; r++)
		for (int c = 0; c < out->ncols; c++)
			if (!PQgetisnull(res, r, c))
				out->cells[r * out->ncols + c] = pgw_strdup(PQgetvalue(res, r, c));
}

/* Runs sql on one side; rows as text. */
static int query(struct pgw_run *run, enum side s, const char *sql, struct pgw_rows *out, struct pgw_err *err)
{
	if (s == WH)
		return run->sink->ops->sql(run->sink, sql, out, err);
	PGresult *res = pgw_pg_query(run->pg, sql, 0, NULL, err);
	if (!res)
		return -1;
	rows_of(res, out);
	PQclear(res);
	return 0;
}

/* The condition limiting the rows compared on side s, or NULL */
static const char *domain(const struct vtable *v, enum side s)
{
	return s == PG ? v->domain : NULL;
}

/* What makes PostgreSQL compute each row's hash once, and aggregate in its parallel workers. A
 * keyed table: an empty second branch (a key is never NULL: an index probe) makes the rows an
 * append relation, whose GROUP BY PostgreSQL estimates at 200 groups rather than at the key's
 * distinct values, so its workers sum their own rows (measured: 1M keys in 0.34 s instead of
 * 0.46 s, where the leader took every row from a Gather). A keyless table: an OFFSET 0 fence. */
static void pg_fence(struct pgw_buf *sql, const struct vtable *v)
{
	if (!v->def->npk) {
		pgw_buf_puts(sql, " OFFSET 0");
		return;
	}
	pgw_buf_printf(sql, " UNION ALL SELECT NULL, NULL FROM %s WHERE ", v->rel[PG].data);
	pgw_buf_ident(sql, v->def->cols[v->def->pk[0]].name);
	pgw_buf_puts(sql, " IS NULL");
}

/* The key check's PostgreSQL side on a plain table's integer key: each bucket summed from its own
 * range of the primary key's index, one backend walking the ranges in order. A parallel GROUP BY
 * hashes every key into a bucket table in each worker, which cost twice the CPU for the same time
 * on two cores (10M keys: ~1.2 s on one core against ~1.3 s on three processes), CPU the warehouse's
 * own sums then lacked. Only where the index alone answers: rows chosen by the key, and a table
 * nearly all-visible (else each range would fetch its rows from the table, at random where the
 * table's order is not the key's; the parallel scan reads it in order). The bounds are computed in
 * numeric and clamped: no int8 overflow near its ends. Empty buckets are left out, as a GROUP BY
 * leaves them out. */
static bool pg_by_ranges(const struct vtable *v, enum side s)
{
	return s == PG && v->keys_only && v->ranges && v->key_domain && v->def->relkind == 'r' &&
	       v->def->all_visible >= 0.9;
}

static void range_sums_sql(struct pgw_buf *sql, const struct vtable *v, long long from, long long to)
{
	struct pgw_buf q;
	pgw_buf_init(&q);
	ident(&q, v, PG, v->def->cols[v->def->pk[0]].name);
	pgw_buf_printf(
		sql,
		"SELECT _pgw_g.b::text, _pgw_s.c::text, _pgw_s.h::text, '0' FROM (SELECT b, "
		"CASE WHEN b = 0 THEN '-9223372036854775808'::int8 ELSE (%lld + b::numeric * %lld)::int8 END AS lo, "
		"CASE WHEN b = %lld THEN '9223372036854775807'::int8 ELSE "
		"least(%lld + (b + 1)::numeric * %lld - 1, 9223372036854775807)::int8 END AS hi "
		"FROM generate_series(%lld::int8, %lld) AS b) AS _pgw_g CROSS JOIN LATERAL (SELECT count(*) AS c, "
		"sum(%s) AS h FROM %s WHERE %s BETWEEN _pgw_g.lo AND _pgw_g.hi%s%s) AS _pgw_s WHERE _pgw_s.c > 0",
		v->kmin, v->width, v->buckets - 1, v->kmin, v->width, from, to, v->hash[PG], v->rel[PG].data, q.data,
		v->domain ? " AND " : "", v->domain ? v->domain : "");
	pgw_buf_cleanup(&q);
}

/* The first pass's query: per bucket, the row count and the sum of the row hashes (PostgreSQL's
 * computed below pg_fence); ClickHouse's sum of UInt64 wraps: there it sums 30-bit halves. */
static void sums_sql(struct pgw_buf *sql, const struct vtable *v, enum side s)
{
	enum lang l = lang_of(v, s);
	if (pg_by_ranges(v, s)) {
		range_sums_sql(sql, v, 0, v->buckets - 1);
		return;
	}
	const char *kb = v->def->npk ? v->bucket[s] : "0";
	const char *b = v->def->npk ? "_pgw_kb" : v->bucket[s];
	if (l == L_CH)
		pgw_buf_printf(sql,
			       "SELECT toString(_pgw_b), toString(count()), toString(sum(bitShiftRight(_pgw_h, 30))), "
			       "toString(sum(bitAnd(_pgw_h, 1073741823))) FROM (SELECT %s AS _pgw_b, _pgw_h FROM "
			       "(SELECT %s AS _pgw_h, %s AS _pgw_kb FROM %s) AS _pgw_i) AS _pgw_s GROUP BY _pgw_b",
			       b, v->hash[s], kb, v->rel[s].data);
	else
		pgw_buf_printf(
			sql,
			"SELECT CAST(_pgw_b AS VARCHAR), CAST(count(*) AS VARCHAR), CAST(sum(_pgw_h) AS VARCHAR), "
			"'0' FROM (SELECT %s AS _pgw_b, _pgw_h FROM (SELECT %s AS _pgw_h, %s AS _pgw_kb FROM %s%s%s",
			b, v->hash[s], kb, v->rel[s].data, domain(v, s) ? " WHERE " : "",
			domain(v, s) ? v->domain : "");
	if (l == L_PG)
		pg_fence(sql, v);
	if (l != L_CH)
		pgw_buf_puts(sql, ") AS _pgw_i) AS _pgw_s GROUP BY _pgw_b");
}

/* high * 2^30 + low, in decimal */
static char *sum_text(const char *high, const char *low)
{
	unsigned __int128 t = ((unsigned __int128)strtoull(high, NULL, 10) << 30) + strtoull(low, NULL, 10);
	char digits[48], *p = digits + sizeof(digits) - 1;
	*p = 0;
	do {
		*--p = (char)('0' + (int)(t % 10));
		t /= 10;
	} while (t);
	return pgw_strdup(p);
}

/* Per bucket: "count sum". A bucket out of range is a bug of the bucket expression, never skipped. */
static int fill_sums(struct vtable *v, enum side s, const struct pgw_rows *r, char **sums, struct pgw_err *err)
{
	for (int i = 0; i < r->nrows; i++) {
		char **row = &r->cells[i * 4];
		long long b = atoll(row[0]);
		if (b < 0 || b >= v->buckets || sums[b])
			return pgw_err_set(err, PGW_ERR_INTERNAL, "table %s: bucket %s out of range or repeated",
					   v->name, row[0]);
		char *sum = lang_of(v, s) == L_CH ? sum_text(row[2], row[3]) : pgw_strdup(row[2]);
		sums[b] = pgw_asprintf("%s %s", row[1], sum);
		free(sum);
		if (s == PG)
			v->rows += atoll(row[1]);
	}
	return 0;
}

/* The key check's range sums of a table COPY streams would read (copy_streams, at least
 * copy_streams_min_size on disk): the first half of the ranges summed on a second connection inside
 * the table's snapshot, as the streams join it. 10M keys alone: 1.9-2.2 s on one backend, 1.5 s on
 * two (2.6-2.9 s of CPU: this machine's two cores share more than one would think). *out NULL
 * where not worth it or not possible (no connection to spare, the lock not granted at once): the
 * table's own connection sums every range; -1 when the table's transaction failed. */
static int range_helper(struct pgw_run *run, const struct vtable *v, struct pgw_pg **out, struct pgw_err *err)
{
	*out = NULL;
	long long bytes = 0, blocks = 0;
	if (!pg_by_ranges(v, PG) || v->buckets < 2 || run->cfg->copy_streams < 2)
		return 0;
	if (pgw_table_size(run, v->def, &bytes, &blocks, err) < 0)
		return -1;
	if (bytes < run->cfg->copy_streams_min_bytes)
		return 0;
	char *snapshot = NULL;
	if (pgw_pg_export_snapshot(run->pg, &snapshot, err) < 0)
		return -1;
	struct pgw_err e = {0};
	struct pgw_pg *h = pgw_calloc(1, sizeof(*h));
	if (pgw_pg_connect_once(h, run->cfg, &e) < 0 || pgw_pg_join_snapshot(h, v->def, snapshot, &e) < 0) {
		pgw_debug("%s: the key check on one connection (%s)", v->name, e.msg);
		pgw_pg_close(h);
		free(h);
		h = NULL;
	}
	free(snapshot);
	*out = h;
	return 0;
}

/* The rows of the query sent on pg, which the caller sent */
static int pg_rows(struct pgw_pg *pg, struct pgw_rows *out, struct pgw_err *err)
{
	PGresult *res, *last = NULL;
	while ((res = PQgetResult(pg->conn))) {
		PQclear(last);
		last = res;
	}
	int rc = PQresultStatus(last) == PGRES_TUPLES_OK ? 0 : pgw_pg_result_error(pg, last, "", err);
	if (rc == 0)
		rows_of(last, out);
	PQclear(last);
	return rc;
}

static int pg_send(struct pgw_pg *pg, const char *sql, struct pgw_err *err)
{
	pgw_debug("pg: %s", sql);
	return PQsendQuery(pg->conn, sql) ? 0 : pgw_pg_result_error(pg, NULL, "", err);
}

/* Both sides' sums at once: PostgreSQL's query runs while the warehouse answers its own */
static int bucket_sums(struct pgw_run *run, struct vtable *v, char **sums[2], struct pgw_err *err)
{
	struct pgw_buf sql[3]; /* PG, WH, and the helper's half of PG's ranges */
	struct pgw_rows r[3] = {{0}, {0}, {0}};
	struct pgw_pg *helper;
	if (range_helper(run, v, &helper, err) < 0)
		return -1;
	struct pgw_pg_watch *watch = helper ? pgw_pg_watch(helper) : NULL; /* a stop cancels its half too */
	for (int s = 0; s < 3; s++)
		pgw_buf_init(&sql[s]);
	for (int s = PG; s <= WH; s++)
		sums[s] = pgw_calloc((size_t)v->buckets, sizeof(char *));
	if (helper) {
		range_sums_sql(&sql[PG], v, v->buckets / 2, v->buckets - 1);
		range_sums_sql(&sql[2], v, 0, v->buckets / 2 - 1);
	} else {
		sums_sql(&sql[PG], v, PG);
	}
	sums_sql(&sql[WH], v, WH);
	double t0 = pgw_now();
	int rc = pg_send(run->pg, sql[PG].data, err), hrc = 0;
	if (rc == 0 && helper)
		hrc = pg_send(helper, sql[2].data, err);
	struct pgw_err wh_err = {0};
	int wrc = rc == 0 && hrc == 0 ? query(run, WH, sql[WH].data, &r[WH], &wh_err) : 0;
	double t1 = pgw_now();
	if (rc == 0)
		rc = pg_rows(run->pg, &r[PG], err);
	if (helper && hrc == 0)
		hrc = pg_rows(helper, &r[2], rc == 0 ? err : NULL);
	pgw_debug("%s: the warehouse's sums in %.3f s, PostgreSQL's %.3f s later%s", v->name, t1 - t0, pgw_now() - t1,
		  helper ? " (two connections)" : "");
	if (rc == 0 && hrc < 0)
		rc = -1;
	if (rc == 0 && wrc < 0) {
		*err = wh_err;
		rc = -1;
	}
	for (int s = PG; rc == 0 && s <= WH; s++)
		rc = fill_sums(v, (enum side)s, &r[s], sums[s], err);
	if (rc == 0 && helper)
		rc = fill_sums(v, PG, &r[2], sums[PG], err);
	for (int s = 0; s < 3; s++) {
		pgw_rows_cleanup(&r[s]);
		pgw_buf_cleanup(&sql[s]);
	}
	if (helper) {
		pgw_pg_unwatch(watch);
		pgw_pg_close(helper);
	}
	free(helper);
	return rc;
}

static void note_key(struct vtable *v, const char *what, const char *key)
{
	if (v->shown++ < MAX_KEYS_SHOWN)
		pgw_buf_printf(&v->keys, "  %-9s %s\n", what, key);
}

static int cmp_cells(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	int c = strcmp(x[0] ? x[0] : "", y[0] ? y[0] : "");
	return c;
}

/* The rows of the differing buckets, key text / hash / display (keyless: hash / count), sorted */
static int bucket_rows(struct pgw_run *run, struct vtable *v, enum side s, struct pgw_rows *r, struct pgw_err *err)
{
	enum lang l = lang_of(v, s);
	struct pgw_buf sql, h, n;
	pgw_buf_init(&sql);
	pgw_buf_init(&h);
	pgw_buf_init(&n);
	if (v->def->npk) {
		to_text(&h, l, v->hash[s]);
		pgw_buf_printf(&sql, "SELECT %s, %s, %s FROM %s WHERE %s%s%s%s", v->key_text[s], h.data, v->display[s],
			       v->rel[s].data, v->pred[s], domain(v, s) ? " AND (" : "", domain(v, s) ? v->domain : "",
			       domain(v, s) ? ")" : "");
	} else {
		to_text(&h, l, "_pgw_h");
		to_text(&n, l, "count(*)");
		pgw_buf_printf(
			&sql,
			"SELECT %s, %s, '' FROM (SELECT %s AS _pgw_h FROM %s%s) AS _pgw_s WHERE %s GROUP BY _pgw_h",
			h.data, n.data, v->hash[s], v->rel[s].data, l == L_PG ? " OFFSET 0" : "", v->pred[s]);
	}
	int rc = query(run, s, sql.data, r, err);
	pgw_buf_cleanup(&sql);
	pgw_buf_cleanup(&h);
	pgw_buf_cleanup(&n);
	if (rc == 0 && r->nrows > 1)
		qsort(r->cells, (size_t)r->nrows, 3 * sizeof(char *), cmp_cells);
	return rc;
}

static void add_key(char ***list, int *n, const char *key)
{
	*list = pgw_realloc(*list, (size_t)(*n + 1) * sizeof(char *));
	(*list)[(*n)++] = pgw_strdup(key);
}

/* (<bucket> IN (...)) AND <key text> IN ('...', ...) on one side */
static void keys_where(struct pgw_buf *sql, const struct vtable *v, enum side s, char **keys, int n)
{
	pgw_buf_printf(sql, "(%s) AND %s IN (", v->pred[s], v->key_text[s]);
	for (int i = 0; i < n; i++) {
		pgw_buf_puts(sql, i ? ", " : "");
		if (s == PG)
			pgw_buf_literal(sql, keys[i]);
		else
			v->sink->ops->literal(sql, keys[i]);
	}
	pgw_buf_puts(sql, ")");
}

/* Walks both sorted row lists as a merge join on the first cell. */
static void compare_rows(struct vtable *v, const struct pgw_rows *p, const struct pgw_rows *w)
{
	int i = 0, j = 0;
	const char *matched = NULL; /* the last key both sides hold */
	while (i < p->nrows || j < w->nrows) {
		char **a = i < p->nrows ? &p->cells[i * 3] : NULL, **b = j < w->nrows ? &w->cells[j * 3] : NULL;
		int c = !a ? 1 : !b ? -1 : strcmp(a[0], b[0]);
		if (!v->def->npk) { /* hash, count: a multiset */
			long long na = c <= 0 ? atoll(a[1]) : 0, nb = c >= 0 ? atoll(b[1]) : 0;
			v->missing += na > nb ? na - nb : 0;
			v->extra += nb > na ? nb - na : 0;
		} else if (c < 0) {
			v->missing++;
			note_key(v, "missing", a[2]);
			add_key(&v->up, &v->nup, a[0]);
		} else if (c > 0 && matched && !strcmp(b[0], matched)) { /* another copy: not a delete */
			v->extra++;
			v->twice++;
			note_key(v, "extra", b[2]);
			if (v->keys_only)
				add_key(&v->dup, &v->ndup, b[0]);
			else
				add_key(&v->up, &v->nup, b[0]);
		} else if (c > 0) {
			v->extra++;
			note_key(v, "extra", b[2]);
			add_key(&v->del, &v->ndel, b[0]);
		} else if (strcmp(a[1], b[1])) {
			v->different++;
			note_key(v, "different", a[2]);
			add_key(&v->up, &v->nup, a[0]);
		}
		if (c == 0)
			matched = a[0];
		i += c <= 0;
		j += c >= 0;
	}
}

/* The differing buckets as a predicate: key ranges (runs of neighbouring buckets merged, the first
 * and last open-ended, as their buckets hold any key beyond PostgreSQL's least and greatest), or
 * bucket IN (...) */
static char *predicate(const struct vtable *v, enum side s, const bool *differs)
{
	struct pgw_buf p, q;
	pgw_buf_init(&p);
	pgw_buf_init(&q);
	if (!v->ranges) {
		pgw_buf_printf(&p, "%s IN (", v->bucket[s]);
		for (long long b = 0, n = 0; b < v->buckets; b++)
			if (differs[b])
				pgw_buf_printf(&p, "%s%lld", n++ ? ", " : "", b);
		pgw_buf_puts(&p, ")");
		return pgw_buf_steal(&p);
	}
	ident(&q, v, s, v->def->cols[v->def->pk[0]].name);
	for (long long b = 0; b < v->buckets; b++) {
		if (!differs[b])
			continue;
		long long e = b;
		while (e + 1 < v->buckets && differs[e + 1])
			e++;
		pgw_buf_puts(&p, p.len ? " OR " : "(");
		if (b == 0 && e == v->buckets - 1)
			pgw_buf_puts(&p, "1 = 1");
		else if (b == 0)
			pgw_buf_printf(&p, "%s <= %lld", q.data, v->kmin + (e + 1) * v->width - 1);
		else if (e == v->buckets - 1)
			pgw_buf_printf(&p, "%s >= %lld", q.data, v->kmin + b * v->width);
		else
			pgw_buf_printf(&p, "(%s >= %lld AND %s <= %lld)", q.data, v->kmin + b * v->width, q.data,
				       v->kmin + (e + 1) * v->width - 1);
		b = e;
	}
	pgw_buf_puts(&p, ")");
	pgw_buf_cleanup(&q);
	return pgw_buf_steal(&p);
}

static int compare_table(struct pgw_run *run, struct vtable *v, struct pgw_err *err)
{
	char **sums[2] = {NULL, NULL};
	double t0 = pgw_now();
	int rc = bucket_sums(run, v, sums, err);
	pgw_debug("%s: %lld buckets summed in %.3f s", v->name, v->buckets, pgw_now() - t0);
	bool *differs = pgw_calloc((size_t)v->buckets, sizeof(bool));
	bool any = false;
	for (long long b = 0; rc == 0 && b < v->buckets; b++) {
		const char *x = sums[PG][b], *y = sums[WH][b];
		differs[b] = (x || y) && (!x || !y || strcmp(x, y));
		any |= differs[b];
	}
	for (int s = PG; rc == 0 && any && s <= WH; s++)
		v->pred[s] = predicate(v, (enum side)s, differs);
	free(differs);
	if (rc == 0 && any) {
		struct pgw_rows r[2] = {{0}, {0}};
		rc = bucket_rows(run, v, PG, &r[PG], err);
		if (rc == 0)
			rc = bucket_rows(run, v, WH, &r[WH], err);
		if (rc == 0)
			compare_rows(v, &r[PG], &r[WH]);
		pgw_debug("%s: the differing buckets' rows read and compared in %.3f s", v->name, pgw_now() - t0);
		pgw_rows_cleanup(&r[PG]);
		pgw_rows_cleanup(&r[WH]);
	}
	for (int s = PG; s <= WH; s++) {
		for (long long b = 0; sums[s] && b < v->buckets; b++)
			free(sums[s][b]);
		free(sums[s]);
	}
	return rc;
}

/* The missing and different rows, read from PostgreSQL in the comparison's snapshot, staged as
 * upserts */
static int stage_upserts(struct pgw_run *run, struct vtable *v, const struct pgw_table_def *sdef, struct pgw_batch *b,
			 struct pgw_err *err)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "SELECT ");
	for (int i = 0; i < v->def->ncols; i++) {
		pgw_buf_ident(&sql, v->def->cols[i].name);
		pgw_buf_printf(&sql, "%s, ", v->def->cols[i].cast);
	}
	pgw_buf_printf(&sql, "%d::bigint, NULL::text FROM %s WHERE ", PGW_OP_UPSERT, v->rel[PG].data);
	keys_where(&sql, v, PG, v->up, v->nup);
	long long rows = 0;
	int rc = pgw_copy_to_sink(run, sdef, sql.data, b, &rows, err);
	pgw_buf_cleanup(&sql);
	return rc;
}

/* Column c's place in the key, or -1 */
static int key_index(const struct pgw_table_def *def, int c)
{
	for (int k = 0; k < def->npk; k++)
		if (def->pk[k] == c)
			return k;
	return -1;
}

/* The extra rows, staged as deletes of their keys (read back from the warehouse as text) into b,
 * a batch of pgw_changes_def's layout */
static int stage_deletes(struct pgw_run *run, struct vtable *v, struct pgw_batch *b, struct pgw_err *err)
{
	const struct pgw_table_def *def = v->def;
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "SELECT ");
	for (int k = 0; k < def->npk; k++) {
		struct pgw_buf q;
		pgw_buf_init(&q);
		ident(&q, v, WH, def->cols[def->pk[k]].name);
		pgw_buf_puts(&sql, k ? ", " : "");
		key_pg_text(&sql, v, WH, &def->cols[def->pk[k]].ti, q.data);
		pgw_buf_cleanup(&q);
	}
	pgw_buf_printf(&sql, " FROM %s WHERE ", v->rel[WH].data);
	keys_where(&sql, v, WH, v->del, v->ndel);
	struct pgw_rows r = {0};
	int rc = query(run, WH, sql.data, &r, err);
	pgw_buf_cleanup(&sql);
	pgw_batch_reset(b);
	for (int i = 0; rc == 0 && i < r.nrows; i++) {
		for (int c = 0; rc == 0 && c < def->ncols; c++) {
			int k = key_index(def, c);
			const char *t = k < 0 ? NULL : r.cells[i * def->npk + k];
			if (t)
				rc = pgw_text_decode(def->cols[c].name, &def->cols[c].ti, t, strlen(t), &b->cols[c],
						     err);
			else
				pgw_col_push_null(&b->cols[c]);
		}
		*(int64_t *)pgw_col_push(&b->cols[def->ncols]) = PGW_OP_DELETE;
		pgw_col_push_null(&b->cols[def->ncols + 1]);
		b->rows++;
	}
	if (rc == 0 && b->rows)
		rc = run->sink->ops->write(run->sink, b, err);
	pgw_rows_cleanup(&r);
	return rc;
}

/* The differing rows fixed in one warehouse transaction (a swap on ClickHouse), as change data
 * capture applies its changes */
static int repair_rows(struct pgw_run *run, struct vtable *v, struct pgw_err *err)
{
	struct pgw_table_def *sdef = pgw_changes_def(v->def);
	struct pgw_batch *b = pgw_batch_for_def(sdef, 2048);
	struct pgw_target t = {.name = v->def->name,
			       .def = v->def,
			       .stage_def = sdef,
			       .schema = strcmp(v->def->schema, run->cfg->pgschema) ? v->def->schema : NULL,
			       .replace_copies = v->twice > 0};
	int rc = run->sink->ops->begin(run->sink, &t, PGW_LOAD_CHANGES, err);
	if (rc == 0 && v->nup)
		rc = stage_upserts(run, v, sdef, b, err);
	if (rc == 0 && v->ndel)
		rc = stage_deletes(run, v, b, err);
	if (rc == 0)
		rc = run->sink->ops->commit(run->sink, err);
	else
		run->sink->ops->abort(run->sink);
	pgw_batch_free(b);
	pgw_changes_def_free(sdef);
	return rc;
}

/* A single integer key: buckets of equal key ranges between PostgreSQL's least and greatest key
 * (both from its index), so that the differing buckets' rows are read again by ranges an index
 * answers. Other keys (and a key range wider than 2^62) are bucketed by hash. */
static int key_ranges(struct pgw_run *run, struct vtable *v, struct pgw_err *err)
{
	const struct pgw_table_def *def = v->def;
	if (!pgw_table_int_key(def))
		return 0;
	struct pgw_buf sql, q;
	pgw_buf_init(&sql);
	pgw_buf_init(&q);
	pgw_buf_ident(&q, def->cols[def->pk[0]].name);
	pgw_buf_printf(&sql, "SELECT min(%s)::text, max(%s)::text FROM %s", q.data, q.data, v->rel[PG].data);
	PGresult *res = pgw_pg_query(run->pg, sql.data, 0, NULL, err);
	pgw_buf_cleanup(&sql);
	pgw_buf_cleanup(&q);
	if (!res)
		return -1;
	if (!PQgetisnull(res, 0, 0)) {
		v->kmin = atoll(PQgetvalue(res, 0, 0));
		v->kmax = atoll(PQgetvalue(res, 0, 1));
		__int128 span = (__int128)v->kmax - v->kmin + 1;
		v->ranges = span < ((__int128)1 << 62);
		v->width = (long long)((span + v->buckets - 1) / v->buckets);
	}
	PQclear(res);
	return 0;
}

/* A table never synced, or altered in PostgreSQL since: one line saying what brings it to where it
 * can be compared */
static int warehouse_table_ready(struct vtable *v, const struct pgw_target *t, struct pgw_err *err)
{
	struct pgw_wh_state st = {0};
	if (v->sink->ops->inspect(v->sink, t, &st, err) < 0)
		return -1;
	if (!st.exists)
		return pgw_err_set(err, PGW_ERR_TABLE,
				   "table %s is not in the warehouse yet: `pgwarehouse sync %s` copies it", v->name,
				   v->name);
	/* a table of pgwarehouse's carries its columns' fingerprint; another one is compared by names */
	if (!st.same_shape && (st.ours || !st.same_columns))
		return pgw_err_set(err, PGW_ERR_TABLE,
				   "table %s in the warehouse has other columns or types than in PostgreSQL (an ALTER "
				   "TABLE since its last sync?): `pgwarehouse sync %s` brings it up to date first",
				   v->name, v->name);
	return 0;
}

static int prepare(struct pgw_run *run, struct vtable *v, struct pgw_err *err)
{
	if (!v->def && pgw_pg_table_def(run->pg, v->name, &v->def, err) < 0)
		return -1;
	int n = v->keys_only ? v->def->npk : v->def->ncols;
	for (int i = 0; i < n; i++) {
		const struct pgw_coldef *c = &v->def->cols[v->keys_only ? v->def->pk[i] : i];
		bool key = key_index(v->def, v->keys_only ? v->def->pk[i] : i) >= 0;
		if (shape_only(v, &c->ti) && !key)
			pgw_buf_printf(&v->shape_cols, "%s%s", v->shape_cols.len ? ", " : "", c->name);
		struct pgw_buf probe;
		pgw_buf_init(&probe);
		bool ok = !(shape_only(v, &c->ti) && key) && canon(&probe, v, PG, &c->ti, "x") &&
			  canon(&probe, v, WH, &c->ti, "x");
		pgw_buf_cleanup(&probe);
		if (!ok)
			return pgw_err_set(err, PGW_ERR_CONFIG,
					   "table %s: verify does not compare columns of type %s (column %s) yet",
					   v->name, c->pgtype, c->name);
	}
	pgw_pg_relation_sql(&v->rel[PG], v->def);
	struct pgw_target t = {.name = v->def->name,
			       .def = v->def,
			       .schema = strcmp(v->def->schema, run->cfg->pgschema) ? v->def->schema : NULL};
	v->sink->ops->relation(v->sink, &t, &v->rel[WH]);
	if (!v->keys_only && warehouse_table_ready(v, &t, err) < 0)
		return -1;
	/* about a thousand rows a bucket: the rows read again for a difference (a table never
	 * analyzed has no estimate: count it) */
	double est = v->def->est_rows;
	if (est <= 0) {
		struct pgw_buf sql;
		pgw_buf_init(&sql);
		pgw_buf_printf(&sql, "SELECT count(*) FROM %s", v->rel[PG].data);
		PGresult *res = pgw_pg_query(run->pg, sql.data, 0, NULL, err);
		pgw_buf_cleanup(&sql);
		if (!res)
			return -1;
		est = atof(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	const char *per = getenv("PGW_VERIFY_BUCKET_ROWS"); /* tests: more buckets */
	/* the key check reads its differing buckets' keys only: smaller buckets cost little */
	double rows = per && atof(per) >= 1 ? atof(per) : v->keys_only ? 100 : 1000;
	v->buckets = est / rows < 1 ? 1 : est / rows > 65536 ? 65536 : (long long)(est / rows);
	if (key_ranges(run, v, err) < 0)
		return -1;
	build_exprs(v);
	return 0;
}

static void report(const struct vtable *v)
{
	bool equal = !v->missing && !v->extra && !v->different;
	if (equal)
		printf("%s: equal (%lld rows)\n", v->name, v->rows);
	else
		printf("%s: differs: %lld missing, %lld extra, %lld different (PostgreSQL has %lld rows)\n", v->name,
		       v->missing, v->extra, v->different, v->rows);
	if (v->shape_cols.len)
		printf("  on Snowflake compared only as NULL or not, and by array length: %s\n", v->shape_cols.data);
	if (equal)
		return;
	if (v->keys.len)
		fputs(v->keys.data, stdout);
	if (v->shown > MAX_KEYS_SHOWN)
		printf("  ... and %d more\n", v->shown - MAX_KEYS_SHOWN);
}

static void vtable_cleanup(struct vtable *v)
{
	for (int s = PG; s <= WH; s++) {
		pgw_buf_cleanup(&v->rel[s]);
		free(v->key_text[s]);
		free(v->hash[s]);
		free(v->bucket[s]);
		free(v->display[s]);
	}
	pgw_buf_cleanup(&v->keys);
	pgw_buf_cleanup(&v->shape_cols);
	for (int i = 0; i < v->nup; i++)
		free(v->up[i]);
	for (int i = 0; i < v->ndel; i++)
		free(v->del[i]);
	for (int i = 0; i < v->ndup; i++)
		free(v->dup[i]);
	free(v->up);
	free(v->del);
	free(v->dup);
	free(v->pred[PG]);
	free(v->pred[WH]);
	if (v->def && !v->borrowed_def)
		pgw_table_def_free(v->def);
}

/* A table whose differences cannot be fixed row by row (no key) or are most of it: copied again,
 * unless change data capture follows it (its copy goes with the slot's position) */
static int repair_by_reload(struct pgw_run *run, const char *name, struct pgw_err *err)
{
	if (pgw_table_cdc(run->cfg, name))
		return pgw_err_set(err, PGW_ERR_TABLE,
				   "table %s is followed by change data capture and cannot be fixed row by row; run "
				   "`pgwarehouse reload %s`",
				   name, name);
	struct pgw_table_result res = {0};
	int rc = pgw_run_table(run, PGW_CMD_RELOAD, name, &res);
	if (rc == 0)
		printf("  repaired: reloaded, %lld rows\n", res.rows);
	else
		*err = res.err;
	pgw_table_result_cleanup(&res);
	return rc;
}

static double wall_time(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* The run log's row: status equal, differs, repaired or failed (never "ok", which marks loads),
 * the differences or the error in its error column */
static void record(struct pgw_run *run, const struct vtable *v, bool repair, double started, const char *error)
{
	long long diffs = v->missing + v->extra + v->different;
	char *summary = pgw_asprintf("%lld missing, %lld extra, %lld different", v->missing, v->extra, v->different);
	struct pgw_run_record r = {.table = v->name,
				   .command = "verify",
				   .strategy = repair ? "repair" : "verify",
				   .started = started,
				   .finished = wall_time(),
				   .rows = v->rows,
				   .status = error    ? "failed"
					     : !diffs ? "equal"
					     : repair ? "repaired"
						      : "differs",
				   .error = error   ? error
					    : diffs ? summary
						    : NULL};
	struct pgw_err e = {0};
	if (pgw_runlog_append(run->sink, &r, &e) < 0)
		pgw_warn("%s: the run log could not record the verify: %s", v->name, e.msg);
	free(summary);
}

/* One table in its own PostgreSQL snapshot; 0 equal (or repaired), 1 differs, -1 error (err) */
static enum lang wh_lang(const struct pgw_sink *sink)
{
	switch (sink->ops->dialect) {
	case PGW_SQL_CLICKHOUSE: return L_CH;
	case PGW_SQL_SNOWFLAKE: return L_SF;
	default: return L_DUCK;
	}
}

static int verify_one(struct pgw_run *run, const char *name, bool repair, struct pgw_err *err)
{
	double started = wall_time();
	struct vtable v = {.name = name, .sink = run->sink, .wh = wh_lang(run->sink)};
	pgw_buf_init(&v.rel[PG]);
	pgw_buf_init(&v.rel[WH]);
	pgw_buf_init(&v.keys);
	pgw_buf_init(&v.shape_cols);
	int rc = pgw_pg_begin(run->pg, "ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
	/* hashing is the cost PostgreSQL's planner does not see: let it use its parallel workers
	 * (as many as the server allows) and hash its aggregates */
	if (rc == 0)
		rc = pgw_pg_exec(run->pg,
				 "SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0; "
				 "SET LOCAL enable_sort = off",
				 err);
	v.pg13 = pgw_pg_version(run->pg) >= 130000;
	v.pghash = rc == 0 && pg_hash_agrees(run);
	if (rc == 0)
		rc = prepare(run, &v, err);
	if (rc == 0)
		rc = compare_table(run, &v, err);
	long long diffs = v.missing + v.extra + v.different;
	if (rc == 0)
		report(&v);
	bool by_rows = v.def && v.def->npk && diffs * 2 <= v.rows;
	if (rc == 0 && repair && diffs && by_rows) { /* in the comparison's snapshot */
		double t0 = wall_time();
		rc = repair_rows(run, &v, err);
		if (rc == 0)
			printf("  repaired: %lld rows written, %lld deleted (%.1f s)\n",
			       v.missing + v.different + v.twice, v.extra - v.twice, wall_time() - t0);
	}
	struct pgw_err ignored = {0};
	pgw_pg_exec(run->pg, "ROLLBACK", &ignored);
	if (rc == 0 && repair && diffs && !by_rows)
		rc = repair_by_reload(run, name, err);
	record(run, &v, repair, started, rc < 0 ? err->msg : NULL);
	if (rc == 0)
		rc = diffs && !repair;
	vtable_cleanup(&v);
	return rc;
}

/* DuckDB runs pgwarehouse's loads on duckdb_threads (1: its workers would wait for the COPY
 * readers); verify's queries, and the key check's before a load's rows flow, are DuckDB's own work,
 * on every core (n NULL), then back. Its common-subexpression pass is off meanwhile: it compares a
 * row hash's nested expressions pairwise (planning the sums of a 240-column table took 0.7 s with
 * it, 0.25 s without; running them on the 2M-row bench table, the same time either way) */
static void duckdb_own_work(struct pgw_run *run, const char *n)
{
	if (run->sink->ops->dialect != PGW_SQL_DUCKDB)
		return;
	long t = n ? atol(n) : sysconf(_SC_NPROCESSORS_ONLN); /* a number: nothing spliced as it came */
	char *set = pgw_asprintf("SET threads = %ld", t > 0 ? t : 1);
	struct pgw_err ignored = {0};
	run->sink->ops->sql(run->sink, set, NULL, &ignored);
	run->sink->ops->sql(run->sink,
			    n ? "RESET disabled_optimizers" : "SET disabled_optimizers = 'common_subexpressions'", NULL,
			    &ignored);
	free(set);
}

int pgw_verify(struct pgw_run *run, char *const *names, int n, bool repair, int *differ, struct pgw_err *err)
{
	*differ = 0;
	duckdb_own_work(run, NULL);
	int failed = 0;
	for (int i = 0; i < n; i++) {
		struct pgw_err e = {0};
		int rc = verify_one(run, names[i], repair, &e);
		if (rc < 0) {
			pgw_error("verify %s: %s", names[i], e.msg);
			if (!failed++)
				*err = e;
		} else {
			*differ += rc;
		}
	}
	return failed ? -1 : 0;
}

/* sync's key check: verify's comparison of the keys alone, in the sync's snapshot */
struct pgw_keycheck {
	struct vtable v;
};

int pgw_keycheck_run(struct pgw_run *run, const struct pgw_plan *plan, const char *pg_domain, struct pgw_keycheck **out,
		     struct pgw_err *err)
{
	struct pgw_keycheck *kc = pgw_calloc(1, sizeof(*kc));
	struct vtable *v = &kc->v;
	*v = (struct vtable){.name = plan->def->name,
			     .sink = run->sink,
			     .wh = wh_lang(run->sink),
			     .pg13 = pgw_pg_version(run->pg) >= 130000,
			     .pghash = pg_hash_agrees(run),
			     .def = plan->def,
			     .borrowed_def = true,
			     .keys_only = true,
			     .domain = pg_domain,
			     /* new-records' domain is the watermark's condition on the key */
			     .key_domain = !pg_domain || plan->mode == PGW_LOAD_APPEND};
	pgw_buf_init(&v->rel[PG]);
	pgw_buf_init(&v->rel[WH]);
	pgw_buf_init(&v->keys);
	pgw_buf_init(&v->shape_cols);
	*out = kc;
	/* as verify_one, for these queries only (the load's own plans keep the role's settings), and
	 * for tables big enough: parallel workers would cost a small table more than they save */
	bool parallel = plan->def->est_rows >= 100000;
	int rc = !parallel ? 0
			   : pgw_pg_exec(run->pg,
					 "SET LOCAL parallel_setup_cost = 0; SET LOCAL "
					 "parallel_tuple_cost = 0; SET LOCAL enable_sort = off",
					 err);
	duckdb_own_work(run, NULL); /* measured at 10M keys: 2.47-2.62 s instead of 2.85-3.01 s */
	if (rc == 0 && (rc = prepare(run, v, err)) == 0)
		rc = compare_table(run, v, err);
	duckdb_own_work(run, run->cfg->duckdb_threads);
	/* also after a failure of its own (a key type not compared): the load may go on without it */
	struct pgw_err reset_err = {0};
	if (parallel && PQtransactionStatus(run->pg->conn) == PQTRANS_INTRANS &&
	    pgw_pg_exec(run->pg,
			"SET LOCAL parallel_setup_cost TO DEFAULT; SET LOCAL parallel_tuple_cost TO DEFAULT; "
			"SET LOCAL enable_sort TO DEFAULT",
			&reset_err) < 0 &&
	    rc == 0) {
		*err = reset_err;
		rc = -1;
	}
	return rc;
}

long long pgw_keycheck_missing(const struct pgw_keycheck *kc)
{
	return kc ? kc->v.missing : 0;
}

long long pgw_keycheck_extra(const struct pgw_keycheck *kc)
{
	return kc ? kc->v.extra : 0;
}

long long pgw_keycheck_twice(const struct pgw_keycheck *kc)
{
	return kc ? kc->v.twice : 0;
}

void pgw_keycheck_upsert_twice(struct pgw_keycheck *kc)
{
	struct vtable *v = &kc->v;
	for (int i = 0; i < v->ndup; i++) {
		add_key(&v->up, &v->nup, v->dup[i]);
		free(v->dup[i]);
	}
	v->missing += v->ndup;
	v->ndup = 0;
}

const char *pgw_keycheck_keys(const struct pgw_keycheck *kc)
{
	return kc && kc->v.keys.len ? kc->v.keys.data : "";
}

void pgw_keycheck_missing_where(const struct pgw_keycheck *kc, struct pgw_buf *sql)
{
	keys_where(sql, &kc->v, PG, kc->v.up, kc->v.nup);
}

int pgw_keycheck_stage_deletes(struct pgw_run *run, struct pgw_keycheck *kc, struct pgw_batch *b, struct pgw_err *err)
{
	return kc->v.ndel ? stage_deletes(run, &kc->v, b, err) : 0;
}

void pgw_keycheck_free(struct pgw_keycheck *kc)
{
	if (!kc)
		return;
	vtable_cleanup(&kc->v);
	free(kc);
}
