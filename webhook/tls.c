/* tls.c - the serving certificate and key read from disk and checked with
 * GnuTLS, the library that serves them, and the GnuTLS settings that make
 * client certificates mandatory. */
#include "webhook/internal.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PEM_BYTES (1u << 20)
#define CERT_HINT "--tls-cert needs the serving certificate, then any intermediates, in PEM"
#define KEY_HINT "--tls-key needs the certificate's private key in PEM, unencrypted"
#define CA_HINT "--client-ca needs the CA certificate(s) that sign the clients' certificates, in PEM"

/* Reads a whole PEM file (at most MAX_PEM_BYTES); `hint` says what it must
 * hold. Returns a new string, or NULL with *error set. */
static char *read_pem(const char *path, const char *hint, char **error)
{
	char *buf = NULL, *why = NULL;
	size_t len = 0;

	errno = 0;
	if (ds_read_file(path, MAX_PEM_BYTES, &buf, &len, &why) < 0 || len == 0) {
		bool say_hint = buf || errno == EFBIG; /* empty or too large: not what the flag needs */
		ds_fail(error, "%s: %s%s%s", path, buf ? "the file is empty" : why ? why : "out of memory",
			say_hint ? "; " : "", say_hint ? hint : "");
		free(why);
		free(buf);
		return NULL;
	}
	return buf;
}

/* The PEM text as a GnuTLS datum (not copied). */
static gnutls_datum_t datum(const char *pem)
{
	return (gnutls_datum_t){(unsigned char *)pem, (unsigned)strlen(pem)};
}

/* Whether the PEM text holds an encrypted private key: PKCS#8
 * ("BEGIN ENCRYPTED PRIVATE KEY") or OpenSSL's legacy form ("Proc-Type:
 * 4,ENCRYPTED"). */
static bool is_encrypted_key(const char *pem)
{
	return strstr(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----") || strstr(pem, "Proc-Type: 4,ENCRYPTED");
}

/* Parses the certificates of pem (read from path): at least one. `hint`
 * says what the file must hold. Stores the first one's expiry in
 * *not_after when it is not NULL. Returns 0, or -1 with *error set. */
static int check_certs(const char *pem, const char *path, const char *hint, time_t *not_after, char **error)
{
	gnutls_datum_t data = datum(pem);
	gnutls_x509_crt_t *certs = NULL;
	unsigned count = 0;
	int rc = gnutls_x509_crt_list_import2(&certs, &count, &data, GNUTLS_X509_FMT_PEM, 0);

	if (rc < 0 || count == 0)
		return ds_fail(error, "%s: no PEM certificate (%s); %s", path,
			    rc < 0 ? gnutls_strerror(rc) : "none found", hint);
	rc = 0;
	if (not_after && (*not_after = gnutls_x509_crt_get_expiration_time(certs[0])) == (time_t)-1)
		rc = ds_fail(error, "%s: cannot read the certificate's expiry (notAfter)", path);
	for (unsigned i = 0; i < count; i++)
		gnutls_x509_crt_deinit(certs[i]);
	gnutls_free(certs);
	return rc;
}

/* Parses pem (read from path) as an unencrypted private key, refusing an
 * encrypted one (never asking for a passphrase). Returns 0, or -1 with
 * *error set. */
static int check_key(const char *pem, const char *path, char **error)
{
	gnutls_datum_t data = datum(pem);
	gnutls_x509_privkey_t key;
	int rc = gnutls_x509_privkey_init(&key);

	if (rc < 0)
		return ds_fail(error, "%s: %s", path, gnutls_strerror(rc));
	if (is_encrypted_key(pem))
		rc = ds_fail(error, "%s: the private key is encrypted and dsguard never asks for a passphrase; "
				 "give --tls-key the key unencrypted (openssl pkey -in %s -out FILE)",
			  path, path);
	else if (!strstr(pem, "PRIVATE KEY-----"))
		rc = ds_fail(error, "%s: no PEM private key (no -----BEGIN ... PRIVATE KEY----- line); " KEY_HINT, path);
	else if ((rc = gnutls_x509_privkey_import2(key, &data, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN)) < 0)
		rc = ds_fail(error, "%s: the PEM private key cannot be read (%s); " KEY_HINT, path, gnutls_strerror(rc));
	gnutls_x509_privkey_deinit(key);
	return rc < 0 ? -1 : 0;
}

/* Checks the pair as the server will load it (gnutls_certificate_set_x509_key_mem2,
 * which libmicrohttpd calls): each file parses, and the key is the
 * certificate's. Stores the certificate's expiry in *not_after. Returns 0,
 * or -1 with *error set. */
static int check_pair(const ds_tls_files *f, const char *cert_path, const char *key_path, time_t *not_after,
		      char **error)
{
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t cert = datum(f->cert_pem), key = datum(f->key_pem);
	int rc;

	if (check_certs(f->cert_pem, cert_path, CERT_HINT, not_after, error) < 0 ||
	    check_key(f->key_pem, key_path, error) < 0)
		return -1;
	if ((rc = gnutls_certificate_allocate_credentials(&cred)) < 0)
		return ds_fail(error, "%s: %s", cert_path, gnutls_strerror(rc));
	rc = gnutls_certificate_set_x509_key_mem2(cred, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN);
	gnutls_certificate_free_credentials(cred);
	if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
		return ds_fail(error, "the key %s does not belong to the certificate %s; give --tls-key the key "
				   "the certificate was made for",
			    key_path, cert_path);
	if (rc < 0)
		return ds_fail(error, "the certificate %s and the key %s cannot be served together: %s", cert_path,
			    key_path, gnutls_strerror(rc));
	return 0;
}

int ds_tls_files_load(const char *cert_path, const char *key_path, const char *client_ca_path,
		      ds_tls_files *out, char **error)
{
	memset(out, 0, sizeof(*out));
	*error = NULL;
	if (!(out->cert_pem = read_pem(cert_path, CERT_HINT, error)) ||
	    !(out->key_pem = read_pem(key_path, KEY_HINT, error)) ||
	    check_pair(out, cert_path, key_path, &out->not_after, error) < 0)
		goto fail;
	if (client_ca_path && (!(out->client_ca_pem = read_pem(client_ca_path, CA_HINT, error)) ||
			       check_certs(out->client_ca_pem, client_ca_path, CA_HINT, NULL, error) < 0))
		goto fail;
	return 0;
fail:
	ds_tls_files_free(out);
	return -1;
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
