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
