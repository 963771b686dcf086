/* extract / load (see extract.h). */
#include "pipeline/extract.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/interrupt.h"
#include "core/progress.h"
#include "core/log.h"
#include "pipeline/csv.h"

/* rows per .csv.gz file; PGWAREHOUSE_EXTRACT_ROWS_PER_FILE changes it (tests use small files) */
static long rows_per_file(void)
{
	const char *v = getenv("PGWAREHOUSE_EXTRACT_ROWS_PER_FILE");
	long n = v ? atol(v) : 0;
	return n > 0 ? n : 1000000;
}
#define MANIFEST "manifest"

static char *table_dir(const struct pgw_config *cfg, const char *name)
{
	char *dir = pgw_asprintf("%s/%s_data", cfg->data_dir, name);
	for (char *p = dir + strlen(cfg->data_dir) + 1; *p; p++)
		if (*p == '/')
			*p = '_';
	return dir;
}

static int mkdir_p(const char *path, struct pgw_err *err)
{
	char *tmp = pgw_strdup(path);
	int rc = 0;
	for (char *p = tmp + 1;; p++) {
		if (*p == '/' || !*p) {
			char saved = *p;
			*p = '\0';
			if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
				rc = pgw_err_set(err, PGW_ERR_IO, "cannot create directory %s: %s", tmp,
						 strerror(errno));
				break;
			}
			*p = saved;
			if (!saved)
				break;
		}
	}
	free(tmp);
	return rc;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in dir ending with suffix, sorted; caller frees each and the array. */
static char **list_files(const char *dir, const char *suffix, int *n)
{
	char **names = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || !has_suffix(e->d_name, suffix))
			continue;
		names = pgw_realloc(names, sizeof(char *) * (size_t)(*n + 1));
		names[(*n)++] = pgw_strdup(e->d_name);
	}
	closedir(d);
	if (*n)
		qsort(names, (size_t)*n, sizeof(char *), cmp_str);
	return names;
}

static void free_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void remove_matching(const char *dir, const char *suffix)
{
	int n;
	char **names = list_files(dir, suffix, &n);
	for (int i = 0; i < n; i++) {
		char *p = pgw_asprintf("%s/%s", dir, names[i]);
		unlink(p);
		free(p);
	}
	free_names(names, n);
}

void pgw_archive_clean(const struct pgw_config *cfg, const char *name)
{
	char *dir = table_dir(cfg, name);
	char *archive = pgw_asprintf("%s/archive", dir);
	remove_matching(archive, "");
	rmdir(archive);
	free(archive);
	free(dir);
}

/* A digest of the columns as exported, so load can tell the table changed since extract. */
static unsigned long long shape_of(const struct pgw_table_def *def)
{
	unsigned long long h = 1469598103934665603ULL;
	for (int i = 0; i < def->ncols; i++) {
		const char *parts[] = {def->cols[i].name, def->cols[i].pgtype, def->cols[i].cast, "\n"};
		for (int k = 0; k < 4; k++)
			for (const char *p = parts[k]; *p; p++)
				h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	}
	return h;
}

/* ---- extract ---- */

struct chunk_writer {
	const char *dir, *name;
	gzFile gz;
	char *tmp_path, *final_path;
	int seq;
	long rows_in_file, rows_per_file;
	struct pgw_buf header;
};

/* "...: No space left on device; free space (or raise the file size limit) and run extract again" */
static int write_failed(struct pgw_err *err, const char *path, const char *why)
{
	return pgw_err_set(err, PGW_ERR_IO,
			   "cannot write %s: %s; free disk space (or raise the file size limit) and run extract again",
			   path, why);
}

static int close_chunk(struct chunk_writer *w, struct pgw_err *err)
{
	int rc = 0;
	if (!w->gz)
		return 0;
	if (gzclose(w->gz) != Z_OK)
		rc = write_failed(err, w->tmp_path, strerror(errno));
	else if (rename(w->tmp_path, w->final_path) < 0)
		rc = pgw_err_set(err, PGW_ERR_IO, "cannot rename %s: %s", w->tmp_path, strerror(errno));
	w->gz = NULL;
	free(w->tmp_path);
	free(w->final_path);
	w->tmp_path = w->final_path = NULL;
	return rc;
}

static int write_bytes(struct chunk_writer *w, const char *p, int len, struct pgw_err *err)
{
	if (len > 0 && gzwrite(w->gz, p, (unsigned)len) != len) {
		int zerr;
		const char *msg = gzerror(w->gz, &zerr);
		return write_failed(err, w->tmp_path, zerr == Z_ERRNO ? strerror(errno) : msg);
	}
	return 0;
}

static int open_chunk(struct chunk_writer *w, struct pgw_err *err)
{
	w->seq++;
	w->final_path = pgw_asprintf("%s/%05d.csv.gz", w->dir, w->seq);
	w->tmp_path = pgw_asprintf("%s.tmp", w->final_path);
	w->gz = gzopen(w->tmp_path, "wb1"); /* fast level: these files are for inspection, not archival */
	w->rows_in_file = 0;
	if (!w->gz)
		return pgw_err_set(err, PGW_ERR_IO, "cannot create %s: %s", w->tmp_path, strerror(errno));
	return write_bytes(w, w->header.data, (int)w->header.len, err);
}

static int write_row(struct chunk_writer *w, const char *p, int len, struct pgw_err *err)
{
	if (!w->header.len) { /* the first line COPY sends is the header */
		pgw_buf_add(&w->header, p, (size_t)len);
		return 0;
	}
	if (w->gz && w->rows_in_file >= w->rows_per_file && close_chunk(w, err) < 0)
		return -1;
	if (!w->gz && open_chunk(w, err) < 0)
		return -1;
	w->rows_in_file++;
	return write_bytes(w, p, len, err);
}

static int copy_to_files(struct pgw_run *run, const char *select_sql, struct chunk_writer *w,
			 struct pgw_table_result *res)
{
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_printf(&sql, "COPY (%s) TO STDOUT (FORMAT csv, HEADER true)", select_sql);
	PGresult *pr = PQexec(run->pg->conn, sql.data);
	pgw_buf_cleanup(&sql);
	int rc = 0;
	if (PQresultStatus(pr) != PGRES_COPY_OUT)
		rc = pgw_err_set(&res->err, PGW_ERR_SOURCE, "PostgreSQL: %s", PQerrorMessage(run->pg->conn));
	PQclear(pr);
	if (rc < 0)
		return -1;
	char *buf;
	int len;
	struct pgw_pg_watch *watch = pgw_pg_watch(run->pg);
	while ((len = PQgetCopyData(run->pg->conn, &buf, 0)) >= 0) {
		if (rc == 0 && pgw_interrupted())
			rc = pgw_err_set(&res->err, PGW_ERR_INTERRUPTED, "interrupted");
		if (rc == 0)
			rc = write_row(w, buf, len, &res->err);
		res->bytes += (unsigned)len;
		res->rows++;
		pgw_progress_add(run->progress, 1, (unsigned)len);
		PQfreemem(buf);
		if (rc < 0)
			break;
	}
	if (rc < 0 && pgw_interrupted()) { /* stopping: close rather than read what is in flight */
		PQfinish(run->pg->conn);
		run->pg->conn = NULL;
	} else if (rc < 0) { /* stop the server sending the rest */
		PGcancel *cancel = PQgetCancel(run->pg->conn);
		char e[256];
		PQcancel(cancel, e, sizeof(e));
		PQfreeCancel(cancel);
		while ((len = PQgetCopyData(run->pg->conn, &buf, 0)) >= 0)
			PQfreemem(buf);
	}
	while ((pr = PQgetResult(run->pg->conn)) != NULL) {
		if (rc == 0 && PQresultStatus(pr) != PGRES_COMMAND_OK)
			rc = pgw_err_set(&res->err, PGW_ERR_SOURCE, "PostgreSQL: %s", PQerrorMessage(run->pg->conn));
		PQclear(pr);
	}
	pgw_pg_unwatch(watch);
	res->rows -= res->rows > 0; /* the header line */
	return rc;
}

static int write_manifest(const char *dir, const struct pgw_plan *plan, long long rows, int files, struct pgw_err *err)
{
	char *path = pgw_asprintf("%s/%s", dir, MANIFEST), *tmp = pgw_asprintf("%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	int rc = 0;
	if (!f) {
		rc = pgw_err_set(err, PGW_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
	} else {
		fprintf(f, "mode=%d\nstrategy=%s\nshape=%llx\nrows=%lld\nfiles=%d\n", (int)plan->mode, plan->strategy,
			shape_of(plan->def), rows, files);
		if (fclose(f) != 0 || rename(tmp, path) < 0)
			rc = write_failed(err, path, strerror(errno));
	}
	free(tmp);
	free(path);
	return rc;
}

int pgw_extract_table(struct pgw_run *run, const char *name, struct pgw_table_result *res)
{
	struct pgw_plan plan;
	char *dir = table_dir(run->cfg, name);
	struct chunk_writer w = {.dir = dir, .name = name, .rows_per_file = rows_per_file()};
	pgw_buf_init(&w.header);
	int rc = pgw_plan_table(run, PGW_CMD_SYNC, name, &plan, &res->err);
	if (rc == 0) {
		res->strategy = plan.strategy;
		rc = mkdir_p(dir, &res->err);
	}
	if (rc == 0) { /* an earlier extract that was never loaded is replaced */
		remove_matching(dir, ".csv.gz");
		remove_matching(dir, ".tmp");
		char *m = pgw_asprintf("%s/%s", dir, MANIFEST);
		unlink(m);
		free(m);
		rc = copy_to_files(run, plan.select_sql, &w, res);
	}
	if (close_chunk(&w, rc == 0 ? &res->err : NULL) < 0)
		rc = -1;
	if (rc == 0)
		rc = write_manifest(dir, &plan, res->rows, w.seq, &res->err);
	if (rc == 0)
		rc = pgw_pg_exec(run->pg, "COMMIT", &res->err);
	if (rc == 0)
		pgw_info("%s: %lld rows in %d files under %s", name, res->rows, w.seq, dir);
	else
		remove_matching(dir, ".tmp");
	pgw_buf_cleanup(&w.header);
	pgw_plan_cleanup(&plan);
	free(dir);
	return rc;
}

/* ---- load ---- */

struct manifest {
	int mode, files;
	unsigned long long shape;
	long long rows;
};

static int read_manifest(const char *dir, const char *name, struct manifest *m, struct pgw_err *err)
{
	char *path = pgw_asprintf("%s/%s", dir, MANIFEST);
	FILE *f = fopen(path, "r");
	free(path);
	if (!f)
		return pgw_err_set(err, PGW_ERR_USAGE,
				   "nothing extracted for table \"%s\" in %s; run `pgwarehouse extract %s` first", name,
				   dir, name);
	char line[256];
	int found = 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "mode=%d", &m->mode) == 1 || sscanf(line, "shape=%llx", &m->shape) == 1 ||
		    sscanf(line, "rows=%lld", &m->rows) == 1 || sscanf(line, "files=%d", &m->files) == 1)
			found++;
	}
	fclose(f);
	if (found != 4 || m->mode < PGW_LOAD_REPLACE || m->mode > PGW_LOAD_UPSERT)
		return pgw_err_set(err, PGW_ERR_IO, "%s/%s is damaged; run `pgwarehouse extract %s` again", dir,
				   MANIFEST, name);
	return 0;
}

static int check_header(struct pgw_csv *r, const struct pgw_table_def *def, struct pgw_err *err)
{
	int rc = pgw_csv_next(r, err);
	if (rc < 0)
		return -1;
	bool ok = rc == 1 && r->nfields == def->ncols;
	for (int i = 0; ok && i < def->ncols; i++) {
		size_t len;
		const char *v = pgw_csv_value(r, i, &len);
		ok = !strcmp(v, def->cols[i].name);
	}
	if (!ok)
		return pgw_err_set(err, PGW_ERR_DATA,
				   "%s: header does not match the columns of \"%s\"; run extract again", r->path,
				   def->name);
	return 0;
}

static int load_record(const struct pgw_csv *r, const struct pgw_table_def *def, struct pgw_batch *b,
		       struct pgw_err *err)
{
	if (r->nfields != def->ncols)
		return pgw_err_set(err, PGW_ERR_DATA, "%s:%ld: %d fields, expected %d", r->path, r->line, r->nfields,
				   def->ncols);
	for (int i = 0; i < def->ncols; i++) {
		size_t len;
		const char *v = pgw_csv_value(r, i, &len);
		if (r->fields[i].null)
			pgw_col_push_null(&b->cols[i]);
		else if (pgw_text_decode(def->cols[i].name, &def->cols[i].ti, v, len, &b->cols[i], err) < 0)
			return pgw_err_prefix(err, "%s:%ld", r->path, r->line);
	}
	b->rows++;
	return 0;
}

static int load_file(struct pgw_run *run, const char *path, const struct pgw_table_def *def, struct pgw_batch *b,
		     struct pgw_table_result *res)
{
	struct pgw_csv r;
	int rc = pgw_csv_open(&r, path, &res->err);
	if (rc == 0)
		rc = check_header(&r, def, &res->err);
	while (rc == 0) {
		int got = pgw_csv_next(&r, &res->err);
		if (got <= 0) {
			rc = got;
			break;
		}
		rc = load_record(&r, def, b, &res->err);
		res->rows++;
		if (rc == 0 && b->rows == b->cap) {
			rc = run->sink->ops->write(run->sink, b, &res->err);
			pgw_batch_reset(b);
		}
	}
	if (rc == 0 && b->rows) {
		rc = run->sink->ops->write(run->sink, b, &res->err);
		pgw_batch_reset(b);
	}
	pgw_csv_close(&r);
	return rc;
}

static int archive_files(const char *dir, char **files, int n, struct pgw_err *err)
{
	char *archive = pgw_asprintf("%s/archive", dir);
	int rc = mkdir_p(archive, err);
	for (int i = 0; rc == 0 && i <= n; i++) {
		const char *f = i < n ? files[i] : MANIFEST;
		char *from = pgw_asprintf("%s/%s", dir, f), *to = pgw_asprintf("%s/%s", archive, f);
		if (rename(from, to) < 0)
			rc = pgw_err_set(err, PGW_ERR_IO, "cannot move %s to %s: %s", from, archive, strerror(errno));
		free(from);
		free(to);
	}
	free(archive);
	return rc;
}

static int load_files(struct pgw_run *run, const char *dir, char **files, int nfiles, struct pgw_table_def *def,
		      enum pgw_load_mode mode, long long want_rows, struct pgw_table_result *res)
{
	struct pgw_target target = {
		.def = def, .name = def->name, .schema = strcmp(def->schema, run->cfg->pgschema) ? def->schema : NULL};
	struct pgw_batch *b = pgw_batch_for_def(def, 2048);
	int rc = run->sink->ops->begin(run->sink, &target, mode, &res->err);
	for (int i = 0; rc == 0 && i < nfiles; i++) {
		char *path = pgw_asprintf("%s/%s", dir, files[i]);
		rc = load_file(run, path, def, b, res);
		free(path);
	}
	pgw_batch_free(b);
	if (rc == 0 && res->rows != want_rows)
		rc = pgw_err_set(&res->err, PGW_ERR_DATA,
				 "%s holds %lld rows but its manifest says %lld; nothing was loaded: run `pgwarehouse "
				 "extract` again",
				 dir, res->rows, want_rows);
	if (rc == 0)
		return run->sink->ops->commit(run->sink, &res->err);
	pgw_cleanup_begin();
	run->sink->ops->abort(run->sink);
	pgw_cleanup_end();
	return -1;
}

/* The files must be exactly the ones extract wrote (00001.csv.gz ... in order): a missing chunk
 * would otherwise swap a partial table in. */
static int check_files(const char *dir, char **files, int nfiles, const struct manifest *m, struct pgw_err *err)
{
	for (int i = 0; i < m->files; i++) {
		char want[32];
		snprintf(want, sizeof(want), "%05d.csv.gz", i + 1);
		if (i >= nfiles || strcmp(files[i], want))
			return pgw_err_set(err, PGW_ERR_DATA,
					   "%s/%s is missing (the manifest lists %d files); nothing was loaded: run "
					   "`pgwarehouse extract` again",
					   dir, want, m->files);
	}
	if (nfiles != m->files)
		return pgw_err_set(err, PGW_ERR_DATA,
				   "%s holds %d data files but its manifest lists %d; nothing was loaded: run "
				   "`pgwarehouse extract` again",
				   dir, nfiles, m->files);
	return 0;
}

int pgw_load_table(struct pgw_run *run, const char *name, struct pgw_table_result *res)
{
	char *dir = table_dir(run->cfg, name);
	int nfiles = 0;
	struct manifest m = {0};
	char **files = NULL;
	struct pgw_table_def *def = NULL;
	int rc = read_manifest(dir, name, &m, &res->err);
	if (rc == 0)
		rc = pgw_pg_table_def(run->pg, name, &def, &res->err);
	if (rc == 0 && shape_of(def) != m.shape)
		rc = pgw_err_set(&res->err, PGW_ERR_DATA,
				 "table \"%s\" changed in PostgreSQL since it was extracted; run extract again", name);
	if (rc == 0) {
		files = list_files(dir, ".csv.gz", &nfiles);
		rc = check_files(dir, files, nfiles, &m, &res->err);
	}
	if (rc == 0) {
		/* appending by key makes loading the same files twice harmless */
		if (m.mode == PGW_LOAD_APPEND && def->npk > 0)
			m.mode = PGW_LOAD_UPSERT;
		res->strategy = m.mode == PGW_LOAD_REPLACE ? "load (replace)" : "load (by key)";
		rc = load_files(run, dir, files, nfiles, def, (enum pgw_load_mode)m.mode, m.rows, res);
	}
	if (rc == 0)
		rc = archive_files(dir, files, nfiles, &res->err);
	if (rc == 0)
		pgw_pg_exec(run->pg, "COMMIT", NULL);
	free_names(files, nfiles);
	pgw_table_def_free(def);
	free(dir);
	return rc;
}
