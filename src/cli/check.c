/* `pgwarehouse check`: everything a sync needs, tested without copying anything. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/log.h"
#include "pipeline/sync.h"

struct report {
	int problems, warnings;
};

static void line(struct report *r, const char *tag, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void line(struct report *r, const char *tag, const char *fmt, ...)
{
	char text[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	printf("%-5s %s\n", tag, text);
	if (!strcmp(tag, "FAIL"))
		r->problems++;
	else if (!strcmp(tag, "warn"))
		r->warnings++;
}

static char *pg_value(struct pgw_pg *pg, const char *sql, const char *param)
{
	const char *params[] = {param};
	PGresult *res = pgw_pg_query(pg, sql, param ? 1 : 0, params, NULL);
	char *v = res && PQntuples(res) && !PQgetisnull(res, 0, 0) ? pgw_strdup(PQgetvalue(res, 0, 0)) : NULL;
	PQclear(res);
	return v;
}

/* On a standby, a read whose snapshot still needs rows the primary's VACUUM removed is cancelled
 * once replaying the removal has waited max_standby_streaming_delay, unless the standby tells the
 * primary what it still reads (hot_standby_feedback) */
static void check_standby(struct report *r, struct pgw_pg *pg)
{
	PGresult *res = pgw_pg_query(pg,
				     "SELECT current_setting('hot_standby_feedback'), "
				     "current_setting('max_standby_streaming_delay') WHERE pg_is_in_recovery()",
				     0, NULL, NULL);
	if (res && PQntuples(res) == 1) {
		const char *feedback = PQgetvalue(res, 0, 0), *delay = PQgetvalue(res, 0, 1);
		if (!strcmp(feedback, "on") || !strcmp(delay, "-1"))
			line(r, "ok", "PostgreSQL is a standby (hot_standby_feedback %s, max_standby_streaming_delay %s)",
			     feedback, delay);
		else
			line(r, "warn",
			     "PostgreSQL is a standby with hot_standby_feedback off: a copy or verify running longer "
			     "than max_standby_streaming_delay (%s) is cancelled when the primary vacuums rows it "
			     "reads; set hot_standby_feedback = on on the standby",
			     delay);
	}
	PQclear(res);
}

static void check_postgres(struct report *r, struct pgw_pg *pg, const struct pgw_config *cfg)
{
	char *v = pg_value(pg,
			   "SELECT current_setting('server_version') || ', database ' || current_database() || "
			   "', user ' || current_user",
			   NULL);
	line(r, "ok", "PostgreSQL %s (%s:%s)", v ? v : "?", cfg->pghost ? cfg->pghost : "local socket",
	     cfg->pgport ? cfg->pgport : "5432");
	free(v);
	check_standby(r, pg);
	v = pg_value(pg, "SELECT has_schema_privilege($1, 'USAGE')::text", cfg->pgschema);
	if (!v)
		line(r, "FAIL", "schema \"%s\" does not exist; fix pgschema", cfg->pgschema);
	else if (strcmp(v, "true"))
		line(r, "FAIL", "no USAGE privilege on schema \"%s\"; GRANT USAGE ON SCHEMA to this user",
		     cfg->pgschema);
	free(v);
}

static void check_warehouse(struct report *r, struct pgw_sink *sink, const struct pgw_config *cfg)
{
	static const char *const version_sql[] = {"SELECT CAST(version() AS VARCHAR)", "SELECT version()",
						  "SELECT CURRENT_VERSION()"};
	struct pgw_err err = {0};
	struct pgw_rows rows;
	if (sink->ops->sql(sink, version_sql[sink->ops->dialect], &rows, &err) < 0) {
		line(r, "FAIL", "%s: %s", cfg->backend, err.msg);
		return;
	}
	line(r, "ok", "%s %s", cfg->backend, rows.nrows && rows.cells[0] ? rows.cells[0] : "?");
	pgw_rows_cleanup(&rows);
	/* loads create tables: try it */
	struct pgw_buf drop, create;
	pgw_buf_init(&drop);
	pgw_buf_init(&create);
	pgw_buf_puts(&drop, "DROP TABLE IF EXISTS ");
	sink->ops->own_table(sink, &drop, PGW_INTERNAL_PREFIX "check");
	pgw_buf_puts(&create, "CREATE TABLE ");
	sink->ops->own_table(sink, &create, PGW_INTERNAL_PREFIX "check");
	pgw_buf_puts(&create, sink->ops->dialect == PGW_SQL_CLICKHOUSE ? " (x Int32) ENGINE = Memory" : " (x INTEGER)");
	if (sink->ops->sql(sink, drop.data, NULL, &err) < 0 || sink->ops->sql(sink, create.data, NULL, &err) < 0)
		line(r, "FAIL", "%s: cannot create tables: %s", cfg->backend, err.msg);
	else
		sink->ops->sql(sink, drop.data, NULL, NULL);
	pgw_buf_cleanup(&drop);
	pgw_buf_cleanup(&create);
}

static bool sel_missing(const char *sel)
{
	return !sel || strcmp(sel, "true");
}

/* A CDC table is in the publication, or the sync can add it (its owner, or a superuser; creating the
 * publication also takes CREATE on the database) */
static void check_in_publication(struct report *r, struct pgw_run *run, const struct pgw_table_def *def)
{
	char oid[16];
	snprintf(oid, sizeof(oid), "%u", def->oid);
	const char *pub = run->cfg->publication;
	const char *params[] = {pub, oid};
	struct pgw_err err = {0};
	PGresult *res =
		pgw_pg_query(run->pg,
			     "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)::text, "
			     "(" PGW_CDC_IN_PUBLICATION ")::text, "
			     "pg_has_role(current_user, c.relowner, 'USAGE')::text, "
			     "has_database_privilege(current_database(), 'CREATE')::text, c.oid::regclass::text "
			     "FROM pg_class c WHERE c.oid = $2::oid",
			     2, params, &err);
	if (!res || !PQntuples(res)) {
		line(r, "FAIL", "table %s: cannot read publication %s: %s", def->name, pub, err.msg);
		PQclear(res);
		return;
	}
	if (pgw_cdc_check_publication(run->pg, pub, def, &err) < 0)
		line(r, "FAIL", "%s", err.msg);
	bool exists = !strcmp(PQgetvalue(res, 0, 0), "true"), in = !strcmp(PQgetvalue(res, 0, 1), "true");
	bool owner = !strcmp(PQgetvalue(res, 0, 2), "true"), create = !strcmp(PQgetvalue(res, 0, 3), "true");
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, exists ? "ALTER PUBLICATION " : "CREATE PUBLICATION ");
	pgw_buf_ident(&sql, pub);
	pgw_buf_printf(&sql, exists ? " ADD TABLE ONLY %s" : " FOR TABLE ONLY %s", PQgetvalue(res, 0, 4));
	if (!in && (!owner || (!exists && !create)))
		line(r, "FAIL",
		     "table %s is not in publication %s, and this user may not %s it: the owner or a "
		     "superuser runs %s",
		     def->name, pub, exists ? "add" : "create", sql.data);
	else if (!in)
		line(r, "ok", "table %s: the next sync %s publication %s", def->name, exists ? "adds it to" : "creates",
		     pub);
	pgw_buf_cleanup(&sql);
	PQclear(res);
}

static void check_table(struct report *r, struct pgw_run *run, const char *name)
{
	struct pgw_err err = {0};
	struct pgw_table_def *def = NULL;
	if (pgw_pg_table_def(run->pg, name, &def, &err) < 0) {
		line(r, "FAIL", "%s", err.msg);
		return;
	}
	char oid[16];
	snprintf(oid, sizeof(oid), "%u", def->oid);
	char *sel = pg_value(run->pg, "SELECT has_table_privilege($1::oid, 'SELECT')::text", oid);
	const struct pgw_table_conf *tc = pgw_config_table(run->cfg, name);
	const char *lm = run->last_modified ? run->last_modified : tc ? tc->last_modified : NULL;
	bool cdc = pgw_table_cdc(run->cfg, name);
	int idx;
	if (!sel || strcmp(sel, "true"))
		line(r, "FAIL", "table %s: no SELECT privilege; GRANT SELECT ON %s.%s TO this user", name, def->schema,
		     def->name);
	else if (cdc && pgw_cdc_check_table(run->pg, def, &err) < 0)
		line(r, "FAIL", "%s", err.msg);
	else if (!cdc && lm && pgw_check_last_modified(def, lm, &idx, &err) < 0)
		line(r, "FAIL", "table %s: %s", name, err.msg);
	else if (!cdc && def->npk == 0 && !(tc && tc->reload == PGW_RELOAD_ALWAYS))
		line(r, "warn",
		     "table %s: no primary key, so every sync reloads it in full (set reload: true to say so)", name);
	else
		line(r, "ok", "table %s (%d columns, key: %s%s)", name, def->ncols, def->npk ? "yes" : "none",
		     !cdc	? ""
		     : def->npk ? ", change data capture"
				: ", change data capture of whole rows: REPLICA IDENTITY FULL");
	if (cdc && !sel_missing(sel))
		check_in_publication(r, run, def);
	if (cdc && def->relkind == 'p')
		line(r, "ok",
		     "table %s is partitioned: its partitions' changes are followed through it; one truncated, "
		     "attached, detached or dropped (which PostgreSQL's stream does not carry) makes the next sync "
		     "copy it again",
		     name);
	for (int i = 0; i < def->ncols; i++)
		if (def->cols[i].lossy_text)
			line(r, "warn", "table %s: column \"%s\" (%s) is copied as text", name, def->cols[i].name,
			     def->cols[i].pgtype);
	free(sel);
	pgw_table_def_free(def);
}

/* The replication slot, and room for it and for the walsender that reads it */
static void check_slot(struct report *r, struct pgw_pg *pg, const char *slot, const char *pub)
{
	const char *params[] = {slot, pub};
	PGresult *res = pgw_pg_query(
		pg,
		"SELECT (SELECT wal_status FROM pg_replication_slots WHERE slot_name = $1), "
		"current_setting('max_replication_slots')::int - (SELECT count(*) FROM pg_replication_slots), "
		"current_setting('max_replication_slots'), current_setting('max_wal_senders')::int - "
		"(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'), "
		"current_setting('max_wal_senders'), EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $2)",
		2, params, NULL);
	if (!res || !PQntuples(res)) {
		line(r, "FAIL", "cannot read pg_replication_slots (PostgreSQL 13 or later is needed)");
		PQclear(res);
		return;
	}
	bool exists = !PQgetisnull(res, 0, 0);
	const char *status = PQgetvalue(res, 0, 0);
	int free_slots = atoi(PQgetvalue(res, 0, 1)), free_senders = atoi(PQgetvalue(res, 0, 3));
	if (exists && !strcmp(status, "lost"))
		line(r, "FAIL",
		     "replication slot %s was invalidated (wal_status lost): `pgwarehouse reload all` makes a new "
		     "slot and copies the tables again",
		     slot);
	else if (exists && strcmp(PQgetvalue(res, 0, 5), "t"))
		line(r, "warn",
		     "replication slot %s exists, publication %s does not (dropped, or another name in the config): "
		     "the next sync makes a new slot and copies the change data capture tables again",
		     slot, pub);
	else if (exists)
		line(r, "ok", "replication slot %s (wal_status %s)", slot, status);
	else if (free_slots < 1)
		line(r, "FAIL",
		     "replication slot %s does not exist and all %s slots are taken: raise max_replication_slots "
		     "(then restart PostgreSQL) or drop a slot no longer used",
		     slot, PQgetvalue(res, 0, 2));
	else
		line(r, "ok", "replication slot %s: none yet, the first sync creates it (%d of %s slots free)", slot,
		     free_slots, PQgetvalue(res, 0, 2));
	if (exists && free_slots < 1)
		line(r, "warn",
		     "no replication slot free for the temporary one that copies a table added to change data "
		     "capture later (max_replication_slots %s)",
		     PQgetvalue(res, 0, 2));
	if (free_senders < 1)
		line(r, "FAIL", "all %s walsenders are busy: raise max_wal_senders (then restart PostgreSQL)",
		     PQgetvalue(res, 0, 4));
	else
		line(r, "ok", "%d of %s walsenders free", free_senders, PQgetvalue(res, 0, 4));
	PQclear(res);
}

/* What change data capture needs of the server and the role, when a table is synced by it */
static void check_replication(struct report *r, struct pgw_run *run, char *const *names, int n)
{
	int cdc = 0;
	for (int i = 0; i < n; i++)
		cdc += pgw_table_cdc(run->cfg, names[i]);
	if (!cdc)
		return;
	struct pgw_err err = {0};
	if (pgw_cdc_check_wal_level(run->pg, &err) < 0)
		line(r, "FAIL", "%s", err.msg);
	else
		line(r, "ok", "wal_level logical");
	if (pgw_cdc_check_role(run->pg, &err) < 0)
		line(r, "FAIL", "%s", err.msg);
	else
		line(r, "ok", "this user may read a replication stream (REPLICATION)");
	check_slot(r, run->pg, run->cfg->replication_slot, run->cfg->publication);
}

int pgw_cmd_check(struct pgw_run *run)
{
	struct report r = {0};
	struct pgw_err err = {0};
	printf("ok    config %s%s\n", run->cfg->path,
	       run->cfg->file_found ? "" : " (not found: settings from the environment)");
	check_postgres(&r, run->pg, run->cfg);
	check_warehouse(&r, run->sink, run->cfg);
	char **names = NULL;
	int n = 0;
	if (pgw_all_tables(run, &names, &n, &err) < 0)
		line(&r, "FAIL", "%s", err.msg);
	if (n == 0)
		line(&r, "warn", "no tables to sync: schema \"%s\" has none and the config lists none",
		     run->cfg->pgschema);
	check_replication(&r, run, names, n);
	for (int i = 0; i < n; i++) {
		check_table(&r, run, names[i]);
		free(names[i]);
	}
	free(names);
	printf("%d problem%s, %d warning%s\n", r.problems, r.problems == 1 ? "" : "s", r.warnings,
	       r.warnings == 1 ? "" : "s");
	return r.problems ? 1 : 0;
}
