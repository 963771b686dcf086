/* Unit tests: the undo record of in-place writes to a DuckDB file (duckdb_undo.c), on a plain
 * file. A child process cut in the middle of a write (the failpoint) stands for a kill -9. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sink/duckdb/duckdb_undo.h"

#define BLOCK 65536

static char dir[] = "/tmp/pgw-undo-XXXXXX";
static char db[64], undo[80];

static void fill(int fd, char c, size_t n, off_t off)
{
	char *b = malloc(n);
	memset(b, c, n);
	assert_int_equal(pwrite(fd, b, n, off), (ssize_t)n);
	free(b);
}

/* A file of four blocks of 'a' */
static void make_db(void)
{
	int fd = open(db, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	fill(fd, 'a', 4 * BLOCK, 0);
	close(fd);
}

/* Counts the bytes equal to c in [off, off + n) */
static size_t count_of(char c, size_t n, off_t off)
{
	int fd = open(db, O_RDONLY);
	char *b = malloc(n);
	assert_int_equal(pread(fd, b, n, off), (ssize_t)n);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += b[i] == c;
	free(b);
	close(fd);
	return k;
}

/* A child watches the file and rewrites block 1 with 'b', cut in the middle of the write. */
static void cut_write(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		setenv("PGW_FAILPOINT", "duckdb-cut-write", 1);
		pgw_duck_undo_watch(db);
		int fd = open(db, O_RDWR);
		fill(fd, 'b', BLOCK, BLOCK);
		_exit(0); /* not reached: the failpoint exits 137 */
	}
	int st;
	waitpid(pid, &st, 0);
	assert_int_equal(WEXITSTATUS(st), 137);
	assert_int_equal(count_of('b', BLOCK, BLOCK), BLOCK / 2);
}

static void test_write_then_close(void)
{
	char msg[256];
	make_db();
	pgw_duck_undo_watch(db);
	int fd = open(db, O_RDWR);
	fill(fd, 'b', BLOCK, BLOCK);					 /* in place: recorded, then cleared */
	fill(fd, 'c', BLOCK, 4 * BLOCK);				 /* past the end: nothing to keep */
	assert_int_equal(pgw_duck_undo_recover(db, msg, sizeof msg), 0); /* this process has it open */
	close(fd);
	assert_int_equal(count_of('b', BLOCK, BLOCK), BLOCK);
	assert_int_equal(count_of('c', BLOCK, 4 * BLOCK), BLOCK);
	pgw_duck_undo_unwatch(db);
	assert_int_equal(access(undo, F_OK), -1);
}

static void test_cut_write_undone(void)
{
	char msg[256];
	make_db();
	cut_write();
	assert_int_equal(access(undo, F_OK), 0);
	assert_int_equal(pgw_duck_undo_recover(db, msg, sizeof msg), 1);
	assert_int_equal(count_of('a', 4 * BLOCK, 0), 4 * BLOCK);
	assert_int_equal(access(undo, F_OK), -1);
	assert_int_equal(pgw_duck_undo_recover(db, msg, sizeof msg), 0);
}

static void test_cut_record_ignored(void)
{
	char msg[256];
	make_db();
	cut_write();
	/* the record itself cut short: its write had not started, nothing is put back */
	assert_int_equal(truncate(undo, 100), 0);
	assert_int_equal(pgw_duck_undo_recover(db, msg, sizeof msg), 0);
	assert_int_equal(count_of('b', BLOCK, BLOCK), BLOCK / 2);
	assert_int_equal(access(undo, F_OK), -1);
}

static void test_other_file_untouched(void)
{
	char msg[256], moved[80];
	make_db();
	cut_write();
	/* the file replaced by another (a backup moved in): the record is not its own */
	snprintf(moved, sizeof moved, "%s/moved", dir);
	assert_int_equal(rename(db, moved), 0);
	make_db();
	assert_int_equal(pgw_duck_undo_recover(db, msg, sizeof msg), 0);
	assert_int_equal(count_of('a', 4 * BLOCK, 0), 4 * BLOCK);
	assert_int_equal(access(undo, F_OK), -1);
	/* no database file at all: the record is dropped */
	make_db();
	cut_write();
	unlink(db);
	assert_int_equal(pgw_duck_undo_recover(db, msg, sizeof msg), 0);
	assert_int_equal(access(undo, F_OK), -1);
	unlink(moved);
}

static void test_file_in_use_left_alone(void)
{
	char msg[256];
	int ready[2], done[2];
	make_db();
	cut_write();
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(done), 0);
	pid_t pid = fork();
	if (pid == 0) { /* holds DuckDB's lock, as a running process does */
		int fd = open(db, O_RDWR);
		struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		char c = 0;
		if (fcntl(fd, F_SETLK, &lk) != 0 || write(ready[1], "x", 1) != 1 || read(done[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(pgw_duck_undo_recover(db, msg, sizeof msg), 0);
	assert_int_equal(access(undo, F_OK), 0);
	assert_int_equal(write(done[1], "x", 1), 1);
	int st;
	waitpid(pid, &st, 0);
	assert_int_equal(pgw_duck_undo_recover(db, msg, sizeof msg), 1);
	assert_int_equal(count_of('a', 4 * BLOCK, 0), 4 * BLOCK);
	close(ready[0]), close(ready[1]), close(done[0]), close(done[1]);
}

void test_undo(void **state);
void test_undo(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof db, "%s/w.db", dir);
	snprintf(undo, sizeof undo, "%s.pgw-undo", db);
	test_write_then_close();
	test_cut_write_undone();
	test_cut_record_ignored();
	test_other_file_untouched();
	test_file_in_use_left_alone();
	unlink(db);
	rmdir(dir);
}
