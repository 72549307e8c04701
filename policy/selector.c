/* selector.c - label selectors as kubectl's -l writes them, turned into
 * the matchExpressions of a LabelSelector. */
#include "policy/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABEL_NAME 63
#define MAX_LABEL_PREFIX 253

/* Whether s[0..len) is a label name or value: at most 63 characters,
 * alphanumeric at both ends, '-', '_' and '.' between (a value may be
 * empty). */
static bool is_label_name(const char *s, size_t len, bool may_be_empty)
{
	if (!len)
		return may_be_empty;
	if (len > MAX_LABEL_NAME || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

/* Whether s[0..len) is a label key: [DNS subdomain "/"] name. */
static bool is_label_key(const char *s, size_t len)
{
	const char *slash = memchr(s, '/', len);
	size_t plen;

	if (!slash)
		return is_label_name(s, len, false);
	plen = (size_t)(slash - s);
	if (!plen || plen > MAX_LABEL_PREFIX || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[plen - 1]))
		return false;
	for (size_t i = 0; i < plen; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' || s[i] == '.'))
			return false;
	return is_label_name(slash + 1, len - plen - 1, false);
}

static const char *skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* The length of the word at p: up to white space or one of "=!,()". */
static size_t word_length(const char *p)
{
	return strcspn(p, " \t=!,()");
}

/* Appends the requirement {key, operator, values} to exprs. Returns the
 * values list (NULL when the operator takes none, or out of memory: *oom). */
static cJSON *add_requirement(cJSON *exprs, const char *key, size_t key_len, const char *op, bool values,
			      bool *oom)
{
	cJSON *req = cJSON_CreateObject();
	char *k = strndup(key, key_len);
	cJSON *list = NULL;

	*oom = !req || !k || !cJSON_AddStringToObject(req, "key", k) || !cJSON_AddStringToObject(req, "operator", op) ||
	       (values && !(list = cJSON_AddArrayToObject(req, "values"))) || !cJSON_AddItemToArray(exprs, req);
	free(k);
	if (*oom)
		cJSON_Delete(req);
	return *oom ? NULL : list;
}

/* Appends a value (len bytes at p) to list. Returns 0, or -1 out of memory. */
static int add_value(cJSON *list, const char *p, size_t len)
{
	char *v = strndup(p, len);
	cJSON *item = v ? cJSON_CreateString(v) : NULL;

	free(v);
	if (!item || !cJSON_AddItemToArray(list, item)) {
		cJSON_Delete(item);
		return -1;
	}
	return 0;
}

/* Parses one requirement at *pp into exprs and moves *pp past it. Returns
 * 0, or -1 with *error. */
static int parse_requirement(const char **pp, cJSON *exprs, const char *text, char **error)
{
	const char *p = skip_space(*pp), *key, *op;
	size_t key_len, len;
	bool not = false, oom;
	cJSON *list;

	if (*p == '!') {
		not = true;
		p = skip_space(p + 1);
	}
	key = p;
	key_len = word_length(p);
	if (!is_label_key(key, key_len))
		return ds_fail(error, "\"%s\": \"%.*s\" is not a label key", text, (int)(key_len ? key_len : 1), key);
	p = skip_space(p + key_len);
	if (not || *p == ',' || !*p) {
		if (not && *p && *p != ',')
			return ds_fail(error, "\"%s\": !%.*s takes no value", text, (int)key_len, key);
		add_requirement(exprs, key, key_len, not ? "DoesNotExist" : "Exists", false, &oom);
		*pp = p;
		return oom ? ds_fail(error, "out of memory") : 0;
	}
	if (*p == '=' || (p[0] == '!' && p[1] == '=')) {
		bool in = *p == '=';
		p += p[1] == '=' ? 2 : 1;
		p = skip_space(p);
		len = word_length(p);
		if (!is_label_name(p, len, true))
			return ds_fail(error, "\"%s\": \"%.*s\" is not a label value", text, (int)(len ? len : 1), p);
		list = add_requirement(exprs, key, key_len, in ? "In" : "NotIn", true, &oom);
		if (oom || add_value(list, p, len) < 0)
			return ds_fail(error, "out of memory");
		*pp = skip_space(p + len);
		return 0;
	}
	op = p;
	len = word_length(p);
	if (!((len == 2 && !strncmp(p, "in", 2)) || (len == 5 && !strncmp(p, "notin", 5))))
		return ds_fail(error, "\"%s\": after %.*s, expected =, ==, !=, in or notin", text, (int)key_len, key);
	list = add_requirement(exprs, key, key_len, len == 2 ? "In" : "NotIn", true, &oom);
	if (oom)
		return ds_fail(error, "out of memory");
	p = skip_space(p + len);
	if (*p != '(')
		return ds_fail(error, "\"%s\": %.*s %.*s needs a list of values in parentheses", text, (int)key_len, key,
			       (int)len, op);
	do {
		p = skip_space(p + 1);
		len = word_length(p);
		if (!is_label_name(p, len, true))
			return ds_fail(error, "\"%s\": \"%.*s\" is not a label value", text, (int)(len ? len : 1), p);
		if (add_value(list, p, len) < 0)
			return ds_fail(error, "out of memory");
		p = skip_space(p + len);
	} while (*p == ',');
	if (*p != ')')
		return ds_fail(error, "\"%s\": the list of values of %.*s is not closed with ')'", text, (int)key_len, key);
	*pp = skip_space(p + 1);
	return 0;
}

int ds_label_selector_parse(const char *text, cJSON *selector, char **error)
{
	cJSON *exprs = cJSON_GetObjectItemCaseSensitive(selector, "matchExpressions");
	const char *p = text;

	if (!exprs && !(exprs = cJSON_AddArrayToObject(selector, "matchExpressions")))
		return ds_fail(error, "out of memory");
	if (!*skip_space(p))
		return ds_fail(error, "the selector is empty");
	for (;;) {
		if (parse_requirement(&p, exprs, text, error) < 0)
			return -1;
		if (!*p)
			return 0;
		if (*p != ',')
			return ds_fail(error, "\"%s\": unexpected \"%s\" (requirements are separated by ',')", text, p);
		p++;
	}
}
