/* Command line: options, commands, the summary, exit codes. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/interrupt.h"
#include "core/log.h"

static const char usage_text[] =
	"usage: pgwarehouse [options] COMMAND [TABLE|all] [last_modified=COLUMN]\n"
	"\n"
	"Copies PostgreSQL tables into a warehouse (DuckDB, ClickHouse or "
	"Snowflake) and keeps them\n"
	"up to date on later runs.\n"
	"\n"
	"commands:\n"
	"  init                 write a template pgwarehouse_conf.yaml (never "
	"overwrites)\n"
	"  list                 list PostgreSQL tables: schema, table, size, "
	"estimated rows\n"
	"  listwh               list warehouse tables with their row counts\n"
	"  sync TABLE|all       bring tables up to date (new records, "
	"last_modified, or reload)\n"
	"  reload TABLE|all     copy tables in full, swapped in atomically\n"
	"  extract TABLE|all    write what a sync would load to "
	"<data>/<table>_data/*.csv.gz\n"
	"  load TABLE|all       load the extracted files, then move them to "
	"archive/\n"
	"  status [TABLE]       the latest run of each table (from the warehouse's "
	"_pgwarehouse_runs)\n"
	"                       and how old its copy is\n"
	"  check                test the settings: connections, versions, tables, "
	"privileges, config,\n"
	"                       a standby's hot_standby_feedback,\n"
	"                       and for change data capture wal_level, REPLICATION, "
	"slots, the publication\n"
	"  stream TABLE|all     follow the change data capture tables "
	"continuously: apply their changes\n"
	"                       every --interval seconds (default 10) until SIGINT "
	"or SIGTERM, which\n"
	"                       apply the changes in hand and exit 0; the lag is "
	"logged at each apply\n"
	"                       and shown live on a terminal\n"
	"  verify TABLE|all     compare warehouse tables with PostgreSQL without "
	"copying them (hashes\n"
	"                       of rows summed per bucket of keys, then the "
	"differing buckets' keys):\n"
	"                       prints equal or the rows missing, extra and "
	"different with their keys;\n"
	"                       exit 1 when a table differs (every warehouse); with\n"
	"                       --repair, fixes the differing rows, atomically per table\n"
	"  teardown             drop the replication slot and publication change "
	"data capture made\n"
	"                       (stops PostgreSQL keeping WAL for them; the next "
	"sync copies again)\n"
	"\n"
	"incremental syncs: new-records also loads the rows below its key watermark that the\n"
	"warehouse lacks (a key check: key range checksums in both engines, by default on tables\n"
	"up to 10M rows; key_check: true/false per table) and warns of rows deleted in\n"
	"PostgreSQL; `deletes: true` (per table or at the top of the config) deletes them in the\n"
	"same load; last_modified starts where the previous load said, before transactions that\n"
	"were still open (late commits).\n"
	"\n"
	"change data capture: `cdc: true` at the top of the config (or per table, "
	"`cdc: false` to opt\n"
	"out) makes sync read PostgreSQL's logical replication stream: inserts, "
	"updates, deletes and\n"
	"truncates, exactly once, into every warehouse (needs wal_level = logical "
	"and the REPLICATION\n"
	"attribute); postgres: replication_slot and publication name them (default "
	"pgwarehouse;\n"
	"one slot per warehouse: a slot sends each change once, to whoever reads it).\n"
	"\n"
	"options:\n"
	"  -c, --config FILE        config file (default ./pgwarehouse_conf.yaml)\n"
	"      --data DIR           directory for extract/load files (default "
	"./pgw_data)\n"
	"      --backend NAME       duckdb, clickhouse or snowflake (overrides the "
	"config)\n"
	"      --last-modified COL  sync by this last-modified column (like "
	"last_modified=COL)\n"
	"  -j, --jobs N             tables synced at once (default: cores, at most "
	"4; config jobs:)\n"
	"      --streams N          COPY connections per large table (default 2; 1 "
	"= one stream;\n"
	"                           config postgres: copy_streams, "
	"copy_streams_min_size: 256MB)\n"
	"      --force              replace a warehouse table of the same name "
	"that pgwarehouse did\n"
	"                           not create (refused without it)\n"
	"  -d, --debug              log every statement sent\n"
	"  -q, --quiet              only warnings and errors on stderr (no "
	"progress)\n"
	"      --log-format FMT     text (default) or json: one JSON object per "
	"stderr line\n"
	"  -h, --help               this help\n"
	"  -V, --version            print the version\n"
	"\n"
	"settings come from the command line, then the config file, then the "
	"environment\n"
	"(PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD PGSCHEMA PGSSLMODE, "
	"DUCKDB_PATH,\n"
	"DUCKDB_MEMORY_LIMIT, "
	"CLICKHOUSE_HOST/_PORT/_DATABASE/_USER/_PWD/_SECURE/_PATH,\n"
	"CHDB_LIBRARY, "
	"SNOWSQL_ACCOUNT/_USER/_DATABASE/_SCHEMA/_WAREHOUSE/_ROLE/_PWD,\n"
	"SNOWSQL_PRIVATE_KEY_PATH/_PASSPHRASE, SNOWSQL_TOKEN, "
	"SNOWSQL_AUTHENTICATOR,\n"
	"PGWAREHOUSE_JOBS, PGWAREHOUSE_COPY_STREAMS/_MIN_SIZE, DUCKDB_THREADS,\n"
	"PGWAREHOUSE_SNOWFLAKE_NAMES (upper: plain names upper-case as Snowflake "
	"folds them, or exact),\n"
	"PGWAREHOUSE_CDC, PGWAREHOUSE_REPLICATION_SLOT, PGWAREHOUSE_PUBLICATION,\n"
	"PGWAREHOUSE_EXTRACT_ROWS_PER_FILE, PGWAREHOUSE_CA_FILE (a CA's PEM file "
	"trusted for HTTPS,\n"
	"for a TLS-inspecting proxy or a private CA),\n"
	"PGWAREHOUSE_PROGRESS_INTERVAL: seconds between progress lines off a "
	"terminal); a .env file\n"
	"in the working directory is read first.\n"
	"ClickHouse: clickhouse_host: HOST (HTTP) or `embedded` (chDB, data in "
	"clickhouse_path).\n"
	"\n"
	"exit status: 0 ok, 1 a table failed, 2 usage or config error, 3 "
	"PostgreSQL error,\n"
	"4 warehouse error, 130/143 stopped by SIGINT/SIGTERM (the table in "
	"progress rolled back).\n";

static int usage_error(const char *fmt, const char *arg)
{
	fputs("pgwarehouse: error: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("; see pgwarehouse --help\n", stderr);
	return 2;
}

static const struct {
	const char *name;
	enum pgw_cli_command cmd;
	bool needs_table;
} commands[] = {
	{"init", CLI_INIT, false},	   {"list", CLI_LIST, false},	  {"listwh", CLI_LISTWH, false},
	{"sync", CLI_SYNC, true},	   {"reload", CLI_RELOAD, true},  {"extract", CLI_EXTRACT, true},
	{"load", CLI_LOAD, true},	   {"status", CLI_STATUS, false}, {"check", CLI_CHECK, false},
	{"teardown", CLI_TEARDOWN, false}, {"stream", CLI_STREAM, true},  {"verify", CLI_VERIFY, true},
};

static int parse_positionals(struct pgw_cli *cli, int argc, char **argv)
{
	if (optind >= argc)
		return usage_error("%s", "no command given");
	const char *name = argv[optind++];
	int found = -1;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			found = (int)i;
	if (found < 0)
		return usage_error("unknown command `%s`", name);
	cli->cmd = commands[found].cmd;
	if (commands[found].needs_table) {
		if (optind >= argc)
			return usage_error("`%s` needs a table name or `all`", name);
		cli->table = argv[optind++];
	}
	if (cli->cmd == CLI_STATUS && optind < argc && strncmp(argv[optind], "last_modified=", 14))
		cli->table = argv[optind++];
	for (; optind < argc; optind++) {
		const char *a = argv[optind];
		if (!strncmp(a, "last_modified=", 14) && a[14] && cli->cmd != CLI_INIT)
			cli->last_modified = a + 14;
		else
			return usage_error("unexpected argument `%s`", a);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"data", required_argument, NULL, 'D'},
		{"backend", required_argument, NULL, 'b'},
		{"last-modified", required_argument, NULL, 'l'},
		{"jobs", required_argument, NULL, 'j'},
		{"log-format", required_argument, NULL, 'L'},
		{"streams", required_argument, NULL, 'S'},
		{"interval", required_argument, NULL, 'I'},
		{"force", no_argument, NULL, 'F'},
		{"debug", no_argument, NULL, 'd'},
		{"repair", no_argument, NULL, 'R'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct pgw_cli cli = {.interval = 10};
	char *end;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:j:dqhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': cli.over.config_path = optarg; break;
		case 'D': cli.over.data_dir = optarg; break;
		case 'b': cli.over.backend = optarg; break;
		case 'l': cli.last_modified = optarg; break;
		case 'j': cli.over.jobs = optarg; break;
		case 'S': cli.over.copy_streams = optarg; break;
		case 'F': cli.force = true; break;
		case 'R': cli.repair = true; break;
		case 'I':
			cli.interval = strtod(optarg, &end);
			if (end == optarg || *end || !(cli.interval >= 0.1 && cli.interval <= 86400))
				return usage_error("--interval takes seconds from 0.1 to 86400, not `%s`", optarg);
			break;
		case 'L':
			if (strcmp(optarg, "json") && strcmp(optarg, "text"))
				return usage_error("--log-format is text or json, not `%s`", optarg);
			pgw_log_set_json(!strcmp(optarg, "json"));
			break;
		case 'd': pgw_log_set_level(PGW_LOG_DEBUG); break;
		case 'q': pgw_log_set_level(PGW_LOG_WARN); break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': printf("pgwarehouse %s\n", PGW_VERSION); return 0;
		default: return usage_error("unknown or incomplete option `%s`", argv[optind - 1]);
		}
	}
	/* getopt_long permutes argv, so options may also follow the command and table
	 */
	int rc = parse_positionals(&cli, argc, argv);
	if (rc)
		return rc;
	if (cli.repair && cli.cmd != CLI_VERIFY)
		return usage_error("%s", "--repair goes with verify");
	/* over a file-size limit, let writes fail with EFBIG (reported, cleaned up)
	 * instead of dying */
	signal(SIGXFSZ, SIG_IGN);
	/* a peer closing a socket is an error to report, not a reason to die */
	signal(SIGPIPE, SIG_IGN);
	pgw_interrupt_init();
	return pgw_cli_run(&cli);
}
