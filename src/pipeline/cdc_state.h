/* Change data capture's positions, kept in the warehouse table _pgwarehouse_cdc
 * (cdc_state.c). */
#ifndef PGW_CDC_STATE_H
#define PGW_CDC_STATE_H

#include <stdint.h>

#include "sink/sink.h"

int pgw_cdc_state_create(struct pgw_sink *sink, struct pgw_err *err);
/* Where a table stands in the stream: every transaction committing before lsn is in it, and the first
 * txn_changes changes (of this table) of the one committing at lsn (a large transaction applied in
 * parts; 0 otherwise) */
struct pgw_cdc_pos {
	uint64_t lsn;
	uint64_t txn_changes;
};

/* Rows (table_name, lsn as decimal text, commit time of the last transaction
 * applied as UTC text or NULL, txn_changes as decimal text) of the slot's tables that have a
 * position */
int pgw_cdc_state_read(struct pgw_sink *sink, const char *slot, struct pgw_rows *out, struct pgw_err *err);
/* Rows (slot, table_name) of every slot's tables that have a position */
int pgw_cdc_state_slots(struct pgw_sink *sink, struct pgw_rows *out, struct pgw_err *err);
/* The statement that sets a table's position (run in its load's transaction);
 * caller frees */
char *pgw_cdc_state_position_sql(struct pgw_sink *sink, const char *slot, const char *table,
				 const struct pgw_cdc_pos *pos, int64_t commit_us);
/* tables[0..n) that are behind lsn move to it (with no changes of a transaction at lsn) */
int pgw_cdc_state_advance(struct pgw_sink *sink, const char *slot, char *const *tables, int n, uint64_t lsn,
			  struct pgw_err *err);
/* The lowest position of the slot's tables (0 when none has one): how far the
 * slot may be confirmed */
int pgw_cdc_state_min(struct pgw_sink *sink, const char *slot, uint64_t *lsn, struct pgw_err *err);
/* A table of the slot (before it is copied again: where the copy's swap and its position cannot
 * commit together, a crash in between leaves no position, and the next run copies again), or with
 * table NULL every table of the slot (a new slot), loses its position */
int pgw_cdc_state_forget(struct pgw_sink *sink, const char *slot, const char *table, struct pgw_err *err);

#endif
