/* tls.c - the serving certificate and key, read from disk or given in
 * memory, checked with GnuTLS, the library that serves them, and the GnuTLS
 * settings that make client certificates mandatory. */
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
#define MEM_CERT_HINT "tls.crt needs the serving certificate, then any intermediates, in PEM"
#define MEM_KEY_HINT "tls.key needs the certificate's private key in PEM, unencrypted"

/* What the messages about a pair call its two halves, and what each must
 * hold. */
struct pair_names {
	const char *cert, *key;           /* a path, or "SOURCE tls.crt" */
	const char *cert_hint, *key_hint;
	const char *key_flag;             /* what to give the right key: "--tls-key", "tls.key" */
};

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
static int check_key(const char *pem, const char *path, const struct pair_names *n, char **error)
{
	gnutls_datum_t data = datum(pem);
	gnutls_x509_privkey_t key;
	int rc = gnutls_x509_privkey_init(&key);

	if (rc < 0)
		return ds_fail(error, "%s: %s", path, gnutls_strerror(rc));
	if (is_encrypted_key(pem))
		rc = ds_fail(error, "%s: the private key is encrypted and dsguard never asks for a passphrase; "
				 "give %s the key unencrypted (openssl pkey -in %s -out FILE)",
			  path, n->key_flag, path);
	else if (!strstr(pem, "PRIVATE KEY-----"))
		rc = ds_fail(error, "%s: no PEM private key (no -----BEGIN ... PRIVATE KEY----- line); %s", path,
			     n->key_hint);
	else if ((rc = gnutls_x509_privkey_import2(key, &data, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN)) < 0)
		rc = ds_fail(error, "%s: the PEM private key cannot be read (%s); %s", path, gnutls_strerror(rc),
			     n->key_hint);
	gnutls_x509_privkey_deinit(key);
	return rc < 0 ? -1 : 0;
}

/* Checks the pair as the server will load it (gnutls_certificate_set_x509_key_mem2,
 * which libmicrohttpd calls): each half parses, and the key is the
 * certificate's. Stores the certificate's expiry in f->not_after. Returns
 * 0, or -1 with *error set. */
static int check_pair(ds_tls_files *f, const struct pair_names *n, char **error)
{
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t cert = datum(f->cert_pem), key = datum(f->key_pem);
	int rc;

	if (check_certs(f->cert_pem, n->cert, n->cert_hint, &f->not_after, error) < 0 ||
	    check_key(f->key_pem, n->key, n, error) < 0)
		return -1;
	if ((rc = gnutls_certificate_allocate_credentials(&cred)) < 0)
		return ds_fail(error, "%s: %s", n->cert, gnutls_strerror(rc));
	rc = gnutls_certificate_set_x509_key_mem2(cred, &cert, &key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN);
	gnutls_certificate_free_credentials(cred);
	if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
		return ds_fail(error, "the key %s does not belong to the certificate %s; give %s the key "
				   "the certificate was made for",
			    n->key, n->cert, n->key_flag);
	if (rc < 0)
		return ds_fail(error, "the certificate %s and the key %s cannot be served together: %s", n->cert,
			    n->key, gnutls_strerror(rc));
	return 0;
}

int ds_tls_files_load(const char *cert_path, const char *key_path, const char *client_ca_path,
		      ds_tls_files *out, char **error)
{
	const struct pair_names names = {cert_path, key_path, CERT_HINT, KEY_HINT, "--tls-key"};

	memset(out, 0, sizeof(*out));
	*error = NULL;
	if (!(out->cert_pem = read_pem(cert_path, CERT_HINT, error)) ||
	    !(out->key_pem = read_pem(key_path, KEY_HINT, error)) || check_pair(out, &names, error) < 0)
		goto fail;
	if (client_ca_path && (!(out->client_ca_pem = read_pem(client_ca_path, CA_HINT, error)) ||
			       check_certs(out->client_ca_pem, client_ca_path, CA_HINT, NULL, error) < 0))
		goto fail;
	return 0;
fail:
	ds_tls_files_free(out);
	return -1;
}

int ds_tls_pem_load(const char *cert_pem, const char *key_pem, const char *source, const char *client_ca_path,
		    ds_tls_files *out, char **error)
{
	char *cert_name = ds_format("%s tls.crt", source), *key_name = ds_format("%s tls.key", source);
	const struct pair_names names = {cert_name, key_name, MEM_CERT_HINT, MEM_KEY_HINT, "tls.key"};
	int rc = -1;

	memset(out, 0, sizeof(*out));
	*error = NULL;
	if (!cert_name || !key_name || !(out->cert_pem = strdup(cert_pem)) || !(out->key_pem = strdup(key_pem)))
		ds_fail(error, "out of memory");
	else if (!*cert_pem || !*key_pem)
		ds_fail(error, "%s: %s is empty", source, *cert_pem ? "tls.key" : "tls.crt");
	else if (check_pair(out, &names, error) == 0 &&
		 (!client_ca_path || ((out->client_ca_pem = read_pem(client_ca_path, CA_HINT, error)) &&
				      check_certs(out->client_ca_pem, client_ca_path, CA_HINT, NULL, error) == 0)))
		rc = 0;
	if (rc)
		ds_tls_files_free(out);
	free(cert_name);
	free(key_name);
	return rc;
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
