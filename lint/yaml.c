/* yaml.c - reads YAML and JSON text into cJSON documents with positions,
 * resolving scalars, anchors, aliases and merge keys the way Kubernetes
 * (sigs.k8s.io/yaml over YAML 1.1) does. */
#include "lint/posmap.h"
#include "rules/rules.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* The state of converting one libyaml document. */
struct converter {
	yaml_document_t *yaml;
	ds_document *doc;
	ds_diag_list *diags;
	unsigned char *seen; /* per node: converted once already (so now an alias) */
	size_t alias_nodes;  /* nodes added by expanding aliases */
	bool failed;
};

int ds_diag_add(ds_diag_list *list, ds_pos pos, bool is_error, const char *fmt, ...)
{
	ds_diag *grown = realloc(list->items, sizeof(*grown) * (list->count + 1));
	va_list ap;
	int n;

	if (!grown)
		return -1;
	list->items = grown;
	grown[list->count] = (ds_diag){pos, is_error, NULL};
	va_start(ap, fmt);
	n = vasprintf(&grown[list->count].message, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	list->count++;
	return 0;
}

void ds_diag_list_free(ds_diag_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i].message);
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

void ds_document_free(ds_document *doc)
{
	if (!doc)
		return;
	cJSON_Delete(doc->root);
	cJSON_Delete(doc->replaced);
	ds_posmap_free(doc->positions);
	free(doc);
}

const ds_node_info *ds_document_where(const ds_document *doc, const cJSON *item)
{
	return ds_posmap_get(doc->positions, item);
}

static ds_pos mark_pos(yaml_mark_t m)
{
	return (ds_pos){(unsigned)m.line + 1, (unsigned)m.column + 1};
}

/* Records the first error of a conversion at `at`. Returns NULL. */
static cJSON *fail(struct converter *c, yaml_mark_t at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static cJSON *fail(struct converter *c, yaml_mark_t at, const char *fmt, ...)
{
	char *message = NULL;
	va_list ap;

	if (!c->failed) {
		va_start(ap, fmt);
		if (vasprintf(&message, fmt, ap) < 0)
			message = NULL;
		va_end(ap);
		ds_diag_add(c->diags, mark_pos(at), true, "%s", message ? message : "out of memory");
		free(message);
	}
	c->failed = true;
	return NULL;
}

/* YAML 1.1 booleans as go-yaml resolves them. Returns 1 true, 0 false, -1
 * not a boolean. */
static int resolve_bool(const char *s)
{
	static const char *const yes[] = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"};
	static const char *const no[] = {"n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(s, yes[i]))
			return 1;
		if (!strcmp(s, no[i]))
			return 0;
	}
	return -1;
}

static bool is_null_word(const char *s)
{
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* Parses s as a YAML 1.1 int (decimal, 0x hex, 0 octal, 0b binary, "_"
 * separators) or float (with .inf/.nan). Returns true and sets *out. */
static bool resolve_number(const char *s, double *out)
{
	char digits[64], *end;
	size_t n = 0;
	const char *p = s;
	int base = 10;

	if (!strcmp(s, ".inf") || !strcmp(s, "+.inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF") ||
	    !strcmp(s, "-.inf") || !strcmp(s, "-.Inf") || !strcmp(s, "-.INF") || !strcmp(s, ".nan") ||
	    !strcmp(s, ".NaN") || !strcmp(s, ".NAN"))
		return false; /* JSON cannot hold them: kept as strings */
	if (*p == '-' || *p == '+')
		digits[n++] = *p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'b')) {
		base = p[1] == 'x' ? 16 : 2;
		p += 2;
	} else if (p[0] == '0' && p[1] && strspn(p, "01234567_") == strlen(p)) {
		base = 8;
	}
	if (!*p)
		return false;
	for (; *p && n + 1 < sizeof(digits); p++)
		if (*p != '_')
			digits[n++] = *p;
	if (*p)
		return false;
	digits[n] = '\0';
	errno = 0;
	if (base != 10 || strspn(digits + (digits[0] == '-' || digits[0] == '+'), "0123456789") ==
				  strlen(digits + (digits[0] == '-' || digits[0] == '+'))) {
		long long v = strtoll(digits, &end, base);
		*out = (double)v;
		return !*end && errno == 0 && end != digits;
	}
	if (strspn(digits, "+-0123456789.eE") != n || !strpbrk(digits, "0123456789"))
		return false;
	*out = strtod(digits, &end);
	return !*end && errno == 0 && isfinite(*out);
}

/* A scalar node as JSON: quoted and block scalars are strings; plain ones
 * resolve to null, booleans, numbers or strings. */
static cJSON *convert_scalar(yaml_node_t *node)
{
	const char *text = (const char *)node->data.scalar.value;
	const char *tag = (const char *)node->tag;
	double number;
	int b;

	if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || (tag && !strcmp(tag, "!")))
		return cJSON_CreateString(text);
	if (tag && !strcmp(tag, YAML_NULL_TAG))
		return cJSON_CreateNull();
	if (is_null_word(text))
		return cJSON_CreateNull();
	if ((b = resolve_bool(text)) >= 0)
		return cJSON_CreateBool(b);
	if (resolve_number(text, &number))
		return cJSON_CreateNumber(number);
	return cJSON_CreateString(text);
}

static cJSON *convert_node(struct converter *c, int index, int depth, unsigned anchor_line, ds_pos key);

/* The style letter of ds_node_info for a node. */
static char node_style(const yaml_node_t *node)
{
	if (node->type == YAML_MAPPING_NODE)
		return node->data.mapping.style == YAML_FLOW_MAPPING_STYLE ? 'f' : 'b';
	if (node->type == YAML_SEQUENCE_NODE)
		return node->data.sequence.style == YAML_FLOW_SEQUENCE_STYLE ? 'f' : 'b';
	switch (node->data.scalar.style) {
	case YAML_SINGLE_QUOTED_SCALAR_STYLE:
		return '\'';
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
		return '"';
	case YAML_LITERAL_SCALAR_STYLE:
		return '|';
	case YAML_FOLDED_SCALAR_STYLE:
		return '>';
	default:
		return 'p';
	}
}

static int record(struct converter *c, const cJSON *item, ds_pos key, yaml_node_t *node, unsigned anchor_line)
{
	ds_node_info info = {item, key, mark_pos(node->start_mark), mark_pos(node->end_mark), anchor_line,
			     node_style(node)};
	return ds_posmap_put(c->doc->positions, &info);
}

/* The text of a mapping key as JSON object keys hold it (booleans and nulls
 * spelled as Go's encoder spells them). NULL when the key is no scalar. */
static const char *key_text(yaml_node_t *key)
{
	const char *text;
	int b;

	if (key->type != YAML_SCALAR_NODE)
		return NULL;
	text = (const char *)key->data.scalar.value;
	if (key->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return text;
	if ((b = resolve_bool(text)) >= 0)
		return b ? "true" : "false";
	return is_null_word(text) ? "null" : text;
}

static bool is_merge_key(yaml_node_t *key)
{
	return key->type == YAML_SCALAR_NODE && key->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       !strcmp((const char *)key->data.scalar.value, "<<");
}

/* Keeps a displaced item alive so that positions never point at freed
 * memory that a later item could reuse. */
static void retire(struct converter *c, cJSON *item)
{
	if (!c->doc->replaced)
		c->doc->replaced = cJSON_CreateArray();
	if (!c->doc->replaced || !cJSON_AddItemToArray(c->doc->replaced, item))
		c->failed = true;
}

/* The keys of one large mapping, so that spotting a repeated key stays
 * linear in the mapping's size. Open addressing over borrowed strings. */
struct key_set {
	const char **slots;
	size_t mask;
};

/* Mappings with more pairs than this get a key_set. */
#define KEY_SET_MIN 16

static size_t key_hash(const char *s)
{
	size_t h = 14695981039346656037u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

/* Adds key; returns true when it was there already. */
static bool key_set_add(struct key_set *set, const char *key)
{
	size_t i = key_hash(key) & set->mask;

	for (; set->slots[i]; i = (i + 1) & set->mask)
		if (!strcmp(set->slots[i], key))
			return true;
	set->slots[i] = key;
	return false;
}

/* Adds key: value to obj; a repeated key replaces the earlier value and
 * warns. `seen` (NULL for small mappings) tracks the keys so far. */
static void put_member(struct converter *c, cJSON *obj, const char *key, cJSON *value, yaml_node_t *key_node,
		       struct key_set *seen)
{
	cJSON *old = seen && !key_set_add(seen, key) ? NULL : cJSON_GetObjectItemCaseSensitive(obj, key);

	if (old) {
		ds_diag_add(c->diags, mark_pos(key_node->start_mark), false,
			    "key \"%s\" is repeated in this mapping; the last value wins", key);
		cJSON_DetachItemViaPointer(obj, old);
		retire(c, old);
	}
	if (!cJSON_AddItemToObject(obj, key, value)) {
		cJSON_Delete(value);
		c->failed = true;
	}
}

/* Moves into obj each member of src whose key obj lacks (merge keys never
 * override explicit keys, and earlier sources win over later ones). */
static void merge_from(struct converter *c, cJSON *obj, cJSON *src, yaml_node_t *at)
{
	if (!cJSON_IsObject(src)) {
		fail(c, at->start_mark, "a merge key (<<) needs a mapping or a list of mappings");
		cJSON_Delete(src);
		return;
	}
	while (src->child) {
		cJSON *member = cJSON_DetachItemViaPointer(src, src->child);
		if (cJSON_GetObjectItemCaseSensitive(obj, member->string))
			retire(c, member);
		else
			cJSON_AddItemToObject(obj, member->string, member);
	}
	cJSON_Delete(src);
}

static void apply_merge(struct converter *c, cJSON *obj, int value_index, int depth, unsigned anchor_line)
{
	yaml_node_t *value = yaml_document_get_node(c->yaml, value_index);

	if (value->type != YAML_SEQUENCE_NODE) {
		merge_from(c, obj, convert_node(c, value_index, depth + 1, anchor_line, (ds_pos){0, 0}), value);
		return;
	}
	for (yaml_node_item_t *it = value->data.sequence.items.start; it < value->data.sequence.items.top && !c->failed;
	     it++)
		merge_from(c, obj, convert_node(c, *it, depth + 2, anchor_line, (ds_pos){0, 0}),
			   yaml_document_get_node(c->yaml, *it));
}

static cJSON *convert_mapping(struct converter *c, yaml_node_t *node, int depth, unsigned anchor_line)
{
	cJSON *obj = cJSON_CreateObject();
	yaml_node_pair_t *pair;
	size_t pairs = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
	struct key_set seen = {NULL, 0};

	if (pairs > KEY_SET_MIN) {
		size_t cap = 64;
		while (cap < pairs * 2)
			cap *= 2;
		seen.slots = calloc(cap, sizeof(*seen.slots));
		seen.mask = cap - 1;
	}
	if (!obj || (pairs > KEY_SET_MIN && !seen.slots)) {
		cJSON_Delete(obj);
		return fail(c, node->start_mark, "out of memory");
	}
	for (pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top && !c->failed; pair++) {
		yaml_node_t *key = yaml_document_get_node(c->yaml, pair->key);
		const char *text = key_text(key);
		cJSON *value;
		if (is_merge_key(key))
			continue;
		if (!text) {
			fail(c, key->start_mark, "a mapping key must be a scalar");
			break;
		}
		value = convert_node(c, pair->value, depth + 1, anchor_line, mark_pos(key->start_mark));
		if (!value)
			break;
		put_member(c, obj, text, value, key, seen.slots ? &seen : NULL);
	}
	for (pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top && !c->failed; pair++)
		if (is_merge_key(yaml_document_get_node(c->yaml, pair->key)))
			apply_merge(c, obj, pair->value, depth, anchor_line);
	free(seen.slots);
	if (c->failed) {
		cJSON_Delete(obj);
		return NULL;
	}
	return obj;
}

static cJSON *convert_sequence(struct converter *c, yaml_node_t *node, int depth, unsigned anchor_line)
{
	cJSON *arr = cJSON_CreateArray();

	if (!arr)
		return fail(c, node->start_mark, "out of memory");
	for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
		cJSON *item = convert_node(c, *it, depth + 1, anchor_line, (ds_pos){0, 0});
		if (!item || !cJSON_AddItemToArray(arr, item)) {
			cJSON_Delete(item);
			cJSON_Delete(arr);
			return NULL;
		}
	}
	return arr;
}

/* Converts node `index` (and all below it) to cJSON and records where each
 * item came from. A node converted before is reached through an alias: its
 * items carry the anchor's line and count against the alias budget.
 * Returns NULL (with a diagnostic) on error. */
static cJSON *convert_node(struct converter *c, int index, int depth, unsigned anchor_line, ds_pos key)
{
	yaml_node_t *node = yaml_document_get_node(c->yaml, index);
	cJSON *item = NULL;

	if (!node)
		return fail(c, (yaml_mark_t){0}, "broken document");
	if (depth > DS_YAML_MAX_DEPTH)
		return fail(c, node->start_mark, "nesting is deeper than %d levels", DS_YAML_MAX_DEPTH);
	if (c->seen[index - 1] && !anchor_line)
		anchor_line = (unsigned)node->start_mark.line + 1;
	c->seen[index - 1] = 1;
	if (anchor_line && ++c->alias_nodes > DS_YAML_MAX_ALIAS_NODES)
		return fail(c, node->start_mark, "aliases expand to more than %d nodes (an alias bomb?)",
			    DS_YAML_MAX_ALIAS_NODES);
	if (node->type == YAML_SCALAR_NODE)
		item = convert_scalar(node);
	else if (node->type == YAML_SEQUENCE_NODE)
		item = convert_sequence(c, node, depth, anchor_line);
	else if (node->type == YAML_MAPPING_NODE)
		item = convert_mapping(c, node, depth, anchor_line);
	if (!item)
		return c->failed ? NULL : fail(c, node->start_mark, "out of memory");
	if (record(c, item, key, node, anchor_line) < 0) {
		cJSON_Delete(item);
		return fail(c, node->start_mark, "out of memory");
	}
	return item;
}

/* Turns libyaml's error into a diagnostic with the best position it has:
 * reader errors know only a byte offset, counted into line and column. */
static void parser_error(yaml_parser_t *p, const char *buf, size_t len, ds_diag_list *diags)
{
	ds_pos pos = mark_pos(p->problem_mark);
	const char *problem = p->problem ? p->problem : "invalid YAML";

	if (p->error == YAML_READER_ERROR) {
		pos = (ds_pos){1, 1};
		for (size_t i = 0; i < p->problem_offset && i < len; i++) {
			if (buf[i] == '\n')
				pos = (ds_pos){pos.line + 1, 1};
			else if (((unsigned char)buf[i] & 0xC0) != 0x80)
				pos.column++;
		}
		ds_diag_add(diags, pos, true, "%s (byte 0x%02x at offset %zu)", problem, (unsigned)p->problem_value,
			    p->problem_offset);
		return;
	}
	if (p->context)
		ds_diag_add(diags, pos, true, "%s %s at line %u column %u", problem, p->context,
			    (unsigned)p->context_mark.line + 1, (unsigned)p->context_mark.column + 1);
	else
		ds_diag_add(diags, pos, true, "%s", problem);
}

/* Finds the top-level kind of a document without converting it. Returns
 * false when that cannot be told (the root has a merge key, or kind is not
 * a scalar); else true with *kind set (NULL: no kind). */
static bool peek_kind(yaml_document_t *yaml, const char **kind)
{
	yaml_node_t *root = yaml_document_get_root_node(yaml);

	*kind = NULL;
	if (root->type != YAML_MAPPING_NODE)
		return true;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *key = yaml_document_get_node(yaml, p->key);
		yaml_node_t *value = yaml_document_get_node(yaml, p->value);
		if (is_merge_key(key))
			return false;
		if (key->type != YAML_SCALAR_NODE || strcmp((const char *)key->data.scalar.value, "kind"))
			continue;
		if (value->type != YAML_SCALAR_NODE)
			return false;
		*kind = (const char *)value->data.scalar.value; /* a repeated key: the last wins */
	}
	return true;
}

/* Hands cb a document that stands for an unwanted one: its kind alone. */
static int deliver_kind_only(const char *kind, ds_document_cb cb, void *data, ds_diag_list *diags)
{
	ds_document *doc = calloc(1, sizeof(*doc));

	if (doc)
		doc->root = cJSON_CreateObject();
	if (!doc || !doc->root || (kind && !cJSON_AddStringToObject(doc->root, "kind", kind))) {
		ds_document_free(doc);
		return ds_diag_add(diags, (ds_pos){0, 0}, true, "out of memory"), -1;
	}
	return cb(data, doc);
}

/* Converts one loaded document and hands it to cb. Returns 0 or -1. */
static int deliver(yaml_document_t *yaml, ds_kind_filter wanted, ds_document_cb cb, void *data,
		   ds_diag_list *diags)
{
	struct converter c = {.yaml = yaml, .diags = diags};
	size_t nodes = (size_t)(yaml->nodes.top - yaml->nodes.start);
	const char *kind;

	if (wanted && peek_kind(yaml, &kind) && !wanted(kind))
		return deliver_kind_only(kind, cb, data, diags);
	c.doc = calloc(1, sizeof(*c.doc));
	c.seen = calloc(nodes ? nodes : 1, 1);
	if (c.doc)
		c.doc->positions = ds_posmap_new();
	if (!c.doc || !c.seen || !c.doc->positions) {
		ds_document_free(c.doc);
		free(c.seen);
		return ds_diag_add(diags, (ds_pos){0, 0}, true, "out of memory"), -1;
	}
	c.doc->root = convert_node(&c, 1, 0, 0, (ds_pos){0, 0});
	free(c.seen);
	if (!c.doc->root) {
		ds_document_free(c.doc);
		return -1;
	}
	return cb(data, c.doc);
}

int ds_yaml_load(const char *buf, size_t len, ds_document_cb cb, void *data, ds_diag_list *diags)
{
	return ds_yaml_load_filtered(buf, len, NULL, cb, data, diags);
}

int ds_yaml_load_filtered(const char *buf, size_t len, ds_kind_filter wanted, ds_document_cb cb, void *data,
			  ds_diag_list *diags)
{
	yaml_parser_t parser;
	int rc = 0;

	if (!yaml_parser_initialize(&parser))
		return ds_diag_add(diags, (ds_pos){0, 0}, true, "out of memory"), -1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (rc == 0) {
		yaml_document_t yaml;
		if (!yaml_parser_load(&parser, &yaml)) {
			parser_error(&parser, buf, len, diags);
			rc = -1;
			break;
		}
		if (!yaml_document_get_root_node(&yaml)) {
			yaml_document_delete(&yaml);
			break;
		}
		rc = deliver(&yaml, wanted, cb, data, diags);
		yaml_document_delete(&yaml);
	}
	yaml_parser_delete(&parser);
	return rc;
}

ds_pos ds_document_locate(const ds_document *doc, const cJSON *resource, const char *pointer,
			  unsigned *anchor_line)
{
	char *path = strdup(pointer);
	ds_pos pos = {0, 0};
	bool exact = true;

	while (path) {
		const cJSON *item = ds_pointer_get(resource, path);
		const ds_node_info *info = item ? ds_document_where(doc, item) : NULL;
		char *cut;
		if (info) {
			pos = exact || !info->key.line ? info->value : info->key;
			if (anchor_line)
				*anchor_line = info->anchor_line;
			break;
		}
		exact = false;
		cut = strrchr(path, '/');
		if (!cut)
			break;
		*cut = '\0';
	}
	free(path);
	return pos;
}
