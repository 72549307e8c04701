/* report.h - private to lint/: the writers of the output formats, each an
 * entry of ds_report_formats[] (lint.h). */
#ifndef DSGUARD_LINT_REPORT_H
#define DSGUARD_LINT_REPORT_H

#include "lint/lint.h"

int ds_report_text(FILE *out, const ds_lint_report *report, const ds_report_options *opts);
int ds_report_json(FILE *out, const ds_lint_report *report, const ds_report_options *opts);
/* SARIF 2.1.0, file URIs relative to the working directory; the bytes
 * cJSON_Print() makes of the whole log, written one result at a time. */
int ds_report_sarif(FILE *out, const ds_lint_report *report, const ds_report_options *opts);
/* JUnit XML: a testsuite per file, a testcase per DaemonSet and each rule
 * that the config does not turn off; written as it goes (the counts each
 * opening tag carries are taken by a walk that writes nothing first). */
int ds_report_junit(FILE *out, const ds_lint_report *report, const ds_report_options *opts);
/* GitHub Actions workflow commands (::error, ::warning, ::notice). */
int ds_report_github(FILE *out, const ds_lint_report *report, const ds_report_options *opts);

#endif
