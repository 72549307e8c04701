/* test_lint_report.c - the JSON report written one finding at a time: the
 * exact version 1 document, the same bytes cJSON prints for the document
 * whole, a write error reported as such, and the "source" of objects
 * from a cluster, handed over as an array or one at a time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lint/lint.h"
#include "test/rule_access.h"

/* The report as text in `format`; the caller frees it. */
static char *write_report(const char *format, const ds_lint_report *report)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	assert_int_equal(ds_report_format_find(format)->write(out, report, NULL), 0);
	assert_int_equal(fclose(out), 0);
	return text;
}

/* Whether text is what cJSON prints for the document text holds, whole and
 * unformatted (with the newline after it). */
static void assert_cjson_prints(const char *text)
{
	cJSON *doc = cJSON_Parse(text);
	char *again = doc ? cJSON_PrintUnformatted(doc) : NULL;
	size_t len = again ? strlen(again) : 0;

	assert_non_null(again);
	assert_int_equal(strlen(text), len + 1);
	assert_memory_equal(text, again, len);
	assert_int_equal(text[len], '\n');
	free(again);
	cJSON_Delete(doc);
}

#define SHARED_WITH(other) \
	"namespace logging is shared with DaemonSet logging/" other "; each DaemonSet needs a namespace of its own"

/* Findings from two files (one object from a cluster, without a position),
 * problems of both levels in file order, and counts beyond 32 bits. */
static void fill_report(ds_lint_report *r, ds_lint_finding *findings, ds_lint_problem *problems)
{
	findings[0] = (ds_lint_finding){
		.rule = DS003, .severity = DS_SEVERITY_ERROR,
		.line = 5, .column = 14, .message = SHARED_WITH("b"),
		.file = "deploy/a.yaml", .kind = "DaemonSet", .namespace = "logging", .name = "a", .file_index = 1};
	findings[1] = (ds_lint_finding){
		.rule = DS001, .severity = DS_SEVERITY_WARNING, .line = 8, .column = 5,
		.message = "spec.template.spec.priorityClassName is not set", .file = "deploy/a.yaml",
		.kind = "DaemonSet", .namespace = "logging", .name = "a", .file_index = 1,
		.fix_note = "no default priority class"};
	findings[2] = (ds_lint_finding){
		.rule = DS002, .severity = DS_SEVERITY_ERROR, .fixed = true,
		.line = 9, .column = 22, .message = "spec.template.spec.restartPolicy is \"Never\"\t\x01",
		.file = "deploy/a.yaml", .kind = "DaemonSet", .namespace = "logging", .name = "a", .file_index = 1};
	findings[3] = (ds_lint_finding){
		.rule = DS003, .severity = DS_SEVERITY_ERROR, .exempt = true, .exempted_by = DS_EXEMPT_ANNOTATION,
		.exempt_reason = "one \"team\" owns both", .message = SHARED_WITH("a"), .file = "apis/apps/v1/namespaces/logging/daemonsets/b",
		.kind = "DaemonSet", .namespace = "logging", .name = "b \\ \xc3\xa9", .file_index = 2};
	problems[0] = (ds_lint_problem){"deploy/a.yaml", 3, 3, false, "key \"name\" is repeated", 1};
	problems[1] = (ds_lint_problem){"deploy/broken.yaml", 2, 1, true, "did not find expected node content", 3};
	problems[2] = (ds_lint_problem){"deploy/gone.yaml", 0, 0, true, "cannot open: No such file or directory", 4};
	*r = (ds_lint_report){
		.findings = findings, .finding_count = 4, .problems = problems, .problem_count = 3,
		.summary = {.files = 5000000000u, .resources = 7, .daemonsets = 2, .errors = 2, .warnings = 1,
			    .exempted = 1, .input_errors = 2, .fixed = 1}};
}

static void test_json_document(void **state)
{
	ds_lint_finding findings[4];
	ds_lint_problem problems[3];
	ds_lint_report report;
	char *text;

	(void)state;
	fill_report(&report, findings, problems);
	text = write_report("json", &report);
	assert_string_equal(text,
		"{\"version\":1,\"findings\":["
		"{\"rule\":\"DS003\",\"name\":\"dedicated-namespace\",\"severity\":\"error\","
		"\"file\":\"deploy/a.yaml\",\"line\":5,\"column\":14,\"kind\":\"DaemonSet\","
		"\"namespace\":\"logging\",\"resourceName\":\"a\","
		"\"message\":\"namespace logging is shared with DaemonSet logging/b; each DaemonSet needs a "
		"namespace of its own\",\"exempt\":false},"
		"{\"rule\":\"DS001\",\"name\":\"priority-class\",\"severity\":\"warning\",\"file\":\"deploy/a.yaml\","
		"\"line\":8,\"column\":5,\"kind\":\"DaemonSet\",\"namespace\":\"logging\",\"resourceName\":\"a\","
		"\"message\":\"spec.template.spec.priorityClassName is not set\",\"exempt\":false,"
		"\"fixNote\":\"no default priority class\"},"
		"{\"rule\":\"DS002\",\"name\":\"restart-policy\",\"severity\":\"error\",\"file\":\"deploy/a.yaml\","
		"\"line\":9,\"column\":22,\"kind\":\"DaemonSet\",\"namespace\":\"logging\",\"resourceName\":\"a\","
		"\"message\":\"spec.template.spec.restartPolicy is \\\"Never\\\"\\t\\u0001\",\"exempt\":false,"
		"\"fixed\":true},"
		"{\"rule\":\"DS003\",\"name\":\"dedicated-namespace\",\"severity\":\"error\","
		"\"file\":\"apis/apps/v1/namespaces/logging/daemonsets/b\",\"kind\":\"DaemonSet\","
		"\"namespace\":\"logging\",\"resourceName\":\"b \\\\ \xc3\xa9\",\"message\":\"namespace logging is "
		"shared with DaemonSet logging/a; each DaemonSet needs a namespace of its own\",\"exempt\":true,"
		"\"exemptedBy\":\"annotation\",\"exemptReason\":\"one \\\"team\\\" owns both\"}"
		"],\"errors\":["
		"{\"file\":\"deploy/broken.yaml\",\"line\":2,\"column\":1,\"message\":\"did not find expected node "
		"content\"},"
		"{\"file\":\"deploy/gone.yaml\",\"message\":\"cannot open: No such file or directory\"}"
		"],\"inputWarnings\":["
		"{\"file\":\"deploy/a.yaml\",\"line\":3,\"column\":3,\"message\":\"key \\\"name\\\" is repeated\"}"
		"],\"summary\":{\"files\":5000000000,\"resources\":7,\"daemonsets\":2,\"errors\":2,\"warnings\":1,"
		"\"exempted\":1,\"inputErrors\":2,\"fixed\":1}}\n");
	assert_cjson_prints(text);
	free(text);
}

static void test_json_empty(void **state)
{
	ds_lint_report report = {.summary = {.files = 1}};
	char *text;

	(void)state;
	text = write_report("json", &report);
	assert_string_equal(text, "{\"version\":1,\"findings\":[],\"errors\":[],\"inputWarnings\":[],\"summary\":"
				  "{\"files\":1,\"resources\":0,\"daemonsets\":0,\"errors\":0,\"warnings\":0,"
				  "\"exempted\":0,\"inputErrors\":0,\"fixed\":0}}\n");
	assert_cjson_prints(text);
	free(text);
}

/* Only problems, each kind alone: no stray comma between the arrays. */
static void test_json_problems_only(void **state)
{
	ds_lint_finding findings[4];
	ds_lint_problem problems[3];
	ds_lint_report report;
	char *text;

	(void)state;
	fill_report(&report, findings, problems);
	report.finding_count = 0;
	report.problems = &problems[1];
	report.problem_count = 2;
	text = write_report("json", &report);
	assert_non_null(strstr(text, "\"findings\":[],\"errors\":[{\"file\":\"deploy/broken.yaml\""));
	assert_non_null(strstr(text, "such file or directory\"}],\"inputWarnings\":[],\"summary\":"));
	assert_cjson_prints(text);
	free(text);
	report.problems = problems;
	report.problem_count = 1;
	text = write_report("json", &report);
	assert_non_null(strstr(text, "\"errors\":[],\"inputWarnings\":[{\"file\":\"deploy/a.yaml\""));
	assert_cjson_prints(text);
	free(text);
}

/* A report of objects from a cluster says so: "source" after "version". */
static void test_json_source(void **state)
{
	ds_lint_report report = {.summary = {.files = 1}, .source = "cluster"};
	char *text;

	(void)state;
	text = write_report("json", &report);
	assert_string_equal(text, "{\"version\":1,\"source\":\"cluster\",\"findings\":[],\"errors\":[],"
				  "\"inputWarnings\":[],\"summary\":{\"files\":1,\"resources\":0,\"daemonsets\":0,"
				  "\"errors\":0,\"warnings\":0,\"exempted\":0,\"inputErrors\":0,\"fixed\":0}}\n");
	assert_cjson_prints(text);
	free(text);
}

/* The objects of a test source, parsed one at a time as they are asked for. */
struct parsed_source {
	const char *const *texts;
	size_t next, count;
	cJSON *current;
};

static const cJSON *next_parsed(void *data)
{
	struct parsed_source *s = data;

	cJSON_Delete(s->current);
	s->current = s->next < s->count ? cJSON_Parse(s->texts[s->next++]) : NULL;
	return s->current;
}

/* Objects handed out one at a time give the bytes the same objects give as
 * an array, DS003 across them included. */
static void test_objects_from_source(void **state)
{
	static const char *const texts[] = {
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"a\",\"namespace\":\"x\"},"
		"\"spec\":{\"template\":{\"spec\":{\"restartPolicy\":\"Never\"}}}}",
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"b\",\"namespace\":\"x\","
		"\"annotations\":{\"dsguard.io/ignore\":\"DS003\"}},"
		"\"spec\":{\"template\":{\"spec\":{\"priorityClassName\":\"p\"}}}}",
	};
	struct parsed_source source = {.texts = texts, .count = 2};
	cJSON *array = cJSON_CreateArray();
	ds_config cfg;
	ds_lint_options opts = {.config = &cfg};
	ds_lint_report a, b;
	char *ta, *tb;

	(void)state;
	ds_config_init(&cfg);
	for (size_t i = 0; i < 2; i++)
		cJSON_AddItemToArray(array, cJSON_Parse(texts[i]));
	assert_int_equal(ds_lint_objects(array, &opts, &a), 0);
	assert_int_equal(ds_lint_objects_from(next_parsed, &source, &opts, &b), 0);
	assert_null(source.current);
	ta = write_report("json", &a);
	tb = write_report("json", &b);
	assert_string_equal(ta, tb);
	assert_int_equal(b.finding_count, 4); /* a: DS001, DS002, DS003; b: DS003 exempt */
	assert_int_equal(b.summary.exempted, 1);
	assert_string_equal(b.source, "cluster");
	free(ta);
	free(tb);
	ds_lint_report_free(&a);
	ds_lint_report_free(&b);
	cJSON_Delete(array);
	ds_config_free(&cfg);
}

/* A stream that refuses the bytes: the writer says so. */
static void test_json_write_error(void **state)
{
	ds_lint_finding findings[4];
	ds_lint_problem problems[3];
	ds_lint_report report;
	char buf[64];
	FILE *out = fmemopen(buf, sizeof(buf), "w");

	(void)state;
	assert_non_null(out);
	setvbuf(out, NULL, _IONBF, 0);
	fill_report(&report, findings, problems);
	assert_int_equal(ds_report_format_find("json")->write(out, &report, NULL), -1);
	fclose(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_document),
		cmocka_unit_test(test_json_empty),
		cmocka_unit_test(test_json_problems_only),
		cmocka_unit_test(test_json_write_error),
		cmocka_unit_test(test_json_source),
		cmocka_unit_test(test_objects_from_source),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
