/* test_webhook_audit.c - what the cluster cache keeps of a DaemonSet for
 * the audit (ds_audit_fields) is all the rules read: lint's report over
 * the records is byte for byte its report over the whole objects, for
 * DaemonSets of every shape the rules tell apart, under configs that use
 * every rule option. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/private.h"
#include "test/rule_access.h"
#include "webhook/internal.h"

/* DaemonSets whose verdicts differ by the fields the rules read, with
 * fields no rule reads around them. */
static const char *const objects[] = {
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"a\",\"namespace\":\"x\","
	"\"uid\":\"u1\",\"resourceVersion\":\"7\",\"labels\":{\"app\":\"a\"}},\"spec\":{\"selector\":{},"
	"\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}},\"status\":{\"numberReady\":3}}",
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"b\",\"namespace\":\"x\"},"
	"\"spec\":{\"template\":{\"spec\":{\"priorityClassName\":\"node-agents\",\"restartPolicy\":\"OnFailure\","
	"\"priority\":7}}}}",
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"c\",\"namespace\":\"y\","
	"\"annotations\":{\"dsguard.io/ignore\":\"DS001, restart-policy\",\"other\":\"z\"}},"
	"\"spec\":{\"template\":{\"spec\":{\"priorityClassName\":5,\"restartPolicy\":[\"Always\"]}}}}",
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"d\",\"namespace\":\"y\","
	"\"annotations\":{\"dsguard.io/ignore\":\"all\"}},\"spec\":null}",
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"e\",\"namespace\":\"kube-system\"},"
	"\"spec\":{\"template\":\"not a mapping\"}}",
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"f\",\"namespace\":\"kube-system\"},"
	"\"spec\":{\"template\":{\"spec\":{\"priorityClassName\":\"\",\"restartPolicy\":\"\"}}}}",
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"g\",\"namespace\":\"z\"},"
	"\"spec\":{\"template\":{\"spec\":{\"priorityClassName\":\"other\",\"restartPolicy\":null,"
	"\"priority\":null}}}}",
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"h\",\"namespace\":\"w\","
	"\"annotations\":{\"dsguard.io/ignore\":7}},\"spec\":{\"template\":{\"spec\":{\"priorityClassName\":null,"
	"\"restartPolicy\":\"Always\"}}}}",
};

#define COUNT (sizeof(objects) / sizeof(objects[0]))

/* lint's JSON report over the objects, whole or as the cache keeps them. */
static char *report(const ds_config *cfg, bool as_records)
{
	cJSON *array = cJSON_CreateArray();
	ds_lint_options opts = {.config = cfg};
	ds_lint_report rep;
	char *text = NULL;
	size_t size = 0;
	FILE *out;

	for (size_t i = 0; i < COUNT; i++) {
		cJSON *obj = cJSON_Parse(objects[i]);
		char *record;
		assert_non_null(obj);
		if (as_records) {
			record = kube_record_text(obj, "apps/v1", "DaemonSet", ds_audit_fields, ds_audit_field_count);
			assert_non_null(record);
			cJSON_Delete(obj);
			obj = cJSON_Parse(record);
			cJSON_free(record);
		}
		cJSON_AddItemToArray(array, obj);
	}
	assert_int_equal(ds_lint_objects(array, &opts, &rep), 0);
	out = open_memstream(&text, &size);
	assert_int_equal(ds_report_format_find("json")->write(out, &rep, NULL), 0);
	fclose(out);
	ds_lint_report_free(&rep);
	cJSON_Delete(array);
	return text;
}

static void assert_same_verdicts(const ds_config *cfg)
{
	char *whole = report(cfg, false), *kept = report(cfg, true);

	assert_string_equal(kept, whole);
	free(whole);
	free(kept);
}

static void test_defaults(void **state)
{
	ds_config cfg;

	(void)state;
	ds_config_init(&cfg);
	assert_same_verdicts(&cfg);
	ds_config_free(&cfg);
}

/* Every option of every rule set, the annotation off, enforce off. */
static void test_every_option(void **state)
{
	ds_config cfg;
	ds_string_list *allowed, *exempt;

	(void)state;
	ds_config_init(&cfg);
	allowed = &ds_rule_option_value(&cfg, DS001, "allowed")->list;
	allowed->items = calloc(2, sizeof(char *));
	allowed->items[0] = strdup("node-agents");
	allowed->items[1] = strdup("system-node-critical");
	allowed->count = 2;
	assert_int_equal(ds_rule_option_set_name(&cfg, DS001, "default", "node-agents"), 0);
	exempt = &ds_rule_option_value(&cfg, DS003, "exemptNamespaces")->list;
	exempt->items = calloc(1, sizeof(char *));
	exempt->items[0] = strdup("kube-system");
	exempt->count = 1;
	assert_same_verdicts(&cfg);
	cfg.allow_exemption_annotation = false;
	cfg.enforce = false;
	assert_same_verdicts(&cfg);
	ds_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_option),
	};

	return cmocka_run_group_tests_name("webhook_audit", tests, NULL, NULL);
}
