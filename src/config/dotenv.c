/* .env files: KEY=VALUE lines, optional `export`, quotes, # comments. Never overrides. */
#include <ctype.h>
#include <stdbool.h>
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

/* Removes quotes; returns false for a single-quoted value, which is taken literally. */
static bool unquote(char *v)
{
	size_t n = strlen(v);
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		bool literal = v[0] == '\'';
		memmove(v, v + 1, n - 2);
		v[n - 2] = '\0';
		return !literal;
	}
	char *hash = strstr(v, " #"); /* an unquoted value may end with a comment */
	if (hash) {
		*hash = '\0';
		char *t = trim(v);
		memmove(v, t, strlen(t) + 1);
	}
	return true;
}

/* ${NAME} and ${NAME:-default} from the environment (earlier lines included), as python-dotenv,
 * which the Python pgwarehouse used, expands them; caller frees. */
static char *expand(const char *v)
{
	struct pgw_buf b;
	pgw_buf_init(&b);
	while (*v) {
		const char *end = v[0] == '$' && v[1] == '{' ? strchr(v, '}') : NULL;
		if (!end) {
			pgw_buf_add(&b, v++, 1);
			continue;
		}
		char *name = pgw_strndup(v + 2, (size_t)(end - v - 2));
		char *dflt = strstr(name, ":-");
		if (dflt) {
			*dflt = '\0';
			dflt += 2;
		}
		const char *val = getenv(name);
		pgw_buf_puts(&b, val && *val ? val : dflt ? dflt : "");
		free(name);
		v = end + 1;
	}
	return pgw_buf_steal(&b);
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
		char *value = unquote(val) ? expand(val) : pgw_strdup(val);
		if (*key && !getenv(key))
			setenv(key, value, 0);
		free(value);
	}
	fclose(f);
	return rc;
}
