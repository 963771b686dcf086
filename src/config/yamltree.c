/* YAML -> struct pgw_ynode using libyaml's event parser. Anchors and tags are not supported. */
#include "config/yamltree.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/buf.h"

static struct pgw_ynode *node_new(enum pgw_ynode_kind kind, int line)
{
	struct pgw_ynode *n = pgw_calloc(1, sizeof(*n));
	n->kind = kind;
	n->line = line;
	return n;
}

void pgw_ynode_free(struct pgw_ynode *node)
{
	if (!node)
		return;
	for (int i = 0; i < node->n; i++) {
		if (node->keys)
			pgw_ynode_free(node->keys[i]);
		pgw_ynode_free(node->items[i]);
	}
	free(node->keys);
	free(node->items);
	free(node->value);
	free(node);
}

static void add_child(struct pgw_ynode *parent, struct pgw_ynode *key, struct pgw_ynode *item)
{
	parent->items = pgw_realloc(parent->items, sizeof(*parent->items) * (size_t)(parent->n + 1));
	if (parent->kind == PGW_Y_MAP) {
		parent->keys = pgw_realloc(parent->keys, sizeof(*parent->keys) * (size_t)(parent->n + 1));
		parent->keys[parent->n] = key;
	}
	parent->items[parent->n++] = item;
}

struct parse_state {
	yaml_parser_t parser;
	const char *path;
	struct pgw_err *err;
};

static int next_event(struct parse_state *st, yaml_event_t *ev)
{
	if (yaml_parser_parse(&st->parser, ev))
		return 0;
	return pgw_err_set(st->err, PGW_ERR_CONFIG, "%s:%zu: invalid YAML: %s; fix the syntax", st->path,
			   st->parser.problem_mark.line + 1, st->parser.problem ? st->parser.problem : "error");
}

static struct pgw_ynode *parse_node(struct parse_state *st, yaml_event_t *ev);

static struct pgw_ynode *parse_children(struct parse_state *st, struct pgw_ynode *n, yaml_event_type_t end)
{
	for (;;) {
		yaml_event_t ev;
		if (next_event(st, &ev) < 0)
			goto fail;
		if (ev.type == end) {
			yaml_event_delete(&ev);
			return n;
		}
		struct pgw_ynode *key = NULL;
		if (n->kind == PGW_Y_MAP) {
			key = parse_node(st, &ev);
			if (!key)
				goto fail;
			if (next_event(st, &ev) < 0) {
				pgw_ynode_free(key);
				goto fail;
			}
		}
		struct pgw_ynode *item = parse_node(st, &ev);
		if (!item) {
			pgw_ynode_free(key);
			goto fail;
		}
		add_child(n, key, item);
	}
fail:
	pgw_ynode_free(n);
	return NULL;
}

/* Consumes ev (and, for collections, the events up to their end). */
static struct pgw_ynode *parse_node(struct parse_state *st, yaml_event_t *ev)
{
	int line = (int)ev->start_mark.line + 1;
	struct pgw_ynode *n = NULL;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		n = node_new(PGW_Y_SCALAR, line);
		n->value = pgw_strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    (!n->value[0] || !strcmp(n->value, "~") || !strcmp(n->value, "null")))
			n->plain_null = true;
		yaml_event_delete(ev);
		return n;
	case YAML_MAPPING_START_EVENT:
		yaml_event_delete(ev);
		return parse_children(st, node_new(PGW_Y_MAP, line), YAML_MAPPING_END_EVENT);
	case YAML_SEQUENCE_START_EVENT:
		yaml_event_delete(ev);
		return parse_children(st, node_new(PGW_Y_SEQ, line), YAML_SEQUENCE_END_EVENT);
	default:
		yaml_event_delete(ev);
		pgw_err_set(st->err, PGW_ERR_CONFIG,
			    "%s:%d: unsupported YAML construct (anchors and aliases are not supported)", st->path,
			    line);
		return NULL;
	}
}

struct pgw_ynode *pgw_yaml_parse(const char *path, const char *text, size_t len, struct pgw_err *err)
{
	struct parse_state st = {.path = path, .err = err};
	struct pgw_ynode *root = NULL;
	yaml_event_t ev;
	yaml_parser_initialize(&st.parser);
	yaml_parser_set_input_string(&st.parser, (const unsigned char *)text, len);
	/* stream start, document start (or stream end for an empty file) */
	for (;;) {
		if (next_event(&st, &ev) < 0)
			goto out;
		yaml_event_type_t t = ev.type;
		if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		if (t == YAML_STREAM_END_EVENT || t == YAML_DOCUMENT_END_EVENT) {
			yaml_event_delete(&ev);
			root = node_new(PGW_Y_MAP, 1); /* empty file: empty config */
			goto out;
		}
		root = parse_node(&st, &ev);
		break;
	}
out:
	yaml_parser_delete(&st.parser);
	return root;
}
