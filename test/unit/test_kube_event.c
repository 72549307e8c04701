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
	assert_int_equal(kube_index_add(idx, "b", "y"), 0);
	assert_int_equal(kube_index_add(idx, "a", "x"), 0);
	assert_int_equal(kube_index_add(idx, "a", "x"), 0);
	assert_int_equal(kube_index_add(idx, "c", "z"), 0);
	assert_int_equal(kube_index_objects(idx), 3);
	assert_int_equal(kube_index_namespaces(idx), 3);
	assert_null(kube_index_other(idx, "a", "x"));
	assert_string_equal(kube_index_other(idx, "a", "new"), "x");
	assert_int_equal(kube_index_add(idx, "a", "w"), 0);
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
	assert_int_equal(kube_index_add(idx, "d", "one"), 0);
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
	};

	return cmocka_run_group_tests_name("kube_event", tests, NULL, NULL);
}
