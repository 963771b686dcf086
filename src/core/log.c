/* Logging: one line per message, prefixed by its level. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum pgw_log_level current = PGW_LOG_INFO;

void pgw_log_set_level(enum pgw_log_level level)
{
	current = level;
}

bool pgw_log_enabled(enum pgw_log_level level)
{
	return level <= current;
}

void pgw_log(enum pgw_log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = {"error: ", "warning: ", "", "debug: "};
	if (!pgw_log_enabled(level))
		return;
	/* one write per line: jobs and stream threads log at the same time */
	char line[2048];
	int head = snprintf(line, sizeof(line), "pgwarehouse: %s", prefix[level]);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line + head, sizeof(line) - (size_t)head - 1, fmt, ap);
	va_end(ap);
	size_t len = strlen(line);
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
}
