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

char *ds_ca_bundle_decode(const char *bundle)
{
	size_t len = strlen(bundle);
	EVP_ENCODE_CTX *ctx;
	unsigned char *out;
	int n = 0, last = 0;

	if (len > INT_MAX / 4 * 3 || !(ctx = EVP_ENCODE_CTX_new()))
		return NULL;
	out = malloc(len / 4 * 3 + 4);
	EVP_DecodeInit(ctx);
	if (!out || EVP_DecodeUpdate(ctx, out, &n, (const unsigned char *)bundle, (int)len) < 0 ||
	    EVP_DecodeFinal(ctx, out + n, &last) != 1 || memchr(out, '\0', (size_t)(n + last))) {
		free(out);
		out = NULL;
	} else {
		out[n + last] = '\0';
	}
	EVP_ENCODE_CTX_free(ctx);
	return (char *)out;
}
