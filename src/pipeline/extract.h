/* extract / load: the two halves of a sync, with the spec's files in between:
 * <data>/<table>_data/<table>_NNNNN.csv.gz (with a header) plus a small manifest; loaded files
 * move to archive/, which the next sync or extract of the table removes. */
#ifndef PGW_EXTRACT_H
#define PGW_EXTRACT_H

#include "pipeline/sync.h"

int pgw_extract_table(struct pgw_run *run, const char *name, struct pgw_table_result *res);
int pgw_load_table(struct pgw_run *run, const char *name, struct pgw_table_result *res);
/* Removes <data>/<table>_data/archive (called when a sync starts). */
void pgw_archive_clean(const struct pgw_config *cfg, const char *name);

#endif
