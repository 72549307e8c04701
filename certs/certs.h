/* certs.h - TLS material for the webhook, made and checked with OpenSSL: a CA,
 * a serving certificate for the Service's DNS names, the caBundle to register,
 * and the checks `dsguard certs --check` runs on files you already have.
 * (`serve` checks the files it is given with GnuTLS, which serves them:
 * webhook/tls.c.)
 *
 * Errors: every function that can fail takes `char **error`. On failure it
 * sets *error to a newly allocated message that names the file (where there
 * is one) and the OpenSSL reason; the caller frees it with free(). */
#ifndef DSGUARD_CERTS_H
#define DSGUARD_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Bounds of a certificate's validity, in days. */
#define DS_CERT_MIN_DAYS 1
#define DS_CERT_MAX_DAYS 3650

/* The files ds_certs_write() creates in its directory. */
#define DS_CA_CERT_FILE "ca.crt"
#define DS_CA_KEY_FILE "ca.key"
#define DS_TLS_CERT_FILE "tls.crt"
#define DS_TLS_KEY_FILE "tls.key"

typedef enum {
	DS_KEY_EC_P256 = 0, /* ECDSA on NIST P-256 (the default) */
	DS_KEY_RSA_2048
} ds_key_type;

/* What to make. The serving certificate names `service`, `service.namespace`,
 * `service.namespace.svc` and `service.namespace.svc.cluster.local`, then
 * each of `hosts` (a DNS name, `*.`-wildcards allowed, or an IPv4/IPv6
 * address, which becomes an IP SAN). Nothing here is owned. */
typedef struct ds_cert_request {
	const char *service;   /* an RFC 1035 label, as Kubernetes wants a Service name */
	const char *namespace; /* an RFC 1123 label */
	const char *const *hosts;
	size_t host_count;
	unsigned days; /* DS_CERT_MIN_DAYS..DS_CERT_MAX_DAYS */
	ds_key_type key_type;
} ds_cert_request;

/* The PEM text of the four files. Owns every string; the keys are wiped
 * when freed. */
typedef struct ds_cert_set {
	char *ca_cert;
	char *ca_key;
	char *tls_cert;
	char *tls_key;
} ds_cert_set;

/* What ds_cert_inspect() reads from a certificate. Owns every string. */
typedef struct ds_cert_info {
	char *subject; /* RFC 2253, e.g. "CN=dsguard.dsguard.svc,O=dsguard" */
	char *issuer;
	char **sans; /* "DNS:name", "IP:10.0.0.1", "URI:...", "email:..." in certificate order */
	size_t san_count;
	time_t not_before;
	time_t not_after;
	bool is_ca;
} ds_cert_info;

/* Checks a request without making anything: the labels, every host and the
 * days. Returns 0 when it is valid. On error returns -1 and sets *error to a
 * message that says which value is wrong and why. */
int ds_certs_check_request(const ds_cert_request *req, char **error);

/* Makes a fresh CA (self-signed, CA:TRUE with pathlen 0, keyCertSign) and a
 * serving certificate it signs (CA:FALSE, extendedKeyUsage serverAuth, the
 * request's SANs, each name once), both with keys of req->key_type, signed
 * with SHA-256, valid from five minutes ago (for clock skew) until req->days
 * days from now. Returns 0 and fills *out, which the caller releases with
 * ds_cert_set_free(). On error returns -1, sets *error and leaves *out
 * empty. */
int ds_certs_make(const ds_cert_request *req, ds_cert_set *out, char **error);

/* Releases what ds_certs_make() filled in, wiping the keys; `set` is left
 * empty. Safe on an empty set. */
void ds_cert_set_free(ds_cert_set *set);

/* Writes ca.crt, ca.key, tls.crt and tls.key into `dir`, creating it (and
 * missing parents) with mode 0700 when absent. Keys are created with mode
 * 0600 and certificates 0644 (less what the umask removes), so a key is
 * never readable by others, even briefly. An existing file (or link) is
 * replaced only with `overwrite`, which removes it before writing anew.
 * Returns 0 on success. Returns 1 and sets *error, writing nothing, when one
 * of the four exists and `overwrite` is false. On any other error returns -1
 * and sets *error naming the path; the files this call created are removed
 * again. */
int ds_certs_write(const char *dir, const ds_cert_set *set, bool overwrite, char **error);

/* The caBundle of a webhook configuration: base64 of `pem` (all of it), one
 * line, no newline. Returns a newly allocated string the caller frees, or
 * NULL when out of memory. */
char *ds_ca_bundle(const char *pem);

/* Reads the first certificate of the PEM file at `pem_path` into *out.
 * Returns 0 on success; the caller releases *out with ds_cert_info_free().
 * On error returns -1, sets *error (naming the file, with the system or
 * OpenSSL reason) and leaves *out empty. */
int ds_cert_inspect(const char *pem_path, ds_cert_info *out, char **error);

/* Releases what ds_cert_inspect() filled in; `info` is left empty. Safe on
 * an empty info. */
void ds_cert_info_free(ds_cert_info *info);

/* Checks that the unencrypted PEM private key at `key_path` belongs to the
 * first certificate of `cert_path` (X509_check_private_key). Returns 0 when
 * it does. Returns 1 and sets *error when the two do not match, and -1 and
 * sets *error when either file cannot be read or parsed (an encrypted key is
 * refused, never prompted for). */
int ds_cert_key_check(const char *cert_path, const char *key_path, char **error);

#endif
