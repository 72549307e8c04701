/* base64.c - base64 for the JSONPatch of a mutating answer (OpenSSL). */
#include "webhook/internal.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>

char *ds_base64(const char *data, size_t len)
{
	size_t size;
	char *out;

	if (len > (size_t)INT_MAX / 4 * 3 - 3)
		return NULL;
	size = (len + 2) / 3 * 4 + 1;
	out = malloc(size);
	if (!out)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)data, (int)len);
	return out;
}
