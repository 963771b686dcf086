/* Growable buffer and allocation helpers. */
#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(void)
{
	fputs("pgwarehouse: error: out of memory\n", stderr);
	abort();
}

void *pgw_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *pgw_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *pgw_realloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *pgw_strdup(const char *s)
{
	return s ? pgw_strndup(s, strlen(s)) : NULL;
}

char *pgw_strndup(const char *s, size_t n)
{
	char *p = pgw_malloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *pgw_asprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	char *p = pgw_malloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void pgw_buf_init(struct pgw_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void pgw_buf_cleanup(struct pgw_buf *b)
{
	free(b->data);
	pgw_buf_init(b);
}

void pgw_buf_reset(struct pgw_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void pgw_buf_reserve(struct pgw_buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->data = pgw_realloc(b->data, cap);
	b->cap = cap;
}

void pgw_buf_add(struct pgw_buf *b, const void *p, size_t n)
{
	pgw_buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void pgw_buf_puts(struct pgw_buf *b, const char *s)
{
	pgw_buf_add(b, s, strlen(s));
}

void pgw_buf_printf(struct pgw_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	pgw_buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void quoted(struct pgw_buf *b, const char *s, char q)
{
	pgw_buf_add(b, &q, 1);
	for (; *s; s++) {
		if (*s == q)
			pgw_buf_add(b, &q, 1);
		pgw_buf_add(b, s, 1);
	}
	pgw_buf_add(b, &q, 1);
}

void pgw_buf_ident(struct pgw_buf *b, const char *s)
{
	quoted(b, s, '"');
}

void pgw_buf_literal(struct pgw_buf *b, const char *s)
{
	quoted(b, s, '\'');
}

char *pgw_buf_steal(struct pgw_buf *b)
{
	char *p = b->data ? b->data : pgw_strdup("");
	pgw_buf_init(b);
	return p;
}
