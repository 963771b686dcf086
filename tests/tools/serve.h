/* Test helper: the request loop of the query tools' --serve mode (duckq, chdbq). */
#ifndef PGW_TOOLS_SERVE_H
#define PGW_TOOLS_SERVE_H

/* Runs the tool's main (run) once per request read from stdin, with its output to OUT_PATH and
 * its errors to ERR_PATH, then writes "<exit code>\n" to the original stdout. A request is its
 * argument count then its arguments (argv without the program name), each ended by a NUL byte; a
 * count of 0, or the end of stdin, ends the loop. tool_fail (not exit) ends a request early;
 * cleanup then closes what the failed request left open. */
int tool_serve(const char *out_path, const char *err_path, int (*run)(int argc, char **argv), void (*cleanup)(void));

/* Ends the current request with exit code 1 (the process, outside a served request). */
_Noreturn void tool_fail(void);

#endif
