/* A table's definition as both ends see it: columns with their canonical types and the key. The
 * source fills it from PostgreSQL's catalog; sinks read it to create, check and load tables, so it
 * lives here, below both (a sink never includes anything from source/). */
#ifndef PGW_TABLE_H
#define PGW_TABLE_H

#include <stdbool.h>

#include "batch/batch.h"

struct pgw_coldef {
	char *name;
	char *pgtype; /* format_type(): for messages and literal casts */
	bool notnull;
	const char *cast; /* appended to the column in the COPY select list ("::text"), or "" */
	bool lossy_text;  /* kept as its text form: warn once */
	bool text_sorted; /* its text form in byte order sorts as PostgreSQL sorts new keys (text, uuid) */
	struct pgw_typeinfo ti;
};

struct pgw_table_def {
	char *schema, *name; /* in PostgreSQL */
	unsigned int oid;
	char relkind;
	int ncols;
	struct pgw_coldef *cols;
	int npk;
	int *pk; /* column indexes, in key order */
	double est_rows;
	double all_visible; /* share of its pages all-visible (pg_class): an index-only scan reads no others */
	bool rls_partial;   /* row-level security hides rows from this role */
};

void pgw_table_def_free(struct pgw_table_def *def);
/* Whether def's key is one integer column (int2, int4, int8) */
bool pgw_table_int_key(const struct pgw_table_def *def);
/* A batch of cap rows in def's column types */
struct pgw_batch *pgw_batch_for_def(const struct pgw_table_def *def, size_t cap);
/* Index of the column called name, or -1. */
int pgw_table_def_col(const struct pgw_table_def *def, const char *name);

#endif
