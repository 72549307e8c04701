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
#define DS_CERT_MAX_SECONDS (DS_CERT_MAX_DAYS * 86400L)

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
	/* When not 0, the validity in seconds (1..DS_CERT_MAX_SECONDS) instead
	 * of `days`: what `serve --manage-certs` asks for. */
	long seconds;
} ds_cert_request;

/* The PEM text of the four files (and of a kubernetes.io/tls Secret's
 * tls.crt, tls.key, ca.crt and ca.key; ca_cert may then hold several CAs,
 * the one ca_key belongs to first). Owns every string; the keys are wiped
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
 * days (or seconds). Returns 0 when it is valid. On error returns -1 and sets *error to a
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

/* Makes a fresh self-signed CA (as ds_certs_make() does) with a key of
 * `type`, valid from a little before now (five minutes, or a tenth of a
 * shorter validity) for `seconds` (1..DS_CERT_MAX_SECONDS), into
 * set->ca_cert and set->ca_key (what they held is released). Returns 0, or
 * -1 with *error set and `set` unchanged. */
int ds_certs_make_ca(ds_key_type type, long seconds, ds_cert_set *set, char **error);

/* Makes a serving certificate for req (as ds_certs_make() does), signed by
 * the CA of set->ca_cert (its first certificate) with set->ca_key, valid
 * from a little before now for req's validity but never past the CA's
 * notAfter, into set->tls_cert and set->tls_key (what they held is
 * released). Returns 0, or -1 with *error set (an invalid request, a CA
 * or key that is missing, unreadable or not a pair) and `set` unchanged. */
int ds_certs_make_serving(const ds_cert_request *req, ds_cert_set *set, char **error);

/* Releases what ds_certs_make() filled in, wiping the keys; `set` is left
 * empty. Safe on an empty set. */
void ds_cert_set_free(ds_cert_set *set);

/* What ds_certs_examine() finds in a ds_cert_set: whether its CA can sign
 * and its serving pair can be served, and when each is due. Owns every
 * string. */
typedef struct ds_cert_exam {
	size_t ca_count;        /* certificates in ca_cert */
	bool ca_ok;             /* the first is a CA, valid now, and ca_key is its key */
	char *ca_problem;       /* why not, when !ca_ok */
	char *ca_pem;           /* the first certificate of ca_cert alone; NULL when none */
	time_t ca_not_before, ca_not_after; /* of that one; 0 when none */
	bool tls_ok;            /* tls_key is the key of tls_cert's first certificate, which chains to a
				 * certificate of ca_cert and is valid now for serving TLS */
	char *tls_problem;      /* why not, when !tls_ok */
	int issuer;             /* the index in ca_cert of the CA tls_cert chains to; -1: none */
	char *issuer_pem;       /* that CA alone; NULL when none */
	bool names_ok;          /* tls_cert names every name of the request */
	time_t tls_not_before, tls_not_after; /* 0 when tls_cert cannot be read */
} ds_cert_exam;

/* Examines `set` (any string may be NULL: missing) at time `now`: the CA
 * bundle, the CA's key, the serving pair, and whether the serving
 * certificate holds every name req asks for (the names ds_certs_make()
 * would give it). Returns 0 and fills *out (release it with
 * ds_cert_exam_free()), or -1 when memory ran out (*out is then empty).
 * Material that is missing or broken is no error: *out says what is
 * wrong. */
int ds_certs_examine(const ds_cert_set *set, const ds_cert_request *req, time_t now, ds_cert_exam *out);

/* Releases what ds_certs_examine() filled in; `exam` is left empty. */
void ds_cert_exam_free(ds_cert_exam *exam);

/* Checks that the first certificate of cert_pem (the rest: intermediates)
 * verifies for serving TLS to `host` at time `now` against the CA
 * certificates of bundle_pem, as a TLS client trusting only them would
 * (the API server with a caBundle). Returns 0 when it does, or -1 with
 * *error set saying why not. */
int ds_certs_verify(const char *bundle_pem, const char *cert_pem, const char *host, time_t now, char **error);

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

/* The text a caBundle (or a Secret's data value) holds: `bundle` decoded
 * from base64. Returns a new NUL-terminated string the caller frees, or
 * NULL when `bundle` is not base64, decodes to bytes with a NUL among them,
 * or memory ran out. */
char *ds_ca_bundle_decode(const char *bundle);

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
