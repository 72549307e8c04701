/* text.c - text cut to a size without splitting a UTF-8 character, and the
 * shape of an object's name. */
#include "util/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define ELLIPSIS "..."

size_t ds_utf8_prefix(const char *s, size_t len, size_t max)
{
	size_t n = len < max ? len : max;

	if (n == len)
		return n;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

char *ds_text_cut(const char *s, size_t max)
{
	size_t len = strlen(s), keep;
	char *out;

	if (len <= max)
		return strdup(s);
	keep = ds_utf8_prefix(s, len, max - (sizeof(ELLIPSIS) - 1));
	out = malloc(keep + sizeof(ELLIPSIS));
	if (!out)
		return NULL;
	memcpy(out, s, keep);
	memcpy(out + keep, ELLIPSIS, sizeof(ELLIPSIS));
	return out;
}

const char *ds_text_copy(char *buf, size_t size, const char *s)
{
	size_t len = strlen(s), keep;

	if (len < size) {
		memcpy(buf, s, len + 1);
		return buf;
	}
	keep = size > sizeof(ELLIPSIS) ? ds_utf8_prefix(s, len, size - sizeof(ELLIPSIS)) : 0;
	memcpy(buf, s, keep);
	if (size > sizeof(ELLIPSIS))
		memcpy(buf + keep, ELLIPSIS, sizeof(ELLIPSIS));
	else
		buf[keep] = '\0';
	return buf;
}

bool ds_is_object_name(const char *name)
{
	size_t len = strlen(name);

	if (!len || len > DS_OBJECT_NAME_MAX || !isalnum((unsigned char)name[0]) ||
	    !isalnum((unsigned char)name[len - 1]))
		return false;
	for (const char *p = name; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' || *p == '.'))
			return false;
	return true;
}
