/* The undo record for DuckDB's in-place writes (duckdb_undo.h). libduckdb's calls to pwrite()
 * reach the one below because the executable exports it (-Wl,--export-dynamic-symbol=pwrite in
 * the Makefile); every other write passes straight to the C library's pwrite. */
#include "sink/duckdb/duckdb_undo.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_WATCH 8
#define MAGIC "PGWUNDO1"

/* The record at offset 0 of the undo file: the header, then len old bytes of the database file. */
struct undo_head {
	char magic[8];
	uint64_t offset, len, ino; /* ino: the database file's, a record of another file is dropped */
	uint64_t crc;		   /* crc32 of offset, len, ino and the old bytes */
};

struct watch {
	char *path, *undo; /* the database file, its undo file */
	int refs;
	dev_t dev;
	ino_t ino;   /* 0 until the file exists */
	off_t size0; /* the file's size when watching began (tests: cut_write_failpoint) */
	int undo_fd;
	pthread_mutex_t mu; /* one guarded write at a time: the undo file holds one record */
	unsigned char *buf;
	size_t cap;
};

static struct watch watches[MAX_WATCH];
static pthread_mutex_t watches_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_int nwatched;

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);

static ssize_t real_pwrite(int fd, const void *buf, size_t n, off_t off)
{
	static _Atomic(pwrite_fn) real;
	pwrite_fn f = atomic_load(&real);
	if (!f) {
		f = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
		atomic_store(&real, f);
	}
	return f(fd, buf, n, off);
}

static int write_all(int fd, const void *buf, size_t n, off_t off)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = real_pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w, n -= (size_t)w, off += w;
	}
	return 0;
}

/* Bytes read, which is less than n only at the end of the file; -1 on an error. */
static ssize_t read_all(int fd, void *buf, size_t n, off_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static uint64_t record_crc(const struct undo_head *h, const unsigned char *data)
{
	uLong c = crc32(0L, (const Bytef *)&h->offset, sizeof h->offset);
	c = crc32(c, (const Bytef *)&h->len, sizeof h->len);
	c = crc32(c, (const Bytef *)&h->ino, sizeof h->ino);
	return crc32(c, data, (uInt)h->len);
}

static char *undo_path(const char *path)
{
	size_t n = strlen(path) + sizeof ".pgw-undo";
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s.pgw-undo", path);
	return p;
}

/* The watch for the file fd is open on, or NULL; resolves watches made before the file existed. */
static struct watch *watch_of(const struct stat *st)
{
	struct watch *found = NULL;
	pthread_mutex_lock(&watches_mu);
	for (int i = 0; i < MAX_WATCH && !found; i++) {
		struct watch *w = &watches[i];
		struct stat ps;
		if (w->refs == 0)
			continue;
		if (w->ino == 0 && stat(w->path, &ps) == 0)
			w->dev = ps.st_dev, w->ino = ps.st_ino, w->size0 = ps.st_size;
		if (w->ino == st->st_ino && w->dev == st->st_dev)
			found = w;
	}
	pthread_mutex_unlock(&watches_mu);
	return found;
}

/* Tests: PGW_FAILPOINT=duckdb-cut-write[:N] exits in the middle of the Nth (default first)
 * rewrite of a block (not a 4 KB header) that was in the file before it was opened, as a kill -9
 * inside DuckDB's checkpoint can. */
static void cut_write_failpoint(const struct watch *w, int fd, const void *buf, size_t n, off_t off)
{
	static int seen;
	const char *fp = getenv("PGW_FAILPOINT"), *name = "duckdb-cut-write";
	if (!fp || strncmp(fp, name, strlen(name)) != 0 || n < 65536 || off + (off_t)n > w->size0)
		return;
	int nth = fp[strlen(name)] == ':' ? atoi(fp + strlen(name) + 1) : 1;
	if (++seen < nth)
		return;
	real_pwrite(fd, buf, n / 2, off);
	_exit(137);
}

/* Saves the old bytes under [off, off + n) to the undo file, writes, then clears the record. A
 * write that cannot be recorded is refused (errno set): writing it unguarded could be the one a
 * kill cuts. */
static ssize_t guarded_write(struct watch *w, int fd, const void *buf, size_t n, off_t off, const struct stat *st)
{
	size_t len = (size_t)(st->st_size - off) < n ? (size_t)(st->st_size - off) : n;
	size_t need = sizeof(struct undo_head) + len;
	if (need > w->cap) {
		unsigned char *nb = realloc(w->buf, need);
		if (!nb)
			return -1;
		w->buf = nb, w->cap = need;
	}
	if (w->undo_fd < 0 && (w->undo_fd = open(w->undo, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -1;
	ssize_t got = read_all(fd, w->buf + sizeof(struct undo_head), len, off);
	if (got < 0)
		return -1;
	struct undo_head h = {.offset = (uint64_t)off, .len = (uint64_t)got, .ino = (uint64_t)st->st_ino};
	memcpy(h.magic, MAGIC, sizeof h.magic);
	h.crc = record_crc(&h, w->buf + sizeof h);
	memcpy(w->buf, &h, sizeof h);
	if (write_all(w->undo_fd, w->buf, sizeof h + (size_t)got, 0) < 0)
		return -1;
	cut_write_failpoint(w, fd, buf, n, off);
	ssize_t r = real_pwrite(fd, buf, n, off);
	int saved = errno;
	static const char cleared[sizeof h.magic];
	write_all(w->undo_fd, cleared, sizeof cleared, 0);
	errno = saved;
	return r;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	struct stat st;
	if (atomic_load(&nwatched) == 0 || n == 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || off >= st.st_size)
		return real_pwrite(fd, buf, n, off);
	struct watch *w = watch_of(&st);
	if (!w)
		return real_pwrite(fd, buf, n, off);
	pthread_mutex_lock(&w->mu);
	ssize_t r = guarded_write(w, fd, buf, n, off, &st);
	pthread_mutex_unlock(&w->mu);
	return r;
}

static bool watched_here(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return false;
	return watch_of(&st) != NULL;
}

/* Reads the record; 1 with *h and *data (malloc'ed) filled when it is complete, 0 when there is
 * none or it was cut (its write never started), -1 on a read error. */
static int read_record(int ufd, struct undo_head *h, unsigned char **data)
{
	ssize_t r = read_all(ufd, h, sizeof *h, 0);
	if (r < 0)
		return -1;
	if (r < (ssize_t)sizeof *h || memcmp(h->magic, MAGIC, sizeof h->magic) != 0 || h->len > (1u << 30))
		return 0;
	*data = malloc(h->len ? h->len : 1);
	if (!*data)
		return -1;
	r = read_all(ufd, *data, h->len, sizeof *h);
	if (r < 0 || (uint64_t)r < h->len || record_crc(h, *data) != h->crc) {
		free(*data);
		*data = NULL;
		return r < 0 ? -1 : 0;
	}
	return 1;
}

/* Opens the database file with a write lock on the whole of it, the lock DuckDB takes: 1 with
 * *fd set, 0 when there is no file or another process holds it (its writes may be in flight,
 * its undo record is its own; DuckDB's open then says the file is in use), -1 on an error. */
static int lock_file(const char *path, int *fd, char *msg, size_t msglen)
{
	*fd = open(path, O_RDWR | O_CLOEXEC);
	if (*fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(msg, msglen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (fcntl(*fd, F_SETLK, &lk) != 0) {
		close(*fd);
		*fd = -1;
		return 0;
	}
	return 1;
}

/* With the file locked: puts back the bytes of a complete record of this file. */
static int undo_record(const char *path, const char *up, int fd, char *msg, size_t msglen)
{
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(msg, msglen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	int ufd = open(up, O_RDONLY | O_CLOEXEC);
	if (ufd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(msg, msglen, "cannot read %s: %s", up, strerror(errno));
		return -1;
	}
	struct undo_head h;
	unsigned char *data = NULL;
	int rc = read_record(ufd, &h, &data);
	close(ufd);
	if (rc < 0)
		snprintf(msg, msglen, "cannot read %s: %s", up, strerror(errno));
	if (rc > 0 && h.ino != (uint64_t)st.st_ino)
		rc = 0; /* the file was replaced since */
	if (rc > 0 && (write_all(fd, data, h.len, (off_t)h.offset) < 0 || fsync(fd) != 0)) {
		snprintf(msg, msglen, "cannot undo a cut write in %s: %s", path, strerror(errno));
		rc = -1;
	}
	free(data);
	if (rc >= 0)
		unlink(up);
	return rc;
}

int pgw_duck_undo_recover(const char *path, char *msg, size_t msglen)
{
	char *up = undo_path(path);
	struct stat st;
	int fd, rc = 0;
	if (!up) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	/* no undo file: nothing to do, and no need to write to the file (a reader may not be able) */
	if (stat(up, &st) == 0 && !watched_here(path)) {
		if (stat(path, &st) != 0 && errno == ENOENT)
			unlink(up); /* the record is of a file that is gone */
		else if ((rc = lock_file(path, &fd, msg, msglen)) > 0) {
			rc = undo_record(path, up, fd, msg, msglen);
			close(fd); /* releases the lock */
		}
	}
	free(up);
	return rc;
}

void pgw_duck_undo_watch(const char *path)
{
	struct stat st;
	pthread_mutex_lock(&watches_mu);
	struct watch *free_slot = NULL;
	for (int i = 0; i < MAX_WATCH; i++) {
		struct watch *w = &watches[i];
		if (w->refs > 0 && strcmp(w->path, path) == 0) {
			w->refs++;
			pthread_mutex_unlock(&watches_mu);
			return;
		}
		if (w->refs == 0 && !free_slot)
			free_slot = w;
	}
	struct watch *w = free_slot;
	if (w && (!(w->path = strdup(path)) || !(w->undo = undo_path(path)))) {
		free(w->path);
		memset(w, 0, sizeof *w);
		w = NULL; /* out of memory: the file goes unwatched */
	}
	if (w) {
		w->refs = 1;
		w->undo_fd = -1;
		w->dev = 0, w->ino = 0;
		if (stat(path, &st) == 0)
			w->dev = st.st_dev, w->ino = st.st_ino, w->size0 = st.st_size;
		pthread_mutex_init(&w->mu, NULL);
		atomic_fetch_add(&nwatched, 1);
	}
	pthread_mutex_unlock(&watches_mu);
}

void pgw_duck_undo_unwatch(const char *path)
{
	pthread_mutex_lock(&watches_mu);
	for (int i = 0; i < MAX_WATCH; i++) {
		struct watch *w = &watches[i];
		if (w->refs == 0 || strcmp(w->path, path) != 0 || --w->refs > 0)
			continue;
		if (w->undo_fd >= 0) {
			close(w->undo_fd);
			unlink(w->undo);
		}
		pthread_mutex_destroy(&w->mu);
		free(w->path);
		free(w->undo);
		free(w->buf);
		memset(w, 0, sizeof *w);
		atomic_fetch_sub(&nwatched, 1);
		break;
	}
	pthread_mutex_unlock(&watches_mu);
}
