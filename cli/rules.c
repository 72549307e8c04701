/* rules.c - `dsguard rules` and `dsguard version`. */
#include "cli/cli.h"
#include "cli/options.h"
#include "rules/rules.h"

#include <stdlib.h>
#include <string.h>

enum { OPT_FORMAT, OPT_COUNT };

static const struct cli_option rules_options[OPT_COUNT] = {
	[OPT_FORMAT] = {"format", 'f', "FORMAT", "text (default) or markdown (docs/rules.md is made with it)", false},
};

static const struct cli_command rules_command = {
	.name = "rules",
	.usage = "[OPTIONS]",
	.summary = "Describes each rule: id, name, default severity, why it matters, how to fix it and\n"
		   "how to exempt a resource from it.",
	.options = rules_options,
	.option_count = OPT_COUNT,
	.examples = "  dsguard rules\n  dsguard rules --format markdown > docs/rules.md\n",
};

static const struct cli_command version_command = {
	.name = "version",
	.usage = "",
	.summary = "Prints the version of dsguard.",
	.options = NULL,
	.option_count = 0,
	.examples = NULL,
};

static void print_rule(const ds_rule *r)
{
	printf("%s %s (default severity: %s)\n", r->id, r->name, ds_severity_name(r->default_severity));
	printf("  Checks: %s\n", r->summary);
	printf("  Why:    %s\n", r->why);
	printf("  Fix:    %s\n", r->remediation);
	if (r->fixes)
		printf("  Auto:   the webhook's patch and lint --fix %s\n", r->fixes);
	printf("  Exempt: annotate the DaemonSet with dsguard.io/ignore: \"%s\" (or \"%s\", or \"all\")\n",
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
	printf("**Exempt a DaemonSet:** annotate it with `dsguard.io/ignore: \"%s\"` (or `\"%s\"`, or `\"all\"`);\n"
	       "the finding is still reported, marked as exempt. Turn the rule off for everything with\n"
	       "`rules.%s.severity: off` in the config.\n",
	       r->id, r->name, r->name);
}

static void print_markdown(void)
{
	printf("# Rules\n\n"
	       "This page is generated from the rule table by `dsguard rules --format markdown`;\n"
	       "a test fails when the two differ.\n");
	for (int i = 0; i < DS_RULE_COUNT; i++)
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
	else if (strcmp(format, "text"))
		rc = cli_usage_error("rules", "unknown --format '%s' (use text or markdown)", format);
	else
		for (int i = 0; i < DS_RULE_COUNT; i++) {
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
