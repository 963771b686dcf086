/* `pgwarehouse init`: a commented template config, never overwriting an existing file. */
#include <errno.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"

static const char head[] = "# pgwarehouse configuration. Empty settings fall back to the environment\n"
			   "# (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, PGSCHEMA, ...), then to defaults.\n"
			   "postgres:\n"
			   "  pghost:        # $PGHOST\n"
			   "  pgport:        # $PGPORT, default 5432\n"
			   "  pgdatabase:    # $PGDATABASE\n"
			   "  pguser:        # $PGUSER\n"
			   "  pgpassword:    # $PGPASSWORD (better kept in the environment or .env)\n"
			   "  pgschema:      # $PGSCHEMA, default public\n"
			   "  pgsslmode:     # $PGSSLMODE, default prefer\n"
			   "  # max_records: 10000   # copy at most this many rows per table (for trial runs)\n"
			   "\n"
			   "warehouse:\n";

static const char duckdb_part[] =
	"  backend: duckdb\n"
	"  duckdb_path:   # $DUCKDB_PATH, default ./duck.db\n"
	"  duckdb_memory_limit:  # $DUCKDB_MEMORY_LIMIT, default 64MB (raise for very large upserts)\n";
static const char clickhouse_part[] =
	"  backend: clickhouse\n"
	"  clickhouse_host:      # $CLICKHOUSE_HOST; `embedded` runs ClickHouse in-process (chDB)\n"
	"  clickhouse_port:      # $CLICKHOUSE_PORT, default 8123 (8443 when secure)\n"
	"  clickhouse_database:  # $CLICKHOUSE_DATABASE\n"
	"  clickhouse_user:      # $CLICKHOUSE_USER\n"
	"  clickhouse_password:  # $CLICKHOUSE_PWD\n"
	"  clickhouse_secure:    # $CLICKHOUSE_SECURE (true for TLS)\n"
	"  clickhouse_path:      # $CLICKHOUSE_PATH: data directory when embedded\n";
static const char snowflake_part[] =
	"  backend: snowflake\n"
	"  snowsql_account:    # $SNOWSQL_ACCOUNT (account identifier)\n"
	"  snowsql_database:   # $SNOWSQL_DATABASE\n"
	"  snowsql_schema:     # $SNOWSQL_SCHEMA\n"
	"  snowsql_warehouse:  # $SNOWSQL_WAREHOUSE\n"
	"  snowsql_user:       # $SNOWSQL_USER\n"
	"  snowsql_role:       # $SNOWSQL_ROLE\n"
	"  snowsql_private_key_path:  # $SNOWSQL_PRIVATE_KEY_PATH (key-pair sign-in, recommended)\n"
	"  snowsql_private_key_passphrase:  # $SNOWSQL_PRIVATE_KEY_PASSPHRASE\n"
	"  snowsql_pwd:        # $SNOWSQL_PWD (password sign-in)\n"
	"  snowflake_names:    # upper (default: plain names as Snowflake folds them) or exact\n";
static const char tail[] = "\n"
			   "# Without a tables list, `sync all` syncs every table of pgschema.\n"
			   "# tables:\n"
			   "#   - accounts               # new records only (by primary key)\n"
			   "#   - users:\n"
			   "#       reload: true         # reload in full on every sync\n"
			   "#   - orders:\n"
			   "#       last_modified: updated_at\n"
			   "#   - shoppers:\n"
			   "#       last_modified: update_time\n"
			   "#       reload: sun          # or [sun, wed], or a day of the month: 1\n"
			   "#   - original_orders:\n"
			   "#       skip: true\n";

static const char *ask_backend(void)
{
	static char line[64];
	static const char *const numbered[] = {"duckdb", "clickhouse", "snowflake"};
	fputs("Which warehouse backend: 1) duckdb 2) clickhouse 3) snowflake? [duckdb] ", stdout);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return "duckdb";
	line[strcspn(line, " \r\n")] = '\0';
	/* a number, as the Python pgwarehouse's prompt took, or a name in any case */
	if (line[0] >= '1' && line[0] <= '3' && !line[1])
		return numbered[line[0] - '1'];
	for (char *p = line; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return line[0] ? line : "duckdb";
}

int pgw_cmd_init(const struct pgw_cli *cli)
{
	const char *path = cli->over.config_path ? cli->over.config_path : "pgwarehouse_conf.yaml";
	if (access(path, F_OK) == 0) {
		fprintf(stderr, "pgwarehouse: error: %s already exists; edit it, or remove it to start over\n", path);
		return 2;
	}
	const char *backend = cli->over.backend ? cli->over.backend : ask_backend();
	const char *part = !strcmp(backend, "duckdb")	    ? duckdb_part
			   : !strcmp(backend, "clickhouse") ? clickhouse_part
			   : !strcmp(backend, "snowflake")  ? snowflake_part
							    : NULL;
	if (!part) {
		fprintf(stderr, "pgwarehouse: error: unknown backend `%s`; use duckdb, clickhouse or snowflake\n",
			backend);
		return 2;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600); /* O_EXCL: never overwrite */
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		fprintf(stderr, "pgwarehouse: error: cannot create %s: %s\n", path, strerror(errno));
		return 2;
	}
	fputs(head, f);
	fputs(part, f);
	fputs(tail, f);
	if (fclose(f) != 0) {
		fprintf(stderr, "pgwarehouse: error: cannot write %s: %s\n", path, strerror(errno));
		return 2;
	}
	printf("wrote %s (backend %s); fill in the postgres settings or set PG* variables\n", path, backend);
	return 0;
}
