/* scalar.c - YAML 1.1 scalars resolved as sigs.k8s.io/yaml resolves them:
 * go-yaml v2 (resolve.go and decode.go) then Go's JSON encoding. */
#include "yaml/scalar.h"
#include "util/util.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LONG_TAG "tag:yaml.org,2002:"

/* A plain scalar's first byte says what it may be: 'S'ign, 'D'igit, 'M'
 * (a word of the table below), '.' (a float), 0 (a string). */
static char hint_of(const char *text, size_t length)
{
	unsigned char c = length ? (unsigned char)text[0] : 0;

	if (!length)
		return 'N';
	if (c == '+' || c == '-')
		return 'S';
	if (c >= '0' && c <= '9')
		return 'D';
	if (c == '.')
		return '.';
	return strchr("yYnNtTfFoO~", c) && c ? 'M' : 0;
}

/* go-yaml's table of words: booleans, nulls, infinities and NaN (none
 * longer than 5 bytes). */
static const struct word {
	const char *text;
	ds_scalar_type type;
	double value; /* 1/0 for booleans */
} words[] = {
	{"y", DS_SCALAR_BOOL, 1}, {"Y", DS_SCALAR_BOOL, 1}, {"yes", DS_SCALAR_BOOL, 1},
	{"Yes", DS_SCALAR_BOOL, 1}, {"YES", DS_SCALAR_BOOL, 1}, {"true", DS_SCALAR_BOOL, 1},
	{"True", DS_SCALAR_BOOL, 1}, {"TRUE", DS_SCALAR_BOOL, 1}, {"on", DS_SCALAR_BOOL, 1},
	{"On", DS_SCALAR_BOOL, 1}, {"ON", DS_SCALAR_BOOL, 1}, {"n", DS_SCALAR_BOOL, 0},
	{"N", DS_SCALAR_BOOL, 0}, {"no", DS_SCALAR_BOOL, 0}, {"No", DS_SCALAR_BOOL, 0},
	{"NO", DS_SCALAR_BOOL, 0}, {"false", DS_SCALAR_BOOL, 0}, {"False", DS_SCALAR_BOOL, 0},
	{"FALSE", DS_SCALAR_BOOL, 0}, {"off", DS_SCALAR_BOOL, 0}, {"Off", DS_SCALAR_BOOL, 0},
	{"OFF", DS_SCALAR_BOOL, 0}, {"", DS_SCALAR_NULL, 0}, {"~", DS_SCALAR_NULL, 0},
	{"null", DS_SCALAR_NULL, 0}, {"Null", DS_SCALAR_NULL, 0}, {"NULL", DS_SCALAR_NULL, 0},
	{".nan", DS_SCALAR_FLOAT, NAN}, {".NaN", DS_SCALAR_FLOAT, NAN}, {".NAN", DS_SCALAR_FLOAT, NAN},
	{".inf", DS_SCALAR_FLOAT, INFINITY}, {".Inf", DS_SCALAR_FLOAT, INFINITY}, {".INF", DS_SCALAR_FLOAT, INFINITY},
	{"+.inf", DS_SCALAR_FLOAT, INFINITY}, {"+.Inf", DS_SCALAR_FLOAT, INFINITY},
	{"+.INF", DS_SCALAR_FLOAT, INFINITY}, {"-.inf", DS_SCALAR_FLOAT, -INFINITY},
	{"-.Inf", DS_SCALAR_FLOAT, -INFINITY}, {"-.INF", DS_SCALAR_FLOAT, -INFINITY},
};

static bool is_tag(const char *tag, const char *name)
{
	return tag && !strncmp(tag, LONG_TAG, sizeof(LONG_TAG) - 1) && !strcmp(tag + sizeof(LONG_TAG) - 1, name);
}

/* go-yaml resolves plain scalars and these tags; others leave the text a
 * string. */
static bool resolvable(const char *tag)
{
	return !tag || is_tag(tag, "str") || is_tag(tag, "bool") || is_tag(tag, "int") || is_tag(tag, "float") ||
	       is_tag(tag, "null") || is_tag(tag, "timestamp");
}

/* The value of the digit c in bases up to 36, or 99. */
static int digit_value(char c)
{
	char lower = (char)(c | 0x20);

	if (c >= '0' && c <= '9')
		return c - '0';
	return lower >= 'a' && lower <= 'z' ? lower - 'a' + 10 : 99;
}

/* Go's strconv.ParseUint(s, base, 64), base 0 reading a 0b, 0o, 0x or 0
 * (octal) prefix (underscores already removed). Returns true and sets
 * *out; false for bad syntax or out of range. */
static bool go_parse_uint(const char *s, int base, unsigned long long *out)
{
	unsigned long long v = 0;

	if (!*s)
		return false;
	if (base == 0) {
		char b = (char)(s[1] | 0x20);
		base = 10;
		if (s[0] == '0' && s[1] && s[2] && (b == 'b' || b == 'o' || b == 'x')) {
			base = b == 'b' ? 2 : b == 'o' ? 8 : 16;
			s += 2;
		} else if (s[0] == '0') {
			base = 8;
			s++;
		}
	}
	for (; *s; s++) {
		unsigned d = (unsigned)digit_value(*s);
		if (d >= (unsigned)base || v > (ULLONG_MAX - d) / (unsigned)base)
			return false;
		v = v * (unsigned)base + d;
	}
	*out = v;
	return true;
}

/* Go's strconv.ParseInt(s, base, 64): a sign, then as go_parse_uint(). */
static bool go_parse_int(const char *s, int base, long long *out)
{
	bool neg = *s == '-';
	unsigned long long v;

	if (*s == '+' || *s == '-')
		s++;
	if (!go_parse_uint(s, base, &v) || v > (unsigned long long)LLONG_MAX + neg)
		return false;
	*out = !neg ? (long long)v : v > (unsigned long long)LLONG_MAX ? LLONG_MIN : -(long long)v;
	return true;
}

/* Go's strconv.ParseFloat(s, 64) of a decimal number s (underscores
 * already checked and removed): an overflow fails, an underflow gives 0. */
static bool go_parse_float(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (*end || end == s)
		return false;
	return errno != ERANGE || !isinf(*out);
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
		if (!int_digits && !frac_digits)
			return false;
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

/* Go's strconv.ParseFloat of a plain scalar that starts with '.': digits
 * with underscores between them, an optional exponent. */
static bool go_parse_dot_float(const char *s, char *plain, double *out)
{
	const char *p = s + 1;
	char saw = '!'; /* the '.': underscores must stand between digits */
	size_t n = 0, digits = 0;

	plain[n++] = '.';
	for (; *p && *p != 'e' && *p != 'E'; p++) {
		if (*p >= '0' && *p <= '9') {
			plain[n++] = *p;
			digits++;
			saw = '0';
		} else if (*p == '_' && saw == '0') {
			saw = '_';
		} else {
			return false;
		}
	}
	if (!digits || saw == '_')
		return false;
	if (*p) {
		plain[n++] = *p++;
		if (*p == '+' || *p == '-')
			plain[n++] = *p++;
		saw = '!';
		digits = 0;
		for (; *p; p++) {
			if (*p >= '0' && *p <= '9') {
				plain[n++] = *p;
				digits++;
				saw = '0';
			} else if (*p == '_' && saw == '0') {
				saw = '_';
			} else {
				return false;
			}
		}
		if (!digits || saw == '_')
			return false;
	}
	plain[n] = '\0';
	return go_parse_float(plain, out);
}

/* Whether text is a timestamp go-yaml reads with a !!timestamp tag: one of
 * Go's layouts "2006-1-2", "2006-1-2 15:4:5", "2006-1-2T15:4:5Z07:00"
 * ('t' too), seconds with an optional fraction. */
static bool is_timestamp(const char *s)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int year, month, day, n = 0, hour, minute, second;
	bool leap;

	/* %n only counts what matched: each field is checked by hand */
	if (strspn(s, "0123456789") != 4 || s[4] != '-')
		return false;
	year = atoi(s);
	s += 5;
	n = (int)strspn(s, "0123456789");
	if (n < 1)
		return false;
	n = n > 2 ? 2 : n;
	month = n == 2 ? (s[0] - '0') * 10 + s[1] - '0' : s[0] - '0';
	s += n;
	if (*s++ != '-' || month < 1 || month > 12)
		return false;
	n = (int)strspn(s, "0123456789");
	if (n < 1)
		return false;
	n = n > 2 ? 2 : n;
	day = n == 2 ? (s[0] - '0') * 10 + s[1] - '0' : s[0] - '0';
	s += n;
	leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
	if (day < 1 || day > days[month - 1] + (month == 2 && leap))
		return false;
	if (!*s)
		return true;
	{
		char sep = *s++;
		int fields[3];
		for (int i = 0; i < 3; i++) {
			n = (int)strspn(s, "0123456789");
			if (n < 1)
				return false;
			n = n > 2 ? 2 : n;
			fields[i] = n == 2 ? (s[0] - '0') * 10 + s[1] - '0' : s[0] - '0';
			s += n;
			if (i < 2 && *s++ != ':')
				return false;
		}
		hour = fields[0];
		minute = fields[1];
		second = fields[2];
		if ((sep != 'T' && sep != 't' && sep != ' ') || hour > 23 || minute > 59 || second > 59)
			return false;
		if ((*s == '.' || *s == ',') && s[1] >= '0' && s[1] <= '9')
			s += 1 + strspn(s + 1, "0123456789");
		if (sep == ' ')
			return !*s;
		if (*s == 'Z')
			return !s[1];
		return (s[0] == '+' || s[0] == '-') && strspn(s + 1, "0123456789") == 2 && s[3] == ':' &&
		       strspn(s + 4, "0123456789") == 2 && !s[6] && atoi(s + 1) <= 24 && atoi(s + 4) <= 60;
	}
}

static const char *as_int(ds_scalar *out, long long i)
{
	out->type = DS_SCALAR_INT;
	out->integer = i;
	out->number = (double)i;
	return "int";
}

static const char *as_uint(ds_scalar *out, unsigned long long u)
{
	out->type = DS_SCALAR_UINT;
	out->uinteger = u;
	out->number = (double)u;
	return "int";
}

/* Resolves a plain (or !!int, !!float, ... tagged) scalar as go-yaml's
 * resolve() does, with no regard to its tag: sets out and returns the
 * name of the type found ("null", "bool", "int", "float", "str"). plain is
 * a scratch buffer of length + 1 bytes. */
static const char *implicit_type(const char *text, size_t length, ds_scalar *out, char *plain)
{
	char hint = hint_of(text, length);
	unsigned long long u;
	long long i;
	size_t n = 0;

	if (!hint || memchr(text, '\0', length))
		return "str";
	for (size_t w = 0; length <= 5 && w < sizeof(words) / sizeof(words[0]); w++) {
		if (strcmp(text, words[w].text))
			continue;
		out->type = words[w].type;
		out->boolean = words[w].value != 0;
		out->number = words[w].value;
		return out->type == DS_SCALAR_NULL ? "null" : out->type == DS_SCALAR_BOOL ? "bool" : "float";
	}
	if (hint == '.') {
		if (!go_parse_dot_float(text, plain, &out->number))
			return "str";
		out->type = DS_SCALAR_FLOAT;
		return "float";
	}
	if (hint != 'D' && hint != 'S')
		return "str";
	for (const char *p = text; *p; p++)
		if (*p != '_')
			plain[n++] = *p;
	plain[n] = '\0';
	/* in go-yaml's order: an int, an unsigned int, a float, then what
	 * follows 0b or -0b as binary digits (a sign allowed after 0b) */
	if (go_parse_int(plain, 0, &i))
		return as_int(out, i);
	if (go_parse_uint(plain, 0, &u))
		return as_uint(out, u);
	if (is_yaml_float(plain) && go_parse_float(plain, &out->number)) {
		out->type = DS_SCALAR_FLOAT;
		return "float";
	}
	if (!strncmp(plain, "0b", 2) && go_parse_int(plain + 2, 2, &i))
		return as_int(out, i);
	if (!strncmp(plain, "0b", 2) && go_parse_uint(plain + 2, 2, &u))
		return as_uint(out, u);
	if (!strncmp(plain, "-0b", 3)) {
		plain[2] = '-'; /* Go reads "-" + plain[3:] */
		if (go_parse_int(plain + 2, 2, &i))
			return as_int(out, i);
	}
	return "str";
}

/* The value of a base64 digit, or -1. */
static int base64_digit(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

size_t ds_utf8_char(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

/* Decodes a !!binary value as Go's base64.StdEncoding does (line breaks
 * ignored, padding required), then makes it valid UTF-8 as Go's JSON
 * encoding does: each byte that starts no valid character becomes
 * U+FFFD. Returns 0, or -1 with *error set. */
static int decode_binary(const char *text, size_t length, ds_scalar *out, char **error)
{
	unsigned char *bytes = malloc(length / 4 * 3 + 3);
	size_t digits = 0, n = 0, pad = 0, at = 0;
	unsigned quantum = 0;
	char *utf8;

	if (!bytes)
		return ds_fail(error, "out of memory");
	for (size_t i = 0; i < length; i++) {
		int d = base64_digit(text[i]);
		if (text[i] == '\r' || text[i] == '\n')
			continue;
		if (text[i] == '=' && digits % 4 >= 2) {
			pad++;
			digits++;
			quantum <<= 6;
		} else if (d < 0 || pad) {
			free(bytes);
			return ds_fail(error, "this !!binary value is not base64, so Kubernetes cannot read it: fix it "
					      "or drop the tag");
		} else {
			quantum = quantum << 6 | (unsigned)d;
			digits++;
		}
		if (digits % 4 == 0) {
			bytes[n++] = (unsigned char)(quantum >> 16);
			bytes[n++] = (unsigned char)(quantum >> 8);
			bytes[n++] = (unsigned char)quantum;
			n -= pad;
			quantum = 0;
		}
	}
	if (digits % 4) {
		free(bytes);
		return ds_fail(error, "this !!binary value is not base64, so Kubernetes cannot read it: fix it or drop "
				      "the tag");
	}
	utf8 = malloc(n * 3 + 1);
	if (!utf8) {
		free(bytes);
		return ds_fail(error, "out of memory");
	}
	for (size_t i = 0; i < n;) {
		size_t len = ds_utf8_char(bytes + i, n - i);
		if (!len) {
			memcpy(utf8 + at, "\xEF\xBF\xBD", 3);
			at += 3;
			i++;
			continue;
		}
		memcpy(utf8 + at, bytes + i, len);
		at += len;
		i += len;
	}
	utf8[at] = '\0';
	free(bytes);
	out->decoded = utf8;
	out->text = utf8;
	out->length = at;
	return 0;
}

/* "!!int" for a tag of the YAML namespace, else the tag itself. */
static const char *short_tag(const char *tag, char *buf, size_t size)
{
	if (strncmp(tag, LONG_TAG, sizeof(LONG_TAG) - 1))
		return tag;
	snprintf(buf, size, "!!%s", tag + sizeof(LONG_TAG) - 1);
	return buf;
}

/* The start of text as a message quotes it: at most 40 bytes, cut on a
 * character boundary, line breaks and tabs as spaces. */
static void quote(const char *text, size_t length, char *buf, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < length && n + 5 < size && n < 40; i++)
		buf[n++] = text[i] == '\n' || text[i] == '\r' || text[i] == '\t' ? ' ' : text[i];
	while (n > 0 && n < length && ((unsigned char)text[n] & 0xC0) == 0x80)
		n--;
	if (n < length)
		buf[n++] = '.', buf[n++] = '.', buf[n++] = '.';
	buf[n] = '\0';
}

int ds_scalar_resolve(const char *text, size_t length, yaml_scalar_style_t style, const char *tag, ds_scalar *out,
		      char **error)
{
	char small[128], *plain = length < sizeof(small) ? small : malloc(length + 1);
	char shown[64], tag_text[64];
	const char *found, *wanted;

	memset(out, 0, sizeof(*out));
	out->type = DS_SCALAR_STRING;
	out->text = text;
	out->length = length;
	if (!plain)
		return ds_fail(error, "out of memory");
	if ((!tag && style != YAML_PLAIN_SCALAR_STYLE) || (tag && !strcmp(tag, "!")) || is_tag(tag, "str") ||
	    (tag && !is_tag(tag, "binary") && !resolvable(tag))) {
		found = "str"; /* a string as written: quoted, or a tag go-yaml keeps as text */
	} else if (is_tag(tag, "binary")) {
		found = decode_binary(text, length, out, error) < 0 ? NULL : "str";
	} else if (is_tag(tag, "timestamp") && !memchr(text, '\0', length) && is_timestamp(text)) {
		found = "timestamp";
	} else {
		found = implicit_type(text, length, out, plain);
	}
	if (plain != small)
		free(plain);
	if (!found)
		return -1;
	if (!tag || !resolvable(tag) || !strcmp(tag, "!") || is_tag(tag, "str"))
		return 0;
	wanted = tag + sizeof(LONG_TAG) - 1;
	if (!strcmp(found, wanted))
		return 0;
	if (!strcmp(wanted, "float") && out->type == DS_SCALAR_INT) {
		out->type = DS_SCALAR_FLOAT;
		return 0;
	}
	quote(text, length, shown, sizeof(shown));
	ds_scalar_free(out);
	return ds_fail(error, "Kubernetes cannot read the !!%s `%s` as %s: remove the tag or change the value", found,
		       shown, short_tag(tag, tag_text, sizeof(tag_text)));
}

bool ds_scalar_has_nul(const ds_scalar *s)
{
	return s->type == DS_SCALAR_STRING && memchr(s->text, '\0', s->length) != NULL;
}

cJSON *ds_scalar_json(const ds_scalar *s, char **error)
{
	cJSON *item = NULL;

	switch (s->type) {
	case DS_SCALAR_NULL:
		item = cJSON_CreateNull();
		break;
	case DS_SCALAR_BOOL:
		item = cJSON_CreateBool(s->boolean);
		break;
	case DS_SCALAR_FLOAT:
		if (!isfinite(s->number)) {
			ds_fail(error, "%s is not a number JSON can hold, so Kubernetes refuses it: quote it for the string",
				isnan(s->number) ? "NaN" : s->number > 0 ? "+Inf" : "-Inf");
			return NULL;
		}
		/* fall through */
	case DS_SCALAR_INT:
	case DS_SCALAR_UINT:
		item = cJSON_CreateNumber(s->number);
		break;
	case DS_SCALAR_STRING:
		item = cJSON_CreateString(s->text);
		break;
	}
	if (!item)
		ds_fail(error, "out of memory");
	return item;
}

/* Go's strconv.FormatFloat(v, 'g', -1, 32): the shortest decimal that
 * reads back as the same float32, in %e form when its exponent is below
 * -4 or at least 6. */
static void format_float32(double v, char *buf, size_t size)
{
	char e[32], digits[16];
	float f;
	int p, exp, nd = 0, dp;
	size_t n = 0;

	if (fabs(v) >= 0x1.ffffffp127) { /* rounds to an infinity */
		snprintf(buf, size, v > 0 ? ".inf" : "-.inf");
		return;
	}
	f = fabs(v) > FLT_MAX ? (v > 0 ? FLT_MAX : -FLT_MAX) : (float)v;
	if (f == 0) {
		snprintf(buf, size, signbit(f) ? "-0" : "0");
		return;
	}
	for (p = 1; p < 9; p++) {
		snprintf(e, sizeof(e), "%.*e", p - 1, (double)f);
		if (strtof(e, NULL) == f)
			break;
	}
	snprintf(e, sizeof(e), "%.*e", p - 1, (double)f);
	for (const char *c = e; *c && *c != 'e'; c++)
		if (*c >= '0' && *c <= '9')
			digits[nd++] = *c;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	exp = atoi(strchr(e, 'e') + 1);
	if (f < 0)
		buf[n++] = '-';
	if (exp < -4 || exp >= 6) {
		buf[n++] = digits[0];
		if (nd > 1) {
			buf[n++] = '.';
			for (int i = 1; i < nd; i++)
				buf[n++] = digits[i];
		}
		snprintf(buf + n, size - n, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
		return;
	}
	dp = exp + 1;
	if (dp <= 0) {
		buf[n++] = '0';
		buf[n++] = '.';
		for (int i = dp; i < 0; i++)
			buf[n++] = '0';
		for (int i = 0; i < nd; i++)
			buf[n++] = digits[i];
	} else {
		for (int i = 0; i < nd || i < dp; i++) {
			if (i == dp)
				buf[n++] = '.';
			buf[n++] = i < nd ? digits[i] : '0';
		}
	}
	buf[n] = '\0';
}

const char *ds_scalar_key(const ds_scalar *s, char *buf, size_t size, char **error)
{
	char shown[64];

	switch (s->type) {
	case DS_SCALAR_NULL:
		ds_fail(error, "a null mapping key, which Kubernetes refuses: quote it for the key \"null\"");
		return NULL;
	case DS_SCALAR_BOOL:
		return s->boolean ? "true" : "false";
	case DS_SCALAR_INT:
		snprintf(buf, size, "%lld", s->integer);
		return buf;
	case DS_SCALAR_UINT:
		snprintf(shown, sizeof(shown), "%llu", s->uinteger);
		ds_fail(error, "the mapping key %s is above the 64-bit integers Kubernetes reads as keys: quote it",
			shown);
		return NULL;
	case DS_SCALAR_FLOAT:
		if (isnan(s->number))
			return ".nan";
		format_float32(s->number, buf, size);
		return buf;
	case DS_SCALAR_STRING:
		break;
	}
	return s->text;
}

bool ds_scalar_is_merge(const char *text, size_t length, yaml_scalar_style_t style, const char *tag)
{
	if (length != 2 || memcmp(text, "<<", 2))
		return false;
	return (!tag && style == YAML_PLAIN_SCALAR_STYLE) || (tag && !strcmp(tag, "!")) || is_tag(tag, "merge");
}

void ds_scalar_free(ds_scalar *s)
{
	free(s->decoded);
	memset(s, 0, sizeof(*s));
}
