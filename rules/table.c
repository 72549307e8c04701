/* table.c - the rule table: DS001, DS002, DS003, their options, checks
 * and fixes. Adding a rule: docs/architecture.md. */
#include "rules/checks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRIORITY_CLASS_POINTER DS_POD_SPEC "/priorityClassName"
#define PRIORITY_POINTER DS_POD_SPEC "/priority"
#define RESTART_POLICY_POINTER DS_POD_SPEC "/restartPolicy"
#define NAMESPACE_POINTER "/metadata/namespace"

/* Joins list's items with ", " into buf, cut to its size on a character
 * boundary. */
static const char *join_list(const ds_string_list *list, char *buf, size_t size)
{
	char joined[4096];
	size_t used = 0;

	joined[0] = '\0';
	for (size_t i = 0; i < list->count && used < sizeof(joined); i++)
		used += (size_t)snprintf(joined + used, sizeof(joined) - used, "%s%s", i ? ", " : "", list->items[i]);
	return ds_text_copy(buf, size, joined);
}

/* DS001's option slots. */
enum { PRIORITY_CLASS_DEFAULT, PRIORITY_CLASS_ALLOWED };

/* The default class must be a name the API server takes in a pod spec
 * (ValidatePodSpec checks priorityClassName as a DNS subdomain), and pass
 * DS001 itself: when `allowed` is not empty, it is one of them (else the
 * webhook would patch in, and --fix insert, a class refused). */
static char *default_is_valid(const ds_rule_config *rc)
{
	const char *def = rc->options[PRIORITY_CLASS_DEFAULT].name;
	const ds_string_list *allowed = &rc->options[PRIORITY_CLASS_ALLOWED].list;

	if (def && !ds_dns_subdomain(def, strlen(def)))
		return ds_format("default \"%.253s\" is not a PriorityClass name: lower-case letters, digits, '-' and "
				 "'.', beginning and ending with a letter or digit, at most 253 characters",
				 def);
	if (!def || !allowed->count || ds_string_list_has(allowed, def))
		return NULL;
	return ds_format("default \"%s\" is not one of the allowed classes", def);
}

static const ds_rule_option priority_class_options[] = {
	{"default", DS_OPTION_NAME, PRIORITY_CLASS_DEFAULT, "the name of a PriorityClass",
	 "The PriorityClass the webhook patches in (/mutate) and lint --fix inserts; a default that is not "
	 "a PriorityClass name, or outside `allowed`, is a config error (the fix would insert a class the "
	 "API server or DS001 refuses).",
	 default_is_valid},
	{"allowed", DS_OPTION_NAME_LIST, PRIORITY_CLASS_ALLOWED, "the name of a PriorityClass",
	 "When not empty, priorityClassName must be one of these.", NULL},
};

static int check_priority_class(const cJSON *res, const ds_context *ctx, const ds_rule *rule, ds_evaluation *out)
{
	const ds_string_list *allowed = &ds_rule_settings(ctx->config, rule)->options[PRIORITY_CLASS_ALLOWED].list;
	const cJSON *pcn = ds_pointer_get(res, PRIORITY_CLASS_POINTER);
	char names[512];

	if (!pcn || cJSON_IsNull(pcn))
		return ds_add_finding(out, rule, ctx, PRIORITY_CLASS_POINTER,
				      "spec.template.spec.priorityClassName is not set");
	if (!cJSON_IsString(pcn))
		return ds_add_finding(out, rule, ctx, PRIORITY_CLASS_POINTER,
				      "spec.template.spec.priorityClassName is not a string");
	if (!*pcn->valuestring)
		return ds_add_finding(out, rule, ctx, PRIORITY_CLASS_POINTER,
				      "spec.template.spec.priorityClassName is empty");
	if (allowed->count && !ds_string_list_has(allowed, pcn->valuestring))
		return ds_add_finding(out, rule, ctx, PRIORITY_CLASS_POINTER,
				      "spec.template.spec.priorityClassName \"%s\" is not one of the allowed classes (%s)",
				      pcn->valuestring, join_list(allowed, names, sizeof(names)));
	return 0;
}

/* Why no field can be set in the pod template's spec of res: the first
 * level on the way that is there but neither a mapping nor null (a null
 * level or a missing one is made a mapping by the fix). NULL when every
 * level can hold the field. */
static const char *pod_spec_unreachable(const cJSON *res)
{
	static const struct {
		const char *pointer, *why;
	} levels[] = {
		{"/spec", "spec is not a mapping"},
		{"/spec/template", "spec.template is not a mapping"},
		{DS_POD_SPEC, "spec.template.spec is not a mapping"},
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		const cJSON *level = ds_pointer_get(res, levels[i].pointer);
		if (!level || cJSON_IsNull(level))
			return NULL;
		if (!cJSON_IsObject(level))
			return levels[i].why;
	}
	return NULL;
}

static int fix_priority_class(const cJSON *res, const ds_context *ctx, const ds_finding *f, ds_evaluation *out,
			      const char **why_not)
{
	const char *def = ds_rule_settings(ctx->config, f->rule)->options[PRIORITY_CLASS_DEFAULT].name;
	cJSON *value;

	if (!def) {
		*why_not = "no default priority class: set rules.priority-class.default or --priority-class";
		return 0;
	}
	if ((*why_not = pod_spec_unreachable(res)) != NULL)
		return 0;
	value = cJSON_CreateString(def);
	if (!value || ds_add_set_op(out, f->rule, res, PRIORITY_CLASS_POINTER, value) < 0)
		return -1;
	/* The Priority admission plugin computes a pod's priority from its
	 * class and refuses a pod whose integer spec.priority differs ("the
	 * integer value of priority (N) must not be provided in pod spec"):
	 * with the class set, a priority in the template would make every pod
	 * of the DaemonSet refused. It goes with the same fix. */
	if (cJSON_IsNull(ds_pointer_get(res, PRIORITY_POINTER)))
		return 0;
	return ds_add_remove_op(out, f->rule, res, PRIORITY_POINTER);
}

static int check_restart_policy(const cJSON *res, const ds_context *ctx, const ds_rule *rule, ds_evaluation *out)
{
	const cJSON *rp = ds_pointer_get(res, RESTART_POLICY_POINTER);

	/* An empty restartPolicy is unset: Kubernetes defaults "" to Always
	 * (SetDefaults_PodSpec in pkg/apis/core/v1/defaults.go: `if
	 * obj.RestartPolicy == "" { obj.RestartPolicy = v1.RestartPolicyAlways }`). */
	if (!rp || cJSON_IsNull(rp) ||
	    (cJSON_IsString(rp) && (!*rp->valuestring || !strcmp(rp->valuestring, "Always"))))
		return 0;
	if (!cJSON_IsString(rp))
		return ds_add_finding(out, rule, ctx, RESTART_POLICY_POINTER,
				      "spec.template.spec.restartPolicy is not a string; it must be Always or unset");
	return ds_add_finding(out, rule, ctx, RESTART_POLICY_POINTER,
			      "spec.template.spec.restartPolicy is \"%s\"; it must be Always or unset",
			      rp->valuestring);
}

static int fix_restart_policy(const cJSON *res, const ds_context *ctx, const ds_finding *f, ds_evaluation *out,
			      const char **why_not)
{
	cJSON *value = cJSON_CreateString("Always");

	(void)ctx;
	(void)why_not;
	return value ? ds_add_set_op(out, f->rule, res, RESTART_POLICY_POINTER, value) : -1;
}

/* DS003's option slots. */
enum { DEDICATED_NAMESPACE_EXEMPT };

static const ds_rule_option dedicated_namespace_options[] = {
	{"exemptNamespaces", DS_OPTION_NAME_LIST, DEDICATED_NAMESPACE_EXEMPT, "the name of a namespace",
	 "Namespaces where any number of DaemonSets may live; never reported.", NULL},
};

static int check_dedicated_namespace(const cJSON *res, const ds_context *ctx, const ds_rule *rule,
				     ds_evaluation *out)
{
	const ds_string_list *exempt = &ds_rule_settings(ctx->config, rule)->options[DEDICATED_NAMESPACE_EXEMPT].list;
	const char *ns = ds_resource_namespace(res, ctx);
	char *other = NULL;
	int rc;

	if (ds_string_list_has(exempt, ns))
		return 0;
	switch (ctx->namespaces->other_in_namespace(ctx->namespaces->data, ns, ds_resource_name(res), &other)) {
	case DS_NAMESPACE_FREE:
		return 0;
	case DS_NAMESPACE_UNKNOWN:
		return ds_add_unknown(out, rule, ctx, NAMESPACE_POINTER,
				      "namespace %s could not be checked: the DaemonSets living there are not known yet",
				      ns);
	case DS_NAMESPACE_SHARED:
		break;
	}
	if (!other)
		return -1;
	rc = ds_add_finding(out, rule, ctx, NAMESPACE_POINTER,
			    "namespace %s is shared with DaemonSet %s/%s; each DaemonSet needs a namespace of its own",
			    ns, ns, other);
	free(other);
	return rc;
}

#define OPTIONS(table) .options = table, .option_count = sizeof(table) / sizeof(table[0])

const ds_rule ds_rules[] = {
	{
		.id = "DS001",
		.name = "priority-class",
		.default_severity = DS_SEVERITY_ERROR,
		.scope = DS_SCOPE_OBJECT,
		.summary = "The pod template sets spec.template.spec.priorityClassName (one of the allowed classes, "
			   "where allowed is configured).",
		.why = "A DaemonSet runs one pod on every (selected) node. Without a priority class its pods are "
		       "the first evicted under node pressure, and the node loses its logging, monitoring or "
		       "networking agent.",
		.remediation = "Set spec.template.spec.priorityClassName to a PriorityClass made for node agents, "
			       "e.g. system-node-critical or one of your own.",
		.fixes = "inserts the configured default class (rules.priority-class.default or --priority-class) "
			 "and removes spec.template.spec.priority: the Priority admission plugin sets a pod's "
			 "priority from its class and refuses a pod whose own integer priority differs",
		OPTIONS(priority_class_options),
		.check = check_priority_class,
		.fix = fix_priority_class,
	},
	{
		.id = "DS002",
		.name = "restart-policy",
		.default_severity = DS_SEVERITY_ERROR,
		.scope = DS_SCOPE_OBJECT,
		.summary = "The pod template's spec.template.spec.restartPolicy is Always or unset (an empty value "
			   "is unset: Kubernetes defaults it to Always).",
		.why = "A pod template whose restartPolicy is not Always cannot be a long-running daemon; the "
		       "API server rejects it late, at apply time.",
		.remediation = "Remove spec.template.spec.restartPolicy or set it to Always.",
		.fixes = "rewrites the value to Always",
		.check = check_restart_policy,
		.fix = fix_restart_policy,
	},
	{
		.id = "DS003",
		.name = "dedicated-namespace",
		.default_severity = DS_SEVERITY_ERROR,
		.scope = DS_SCOPE_NAMESPACE,
		.summary = "No two DaemonSets (two different names) share a namespace; namespaces in "
			   "exemptNamespaces are never reported.",
		.why = "A namespace of its own gives each node agent clear isolation of RBAC, quotas and "
		       "network policy.",
		.remediation = "Move each DaemonSet into a namespace of its own, or list a deliberately shared "
			       "namespace in rules.dedicated-namespace.exemptNamespaces.",
		.fixes = NULL,
		OPTIONS(dedicated_namespace_options),
		.check = check_dedicated_namespace,
		.fix = NULL,
	},
};

_Static_assert(sizeof(ds_rules) / sizeof(ds_rules[0]) == DS_RULE_COUNT, "DS_RULE_COUNT counts ds_rules[]");
