/* report.c - what lint and audit share at their end: the --format check and
 * the report written, then the exit code. */
#include "cli/cli.h"

const char *cli_format_choices(void)
{
	return ds_report_format_names(true);
}

int cli_check_format(const char *cmd, const char *format)
{
	if (ds_report_format_find(format))
		return 0;
	return cli_usage_error(cmd, "unknown --format '%s' (use %s)", format, ds_report_format_names(false));
}

int cli_report(const char *cmd, FILE *out, const char *format, const ds_lint_report *report,
	       const ds_report_options *opts, ds_severity fail_on)
{
	const ds_report_format *f = ds_report_format_find(format);

	if (!f || f->write(out, report, opts) < 0 || fflush(out) != 0 || fflush(stdout) != 0) {
		fprintf(stderr, "dsguard %s: cannot write the report\n", cmd);
		return DS_EXIT_USAGE;
	}
	return ds_lint_exit_code(report, fail_on);
}
