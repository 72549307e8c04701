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

#endif
