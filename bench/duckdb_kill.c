/* A DuckDB writer for bench/duckdb_kill.sh, with nothing of pgwarehouse in it but, when PGW_UNDO=1,
 * its undo record of in-place writes: thirty small tables, a checkpoint at every commit
 * (checkpoint_threshold 1KB), inserts and deletes for ever.
 *   duckdb_kill DB          writes until killed
 *   duckdb_kill DB check    opens DB and reads a table: exit 0 when it opens
 *   duckdb_kill version     prints the library's version */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duckdb.h"
#include "sink/duckdb/duckdb_undo.h"

static void run(duckdb_connection c, const char *sql)
{
	duckdb_result r;
	if (duckdb_query(c, sql, &r) != DuckDBSuccess) {
		fprintf(stderr, "%s: %s\n", sql, duckdb_result_error(&r));
		exit(2);
	}
	duckdb_destroy_result(&r);
}

int main(int argc, char **argv)
{
	duckdb_database db;
	duckdb_connection c;
	char *err = NULL, sql[256];
	if (argc == 2 && !strcmp(argv[1], "version")) {
		puts(duckdb_library_version());
		return 0;
	}
	/* PGW_UNDO=1: with pgwarehouse's undo record for in-place writes (duckdb_undo.h) */
	const char *undo = getenv("PGW_UNDO");
	if (argc >= 2 && undo && !strcmp(undo, "1")) {
		char msg[512];
		if (pgw_duck_undo_recover(argv[1], msg, sizeof msg) < 0) {
			printf("cannot undo: %s\n", msg);
			return 3;
		}
		pgw_duck_undo_watch(argv[1]);
	}
	if (argc < 2 || duckdb_open_ext(argv[1], &db, NULL, &err) != DuckDBSuccess) {
		printf("cannot open: %s\n", err ? err : "no file given");
		return 3;
	}
	duckdb_connect(db, &c);
	if (argc > 2) {
		run(c, "SELECT count(*) FROM t0");
		return 0;
	}
	run(c, "SET checkpoint_threshold = '1KB'");
	for (int i = 0; i < 30; i++) {
		snprintf(sql, sizeof sql, "CREATE TABLE IF NOT EXISTS t%d (id INTEGER, v INTEGER, s VARCHAR)", i);
		run(c, sql);
	}
	for (unsigned n = 0;; n++) {
		snprintf(sql, sizeof sql, "INSERT INTO t%u SELECT i, %u, 'x' FROM range(50) r(i)", n % 30, n);
		run(c, sql);
		snprintf(sql, sizeof sql, "DELETE FROM t%u WHERE v < %u", n % 30, n > 60 ? n - 60 : 0);
		run(c, sql);
	}
}
