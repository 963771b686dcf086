/* Logging to stderr. Results go to stdout, everything else comes here. */
#ifndef PGW_LOG_H
#define PGW_LOG_H

#include <stdbool.h>

enum pgw_log_level { PGW_LOG_ERROR, PGW_LOG_WARN, PGW_LOG_INFO, PGW_LOG_DEBUG };

void pgw_log_set_level(enum pgw_log_level level);
bool pgw_log_enabled(enum pgw_log_level level);
void pgw_log(enum pgw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pgw_error(...) pgw_log(PGW_LOG_ERROR, __VA_ARGS__)
#define pgw_warn(...) pgw_log(PGW_LOG_WARN, __VA_ARGS__)
#define pgw_info(...) pgw_log(PGW_LOG_INFO, __VA_ARGS__)
#define pgw_debug(...) pgw_log(PGW_LOG_DEBUG, __VA_ARGS__)

#endif
