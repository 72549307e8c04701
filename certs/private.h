/* private.h - private to certs/: what the folder's files share. */
#ifndef DSGUARD_CERTS_PRIVATE_H
#define DSGUARD_CERTS_PRIVATE_H

#include "certs/certs.h"
#include "util/util.h"

#include <openssl/x509v3.h>

/* Like ds_fail(), with ": " and the oldest OpenSSL error of this
 * thread appended (ERR_error_string_n), or "unknown OpenSSL error" when
 * there is none. Clears the thread's OpenSSL error queue. Returns -1. */
int ds_certs_fail_ssl(char **error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The subjectAltName of the serving certificate for a request that passed
 * ds_certs_check_request(): the four Service names, then the hosts, each
 * name once. Returns a new list the caller frees with GENERAL_NAMES_free(),
 * or NULL with *error set. */
GENERAL_NAMES *ds_certs_alt_names(const ds_cert_request *req, char **error);

/* The validity a request asks for, in seconds. */
long ds_certs_validity(const ds_cert_request *req);

/* The PEM text of cert, or of key when cert is NULL, as a new string; NULL
 * on error. */
char *ds_certs_pem(X509 *cert, EVP_PKEY *key);

/* Wipes and frees a string holding a key. NULL is ignored. */
void ds_certs_free_secret(char *text);

/* The first certificate of the PEM text, or NULL (the OpenSSL error queue
 * says why). */
X509 *ds_certs_read_cert(const char *pem);

/* Every certificate of the PEM text, in order, as a new stack the caller
 * frees with sk_X509_pop_free(stack, X509_free) (empty when there is none),
 * or NULL out of memory. */
STACK_OF(X509) *ds_certs_read_certs(const char *pem);

/* A passphrase callback that refuses, so that an encrypted key is an error
 * and never a prompt on the terminal. */
int ds_certs_no_passphrase(char *buf, int size, int rwflag, void *data);

/* The unencrypted private key of the PEM text (an encrypted one is
 * refused, never prompted for), or NULL. */
EVP_PKEY *ds_certs_read_key(const char *pem);

/* Stores t as seconds since the epoch. Returns 0, or -1 when t is not a
 * valid time. */
int ds_certs_time(const ASN1_TIME *t, time_t *out);

#endif
