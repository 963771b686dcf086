/* A YAML document read into a small tree, keeping line numbers for error messages. */
#ifndef PGW_YAMLTREE_H
#define PGW_YAMLTREE_H

#include <stddef.h>

#include "core/err.h"

enum pgw_ynode_kind { PGW_Y_SCALAR, PGW_Y_MAP, PGW_Y_SEQ };

struct pgw_ynode {
	enum pgw_ynode_kind kind;
	int line;	 /* 1-based line in the file */
	char *value;	 /* scalars only */
	bool plain_null; /* an empty or `~`/`null` plain scalar */
	/* maps: keys[i] -> items[i]; sequences: items[i] */
	struct pgw_ynode **keys;
	struct pgw_ynode **items;
	int n;
};

/* Parses text (named `path` in messages). Returns NULL and fills err on a syntax error. */
struct pgw_ynode *pgw_yaml_parse(const char *path, const char *text, size_t len, struct pgw_err *err);
void pgw_ynode_free(struct pgw_ynode *node);

#endif
