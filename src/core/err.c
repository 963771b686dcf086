/* Filling and mapping struct pgw_err. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int pgw_err_set(struct pgw_err *err, enum pgw_errcode code, const char *fmt, ...)
{
	if (!err)
		return -1;
	va_list ap;
	err->code = code;
	err->sqlstate[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

void pgw_err_clear(struct pgw_err *err)
{
	memset(err, 0, sizeof(*err));
}

int pgw_err_prefix(struct pgw_err *err, const char *fmt, ...)
{
	if (!err)
		return -1;
	char head[512], old[sizeof(err->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	size_t n = strlen(head);
	if (n > sizeof(err->msg) - 3)
		n = sizeof(err->msg) - 3;
	memcpy(err->msg, head, n);
	memcpy(err->msg + n, ": ", 2);
	size_t rest = sizeof(err->msg) - n - 3;
	strncpy(err->msg + n + 2, old, rest);
	err->msg[sizeof(err->msg) - 1] = '\0';
	return -1;
}

int pgw_err_append(struct pgw_err *err, const char *fmt, ...)
{
	if (!err)
		return -1;
	size_t n = strlen(err->msg);
	va_list ap;
	va_start(ap, fmt);
	if (n < sizeof(err->msg) - 1)
		vsnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Exit codes are documented in the README and --help. */
int pgw_exit_code(enum pgw_errcode code)
{
	switch (code) {
	case PGW_OK: return 0;
	case PGW_ERR_USAGE:
	case PGW_ERR_CONFIG: return 2;
	case PGW_ERR_SOURCE: return 3;
	case PGW_ERR_WAREHOUSE: return 4;
	case PGW_ERR_INTERRUPTED: return 130; /* as a shell reports a command stopped by Ctrl-C */
	default: return 1;
	}
}
