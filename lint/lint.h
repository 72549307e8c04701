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
	time_t now;                    /* what config exemptions' expiry is compared with; 0: the time of the run */
} ds_lint_options;

/* One finding, placed in a file. Owns message and fix_note; file,
 * namespace and name are borrowed from the report (its file names and the
 * DaemonSet's record) and kind is a constant, so a finding costs its
 * message and little more. */
typedef struct ds_lint_finding {
	const ds_rule *rule;
	ds_severity severity;
	bool exempt;
	ds_exempt_source exempted_by;
	char *exempt_reason;            /* why it is exempt (cut as ds_finding's is), or NULL: none given */
	const ds_exemption *exemption;  /* by config: the entry (borrowed from the run's config) */
	const ds_exemption *expired;    /* not exempt: an expired entry that would have exempted it, or NULL */
	const char *exemption_refused;  /* why dsguard.io/ignore, naming the rule, does not count (static), or NULL */
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
	/* Where the objects came from, for the JSON format's "source" ("cluster"
	 * for objects read from the API); NULL: files, and no "source" member.
	 * A static string. */
	const char *source;
} ds_lint_report;

/* Lints every path (file, directory walked recursively, or "-" for
 * standard input). DS003 looks across all of them. Each config exemption
 * that has expired is an input warning at its place in the config file.
 * Returns 0 with out
 * filled (release it with ds_lint_report_free()), or -1 when memory ran
 * out. Unreadable or broken inputs are problems in the report, not
 * failures of the run. */
int ds_lint_paths(const char *const *paths, size_t count, const ds_lint_options *opts, ds_lint_report *out);

/* Lints objects read from a live cluster (a cJSON array of DaemonSets), as
 * ds_lint_paths() lints files: each is reported under its API path
 * ("apis/apps/v1/namespaces/NS/daemonsets/NAME") with no line or column,
 * and the report's source is "cluster". Returns 0 with out filled, or -1
 * out of memory. */
int ds_lint_objects(const cJSON *objects, const ds_lint_options *opts, ds_lint_report *out);

/* Hands out the next object of a ds_lint_objects_from() run: an object
 * borrowed until the next call, or NULL when there is none left. A source
 * that fails (out of memory) returns NULL and tells its caller through
 * `data`: the report is then incomplete. */
typedef const cJSON *(*ds_lint_next_object)(void *data);

/* As ds_lint_objects(), over the objects next() hands out one at a time, so
 * that no more than one of them need be held at once (the namespace rules
 * keep a small record of each DaemonSet, as for files). The report's
 * source is "cluster". Returns 0 with out filled, or -1 out of memory. */
int ds_lint_objects_from(ds_lint_next_object next, void *data, const ds_lint_options *opts, ds_lint_report *out);

/* Releases what report owns and empties it. */
void ds_lint_report_free(ds_lint_report *report);

/* Whether finding f still stands in its file: false for a finding that
 * --fix has fixed in place (--diff changes no file). */
bool ds_lint_finding_open(const ds_lint_report *report, const ds_lint_finding *f);

/* The exit code for a report: 2 when an input could not be read or parsed,
 * 1 when a finding is at or above fail_on, else 0. */
int ds_lint_exit_code(const ds_lint_report *report, ds_severity fail_on);

/* What exempted finding f, as the text formats say it after the finding:
 * "dsguard.io/ignore", "dsguard.io/ignore: REASON" or "config FILE:LINE:
 * REASON". Writes into buf (size bytes, cut on a character boundary) and
 * returns it; "" when f is not exempt. */
const char *ds_lint_exemption_text(const ds_lint_finding *f, char *buf, size_t size);

/* What a report's writer may need besides the report. */
typedef struct ds_report_options {
	const ds_config *config; /* the run's config (JUnit lists each rule not turned off); NULL: defaults */
	bool verbose;            /* text: also list exempted findings */
} ds_report_options;

/* One output format. The --format check, --help text and dispatch of lint
 * and audit are drawn from ds_report_formats[]. */
typedef struct ds_report_format {
	const char *name; /* "sarif" */
	/* Writes the report. Returns 0, or -1 on a write error or out of
	 * memory. */
	int (*write)(FILE *out, const ds_lint_report *report, const ds_report_options *opts);
	bool streams;     /* written one finding at a time: memory does not grow with the report */
} ds_report_format;

extern const ds_report_format ds_report_formats[];
extern const size_t ds_report_format_count;

/* The format named `name`, or NULL. */
const ds_report_format *ds_report_format_find(const char *name);

/* The formats' names for messages and --help: "text, json, sarif, junit
 * or github", the first (the default) marked "text (default)" with
 * mark_default. A static string. */
const char *ds_report_format_names(bool mark_default);

#endif
