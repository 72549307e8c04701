/* exemptions.c - the config's governed exemptions: the `exemptions` list
 * and allowExemptionAnnotation as a mapping (docs/config.md). */
#include "config/private.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ENTRY_KEYS "rules, namespaces, names, labels, reason, expires"
#define ANNOTATION_KEYS "namespaces, users, groups, requireReason"

/* Whether s[0..len) is a label name: 1 to 63 characters, letters and
 * digits at both ends, '-', '_' and '.' between (a label value's syntax
 * too, apart from being empty). */
static bool label_name(const char *s, size_t len)
{
	if (len < 1 || len > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

/* Whether s[0..len) is a DNS subdomain (a label key's prefix): at most
 * 253 characters, lower-case letters, digits, '-' and '.', a letter or
 * digit at both ends. */
static bool dns_subdomain(const char *s, size_t len)
{
	if (len < 1 || len > 253 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

/* Whether key is a Kubernetes label key: [PREFIX/]NAME. */
static bool label_key(const char *key)
{
	const char *slash = strchr(key, '/');

	if (!slash)
		return label_name(key, strlen(key));
	return dns_subdomain(key, (size_t)(slash - key)) && label_name(slash + 1, strlen(slash + 1));
}

/* Reads a non-empty list of globs, each a non-empty string, into *out.
 * Returns 0, or -1 with the reader's error set. */
static int read_globs(struct config_reader *r, const cJSON *item, const char *where, ds_string_list *out)
{
	const cJSON *el;

	ds_string_list_clear(out);
	if (!cJSON_IsArray(item) || !cJSON_GetArraySize(item))
		return ds_config_error(r, item, true, "%s.%s must be a non-empty list of globs (* and ?)", where,
				       item->string);
	out->items = calloc((size_t)cJSON_GetArraySize(item) + 1, sizeof(char *));
	if (!out->items)
		return ds_config_error(r, item, true, "out of memory");
	cJSON_ArrayForEach(el, item) {
		const char *invalid;
		if (!cJSON_IsString(el) || !*el->valuestring)
			return ds_config_error(r, el, true, "each item of %s.%s must be a non-empty string", where,
					       item->string);
		if ((invalid = ds_glob_invalid(el->valuestring)) != NULL)
			return ds_config_error(r, el, true, "\"%s\" is not a glob: %s", el->valuestring, invalid);
		out->items[out->count] = strdup(el->valuestring);
		if (!out->items[out->count])
			return ds_config_error(r, el, true, "out of memory");
		out->count++;
	}
	return 0;
}

/* Reads a non-empty list of names (users or groups). */
static int read_names(struct config_reader *r, const cJSON *item, const char *where, ds_string_list *out)
{
	if (!cJSON_IsArray(item) || !cJSON_GetArraySize(item))
		return ds_config_error(r, item, true, "%s.%s must be a non-empty list of names", where, item->string);
	return ds_config_read_list(r, item, out);
}

/* Reads an entry's `rules`: ids or names, or "all". */
static int read_entry_rules(struct config_reader *r, const cJSON *item, ds_exemption *e)
{
	const cJSON *el;

	if (!cJSON_IsArray(item) || !cJSON_GetArraySize(item))
		return ds_config_error(r, item, true,
				       "exemptions[].rules must be a non-empty list of rule ids or names, or [all]");
	cJSON_ArrayForEach(el, item) {
		const ds_rule *rule = cJSON_IsString(el) ? ds_rule_find(el->valuestring) : NULL;
		if (rule == NULL && cJSON_IsString(el) && !strcasecmp(el->valuestring, "all")) {
			for (size_t i = 0; i < DS_RULE_COUNT; i++)
				e->rules[i] = true;
			continue;
		}
		if (!cJSON_IsString(el))
			return ds_config_error(r, el, true, "each item of exemptions[].rules must be a rule id or name");
		if (!rule) {
			char *names = ds_rule_names();
			ds_config_error(r, el, true, "unknown rule \"%s\" in exemptions[].rules (%s, or all)",
					el->valuestring, names ? names : "out of memory");
			free(names);
			return -1;
		}
		e->rules[ds_rule_index(rule)] = true;
	}
	return 0;
}

/* Reads an entry's `labels`: a mapping of label keys to values, all of
 * which an object must carry. */
static int read_labels(struct config_reader *r, const cJSON *item, ds_exemption *e)
{
	const cJSON *el;
	size_t n = (size_t)cJSON_GetArraySize(item);

	if (!cJSON_IsObject(item) || !n)
		return ds_config_error(r, item, true,
				       "exemptions[].labels must be a non-empty mapping of label keys to values");
	e->labels = calloc(n, sizeof(*e->labels));
	if (!e->labels)
		return ds_config_error(r, item, true, "out of memory");
	cJSON_ArrayForEach(el, item) {
		ds_label *l = &e->labels[e->label_count];
		if (!label_key(el->string))
			return ds_config_error(r, el, false,
					       "\"%s\" is not a Kubernetes label key ([prefix/]name: a name of at most 63 "
					       "letters, digits, '-', '_' or '.', starting and ending with a letter or "
					       "digit; a prefix a DNS subdomain)",
					       el->string);
		if (!cJSON_IsString(el))
			return ds_config_error(r, el, true,
					       "the value of label %s must be a string (quote it: \"true\", \"1\")",
					       el->string);
		if (*el->valuestring && !label_name(el->valuestring, strlen(el->valuestring)))
			return ds_config_error(r, el, true,
					       "\"%s\" is not a Kubernetes label value (at most 63 letters, digits, '-', "
					       "'_' or '.', starting and ending with a letter or digit)",
					       el->valuestring);
		l->key = strdup(el->string);
		l->value = strdup(el->valuestring);
		e->label_count++;
		if (!l->key || !l->value)
			return ds_config_error(r, el, true, "out of memory");
	}
	return 0;
}

/* Reads n digits at *p into *out, moving *p past them. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*out = v;
	return true;
}

static int days_in_month(int year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

/* Reads "[.fraction](Z|+hh:mm|-hh:mm)" at p, the end of an RFC 3339 time:
 * sets *offset to the zone's seconds east of UTC and *fraction when the
 * fraction is not all zeros. Returns whether it is that and nothing more. */
static bool time_zone(const char *p, int *offset, bool *fraction)
{
	int hh, mm;

	*fraction = false;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return false;
		for (; isdigit((unsigned char)*p); p++)
			*fraction |= *p != '0';
	}
	if ((*p == 'Z' || *p == 'z') && !p[1]) {
		*offset = 0;
		return true;
	}
	if ((*p != '+' && *p != '-') || !digits(&(const char *){p + 1}, 2, &hh) || p[3] != ':' ||
	    !digits(&(const char *){p + 4}, 2, &mm) || p[6] || hh > 23 || mm > 59)
		return false;
	*offset = (*p == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
	return true;
}

/* Reads `expires`: a date YYYY-MM-DD, which holds to the end of that day
 * (UTC), or an RFC 3339 time. Sets *expiry to the first whole second at
 * which the entry no longer holds. Returns whether text is one of them. */
static bool parse_expiry(const char *text, time_t *expiry)
{
	const char *p = text;
	struct tm tm = {0};
	int y, mo, d, h = 0, mi = 0, s = 0, offset = 0;
	bool fraction = false, date_only;

	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' || !digits(&p, 2, &d) ||
	    mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return false;
	date_only = !*p;
	if (!date_only) {
		if ((*p != 'T' && *p != 't') || (p++, !digits(&p, 2, &h)) || *p++ != ':' || !digits(&p, 2, &mi) ||
		    *p++ != ':' || !digits(&p, 2, &s) || h > 23 || mi > 59 || s > 60 || !time_zone(p, &offset, &fraction))
			return false;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = date_only ? d + 1 : d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	*expiry = timegm(&tm) - offset + (fraction ? 1 : 0);
	return true;
}

/* Reads an entry's `expires`. */
static int read_expires(struct config_reader *r, const cJSON *item, ds_exemption *e)
{
	if (!cJSON_IsString(item) || !parse_expiry(item->valuestring, &e->expiry))
		return ds_config_error(r, item, true,
				       "expires must be a date (2027-03-31: the entry holds to the end of that day, "
				       "UTC) or an RFC 3339 time (2027-03-31T18:00:00Z, 2027-03-31T18:00:00+02:00)");
	e->expires = true;
	e->expires_text = strdup(item->valuestring);
	return e->expires_text ? 0 : ds_config_error(r, item, true, "out of memory");
}

/* Reads one key of an entry. */
static int read_entry_key(struct config_reader *r, const cJSON *item, ds_exemption *e)
{
	const char *key = item->string;

	if (!strcmp(key, "rules"))
		return read_entry_rules(r, item, e);
	if (!strcmp(key, "namespaces"))
		return read_globs(r, item, "exemptions[]", &e->namespaces);
	if (!strcmp(key, "names"))
		return read_globs(r, item, "exemptions[]", &e->names);
	if (!strcmp(key, "labels"))
		return read_labels(r, item, e);
	if (!strcmp(key, "expires"))
		return read_expires(r, item, e);
	if (!strcmp(key, "reason")) {
		if (!cJSON_IsString(item) || !*item->valuestring)
			return ds_config_error(r, item, true, "reason must be a non-empty string: why the exemption "
							      "is granted, shown wherever it applies");
		e->reason = strdup(item->valuestring);
		return e->reason ? 0 : ds_config_error(r, item, true, "out of memory");
	}
	return ds_config_error(r, item, false, "unknown key \"%s\" in an exemption (known: " ENTRY_KEYS ")", key);
}

/* Reads one entry of the list into e (zeroed; where it stands in it is
 * set). Returns 0, or -1. */
static int read_entry(struct config_reader *r, const cJSON *entry, ds_exemption *e)
{
	const ds_node_info *at = ds_document_where(r->doc, entry);
	const cJSON *item;
	bool has_rules = false;

	e->file = r->path;
	e->line = at ? at->value.line : 0;
	e->column = at ? at->value.column : 0;
	if (!cJSON_IsObject(entry))
		return ds_config_error(r, entry, true, "each exemption must be a mapping (keys: " ENTRY_KEYS ")");
	cJSON_ArrayForEach(item, entry) {
		if (read_entry_key(r, item, e) < 0)
			return -1;
		has_rules |= !strcmp(item->string, "rules");
	}
	if (!has_rules)
		return ds_config_error(r, entry, true, "an exemption must name its rules (rules: [DS001], or [all])");
	if (!e->reason)
		return ds_config_error(r, entry, true,
				       "an exemption must give its reason (reason: \"...\"): it is shown wherever the "
				       "exemption applies");
	if (!e->namespaces.count && !e->names.count && !e->label_count)
		return ds_config_error(r, entry, true,
				       "an exemption must select DaemonSets by namespaces, names or labels (one for "
				       "every DaemonSet would turn the rule off: set its severity to off instead)");
	return 0;
}

int ds_config_read_exemptions(struct config_reader *r, const cJSON *item, ds_config *cfg)
{
	const cJSON *entry;

	if (cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsArray(item))
		return ds_config_error(r, item, true, "exemptions must be a list of exemptions");
	cJSON_ArrayForEach(entry, item) {
		ds_exemption *grown = ds_array_grow(cfg->exemptions, cfg->exemption_count, sizeof(*grown));
		if (!grown)
			return ds_config_error(r, entry, true, "out of memory");
		cfg->exemptions = grown;
		memset(&grown[cfg->exemption_count], 0, sizeof(*grown));
		/* counted before it is read, so that ds_config_free() releases
		 * what a half-read entry holds */
		if (read_entry(r, entry, &grown[cfg->exemption_count++]) < 0)
			return -1;
	}
	return 0;
}

/* Reads one key of allowExemptionAnnotation's mapping. */
static int read_grant_key(struct config_reader *r, const cJSON *item, ds_annotation_grant *g)
{
	const char *key = item->string;

	if (!strcmp(key, "namespaces"))
		return read_globs(r, item, "allowExemptionAnnotation", &g->namespaces);
	if (!strcmp(key, "users"))
		return read_names(r, item, "allowExemptionAnnotation", &g->users);
	if (!strcmp(key, "groups"))
		return read_names(r, item, "allowExemptionAnnotation", &g->groups);
	if (!strcmp(key, "requireReason"))
		return ds_config_read_bool(r, item, &g->require_reason);
	return ds_config_error(r, item, false,
			       "unknown key \"%s\" in allowExemptionAnnotation (known: " ANNOTATION_KEYS
			       "; or give true or false)",
			       key);
}

int ds_config_read_annotation(struct config_reader *r, const cJSON *item, ds_config *cfg)
{
	const cJSON *key;

	ds_string_list_clear(&cfg->annotation.namespaces);
	ds_string_list_clear(&cfg->annotation.users);
	ds_string_list_clear(&cfg->annotation.groups);
	cfg->annotation.require_reason = false;
	if (cJSON_IsBool(item))
		return ds_config_read_bool(r, item, &cfg->allow_exemption_annotation);
	if (!cJSON_IsObject(item))
		return ds_config_error(r, item, true,
				       "allowExemptionAnnotation must be true, false, or a mapping of limits (" ANNOTATION_KEYS
				       ")");
	cfg->allow_exemption_annotation = true;
	cJSON_ArrayForEach(key, item)
		if (read_grant_key(r, key, &cfg->annotation) < 0)
			return -1;
	return 0;
}
