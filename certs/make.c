/* make.c - a fresh CA and the serving certificate it signs, as PEM text. */
#include "certs/private.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKDATE_SECONDS (5 * 60)
#define SERIAL_BITS 127
#define CN_MAX 64
#define ORGANIZATION "dsguard"
#define CA_COMMON_NAME "dsguard webhook CA"

/* A new key pair of `type`, or NULL with *error set. */
static EVP_PKEY *make_key(ds_key_type type, char **error)
{
	EVP_PKEY *key;

	if (type == DS_KEY_RSA_2048)
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!key)
		ds_certs_fail_ssl(error, "cannot generate a %s key",
				  type == DS_KEY_RSA_2048 ? "RSA 2048" : "EC P-256");
	return key;
}

/* Gives cert a random positive serial number. Returns 1 on success, else 0. */
static int set_serial(X509 *cert)
{
	BIGNUM *bn = BN_new();
	int ok = bn && BN_rand(bn, SERIAL_BITS, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) &&
		 BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));

	BN_free(bn);
	return ok;
}

/* Sets the subject "O=dsguard, CN=common_name" of cert. Returns 1 on
 * success, else 0. */
static int set_subject(X509 *cert, const char *common_name)
{
	X509_NAME *name = X509_get_subject_name(cert);

	return X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)ORGANIZATION,
					  -1, -1, 0) &&
	       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)common_name,
					  -1, -1, 0);
}

/* How far back a certificate valid for `seconds` starts, for clocks a
 * little behind: five minutes, or a tenth of a short validity. */
static long backdate(long seconds)
{
	return seconds / 10 < BACKDATE_SECONDS ? seconds / 10 : BACKDATE_SECONDS;
}

/* A new, unsigned version 3 certificate of key's public half, subject
 * CN=common_name, issued by `issuer` (NULL: by itself), valid from a little
 * before now for `seconds`, and never past its issuer's notAfter. Returns
 * NULL on error. */
static X509 *new_cert(EVP_PKEY *key, const char *common_name, X509 *issuer, long seconds)
{
	X509 *cert = X509_new();

	if (cert && X509_set_version(cert, X509_VERSION_3) && set_serial(cert) &&
	    set_subject(cert, common_name) &&
	    X509_set_issuer_name(cert, X509_get_subject_name(issuer ? issuer : cert)) &&
	    X509_gmtime_adj(X509_getm_notBefore(cert), -backdate(seconds)) &&
	    X509_gmtime_adj(X509_getm_notAfter(cert), seconds) && X509_set_pubkey(cert, key) &&
	    (!issuer || ASN1_TIME_compare(X509_get0_notAfter(cert), X509_get0_notAfter(issuer)) <= 0 ||
	     X509_set1_notAfter(cert, X509_get0_notAfter(issuer))))
		return cert;
	X509_free(cert);
	return NULL;
}

/* Adds the extension `nid` written in OpenSSL's config syntax. Returns 1 on
 * success, else 0. */
static int add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value);
	int ok = ext && X509_add_ext(cert, ext, -1);

	X509_EXTENSION_free(ext);
	return ok;
}

/* The self-signed CA certificate of key, valid for `seconds`, or NULL with
 * *error set. */
static X509 *make_ca(EVP_PKEY *key, long seconds, char **error)
{
	X509 *ca = new_cert(key, CA_COMMON_NAME, NULL, seconds);
	X509V3_CTX ctx;

	if (ca) {
		X509V3_set_ctx(&ctx, ca, ca, NULL, NULL, 0);
		if (add_ext(ca, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
		    add_ext(ca, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") &&
		    add_ext(ca, &ctx, NID_subject_key_identifier, "hash") && X509_sign(ca, key, EVP_sha256()))
			return ca;
		X509_free(ca);
	}
	ds_certs_fail_ssl(error, "cannot make the CA certificate");
	return NULL;
}

/* Adds the extensions of a serving certificate, names its subjectAltName.
 * Returns 1 on success, else 0. */
static int add_serving_exts(X509 *cert, X509 *ca, const ds_cert_request *req, GENERAL_NAMES *names)
{
	X509V3_CTX ctx;

	X509V3_set_ctx(&ctx, ca, cert, NULL, NULL, 0);
	return add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
	       add_ext(cert, &ctx, NID_key_usage,
		       req->key_type == DS_KEY_RSA_2048 ? "critical,digitalSignature,keyEncipherment"
							: "critical,digitalSignature") &&
	       add_ext(cert, &ctx, NID_ext_key_usage, "serverAuth") &&
	       add_ext(cert, &ctx, NID_subject_key_identifier, "hash") &&
	       add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always") &&
	       X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) == 1;
}

/* The serving certificate of key, signed by ca with ca_key, or NULL with
 * *error set. Its common name is service.namespace.svc where that fits. */
static X509 *make_serving(EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, const ds_cert_request *req,
			  char **error)
{
	GENERAL_NAMES *names = ds_certs_alt_names(req, error);
	char common_name[256];
	X509 *cert = NULL;

	if (!names)
		return NULL;
	snprintf(common_name, sizeof(common_name), "%s.%s.svc", req->service, req->namespace);
	if (strlen(common_name) > CN_MAX)
		snprintf(common_name, sizeof(common_name), "%s", req->service);
	cert = new_cert(key, common_name, ca, ds_certs_validity(req));
	if (!cert || !add_serving_exts(cert, ca, req, names) || !X509_sign(cert, ca_key, EVP_sha256())) {
		X509_free(cert);
		cert = NULL;
		ds_certs_fail_ssl(error, "cannot make the serving certificate");
	}
	GENERAL_NAMES_free(names);
	return cert;
}

/* Fills *cert and *key with the PEM text of cert and key. Returns 0, or -1
 * with *error set and both NULL. */
static int to_pem_pair(X509 *cert, EVP_PKEY *key, char **cert_pem, char **key_pem, char **error)
{
	*cert_pem = ds_certs_pem(cert, NULL);
	*key_pem = ds_certs_pem(NULL, key);
	if (*cert_pem && *key_pem)
		return 0;
	free(*cert_pem);
	ds_certs_free_secret(*key_pem);
	*cert_pem = *key_pem = NULL;
	return ds_certs_fail_ssl(error, "cannot write the certificate as PEM");
}

/* Puts a new certificate and key (taken) in place of *cert and *key, the
 * old key's bytes wiped. */
static void replace_pair(char **cert, char **key, char *new_cert, char *new_key)
{
	free(*cert);
	ds_certs_free_secret(*key);
	*cert = new_cert;
	*key = new_key;
}


int ds_certs_make_ca(ds_key_type type, long seconds, ds_cert_set *set, char **error)
{
	EVP_PKEY *key;
	X509 *ca = NULL;
	char *cert_pem, *key_pem;
	int rc = -1;

	if (seconds < 1 || seconds > DS_CERT_MAX_SECONDS)
		return ds_fail(error, "a CA must be valid from 1 to %ld seconds, not %ld", (long)DS_CERT_MAX_SECONDS,
			       seconds);
	key = make_key(type, error);
	if (key)
		ca = make_ca(key, seconds, error);
	if (ca && to_pem_pair(ca, key, &cert_pem, &key_pem, error) == 0) {
		replace_pair(&set->ca_cert, &set->ca_key, cert_pem, key_pem);
		rc = 0;
	}
	X509_free(ca);
	EVP_PKEY_free(key);
	return rc;
}

int ds_certs_make_serving(const ds_cert_request *req, ds_cert_set *set, char **error)
{
	X509 *ca = NULL, *tls = NULL;
	EVP_PKEY *ca_key = NULL, *tls_key = NULL;
	char *cert_pem, *key_pem;
	int rc = -1;

	if (ds_certs_check_request(req, error))
		return -1;
	ca = set->ca_cert ? ds_certs_read_cert(set->ca_cert) : NULL;
	ca_key = set->ca_key ? ds_certs_read_key(set->ca_key) : NULL;
	if (!ca || !ca_key || X509_check_private_key(ca, ca_key) != 1)
		ds_certs_fail_ssl(error, "cannot sign the serving certificate: the CA certificate or its key is "
					 "missing, unreadable, or the two do not belong together");
	else if ((tls_key = make_key(req->key_type, error)) && (tls = make_serving(tls_key, ca, ca_key, req, error)) &&
		 to_pem_pair(tls, tls_key, &cert_pem, &key_pem, error) == 0) {
		replace_pair(&set->tls_cert, &set->tls_key, cert_pem, key_pem);
		rc = 0;
	}
	X509_free(tls);
	X509_free(ca);
	EVP_PKEY_free(tls_key);
	EVP_PKEY_free(ca_key);
	return rc;
}

int ds_certs_make(const ds_cert_request *req, ds_cert_set *out, char **error)
{
	memset(out, 0, sizeof(*out));
	if (ds_certs_check_request(req, error))
		return -1;
	if (ds_certs_make_ca(req->key_type, ds_certs_validity(req), out, error) == 0 &&
	    ds_certs_make_serving(req, out, error) == 0)
		return 0;
	ds_cert_set_free(out);
	return -1;
}

void ds_cert_set_free(ds_cert_set *set)
{
	free(set->ca_cert);
	ds_certs_free_secret(set->ca_key);
	free(set->tls_cert);
	ds_certs_free_secret(set->tls_key);
	memset(set, 0, sizeof(*set));
}
