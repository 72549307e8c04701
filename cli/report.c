/* report.c - what lint and audit share at their end: the --format check,
 * --format and --output paired into the reports to write, the reports
 * written, then the exit code. */
#include "cli/cli.h"
#include "cli/options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* Adds the report {format, path} to the list. Returns 0, or DS_EXIT_USAGE. */
static int add_output(const char *cmd, struct cli_output **list, size_t *count, const char *format, const char *path)
{
	struct cli_output *grown;

	if (cli_check_format(cmd, format) != 0)
		return DS_EXIT_USAGE;
	if (path && !strcmp(path, "-"))
		path = NULL;
	for (size_t i = 0; i < *count; i++) {
		if (!path && !(*list)[i].path)
			return cli_usage_error(cmd, "only one report can go to standard output: give each --format but "
						    "one an --output FILE after it");
		if (path && (*list)[i].path && !strcmp(path, (*list)[i].path))
			return cli_usage_error(cmd, "--output %s is given twice", path);
	}
	grown = ds_array_grow(*list, *count, sizeof(*grown));
	if (!grown)
		return cli_usage_error(cmd, "out of memory");
	*list = grown;
	grown[(*count)++] = (struct cli_output){format, path};
	return 0;
}

int cli_outputs(const char *cmd, const struct cli_value *formats, const struct cli_value *outputs,
		struct cli_output **list, size_t *count)
{
	const char *pending = NULL; /* a --format not yet followed by its --output */
	int f = 0, o = 0, rc = 0;

	*list = NULL;
	*count = 0;
	while (rc == 0 && (f < formats->count || o < outputs->count)) {
		bool format_next = o == outputs->count || (f < formats->count && formats->at[f] < outputs->at[o]);
		if (format_next) {
			if (pending)
				rc = add_output(cmd, list, count, pending, NULL);
			pending = formats->values[f++];
		} else {
			rc = add_output(cmd, list, count, pending ? pending : "text", outputs->values[o++]);
			pending = NULL;
		}
	}
	if (rc == 0 && (pending || !*count))
		rc = add_output(cmd, list, count, pending ? pending : "text", NULL);
	if (rc != 0) {
		free(*list);
		*list = NULL;
		*count = 0;
	}
	return rc;
}

/* Writes the report in `format` to out. Returns 0, or -1 on a write error. */
static int write_one(FILE *out, const char *format, const ds_lint_report *report, const ds_report_options *opts)
{
	const ds_report_format *f = ds_report_format_find(format);

	return f && f->write(out, report, opts) == 0 && fflush(out) == 0 ? 0 : -1;
}

int cli_report_all(const char *cmd, FILE *out, const struct cli_output *list, size_t count,
		   const ds_lint_report *report, const ds_report_options *opts, ds_severity fail_on)
{
	int rc = ds_lint_exit_code(report, fail_on);

	for (size_t i = 0; i < count; i++) {
		FILE *file = list[i].path ? fopen(list[i].path, "w") : out;
		int failed = !file || write_one(file, list[i].format, report, opts) < 0;
		int saved = errno;
		if (list[i].path && file && fclose(file) != 0 && !failed) {
			failed = 1;
			saved = errno;
		}
		if (failed) {
			if (list[i].path)
				fprintf(stderr, "dsguard %s: cannot write the report to %s: %s\n", cmd, list[i].path,
					strerror(saved));
			else
				fprintf(stderr, "dsguard %s: cannot write the report\n", cmd);
			rc = DS_EXIT_USAGE;
		}
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "dsguard %s: cannot write the report\n", cmd);
		rc = DS_EXIT_USAGE;
	}
	return rc;
}

int cli_report(const char *cmd, FILE *out, const char *format, const ds_lint_report *report,
	       const ds_report_options *opts, ds_severity fail_on)
{
	const struct cli_output one = {format, NULL};

	return cli_report_all(cmd, out, &one, 1, report, opts, fail_on);
}
