/* Reading PostgreSQL-style CSV (quote ", doubled to escape; an unquoted empty field is NULL)
 * from gzip files, one record at a time with bounded memory. */
#ifndef PGW_CSV_H
#define PGW_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

struct pgw_csv_field {
	size_t off, len; /* into the record buffer */
	bool null;
};

struct pgw_csv {
	void *gz; /* gzFile */
	const char *path;
	char buf[1 << 16];
	size_t pos, len;
	bool eof;
	long line;
	struct pgw_buf rec;
	struct pgw_csv_field *fields;
	int nfields, cap;
};

int pgw_csv_open(struct pgw_csv *r, const char *path, struct pgw_err *err);
/* Reads the next record: 1 = a record, 0 = end of file, -1 = error. */
int pgw_csv_next(struct pgw_csv *r, struct pgw_err *err);
static inline const char *pgw_csv_value(const struct pgw_csv *r, int i, size_t *len)
{
	*len = r->fields[i].len;
	return r->rec.data + r->fields[i].off;
}
void pgw_csv_close(struct pgw_csv *r);

#endif
