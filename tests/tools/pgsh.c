/* Test helper: one PostgreSQL session that runs statement after statement for the test scripts
 * (tests/lib/assert.sh, pgq). A psql per statement costs ~65 ms of CPU (the client and a new
 * server backend), the largest single overhead of the suite.
 *   pgsh ROWS  reads statements from stdin, each ended by a NUL byte; runs each as `psql -c` would
 *              (one simple-query message: one implicit transaction, stopped at the first error),
 *              writes its rows to the file ROWS as `psql -qAtX` prints them (fields joined by |,
 *              NULL empty), then prints a line "\x1e<rc>" (0, or 3 after an error). Errors and
 *              notices come before it as lines starting with "\x1d".
 * The rows go to a file because the shell reads a pipe a byte per system call.
 * An empty statement (a lone NUL) ends it. A connection the server dropped (a restart) is made again and the statement
 * sent again when it had not reached the server. Connection settings are libpq's (PG* variables). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

static void print_tagged(const char *msg)
{
	/* one line per message: the reader splits on newlines */
	size_t n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		n--;
	putchar('\x1d');
	for (size_t i = 0; i < n; i++)
		putchar(msg[i] == '\n' ? ' ' : msg[i]);
	putchar('\n');
}

static void notice(void *arg, const char *msg)
{
	(void)arg;
	print_tagged(msg);
}

static void print_rows(FILE *out, const PGresult *r)
{
	int nf = PQnfields(r);
	for (int i = 0; i < PQntuples(r); i++) {
		for (int f = 0; f < nf; f++) {
			if (f)
				fputc('|', out);
			if (!PQgetisnull(r, i, f))
				fputs(PQgetvalue(r, i, f), out);
		}
		fputc('\n', out);
	}
}

static void copy_out(PGconn *c, FILE *out)
{
	char *buf;
	int n;
	while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
		fwrite(buf, 1, (size_t)n, out);
		PQfreemem(buf);
	}
}

/* Runs SQL; returns 0, 3 after an error, or -1 when the connection was gone before any statement
 * ran (a restarted server: send it again on a new connection). */
static int run(PGconn *c, const char *sql, const char *rows)
{
	FILE *out = fopen(rows, "w");
	if (!out) {
		perror(rows);
		exit(1);
	}
	int rc = PQsendQuery(c, sql) ? 0 : -1;
	bool ran = false;
	char *error = NULL;
	PGresult *r;
	while (rc == 0 && (r = PQgetResult(c))) {
		ExecStatusType st = PQresultStatus(r);
		if (st == PGRES_TUPLES_OK)
			print_rows(out, r);
		else if (st == PGRES_COPY_OUT) /* as psql: the data to stdout */
			copy_out(c, out);
		else if (st == PGRES_COPY_IN) /* the caller's stdin is not ours: fail the statement */
			PQputCopyEnd(c, "pgsh reads no COPY data; use psql");
		ran |= st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || st == PGRES_COPY_OUT;
		if ((st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE) && !error)
			error = strdup(PQresultErrorMessage(r));
		PQclear(r);
	}
	fclose(out);
	if (error && !ran && PQstatus(c) == CONNECTION_BAD)
		rc = -1;
	else if (error) {
		print_tagged(error);
		rc = 3;
	}
	free(error);
	return rc;
}

static char *read_statement(size_t *cap)
{
	static char *buf;
	size_t len = 0;
	int ch;
	while ((ch = getchar()) != EOF && ch != '\0') {
		if (len + 2 > *cap) {
			*cap = *cap ? *cap * 2 : 4096;
			buf = realloc(buf, *cap);
			if (!buf)
				exit(1);
		}
		buf[len++] = (char)ch;
	}
	if (ch == EOF)
		return NULL;
	if (!buf && !(buf = malloc(*cap = 4096)))
		exit(1);
	buf[len] = '\0';
	return buf;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fputs("usage: pgsh ROWS\n", stderr);
		return 2;
	}
	PGconn *c = PQconnectdb("");
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pgsh: %s", PQerrorMessage(c));
		return 1;
	}
	PQsetNoticeProcessor(c, notice, NULL);
	size_t cap = 0;
	char *sql;
	/* an empty statement ends the session (tests/lib/assert.sh, pgs_stop) */
	while ((sql = read_statement(&cap)) && *sql) {
		int rc = run(c, sql, argv[1]);
		if (rc < 0) {
			PQreset(c);
			rc = PQstatus(c) == CONNECTION_OK ? run(c, sql, argv[1]) : -1;
		}
		if (rc < 0) {
			print_tagged(PQerrorMessage(c));
			rc = 2;
		}
		printf("\x1e%d\n", rc);
		fflush(stdout);
	}
	PQfinish(c);
	return 0;
}
