/* lint.h - the offline linter: manifests read with positions, rules run over
 * them, findings reported. */
#ifndef DSGUARD_LINT_H
#define DSGUARD_LINT_H

#include "rules/rules.h"

#include <stdio.h>

/* How a lint run reads its inputs. */
typedef struct ds_lint_options {
	const ds_config *config;
	const char *default_namespace; /* for manifests without one; NULL: "default" */
	const char *const *excludes;   /* globs matched against each path and its base name */
	size_t exclude_count;
	const char *stdin_name;        /* the name "-" is reported under; NULL: "-" */
	enum { DS_FIX_NONE, DS_FIX_WRITE, DS_FIX_DIFF } fix; /* --fix rewrites files, --diff prints */
	FILE *diff_out;                /* where DS_FIX_DIFF writes the unified diff */
	unsigned jobs;                 /* threads reading files; 0: one per core */
} ds_lint_options;

/* One finding, placed in a file. Owns message and fix_note; file,
 * namespace and name are borrowed from the report (its file names and the
 * DaemonSet's record) and kind is a constant, so a finding costs its
 * message and little more. */
typedef struct ds_lint_finding {
	const ds_rule *rule;
	ds_severity severity;
	bool exempt;
	bool fixed;        /* --fix/--diff made the edit that fixes it */
	unsigned line, column;
	char *message;
	const char *file;
	const char *kind, *namespace, *name;
	size_t file_index; /* order of the file in the run */
	char *fix_note;    /* why it was not fixed, when a fix was asked for; or NULL */
} ds_lint_finding;

/* A file that could not be read or parsed (is_error), or a warning about
 * its text (a repeated key). line and column are 0 for a whole-file
 * problem. Owns its strings. */
typedef struct ds_lint_problem {
	char *file;
	unsigned line, column;
	bool is_error;
	char *message;
	size_t file_index;
} ds_lint_problem;

/* A DaemonSet the run checked, with findings or without. namespace owns
 * one allocation that holds name too; file is borrowed from the report's
 * file names. */
typedef struct ds_lint_daemonset {
	const char *file;
	char *namespace;
	const char *name;
	size_t file_index;
	size_t seq; /* order of reading within its file */
} ds_lint_daemonset;

typedef struct ds_lint_summary {
	size_t files, resources, daemonsets;
	size_t errors, warnings, exempted; /* findings, by effective severity */
	size_t input_errors;               /* problems that are errors */
	size_t fixed;                      /* findings fixed by --fix/--diff */
} ds_lint_summary;

/* Everything one run found, findings sorted by file, line, column, rule. */
typedef struct ds_lint_report {
	ds_lint_finding *findings;
	size_t finding_count;
	ds_lint_problem *problems;
	size_t problem_count;
	ds_lint_summary summary;
	bool rewritten; /* --fix wrote the fixes into the files */
	ds_lint_daemonset *daemonsets; /* every DaemonSet checked, in the order read */
	size_t daemonset_count;
	char **files; /* the name of each file read, once: what findings and DaemonSets borrow */
	size_t file_count;
} ds_lint_report;

/* Lints every path (file, directory walked recursively, or "-" for
 * standard input). DS003 looks across all of them. Returns 0 with out
 * filled (release it with ds_lint_report_free()), or -1 when memory ran
 * out. Unreadable or broken inputs are problems in the report, not
 * failures of the run. */
int ds_lint_paths(const char *const *paths, size_t count, const ds_lint_options *opts, ds_lint_report *out);

/* Lints objects read from a live cluster (a cJSON array of DaemonSets), as
 * ds_lint_paths() lints files: each is reported under its API path
 * ("apis/apps/v1/namespaces/NS/daemonsets/NAME") with no line or column.
 * Returns 0 with out filled, or -1 out of memory. */
int ds_lint_objects(const cJSON *objects, const ds_lint_options *opts, ds_lint_report *out);

/* Releases what report owns and empties it. */
void ds_lint_report_free(ds_lint_report *report);

/* Whether finding f still stands in its file: false for a finding that
 * --fix has fixed in place (--diff changes no file). */
bool ds_lint_finding_open(const ds_lint_report *report, const ds_lint_finding *f);

/* The exit code for a report: 2 when an input could not be read or parsed,
 * 1 when a finding is at or above fail_on, else 0. */
int ds_lint_exit_code(const ds_lint_report *report, ds_severity fail_on);

/* Writes the report in one format. Return 0, or -1 on a write error. The
 * text, JSON and GitHub formats are written one finding at a time; SARIF
 * and JUnit are assembled whole in memory before they are written. */
int ds_report_text(FILE *out, const ds_lint_report *report, bool verbose);
int ds_report_json(FILE *out, const ds_lint_report *report);
/* SARIF 2.1.0, file URIs relative to the working directory. */
int ds_report_sarif(FILE *out, const ds_lint_report *report);
/* JUnit XML: a testsuite per file, a testcase per DaemonSet and each rule
 * that config does not turn off. */
int ds_report_junit(FILE *out, const ds_lint_report *report, const ds_config *config);
/* GitHub Actions workflow commands (::error, ::warning, ::notice). */
int ds_report_github(FILE *out, const ds_lint_report *report);

/* The output formats a report can be written in, for --format. */
#define DS_REPORT_FORMATS "text, json, sarif, junit or github"

/* Whether `format` names one of DS_REPORT_FORMATS. */
bool ds_report_format_known(const char *format);

/* Writes the report in `format` (one of DS_REPORT_FORMATS; cfg is what the
 * run used; verbose lists exempt findings in text). Returns 0, or -1 on a
 * write error or an unknown format. */
int ds_report_write(FILE *out, const char *format, const ds_lint_report *report, const ds_config *cfg,
		    bool verbose);

#endif
