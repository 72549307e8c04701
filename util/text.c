/* text.c - text cut to a size without splitting a UTF-8 character; the
 * end of a line; names checked as Kubernetes checks them. */
#include "util/util.h"

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

bool ds_ends_line(const char *text, size_t len, size_t at)
{
	return at < len && (text[at] == '\n' || (text[at] == '\r' && (at + 1 >= len || text[at + 1] != '\n')));
}

size_t ds_next_line(const char *text, size_t len, size_t at)
{
	const char *nl = at < len ? memchr(text + at, '\n', len - at) : NULL;
	const char *cr = at < len ? memchr(text + at, '\r', (size_t)((nl ? nl : text + len) - (text + at))) : NULL;

	if (cr && cr + 1 != nl)
		return (size_t)(cr - text) + 1; /* a "\r" alone */
	return nl ? (size_t)(nl - text) + 1 : len;
}

unsigned ds_line_of(const char *text, size_t len, size_t at)
{
	unsigned line = 1;

	for (size_t i = 0; i < at && i < len; i++)
		line += ds_ends_line(text, len, i);
	return line;
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

bool ds_dns_subdomain(const char *s, size_t len)
{
	if (len < 1 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		bool alnum = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9');
		bool part_end = i == 0 || i == len - 1 || s[i - 1] == '.' || s[i + 1] == '.';
		if (!alnum && !(s[i] == '-' && !part_end) && !(s[i] == '.' && !part_end))
			return false;
	}
	return true;
}
