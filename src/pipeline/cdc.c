/* Change data capture through logical replication (docs/cdc.md). A run: make
 * sure the publication holds the CDC tables; copy the tables never copied, from
 * a replication slot's exported snapshot, writing the slot position of that
 * snapshot with the copy; then read the slot from where it was confirmed up to
 * the server's WAL position at the start of the run, reduce the changes to the
 * net change per key, and apply each table's in one warehouse transaction
 * together with its new position; confirm to PostgreSQL only what every table
 * holds. A table skips the changes of transactions that commit before its
 * position, so a rerun after a crash at any point converges. */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/interrupt.h"
#include "core/log.h"
#include "core/progress.h"
#include "pipeline/cdc_state.h"
#include "pipeline/runlog.h"
#include "pipeline/sync.h"
#include "source/replication/pgoutput.h"
#include "source/replication/repl.h"

/* COMMENT ON PUBLICATION of the publications pgwarehouse creates */
#define PUBLICATION_MARK "created by pgwarehouse"

#define FLUSH_ROWS 50000 /* net changes held before they are applied */
#define FLUSH_BYTES (64LL << 20)

/* Net changes held before they are applied at a commit (FLUSH_ROWS; tests lower it with
 * PGW_CDC_HOLD_ROWS); twice that inside one transaction applies it in parts. Where an apply
 * rewrites the table (sink->change_load_copies) only FLUSH_BYTES bounds them: on ClickHouse 18.16
 * (copying the table then) a catch-up of 1M changes to a 3M-row table took 75 s in applies of
 * 50,000, 32 s in applies of 64 MB; DuckDB's applies cost the changes, not the table (the same
 * catch-up: 13.3 s in applies of 50,000, 15.3 s unbounded). */
static long long hold_rows(const struct pgw_sink *sink)
{
	const char *v = getenv("PGW_CDC_HOLD_ROWS");
	if (v && atoll(v) > 0)
		return atoll(v);
	return sink->change_load_copies ? LLONG_MAX / 4 : FLUSH_ROWS;
}

/* The net change of one key within the changes held. A table without a primary key (replica identity
 * FULL) is a multiset of rows: its "key" is the whole row, and the change is how many copies of the
 * row come (count > 0) or go (count < 0). */
struct change {
	char *key; /* the key columns' texts, each length-prefixed; keyless: every column's */
	size_t keylen;
	int op;		 /* PGW_OP_UPSERT / PGW_OP_DELETE */
	long long count; /* keyless tables */
	/* The row in one allocation (a million changes held are a million of them, so no allocation
	 * per value): uint32_t ends[ncols] (each value's end in the data), char kinds[ncols] ('n'
	 * NULL, 'u' unchanged: kept from the warehouse, 't' text, 'b' binary: the send format),
	 * then the values' bytes. NULL: every column 'n'. */
	char *row;
};

/* What a held change costs beyond its row and key: its entry (the array doubles), two to four hash
 * slots, the allocator's headers */
#define CHANGE_OVERHEAD (2 * sizeof(struct change) + 4 * sizeof(size_t) + 32)

static char row_kind(const struct change *ch, int n, int k)
{
	return ch->row ? ch->row[4 * (size_t)n + k] : 'n';
}

/* The bytes the row takes (0 without one) */
static size_t row_size(const struct change *ch, int n)
{
	return ch->row ? 5 * (size_t)n + ((const uint32_t *)ch->row)[n - 1] : 0;
}

static const char *row_value(const struct change *ch, int n, int k, uint32_t *len)
{
	const uint32_t *ends = (const uint32_t *)ch->row;
	uint32_t start = k ? ends[k - 1] : 0;
	*len = ends[k] - start;
	return ch->row + 5 * (size_t)n + start;
}

struct cdc_table {
	char *name;	 /* as given */
	char *qualified; /* schema.name in PostgreSQL: the state's key */
	struct pgw_table_def *def, *stage_def;
	struct pgw_target target;
	struct pgw_table_result *res;
	uint64_t pos;	      /* transactions committing before it are in the warehouse
				 already (0: never copied) */
	uint64_t pos_changes; /* ...and this many of its changes of the one committing at pos (parts) */
	uint64_t txn_seen;    /* its changes in the transaction being read */
	bool failed;
	long long applied; /* net changes applied by this run */
	/* changes held */
	struct change *ch;
	size_t nch, capch;
	size_t *slots; /* open addressing: index + 1 into ch, 0 empty */
	size_t nslots;
	bool truncate;
	bool *keep_cols;
	/* what the run log keeps of the table, to find changes the stream does not carry: "oid N; key
	 * I,J", and a partitioned table's partitions ("; partitions N, signature HEX"): see ident_now */
	char *ident;
	bool unpublished; /* not in the publication at the run's start: this run added it */
};

struct cdc {
	struct pgw_run *run;
	bool recopy;	       /* reload: copy the tables again, whatever their positions */
	bool copy_partitioned; /* the publication now publishes through roots: partitioned tables copied again */
	struct cdc_table *t;
	int n;		    /* the tables followed */
	int nall;	    /* ...and after them, those of the run that cannot be (their results hold why) */
	bool pub_new;	    /* the publication did not exist: this run created it */
	int held_positions; /* positions of the slot this warehouse holds (every table's, not only the run's) */
	struct pgw_repl repl;
	struct pgw_pgoutput *dec;
	uint64_t final_lsn;	     /* of the transaction being read */
	int64_t txn_time;	     /* ...and its commit time */
	struct pgw_tuple_value *row; /* a keyless update's new row, unchanged columns taken from the old */
	struct pgw_tuple_value *vals; /* a change's row being made (set_row) */
	int nvals;		      /* ...its room */
	int64_t commit_time;	     /* of the last commit read, µs since 2000 */
	long long held_rows;
	long long held_bytes;
	int parts;	/* parts of the current transaction applied so far */
	long long hold; /* hold_rows(), read once */
	/* stream: apply every interval seconds (0: a sync, which stops at the WAL
	 * position of its start) */
	double interval;
	double last_flush;	   /* pgw_now() */
	uint64_t flushed;	   /* the position of the last flush */
	long long flushed_changes; /* net changes applied by that flush */
	long long stream_applied;  /* ...and by every flush of the stream */
	double oldest_held;	   /* commit time (s since 1970) of the oldest transaction held, 0: none */
	int retry_wait;		   /* stream: seconds before the next attempt to go on after a failure */
};

static void free_changes(struct cdc_table *t)
{
	for (size_t i = 0; i < t->nch; i++) {
		free(t->ch[i].row);
		free(t->ch[i].key);
	}
	free(t->ch);
	free(t->slots);
	t->ch = NULL;
	t->slots = NULL;
	t->nch = t->capch = t->nslots = 0;
	t->truncate = false;
	if (t->keep_cols)
		memset(t->keep_cols, 0, (size_t)t->def->ncols * sizeof(bool));
}

static uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
	return h;
}

static bool keyless(const struct cdc_table *t)
{
	return t->def->npk == 0;
}

/* The key of a tuple: each key column's text, length-prefixed (NULL keys cannot
 * occur); a keyless table's: every column's kind ('n' NULL, 't' text) and text. */
static char *tuple_key(const struct cdc_table *t, const struct pgw_tuple *tup, size_t *len)
{
	struct pgw_buf b;
	pgw_buf_init(&b);
	int n_key = keyless(t) ? t->def->ncols : t->def->npk;
	for (int i = 0; i < n_key; i++) {
		const struct pgw_tuple_value *v = &tup->vals[keyless(t) ? i : t->def->pk[i]];
		if (keyless(t))
			pgw_buf_add(&b, &v->kind, 1);
		uint32_t n = v->kind == 't' || v->kind == 'b' ? v->len : 0;
		pgw_buf_add(&b, (const char *)&n, sizeof(n));
		if (n)
			pgw_buf_add(&b, v->data, n);
	}
	*len = b.len;
	pgw_buf_add(&b, "", 1);
	return b.data;
}

static void grow_slots(struct cdc_table *t)
{
	size_t n = t->nslots ? t->nslots * 2 : 1024;
	free(t->slots);
	t->slots = pgw_calloc(n, sizeof(size_t));
	t->nslots = n;
	for (size_t i = 0; i < t->nch; i++) {
		size_t s = hash_bytes(t->ch[i].key, t->ch[i].keylen) & (n - 1);
		while (t->slots[s])
			s = (s + 1) & (n - 1);
		t->slots[s] = i + 1;
	}
}

/* The held change of key (created empty when absent). */
static struct change *change_for(struct cdc *c, struct cdc_table *t, char *key, size_t keylen)
{
	if ((t->nch + 1) * 2 > t->nslots)
		grow_slots(t);
	size_t s = hash_bytes(key, keylen) & (t->nslots - 1);
	for (; t->slots[s]; s = (s + 1) & (t->nslots - 1)) {
		struct change *ch = &t->ch[t->slots[s] - 1];
		if (ch->keylen == keylen && !memcmp(ch->key, key, keylen)) {
			free(key);
			return ch;
		}
	}
	if (t->nch == t->capch) {
		t->capch = t->capch ? t->capch * 2 : 256;
		t->ch = pgw_realloc(t->ch, t->capch * sizeof(*t->ch));
	}
	struct change *ch = &t->ch[t->nch++];
	memset(ch, 0, sizeof(*ch));
	ch->op = -1; /* neither yet */
	ch->key = key;
	ch->keylen = keylen;
	t->slots[s] = t->nch;
	c->held_rows++;
	c->held_bytes += (long long)(CHANGE_OVERHEAD + keylen);
	return ch;
}

/* The change's row becomes c->vals[0..n) (their data copied; 'n' and 'u' hold none) */
static void set_row(struct cdc *c, struct change *ch, int n)
{
	size_t data = 0;
	for (int k = 0; k < n; k++)
		data += c->vals[k].kind == 't' || c->vals[k].kind == 'b' ? c->vals[k].len : 0;
	size_t size = 5 * (size_t)n + data;
	char *row = pgw_malloc(size ? size : 1);
	uint32_t *ends = (uint32_t *)row;
	char *kinds = row + 4 * (size_t)n, *at = kinds + n;
	uint32_t end = 0;
	for (int k = 0; k < n; k++) {
		const struct pgw_tuple_value *v = &c->vals[k];
		kinds[k] = v->kind;
		if ((v->kind == 't' || v->kind == 'b') && v->len) {
			memcpy(at + end, v->data, v->len);
			end += v->len;
		}
		ends[k] = end;
	}
	c->held_bytes += (long long)size - (long long)row_size(ch, n);
	free(ch->row);
	ch->row = row;
}

/* c->vals sized for n columns, every one NULL */
static void clear_vals(struct cdc *c, int n)
{
	if (n > c->nvals) {
		c->vals = pgw_realloc(c->vals, (size_t)n * sizeof(*c->vals));
		c->nvals = n;
	}
	for (int k = 0; k < n; k++)
		c->vals[k] = (struct pgw_tuple_value){.kind = 'n'};
}

static void record_delete(struct cdc *c, struct cdc_table *t, const struct pgw_tuple *old)
{
	size_t len;
	char *key = tuple_key(t, old, &len);
	struct change *ch = change_for(c, t, key, len);
	ch->op = PGW_OP_DELETE;
	clear_vals(c, t->def->ncols);
	for (int i = 0; i < t->def->npk; i++) /* the key's values, to find the row */
		c->vals[t->def->pk[i]] = old->vals[t->def->pk[i]];
	set_row(c, ch, t->def->ncols);
}

/* The new row of an insert or update. A column PostgreSQL did not send ('u': a
 * TOASTed value the update left alone) takes the value held for the key, else
 * stays to be kept from the warehouse. */
static void record_upsert(struct cdc *c, struct cdc_table *t, const struct pgw_tuple *row)
{
	size_t len;
	char *key = tuple_key(t, row, &len);
	struct change *ch = change_for(c, t, key, len);
	bool had_row = ch->op == PGW_OP_UPSERT;
	int n = t->def->ncols;
	clear_vals(c, n);
	for (int k = 0; k < n; k++) {
		const struct pgw_tuple_value *v = &row->vals[k];
		char held = row_kind(ch, n, k);
		if (v->kind == 'u' && had_row && held != 'n') { /* the value (or the keep) held for the key stays */
			c->vals[k].kind = held;
			c->vals[k].data = row_value(ch, n, k, &c->vals[k].len);
			continue;
		}
		c->vals[k] = *v;
		if (v->kind == 'u')
			t->keep_cols[k] = true;
	}
	set_row(c, ch, n);
	ch->op = PGW_OP_UPSERT;
}

/* A keyless table: delta copies of row come (1) or go (-1) */
static void record_count(struct cdc *c, struct cdc_table *t, const struct pgw_tuple *row, int delta)
{
	size_t len;
	char *key = tuple_key(t, row, &len);
	struct change *ch = change_for(c, t, key, len);
	if (ch->op < 0) { /* new: the row's values */
		ch->op = PGW_OP_UPSERT;
		clear_vals(c, t->def->ncols);
		for (int k = 0; k < t->def->ncols; k++)
			if (row->vals[k].kind == 't' || row->vals[k].kind == 'b')
				c->vals[k] = row->vals[k];
		set_row(c, ch, t->def->ncols);
	}
	ch->count += delta;
}

/* A keyless table's insert, update or delete: the old row (replica identity FULL sends it whole)
 * goes, the new one comes, its unchanged (TOASTed) columns as the old row had them */
static int on_keyless_change(struct cdc *c, struct cdc_table *t, const struct pgw_pgoutput_msg *m, struct pgw_err *err)
{
	if (m->type != 'I' && m->old_kind != 'O')
		return pgw_err_set(err, PGW_ERR_TABLE,
				   "table %s has no primary key and its %s came without the old row: ALTER TABLE %s "
				   "REPLICA IDENTITY FULL, then pgwarehouse reload %s",
				   t->name, m->type == 'D' ? "delete" : "update", t->name, t->name);
	if (m->type != 'I')
		record_count(c, t, &m->old, -1);
	if (m->type == 'D')
		return 0;
	struct pgw_tuple row = m->new;
	if (m->type == 'U') {
		c->row = pgw_realloc(c->row, (size_t)row.ncols * sizeof(*c->row));
		for (int k = 0; k < row.ncols; k++)
			c->row[k] = row.vals[k].kind == 'u' ? m->old.vals[k] : row.vals[k];
		row.vals = c->row;
	}
	record_count(c, t, &row, 1);
	return 0;
}

static struct cdc_table *table_of(struct cdc *c, const struct pgw_repl_relation *rel)
{
	for (int i = 0; rel && i < c->n; i++)
		if (!c->t[i].failed && c->t[i].def->oid == rel->relid)
			return &c->t[i];
	return NULL;
}

static bool in_key(const struct pgw_table_def *def, int col)
{
	for (int k = 0; k < def->npk; k++)
		if (def->pk[k] == col)
			return true;
	return false;
}

/* A Relation message: the table as the stream describes it must be the one
 * copied (its columns, and under the default replica identity its key). */
static int check_relation(struct cdc *c, const struct pgw_repl_relation *rel, struct pgw_err *err)
{
	struct cdc_table *t = table_of(c, rel);
	if (!t || c->final_lsn < t->pos) /* a transaction the table holds already
					    (e.g. before its reload) */
		return 0;
	bool same = rel->ncols == t->def->ncols;
	for (int i = 0; same && i < rel->ncols; i++)
		same = !strcmp(rel->cols[i].name, t->def->cols[i].name) &&
		       (rel->identity != 'd' || rel->cols[i].key == in_key(t->def, i));
	if (!same)
		return pgw_err_set(err, PGW_ERR_TABLE,
				   "table %s changed shape (ALTER TABLE) during this run; "
				   "the next run copies it again",
				   t->name);
	return 0;
}

/* Whether the table holds a change of the transaction being read already: the transaction commits
 * before its position, or the change is one of those a part of it applied (counted in stream order,
 * which a replay repeats). */
static bool held_already(struct cdc *c, struct cdc_table *t)
{
	if (c->final_lsn < t->pos)
		return true;
	t->txn_seen++;
	return c->final_lsn == t->pos && t->txn_seen <= t->pos_changes;
}

static int on_change(struct cdc *c, const struct pgw_pgoutput_msg *m, struct pgw_err *err)
{
	struct cdc_table *t = table_of(c, m->rel);
	if (!t || held_already(c, t)) /* not ours, or already in the warehouse */
		return 0;
	if (keyless(t))
		return on_keyless_change(c, t, m, err);
	if (m->type == 'D' || (m->type == 'U' && m->old_kind)) {
		if (m->type == 'D') {
			record_delete(c, t, &m->old);
			return 0;
		}
		size_t a, b;
		char *k1 = tuple_key(t, &m->old, &a), *k2 = tuple_key(t, &m->new, &b);
		bool moved = a != b || memcmp(k1, k2, a);
		free(k1), free(k2);
		if (moved) /* the key changed: the old row goes */
			record_delete(c, t, &m->old);
	}
	record_upsert(c, t, &m->new);
	return 0;
}

static void on_truncate(struct cdc *c, const struct pgw_pgoutput_msg *m)
{
	for (int i = 0; i < m->ntruncate; i++)
		for (int j = 0; j < c->n; j++) {
			struct cdc_table *t = &c->t[j];
			if (!t->failed && t->def->oid == m->truncate_relids[i] && !held_already(c, t)) {
				free_changes(t); /* what came before the truncate is gone with it */
				t->truncate = true;
			}
		}
}

/* The statement that records a table's position, inside its load's transaction
 */
static char *position_sql(struct cdc *c, const struct cdc_table *t, const struct pgw_cdc_pos *pos, int64_t commit_us)
{
	return pgw_cdc_state_position_sql(c->run->sink, c->run->cfg->replication_slot, t->qualified, pos, commit_us);
}

/* One staged row: the values, then _pgw_op (a keyless table's: the count) and _pgw_keep (the kept
 * columns; a keyless table's: the row's number in the stage, which the Snowflake apply joins on) */
static int stage_row(const struct cdc_table *t, const struct change *ch, struct pgw_batch *b, struct pgw_err *err)
{
	int n = t->def->ncols;
	struct pgw_buf keep;
	pgw_buf_init(&keep);
	for (int k = 0; k < n; k++) {
		const struct pgw_coldef *col = &t->def->cols[k];
		char kind = row_kind(ch, n, k);
		uint32_t len = 0;
		const char *val = kind == 't' || kind == 'b' ? row_value(ch, n, k, &len) : NULL;
		if (kind == 'b') { /* the binary option: the send format */
			if (pgw_binary_decode(col, val, len, &b->cols[k], err) < 0) {
				pgw_buf_cleanup(&keep);
				return pgw_err_prefix(err, "table %s", t->name);
			}
		} else if (kind == 't') {
			/* char(n) arrives padded; its copy was read through ::text, which drops
			 * the padding */
			if (col->ti.type == PGW_T_TEXT && !strncmp(col->pgtype, "character(", 10))
				while (len && val[len - 1] == ' ')
					len--;
			if (pgw_text_decode(col->name, &col->ti, val, len, &b->cols[k], err) < 0) {
				pgw_buf_cleanup(&keep);
				return pgw_err_prefix(err, "table %s", t->name);
			}
		} else {
			pgw_col_push_null(&b->cols[k]);
			if (kind == 'u')
				pgw_buf_printf(&keep, "%s%d,", keep.len ? "" : ",", k);
		}
	}
	*(int64_t *)pgw_col_push(&b->cols[n]) = keyless(t) ? ch->count : ch->op;
	if (keyless(t))
		pgw_buf_printf(&keep, "%zu", (size_t)(ch - t->ch));
	if (keep.len)
		pgw_col_push_str(&b->cols[n + 1], keep.data, keep.len);
	else
		pgw_col_push_null(&b->cols[n + 1]);
	b->rows++;
	pgw_buf_cleanup(&keep);
	return 0;
}

/* The table's held changes, and its position, in one warehouse transaction: lsn, or with part the
 * changes of the transaction being read so far. */
static int apply_table(struct cdc *c, struct cdc_table *t, uint64_t lsn, bool part, struct pgw_err *err)
{
	struct pgw_sink *sink = c->run->sink;
	struct pgw_batch *b = pgw_batch_for_def(t->stage_def, 2048);
	struct pgw_cdc_pos at = {part ? c->final_lsn : lsn, part ? t->txn_seen : 0};
	char *pos = position_sql(c, t, &at, part ? c->txn_time : c->commit_time);
	struct pgw_target target = t->target;
	target.commit_sql = pos;
	target.truncate_first = t->truncate;
	target.keep_cols = t->keep_cols;
	int rc = sink->ops->begin(sink, &target, PGW_LOAD_CHANGES, err);
	for (size_t i = 0; rc == 0 && i < t->nch; i++) {
		if (keyless(t) && !t->ch[i].count)
			continue; /* as many came as went */
		rc = stage_row(t, &t->ch[i], b, err);
		if (rc == 0 && b->rows == b->cap) {
			rc = sink->ops->write(sink, b, err);
			pgw_batch_reset(b);
		}
	}
	if (rc == 0 && b->rows)
		rc = sink->ops->write(sink, b, err);
	if (rc == 0)
		rc = sink->ops->commit(sink, err);
	else
		sink->ops->abort(sink);
	if (rc == 0) {
		t->res->rows += (long long)t->nch;
		t->applied += (long long)t->nch;
		t->pos = at.lsn;
		t->pos_changes = at.txn_changes;
	}
	pgw_batch_free(b);
	free(pos);
	return rc;
}

/* Every table's held changes, applied with position lsn (or as a part of the transaction being read) */
static int apply_held(struct cdc *c, uint64_t lsn, bool part, struct pgw_err *err)
{
	for (int i = 0; i < c->n; i++) {
		struct cdc_table *t = &c->t[i];
		if (t->failed || (!t->nch && !t->truncate))
			continue;
		c->flushed_changes += (long long)t->nch;
		if (apply_table(c, t, lsn, part, &t->res->err) < 0) {
			t->failed = true;
			pgw_error("%s: %s", t->name, t->res->err.msg);
		}
		free_changes(t);
	}
	c->held_rows = c->held_bytes = 0;
	c->oldest_held = 0;
	for (int i = 0; i < c->n; i++)
		if (c->t[i].failed) { /* its changes are not applied: the slot keeps them for the next run */
			pgw_err_set(err, PGW_ERR_TABLE, "%s: %s", c->t[i].name, c->t[i].res->err.msg);
			memcpy(err->sqlstate, c->t[i].res->err.sqlstate, sizeof(err->sqlstate));
			return -1;
		}
	return 0;
}

/* Everything held, applied; then every table's position moves to lsn and the
 * slot is confirmed. */
static int flush(struct cdc *c, uint64_t lsn, struct pgw_err *err)
{
	c->flushed_changes = 0;
	if (c->held_rows)
		pgw_debug("cdc: applying %lld changes", c->held_rows);
	if (apply_held(c, lsn, false, err) < 0)
		return -1;
	/* the run's tables hold everything up to lsn; the slot is confirmed up to
	 * what every table of it holds (a CDC table left out of this run keeps its
	 * position and the WAL after it) */
	struct pgw_sink *sink = c->run->sink;
	const char *slot = c->run->cfg->replication_slot;
	char **names = pgw_calloc((size_t)c->n + 1, sizeof(char *));
	for (int i = 0; i < c->n; i++)
		names[i] = c->t[i].qualified;
	uint64_t confirm = 0;
	int rc = pgw_cdc_state_advance(sink, slot, names, c->n, lsn, err);
	free(names);
	if (rc == 0)
		rc = pgw_cdc_state_min(sink, slot, &confirm, err);
	for (int i = 0; rc == 0 && i < c->n; i++)
		if (c->t[i].pos < lsn) {
			c->t[i].pos = lsn;
			c->t[i].pos_changes = 0;
		}
	if (!confirm || confirm > lsn)
		confirm = lsn;
	/* a test failpoint: die as a kill -9 would, after the warehouse committed and
	 * before PostgreSQL heard of it (t_cdc.sh) */
	if (rc == 0)
		pgw_failpoint("cdc-before-confirm");
	c->flushed = lsn;
	c->last_flush = pgw_now();
	if (rc == 0)
		c->retry_wait = 0;
	return rc == 0 ? pgw_repl_confirm(&c->repl, confirm, err) : -1;
}

/* A transaction too large to hold is applied in parts as it is read (what arrives is committed:
 * pgoutput sends a transaction after its commit). Each part moves its tables' positions to the
 * number of the transaction's changes they hold, so a crash resumes after the last part (a replay
 * sends the changes in the same order). Readers may see such a transaction in parts meanwhile. */
static int apply_part(struct cdc *c, struct pgw_err *err)
{
	if (!c->parts++)
		pgw_info("a transaction of more than %lld changes: applying it in parts as it is read", c->held_rows);
	if (apply_held(c, 0, true, err) < 0)
		return -1;
	pgw_failpoint("cdc-after-part"); /* tests: a part applied, the transaction not */
	return 0;
}

static int on_message(struct cdc *c, const struct pgw_pgoutput_msg *m, uint64_t until, bool *done, struct pgw_err *err)
{
	switch (m->type) {
	case 'B':
		c->final_lsn = m->lsn;
		c->txn_time = m->commit_time;
		c->parts = 0;
		for (int i = 0; i < c->n; i++)
			c->t[i].txn_seen = 0;
		return 0;
	case 'R': return check_relation(c, m->rel, err);
	case 'I':
	case 'U':
	case 'D':
		if (on_change(c, m, err) < 0)
			return -1;
		if (c->held_rows >= 2 * c->hold || c->held_bytes >= 2 * FLUSH_BYTES)
			return apply_part(c, err);
		return 0;
	case 'T': on_truncate(c, m); return 0;
	case 'C':
		c->commit_time = m->commit_time;
		if (c->held_rows && !c->oldest_held)
			c->oldest_held = m->commit_time / 1e6 + 946684800.0;
		if (c->interval > 0) /* stream: the live line */
			pgw_progress_stream(c->stream_applied, c->held_rows, c->oldest_held, -1);
		c->final_lsn = 0;
		*done = m->end_lsn >= until;
		if (*done || c->held_rows >= c->hold || c->held_bytes >= FLUSH_BYTES)
			return flush(c, m->end_lsn, err);
		return 0;
	default: return 0;
	}
}

/* Values come in binary (pgoutput's binary option: no text formatting on the server, no parsing
 * here) when every column of the run's tables is copied in binary too, i.e. needs no cast to
 * text; the binary option applies to a whole stream. */
static void choose_binary(struct cdc *c)
{
	bool all = true;
	for (int i = 0; i < c->n && all; i++)
		for (int k = 0; !c->t[i].failed && k < c->t[i].def->ncols && all; k++)
			all = !c->t[i].def->cols[k].cast[0];
	c->repl.binary = all;
}

/* Session settings for the walsender's output functions: the text forms the
 * decoder reads. */
static int stream_settings(struct pgw_repl *r, struct pgw_err *err)
{
	return pgw_pg_exec(&r->pg,
			   "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET "
			   "IntervalStyle = 'iso_8601'; "
			   "SET extra_float_digits = 3; SET bytea_output = 'hex'; "
			   "SET statement_timeout = 0",
			   err);
}

/* Reads and handles the stream's next message: 1 when there was one (*type, and a commit's
 * *end_lsn), 0 when none came within 100 ms or it was a keepalive, -1 on error. */
static int read_next(struct cdc *c, uint64_t until, bool *done, char *type, uint64_t *end_lsn, struct pgw_err *err)
{
	const char *data;
	int len;
	uint64_t lsn;
	int got = pgw_repl_next(&c->repl, 100, &data, &len, &lsn, err);
	if (got <= 0)
		return got;
	struct pgw_pgoutput_msg m;
	if (pgw_pgoutput_parse(c->dec, data, (size_t)len, &m, err) < 0 || on_message(c, &m, until, done, err) < 0)
		return -1;
	*type = m.type;
	*end_lsn = m.end_lsn;
	return 1;
}

static int start_stream(struct cdc *c, struct pgw_err *err);

/* Reads the slot up to the WAL position of the start of the run, applying as it goes. */
static int catch_up(struct cdc *c, struct pgw_err *err)
{
	uint64_t until = 0;
	const struct pgw_config *cfg = c->run->cfg;
	/* A transaction committed with synchronous_commit = off may not be flushed
	 * yet, and the walsender decodes flushed WAL only: one commit of ours that
	 * wrote WAL (a logical message, which pgoutput does not pass on) with
	 * synchronous_commit = on flushes all WAL before it, so everything committed
	 * before this point is read by this run. (A transaction that only took an xid
	 * would commit without flushing.) */
	if (pgw_pg_exec(c->run->pg,
			"BEGIN; SET LOCAL synchronous_commit = on; "
			"SELECT pg_logical_emit_message(true, 'pgwarehouse', "
			"'flush'); COMMIT",
			err) < 0)
		return -1;
	if (pgw_repl_identify(&c->repl, &until, err) < 0 || start_stream(c, err) < 0)
		return -1;
	pgw_debug("cdc: values arrive in %s", c->repl.binary_on ? "binary" : "text");
	uint64_t last_end = 0;
	bool done = false;
	char at_text[24];
	pgw_lsn_format(until, at_text);
	pgw_debug("cdc: reading slot %s up to %s", cfg->replication_slot, at_text);
	while (!done) {
		if (pgw_interrupted())
			return pgw_err_set(err, PGW_ERR_INTERRUPTED,
					   "interrupted while reading the replication stream");
		char type;
		uint64_t end_lsn;
		int got = read_next(c, until, &done, &type, &end_lsn, err);
		if (got < 0)
			return -1;
		if (got == 0) {
			/* A logical walsender's keepalive carries how far it has decoded and sent
			 * (and an XLogData the position of its message): past `until`, with no
			 * transaction open here, every transaction committed before `until` has
			 * been read. */
			if (c->repl.received >= until && !c->final_lsn) {
				pgw_lsn_format(c->repl.received, at_text);
				pgw_debug("cdc: caught up (the server has sent up to %s)", at_text);
				break;
			}
			continue;
		}
		if (type == 'C') {
			last_end = end_lsn;
			pgw_lsn_format(last_end, at_text);
			pgw_debug("cdc: commit %s", at_text);
		}
	}
	/* caught up: what is held goes in, and positions move to where the stream was
	 * read */
	uint64_t at = c->repl.received > last_end ? c->repl.received : last_end;
	return done ? 0 : flush(c, at > until ? until : at, err);
}

/* "512 B", "3.2 MB", "11.0 GB" */
static void bytes_text(long long n, char *out, size_t size)
{
	static const char *units[] = {"B", "kB", "MB", "GB", "TB"};
	double v = (double)n;
	int u = 0;
	while (v >= 1000 && u < 4)
		v /= 1000, u++;
	snprintf(out, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

/* stream: how far behind the warehouse is, after a flush */
static void report_lag(struct cdc *c)
{
	char at[24], lsn_text[24], behind[32] = "?";
	long long behind_bytes = -1;
	pgw_lsn_format(c->flushed, at);
	snprintf(lsn_text, sizeof(lsn_text), "%s", at);
	const char *params[] = {lsn_text};
	struct pgw_err err = {0};
	PGresult *res = pgw_pg_query(c->run->pg, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint", 1,
				     params, &err);
	if (res && PQntuples(res) == 1)
		bytes_text(behind_bytes = atoll(PQgetvalue(res, 0, 0)), behind, sizeof(behind));
	PQclear(res);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	double lag = c->flushed_changes && c->commit_time
			     ? (double)now.tv_sec + now.tv_nsec / 1e9 - (c->commit_time / 1e6 + 946684800.0)
			     : 0;
	pgw_info("stream: %lld changes applied, up to %s; lag %.1fs, %s of WAL "
		 "behind the server",
		 c->flushed_changes, at, lag < 0 ? 0 : lag, behind);
	c->stream_applied += c->flushed_changes;
	pgw_progress_stream(c->stream_applied, 0, 0, behind_bytes);
}

/* The changes of the transactions read in full go in; with no transaction open,
 * the position moves to what the server has sent (transactions of other tables
 * included). */
static int stream_flush(struct cdc *c, uint64_t last_end, struct pgw_err *err)
{
	uint64_t at = c->repl.received > last_end ? c->repl.received : last_end;
	if (at <= c->flushed)
		return 0;
	if (flush(c, at, err) < 0)
		return -1;
	report_lag(c);
	return 0;
}

static char *ident_now(struct pgw_pg *pg, const struct pgw_table_def *def, struct pgw_err *err);
static bool ident_differs(const char *a, const char *b, const char *field);
static int read_positions(struct cdc *c, struct pgw_err *err);
static int copy_missing(struct cdc *c, bool slot_new, struct pgw_err *err);

/* stream, after an apply: a table dropped or taken out of the publication meanwhile sends no more
 * changes: the stream stops, naming it (the next run copies it again, or leaves it out when it is
 * gone). A partitioned table whose partitions changed meanwhile (which the stream does not carry)
 * is copied again from a temporary slot's snapshot, as a sync would at its start; its changes
 * before that slot's position are then skipped. */
static int check_followed(struct cdc *c, struct pgw_err *err)
{
	struct pgw_buf oids;
	pgw_buf_init(&oids);
	pgw_buf_puts(&oids, "{");
	for (int i = 0; i < c->n; i++)
		if (c->t[i].pos)
			pgw_buf_printf(&oids, "%s%u", oids.len > 1 ? "," : "", c->t[i].def->oid);
	pgw_buf_puts(&oids, "}");
	const char *params[] = {c->run->cfg->publication, oids.data};
	/* one query for every table: the stream runs it at each apply */
	PGresult *res = pgw_pg_query(c->run->pg,
				     "SELECT u.o::text FROM unnest($2::oid[]) AS u(o) WHERE NOT (EXISTS (SELECT 1 FROM "
				     "pg_class WHERE oid = u.o) AND " PGW_CDC_IN_PUBLICATION_OF("u.o") ") LIMIT 1",
				     2, params, err);
	pgw_buf_cleanup(&oids);
	if (!res)
		return -1;
	unsigned gone = PQntuples(res) ? (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	PQclear(res);
	for (int i = 0; gone && i < c->n; i++)
		if (c->t[i].pos && c->t[i].def->oid == gone)
			return pgw_err_set(err, PGW_ERR_TABLE,
					   "%s was dropped, or taken out of publication %s, while the stream ran: its "
					   "changes no longer arrive; the next run copies it again (or leaves it out, "
					   "if it is gone)",
					   c->t[i].name, c->run->cfg->publication);
	bool any = false;
	for (int i = 0; i < c->n; i++) {
		struct cdc_table *t = &c->t[i];
		if (!t->pos || t->def->relkind != 'p')
			continue;
		char *now = ident_now(c->run->pg, t->def, err);
		if (!now)
			return -1;
		if (ident_differs(now, t->ident, "partitions")) {
			pgw_warn("%s: its partitions changed (one truncated, attached, detached, dropped or rewritten: "
				 "PostgreSQL's stream does not carry that); copying it again",
				 t->name);
			t->pos = 0;
			any = true;
		}
		free(t->ident);
		t->ident = now;
	}
	return any ? copy_missing(c, false, err) : 0;
}

/* pgwarehouse stream: reads the slot without end, applying every interval
 * seconds (sooner when much is held, as a sync does) at a transaction boundary;
 * SIGINT/SIGTERM end it at the next boundary after the changes in hand are
 * applied. */
static int follow_loop(struct cdc *c, uint64_t *last_end, struct pgw_err *err)
{
	for (;;) {
		bool boundary = !c->final_lsn; /* no transaction half read */
		if (boundary && pgw_interrupted())
			return 0;
		if (boundary && pgw_now() - c->last_flush >= c->interval) {
			if (stream_flush(c, *last_end, err) < 0 || check_followed(c, err) < 0)
				return -1;
			c->last_flush = pgw_now();
		}
		char type;
		uint64_t end_lsn;
		bool done = false;
		int got = read_next(c, UINT64_MAX, &done, &type, &end_lsn, err);
		if (got < 0)
			return -1;
		if (got == 1 && type == 'C')
			*last_end = end_lsn;
	}
}

struct slot_info {
	bool exists, active;
	char confirmed[32], wal_status[16];
	long long retained; /* bytes of WAL kept for the slot */
};

static int slot_info(struct pgw_pg *pg, const char *slot, struct slot_info *si, struct pgw_err *err);
static int behind_slot(struct cdc *c, const struct slot_info *si, bool reading, struct pgw_err *err);

/* Starts reading the slot from where it was confirmed. From then on only this run moves the slot:
 * a table found behind it now was passed by another reader in the moment before. */
static int start_stream(struct cdc *c, struct pgw_err *err)
{
	const struct pgw_config *cfg = c->run->cfg;
	struct slot_info si;
	choose_binary(c);
	return stream_settings(&c->repl, err) < 0 ||
			       pgw_repl_start(&c->repl, cfg->replication_slot, cfg->publication, 0, err) < 0 ||
			       slot_info(c->run->pg, cfg->replication_slot, &si, err) < 0 ||
			       behind_slot(c, &si, true, err) < 0
		       ? -1
		       : 0;
}

/* A connection gone, or the stream ended by the server (a walsender ends it when the server
 * shuts down) */
static bool connection_lost(struct cdc *c)
{
	PGconn *a = c->repl.pg.conn, *b = c->run->pg->conn;
	return !c->repl.streaming || !a || PQstatus(a) != CONNECTION_OK || !b || PQstatus(b) != CONNECTION_OK;
}

/* A ClickHouse server that did not answer an apply (a restart, a network cut): the stream waits for
 * it as for PostgreSQL. Its applies are idempotent, and recover drops what a cut one left; not
 * Snowflake's, where a transaction may stay open in the session. */
static bool warehouse_away(const struct cdc *c, const struct pgw_err *err)
{
	return c->run->sink->ops->recover && !strcmp(err->sqlstate, PGW_SQLSTATE_UNREACHABLE);
}

/* stream, after a lost connection (a restarted server, a network cut) or a warehouse away: what
 * was read but not applied is dropped, and the slot is read again from where it was confirmed (each
 * table skips what it holds), with waits of 1, 2, 4... up to 30 s between attempts while the failure
 * is one that passes (growing on from the last attempt's until an apply succeeds). 0 when streaming
 * again, 1 when stopped meanwhile, -1 on a lasting failure. */
static int reconnect(struct cdc *c, struct pgw_err *err)
{
	for (int i = 0; i < c->n; i++) { /* what was read is read again, and a failed apply done again */
		free_changes(&c->t[i]);
		c->t[i].failed = false;
		pgw_err_clear(&c->t[i].res->err);
	}
	c->held_rows = c->held_bytes = 0;
	c->final_lsn = 0;
	pgw_repl_close(&c->repl);
	pgw_pgoutput_free(c->dec);
	c->dec = pgw_pgoutput_new();
	for (int wait = c->retry_wait ? c->retry_wait : 1;; wait = wait < 16 ? wait * 2 : 30) {
		/* the next failure before an apply succeeds waits longer */
		c->retry_wait = wait < 16 ? wait * 2 : 30;
		pgw_warn("stream: %s; connecting again in %ds", err->msg, wait);
		for (int t = 0; t < wait * 10 && !pgw_interrupted(); t++)
			usleep(100000);
		if (pgw_interrupted())
			return 1;
		struct pgw_err e = {0};
		/* the other connection too: after a restart it is dead even where libpq does not know yet;
		 * and the positions as the warehouse holds them: an apply cut after it wrote its
		 * position must not be applied twice (a keyless table's rows would double) */
		pgw_pg_close(c->run->pg);
		const struct pgw_sink_ops *ops = c->run->sink->ops;
		if (pgw_pg_connect(c->run->pg, c->run->cfg, &e) == 0 &&
		    (!ops->recover || ops->recover(c->run->sink, &e) == 0) && read_positions(c, &e) == 0 &&
		    pgw_repl_connect(&c->repl, c->run->cfg, &e) == 0 && start_stream(c, &e) == 0) {
			pgw_info("stream: connected again; reading slot %s from where it was confirmed",
				 c->run->cfg->replication_slot);
			return 0;
		}
		pgw_repl_close(&c->repl);
		*err = e;
		/* the slot still read: the walsender of the lost connection lives on until the server
		 * notices (wal_sender_timeout) */
		if (!pgw_pg_transient(e.msg) && strcmp(e.sqlstate, "55006") && !warehouse_away(c, &e))
			return -1;
	}
}

static int follow(struct cdc *c, struct pgw_err *err)
{
	const struct pgw_config *cfg = c->run->cfg;
	if (start_stream(c, err) < 0)
		return -1;
	pgw_info("stream: following slot %s, applying every %gs; SIGINT or SIGTERM stops it", cfg->replication_slot,
		 c->interval);
	pgw_interrupt_note("the changes in hand are applied first");
	uint64_t last_end = 0;
	c->last_flush = pgw_now();
	/* a stop request ends the stream at a transaction boundary: an apply under way is not cut
	 * short by it, and the changes in hand are applied before the exit */
	pgw_cleanup_begin();
	int rc, again = 0;
	while ((rc = follow_loop(c, &last_end, err)) < 0 && (connection_lost(c) || warehouse_away(c, err)) &&
	       !pgw_interrupted() && (again = reconnect(c, err)) == 0)
		last_end = 0;
	if (again == 1) /* stopped while the server was away: nothing is held */
		rc = 0;
	else if (rc == 0)
		rc = stream_flush(c, last_end, err);
	pgw_cleanup_end();
	if (rc == 0)
		pgw_info("stream: stopped");
	return rc;
}

/* ---- setup: tables, publication, slot, copies
 * -------------------------------------------------- */

/* The table as the state and the run log name it: "schema.name" */
static char *qualified_name(const struct pgw_config *cfg, const char *name)
{
	return strchr(name, '.') ? pgw_strdup(name) : pgw_asprintf("%s.%s", cfg->pgschema, name);
}

/* Whether the qualified name is of a table `sync all` follows by change data capture */
static bool in_cdc_set(const struct pgw_config *cfg, char *const *names, int n, const char *qualified)
{
	for (int i = 0; i < n; i++) {
		char *q = qualified_name(cfg, names[i]);
		bool same = !strcmp(q, qualified);
		free(q);
		if (same)
			return pgw_table_cdc(cfg, names[i]);
	}
	return false;
}

/* Whether PostgreSQL has a relation of that qualified name (schema.name); -1 on error */
static int relation_exists(struct pgw_pg *pg, const char *qualified, struct pgw_err *err)
{
	const char *params[] = {qualified};
	PGresult *res = pgw_pg_query(pg,
				     "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
				     "WHERE n.nspname || '.' || c.relname = $1",
				     1, params, err);
	int found = res ? PQntuples(res) > 0 : -1;
	PQclear(res);
	return found;
}

/* A table of the run that cannot be followed: gone from PostgreSQL (dropped, renamed), its position is
 * forgotten, else kept (the slot keeps its changes until the table can be followed again). 1 when
 * forgotten. */
static int forget_gone(struct cdc *c, const char *name, struct pgw_err *err)
{
	for (int i = c->n; i < c->nall; i++) {
		if (strcmp(name, c->t[i].qualified))
			continue;
		int exists = relation_exists(c->run->pg, name, err);
		if (exists)
			return exists < 0 ? -1 : 0;
		pgw_warn("%s is gone from PostgreSQL (dropped or renamed): its warehouse table keeps what the last "
			 "sync applied, and its position is forgotten, so slot %s no longer keeps WAL for it; take it "
			 "out of the config",
			 name, c->run->cfg->replication_slot);
		return pgw_cdc_state_forget(c->run->sink, c->run->cfg->replication_slot, name, err) < 0 ? -1 : 1;
	}
	return 0;
}

/* A table with a position that is no longer followed (taken out of the config, set to cdc: false,
 * dropped) would hold the slot's WAL for ever: its position is forgotten. */
static int forget_dropped(struct cdc *c, const struct pgw_rows *rows, struct pgw_err *err)
{
	char **names = NULL;
	int n = -1, rc = 0;
	for (int r = 0; rc == 0 && r < rows->nrows; r++) {
		const char *name = rows->cells[r * rows->ncols];
		bool in_run = false;
		for (int i = 0; i < c->n && !in_run; i++)
			in_run = !strcmp(name, c->t[i].qualified);
		int gone = in_run ? 0 : forget_gone(c, name, err);
		if (gone < 0) {
			rc = -1;
			break;
		}
		if (in_run || gone)
			continue;
		if (n < 0 && (rc = pgw_all_tables(c->run, &names, &n, err)) < 0)
			break;
		if (in_cdc_set(c->run->cfg, names, n, name))
			continue;
		pgw_info("%s is no longer synced by change data capture: its position is forgotten, so slot %s "
			 "no longer keeps WAL for it",
			 name, c->run->cfg->replication_slot);
		rc = pgw_cdc_state_forget(c->run->sink, c->run->cfg->replication_slot, name, err);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int read_positions(struct cdc *c, struct pgw_err *err)
{
	struct pgw_rows rows = {0};
	int rc = pgw_cdc_state_read(c->run->sink, c->run->cfg->replication_slot, &rows, err);
	c->held_positions = rc == 0 ? rows.nrows : 0;
	for (int r = 0; rc == 0 && r < rows.nrows; r++)
		for (int i = 0; i < c->n; i++)
			if (rows.cells[r * rows.ncols] && !strcmp(rows.cells[r * rows.ncols], c->t[i].qualified)) {
				c->t[i].pos = strtoull(rows.cells[r * rows.ncols + 1], NULL, 10);
				c->t[i].pos_changes = strtoull(rows.cells[r * rows.ncols + 3], NULL, 10);
			}
	if (rc == 0)
		rc = forget_dropped(c, &rows, err);
	pgw_rows_cleanup(&rows);
	return rc;
}

int pgw_cdc_check_wal_level(struct pgw_pg *pg, struct pgw_err *err)
{
	PGresult *res = pgw_pg_query(pg, "SELECT current_setting('wal_level'), pg_is_in_recovery()", 0, NULL, err);
	if (!res)
		return -1;
	int rc = 0;
	if (!strcmp(PQgetvalue(res, 0, 1), "t") && pgw_pg_version(pg) < 160000)
		rc = pgw_err_set(err, PGW_ERR_SOURCE,
				 "change data capture: this server is a standby, and PostgreSQL before 16 decodes "
				 "changes only on the primary; point pghost at the primary (or set cdc: false)");
	else if (strcmp(PQgetvalue(res, 0, 0), "logical"))
		rc = pgw_err_set(err, PGW_ERR_SOURCE,
				 "change data capture needs wal_level = logical (it is "
				 "%s): a superuser runs ALTER SYSTEM "
				 "SET wal_level = logical, then PostgreSQL is restarted",
				 PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

/* A replication connection needs the REPLICATION attribute (or superuser; on Amazon RDS, the
 * rds_replication role) */
int pgw_cdc_check_role(struct pgw_pg *pg, struct pgw_err *err)
{
	PGresult *res = pgw_pg_query(pg,
				     "SELECT (r.rolreplication OR r.rolsuper OR EXISTS (SELECT 1 FROM pg_roles g "
				     "WHERE g.rolname = 'rds_replication' AND pg_has_role(current_user, g.oid, "
				     "'MEMBER')))::text, quote_ident(current_user) FROM pg_roles r "
				     "WHERE r.rolname = current_user",
				     0, NULL, err);
	if (!res)
		return -1;
	int rc = 0;
	if (PQntuples(res) && strcmp(PQgetvalue(res, 0, 0), "true"))
		rc = pgw_err_set(err, PGW_ERR_SOURCE,
				 "change data capture reads a replication stream, which user %s may not: a superuser "
				 "runs ALTER ROLE %s REPLICATION (on Amazon RDS: GRANT rds_replication TO %s)",
				 PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 1));
	PQclear(res);
	return rc;
}

/* A partitioned table's replica identity setting does not reach its partitions, whose own one
 * PostgreSQL checks at each UPDATE and DELETE once the table is published: a partition that would
 * send no key (or no whole row, without a key) would make the application's writes fail. */
static int check_partitions(struct pgw_pg *pg, const struct pgw_table_def *def, struct pgw_err *err)
{
	char oid[16];
	snprintf(oid, sizeof(oid), "%u", def->oid);
	const char *params[] = {oid, def->npk ? "t" : "f"};
	PGresult *res = pgw_pg_query(
		pg,
		"SELECT string_agg(c.oid::regclass::text, ', ' ORDER BY c.oid) FROM "
		"pg_partition_tree($1::oid::regclass) "
		"t JOIN pg_class c ON c.oid = t.relid WHERE t.isleaf AND NOT (c.relreplident = 'f' OR ($2::bool AND "
		"c.relreplident IN ('d', 'i') AND EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND "
		"i.indisprimary AND (c.relreplident = 'd' OR i.indisreplident))))",
		2, params, err);
	if (!res)
		return -1;
	int rc = 0;
	if (!PQgetisnull(res, 0, 0))
		rc = pgw_err_set(
			err, PGW_ERR_TABLE,
			"table %s is partitioned, and its partitions %s would send %s with an update or delete "
			"(PostgreSQL would then refuse those): ALTER TABLE ... REPLICA IDENTITY %s on each (the "
			"partitioned table's own setting does not reach them)",
			def->name, PQgetvalue(res, 0, 0), def->npk ? "no primary key" : "no whole row",
			def->npk ? "DEFAULT" : "FULL");
	PQclear(res);
	return rc;
}

/* Changes are applied by primary key: deletes and key changes must carry it, which replica
 * identity DEFAULT (the key) and FULL (every column) do; NOTHING sends no old row, and an index
 * other than the key sends other columns. A table without a key is followed as a multiset of
 * rows, which needs every column of the old row: FULL (PostgreSQL itself refuses an UPDATE or
 * DELETE on a published table that has no replica identity). */
int pgw_cdc_check_table(struct pgw_pg *pg, const struct pgw_table_def *def, struct pgw_err *err)
{
	char oid[16];
	snprintf(oid, sizeof(oid), "%u", def->oid);
	const char *params[] = {oid};
	/* attgenerated is PostgreSQL 12's: read through to_jsonb so older servers answer too */
	PGresult *res = pgw_pg_query(pg,
				     "SELECT c.relreplident::text, coalesce((SELECT i.indisprimary FROM pg_index i "
				     "WHERE i.indrelid = c.oid AND i.indisreplident), false)::text, "
				     "c.oid::regclass::text, (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY "
				     "a.attnum) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT "
				     "a.attisdropped AND to_jsonb(a)->>'attgenerated' = 's'), c.relpersistence::text "
				     "FROM pg_class c WHERE c.oid = $1::oid",
				     1, params, err);
	if (!res)
		return -1;
	const char *ident = PQntuples(res) ? PQgetvalue(res, 0, 0) : "d";
	bool key_index = PQntuples(res) && !strcmp(PQgetvalue(res, 0, 1), "true");
	int rc = 0;
	if (def->relkind != 'r' && def->relkind != 'p')
		rc = pgw_err_set(err, PGW_ERR_TABLE,
				 "%s is a %s, and change data capture follows tables only: set cdc: false for it (a "
				 "sync by key or a reload copies it)",
				 def->name,
				 def->relkind == 'v'   ? "view"
				 : def->relkind == 'm' ? "materialized view"
						       : "foreign table");
	else if (PQntuples(res) && !strcmp(PQgetvalue(res, 0, 4), "u"))
		rc = pgw_err_set(err, PGW_ERR_TABLE,
				 "table %s is UNLOGGED: its changes are not in the WAL that change data capture reads; "
				 "ALTER TABLE %s SET LOGGED, or set cdc: false for it",
				 def->name, PQgetvalue(res, 0, 2));
	/* pgoutput leaves stored generated columns out of its rows (before PostgreSQL 18's
	 * publish_generated_columns): their values would never arrive */
	else if (PQntuples(res) && !PQgetisnull(res, 0, 3))
		rc = pgw_err_set(err, PGW_ERR_TABLE,
				 "table %s has generated columns (%s), whose values PostgreSQL's logical replication "
				 "does not send: set cdc: false for it (a sync by key or a reload copies them)",
				 def->name, PQgetvalue(res, 0, 3));
	else if (def->npk == 0 && strcmp(ident, "f"))
		rc = pgw_err_set(err, PGW_ERR_TABLE,
				 "table %s has no primary key: change data capture needs its whole old rows, ALTER "
				 "TABLE %s REPLICA IDENTITY FULL (or add a primary key, or set cdc: false for it)",
				 def->name, PQgetvalue(res, 0, 2));
	else if (!strcmp(ident, "n") || (!strcmp(ident, "i") && !key_index))
		rc = pgw_err_set(err, PGW_ERR_TABLE,
				 "table %s has REPLICA IDENTITY %s, so its deletes do not carry the primary key: "
				 "ALTER TABLE %s REPLICA IDENTITY DEFAULT (or FULL)",
				 def->name, !strcmp(ident, "n") ? "NOTHING" : "USING INDEX (not the key)",
				 PQgetvalue(res, 0, 2));
	PQclear(res);
	return rc == 0 && def->relkind == 'p' ? check_partitions(pg, def, err) : rc;
}

/* Someone else's publication may leave kinds of change out (its publish option), or publish the
 * table with a row filter or a column list (PostgreSQL 15+): the stream would miss what its copy
 * has. prqual and prattrs are read through to_jsonb so older servers answer too. */
int pgw_cdc_check_publication(struct pgw_pg *pg, const char *pub, const struct pgw_table_def *def, struct pgw_err *err)
{
	char oid[16];
	snprintf(oid, sizeof(oid), "%u", def->oid);
	const char *params[] = {pub, oid};
	PGresult *res = pgw_pg_query(
		pg,
		"SELECT p.pubinsert AND p.pubupdate AND p.pubdelete AND coalesce((to_jsonb(p)->>'pubtruncate')::bool, "
		"true), EXISTS (SELECT 1 FROM pg_publication_rel r WHERE r.prpubid = p.oid AND r.prrelid = $2::oid "
		"AND (to_jsonb(r)->>'prqual' IS NOT NULL OR to_jsonb(r)->>'prattrs' IS NOT NULL)), "
		"to_jsonb(p)->>'pubviaroot' = 'false' AND obj_description(p.oid, 'pg_publication') IS DISTINCT "
		"FROM '" PUBLICATION_MARK "' FROM pg_publication p WHERE p.pubname = $1",
		2, params, err);
	if (!res)
		return -1;
	int rc = 0;
	if (PQntuples(res) && strcmp(PQgetvalue(res, 0, 0), "t"))
		rc = pgw_err_set(err, PGW_ERR_SOURCE,
				 "publication %s does not publish every kind of change (its publish option leaves "
				 "some out), which change data capture needs: ALTER PUBLICATION %s SET (publish = "
				 "'insert, update, delete, truncate'), or give pgwarehouse a publication of its own",
				 pub, pub);
	else if (PQntuples(res) && !strcmp(PQgetvalue(res, 0, 1), "t"))
		rc = pgw_err_set(err, PGW_ERR_TABLE,
				 "publication %s publishes table %s with a row filter or a column list, so change "
				 "data capture would miss rows or columns: publish it whole there, or give "
				 "pgwarehouse a publication of its own",
				 pub, def->name);
	else if (PQntuples(res) && def->relkind == 'p' && !strcmp(PQgetvalue(res, 0, 2), "t"))
		rc = pgw_err_set(
			err, PGW_ERR_SOURCE,
			"publication %s does not publish partitioned tables through their root, which "
			"pgwarehouse needs for %s: its owner runs ALTER PUBLICATION %s SET "
			"(publish_via_partition_root = true) (its other subscribers then receive those tables' "
			"changes under their root's name), or give pgwarehouse a publication of its own",
			pub, def->name, pub);
	PQclear(res);
	return rc;
}

/* Runs the publication statement stmt, naming the SQL for its owner when this user may not */
static int publication_exec(struct pgw_pg *pg, const char *stmt, const char *owner, struct pgw_err *err)
{
	int rc = pgw_pg_exec(pg, stmt, err);
	if (rc < 0 && !strcmp(err->sqlstate, "42501"))
		pgw_err_set(err, PGW_ERR_SOURCE, "the publication needs %s or a superuser: one of them runs %s", owner,
			    stmt);
	return rc;
}

/* A partitioned table's rows change in its partitions, which pgoutput names unless the publication
 * publishes through the root (PostgreSQL 13+). pgwarehouse's own publication made before it had that
 * option gets it, and the partitioned tables are copied again: their changes so far went out under
 * other names. */
static int publish_via_root(struct cdc *c, const char *viaroot, bool ours, struct pgw_err *err)
{
	bool partitioned = false;
	for (int i = 0; i < c->n; i++)
		partitioned |= c->t[i].def->relkind == 'p';
	/* the option changes what every subscriber of a publication receives: not pgwarehouse's call on
	 * one it did not make (pgw_cdc_check_publication refuses its partitioned tables) */
	if (!partitioned || !viaroot || strcmp(viaroot, "false") || !ours)
		return 0;
	struct pgw_buf stmt;
	pgw_buf_init(&stmt);
	pgw_buf_puts(&stmt, "ALTER PUBLICATION ");
	pgw_buf_ident(&stmt, c->run->cfg->publication);
	pgw_buf_puts(&stmt, " SET (publish_via_partition_root = true)");
	int rc = publication_exec(c->run->pg, stmt.data, "its owner", err);
	if (rc == 0)
		pgw_info("publication %s: now publishes partitioned tables through their root",
			 c->run->cfg->publication);
	c->copy_partitioned = rc == 0;
	pgw_buf_cleanup(&stmt);
	return rc;
}

/* CREATE PUBLICATION, or ALTER PUBLICATION ... ADD TABLE for the tables it
 * lacks */
static int ensure_publication(struct cdc *c, struct pgw_err *err)
{
	struct pgw_pg *pg = c->run->pg;
	const char *pub = c->run->cfg->publication;
	const char *params[] = {pub};
	/* pubviaroot is PostgreSQL 13's: read through to_jsonb so older servers answer too */
	PGresult *res =
		pgw_pg_query(pg,
			     "SELECT to_jsonb(p)->>'pubviaroot', obj_description(p.oid, 'pg_publication') IS NOT "
			     "DISTINCT FROM '" PUBLICATION_MARK "' FROM pg_publication p WHERE pubname = $1",
			     1, params, err);
	if (!res)
		return -1;
	bool exists = PQntuples(res) > 0;
	c->pub_new = !exists;
	int rc = exists ? publish_via_root(c, PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0),
					   !strcmp(PQgetvalue(res, 0, 1), "t"), err)
			: 0;
	PQclear(res);
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	int added = 0;
	for (int i = 0; rc == 0 && i < c->n; i++) {
		const struct pgw_table_def *d = c->t[i].def;
		if (exists) {
			char oid[16];
			snprintf(oid, sizeof(oid), "%u", d->oid);
			const char *p[] = {pub, oid};
			if ((rc = pgw_cdc_check_publication(pg, pub, d, err)) < 0)
				break;
			res = pgw_pg_query(pg, "SELECT " PGW_CDC_IN_PUBLICATION, 2, p, err);
			if (!res) {
				rc = -1;
				break;
			}
			bool has = !strcmp(PQgetvalue(res, 0, 0), "t");
			PQclear(res);
			if (has)
				continue;
		}
		c->t[i].unpublished = true;
		/* ONLY: an inheritance parent's children would be published too, and PostgreSQL then refuses
		 * UPDATE and DELETE on those without a replica identity (a partitioned table keeps its
		 * partitions) */
		pgw_buf_puts(&sql, added++ ? ", ONLY " : "ONLY ");
		pgw_buf_ident(&sql, d->schema);
		pgw_buf_puts(&sql, ".");
		pgw_buf_ident(&sql, d->name);
	}
	if (rc == 0 && added) {
		struct pgw_buf stmt;
		pgw_buf_init(&stmt);
		pgw_buf_puts(&stmt, exists ? "ALTER PUBLICATION " : "CREATE PUBLICATION ");
		pgw_buf_ident(&stmt, pub);
		pgw_buf_printf(&stmt, exists ? " ADD TABLE %s" : " FOR TABLE %s", sql.data);
		if (!exists && pgw_pg_version(pg) >= 130000)
			pgw_buf_puts(&stmt, " WITH (publish_via_partition_root = true)");
		if (!exists) { /* in the same transaction: teardown drops only what pgwarehouse made */
			pgw_buf_puts(&stmt, "; COMMENT ON PUBLICATION ");
			pgw_buf_ident(&stmt, pub);
			pgw_buf_puts(&stmt, " IS '" PUBLICATION_MARK "'");
		}
		rc = publication_exec(pg, stmt.data, "the tables' owner", err);
		if (rc == 0)
			pgw_info("publication %s: %s %s", pub, exists ? "added" : "created for", sql.data);
		pgw_buf_cleanup(&stmt);
	}
	pgw_buf_cleanup(&sql);
	return rc;
}

static int drop_slot(struct pgw_pg *pg, const char *slot, struct pgw_err *err)
{
	const char *params[] = {slot};
	PGresult *res = pgw_pg_query(pg, "SELECT pg_drop_replication_slot($1)", 1, params, err);
	PQclear(res);
	return res ? 0 : -1;
}

static int slot_info(struct pgw_pg *pg, const char *slot, struct slot_info *si, struct pgw_err *err)
{
	const char *params[] = {slot};
	PGresult *res = pgw_pg_query(pg,
				     "SELECT coalesce(confirmed_flush_lsn::text, ''), "
				     "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), "
				     "restart_lsn), 0)::bigint, coalesce(wal_status, ''), "
				     "active FROM pg_replication_slots WHERE slot_name = $1 AND "
				     "database = current_database()",
				     1, params, err);
	if (!res)
		return -1;
	memset(si, 0, sizeof(*si));
	si->exists = PQntuples(res) > 0;
	if (si->exists) {
		snprintf(si->confirmed, sizeof(si->confirmed), "%s", PQgetvalue(res, 0, 0));
		si->retained = atoll(PQgetvalue(res, 0, 1));
		snprintf(si->wal_status, sizeof(si->wal_status), "%s", PQgetvalue(res, 0, 2));
		si->active = !strcmp(PQgetvalue(res, 0, 3), "t");
	}
	PQclear(res);
	return 0;
}

/* Another reader of the slot (a second warehouse or config with the same replication_slot,
 * pg_recvlogical, pg_replication_slot_advance) confirms it past a table's position: the changes in
 * between went to that reader, and the slot never sends them again. (So does a warehouse restored
 * from an older copy: its positions are behind what it once confirmed.) Only this warehouse's own
 * confirmations move the slot otherwise, never past its lowest position. Before reading, such a
 * table is copied again; once reading (nobody else can move the slot then), one found behind was
 * passed in the moment before the start, and the run stops: the next one copies it. */
static int behind_slot(struct cdc *c, const struct slot_info *si, bool reading, struct pgw_err *err)
{
	const char *slot = c->run->cfg->replication_slot;
	uint64_t confirmed;
	if (!si->exists || pgw_lsn_parse(si->confirmed, &confirmed) < 0)
		return 0;
	for (int i = 0; i < c->n; i++) {
		struct cdc_table *t = &c->t[i];
		if (!t->pos || t->pos >= confirmed)
			continue;
		char held[24];
		pgw_lsn_format(t->pos, held);
		if (reading)
			return pgw_err_set(err, PGW_ERR_SOURCE,
					   "%s: replication slot %s was read past this warehouse's position (%s) by "
					   "another reader just before this run read it (confirmed up to %s): the next "
					   "run copies the table again; give each warehouse its own replication_slot",
					   t->name, slot, held, si->confirmed);
		pgw_warn("%s: replication slot %s was read past this warehouse's position (%s; confirmed up to %s): "
			 "another reader took the changes in between (or the warehouse is an older copy of itself); "
			 "copying the table again. If another warehouse or config syncs through slot %s, give each its "
			 "own replication_slot",
			 t->name, slot, held, si->confirmed, slot);
		t->pos = 0;
	}
	return 0;
}

/* Every run warns while the slot keeps more WAL than max_slot_lag: the server's
 * disk fills if nobody reads it. */
static void warn_slot_lag(const struct pgw_run *run, const struct slot_info *si)
{
	if (si->exists && si->retained > run->cfg->max_slot_lag_bytes) {
		char kept[32], max[32];
		bytes_text(si->retained, kept, sizeof(kept));
		bytes_text(run->cfg->max_slot_lag_bytes, max, sizeof(max));
		pgw_warn("replication slot %s keeps %s of WAL on the server, more than "
			 "max_slot_lag (%s): sync more "
			 "often, or run `pgwarehouse teardown` if change data capture is "
			 "no longer used",
			 run->cfg->replication_slot, kept, max);
	}
}

static bool run_follows(const struct cdc *c, const char *qualified)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->t[i].qualified, qualified))
			return true;
	return false;
}

/* A slot this warehouse synced a table of the run through before (replication_slot renamed in the
 * config) keeps its WAL for ever once nothing reads it: every run warns while it exists, naming
 * the SQL that drops it (teardown would drop the publication the new slot reads through too); once
 * it is gone, its positions are forgotten. A slot of other tables is another config's. */
static int warn_old_slots(struct cdc *c, struct pgw_err *err)
{
	struct pgw_rows rows = {0};
	const char *slot = c->run->cfg->replication_slot;
	int rc = pgw_cdc_state_slots(c->run->sink, &rows, err);
	const char *last = "";
	for (int r = 0; rc == 0 && r < rows.nrows; r++) {
		const char *old = rows.cells[r * rows.ncols];
		if (!strcmp(old, slot) || !strcmp(old, last) || !run_follows(c, rows.cells[r * rows.ncols + 1]))
			continue;
		last = old;
		struct slot_info si;
		if ((rc = slot_info(c->run->pg, old, &si, err)) < 0)
			break;
		if (!si.exists) {
			rc = pgw_cdc_state_forget(c->run->sink, old, NULL, err);
			continue;
		}
		char kept[32];
		bytes_text(si.retained, kept, sizeof(kept));
		pgw_warn("replication slot %s, which this warehouse synced %s through before (replication_slot is "
			 "now %s), still exists and keeps %s of WAL on the server; if nothing else reads it, drop it: "
			 "SELECT pg_drop_replication_slot('%s')",
			 old, rows.cells[r * rows.ncols + 1], slot, kept, old);
	}
	pgw_rows_cleanup(&rows);
	return rc;
}

int pgw_cdc_status(struct pgw_run *run, struct pgw_err *err)
{
	const char *slot = run->cfg->replication_slot;
	struct slot_info si;
	if (slot_info(run->pg, slot, &si, err) < 0)
		return -1;
	printf("\nreplication slot %s: ", slot);
	if (!si.exists) {
		printf("not created yet (the first sync of a CDC table creates it)\n");
		return 0;
	}
	char kept[32];
	bytes_text(si.retained, kept, sizeof(kept));
	printf("confirmed up to %s, WAL retained %s, wal_status %s, %s\n", si.confirmed[0] ? si.confirmed : "-", kept,
	       si.wal_status[0] ? si.wal_status : "-", si.active ? "being read now" : "not being read");
	if (si.retained > run->cfg->max_slot_lag_bytes)
		printf("  warning: more than max_slot_lag\n");
	struct pgw_rows rows = {0};
	if (pgw_cdc_state_create(run->sink, err) < 0 || pgw_cdc_state_read(run->sink, slot, &rows, err) < 0)
		return -1;
	uint64_t confirmed = 0;
	pgw_lsn_parse(si.confirmed, &confirmed);
	for (int r = 0; r < rows.nrows; r++) {
		char **row = &rows.cells[r * rows.ncols];
		char at[24];
		uint64_t pos = strtoull(row[1], NULL, 10);
		pgw_lsn_format(pos, at);
		printf("  %s: holds the changes up to %s", row[0], at);
		if (row[2])
			printf(", last commit applied %.26s UTC", row[2]);
		if (pos < confirmed) /* see behind_slot */
			printf("; behind the slot (another reader took changes it needs): the next sync copies it "
			       "again");
		printf("\n");
	}
	pgw_rows_cleanup(&rows);
	return 0;
}

/* Copies the tables not copied yet, inside the snapshot of the slot's
 * consistent point. A failure is the run's error (naming the table); any further one its own line. */
static int copy_tables(struct cdc *c, const char *snapshot, uint64_t lsn, struct pgw_err *err)
{
	struct pgw_run *run = c->run;
	int failed = 0;
	for (int i = 0; i < c->n; i++) {
		struct cdc_table *t = &c->t[i];
		if (t->pos)
			continue;
		struct pgw_table_result r = {0};
		/* where the swap and the position cannot commit together, a crash between them must
		 * not leave the old position with the new copy */
		int rc = pgw_cdc_state_forget(run->sink, run->cfg->replication_slot, t->qualified, &r.err);
		struct pgw_cdc_pos at = {lsn, 0};
		char *pos = position_sql(c, t, &at, 0);
		run->import_snapshot = snapshot;
		run->commit_sql = pos;
		if (rc == 0)
			rc = pgw_run_table(run, PGW_CMD_RELOAD, t->name, &r);
		run->import_snapshot = run->commit_sql = NULL;
		free(pos);
		t->res->rows += r.rows;
		t->res->bytes += r.bytes;
		if (rc == 0) {
			t->pos = lsn;
			t->pos_changes = 0;
			pgw_failpoint("cdc-after-copy"); /* tests: one table copied, the others not */
		} else {
			t->failed = true;
			t->res->err = r.err;
			if (failed++)
				pgw_error("the copy of %s failed: %s", t->name, r.err.msg);
			else
				pgw_err_set(err, r.err.code, "the copy of %s failed: %s", t->name, r.err.msg);
		}
		pgw_table_result_cleanup(&r);
	}
	return failed ? -1 : 0;
}

/* Creating a slot waits until every transaction holding a transaction id ends (its snapshot must
 * see them whole): a long one makes the run look hung, so the wait is named before it starts */
static void note_open_transactions(struct pgw_pg *pg, const char *slot)
{
	struct pgw_err ignored = {0};
	PGresult *res = pgw_pg_query(pg,
				     "SELECT count(*) OVER (), pid, to_char(now() - xact_start, 'HH24:MI:SS') FROM "
				     "pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid() "
				     "ORDER BY xact_start LIMIT 1",
				     0, NULL, &ignored);
	if (res && PQntuples(res))
		pgw_info("creating replication slot %s: PostgreSQL waits for the %s transaction(s) open now to end "
			 "(the oldest: pid %s, open for %s)",
			 slot, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2));
	PQclear(res);
}

/* A slot whose exported snapshot the copies use: the run's slot when it is new,
 * else a temporary one (dropped with its connection) for tables added to change
 * data capture later. */
static int copy_missing(struct cdc *c, bool slot_new, struct pgw_err *err)
{
	bool any = false;
	for (int i = 0; i < c->n; i++)
		any |= !c->t[i].pos;
	if (!any)
		return 0;
	const struct pgw_config *cfg = c->run->cfg;
	struct pgw_repl tmp, *r = slot_new ? &c->repl : &tmp;
	char *name = slot_new ? pgw_strdup(cfg->replication_slot)
			      : pgw_asprintf("%s_copy_%d", cfg->replication_slot, (int)getpid());
	int rc = slot_new ? 0 : pgw_repl_connect(&tmp, cfg, err);
	uint64_t lsn = 0;
	char *snapshot = NULL;
	if (rc == 0) {
		note_open_transactions(c->run->pg, name);
		rc = pgw_repl_create_slot(r, name, !slot_new, &lsn, &snapshot, err);
	}
	if (rc == 0) {
		pgw_info("change data capture: copying from the snapshot of slot %s", name);
		rc = copy_tables(c, snapshot, lsn, err);
	}
	if (!slot_new) { /* gone now, not when the server notices the connection
			    closed */
		char *drop = pgw_asprintf("DROP_REPLICATION_SLOT %s", name);
		PQclear(PQexec(tmp.pg.conn, drop));
		free(drop);
		pgw_repl_close(&tmp);
	}
	free(snapshot);
	free(name);
	return rc;
}

/* A table of the run, read from the catalog and checked; false when it cannot be followed (its
 * result says why) */
static bool open_table(struct cdc *c, struct cdc_table *t, const char *name, struct pgw_table_result *res)
{
	const struct pgw_config *cfg = c->run->cfg;
	res->name = pgw_strdup(name);
	res->strategy = "cdc";
	t->name = pgw_strdup(name);
	t->res = res;
	if (pgw_pg_table_def(c->run->pg, name, &t->def, &res->err) < 0 ||
	    pgw_cdc_check_table(c->run->pg, t->def, &res->err) < 0) {
		t->failed = true;
		t->qualified = qualified_name(cfg, name); /* to find its position, should it be gone */
		return false;
	}
	t->qualified = pgw_asprintf("%s.%s", t->def->schema, t->def->name);
	t->stage_def = pgw_changes_def(t->def);
	t->target = (struct pgw_target){.def = t->def,
					.name = t->def->name,
					.stage_def = t->stage_def,
					.schema = strcmp(t->def->schema, cfg->pgschema) ? t->def->schema : NULL};
	t->keep_cols = pgw_calloc((size_t)t->def->ncols, sizeof(bool));
	return true;
}

/* The tables that can be followed come first (c->n of them), the others after: each of those is
 * named with its error and left out, and the rest go on (a dropped table or a bad new one must not
 * stop the others, whose WAL the slot would keep meanwhile). When none can be followed, nothing is
 * created. */
static int open_tables(struct cdc *c, char *const *names, int n, struct pgw_table_result *res, struct pgw_err *err)
{
	c->t = pgw_calloc((size_t)n, sizeof(*c->t));
	c->nall = n;
	int bad = n;
	for (int i = 0; i < n; i++) {
		struct cdc_table t = {0};
		if (open_table(c, &t, names[i], &res[i]))
			c->t[c->n++] = t;
		else
			c->t[--bad] = t;
	}
	if (!c->n)
		return pgw_err_set(err, res[0].err.code, "%s", res[0].err.msg);
	const char *cmd = c->interval > 0 ? "stream" : c->recopy ? "reload" : "sync";
	for (int i = n - 1; i >= c->n; i--) /* in the run's order */
		pgw_error("%s %s: %s", cmd, c->t[i].name, c->t[i].res->err.msg);
	return 0;
}

static void close_tables(struct cdc *c)
{
	for (int i = 0; i < c->nall; i++) {
		struct cdc_table *t = &c->t[i];
		if (t->def)
			free_changes(t);
		free(t->keep_cols);
		pgw_changes_def_free(t->stage_def);
		pgw_table_def_free(t->def);
		free(t->name);
		free(t->qualified);
		free(t->ident);
	}
	free(c->t);
	free(c->row);
	free(c->vals);
}

/* The table's identity now, as the run log keeps it: "oid N; key I,J" (its primary key's column
 * indexes, "-" without one), and a partitioned table's partitions (each one's relfilenode included:
 * a TRUNCATE gives a new one) as "; partitions N, signature HEX"; caller frees */
static char *ident_now(struct pgw_pg *pg, const struct pgw_table_def *def, struct pgw_err *err)
{
	struct pgw_buf b;
	pgw_buf_init(&b);
	pgw_buf_printf(&b, "oid %u; key ", def->oid);
	for (int i = 0; i < def->npk; i++)
		pgw_buf_printf(&b, "%s%d", i ? "," : "", def->pk[i]);
	pgw_buf_puts(&b, def->npk ? "" : "-");
	if (def->relkind != 'p')
		return pgw_buf_steal(&b);
	char oid[16];
	snprintf(oid, sizeof(oid), "%u", def->oid);
	const char *params[] = {oid};
	PGresult *res =
		pgw_pg_query(pg,
			     "SELECT 'partitions ' || count(*) || ', signature ' || left(md5(coalesce(string_agg("
			     "c.oid || ':' || c.relfilenode, ',' ORDER BY c.oid), '')), 16) FROM "
			     "pg_partition_tree($1::oid::regclass) t JOIN pg_class c ON c.oid = t.relid WHERE t.isleaf",
			     1, params, err);
	if (res)
		pgw_buf_printf(&b, "; %s", PQgetvalue(res, 0, 0));
	PQclear(res);
	char *text = res ? pgw_buf_steal(&b) : NULL;
	pgw_buf_cleanup(&b);
	return text;
}

/* Whether field ("oid", "key", "partitions") of two identities differs; false when either lacks it
 * (a run logged before it was kept: runs before the oid was kept logged the partitions alone) */
static bool ident_differs(const char *a, const char *b, const char *field)
{
	size_t n = strlen(field), len[2] = {0, 0};
	const char *v[2] = {NULL, NULL}, *ident[2] = {a, b};
	for (int k = 0; k < 2; k++)
		for (const char *p = ident[k]; p && !v[k]; p = strstr(p, "; ") ? strstr(p, "; ") + 2 : NULL)
			if (!strncmp(p, field, n) && p[n] == ' ') {
				v[k] = p + n + 1;
				len[k] = strstr(v[k], "; ") ? (size_t)(strstr(v[k], "; ") - v[k]) : strlen(v[k]);
			}
	return v[0] && v[1] && (len[0] != len[1] || memcmp(v[0], v[1], len[0]));
}

/* Why the table must be copied again, from what PostgreSQL's stream does not carry: the table
 * dropped and created again under its name (a new oid), its primary key changed (the older changes
 * name rows by the old one), its partitions changed (a TRUNCATE of one, published through the root,
 * is not sent; an ATTACH, DETACH or DROP sends no rows), or the table taken out of the publication
 * meanwhile. why stays empty when it need not be. */
static int not_carried(struct cdc *c, const struct cdc_table *t, char *why, size_t size, struct pgw_err *err)
{
	char *before = NULL;
	why[0] = 0;
	if (pgw_runlog_cdc_identity(c->run->sink, t->name, &before, err) < 0)
		return -1;
	if (ident_differs(before, t->ident, "oid"))
		snprintf(why, size,
			 "it was dropped and created again since the last sync (PostgreSQL's stream does not "
			 "carry that)");
	else if (ident_differs(before, t->ident, "key"))
		snprintf(why, size,
			 "its primary key changed since the last sync (the stream's older changes name "
			 "rows by the old one)");
	else if (ident_differs(before, t->ident, "partitions"))
		snprintf(why, size,
			 "its partitions changed since the last sync (one truncated, attached, detached, dropped or "
			 "rewritten: PostgreSQL's stream does not carry that)");
	else if (t->unpublished && !c->pub_new)
		snprintf(why, size,
			 "it was taken out of publication %s since the last sync (its changes meanwhile were not "
			 "published)",
			 c->run->cfg->publication);
	free(before);
	return 0;
}

/* A table whose columns changed since its copy (ALTER TABLE), or whose
 * warehouse table is gone, is copied again from a slot's snapshot, with the
 * position that goes with it: the stream's older transactions (of the old
 * shape) are then behind its position. So is one changed in a way the stream does not carry. */
static int reshaped(struct cdc *c, struct pgw_err *err)
{
	struct pgw_sink *sink = c->run->sink;
	for (int i = 0; i < c->n; i++) {
		struct cdc_table *t = &c->t[i];
		struct pgw_wh_state st = {0};
		/* read before any copy's snapshot: a change after it is seen again next time */
		free(t->ident);
		if (!(t->ident = ident_now(c->run->pg, t->def, err)))
			return -1;
		if (!t->pos || c->recopy)
			continue;
		if (c->copy_partitioned && t->def->relkind == 'p') {
			pgw_warn("%s: partitioned, its changes so far were published under its partitions' names; "
				 "copying it again",
				 t->name);
			t->pos = 0;
			continue;
		}
		if (sink->ops->inspect(sink, &t->target, &st, err) < 0)
			return -1;
		if (!st.exists || !st.same_shape) { /* said first: a dropped column moves the key's positions too */
			pgw_warn("%s: %s since its copy; copying it again", t->name,
				 st.exists ? "its columns changed" : "its warehouse table is gone");
			t->pos = 0;
			continue;
		}
		char why[256];
		if (not_carried(c, t, why, sizeof(why), err) < 0)
			return -1;
		if (why[0]) {
			pgw_warn("%s: %s; copying it again", t->name, why);
			t->pos = 0;
		}
	}
	return 0;
}

static int run_cdc(struct cdc *c, struct pgw_err *err)
{
	struct pgw_run *run = c->run;
	const char *slot = run->cfg->replication_slot;
	struct slot_info si;
	if (pgw_cdc_check_wal_level(run->pg, err) < 0 || pgw_cdc_check_role(run->pg, err) < 0 ||
	    ensure_publication(c, err) < 0 || pgw_cdc_state_create(run->sink, err) < 0 ||
	    (run->sink->ops->recover && run->sink->ops->recover(run->sink, err) < 0) || read_positions(c, err) < 0)
		return -1;
	if (reshaped(c, err) < 0)
		return -1;
	if (slot_info(run->pg, slot, &si, err) < 0 || warn_old_slots(c, err) < 0)
		return -1;
	warn_slot_lag(run, &si);
	bool exists = si.exists, lost = exists && !strcmp(si.wal_status, "lost");
	/* the slot's changes before the publication existed cannot be decoded through it (PostgreSQL
	 * looks the publication up as of each change): a new slot, and every table copied again */
	if (exists && !lost && c->pub_new) {
		pgw_warn("publication %s did not exist (dropped, or renamed in the config, since the last sync): "
			 "slot %s cannot be read through a new one; making a new slot and copying the tables again",
			 run->cfg->publication, slot);
		if (drop_slot(run->pg, slot, err) < 0)
			return -1;
		exists = false;
	}
	if (lost && !c->recopy)
		return pgw_err_set(err, PGW_ERR_SOURCE,
				   "replication slot %s was invalidated (wal_status lost: "
				   "the server dropped WAL it "
				   "kept for it); `pgwarehouse reload all` makes a new "
				   "slot and copies the tables again",
				   slot);
	if (lost && c->recopy) { /* reload is the way back from an invalidated slot */
		if (drop_slot(run->pg, slot, err) < 0)
			return -1;
		exists = false;
	}
	if (!exists || c->recopy) /* without the slot, positions mean nothing: copied again */
		for (int i = 0; i < c->n; i++)
			c->t[i].pos = 0;
	else if (behind_slot(c, &si, false, err) < 0)
		return -1;
	if (exists && !c->recopy && !c->held_positions)
		pgw_warn("replication slot %s exists, and this warehouse holds no position of it (a new or emptied "
			 "warehouse): copying the tables from a temporary slot's snapshot. If another warehouse "
			 "syncs through slot %s, give this one its own replication_slot: warehouses sharing a slot "
			 "take each other's changes, and copy their tables again at every run",
			 slot, slot);
	/* a new slot: the old one's positions mean nothing, for the CDC tables not in
	 * this run too */
	if (!exists && pgw_cdc_state_forget(run->sink, slot, NULL, err) < 0)
		return -1;
	if (pgw_repl_connect(&c->repl, run->cfg, err) < 0)
		return -1;
	if (copy_missing(c, !exists, err) < 0)
		return -1;
	return c->interval > 0 ? follow(c, err) : catch_up(c, err);
}

static int cdc_main(struct pgw_run *run, char *const *names, int n, bool recopy, double interval,
		    struct pgw_table_result *res, struct pgw_err *err)
{
	struct cdc c = {
		.run = run, .recopy = recopy, .interval = interval, .dec = pgw_pgoutput_new(), .hold = hold_rows(run->sink)};
	double t0 = pgw_now();
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	int rc = open_tables(&c, names, n, res, err);
	if (rc == 0)
		rc = run_cdc(&c, err);
	for (int i = 0; i < c.nall; i++) {
		struct pgw_table_result *r = c.t[i].res;
		r->ok = rc == 0 && !c.t[i].failed;
		if (!r->ok && !r->err.msg[0])
			r->err = *err;
		r->seconds = pgw_now() - t0;
		/* the run log: changes applied and the position reached, for status */
		char at[24];
		pgw_lsn_format(c.t[i].pos, at);
		struct pgw_table_result logged = *r;
		logged.rows = c.t[i].applied;
		logged.wm_after = c.t[i].pos ? at : NULL;
		logged.wm_before = c.t[i].ident;
		logged.source_oid = c.t[i].def ? c.t[i].def->oid : 0;
		if (c.t[i].def)
			pgw_run_record(run, PGW_CMD_SYNC, &logged, (double)wall.tv_sec + wall.tv_nsec / 1e9);
	}
	pgw_repl_close(&c.repl);
	pgw_pgoutput_free(c.dec);
	close_tables(&c);
	return rc;
}

int pgw_cdc_sync(struct pgw_run *run, char *const *names, int n, bool recopy, struct pgw_table_result *res,
		 struct pgw_err *err)
{
	return cdc_main(run, names, n, recopy, 0, res, err);
}

int pgw_cdc_stream(struct pgw_run *run, char *const *names, int n, double interval, struct pgw_table_result *res,
		   struct pgw_err *err)
{
	return cdc_main(run, names, n, false, interval, res, err);
}

/* The tables publication pub holds that change data capture does not follow here (NULL: none), or
 * "every table" / "the tables of a schema"; caller frees */
static int publication_others(struct pgw_run *run, PGresult *pubrow, char **others, struct pgw_err *err)
{
	*others = NULL;
	if (!strcmp(PQgetvalue(pubrow, 0, 1), "t") || strcmp(PQgetvalue(pubrow, 0, 3), "0")) {
		*others = pgw_strdup(!strcmp(PQgetvalue(pubrow, 0, 1), "t") ? "every table" : "the tables of a schema");
		return 0;
	}
	char **names = NULL;
	int n = 0;
	if (pgw_all_tables(run, &names, &n, err) < 0)
		return -1;
	struct pgw_buf b;
	pgw_buf_init(&b);
	char *list = pgw_strdup(PQgetvalue(pubrow, 0, 2)), *save = NULL;
	for (char *q = strtok_r(list, "\x1f", &save); q; q = strtok_r(NULL, "\x1f", &save))
		if (!in_cdc_set(run->cfg, names, n, q))
			pgw_buf_printf(&b, "%s%s", b.len ? ", " : "", q);
	free(list);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	*others = b.len ? pgw_buf_steal(&b) : NULL;
	pgw_buf_cleanup(&b);
	return 0;
}

/* Drops the publication when pgwarehouse made it (its comment says so) or it publishes only tables
 * followed here; one shared with other subscribers is left, naming what else it publishes */
static int teardown_publication(struct pgw_run *run, struct pgw_err *err)
{
	const char *pub = run->cfg->publication;
	const char *params[] = {pub};
	/* pg_publication_namespace is PostgreSQL 15's (FOR TABLES IN SCHEMA) */
	char *sql = pgw_asprintf(
		"SELECT coalesce(obj_description(p.oid, 'pg_publication'), '') = '" PUBLICATION_MARK "', "
		"p.puballtables, coalesce((SELECT string_agg(n.nspname || '.' || c.relname, chr(31)) FROM "
		"pg_publication_rel r JOIN pg_class c ON c.oid = r.prrelid JOIN pg_namespace n ON n.oid = "
		"c.relnamespace WHERE r.prpubid = p.oid), ''), %s FROM pg_publication p WHERE p.pubname = $1",
		pgw_pg_version(run->pg) >= 150000
			? "(SELECT count(*) FROM pg_publication_namespace s WHERE s.pnpubid = p.oid)"
			: "0");
	PGresult *res = pgw_pg_query(run->pg, sql, 1, params, err);
	free(sql);
	if (!res)
		return -1;
	char *others = NULL;
	int rc = 0;
	if (!PQntuples(res))
		printf("no publication %s\n", pub);
	else if (strcmp(PQgetvalue(res, 0, 0), "t") && (rc = publication_others(run, res, &others, err)) == 0 && others)
		printf("left publication %s: it also publishes %s, which pgwarehouse does not follow (DROP "
		       "PUBLICATION %s drops it)\n",
		       pub, others, pub);
	else if (rc == 0) {
		struct pgw_buf drop;
		pgw_buf_init(&drop);
		pgw_buf_puts(&drop, "DROP PUBLICATION ");
		pgw_buf_ident(&drop, pub);
		rc = pgw_pg_exec(run->pg, drop.data, err);
		pgw_buf_cleanup(&drop);
		if (rc == 0)
			printf("dropped publication %s\n", pub);
	}
	free(others);
	PQclear(res);
	return rc;
}

int pgw_cdc_teardown(struct pgw_run *run, struct pgw_err *err)
{
	const struct pgw_config *cfg = run->cfg;
	struct slot_info si;
	if (slot_info(run->pg, cfg->replication_slot, &si, err) < 0)
		return -1;
	if (si.exists) {
		if (drop_slot(run->pg, cfg->replication_slot, err) < 0)
			return -1;
		printf("dropped replication slot %s\n", cfg->replication_slot);
	} else {
		printf("no replication slot %s\n", cfg->replication_slot);
	}
	if (teardown_publication(run, err) < 0 || pgw_cdc_state_create(run->sink, err) < 0)
		return -1;
	/* the positions */
	return pgw_cdc_state_forget(run->sink, cfg->replication_slot, NULL, err);
}
