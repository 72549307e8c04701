/* rules.c - `dsguard rules` and `dsguard version`. */
#include "cli/cli.h"
#include "cli/options.h"
#include "rules/rules.h"

#include <stdlib.h>
#include <string.h>

enum { OPT_FORMAT, OPT_COUNT };

static const struct cli_option rules_options[OPT_COUNT] = {
	[OPT_FORMAT] = {"format", 'f', "FORMAT",
			"text (default), markdown (docs/rules.md), config-markdown (the rule options of "
			"docs/config.md) or json", false},
};

static const struct cli_command rules_command = {
	.name = "rules",
	.usage = "[OPTIONS]",
	.summary = "Describes each rule: id, name, default severity, why it matters, how to fix it, its\n"
		   "options in the config file and how to exempt a resource from it.",
	.options = rules_options,
	.option_count = OPT_COUNT,
	.examples = "  dsguard rules\n  dsguard rules --format markdown > docs/rules.md\n"
		    "  dsguard rules --format json | jq '.rules[].options'\n",
};

static const struct cli_command version_command = {
	.name = "version",
	.usage = "",
	.summary = "Prints the version of dsguard.",
	.options = NULL,
	.option_count = 0,
	.examples = NULL,
};

/* How an option's type and default read in the docs. */
static const char *type_text(ds_option_type t)
{
	return t == DS_OPTION_NAME ? "string or null" : "list of strings";
}

static const char *default_text(ds_option_type t)
{
	return t == DS_OPTION_NAME ? "null" : "[]";
}

static const char *scope_name(ds_scope s)
{
	return s == DS_SCOPE_NAMESPACE ? "namespace" : "object";
}

static void print_rule(const ds_rule *r)
{
	printf("%s %s (default severity: %s)\n", r->id, r->name, ds_severity_name(r->default_severity));
	printf("  Checks: %s\n", r->summary);
	printf("  Why:    %s\n", r->why);
	printf("  Fix:    %s\n", r->remediation);
	if (r->fixes)
		printf("  Auto:   the webhook's patch and lint --fix %s\n", r->fixes);
	printf("  Config: rules.%s.severity (error, warning or off)\n", r->name);
	for (size_t i = 0; i < r->option_count; i++)
		printf("          rules.%s.%s (%s, default %s): %s\n", r->name, r->options[i].key,
		       type_text(r->options[i].type), default_text(r->options[i].type), r->options[i].help);
	printf("  Exempt: annotate the DaemonSet with dsguard.io/ignore: \"%s\" (or \"%s\", or \"all\"), or list it\n"
	       "          in the config's exemptions with a reason and an end date (docs/config.md)\n",
	       r->id, r->name);
}

/* One rule as a section of docs/rules.md; the heading "DS001 priority-class"
 * gives the anchor #ds001-priority-class that SARIF's helpUri links to. */
static void print_rule_markdown(const ds_rule *r)
{
	printf("\n## %s %s\n\n", r->id, r->name);
	printf("Default severity: **%s**\n\n", ds_severity_name(r->default_severity));
	printf("**Checks:** %s\n\n", r->summary);
	printf("**Why:** %s\n\n", r->why);
	printf("**How to fix:** %s\n\n", r->remediation);
	if (r->fixes)
		printf("**Automatic fix:** the webhook's patch and `lint --fix` %s.\n\n", r->fixes);
	else
		printf("**Automatic fix:** none.\n\n");
	if (r->option_count) {
		printf("**Options** (under `rules.%s` in the config, besides `severity`):\n\n", r->name);
		printf("| key | type | default | meaning |\n|---|---|---|---|\n");
		for (size_t i = 0; i < r->option_count; i++)
			printf("| `%s` | %s | `%s` | %s |\n", r->options[i].key, type_text(r->options[i].type),
			       default_text(r->options[i].type), r->options[i].help);
		putchar('\n');
	}
	printf("**Exempt a DaemonSet:** annotate it with `dsguard.io/ignore: \"%s\"` (or `\"%s\"`, or `\"all\"`);\n"
	       "for one you cannot annotate, list it under `exemptions:` in the config, with a reason and an\n"
	       "end date ([config.md](config.md#exemptions-in-the-config)). The finding is still reported,\n"
	       "marked as exempt. Turn the rule off for everything with `rules.%s.severity: off` in the config.\n",
	       r->id, r->name, r->name);
}

/* The rows of docs/config.md's table of rule settings. */
static void print_config_markdown(void)
{
	printf("| key | type | default | meaning |\n|---|---|---|---|\n");
	for (size_t i = 0; i < DS_RULE_COUNT; i++) {
		const ds_rule *r = &ds_rules[i];
		printf("| `rules.%s.severity` | `error`, `warning` or `off` | `%s` | %s %s; `off` does not run it |\n",
		       r->name, ds_severity_name(r->default_severity), r->id, r->name);
		for (size_t j = 0; j < r->option_count; j++)
			printf("| `rules.%s.%s` | %s | `%s` | %s |\n", r->name, r->options[j].key,
			       type_text(r->options[j].type), default_text(r->options[j].type), r->options[j].help);
	}
}

/* One rule as JSON: everything its record holds but its functions. */
static cJSON *rule_json(const ds_rule *r)
{
	cJSON *o = cJSON_CreateObject(), *options = cJSON_CreateArray();

	cJSON_AddStringToObject(o, "id", r->id);
	cJSON_AddStringToObject(o, "name", r->name);
	cJSON_AddStringToObject(o, "defaultSeverity", ds_severity_name(r->default_severity));
	cJSON_AddStringToObject(o, "scope", scope_name(r->scope));
	cJSON_AddStringToObject(o, "summary", r->summary);
	cJSON_AddStringToObject(o, "why", r->why);
	cJSON_AddStringToObject(o, "remediation", r->remediation);
	if (r->fixes)
		cJSON_AddStringToObject(o, "fix", r->fixes);
	else
		cJSON_AddNullToObject(o, "fix");
	for (size_t i = 0; i < r->option_count; i++) {
		cJSON *opt = cJSON_CreateObject();
		bool name = r->options[i].type == DS_OPTION_NAME;
		cJSON_AddStringToObject(opt, "key", r->options[i].key);
		cJSON_AddStringToObject(opt, "type", name ? "string" : "list");
		cJSON_AddItemToObject(opt, "default", name ? cJSON_CreateNull() : cJSON_CreateArray());
		cJSON_AddStringToObject(opt, "help", r->options[i].help);
		cJSON_AddItemToArray(options, opt);
	}
	cJSON_AddItemToObject(o, "options", options);
	return o;
}

/* Every rule as one JSON document. Returns 0, or -1 out of memory. */
static int print_json(void)
{
	cJSON *doc = cJSON_CreateObject(), *rules = cJSON_AddArrayToObject(doc, "rules");
	char *text;

	for (size_t i = 0; rules && i < DS_RULE_COUNT; i++)
		cJSON_AddItemToArray(rules, rule_json(&ds_rules[i]));
	text = rules ? cJSON_Print(doc) : NULL;
	cJSON_Delete(doc);
	if (!text)
		return -1;
	puts(text);
	cJSON_free(text);
	return 0;
}

static void print_markdown(void)
{
	printf("# Rules\n\n"
	       "This page is generated from the rule table by `dsguard rules --format markdown`;\n"
	       "a test fails when the two differ.\n");
	for (size_t i = 0; i < DS_RULE_COUNT; i++)
		print_rule_markdown(&ds_rules[i]);
}

int cmd_rules(int argc, char **argv)
{
	struct cli_args args;
	const char *format;
	int rc = cli_parse(&rules_command, argc, argv, &args);

	if (rc != 0 || args.help) {
		if (rc == 0)
			cli_args_free(&args);
		return rc;
	}
	format = cli_get(&args, OPT_FORMAT, "text");
	if (args.operand_count > 0)
		rc = cli_usage_error("rules", "takes no arguments");
	else if (!strcmp(format, "markdown"))
		print_markdown();
	else if (!strcmp(format, "config-markdown"))
		print_config_markdown();
	else if (!strcmp(format, "json"))
		rc = print_json() < 0 ? cli_usage_error("rules", "out of memory") : 0;
	else if (strcmp(format, "text"))
		rc = cli_usage_error("rules", "unknown --format '%s' (use text, markdown, config-markdown or json)", format);
	else
		for (size_t i = 0; i < DS_RULE_COUNT; i++) {
			if (i)
				putchar('\n');
			print_rule(&ds_rules[i]);
		}
	cli_args_free(&args);
	return rc;
}

int cmd_version(int argc, char **argv)
{
	struct cli_args args;
	int rc = cli_parse(&version_command, argc, argv, &args);

	if (rc != 0)
		return rc;
	if (!args.help && args.operand_count > 0)
		rc = cli_usage_error("version", "takes no arguments");
	else if (!args.help)
		printf("dsguard %s\n", DSGUARD_VERSION);
	cli_args_free(&args);
	return rc;
}
