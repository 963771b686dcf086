/* The table of sinks compiled in. */
#include "sink/sink.h"

#include <stdlib.h>
#include <string.h>

extern const struct pgw_sink_ops pgw_duckdb_sink;
extern const struct pgw_sink_ops pgw_clickhouse_sink;
extern const struct pgw_sink_ops pgw_snowflake_sink;

const struct pgw_sink_ops *pgw_sink_find(const char *backend)
{
	static const struct pgw_sink_ops *const sinks[] = {&pgw_duckdb_sink, &pgw_clickhouse_sink, &pgw_snowflake_sink};
	for (size_t i = 0; i < sizeof(sinks) / sizeof(sinks[0]); i++)
		if (!strcmp(sinks[i]->name, backend))
			return sinks[i];
	return NULL;
}

void pgw_wh_tables_free(struct pgw_wh_table *t, int n)
{
	for (int i = 0; i < n; i++) {
		free(t[i].schema);
		free(t[i].name);
	}
	free(t);
}

void pgw_rows_cleanup(struct pgw_rows *r)
{
	for (int i = 0; r->cells && i < r->nrows * r->ncols; i++)
		free(r->cells[i]);
	free(r->cells);
	memset(r, 0, sizeof(*r));
}

struct pgw_table_def *pgw_changes_def(const struct pgw_table_def *def)
{
	struct pgw_table_def *c = pgw_calloc(1, sizeof(*c));
	*c = *def;
	c->ncols = def->ncols + 2;
	c->cols = pgw_calloc((size_t)c->ncols, sizeof(*c->cols));
	for (int i = 0; i < def->ncols; i++) {
		c->cols[i] = def->cols[i]; /* shares the names and type details with def */
		if (def->npk)		   /* a deleted key's other columns are NULL (a keyless row is whole) */
			c->cols[i].notnull = false;
	}
	for (int k = 0; k < def->npk; k++) /* ...but every staged row has its key (a sort key on ClickHouse) */
		c->cols[def->pk[k]].notnull = true;
	struct pgw_coldef *op = &c->cols[def->ncols], *keep = &c->cols[def->ncols + 1];
	op->name = (char *)"_pgw_op";
	op->pgtype = (char *)"bigint";
	op->cast = "";
	op->ti.type = PGW_T_INT64;
	keep->name = (char *)"_pgw_keep";
	keep->pgtype = (char *)"text";
	keep->cast = "";
	keep->ti.type = PGW_T_TEXT;
	return c;
}

void pgw_changes_def_free(struct pgw_table_def *cdef)
{
	if (cdef)
		free(cdef->cols);
	free(cdef);
}
