/* error.c - error messages that carry the file and the OpenSSL reason. */
#include "certs/private.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Sets *error to the formatted message followed by `suffix`. */
static void set_error(char **error, const char *suffix, const char *fmt, va_list ap)
{
	char *text = NULL;

	if (!error)
		return;
	*error = NULL;
	if (vasprintf(&text, fmt, ap) < 0)
		return;
	if (asprintf(error, "%s%s", text, suffix) < 0)
		*error = NULL;
	free(text);
}

int ds_certs_fail(char **error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(error, "", fmt, ap);
	va_end(ap);
	return -1;
}

int ds_certs_fail_ssl(char **error, const char *fmt, ...)
{
	unsigned long code = ERR_get_error();
	char reason[256] = "unknown OpenSSL error";
	char suffix[sizeof(reason) + 2];
	va_list ap;

	if (code)
		ERR_error_string_n(code, reason, sizeof(reason));
	ERR_clear_error();
	snprintf(suffix, sizeof(suffix), ": %s", reason);
	va_start(ap, fmt);
	set_error(error, suffix, fmt, ap);
	va_end(ap);
	return -1;
}
