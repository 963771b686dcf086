/* Embedded ClickHouse through chDB (libchdb.so), loaded with dlopen only when configured
 * (clickhouse_host: embedded). chDB ships no C header in its npm package, so the few functions
 * used are declared here after chDB's public chdb.h. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "sink/clickhouse/ch_internal.h"

typedef struct chdb_connection_ *chdb_connection;
typedef struct chdb_result_ chdb_result;
typedef struct chdb_insert_stream_ *chdb_insert_stream;

struct chdb_api {
	chdb_connection *(*connect)(int argc, char **argv);
	void (*close_conn)(chdb_connection *conn);
	chdb_result *(*query_n)(chdb_connection conn, const char *q, size_t qlen, const char *fmt, size_t flen);
	char *(*result_buffer)(chdb_result *r);
	size_t (*result_length)(chdb_result *r);
	const char *(*result_error)(chdb_result *r);
	void (*destroy_result)(chdb_result *r);
	chdb_insert_stream (*stream_insert)(chdb_connection conn, const char *query, const char *format);
	int (*stream_append)(chdb_insert_stream s, const void *data, size_t len);
	chdb_result *(*stream_done)(chdb_insert_stream s);
	const char *(*stream_insert_error)(chdb_insert_stream s);
	void (*destroy_insert_stream)(chdb_insert_stream s);
	const char *(*version)(void);
};

struct ch_chdb {
	struct ch_conn base;
	void *lib;
	char lib_path[PATH_MAX]; /* the file dlopen loaded (for release_library_pages) */
	struct chdb_api api;
	chdb_connection *conn;
};

static int load_api(struct ch_chdb *c, const char *path, struct pgw_err *err)
{
	c->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!c->lib)
		return pgw_err_set(err, PGW_ERR_CONFIG,
				   "cannot load chDB (%s): %s; install it with scripts/deps.sh --test or set "
				   "clickhouse_chdb_library",
				   path, dlerror());
	struct {
		void **slot;
		const char *name;
	} fns[] = {
		{(void **)&c->api.connect, "chdb_connect"},
		{(void **)&c->api.close_conn, "chdb_close_conn"},
		{(void **)&c->api.query_n, "chdb_query_n"},
		{(void **)&c->api.result_buffer, "chdb_result_buffer"},
		{(void **)&c->api.result_length, "chdb_result_length"},
		{(void **)&c->api.result_error, "chdb_result_error"},
		{(void **)&c->api.destroy_result, "chdb_destroy_query_result"},
		{(void **)&c->api.stream_insert, "chdb_stream_insert"},
		{(void **)&c->api.stream_append, "chdb_stream_append"},
		{(void **)&c->api.stream_done, "chdb_stream_done"},
		{(void **)&c->api.stream_insert_error, "chdb_stream_insert_error"},
		{(void **)&c->api.destroy_insert_stream, "chdb_destroy_insert_stream"},
		{(void **)&c->api.version, "chdb_version"},
	};
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		*fns[i].slot = dlsym(c->lib, fns[i].name);
		if (!*fns[i].slot)
			return pgw_err_set(err, PGW_ERR_CONFIG, "%s lacks %s; pgwarehouse needs chDB 26.7 or later",
					   path, fns[i].name);
	}
	return 0;
}

static int result_error(struct ch_chdb *c, chdb_result *r, const char *what, struct pgw_err *err)
{
	const char *e = r ? c->api.result_error(r) : "no result";
	if (!e || !*e)
		return 0;
	char line[700];
	pgw_ch_error_text(e, line, sizeof(line));
	return pgw_err_set(err, PGW_ERR_WAREHOUSE, "chDB: %s%s%s", what ? what : "", what ? ": " : "", line);
}

static int chdb_exec(struct ch_conn *base, const char *sql, struct pgw_buf *out, bool idempotent, struct pgw_err *err)
{
	(void)idempotent; /* in-process: nothing to retry */
	struct ch_chdb *c = (struct ch_chdb *)base;
	pgw_debug("chdb: %s", sql);
	chdb_result *r = c->api.query_n(*c->conn, sql, strlen(sql), "TabSeparated", strlen("TabSeparated"));
	int rc = result_error(c, r, NULL, err);
	if (rc == 0 && out && r)
		pgw_buf_add(out, c->api.result_buffer(r), c->api.result_length(r));
	if (r)
		c->api.destroy_result(r);
	return rc;
}

static int chdb_insert(struct ch_conn *base, const char *table_sql, const char *data, size_t len, struct pgw_err *err)
{
	struct ch_chdb *c = (struct ch_chdb *)base;
	char *q = pgw_asprintf("INSERT INTO %s", table_sql);
	pgw_debug("chdb: %s FORMAT Native (%zu bytes)", q, len);
	chdb_insert_stream s = c->api.stream_insert(*c->conn, q, "Native");
	free(q);
	const char *e = c->api.stream_insert_error(s);
	int rc = 0;
	if (e && *e)
		rc = pgw_err_set(err, PGW_ERR_WAREHOUSE, "chDB: %s", e);
	if (rc == 0 && c->api.stream_append(s, data, len) != 0) {
		e = c->api.stream_insert_error(s);
		char line[700];
		pgw_ch_error_text(e ? e : "append failed", line, sizeof(line));
		rc = pgw_err_set(err, PGW_ERR_WAREHOUSE, "chDB: %s", line);
	}
	chdb_result *r = c->api.stream_done(s);
	if (rc == 0)
		rc = result_error(c, r, NULL, err);
	if (r)
		c->api.destroy_result(r);
	c->api.destroy_insert_stream(s);
	return rc;
}

static void chdb_close(struct ch_conn *base)
{
	struct ch_chdb *c = (struct ch_chdb *)base;
	if (c->conn)
		c->api.close_conn(c->conn);
	/* the library stays loaded: chDB's threads and atexit handlers outlive dlclose */
	free(base->database);
	free(c);
}

/* ClickHouse holds an flock on <path>/status while it runs; chDB would print its own multi-line
 * exception for a store in use, so look first. */
static bool store_in_use(const char *path)
{
	char *status = pgw_asprintf("%s/status", path);
	int fd = open(status, O_RDWR | O_CLOEXEC);
	free(status);
	if (fd < 0)
		return false;
	bool busy = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return busy;
}

/* chDB's start-up (registering every function, format and engine of ClickHouse) reads about 200 MB
 * of its 566 MB library's code and constants that nothing touches again, and the code each kind of
 * statement runs stays mapped after it; those pages count in the process's resident memory. When
 * change data capture starts (or a repair's first change load), and before each change load's
 * lightweight DELETE, where chDB's memory peaks (ch_sink.c), they are unmapped from the process
 * (MADV_DONTNEED) and stay in the kernel's page cache, so what is used again comes back at the
 * cost of a fault. Only read-only mappings that hold no page of their own (smaps' Anonymous: 0
 * kB: nothing relocated or written there) are released, since such a mapping's pages read back
 * exactly as the file holds them. Peak RSS of a million-change catch-up 417 -> about 300 MB
 * (bench/cdc_bench.sh); from when the stream starts rather than at the first change load (the
 * first 50,000 changes were read on top of the start-up's pages), 248-277 -> 219-221 MB with the
 * merges of ch_sink.c's create_sql. Not at start-up: short runs (a reload, a sync) paid for the
 * faults (t_keys on chDB 24 -> 31 s) for no gain in their peak that matters. */
static void release_library_pages(const char *path)
{
	FILE *smaps = fopen("/proc/self/smaps", "r");
	char line[4096], perms[5];
	unsigned long start = 0, end = 0, anon;
	bool library = false;
	while (smaps && fgets(line, sizeof line, smaps)) {
		unsigned long a, b;
		if (sscanf(line, "%lx-%lx %4s", &a, &b, perms) == 3) { /* a mapping's first line */
			start = a;
			end = b;
			size_t n = strlen(line), p = strlen(path); /* the line ends with the file's path */
			library = perms[1] != 'w' && *path && n > p && strncmp(line + n - p - 1, path, p) == 0;
		} else if (library && sscanf(line, "Anonymous: %lu kB", &anon) == 1) {
			if (anon == 0)
				madvise((void *)start, end - start, MADV_DONTNEED);
			library = false;
		}
	}
	if (smaps)
		fclose(smaps);
}

/* The memory the engine freed but its allocator (jemalloc) keeps for reuse, and with code the
 * library's pages: returned to the system before the peak rather than counted in it (a
 * million-change catch-up when the purge was added: peak RSS 290-298 -> 266-275 MB). A chDB built
 * without jemalloc refuses the PURGE: nothing to return then. */
static void chdb_trim(struct ch_conn *base, bool code)
{
	if (code)
		release_library_pages(((struct ch_chdb *)base)->lib_path);
	chdb_exec(base, "SYSTEM JEMALLOC PURGE", NULL, true, NULL);
}

int pgw_ch_chdb_open(const struct pgw_config *cfg, struct ch_conn **out, struct pgw_err *err)
{
	if (!cfg->clickhouse_path)
		return pgw_err_set(
			err, PGW_ERR_CONFIG,
			"clickhouse_host is `embedded` but clickhouse_path is not set; set it to a directory "
			"(or CLICKHOUSE_PATH)");
	if (store_in_use(cfg->clickhouse_path))
		return pgw_err_set(
			err, PGW_ERR_WAREHOUSE,
			"the embedded ClickHouse store %s is in use by another process; wait for it to finish "
			"or stop it",
			cfg->clickhouse_path);
	struct ch_chdb *c = pgw_calloc(1, sizeof(*c));
	const char *lib = cfg->clickhouse_chdb_library ? cfg->clickhouse_chdb_library : "libchdb.so";
	if (load_api(c, lib, err) < 0) {
		free(c);
		return -1;
	}
	char *path_arg = pgw_asprintf("--path=%s", cfg->clickhouse_path);
	/* A dropped table stays in an Atomic database's store for 8 minutes, which a server spends
	 * running; a pgwarehouse run lasts seconds, so each run's dropped helper tables were loaded
	 * again by every run for 8 minutes (measured: 149 of them made a run's start take 1.27 s of
	 * CPU instead of 0.85 s). Nothing else can have the store open to need them. */
	char *argv[] = {"clickhouse", path_arg, "--database_atomic_delay_before_drop_table_sec=0"};
	c->conn = c->api.connect(3, argv);
	free(path_arg);
	if (!c->conn) {
		free(c);
		return pgw_err_set(err, PGW_ERR_WAREHOUSE, "chDB could not open %s; check clickhouse_path",
				   cfg->clickhouse_path);
	}
	pgw_debug("chdb: library %s, version %s", lib, c->api.version());
	Dl_info info;
	/* smaps names the file itself (deps/lib/libchdb.so is a symbolic link) */
	if (!dladdr((void *)c->api.version, &info) || !info.dli_fname || !realpath(info.dli_fname, c->lib_path))
		c->lib_path[0] = '\0';
	c->base.database = pgw_strdup(cfg->clickhouse_database ? cfg->clickhouse_database : "default");
	c->base.exec = chdb_exec;
	c->base.insert = chdb_insert;
	c->base.close = chdb_close;
	c->base.trim = chdb_trim;
	*out = &c->base;
	/* the database must exist, as it must on a server */
	struct pgw_buf sql;
	pgw_buf_init(&sql);
	pgw_buf_puts(&sql, "CREATE DATABASE IF NOT EXISTS ");
	pgw_ch_ident(&sql, c->base.database);
	int rc = chdb_exec(&c->base, sql.data, NULL, true, err);
	pgw_buf_reset(&sql);
	if (rc == 0) { /* unqualified names then mean what they mean over HTTP with ?database= */
		pgw_buf_puts(&sql, "USE ");
		pgw_ch_ident(&sql, c->base.database);
		rc = chdb_exec(&c->base, sql.data, NULL, true, err);
	}
	pgw_buf_cleanup(&sql);
	/* In-process, the engine's memory is pgwarehouse's: blocks of 64k rows or 8 MB instead of the
	 * server's 1M rows or 256 MB (measured on a 300k-change catch-up: 281 -> 224 MB of private
	 * memory, no slower; bench/cdc_bench.sh) */
	if (rc == 0)
		rc = chdb_exec(&c->base,
			       "SET min_insert_block_size_rows = 65536, min_insert_block_size_bytes = 8388608, "
			       "max_insert_block_size = 65536",
			       NULL, true, err);
	if (rc < 0) {
		chdb_close(&c->base);
		*out = NULL;
	}
	return rc;
}
