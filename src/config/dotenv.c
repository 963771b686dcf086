/* .env files: KEY=VALUE lines, optional `export`, quotes, # comments. Never overrides. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/buf.h"

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static void unquote(char *v)
{
	size_t n = strlen(v);
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		memmove(v, v + 1, n - 2);
		v[n - 2] = '\0';
		return;
	}
	char *hash = strstr(v, " #"); /* an unquoted value may end with a comment */
	if (hash) {
		*hash = '\0';
		char *t = trim(v);
		memmove(v, t, strlen(t) + 1);
	}
}

int pgw_dotenv_load(const char *path, struct pgw_err *err)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return pgw_err_set(err, PGW_ERR_CONFIG, "cannot read %s: %s", path, strerror(errno));
	}
	char line[8192];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		if (!strncmp(s, "export ", 7))
			s = trim(s + 7);
		char *eq = strchr(s, '=');
		if (!eq) {
			rc = pgw_err_set(err, PGW_ERR_CONFIG, "%s:%d: expected KEY=VALUE", path, lineno);
			break;
		}
		*eq = '\0';
		char *key = trim(s), *val = trim(eq + 1);
		unquote(val);
		if (*key && !getenv(key))
			setenv(key, val, 0);
	}
	fclose(f);
	return rc;
}
