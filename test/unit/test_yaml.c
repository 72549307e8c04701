/* test_yaml.c - the positioned YAML/JSON loader: values, positions, YAML 1.1
 * scalars, anchors and merge keys, repeated keys, BOM, CRLF, documents,
 * ds_document_locate, and errors with their positions. Expected values are
 * counted by hand from the test text, or are what kubectl reads from it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "yaml/document.h"
#include "rules/rules.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define MAX_DOCS 64

/* What one ds_yaml_load call produced. */
struct loaded {
	ds_document *docs[MAX_DOCS];
	size_t count;
	ds_diag_list diags;
	int rc;
};

/* What a test still holds when an assertion ends it early; the teardown
 * releases it so that a failing test does not also leak. (Tests keep their
 * struct loaded in static storage, which outlives the early end.) */
static struct loaded *held_loads[4];
static void *held_mem[4];

static void hold_load(struct loaded *l)
{
	for (size_t i = 0; i < 4; i++)
		if (!held_loads[i] || held_loads[i] == l) {
			held_loads[i] = l;
			return;
		}
}

/* Returns p, released by the teardown unless the test frees it with
 * drop(). */
static void *hold(void *p)
{
	assert_non_null(p);
	for (size_t i = 0; i < 4; i++)
		if (!held_mem[i]) {
			held_mem[i] = p;
			return p;
		}
	fail_msg("too many held blocks");
	return p;
}

static void drop(void *p)
{
	for (size_t i = 0; i < 4; i++)
		if (held_mem[i] == p)
			held_mem[i] = NULL;
	free(p);
}

static void release(struct loaded *l);

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < 4; i++) {
		if (held_loads[i])
			release(held_loads[i]);
		free(held_mem[i]);
		held_mem[i] = NULL;
	}
	return 0;
}

static int collect(void *data, ds_document *doc)
{
	struct loaded *l = data;

	if (l->count == MAX_DOCS) {
		ds_document_free(doc);
		return -1;
	}
	l->docs[l->count++] = doc;
	return 0;
}

static void load_n(const char *text, size_t len, struct loaded *l)
{
	memset(l, 0, sizeof(*l));
	hold_load(l);
	l->rc = ds_yaml_load(text, len, collect, l, &l->diags);
}

/* What lint reads whole: DaemonSets and lists. */
static bool lint_wants(const char *kind)
{
	size_t len = kind ? strlen(kind) : 0;

	return kind && (!strcmp(kind, "DaemonSet") || (len >= 4 && !strcmp(kind + len - 4, "List")));
}

/* As load_n(), through the filtered load lint uses. */
static void load_filtered_n(const char *text, size_t len, struct loaded *l)
{
	memset(l, 0, sizeof(*l));
	hold_load(l);
	l->rc = ds_yaml_load_filtered(text, len, lint_wants, collect, l, &l->diags);
}

static void load(const char *text, struct loaded *l)
{
	load_n(text, strlen(text), l);
}

static void release(struct loaded *l)
{
	for (size_t i = 0; i < l->count; i++)
		ds_document_free(l->docs[i]);
	ds_diag_list_free(&l->diags);
	memset(l, 0, sizeof(*l));
	for (size_t i = 0; i < 4; i++)
		if (held_loads[i] == l)
			held_loads[i] = NULL;
}

/* Loads text that must be one document without any diagnostic. */
static ds_document *load_one(const char *text, struct loaded *l)
{
	load(text, l);
	if (l->rc != 0 || l->diags.count)
		fail_msg("unexpected rc %d / diagnostic: %s", l->rc,
			 l->diags.count ? l->diags.items[0].message : "-");
	assert_int_equal(l->count, 1);
	return l->docs[0];
}

/* The first error diagnostic, which must exist. */
static const ds_diag *first_error(const struct loaded *l)
{
	for (size_t i = 0; i < l->diags.count; i++)
		if (l->diags.items[i].is_error)
			return &l->diags.items[i];
	fail_msg("no error diagnostic (rc %d)", l->rc);
	return NULL;
}

static const ds_node_info *info_at(const ds_document *doc, const char *pointer)
{
	const cJSON *item = ds_pointer_get(doc->root, pointer);
	const ds_node_info *info;

	if (!item)
		fail_msg("%s: no such item", pointer);
	info = ds_document_where(doc, item);
	if (!info)
		fail_msg("%s: no position", pointer);
	return info;
}

/* The key and value positions of the item at pointer. */
static void expect_pos(const ds_document *doc, const char *pointer, unsigned kl, unsigned kc, unsigned vl,
		       unsigned vc)
{
	const ds_node_info *info = info_at(doc, pointer);

	if (info->key.line != kl || info->key.column != kc || info->value.line != vl || info->value.column != vc)
		fail_msg("%s: key %u:%u value %u:%u, want key %u:%u value %u:%u", pointer, info->key.line,
			 info->key.column, info->value.line, info->value.column, kl, kc, vl, vc);
}

static const char *string_at(const ds_document *doc, const char *pointer)
{
	const cJSON *item = ds_pointer_get(doc->root, pointer);

	if (!cJSON_IsString(item))
		fail_msg("%s is not a string", pointer);
	return item->valuestring;
}

static double number_at(const ds_document *doc, const char *pointer)
{
	const cJSON *item = ds_pointer_get(doc->root, pointer);

	if (!cJSON_IsNumber(item))
		fail_msg("%s is not a number", pointer);
	return item->valuedouble;
}

/* ---- positions ---- */

static const char block_text[] =
	"apiVersion: apps/v1\n"          /* 1 */
	"kind: DaemonSet\n"              /* 2 */
	"metadata:\n"                    /* 3 */
	"  name: fluentd\n"              /* 4 */
	"  labels: {app: x, b: \"y\"}\n" /* 5 */
	"spec:\n"                        /* 6 */
	"  template:\n"                  /* 7 */
	"    spec:\n"                    /* 8 */
	"      containers:\n"            /* 9 */
	"        - name: a\n"            /* 10 */
	"          image: 'b'\n"         /* 11 */
	"      restartPolicy: Never\n";  /* 12 */

static void test_block_positions(void **state)
{
	static struct loaded l;
	ds_document *doc = load_one(block_text, &l);

	(void)state;
	assert_string_equal(string_at(doc, "/kind"), "DaemonSet");
	expect_pos(doc, "/apiVersion", 1, 1, 1, 13);
	expect_pos(doc, "/kind", 2, 1, 2, 7);
	expect_pos(doc, "/metadata/name", 4, 3, 4, 9);
	expect_pos(doc, "/metadata/labels", 5, 3, 5, 11);
	expect_pos(doc, "/metadata/labels/app", 5, 12, 5, 17);
	expect_pos(doc, "/metadata/labels/b", 5, 20, 5, 23);
	expect_pos(doc, "/spec/template/spec", 8, 5, 9, 7);
	expect_pos(doc, "/spec/template/spec/containers", 9, 7, 10, 9);
	expect_pos(doc, "/spec/template/spec/containers/0", 0, 0, 10, 11);
	expect_pos(doc, "/spec/template/spec/containers/0/name", 10, 11, 10, 17);
	expect_pos(doc, "/spec/template/spec/containers/0/image", 11, 11, 11, 18);
	expect_pos(doc, "/spec/template/spec/restartPolicy", 12, 7, 12, 22);
	/* the root has no key */
	expect_pos(doc, "", 0, 0, 1, 1);
	release(&l);
}

static void test_indentless_sequence_positions(void **state)
{
	static struct loaded l;
	ds_document *doc = load_one("items:\n- a\n- b: 1\n  c: 2\n", &l);

	(void)state;
	expect_pos(doc, "/items/0", 0, 0, 2, 3);
	expect_pos(doc, "/items/1/b", 3, 3, 3, 6);
	expect_pos(doc, "/items/1/c", 4, 3, 4, 6);
	release(&l);
}

static const char json_text[] =
	"{\n"                                  /* 1 */
	"  \"apiVersion\": \"apps/v1\",\n"     /* 2 */
	"  \"kind\": \"DaemonSet\",\n"         /* 3 */
	"  \"metadata\": {\"name\": \"x\"},\n" /* 4 */
	"  \"spec\": {\n"                      /* 5 */
	"    \"template\": {\n"                /* 6 */
	"      \"spec\": {\n"                  /* 7 */
	"        \"restartPolicy\": \"Never\",\n" /* 8 */
	"        \"n\": [1, 2.5, true, null]\n"   /* 9 */
	"      }\n"
	"    }\n"
	"  }\n"
	"}\n";

static void test_json_positions(void **state)
{
	static struct loaded l;
	ds_document *doc = load_one(json_text, &l);

	(void)state;
	expect_pos(doc, "", 0, 0, 1, 1);
	expect_pos(doc, "/kind", 3, 3, 3, 11);
	expect_pos(doc, "/metadata", 4, 3, 4, 15);
	expect_pos(doc, "/metadata/name", 4, 16, 4, 24);
	expect_pos(doc, "/spec/template/spec", 7, 7, 7, 15);
	expect_pos(doc, "/spec/template/spec/restartPolicy", 8, 9, 8, 26);
	expect_pos(doc, "/spec/template/spec/n/1", 0, 0, 9, 18);
	assert_string_equal(string_at(doc, "/spec/template/spec/restartPolicy"), "Never");
	assert_true(number_at(doc, "/spec/template/spec/n/1") == 2.5);
	assert_true(cJSON_IsTrue(ds_pointer_get(doc->root, "/spec/template/spec/n/2")));
	assert_true(cJSON_IsNull(ds_pointer_get(doc->root, "/spec/template/spec/n/3")));
	release(&l);
}

static void test_json_minified_and_tabs(void **state)
{
	static struct loaded l;
	ds_document *doc;

	(void)state;
	/* no space after ':' (valid JSON, what many tools write) */
	doc = load_one("{\"a\":1,\"b\":[true,\"s\"],\"c\":{\"d\":\"e\"}}", &l);
	assert_true(number_at(doc, "/a") == 1);
	assert_string_equal(string_at(doc, "/b/1"), "s");
	assert_string_equal(string_at(doc, "/c/d"), "e");
	expect_pos(doc, "/a", 1, 2, 1, 6);
	expect_pos(doc, "/b", 1, 8, 1, 12);
	expect_pos(doc, "/b/1", 0, 0, 1, 18);
	release(&l);
	/* JSON indented with tabs */
	doc = load_one("{\n\t\"a\": {\n\t\t\"b\": \"c\"\n\t}\n}\n", &l);
	assert_string_equal(string_at(doc, "/a/b"), "c");
	expect_pos(doc, "/a/b", 3, 3, 3, 8);
	release(&l);
	/* JSON string escapes */
	doc = load_one("{\"s\": \"a\\\"b\\\\c\\/d\\u00e9\\n\"}", &l);
	assert_string_equal(string_at(doc, "/s"), "a\"b\\c/d\xc3\xa9\n");
	release(&l);
}

/* ---- JSON streams, as kubectl reads a file that starts with "{" ---- */

/* As load_n(), reading a manifest (JSON streams as JSON) whole. */
static void load_manifest_n(const char *text, size_t len, struct loaded *l)
{
	memset(l, 0, sizeof(*l));
	hold_load(l);
	l->rc = ds_yaml_load_filtered(text, len, NULL, collect, l, &l->diags);
}

static void load_manifest(const char *text, struct loaded *l)
{
	load_manifest_n(text, strlen(text), l);
}

/* Whether a and b (items of docs da and db) have the same positions,
 * and so everything inside them. */
static bool same_positions(const ds_document *da, const cJSON *a, const ds_document *db, const cJSON *b,
			   char *why, size_t size)
{
	const ds_node_info *ia = ds_document_where(da, a), *ib = ds_document_where(db, b);

	if (!ia || !ib || memcmp(&ia->key, &ib->key, sizeof(ds_pos)) || memcmp(&ia->value, &ib->value, sizeof(ds_pos)) ||
	    memcmp(&ia->value_end, &ib->value_end, sizeof(ds_pos)) || ia->style != ib->style) {
		if (ia && ib)
			snprintf(why, size, "%s: key %u:%u/%u:%u value %u:%u/%u:%u end %u:%u/%u:%u style %c/%c",
				 a->string ? a->string : "(item)", ia->key.line, ia->key.column, ib->key.line,
				 ib->key.column, ia->value.line, ia->value.column, ib->value.line, ib->value.column,
				 ia->value_end.line, ia->value_end.column, ib->value_end.line, ib->value_end.column,
				 ia->style, ib->style);
		else
			snprintf(why, size, "%s: no position", a->string ? a->string : "(item)");
		return false;
	}
	for (a = a->child, b = b->child; a && b; a = a->next, b = b->next)
		if (!same_positions(da, a, db, b, why, size))
			return false;
	return true;
}

/* Valid JSON of one document: the JSON reader reads it as libyaml does,
 * tree, positions and warnings alike (lint --fix edits by them). */
static void expect_json_as_yaml(const char *text)
{
	static struct loaded y, j;
	char why[256] = "";

	load(text, &y);
	load_manifest(text, &j);
	if (y.rc != 0 || j.rc != 0 || y.count != 1 || j.count != 1 ||
	    !cJSON_Compare(y.docs[0]->root, j.docs[0]->root, true) ||
	    !same_positions(y.docs[0], y.docs[0]->root, j.docs[0], j.docs[0]->root, why, sizeof(why)) ||
	    y.diags.count != j.diags.count ||
	    (y.diags.count && memcmp(&y.diags.items[0].pos, &j.diags.items[0].pos, sizeof(ds_pos)))) {
		if (!*why)
			snprintf(why, sizeof(why), "rc %d/%d, %zu/%zu documents, %zu/%zu diagnostics", y.rc, j.rc, y.count,
				 j.count, y.diags.count, j.diags.count);
		release(&y);
		release(&j);
		fail_msg("%s\n(YAML/JSON) %s", text, why);
	}
	release(&y);
	release(&j);
}

static void test_json_read_as_yaml_reads_it(void **state)
{
	(void)state;
	expect_json_as_yaml(json_text);
	expect_json_as_yaml("{\"a\":1,\"b\":[true,\"s\"],\"c\":{\"d\":\"e\"}}");
	expect_json_as_yaml("{\n\t\"a\": {\n\t\t\"b\": \"c\"\n\t}\n}\n");
	expect_json_as_yaml("{\"s\": \"a\\\"b\\\\c\\/d\\u00e9\\n\\t\\b\\f\\r\", \"e\": \"\", \"n\": [-0, 1.5e3, 2E-2, 0.5]}");
	expect_json_as_yaml("\xEF\xBB\xBF{\"a\": 1}");
	expect_json_as_yaml("{\"a\": 1,\r\n \"b\": {\"c\": [1,\r\n 2]}}\r\n");
	expect_json_as_yaml("{\"a\": 1,\r \"b\": 2}\r");
	expect_json_as_yaml("{\"é\": {\"日本\": \"x\", \"b\": [null, false]}, \"c\": {}}");
	expect_json_as_yaml("  \n\n  {\"a\": [[], [{}], {\"b\": {\"c\": \"d\"}}]}  \n");
	expect_json_as_yaml("{\"a\": 1, \"b\": 2, \"a\": 3}");
	expect_json_as_yaml("{\"k\": 12345678901234567890123, \"l\": 1e-400}");
}

static void test_json_surrogates_as_kubectl(void **state)
{
	static struct loaded l;
	ds_document *doc;

	(void)state;
	/* kubectl (Go): a surrogate pair is one character (what Python's
	 * json.dumps writes for an emoji); a surrogate without its pair is
	 * U+FFFD, and what follows it is read on its own */
	load_manifest("{\"p\": \"\\ud83d\\ude00\", \"hi\": \"\\ud83d\", \"lo\": \"\\ude00\", \"ha\": \"\\ud83dA\","
		      " \"hu\": \"\\ud83d\\u0041\", \"hh\": \"\\ud83d\\ud83d\\ude00\", \"lh\": \"\\ude00\\ud83d\","
		      " \"\\ud83d\\ude00\": 1, \"up\": \"\\uD83D\\uDE00\"}", &l);
	assert_int_equal(l.rc, 0);
	doc = l.docs[0];
	assert_string_equal(string_at(doc, "/p"), "\xF0\x9F\x98\x80");
	assert_string_equal(string_at(doc, "/hi"), "\xEF\xBF\xBD");
	assert_string_equal(string_at(doc, "/lo"), "\xEF\xBF\xBD");
	assert_string_equal(string_at(doc, "/ha"), "\xEF\xBF\xBD" "A");
	assert_string_equal(string_at(doc, "/hu"), "\xEF\xBF\xBD" "A");
	assert_string_equal(string_at(doc, "/hh"), "\xEF\xBF\xBD\xF0\x9F\x98\x80");
	assert_string_equal(string_at(doc, "/lh"), "\xEF\xBF\xBD\xEF\xBF\xBD");
	assert_string_equal(string_at(doc, "/up"), "\xF0\x9F\x98\x80");
	assert_true(number_at(doc, "/\xF0\x9F\x98\x80") == 1);
	/* columns count the text as written: "\ud83d\ude00" is 14 */
	expect_pos(doc, "/hi", 1, 23, 1, 29);
	release(&l);
	/* and a character written as itself is one column */
	load_manifest("{\"e\": \"\xF0\x9F\x98\x80\", \"b\": 1}", &l);
	assert_int_equal(l.rc, 0);
	expect_pos(l.docs[0], "/b", 1, 12, 1, 17);
	release(&l);
}

static void test_json_stream_of_values(void **state)
{
	static struct loaded l;

	(void)state;
	/* kubectl reads every value: objects one after the other, with or
	 * without white space between; a null is no object */
	load_manifest("{\"kind\": \"A\"}{\"kind\": \"B\"} {\"kind\": \"C\"}\n{\"kind\":\n \"D\"}\nnull {}", &l);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.count, 6);
	assert_string_equal(string_at(l.docs[0], "/kind"), "A");
	assert_string_equal(string_at(l.docs[1], "/kind"), "B");
	expect_pos(l.docs[1], "/kind", 1, 15, 1, 23);
	expect_pos(l.docs[2], "/kind", 1, 29, 1, 37);
	expect_pos(l.docs[3], "/kind", 2, 2, 3, 2);
	expect_pos(l.docs[3], "", 0, 0, 2, 1);
	assert_true(cJSON_IsNull(l.docs[4]->root));
	assert_true(cJSON_IsObject(l.docs[5]->root));
	release(&l);
	/* leading white space as Go's unicode.IsSpace has it still makes the
	 * text JSON (then refused where JSON allows no such space), within
	 * the first 4096 bytes; further in, the text is YAML */
	load_manifest("\xEF\xBB\xBF \r\n{\"a\": \"\\ud83d\\ude00\"}", &l);
	assert_int_equal(l.rc, 0);
	assert_string_equal(string_at(l.docs[0], "/a"), "\xF0\x9F\x98\x80");
	expect_pos(l.docs[0], "/a", 2, 2, 2, 7);
	release(&l);
	load_manifest("\xC2\xA0{\"a\": 1}", &l);
	assert_int_equal(l.rc, -1);
	assert_int_equal(first_error(&l)->pos.column, 1);
	release(&l);
	{
		char *text = hold(malloc(4200));
		size_t n;
		for (size_t spaces = 4095; spaces <= 4096; spaces++) {
			memset(text, ' ', spaces);
			n = spaces + (size_t)sprintf(text + spaces, "{\"a\": \"\\ud83d\\ude00\"}");
			load_manifest_n(text, n, &l);
			/* libyaml refuses the surrogate escapes: read as YAML */
			assert_int_equal(l.rc, spaces < 4096 ? 0 : -1);
			release(&l);
		}
		drop(text);
	}
	/* a sequence first is YAML */
	load_manifest("[{\"a\": 1}, {\"a\": 2}]\n", &l);
	assert_int_equal(l.rc, 0);
	assert_true(cJSON_IsArray(l.docs[0]->root));
	release(&l);
}

/* Loads text as a manifest: an input error at line:column, with words in
 * its message, after `docs` documents. */
static void expect_json_error(const char *text, size_t docs, unsigned line, unsigned column, const char *words)
{
	static struct loaded l;
	const ds_diag *d;

	load_manifest(text, &l);
	if (l.rc != -1 || l.count != docs) {
		release(&l);
		fail_msg("%s: rc %d, %zu documents; want an error after %zu", text, l.rc, l.count, docs);
	}
	d = first_error(&l);
	if (d->pos.line != line || d->pos.column != column || !strstr(d->message, words)) {
		char got[512];
		snprintf(got, sizeof(got), "%u:%u %s", d->pos.line, d->pos.column, d->message);
		release(&l);
		fail_msg("%s: error %s, want %u:%u \"%s\"", text, got, line, column, words);
	}
	release(&l);
}

static void test_json_errors_as_kubectl(void **state)
{
	(void)state;
	/* where kubectl refuses the file (the documents before still read) */
	expect_json_error("{\"a\": 1}\n---\n{\"b\": 2}\n", 1, 2, 2, "in numeric literal");
	expect_json_error("{\"a\": 1}\napiVersion: v1\n", 1, 2, 1, "looking for beginning of value");
	expect_json_error("{apiVersion: v1, kind: ConfigMap}\n", 0, 1, 2, "is JSON, as kubectl reads it");
	expect_json_error("{\"a\": 1,}", 0, 1, 9, "beginning of object key string");
	expect_json_error("{\"a\": 1, # no\n \"b\": 2}", 0, 1, 10, "'#'");
	expect_json_error("{\"a\": 1e400}", 0, 1, 7, "1e400");
	expect_json_error("{\"a\": -}", 0, 1, 8, "numeric literal");
	expect_json_error("{\"a\": 1.}", 0, 1, 9, "decimal point");
	expect_json_error("{\"a\": 1e+}", 0, 1, 10, "exponent");
	expect_json_error("{\"a\": tru}", 0, 1, 10, "literal true");
	expect_json_error("{\"a\": 'x'}", 0, 1, 7, "beginning of value");
	expect_json_error("{\"a\": \"\\x41\"}", 0, 1, 9, "string escape code");
	expect_json_error("{\"a\": \"\\u12g4\"}", 0, 1, 12, "hexadecimal");
	expect_json_error("{\"a\": \"x\ty\"}", 0, 1, 9, "in string literal");
	expect_json_error("{\"a\": \"x\xff\"}", 0, 1, 9, "UTF-8");
	expect_json_error("{\"a\": \"x", 0, 1, 9, "end of JSON input");
	expect_json_error("{\"a\": [1, 2}", 0, 1, 12, "after array element");
	expect_json_error("{\"a\" 1}", 0, 1, 6, "after object key");
	expect_json_error("{\"a\": 1 \"b\": 2}", 0, 1, 9, "key:value pair");
	expect_json_error("{\"a\": 1}}", 1, 1, 9, "beginning of value");
	expect_json_error("{\"a\": \"\\u0000\"}", 0, 1, 7, "NUL");
	expect_json_error("{\"a\": 1,\n", 0, 2, 1, "end of JSON input");
}

static void test_json_nesting_limit(void **state)
{
	static struct loaded l;
	size_t n = 100000, cap = n * 7 + 64, used;
	char *text = hold(malloc(cap));
	static const size_t depths[] = {DS_YAML_MAX_DEPTH, DS_YAML_MAX_DEPTH + 1, 100000};
	clock_t t0;

	(void)state;
	/* {"kind": "DaemonSet", "x": {"a": {"a": ... {}}}}: the root is the
	 * first level, the jth {"a": (at column 28 + 6 * (j - 1)) the
	 * (j + 1)th, the innermost {} the deepest. 512 levels are read; the
	 * 513th is refused at its "{", column 28 + 6 * 511, in documents lint
	 * reads and in those it skips; 100,000 levels are refused at once */
	for (int kind = 0; kind < 2; kind++) {
		for (size_t d = 0; d < 3; d++) {
			size_t levels = depths[d];
			used = (size_t)snprintf(text, cap, "{\"kind\": \"%s\", \"x\": ", kind ? "ConfigMap" : "DaemonSet");
			for (size_t i = 0; i + 2 < levels; i++)
				used += (size_t)snprintf(text + used, cap - used, "{\"a\": ");
			used += (size_t)snprintf(text + used, cap - used, "{}");
			for (size_t i = 0; i + 1 < levels; i++)
				text[used++] = '}';
			t0 = clock();
			for (int filtered = 0; filtered < 2; filtered++) {
				memset(&l, 0, sizeof(l));
				hold_load(&l);
				l.rc = ds_yaml_load_filtered(text, used, filtered ? lint_wants : NULL, collect, &l, &l.diags);
				if (levels == DS_YAML_MAX_DEPTH) {
					assert_int_equal(l.rc, 0);
				} else {
					assert_int_equal(l.rc, -1);
					assert_non_null(strstr(first_error(&l)->message, "deeper than 512"));
					assert_int_equal(first_error(&l)->pos.line, 1);
					assert_int_equal(first_error(&l)->pos.column, 28 + 6 * 511);
				}
				release(&l);
			}
			if (!RUNNING_ON_VALGRIND && (double)(clock() - t0) / CLOCKS_PER_SEC > 1.0)
				fail_msg("%zu levels of JSON: %.2fs", levels, (double)(clock() - t0) / CLOCKS_PER_SEC);
		}
	}
	drop(text);
}

static void test_flow_positions(void **state)
{
	static struct loaded l;
	ds_document *doc = load_one("a: [x, {b: 1, c: [2]}]\nd: {e: f}\n", &l);

	(void)state;
	expect_pos(doc, "/a", 1, 1, 1, 4);
	expect_pos(doc, "/a/0", 0, 0, 1, 5);
	expect_pos(doc, "/a/1", 0, 0, 1, 8);
	expect_pos(doc, "/a/1/b", 1, 9, 1, 12);
	expect_pos(doc, "/a/1/c/0", 0, 0, 1, 19);
	expect_pos(doc, "/d/e", 2, 5, 2, 8);
	release(&l);
}

static void test_utf8_columns_count_characters(void **state)
{
	static struct loaded l;
	/* "é" and "日本" are 2 and 6 bytes but 1 and 2 characters */
	ds_document *doc = load_one("a: {é: 1, b: 2}\n日本: {c: d}\n", &l);

	(void)state;
	expect_pos(doc, "/a/b", 1, 11, 1, 14);
	expect_pos(doc, "/日本/c", 2, 6, 2, 9);
	release(&l);
}

static void test_block_scalars(void **state)
{
	static struct loaded l;
	ds_document *doc = load_one("a: |\n  line1\n  line2\nb: >\n  x\n  y\nc: |-\n  z\n", &l);

	(void)state;
	assert_string_equal(string_at(doc, "/a"), "line1\nline2\n");
	assert_string_equal(string_at(doc, "/b"), "x y\n");
	assert_string_equal(string_at(doc, "/c"), "z");
	expect_pos(doc, "/a", 1, 1, 1, 4);
	expect_pos(doc, "/c", 7, 1, 7, 4);
	release(&l);
}

/* ---- scalars as sigs.k8s.io/yaml resolves them ---- */

/* Loads "v: TEXT" and returns a copy of the value (caller deletes). */
static cJSON *value_of(const char *text)
{
	char buf[256];
	static struct loaded l;
	cJSON *copy;

	snprintf(buf, sizeof(buf), "v: %s\n", text);
	load(buf, &l);
	if (l.rc != 0 || l.count != 1) {
		release(&l);
		fail_msg("v: %s does not load", text);
	}
	copy = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(l.docs[0]->root, "v"), 1);
	release(&l);
	assert_non_null(copy);
	return copy;
}

static void want_bool(const char *text, bool want)
{
	cJSON *v = value_of(text);
	bool ok = cJSON_IsBool(v) && cJSON_IsTrue(v) == want;

	cJSON_Delete(v);
	if (!ok)
		fail_msg("%s: want %s", text, want ? "true" : "false");
}

static void want_null(const char *text)
{
	cJSON *v = value_of(text);
	bool ok = cJSON_IsNull(v);

	cJSON_Delete(v);
	if (!ok)
		fail_msg("'%s': want null", text);
}

static void want_number(const char *text, double want)
{
	cJSON *v = value_of(text);
	bool ok = cJSON_IsNumber(v) && v->valuedouble == want;
	const char *type = cJSON_IsNumber(v) ? "number" : cJSON_IsString(v) ? "string" : "other";
	double got = cJSON_IsNumber(v) ? v->valuedouble : 0.0;

	cJSON_Delete(v);
	if (!ok)
		fail_msg("%s: want the number %.17g, got %s %.17g", text, want, type, got);
}

static void want_string(const char *text, const char *want)
{
	cJSON *v = value_of(text);
	bool ok = cJSON_IsString(v) && !strcmp(v->valuestring, want);

	cJSON_Delete(v);
	if (!ok)
		fail_msg("%s: want the string \"%s\"", text, want);
}

static void test_scalars_booleans(void **state)
{
	static const char *const yes[] = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"};
	static const char *const no[] = {"n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		want_bool(yes[i], true);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		want_bool(no[i], false);
	/* not booleans */
	want_string("tRUE", "tRUE");
	want_string("yES", "yES");
	want_string("\"yes\"", "yes");
	want_string("'off'", "off");
	want_string("oN", "oN");
}

static void test_scalars_nulls(void **state)
{
	(void)state;
	want_null("");
	want_null("~");
	want_null("null");
	want_null("Null");
	want_null("NULL");
	want_string("nULL", "nULL");
	want_string("\"null\"", "null");
	want_string("'~'", "~");
	want_string("\"\"", "");
}

static void test_scalars_numbers(void **state)
{
	(void)state;
	want_number("0", 0);
	want_number("42", 42);
	want_number("-12", -12);
	want_number("+12", 12);
	want_number("1_000", 1000);
	want_number("0x1F", 31);
	want_number("0755", 493);
	want_number("08", 8);
	want_number("0b101", 5);
	want_number("-0x10", -16);
	want_number("1.5", 1.5);
	want_number(".5", 0.5);
	want_number("1.", 1);
	want_number("1e3", 1000);
	want_number("-1.5e-3", -0.0015);
	want_number("6.02E+23", 6.02e23);
	/* not numbers */
	want_string("\"123\"", "123");
	want_string("'0x10'", "0x10");
	want_string("1.2.3", "1.2.3");
	want_string("12abc", "12abc");
	want_string("0x", "0x");
	want_string("1e", "1e");
	want_string("1:20", "1:20");
	want_string("2001-12-14", "2001-12-14");
	want_string("Infinity", "Infinity");
	want_string("0b2", "0b2");
	want_string("1e400", "1e400");
}

static void test_scalars_number_prefixes_as_kubectl(void **state)
{
	(void)state;
	/* kubectl (Go's strconv.ParseInt with base 0) reads these as numbers */
	want_number("0o17", 15);
	want_number("0X1F", 31);
	want_number("0B11", 3);
}

/* Loads "v: TEXT" (len bytes of text, which may hold NULs), which must be
 * an input error at line 1, column 4, whose message holds `words`. */
static void want_refused_n(const char *text, size_t len, const char *words)
{
	char buf[256];
	static struct loaded l;
	const ds_diag *d;

	assert_true(len + 4 < sizeof(buf));
	memcpy(buf, "v: ", 3);
	memcpy(buf + 3, text, len);
	buf[3 + len] = '\n';
	load_n(buf, len + 4, &l);
	if (l.rc != -1 || l.count != 0) {
		release(&l);
		fail_msg("v: %s: read, but Kubernetes refuses it", text);
	}
	d = first_error(&l);
	if (d->pos.line != 1 || d->pos.column != 4 || !strstr(d->message, words)) {
		char got[512];
		snprintf(got, sizeof(got), "%u:%u %s", d->pos.line, d->pos.column, d->message);
		release(&l);
		fail_msg("v: %s: error %s, want 1:4 and \"%s\"", text, got, words);
	}
	release(&l);
}

static void want_refused(const char *text, const char *words)
{
	want_refused_n(text, strlen(text), words);
}

static void test_scalars_infinity_and_nan_refused(void **state)
{
	static const char *const words[] = {".inf", "-.inf", "+.inf", ".Inf", "-.INF", ".NaN", ".nan", ".NAN",
					    "!!float .inf", "!!float .nan"};

	(void)state;
	/* kubectl: "json: unsupported value: +Inf": JSON has no infinities
	 * or NaN, so Kubernetes refuses the file */
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		want_refused(words[i], "JSON");
	/* quoted or tagged !!str, they are the strings kubectl reads */
	want_string("\".inf\"", ".inf");
	want_string("'.NaN'", ".NaN");
	want_string("!!str .inf", ".inf");
	/* not in go-yaml's table: plain strings */
	want_string(".infinity", ".infinity");
	want_string("inf", "inf");
	want_string("NaN", "NaN");
}

static void test_scalars_underflow_is_zero(void **state)
{
	(void)state;
	/* kubectl reads 1e-400 as 0 (Go's ParseFloat rounds an underflow
	 * to zero), but 1e400 as a string (an overflow is no float) */
	want_number("1e-400", 0);
	want_number(".1e-400", 0);
	want_number("-1e-400", 0);
	want_string("1e400", "1e400");
	want_string(".5e400", ".5e400");
	/* go-yaml reads a leading "." with Go's ParseFloat: underscores only
	 * between digits */
	want_number(".5_0", 0.5);
	want_string("._5", "._5");
}

static void test_scalars_binary(void **state)
{
	static struct loaded l;
	ds_document *doc;

	(void)state;
	/* kubectl decodes !!binary (base64; line breaks ignored) and reads
	 * the bytes as a string, each byte that starts no UTF-8 character
	 * replaced by U+FFFD */
	want_string("!!binary QWx3YXlz", "Always");
	want_string("!!binary \"QWx3YXlz\"", "Always");
	want_string("!!binary T25GYWlsdXJl", "OnFailure");
	want_string("!!binary /w==", "\xEF\xBF\xBD");
	want_string("!!binary 4oKs", "\xE2\x82\xAC");
	want_string("!!binary 4oJB", "\xEF\xBF\xBD\xEF\xBF\xBD" "A");
	want_string("!!binary ''", "");
	doc = load_one("v: !!binary |\n  QWx3\n  YXlz\n", &l);
	assert_string_equal(string_at(doc, "/v"), "Always");
	expect_pos(doc, "/v", 1, 1, 1, 4);
	release(&l);
	/* kubectl: "!!binary value contains invalid base64 data" */
	want_refused("!!binary QWx3 YXlz", "base64");
	want_refused("!!binary QWx3YXl", "base64");
	want_refused("!!binary QQ==QQ==", "base64");
	want_refused("!!binary 12", "base64");
	/* a key: !!binary a2luZA== is "kind" */
	doc = load_one("apiVersion: v1\n!!binary a2luZA==: DaemonSet\n", &l);
	assert_string_equal(string_at(doc, "/kind"), "DaemonSet");
	expect_pos(doc, "/kind", 2, 1, 2, 20); /* "!!binary a2luZA==: " is 19 columns */
	release(&l);
}

static void test_scalars_tags_that_do_not_fit_refused(void **state)
{
	(void)state;
	/* kubectl: "cannot decode !!str `Always` as a !!null" and the like */
	want_refused("!!null Always", "!!null");
	want_refused("!!null 0", "!!null");
	want_refused("!!int abc", "!!int");
	want_refused("!!int 1.5", "!!int");
	want_refused("!!int \"1\\0\"", "!!int");
	want_refused("!!bool Always", "!!bool");
	want_refused("!!bool 1", "!!bool");
	want_refused("!!float 1e400", "!!float");
	want_refused("!!float abc", "!!float");
	want_refused("!!float 18446744073709551615", "!!float");
	want_refused("!!timestamp abc", "!!timestamp");
	want_refused("!!timestamp 2001-02-29", "!!timestamp");
	want_refused("!!timestamp 2001-12-14T21:59:43", "!!timestamp");
	want_refused("!<tag:yaml.org,2002:null> x", "!!null");
	/* and what fits, as kubectl reads it */
	want_null("!!null");
	want_null("!!null ''");
	want_null("!!null ~");
	want_number("!!int \"12\"", 12);
	want_number("!!int 0x10", 16);
	want_number("!!float 12", 12);
	want_bool("!!bool yes", true);
	want_bool("!!bool \"off\"", false);
	want_string("!!timestamp 2001-12-14", "2001-12-14");
	want_string("!!timestamp 2000-02-29", "2000-02-29");
	want_string("!!timestamp 2001-12-14T21:59:43.10Z", "2001-12-14T21:59:43.10Z");
	want_string("!!timestamp 2001-12-14t21:59:43-05:00", "2001-12-14t21:59:43-05:00");
	want_string("!!timestamp 2001-12-14 21:59:43.10", "2001-12-14 21:59:43.10");
	/* tags go-yaml does not resolve keep the text a string */
	want_string("!foo bar", "bar");
	want_string("!!foo 12", "12");
	want_string("!!merge x", "x");
	want_string("!!map x", "x");
	want_string("!<tag:yaml.org,2002:str> 12", "12");
}

/* A string holding a NUL cannot be compared as a C string: "Always\0"
 * must never read as "Always". */
static void test_scalars_nul_refused(void **state)
{
	static struct loaded l;
	static const char configmap[] = "apiVersion: v1\ndata: {x: \"a\\0b\"}\nkind: ConfigMap\n";

	(void)state;
	want_refused("\"Always\\u0000\"", "NUL");
	want_refused("\"Always\\0\"", "NUL");
	want_refused("\"Always\\x00\"", "NUL");
	want_refused("\"\\U00000000\"", "NUL");
	want_refused("!!binary QWx3YXlzAA==", "NUL");
	/* a key too: at the key */
	load("a: 1\n\"k\\0\": 2\n", &l);
	assert_int_equal(l.rc, -1);
	assert_int_equal(first_error(&l)->pos.line, 2);
	assert_int_equal(first_error(&l)->pos.column, 1);
	assert_non_null(strstr(first_error(&l)->message, "NUL"));
	release(&l);
	/* lint does not read a ConfigMap whole: its strings may hold
	 * anything (as `kubectl get -o yaml` writes it, data before kind) */
	load_filtered_n(configmap, sizeof(configmap) - 1, &l);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.count, 1);
	assert_string_equal(string_at(l.docs[0], "/kind"), "ConfigMap");
	release(&l);
	load_n(configmap, sizeof(configmap) - 1, &l);
	assert_int_equal(l.rc, -1);
	assert_int_equal(first_error(&l)->pos.line, 2);
	assert_int_equal(first_error(&l)->pos.column, 11);
	release(&l);
	/* a kind holding a NUL is no kind it could be compared with */
	load_filtered_n("kind: \"DaemonSet\\0\"\n", 20, &l);
	assert_int_equal(l.rc, -1);
	assert_int_equal(first_error(&l)->pos.column, 7);
	release(&l);
}

static void test_scalars_explicit_tags(void **state)
{
	(void)state;
	/* kubectl: "!!str 123" and "! 12" are the strings "123" and "12" */
	want_string("!!str 123", "123");
	want_string("!!str true", "true");
	want_string("! 12", "12");
}

static void test_keys_resolved(void **state)
{
	static struct loaded l;
	ds_document *doc = load_one("yes: a\n\"no\": b\nOFF: c\n1: d\n", &l);

	(void)state;
	/* Go's JSON encoding of YAML 1.1 keys: booleans spelled true/false */
	assert_string_equal(string_at(doc, "/true"), "a");
	assert_string_equal(string_at(doc, "/false"), "c");
	assert_string_equal(string_at(doc, "/no"), "b");
	assert_string_equal(string_at(doc, "/1"), "d");
	release(&l);
}

static void test_keys_numbers_as_kubectl(void **state)
{
	static struct loaded l;
	ds_document *doc = load_one("0x10: a\n", &l);

	(void)state;
	/* kubectl reads the key 0x10 as the integer 16 and writes it "16" */
	assert_non_null(ds_pointer_get(doc->root, "/16"));
	release(&l);
}

static void test_keys_spelled_as_kubectl_writes_them(void **state)
{
	static struct loaded l;
	static const char *const keys[][2] = {
		/* floats: Go's FormatFloat(f, 'g', -1, 32), as sigs.k8s.io/yaml
		 * writes a float key */
		{"1e6", "1e+06"}, {"1000000", "1000000"}, {"0.1", "0.1"}, {"1.0", "1"}, {"123456.5", "123456.5"},
		{"3.14159265358979", "3.1415927"}, {"0.00001", "1e-05"}, {"0.0001", "0.0001"}, {"-0.0", "-0"},
		{".Inf", ".inf"}, {"+.inf", ".inf"}, {"-.INF", "-.inf"}, {".NaN", ".nan"}, {"1e300", ".inf"},
		{"!!float 12", "12"},
		/* integers: exact, however large */
		{"9223372036854775807", "9223372036854775807"}, {"-9223372036854775808", "-9223372036854775808"},
		{"9007199254740993", "9007199254740993"}, {"0x10", "16"}, {"0o17", "15"},
		/* the rest */
		{"yes", "true"}, {"Off", "false"}, {"2001-12-14", "2001-12-14"}, {"\"~\"", "~"}, {"!!str 1", "1"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "%s: x\n", keys[i][0]);
		load(text, &l);
		if (l.rc != 0 || l.count != 1 || !l.docs[0]->root->child ||
		    strcmp(l.docs[0]->root->child->string, keys[i][1])) {
			const char *got = l.count && l.docs[0]->root->child ? l.docs[0]->root->child->string : "(none)";
			char shown[64];
			snprintf(shown, sizeof(shown), "%s", got);
			release(&l);
			fail_msg("key %s: \"%s\", want \"%s\"", keys[i][0], shown, keys[i][1]);
		}
		release(&l);
	}
}

static void test_keys_kubectl_refuses(void **state)
{
	static const char *const keys[] = {"~", "null", "NULL", "!!null x0", "18446744073709551615", "0xFFFFFFFFFFFFFFFF"};
	static struct loaded l;

	(void)state;
	/* kubectl: "unsupported map key of type: %!s(<nil>)", "... uint64" */
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "a: 1\n%s: x\n", keys[i]);
		load(text, &l);
		if (l.rc != -1 || first_error(&l)->pos.line != 2 || first_error(&l)->pos.column != 1) {
			release(&l);
			fail_msg("key %s: read, or refused elsewhere than at 2:1", keys[i]);
		}
		release(&l);
	}
}

static void test_merge_keys_by_tag(void **state)
{
	static struct loaded l;
	ds_document *doc = load_one("b: &b {x: 1}\n"
				    "m1: {! <<: *b}\n"
				    "m2: {!!merge <<: *b}\n"
				    "m3: {\"<<\": *b}\n"
				    "m4: {!!str <<: *b}\n"
				    "m5: {<<: *b}\n",
				    &l);

	(void)state;
	/* go-yaml: "<<" is a merge key when plain (or tagged ! or !!merge);
	 * quoted or !!str it is a key like any other (kubectl agrees) */
	assert_true(number_at(doc, "/m1/x") == 1);
	assert_true(number_at(doc, "/m2/x") == 1);
	assert_true(number_at(doc, "/m3/<</x") == 1);
	assert_true(number_at(doc, "/m4/<</x") == 1);
	assert_true(number_at(doc, "/m5/x") == 1);
	release(&l);
}

/* ---- anchors, aliases, merge keys ---- */

static const char anchor_text[] =
	"base: &b\n"    /* 1 */
	"  a: 1\n"      /* 2 */
	"  c: 3\n"      /* 3 */
	"x: *b\n"       /* 4 */
	"m:\n"          /* 5 */
	"  <<: *b\n"    /* 6 */
	"  a: 2\n"      /* 7 */
	"list: [&i 5, *i]\n"; /* 8 */

static void test_anchors_and_aliases(void **state)
{
	static struct loaded l;
	ds_document *doc = load_one(anchor_text, &l);
	const ds_node_info *info;

	(void)state;
	assert_true(number_at(doc, "/x/a") == 1);
	assert_true(number_at(doc, "/x/c") == 3);
	assert_true(number_at(doc, "/list/1") == 5);
	/* the anchor's own items are not aliased */
	assert_int_equal(info_at(doc, "/base")->anchor_line, 0);
	assert_int_equal(info_at(doc, "/base/a")->anchor_line, 0);
	assert_int_equal(info_at(doc, "/list/0")->anchor_line, 0);
	/* items reached through the alias: the text is where the anchor is */
	info = info_at(doc, "/x");
	assert_int_equal(info->anchor_line, 1);
	assert_int_equal(info->key.line, 4);
	info = info_at(doc, "/x/a");
	assert_int_equal(info->anchor_line, 1);
	assert_int_equal(info->value.line, 2);
	assert_int_equal(info->value.column, 6);
	assert_int_equal(info_at(doc, "/list/1")->anchor_line, 8);
	/* the copies are distinct items */
	assert_ptr_not_equal(ds_pointer_get(doc->root, "/x/a"), ds_pointer_get(doc->root, "/base/a"));
	release(&l);
}

static void test_merge_explicit_keys_win(void **state)
{
	static struct loaded l;
	ds_document *doc = load_one(anchor_text, &l);
	const ds_node_info *info;

	(void)state;
	assert_true(number_at(doc, "/m/a") == 2);
	assert_true(number_at(doc, "/m/c") == 3);
	assert_null(ds_pointer_get(doc->root, "/m/<<"));
	expect_pos(doc, "/m/a", 7, 3, 7, 6);
	/* the merged member: text at the anchor, reached through an alias */
	info = info_at(doc, "/m/c");
	assert_int_equal(info->value.line, 3);
	assert_int_not_equal(info->anchor_line, 0);
	release(&l);
}

static void test_merge_list_earlier_wins(void **state)
{
	static struct loaded l;
	ds_document *doc = load_one("m:\n  <<: [{a: 1}, {a: 2, c: 3}]\n  d: 4\n", &l);

	(void)state;
	assert_true(number_at(doc, "/m/a") == 1);
	assert_true(number_at(doc, "/m/c") == 3);
	assert_true(number_at(doc, "/m/d") == 4);
	assert_int_equal(cJSON_GetArraySize(ds_pointer_get(doc->root, "/m")), 3);
	release(&l);
}

static void test_merge_after_explicit_key_as_kubectl(void **state)
{
	static struct loaded l;
	ds_document *doc = load_one("b: &b {a: 1, c: 2}\nm:\n  a: 9\n  <<: *b\n", &l);

	(void)state;
	/* kubectl (sigs.k8s.io/yaml over go-yaml v2) applies a merge key in
	 * the order it appears: a "<<" after "a" overrides it, giving a: 1 */
	assert_true(number_at(doc, "/m/c") == 2);
	assert_true(number_at(doc, "/m/a") == 1);
	release(&l);
}

static void test_anchor_line_for_alias_before_merge(void **state)
{
	static struct loaded l;
	/* the anchor is defined inside the merge value, the alias after it */
	ds_document *doc = load_one("m:\n  <<: &b {a: 1}\n  c: *b\n", &l);

	(void)state;
	assert_true(number_at(doc, "/m/a") == 1);
	assert_true(number_at(doc, "/m/c/a") == 1);
	assert_int_not_equal(info_at(doc, "/m/c")->anchor_line, 0);
	assert_int_equal(info_at(doc, "/m/c/a")->value.line, 2);
	release(&l);
}

static void test_merge_of_non_mapping_is_error(void **state)
{
	static struct loaded l;

	(void)state;
	load("m:\n  <<: 5\n", &l);
	assert_int_equal(l.rc, -1);
	assert_int_equal(first_error(&l)->pos.line, 2);
	assert_non_null(strstr(first_error(&l)->message, "merge"));
	release(&l);
}

static void test_recursive_alias_is_error(void **state)
{
	static struct loaded l;

	(void)state;
	load("a: &x [1, *x]\n", &l);
	assert_int_equal(l.rc, -1);
	assert_int_equal(l.count, 0);
	assert_non_null(first_error(&l));
	release(&l);
	load("a: &x {b: 1, <<: *x}\n", &l);
	assert_int_equal(l.rc, -1);
	assert_int_equal(l.count, 0);
	release(&l);
}

/* ---- repeated keys ---- */

static void test_repeated_key_last_wins(void **state)
{
	static struct loaded l;
	ds_document *doc;

	(void)state;
	load("a: 1\nb: 2\na: 3\n", &l);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.count, 1);
	doc = l.docs[0];
	assert_true(number_at(doc, "/a") == 3);
	assert_int_equal(cJSON_GetArraySize(doc->root), 2);
	expect_pos(doc, "/a", 3, 1, 3, 4);
	assert_int_equal(l.diags.count, 1);
	assert_false(l.diags.items[0].is_error);
	assert_int_equal(l.diags.items[0].pos.line, 3);
	assert_int_equal(l.diags.items[0].pos.column, 1);
	assert_non_null(strstr(l.diags.items[0].message, "\"a\""));
	release(&l);
}

static void test_repeated_key_nested_and_spelled_differently(void **state)
{
	static struct loaded l;
	ds_document *doc;

	(void)state;
	/* "yes" and "true" are the same key once resolved */
	load("spec:\n  template:\n    x: {p: 1}\n    x:\n      q: 2\n  yes: 1\n  true: 2\n", &l);
	assert_int_equal(l.rc, 0);
	doc = l.docs[0];
	assert_null(ds_pointer_get(doc->root, "/spec/template/x/p"));
	assert_true(number_at(doc, "/spec/template/x/q") == 2);
	expect_pos(doc, "/spec/template/x/q", 5, 7, 5, 10);
	assert_true(number_at(doc, "/spec/true") == 2);
	assert_int_equal(l.diags.count, 2);
	assert_int_equal(l.diags.items[0].pos.line, 4);
	assert_int_equal(l.diags.items[0].pos.column, 5);
	assert_int_equal(l.diags.items[1].pos.line, 7);
	assert_int_equal(l.diags.items[1].pos.column, 3);
	release(&l);
}

static void test_repeated_key_warned_once_through_aliases(void **state)
{
	static struct loaded l;

	(void)state;
	/* one repeated key in the text is one warning, however often an alias
	 * or merge key copies its mapping */
	load("b: &b {a: 1, a: 2}\nc: *b\nd: *b\ne:\n  <<: *b\n", &l);
	assert_int_equal(l.rc, 0);
	assert_true(number_at(l.docs[0], "/d/a") == 2);
	assert_true(number_at(l.docs[0], "/e/a") == 2);
	if (l.diags.count != 1)
		fail_msg("%zu diagnostics for one repeated key", l.diags.count);
	assert_int_equal(l.diags.items[0].pos.line, 1);
	assert_int_equal(l.diags.items[0].pos.column, 14);
	release(&l);
}

static void test_repeated_keys_read_in_linear_time(void **state)
{
	/* 40,000 keys, then the last of them 40,000 times again: each repeat
	 * used to walk every member to find the one it replaces */
	static struct loaded l;
	int n = 40000;
	size_t cap = (size_t)n * 32 + 64, used;
	char *text = hold(malloc(cap));
	clock_t t0;
	double secs;

	(void)state;
	used = (size_t)snprintf(text, cap, "kind: DaemonSet\nlabels:\n");
	for (int i = 0; i < n; i++)
		used += (size_t)snprintf(text + used, cap - used, "  k%d: v\n", i);
	for (int i = 0; i < n; i++)
		used += (size_t)snprintf(text + used, cap - used, "  k%d: w\n", n - 1);
	t0 = clock();
	load_n(text, used, &l);
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.diags.count, (size_t)n);
	assert_int_equal(cJSON_GetArraySize(ds_pointer_get(l.docs[0]->root, "/labels")), n);
	assert_string_equal(string_at(l.docs[0], "/labels/k39999"), "w");
	release(&l);
	drop(text);
	if (!RUNNING_ON_VALGRIND && secs > 2.0)
		fail_msg("a key repeated 40,000 times in a mapping of 40,000: read in %.2fs", secs);
}

static void test_repeated_key_in_json(void **state)
{
	static struct loaded l;

	(void)state;
	load("{\"a\": 1,\n \"a\": 2}", &l);
	assert_int_equal(l.rc, 0);
	assert_true(number_at(l.docs[0], "/a") == 2);
	assert_int_equal(l.diags.count, 1);
	assert_int_equal(l.diags.items[0].pos.line, 2);
	assert_int_equal(l.diags.items[0].pos.column, 2);
	release(&l);
}

/* ---- BOM, CRLF, documents ---- */

static void test_bom(void **state)
{
	static struct loaded l;
	ds_document *doc = load_one("\xEF\xBB\xBF" "a: 1\nb: x\n", &l);

	(void)state;
	assert_true(number_at(doc, "/a") == 1);
	expect_pos(doc, "/a", 1, 1, 1, 4);
	expect_pos(doc, "/b", 2, 1, 2, 4);
	release(&l);
	doc = load_one("\xEF\xBB\xBF{\"a\": 1}", &l);
	expect_pos(doc, "/a", 1, 2, 1, 7);
	release(&l);
}

static void test_crlf(void **state)
{
	static struct loaded l;
	ds_document *doc = load_one("a: 1\r\nb:\r\n  c: x\r\n  d: |\r\n    t1\r\n    t2\r\ne: [1,\r\n  2]\r\n", &l);

	(void)state;
	expect_pos(doc, "/a", 1, 1, 1, 4);
	expect_pos(doc, "/b/c", 3, 3, 3, 6);
	assert_string_equal(string_at(doc, "/b/c"), "x");
	/* line breaks inside a block scalar are normalised to \n */
	assert_string_equal(string_at(doc, "/b/d"), "t1\nt2\n");
	expect_pos(doc, "/e/1", 0, 0, 8, 3);
	release(&l);
}

static void test_multiple_documents(void **state)
{
	static struct loaded l;

	(void)state;
	load("a: 1\n---\nb: 2\n---\nkind: X\nc: [3]\n...\n", &l);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.count, 3);
	assert_int_equal(l.diags.count, 0);
	assert_true(number_at(l.docs[0], "/a") == 1);
	assert_true(number_at(l.docs[1], "/b") == 2);
	expect_pos(l.docs[1], "/b", 3, 1, 3, 4);
	expect_pos(l.docs[2], "/c/0", 0, 0, 6, 5);
	release(&l);
}

static void test_empty_documents(void **state)
{
	static struct loaded l;
	size_t objects = 0;

	(void)state;
	/* nothing at all, only a comment, only white space */
	load("", &l);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.count, 0);
	assert_int_equal(l.diags.count, 0);
	release(&l);
	load("# just a comment\n\n   \n", &l);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.count, 0);
	release(&l);
	/* empty documents among others: none of them is a mapping */
	load("---\n# nothing\n---\n---\na: 1\n---\n", &l);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.diags.count, 0);
	for (size_t i = 0; i < l.count; i++)
		if (cJSON_IsObject(l.docs[i]->root)) {
			objects++;
			assert_true(number_at(l.docs[i], "/a") == 1);
			expect_pos(l.docs[i], "/a", 5, 1, 5, 4);
		} else {
			assert_true(cJSON_IsNull(l.docs[i]->root));
		}
	assert_int_equal(objects, 1);
	release(&l);
}

static void test_non_mapping_roots(void **state)
{
	static struct loaded l;

	(void)state;
	load("- a\n- b\n---\njust text\n---\n42\n", &l);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.count, 3);
	assert_true(cJSON_IsArray(l.docs[0]->root));
	assert_true(cJSON_IsString(l.docs[1]->root));
	assert_true(cJSON_IsNumber(l.docs[2]->root));
	release(&l);
}

/* ---- the filtered load lint uses ---- */

/* The kind of doc, "(none)" when it is not a string. */
static const char *kind_or_none(const ds_document *doc)
{
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc->root, "kind"));

	return kind ? kind : "(none)";
}

/* Loads text whole and filtered: both read it, with one document whose
 * kind is `kind`. */
static void expect_kind_both_ways(const char *text, const char *kind)
{
	static struct loaded whole, filtered;

	load_manifest(text, &whole);
	load_filtered_n(text, strlen(text), &filtered);
	if (whole.rc != 0 || filtered.rc != 0 || whole.count != 1 || filtered.count != 1 ||
	    strcmp(kind_or_none(whole.docs[0]), kind) || strcmp(kind_or_none(filtered.docs[0]), kind)) {
		char got[256];
		snprintf(got, sizeof(got), "whole rc %d kind %s, filtered rc %d kind %s", whole.rc,
			 whole.count ? kind_or_none(whole.docs[0]) : "-", filtered.rc,
			 filtered.count ? kind_or_none(filtered.docs[0]) : "-");
		release(&whole);
		release(&filtered);
		fail_msg("%s: %s; want kind %s both ways", text, got, kind);
	}
	release(&whole);
	release(&filtered);
}

/* Loads text filtered: an input error at line:column, holding words. */
static void expect_filtered_error(const char *text, unsigned line, unsigned column, const char *words)
{
	static struct loaded l;
	const ds_diag *d;

	load_filtered_n(text, strlen(text), &l);
	if (l.rc != -1) {
		release(&l);
		fail_msg("%s: read without error (%zu documents)", text, l.count);
	}
	d = first_error(&l);
	if (d->pos.line != line || d->pos.column != column || !strstr(d->message, words)) {
		char got[512];
		snprintf(got, sizeof(got), "%u:%u %s", d->pos.line, d->pos.column, d->message);
		release(&l);
		fail_msg("%s: error %s, want %u:%u \"%s\"", text, got, line, column, words);
	}
	release(&l);
}

static void test_filtered_kind_given_again(void **state)
{
	(void)state;
	/* a repeated kind that is no string leaves no kind (Kubernetes takes
	 * the last): as a mapping (what the fuzzer found), a sequence, null,
	 * a number, or an alias of a mapping */
	expect_kind_both_ways("kind: ConfigMap\nkind:\n  podSelector: {}\n", "(none)");
	expect_kind_both_ways("kind: ConfigMap\nkind: [DaemonSet]\n", "(none)");
	expect_kind_both_ways("kind: ConfigMap\nkind: ~\n", "(none)");
	expect_kind_both_ways("kind: ConfigMap\nkind: 5\n", "(none)");
	expect_kind_both_ways("m: &m {a: 1}\nkind: ConfigMap\nkind: *m\n", "(none)");
	expect_kind_both_ways("kind: ConfigMap\nx: &m {a: 1}\nkind: *m\n", "(none)");
	/* another kind lint does not want replaces the first */
	expect_kind_both_ways("kind: ConfigMap\nkind: Secret\n", "Secret");
	expect_kind_both_ways("kind: ConfigMap\nx: &s Secret\nkind: *s\n", "Secret");
	expect_kind_both_ways("kind: ConfigMap\n\"kind\": !!binary U2VjcmV0\n", "Secret");
	/* a kind lint wants, however it is spelled, cannot be skipped: an
	 * alias of an anchor before the kind or after it, a !!binary value,
	 * a !!binary key that is "kind" (a2luZA==) */
	expect_filtered_error("a: &k DaemonSet\nkind: ConfigMap\nkind: *k\n", 3, 7, "kind is given twice");
	expect_filtered_error("kind: ConfigMap\nx: &k DaemonSet\nkind: *k\n", 3, 7, "kind is given twice");
	expect_filtered_error("kind: ConfigMap\nkind: !!binary RGFlbW9uU2V0\n", 2, 7, "kind is given twice");
	expect_filtered_error("kind: ConfigMap\n!!binary a2luZA==: DaemonSet\n", 2, 20, "kind is given twice");
	expect_filtered_error("kind: ConfigMap\nkind: List\n", 2, 7, "kind is given twice");
}

static void test_filtered_errors_as_whole(void **state)
{
	(void)state;
	/* a document lint skips is refused where a whole one is (and
	 * Kubernetes refuses the file): an alias as a key (it could be
	 * "kind"), a collection as a key, an undefined alias, a scalar
	 * Kubernetes cannot read, a null key */
	expect_filtered_error("a: &k kind\nkind: ConfigMap\n*k : DaemonSet\n", 3, 1, "alias cannot be a mapping key");
	expect_filtered_error("kind: ConfigMap\ndata: {*k : x}\n", 2, 8, "undefined alias");
	expect_filtered_error("a: &k x\nkind: ConfigMap\ndata: {*k : x}\n", 3, 8, "alias cannot be a mapping key");
	expect_filtered_error("kind: ConfigMap\n? [a]\n: b\n", 2, 3, "key must be a scalar");
	expect_filtered_error("kind: ConfigMap\ndata: {? [a] : b}\n", 2, 10, "key must be a scalar");
	expect_filtered_error("kind: ConfigMap\ndata: {x: *nope}\n", 2, 11, "undefined alias");
	expect_filtered_error("kind: ConfigMap\ndata: {x: .inf}\n", 2, 11, "JSON");
	expect_filtered_error("kind: ConfigMap\ndata: [!!null x]\n", 2, 8, "!!null");
	expect_filtered_error("kind: ConfigMap\ndata: {~: x}\n", 2, 8, "null mapping key");
	expect_filtered_error("kind: ConfigMap\n~: x\n", 2, 1, "null mapping key");
	expect_filtered_error("kind: ConfigMap\n!!binary QQ: x\n", 2, 1, "base64");
	expect_filtered_error("kind: ConfigMap\nx: &a [*a]\n", 2, 8, "undefined alias");
	/* and read where a whole one is read: .inf as a key, a string with
	 * a NUL (which only what lint compares may not hold) */
	expect_kind_both_ways("kind: ConfigMap\ndata: {.inf: x, y: [.5, -1, 0x10, yes]}\n", "ConfigMap");
	{
		static struct loaded l;
		static const char text[] = "kind: ConfigMap\ndata: {x: \"\\0\"}\n";
		load_filtered_n(text, sizeof(text) - 1, &l);
		assert_int_equal(l.rc, 0);
		assert_int_equal(l.count, 1);
		release(&l);
	}
}

static void test_json_filtered_reads_kind_as_kubectl(void **state)
{
	static struct loaded l;

	(void)state;
	/* the last kind is the kind (Go keeps the last of a repeated key):
	 * a document lint wants after all is read again, whole */
	expect_kind_both_ways("{\"kind\": \"DaemonSet\", \"kind\": \"ConfigMap\"}", "ConfigMap");
	expect_kind_both_ways("{\"kind\": \"ConfigMap\", \"kind\": 5}", "(none)");
	expect_kind_both_ways("{\"kind\": \"ConfigMap\", \"kind\": {\"a\": \"DaemonSet\"}}", "(none)");
	expect_kind_both_ways("{\"kind\": \"ConfigMap\", \"k\\u0069nd\": \"Secret\"}", "Secret");
	{
		/* "d" is the 77th column: {"a": {"b": [1]}, (18 columns)
		 * "kind": "ConfigMap", (21) "c": 1, (8) "c": 2, (8) "kind":
		 * "DaemonSet", (21), then the key; its value 5 further */
		static const char text[] = "{\"a\": {\"b\": [1]}, \"kind\": \"ConfigMap\", \"c\": 1, \"c\": 2, "
					   "\"kind\": \"DaemonSet\", \"d\": 3}";
		load_filtered_n(text, sizeof(text) - 1, &l);
	}
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.count, 1);
	assert_string_equal(string_at(l.docs[0], "/kind"), "DaemonSet");
	assert_true(number_at(l.docs[0], "/a/b/0") == 1);
	assert_true(number_at(l.docs[0], "/c") == 2);
	expect_pos(l.docs[0], "/d", 1, 77, 1, 82);
	/* the repeated keys warned once each, not once per reading */
	assert_int_equal(l.diags.count, 2);
	release(&l);
	/* a string in a skipped object may hold a NUL (read whole, it may
	 * not); a key "kind\0" is not "kind" */
	{
		static const char *const texts[] = {"{\"kind\": \"ConfigMap\", \"data\": {\"x\": \"\\u0000\"}}",
						    "{\"kind\": \"ConfigMap\", \"kind\\u0000\": \"DaemonSet\"}"};
		for (size_t i = 0; i < 2; i++) {
			load_filtered_n(texts[i], strlen(texts[i]), &l);
			assert_int_equal(l.rc, 0);
			assert_string_equal(kind_or_none(l.docs[0]), "ConfigMap");
			release(&l);
		}
	}
	/* a skipped object is still checked for what Kubernetes refuses */
	expect_filtered_error("{\"kind\": \"ConfigMap\", \"data\": {\"x\": 1e400}}", 1, 37, "1e400");
	expect_filtered_error("{\"kind\": \"ConfigMap\", \"data\": {\"x\": \"\\q\"}}", 1, 39, "escape");
	expect_filtered_error("{\"kind\": \"Daemon\\u0000Set\"}", 1, 10, "NUL");
}

static int stop_after_first(void *data, ds_document *doc)
{
	int *calls = data;

	ds_document_free(doc);
	return ++*calls == 1 ? -1 : 0;
}

static void test_callback_stops(void **state)
{
	ds_diag_list diags = {0};
	int calls = 0;

	(void)state;
	assert_int_equal(ds_yaml_load("a: 1\n---\nb: 2\n", 14, stop_after_first, &calls, &diags), -1);
	assert_int_equal(calls, 1);
	ds_diag_list_free(&diags);
}

static void test_length_not_nul(void **state)
{
	static struct loaded l;
	static const char text[] = "a: 1\nb: 2\n";

	(void)state;
	/* only len bytes are read */
	load_n(text, 5, &l);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.count, 1);
	assert_null(ds_pointer_get(l.docs[0]->root, "/b"));
	release(&l);
}

/* ---- ds_document_locate ---- */

static void test_locate(void **state)
{
	static struct loaded l;
	ds_document *doc = load_one(block_text, &l);
	unsigned anchor = 99;
	ds_pos p;

	(void)state;
	/* an existing field: its value */
	p = ds_document_locate(doc, doc->root, "/spec/template/spec/restartPolicy", &anchor);
	assert_int_equal(p.line, 12);
	assert_int_equal(p.column, 22);
	assert_int_equal(anchor, 0);
	p = ds_document_locate(doc, doc->root, "/spec/template/spec/containers/0/image", NULL);
	assert_int_equal(p.line, 11);
	assert_int_equal(p.column, 18);
	/* missing: the key of the mapping where it belongs (the pod spec) */
	p = ds_document_locate(doc, doc->root, "/spec/template/spec/priorityClassName", NULL);
	assert_int_equal(p.line, 8);
	assert_int_equal(p.column, 5);
	/* several levels missing: the deepest that exists */
	p = ds_document_locate(doc, doc->root, "/metadata/annotations/x", NULL);
	assert_int_equal(p.line, 3);
	assert_int_equal(p.column, 1);
	/* below a scalar: the scalar's key */
	p = ds_document_locate(doc, doc->root, "/kind/x", NULL);
	assert_int_equal(p.line, 2);
	assert_int_equal(p.column, 1);
	/* nothing of it exists: the root */
	p = ds_document_locate(doc, doc->root, "/nothing/here", NULL);
	assert_int_equal(p.line, 1);
	assert_int_equal(p.column, 1);
	release(&l);
}

static void test_locate_missing_template_spec(void **state)
{
	static struct loaded l;
	ds_document *doc = load_one("kind: DaemonSet\nspec:\n  selector: {}\n  template:\n    metadata: {}\n", &l);
	ds_pos p;

	(void)state;
	p = ds_document_locate(doc, doc->root, "/spec/template/spec/priorityClassName", NULL);
	assert_int_equal(p.line, 4);
	assert_int_equal(p.column, 3);
	release(&l);
}

static void test_locate_in_a_list_item(void **state)
{
	static struct loaded l;
	ds_document *doc = load_one("kind: List\nitems:\n- kind: DaemonSet\n  spec:\n    template:\n      spec: {}\n", &l);
	const cJSON *res = ds_pointer_get(doc->root, "/items/0");
	ds_pos p;

	(void)state;
	p = ds_document_locate(doc, res, "/spec/template/spec/priorityClassName", NULL);
	assert_int_equal(p.line, 6);
	assert_int_equal(p.column, 7);
	p = ds_document_locate(doc, res, "/kind", NULL);
	assert_int_equal(p.line, 3);
	assert_int_equal(p.column, 9);
	release(&l);
}

static void test_locate_through_alias(void **state)
{
	static struct loaded l;
	ds_document *doc = load_one("x: &pod\n  restartPolicy: Never\nspec:\n  template:\n    spec: *pod\n", &l);
	unsigned anchor = 0;
	ds_pos p;

	(void)state;
	p = ds_document_locate(doc, doc->root, "/spec/template/spec/restartPolicy", &anchor);
	assert_int_equal(p.line, 2);
	assert_int_equal(p.column, 18);
	assert_int_equal(anchor, 1);
	release(&l);
}

/* ---- errors with positions ---- */

static void expect_error_at(const char *text, size_t len, unsigned line, unsigned column, const char *words)
{
	static struct loaded l;
	const ds_diag *d;

	load_n(text, len ? len : strlen(text), &l);
	assert_int_equal(l.rc, -1);
	d = first_error(&l);
	if (d->pos.line != line || d->pos.column != column || (words && !strstr(d->message, words))) {
		char got[512];
		snprintf(got, sizeof(got), "%u:%u \"%s\"", d->pos.line, d->pos.column, d->message);
		release(&l);
		fail_msg("error at %s, want %u:%u with \"%s\"", got, line, column, words ? words : "");
	}
	release(&l);
}

static void test_error_tab_indentation(void **state)
{
	(void)state;
	expect_error_at("a:\n\tb: 1\n", 9, 2, 1, "cannot start any token");
	expect_error_at("a: 1\nb:\n  c: 2\n  \td: 3\n", 0, 4, 3, "tab");
}

static void test_error_truncated(void **state)
{
	(void)state;
	/* an unclosed flow sequence: found at the end, opened at 1:4 */
	expect_error_at("a: [1, 2\n", 9, 2, 1, "line 1 column 4");
	/* an unclosed flow mapping */
	expect_error_at("a:\n  b: {c: 1\n", 0, 3, 1, "line 2 column 6");
	/* an unterminated quoted string: found at the end, opened at 2:4 */
	expect_error_at("a: 1\nb: \"abc\n", 13, 3, 1, "line 2 column 4");
	expect_error_at("a: 1\nb: 'abc", 12, 2, 8, "line 2 column 4");
}

static void test_error_documents_before_are_kept(void **state)
{
	static struct loaded l;

	(void)state;
	load("a: 1\n---\nb: [\n", &l);
	assert_int_equal(l.rc, -1);
	assert_int_equal(l.count, 1);
	assert_true(number_at(l.docs[0], "/a") == 1);
	assert_int_equal(first_error(&l)->pos.line, 4);
	release(&l);
}

static void test_error_invalid_utf8(void **state)
{
	(void)state;
	/* offset 8 = "a: b\n" (5 bytes) + "c: " (3): line 2, column 4 */
	expect_error_at("a: b\nc: \xff\n", 10, 2, 4, "offset 8");
	/* a lead byte without its continuation byte: the bad byte is the
	 * "(" at offset 4, column 5 (the lead byte is column 4) */
	expect_error_at("k: \xc3(\n", 6, 1, 5, "UTF-8");
	/* multi-byte characters before it count one column each */
	expect_error_at("k: \xc3\xa9\xc3\xa9\xff\n", 9, 1, 6, "UTF-8");
	/* an overlong encoding of '/' */
	expect_error_at("k: v\nw: \xc0\xaf\n", 11, 2, 4, "UTF-8");
	/* deep in the text */
	{
		char buf[4096];
		size_t n = 0;
		for (int i = 0; i < 300; i++)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "k%d: v\n", i);
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "bad: ab\xfe\n");
		expect_error_at(buf, n, 301, 8, "UTF-8");
	}
}

static void test_error_invalid_utf8_after_bom(void **state)
{
	(void)state;
	/* the byte-order mark is no character of the line (libyaml's own
	 * positions do not count it either): "a: " then the bad byte */
	expect_error_at("\xEF\xBB\xBF" "a: \xff\n", 8, 1, 4, "UTF-8");
}

static void test_error_nul_byte(void **state)
{
	static struct loaded l;

	(void)state;
	load_n("a: b\0c\n", 7, &l);
	assert_int_equal(l.rc, -1);
	assert_int_equal(first_error(&l)->pos.line, 1);
	release(&l);
}

/* "[" x n then "]" x n, or a block sequence nested n deep on one line. */
static char *nested(int n, bool flow)
{
	char *buf = hold(malloc((size_t)n * 2 + 8));
	char *w = buf;

	assert_non_null(buf);
	for (int i = 0; i < n; i++) {
		if (flow) {
			*w++ = '[';
		} else {
			*w++ = '-';
			*w++ = ' ';
		}
	}
	if (flow)
		for (int i = 0; i < n; i++)
			*w++ = ']';
	else
		*w++ = 'x';
	*w++ = '\n';
	*w = '\0';
	return buf;
}

static void test_nesting_within_limit(void **state)
{
	static struct loaded l;
	char *text = nested(500, true);

	(void)state;
	load(text, &l);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.count, 1);
	release(&l);
	drop(text);
	text = nested(500, false);
	load(text, &l);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.count, 1);
	release(&l);
	drop(text);
}

static void test_nesting_limit_exact(void **state)
{
	static struct loaded l;
	char *text;

	(void)state;
	for (int flow = 0; flow < 2; flow++) {
		text = nested(DS_YAML_MAX_DEPTH, flow);
		load(text, &l);
		assert_int_equal(l.rc, 0);
		release(&l);
		drop(text);
		text = nested(DS_YAML_MAX_DEPTH + 1, flow);
		load(text, &l);
		assert_int_equal(l.rc, -1);
		release(&l);
		drop(text);
	}
}

static void test_nesting_too_deep(void **state)
{
	static const int depths[] = {DS_YAML_MAX_DEPTH + 10, 10000, 20000};

	(void)state;
	for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
		for (int flow = 0; flow < 2; flow++) {
			char *text = nested(depths[i], flow);
			static struct loaded l;
			const ds_diag *d;
			load(text, &l);
			assert_int_equal(l.rc, -1);
			assert_int_equal(l.count, 0);
			d = first_error(&l);
			assert_non_null(strstr(d->message, "deeper"));
			/* "at most 512 levels" (docs/output.md), the root being the
			 * first: the error is at the 513th "[" or "- " on line 1 */
			assert_int_equal(d->pos.line, 1);
			assert_int_equal(d->pos.column, flow ? DS_YAML_MAX_DEPTH + 1 : 2 * DS_YAML_MAX_DEPTH + 1);
			release(&l);
			drop(text);
		}
	}
}

/* Loads n levels of nesting and returns the CPU seconds it took; the load
 * must fail. */
static double nesting_seconds(int n, bool flow)
{
	char *text = nested(n, flow);
	static struct loaded l;
	clock_t t0 = clock();
	double secs;

	load(text, &l);
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	assert_int_equal(l.rc, -1);
	release(&l);
	drop(text);
	return secs;
}

static void test_nesting_refused_in_linear_time(void **state)
{
	double block, flow;

	(void)state;
	if (RUNNING_ON_VALGRIND) {
		/* timing means nothing there (and cmocka's skip() reads as a
		 * failure to TAP consumers that ignore the directive) */
		print_message("# timing not checked under valgrind\n");
		return;
	}
	/* 60,000 levels are 120 kB of text: refusing them must not take
	 * longer than reading a few MB does */
	block = nesting_seconds(60000, false);
	flow = nesting_seconds(60000, true);
	if (block > 1.0 || flow > 1.0)
		fail_msg("refusing 60,000 levels of nesting took %.2fs (block) and %.2fs (flow [[[)", block, flow);
}

static void test_nesting_deep_mappings(void **state)
{
	/* a: then a: one space deeper on each line */
	int n = DS_YAML_MAX_DEPTH + 50;
	size_t cap = (size_t)n * (size_t)(n + 4) + 16, used = 0;
	char *text = hold(malloc(cap));
	static struct loaded l;

	(void)state;
	assert_non_null(text);
	for (int i = 0; i < n; i++)
		used += (size_t)snprintf(text + used, cap - used, "%*sa:\n", i, "");
	load_n(text, used, &l);
	assert_int_equal(l.rc, -1);
	/* line n holds the nth mapping: the 513th is one too many */
	assert_int_equal(first_error(&l)->pos.line, DS_YAML_MAX_DEPTH + 1);
	release(&l);
	drop(text);
}

/* "kind: KIND\nx: " and n levels of nesting opened by `open` (each
 * `width` columns wide) and closed by `close`. The caller frees it. */
static char *deep_after_kind(const char *kind, int n, const char *open, const char *close, size_t *len)
{
	size_t ol = strlen(open), cl = strlen(close), cap = strlen(kind) + 16 + (size_t)n * (ol + cl);
	char *buf = hold(malloc(cap));
	size_t at = (size_t)snprintf(buf, cap, "kind: %s\nx: ", kind);

	for (int i = 0; i < n; i++, at += ol)
		memcpy(buf + at, open, ol);
	buf[at++] = 'v';
	for (int i = 0; i < n; i++, at += cl)
		memcpy(buf + at, close, cl);
	buf[at++] = '\n';
	buf[at] = '\0';
	*len = at;
	return buf;
}

static void test_nesting_limit_in_skipped_documents(void **state)
{
	/* A document lint does not read whole (a ConfigMap) is held to the
	 * same limit, at the same place, as one it reads: 100,000 levels
	 * took minutes when only libyaml looked at them. */
	static const char *const kinds[] = {"ConfigMap", "DaemonSet"};
	static const struct {
		const char *open, *close;
	} shapes[] = {{"{a: ", "}"}, {"[", "]"}};
	static struct loaded l;

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		for (size_t s = 0; s < 2; s++) {
			size_t len;
			char *text = deep_after_kind(kinds[k], 100000, shapes[s].open, shapes[s].close, &len);
			unsigned width = (unsigned)strlen(shapes[s].open);
			clock_t t0 = clock();
			const ds_diag *d;
			double secs;
			for (int filtered = 0; filtered < 2; filtered++) {
				if (filtered)
					load_filtered_n(text, len, &l);
				else
					load_n(text, len, &l);
				secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
				assert_int_equal(l.rc, -1);
				assert_int_equal(l.count, 0);
				d = first_error(&l);
				assert_non_null(strstr(d->message, "deeper than 512"));
				/* the root mapping is the first level, the jth opening
				 * the (j+1)th: the 513th level opens at the 512th, on
				 * line 2 after "x: " (3 columns) */
				assert_int_equal(d->pos.line, 2);
				assert_int_equal(d->pos.column, 4 + width * (DS_YAML_MAX_DEPTH - 1));
				release(&l);
			}
			if (!RUNNING_ON_VALGRIND && secs > 1.0)
				fail_msg("kind: %s then 100,000 levels of %s: refused in %.2fs", kinds[k], shapes[s].open,
					 secs);
			drop(text);
		}
	}
}

static void test_nesting_limit_in_skipped_block_documents(void **state)
{
	/* block nesting after the kind: line 2 holds a key of the root (the
	 * first level), line k >= 3 opens level k - 1 with "a:" indented
	 * k - 2 columns: level 513 opens on line 514, column 513 */
	int n = DS_YAML_MAX_DEPTH + 50;
	size_t cap = (size_t)n * (size_t)(n + 4) + 32, used;
	char *text = hold(malloc(cap));
	static struct loaded l;

	(void)state;
	used = (size_t)snprintf(text, cap, "kind: ConfigMap\n");
	for (int i = 0; i < n; i++)
		used += (size_t)snprintf(text + used, cap - used, "%*sa:\n", i, "");
	for (int filtered = 0; filtered < 2; filtered++) {
		if (filtered)
			load_filtered_n(text, used, &l);
		else
			load_n(text, used, &l);
		assert_int_equal(l.rc, -1);
		assert_int_equal(first_error(&l)->pos.line, DS_YAML_MAX_DEPTH + 2);
		assert_int_equal(first_error(&l)->pos.column, DS_YAML_MAX_DEPTH + 1);
		release(&l);
	}
	drop(text);
}

/* A "billion laughs" document of `levels` levels of 10 aliases each. */
static char *alias_bomb(int levels)
{
	char *buf = hold(malloc(4096));
	size_t n = 0;

	assert_non_null(buf);
	n += (size_t)snprintf(buf + n, 4096 - n, "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
	for (int i = 1; i < levels; i++) {
		n += (size_t)snprintf(buf + n, 4096 - n, "a%d: &a%d [", i, i);
		for (int j = 0; j < 10; j++)
			n += (size_t)snprintf(buf + n, 4096 - n, "%s*a%d", j ? "," : "", i - 1);
		n += (size_t)snprintf(buf + n, 4096 - n, "]\n");
	}
	return buf;
}

static void test_alias_bomb(void **state)
{
	static struct loaded l;
	char *text = alias_bomb(10);
	clock_t t0 = clock();

	(void)state;
	load(text, &l);
	assert_true(clock() - t0 < 5 * CLOCKS_PER_SEC);
	assert_int_equal(l.rc, -1);
	assert_int_equal(l.count, 0);
	assert_non_null(strstr(first_error(&l)->message, "alias"));
	release(&l);
	drop(text);
}

static void test_alias_bomb_error_points_at_an_alias(void **state)
{
	static struct loaded l;
	char *text = alias_bomb(10);

	(void)state;
	load(text, &l);
	assert_int_equal(l.rc, -1);
	/* the budget runs out while expanding an alias: lines 2-10 hold the
	 * aliases, line 1 only the anchored strings */
	{
		ds_pos at = first_error(&l)->pos;
		release(&l);
		drop(text);
		if (at.line < 2 || at.line > 10)
			fail_msg("alias bomb reported at %u:%u, not on a line with aliases", at.line, at.column);
	}
}

static void test_alias_small_is_fine(void **state)
{
	static struct loaded l;
	char *text = alias_bomb(4); /* 10^4 strings: within the budget */

	(void)state;
	load(text, &l);
	assert_int_equal(l.rc, 0);
	assert_int_equal(cJSON_GetArraySize(ds_pointer_get(l.docs[0]->root, "/a3")), 10);
	assert_string_equal(string_at(l.docs[0], "/a3/9/9/9/9"), "lol");
	release(&l);
	drop(text);
}

static void test_alias_budget_is_per_document(void **state)
{
	static struct loaded l;
	char *one = alias_bomb(4);
	size_t len = strlen(one);
	char *text = hold(malloc(len * 30 + 200));
	size_t n = 0;

	(void)state;
	/* 30 documents of 11,110 aliased nodes each: 333,300 in all */
	for (int i = 0; i < 30; i++) {
		memcpy(text + n, "---\n", 4);
		n += 4;
		memcpy(text + n, one, len);
		n += len;
	}
	load_n(text, n, &l);
	assert_int_equal(l.rc, 0);
	assert_int_equal(l.count, 30);
	release(&l);
	drop(one);
	drop(text);
}

static void test_non_scalar_key(void **state)
{
	static struct loaded l;

	(void)state;
	load("? [a, b]\n: 1\n", &l);
	assert_int_equal(l.rc, -1);
	assert_int_equal(first_error(&l)->pos.line, 1);
	assert_int_equal(first_error(&l)->pos.column, 3);
	release(&l);
}

static void test_diag_add(void **state)
{
	ds_diag_list list = {0};

	(void)state;
	assert_int_equal(ds_diag_add(&list, (ds_pos){3, 4}, true, "x %d %s", 5, "y"), 0);
	assert_int_equal(ds_diag_add(&list, (ds_pos){0, 0}, false, "w"), 0);
	assert_int_equal(list.count, 2);
	assert_string_equal(list.items[0].message, "x 5 y");
	assert_int_equal(list.items[0].pos.line, 3);
	assert_true(list.items[0].is_error);
	assert_false(list.items[1].is_error);
	ds_diag_list_free(&list);
	assert_int_equal(list.count, 0);
	assert_null(list.items);
	ds_diag_list_free(&list);
	ds_document_free(NULL);
}

#define TEST(fn) cmocka_unit_test_teardown(fn, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_block_positions),
		TEST(test_indentless_sequence_positions),
		TEST(test_json_positions),
		TEST(test_json_minified_and_tabs),
		TEST(test_json_read_as_yaml_reads_it),
		TEST(test_json_surrogates_as_kubectl),
		TEST(test_json_stream_of_values),
		TEST(test_json_errors_as_kubectl),
		TEST(test_json_nesting_limit),
		TEST(test_json_filtered_reads_kind_as_kubectl),
		TEST(test_flow_positions),
		TEST(test_utf8_columns_count_characters),
		TEST(test_block_scalars),
		TEST(test_scalars_booleans),
		TEST(test_scalars_nulls),
		TEST(test_scalars_numbers),
		TEST(test_scalars_number_prefixes_as_kubectl),
		TEST(test_scalars_infinity_and_nan_refused),
		TEST(test_scalars_underflow_is_zero),
		TEST(test_scalars_binary),
		TEST(test_scalars_tags_that_do_not_fit_refused),
		TEST(test_scalars_nul_refused),
		TEST(test_scalars_explicit_tags),
		TEST(test_keys_resolved),
		TEST(test_keys_numbers_as_kubectl),
		TEST(test_keys_spelled_as_kubectl_writes_them),
		TEST(test_keys_kubectl_refuses),
		TEST(test_merge_keys_by_tag),
		TEST(test_anchors_and_aliases),
		TEST(test_merge_explicit_keys_win),
		TEST(test_merge_list_earlier_wins),
		TEST(test_merge_after_explicit_key_as_kubectl),
		TEST(test_anchor_line_for_alias_before_merge),
		TEST(test_merge_of_non_mapping_is_error),
		TEST(test_recursive_alias_is_error),
		TEST(test_repeated_key_last_wins),
		TEST(test_repeated_key_nested_and_spelled_differently),
		TEST(test_repeated_key_warned_once_through_aliases),
		TEST(test_repeated_keys_read_in_linear_time),
		TEST(test_repeated_key_in_json),
		TEST(test_bom),
		TEST(test_crlf),
		TEST(test_multiple_documents),
		TEST(test_empty_documents),
		TEST(test_non_mapping_roots),
		TEST(test_filtered_kind_given_again),
		TEST(test_filtered_errors_as_whole),
		TEST(test_callback_stops),
		TEST(test_length_not_nul),
		TEST(test_locate),
		TEST(test_locate_missing_template_spec),
		TEST(test_locate_in_a_list_item),
		TEST(test_locate_through_alias),
		TEST(test_error_tab_indentation),
		TEST(test_error_truncated),
		TEST(test_error_documents_before_are_kept),
		TEST(test_error_invalid_utf8),
		TEST(test_error_invalid_utf8_after_bom),
		TEST(test_error_nul_byte),
		TEST(test_nesting_within_limit),
		TEST(test_nesting_limit_exact),
		TEST(test_nesting_too_deep),
		TEST(test_nesting_refused_in_linear_time),
		TEST(test_nesting_deep_mappings),
		TEST(test_nesting_limit_in_skipped_documents),
		TEST(test_nesting_limit_in_skipped_block_documents),
		TEST(test_alias_bomb),
		TEST(test_alias_bomb_error_points_at_an_alias),
		TEST(test_alias_small_is_fine),
		TEST(test_alias_budget_is_per_document),
		TEST(test_non_scalar_key),
		TEST(test_diag_add),
	};

	return cmocka_run_group_tests_name("yaml", tests, NULL, NULL);
}
