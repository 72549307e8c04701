/* rules.c - what each rule becomes in CEL: its variables, the finding it
 * writes (the rules' own words, from messages.c) and its fix as a
 * JSONPatch expression. The one place that knows how a rule reads a
 * DaemonSet; every text, pointer and fix value comes from rules/. */
#include "policy/internal.h"

#include <stdlib.h>
#include <string.h>

/* One case of a rule about one field of the pod template. The cases are
 * tried in order; the first whose `when` holds gives the finding. */
struct field_case {
	/* CEL over variables.value (the field, null when absent). A "%s" in
	 * it stands for the CEL list of the rule's list option `option`. */
	const char *when;
	const char *option; /* a list option `when` names; the case is left out while it is empty */
	/* The field's value (JSON) for which the rule writes this case's
	 * message, DS_MARK_VALUE standing for the value; NULL: the field is
	 * absent. A probe the rule finds nothing in makes the case clean (''). */
	const char *probe;
};

/* How a rule becomes CEL. */
struct translation {
	const char *id;
	const char *field; /* the pointer of the field an object rule reads */
	const struct field_case *cases;
	size_t case_count;
	const char *why_not; /* non-NULL: no validating policy, and why */
	/* A field beside `field` the fix removes when it is there, and why. */
	const char *removes;
	const char *exempt_namespaces; /* a namespace rule's list option of namespaces it leaves out */
};

static const struct field_case priority_class_cases[] = {
	{"type(variables.value) == null_type", NULL, NULL},
	{"type(variables.value) != string", NULL, "0"},
	{"variables.value == ''", NULL, "\"\""},
	{"!(variables.value in %s)", "allowed", "\"" DS_MARK_VALUE "\""},
};

static const struct field_case restart_policy_cases[] = {
	{"type(variables.value) == null_type || (type(variables.value) == string && variables.value == 'Always')", NULL,
	 "\"Always\""},
	{"type(variables.value) != string", NULL, "0"},
	{"true", NULL, "\"" DS_MARK_VALUE "\""},
};

#define CASES(table) .cases = table, .case_count = sizeof(table) / sizeof(table[0])

static const struct translation translations[] = {
	{
		.id = "DS001",
		.field = "/spec/template/spec/priorityClassName",
		CASES(priority_class_cases),
		/* The Priority admission plugin refuses a pod whose integer
		 * priority differs from its class's value: a class patched in
		 * beside an old integer would keep every pod out. */
		.removes = "priority",
	},
	{
		.id = "DS002",
		.field = "/spec/template/spec/restartPolicy",
		CASES(restart_policy_cases),
		.why_not = "the API server's own DaemonSet validation refuses a pod template whose restartPolicy is "
			   "not Always before validating admission policies run",
	},
	{
		.id = "DS003",
		.exempt_namespaces = "exemptNamespaces",
	},
};

#define TRANSLATION_COUNT (sizeof(translations) / sizeof(translations[0]))

static const struct translation *translation_of(const ds_rule *rule)
{
	for (size_t i = 0; i < TRANSLATION_COUNT; i++)
		if (!strcmp(translations[i].id, rule->id))
			return &translations[i];
	return NULL;
}

void ds_rule_cel_free(ds_rule_cel *rc)
{
	for (size_t i = 0; i < rc->variable_count; i++) {
		free(rc->variables[i].name);
		free(rc->variables[i].expression);
	}
	free(rc->variables);
	free(rc->patch);
	memset(rc, 0, sizeof(*rc));
}

/* Appends a variable; takes expression (NULL: memory ran out). Returns 0,
 * or -1 out of memory. */
static int add_variable(ds_rule_cel *rc, const char *name, char *expression)
{
	ds_cel_variable *grown = expression ? ds_array_grow(rc->variables, rc->variable_count, sizeof(*grown)) : NULL;
	char *copy = grown ? strdup(name) : NULL;

	if (!copy) {
		free(expression);
		return -1;
	}
	rc->variables = grown;
	grown[rc->variable_count++] = (ds_cel_variable){copy, expression};
	return 0;
}

/* The variables every rule's policy starts with: objectNamespace and
 * objectName, as the webhook names the DaemonSet in its messages (the
 * object's namespace, else the request's). Returns 0, or -1 out of memory. */
static int add_object_variables(ds_rule_cel *rc)
{
	ds_text t;

	if (ds_text_open(&t) < 0)
		return -1;
	ds_cel_present(t.f, "object", "/metadata/namespace", true);
	fputs(" && type(object.metadata.namespace) == string && object.metadata.namespace != ''\n"
	      "  ? object.metadata.namespace : request.namespace", t.f);
	if (add_variable(rc, "objectNamespace", ds_text_close(&t)) < 0 || ds_text_open(&t) < 0)
		return -1;
	ds_cel_present(t.f, "object", "/metadata/name", true);
	fputs(" && type(object.metadata.name) == string\n  ? object.metadata.name : ''", t.f);
	return add_variable(rc, "objectName", ds_text_close(&t));
}

/* A DaemonSet of apps/v1 named "probe" in namespace "probe" with an empty
 * pod template spec, and `value` (JSON, NULL: nothing) at `field`. Returns
 * the JSON text, or NULL out of memory or when value is not JSON. */
static char *probe_resource(const char *field, const char *value)
{
	cJSON *doc = cJSON_Parse("{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\","
				 "\"metadata\":{\"name\":\"probe\",\"namespace\":\"probe\"},"
				 "\"spec\":{\"template\":{\"spec\":{}}}}");
	cJSON *parent, *item = value ? cJSON_Parse(value) : NULL;
	const char *last = strrchr(field, '/');
	char *parent_pointer = strndup(field, (size_t)(last - field));
	char *text = NULL;

	parent = doc && parent_pointer ? ds_pointer_get(doc, parent_pointer) : NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(parent, last + 1);
	if (parent && (!value || (item && cJSON_AddItemToObject(parent, last + 1, item)))) {
		item = NULL;
		text = cJSON_PrintUnformatted(doc);
	}
	cJSON_Delete(item);
	cJSON_Delete(doc);
	free(parent_pointer);
	return text;
}

/* Writes a case's condition: `when` with its "%s" as the option's list. */
static void write_when(FILE *f, const char *when, const ds_string_list *list)
{
	const char *hole = list ? strstr(when, "%s") : NULL;

	if (!hole) {
		fputs(when, f);
		return;
	}
	fprintf(f, "%.*s", (int)(hole - when), when);
	ds_cel_list(f, list);
	fputs(hole + 2, f);
}

/* The list option `key` of rule in cfg, or NULL. */
static const ds_string_list *list_option(const ds_config *cfg, const ds_rule *rule, const char *key)
{
	const ds_option_value *v = key ? ds_rule_option_value(cfg, rule, key) : NULL;
	return v ? &v->list : NULL;
}

/* Writes the JSONPatch list that applies the fix of probe p (whose
 * operations set `field`), and removes tr->removes beside it when present.
 * Returns 0, or -1 with *error when the fix is not what the translation
 * expects. */
static int write_patch(FILE *f, const struct translation *tr, const ds_probe *p, char **error)
{
	const cJSON *op;
	const char *last = strrchr(tr->field, '/');
	char *sibling;

	fputs("variables.finding == '' || !(", f);
	ds_cel_present(f, "object", tr->field, false);
	fputs(") ? [] : [", f);
	cJSON_ArrayForEach(op, p->fix) {
		const cJSON *path = cJSON_GetObjectItemCaseSensitive(op, "path");
		if (!cJSON_IsString(path) || strcmp(path->valuestring, tr->field))
			return ds_fail(error, "internal error: %s's fix no longer sets %s", tr->id, tr->field);
		/* "add" sets a member whether or not it is there (RFC 6902 4.1). */
		fputs("\n  JSONPatch{op: 'add', path: ", f);
		ds_cel_quote(f, tr->field);
		fputs(", value: ", f);
		ds_cel_literal(f, cJSON_GetObjectItemCaseSensitive(op, "value"));
		fputs(op->next ? "}," : "}", f);
	}
	fputs("\n]", f);
	if (!tr->removes)
		return 0;
	sibling = ds_format("%.*s/%s", (int)(last - tr->field), tr->field, tr->removes);
	if (!sibling)
		return ds_fail(error, "out of memory");
	fputs(" + (", f);
	ds_cel_present(f, "object", sibling, true);
	fputs(" && type(", f);
	ds_cel_select(f, "object", sibling);
	fputs(") != null_type\n  ? [JSONPatch{op: 'remove', path: ", f);
	ds_cel_quote(f, sibling);
	fputs("}] : [])", f);
	free(sibling);
	return 0;
}

/* An object rule about one field: value, finding and the patch. */
static int translate_field(const struct translation *tr, const ds_config *cfg, bool patch, ds_rule_cel *rc,
			   char **error)
{
	ds_probe fix_probe = {0};
	bool always = false;
	ds_text t;
	int rc_ = -1;

	if (ds_text_open(&t) < 0)
		return ds_fail(error, "out of memory");
	ds_cel_present(t.f, "object", tr->field, true);
	fputs(" ? ", t.f);
	ds_cel_select(t.f, "object", tr->field);
	fputs(" : null", t.f);
	if (add_variable(rc, "value", ds_text_close(&t)) < 0 || ds_text_open(&t) < 0)
		return ds_fail(error, "out of memory");
	for (size_t i = 0; i < tr->case_count; i++) {
		const struct field_case *c = &tr->cases[i];
		const ds_string_list *list = list_option(cfg, rc->rule, c->option);
		char *resource = probe_resource(tr->field, c->probe);
		ds_probe p;
		if (c->option && (!list || !list->count)) {
			free(resource);
			continue;
		}
		if (!resource || ds_probe_rule(rc->rule, cfg, resource, NULL, &p, error) < 0) {
			free(resource);
			if (!resource)
				ds_fail(error, "out of memory");
			goto done;
		}
		free(resource);
		if (p.message && strcmp(p.pointer, tr->field)) {
			ds_fail(error, "internal error: %s no longer reports %s", tr->id, tr->field);
			ds_probe_free(&p);
			goto done;
		}
		/* A case that always holds is the last. */
		always = !strcmp(c->when, "true");
		if (!always) {
			write_when(t.f, c->when, list);
			fputs("\n  ? ", t.f);
		}
		if (p.message)
			ds_cel_message(t.f, p.message, "variables.value", NULL);
		else
			fputs("''", t.f);
		if (!always)
			fputs("\n  : ", t.f);
		if (p.message && !fix_probe.message)
			fix_probe = p;
		else
			ds_probe_free(&p);
		if (always)
			break;
	}
	if (!always)
		fputs("''", t.f);
	if (add_variable(rc, "finding", ds_text_close(&t)) < 0) {
		ds_fail(error, "out of memory");
		goto done;
	}
	t.f = NULL;
	rc->validating = !tr->why_not;
	rc->why_not = tr->why_not;
	rc_ = 0;
	if (!patch || !rc->rule->fix)
		goto done;
	if (!fix_probe.message || !cJSON_GetArraySize(fix_probe.fix)) {
		rc->unpatched = fix_probe.unfixable ? fix_probe.unfixable : "the rule's fix does not apply";
		goto done;
	}
	if (ds_text_open(&t) < 0 || write_patch(t.f, tr, &fix_probe, error) < 0 ||
	    !(rc->patch = ds_text_close(&t))) {
		if (t.f)
			free(ds_text_close(&t));
		if (!*error)
			ds_fail(error, "out of memory");
		rc_ = -1;
	}
	t.f = NULL;
done:
	if (t.f)
		free(ds_text_close(&t));
	ds_probe_free(&fix_probe);
	return rc_;
}

/* A namespace rule: evaluated once per other DaemonSet of the namespace
 * (params), finding it when its name differs from the object's. */
static int translate_namespace(const struct translation *tr, const ds_config *cfg, ds_rule_cel *rc, char **error)
{
	char *resource = probe_resource("/metadata/namespace", "\"" DS_MARK_VALUE "\"");
	ds_probe p;
	ds_text t;

	if (!resource)
		return ds_fail(error, "out of memory");
	if (ds_probe_rule(rc->rule, cfg, resource, DS_MARK_OTHER, &p, error) < 0) {
		free(resource);
		return -1;
	}
	free(resource);
	if (!p.message) {
		ds_probe_free(&p);
		return ds_fail(error, "internal error: %s found nothing in a shared namespace", tr->id);
	}
	if (ds_text_open(&t) < 0) {
		ds_probe_free(&p);
		return ds_fail(error, "out of memory");
	}
	ds_cel_present(t.f, "params", "/metadata/name", true);
	fputs(" && params.metadata.name != variables.objectName\n  ? ", t.f);
	ds_cel_message(t.f, p.message, "variables.objectNamespace", "params.metadata.name");
	fputs("\n  : ''", t.f);
	ds_probe_free(&p);
	if (add_variable(rc, "finding", ds_text_close(&t)) < 0)
		return ds_fail(error, "out of memory");
	rc->validating = true;
	rc->per_daemonset = true;
	rc->exempt_namespaces = tr->exempt_namespaces;
	return 0;
}

int ds_rule_cel_make(const ds_rule *rule, const ds_config *cfg, bool patch, ds_rule_cel *out, char **error)
{
	const struct translation *tr = translation_of(rule);
	int rc;

	memset(out, 0, sizeof(*out));
	out->rule = rule;
	if (!tr)
		return ds_fail(error, "internal error: %s %s has no translation into CEL (policy/rules.c)", rule->id,
			       rule->name);
	if (add_object_variables(out) < 0) {
		ds_rule_cel_free(out);
		return ds_fail(error, "out of memory");
	}
	rc = rule->scope == DS_SCOPE_NAMESPACE ? translate_namespace(tr, cfg, out, error)
					       : translate_field(tr, cfg, patch, out, error);
	if (rc < 0)
		ds_rule_cel_free(out);
	return rc;
}

/* The RE2 pattern that finds rule in a dsguard.io/ignore value: an item
 * (comma-separated; spaces and tabs before it and white space after it
 * ignored, as the engine reads it) that is the rule's id in any case, its
 * name, or "all" in any case. A new string, or NULL out of memory. */
static char *ignore_pattern(const ds_rule *rule)
{
	ds_text re;

	if (ds_text_open(&re) < 0)
		return NULL;
	fputs("(^|,)[ \\t]*(", re.f);
	ds_re2_literal(re.f, rule->id, true);
	fputc('|', re.f);
	ds_re2_literal(re.f, rule->name, false);
	fputc('|', re.f);
	ds_re2_literal(re.f, "all", true);
	fputs(")[ \\t\\n\\v\\f\\r]*(,|$)", re.f);
	return ds_text_close(&re);
}

/* The namespace a DaemonSet is in, as the webhook reads it: its own, else
 * the request's. matchConditions cannot read variables, so it is written
 * out wherever it is needed. */
static void write_namespace(FILE *f)
{
	fputc('(', f);
	ds_cel_present(f, "object", "/metadata/namespace", true);
	fputs(" && type(object.metadata.namespace) == string && object.metadata.namespace != ''"
	      " ? object.metadata.namespace : request.namespace)", f);
}

/* Its name, as the webhook reads it ("" when it has none). */
static void write_name(FILE *f)
{
	fputc('(', f);
	ds_cel_present(f, "object", "/metadata/name", true);
	fputs(" && type(object.metadata.name) == string ? object.metadata.name : '')", f);
}

/* Writes the RE2 pattern of a glob (util.h): '*' any run, '?' one
 * character, every other (escaped) character itself. */
static void write_glob_pattern(FILE *f, const char *glob)
{
	fputc('^', f);
	for (const char *p = glob; *p; p++) {
		char one[2] = {*p, '\0'};
		if (*p == '*' || *p == '?') {
			fputs(*p == '*' ? ".*" : ".", f);
			continue;
		}
		if (*p == '\\' && p[1])
			one[0] = *++p;
		ds_re2_literal(f, one, false);
	}
	fputc('$', f);
}

/* A condition that holds when the CEL string `value` (written by
 * write_value) matches one of the globs of list: a literal by equality,
 * a pattern by matches(). Returns 0, or -1 out of memory. */
static int write_globs(FILE *f, const ds_string_list *list, void (*write_value)(FILE *))
{
	fputc('(', f);
	for (size_t i = 0; i < list->count; i++) {
		fputs(i ? " || " : "", f);
		write_value(f);
		if (ds_glob_is_literal(list->items[i])) {
			char *literal = ds_glob_literal(list->items[i]);
			if (!literal)
				return -1;
			fputs(" == ", f);
			ds_cel_quote(f, literal);
			free(literal);
		} else {
			ds_text re;
			char *pattern;
			if (ds_text_open(&re) < 0)
				return -1;
			write_glob_pattern(re.f, list->items[i]);
			if (!(pattern = ds_text_close(&re)))
				return -1;
			fputs(".matches(", f);
			ds_cel_quote(f, pattern);
			fputc(')', f);
			free(pattern);
		}
	}
	fputc(')', f);
	return 0;
}

/* A condition that holds when the DaemonSet carries label key with value. */
static int write_label(FILE *f, const ds_label *label)
{
	char *token = ds_pointer_escape(label->key), *pointer = token ? ds_format("/metadata/labels/%s", token) : NULL;

	free(token);
	if (!pointer)
		return -1;
	fputc('(', f);
	ds_cel_present(f, "object", pointer, true);
	fputs(" && type(", f);
	ds_cel_select(f, "object", pointer);
	fputs(") == string && ", f);
	ds_cel_select(f, "object", pointer);
	fputs(" == ", f);
	ds_cel_quote(f, label->value);
	fputc(')', f);
	free(pointer);
	return 0;
}

/* The condition under which config entry e selects the DaemonSet: every
 * selector it gives. A new string, or NULL out of memory. */
static char *entry_condition(const ds_exemption *e)
{
	ds_text t;
	int rc = 0;
	bool more = false;

	if (ds_text_open(&t) < 0)
		return NULL;
	if (e->namespaces.count) {
		rc |= write_globs(t.f, &e->namespaces, write_namespace);
		more = true;
	}
	if (e->names.count) {
		fputs(more ? "\n  && " : "", t.f);
		rc |= write_globs(t.f, &e->names, write_name);
		more = true;
	}
	for (size_t i = 0; i < e->label_count; i++) {
		fputs(more ? "\n  && " : "", t.f);
		rc |= write_label(t.f, &e->labels[i]);
		more = true;
	}
	if (rc < 0) {
		free(ds_text_close(&t));
		return NULL;
	}
	return ds_text_close(&t);
}

/* The warning of a finding exempted by `by` with `reason` (a literal
 * reason, or DS_MARK_OTHER standing for reason_expr), as a CEL string
 * expression. A new string, or NULL out of memory. */
static char *exempted_message(const ds_rule *rule, ds_exempt_source by, const char *reason, const char *reason_expr)
{
	char *said = ds_say_exempted(rule, by, reason, DS_MARK_VALUE);
	ds_text t;

	if (!said || ds_text_open(&t) < 0) {
		free(said);
		return NULL;
	}
	ds_cel_message(t.f, said, "variables.finding", reason_expr);
	free(said);
	return ds_text_close(&t);
}

/* Appends an exemption; takes condition and message (NULL: out of
 * memory). Returns 0, or -1 out of memory. */
static int add_exemption(ds_cel_exemptions *out, char *condition, char *message)
{
	ds_cel_exemption *grown = condition && message ? ds_array_grow(out->items, out->count, sizeof(*grown)) : NULL;

	if (!grown) {
		free(condition);
		free(message);
		return -1;
	}
	out->items = grown;
	grown[out->count++] = (ds_cel_exemption){condition, message};
	return 0;
}

/* Appends a line to out->notes. Returns 0, or -1 out of memory. */
static int add_note(ds_cel_exemptions *out, char *line)
{
	char *notes = line ? ds_format("%s%s%s", out->notes ? out->notes : "", out->notes ? "\n" : "", line) : NULL;

	free(line);
	if (!notes)
		return -1;
	free(out->notes);
	out->notes = notes;
	return 0;
}

/* The config's exemption entries that name rule, in the file's order: an
 * entry expired at `now` is left out with a note, one that will expire is
 * noted (CEL has no clock: the policies must be made again then). */
static int config_exemptions(const ds_rule *rule, const ds_config *cfg, time_t now, ds_cel_exemptions *out)
{
	for (size_t i = 0; i < cfg->exemption_count; i++) {
		const ds_exemption *e = &cfg->exemptions[i];
		char *reason;
		int rc;
		if (!e->rules[ds_rule_index(rule)])
			continue;
		if (ds_exemption_expired(e, now)) {
			if (add_note(out, ds_format("Config exemption %s:%u left out: it expired (expires: %s).", e->file,
						    e->line, e->expires_text)) < 0)
				return -1;
			continue;
		}
		if (e->expires && add_note(out, ds_format("Config exemption %s:%u holds until %s; CEL has no clock: make "
							  "these policies again then.",
							  e->file, e->line, e->expires_text)) < 0)
			return -1;
		/* the reason as the engine cuts it for the webhook's warning */
		reason = ds_text_cut(e->reason, DS_EXEMPTION_REASON_MAX);
		rc = add_exemption(out, entry_condition(e),
				   reason ? exempted_message(rule, DS_EXEMPT_CONFIG, reason, NULL) : NULL);
		free(reason);
		if (rc < 0)
			return -1;
	}
	return 0;
}

#define IGNORE_POINTER "/metadata/annotations/dsguard.io~1ignore"
#define REASON_POINTER "/metadata/annotations/dsguard.io~1ignore-reason"
_Static_assert(sizeof(DS_IGNORE_ANNOTATION) == sizeof("dsguard.io/ignore"), "the annotation's pointer");
_Static_assert(sizeof(DS_IGNORE_REASON_ANNOTATION) == sizeof("dsguard.io/ignore-reason"), "the reason's pointer");

/* Writes the condition that `base`'s dsguard.io/ignore names rule, the
 * RE2 pattern doing what splitting the value would (split() is not core
 * CEL). Returns 0, or -1 out of memory. */
static int write_names_rule(FILE *f, const char *base, const ds_rule *rule)
{
	char *pattern = ignore_pattern(rule);

	if (!pattern)
		return -1;
	ds_cel_present(f, base, IGNORE_POINTER, true);
	fputs(" && type(", f);
	ds_cel_select(f, base, IGNORE_POINTER);
	fputs(") == string\n  && ", f);
	ds_cel_select(f, base, IGNORE_POINTER);
	fputs(".matches(", f);
	ds_cel_quote(f, pattern);
	fputc(')', f);
	free(pattern);
	return 0;
}

/* Writes the condition that the object gives a reason: a
 * dsguard.io/ignore-reason of more than white space. */
static void write_has_reason(FILE *f)
{
	ds_cel_present(f, "object", REASON_POINTER, true);
	fputs(" && type(", f);
	ds_cel_select(f, "object", REASON_POINTER);
	fputs(") == string && ", f);
	ds_cel_select(f, "object", REASON_POINTER);
	fputs(".matches('[^ \\\\t\\\\n\\\\v\\\\f\\\\r]')", f);
}

/* Writes the condition that the requester is one the grant lists. */
static void write_requester_listed(FILE *f, const ds_annotation_grant *g)
{
	fputc('(', f);
	if (g->users.count) {
		fputs("(has(request.userInfo.username) && request.userInfo.username in ", f);
		ds_cel_list(f, &g->users);
		fputc(')', f);
	}
	if (g->groups.count) {
		fputs(g->users.count ? " || " : "", f);
		fputs("(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in ", f);
		ds_cel_list(f, &g->groups);
		fputs("))", f);
	}
	fputc(')', f);
}

/* The condition under which the annotation exempts rule, within the
 * config's limits (ds_exemption_decide()). A new string, or NULL. */
static char *annotation_condition(const ds_rule *rule, const ds_config *cfg)
{
	const ds_annotation_grant *g = &cfg->annotation;
	ds_text t;
	int rc;

	if (ds_text_open(&t) < 0)
		return NULL;
	rc = write_names_rule(t.f, "object", rule);
	if (g->namespaces.count) {
		fputs("\n  && ", t.f);
		rc |= write_globs(t.f, &g->namespaces, write_namespace);
	}
	if (g->require_reason) {
		fputs("\n  && ", t.f);
		write_has_reason(t.f);
	}
	if (g->users.count || g->groups.count) {
		fputs("\n  && (", t.f);
		write_requester_listed(t.f, g);
		fputs(" || (request.operation == 'UPDATE' && oldObject != null && ", t.f);
		rc |= write_names_rule(t.f, "oldObject", rule);
		fputs("))", t.f);
	}
	if (rc < 0) {
		free(ds_text_close(&t));
		return NULL;
	}
	return ds_text_close(&t);
}

/* The annotation, where the config honours it: its condition, and a
 * message that names the reason the object gives, when it gives one. */
static int annotation_exemptions(const ds_rule *rule, const ds_config *cfg, time_t now, ds_cel_exemptions *out)
{
	char *with, *without, *message = NULL;
	ds_text t;

	(void)now;
	if (!cfg->allow_exemption_annotation)
		return 0;
	with = exempted_message(rule, DS_EXEMPT_ANNOTATION, DS_MARK_OTHER,
				"object.metadata.annotations['" DS_IGNORE_REASON_ANNOTATION "']");
	without = exempted_message(rule, DS_EXEMPT_ANNOTATION, NULL, NULL);
	if (with && without && ds_text_open(&t) == 0) {
		fputc('(', t.f);
		write_has_reason(t.f);
		fprintf(t.f, ")\n  ? %s\n  : %s", with, without);
		message = ds_text_close(&t);
	}
	free(with);
	free(without);
	return add_exemption(out, annotation_condition(rule, cfg), message);
}

/* Every source of exemptions, in the order the engine tries them
 * (rules/exempt.c): config entries, then the annotation. Each appends
 * what exempts a rule (nothing when it does not). */
static int (*const exemption_sources[])(const ds_rule *, const ds_config *, time_t, ds_cel_exemptions *) = {
	config_exemptions,
	annotation_exemptions,
};

void ds_exemptions_free(ds_cel_exemptions *ex)
{
	for (size_t i = 0; i < ex->count; i++) {
		free(ex->items[i].condition);
		free(ex->items[i].message);
	}
	free(ex->items);
	free(ex->notes);
	memset(ex, 0, sizeof(*ex));
}

int ds_exemptions_make(const ds_rule *rule, const ds_config *cfg, time_t now, ds_cel_exemptions *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(exemption_sources) / sizeof(exemption_sources[0]); i++)
		if (exemption_sources[i](rule, cfg, now, out) < 0) {
			ds_exemptions_free(out);
			return -1;
		}
	return 0;
}

char *ds_exemptions_condition(const ds_cel_exemptions *ex, bool *oom)
{
	ds_text t;
	char *text;

	*oom = false;
	if (!ex->count)
		return NULL;
	if (ds_text_open(&t) < 0) {
		*oom = true;
		return NULL;
	}
	for (size_t i = 0; i < ex->count; i++)
		fprintf(t.f, i ? " ||\n(%s)" : "(%s)", ex->items[i].condition);
	text = ds_text_close(&t);
	*oom = !text;
	return text;
}

void ds_exemptions_message(FILE *f, const ds_cel_exemptions *ex)
{
	fputc('(', f);
	for (size_t i = 0; i + 1 < ex->count; i++)
		fprintf(f, "(%s)\n  ? (%s)\n  : ", ex->items[i].condition, ex->items[i].message);
	if (ex->count)
		fprintf(f, "(%s)", ex->items[ex->count - 1].message);
	fputc(')', f);
}
