/* Test helper: signs in to Snowflake (or the local double) with pgwarehouse's settings and runs
 * statements in one session, printing the rows tab-separated (NULL as \N).
 *   sfq SQL [SQL...]     ($SFQ_PAUSE: seconds to wait between statements) */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sink/snowflake/sf_session.h"

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs("usage: sfq SQL [SQL...]\n", stderr);
		return 2;
	}
	struct pgw_config cfg;
	struct pgw_cli_overrides over = {.config_path = "/dev/null"};
	struct pgw_err err = {0};
	if (pgw_config_load(&cfg, &over, &err) < 0) {
		fprintf(stderr, "sfq: %s\n", err.msg);
		return 2;
	}
	struct sf_session *s = pgw_sf_connect(&cfg, &err);
	json_t *data = NULL;
	int rc = s ? 0 : -1;
	for (int a = 1; a < argc && rc == 0; a++) {
		if (a > 1 && getenv("SFQ_PAUSE"))
			sleep((unsigned)atoi(getenv("SFQ_PAUSE")));
		json_decref(data);
		data = NULL;
		rc = pgw_sf_query(s, argv[a], &data, &err);
	}
	if (rc < 0) {
		fprintf(stderr, "sfq: %s\n", err.msg);
	} else {
		size_t i, j;
		json_t *row, *v;
		json_array_foreach(json_object_get(data, "rowset"), i, row)
		{
			json_array_foreach(row, j, v)
			{
				printf("%s%s", j ? "\t" : "", json_is_null(v) ? "\\N" : json_string_value(v));
			}
			putchar('\n');
		}
	}
	json_decref(data);
	pgw_sf_disconnect(s);
	pgw_config_cleanup(&cfg);
	return rc < 0;
}
