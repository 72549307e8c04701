/* exempt.c - the one place that decides whether a finding is exempt: the
 * config's exemption entries first, then the dsguard.io/ignore annotation
 * within the limits the config sets on it (docs/config.md). */
#include "rules/checks.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* Annotation `key` of resource when it is a string, else NULL. Borrowed. */
static const char *annotation(const cJSON *resource, const char *key)
{
	const cJSON *annotations = ds_pointer_get(resource, "/metadata/annotations");
	const cJSON *value = cJSON_IsObject(annotations) ? cJSON_GetObjectItemCaseSensitive(annotations, key) : NULL;

	return cJSON_IsString(value) ? value->valuestring : NULL;
}

bool ds_ignore_names_rule(const char *value, const ds_rule *rule)
{
	const char *p = value;

	while (*p) {
		size_t len;
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		len = strcspn(p, ",");
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if ((len == 3 && !strncasecmp(p, "all", 3)) ||
		    (len == strlen(rule->id) && !strncasecmp(p, rule->id, len)) ||
		    (len == strlen(rule->name) && !strncmp(p, rule->name, len)))
			return true;
		p += strcspn(p, ",");
	}
	return false;
}

/* Whether text matches one of the globs of list. */
static bool any_glob(const ds_string_list *list, const char *text)
{
	for (size_t i = 0; i < list->count; i++)
		if (ds_glob_match(list->items[i], text))
			return true;
	return false;
}

bool ds_exemption_expired(const ds_exemption *e, time_t now)
{
	return e->expires && now >= e->expiry;
}

bool ds_exemption_selects(const ds_exemption *e, const char *ns, const char *name, const cJSON *labels)
{
	if (e->namespaces.count && !any_glob(&e->namespaces, ns))
		return false;
	if (e->names.count && !any_glob(&e->names, name))
		return false;
	for (size_t i = 0; i < e->label_count; i++) {
		const cJSON *value = cJSON_IsObject(labels) ? cJSON_GetObjectItemCaseSensitive(labels, e->labels[i].key)
							    : NULL;
		if (!cJSON_IsString(value) || strcmp(value->valuestring, e->labels[i].value))
			return false;
	}
	return true;
}

bool ds_requester_listed(const ds_annotation_grant *grant, const cJSON *user_info)
{
	const cJSON *user = cJSON_GetObjectItemCaseSensitive(user_info, "username");
	const cJSON *groups = cJSON_GetObjectItemCaseSensitive(user_info, "groups");
	const cJSON *group;

	if (cJSON_IsString(user) && ds_string_list_has(&grant->users, user->valuestring))
		return true;
	if (!cJSON_IsArray(groups))
		return false;
	cJSON_ArrayForEach(group, groups)
		if (cJSON_IsString(group) && ds_string_list_has(&grant->groups, group->valuestring))
			return true;
	return false;
}

/* Whether the grant limits who may exempt by annotation at admission. */
static bool limits_requesters(const ds_annotation_grant *grant)
{
	return grant->users.count || grant->groups.count;
}

/* Whether an UPDATE's oldObject already named rule in dsguard.io/ignore. */
static bool named_before(const ds_admission *adm, const ds_rule *rule)
{
	return adm->update && adm->old_ignore && ds_ignore_names_rule(adm->old_ignore, rule);
}

/* value, when it holds more than white space; else NULL. */
static const char *non_blank(const char *value)
{
	for (const char *p = value; p && *p; p++)
		if (!isspace((unsigned char)*p))
			return value;
	return NULL;
}

/* Why the annotation, which names rule, does not count on resource (in
 * namespace ns) under ctx: a constant sentence, or NULL when it counts.
 * Sets *reason to its dsguard.io/ignore-reason (NULL: none). */
static const char *annotation_refused(const cJSON *resource, const ds_context *ctx, const ds_rule *rule,
				      const char *ns, const char **reason)
{
	const ds_annotation_grant *grant = &ctx->config->annotation;
	const ds_admission *adm = ctx->admission;

	*reason = non_blank(annotation(resource, DS_IGNORE_REASON_ANNOTATION));
	if (grant->namespaces.count && !any_glob(&grant->namespaces, ns))
		return "allowExemptionAnnotation.namespaces does not list this namespace";
	if (grant->require_reason && !*reason)
		return "it has no " DS_IGNORE_REASON_ANNOTATION ", which allowExemptionAnnotation.requireReason asks for";
	if (adm && limits_requesters(grant) && !ds_requester_listed(grant, adm->user_info) && !named_before(adm, rule))
		return "the request's user is not listed in allowExemptionAnnotation.users or .groups, and the "
		       "annotation did not name the rule before";
	return NULL;
}

void ds_exemption_decide(const cJSON *resource, const ds_context *ctx, const ds_rule *rule,
			 ds_exemption_verdict *out)
{
	const ds_config *cfg = ctx->config;
	const char *ns = ds_resource_namespace(resource, ctx), *name = ds_resource_name(resource);
	const cJSON *labels = ds_pointer_get(resource, "/metadata/labels");
	const char *ignore, *reason;
	size_t index = ds_rule_index(rule);

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < cfg->exemption_count; i++) {
		const ds_exemption *e = &cfg->exemptions[i];
		if (!e->rules[index] || !ds_exemption_selects(e, ns, name, labels))
			continue;
		if (ds_exemption_expired(e, ctx->now)) {
			if (!out->expired)
				out->expired = e;
			continue;
		}
		*out = (ds_exemption_verdict){.by = DS_EXEMPT_CONFIG, .entry = e, .reason = e->reason};
		return;
	}
	ignore = annotation(resource, DS_IGNORE_ANNOTATION);
	if (!ignore || !cfg->allow_exemption_annotation || !ds_ignore_names_rule(ignore, rule))
		return;
	out->refused = annotation_refused(resource, ctx, rule, ns, &reason);
	if (out->refused)
		return;
	out->by = DS_EXEMPT_ANNOTATION;
	out->reason = reason;
}

const ds_rule *ds_exemption_grant_refused(const cJSON *resource, const ds_context *ctx)
{
	const ds_config *cfg = ctx->config;
	const ds_admission *adm = ctx->admission;
	const char *ignore = annotation(resource, DS_IGNORE_ANNOTATION);

	if (!adm || !ignore || !cfg->allow_exemption_annotation || !limits_requesters(&cfg->annotation))
		return NULL;
	if (cfg->annotation.namespaces.count &&
	    !any_glob(&cfg->annotation.namespaces, ds_resource_namespace(resource, ctx)))
		return NULL;
	if (ds_requester_listed(&cfg->annotation, adm->user_info))
		return NULL;
	for (size_t i = 0; i < DS_RULE_COUNT; i++)
		if (ds_ignore_names_rule(ignore, &ds_rules[i]) && !named_before(adm, &ds_rules[i]))
			return &ds_rules[i];
	return NULL;
}
