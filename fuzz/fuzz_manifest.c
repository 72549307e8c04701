/* fuzz_manifest.c - manifest bytes -> the reader lint uses
 * (ds_yaml_load_filtered), whole and filtered -> every object (and the
 * items of every List) through ds_evaluate(), as `dsguard lint` reads them.
 *
 * Asserts, for every input:
 * - the loader never crashes, leaks or overruns (the sanitizers), and a
 *   load that fails says why: at least one error diagnostic;
 * - every position it gives (diagnostics, nodes, findings) lies inside the
 *   text: a line no further than the text's line breaks reach, a column
 *   no further than its length, or column 1 of the line after the last,
 *   where libyaml ends a stream;
 * - the filtered load that lint uses reads the same stream the same way as
 *   the whole one: the same documents, each with the same kind, and a
 *   DaemonSet or List the same tree (else lint would skip or misread what
 *   the webhook sees); it fails only where the whole load fails, or on a
 *   top-level kind it could not tell without reading the document whole;
 * - a text read as a JSON stream (it starts with "{") that libyaml also
 *   reads, as one document, without error is read the same both ways:
 *   tree, every position and style, and the warnings (lint --fix edits by
 *   these positions), unless it holds a character YAML takes for a line
 *   break and JSON does not (NEL, LS, PS);
 * - ds_evaluate() succeeds on every object, each finding with a message
 *   and a JSON Pointer, each fix an operation on a pointer. */
#include "fuzz/fuzz.h"
#include "yaml/document.h"
#include "yaml/json.h"

#include <stdlib.h>
#include <string.h>

/* The documents one load handed over, in order. */
struct docs {
	ds_document **items;
	size_t count;
};

/* Bounds of positions in the text being read. */
struct bounds {
	unsigned long lines;   /* 1 + line breaks of any kind libyaml knows */
	unsigned long columns; /* 1 + the text's length */
};

static ds_config config;

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_fixing_config(&config, true);
	return 0;
}

static int keep_document(void *data, ds_document *doc)
{
	struct docs *d = data;
	ds_document **grown = realloc(d->items, sizeof(*grown) * (d->count + 1));

	FUZZ_ASSERT(grown != NULL, "out of memory");
	d->items = grown;
	d->items[d->count++] = doc;
	return 0;
}

static void free_docs(struct docs *d)
{
	for (size_t i = 0; i < d->count; i++)
		ds_document_free(d->items[i]);
	free(d->items);
}

/* What lint reads whole: DaemonSets and lists. */
static bool wanted(const char *kind)
{
	size_t len = kind ? strlen(kind) : 0;

	return kind && (!strcmp(kind, "DaemonSet") || (len >= 4 && !strcmp(kind + len - 4, "List")));
}

/* Counts line breaks generously: "\n", a lone "\r", and the lead bytes of
 * NEL, LS and PS. */
static struct bounds bounds_of(const uint8_t *data, size_t size)
{
	struct bounds b = {1, size + 1};

	for (size_t i = 0; i < size; i++)
		b.lines += data[i] == '\n' || (data[i] == '\r' && (i + 1 == size || data[i + 1] != '\n')) ||
			   data[i] == 0xc2 || data[i] == 0xe2;
	return b;
}

/* Checks that pos lies inside the text, or at column 1 of the line after
 * the last: libyaml ends a stream there when the text does not end with a
 * line break, so an empty value, the end of a block or an error at the end
 * of the stream may sit there. */
static void check_pos(ds_pos pos, const struct bounds *b, const char *what)
{
	FUZZ_ASSERT((pos.line == 0) == (pos.column == 0), what);
	if (pos.line == b->lines + 1 && pos.column == 1)
		return;
	FUZZ_ASSERT(pos.line <= b->lines && pos.column <= b->columns, what);
}

/* Checks the position of item and of everything inside it. */
static void check_tree(const ds_document *doc, const cJSON *item, const struct bounds *b, int depth)
{
	const ds_node_info *info = ds_document_where(doc, item);
	const cJSON *c;

	if (info) {
		check_pos(info->key, b, "a key position outside the text");
		check_pos(info->value, b, "a value position outside the text");
		check_pos(info->value_end, b, "a value end outside the text");
	}
	if (depth < DS_YAML_MAX_DEPTH + 2)
		for (c = item->child; c; c = c->next)
			check_tree(doc, c, b, depth + 1);
}

/* DS003's lookup: namespace "shared" already holds "other". */
static ds_namespace_answer other_in_namespace(void *data, const char *ns, const char *name, char **other)
{
	(void)data;
	if (strcmp(ns, "shared") || !strcmp(name, "other"))
		return DS_NAMESPACE_FREE;
	*other = strdup("other");
	return DS_NAMESPACE_SHARED;
}

/* Evaluates one resource and checks its findings and fixes. */
static void check_resource(const ds_document *doc, const cJSON *res, const struct bounds *b)
{
	static const ds_namespace_lookup lookup = {other_in_namespace, NULL};
	ds_context ctx = {.config = &config, .namespaces = &lookup};
	ds_evaluation ev;

	FUZZ_ASSERT(ds_evaluate(res, &ctx, DS_SCOPE_ALL, &ev) == 0, "ds_evaluate failed");
	for (size_t i = 0; i < ev.finding_count; i++) {
		const ds_finding *f = &ev.findings[i];
		unsigned anchor = 0;
		FUZZ_ASSERT(f->message && f->pointer && f->pointer[0] == '/', "a finding without message or pointer");
		check_pos(ds_document_locate(doc, res, f->pointer, &anchor), b, "a finding placed outside the text");
		FUZZ_ASSERT(anchor <= b->lines, "an anchor line outside the text");
	}
	for (size_t i = 0; i < ev.op_count; i++)
		FUZZ_ASSERT(ev.ops[i].path && ev.ops[i].path[0] == '/' && ev.ops[i].value, "a malformed fix");
	ds_evaluation_free(&ev);
}

/* Walks an object as lint does: a List's items are objects in turn. */
static void check_object(const ds_document *doc, const cJSON *obj, const struct bounds *b, int depth)
{
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "kind"));
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(obj, "items");
	const cJSON *item;

	if (!cJSON_IsObject(obj))
		return;
	if (kind && wanted(kind) && strcmp(kind, "DaemonSet") && cJSON_IsArray(items) && depth < 8)
		cJSON_ArrayForEach(item, items)
			check_object(doc, item, b, depth + 1);
	check_resource(doc, obj, b);
}

/* Whether a failed filtered load stopped, as it must, on a document whose
 * kind it could not tell without reading it whole: a repeated top-level
 * kind, or a top-level merge key after the kind. */
static bool kind_ambiguity(const ds_diag_list *d)
{
	for (size_t i = 0; i < d->count; i++)
		if (d->items[i].is_error && (!strncmp(d->items[i].message, "kind is given twice", 19) ||
					     !strncmp(d->items[i].message, "a merge key (<<) at the top", 27)))
			return true;
	return false;
}

/* The top-level kind of a document, or NULL. */
static const char *kind_of(const ds_document *doc)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc->root, "kind"));
}

/* The filtered load must agree with the full one on every document the
 * full one handed over: all of them when it read the whole stream. (The
 * filtered load does not build what it skips, so an error inside a
 * document it does not want may go unseen, a NUL in a string above all:
 * that is not a disagreement.) */
static void compare_loads(int rc_full, const struct docs *full, int rc_filtered, const struct docs *filtered,
			  const ds_diag_list *filtered_diags)
{
	if (rc_filtered != 0 && kind_ambiguity(filtered_diags))
		return;
	if (rc_full == 0)
		FUZZ_ASSERT(rc_filtered == 0 && full->count == filtered->count,
			    "the filtered load fails or sees another number of documents");
	FUZZ_ASSERT(filtered->count >= full->count, "the filtered load sees fewer documents");
	for (size_t i = 0; i < full->count; i++) {
		const char *k1 = kind_of(full->items[i]), *k2 = kind_of(filtered->items[i]);
		FUZZ_ASSERT((!k1 && !k2) || (k1 && k2 && !strcmp(k1, k2)), "the filtered load reads another kind");
		if (wanted(k1))
			FUZZ_ASSERT(cJSON_Compare(full->items[i]->root, filtered->items[i]->root, true),
				    "the filtered load reads a DaemonSet or List differently");
	}
}

/* Checks the diagnostics of a load that returned rc. */
static void check_diags(const ds_diag_list *diags, int rc, const struct bounds *b)
{
	bool error = false;

	for (size_t i = 0; i < diags->count; i++) {
		FUZZ_ASSERT(diags->items[i].message && *diags->items[i].message, "a diagnostic without a message");
		check_pos(diags->items[i].pos, b, "a diagnostic placed outside the text");
		error |= diags->items[i].is_error;
	}
	FUZZ_ASSERT(rc == 0 || error, "a failed load without an error diagnostic");
}

/* Whether item in doc a and its twin in doc b have the same positions
 * and style, and so everything inside them. */
static bool same_positions(const ds_document *a, const cJSON *ia, const ds_document *b, const cJSON *ib)
{
	const ds_node_info *pa = ds_document_where(a, ia), *pb = ds_document_where(b, ib);

	if (!pa || !pb || memcmp(&pa->key, &pb->key, sizeof(ds_pos)) || memcmp(&pa->value, &pb->value, sizeof(ds_pos)) ||
	    memcmp(&pa->value_end, &pb->value_end, sizeof(ds_pos)) || pa->style != pb->style)
		return false;
	for (ia = ia->child, ib = ib->child; ia && ib; ia = ia->next, ib = ib->next)
		if (!same_positions(a, ia, b, ib))
			return false;
	return true;
}

/* A JSON stream read by the JSON reader (json) and by libyaml: when both
 * read one document without error, they read it alike. */
static void compare_json_with_yaml(const uint8_t *data, size_t size, int rc_json, const struct docs *json,
				   const ds_diag_list *json_diags)
{
	struct docs yaml = {0};
	ds_diag_list d = {0};
	int rc;

	for (size_t i = 0; i + 1 < size; i++)
		if ((data[i] == 0xC2 && data[i + 1] == 0x85) ||
		    (data[i] == 0xE2 && i + 2 < size && data[i + 1] == 0x80 && (data[i + 2] == 0xA8 || data[i + 2] == 0xA9)))
			return; /* a line break to YAML, a character to JSON */
	rc = ds_yaml_load((const char *)data, size, keep_document, &yaml, &d);
	if (rc == 0 && rc_json == 0 && yaml.count == 1 && json->count == 1) {
		FUZZ_ASSERT(cJSON_Compare(yaml.items[0]->root, json->items[0]->root, true),
			    "the JSON reader reads another tree than libyaml");
		FUZZ_ASSERT(same_positions(yaml.items[0], yaml.items[0]->root, json->items[0], json->items[0]->root),
			    "the JSON reader gives other positions than libyaml");
		FUZZ_ASSERT(d.count == json_diags->count, "the JSON reader warns otherwise than libyaml");
		for (size_t i = 0; i < d.count; i++)
			FUZZ_ASSERT(!memcmp(&d.items[i].pos, &json_diags->items[i].pos, sizeof(ds_pos)),
				    "the JSON reader warns elsewhere than libyaml");
	}
	free_docs(&yaml);
	ds_diag_list_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bounds b = bounds_of(data, size);
	struct docs full = {0}, filtered = {0};
	ds_diag_list d1 = {0}, d2 = {0};
	int rc1 = ds_yaml_load_filtered((const char *)data, size, NULL, keep_document, &full, &d1);
	int rc2 = ds_yaml_load_filtered((const char *)data, size, wanted, keep_document, &filtered, &d2);

	check_diags(&d1, rc1, &b);
	check_diags(&d2, rc2, &b);
	compare_loads(rc1, &full, rc2, &filtered, &d2);
	if (ds_json_sniff((const char *)data, size))
		compare_json_with_yaml(data, size, rc1, &full, &d1);
	for (size_t i = 0; i < full.count; i++) {
		check_tree(full.items[i], full.items[i]->root, &b, 0);
		check_object(full.items[i], full.items[i]->root, &b, 0);
	}
	free_docs(&full);
	free_docs(&filtered);
	ds_diag_list_free(&d1);
	ds_diag_list_free(&d2);
	return 0;
}
