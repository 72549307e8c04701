/* bundle.c - the caBundle of a webhook configuration: the CA's PEM in base64. */
#include "certs/certs.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

char *ds_ca_bundle(const char *pem)
{
	size_t len = strlen(pem);
	char *out;

	if (len > INT_MAX / 4 * 3)
		return NULL;
	out = malloc(4 * ((len + 2) / 3) + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)pem, (int)len);
	return out;
}
