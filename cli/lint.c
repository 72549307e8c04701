/* lint.c - `dsguard lint`: check manifest files, directories or stdin. */
#include "cli/cli.h"
#include "cli/options.h"
#include "lint/lint.h"

#include <stdlib.h>
#include <string.h>

enum {
	OPT_FORMAT, OPT_NAMESPACE, OPT_CONFIG, OPT_FAIL_ON, OPT_EXCLUDE, OPT_STDIN_NAME, OPT_VERBOSE,
	OPT_FIX, OPT_DIFF, OPT_PRIORITY_CLASS, OPT_JOBS, OPT_COUNT
};

static const struct cli_option options[OPT_COUNT] = {
	[OPT_FORMAT] = {"format", 'f', "FORMAT", "output format", false, cli_format_choices},
	[OPT_NAMESPACE] = {"namespace", 'n', "NS", "namespace of manifests that name none (default: default)", false},
	[OPT_CONFIG] = {"config", 'c', "FILE", "config file (default: .dsguard.yaml when present)", false},
	[OPT_FAIL_ON] = {"fail-on", 0, "LEVEL", "exit 1 on findings of this level or above: error (default) or warning",
			 false},
	[OPT_EXCLUDE] = {"exclude", 0, "GLOB", "skip paths (or base names) matching GLOB; repeatable", true},
	[OPT_STDIN_NAME] = {"stdin-filename", 0, "NAME", "the file name reported for standard input", false},
	[OPT_VERBOSE] = {"verbose", 'v', NULL, "also list exempted findings (by a config exemption or dsguard.io/ignore)", false},
	[OPT_FIX] = {"fix", 0, NULL, "rewrite files in place with minimal edits that fix what the rules can fix", false},
	[OPT_DIFF] = {"diff", 0, NULL, "print the fixes as a unified diff (for patch -p0) instead; report on stderr",
		      false},
	[OPT_PRIORITY_CLASS] = {"priority-class", 0, "NAME",
				"the class --fix inserts (default: rules.priority-class.default)", false},
	[OPT_JOBS] = {"jobs", 'j', "N", "threads reading files (default: one per core); output order never changes",
		      false},
};

static const struct cli_command lint_command = {
	.name = "lint",
	.usage = "[OPTIONS] [PATH|-]...",
	.summary = "Checks the DaemonSets in manifest files, directories (recursively: .yaml, .yml, .json;\n"
		   "names starting with '.' are skipped unless named) and standard input ('-').\n"
		   "Exit status: 0 no error-level finding, 1 findings, 2 usage, config, I/O or parse errors.",
	.options = options,
	.option_count = OPT_COUNT,
	.examples = "  dsguard lint deploy/\n"
		    "  dsguard lint --format json agents.yaml\n"
		    "  helm template charts/agent | dsguard lint -\n"
		    "  dsguard lint --diff --priority-class node-agents deploy/ | patch -p0\n",
};

/* Checks the options' values. Returns 0 or DS_EXIT_USAGE. */
static int check_args(const struct cli_args *args, ds_severity *fail_on)
{
	const char *format = cli_get(args, OPT_FORMAT, "text");
	const char *level = cli_get(args, OPT_FAIL_ON, "error");

	if (cli_check_format("lint", format) != 0)
		return DS_EXIT_USAGE;
	if (cli_fail_on("lint", level, fail_on) != 0)
		return DS_EXIT_USAGE;
	if (args->operand_count == 0)
		return cli_usage_error("lint", "name at least one file, directory, or - for standard input");
	if (cli_has(args, OPT_FIX) && cli_has(args, OPT_DIFF))
		return cli_usage_error("lint", "--fix and --diff exclude each other");
	return 0;
}

/* --priority-class NAME overrides the config's default class. Returns 0 or
 * DS_EXIT_USAGE. */
static int apply_priority_class(const struct cli_args *args, ds_config *cfg)
{
	const char *name = cli_get(args, OPT_PRIORITY_CLASS, NULL);

	if (!name)
		return 0;
	if (!*name)
		return cli_usage_error("lint", "--priority-class needs a name");
	if (ds_rule_option_set_name(cfg, ds_rule_find("priority-class"), "default", name) < 0)
		return cli_usage_error("lint", "out of memory");
	return 0;
}

static int run_lint(const struct cli_args *args, const ds_config *cfg, ds_severity fail_on)
{
	ds_lint_options opts = {
		.config = cfg,
		.default_namespace = cli_get(args, OPT_NAMESPACE, NULL),
		.excludes = args->opts[OPT_EXCLUDE].values,
		.exclude_count = (size_t)args->opts[OPT_EXCLUDE].count,
		.stdin_name = cli_get(args, OPT_STDIN_NAME, NULL),
		.fix = cli_has(args, OPT_FIX) ? DS_FIX_WRITE : cli_has(args, OPT_DIFF) ? DS_FIX_DIFF : DS_FIX_NONE,
		.diff_out = stdout,
	};
	/* With --diff, stdout carries the patch alone. */
	FILE *out = opts.fix == DS_FIX_DIFF ? stderr : stdout;
	const char *format = cli_get(args, OPT_FORMAT, "text");
	ds_lint_report report;
	unsigned long jobs;
	int rc;

	if (cli_get_ulong(&lint_command, args, OPT_JOBS, 0, 1024, &jobs) != 0)
		return DS_EXIT_USAGE;
	opts.jobs = (unsigned)jobs;

	if (ds_lint_paths((const char *const *)args->operands, (size_t)args->operand_count, &opts, &report) < 0) {
		fprintf(stderr, "dsguard lint: out of memory\n");
		return DS_EXIT_USAGE;
	}
	rc = cli_report("lint", out, format, &report, &(ds_report_options){cfg, cli_has(args, OPT_VERBOSE)}, fail_on);
	ds_lint_report_free(&report);
	return rc;
}

int cmd_lint(int argc, char **argv)
{
	struct cli_args args;
	ds_severity fail_on = DS_SEVERITY_ERROR;
	ds_config cfg;
	int rc = cli_parse(&lint_command, argc, argv, &args);

	if (rc != 0)
		return rc;
	if (args.help) {
		cli_args_free(&args);
		return DS_EXIT_OK;
	}
	ds_config_init(&cfg);
	rc = check_args(&args, &fail_on);
	if (rc == 0)
		rc = cli_load_config("lint", cli_get(&args, OPT_CONFIG, NULL), true, &cfg);
	if (rc == 0)
		rc = apply_priority_class(&args, &cfg);
	if (rc == 0)
		rc = run_lint(&args, &cfg, fail_on);
	ds_config_free(&cfg);
	cli_args_free(&args);
	return rc;
}
