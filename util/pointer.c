/* pointer.c - RFC 6901 JSON Pointers over cJSON trees. */
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

char *ds_pointer_escape(const char *token)
{
	size_t extra = 0, len = strlen(token);
	char *out, *w;

	for (const char *p = token; *p; p++)
		extra += (*p == '~' || *p == '/');
	out = malloc(len + extra + 1);
	if (!out)
		return NULL;
	w = out;
	for (const char *p = token; *p; p++) {
		if (*p == '~' || *p == '/') {
			*w++ = '~';
			*w++ = *p == '~' ? '0' : '1';
		} else {
			*w++ = *p;
		}
	}
	*w = '\0';
	return out;
}

/* Copies the reference token starting at p (up to '/' or the end) into buf
 * unescaped. Returns the number of input bytes consumed, or -1 when the
 * token is too long or holds a "~" not followed by 0 or 1. */
static long read_token(const char *p, char *buf, size_t size)
{
	size_t n = 0;
	const char *start = p;

	for (; *p && *p != '/'; p++) {
		char c = *p;
		if (c == '~') {
			if (p[1] != '0' && p[1] != '1')
				return -1;
			c = p[1] == '0' ? '~' : '/';
			p++;
		}
		if (n + 1 >= size)
			return -1;
		buf[n++] = c;
	}
	buf[n] = '\0';
	return p - start;
}

/* Parses an array index token: digits only, no leading zero. -1 if not. */
static long array_index(const char *token)
{
	char *end;
	long v;

	if (!*token || (token[0] == '0' && token[1]) || strspn(token, "0123456789") != strlen(token))
		return -1;
	v = strtol(token, &end, 10);
	return v;
}

cJSON *ds_pointer_get(const cJSON *doc, const char *pointer)
{
	char token[1024];
	const cJSON *at = doc;

	if (!pointer || (*pointer && *pointer != '/'))
		return NULL;
	while (at && *pointer) {
		long used = read_token(pointer + 1, token, sizeof(token));
		if (used < 0)
			return NULL;
		pointer += used + 1;
		if (cJSON_IsObject(at)) {
			at = cJSON_GetObjectItemCaseSensitive(at, token);
		} else if (cJSON_IsArray(at)) {
			long i = array_index(token);
			at = i < 0 || i > 0x7fffffff ? NULL : cJSON_GetArrayItem(at, (int)i);
		} else {
			return NULL;
		}
	}
	return (cJSON *)at;
}
