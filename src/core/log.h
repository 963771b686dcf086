/* Logging to stderr. Results go to stdout, everything else comes here. */
#ifndef PGW_LOG_H
#define PGW_LOG_H

#include <stdbool.h>

enum pgw_log_level { PGW_LOG_ERROR, PGW_LOG_WARN, PGW_LOG_INFO, PGW_LOG_DEBUG };

struct pgw_buf;

/* Seconds on the monotonic clock, for durations */
double pgw_now(void);

void pgw_log_set_level(enum pgw_log_level level);
/* --log-format json: every line a JSON object {"time","level","msg",...}. */
void pgw_log_set_json(bool on);
bool pgw_log_json(void);
/* Whether stderr is a terminal that shows the live status block (never in JSON mode). */
bool pgw_log_tty(void);
/* Replaces the status block under the log lines (lines: its line count, each ending in \n);
 * NULL clears it. */
void pgw_log_status(const char *text, int lines);
/* One line with extra JSON members (`"k":v,...`, shown only in JSON mode). */
void pgw_log_fields(enum pgw_log_level level, const char *fields, const char *msg);
/* Appends s as a JSON string. */
void pgw_json_string(struct pgw_buf *b, const char *s);
bool pgw_log_enabled(enum pgw_log_level level);
void pgw_log(enum pgw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pgw_error(...) pgw_log(PGW_LOG_ERROR, __VA_ARGS__)
#define pgw_warn(...) pgw_log(PGW_LOG_WARN, __VA_ARGS__)
#define pgw_info(...) pgw_log(PGW_LOG_INFO, __VA_ARGS__)
#define pgw_debug(...) pgw_log(PGW_LOG_DEBUG, __VA_ARGS__)

#endif
