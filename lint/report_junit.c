/* report_junit.c - a lint report as JUnit XML for CI test dashboards: a
 * testsuite per file, a testcase per DaemonSet and rule. */
#include "lint/report.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A DaemonSet of one file: the subject of one testcase per rule. Borrows
 * its strings from the report. */
struct unit {
	size_t file_index;
	const char *file, *ns, *name;
};

struct counts {
	size_t tests, failures, errors, skipped;
};

/* One report being written: units, findings and problems sorted by file,
 * each with a cursor that the suites advance. */
struct junit {
	const ds_config *config;
	struct unit *units;
	size_t unit_count, u;
	const ds_lint_finding **findings;
	size_t finding_count, f;
	const ds_lint_problem **problems;
	size_t problem_count, p;
	struct counts total;
};

/* The length of the well-formed UTF-8 sequence at s when it encodes a
 * character XML 1.0 allows, else 0. Never reads past a NUL. */
static size_t xml_char_length(const unsigned char *s)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t n;

	if (c < 0x80)
		return c >= 0x20 || c == '\t' || c == '\n' || c == '\r';
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0; /* overlong */
	else if (c == 0xED)
		hi = 0x9F; /* surrogates */
	else if (c == 0xF0)
		lo = 0x90; /* overlong */
	else if (c == 0xF4)
		hi = 0x8F; /* above U+10FFFF */
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if (c == 0xEF && s[1] == 0xBF && s[2] >= 0xBE)
		return 0; /* U+FFFE, U+FFFF */
	return n;
}

/* The entity that stands for c, or NULL when c stands as it is. In an
 * attribute value whitespace is written as character references, which
 * attribute-value normalization leaves alone. */
static const char *xml_entity(char c, bool attribute)
{
	switch (c) {
	case '&': return "&amp;";
	case '<': return "&lt;";
	case '>': return "&gt;";
	case '"': return attribute ? "&quot;" : NULL;
	case '\t': return attribute ? "&#9;" : NULL;
	case '\n': return attribute ? "&#10;" : NULL;
	case '\r': return "&#13;";
	default: return NULL;
	}
}

/* Writes s escaped for XML text or an attribute value; bytes that are not
 * an XML character (invalid UTF-8, control characters) become U+FFFD. */
static void put_xml(FILE *out, const char *s, bool attribute)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n = xml_char_length(p);
		const char *entity = n == 1 ? xml_entity((char)*p, attribute) : NULL;
		if (!n)
			fputs("\xEF\xBF\xBD", out);
		else if (entity)
			fputs(entity, out);
		else
			fwrite(p, 1, n, out);
		p += n ? n : 1;
	}
}

/* Writes ` name="value"`, the value escaped. */
static void put_attr(FILE *out, const char *name, const char *value)
{
	fprintf(out, " %s=\"", name);
	put_xml(out, value, true);
	fputc('"', out);
}

static int compare_index(size_t a, size_t b)
{
	return a < b ? -1 : a > b;
}

static int unit_order(const void *a, const void *b)
{
	const struct unit *x = a, *y = b;
	int c = compare_index(x->file_index, y->file_index);

	if (!c)
		c = strcmp(x->ns, y->ns);
	return c ? c : strcmp(x->name, y->name);
}

/* By file, DaemonSet and rule; then as the report has them (the pointers
 * point into one array). */
static int finding_order(const void *a, const void *b)
{
	const ds_lint_finding *x = *(const ds_lint_finding *const *)a, *y = *(const ds_lint_finding *const *)b;
	struct unit ux = {x->file_index, x->file, x->namespace, x->name};
	struct unit uy = {y->file_index, y->file, y->namespace, y->name};
	int c = unit_order(&ux, &uy);

	if (!c)
		c = compare_index(ds_rule_index(x->rule), ds_rule_index(y->rule));
	return c ? c : compare_index((uintptr_t)x, (uintptr_t)y);
}

static int problem_order(const void *a, const void *b)
{
	const ds_lint_problem *x = *(const ds_lint_problem *const *)a, *y = *(const ds_lint_problem *const *)b;
	int c = compare_index(x->file_index, y->file_index);

	return c ? c : compare_index((uintptr_t)x, (uintptr_t)y);
}

/* Fills j->units with every DaemonSet checked and every DaemonSet a finding
 * names, sorted and without repeats. Returns 0, or -1 out of memory. */
static int collect_units(struct junit *j, const ds_lint_report *report)
{
	size_t n = 0;

	j->units = malloc(sizeof(*j->units) * (report->daemonset_count + report->finding_count + 1));
	if (!j->units)
		return -1;
	for (size_t i = 0; i < report->daemonset_count; i++) {
		const ds_lint_daemonset *d = &report->daemonsets[i];
		j->units[n++] = (struct unit){d->file_index, d->file, d->namespace, d->name};
	}
	for (size_t i = 0; i < report->finding_count; i++) {
		const ds_lint_finding *f = &report->findings[i];
		j->units[n++] = (struct unit){f->file_index, f->file, f->namespace, f->name};
	}
	qsort(j->units, n, sizeof(*j->units), unit_order);
	for (size_t i = 0; i < n; i++)
		if (!j->unit_count || unit_order(&j->units[j->unit_count - 1], &j->units[i]))
			j->units[j->unit_count++] = j->units[i];
	return 0;
}

/* Fills j with the report's contents in suite order. Returns 0, or -1 out
 * of memory (what was allocated is left for junit_free()). */
static int junit_init(struct junit *j, const ds_lint_report *report)
{
	j->findings = malloc(sizeof(*j->findings) * (report->finding_count + 1));
	j->problems = malloc(sizeof(*j->problems) * (report->problem_count + 1));
	if (!j->findings || !j->problems || collect_units(j, report) < 0)
		return -1;
	for (size_t i = 0; i < report->finding_count; i++)
		if (ds_lint_finding_open(report, &report->findings[i]))
			j->findings[j->finding_count++] = &report->findings[i];
	for (size_t i = 0; i < report->problem_count; i++)
		j->problems[j->problem_count++] = &report->problems[i];
	qsort(j->findings, j->finding_count, sizeof(*j->findings), finding_order);
	qsort(j->problems, j->problem_count, sizeof(*j->problems), problem_order);
	return 0;
}

static void junit_free(struct junit *j)
{
	free(j->units);
	free(j->findings);
	free(j->problems);
}

/* Whether finding f is about unit u. */
static bool finding_of(const ds_lint_finding *f, const struct unit *u)
{
	return f->file_index == u->file_index && !strcmp(f->namespace, u->ns) && !strcmp(f->name, u->name);
}

/* A <failure> or, for an exempt finding, a <skipped>, whose text is the
 * finding as the text format prints it. */
static void finding_element(FILE *out, const ds_lint_finding *f)
{
	const char *element = f->exempt ? "skipped" : "failure";
	const char *level = f->exempt ? "exempt" : ds_severity_name(f->severity);
	char *text = NULL, by[1024], skip[1040];

	if (asprintf(&text, "%s:%u:%u: %s: %s %s/%s: %s [%s %s]", f->file, f->line, f->column, level, f->kind,
		     f->namespace, f->name, f->message, f->rule->id, f->rule->name) < 0)
		text = NULL;
	fprintf(out, "      <%s", element);
	put_attr(out, "type", level);
	if (f->exempt)
		snprintf(skip, sizeof(skip), "exempted by %s", ds_lint_exemption_text(f, by, sizeof(by)));
	put_attr(out, "message", f->exempt ? skip : f->message);
	fputc('>', out);
	put_xml(out, text ? text : f->message, false);
	fprintf(out, "</%s>\n", element);
	free(text);
}

/* The testcase of unit u and rule, with the findings at the cursor that
 * belong to it; none when the rule is off and found nothing. */
static void rule_case(struct junit *j, FILE *out, const struct unit *u, const ds_rule *rule, struct counts *c)
{
	size_t first = j->f;
	bool failed = false, skipped = false;

	while (j->f < j->finding_count && finding_of(j->findings[j->f], u) && j->findings[j->f]->rule == rule)
		j->f++;
	if (first == j->f && j->config && ds_rule_settings(j->config, rule)->severity == DS_SEVERITY_OFF)
		return;
	fputs("    <testcase classname=\"", out);
	put_xml(out, u->ns, true);
	fputc('/', out);
	put_xml(out, u->name, true);
	fprintf(out, "\" name=\"%s %s\"", rule->id, rule->name);
	if (first == j->f)
		fputs("/>\n", out);
	else
		fputs(">\n", out);
	for (size_t i = first; i < j->f; i++) {
		finding_element(out, j->findings[i]);
		failed |= !j->findings[i]->exempt;
		skipped |= j->findings[i]->exempt;
	}
	if (first != j->f)
		fputs("    </testcase>\n", out);
	c->tests++;
	c->failures += failed;
	c->skipped += skipped && !failed;
}

/* The testcase "input" of a file with problems: an <error> for each input
 * error, a <system-err> line for each input warning. */
static void input_case(struct junit *j, FILE *out, size_t file_index, struct counts *c)
{
	bool failed = false;

	if (j->p == j->problem_count || j->problems[j->p]->file_index != file_index)
		return;
	fputs("    <testcase", out);
	put_attr(out, "classname", j->problems[j->p]->file);
	fputs(" name=\"input\">\n", out);
	for (; j->p < j->problem_count && j->problems[j->p]->file_index == file_index; j->p++) {
		const ds_lint_problem *p = j->problems[j->p];
		fputs(p->is_error ? "      <error type=\"input error\"" : "      <system-err>", out);
		if (p->is_error) {
			put_attr(out, "message", p->message);
			fputc('>', out);
		}
		put_xml(out, p->file, false);
		if (p->line)
			fprintf(out, ":%u:%u", p->line, p->column);
		fprintf(out, ": %s: ", p->is_error ? "error" : "warning");
		put_xml(out, p->message, false);
		fputs(p->is_error ? "</error>\n" : "</system-err>\n", out);
		failed |= p->is_error;
	}
	fputs("    </testcase>\n", out);
	c->tests++;
	c->errors += failed;
}

static void put_counts(FILE *out, const struct counts *c)
{
	fprintf(out, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\"", c->tests, c->failures, c->errors);
}

/* Writes the testsuite of one file: its DaemonSets' testcases, then its
 * input problems. Returns 0, or -1 out of memory. */
static int write_suite(struct junit *j, FILE *out, size_t file_index, const char *file)
{
	struct counts c = {0};
	char *body = NULL;
	size_t len = 0;
	FILE *cases = open_memstream(&body, &len);

	if (!cases)
		return -1;
	for (; j->u < j->unit_count && j->units[j->u].file_index == file_index; j->u++)
		for (size_t r = 0; r < DS_RULE_COUNT; r++)
			rule_case(j, cases, &j->units[j->u], &ds_rules[r], &c);
	input_case(j, cases, file_index, &c);
	if (fclose(cases) != 0) {
		free(body);
		return -1;
	}
	fputs("  <testsuite", out);
	put_attr(out, "name", file);
	put_counts(out, &c);
	fprintf(out, " skipped=\"%zu\"", c.skipped);
	put_attr(out, "file", file);
	fputs(">\n", out);
	fwrite(body, 1, len, out);
	fputs("  </testsuite>\n", out);
	free(body);
	j->total.tests += c.tests;
	j->total.failures += c.failures;
	j->total.errors += c.errors;
	return 0;
}

/* Writes every suite, in file order. Returns 0, or -1 out of memory. */
static int write_suites(struct junit *j, FILE *out)
{
	while (j->u < j->unit_count || j->p < j->problem_count) {
		const struct unit *u = j->u < j->unit_count ? &j->units[j->u] : NULL;
		const ds_lint_problem *p = j->p < j->problem_count ? j->problems[j->p] : NULL;
		bool unit_next = u && (!p || u->file_index <= p->file_index);
		if (write_suite(j, out, unit_next ? u->file_index : p->file_index, unit_next ? u->file : p->file) < 0)
			return -1;
	}
	return 0;
}

int ds_report_junit(FILE *out, const ds_lint_report *report, const ds_report_options *opts)
{
	struct junit j = {.config = opts ? opts->config : NULL};
	char *body = NULL;
	size_t len = 0;
	FILE *suites = NULL;
	int rc = -1;

	if (junit_init(&j, report) == 0 && (suites = open_memstream(&body, &len)) != NULL) {
		rc = write_suites(&j, suites);
		if (fclose(suites) != 0)
			rc = -1;
	}
	if (rc == 0) {
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"dsguard\"", out);
		put_counts(out, &j.total);
		fputs(">\n", out);
		fwrite(body, 1, len, out);
		fputs("</testsuites>\n", out);
		rc = ferror(out) ? -1 : 0;
	}
	free(body);
	junit_free(&j);
	return rc;
}
