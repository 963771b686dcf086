/* The pgoutput logical decoding protocol (version 1), as PostgreSQL's walsender sends it inside
 * XLogData: messages parsed from a buffer that came off the network (every read bounded), and the
 * relations they refer to, cached by relation id as the protocol requires (a Relation message comes
 * before the first change of a relation, and again after its definition changed). */
#ifndef PGW_PGOUTPUT_H
#define PGW_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct pgw_repl_column {
	char *name;
	uint32_t type_oid;
	int32_t typmod;
	bool key; /* part of the replica identity */
};

struct pgw_repl_relation {
	uint32_t relid;
	char *schema, *name;
	char identity; /* 'd' default (primary key), 'n' nothing, 'f' full, 'i' index */
	int ncols;
	struct pgw_repl_column *cols;
};

/* One column of a tuple: 'n' NULL, 'u' an unchanged TOASTed value (not sent: keep the stored one),
 * 't' text, 'b' binary (with the binary option). data/len point into the message buffer. */
struct pgw_tuple_value {
	char kind;
	const char *data;
	uint32_t len;
};

struct pgw_tuple {
	int ncols;
	struct pgw_tuple_value *vals; /* owned by the decoder, valid until the next message */
};

struct pgw_pgoutput_msg {
	char type;            /* 'B' begin, 'C' commit, 'R' relation, 'I' 'U' 'D', 'T' truncate, 'Y' type,
			         'O' origin, 'M' logical message */
	uint64_t lsn;         /* B: the transaction's final LSN; C: the commit's LSN */
	uint64_t end_lsn;     /* C: the end of the commit record */
	int64_t commit_time;  /* B, C: microseconds since 2000-01-01 */
	uint32_t xid;         /* B */
	const struct pgw_repl_relation *rel; /* R, I, U, D: the relation (cached) */
	char old_kind;        /* U, D: 'K' old key, 'O' old row (replica identity full), 0 none */
	struct pgw_tuple old, new;
	int ntruncate;        /* T: relations truncated, in truncate_relids */
	uint32_t *truncate_relids;
	uint8_t truncate_flags; /* 1 cascade, 2 restart identity */
};

struct pgw_pgoutput;
struct pgw_pgoutput *pgw_pgoutput_new(void);
void pgw_pgoutput_free(struct pgw_pgoutput *d);
/* Parses one pgoutput message (the payload of an XLogData). Values in msg point into buf and into
 * the decoder; both stay valid until the next call. Returns 0, or -1 with err set for a message
 * that is malformed or names a relation never described. */
int pgw_pgoutput_parse(struct pgw_pgoutput *d, const char *buf, size_t len, struct pgw_pgoutput_msg *msg,
		       struct pgw_err *err);
/* The relation with this id, once a Relation message described it; NULL before. */
const struct pgw_repl_relation *pgw_pgoutput_relation(const struct pgw_pgoutput *d, uint32_t relid);

#endif
