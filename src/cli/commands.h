/* The commands behind the command line. */
#ifndef PGW_COMMANDS_H
#define PGW_COMMANDS_H

#include "config/config.h"

#include "core/version.h"

enum pgw_cli_command {
	CLI_INIT,
	CLI_LIST,
	CLI_LISTWH,
	CLI_SYNC,
	CLI_RELOAD,
	CLI_EXTRACT,
	CLI_LOAD,
	CLI_STATUS,
	CLI_CHECK,
	CLI_TEARDOWN,
	CLI_STREAM,
	CLI_VERIFY
};

struct pgw_cli {
	struct pgw_cli_overrides over;
	enum pgw_cli_command cmd;
	const char *table;
	const char *last_modified;
	bool force;	 /* --force: replace warehouse tables pgwarehouse did not create */
	double interval; /* stream --interval SECONDS */
	bool repair;	 /* verify --repair */
};

/* Runs the parsed command; returns the process exit status. */
int pgw_cli_run(const struct pgw_cli *cli);
int pgw_cmd_init(const struct pgw_cli *cli);
struct pgw_run;
/* Prints one line per check; returns 1 when something would fail. */
int pgw_cmd_check(struct pgw_run *run);

#endif
