/* Logging: one line per message on stderr, as text or JSON, and on a terminal a live status
 * block (the progress display) kept below the log lines. */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"

static enum pgw_log_level current = PGW_LOG_INFO;
static bool json;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char *block; /* the status block on screen, or NULL */
static int block_lines;

void pgw_log_set_level(enum pgw_log_level level)
{
	current = level;
}

void pgw_log_set_json(bool on)
{
	json = on;
}

bool pgw_log_json(void)
{
	return json;
}

bool pgw_log_enabled(enum pgw_log_level level)
{
	return level <= current;
}

bool pgw_log_tty(void)
{
	return !json && isatty(2);
}

void pgw_json_string(struct pgw_buf *b, const char *s)
{
	pgw_buf_puts(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			pgw_buf_printf(b, "\\%c", *p);
		else if (*p < 0x20)
			pgw_buf_printf(b, "\\u%04x", *p);
		else
			pgw_buf_add(b, (const char *)p, 1);
	}
	pgw_buf_puts(b, "\"");
}

static void erase_block(void)
{
	/* cursor up one line and clear it, once per line of the block */
	for (int i = 0; i < block_lines; i++)
		fputs("\033[1A\033[2K", stderr);
}

static void draw_block(void)
{
	if (block)
		fputs(block, stderr);
}

void pgw_log_status(const char *text, int lines)
{
	pthread_mutex_lock(&mu);
	erase_block();
	free(block);
	block = text && lines ? pgw_strdup(text) : NULL;
	block_lines = block ? lines : 0;
	draw_block();
	fflush(stderr);
	pthread_mutex_unlock(&mu);
}

static void format_json(struct pgw_buf *b, enum pgw_log_level level, const char *msg, const char *fields)
{
	static const char *const names[] = {"error", "warning", "info", "debug"};
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[40];
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	pgw_buf_printf(b, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":", when, ts.tv_nsec / 1000000,
		       names[level]);
	pgw_json_string(b, msg);
	if (fields && *fields)
		pgw_buf_printf(b, ",%s", fields);
	pgw_buf_puts(b, "}\n");
}

void pgw_log_fields(enum pgw_log_level level, const char *fields, const char *msg)
{
	static const char *const prefix[] = {"error: ", "warning: ", "", "debug: "};
	if (!pgw_log_enabled(level))
		return;
	struct pgw_buf line;
	pgw_buf_init(&line);
	if (json)
		format_json(&line, level, msg, fields);
	else
		pgw_buf_printf(&line, "pgwarehouse: %s%s\n", prefix[level], msg);
	/* one write per line (jobs and stream threads log at the same time), above the status block */
	pthread_mutex_lock(&mu);
	erase_block();
	fwrite(line.data, 1, line.len, stderr);
	draw_block();
	fflush(stderr);
	pthread_mutex_unlock(&mu);
	pgw_buf_cleanup(&line);
}

void pgw_log(enum pgw_log_level level, const char *fmt, ...)
{
	if (!pgw_log_enabled(level))
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pgw_log_fields(level, NULL, msg);
}

double pgw_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
