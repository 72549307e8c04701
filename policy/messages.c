/* messages.c - the rules' own messages and fixes, taken from the engine:
 * each rule is run over a sample DaemonSet, and a marker character that
 * stands for a value comes out in the message where a CEL expression is to
 * go. So the policies say what lint and the webhook say, word for word. */
#include "policy/internal.h"

#include <stdlib.h>
#include <string.h>

/* The lookup of a probe: another DaemonSet lives in every namespace. */
static ds_namespace_answer other_lives_there(void *data, const char *ns, const char *name, char **other)
{
	(void)ns;
	(void)name;
	*other = strdup(data);
	return DS_NAMESPACE_SHARED;
}

void ds_probe_free(ds_probe *p)
{
	free(p->message);
	free(p->pointer);
	cJSON_Delete(p->fix);
	memset(p, 0, sizeof(*p));
}

int ds_probe_rule(const ds_rule *rule, const ds_config *cfg, const char *resource, const char *other,
		  ds_probe *out, char **error)
{
	ds_config settings = *cfg; /* a shallow copy: its strings stay cfg's */
	ds_namespace_lookup lookup = {other_lives_there, (void *)(other ? other : "")};
	ds_context ctx = {.config = &settings, .namespaces = &lookup};
	ds_evaluation ev;
	cJSON *doc = cJSON_Parse(resource);

	memset(out, 0, sizeof(*out));
	if (!doc)
		return ds_fail(error, "internal error: a probe of %s is not JSON", rule->id);
	settings.enforce = true;
	settings.allow_exemption_annotation = false;
	settings.exemption_count = 0;
	for (size_t i = 0; i < DS_RULE_COUNT; i++)
		settings.rules[i].severity = &ds_rules[i] == rule ? DS_SEVERITY_ERROR : DS_SEVERITY_OFF;
	if (ds_evaluate(doc, &ctx, rule->scope, &ev) < 0) {
		cJSON_Delete(doc);
		return ds_fail(error, "out of memory");
	}
	cJSON_Delete(doc);
	for (size_t i = 0; i < ev.finding_count && !out->message; i++) {
		if (ev.findings[i].rule != rule || ev.findings[i].unknown)
			continue;
		out->message = strdup(ev.findings[i].message);
		out->pointer = strdup(ev.findings[i].pointer);
		out->unfixable = ev.findings[i].unfixable;
		if (!out->message || !out->pointer)
			goto oom;
	}
	out->fix = ds_patch_to_json(&ev);
	ds_evaluation_free(&ev);
	if (!out->fix)
		goto oom;
	return 0;
oom:
	ds_evaluation_free(&ev);
	ds_probe_free(out);
	return ds_fail(error, "out of memory");
}

void ds_cel_message_marks(FILE *f, const char *message, const char *const *exprs, size_t count)
{
	const char *p = message;
	bool first = true;

	for (;;) {
		size_t len = 0;
		while (p[len] && !((unsigned char)p[len] >= 1 && (unsigned char)p[len] <= count))
			len++;
		if (len || (first && !*p)) {
			fputs(first ? "" : " + ", f);
			ds_cel_quote_n(f, p, len);
			first = false;
		}
		p += len;
		if (!*p)
			return;
		fprintf(f, "%s%s", first ? "" : " + ", exprs[*p - 1] ? exprs[*p - 1] : "''");
		first = false;
		p++;
	}
}

void ds_cel_message(FILE *f, const char *message, const char *value, const char *other)
{
	const char *const exprs[] = {value, other};

	ds_cel_message_marks(f, message, exprs, 2);
}
