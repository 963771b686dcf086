/* Growable byte buffer, always NUL-terminated; aborts on out-of-memory. */
#ifndef PGW_BUF_H
#define PGW_BUF_H

#include <stddef.h>

struct pgw_buf {
	char *data;
	size_t len;
	size_t cap;
};

void pgw_buf_init(struct pgw_buf *b);
void pgw_buf_cleanup(struct pgw_buf *b);
void pgw_buf_reset(struct pgw_buf *b);
void pgw_buf_reserve(struct pgw_buf *b, size_t extra);
void pgw_buf_add(struct pgw_buf *b, const void *p, size_t n);
void pgw_buf_puts(struct pgw_buf *b, const char *s);
void pgw_buf_printf(struct pgw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a double-quoted SQL identifier ("a""b"), the syntax PostgreSQL and DuckDB share. */
void pgw_buf_ident(struct pgw_buf *b, const char *s);
/* Appends s as a single-quoted SQL string literal ('it''s'); s must be valid UTF-8 without NUL. */
void pgw_buf_literal(struct pgw_buf *b, const char *s);
/* Returns the buffer's string and leaves b empty; caller frees. */
char *pgw_buf_steal(struct pgw_buf *b);

/* Allocation helpers that abort with a message instead of returning NULL. */
void *pgw_malloc(size_t n);
void *pgw_calloc(size_t n, size_t size);
void *pgw_realloc(void *p, size_t n);
char *pgw_strdup(const char *s);
char *pgw_strndup(const char *s, size_t n);
char *pgw_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
