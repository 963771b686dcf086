/* Test helper: runs one statement on an embedded chDB store and prints the result.
 *   chdbq DIR SQL      (the SQL's own FORMAT clause decides the output; TabSeparated by default)
 * The library comes from $CHDB_LIBRARY, else libchdb.so on the library path. */
#include <stdio.h>
#include <stdlib.h>

#include "sink/clickhouse/ch_internal.h"

int main(int argc, char **argv)
{
	if (argc != 3) {
		fputs("usage: chdbq DIR SQL\n", stderr);
		return 2;
	}
	struct pgw_config cfg = {0};
	cfg.clickhouse_path = argv[1];
	cfg.clickhouse_chdb_library = getenv("CHDB_LIBRARY");
	cfg.clickhouse_database = getenv("CLICKHOUSE_DATABASE");
	struct pgw_err err = {0};
	struct ch_conn *c;
	if (pgw_ch_chdb_open(&cfg, &c, &err) < 0) {
		fprintf(stderr, "chdbq: %s\n", err.msg);
		return 1;
	}
	struct pgw_buf out;
	pgw_buf_init(&out);
	int rc = c->exec(c, argv[2], &out, true, &err);
	if (rc == 0)
		fwrite(out.data ? out.data : "", 1, out.len, stdout);
	else
		fprintf(stderr, "chdbq: %s\n", err.msg);
	pgw_buf_cleanup(&out);
	c->close(c);
	return rc < 0;
}
