/* report_github.c - a lint report as GitHub Actions workflow commands, which
 * the runner turns into annotations on the pull request's files. */
#include "lint/report.h"

/* The escape of c as the runner unescapes it, or NULL when c stands as it
 * is: everywhere "%", CR and LF become %25, %0D and %0A; in a property
 * value ":" and "," also become %3A and %2C. */
static const char *escape_of(char c, bool property)
{
	switch (c) {
	case '%': return "%25";
	case '\r': return "%0D";
	case '\n': return "%0A";
	case ':': return property ? "%3A" : NULL;
	case ',': return property ? "%2C" : NULL;
	default: return NULL;
	}
}

static void put_escaped(FILE *out, const char *s, bool property)
{
	for (; *s; s++) {
		const char *escape = escape_of(*s, property);
		if (escape)
			fputs(escape, out);
		else
			fputc(*s, out);
	}
}

/* "::COMMAND file=FILE[,line=L,col=C],title=TITLE::" and the start of the
 * message; the caller writes the rest of it and the newline. */
static void command_start(FILE *out, const char *command, const char *file, unsigned line, unsigned column,
			  const char *title)
{
	fprintf(out, "::%s file=", command);
	put_escaped(out, file, true);
	if (line)
		fprintf(out, ",line=%u,col=%u", line, column ? column : 1);
	fputs(",title=", out);
	put_escaped(out, title, true);
	fputs("::", out);
}

static void github_problem(FILE *out, const ds_lint_problem *p)
{
	command_start(out, p->is_error ? "error" : "warning", p->file, p->line, p->column,
		      p->is_error ? "input error" : "input warning");
	put_escaped(out, p->message, false);
	fputc('\n', out);
}

/* An exempt finding is a notice, so the exemption stays visible. */
static void github_finding(FILE *out, const ds_lint_finding *f)
{
	const char *command = f->exempt ? "notice" : ds_severity_name(f->severity);
	char title[64];

	snprintf(title, sizeof(title), "%s %s%s", f->rule->id, f->rule->name, f->exempt ? " (exempt)" : "");
	command_start(out, command, f->file, f->line, f->column, title);
	put_escaped(out, f->kind, false);
	fputc(' ', out);
	put_escaped(out, f->namespace, false);
	fputc('/', out);
	put_escaped(out, f->name, false);
	fputs(": ", out);
	put_escaped(out, f->message, false);
	if (f->exempt) {
		char by[1024];
		fputs(" (exempted by ", out);
		put_escaped(out, ds_lint_exemption_text(f, by, sizeof(by)), false);
		fputc(')', out);
	}
	if (f->exemption_refused) {
		fputs(" (" DS_IGNORE_ANNOTATION " does not count: ", out);
		put_escaped(out, f->exemption_refused, false);
		fputc(')', out);
	}
	fputc('\n', out);
}

int ds_report_github(FILE *out, const ds_lint_report *report, const ds_report_options *opts)
{
	(void)opts;
	for (size_t i = 0; i < report->problem_count; i++)
		github_problem(out, &report->problems[i]);
	for (size_t i = 0; i < report->finding_count; i++)
		if (ds_lint_finding_open(report, &report->findings[i]))
			github_finding(out, &report->findings[i]);
	return ferror(out) ? -1 : 0;
}
