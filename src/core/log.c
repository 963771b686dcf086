/* Logging: one line per message, prefixed by its level. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>

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
	va_list ap;
	va_start(ap, fmt);
	fputs("pgwarehouse: ", stderr);
	fputs(prefix[level], stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}
