/* Change data capture's positions in the warehouse: per slot and table, the LSN
 * from which the table still needs changes (docs/cdc.md). DuckDB and Snowflake
 * keep one row per table, written in the same transaction as the table's data.
 * ClickHouse has no transactions and no cheap UPDATE: it keeps a log of rows
 * and the newest (highest seq) per table counts; a position of 0 is a forgotten
 * one. Every statement is built here so the two shapes stay side by side. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline/cdc_state.h"

#define STATE_TABLE PGW_INTERNAL_PREFIX "cdc"

static bool is_ch(const struct pgw_sink *sink)
{
	return sink->ops->dialect == PGW_SQL_CLICKHOUSE;
}

static bool is_sf(const struct pgw_sink *sink)
{
	return sink->ops->dialect == PGW_SQL_SNOWFLAKE;
}

static void table_sql(struct pgw_sink *sink, struct pgw_buf *sql)
{
	sink->ops->own_table(sink, sql, STATE_TABLE);
}

/* ClickHouse: the next row's seq, computed by the server in the INSERT itself
 */
static void next_seq(struct pgw_sink *sink, struct pgw_buf *sql)
{
	pgw_buf_puts(sql, "(SELECT max(seq) + 1 FROM ");
	table_sql(sink, sql);
	pgw_buf_puts(sql, ")");
}

/* "<state table> WHERE slot = '<slot>'" */
static void slot_rows_sql(struct pgw_sink *sink, struct pgw_buf *sql, const char *slot)
{
	table_sql(sink, sql);
	pgw_buf_puts(sql, " WHERE slot = ");
	sink->ops->literal(sql, slot);
}

/* ClickHouse: the newest row of each table of the slot, as (table_name, lsn, txn_changes,
 * commit_time) */
static void latest_sql(struct pgw_sink *sink, struct pgw_buf *sql, const char *slot)
{
	pgw_buf_puts(sql, "(SELECT table_name, argMax(lsn, seq) AS lsn, argMax(txn_changes, seq) AS txn_changes, "
			  "argMax(commit_time, seq) AS commit_time FROM ");
	slot_rows_sql(sink, sql, slot);
	pgw_buf_puts(sql, " GROUP BY table_name)");
}

/* ClickHouse: for each table of the slot whose newest position is not 0, a new row with position
 * lsn_sql and commit time commit_sql (the caller may add " AND ..." conditions) */
static void append_latest_sql(struct pgw_sink *sink, struct pgw_buf *sql, const char *slot, const char *lsn_sql,
			      const char *commit_sql)
{
	pgw_buf_puts(sql, "INSERT INTO ");
	table_sql(sink, sql);
	pgw_buf_puts(sql, " (slot, table_name, lsn, txn_changes, commit_time, seq) SELECT ");
	sink->ops->literal(sql, slot);
	pgw_buf_printf(sql, ", table_name, %s, toUInt64(0), %s, ", lsn_sql, commit_sql);
	next_seq(sink, sql);
	pgw_buf_puts(sql, " FROM ");
	latest_sql(sink, sql, slot);
	pgw_buf_puts(sql, " WHERE lsn > 0");
}

static int run_sql(struct pgw_sink *sink, struct pgw_buf *sql, struct pgw_rows *out, struct pgw_err *err)
{
	int rc = sink->ops->sql(sink, sql->data, out, err);
	pgw_buf_cleanup(sql);
	return rc;
}

/* Positions kept before large transactions were applied in parts have no txn_changes column */
static int add_txn_changes(struct pgw_sink *sink, struct pgw_err *err)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "SELECT txn_changes FROM ");
	table_sql(sink, &sql);
	pgw_buf_puts(&sql, " WHERE 1 = 0");
	struct pgw_err probe = {0};
	if (run_sql(sink, &sql, NULL, &probe) == 0)
		return 0;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "ALTER TABLE ");
	table_sql(sink, &sql);
	pgw_buf_puts(&sql, is_ch(sink) ? " ADD COLUMN txn_changes UInt64 DEFAULT 0 AFTER lsn"
				       : " ADD COLUMN txn_changes BIGINT DEFAULT 0");
	return run_sql(sink, &sql, NULL, err);
}

int pgw_cdc_state_create(struct pgw_sink *sink, struct pgw_err *err)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "CREATE TABLE IF NOT EXISTS ");
	table_sql(sink, &sql);
	if (is_ch(sink))
		pgw_buf_puts(&sql, " (slot String, table_name String, lsn UInt64, txn_changes UInt64 DEFAULT 0, "
				   "commit_time Nullable(String), "
				   "applied_at DateTime DEFAULT now(), seq UInt64) ENGINE "
				   "= MergeTree ORDER BY (slot, seq)");
	else
		pgw_buf_puts(&sql, " (slot VARCHAR NOT NULL, table_name VARCHAR NOT NULL, "
				   "lsn BIGINT NOT NULL, txn_changes BIGINT DEFAULT 0, "
				   "commit_time TIMESTAMP, applied_at TIMESTAMP, PRIMARY "
				   "KEY (slot, table_name))");
	int rc = run_sql(sink, &sql, NULL, err);
	return rc == 0 ? add_txn_changes(sink, err) : rc;
}

int pgw_cdc_state_read(struct pgw_sink *sink, const char *slot, struct pgw_rows *out, struct pgw_err *err)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	if (is_ch(sink)) {
		pgw_buf_puts(&sql, "SELECT table_name, toString(lsn), commit_time, toString(txn_changes) FROM ");
		latest_sql(sink, &sql, slot);
		pgw_buf_puts(&sql, " WHERE lsn > 0 ORDER BY table_name");
	} else {
		pgw_buf_puts(&sql, "SELECT table_name, CAST(lsn AS VARCHAR), CAST(commit_time AS VARCHAR), "
				   "CAST(coalesce(txn_changes, 0) AS VARCHAR) FROM ");
		slot_rows_sql(sink, &sql, slot);
		pgw_buf_puts(&sql, " ORDER BY table_name");
	}
	return run_sql(sink, &sql, out, err);
}

int pgw_cdc_state_slots(struct pgw_sink *sink, struct pgw_rows *out, struct pgw_err *err)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	if (is_ch(sink)) {
		pgw_buf_puts(&sql,
			     "SELECT slot, table_name FROM (SELECT slot, table_name, argMax(lsn, seq) AS lsn FROM ");
		table_sql(sink, &sql);
		pgw_buf_puts(&sql, " GROUP BY slot, table_name) WHERE lsn > 0 ORDER BY slot, table_name");
	} else {
		pgw_buf_puts(&sql, "SELECT slot, table_name FROM ");
		table_sql(sink, &sql);
		pgw_buf_puts(&sql, " ORDER BY slot, table_name");
	}
	return run_sql(sink, &sql, out, err);
}

/* commit_us: µs since 2000-01-01 (PostgreSQL's epoch), 0 for none */
static void commit_time_sql(struct pgw_sink *sink, struct pgw_buf *sql, int64_t commit_us)
{
	if (!commit_us) {
		pgw_buf_puts(sql, is_ch(sink) ? "NULL" : "CAST(NULL AS TIMESTAMP)");
	} else if (sink->ops->dialect != PGW_SQL_DUCKDB) { /* text: old ClickHouse servers have no DateTime64 */
		time_t secs = (time_t)(commit_us / 1000000 + 946684800);
		struct tm tm;
		char text[40];
		gmtime_r(&secs, &tm);
		size_t n = strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(text + n, sizeof(text) - n, ".%06d", (int)(commit_us % 1000000));
		pgw_buf_puts(sql, is_sf(sink) ? "CAST(" : "");
		sink->ops->literal(sql, text);
		pgw_buf_puts(sql, is_sf(sink) ? " AS TIMESTAMP)" : "");
	} else {
		pgw_buf_printf(sql, "make_timestamp(%lld)", (long long)commit_us + 946684800000000LL);
	}
}

/* Snowflake has no INSERT OR REPLACE: one MERGE by (slot, table_name) */
static char *sf_position_sql(struct pgw_sink *sink, const char *slot, const char *table, const struct pgw_cdc_pos *pos,
			     int64_t commit_us)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "MERGE INTO ");
	table_sql(sink, &sql);
	pgw_buf_puts(&sql, " AS o USING (SELECT ");
	sink->ops->literal(&sql, slot);
	pgw_buf_puts(&sql, " AS slot, ");
	sink->ops->literal(&sql, table);
	pgw_buf_printf(&sql, " AS table_name, %" PRIu64 " AS lsn, %" PRIu64 " AS txn_changes, ", pos->lsn,
		       pos->txn_changes);
	commit_time_sql(sink, &sql, commit_us);
	pgw_buf_puts(&sql, " AS commit_time, SYSDATE() AS applied_at) AS n "
			   "ON o.slot = n.slot AND o.table_name = n.table_name "
			   "WHEN MATCHED THEN UPDATE SET lsn = n.lsn, txn_changes = n.txn_changes, "
			   "commit_time = n.commit_time, applied_at = n.applied_at "
			   "WHEN NOT MATCHED THEN INSERT (slot, table_name, lsn, txn_changes, commit_time, applied_at) "
			   "VALUES (n.slot, n.table_name, n.lsn, n.txn_changes, n.commit_time, n.applied_at)");
	return sql.data;
}

char *pgw_cdc_state_position_sql(struct pgw_sink *sink, const char *slot, const char *table,
				 const struct pgw_cdc_pos *pos, int64_t commit_us)
{
	if (is_sf(sink))
		return sf_position_sql(sink, slot, table, pos, commit_us);
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, is_ch(sink) ? "INSERT INTO " : "INSERT OR REPLACE INTO ");
	table_sql(sink, &sql);
	pgw_buf_puts(&sql, is_ch(sink) ? " (slot, table_name, lsn, txn_changes, commit_time, seq) SELECT "
				       : " (slot, table_name, lsn, txn_changes, commit_time, applied_at) VALUES (");
	sink->ops->literal(&sql, slot);
	pgw_buf_puts(&sql, ", ");
	sink->ops->literal(&sql, table);
	pgw_buf_printf(&sql, ", %" PRIu64 ", %" PRIu64 ", ", pos->lsn, pos->txn_changes);
	commit_time_sql(sink, &sql, commit_us);
	if (is_ch(sink)) {
		pgw_buf_puts(&sql, ", ");
		next_seq(sink, &sql);
	} else {
		pgw_buf_puts(&sql, ", now()::TIMESTAMP)");
	}
	return sql.data;
}

/* The tables named (texts of the literal form) move to lsn where they are
 * behind it */
int pgw_cdc_state_advance(struct pgw_sink *sink, const char *slot, char *const *tables, int n, uint64_t lsn,
			  struct pgw_err *err)
{
	if (!n)
		return 0;
	struct pgw_buf sql, in;
	pgw_buf_init(&sql);
	pgw_buf_init(&in);
	for (int i = 0; i < n; i++) {
		pgw_buf_puts(&in, i ? ", " : "");
		sink->ops->literal(&in, tables[i]);
	}
	if (is_ch(sink)) {
		char to[40];
		snprintf(to, sizeof(to), "toUInt64(%" PRIu64 ")", lsn);
		append_latest_sql(sink, &sql, slot, to, "commit_time");
		pgw_buf_printf(&sql, " AND lsn < %" PRIu64 " AND table_name IN (%s)", lsn, in.data);
	} else {
		pgw_buf_puts(&sql, "UPDATE ");
		table_sql(sink, &sql);
		pgw_buf_printf(&sql, " SET lsn = %" PRIu64 ", txn_changes = 0 WHERE slot = ", lsn);
		sink->ops->literal(&sql, slot);
		pgw_buf_printf(&sql, " AND lsn < %" PRIu64 " AND table_name IN (%s)", lsn, in.data);
	}
	pgw_buf_cleanup(&in);
	return run_sql(sink, &sql, NULL, err);
}

int pgw_cdc_state_min(struct pgw_sink *sink, const char *slot, uint64_t *lsn, struct pgw_err *err)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	if (is_ch(sink)) {
		pgw_buf_puts(&sql, "SELECT toString(min(lsn)) FROM ");
		latest_sql(sink, &sql, slot);
		pgw_buf_puts(&sql, " WHERE lsn > 0");
	} else {
		pgw_buf_puts(&sql, "SELECT CAST(min(lsn) AS VARCHAR) FROM ");
		slot_rows_sql(sink, &sql, slot);
	}
	struct pgw_rows rows = {0};
	int rc = run_sql(sink, &sql, &rows, err);
	*lsn = rc == 0 && rows.nrows == 1 && rows.cells[0] ? strtoull(rows.cells[0], NULL, 10) : 0;
	pgw_rows_cleanup(&rows);
	return rc;
}

/* table NULL: every table of the slot */
int pgw_cdc_state_forget(struct pgw_sink *sink, const char *slot, const char *table, struct pgw_err *err)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	if (is_ch(sink)) {
		append_latest_sql(sink, &sql, slot, "toUInt64(0)", "NULL");
	} else {
		pgw_buf_puts(&sql, "DELETE FROM ");
		slot_rows_sql(sink, &sql, slot);
	}
	if (table) {
		pgw_buf_puts(&sql, " AND table_name = ");
		sink->ops->literal(&sql, table);
	}
	return run_sql(sink, &sql, NULL, err);
}
