/* report_sarif.c - the SARIF 2.1.0 format of a lint report, for code scanning. */
#include "lint/report.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SARIF_SCHEMA "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
#define INFORMATION_URI "https://github.com/dsguard/dsguard"
#define RULES_DOC_URI INFORMATION_URI "/blob/main/docs/rules.md"
#define SRCROOT "%SRCROOT%"

/* SARIF's name for a severity. */
static const char *sarif_level(ds_severity s)
{
	if (s == DS_SEVERITY_ERROR)
		return "error";
	return s == DS_SEVERITY_WARNING ? "warning" : "none";
}

/* A SARIF message object: {"text": text}. Returns a new item or NULL. */
static cJSON *message_object(const char *text)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "text", text);
	return o;
}

/* The link to the rule's section of docs/rules.md, whose heading
 * "DS001 priority-class" has the anchor "ds001-priority-class". Returns a
 * new string, or NULL out of memory. */
static char *rule_help_uri(const ds_rule *r)
{
	char *uri = NULL;

	if (asprintf(&uri, "%s#%s-%s", RULES_DOC_URI, r->id, r->name) < 0)
		return NULL;
	for (char *p = strchr(uri, '#'); *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return uri;
}

/* One reportingDescriptor of tool.driver.rules. Returns a new item or NULL. */
static cJSON *rule_descriptor(const ds_rule *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *config = cJSON_CreateObject();
	char *help_uri = rule_help_uri(r);

	cJSON_AddStringToObject(o, "id", r->id);
	cJSON_AddStringToObject(o, "name", r->name);
	cJSON_AddItemToObject(o, "shortDescription", message_object(r->summary));
	cJSON_AddItemToObject(o, "fullDescription", message_object(r->why));
	cJSON_AddItemToObject(o, "help", message_object(r->remediation));
	if (help_uri)
		cJSON_AddStringToObject(o, "helpUri", help_uri);
	cJSON_AddStringToObject(config, "level", sarif_level(r->default_severity));
	cJSON_AddItemToObject(o, "defaultConfiguration", config);
	free(help_uri);
	return o;
}

/* tool.driver: who made the log, and every rule it knows. */
static cJSON *tool_driver(void)
{
	cJSON *driver = cJSON_CreateObject();
	cJSON *rules;

	cJSON_AddStringToObject(driver, "name", "dsguard");
	cJSON_AddStringToObject(driver, "version", DSGUARD_VERSION);
	cJSON_AddStringToObject(driver, "informationUri", INFORMATION_URI);
	rules = cJSON_AddArrayToObject(driver, "rules");
	for (size_t i = 0; i < DS_RULE_COUNT; i++)
		cJSON_AddItemToArray(rules, rule_descriptor(&ds_rules[i]));
	return driver;
}

/* file made absolute against cwd and normalized. Returns a new string, or
 * NULL out of memory. */
static char *absolute_path(const char *file, const char *cwd)
{
	char *abs = NULL;

	if (asprintf(&abs, "%s/%s", file[0] == '/' ? "" : cwd, file) < 0)
		return NULL;
	ds_path_lexical(abs);
	return abs;
}

/* Whether byte c may stand unescaped in the path of a URI (RFC 3986
 * unreserved, sub-delims, "@" and "/"; whatever the locale). ':' is escaped
 * so that a relative first segment never reads as a scheme. */
static bool uri_path_char(unsigned char c)
{
	static const char allowed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
				      "-._~!$&'()*+,;=@/";

	return c && strchr(allowed, c);
}

/* prefix followed by path, percent-encoded. Returns a new string, or NULL
 * out of memory. */
static char *encode_uri(const char *prefix, const char *path)
{
	size_t plen = strlen(prefix);
	char *uri = malloc(plen + strlen(path) * 3 + 1);
	char *out = uri;

	if (!uri)
		return NULL;
	memcpy(out, prefix, plen);
	out += plen;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if (uri_path_char(*p))
			*out++ = (char)*p;
		else
			out += sprintf(out, "%%%02X", *p);
	}
	*out = '\0';
	return uri;
}

/* The part of the normalized absolute path abs below cwd, or NULL when abs
 * is not below it. */
static const char *below(const char *abs, const char *cwd)
{
	size_t len = strlen(cwd);

	if (!strcmp(cwd, "/"))
		return abs[1] ? abs + 1 : NULL;
	if (strncmp(abs, cwd, len) || abs[len] != '/' || !abs[len + 1])
		return NULL;
	return abs + len + 1;
}

/* The artifactLocation of a file: a URI relative to cwd with uriBaseId
 * %SRCROOT% when the file lies below cwd, else an absolute file:// URI.
 * When cwd is NULL (unknown) a relative path stays as given, less any
 * leading "./". Returns a new item, or NULL out of memory. */
static cJSON *artifact_location(const char *file, const char *cwd)
{
	cJSON *o;
	char *abs = NULL, *uri;
	const char *rel = NULL;

	if (cwd) {
		if (!(abs = absolute_path(file, cwd)))
			return NULL;
		rel = below(abs, cwd);
	} else if (file[0] != '/') {
		for (rel = file; !strncmp(rel, "./", 2);)
			rel += strspn(rel + 1, "/") + 1;
	}
	uri = rel ? encode_uri("", rel) : encode_uri("file://", abs ? abs : file);
	o = uri ? cJSON_CreateObject() : NULL;
	cJSON_AddStringToObject(o, "uri", uri);
	if (rel)
		cJSON_AddStringToObject(o, "uriBaseId", SRCROOT);
	free(uri);
	free(abs);
	return o;
}

/* A location: the file and, when line is not 0, the region that starts at
 * line and column. Returns a new item, or NULL out of memory. */
static cJSON *location(const char *file, unsigned line, unsigned column, const char *cwd)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *physical = cJSON_AddObjectToObject(o, "physicalLocation");

	cJSON_AddItemToObject(physical, "artifactLocation", artifact_location(file, cwd));
	if (line) {
		cJSON *region = cJSON_AddObjectToObject(physical, "region");
		cJSON_AddNumberToObject(region, "startLine", line);
		cJSON_AddNumberToObject(region, "startColumn", column ? column : 1);
	}
	return o;
}

/* The array [item]. Returns a new item, or NULL out of memory. */
static cJSON *one_item_array(cJSON *item)
{
	cJSON *a = cJSON_CreateArray();

	if (!cJSON_AddItemToArray(a, item))
		cJSON_Delete(item);
	return a;
}

/* The suppression of an exempt finding: "inSource" for the annotation,
 * "external" for a config exemption (written outside the file), its
 * justification the reason given (for an annotation without one, the
 * annotation's name); a config exemption's location is its entry in the
 * config file. Returns a new item, or NULL out of memory. */
static cJSON *suppression(const ds_lint_finding *f, const char *cwd)
{
	cJSON *o = cJSON_CreateObject();
	bool by_config = f->exempted_by == DS_EXEMPT_CONFIG;

	cJSON_AddStringToObject(o, "kind", by_config ? "external" : "inSource");
	cJSON_AddStringToObject(o, "justification", f->exempt_reason ? f->exempt_reason : DS_IGNORE_ANNOTATION);
	if (by_config) {
		cJSON *where = cJSON_AddObjectToObject(o, "location");
		cJSON *physical = cJSON_AddObjectToObject(where, "physicalLocation");
		cJSON *region = cJSON_CreateObject();
		cJSON_AddItemToObject(physical, "artifactLocation", artifact_location(f->exemption->file, cwd));
		cJSON_AddNumberToObject(region, "startLine", f->exemption->line ? f->exemption->line : 1);
		cJSON_AddNumberToObject(region, "startColumn", f->exemption->column ? f->exemption->column : 1);
		cJSON_AddItemToObject(physical, "region", region);
	}
	return o;
}

/* One result for a finding; an exempt one carries a suppression. Returns a
 * new item, or NULL out of memory. */
static cJSON *result(const ds_lint_finding *f, const char *cwd)
{
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;

	if (asprintf(&text, "%s %s/%s: %s", f->kind, f->namespace, f->name, f->message) < 0)
		text = NULL;
	cJSON_AddStringToObject(o, "ruleId", f->rule->id);
	cJSON_AddNumberToObject(o, "ruleIndex", (double)ds_rule_index(f->rule));
	cJSON_AddStringToObject(o, "level", sarif_level(f->severity));
	cJSON_AddItemToObject(o, "message", message_object(text ? text : f->message));
	cJSON_AddItemToObject(o, "locations", one_item_array(location(f->file, f->line, f->column, cwd)));
	if (f->exempt)
		cJSON_AddItemToObject(o, "suppressions", one_item_array(suppression(f, cwd)));
	if (f->rendered_from) {
		cJSON *properties = cJSON_AddObjectToObject(o, "properties");
		cJSON_AddStringToObject(properties, "renderedFrom", f->rendered_from);
	}
	free(text);
	return o;
}

/* A toolExecutionNotification for an input problem. Returns a new item,
 * or NULL out of memory. */
static cJSON *notification(const ds_lint_problem *p, const char *cwd)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "level", p->is_error ? "error" : "warning");
	cJSON_AddItemToObject(o, "message", message_object(p->message));
	cJSON_AddItemToObject(o, "locations", one_item_array(location(p->file, p->line, p->column, cwd)));
	return o;
}

/* originalUriBaseIds: where %SRCROOT% is, as a file:// URI ending in "/". */
static cJSON *uri_base_ids(const char *cwd)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *root = cJSON_AddObjectToObject(o, SRCROOT);
	char *uri = encode_uri("file://", cwd);
	char *dir = NULL;

	if (uri && asprintf(&dir, "%s%s", uri, strcmp(cwd, "/") ? "/" : "") < 0)
		dir = NULL;
	cJSON_AddStringToObject(root, "uri", dir);
	free(dir);
	free(uri);
	return o;
}

/* Writes n tabs. */
static void put_tabs(FILE *out, unsigned n)
{
	while (n--)
		fputc('\t', out);
}

/* Writes item as cJSON_Print() would print it as a value `depth` levels
 * down in the document (every line after the first indented by depth
 * more tabs; strings escape their own newlines), and deletes it. Returns
 * 0, or -1 when item is NULL (out of memory) or printing fails. */
static int put_item(FILE *out, cJSON *item, unsigned depth)
{
	char *text = item ? cJSON_Print(item) : NULL;
	int rc = text ? 0 : -1;

	for (const char *line = text; line && *line;) {
		size_t len = strcspn(line, "\n");
		fwrite(line, 1, len, out);
		line += len;
		if (*line) {
			fputc(*line++, out);
			put_tabs(out, depth);
		}
	}
	cJSON_free(text);
	cJSON_Delete(item);
	return rc;
}

/* Writes `"key":\t` on a line of its own at depth tabs, as cJSON_Print()
 * writes a member's name. */
static void put_key(FILE *out, unsigned depth, const char *key)
{
	put_tabs(out, depth);
	fprintf(out, "\"%s\":\t", key);
}

/* invocations[0]: whether every input could be read, and what could not,
 * one notification at a time. Returns 0, or -1 out of memory. */
static int put_invocation(FILE *out, const ds_lint_report *report, const char *cwd)
{
	fputs("[{\n", out);
	put_key(out, 5, "executionSuccessful");
	fputs(report->summary.input_errors == 0 ? "true" : "false", out);
	if (report->problem_count) {
		fputs(",\n", out);
		put_key(out, 5, "toolExecutionNotifications");
		fputc('[', out);
		for (size_t i = 0; i < report->problem_count; i++)
			if ((i && fputs(", ", out) < 0) || put_item(out, notification(&report->problems[i], cwd), 6) < 0)
				return -1;
		fputc(']', out);
	}
	fputc('\n', out);
	put_tabs(out, 4);
	fputs("}]", out);
	return 0;
}

/* The one run of the log, its results written one at a time. Returns 0, or
 * -1 out of memory. */
static int put_run(FILE *out, const ds_lint_report *report, const char *cwd)
{
	bool first = true;

	fputs("[{\n", out);
	put_key(out, 3, "tool");
	fputs("{\n", out);
	put_key(out, 4, "driver");
	if (put_item(out, tool_driver(), 4) < 0)
		return -1;
	fputc('\n', out);
	put_tabs(out, 3);
	fputs("},\n", out);
	put_key(out, 3, "invocations");
	if (put_invocation(out, report, cwd) < 0)
		return -1;
	fputs(",\n", out);
	if (cwd) {
		put_key(out, 3, "originalUriBaseIds");
		if (put_item(out, uri_base_ids(cwd), 3) < 0)
			return -1;
		fputs(",\n", out);
	}
	put_key(out, 3, "columnKind");
	fputs("\"unicodeCodePoints\",\n", out);
	put_key(out, 3, "results");
	fputc('[', out);
	for (size_t i = 0; i < report->finding_count; i++) {
		if (!ds_lint_finding_open(report, &report->findings[i]))
			continue;
		if ((!first && fputs(", ", out) < 0) || put_item(out, result(&report->findings[i], cwd), 4) < 0)
			return -1;
		first = false;
	}
	fputs("]\n", out);
	put_tabs(out, 2);
	fputs("}]", out);
	return 0;
}

/* The SARIF log, the bytes cJSON_Print() makes of the whole document,
 * written one result at a time so that memory does not grow with it. */
int ds_report_sarif(FILE *out, const ds_lint_report *report, const ds_report_options *opts)
{
	char *cwd = getcwd(NULL, 0);
	int rc;

	(void)opts;
	fputs("{\n", out);
	put_key(out, 1, "$schema");
	fputs("\"" SARIF_SCHEMA "\",\n", out);
	put_key(out, 1, "version");
	fputs("\"2.1.0\",\n", out);
	put_key(out, 1, "runs");
	rc = put_run(out, report, cwd);
	fputs("\n}\n", out);
	free(cwd);
	return rc == 0 && !ferror(out) ? 0 : -1;
}
