/* error.c - error messages that carry the OpenSSL reason. */
#include "certs/private.h"

#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int ds_certs_fail_ssl(char **error, const char *fmt, ...)
{
	unsigned long code = ERR_get_error();
	char reason[256] = "unknown OpenSSL error";
	va_list ap;
	char *text;

	if (code)
		ERR_error_string_n(code, reason, sizeof(reason));
	ERR_clear_error();
	va_start(ap, fmt);
	text = ds_vformat(fmt, ap);
	va_end(ap);
	ds_fail(error, "%s: %s", text ? text : "out of memory", reason);
	free(text);
	return -1;
}
