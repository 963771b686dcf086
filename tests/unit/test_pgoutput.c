/* Unit tests: pgoutput messages decoded as PostgreSQL's documentation lays them out, and malformed
 * or truncated ones refused (they come off the network). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "source/replication/pgoutput.h"

/* A message built big-endian, as the walsender writes it */
struct msg {
	char b[512];
	size_t n;
};
static void put8(struct msg *m, unsigned v)
{
	m->b[m->n++] = (char)v;
}
static void put16(struct msg *m, unsigned v)
{
	put8(m, v >> 8);
	put8(m, v & 255);
}
static void put32(struct msg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}
static void put64(struct msg *m, uint64_t v)
{
	put32(m, (uint32_t)(v >> 32));
	put32(m, (uint32_t)v);
}
static void puts0(struct msg *m, const char *s)
{
	memcpy(m->b + m->n, s, strlen(s) + 1);
	m->n += strlen(s) + 1;
}
static void puttext(struct msg *m, const char *s)
{
	put8(m, 't');
	put32(m, (uint32_t)strlen(s));
	memcpy(m->b + m->n, s, strlen(s));
	m->n += strlen(s);
}

static struct msg relation_msg(void)
{
	struct msg m = {0};
	put8(&m, 'R'), put32(&m, 16384), puts0(&m, "public"), puts0(&m, "orders"), put8(&m, 'd'), put16(&m, 3);
	put8(&m, 1), puts0(&m, "id"), put32(&m, 23), put32(&m, 0xffffffff);
	put8(&m, 0), puts0(&m, "note"), put32(&m, 25), put32(&m, 0xffffffff);
	put8(&m, 0), puts0(&m, "doc"), put32(&m, 3802), put32(&m, 0xffffffff);
	return m;
}

void test_pgoutput(void **state)
{
	(void)state;
	struct pgw_pgoutput *d = pgw_pgoutput_new();
	struct pgw_pgoutput_msg m;
	struct pgw_err err = {0};

	struct msg b = {0};
	put8(&b, 'B'), put64(&b, 0x16B3748), put64(&b, 123456789), put32(&b, 777);
	assert_int_equal(pgw_pgoutput_parse(d, b.b, b.n, &m, &err), 0);
	assert_int_equal(m.type, 'B');
	assert_true(m.lsn == 0x16B3748 && m.commit_time == 123456789 && m.xid == 777);

	/* a change before its relation was described is refused */
	struct msg ins = {0};
	put8(&ins, 'I'), put32(&ins, 16384), put8(&ins, 'N'), put16(&ins, 3);
	puttext(&ins, "42"), put8(&ins, 'n'), puttext(&ins, "{\"a\": 1}");
	assert_int_equal(pgw_pgoutput_parse(d, ins.b, ins.n, &m, &err), -1);
	assert_non_null(strstr(err.msg, "before its description"));

	struct msg r = relation_msg();
	assert_int_equal(pgw_pgoutput_parse(d, r.b, r.n, &m, &err), 0);
	assert_string_equal(m.rel->schema, "public");
	assert_string_equal(m.rel->name, "orders");
	assert_int_equal(m.rel->ncols, 3);
	assert_true(m.rel->cols[0].key && !m.rel->cols[1].key);
	assert_int_equal(m.rel->cols[2].type_oid, 3802);
	assert_int_equal(m.rel->cols[2].typmod, -1);

	assert_int_equal(pgw_pgoutput_parse(d, ins.b, ins.n, &m, &err), 0);
	assert_int_equal(m.new.ncols, 3);
	assert_int_equal(m.new.vals[0].kind, 't');
	assert_int_equal(m.new.vals[0].len, 2);
	assert_memory_equal(m.new.vals[0].data, "42", 2);
	assert_int_equal(m.new.vals[1].kind, 'n');

	/* an UPDATE that changed the key, with an unchanged TOASTed column */
	struct msg up = {0};
	put8(&up, 'U'), put32(&up, 16384), put8(&up, 'K'), put16(&up, 3);
	puttext(&up, "41"), put8(&up, 'n'), put8(&up, 'n');
	put8(&up, 'N'), put16(&up, 3), puttext(&up, "43"), puttext(&up, "x"), put8(&up, 'u');
	assert_int_equal(pgw_pgoutput_parse(d, up.b, up.n, &m, &err), 0);
	assert_int_equal(m.old_kind, 'K');
	assert_memory_equal(m.old.vals[0].data, "41", 2);
	assert_memory_equal(m.new.vals[0].data, "43", 2);
	assert_int_equal(m.new.vals[2].kind, 'u');

	struct msg del = {0};
	put8(&del, 'D'), put32(&del, 16384), put8(&del, 'K'), put16(&del, 3), puttext(&del, "43"), put8(&del, 'n'),
		put8(&del, 'n');
	assert_int_equal(pgw_pgoutput_parse(d, del.b, del.n, &m, &err), 0);
	assert_int_equal(m.type, 'D');
	assert_memory_equal(m.old.vals[0].data, "43", 2);

	struct msg t = {0};
	put8(&t, 'T'), put32(&t, 2), put8(&t, 2), put32(&t, 16384), put32(&t, 16390);
	assert_int_equal(pgw_pgoutput_parse(d, t.b, t.n, &m, &err), 0);
	assert_int_equal(m.ntruncate, 2);
	assert_int_equal(m.truncate_relids[1], 16390);
	assert_int_equal(m.truncate_flags, 2);

	struct msg c = {0};
	put8(&c, 'C'), put8(&c, 0), put64(&c, 0x16B3748), put64(&c, 0x16B3778), put64(&c, 123456790);
	assert_int_equal(pgw_pgoutput_parse(d, c.b, c.n, &m, &err), 0);
	assert_true(m.lsn == 0x16B3748 && m.end_lsn == 0x16B3778);

	/* every truncation of a message is refused, never read past its end */
	struct msg *all[] = {&b, &r, &ins, &up, &del, &t, &c};
	for (size_t i = 0; i < sizeof(all) / sizeof(*all); i++)
		for (size_t n = 1; n < all[i]->n; n++) {
			char *copy = pgw_malloc(n);
			memcpy(copy, all[i]->b, n);
			assert_int_equal(pgw_pgoutput_parse(d, copy, n, &m, &err), -1);
			free(copy);
		}
	/* a value longer than the message */
	struct msg bad = {0};
	put8(&bad, 'I'), put32(&bad, 16384), put8(&bad, 'N'), put16(&bad, 3), put8(&bad, 't'), put32(&bad, 1000000);
	assert_int_equal(pgw_pgoutput_parse(d, bad.b, bad.n, &m, &err), -1);
	pgw_pgoutput_free(d);
}
