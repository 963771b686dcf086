/* A streaming CSV reader over gzip files (see csv.h). */
#include "pipeline/csv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int pgw_csv_open(struct pgw_csv *r, const char *path, struct pgw_err *err)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
	r->gz = gzopen(path, "rb");
	if (!r->gz)
		return pgw_err_set(err, PGW_ERR_IO, "cannot open %s: %s", path, strerror(errno));
	return 0;
}

void pgw_csv_close(struct pgw_csv *r)
{
	if (r->gz)
		gzclose(r->gz);
	pgw_buf_cleanup(&r->rec);
	free(r->fields);
	memset(r, 0, sizeof(*r));
}

/* -1 at end of file, -2 on a read error */
static int next_char(struct pgw_csv *r)
{
	if (r->pos == r->len) {
		if (r->eof)
			return -1;
		int n = gzread(r->gz, r->buf, sizeof(r->buf));
		if (n < 0)
			return -2;
		if (n == 0) {
			r->eof = true;
			return -1;
		}
		r->pos = 0;
		r->len = (size_t)n;
	}
	return (unsigned char)r->buf[r->pos++];
}

static void start_field(struct pgw_csv *r)
{
	if (r->nfields == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->fields = pgw_realloc(r->fields, sizeof(*r->fields) * (size_t)r->cap);
	}
	struct pgw_csv_field *f = &r->fields[r->nfields++];
	f->off = r->rec.len;
	f->len = 0;
	f->null = true;
}

static void end_field(struct pgw_csv *r)
{
	struct pgw_csv_field *f = &r->fields[r->nfields - 1];
	f->len = r->rec.len - f->off;
	pgw_buf_add(&r->rec, "", 1); /* NUL between fields, so values are also C strings */
}

int pgw_csv_next(struct pgw_csv *r, struct pgw_err *err)
{
	pgw_buf_reset(&r->rec);
	r->nfields = 0;
	int c = next_char(r);
	if (c == -1)
		return 0;
	r->line++;
	bool quoted = false, after_quote = false;
	start_field(r);
	for (;; c = next_char(r)) {
		if (c == -2)
			return pgw_err_set(err, PGW_ERR_IO, "%s: read error (corrupt gzip?)", r->path);
		if (c == -1 && quoted)
			return pgw_err_set(err, PGW_ERR_IO, "%s:%ld: unterminated quoted field", r->path, r->line);
		if (quoted) {
			if (c == '"') {
				int d = next_char(r);
				if (d == '"') {
					pgw_buf_add(&r->rec, "\"", 1);
					continue;
				}
				quoted = false;
				after_quote = true;
				c = d;
			} else {
				char ch = (char)c;
				pgw_buf_add(&r->rec, &ch, 1);
				continue;
			}
		}
		if (c == -1 || c == '\n' || c == ',') {
			end_field(r);
			if (c != ',')
				return 1;
			start_field(r);
			after_quote = false;
		} else if (c == '"' && !after_quote && r->rec.len == r->fields[r->nfields - 1].off) {
			quoted = true;
			r->fields[r->nfields - 1].null = false;
		} else if (c == '\r') {
			continue;
		} else {
			char ch = (char)c;
			pgw_buf_add(&r->rec, &ch, 1);
			r->fields[r->nfields - 1].null = false;
		}
	}
}
