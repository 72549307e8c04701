/* examine.c - what a CA bundle, its key and a serving pair held in memory
 * (a kubernetes.io/tls Secret's) are good for, and verification as a TLS
 * client trusting a caBundle does it. */
#include "certs/private.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the examination reads once and frees at the end. */
struct parsed {
	STACK_OF(X509) *cas;   /* ca_cert's certificates */
	EVP_PKEY *ca_key;
	STACK_OF(X509) *chain; /* tls_cert's certificates: the leaf first */
	EVP_PKEY *tls_key;
};

/* Sets *problem to a new printf-formatted message (a static one out of
 * memory), unless it holds one already. */
static void set_problem(char **problem, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_problem(char **problem, const char *fmt, ...)
{
	va_list ap;

	if (*problem)
		return;
	va_start(ap, fmt);
	*problem = ds_vformat(fmt, ap);
	va_end(ap);
}

/* Whether cert is valid at `now` (notBefore <= now <= notAfter). */
static bool valid_at(X509 *cert, time_t now)
{
	return X509_cmp_time(X509_get0_notBefore(cert), &now) <= 0 && X509_cmp_time(X509_get0_notAfter(cert), &now) >= 0;
}

/* Verifies leaf (with `untrusted` intermediates) for serving TLS at `now`,
 * for `host` when it is not NULL, trusting only the certificates of
 * `anchors` from `first` to `last`. Returns X509_V_OK or the X509_V_ERR_*
 * code, or -1 out of memory. */
static int verify_leaf(X509 *leaf, STACK_OF(X509) *untrusted, STACK_OF(X509) *anchors, int first, int last,
		       const char *host, time_t now)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *param;
	int rc = -1;

	if (!store || !ctx)
		goto done;
	for (int i = first; i <= last; i++)
		if (!X509_STORE_add_cert(store, sk_X509_value(anchors, i)))
			goto done;
	if (!X509_STORE_CTX_init(ctx, store, leaf, untrusted))
		goto done;
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_time(param, now);
	if (host && !X509_VERIFY_PARAM_set1_host(param, host, 0))
		goto done;
	if (X509_verify_cert(ctx) == 1)
		rc = X509_V_OK;
	else if ((rc = X509_STORE_CTX_get_error(ctx)) == X509_V_OK)
		rc = X509_V_ERR_UNSPECIFIED;
done:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return rc;
}

/* Reads the set into p. Returns 0, or -1 out of memory. */
static int parse(const ds_cert_set *set, struct parsed *p)
{
	memset(p, 0, sizeof(*p));
	p->cas = ds_certs_read_certs(set->ca_cert ? set->ca_cert : "");
	p->chain = ds_certs_read_certs(set->tls_cert ? set->tls_cert : "");
	p->ca_key = set->ca_key ? ds_certs_read_key(set->ca_key) : NULL;
	p->tls_key = set->tls_key ? ds_certs_read_key(set->tls_key) : NULL;
	ERR_clear_error();
	return p->cas && p->chain ? 0 : -1;
}

static void parsed_free(struct parsed *p)
{
	sk_X509_pop_free(p->cas, X509_free);
	sk_X509_pop_free(p->chain, X509_free);
	EVP_PKEY_free(p->ca_key);
	EVP_PKEY_free(p->tls_key);
	ERR_clear_error();
}

/* Fills the CA half of the examination. Returns 0, or -1 out of memory. */
static int examine_ca(const struct parsed *p, time_t now, ds_cert_exam *out)
{
	X509 *ca = out->ca_count ? sk_X509_value(p->cas, 0) : NULL;

	if (!ca) {
		set_problem(&out->ca_problem, "ca.crt holds no PEM certificate");
		return out->ca_problem ? 0 : -1;
	}
	if (!(out->ca_pem = ds_certs_pem(ca, NULL)) || ds_certs_time(X509_get0_notBefore(ca), &out->ca_not_before) ||
	    ds_certs_time(X509_get0_notAfter(ca), &out->ca_not_after))
		set_problem(&out->ca_problem, "the first certificate of ca.crt cannot be read");
	if (X509_check_ca(ca) < 1)
		set_problem(&out->ca_problem, "the first certificate of ca.crt is not a CA");
	if (!valid_at(ca, now))
		set_problem(&out->ca_problem, "the CA of ca.crt is not valid now (valid from %lld to %lld)",
			    (long long)out->ca_not_before, (long long)out->ca_not_after);
	if (!p->ca_key)
		set_problem(&out->ca_problem, "ca.key is missing or holds no unencrypted PEM private key");
	else if (X509_check_private_key(ca, p->ca_key) != 1)
		set_problem(&out->ca_problem, "ca.key is not the key of the first certificate of ca.crt");
	ERR_clear_error();
	out->ca_ok = !out->ca_problem;
	return out->ca_ok || out->ca_problem ? 0 : -1;
}

/* Whether cert's subjectAltName holds every name req asks for. */
static bool names_covered(X509 *cert, const ds_cert_request *req)
{
	char *error = NULL;
	GENERAL_NAMES *want = ds_certs_alt_names(req, &error);
	GENERAL_NAMES *have = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	bool all = want && have;

	for (int i = 0; all && i < sk_GENERAL_NAME_num(want); i++) {
		bool found = false;
		for (int j = 0; !found && j < sk_GENERAL_NAME_num(have); j++)
			found = !GENERAL_NAME_cmp(sk_GENERAL_NAME_value(want, i), sk_GENERAL_NAME_value(have, j));
		all = found;
	}
	GENERAL_NAMES_free(want);
	GENERAL_NAMES_free(have);
	free(error);
	ERR_clear_error();
	return all;
}

/* Finds the CA of the bundle the leaf chains to; sets out->issuer, or a
 * problem naming why it chains to none. Returns 0, or -1 out of memory. */
static int find_issuer(const struct parsed *p, X509 *leaf, STACK_OF(X509) *untrusted, time_t now, ds_cert_exam *out)
{
	int first_error = X509_V_OK;

	for (int i = 0; i < (int)out->ca_count; i++) {
		int rc = verify_leaf(leaf, untrusted, p->cas, i, i, NULL, now);
		if (rc < 0)
			return -1;
		if (rc == X509_V_OK) {
			out->issuer = i;
			out->issuer_pem = ds_certs_pem(sk_X509_value(p->cas, i), NULL);
			return out->issuer_pem ? 0 : -1;
		}
		if (i == 0)
			first_error = rc;
	}
	if (out->ca_count == 0)
		set_problem(&out->tls_problem, "there is no CA in ca.crt to verify tls.crt with");
	else
		set_problem(&out->tls_problem, "tls.crt does not verify against ca.crt: %s",
			    X509_verify_cert_error_string(first_error));
	return 0;
}

/* Fills the serving half of the examination. Returns 0, or -1 out of memory. */
static int examine_tls(const struct parsed *p, const ds_cert_request *req, time_t now, ds_cert_exam *out)
{
	X509 *leaf = sk_X509_num(p->chain) ? sk_X509_value(p->chain, 0) : NULL;
	STACK_OF(X509) *untrusted;
	int rc = 0;

	if (!leaf) {
		set_problem(&out->tls_problem, "tls.crt holds no PEM certificate");
		return out->tls_problem ? 0 : -1;
	}
	if (ds_certs_time(X509_get0_notBefore(leaf), &out->tls_not_before) ||
	    ds_certs_time(X509_get0_notAfter(leaf), &out->tls_not_after))
		set_problem(&out->tls_problem, "tls.crt cannot be read");
	out->names_ok = names_covered(leaf, req);
	if (!p->tls_key)
		set_problem(&out->tls_problem, "tls.key is missing or holds no unencrypted PEM private key");
	else if (X509_check_private_key(leaf, p->tls_key) != 1)
		set_problem(&out->tls_problem, "tls.key is not the key of tls.crt");
	ERR_clear_error();
	untrusted = sk_X509_dup(p->chain);
	if (!untrusted)
		return -1;
	(void)sk_X509_shift(untrusted); /* the leaf: the rest are intermediates */
	rc = find_issuer(p, leaf, untrusted, now, out);
	sk_X509_free(untrusted);
	out->tls_ok = rc == 0 && !out->tls_problem;
	return rc == 0 && (out->tls_ok || out->tls_problem) ? 0 : -1;
}

int ds_certs_examine(const ds_cert_set *set, const ds_cert_request *req, time_t now, ds_cert_exam *out)
{
	struct parsed p;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	out->issuer = -1;
	if (parse(set, &p) == 0) {
		out->ca_count = (size_t)sk_X509_num(p.cas);
		rc = examine_ca(&p, now, out) == 0 && examine_tls(&p, req, now, out) == 0 ? 0 : -1;
	}
	parsed_free(&p);
	if (rc)
		ds_cert_exam_free(out);
	return rc;
}

void ds_cert_exam_free(ds_cert_exam *exam)
{
	free(exam->ca_problem);
	free(exam->ca_pem);
	free(exam->tls_problem);
	free(exam->issuer_pem);
	memset(exam, 0, sizeof(*exam));
	exam->issuer = -1;
}

int ds_certs_verify(const char *bundle_pem, const char *cert_pem, const char *host, time_t now, char **error)
{
	STACK_OF(X509) *anchors = ds_certs_read_certs(bundle_pem);
	STACK_OF(X509) *chain = ds_certs_read_certs(cert_pem);
	int rc = -1;

	if (!anchors || !chain)
		ds_fail(error, "out of memory");
	else if (sk_X509_num(anchors) == 0)
		ds_fail(error, "the bundle holds no PEM certificate");
	else if (sk_X509_num(chain) == 0)
		ds_fail(error, "no PEM certificate to verify");
	else {
		X509 *leaf = sk_X509_shift(chain);
		int v = verify_leaf(leaf, chain, anchors, 0, sk_X509_num(anchors) - 1, host, now);
		if (v == X509_V_OK)
			rc = 0;
		else
			ds_fail(error, "%s", v < 0 ? "out of memory" : X509_verify_cert_error_string(v));
		X509_free(leaf);
	}
	sk_X509_pop_free(anchors, X509_free);
	sk_X509_pop_free(chain, X509_free);
	ERR_clear_error();
	return rc;
}
