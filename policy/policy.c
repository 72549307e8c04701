/* policy.c - the admission policy objects: for each rule that is not off,
 * a ValidatingAdmissionPolicy that denies (or one that warns) as the
 * webhook's /validate answers, and with --mutating a MutatingAdmissionPolicy
 * that patches as /mutate does; each with its binding. */
#include "policy/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_PREFIX "dsguard-"
#define GROUP "admissionregistration.k8s.io/"
#define MAX_NAME DS_OBJECT_NAME_MAX

/* Markers beside DS_MARK_VALUE and DS_MARK_OTHER for the DaemonSet's
 * namespace and name in a denial (ds_cel_message_marks()). */
#define MARK_NAMESPACE "\003"
#define MARK_NAME "\004"

/* Where an update leaves spec.template exactly as it was: the webhook then
 * warns instead of denying or patching (rolling every pod for an
 * untouched template is what it avoids). */
#define TEMPLATE_KEPT \
	"request.operation == 'UPDATE'\n" \
	"  && has(object.spec) && type(object.spec) == map && has(object.spec.template)\n" \
	"  && has(oldObject.spec) && type(oldObject.spec) == map && has(oldObject.spec.template)\n" \
	"  && object.spec.template == oldObject.spec.template"

/* What one run works with. The first allocation that fails sets oom; the
 * run then ends with "out of memory" (the helpers below take NULL parents,
 * so building goes on harmlessly until it is checked). */
struct build {
	const ds_config *cfg;
	const ds_policy_options *opts;
	const char *prefix;
	ds_policy_set *out;
	time_t now;                  /* when config exemptions' expiry is judged */
	const ds_cel_exemptions *ex; /* the exemptions of the rule being built */
	bool oom;
};

int ds_policy_kube_version(const char *text, unsigned *minor, char **error)
{
	const char *p = text;
	char *end;
	unsigned long major, m;

	if (*p == 'v')
		p++;
	if (!isdigit((unsigned char)*p))
		goto bad;
	major = strtoul(p, &end, 10);
	if (*end != '.' || !isdigit((unsigned char)end[1]))
		goto bad;
	m = strtoul(end + 1, &end, 10);
	if (*end == '.' && isdigit((unsigned char)end[1]))
		strtoul(end + 1, &end, 10);
	if (*end || major != 1 || m > 1000)
		goto bad;
	if (m < DS_POLICY_VALIDATING_MINOR)
		return ds_fail(error,
			       "ValidatingAdmissionPolicy v1 needs Kubernetes 1.%d or later, and 1.%lu is older "
			       "(use the webhook there)",
			       DS_POLICY_VALIDATING_MINOR, m);
	*minor = (unsigned)m;
	return 0;
bad:
	return ds_fail(error, "\"%s\" is not a Kubernetes version such as 1.30 or 1.34", text);
}

void ds_policy_set_free(ds_policy_set *set)
{
	for (size_t i = 0; i < set->count; i++) {
		free(set->docs[i].comment);
		cJSON_Delete(set->docs[i].object);
	}
	free(set->docs);
	memset(set, 0, sizeof(*set));
}

/* Notes a failed allocation: returns p, and sets b->oom when it is NULL. */
static void *kept(struct build *b, void *p)
{
	if (!p)
		b->oom = true;
	return p;
}

static cJSON *add_object(struct build *b, cJSON *parent, const char *key)
{
	return kept(b, cJSON_AddObjectToObject(parent, key));
}

static void add_string(struct build *b, cJSON *parent, const char *key, const char *value)
{
	kept(b, value ? cJSON_AddStringToObject(parent, key, value) : NULL);
}

/* Adds the list of strings items under key. */
static void add_strings(struct build *b, cJSON *parent, const char *key, const char *const *items, size_t count)
{
	cJSON *list = kept(b, cJSON_CreateStringArray(items, (int)count));

	if (list && !kept(b, cJSON_AddItemToObject(parent, key, list) ? list : NULL))
		cJSON_Delete(list);
}

/* Appends {name_key: name, expression: expr} to the list under key
 * (created when absent). */
static void add_named(struct build *b, cJSON *spec, const char *key, const char *name, const char *expr)
{
	cJSON *list = cJSON_GetObjectItemCaseSensitive(spec, key);
	cJSON *item = kept(b, cJSON_CreateObject());

	if (!list)
		list = kept(b, cJSON_AddArrayToObject(spec, key));
	add_string(b, item, "name", name);
	add_string(b, item, "expression", expr);
	if (item && !kept(b, cJSON_AddItemToArray(list, item) ? item : NULL))
		cJSON_Delete(item);
}

/* prefix + "ds001-priority-class" + suffix, a new string (NULL: oom). */
static char *object_name(struct build *b, const ds_rule *rule, const char *suffix)
{
	char *name = kept(b, ds_format("%s%s-%s%s", b->prefix, rule->id, rule->name, suffix));

	for (char *p = name ? name + strlen(b->prefix) : NULL; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return name;
}

/* Appends an object with its comment, taking both (NULL: oom). */
static void add_document(struct build *b, cJSON *object, char *comment)
{
	ds_policy_document *grown = NULL;

	if (object && comment)
		grown = kept(b, ds_array_grow(b->out->docs, b->out->count, sizeof(*grown)));
	else
		b->oom = true;
	if (!grown) {
		cJSON_Delete(object);
		free(comment);
		return;
	}
	b->out->docs = grown;
	grown[b->out->count++] = (ds_policy_document){comment, object};
}

/* A new {apiVersion, kind, metadata: {name, labels}, spec: {}}; *spec is
 * its spec. */
static cJSON *new_object(struct build *b, const char *api_version, const char *kind, const char *name,
			 const ds_rule *rule, cJSON **spec)
{
	cJSON *o = kept(b, cJSON_CreateObject());
	cJSON *meta, *labels;

	add_string(b, o, "apiVersion", api_version);
	add_string(b, o, "kind", kind);
	meta = add_object(b, o, "metadata");
	add_string(b, meta, "name", name);
	labels = add_object(b, meta, "labels");
	add_string(b, labels, "app.kubernetes.io/part-of", "dsguard");
	add_string(b, labels, "dsguard.io/rule", rule->id);
	*spec = add_object(b, o, "spec");
	return o;
}

/* The DaemonSets of apps/v1, on CREATE and UPDATE (a namespace rule: on
 * CREATE only, as the webhook asks it). The older group versions
 * (extensions/v1beta1, apps/v1beta2) are not served since Kubernetes 1.16. */
static void add_match_constraints(struct build *b, cJSON *spec, const ds_rule *rule)
{
	static const char *const ops[] = {"CREATE", "UPDATE"};
	static const char *const apps[] = {"apps"}, *const v1[] = {"v1"}, *const ds[] = {"daemonsets"};
	cJSON *rules = kept(b, cJSON_AddArrayToObject(add_object(b, spec, "matchConstraints"), "resourceRules"));
	cJSON *r = kept(b, cJSON_CreateObject());

	if (r && !kept(b, cJSON_AddItemToArray(rules, r) ? r : NULL)) {
		cJSON_Delete(r);
		return;
	}
	add_strings(b, r, "apiGroups", apps, 1);
	add_strings(b, r, "apiVersions", v1, 1);
	add_strings(b, r, "operations", ops, rule->scope == DS_SCOPE_NAMESPACE ? 1 : 2);
	add_strings(b, r, "resources", ds, 1);
}

static void add_variables(struct build *b, cJSON *spec, const ds_rule_cel *rc)
{
	for (size_t i = 0; i < rc->variable_count; i++)
		add_named(b, spec, "variables", rc->variables[i].name, rc->variables[i].expression);
}

/* Adds selector (copied; NULL: an empty one) to a binding's
 * matchResources under key. Returns what was added, or NULL. */
static cJSON *add_selector(struct build *b, cJSON *spec, const char *key, const cJSON *selector)
{
	cJSON *resources = cJSON_GetObjectItemCaseSensitive(spec, "matchResources");
	cJSON *sel = kept(b, selector ? cJSON_Duplicate(selector, 1) : cJSON_CreateObject());

	if (!resources)
		resources = add_object(b, spec, "matchResources");
	if (sel && !kept(b, cJSON_AddItemToObject(resources, key, sel) ? sel : NULL)) {
		cJSON_Delete(sel);
		return NULL;
	}
	return sel;
}

/* Sets a binding's matchResources: its namespaceSelector, the
 * --namespace-selector's requirements and the namespaces the rule leaves
 * out; its objectSelector, the --object-selector's. Neither where it
 * would select everything. */
static void add_match_resources(struct build *b, cJSON *spec, const ds_rule_cel *rc)
{
	const ds_option_value *exempt =
		rc->exempt_namespaces ? ds_rule_option_value(b->cfg, rc->rule, rc->exempt_namespaces) : NULL;
	bool exempts = exempt && exempt->list.count;
	cJSON *sel = NULL, *exprs, *req;

	if (b->opts->namespace_selector || exempts)
		sel = add_selector(b, spec, "namespaceSelector", b->opts->namespace_selector);
	if (b->opts->object_selector)
		add_selector(b, spec, "objectSelector", b->opts->object_selector);
	if (!sel || !exempts)
		return;
	exprs = cJSON_GetObjectItemCaseSensitive(sel, "matchExpressions");
	if (!exprs)
		exprs = kept(b, cJSON_AddArrayToObject(sel, "matchExpressions"));
	req = kept(b, cJSON_CreateObject());
	if (req && !kept(b, cJSON_AddItemToArray(exprs, req) ? req : NULL)) {
		cJSON_Delete(req);
		return;
	}
	add_string(b, req, "key", "kubernetes.io/metadata.name");
	add_string(b, req, "operator", "NotIn");
	add_strings(b, req, "values", (const char *const *)exempt->list.items, exempt->list.count);
}

/* The binding of policy `name` (kind `kind` at api_version); `actions`
 * NULL for a mutating one. Takes comment. */
static void add_binding(struct build *b, const char *api_version, const char *kind, const char *name,
			const ds_rule_cel *rc, const char *const *actions, size_t action_count, char *comment)
{
	cJSON *spec, *o = new_object(b, api_version, kind, name, rc->rule, &spec);

	add_string(b, spec, "policyName", name);
	if (actions)
		add_strings(b, spec, "validationActions", actions, action_count);
	if (rc->per_daemonset) {
		/* A selector and no namespace: every DaemonSet of the namespace of
		 * the request. None there: nothing to find. */
		cJSON *ref = add_object(b, spec, "paramRef");
		add_object(b, ref, "selector");
		add_string(b, ref, "parameterNotFoundAction", "Allow");
	}
	add_match_resources(b, spec, rc);
	add_document(b, o, comment);
}

/* How a validating policy answers. */
enum answer { DENY, WARN };

/* Writes the CEL message the webhook gives for the finding, in the words
 * rules/answers.c gives both: a denial, a warning (for an update that
 * keeps the template: `kept_template`), or the warning of an exempted
 * finding. */
static void write_message(struct build *b, FILE *f, const ds_rule *rule, enum answer answer, bool exempt,
			  bool kept_template)
{
	static const char *const marks[] = {"variables.finding", NULL, "variables.objectNamespace",
					    "variables.objectName"};
	char *text, *head, *item;

	if (exempt) {
		ds_exemptions_message(f, b->ex);
		return;
	}
	if (answer == DENY) {
		head = ds_say_denied(MARK_NAMESPACE, MARK_NAME);
		item = ds_say_denied_rule(rule, DS_MARK_VALUE, true);
		text = head && item ? ds_format("%s%s", head, item) : NULL;
		free(head);
		free(item);
	} else {
		text = ds_say_warning(rule, DS_MARK_VALUE, kept_template);
	}
	if (kept(b, text))
		ds_cel_message_marks(f, text, marks, sizeof(marks) / sizeof(marks[0]));
	free(text);
}

/* The messageExpression of a validating policy. A new string. */
static char *message_expression(struct build *b, const ds_rule *rule, enum answer answer, bool beside,
				const char *exempt)
{
	ds_text t;

	if (!kept(b, ds_text_open(&t) == 0 ? &t : NULL))
		return NULL;
	if (answer == WARN && beside && rule->scope == DS_SCOPE_NAMESPACE) {
		/* Beside a deny policy a namespace rule warns of exemptions only. */
		write_message(b, t.f, rule, WARN, true, false);
		return kept(b, ds_text_close(&t));
	}
	if (answer == WARN && exempt) {
		fputs("variables.exempted\n  ? ", t.f);
		write_message(b, t.f, rule, WARN, true, false);
		fputs("\n  : ", t.f);
	}
	write_message(b, t.f, rule, answer, false, answer == WARN && beside);
	return kept(b, ds_text_close(&t));
}

/* What a validating policy's comment says it does, with the notes on the
 * config's exemptions. A new string. */
static char *validating_comment(const ds_rule_cel *rc, enum answer answer, bool beside, const char *notes)
{
	bool object_rule = rc->rule->scope != DS_SCOPE_NAMESPACE;
	const char *what = answer == DENY ? "denies what the webhook's /validate denies"
			   : !beside     ? "warns (severity warning, or enforce: false), as the webhook does"
			   : object_rule ? "warns where the webhook warns instead of denying: an exempted DaemonSet, or "
					   "an update that keeps spec.template"
					 : "warns where the webhook warns instead of denying: an exempted DaemonSet";

	return ds_format("%s %s%s: %s.\n%s\nfailurePolicy %s: %s.%s%s", rc->rule->id, rc->rule->name,
			 rc->per_daemonset ? " (experimental, see docs/policies.md)" : "", what,
			 rc->per_daemonset ? "Evaluated once for each other DaemonSet of the namespace (params), on CREATE."
					   : "Evaluated on CREATE and UPDATE.",
			 answer == DENY ? "Fail" : "Ignore",
			 answer == DENY ? "a denial fails closed" : "a warning never keeps a DaemonSet out",
			 notes ? "\n" : "", notes ? notes : "");
}

/* The validating policy of rc and its binding: DENY (at error, enforced)
 * leaves out an exempted DaemonSet and an update that keeps the template;
 * WARN beside a DENY (`beside`) takes exactly those, WARN alone every
 * request. */
static void add_validating(struct build *b, const ds_rule_cel *rc, enum answer answer, bool beside,
			   const char *exempt)
{
	static const char *const deny[] = {"Deny"}, *const warn[] = {"Warn", "Audit"};
	bool object_rule = rc->rule->scope != DS_SCOPE_NAMESPACE;
	char *name = object_name(b, rc->rule, answer == WARN && beside ? "-warn" : "");
	cJSON *spec, *o = new_object(b, GROUP "v1", "ValidatingAdmissionPolicy", name, rc->rule, &spec);
	cJSON *validation;
	char *text;

	add_string(b, spec, "failurePolicy", answer == DENY ? "Fail" : "Ignore");
	if (rc->per_daemonset) {
		cJSON *kind = add_object(b, spec, "paramKind");
		add_string(b, kind, "apiVersion", "apps/v1");
		add_string(b, kind, "kind", "DaemonSet");
	}
	add_match_constraints(b, spec, rc->rule);
	if (answer == DENY && exempt) {
		text = kept(b, ds_format("!(%s)", exempt));
		add_named(b, spec, "matchConditions", "not-exempted", text);
		free(text);
	}
	if (answer == DENY && object_rule)
		add_named(b, spec, "matchConditions", "creates-or-changes-template", "!(" TEMPLATE_KEPT ")");
	if (answer == WARN && beside) {
		text = kept(b, !object_rule    ? strdup(exempt)
			       : exempt	       ? ds_format("(%s) ||\n(%s)", exempt, TEMPLATE_KEPT)
					       : strdup(TEMPLATE_KEPT));
		add_named(b, spec, "matchConditions", object_rule ? "exempted-or-template-kept" : "exempted", text);
		free(text);
	}
	add_variables(b, spec, rc);
	if (answer == WARN && exempt && (object_rule || !beside))
		add_named(b, spec, "variables", "exempted", exempt);
	validation = kept(b, cJSON_CreateObject());
	if (validation && !kept(b, cJSON_AddItemToArray(kept(b, cJSON_AddArrayToObject(spec, "validations")), validation)
					   ? validation : NULL))
		cJSON_Delete(validation);
	add_string(b, validation, "expression", "variables.finding == ''");
	text = message_expression(b, rc->rule, answer, beside, exempt);
	add_string(b, validation, "messageExpression", text);
	free(text);
	add_string(b, validation, "message", answer == DENY ? "DaemonSet is not allowed by dsguard" : "dsguard");
	if (answer == DENY)
		add_string(b, validation, "reason", "Forbidden");
	add_document(b, o, kept(b, validating_comment(rc, answer, beside, b->ex->notes)));
	add_binding(b, GROUP "v1", "ValidatingAdmissionPolicyBinding", name, rc, answer == DENY ? deny : warn,
		    answer == DENY ? 1 : 2,
		    kept(b, ds_format("Binds %s: %s%s.", name ? name : "", answer == DENY ? "Deny" : "Warn and Audit",
				      rc->per_daemonset ? "; params: every DaemonSet of the request's namespace" : "")));
	free(name);
}

/* The mutating policy of rc (which has a patch) and its binding. */
static void add_mutating(struct build *b, const ds_rule_cel *rc, const char *exempt)
{
	const char *version =
		b->opts->kube_minor >= DS_POLICY_MUTATING_BETA_MINOR ? GROUP "v1beta1" : GROUP "v1alpha1";
	char *name = object_name(b, rc->rule, "");
	cJSON *spec, *o = new_object(b, version, "MutatingAdmissionPolicy", name, rc->rule, &spec);
	cJSON *m;
	char *text;

	add_string(b, spec, "failurePolicy", "Fail");
	add_string(b, spec, "reinvocationPolicy", "IfNeeded");
	add_match_constraints(b, spec, rc->rule);
	if (exempt) {
		text = kept(b, ds_format("!(%s)", exempt));
		add_named(b, spec, "matchConditions", "not-exempted", text);
		free(text);
	}
	add_named(b, spec, "matchConditions", "creates-or-changes-template", "!(" TEMPLATE_KEPT ")");
	add_variables(b, spec, rc);
	m = kept(b, cJSON_CreateObject());
	if (m && !kept(b, cJSON_AddItemToArray(kept(b, cJSON_AddArrayToObject(spec, "mutations")), m) ? m : NULL))
		cJSON_Delete(m);
	add_string(b, m, "patchType", "JSONPatch");
	add_string(b, add_object(b, m, "jsonPatch"), "expression", rc->patch);
	add_document(b, o,
		     kept(b, ds_format("%s %s: patches what the webhook's /mutate patches: %s.\n"
				       "JSONPatch{op, path, value} is the Kubernetes CEL type of one patch operation "
				       "(not core CEL).\n"
				       "failurePolicy Fail: the expressions do not fail on any DaemonSet; if one did, "
				       "the write is refused\nnaming this policy rather than let through unpatched. "
				       "reinvocationPolicy IfNeeded: the patch\nis idempotent, and a later mutation of "
				       "the pod template must not undo it.",
				       rc->rule->id, rc->rule->name, rc->rule->fixes ? rc->rule->fixes : "its fix")));
	add_binding(b, version, "MutatingAdmissionPolicyBinding", name, rc, NULL, 0,
		    kept(b, ds_format("Binds %s.", name ? name : "")));
	free(name);
}

/* The policies of one rule. Returns 0, or -1 with *error. */
static int add_rule(struct build *b, const ds_rule *rule, bool *patched, char **error)
{
	ds_severity sev = ds_rule_settings(b->cfg, rule)->severity;
	bool deny = sev == DS_SEVERITY_ERROR && b->cfg->enforce;
	bool want_patch = b->opts->mutating && deny && rule->fix;
	ds_rule_cel rc;
	ds_cel_exemptions ex;
	char *exempt;
	bool oom;

	if (sev == DS_SEVERITY_OFF)
		return 0;
	if (ds_rule_cel_make(rule, b->cfg, want_patch, &rc, error) < 0)
		return -1;
	if (ds_exemptions_make(rule, b->cfg, b->now, &ex) < 0) {
		ds_rule_cel_free(&rc);
		return ds_fail(error, "out of memory");
	}
	b->ex = &ex;
	exempt = ds_exemptions_condition(&ex, &oom);
	b->oom |= oom;
	if (want_patch && !rc.patch) {
		ds_fail(error, "--mutating: %s %s cannot be patched: %s", rule->id, rule->name,
			rc.unpatched ? rc.unpatched : "it has no fix");
		free(exempt);
		ds_exemptions_free(&ex);
		ds_rule_cel_free(&rc);
		return -1;
	}
	if (rc.validating && deny)
		add_validating(b, &rc, DENY, false, exempt);
	/* Beside a deny policy, the warnings: an object rule always has
	 * updates that keep the template, a namespace rule only exemptions. */
	if (rc.validating && (!deny || rule->scope != DS_SCOPE_NAMESPACE || exempt))
		add_validating(b, &rc, WARN, deny, exempt);
	if (want_patch) {
		add_mutating(b, &rc, exempt);
		*patched = true;
	}
	free(exempt);
	ds_exemptions_free(&ex);
	b->ex = NULL;
	ds_rule_cel_free(&rc);
	return 0;
}

/* Checks opts against what the version can hold. Returns 0 or -1. */
static int check_options(struct build *b, char **error)
{
	const ds_policy_options *opts = b->opts;

	if (opts->kube_minor < DS_POLICY_VALIDATING_MINOR)
		return ds_fail(error, "ValidatingAdmissionPolicy v1 needs Kubernetes 1.%d or later",
			       DS_POLICY_VALIDATING_MINOR);
	if (opts->mutating && opts->kube_minor < DS_POLICY_MUTATING_MINOR)
		return ds_fail(error,
			       "--mutating needs Kubernetes 1.%d or later (MutatingAdmissionPolicy is alpha in 1.%d and "
			       "1.%d, beta from 1.%d); the Kubernetes version is 1.%u",
			       DS_POLICY_MUTATING_MINOR, DS_POLICY_MUTATING_MINOR, DS_POLICY_MUTATING_MINOR + 1,
			       DS_POLICY_MUTATING_BETA_MINOR, opts->kube_minor);
	/* Every name is the prefix, a rule and at most "-warn". */
	for (size_t i = 0; i < DS_RULE_COUNT; i++) {
		char *longest = object_name(b, &ds_rules[i], "-warn");
		bool valid = longest && ds_dns_subdomain(longest, strlen(longest)) && !strncmp(longest, b->prefix, strlen(b->prefix));
		if (longest && !valid)
			ds_fail(error,
				"the name prefix \"%s\" does not make a valid object name (\"%s\"): use lower-case "
				"letters, digits, '-' and '.', starting with a letter or digit, %d characters in all",
				b->prefix, longest, MAX_NAME);
		free(longest);
		if (!longest)
			return ds_fail(error, "out of memory");
		if (!valid)
			return -1;
	}
	return 0;
}

int ds_policy_generate(const ds_config *cfg, const ds_policy_options *opts, ds_policy_set *out, char **error)
{
	struct build b = {cfg, opts, opts->name_prefix ? opts->name_prefix : DEFAULT_PREFIX, out,
			  opts->now ? opts->now : time(NULL), NULL, false};
	bool patched = false;

	memset(out, 0, sizeof(*out));
	if (check_options(&b, error) < 0)
		return -1;
	for (size_t i = 0; i < DS_RULE_COUNT; i++)
		if (add_rule(&b, &ds_rules[i], &patched, error) < 0) {
			ds_policy_set_free(out);
			return -1;
		}
	if (b.oom) {
		ds_policy_set_free(out);
		return ds_fail(error, "out of memory");
	}
	if (opts->mutating && !patched) {
		ds_policy_set_free(out);
		return ds_fail(error, "--mutating: no rule is to be patched: the webhook patches error-level "
				      "findings only (severity error, enforce: true)");
	}
	return 0;
}
