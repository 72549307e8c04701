/* test_kube_event.c - watch event lines, the line splitter, the namespace index and reservations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kube/private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *line, kube_event *ev)
{
	char *error = NULL;
	int rc = kube_event_parse(line, strlen(line), ev, &error);

	assert_true(rc == 0 ? error == NULL : error != NULL);
	free(error);
	return rc;
}

static void test_event_types(void **state)
{
	kube_event ev;

	(void)state;
	assert_int_equal(parse("{\"type\":\"ADDED\",\"object\":{\"kind\":\"DaemonSet\",\"apiVersion\":\"apps/v1\","
			       "\"metadata\":{\"name\":\"fluentd\",\"namespace\":\"logging\",\"resourceVersion\":\"17\"}}}",
			       &ev), 0);
	assert_int_equal(ev.type, KUBE_EVENT_ADDED);
	assert_string_equal(ev.ns, "logging");
	assert_string_equal(ev.name, "fluentd");
	assert_string_equal(ev.resource_version, "17");
	assert_int_equal(parse("{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"}}}",
			       &ev), 0);
	assert_int_equal(ev.type, KUBE_EVENT_MODIFIED);
	assert_string_equal(ev.resource_version, "");
	assert_int_equal(parse("{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\","
			       "\"resourceVersion\":\"9\"}}}", &ev), 0);
	assert_int_equal(ev.type, KUBE_EVENT_DELETED);
	assert_int_equal(parse("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"DaemonSet\",\"apiVersion\":\"apps/v1\","
			       "\"metadata\":{\"resourceVersion\":\"12746\"}}}", &ev), 0);
	assert_int_equal(ev.type, KUBE_EVENT_BOOKMARK);
	assert_string_equal(ev.resource_version, "12746");
	assert_int_equal(parse("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
			       "\"status\":\"Failure\",\"message\":\"too old resource version: 1 (5)\","
			       "\"reason\":\"Expired\",\"code\":410}}", &ev), 0);
	assert_int_equal(ev.type, KUBE_EVENT_ERROR);
	assert_int_equal(ev.code, 410);
	assert_string_equal(ev.message, "too old resource version: 1 (5)");
}

static void test_bad_events(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"{\"type\":\"ADDED\"}",
		"{\"type\":\"SOMETHING\",\"object\":{}}",
		"{\"type\":7,\"object\":{}}",
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}",
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"\",\"namespace\":\"b\"}}}",
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":1,\"namespace\":\"b\"}}}",
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"resourceVersion\":5}}}",
		"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\"}}",
		"{\"type\":\"ERROR\",\"object\":{\"code\":1e300}}",
		"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"namespace\":"
		"\"a-namespace-name-that-is-much-longer-than-sixty-three-characters-allowed\"}}}",
	};
	kube_event ev;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &ev) != -1)
			fail_msg("accepted: %s", bad[i]);
}

/* A long ERROR message is cut, not overflowed. */
static void test_long_message(void **state)
{
	char line[2048];
	char msg[1500];
	kube_event ev;

	(void)state;
	memset(msg, 'x', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	snprintf(line, sizeof(line), "{\"type\":\"ERROR\",\"object\":{\"code\":500,\"message\":\"%s\"}}", msg);
	assert_int_equal(parse(line, &ev), 0);
	assert_int_equal(strlen(ev.message), sizeof(ev.message) - 1);
}

struct lines {
	char got[8][64];
	int count;
	int stop_at; /* return 7 at this line (1-based); 0: never */
};

static int collect(void *data, const char *line, size_t len)
{
	struct lines *l = data;

	assert_true(len < 64);
	memcpy(l->got[l->count], line, len);
	l->got[l->count][len] = '\0';
	l->count++;
	return l->count == l->stop_at ? 7 : 0;
}

static void test_splitter(void **state)
{
	struct lines l = {0};
	kube_line_splitter s = {.max = 10, .on_line = collect, .data = &l};
	static const char stream[] = "one\r\ntwo\n\nthree\nfou";

	(void)state;
	/* byte by byte, as the worst chunking would deliver it */
	for (size_t i = 0; i < strlen(stream); i++)
		assert_int_equal(kube_lines_feed(&s, stream + i, 1), 0);
	assert_int_equal(l.count, 3);
	assert_string_equal(l.got[0], "one");
	assert_string_equal(l.got[1], "two");
	assert_string_equal(l.got[2], "three");
	assert_int_equal(kube_lines_feed(&s, "r\nfive\n", 7), 0);
	assert_int_equal(l.count, 5);
	assert_string_equal(l.got[3], "four");
	assert_string_equal(l.got[4], "five");
	kube_lines_free(&s);
}

static void test_splitter_bounds(void **state)
{
	struct lines l = {0};
	kube_line_splitter s = {.max = 10, .on_line = collect, .data = &l};

	(void)state;
	assert_int_equal(kube_lines_feed(&s, "0123456789\r\n", 12), 0);
	assert_int_equal(l.count, 1);
	assert_int_equal(kube_lines_feed(&s, "0123456789\r", 11), 0);
	assert_int_equal(kube_lines_feed(&s, "\n", 1), 0);
	assert_int_equal(l.count, 2);
	assert_int_equal(kube_lines_feed(&s, "0123456789A", 11), -1);
	kube_lines_free(&s);

	memset(&l, 0, sizeof(l));
	l.stop_at = 2;
	s = (kube_line_splitter){.max = 10, .on_line = collect, .data = &l};
	assert_int_equal(kube_lines_feed(&s, "a\nb\nc\n", 6), 7);
	assert_int_equal(l.count, 2);
	kube_lines_free(&s);
}

static void test_index(void **state)
{
	kube_index *idx = kube_index_new();

	(void)state;
	assert_non_null(idx);
	assert_null(kube_index_other(idx, "a", "x"));
	assert_int_equal(kube_index_add(idx, "b", "y", NULL), 0);
	assert_int_equal(kube_index_add(idx, "a", "x", NULL), 0);
	assert_int_equal(kube_index_add(idx, "a", "x", NULL), 0);
	assert_int_equal(kube_index_add(idx, "c", "z", NULL), 0);
	assert_int_equal(kube_index_objects(idx), 3);
	assert_int_equal(kube_index_namespaces(idx), 3);
	assert_null(kube_index_other(idx, "a", "x"));
	assert_string_equal(kube_index_other(idx, "a", "new"), "x");
	assert_int_equal(kube_index_add(idx, "a", "w", NULL), 0);
	assert_string_equal(kube_index_other(idx, "a", "x"), "w");
	assert_string_equal(kube_index_other(idx, "a", "new"), "w");
	kube_index_remove(idx, "a", "w");
	kube_index_remove(idx, "a", "x");
	kube_index_remove(idx, "a", "x");
	kube_index_remove(idx, "nope", "x");
	assert_null(kube_index_other(idx, "a", "new"));
	assert_int_equal(kube_index_objects(idx), 2);
	assert_int_equal(kube_index_namespaces(idx), 2);
	assert_string_equal(kube_index_other(idx, "c", "new"), "z");
	kube_index_free(idx);
}

/* Records ride with their names: replaced on a second add, copied out by
 * a snapshot of one namespace or of all, in order. */
static void test_index_records(void **state)
{
	kube_index *idx = kube_index_new();
	kube_snapshot snap;

	(void)state;
	assert_int_equal(kube_index_snapshot(idx, NULL, &snap), 0);
	assert_int_equal(snap.count, 0);
	assert_int_equal(kube_index_add(idx, "b", "y", "{\"v\":1}"), 0);
	assert_int_equal(kube_index_add(idx, "a", "x", "{\"v\":2}"), 0);
	assert_int_equal(kube_index_add(idx, "a", "w", NULL), 0);
	assert_int_equal(kube_index_add(idx, "b", "y", "{\"v\":3}"), 0);
	assert_int_equal(kube_index_objects(idx), 3);
	assert_int_equal(kube_index_snapshot(idx, NULL, &snap), 0);
	assert_int_equal(snap.count, 3);
	assert_string_equal(snap.records[0].ns, "a");
	assert_string_equal(snap.records[0].name, "w");
	assert_string_equal(snap.records[0].record, "");
	assert_string_equal(snap.records[1].name, "x");
	assert_string_equal(snap.records[1].record, "{\"v\":2}");
	assert_string_equal(snap.records[2].ns, "b");
	assert_string_equal(snap.records[2].record, "{\"v\":3}");
	kube_snapshot_free(&snap);
	assert_int_equal(kube_index_snapshot(idx, "b", &snap), 0);
	assert_int_equal(snap.count, 1);
	assert_string_equal(snap.records[0].name, "y");
	kube_snapshot_free(&snap);
	assert_int_equal(kube_index_snapshot(idx, "nope", &snap), 0);
	assert_int_equal(snap.count, 0);
	assert_string_equal(kube_index_other(idx, "b", "new"), "y");
	kube_snapshot_free(&snap);
	kube_index_free(idx);
}

/* A record holds apiVersion, kind and the fields at the pointers asked for
 * (escaped tokens included), with their JSON types; absent fields stay
 * absent; long strings and large mappings are cut. */
static void test_record_text(void **state)
{
	static const char *const keep[] = {
		"/metadata/name", "/metadata/annotations/dsguard.io~1ignore", "/metadata/labels",
		"/spec/template/spec/priorityClassName", "/spec/template/spec/priority",
		"/spec/template/spec/restartPolicy", "/metadata/uid"};
	cJSON *obj = cJSON_Parse("{\"metadata\":{\"name\":\"n\",\"annotations\":{\"dsguard.io/ignore\":\"DS003\","
				 "\"other\":\"x\"},\"labels\":{\"app\":\"n\"}},\"spec\":{\"template\":{\"spec\":"
				 "{\"priorityClassName\":null,\"priority\":7,\"containers\":[]}}}}");
	char *text, *long_value;
	cJSON *big, *labels;

	(void)state;
	text = kube_record_text(obj, "apps/v1", "DaemonSet", keep, 7);
	assert_string_equal(text, "{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"n\","
				  "\"annotations\":{\"dsguard.io/ignore\":\"DS003\"},\"labels\":{\"app\":\"n\"}},"
				  "\"spec\":{\"template\":{\"spec\":{\"priorityClassName\":null,\"priority\":7}}}}");
	cJSON_free(text);

	long_value = malloc(KUBE_MAX_KEPT_STRING + 100);
	memset(long_value, 'a', KUBE_MAX_KEPT_STRING + 99);
	long_value[KUBE_MAX_KEPT_STRING + 99] = '\0';
	labels = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "labels");
	for (int i = 0; i < KUBE_MAX_KEPT_MEMBERS + 10; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		cJSON_AddStringToObject(labels, key, "v");
	}
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(obj, "metadata"), "name", cJSON_CreateString(long_value));
	text = kube_record_text(obj, "apps/v1", "DaemonSet", keep, 7);
	big = cJSON_Parse(text);
	assert_int_equal(strlen(cJSON_GetObjectItem(cJSON_GetObjectItem(big, "metadata"), "name")->valuestring),
			 KUBE_MAX_KEPT_STRING);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(big, "metadata"), "labels")),
			 KUBE_MAX_KEPT_MEMBERS);
	cJSON_Delete(big);
	cJSON_free(text);
	free(long_value);

	text = kube_record_text(obj, "apps/v1", "DaemonSet", (const char *const[]){"no-slash", "/metadata/x~2"}, 2);
	assert_string_equal(text, "{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\"}");
	cJSON_free(text);
	cJSON_Delete(obj);
}

static void test_reservations(void **state)
{
	kube_reservations r = {0};
	kube_index *idx = kube_index_new();

	(void)state;
	assert_int_equal(kube_reservations_add(&r, "d", "one", 100.0), 0);
	assert_int_equal(kube_reservations_add(&r, "d", "one", 200.0), 0);
	assert_int_equal(r.count, 1);
	assert_string_equal(kube_reservations_other(&r, "d", "two", 150.0), "one");
	assert_null(kube_reservations_other(&r, "d", "one", 150.0));
	assert_null(kube_reservations_other(&r, "d", "two", 250.0));
	assert_int_equal(kube_reservations_add(&r, "e", "x", 100.0), 0);
	kube_reservations_prune(&r, NULL, 150.0);
	assert_int_equal(r.count, 1);
	assert_int_equal(kube_index_add(idx, "d", "one", NULL), 0);
	kube_reservations_prune(&r, idx, 0.0);
	assert_int_equal(r.count, 0);
	assert_int_equal(kube_reservations_add(&r, "f", "y", 100.0), 0);
	kube_reservations_remove(&r, "f", "y");
	assert_int_equal(r.count, 0);
	assert_int_equal(kube_reservations_add(&r, "g", "y", 100.0), 0);
	kube_reservations_free(&r);
	kube_index_free(idx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_types),
		cmocka_unit_test(test_bad_events),
		cmocka_unit_test(test_long_message),
		cmocka_unit_test(test_splitter),
		cmocka_unit_test(test_splitter_bounds),
		cmocka_unit_test(test_index),
		cmocka_unit_test(test_reservations),
		cmocka_unit_test(test_index_records),
		cmocka_unit_test(test_record_text),
	};

	return cmocka_run_group_tests_name("kube_event", tests, NULL, NULL);
}
