/* glob.c - the one glob matcher of names: '*', '?' and '\' escapes. */
#include "util/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The length of the UTF-8 character that starts at s (1 for a byte that
 * does not start one: such bytes are characters of their own). */
static size_t char_length(const char *s)
{
	unsigned char c = (unsigned char)*s;
	size_t n = c >= 0xF0 && c < 0xF8 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;

	if (c >= 0xF8)
		return 1;
	for (size_t i = 1; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			return 1;
	return n;
}

const char *ds_glob_invalid(const char *pattern)
{
	for (const char *p = pattern; *p; p++) {
		if (*p != '\\')
			continue;
		if (!p[1])
			return "it ends in a lone backslash (write \\\\ for a backslash)";
		p++;
	}
	return NULL;
}

bool ds_glob_is_literal(const char *pattern)
{
	for (const char *p = pattern; *p; p++) {
		if (*p == '*' || *p == '?')
			return false;
		if (*p == '\\' && p[1])
			p++;
	}
	return true;
}

char *ds_glob_literal(const char *pattern)
{
	char *out = malloc(strlen(pattern) + 1), *o = out;

	if (!out)
		return NULL;
	for (const char *p = pattern; *p; p++) {
		if (*p == '\\' && p[1])
			p++;
		*o++ = *p;
	}
	*o = '\0';
	return out;
}

/* Whether the pattern item at p (a literal character, escaped or not)
 * matches the text at t; sets *plen and *tlen to the bytes each takes. */
static bool item_matches(const char *p, const char *t, size_t *plen, size_t *tlen)
{
	size_t esc = *p == '\\' && p[1] ? 1 : 0;

	if (!esc && *p == '?') {
		*plen = 1;
		*tlen = char_length(t);
		return *t != '\0';
	}
	*plen = esc + 1;
	*tlen = 1;
	return *t == p[esc];
}

/* The classic matcher with one point to go back to: the last '*' seen and
 * where in the text it took over. A later '*' makes every earlier one
 * settled, so no more than that one point is ever needed; time is at most
 * the product of the two lengths, memory constant. */
bool ds_glob_match(const char *pattern, const char *text)
{
	const char *p = pattern, *t = text, *star = NULL, *resume = NULL;

	if (ds_glob_invalid(pattern))
		return false;
	while (*t) {
		size_t plen, tlen;
		if (*p == '*') {
			star = ++p;
			resume = t;
			continue;
		}
		if (*p && item_matches(p, t, &plen, &tlen)) {
			p += plen;
			t += tlen;
			continue;
		}
		if (!star)
			return false;
		/* the last '*' takes one more character */
		resume += char_length(resume);
		t = resume;
		p = star;
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}
