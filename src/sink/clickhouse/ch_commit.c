/* Change data capture's commit on ClickHouse: the new copy of a table swapped in and the position
 * written, as one step. ClickHouse has no transactions, so the swap is the commit point and a
 * witness table carries the position's statement across it:
 *   old servers (RENAME): the witness is made as _pgwarehouse_pending_<table>, and the one RENAME
 *     that swaps the table in also renames it _pgwarehouse_commit_<table>: a commit witness exists
 *     only once the swap happened;
 *   modern servers (EXCHANGE TABLES, Atomic databases): the witness _pgwarehouse_commit_<table>
 *     names the new copy's uuid, which the table carries once the exchange happened.
 * After the swap the statement runs and the witness goes. A run killed in between leaves the
 * witness, and the next run (pgw_ch_recover, before it reads positions) runs the statement of
 * every witness whose swap happened: a multiset of rows (a keyless table) cannot be replayed
 * onto itself, so the position must never lag behind its table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/interrupt.h"
#include "sink/clickhouse/ch_internal.h"

#define WITNESS PGW_INTERNAL_PREFIX "commit_"
#define PENDING PGW_INTERNAL_PREFIX "pending_"

static int run(struct ch_conn *conn, struct pgw_buf *sql, struct pgw_err *err)
{
	int rc = conn->exec(conn, sql->data, NULL, false, err);
	pgw_buf_reset(sql);
	return rc;
}

static void table(struct pgw_buf *b, const char *db, const char *name)
{
	pgw_ch_ident(b, db);
	pgw_buf_puts(b, ".");
	pgw_ch_ident(b, name);
}

/* prefix + "db.table" in the connection's database */
static void witness(struct pgw_buf *b, struct ch_conn *conn, const char *prefix, const char *db, const char *name)
{
	char *w = pgw_asprintf("%s%s.%s", prefix, db, name);
	table(b, conn->database, w);
	free(w);
}

static void literal(struct pgw_buf *b, const char *s)
{
	pgw_ch_literal(b, s, strlen(s));
}

/* Errors are left to the statement that needs the name free */
void pgw_ch_drop_quietly(struct ch_conn *conn, const char *qualified)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_printf(&sql, "DROP TABLE IF EXISTS %s", qualified);
	conn->exec(conn, sql.data, NULL, true, NULL);
	pgw_buf_cleanup(&sql);
}

static void drop(struct ch_conn *conn, struct pgw_buf *sql)
{
	pgw_ch_drop_quietly(conn, sql->data);
	pgw_buf_reset(sql);
}

void pgw_ch_clear_name(struct ch_conn *conn, const struct ch_features *f, const char *qualified)
{
	pgw_ch_drop_quietly(conn, qualified);
	if (f->modern)
		return;
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_printf(&sql, "ATTACH TABLE %s (_pgw_gone UInt8) ENGINE = MergeTree ORDER BY _pgw_gone", qualified);
	if (conn->exec(conn, sql.data, NULL, false, NULL) == 0)
		pgw_ch_drop_quietly(conn, qualified);
	pgw_buf_cleanup(&sql);
}

/* The uuid of db.name as text ("" where the server has none) */
static char *uuid_of(struct ch_conn *conn, const char *db, const char *name, struct pgw_err *err)
{
	struct pgw_buf sql, out;
	pgw_buf_init(&sql);
	pgw_buf_init(&out);
	pgw_buf_puts(&sql, "SELECT toString(uuid) FROM system.tables WHERE database = ");
	literal(&sql, db);
	pgw_buf_puts(&sql, " AND name = ");
	literal(&sql, name);
	int rc = conn->exec(conn, sql.data, &out, true, err);
	pgw_buf_cleanup(&sql);
	char *u = rc < 0 ? NULL : pgw_strndup(out.data ? out.data : "", out.data ? strcspn(out.data, "\n") : 0);
	pgw_buf_cleanup(&out);
	return u;
}

int pgw_ch_swap_committed(struct ch_conn *conn, const struct ch_features *f, const char *db, const char *name,
			  const char *merged, const char *commit_sql, struct pgw_err *err)
{
	struct pgw_buf sql, w;
	pgw_buf_init(&sql);
	pgw_buf_init(&w);
	char *uuid = f->modern ? uuid_of(conn, db, merged, err) : pgw_strdup("");
	int rc = uuid ? 0 : -1;
	witness(&w, conn, f->modern ? WITNESS : PENDING, db, name);
	if (rc == 0) {
		pgw_buf_puts(&sql, w.data);
		drop(conn, &sql);
		pgw_buf_printf(&sql, "CREATE TABLE %s ENGINE = TinyLog AS SELECT ", w.data);
		literal(&sql, commit_sql);
		pgw_buf_puts(&sql, " AS statement, ");
		literal(&sql, db);
		pgw_buf_puts(&sql, " AS db, ");
		literal(&sql, name);
		pgw_buf_puts(&sql, " AS name, ");
		literal(&sql, uuid);
		pgw_buf_puts(&sql, " AS uuid");
		rc = run(conn, &sql, err);
	}
	char *old = pgw_asprintf(PGW_INTERNAL_PREFIX "old_%s", name);
	if (rc == 0 && f->modern) {
		pgw_buf_puts(&sql, "EXCHANGE TABLES ");
		table(&sql, db, name);
		pgw_buf_puts(&sql, " AND ");
		table(&sql, db, merged);
		rc = run(conn, &sql, err);
	} else if (rc == 0) {
		table(&sql, db, old);
		pgw_ch_clear_name(conn, f, sql.data);
		pgw_buf_reset(&sql);
		witness(&sql, conn, WITNESS, db, name);
		pgw_ch_clear_name(conn, f, sql.data);
		pgw_buf_reset(&sql);
		pgw_buf_puts(&sql, "RENAME TABLE ");
		table(&sql, db, name);
		pgw_buf_puts(&sql, " TO ");
		table(&sql, db, old);
		pgw_buf_puts(&sql, ", ");
		table(&sql, db, merged);
		pgw_buf_puts(&sql, " TO ");
		table(&sql, db, name);
		pgw_buf_printf(&sql, ", %s TO ", w.data);
		pgw_buf_reset(&w);
		witness(&w, conn, WITNESS, db, name);
		pgw_buf_puts(&sql, w.data);
		rc = run(conn, &sql, err);
	}
	if (rc == 0) {
		table(&sql, db, f->modern ? merged : old); /* the old rows */
		drop(conn, &sql);
		pgw_failpoint("apply-before-commit"); /* tests: swapped in, position not written */
		rc = conn->exec(conn, commit_sql, NULL, false, err);
	}
	if (rc == 0) {
		pgw_buf_puts(&sql, w.data);
		drop(conn, &sql);
	}
	free(old);
	free(uuid);
	pgw_buf_cleanup(&sql);
	pgw_buf_cleanup(&w);
	return rc;
}

/* Whether the swap a witness stands for happened */
static bool swapped(struct ch_conn *conn, char **row, struct pgw_err *err, int *rc)
{
	if (!row[3] || !*row[3]) /* old servers: a commit witness exists only after its RENAME */
		return true;
	char *now = uuid_of(conn, row[1], row[2], err);
	*rc = now ? 0 : -1;
	bool yes = now && !strcmp(now, row[3]);
	free(now);
	return yes;
}

/* Runs the statement of every witness whose swap happened, then drops it; a witness whose swap
 * did not happen stays until its table's next apply replaces it. A table of a witness's name
 * without its columns is what pgw_ch_clear_name leaves when the run is killed between its ATTACH
 * and its DROP: no swap's, dropped (seen by bench/soak.sh: read as a witness, it failed every
 * later apply). */
int pgw_ch_recover(struct ch_conn *conn, struct pgw_err *err)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "SELECT name, toString(name IN (SELECT table FROM system.columns WHERE database = ");
	literal(&sql, conn->database);
	pgw_buf_puts(&sql, " AND name = 'statement')) FROM system.tables WHERE database = ");
	literal(&sql, conn->database);
	pgw_buf_puts(&sql, " AND startsWith(name, '" WITNESS "')");
	char **names = NULL;
	int n = 0, rc = pgw_ch_rows(conn, sql.data, 2, &names, &n, err);
	pgw_buf_reset(&sql);
	for (int i = 0; rc == 0 && i < n; i++) {
		if (!names[2 * i + 1] || strcmp(names[2 * i + 1], "1")) {
			table(&sql, conn->database, names[2 * i]);
			drop(conn, &sql);
			continue;
		}
		char **row = NULL;
		int one = 0;
		pgw_buf_puts(&sql, "SELECT statement, db, name, uuid FROM ");
		table(&sql, conn->database, names[2 * i]);
		rc = pgw_ch_rows(conn, sql.data, 4, &row, &one, err);
		pgw_buf_reset(&sql);
		bool done = rc == 0 && one == 1 && swapped(conn, row, err, &rc);
		if (done && rc == 0)
			rc = conn->exec(conn, row[0], NULL, false, err);
		if (done && rc == 0) {
			table(&sql, conn->database, names[2 * i]);
			drop(conn, &sql);
		}
		for (int k = 0; k < one * 4; k++)
			free(row[k]);
		free(row);
	}
	for (int i = 0; i < 2 * n; i++)
		free(names[i]);
	free(names);
	pgw_buf_cleanup(&sql);
	return rc;
}
