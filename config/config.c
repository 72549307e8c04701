/* config.c - the strict YAML config file shared by lint and serve. */
#include "config/private.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sets the reader's error to "path:line:col: message" at item's key (or
 * value). Returns -1. */
int ds_config_error(struct config_reader *r, const cJSON *item, bool at_value, const char *fmt, ...)
{
	const ds_node_info *info = r->doc && item ? ds_document_where(r->doc, item) : NULL;
	ds_pos pos = {1, 1};
	char *message = NULL;
	va_list ap;

	if (info)
		pos = at_value || !info->key.line ? info->value : info->key;
	va_start(ap, fmt);
	message = ds_vformat(fmt, ap);
	va_end(ap);
	free(r->error);
	if (asprintf(&r->error, "%s:%u:%u: %s", r->path, pos.line, pos.column, message ? message : "out of memory") < 0)
		r->error = NULL;
	free(message);
	return -1;
}

static int keep_document(void *data, ds_document *doc)
{
	struct config_reader *r = data;

	r->documents++;
	if (r->doc) {
		const ds_node_info *at = ds_document_where(doc, doc->root);
		ds_pos pos = at ? at->value : (ds_pos){1, 1};
		free(r->error);
		if (asprintf(&r->error, "%s:%u:%u: the config must hold a single YAML document; this is a second one",
			     r->path, pos.line, pos.column) < 0)
			r->error = NULL;
		ds_document_free(doc);
		return -1;
	}
	r->doc = doc;
	return 0;
}

int ds_config_read_bool(struct config_reader *r, const cJSON *item, bool *out)
{
	if (!cJSON_IsBool(item))
		return ds_config_error(r, item, true, "%s must be true or false", item->string);
	*out = cJSON_IsTrue(item);
	return 0;
}

int ds_config_read_list(struct config_reader *r, const cJSON *item, ds_string_list *out)
{
	const cJSON *el;
	size_t n = 0;

	ds_string_list_clear(out); /* a rule named twice: the later setting applies */
	if (cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsArray(item))
		return ds_config_error(r, item, true, "%s must be a list of names", item->string);
	out->items = calloc((size_t)cJSON_GetArraySize(item) + 1, sizeof(char *));
	if (!out->items)
		return ds_config_error(r, item, true, "out of memory");
	cJSON_ArrayForEach(el, item) {
		if (!cJSON_IsString(el) || !*el->valuestring)
			return ds_config_error(r, el, true, "each item of %s must be a non-empty name", item->string);
		out->items[n] = strdup(el->valuestring);
		if (!out->items[n])
			return ds_config_error(r, el, true, "out of memory");
		out->count = ++n;
	}
	return 0;
}

static int read_severity(struct config_reader *r, const cJSON *item, ds_severity *out)
{
	/* YAML 1.1 reads an unquoted off as false: it means off here. */
	int s = cJSON_IsFalse(item) ? DS_SEVERITY_OFF : cJSON_IsString(item) ? ds_severity_parse(item->valuestring) : -1;

	if (s < 0)
		return ds_config_error(r, item, true, "severity must be error, warning or off");
	*out = (ds_severity)s;
	return 0;
}

static int read_name(struct config_reader *r, const cJSON *item, const ds_rule_option *opt, char **out)
{
	free(*out); /* a rule named twice: the later setting applies */
	*out = NULL;
	if (cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsString(item) || !*item->valuestring)
		return ds_config_error(r, item, true, "%s must be %s", opt->key, opt->what);
	*out = strdup(item->valuestring);
	return *out ? 0 : ds_config_error(r, item, true, "out of memory");
}

/* A message naming rule's keys: "known: severity, default, allowed". */
static char *rule_keys(const ds_rule *rule)
{
	char *keys = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&keys, &size);

	if (!f)
		return NULL;
	fputs("known: severity", f);
	for (size_t i = 0; i < rule->option_count; i++)
		fprintf(f, ", %s", rule->options[i].key);
	if (fclose(f) != 0) {
		free(keys);
		return NULL;
	}
	return keys;
}

/* Reads one key of a rule's settings. */
static int read_rule_key(struct config_reader *r, const ds_rule *rule, const cJSON *item, ds_rule_config *rc)
{
	const ds_rule_option *opt = ds_rule_option_find(rule, item->string);
	char *keys;
	int rc_error;

	if (!strcmp(item->string, "severity"))
		return read_severity(r, item, &rc->severity);
	if (opt) {
		r->set_at[ds_rule_index(rule)][opt->slot] = item;
		if (opt->type == DS_OPTION_NAME)
			return read_name(r, item, opt, &rc->options[opt->slot].name);
		return ds_config_read_list(r, item, &rc->options[opt->slot].list);
	}
	keys = rule_keys(rule);
	rc_error = ds_config_error(r, item, false, "unknown key \"%s\" in rules.%s (%s)", item->string, rule->name,
				keys ? keys : "out of memory");
	free(keys);
	return rc_error;
}

/* Runs each option's own check on the settings read, reporting a failure
 * at the value that set the option last. Returns 0, or -1. */
static int validate_options(struct config_reader *r, const ds_config *cfg)
{
	for (size_t i = 0; i < DS_RULE_COUNT; i++) {
		for (size_t j = 0; j < ds_rules[i].option_count; j++) {
			const ds_rule_option *opt = &ds_rules[i].options[j];
			char *why = opt->validate ? opt->validate(&cfg->rules[i]) : NULL;
			if (why) {
				ds_config_error(r, r->set_at[i][opt->slot], true, "%s", why);
				free(why);
				return -1;
			}
		}
	}
	return 0;
}

static int read_rules(struct config_reader *r, const cJSON *rules, ds_config *cfg)
{
	const cJSON *entry, *item;

	if (cJSON_IsNull(rules))
		return 0;
	if (!cJSON_IsObject(rules))
		return ds_config_error(r, rules, true, "rules must be a mapping of rule names");
	cJSON_ArrayForEach(entry, rules) {
		const ds_rule *rule = ds_rule_find(entry->string);
		if (!rule) {
			char *names = ds_rule_names();
			ds_config_error(r, entry, false, "unknown rule \"%s\" (%s)", entry->string,
				     names ? names : "out of memory");
			free(names);
			return -1;
		}
		if (cJSON_IsNull(entry))
			continue;
		if (!cJSON_IsObject(entry))
			return ds_config_error(r, entry, true, "rules.%s must be a mapping", rule->name);
		cJSON_ArrayForEach(item, entry)
			if (read_rule_key(r, rule, item, &cfg->rules[ds_rule_index(rule)]) < 0)
				return -1;
	}
	return 0;
}

static int read_top(struct config_reader *r, const cJSON *root, ds_config *cfg)
{
	const cJSON *item;

	/* No document, or an empty one: a file truncated by mistake, or
	 * emptied by a failed edit. Taking it for the defaults would silently
	 * drop every setting (serve would stop patching on its next reload).
	 * The error is the whole file's: at 1:1. */
	if (!root || cJSON_IsNull(root))
		return ds_config_error(r, NULL, true,
				    "the config is empty (no settings, only comments or whitespace); it must hold a YAML "
				    "mapping of settings, e.g. \"enforce: true\" (for the defaults, give no config file)");
	if (!cJSON_IsObject(root))
		return ds_config_error(r, root, true, "the config must be a mapping");
	cJSON_ArrayForEach(item, root) {
		int rc;
		if (!strcmp(item->string, "enforce"))
			rc = ds_config_read_bool(r, item, &cfg->enforce);
		else if (!strcmp(item->string, "allowExemptionAnnotation"))
			rc = ds_config_read_annotation(r, item, cfg);
		else if (!strcmp(item->string, "exemptions"))
			rc = ds_config_read_exemptions(r, item, cfg);
		else if (!strcmp(item->string, "rules"))
			rc = read_rules(r, item, cfg);
		else
			rc = ds_config_error(r, item, false,
					  "unknown key \"%s\" (known: enforce, allowExemptionAnnotation, exemptions, rules)",
					  item->string);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* Sets r->error from the loader's first error diagnostic. */
static void syntax_error(struct config_reader *r, const ds_diag_list *diags)
{
	for (size_t i = 0; i < diags->count; i++) {
		if (!diags->items[i].is_error)
			continue;
		if (asprintf(&r->error, "%s:%u:%u: %s", r->path, diags->items[i].pos.line,
			     diags->items[i].pos.column, diags->items[i].message) < 0)
			r->error = NULL;
		return;
	}
	if (asprintf(&r->error, "%s: the config must hold a single YAML document", r->path) < 0)
		r->error = NULL;
}

int ds_config_load(const char *path, ds_config *cfg, char **error)
{
	struct config_reader r = {.path = path};
	ds_diag_list diags = {0};
	char *buf = NULL, *io_error = NULL;
	size_t len;
	int rc = -1;

	ds_config_free(cfg);
	*error = NULL;
	if (ds_read_file(path, DS_MAX_FILE_BYTES, &buf, &len, &io_error) < 0) {
		if (asprintf(error, "%s: %s", path, io_error ? io_error : "out of memory") < 0)
			*error = NULL;
		free(io_error);
		return -1;
	}
	cfg->path = strdup(path);
	if (!cfg->path) {
		free(buf);
		*error = strdup("out of memory");
		return -1;
	}
	r.path = cfg->path;
	if (ds_yaml_load(buf, len, keep_document, &r, &diags) < 0) {
		if (!r.error)
			syntax_error(&r, &diags);
	} else {
		rc = read_top(&r, r.doc ? r.doc->root : NULL, cfg);
		if (rc == 0)
			rc = validate_options(&r, cfg);
	}
	if (rc < 0) {
		ds_config_free(cfg);
		*error = r.error ? r.error : strdup("out of memory");
	}
	ds_diag_list_free(&diags);
	ds_document_free(r.doc);
	free(buf);
	return rc;
}
