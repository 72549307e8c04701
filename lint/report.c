/* report.c - the table of output formats, and the text and JSON formats of
 * a lint report. */
#include "lint/report.h"

#include <stdlib.h>
#include <string.h>

static void text_problem(FILE *out, const ds_lint_problem *p)
{
	const char *level = p->is_error ? "error" : "warning";

	if (p->line)
		fprintf(out, "%s:%u:%u: %s: %s\n", p->file, p->line, p->column, level, p->message);
	else
		fprintf(out, "%s: %s: %s\n", p->file, level, p->message);
}

const char *ds_lint_exemption_text(const ds_lint_finding *f, char *buf, size_t size)
{
	char *text = NULL;

	if (f->exempted_by == DS_EXEMPT_CONFIG)
		text = ds_format("config %s:%u: %s", f->exemption->file, f->exemption->line,
				 f->exempt_reason ? f->exempt_reason : "");
	else if (f->exempted_by == DS_EXEMPT_ANNOTATION && f->exempt_reason)
		text = ds_format(DS_IGNORE_ANNOTATION ": %s", f->exempt_reason);
	ds_text_copy(buf, size, text ? text : f->exempt ? DS_IGNORE_ANNOTATION : "");
	free(text);
	return buf;
}

static void text_finding(FILE *out, const ds_lint_finding *f)
{
	const char *level = f->exempt ? "exempt" : f->fixed ? "fixed" : ds_severity_name(f->severity);
	char by[1024];

	if (f->line)
		fprintf(out, "%s:%u:%u: ", f->file, f->line, f->column);
	else
		fprintf(out, "%s: ", f->file);
	fprintf(out, "%s: %s %s/%s: %s [%s %s]", level, f->kind, f->namespace, f->name, f->message, f->rule->id,
		f->rule->name);
	if (f->exempt)
		fprintf(out, " (exempted by %s)", ds_lint_exemption_text(f, by, sizeof(by)));
	if (f->exemption_refused)
		fprintf(out, " (" DS_IGNORE_ANNOTATION " does not count: %s)", f->exemption_refused);
	if (f->fix_note)
		fprintf(out, " (cannot fix: %s)", f->fix_note);
	fputc('\n', out);
}

/* Findings and problems interleaved in file order, then position. */
static bool problem_first(const ds_lint_problem *p, const ds_lint_finding *f)
{
	if (p->file_index != f->file_index)
		return p->file_index < f->file_index;
	return p->line < f->line || (p->line == f->line && p->column <= f->column);
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

int ds_report_text(FILE *out, const ds_lint_report *report, const ds_report_options *opts)
{
	bool verbose = opts && opts->verbose;
	const ds_lint_summary *s = &report->summary;
	size_t fi = 0, pi = 0;

	while (fi < report->finding_count || pi < report->problem_count) {
		if (pi < report->problem_count &&
		    (fi == report->finding_count || problem_first(&report->problems[pi], &report->findings[fi]))) {
			text_problem(out, &report->problems[pi++]);
			continue;
		}
		if (!report->findings[fi].exempt || verbose)
			text_finding(out, &report->findings[fi]);
		fi++;
	}
	fprintf(out, "%zu %s, %zu %s, %zu %s: %zu %s, %zu %s, %zu exempted, %zu %s", s->files,
		plural(s->files, "file", "files"), s->resources, plural(s->resources, "resource", "resources"),
		s->daemonsets, plural(s->daemonsets, "DaemonSet", "DaemonSets"), s->errors,
		plural(s->errors, "error", "errors"), s->warnings, plural(s->warnings, "warning", "warnings"),
		s->exempted, s->input_errors, plural(s->input_errors, "input error", "input errors"));
	if (s->fixed)
		fprintf(out, ", %zu fixed", s->fixed);
	fputc('\n', out);
	return ferror(out) ? -1 : 0;
}

static cJSON *json_finding(const ds_lint_finding *f)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "rule", f->rule->id);
	cJSON_AddStringToObject(o, "name", f->rule->name);
	cJSON_AddStringToObject(o, "severity", ds_severity_name(f->severity));
	cJSON_AddStringToObject(o, "file", f->file);
	if (f->line) {
		cJSON_AddNumberToObject(o, "line", f->line);
		cJSON_AddNumberToObject(o, "column", f->column);
	}
	cJSON_AddStringToObject(o, "kind", f->kind);
	cJSON_AddStringToObject(o, "namespace", f->namespace);
	cJSON_AddStringToObject(o, "resourceName", f->name);
	cJSON_AddStringToObject(o, "message", f->message);
	cJSON_AddBoolToObject(o, "exempt", f->exempt);
	if (f->exempt)
		cJSON_AddStringToObject(o, "exemptedBy", f->exempted_by == DS_EXEMPT_CONFIG ? "config" : "annotation");
	if (f->exempt_reason)
		cJSON_AddStringToObject(o, "exemptReason", f->exempt_reason);
	if (f->exemption_refused)
		cJSON_AddStringToObject(o, "exemptionRefused", f->exemption_refused);
	if (f->fixed)
		cJSON_AddBoolToObject(o, "fixed", true);
	if (f->fix_note)
		cJSON_AddStringToObject(o, "fixNote", f->fix_note);
	return o;
}

static cJSON *json_problem(const ds_lint_problem *p)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "file", p->file);
	if (p->line) {
		cJSON_AddNumberToObject(o, "line", p->line);
		cJSON_AddNumberToObject(o, "column", p->column);
	}
	cJSON_AddStringToObject(o, "message", p->message);
	return o;
}

static cJSON *json_summary(const ds_lint_summary *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "files", (double)s->files);
	cJSON_AddNumberToObject(o, "resources", (double)s->resources);
	cJSON_AddNumberToObject(o, "daemonsets", (double)s->daemonsets);
	cJSON_AddNumberToObject(o, "errors", (double)s->errors);
	cJSON_AddNumberToObject(o, "warnings", (double)s->warnings);
	cJSON_AddNumberToObject(o, "exempted", (double)s->exempted);
	cJSON_AddNumberToObject(o, "inputErrors", (double)s->input_errors);
	cJSON_AddNumberToObject(o, "fixed", (double)s->fixed);
	return o;
}

/* Writes item as unformatted JSON and deletes it. Returns 0, or -1 when
 * item is NULL (out of memory) or printing it fails. */
static int put_json(FILE *out, cJSON *item)
{
	char *text = item ? cJSON_PrintUnformatted(item) : NULL;
	int rc = text && fputs(text, out) >= 0 ? 0 : -1;

	cJSON_free(text);
	cJSON_Delete(item);
	return rc;
}

/* Writes the members of the errors (is_error) or inputWarnings array,
 * comma-separated. Returns 0, or -1 out of memory or on a write error. */
static int put_problems(FILE *out, const ds_lint_report *report, bool is_error)
{
	bool first = true;

	for (size_t i = 0; i < report->problem_count; i++) {
		if (report->problems[i].is_error != is_error)
			continue;
		if ((!first && fputc(',', out) == EOF) || put_json(out, json_problem(&report->problems[i])) < 0)
			return -1;
		first = false;
	}
	return 0;
}

/* The version 1 JSON document (docs/output.md) on one line, written one
 * finding at a time: the same bytes as the document printed whole by
 * cJSON_PrintUnformatted(), without holding it in memory. */
int ds_report_json(FILE *out, const ds_lint_report *report, const ds_report_options *opts)
{
	(void)opts;
	if (fputs("{\"version\":1,", out) < 0 ||
	    (report->source && fprintf(out, "\"source\":\"%s\",", report->source) < 0) ||
	    fputs("\"findings\":[", out) < 0)
		return -1;
	for (size_t i = 0; i < report->finding_count; i++)
		if ((i && fputc(',', out) == EOF) || put_json(out, json_finding(&report->findings[i])) < 0)
			return -1;
	if (fputs("],\"errors\":[", out) < 0 || put_problems(out, report, true) < 0 ||
	    fputs("],\"inputWarnings\":[", out) < 0 || put_problems(out, report, false) < 0 ||
	    fputs("],\"summary\":", out) < 0 || put_json(out, json_summary(&report->summary)) < 0 ||
	    fputs("}\n", out) < 0)
		return -1;
	return ferror(out) ? -1 : 0;
}

const ds_report_format ds_report_formats[] = {
	{"text", ds_report_text, true},
	{"json", ds_report_json, true},
	{"sarif", ds_report_sarif, false},
	{"junit", ds_report_junit, false},
	{"github", ds_report_github, true},
};

const size_t ds_report_format_count = sizeof(ds_report_formats) / sizeof(ds_report_formats[0]);

const ds_report_format *ds_report_format_find(const char *name)
{
	for (size_t i = 0; i < ds_report_format_count; i++)
		if (!strcmp(name, ds_report_formats[i].name))
			return &ds_report_formats[i];
	return NULL;
}

const char *ds_report_format_names(bool mark_default)
{
	static char names[2][160];
	char *out = names[mark_default];
	size_t used = 0;

	if (out[0])
		return out;
	for (size_t i = 0; i < ds_report_format_count; i++)
		used += (size_t)snprintf(out + used, sizeof(names[0]) - used, "%s%s%s",
					 i == 0 ? "" : i + 1 == ds_report_format_count ? " or " : ", ",
					 ds_report_formats[i].name, mark_default && i == 0 ? " (default)" : "");
	return out;
}
