/* test_yaml_locate.c - ds_yaml_locate(), the line-by-line reading of a
 * document's fields: where it reads a document, every field it reports
 * agrees with ds_yaml_load() (the oracle: found or not, the key's and
 * the value's positions, the value); where it cannot be sure (anchors,
 * aliases, merge keys, tags, a key given twice on the way, values over
 * lines, flow collections on the way, tabs, characters outside ASCII) it
 * gives up. Positions asserted by number are counted by hand. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "yaml/document.h"
#include "util/util.h"

#define MAX_FIELDS 8

static const char *const fields[] = {"/kind", "/metadata/name", "/metadata/namespace", "/metadata",
				     "/spec/template/spec", "/spec/template/spec/priorityClassName",
				     "/spec/template/spec/restartPolicy", "/spec/selector"};
#define FIELD_COUNT (sizeof(fields) / sizeof(fields[0]))

static ds_located out[MAX_FIELDS];

static int keep_one(void *data, ds_document *doc)
{
	ds_document **kept = data;

	if (*kept) {
		ds_document_free(doc);
		return -1;
	}
	*kept = doc;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ds_located_free(out, MAX_FIELDS);
	return 0;
}

static void assert_pos(ds_pos got, ds_pos want)
{
	assert_int_equal(got.line, want.line);
	assert_int_equal(got.column, want.column);
}

/* Locates every field of `fields` in text; when it is read, asserts that
 * each agrees with what ds_yaml_load() reads of the same text. Returns
 * what ds_yaml_locate() returned (out[] keeps its answer). */
static int locate(const char *text)
{
	ds_document *doc = NULL;
	ds_diag_list diags = {0};
	int rc;

	ds_located_free(out, MAX_FIELDS); /* what the call before found */
	rc = ds_yaml_locate(text, strlen(text), fields, FIELD_COUNT, out);

	assert_true(rc == 0 || rc == 1);
	if (rc == 0) {
		for (size_t i = 0; i < FIELD_COUNT; i++)
			assert_false(out[i].found);
		return 0;
	}
	assert_int_equal(ds_yaml_load(text, strlen(text), keep_one, &doc, &diags), 0);
	if (!doc) {
		/* no document: nothing found */
		for (size_t i = 0; i < FIELD_COUNT; i++)
			assert_false(out[i].found);
		ds_diag_list_free(&diags);
		return 1;
	}
	for (size_t i = 0; i < FIELD_COUNT; i++) {
		const cJSON *node = ds_pointer_get(doc->root, fields[i]);
		const ds_node_info *info = node ? ds_document_where(doc, node) : NULL;
		assert_int_equal(out[i].found, node != NULL);
		if (!node)
			continue;
		assert_non_null(info);
		assert_pos(out[i].key, info->key);
		if (cJSON_IsObject(node) || cJSON_IsArray(node)) {
			assert_true(out[i].collection);
			assert_null(out[i].scalar);
			if (out[i].value.line)
				assert_pos(out[i].value, info->value);
		} else if (cJSON_IsNull(node) && !out[i].scalar) {
			assert_false(out[i].collection);
		} else {
			assert_non_null(out[i].scalar);
			assert_true(cJSON_Compare(out[i].scalar, node, true));
			assert_pos(out[i].value, info->value);
		}
	}
	ds_document_free(doc);
	ds_diag_list_free(&diags);
	return 1;
}

static const char daemonset[] = "# a comment before it\n"
				"apiVersion: apps/v1\n"
				"kind: DaemonSet\n"
				"metadata:\n"
				"  name: agent   # its name\n"
				"  labels:\n"
				"    app.kubernetes.io/name: agent\n"
				"  annotations:\n"
				"    note: 'it''s: here'\n"
				"spec:\n"
				"  selector:\n"
				"    matchLabels: {app: agent}\n"
				"  template:\n"
				"    metadata:\n"
				"      labels:\n"
				"        app: agent\n"
				"    spec:\n"
				"      containers:\n"
				"      - name: agent\n"
				"        image: \"example/agent:1.0\"\n"
				"        args: [\"--a=b\", '--c']\n"
				"        command:\n"
				"          - /bin/sh\n"
				"          - - nested\n"
				"        env:\n"
				"        - name: X\n"
				"          value: >-\n"
				"            folded: text\n"
				"\n"
				"            kind: not a key\n"
				"        - name: Y\n"
				"          value: plain text\n"
				"            going on\n"
				"      restartPolicy: Always\n"
				"      priorityClassName:\n"
				"      hostNetwork: true\n";

static void test_block_daemonset(void **state)
{
	(void)state;
	assert_int_equal(locate(daemonset), 1);
	assert_string_equal(cJSON_GetStringValue(out[0].scalar), "DaemonSet");
	assert_pos(out[1].key, (ds_pos){5, 3});
	assert_pos(out[1].value, (ds_pos){5, 9});
	assert_false(out[2].found);
	assert_pos(out[4].key, (ds_pos){17, 5});
	assert_true(out[4].collection);
	assert_int_equal(out[4].value.line, 0);
	assert_true(out[5].found); /* written with no value: null */
	assert_null(out[5].scalar);
	assert_pos(out[6].value, (ds_pos){34, 22});
	assert_pos(out[7].key, (ds_pos){11, 3});
}

/* The same text with each "\n" made `brk`. */
static char *with_breaks(const char *text, const char *brk)
{
	size_t n = 0, bn = strlen(brk);
	char *copy = malloc(strlen(text) * bn + 1);

	assert_non_null(copy);
	for (const char *p = text; *p; p++) {
		if (*p == '\n') {
			memcpy(copy + n, brk, bn);
			n += bn;
		} else {
			copy[n++] = *p;
		}
	}
	copy[n] = '\0';
	return copy;
}

static void test_crlf_and_lone_cr(void **state)
{
	char *crlf = with_breaks(daemonset, "\r\n"), *cr = with_breaks(daemonset, "\r");

	(void)state;
	assert_int_equal(locate(crlf), 1);
	assert_pos(out[6].value, (ds_pos){34, 22});
	ds_located_free(out, MAX_FIELDS);
	assert_int_equal(locate(cr), 1);
	assert_pos(out[6].value, (ds_pos){34, 22});
	free(crlf);
	free(cr);
}

static void test_marker_indent_and_quotes(void **state)
{
	(void)state;
	assert_int_equal(locate("--- # first\n"
				"  kind: 'DaemonSet'\n"
				"  metadata:\n"
				"      name: \"a b\"\n"
				"      namespace: 01\n"),
			 1);
	assert_pos(out[0].value, (ds_pos){2, 9});
	assert_string_equal(cJSON_GetStringValue(out[1].scalar), "a b");
	assert_true(cJSON_IsNumber(out[2].scalar)); /* 01 is an octal integer */
	/* fields inside a flow mapping are not followed */
	assert_int_equal(locate("kind: DaemonSet\nspec: {template: {spec: {}}}\n"), 0);
	assert_int_equal(locate("kind: DaemonSet\nmetadata: {name: a}\n"), 0);
	assert_int_equal(locate("kind: DaemonSet\nmetadata:\n  name: a\nspec:\n  selector: {a: b}\n"), 1);
	assert_pos(out[7].value, (ds_pos){5, 13});
	assert_int_equal(locate("{\"kind\": \"DaemonSet\"}\n"), 0);
	/* a licence header before the first "---": no document, nothing found */
	assert_int_equal(locate("# Copyright\n\n# more\n"), 1);
	assert_false(out[0].found);
	assert_int_equal(locate("- kind: DaemonSet\n"), 0);
}

static void test_gives_up(void **state)
{
	static const char *const texts[] = {
		/* anchors, aliases, merge keys and tags on the way */
		"kind: DaemonSet\nmetadata: &m\n  name: a\n",
		"kind: DaemonSet\nmetadata:\n  name: *n\n",
		"kind: DaemonSet\nmetadata:\n  <<: {name: a}\n",
		"kind: !!str DaemonSet\n",
		"kind: DaemonSet\nspec:\n  template:\n    spec:\n      containers:\n      - &c {name: a}\n",
		"kind: DaemonSet\nmetadata:\n  labels:\n    a: &x b\n    c: *x\n",
		/* a key on the way given twice */
		"kind: DaemonSet\nmetadata:\n  name: a\nmetadata:\n  name: b\n",
		"kind: DaemonSet\nmetadata:\n  name: a\n  name: b\n",
		/* values over lines */
		"kind: DaemonSet\nmetadata:\n  name: a\n    b\n",
		"kind: DaemonSet\nmetadata:\n  labels:\n    a: \"b\n  c\"\n",
		"kind: DaemonSet\nmetadata:\n  labels: [a,\n  b]\n",
		"kind: DaemonSet\nmetadata:\n  name: |\n    a\n",
		/* a quoted key, or one that is no string, on the way */
		"kind: DaemonSet\n\"metadata\":\n  name: a\n",
		"kind: DaemonSet\non: x\n",
		/* tabs, characters outside ASCII, directives, a second document */
		"kind: DaemonSet\nmetadata:\n\tname: a\n",
		"kind: DaemonSet\nmetadata:\n  name: \xc3\xa9\n",
		"%YAML 1.1\n---\nkind: DaemonSet\n",
		"kind: DaemonSet\n---\nkind: DaemonSet\n",
		"kind: DaemonSet\n...\n",
		/* a sequence on the way */
		"kind: DaemonSet\nmetadata:\n- name: a\n",
		"kind: DaemonSet\nmetadata:\n  {name: a}\n",
		"kind: DaemonSet\nmetadata:\n  name:\n    a\n",
		"kind: DaemonSet\nmetadata:\n  name: - a\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		print_message("%s", texts[i]);
		assert_int_equal(locate(texts[i]), 0);
	}
}

static void test_repeats_off_the_way(void **state)
{
	(void)state;
	/* keys given twice off the way are the parse's business alone */
	assert_int_equal(locate("kind: DaemonSet\napiVersion: v1\napiVersion: apps/v1\nmetadata:\n  name: a\n"
				"  labels:\n    x: 1\n    x: 2\n"),
			 1);
	assert_pos(out[1].value, (ds_pos){5, 9});
}

static void test_compact_and_nested_sequences(void **state)
{
	(void)state;
	assert_int_equal(locate("kind: DaemonSet\n"
				"spec:\n"
				"  template:\n"
				"    spec:\n"
				"      volumes:\n"
				"      - - a\n"
				"        - b\n"
				"      -\n"
				"        name: x\n"
				"      tolerations:\n"
				"        - operator: Exists\n"
				"      initContainers:\n"
				"      - args:\n"
				"        - |\n"
				"          if [ -f x ]; then\n"
				"            a: b\n"
				"          fi\n"
				"        - plain\n"
				"          going on\n"
				"        emptyDir:\n"
				"          {}\n"
				"        name: i\n"
				"      restartPolicy: \"Never\"\n"),
			 1);
	assert_pos(out[6].value, (ds_pos){23, 22});
	assert_string_equal(cJSON_GetStringValue(out[6].scalar), "Never");
}

#define TEST(fn) cmocka_unit_test_teardown(fn, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_block_daemonset),
		TEST(test_crlf_and_lone_cr),
		TEST(test_marker_indent_and_quotes),
		TEST(test_gives_up),
		TEST(test_repeats_off_the_way),
		TEST(test_compact_and_nested_sequences),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
