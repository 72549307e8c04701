/* fuzz_config.c - config file bytes -> ds_config_load(), read through a
 * memfd as /proc/self/fd/N (the loader takes a path).
 *
 * Asserts, for every input:
 * - a load that fails sets an error that starts with "PATH:" (the file,
 *   and for a problem in the text its line and column) and leaves the
 *   config at the defaults;
 * - a load that succeeds sets no error and gives a sound config: every
 *   severity known, every listed name a string, every exemption with a
 *   rule, a reason, a selector and valid globs;
 * - the default priority class it gives, if any, passes DS001 under that
 *   same config: the webhook patches it in and `lint --fix` inserts it,
 *   so a default the rule refuses would be patched in and still be wrong
 *   (or admitted as right). */
#include "fuzz/fuzz.h"
#include "config/config.h"
#include "lint/lint.h"
#include "test/rule_access.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *path;

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	path = fuzz_memfd_open("dsguard-config");
	return 0;
}

/* Whether cfg is what ds_config_init() gives. */
static bool at_defaults(const ds_config *cfg)
{
	ds_config def;

	ds_config_init(&def);
	if (cfg->enforce != def.enforce || cfg->allow_exemption_annotation != def.allow_exemption_annotation ||
	    cfg->exemption_count || cfg->exemptions || cfg->path || cfg->annotation.namespaces.count ||
	    cfg->annotation.users.count || cfg->annotation.groups.count || cfg->annotation.require_reason)
		return false;
	for (int i = 0; i < DS_RULE_COUNT; i++)
		if (cfg->rules[i].severity != def.rules[i].severity || !options_are_none(cfg, (size_t)i))
			return false;
	return true;
}

static void check_list(const ds_string_list *list)
{
	FUZZ_ASSERT(list->count == 0 || list->items, "a list without items");
	for (size_t i = 0; i < list->count; i++)
		FUZZ_ASSERT(list->items[i] != NULL, "a NULL name in a list");
}

/* A DaemonSet whose priorityClassName is `class`, evaluated under cfg:
 * the number of non-exempt DS001 findings at any severity. */
static size_t ds001_findings(const ds_config *cfg, const char *class)
{
	cJSON *ds = cJSON_Parse("{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\","
				"\"metadata\":{\"name\":\"agent\",\"namespace\":\"agents\"},"
				"\"spec\":{\"template\":{\"spec\":{\"containers\":[]}}}}");
	cJSON *spec = ds_pointer_get(ds, "/spec/template/spec");
	ds_context ctx = {.config = cfg};
	ds_evaluation ev;
	size_t n = 0;

	FUZZ_ASSERT(spec && cJSON_AddStringToObject(spec, "priorityClassName", class), "out of memory");
	FUZZ_ASSERT(ds_evaluate(ds, &ctx, DS_SCOPE_ALL, &ev) == 0, "ds_evaluate failed");
	for (size_t i = 0; i < ev.finding_count; i++)
		n += ev.findings[i].rule == DS001 && !ev.findings[i].exempt;
	ds_evaluation_free(&ev);
	cJSON_Delete(ds);
	return n;
}

static void check_loaded(const ds_config *cfg)
{
	const char *def = DEFAULT_CLASS(cfg);

	for (int i = 0; i < DS_RULE_COUNT; i++) {
		FUZZ_ASSERT(cfg->rules[i].severity <= DS_SEVERITY_ERROR, "an unknown severity");
		for (size_t j = 0; j < ds_rules[i].option_count; j++)
			if (ds_rules[i].options[j].type == DS_OPTION_NAME_LIST)
				check_list(&cfg->rules[i].options[ds_rules[i].options[j].slot].list);
	}
	for (size_t i = 0; i < cfg->exemption_count; i++) {
		const ds_exemption *e = &cfg->exemptions[i];
		bool any_rule = false;
		for (size_t j = 0; j < DS_RULE_COUNT; j++)
			any_rule |= e->rules[j];
		FUZZ_ASSERT(any_rule, "an exemption of no rule");
		FUZZ_ASSERT(e->reason && *e->reason, "an exemption without a reason");
		FUZZ_ASSERT(e->namespaces.count || e->names.count || e->label_count, "an exemption that selects all");
		FUZZ_ASSERT(!e->expires || e->expires_text, "an expiry without its text");
		check_list(&e->namespaces);
		check_list(&e->names);
		for (size_t j = 0; j < e->namespaces.count; j++)
			FUZZ_ASSERT(!ds_glob_invalid(e->namespaces.items[j]), "an invalid glob loaded");
		for (size_t j = 0; j < e->names.count; j++)
			FUZZ_ASSERT(!ds_glob_invalid(e->names.items[j]), "an invalid glob loaded");
	}
	check_list(&cfg->annotation.namespaces);
	check_list(&cfg->annotation.users);
	check_list(&cfg->annotation.groups);
	if (def && RULE_SETTINGS(cfg, DS001).severity != DS_SEVERITY_OFF)
		FUZZ_ASSERT(ds001_findings(cfg, def) == 0, "the default priority class fails DS001 itself");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ds_config cfg;
	char *error = NULL;
	int rc;

	fuzz_memfd_set(data, size);
	ds_config_init(&cfg);
	rc = ds_config_load(path, &cfg, &error);
	if (rc == 0) {
		FUZZ_ASSERT(error == NULL, "a successful load with an error");
		check_loaded(&cfg);
	} else {
		FUZZ_ASSERT(rc == -1, "a load that returns neither 0 nor -1");
		FUZZ_ASSERT(error && !strncmp(error, path, strlen(path)) && error[strlen(path)] == ':',
			    "a load error that does not start with PATH:");
		FUZZ_ASSERT(at_defaults(&cfg), "a failed load leaves the config changed");
	}
	free(error);
	ds_config_free(&cfg);
	return 0;
}
