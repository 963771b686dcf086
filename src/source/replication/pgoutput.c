/* pgoutput v1 messages (PostgreSQL's "Logical Replication Message Formats"); see pgoutput.h. */
#include "source/replication/pgoutput.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

struct pgw_pgoutput {
	struct pgw_repl_relation *rels; /* a few tables: a linear search is enough */
	int nrels, caprels;
	struct pgw_tuple_value *vals[2]; /* old, new */
	int capvals[2];
	uint32_t *relids;
	int caprelids;
};

/* A bounded reader over one message: any read past the end marks it bad. */
struct reader {
	const unsigned char *p, *end;
	bool bad;
};

static const unsigned char *take(struct reader *r, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return NULL;
	}
	const unsigned char *at = r->p;
	r->p += n;
	return at;
}

static uint8_t u8(struct reader *r)
{
	const unsigned char *p = take(r, 1);
	return p ? p[0] : 0;
}

static uint16_t u16(struct reader *r)
{
	const unsigned char *p = take(r, 2);
	return p ? (uint16_t)(p[0] << 8 | p[1]) : 0;
}

static uint32_t u32(struct reader *r)
{
	const unsigned char *p = take(r, 4);
	return p ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3] : 0;
}

static uint64_t u64(struct reader *r)
{
	uint64_t hi = u32(r);
	return hi << 32 | u32(r);
}

/* A NUL-terminated string inside the message */
static const char *cstr(struct reader *r)
{
	if (r->bad)
		return NULL;
	const unsigned char *nul = memchr(r->p, 0, (size_t)(r->end - r->p));
	if (!nul) {
		r->bad = true;
		return NULL;
	}
	const char *s = (const char *)r->p;
	r->p = nul + 1;
	return s;
}

struct pgw_pgoutput *pgw_pgoutput_new(void)
{
	return pgw_calloc(1, sizeof(struct pgw_pgoutput));
}

static void relation_clear(struct pgw_repl_relation *rel)
{
	for (int i = 0; i < rel->ncols; i++)
		free(rel->cols[i].name);
	free(rel->cols);
	free(rel->schema);
	free(rel->name);
	memset(rel, 0, sizeof(*rel));
}

void pgw_pgoutput_free(struct pgw_pgoutput *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->nrels; i++)
		relation_clear(&d->rels[i]);
	free(d->rels);
	free(d->vals[0]);
	free(d->vals[1]);
	free(d->relids);
	free(d);
}

const struct pgw_repl_relation *pgw_pgoutput_relation(const struct pgw_pgoutput *d, uint32_t relid)
{
	for (int i = 0; i < d->nrels; i++)
		if (d->rels[i].relid == relid)
			return &d->rels[i];
	return NULL;
}

/* R: Int32 relid, String namespace, String name, Int8 replica identity, Int16 ncols, then per
 * column Int8 flags (1: key), String name, Int32 type oid, Int32 typmod. Replaces what was cached. */
static int parse_relation(struct pgw_pgoutput *d, struct reader *r, struct pgw_pgoutput_msg *m, struct pgw_err *err)
{
	struct pgw_repl_relation rel = {.relid = u32(r)};
	const char *schema = cstr(r), *name = cstr(r);
	rel.identity = (char)u8(r);
	int n = u16(r);
	if (r->bad)
		return pgw_err_set(err, PGW_ERR_SOURCE, "replication: a malformed Relation message");
	rel.schema = pgw_strdup(*schema ? schema : "pg_catalog");
	rel.name = pgw_strdup(name);
	rel.cols = pgw_calloc((size_t)n + 1, sizeof(*rel.cols));
	for (int i = 0; i < n && !r->bad; i++) {
		rel.cols[i].key = (u8(r) & 1) != 0;
		const char *col = cstr(r);
		rel.cols[i].type_oid = u32(r);
		rel.cols[i].typmod = (int32_t)u32(r);
		rel.cols[i].name = pgw_strdup(col ? col : "");
		rel.ncols = i + 1;
	}
	if (r->bad) {
		relation_clear(&rel);
		return pgw_err_set(err, PGW_ERR_SOURCE, "replication: a malformed Relation message");
	}
	struct pgw_repl_relation *slot = (struct pgw_repl_relation *)pgw_pgoutput_relation(d, rel.relid);
	if (slot) {
		relation_clear(slot);
	} else {
		if (d->nrels == d->caprels) {
			d->caprels = d->caprels ? d->caprels * 2 : 8;
			d->rels = pgw_realloc(d->rels, (size_t)d->caprels * sizeof(*d->rels));
		}
		slot = &d->rels[d->nrels++];
	}
	*slot = rel;
	m->rel = slot;
	return 0;
}

/* TupleData: Int16 ncols, per column 'n' | 'u' | 't' Int32 len, bytes | 'b' Int32 len, bytes */
static int parse_tuple(struct pgw_pgoutput *d, int which, struct reader *r, const struct pgw_repl_relation *rel,
		       struct pgw_tuple *t, struct pgw_err *err)
{
	int n = u16(r);
	if (r->bad || n != rel->ncols)
		return pgw_err_set(err, PGW_ERR_SOURCE,
				   "replication: a change of \"%s\".\"%s\" has %d columns, its relation %d",
				   rel->schema, rel->name, n, rel->ncols);
	if (n > d->capvals[which]) {
		d->capvals[which] = n;
		d->vals[which] = pgw_realloc(d->vals[which], (size_t)n * sizeof(struct pgw_tuple_value));
	}
	t->ncols = n;
	t->vals = d->vals[which];
	for (int i = 0; i < n; i++) {
		struct pgw_tuple_value *v = &t->vals[i];
		v->kind = (char)u8(r);
		v->data = NULL;
		v->len = 0;
		if (v->kind == 't' || v->kind == 'b') {
			v->len = u32(r);
			v->data = (const char *)take(r, v->len);
		} else if (v->kind != 'n' && v->kind != 'u') {
			r->bad = true;
		}
		if (r->bad)
			return pgw_err_set(err, PGW_ERR_SOURCE, "replication: a malformed tuple of \"%s\".\"%s\"",
					   rel->schema, rel->name);
	}
	return 0;
}

static const struct pgw_repl_relation *known(struct pgw_pgoutput *d, uint32_t relid, struct pgw_err *err)
{
	const struct pgw_repl_relation *rel = pgw_pgoutput_relation(d, relid);
	if (!rel)
		pgw_err_set(err, PGW_ERR_SOURCE, "replication: a change of relation %u before its description", relid);
	return rel;
}

/* I: relid 'N' tuple; U: relid ['K'|'O' tuple] 'N' tuple; D: relid 'K'|'O' tuple */
static int parse_change(struct pgw_pgoutput *d, struct reader *r, struct pgw_pgoutput_msg *m, struct pgw_err *err)
{
	if (!(m->rel = known(d, u32(r), err)))
		return -1;
	char kind = (char)u8(r);
	if (m->type != 'I' && (kind == 'K' || kind == 'O')) {
		m->old_kind = kind;
		if (parse_tuple(d, 0, r, m->rel, &m->old, err) < 0)
			return -1;
		if (m->type == 'D')
			return 0;
		kind = (char)u8(r);
	}
	if (kind != 'N' || m->type == 'D')
		return pgw_err_set(err, PGW_ERR_SOURCE, "replication: a malformed %c message", m->type);
	return parse_tuple(d, 1, r, m->rel, &m->new, err);
}

/* T: Int32 nrels, Int8 flags, Int32 relid... */
static int parse_truncate(struct pgw_pgoutput *d, struct reader *r, struct pgw_pgoutput_msg *m, struct pgw_err *err)
{
	uint32_t n = u32(r);
	m->truncate_flags = u8(r);
	if (r->bad || n > (uint32_t)(r->end - r->p) / 4)
		return pgw_err_set(err, PGW_ERR_SOURCE, "replication: a malformed Truncate message");
	if ((int)n > d->caprelids) {
		d->caprelids = (int)n;
		d->relids = pgw_realloc(d->relids, n * sizeof(uint32_t));
	}
	for (uint32_t i = 0; i < n; i++)
		d->relids[i] = u32(r);
	m->ntruncate = (int)n;
	m->truncate_relids = d->relids;
	return 0;
}

int pgw_pgoutput_parse(struct pgw_pgoutput *d, const char *buf, size_t len, struct pgw_pgoutput_msg *m,
		       struct pgw_err *err)
{
	struct reader r = {(const unsigned char *)buf, (const unsigned char *)buf + len, false};
	memset(m, 0, sizeof(*m));
	m->type = (char)u8(&r);
	int rc = 0;
	switch (m->type) {
	case 'B':
		m->lsn = u64(&r);
		m->commit_time = (int64_t)u64(&r);
		m->xid = u32(&r);
		break;
	case 'C':
		u8(&r); /* flags: unused */
		m->lsn = u64(&r);
		m->end_lsn = u64(&r);
		m->commit_time = (int64_t)u64(&r);
		break;
	case 'R': rc = parse_relation(d, &r, m, err); break;
	case 'I':
	case 'U':
	case 'D': rc = parse_change(d, &r, m, err); break;
	case 'T': rc = parse_truncate(d, &r, m, err); break;
	case 'Y':
	case 'O':
	case 'M': break; /* types, origins, logical messages: nothing to apply */
	default: return pgw_err_set(err, PGW_ERR_SOURCE, "replication: an unknown pgoutput message '%c'", m->type);
	}
	if (rc == 0 && r.bad)
		return pgw_err_set(err, PGW_ERR_SOURCE, "replication: a truncated '%c' message", m->type);
	return rc;
}
