/* Test helper: the --serve mode of duckq and chdbq. A test script starts each once and sends it
 * its queries (tests/lib/assert.sh, _qs_call): a process per query cost ~0.25 s of CPU for duckq
 * and ~1 s for chdbq (loading and relocating the engine, its page faults), a tenth of the suite's
 * CPU; the engine opened again in a running process costs a fraction of that. The store is opened
 * and closed for each request, so pgwarehouse can open it between two. */
#include "serve.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static jmp_buf *request_env;

_Noreturn void tool_fail(void)
{
	if (request_env)
		longjmp(*request_env, 1);
	exit(1);
}

/* The next NUL-ended field of stdin, copied; NULL at the end of stdin. */
static char *read_field(void)
{
	char *line = NULL;
	size_t cap = 0;
	if (getdelim(&line, &cap, '\0', stdin) <= 0) {
		free(line);
		return NULL;
	}
	return line;
}

/* One request: argv[1..argc-1] from stdin (argv[0] is the tool's name); 0 at the end. */
static int read_request(char ***argv_out)
{
	char *count = read_field();
	int argc = count ? atoi(count) : 0;
	free(count);
	if (argc <= 0)
		return 0;
	char **argv = calloc((size_t)argc + 2, sizeof *argv);
	if (!argv)
		exit(1);
	argv[0] = "served";
	for (int i = 1; i <= argc; i++)
		if (!(argv[i] = read_field()))
			exit(1); /* a request cut short: the script is gone */
	*argv_out = argv;
	return argc + 1;
}

static int run_one(int argc, char **argv, int (*run)(int, char **), void (*cleanup)(void))
{
	jmp_buf env;
	request_env = &env;
	if (setjmp(env) != 0) {
		request_env = NULL;
		if (cleanup)
			cleanup();
		return 1;
	}
	int rc = run(argc, argv);
	request_env = NULL;
	return rc;
}

int tool_serve(const char *out_path, const char *err_path, int (*run)(int, char **), void (*cleanup)(void))
{
	int fd = dup(STDOUT_FILENO);
	FILE *reply = fd < 0 ? NULL : fdopen(fd, "w");
	if (!reply)
		return 1;
	char **argv;
	int argc;
	while ((argc = read_request(&argv)) > 0) {
		if (!freopen(out_path, "w", stdout) || !freopen(err_path, "w", stderr))
			return 1;
		int rc = run_one(argc, argv, run, cleanup);
		fflush(stdout);
		fflush(stderr);
		fprintf(reply, "%d\n", rc);
		fflush(reply);
		for (int i = 1; i < argc; i++)
			free(argv[i]);
		free(argv);
	}
	return 0;
}
