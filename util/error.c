/* error.c - the one way an error message is made (see util.h). */
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>

char *ds_vformat(const char *fmt, va_list ap)
{
	char *text = NULL;

	if (vasprintf(&text, fmt, ap) < 0)
		return NULL;
	return text;
}

char *ds_format(const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	text = ds_vformat(fmt, ap);
	va_end(ap);
	return text;
}

int ds_fail(char **error, const char *fmt, ...)
{
	va_list ap;

	if (!error)
		return -1;
	free(*error);
	va_start(ap, fmt);
	*error = ds_vformat(fmt, ap);
	va_end(ap);
	return -1;
}
