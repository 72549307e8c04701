/* rules.c - `dsguard rules` and `dsguard version`. */
#include "cli/cli.h"
#include "cli/options.h"
#include "rules/rules.h"

#include <stdlib.h>
#include <string.h>

static const struct cli_command rules_command = {
	.name = "rules",
	.usage = "[OPTIONS]",
	.summary = "Describes each rule: id, name, default severity, why it matters, how to fix it and\n"
		   "how to exempt a resource from it.",
	.options = NULL,
	.option_count = 0,
	.examples = "  dsguard rules\n",
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

int cmd_rules(int argc, char **argv)
{
	struct cli_args args;
	int rc = cli_parse(&rules_command, argc, argv, &args);

	if (rc != 0)
		return rc;
	if (!args.help && args.operand_count > 0)
		rc = cli_usage_error("rules", "takes no arguments");
	else if (!args.help)
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
