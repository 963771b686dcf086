/* Table definitions read from pg_catalog: columns in order, resolved types, primary key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "source/pg.h"

enum {
	OID_BOOL = 16, OID_BYTEA = 17, OID_CHAR = 18, OID_NAME = 19, OID_INT8 = 20, OID_INT2 = 21,
	OID_INT4 = 23, OID_TEXT = 25, OID_OID = 26, OID_JSON = 114, OID_FLOAT4 = 700, OID_FLOAT8 = 701,
	OID_BPCHAR = 1042, OID_VARCHAR = 1043, OID_DATE = 1082, OID_TIME = 1083, OID_TIMESTAMP = 1114,
	OID_TIMESTAMPTZ = 1184, OID_INTERVAL = 1186, OID_TIMETZ = 1266, OID_NUMERIC = 1700,
	OID_UUID = 2950, OID_JSONB = 3802,
};

struct pg_type_row {
	char typtype;
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

static int type_row(struct pgw_pg *pg, unsigned int oid, struct pg_type_row *row, struct pgw_err *err)
{
	PGresult *res = query_oid(pg,
				     "SELECT typtype, typbasetype, typtypmod, typelem, "
				     "(typcategory = 'A' AND typelem <> 0 AND typlen = -1) FROM pg_type WHERE oid = $1", oid, err);
	if (!res)
		return -1;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return pgw_err_set(err, PGW_ERR_SOURCE, "type oid %u not found in pg_type", oid);
	}
	row->typtype = PQgetvalue(res, 0, 0)[0];
	row->basetype = (unsigned)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
	row->basetypmod = atoi(PQgetvalue(res, 0, 2));
	row->elem = (unsigned)strtoul(PQgetvalue(res, 0, 3), NULL, 10);
	row->is_array = PQgetvalue(res, 0, 4)[0] == 't';
	PQclear(res);
	return 0;
}

static int enum_labels(struct pgw_pg *pg, unsigned int oid, struct pgw_typeinfo *ti, struct pgw_err *err)
{
	PGresult *res =
		query_oid(pg, "SELECT enumlabel FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder", oid, err);
	if (!res)
		return -1;
	ti->nlabels = PQntuples(res);
	ti->labels = pgw_calloc((size_t)ti->nlabels, sizeof(char *));
	ti->label_order = pgw_calloc((size_t)ti->nlabels, sizeof(int));
	for (int i = 0; i < ti->nlabels; i++) {
		ti->labels[i] = pgw_strdup(PQgetvalue(res, i, 0));
		ti->label_order[i] = i;
	}
	PQclear(res);
	/* insertion sort by label: enums are small and this runs once per column */
	for (int i = 1; i < ti->nlabels; i++)
		for (int j = i; j > 0 && strcmp(ti->labels[ti->label_order[j - 1]], ti->labels[ti->label_order[j]]) > 0;
		     j--) {
			int t = ti->label_order[j];
			ti->label_order[j] = ti->label_order[j - 1];
			ti->label_order[j - 1] = t;
		}
	return 0;
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
	case OID_TEXT: case OID_VARCHAR: case OID_BPCHAR: ti->type = PGW_T_TEXT; return true;
	case OID_BYTEA: ti->type = PGW_T_BYTES; return true;
	case OID_UUID: ti->type = PGW_T_UUID; return true;
	case OID_DATE: ti->type = PGW_T_DATE; return true;
	case OID_TIME: ti->type = PGW_T_TIME; return true;
	case OID_TIMETZ: ti->type = PGW_T_TIMETZ; return true;
	case OID_TIMESTAMP: ti->type = PGW_T_TIMESTAMP; return true;
	case OID_TIMESTAMPTZ: ti->type = PGW_T_TIMESTAMPTZ; return true;
	case OID_INTERVAL: ti->type = PGW_T_INTERVAL; return true;
	case OID_JSON: case OID_JSONB: ti->type = PGW_T_JSON; return true;
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
	case OID_NAME: case OID_CHAR: break;
	default: *lossy = true; break;
	}
	ti->type = PGW_T_TEXT;
	ti->src_oid = OID_TEXT;
	return false;
}

/* Follows domains down to their base type, keeping the innermost explicit typmod. */
static int resolve_domain(struct pgw_pg *pg, unsigned int *oid, int *typmod, struct pg_type_row *row,
			  struct pgw_err *err)
{
	for (int depth = 0; depth < 32; depth++) {
		if (type_row(pg, *oid, row, err) < 0)
			return -1;
		if (row->typtype != 'd')
			return 0;
		if (*typmod < 0)
			*typmod = row->basetypmod;
		*oid = row->basetype;
	}
	return pgw_err_set(err, PGW_ERR_SOURCE, "domain nesting too deep for type oid %u", *oid);
}

static int map_column(struct pgw_pg *pg, struct pgw_coldef *col, unsigned int oid, int typmod, struct pgw_err *err)
{
	struct pg_type_row row;
	struct pgw_typeinfo *ti = &col->ti;
	bool lossy = false;
	col->cast = "";
	if (resolve_domain(pg, &oid, &typmod, &row, err) < 0)
		return -1;
	if (row.typtype == 'e') {
		ti->type = PGW_T_ENUM;
		ti->src_oid = oid;
		return enum_labels(pg, oid, ti, err);
	}
	if (!row.is_array) {
		if (!map_scalar(oid, typmod, ti, &lossy))
			col->cast = "::text";
		col->lossy_text = lossy;
		return 0;
	}
	unsigned int eoid = row.elem;
	int etypmod = typmod;
	struct pg_type_row erow;
	if (resolve_domain(pg, &eoid, &etypmod, &erow, err) < 0)
		return -1;
	ti->type = PGW_T_LIST;
	ti->src_oid = oid;
	ti->elem = pgw_calloc(1, sizeof(*ti->elem));
	if (erow.typtype == 'e') {
		ti->elem->type = PGW_T_ENUM;
		ti->elem->src_oid = eoid;
		return enum_labels(pg, eoid, ti->elem, err);
	}
	if (!map_scalar(eoid, etypmod, ti->elem, &lossy) || erow.is_array)
		col->cast = "::text[]";
	col->lossy_text = lossy;
	return 0;
}

static int find_relation(struct pgw_pg *pg, const char *schema, const char *name, struct pgw_table_def *def,
			 struct pgw_err *err)
{
	const char *params[] = {schema, name};
	PGresult *res = pgw_pg_query(pg,
				     "SELECT c.oid, c.relkind, c.reltuples FROM pg_class c JOIN pg_namespace n "
				     "ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 "
				     "AND c.relkind IN ('r','p','v','m','f')",
				     2, params, err);
	if (!res)
		return -1;
	int found = PQntuples(res) == 1;
	if (found) {
		def->oid = (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
		def->relkind = PQgetvalue(res, 0, 1)[0];
		def->est_rows = atof(PQgetvalue(res, 0, 2));
		def->schema = pgw_strdup(schema);
		def->name = pgw_strdup(name);
	}
	PQclear(res);
	return found;
}

static int read_columns(struct pgw_pg *pg, struct pgw_table_def *def, struct pgw_err *err)
{
	PGresult *res = query_oid(pg,
				     "SELECT attname, atttypid, atttypmod, attnotnull, format_type(atttypid, atttypmod) "
				     "FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped "
				     "ORDER BY attnum", def->oid, err);
	if (!res)
		return -1;
	def->ncols = PQntuples(res);
	def->cols = pgw_calloc((size_t)def->ncols, sizeof(*def->cols));
	int rc = 0;
	for (int i = 0; i < def->ncols && rc == 0; i++) {
		struct pgw_coldef *c = &def->cols[i];
		c->name = pgw_strdup(PQgetvalue(res, i, 0));
		c->notnull = PQgetvalue(res, i, 3)[0] == 't';
		c->pgtype = pgw_strdup(PQgetvalue(res, i, 4));
		rc = map_column(pg, c, (unsigned)strtoul(PQgetvalue(res, i, 1), NULL, 10), atoi(PQgetvalue(res, i, 2)),
				err);
	}
	PQclear(res);
	return rc;
}

static int read_primary_key(struct pgw_pg *pg, struct pgw_table_def *def, struct pgw_err *err)
{
	PGresult *res = query_oid(pg,
				     "SELECT a.attname FROM pg_index i "
				     "CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) "
				     "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
				     "WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord", def->oid, err);
	if (!res)
		return -1;
	def->npk = PQntuples(res);
	def->pk = pgw_calloc((size_t)def->npk, sizeof(int));
	for (int i = 0; i < def->npk; i++)
		def->pk[i] = pgw_table_def_col(def, PQgetvalue(res, i, 0));
	PQclear(res);
	return 0;
}

int pgw_pg_table_def(struct pgw_pg *pg, const char *name, struct pgw_table_def **out, struct pgw_err *err)
{
	struct pgw_table_def *def = pgw_calloc(1, sizeof(*def));
	const char *schema = pg->cfg->pgschema;
	int found = find_relation(pg, schema, name, def, err);
	const char *dot = strchr(name, '.');
	if (found == 0 && dot) {
		char *s = pgw_strndup(name, (size_t)(dot - name));
		found = find_relation(pg, s, dot + 1, def, err);
		free(s);
	}
	if (found <= 0) {
		if (found == 0)
			pgw_err_set(err, PGW_ERR_CONFIG,
				    "table \"%s\" not found in PostgreSQL schema \"%s\"; check the name with `pgwarehouse list`",
				    name, schema);
		pgw_table_def_free(def);
		return -1;
	}
	if (read_columns(pg, def, err) < 0 || read_primary_key(pg, def, err) < 0) {
		pgw_table_def_free(def);
		return -1;
	}
	*out = def;
	return 0;
}

static void typeinfo_cleanup(struct pgw_typeinfo *ti)
{
	for (int i = 0; i < ti->nlabels; i++)
		free(ti->labels[i]);
	free(ti->labels);
	free(ti->label_order);
	if (ti->elem) {
		typeinfo_cleanup(ti->elem);
		free(ti->elem);
	}
}

void pgw_table_def_free(struct pgw_table_def *def)
{
	if (!def)
		return;
	for (int i = 0; i < def->ncols; i++) {
		free(def->cols[i].name);
		free(def->cols[i].pgtype);
		typeinfo_cleanup(&def->cols[i].ti);
	}
	free(def->cols);
	free(def->pk);
	free(def->schema);
	free(def->name);
	free(def);
}

int pgw_table_def_col(const struct pgw_table_def *def, const char *name)
{
	for (int i = 0; i < def->ncols; i++)
		if (!strcmp(def->cols[i].name, name))
			return i;
	return -1;
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

void pgw_pg_select_list(struct pgw_buf *sql, const struct pgw_table_def *def)
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
	pgw_buf_puts(sql, " FROM ");
	pgw_buf_ident(sql, def->schema);
	pgw_buf_puts(sql, ".");
	pgw_buf_ident(sql, def->name);
}
