/* test_webhook_tls.c - the serving material serve loads (ds_tls_files_load):
 * the pairs GnuTLS accepts, the ones it refuses and why, and the expiry it
 * reads, checked against `openssl x509 -enddate`. The material is made here
 * with OpenSSL, a library the code under test does not use. */
#include "certs/certs.h"
#include "webhook/internal.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/helpers.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAY 86400L

/* How write_pair() writes the key. */
typedef enum { KEY_PLAIN, KEY_LEGACY_PLAIN, KEY_PKCS8_ENCRYPTED, KEY_LEGACY_ENCRYPTED } key_form;

static char *dir;

static int make_dir(void **state)
{
	(void)state;
	dir = temp_dir("tls");
	return 0;
}

static int remove_dir(void **state)
{
	(void)state;
	remove_tree(dir);
	return 0;
}

/* dir/name as a new string. */
static char *path_of(const char *name)
{
	return join(dir, name);
}

/* Writes dir/name.crt, a self-signed EC P-256 certificate valid until
 * not_after ("YYYYMMDDHHMMSSZ": UTCTime before 2050, GeneralizedTime from
 * then on, as RFC 5280 wants), and its key in dir/name.key in `form`
 * (PKCS#8, or OpenSSL's traditional "EC PRIVATE KEY"). */
static void write_pair(const char *name, const char *not_after, key_form form)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *cert = X509_new();
	char *cert_path, *key_path;
	FILE *fp;
	BIO *bio;

	assert_non_null(key);
	assert_true(asprintf(&cert_path, "%s/%s.crt", dir, name) > 0);
	assert_true(asprintf(&key_path, "%s/%s.key", dir, name) > 0);
	assert_true(X509_set_version(cert, X509_VERSION_3));
	assert_true(X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
					       (const unsigned char *)name, -1, -1, 0));
	assert_true(X509_set_issuer_name(cert, X509_get_subject_name(cert)));
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(cert), -2 * DAY));
	assert_true(ASN1_TIME_set_string_X509(X509_getm_notAfter(cert), not_after));
	assert_true(X509_set_pubkey(cert, key));
	assert_true(X509_sign(cert, key, EVP_sha256()));
	assert_non_null(fp = fopen(cert_path, "w"));
	assert_true(PEM_write_X509(fp, cert));
	assert_int_equal(fclose(fp), 0);
	assert_non_null(bio = BIO_new_file(key_path, "w"));
	if (form == KEY_PKCS8_ENCRYPTED)
		assert_true(PEM_write_bio_PKCS8PrivateKey(bio, key, EVP_aes_256_cbc(), NULL, 0, NULL,
							  (void *)"secret"));
	else if (form == KEY_LEGACY_ENCRYPTED)
		assert_true(PEM_write_bio_PrivateKey_traditional(bio, key, EVP_aes_256_cbc(), NULL, 0, NULL,
								 (void *)"secret"));
	else if (form == KEY_LEGACY_PLAIN)
		assert_true(PEM_write_bio_PrivateKey_traditional(bio, key, NULL, NULL, 0, NULL, NULL));
	else
		assert_true(PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL));
	assert_int_equal(BIO_free(bio), 1);
	free(key_path);
	free(cert_path);
	X509_free(cert);
	EVP_PKEY_free(key);
}

/* The expiry of the certificate at path as `openssl x509 -enddate` gives it. */
static time_t openssl_enddate(const char *path)
{
	char *cmd, line[128];
	struct tm tm = {0};
	FILE *p;

	assert_true(asprintf(&cmd, "openssl x509 -noout -enddate -in '%s'", path) > 0);
	assert_non_null(p = popen(cmd, "r"));
	assert_non_null(fgets(line, sizeof(line), p));
	assert_int_equal(pclose(p), 0);
	free(cmd);
	assert_true(strncmp(line, "notAfter=", 9) == 0);
	assert_non_null(strptime(line + 9, "%b %d %H:%M:%S %Y GMT", &tm));
	return timegm(&tm);
}

/* Loads cert and key (and ca when not NULL), which must be refused.
 * Returns the message (the caller frees it); *out is left empty. */
static char *refusal(const char *cert, const char *key, const char *ca)
{
	ds_tls_files files;
	char *error = NULL;

	assert_int_equal(ds_tls_files_load(cert, key, ca, &files, &error), -1);
	assert_non_null(error);
	assert_null(files.cert_pem);
	assert_null(files.key_pem);
	assert_null(files.client_ca_pem);
	return error;
}

/* Loads cert and key (and ca when not NULL), which must be refused with
 * exactly the message `want`. */
static void assert_refused(const char *cert, const char *key, const char *ca, const char *want)
{
	char *error = refusal(cert, key, ca);

	assert_string_equal(error, want);
	free(error);
}

/* The pairs `dsguard certs` makes (EC and RSA), alone and followed by
 * their CA, load as they are on disk, with the serving certificate's
 * expiry, and so does a client CA. */
static void test_matching_pairs_are_accepted(void **state)
{
	const char *const hosts[] = {"127.0.0.1"};
	ds_key_type types[] = {DS_KEY_EC_P256, DS_KEY_RSA_2048};
	ds_tls_files files;
	char *error = NULL, *chain_text;
	char *sub = path_of("made"), *cert = path_of("made/" DS_TLS_CERT_FILE), *key = path_of("made/" DS_TLS_KEY_FILE);
	char *ca = path_of("made/" DS_CA_CERT_FILE), *chain = path_of("chain.crt");

	(void)state;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		ds_cert_request req = {"dsguard", "dsguard", hosts, 1, 30, types[i], 0};
		ds_cert_set set;

		assert_int_equal(ds_certs_make(&req, &set, NULL), 0);
		assert_int_equal(ds_certs_write(sub, &set, true, NULL), 0);
		assert_true(asprintf(&chain_text, "%s%s", set.tls_cert, set.ca_cert) > 0);
		write_text(chain, chain_text);

		assert_int_equal(ds_tls_files_load(cert, key, ca, &files, &error), 0);
		assert_null(error);
		assert_string_equal(files.cert_pem, set.tls_cert);
		assert_string_equal(files.key_pem, set.tls_key);
		assert_string_equal(files.client_ca_pem, set.ca_cert);
		assert_int_equal(files.not_after, openssl_enddate(cert));
		ds_tls_files_free(&files);
		assert_null(files.key_pem);

		assert_int_equal(ds_tls_files_load(chain, key, NULL, &files, &error), 0);
		assert_string_equal(files.cert_pem, chain_text);
		assert_null(files.client_ca_pem);
		assert_int_equal(files.not_after, openssl_enddate(cert));
		ds_tls_files_free(&files);
		ds_tls_files_free(&files); /* safe on emptied files */
		free(chain_text);
		ds_cert_set_free(&set);
	}
	free(chain);
	free(ca);
	free(key);
	free(cert);
	free(sub);
}

/* A key in OpenSSL's traditional form ("EC PRIVATE KEY", as older tools
 * write it) is accepted too. */
static void test_a_traditional_key_is_accepted(void **state)
{
	char *cert = path_of("traditional.crt"), *key = path_of("traditional.key"), *text, *error = NULL;
	ds_tls_files files;

	(void)state;
	write_pair("traditional", "20991231000000Z", KEY_LEGACY_PLAIN);
	text = read_text(key);
	assert_non_null(strstr(text, "-----BEGIN EC PRIVATE KEY-----"));
	assert_int_equal(ds_tls_files_load(cert, key, NULL, &files, &error), 0);
	assert_string_equal(files.key_pem, text);
	ds_tls_files_free(&files);
	free(text);
	free(key);
	free(cert);
}

/* not_after is the certificate's notAfter, as OpenSSL reads it, in both
 * encodings, before and after 2038, in the past, and RFC 5280's "no
 * well-defined expiration" 99991231235959Z. */
static void test_expiry_matches_openssl(void **state)
{
	const char *const ends[] = {"20200229120000Z", "20380119031408Z", "20491231235959Z",
				    "20500101000000Z", "21060207062816Z", "99991231235959Z"};
	char *cert = path_of("end.crt"), *key = path_of("end.key");

	(void)state;
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		ds_tls_files files;
		char *error = NULL;

		write_pair("end", ends[i], KEY_PLAIN);
		assert_int_equal(ds_tls_files_load(cert, key, NULL, &files, &error), 0);
		if (files.not_after != openssl_enddate(cert))
			fail_msg("%s: not_after %lld, openssl says %lld", ends[i], (long long)files.not_after,
				 (long long)openssl_enddate(cert));
		ds_tls_files_free(&files);
	}
	free(key);
	free(cert);
}

static void test_a_key_of_another_certificate_is_refused(void **state)
{
	char *a = path_of("a.crt"), *b_key = path_of("b.key"), *want;

	(void)state;
	write_pair("a", "20991231000000Z", KEY_PLAIN);
	write_pair("b", "20991231000000Z", KEY_PLAIN);
	assert_true(asprintf(&want, "the key %s does not belong to the certificate %s; give --tls-key the key the "
				    "certificate was made for", b_key, a) > 0);
	assert_refused(a, b_key, NULL, want);
	free(want);
	free(b_key);
	free(a);
}

/* An encrypted key, PKCS#8 or OpenSSL's legacy PEM, is refused without a
 * passphrase being asked for. */
static void test_an_encrypted_key_is_refused(void **state)
{
	const char *const names[] = {"locked8", "lockedlegacy"};
	key_form forms[] = {KEY_PKCS8_ENCRYPTED, KEY_LEGACY_ENCRYPTED};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		char *cert, *key, *text, *want;

		write_pair(names[i], "20991231000000Z", forms[i]);
		assert_true(asprintf(&cert, "%s/%s.crt", dir, names[i]) > 0);
		assert_true(asprintf(&key, "%s/%s.key", dir, names[i]) > 0);
		text = read_text(key);
		assert_non_null(strstr(text, forms[i] == KEY_PKCS8_ENCRYPTED ? "BEGIN ENCRYPTED PRIVATE KEY"
									    : "Proc-Type: 4,ENCRYPTED"));
		assert_true(asprintf(&want, "%s: the private key is encrypted and dsguard never asks for a "
					    "passphrase; give --tls-key the key unencrypted "
					    "(openssl pkey -in %s -out FILE)",
				     key, key) > 0);
		assert_refused(cert, key, NULL, want);
		free(want);
		free(text);
		free(key);
		free(cert);
	}
}

static void test_files_that_are_not_a_certificate_are_refused(void **state)
{
	char *key = path_of("good.key"), *cert = path_of("good.crt"), *garbage = path_of("garbage.pem");
	char *empty = path_of("empty.pem"), *missing = path_of("missing.pem"), *want;

	(void)state;
	write_pair("good", "20991231000000Z", KEY_PLAIN);
	write_text(garbage, "not a certificate\n");
	write_text(empty, "");
	assert_true(asprintf(&want, "%s: no PEM certificate (No certificate was found.); --tls-cert needs the "
				    "serving certificate, then any intermediates, in PEM", garbage) > 0);
	assert_refused(garbage, key, NULL, want);
	free(want);
	assert_true(asprintf(&want, "%s: no PEM certificate (No certificate was found.); --tls-cert needs the "
				    "serving certificate, then any intermediates, in PEM", key) > 0);
	assert_refused(key, key, NULL, want);
	free(want);
	assert_true(asprintf(&want, "%s: the file is empty; --tls-cert needs the serving certificate, then any "
				    "intermediates, in PEM", empty) > 0);
	assert_refused(empty, key, NULL, want);
	free(want);
	assert_true(asprintf(&want, "%s: cannot open: No such file or directory", missing) > 0);
	assert_refused(missing, key, NULL, want);
	free(want);
	/* a certificate whose base64 is broken, then one whose DER is */
	write_text(garbage, "-----BEGIN CERTIFICATE-----\nMIIB!!!!\n-----END CERTIFICATE-----\n");
	want = refusal(garbage, key, NULL);
	assert_true(strncmp(want, garbage, strlen(garbage)) == 0);
	assert_non_null(strstr(want, ": no PEM certificate ("));
	free(want);
	write_text(garbage, "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n");
	want = refusal(garbage, key, NULL);
	assert_true(strncmp(want, garbage, strlen(garbage)) == 0);
	assert_non_null(strstr(want, ": no PEM certificate ("));
	free(want);
	free(missing);
	free(empty);
	free(garbage);
	free(cert);
	free(key);
}

static void test_files_that_are_not_a_key_are_refused(void **state)
{
	char *cert = path_of("good.crt"), *garbage = path_of("garbage.pem"), *empty = path_of("empty.pem");
	char *missing = path_of("missing.pem"), *want;

	(void)state;
	write_pair("good", "20991231000000Z", KEY_PLAIN);
	write_text(garbage, "not a key\n");
	write_text(empty, "");
	assert_true(asprintf(&want, "%s: no PEM private key (no -----BEGIN ... PRIVATE KEY----- line); --tls-key "
				    "needs the certificate's private key in PEM, unencrypted", garbage) > 0);
	assert_refused(cert, garbage, NULL, want);
	free(want);
	assert_true(asprintf(&want, "%s: no PEM private key (no -----BEGIN ... PRIVATE KEY----- line); --tls-key "
				    "needs the certificate's private key in PEM, unencrypted", cert) > 0);
	assert_refused(cert, cert, NULL, want);
	free(want);
	assert_true(asprintf(&want, "%s: the file is empty; --tls-key needs the certificate's private key in PEM, "
				    "unencrypted", empty) > 0);
	assert_refused(cert, empty, NULL, want);
	free(want);
	assert_true(asprintf(&want, "%s: cannot open: No such file or directory", missing) > 0);
	assert_refused(cert, missing, NULL, want);
	free(want);
	free(missing);
	free(empty);
	free(garbage);
	free(cert);
}

static void test_a_client_ca_that_is_not_a_certificate_is_refused(void **state)
{
	char *cert = path_of("good.crt"), *key = path_of("good.key"), *garbage = path_of("garbage.pem");
	char *empty = path_of("empty.pem"), *missing = path_of("missing.pem"), *want;
	const char *hint = "--client-ca needs the CA certificate(s) that sign the clients' certificates, in PEM";

	(void)state;
	write_pair("good", "20991231000000Z", KEY_PLAIN);
	write_text(garbage, "not a CA\n");
	write_text(empty, "");
	assert_true(asprintf(&want, "%s: no PEM certificate (No certificate was found.); %s", garbage, hint) > 0);
	assert_refused(cert, key, garbage, want);
	free(want);
	assert_true(asprintf(&want, "%s: no PEM certificate (No certificate was found.); %s", key, hint) > 0);
	assert_refused(cert, key, key, want);
	free(want);
	assert_true(asprintf(&want, "%s: the file is empty; %s", empty, hint) > 0);
	assert_refused(cert, key, empty, want);
	free(want);
	assert_true(asprintf(&want, "%s: cannot open: No such file or directory", missing) > 0);
	assert_refused(cert, key, missing, want);
	free(want);
	free(missing);
	free(empty);
	free(garbage);
	free(key);
	free(cert);
}

/* A pair held in memory (a Secret's) gets the same checks, its messages
 * naming the source and what tls.crt and tls.key must hold. */
static void test_a_pair_in_memory(void **state)
{
	ds_cert_request req = {"dsguard", "dsguard", NULL, 0, 30, DS_KEY_EC_P256, 0};
	ds_cert_set set, other;
	ds_tls_files files;
	char *error = NULL, *ca = path_of("memory-ca.crt"), *cert = path_of("memory.crt");

	(void)state;
	assert_int_equal(ds_certs_make(&req, &set, NULL), 0);
	assert_int_equal(ds_certs_make(&req, &other, NULL), 0);
	write_text(ca, set.ca_cert);
	write_text(cert, set.tls_cert);
	assert_int_equal(ds_tls_pem_load(set.tls_cert, set.tls_key, "Secret ns/tls", ca, &files, &error), 0);
	assert_null(error);
	assert_string_equal(files.cert_pem, set.tls_cert);
	assert_string_equal(files.client_ca_pem, set.ca_cert);
	assert_int_equal(files.not_after, openssl_enddate(cert));
	ds_tls_files_free(&files);

	assert_int_equal(ds_tls_pem_load(set.tls_cert, other.tls_key, "Secret ns/tls", NULL, &files, &error), -1);
	assert_string_equal(error, "the key Secret ns/tls tls.key does not belong to the certificate Secret ns/tls "
				   "tls.crt; give tls.key the key the certificate was made for");
	assert_null(files.cert_pem);
	free(error);
	assert_int_equal(ds_tls_pem_load(set.tls_cert, "", "Secret ns/tls", NULL, &files, &error), -1);
	assert_string_equal(error, "Secret ns/tls: tls.key is empty");
	free(error);
	assert_int_equal(ds_tls_pem_load(set.tls_key, set.tls_key, "Secret ns/tls", NULL, &files, &error), -1);
	assert_non_null(strstr(error, "Secret ns/tls tls.crt: no PEM certificate"));
	assert_non_null(strstr(error, "tls.crt needs the serving certificate"));
	free(error);
	write_text(ca, set.tls_key); /* a client CA file that holds no certificate */
	assert_int_equal(ds_tls_pem_load(set.tls_cert, set.tls_key, "Secret ns/tls", ca, &files, &error), -1);
	assert_non_null(strstr(error, "--client-ca needs"));
	free(error);
	ds_cert_set_free(&set);
	ds_cert_set_free(&other);
	free(ca);
	free(cert);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matching_pairs_are_accepted),
		cmocka_unit_test(test_a_traditional_key_is_accepted),
		cmocka_unit_test(test_expiry_matches_openssl),
		cmocka_unit_test(test_a_key_of_another_certificate_is_refused),
		cmocka_unit_test(test_an_encrypted_key_is_refused),
		cmocka_unit_test(test_files_that_are_not_a_certificate_are_refused),
		cmocka_unit_test(test_files_that_are_not_a_key_are_refused),
		cmocka_unit_test(test_a_client_ca_that_is_not_a_certificate_is_refused),
		cmocka_unit_test(test_a_pair_in_memory),
	};
	return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
