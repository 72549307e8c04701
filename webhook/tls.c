/* tls.c - the serving certificate and key read from disk and checked, and
 * the GnuTLS settings that make client certificates mandatory. */
#include "webhook/internal.h"
#include "certs/certs.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PEM_BYTES (1u << 20)

/* Sets *error to a newly allocated message (NULL out of memory). Returns -1. */
static int fail(char **error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char **error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(error, fmt, ap) < 0)
		*error = NULL;
	va_end(ap);
	return -1;
}

/* Reads a whole PEM file (at most MAX_PEM_BYTES). Returns a new string,
 * or NULL with *error set. */
static char *read_pem(const char *path, char **error)
{
	FILE *in = fopen(path, "rb");
	char *buf = in ? malloc(MAX_PEM_BYTES + 1) : NULL;
	size_t n = buf ? fread(buf, 1, MAX_PEM_BYTES + 1, in) : 0;
	int err = errno;
	bool broken = !in || !buf || ferror(in);

	if (in)
		fclose(in);
	if (broken || n == 0 || n > MAX_PEM_BYTES) {
		free(buf);
		fail(error, "%s: %s", path,
		     broken ? strerror(err) : n == 0 ? "the file is empty" : "the file is larger than 1 MiB");
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* Checks that the key belongs to the certificate and reads the
 * certificate's expiry into *not_after. Returns 0, or -1 with *error set. */
static int check_pair(const char *cert_path, const char *key_path, time_t *not_after, char **error)
{
	ds_cert_info info = {0};
	char *why = NULL;
	int rc = ds_cert_key_check(cert_path, key_path, &why);

	if (rc == 1) {
		fail(error, "the key %s does not belong to the certificate %s: %s", key_path, cert_path,
		     why ? why : "they do not match");
		free(why);
		return -1;
	}
	if (rc == 0 && ds_cert_inspect(cert_path, &info, &why) == 0) {
		*not_after = info.not_after;
		ds_cert_info_free(&info);
		return 0;
	}
	*error = why;
	return -1;
}

int ds_tls_files_load(const char *cert_path, const char *key_path, const char *client_ca_path,
		      ds_tls_files *out, char **error)
{
	ds_cert_info ca = {0};

	memset(out, 0, sizeof(*out));
	*error = NULL;
	if (check_pair(cert_path, key_path, &out->not_after, error) < 0)
		return -1;
	if (client_ca_path && ds_cert_inspect(client_ca_path, &ca, error) < 0)
		return -1;
	ds_cert_info_free(&ca);
	out->cert_pem = read_pem(cert_path, error);
	out->key_pem = out->cert_pem ? read_pem(key_path, error) : NULL;
	out->client_ca_pem = out->key_pem && client_ca_path ? read_pem(client_ca_path, error) : NULL;
	if (!out->key_pem || (client_ca_path && !out->client_ca_pem)) {
		ds_tls_files_free(out);
		return -1;
	}
	return 0;
}

void ds_tls_files_free(ds_tls_files *f)
{
	if (f->key_pem)
		memset(f->key_pem, 0, strlen(f->key_pem));
	free(f->cert_pem);
	free(f->key_pem);
	free(f->client_ca_pem);
	memset(f, 0, sizeof(*f));
}

void ds_mtls_require(void *tls_session)
{
	gnutls_certificate_server_set_request((gnutls_session_t)tls_session, GNUTLS_CERT_REQUIRE);
	gnutls_session_set_verify_cert((gnutls_session_t)tls_session, NULL, 0);
}
