/* extract / load (see extract.h). */
#include "pipeline/extract.h"

int pgw_extract_table(struct pgw_run *run, const char *name, struct pgw_table_result *res)
{
	(void)run;
	(void)name;
	return pgw_err_set(&res->err, PGW_ERR_INTERNAL, "extract is not implemented yet");
}

int pgw_load_table(struct pgw_run *run, const char *name, struct pgw_table_result *res)
{
	(void)run;
	(void)name;
	return pgw_err_set(&res->err, PGW_ERR_INTERNAL, "load is not implemented yet");
}

void pgw_archive_clean(const struct pgw_config *cfg, const char *name)
{
	(void)cfg;
	(void)name;
}
