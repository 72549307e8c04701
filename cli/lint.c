/* lint.c - `dsguard lint`: check manifest files, directories or stdin. */
#include "cli/cli.h"
#include "cli/options.h"
#include "lint/lint.h"

#include <stdlib.h>
#include <string.h>

enum {
	OPT_FORMAT, OPT_OUTPUT, OPT_NAMESPACE, OPT_CONFIG, OPT_FAIL_ON, OPT_EXCLUDE, OPT_STDIN_NAME, OPT_VERBOSE,
	OPT_FIX, OPT_DIFF, OPT_PRIORITY_CLASS, OPT_JOBS, OPT_NO_RENDER, OPT_HELM, OPT_KUSTOMIZE, OPT_RENDER_TIMEOUT,
	OPT_VALUES, OPT_SET, OPT_RELEASE_NAME, OPT_COUNT
};

static const struct cli_option options[OPT_COUNT] = {
	[OPT_FORMAT] = {"format", 'f', "FORMAT", "output format", true, cli_format_choices},
	[OPT_OUTPUT] = {"output", 0, "FILE",
			"write the report in the --format given before it to FILE; pairs repeat: one lint, many reports",
			true},
	[OPT_NAMESPACE] = {"namespace", 'n', "NS",
			   "namespace of manifests that name none, and charts' release namespace (default: default)",
			   false},
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
	[OPT_NO_RENDER] = {"no-render", 0, NULL, "lint Helm charts and Kustomize directories as files, unrendered",
			   false},
	[OPT_HELM] = {"helm", 0, "PATH", "the helm that renders charts (default: helm on PATH)", false},
	[OPT_KUSTOMIZE] = {"kustomize", 0, "PATH",
			   "kustomize, or kubectl, to render kustomizations (default: kustomize, else kubectl)", false},
	[OPT_RENDER_TIMEOUT] = {"render-timeout", 0, "SECONDS", "stop a render that runs longer (default: 60)", false},
	[OPT_VALUES] = {"values", 0, "[CHART=]FILE", "a values file for every chart, or for CHART; repeatable", true},
	[OPT_SET] = {"set", 0, "[CHART=]K=V", "a value for every chart, or for CHART (as helm --set); repeatable",
		     true},
	[OPT_RELEASE_NAME] = {"release-name", 0, "NAME", "the charts' release name (default: the chart's directory)",
			      false},
};

static const struct cli_command lint_command = {
	.name = "lint",
	.usage = "[OPTIONS] [PATH|-]...",
	.summary = "Checks the DaemonSets in manifest files, directories (recursively: .yaml, .yml, .json;\n"
		   "names starting with '.' are skipped unless named) and standard input ('-').\n"
		   "A directory with Chart.yaml is rendered with helm template, one with kustomization.yaml\n"
		   "with kustomize build (or kubectl kustomize), and what they render to is checked;\n"
		   "findings point at the template or file each field is written in.\n"
		   "Exit status: 0 no error-level finding, 1 findings, 2 usage, config, I/O, parse or render errors.",
	.options = options,
	.option_count = OPT_COUNT,
	.examples = "  dsguard lint deploy/\n"
		    "  dsguard lint --format json agents.yaml\n"
		    "  dsguard lint --values agent=values-prod.yaml charts/ overlays/\n"
		    "  dsguard lint --format text --format sarif --output dsguard.sarif .\n"
		    "  helm template charts/agent | dsguard lint -\n"
		    "  dsguard lint --diff --priority-class node-agents deploy/ | patch -p0\n",
};

/* Checks the options' values. Returns 0 or DS_EXIT_USAGE. */
static int check_args(const struct cli_args *args, ds_severity *fail_on)
{
	const char *level = cli_get(args, OPT_FAIL_ON, "error");

	if (cli_fail_on("lint", level, fail_on) != 0)
		return DS_EXIT_USAGE;
	if (args->operand_count == 0)
		return cli_usage_error("lint", "name at least one file, directory, or - for standard input");
	if (cli_has(args, OPT_FIX) && cli_has(args, OPT_DIFF))
		return cli_usage_error("lint", "--fix and --diff exclude each other");
	return 0;
}

/* Reads the rendering options into ro. Returns 0 or DS_EXIT_USAGE. */
static int render_options(const struct cli_args *args, ds_render_options *ro)
{
	unsigned long timeout;

	if (cli_get_ulong(&lint_command, args, OPT_RENDER_TIMEOUT, 60, 86400, &timeout) != 0)
		return DS_EXIT_USAGE;
	if (timeout == 0)
		return cli_usage_error("lint", "--render-timeout needs at least 1 second");
	*ro = (ds_render_options){
		.enabled = !cli_has(args, OPT_NO_RENDER),
		.helm = cli_get(args, OPT_HELM, NULL),
		.kustomize = cli_get(args, OPT_KUSTOMIZE, NULL),
		.timeout_seconds = (unsigned)timeout,
		.values = args->opts[OPT_VALUES].values,
		.value_count = (size_t)args->opts[OPT_VALUES].count,
		.sets = args->opts[OPT_SET].values,
		.set_count = (size_t)args->opts[OPT_SET].count,
		.release_name = cli_get(args, OPT_RELEASE_NAME, NULL),
	};
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
	struct cli_output *outputs = NULL;
	ds_lint_report report;
	unsigned long jobs;
	size_t output_count;
	int rc;

	if (cli_get_ulong(&lint_command, args, OPT_JOBS, 0, 1024, &jobs) != 0 ||
	    render_options(args, &opts.render) != 0 ||
	    cli_outputs("lint", &args->opts[OPT_FORMAT], &args->opts[OPT_OUTPUT], &outputs, &output_count) != 0)
		return DS_EXIT_USAGE;
	opts.jobs = (unsigned)jobs;

	if (ds_lint_paths((const char *const *)args->operands, (size_t)args->operand_count, &opts, &report) < 0) {
		fprintf(stderr, "dsguard lint: out of memory\n");
		free(outputs);
		return DS_EXIT_USAGE;
	}
	rc = cli_report_all("lint", out, outputs, output_count, &report,
			    &(ds_report_options){cfg, cli_has(args, OPT_VERBOSE)}, fail_on);
	ds_lint_report_free(&report);
	free(outputs);
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
		rc = cli_priority_class("lint", cli_get(&args, OPT_PRIORITY_CLASS, NULL), &cfg);
	if (rc == 0)
		rc = run_lint(&args, &cfg, fail_on);
	ds_config_free(&cfg);
	cli_args_free(&args);
	return rc;
}
