/* PostgreSQL-derived types -> DuckDB column types, and the shape fingerprint. */
#include <stdio.h>
#include <stdlib.h>

#include "sink/duckdb/duckdb_internal.h"

void pgw_duck_type_sql(struct pgw_buf *b, const struct pgw_typeinfo *ti)
{
	static const char *const names[] = {
		[PGW_T_BOOL] = "BOOLEAN",	 [PGW_T_INT16] = "SMALLINT",
		[PGW_T_INT32] = "INTEGER",	 [PGW_T_INT64] = "BIGINT",
		[PGW_T_FLOAT32] = "REAL",	 [PGW_T_FLOAT64] = "DOUBLE",
		[PGW_T_TEXT] = "VARCHAR",	 [PGW_T_BYTES] = "BLOB",
		[PGW_T_UUID] = "UUID",		 [PGW_T_DATE] = "DATE",
		[PGW_T_TIME] = "TIME",		 [PGW_T_TIMETZ] = "TIMETZ",
		[PGW_T_TIMESTAMP] = "TIMESTAMP", [PGW_T_TIMESTAMPTZ] = "TIMESTAMPTZ",
		[PGW_T_INTERVAL] = "INTERVAL",	 [PGW_T_JSON] = "JSON",
	};
	switch (ti->type) {
	case PGW_T_DECIMAL: pgw_buf_printf(b, "DECIMAL(%d,%d)", ti->precision, ti->scale); return;
	case PGW_T_ENUM:
		pgw_buf_puts(b, "ENUM(");
		for (int i = 0; i < ti->nlabels; i++) {
			if (i)
				pgw_buf_puts(b, ", ");
			pgw_buf_literal(b, ti->labels[i]);
		}
		pgw_buf_puts(b, ")");
		return;
	case PGW_T_LIST:
		pgw_duck_type_sql(b, ti->elem);
		pgw_buf_puts(b, "[]");
		return;
	default: pgw_buf_puts(b, names[ti->type]);
	}
}

char *pgw_duck_fingerprint(const struct pgw_table_def *def)
{
	return pgw_shape_fingerprint(def, pgw_duck_type_sql);
}
