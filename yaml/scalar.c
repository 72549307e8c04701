/* scalar.c - YAML 1.1 scalars resolved to JSON values as sigs.k8s.io/yaml
 * (go-yaml) resolves them. */
#include "yaml/scalar.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
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

/* Go's strconv.ParseInt(s, 0, 64), as go-yaml resolves ints (after
 * dropping "_"): an optional sign, then 0x/0X, 0o/0O, 0b/0B or a leading 0
 * (octal) or plain decimal digits. Returns true and sets *out. */
static bool parse_go_int(const char *s, double *out)
{
	const char *p = s + (*s == '+' || *s == '-');
	const char *digits = "0123456789";
	unsigned long long v;
	char *end;
	int base = 10;

	if (p[0] == '0' && p[1]) {
		char b = p[1];
		base = (b == 'x' || b == 'X') ? 16 : (b == 'b' || b == 'B') ? 2 : 8;
		p += (b == 'x' || b == 'X' || b == 'b' || b == 'B' || b == 'o' || b == 'O') ? 2 : 1;
	}
	digits = base == 16 ? "0123456789abcdefABCDEF" : base == 8 ? "01234567" : base == 2 ? "01" : digits;
	if (!*p || strspn(p, digits) != strlen(p))
		return false;
	errno = 0;
	v = strtoull(p, &end, base);
	if (errno || *end)
		return false;
	*out = *s == '-' ? -(double)v : (double)v;
	return true;
}

/* go-yaml's float syntax: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool is_yaml_float(const char *p)
{
	size_t int_digits, frac_digits = 0;

	p += (*p == '+' || *p == '-');
	int_digits = strspn(p, "0123456789");
	p += int_digits;
	if (*p == '.') {
		frac_digits = strspn(p + 1, "0123456789");
		p += 1 + frac_digits;
	}
	if (!int_digits && !frac_digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		p += (*p == '+' || *p == '-');
		if (!strspn(p, "0123456789"))
			return false;
		p += strspn(p, "0123456789");
	}
	return !*p;
}

/* A plain scalar as a number the way go-yaml resolves it. Returns true and
 * sets *out. ".inf" and ".nan" stay strings: JSON cannot hold them. */
static bool resolve_number(const char *s, double *out)
{
	char plain[128];
	size_t n = 0;
	char *end;

	if (!strchr("0123456789+-.", s[0]))
		return false; /* the common case: a word */
	for (; *s && n + 1 < sizeof(plain); s++)
		if (*s != '_')
			plain[n++] = *s;
	if (*s)
		return false;
	plain[n] = '\0';
	if (parse_go_int(plain, out))
		return true;
	if (!is_yaml_float(plain))
		return false;
	errno = 0;
	*out = strtod(plain, &end);
	return !*end && errno == 0 && isfinite(*out);
}

cJSON *ds_yaml_scalar(const char *text, yaml_scalar_style_t style, const char *tag)
{
	double number;
	int b;

	/* An explicit tag says what the scalar is, where JSON can hold it. */
	if (tag && !strcmp(tag, YAML_NULL_TAG))
		return cJSON_CreateNull();
	if (tag && !strcmp(tag, YAML_BOOL_TAG) && (b = resolve_bool(text)) >= 0)
		return cJSON_CreateBool(b);
	if (tag && (!strcmp(tag, YAML_INT_TAG) || !strcmp(tag, YAML_FLOAT_TAG)) && resolve_number(text, &number))
		return cJSON_CreateNumber(number);
	if (style != YAML_PLAIN_SCALAR_STYLE || (tag && (!strcmp(tag, "!") || !strcmp(tag, YAML_STR_TAG))))
		return cJSON_CreateString(text);
	if (is_null_word(text))
		return cJSON_CreateNull();
	if ((b = resolve_bool(text)) >= 0)
		return cJSON_CreateBool(b);
	if (resolve_number(text, &number))
		return cJSON_CreateNumber(number);
	return cJSON_CreateString(text);
}

const char *ds_yaml_key_text(const char *text, yaml_scalar_style_t style, char *buf, size_t size)
{
	double number;
	int b;

	if (style != YAML_PLAIN_SCALAR_STYLE)
		return text;
	if ((b = resolve_bool(text)) >= 0)
		return b ? "true" : "false";
	if (is_null_word(text))
		return "null";
	if (!resolve_number(text, &number))
		return text;
	if (number > -9.2e18 && number < 9.2e18 && number == (double)(long long)number)
		snprintf(buf, size, "%lld", (long long)number);
	else
		snprintf(buf, size, "%.17g", number);
	return buf;
}
