/* Test helper: logical replication through pgwarehouse's walsender client and pgoutput decoder.
 *   pgrepl create SLOT          creates the slot; prints its consistent point and exported snapshot
 *   pgrepl read SLOT PUBLICATION  reads the slot up to the server's WAL position at start, prints one
 *                               line per message (B, C, R, I, U, D, T with their values) and confirms
 * Connection settings as pgwarehouse's (PG* variables). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/replication/pgoutput.h"
#include "source/replication/repl.h"

static void print_tuple(const struct pgw_tuple *t)
{
	for (int i = 0; i < t->ncols; i++) {
		const struct pgw_tuple_value *v = &t->vals[i];
		printf("%s", i ? "|" : "");
		if (v->kind == 'n')
			printf("\\N");
		else if (v->kind == 'u')
			printf("<unchanged>");
		else
			printf("%.*s", (int)(v->len > 40 ? 40 : v->len), v->data);
	}
}

static void print_msg(const struct pgw_pgoutput_msg *m)
{
	char lsn[24];
	switch (m->type) {
	case 'B': printf("B\n"); break;
	case 'C':
		pgw_lsn_format(m->end_lsn, lsn);
		printf("C\n");
		break;
	case 'R': printf("R %s.%s %c %d\n", m->rel->schema, m->rel->name, m->rel->identity, m->rel->ncols); break;
	case 'I':
		printf("I %s ", m->rel->name);
		print_tuple(&m->new);
		putchar('\n');
		break;
	case 'U':
		printf("U %s ", m->rel->name);
		if (m->old_kind) {
			printf("%c:", m->old_kind);
			print_tuple(&m->old);
			putchar(' ');
		}
		print_tuple(&m->new);
		putchar('\n');
		break;
	case 'D':
		printf("D %s %c:", m->rel->name, m->old_kind);
		print_tuple(&m->old);
		putchar('\n');
		break;
	case 'T': printf("T %d\n", m->ntruncate); break;
	default: break;
	}
}

static int read_slot(struct pgw_repl *r, const char *slot, const char *pub, struct pgw_err *err)
{
	uint64_t until = 0;
	if (pgw_repl_identify(r, &until, err) < 0 || pgw_repl_start(r, slot, pub, 0, err) < 0)
		return -1;
	struct pgw_pgoutput *d = pgw_pgoutput_new();
	int rc = 0, idle = 0;
	uint64_t done = 0;
	while (rc == 0 && idle < 20) {
		const char *data;
		int len;
		uint64_t lsn;
		int got = pgw_repl_next(r, 100, &data, &len, &lsn, err);
		if (got < 0) {
			rc = -1;
			break;
		}
		if (got == 0) { /* idle: caught up once the server has nothing before `until` left */
			if (r->received >= until)
				idle++;
			continue;
		}
		struct pgw_pgoutput_msg m;
		if ((rc = pgw_pgoutput_parse(d, data, (size_t)len, &m, err)) < 0)
			break;
		print_msg(&m);
		if (m.type == 'C') {
			done = m.end_lsn;
			if (done >= until)
				break;
		}
	}
	if (rc == 0 && done)
		rc = pgw_repl_confirm(r, done, err);
	pgw_pgoutput_free(d);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "create") && strcmp(argv[1], "read")) ||
	    (!strcmp(argv[1], "read") && argc < 4)) {
		fputs("usage: pgrepl create SLOT | pgrepl read SLOT PUBLICATION\n", stderr);
		return 2;
	}
	struct pgw_config cfg;
	struct pgw_cli_overrides over = {.config_path = "/dev/null"};
	struct pgw_err err = {0};
	if (pgw_config_load(&cfg, &over, &err) < 0) {
		fprintf(stderr, "pgrepl: %s\n", err.msg);
		return 2;
	}
	struct pgw_repl r;
	int rc = pgw_repl_connect(&r, &cfg, &err);
	if (rc == 0 && !strcmp(argv[1], "create")) {
		uint64_t lsn;
		char *snap = NULL, at[24];
		if ((rc = pgw_repl_create_slot(&r, argv[2], false, &lsn, &snap, &err)) == 0) {
			pgw_lsn_format(lsn, at);
			printf("%s %s\n", at, snap);
		}
		free(snap);
	} else if (rc == 0) {
		rc = read_slot(&r, argv[2], argv[3], &err);
	}
	if (rc < 0)
		fprintf(stderr, "pgrepl: %s\n", err.msg);
	pgw_repl_close(&r);
	pgw_config_cleanup(&cfg);
	return rc < 0;
}
