/* Settings from the command line, pgwarehouse_conf.yaml, the environment and
 * .env. */
#ifndef PGW_CONFIG_H
#define PGW_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/err.h"

enum pgw_reload_rule { PGW_RELOAD_NEVER, PGW_RELOAD_ALWAYS, PGW_RELOAD_ON_DAYS };

struct pgw_table_conf {
	char *name; /* "table" or "schema.table", as written */
	int line;
	bool skip;
	enum pgw_reload_rule reload;
	unsigned weekdays;  /* bit 0 = Sunday */
	uint32_t monthdays; /* bit d = day d of the month */
	char *last_modified;
	int cdc;       /* -1: as the top-level `cdc`; 0 or 1: this table's own setting */
	int deletes;   /* -1: as the top-level `deletes`; 0 or 1 */
	int key_check; /* -1: the default (new-records compares keys); 0 or 1 */
};

struct pgw_config {
	char *path;
	bool file_found;
	char *data_dir;

	char *pghost, *pgport, *pgdatabase, *pguser, *pgpassword, *pgschema, *pgsslmode;
	char *replication_slot, *publication; /* change data capture: defaults "pgwarehouse" */
	char *cdc_text;			      /* top-level `cdc:` as written, or PGWAREHOUSE_CDC */
	bool cdc;			      /* every table by change data capture unless it says cdc: false */
	char *deletes_text;		      /* top-level `deletes:` as written */
	bool deletes;			      /* every incremental table deletes what PostgreSQL deleted */
	char *max_slot_lag_text;	      /* as written */
	long long max_slot_lag_bytes;	      /* WAL a slot may retain before each run warns
						 (10GB) */
	long long max_records;		      /* 0: no limit */
	char *copy_streams_text, *copy_streams_min_size_text, *jobs_text; /* as written */
	int copy_streams;		  /* COPY connections per large table (1: no parallel reads)
					   */
	long long copy_streams_min_bytes; /* tables smaller than this use one stream */
	int jobs;			  /* tables synced at once */

	char *backend;
	char *duckdb_path;
	char *duckdb_memory_limit;
	char *duckdb_threads;
	char *clickhouse_host, *clickhouse_port, *clickhouse_database, *clickhouse_user, *clickhouse_password,
		*clickhouse_secure, *clickhouse_path, *clickhouse_chdb_library;
	char *snowsql_account, *snowsql_database, *snowsql_schema, *snowsql_warehouse, *snowsql_user, *snowsql_role,
		*snowsql_pwd, *snowsql_host, *snowsql_port, *snowsql_protocol, *snowsql_private_key_path,
		*snowsql_private_key_passphrase, *snowsql_authenticator, *snowsql_token,
		*snowflake_names; /* upper (default) or exact */

	struct pgw_table_conf *tables;
	int ntables;
	bool has_tables; /* a `tables:` list was given */
};

/* Values from the command line; NULL means not given. */
struct pgw_cli_overrides {
	const char *config_path;
	const char *data_dir;
	const char *backend;
	const char *jobs;	  /* --jobs N */
	const char *copy_streams; /* --streams N */
};

/* Reads .env (without overriding the environment), the config file, then the
 * environment. */
int pgw_config_load(struct pgw_config *cfg, const struct pgw_cli_overrides *cli, struct pgw_err *err);
void pgw_config_cleanup(struct pgw_config *cfg);

/* Loads KEY=VALUE lines from path into the environment, keeping variables
 * already set. A missing file is not an error. */
int pgw_dotenv_load(const char *path, struct pgw_err *err);

/* "512MB", "2GB", "1.5GiB", "1000000" (bytes); -1 when it is not a size. */
int pgw_parse_size(const char *s, long long *out);
/* Whether table name (as given on the command line or listed) is synced by
 * change data capture. */
bool pgw_table_cdc(const struct pgw_config *cfg, const char *name);
/* Whether an incremental sync of table name deletes the rows PostgreSQL deleted (`deletes`), and
 * whether it compares keys at all: 1 (`deletes`, or `key_check: true`), 0 (`key_check: false`,
 * or not new-records), -1 (new-records' default: by the table's size). */
bool pgw_table_deletes(const struct pgw_config *cfg, const char *name);
int pgw_table_key_check(const struct pgw_config *cfg, const char *name, bool new_records);

/* Parses one `reload:` day name ("sun", "monday", ...); returns 0..6 or -1. */
int pgw_weekday_parse(const char *s);
/* True when the table's reload rule says "reload today" at time `now` (local
 * time). */
bool pgw_table_reload_due(const struct pgw_table_conf *t, time_t now);
/* true/yes/on/1 (any case) */
bool pgw_config_true(const char *s);
const struct pgw_table_conf *pgw_config_table(const struct pgw_config *cfg, const char *name);

#endif
