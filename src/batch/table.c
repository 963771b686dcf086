/* Table definitions: freeing and lookups (see table.h). */
#include "batch/table.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

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

bool pgw_table_int_key(const struct pgw_table_def *def)
{
	if (def->npk != 1)
		return false;
	enum pgw_type t = def->cols[def->pk[0]].ti.type;
	return t == PGW_T_INT16 || t == PGW_T_INT32 || t == PGW_T_INT64;
}

struct pgw_batch *pgw_batch_for_def(const struct pgw_table_def *def, size_t cap)
{
	const struct pgw_typeinfo **types = pgw_calloc((size_t)def->ncols + 1, sizeof(*types));
	for (int i = 0; i < def->ncols; i++)
		types[i] = &def->cols[i].ti;
	struct pgw_batch *b = pgw_batch_new(def->ncols, types, cap);
	free(types);
	return b;
}

int pgw_table_def_col(const struct pgw_table_def *def, const char *name)
{
	for (int i = 0; i < def->ncols; i++)
		if (!strcmp(def->cols[i].name, name))
			return i;
	return -1;
}
