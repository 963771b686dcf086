/* Test helper: runs one statement on an embedded chDB store and prints the result.
 *   chdbq DIR SQL      (the SQL's own FORMAT clause decides the output; TabSeparated by default)
 *   chdbq --to DIR FILE SQL [FILE SQL]...   each statement's result into its FILE (chDB loads once)
 *   chdbq --serve OUT ERR    the above, one request after another (tests/tools/serve.h)
 * The library comes from $CHDB_LIBRARY, else libchdb.so on the library path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"
#include "sink/clickhouse/ch_internal.h"

static int query(struct ch_conn *c, const char *sql, FILE *f)
{
	struct pgw_err err = {0};
	struct pgw_buf out;
	pgw_buf_init(&out);
	int rc = c->exec(c, sql, &out, true, &err);
	if (rc == 0)
		fwrite(out.data ? out.data : "", 1, out.len, f);
	else
		fprintf(stderr, "chdbq: %s\n", err.msg);
	pgw_buf_cleanup(&out);
	return rc;
}

static int chdbq(int argc, char **argv)
{
	bool to = argc >= 5 && argc % 2 == 1 && !strcmp(argv[1], "--to");
	if (argc != 3 && !to) {
		fputs("usage: chdbq DIR SQL | chdbq --to DIR FILE SQL [FILE SQL]...\n", stderr);
		return 2;
	}
	struct pgw_config cfg = {0};
	cfg.clickhouse_path = argv[to ? 2 : 1];
	cfg.clickhouse_chdb_library = getenv("CHDB_LIBRARY");
	cfg.clickhouse_database = getenv("CLICKHOUSE_DATABASE");
	struct pgw_err err = {0};
	struct ch_conn *c;
	if (pgw_ch_chdb_open(&cfg, &c, &err) < 0) {
		fprintf(stderr, "chdbq: %s\n", err.msg);
		return 1;
	}
	int rc = 0;
	for (int i = to ? 3 : 2; rc == 0 && i < argc; i += to ? 2 : 1) {
		FILE *f = to ? fopen(argv[i], "w") : stdout;
		if (!f) {
			perror(argv[i]);
			rc = -1;
			break;
		}
		rc = query(c, argv[to ? i + 1 : i], f);
		if (to)
			fclose(f);
	}
	c->close(c);
	return rc < 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--serve"))
		return tool_serve(argv[2], argv[3], chdbq, NULL);
	return chdbq(argc, argv);
}
