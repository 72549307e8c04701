/* cli.h - the subcommands of the dsguard binary and their shared helpers. */
#ifndef DSGUARD_CLI_H
#define DSGUARD_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "lint/lint.h"
#include "rules/rules.h"

/* Exit codes shared by every command. */
enum {
	DS_EXIT_OK = 0,       /* nothing at or above the failure threshold */
	DS_EXIT_FINDINGS = 1, /* findings at or above the threshold */
	DS_EXIT_USAGE = 2     /* usage, config, I/O or parse error */
};

/* Each subcommand: argv[0] is the subcommand's name. Returns the exit code. */
int cmd_lint(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_review(int argc, char **argv);
int cmd_certs(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_exemptions(int argc, char **argv);
int cmd_version(int argc, char **argv);

/* Prints "dsguard CMD: MESSAGE" and a pointer to --help on stderr.
 * Returns DS_EXIT_USAGE so callers can `return cli_usage_error(...)`. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Loads the config file at path (or, with pick_local, .dsguard.yaml of
 * the current directory when path is NULL and it exists) into cfg, which
 * holds the defaults. Returns 0, or DS_EXIT_USAGE after printing the error
 * (file:line:col) as "dsguard CMD: ...". */
int cli_load_config(const char *cmd, const char *path, bool pick_local, ds_config *cfg);

/* Reads a --fail-on level ("error" or "warning") into *out. Returns 0, or
 * DS_EXIT_USAGE after saying what is wrong. */
int cli_fail_on(const char *cmd, const char *level, ds_severity *out);

/* The report formats for --help, the first (the default) marked: "text
 * (default), json, sarif, junit or github". A static string. */
const char *cli_format_choices(void);

/* Checks a --format value against the report formats. Returns 0, or
 * DS_EXIT_USAGE after saying which formats there are. */
int cli_check_format(const char *cmd, const char *format);

/* Lists the DaemonSets of the cluster that the kubeconfig (NULL:
 * $KUBECONFIG, ~/.kube/config, else the in-cluster service account) and
 * its context (NULL: current-context) name, as audit and exemptions do.
 * Returns a new array, or NULL after printing why as "dsguard CMD: ...". */
cJSON *cli_list_cluster(const char *cmd, const char *kubeconfig, const char *context);

/* The end of lint and audit alike: writes the report to out in `format`
 * (checked with cli_check_format()), flushes stdout and returns the exit
 * code (DS_EXIT_USAGE on a write error, naming the command). */
int cli_report(const char *cmd, FILE *out, const char *format, const ds_lint_report *report,
	       const ds_report_options *opts, ds_severity fail_on);

#endif
