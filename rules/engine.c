/* engine.c - runs the rule table over one resource; owns findings and fixes. */
#include "rules/checks.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const severity_names[] = {"off", "warning", "error"};

const char *ds_severity_name(ds_severity s)
{
	return s <= DS_SEVERITY_ERROR ? severity_names[s] : "?";
}

int ds_severity_parse(const char *name)
{
	for (int i = 0; i <= DS_SEVERITY_ERROR; i++)
		if (!strcmp(name, severity_names[i]))
			return i;
	return -1;
}

const ds_rule *ds_rule_find(const char *id_or_name)
{
	for (size_t i = 0; i < DS_RULE_COUNT; i++)
		if (!strcasecmp(id_or_name, ds_rules[i].id) || !strcmp(id_or_name, ds_rules[i].name))
			return &ds_rules[i];
	return NULL;
}

char *ds_rule_names(void)
{
	char *names = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&names, &size);

	if (!f)
		return NULL;
	fputs("known: ", f);
	for (size_t i = 0; i < DS_RULE_COUNT; i++)
		fprintf(f, "%s%s", i ? ", " : "", ds_rules[i].name);
	if (fclose(f) != 0) {
		free(names);
		return NULL;
	}
	return names;
}

const ds_rule_option *ds_rule_option_find(const ds_rule *rule, const char *key)
{
	for (size_t i = 0; i < rule->option_count; i++)
		if (!strcmp(rule->options[i].key, key))
			return &rule->options[i];
	return NULL;
}

ds_option_value *ds_rule_option_value(const ds_config *cfg, const ds_rule *rule, const char *key)
{
	const ds_rule_option *opt = rule ? ds_rule_option_find(rule, key) : NULL;

	return opt ? (ds_option_value *)&cfg->rules[ds_rule_index(rule)].options[opt->slot] : NULL;
}

int ds_rule_option_set_name(ds_config *cfg, const ds_rule *rule, const char *key, const char *value)
{
	const ds_rule_option *opt = rule ? ds_rule_option_find(rule, key) : NULL;
	char *copy = value ? strdup(value) : NULL;
	ds_option_value *slot;

	if (!opt || opt->type != DS_OPTION_NAME || (value && !copy)) {
		free(copy);
		return -1;
	}
	slot = ds_rule_option_value(cfg, rule, key);
	ds_option_value_clear(slot, opt->type);
	slot->name = copy;
	return 0;
}

void ds_config_init(ds_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->enforce = true;
	cfg->allow_exemption_annotation = true;
	for (size_t i = 0; i < DS_RULE_COUNT; i++)
		cfg->rules[i].severity = ds_rules[i].default_severity;
}

void ds_string_list_clear(ds_string_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

void ds_option_value_clear(ds_option_value *value, ds_option_type type)
{
	if (type == DS_OPTION_NAME)
		free(value->name);
	else
		ds_string_list_clear(&value->list);
	memset(value, 0, sizeof(*value));
}

/* Releases what entry e owns. */
static void exemption_free(ds_exemption *e)
{
	ds_string_list_clear(&e->namespaces);
	ds_string_list_clear(&e->names);
	for (size_t i = 0; i < e->label_count; i++) {
		free(e->labels[i].key);
		free(e->labels[i].value);
	}
	free(e->labels);
	free(e->reason);
	free(e->expires_text);
}

void ds_config_free(ds_config *cfg)
{
	for (size_t i = 0; i < DS_RULE_COUNT; i++)
		for (size_t j = 0; j < ds_rules[i].option_count; j++)
			ds_option_value_clear(&cfg->rules[i].options[ds_rules[i].options[j].slot],
					      ds_rules[i].options[j].type);
	for (size_t i = 0; i < cfg->exemption_count; i++)
		exemption_free(&cfg->exemptions[i]);
	free(cfg->exemptions);
	ds_string_list_clear(&cfg->annotation.namespaces);
	ds_string_list_clear(&cfg->annotation.users);
	ds_string_list_clear(&cfg->annotation.groups);
	free(cfg->path);
	ds_config_init(cfg);
}

bool ds_string_list_has(const ds_string_list *list, const char *name)
{
	for (size_t i = 0; i < list->count; i++)
		if (!strcmp(list->items[i], name))
			return true;
	return false;
}

static const char *string_at(const cJSON *obj, const char *pointer)
{
	const cJSON *item = ds_pointer_get(obj, pointer);
	return cJSON_IsString(item) ? item->valuestring : NULL;
}

bool ds_is_daemonset(const cJSON *obj)
{
	const char *kind = string_at(obj, "/kind");
	const char *api = string_at(obj, "/apiVersion");

	if (!kind || strcmp(kind, "DaemonSet") || !api)
		return false;
	return !strcmp(api, "apps/v1") || !strcmp(api, "apps/v1beta2") || !strcmp(api, "extensions/v1beta1");
}

const char *ds_resource_name(const cJSON *obj)
{
	const char *name = string_at(obj, "/metadata/name");
	return name ? name : "";
}

const char *ds_resource_namespace(const cJSON *obj, const ds_context *ctx)
{
	const char *ns = string_at(obj, "/metadata/namespace");

	if (ns && *ns)
		return ns;
	return ctx->default_namespace ? ctx->default_namespace : "default";
}

static ds_severity effective_severity(const ds_context *ctx, const ds_rule *rule)
{
	ds_severity s = ds_rule_settings(ctx->config, rule)->severity;

	if (!ctx->config->enforce && s == DS_SEVERITY_ERROR)
		return DS_SEVERITY_WARNING;
	return s;
}

/* Appends a finding (unknown: the rule could not decide). Returns 0, or
 * -1 out of memory. */
static int add_finding(ds_evaluation *out, const ds_rule *rule, const ds_context *ctx, const char *pointer,
		       bool unknown, const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));
static int add_finding(ds_evaluation *out, const ds_rule *rule, const ds_context *ctx, const char *pointer,
		       bool unknown, const char *fmt, va_list ap)
{
	ds_finding *grown, *f;

	grown = ds_array_grow(out->findings, out->finding_count, sizeof(*grown));
	if (!grown)
		return -1;
	out->findings = grown;
	f = &grown[out->finding_count];
	memset(f, 0, sizeof(*f));
	f->rule = rule;
	f->severity = effective_severity(ctx, rule);
	f->unknown = unknown;
	f->pointer = strdup(pointer);
	f->message = ds_vformat(fmt, ap);
	if (!f->message || !f->pointer) {
		free(f->pointer);
		free(f->message);
		return -1;
	}
	out->finding_count++;
	return 0;
}

int ds_add_finding(ds_evaluation *out, const ds_rule *rule, const ds_context *ctx,
		   const char *pointer, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = add_finding(out, rule, ctx, pointer, false, fmt, ap);
	va_end(ap);
	return rc;
}

int ds_add_unknown(ds_evaluation *out, const ds_rule *rule, const ds_context *ctx,
		   const char *pointer, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = add_finding(out, rule, ctx, pointer, true, fmt, ap);
	va_end(ap);
	return rc;
}

static int append_op(ds_evaluation *out, const ds_rule *rule, ds_patch_kind kind, char *path, cJSON *value)
{
	ds_patch_op *grown = ds_array_grow(out->ops, out->op_count, sizeof(*grown));

	if (!grown) {
		free(path);
		cJSON_Delete(value);
		return -1;
	}
	out->ops = grown;
	grown[out->op_count++] = (ds_patch_op){kind, path, value, rule};
	return 0;
}

/* Wraps value in one object per token of the pointer suffix `rest`
 * ("/a/b" -> {"a": {"b": value}}). The rules' own pointers hold no escaped
 * tokens, so tokens are used as they stand. Returns the new value, or NULL
 * out of memory (value is then freed). */
static cJSON *wrap_in_objects(const char *rest, cJSON *value)
{
	size_t len;
	cJSON *inner, *obj;
	char *key;

	if (!*rest)
		return value;
	len = strcspn(rest + 1, "/");
	inner = wrap_in_objects(rest + 1 + len, value);
	if (!inner)
		return NULL;
	obj = cJSON_CreateObject();
	key = strndup(rest + 1, len);
	if (!obj || !key || !cJSON_AddItemToObject(obj, key, inner)) {
		free(key);
		cJSON_Delete(obj);
		cJSON_Delete(inner);
		return NULL;
	}
	free(key);
	return obj;
}

int ds_add_set_op(ds_evaluation *out, const ds_rule *rule, const cJSON *resource,
		  const char *pointer, cJSON *value)
{
	char *path = strdup(pointer);
	char *cut;

	if (!path) {
		cJSON_Delete(value);
		return -1;
	}
	if (ds_pointer_get(resource, path))
		return append_op(out, rule, DS_PATCH_REPLACE, path, value);
	/* Walk up to the deepest level that exists; add the rest under it. */
	while ((cut = strrchr(path, '/')) != NULL) {
		const cJSON *parent;
		*cut = '\0';
		parent = ds_pointer_get(resource, path);
		if (!parent)
			continue;
		if (cJSON_IsNull(parent)) {
			/* `spec: ~` or an empty `spec:`: the null becomes the objects
			 * that hold the field. */
			value = wrap_in_objects(pointer + strlen(path), value);
			if (!value) {
				free(path);
				return -1;
			}
			return append_op(out, rule, DS_PATCH_REPLACE, path, value);
		}
		if (!cJSON_IsObject(parent))
			break;
		*cut = '/';
		cut[strcspn(cut + 1, "/") + 1] = '\0';
		value = wrap_in_objects(pointer + strlen(path), value);
		if (!value) {
			free(path);
			return -1;
		}
		return append_op(out, rule, DS_PATCH_ADD, path, value);
	}
	free(path);
	cJSON_Delete(value);
	return 0;
}

int ds_add_remove_op(ds_evaluation *out, const ds_rule *rule, const cJSON *resource, const char *pointer)
{
	const cJSON *old = ds_pointer_get(resource, pointer);
	cJSON *copy;
	char *path;

	if (!old)
		return 0;
	copy = cJSON_Duplicate(old, 1);
	path = strdup(pointer);
	if (!copy || !path) {
		cJSON_Delete(copy);
		free(path);
		return -1;
	}
	return append_op(out, rule, DS_PATCH_REMOVE, path, copy);
}

/* Whether rule is to be evaluated for scopes under ctx. */
static bool evaluated(const ds_rule *rule, const ds_context *ctx, unsigned scopes)
{
	if (!(rule->scope & scopes) || ds_rule_settings(ctx->config, rule)->severity == DS_SEVERITY_OFF)
		return false;
	return rule->scope != DS_SCOPE_NAMESPACE || ctx->namespaces;
}

/* Marks finding f exempt or not, as ds_exemption_decide() finds, keeping
 * a copy of the reason cut to DS_EXEMPTION_REASON_MAX. Returns 0, or -1
 * out of memory. */
static int mark_exemption(const cJSON *resource, const ds_context *ctx, ds_finding *f)
{
	ds_exemption_verdict v;

	ds_exemption_decide(resource, ctx, f->rule, &v);
	f->exempt = v.by != DS_EXEMPT_NONE;
	f->exempted_by = v.by;
	f->exemption = v.entry;
	f->expired = v.expired;
	f->exemption_refused = v.refused;
	if (!v.reason)
		return 0;
	f->exempt_reason = ds_text_cut(v.reason, DS_EXEMPTION_REASON_MAX);
	return f->exempt_reason ? 0 : -1;
}

int ds_evaluate(const cJSON *resource, const ds_context *ctx, unsigned scopes, ds_evaluation *out)
{
	memset(out, 0, sizeof(*out));
	if (!ds_is_daemonset(resource))
		return 0;
	for (size_t i = 0; i < DS_RULE_COUNT; i++)
		if (evaluated(&ds_rules[i], ctx, scopes) && ds_rules[i].check(resource, ctx, &ds_rules[i], out) < 0)
			goto oom;
	for (size_t i = 0; i < out->finding_count; i++) {
		ds_finding *f = &out->findings[i];
		if (mark_exemption(resource, ctx, f) < 0)
			goto oom;
		if (f->exempt || f->unknown || !f->rule->fix)
			continue;
		if (f->rule->fix(resource, ctx, f, out, &f->unfixable) < 0)
			goto oom;
	}
	return 0;
oom:
	ds_evaluation_free(out);
	return -1;
}

void ds_evaluation_free(ds_evaluation *ev)
{
	for (size_t i = 0; i < ev->finding_count; i++) {
		free(ev->findings[i].message);
		free(ev->findings[i].pointer);
		free(ev->findings[i].exempt_reason);
	}
	for (size_t i = 0; i < ev->op_count; i++) {
		free(ev->ops[i].path);
		cJSON_Delete(ev->ops[i].value);
	}
	free(ev->findings);
	free(ev->ops);
	memset(ev, 0, sizeof(*ev));
}

static const char *const patch_kind_names[] = {
	[DS_PATCH_ADD] = "add", [DS_PATCH_REPLACE] = "replace", [DS_PATCH_REMOVE] = "remove"};

cJSON *ds_patch_to_json(const ds_evaluation *ev)
{
	cJSON *patch = cJSON_CreateArray();

	for (size_t i = 0; patch && i < ev->op_count; i++) {
		const ds_patch_op *o = &ev->ops[i];
		cJSON *op = cJSON_CreateObject();
		/* a remove carries no value (RFC 6902, 4.2) */
		cJSON *value = o->kind == DS_PATCH_REMOVE ? NULL : cJSON_Duplicate(o->value, 1);
		cJSON_AddItemToArray(patch, op);
		if (!op || (o->kind != DS_PATCH_REMOVE && !value) ||
		    !cJSON_AddStringToObject(op, "op", patch_kind_names[o->kind]) ||
		    !cJSON_AddStringToObject(op, "path", o->path)) {
			cJSON_Delete(value);
			cJSON_Delete(patch);
			return NULL;
		}
		if (value)
			cJSON_AddItemToObject(op, "value", value);
	}
	return patch;
}
