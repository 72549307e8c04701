/* scalar.c - YAML 1.1 scalars resolved to JSON values as sigs.k8s.io/yaml
 * (go-yaml) resolves them. */
#include "lint/scalar.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* YAML 1.1 booleans as go-yaml resolves them. Returns 1 true, 0 false, -1
 * not a boolean. */
static int resolve_bool(const char *s)
{
	static const char *const yes[] = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"};
	static const char *const no[] = {"n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"};

	if (!strchr("yYnNoOtTfF", s[0]) || strlen(s) > 5)
		return -1; /* the common case, decided without a comparison */
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcmp(s, yes[i]))
			return 1;
		if (!strcmp(s, no[i]))
			return 0;
	}
	return -1;
}

static bool is_null_word(const char *s)
{
	if (*s && *s != '~' && *s != 'n' && *s != 'N')
		return false;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* Parses s as a YAML 1.1 int (decimal, 0x hex, 0 octal, 0b binary, "_"
 * separators) or float (with .inf/.nan). Returns true and sets *out. */
static bool resolve_number(const char *s, double *out)
{
	char digits[64], *end;
	size_t n = 0;
	const char *p = s;
	int base = 10;

	if (!strchr("0123456789+-.", s[0]))
		return false; /* the common case: a word */
	if (!strcmp(s, ".inf") || !strcmp(s, "+.inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF") ||
	    !strcmp(s, "-.inf") || !strcmp(s, "-.Inf") || !strcmp(s, "-.INF") || !strcmp(s, ".nan") ||
	    !strcmp(s, ".NaN") || !strcmp(s, ".NAN"))
		return false; /* JSON cannot hold them: kept as strings */
	if (*p == '-' || *p == '+')
		digits[n++] = *p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'b')) {
		base = p[1] == 'x' ? 16 : 2;
		p += 2;
	} else if (p[0] == '0' && p[1] && strspn(p, "01234567_") == strlen(p)) {
		base = 8;
	}
	if (!*p)
		return false;
	for (; *p && n + 1 < sizeof(digits); p++)
		if (*p != '_')
			digits[n++] = *p;
	if (*p)
		return false;
	digits[n] = '\0';
	errno = 0;
	if (base != 10 || strspn(digits + (digits[0] == '-' || digits[0] == '+'), "0123456789") ==
				  strlen(digits + (digits[0] == '-' || digits[0] == '+'))) {
		long long v = strtoll(digits, &end, base);
		*out = (double)v;
		return !*end && errno == 0 && end != digits;
	}
	if (strspn(digits, "+-0123456789.eE") != n || !strpbrk(digits, "0123456789"))
		return false;
	*out = strtod(digits, &end);
	return !*end && errno == 0 && isfinite(*out);
}

cJSON *ds_yaml_scalar(const char *text, yaml_scalar_style_t style, const char *tag)
{
	double number;
	int b;

	if (style != YAML_PLAIN_SCALAR_STYLE || (tag && !strcmp(tag, "!")))
		return cJSON_CreateString(text);
	if ((tag && !strcmp(tag, YAML_NULL_TAG)) || is_null_word(text))
		return cJSON_CreateNull();
	if ((b = resolve_bool(text)) >= 0)
		return cJSON_CreateBool(b);
	if (resolve_number(text, &number))
		return cJSON_CreateNumber(number);
	return cJSON_CreateString(text);
}

const char *ds_yaml_key_text(const char *text, yaml_scalar_style_t style)
{
	int b;

	if (style != YAML_PLAIN_SCALAR_STYLE)
		return text;
	if ((b = resolve_bool(text)) >= 0)
		return b ? "true" : "false";
	return is_null_word(text) ? "null" : text;
}
