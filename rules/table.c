/* table.c - the rule table: DS001, DS002, DS003, their checks and fixes. */
#include "rules/checks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRIORITY_CLASS_POINTER DS_POD_SPEC "/priorityClassName"
#define RESTART_POLICY_POINTER DS_POD_SPEC "/restartPolicy"
#define NAMESPACE_POINTER "/metadata/namespace"

/* Joins list's items with ", " into buf (truncated to size). */
static const char *join_list(const ds_string_list *list, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < list->count && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", list->items[i]);
	return buf;
}

static int check_priority_class(const cJSON *res, const ds_context *ctx, const ds_rule *rule, ds_evaluation *out)
{
	const ds_rule_config *rc = &ctx->config->rules[rule->index];
	const cJSON *pcn = ds_pointer_get(res, PRIORITY_CLASS_POINTER);
	char allowed[512];

	if (!pcn || cJSON_IsNull(pcn))
		return ds_add_finding(out, rule, ctx, PRIORITY_CLASS_POINTER,
				      "spec.template.spec.priorityClassName is not set");
	if (!cJSON_IsString(pcn))
		return ds_add_finding(out, rule, ctx, PRIORITY_CLASS_POINTER,
				      "spec.template.spec.priorityClassName is not a string");
	if (!*pcn->valuestring)
		return ds_add_finding(out, rule, ctx, PRIORITY_CLASS_POINTER,
				      "spec.template.spec.priorityClassName is empty");
	if (rc->allowed.count && !ds_string_list_has(&rc->allowed, pcn->valuestring))
		return ds_add_finding(out, rule, ctx, PRIORITY_CLASS_POINTER,
				      "spec.template.spec.priorityClassName \"%s\" is not one of the allowed classes (%s)",
				      pcn->valuestring, join_list(&rc->allowed, allowed, sizeof(allowed)));
	return 0;
}

static int fix_priority_class(const cJSON *res, const ds_context *ctx, const ds_finding *f, ds_evaluation *out)
{
	const char *def = ctx->config->rules[f->rule->index].default_value;
	cJSON *value;

	if (!def)
		return 0;
	value = cJSON_CreateString(def);
	return value ? ds_add_set_op(out, f->rule, res, PRIORITY_CLASS_POINTER, value) : -1;
}

static int check_restart_policy(const cJSON *res, const ds_context *ctx, const ds_rule *rule, ds_evaluation *out)
{
	const cJSON *rp = ds_pointer_get(res, RESTART_POLICY_POINTER);

	if (!rp || cJSON_IsNull(rp) || (cJSON_IsString(rp) && !strcmp(rp->valuestring, "Always")))
		return 0;
	if (!cJSON_IsString(rp))
		return ds_add_finding(out, rule, ctx, RESTART_POLICY_POINTER,
				      "spec.template.spec.restartPolicy is not a string; it must be Always or unset");
	return ds_add_finding(out, rule, ctx, RESTART_POLICY_POINTER,
			      "spec.template.spec.restartPolicy is \"%s\"; it must be Always or unset",
			      rp->valuestring);
}

static int fix_restart_policy(const cJSON *res, const ds_context *ctx, const ds_finding *f, ds_evaluation *out)
{
	cJSON *value = cJSON_CreateString("Always");

	(void)ctx;
	return value ? ds_add_set_op(out, f->rule, res, RESTART_POLICY_POINTER, value) : -1;
}

static int check_dedicated_namespace(const cJSON *res, const ds_context *ctx, const ds_rule *rule,
				     ds_evaluation *out)
{
	const ds_rule_config *rc = &ctx->config->rules[rule->index];
	const char *ns = ds_resource_namespace(res, ctx);
	char *other;
	int rc_add;

	if (!ctx->namespaces || ds_string_list_has(&rc->exempt_namespaces, ns))
		return 0;
	other = ctx->namespaces->other_in_namespace(ctx->namespaces->data, ns, ds_resource_name(res));
	if (!other)
		return 0;
	rc_add = ds_add_finding(out, rule, ctx, NAMESPACE_POINTER,
				"namespace %s is shared with DaemonSet %s/%s; each DaemonSet needs a namespace of its own",
				ns, ns, other);
	free(other);
	return rc_add;
}

const ds_rule ds_rules[DS_RULE_COUNT] = {
	{
		.index = DS_RULE_PRIORITY_CLASS,
		.id = "DS001",
		.name = "priority-class",
		.default_severity = DS_SEVERITY_ERROR,
		.summary = "The pod template sets spec.template.spec.priorityClassName (one of the allowed classes, "
			   "where allowed is configured).",
		.why = "A DaemonSet runs one pod on every (selected) node. Without a priority class its pods are "
		       "the first evicted under node pressure, and the node loses its logging, monitoring or "
		       "networking agent.",
		.remediation = "Set spec.template.spec.priorityClassName to a PriorityClass made for node agents, "
			       "e.g. system-node-critical or one of your own.",
		.fixes = "inserts the configured default class (rules.priority-class.default or --priority-class)",
		.check = check_priority_class,
		.fix = fix_priority_class,
	},
	{
		.index = DS_RULE_RESTART_POLICY,
		.id = "DS002",
		.name = "restart-policy",
		.default_severity = DS_SEVERITY_ERROR,
		.summary = "The pod template's spec.template.spec.restartPolicy is Always or unset.",
		.why = "A pod template whose restartPolicy is not Always cannot be a long-running daemon; the "
		       "API server rejects it late, at apply time.",
		.remediation = "Remove spec.template.spec.restartPolicy or set it to Always.",
		.fixes = "rewrites the value to Always",
		.check = check_restart_policy,
		.fix = fix_restart_policy,
	},
	{
		.index = DS_RULE_DEDICATED_NAMESPACE,
		.id = "DS003",
		.name = "dedicated-namespace",
		.default_severity = DS_SEVERITY_ERROR,
		.summary = "No two DaemonSets (two different names) share a namespace; namespaces in "
			   "exemptNamespaces are never reported.",
		.why = "A namespace of its own gives each node agent clear isolation of RBAC, quotas and "
		       "network policy.",
		.remediation = "Move each DaemonSet into a namespace of its own, or list a deliberately shared "
			       "namespace in rules.dedicated-namespace.exemptNamespaces.",
		.fixes = NULL,
		.check = check_dedicated_namespace,
		.fix = NULL,
	},
};
