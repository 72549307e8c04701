/* yaml.c - a small YAML tree with positions, read with libyaml, for kubeconfig. */
#include "kube/private.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 64

/* The state of one parse. */
struct yaml_reader {
	const char *path;
	yaml_parser_t parser;
	char **error;
};

static int reader_error(struct yaml_reader *r, const yaml_mark_t *mark, const char *message)
{
	return kube_fail(r->error, "%s:%zu:%zu: %s", r->path, mark->line + 1, mark->column + 1,
			 message);
}

/* Reads the next event into ev. Returns 0, or -1 with the parser's error. */
static int next_event(struct yaml_reader *r, yaml_event_t *ev)
{
	if (yaml_parser_parse(&r->parser, ev))
		return 0;
	return reader_error(r, &r->parser.problem_mark,
			    r->parser.problem ? r->parser.problem : "invalid YAML");
}

void kube_yaml_free(kube_yaml *node)
{
	if (!node)
		return;
	for (size_t i = 0; i < node->count; i++)
		kube_yaml_free(node->children[i]);
	free(node->children);
	free(node->value);
	free(node);
}

static kube_yaml *node_new(kube_yaml_type type, const yaml_mark_t *mark)
{
	kube_yaml *node = calloc(1, sizeof(*node));

	if (!node)
		return NULL;
	node->type = type;
	node->line = (unsigned)mark->line + 1;
	node->column = (unsigned)mark->column + 1;
	return node;
}

static int add_child(kube_yaml *parent, kube_yaml *child)
{
	kube_yaml **grown = realloc(parent->children, sizeof(*grown) * (parent->count + 1));

	if (!grown)
		return -1;
	grown[parent->count++] = child;
	parent->children = grown;
	return 0;
}

static kube_yaml *read_node(struct yaml_reader *r, yaml_event_t *ev, int depth);

/* Reads the children of a collection up to its end event. */
static int read_children(struct yaml_reader *r, kube_yaml *parent, yaml_event_type_t end, int depth)
{
	for (;;) {
		yaml_event_t ev;
		kube_yaml *child;

		if (next_event(r, &ev) < 0)
			return -1;
		if (ev.type == end) {
			yaml_event_delete(&ev);
			return 0;
		}
		child = read_node(r, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (!child)
			return -1;
		if (add_child(parent, child) < 0) {
			kube_yaml_free(child);
			return kube_fail(r->error, "%s: out of memory", r->path);
		}
	}
}

static kube_yaml *read_scalar(struct yaml_reader *r, const yaml_event_t *ev)
{
	kube_yaml *node = node_new(KUBE_YAML_SCALAR, &ev->start_mark);

	if (node)
		node->value = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
	if (!node || !node->value) {
		kube_yaml_free(node);
		kube_fail(r->error, "%s: out of memory", r->path);
		return NULL;
	}
	node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	return node;
}

/* Builds the node that starts with ev (which the caller deletes). */
static kube_yaml *read_node(struct yaml_reader *r, yaml_event_t *ev, int depth)
{
	kube_yaml *node;
	bool map = ev->type == YAML_MAPPING_START_EVENT;

	if (depth > MAX_DEPTH) {
		reader_error(r, &ev->start_mark, "nested too deeply");
		return NULL;
	}
	if (ev->type == YAML_ALIAS_EVENT) {
		reader_error(r, &ev->start_mark, "anchors and aliases are not supported in a kubeconfig");
		return NULL;
	}
	if (ev->type == YAML_SCALAR_EVENT)
		return read_scalar(r, ev);
	if (!map && ev->type != YAML_SEQUENCE_START_EVENT) {
		reader_error(r, &ev->start_mark, "unexpected YAML event");
		return NULL;
	}
	node = node_new(map ? KUBE_YAML_MAP : KUBE_YAML_SEQ, &ev->start_mark);
	if (!node) {
		kube_fail(r->error, "%s: out of memory", r->path);
		return NULL;
	}
	if (read_children(r, node, map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT, depth) < 0) {
		kube_yaml_free(node);
		return NULL;
	}
	return node;
}

/* Skips to the first document's root event. Returns 1 when there is one,
 * 0 for an empty stream, -1 on error. */
static int first_root(struct yaml_reader *r, yaml_event_t *ev)
{
	for (;;) {
		if (next_event(r, ev) < 0)
			return -1;
		if (ev->type == YAML_STREAM_END_EVENT || ev->type == YAML_DOCUMENT_END_EVENT) {
			yaml_event_delete(ev);
			return 0;
		}
		if (ev->type != YAML_STREAM_START_EVENT && ev->type != YAML_DOCUMENT_START_EVENT)
			return 1;
		yaml_event_delete(ev);
	}
}

kube_yaml *kube_yaml_parse(const char *path, const char *text, size_t len, char **error)
{
	struct yaml_reader r = {.path = path, .error = error};
	kube_yaml *root = NULL;
	yaml_event_t ev;
	int found;

	if (!yaml_parser_initialize(&r.parser)) {
		kube_fail(error, "%s: out of memory", path);
		return NULL;
	}
	yaml_parser_set_input_string(&r.parser, (const unsigned char *)text, len);
	found = first_root(&r, &ev);
	if (found > 0) {
		root = read_node(&r, &ev, 0);
		yaml_event_delete(&ev);
	} else if (found == 0) {
		kube_fail(error, "%s: empty", path);
	}
	yaml_parser_delete(&r.parser);
	return root;
}

const kube_yaml *kube_yaml_get(const kube_yaml *node, const char *key)
{
	if (!node || node->type != KUBE_YAML_MAP)
		return NULL;
	for (size_t i = 0; i + 1 < node->count; i += 2) {
		const kube_yaml *k = node->children[i];

		if (k->type == KUBE_YAML_SCALAR && !strcmp(k->value, key))
			return node->children[i + 1];
	}
	return NULL;
}
