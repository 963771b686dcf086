/* Table definitions read from pg_catalog: columns in order, resolved types, primary key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "source/pg.h"

enum {
	OID_BOOL = 16,
	OID_BYTEA = 17,
	OID_CHAR = 18,
	OID_NAME = 19,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_TEXT = 25,
	OID_OID = 26,
	OID_JSON = 114,
	OID_FLOAT4 = 700,
	OID_FLOAT8 = 701,
	OID_BPCHAR = 1042,
	OID_VARCHAR = 1043,
	OID_DATE = 1082,
	OID_TIME = 1083,
	OID_TIMESTAMP = 1114,
	OID_TIMESTAMPTZ = 1184,
	OID_INTERVAL = 1186,
	OID_TIMETZ = 1266,
	OID_NUMERIC = 1700,
	OID_UUID = 2950,
	OID_JSONB = 3802,
};

struct pg_type_row {
	char typtype;
	char category; /* pg_type.typcategory: 'S' string types (text, varchar, citext...) */
	unsigned int basetype, elem;
	int basetypmod;
	bool is_array;
};

/* Runs a catalog query whose one parameter is an oid. */
static PGresult *query_oid(struct pgw_pg *pg, const char *sql, unsigned int oid, struct pgw_err *err)
{
	char oidtxt[16];
	snprintf(oidtxt, sizeof(oidtxt), "%u", oid);
	const char *params[] = {oidtxt};
	return pgw_pg_query(pg, sql, 1, params, err);
}

/* Every type a table's columns reach (domains' base types, arrays' elements), and the labels of
 * the enums among them in sort order: one round trip however many columns and domain levels. */
static const char TYPES_SQL[] =
	"WITH RECURSIVE ty(oid) AS ("
	" SELECT atttypid FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped"
	" UNION SELECT x.oid FROM ty JOIN pg_type t ON t.oid = ty.oid"
	" CROSS JOIN LATERAL (VALUES (t.typbasetype), (t.typelem)) AS x(oid) WHERE x.oid <> 0)"
	" SELECT t.oid, t.typtype, t.typbasetype, t.typtypmod, t.typelem,"
	" t.typcategory = 'A' AND t.typelem <> 0 AND t.typlen = -1, NULL::name, 0::float4, t.typcategory::text"
	" FROM ty JOIN pg_type t ON t.oid = ty.oid"
	" UNION ALL SELECT e.enumtypid, 'l', 0::oid, 0, 0::oid, false, e.enumlabel, e.enumsortorder, ''"
	" FROM ty JOIN pg_enum e ON e.enumtypid = ty.oid ORDER BY 1, 8";

struct types {
	PGresult *res;
};

static unsigned int oid_at(const struct types *ty, int row, int col)
{
	return (unsigned)strtoul(PQgetvalue(ty->res, row, col), NULL, 10);
}

static int type_row(const struct types *ty, unsigned int oid, struct pg_type_row *row, struct pgw_err *err)
{
	for (int i = 0; i < PQntuples(ty->res); i++) {
		if (oid_at(ty, i, 0) != oid || PQgetvalue(ty->res, i, 1)[0] == 'l')
			continue;
		row->typtype = PQgetvalue(ty->res, i, 1)[0];
		row->basetype = oid_at(ty, i, 2);
		row->basetypmod = atoi(PQgetvalue(ty->res, i, 3));
		row->elem = oid_at(ty, i, 4);
		row->is_array = PQgetvalue(ty->res, i, 5)[0] == 't';
		row->category = PQgetvalue(ty->res, i, 8)[0];
		return 0;
	}
	return pgw_err_set(err, PGW_ERR_SOURCE, "type oid %u not found in pg_type", oid);
}

static void enum_labels(const struct types *ty, unsigned int oid, struct pgw_typeinfo *ti)
{
	int n = 0, rows = PQntuples(ty->res);
	for (int i = 0; i < rows; i++)
		n += oid_at(ty, i, 0) == oid && PQgetvalue(ty->res, i, 1)[0] == 'l';
	ti->nlabels = n;
	ti->labels = pgw_calloc((size_t)n, sizeof(char *));
	ti->label_order = pgw_calloc((size_t)n, sizeof(int));
	n = 0;
	for (int i = 0; i < rows; i++)
		if (oid_at(ty, i, 0) == oid && PQgetvalue(ty->res, i, 1)[0] == 'l') {
			ti->labels[n] = pgw_strdup(PQgetvalue(ty->res, i, 6));
			ti->label_order[n] = n;
			n++;
		}
	/* insertion sort by label: enums are small and this runs once per column */
	for (int i = 1; i < ti->nlabels; i++)
		for (int j = i; j > 0 && strcmp(ti->labels[ti->label_order[j - 1]], ti->labels[ti->label_order[j]]) > 0;
		     j--) {
			int t = ti->label_order[j];
			ti->label_order[j] = ti->label_order[j - 1];
			ti->label_order[j - 1] = t;
		}
}

/* numeric(p,s) typmods: ((p << 16) | (s & 0x7ff)) + 4, s may be negative since PostgreSQL 15 */
static bool decimal_fits(int typmod, int *p, int *s)
{
	if (typmod < 4)
		return false;
	*p = ((typmod - 4) >> 16) & 0xffff;
	*s = (((typmod - 4) & 0x7ff) ^ 1024) - 1024;
	return *p >= 1 && *p <= 38 && *s >= 0 && *s <= *p;
}

/* Maps a (domain-resolved) scalar type; returns false when it is kept as text. */
static bool map_scalar(unsigned int oid, int typmod, struct pgw_typeinfo *ti, bool *lossy)
{
	*lossy = false;
	ti->src_oid = oid;
	switch (oid) {
	case OID_BOOL: ti->type = PGW_T_BOOL; return true;
	case OID_INT2: ti->type = PGW_T_INT16; return true;
	case OID_INT4: ti->type = PGW_T_INT32; return true;
	case OID_INT8: ti->type = PGW_T_INT64; return true;
	case OID_FLOAT4: ti->type = PGW_T_FLOAT32; return true;
	case OID_FLOAT8: ti->type = PGW_T_FLOAT64; return true;
	case OID_TEXT:
	case OID_VARCHAR: ti->type = PGW_T_TEXT; return true;
	case OID_BYTEA: ti->type = PGW_T_BYTES; return true;
	case OID_UUID: ti->type = PGW_T_UUID; return true;
	case OID_DATE: ti->type = PGW_T_DATE; return true;
	case OID_TIME: ti->type = PGW_T_TIME; return true;
	case OID_TIMETZ: ti->type = PGW_T_TIMETZ; return true;
	case OID_TIMESTAMP: ti->type = PGW_T_TIMESTAMP; return true;
	case OID_TIMESTAMPTZ: ti->type = PGW_T_TIMESTAMPTZ; return true;
	case OID_INTERVAL: ti->type = PGW_T_INTERVAL; return true;
	case OID_JSON:
	case OID_JSONB: ti->type = PGW_T_JSON; return true;
	case OID_NUMERIC:
		if (decimal_fits(typmod, &ti->precision, &ti->scale)) {
			ti->type = PGW_T_DECIMAL;
			return true;
		}
		/* unconstrained or wider than 38 digits: exact text, no warning. precision/scale stay
		 * set (0 when unconstrained) so a sink with wider decimals can still use them */
		if (typmod < 4 || ti->scale < 0 || ti->scale > ti->precision)
			ti->precision = ti->scale = 0;
		break;
	/* char(n) is selected as text, which drops the padding PostgreSQL treats as insignificant:
	 * kept, `WHERE code = 'ab'` would match in PostgreSQL and not in the warehouse */
	case OID_BPCHAR:
	case OID_NAME:
	case OID_CHAR: break;
	default: *lossy = true; break;
	}
	ti->type = PGW_T_TEXT;
	ti->src_oid = OID_TEXT;
	return false;
}

/* Follows domains down to their base type, keeping the innermost explicit typmod. */
static int resolve_domain(const struct types *ty, unsigned int *oid, int *typmod, struct pg_type_row *row,
			  struct pgw_err *err)
{
	for (int depth = 0; depth < 32; depth++) {
		if (type_row(ty, *oid, row, err) < 0)
			return -1;
		if (row->typtype != 'd')
			return 0;
		if (*typmod < 0)
			*typmod = row->basetypmod;
		*oid = row->basetype;
	}
	return pgw_err_set(err, PGW_ERR_SOURCE, "domain nesting too deep for type oid %u", *oid);
}

static int map_column(const struct types *ty, struct pgw_coldef *col, unsigned int oid, int typmod, struct pgw_err *err)
{
	struct pg_type_row row;
	struct pgw_typeinfo *ti = &col->ti;
	bool lossy = false;
	col->cast = "";
	if (resolve_domain(ty, &oid, &typmod, &row, err) < 0)
		return -1;
	if (row.typtype == 'e') {
		ti->type = PGW_T_ENUM;
		ti->src_oid = oid;
		enum_labels(ty, oid, ti);
		return 0;
	}
	if (!row.is_array) {
		col->text_sorted = oid == OID_TEXT || oid == OID_VARCHAR || oid == OID_BPCHAR || oid == OID_NAME ||
				   oid == OID_CHAR || oid == OID_UUID;
		if (!map_scalar(oid, typmod, ti, &lossy))
			col->cast = "::text";
		col->lossy_text = lossy && row.category != 'S'; /* citext: text is its exact form */
		return 0;
	}
	unsigned int eoid = row.elem;
	int etypmod = typmod;
	struct pg_type_row erow;
	if (resolve_domain(ty, &eoid, &etypmod, &erow, err) < 0)
		return -1;
	ti->type = PGW_T_LIST;
	ti->src_oid = oid;
	ti->elem = pgw_calloc(1, sizeof(*ti->elem));
	if (erow.typtype == 'e') {
		ti->elem->type = PGW_T_ENUM;
		ti->elem->src_oid = eoid;
		enum_labels(ty, eoid, ti->elem);
		return 0;
	}
	if (!map_scalar(eoid, etypmod, ti->elem, &lossy) || erow.is_array)
		col->cast = "::text[]";
	col->lossy_text = lossy && erow.category != 'S';
	return 0;
}

static int find_relation(struct pgw_pg *pg, const char *schema, const char *name, struct pgw_table_def *def,
			 struct pgw_err *err)
{
	const char *params[] = {schema, name};
	PGresult *res =
		pgw_pg_query(pg,
			     "SELECT c.oid, c.relkind, c.reltuples, c.relrowsecurity AND NOT (r.rolsuper OR "
			     "r.rolbypassrls OR (pg_has_role(c.relowner, 'USAGE') AND NOT c.relforcerowsecurity)), "
			     "c.relallvisible::float8 / greatest(c.relpages, 1) FROM pg_class c JOIN pg_namespace n ON "
			     "n.oid = c.relnamespace "
			     "JOIN pg_roles r ON r.rolname = current_user WHERE n.nspname = $1 AND c.relname = $2 "
			     "AND c.relkind IN ('r','p','v','m','f')",
			     2, params, err);
	if (!res)
		return -1;
	int found = PQntuples(res) == 1;
	if (found) {
		def->oid = (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
		def->relkind = PQgetvalue(res, 0, 1)[0];
		def->est_rows = atof(PQgetvalue(res, 0, 2));
		def->rls_partial = PQgetvalue(res, 0, 3)[0] == 't';
		def->all_visible = atof(PQgetvalue(res, 0, 4));
		def->schema = pgw_strdup(schema);
		def->name = pgw_strdup(name);
	}
	PQclear(res);
	return found;
}

/* Columns in order with their place in the primary key, then every type they reach. */
static int read_columns(struct pgw_pg *pg, struct pgw_table_def *def, struct pgw_err *err)
{
	PGresult *res =
		query_oid(pg,
			  "SELECT a.attname, a.atttypid, a.atttypmod, a.attnotnull, format_type(a.atttypid, "
			  "a.atttypmod), (SELECT k.ord FROM pg_index i CROSS JOIN LATERAL "
			  "unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) WHERE i.indrelid = a.attrelid "
			  "AND i.indisprimary AND k.attnum = a.attnum) FROM pg_attribute a WHERE a.attrelid = $1 "
			  "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
			  def->oid, err);
	struct types ty = {res ? query_oid(pg, TYPES_SQL, def->oid, err) : NULL};
	if (!ty.res) {
		PQclear(res);
		return -1;
	}
	def->ncols = PQntuples(res);
	def->cols = pgw_calloc((size_t)def->ncols, sizeof(*def->cols));
	def->pk = pgw_calloc((size_t)def->ncols + 1, sizeof(int));
	int rc = 0;
	for (int i = 0; i < def->ncols && rc == 0; i++) {
		struct pgw_coldef *c = &def->cols[i];
		c->name = pgw_strdup(PQgetvalue(res, i, 0));
		c->notnull = PQgetvalue(res, i, 3)[0] == 't';
		c->pgtype = pgw_strdup(PQgetvalue(res, i, 4));
		int ord = PQgetisnull(res, i, 5) ? 0 : atoi(PQgetvalue(res, i, 5));
		if (ord >= 1 && ord <= def->ncols) {
			def->pk[ord - 1] = i;
			def->npk++;
		}
		rc = map_column(&ty, c, (unsigned)strtoul(PQgetvalue(res, i, 1), NULL, 10), atoi(PQgetvalue(res, i, 2)),
				err);
	}
	PQclear(ty.res);
	PQclear(res);
	return rc;
}

/* Finds name in pgschema, or as "schema.table"; 1 found, 0 not, -1 error. */
static int find_named(struct pgw_pg *pg, const char *name, struct pgw_table_def *def, struct pgw_err *err)
{
	int found = find_relation(pg, pg->cfg->pgschema, name, def, err);
	const char *dot = strchr(name, '.');
	if (found == 0 && dot) {
		char *s = pgw_strndup(name, (size_t)(dot - name));
		found = find_relation(pg, s, dot + 1, def, err);
		free(s);
	}
	if (found == 0)
		pgw_err_set(
			err, PGW_ERR_CONFIG,
			"table \"%s\" not found in PostgreSQL schema \"%s\"; check the name with `pgwarehouse list`",
			name, pg->cfg->pgschema);
	return found;
}

/* Row-level security would hand this role a subset of the rows, which a reload would swap in
 * as the whole table (with row_security off the read fails instead, less clearly). */
static int refuse_partial(struct pgw_pg *pg, const struct pgw_table_def *def, struct pgw_err *err)
{
	if (!def->rls_partial)
		return 0;
	const char *user = PQuser(pg->conn);
	return pgw_err_set(
		err, PGW_ERR_TABLE,
		"table \"%s\".\"%s\" has row-level security and role \"%s\" would read only the rows its "
		"policies allow; as a superuser run ALTER ROLE \"%s\" BYPASSRLS, or sync as the table's owner",
		def->schema, def->name, user, user);
}

int pgw_pg_table_def(struct pgw_pg *pg, const char *name, struct pgw_table_def **out, struct pgw_err *err)
{
	struct pgw_table_def *def = pgw_calloc(1, sizeof(*def));
	if (find_named(pg, name, def, err) <= 0 || refuse_partial(pg, def, err) < 0 || read_columns(pg, def, err) < 0) {
		pgw_table_def_free(def);
		return -1;
	}
	*out = def;
	return 0;
}

int pgw_pg_find_table(struct pgw_pg *pg, const char *name, struct pgw_relation *rel, struct pgw_err *err)
{
	struct pgw_table_def def = {0};
	int found = find_named(pg, name, &def, err);
	rel->schema = def.schema;
	rel->name = def.name;
	rel->relkind = def.relkind;
	return found > 0 ? 0 : -1;
}

int pgw_pg_lock(struct pgw_pg *pg, const char *schema, const char *name, char relkind, bool nowait, struct pgw_err *err)
{
	/* LOCK TABLE takes tables, partitioned tables (with their partitions) and views (with the
	 * tables under them); materialized views and foreign tables cannot be locked */
	if (relkind != 'r' && relkind != 'p' && relkind != 'v')
		return 0;
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "LOCK TABLE ");
	pgw_buf_ident(&sql, schema);
	pgw_buf_puts(&sql, ".");
	pgw_buf_ident(&sql, name);
	pgw_buf_puts(&sql, nowait ? " IN ACCESS SHARE MODE NOWAIT" : " IN ACCESS SHARE MODE");
	int rc = pgw_pg_exec(pg, sql.data, err);
	pgw_buf_cleanup(&sql);
	if (rc < 0 && err && !strcmp(err->sqlstate, "55P03"))
		pgw_err_set(err, PGW_ERR_SOURCE,
			    "table \"%s\".\"%s\": another session waits for an exclusive lock on it (ALTER, TRUNCATE, "
			    "VACUUM FULL...); this copy stopped so that it can go on; run again later",
			    schema, name);
	return rc;
}

int pgw_pg_export_snapshot(struct pgw_pg *pg, char **snapshot, struct pgw_err *err)
{
	PGresult *res = pgw_pg_query(pg, "SELECT pg_export_snapshot()", 0, NULL, err);
	if (!res)
		return -1;
	*snapshot = pgw_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int pgw_pg_join_snapshot(struct pgw_pg *pg, const struct pgw_table_def *def, const char *snapshot,
			 struct pgw_err *err)
{
	if (pgw_pg_begin(pg, "ISOLATION LEVEL REPEATABLE READ READ ONLY", err) < 0 ||
	    pgw_pg_lock(pg, def->schema, def->name, def->relkind, true, err) < 0)
		return -1;
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "SET TRANSACTION SNAPSHOT ");
	pgw_buf_literal(&sql, snapshot);
	int rc = pgw_pg_exec(pg, sql.data, err);
	pgw_buf_cleanup(&sql);
	return rc;
}

int pgw_pg_list_tables(struct pgw_pg *pg, const char *schema, char ***names, int *n, struct pgw_err *err)
{
	const char *params[] = {schema};
	PGresult *res = pgw_pg_query(pg,
				     "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
				     "WHERE n.nspname = $1 AND c.relkind IN ('r','p') AND NOT c.relispartition "
				     "ORDER BY c.relname COLLATE \"C\"",
				     1, params, err);
	if (!res)
		return -1;
	*n = PQntuples(res);
	*names = pgw_calloc((size_t)*n, sizeof(char *));
	for (int i = 0; i < *n; i++)
		(*names)[i] = pgw_strdup(PQgetvalue(res, i, 0));
	PQclear(res);
	return 0;
}

void pgw_pg_select_list(struct pgw_buf *sql, const struct pgw_table_def *def, const char *more)
{
	pgw_buf_puts(sql, "SELECT ");
	for (int i = 0; i < def->ncols; i++) {
		if (i)
			pgw_buf_puts(sql, ", ");
		pgw_buf_ident(sql, def->cols[i].name);
		pgw_buf_puts(sql, def->cols[i].cast);
	}
	if (!def->ncols)
		pgw_buf_puts(sql, "NULL");
	if (more)
		pgw_buf_puts(sql, more);
	pgw_buf_puts(sql, " FROM ");
	pgw_pg_relation_sql(sql, def);
}

void pgw_pg_relation_sql(struct pgw_buf *sql, const struct pgw_table_def *def)
{
	/* an inheritance parent's own rows only: its children are tables of their own (a partitioned
	 * table's rows, though, are all in its partitions) */
	if (def->relkind == 'r' || def->relkind == 'f')
		pgw_buf_puts(sql, "ONLY ");
	pgw_buf_ident(sql, def->schema);
	pgw_buf_puts(sql, ".");
	pgw_buf_ident(sql, def->name);
}
