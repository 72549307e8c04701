/* test_certs.c - unit tests of certs/: making, writing, inspecting and
 * key-checking certificates, each result checked through OpenSSL itself. */
#include "certs/certs.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/helpers.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY 86400

static const char *const no_hosts[] = {NULL};

static ds_cert_request default_request(void)
{
	ds_cert_request req = {"dsguard", "dsguard", no_hosts, 0, 365, DS_KEY_EC_P256, 0};
	return req;
}

static X509 *parse_cert(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(cert);
	return cert;
}

static EVP_PKEY *parse_key(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(key);
	return key;
}

/* Whether leaf verifies against ca as the only trust anchor, for TLS serving. */
static int verifies(X509 *ca, X509 *leaf)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok;

	assert_true(X509_STORE_add_cert(store, ca));
	assert_true(X509_STORE_CTX_init(ctx, store, leaf, NULL));
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	ok = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

/* Seconds from now to t (negative in the past). */
static double seconds_to(const ASN1_TIME *t)
{
	int days, secs;
	assert_true(ASN1_TIME_diff(&days, &secs, NULL, t));
	return (double)days * DAY + secs;
}

static void test_make_ec_ca_and_serving(void **state)
{
	ds_cert_request req = default_request();
	ds_cert_set set;
	char *error = NULL;
	X509 *ca, *tls;
	EVP_PKEY *key;
	char group[64];

	(void)state;
	assert_int_equal(ds_certs_make(&req, &set, &error), 0);
	assert_null(error);
	ca = parse_cert(set.ca_cert);
	tls = parse_cert(set.tls_cert);
	key = parse_key(set.tls_key);
	assert_int_equal(X509_check_ca(ca), 1);
	assert_true(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN);
	assert_int_equal(X509_check_ca(tls), 0);
	assert_true(X509_get_extended_key_usage(tls) & XKU_SSL_SERVER);
	assert_int_equal(verifies(ca, tls), 1);
	assert_int_equal(X509_check_host(tls, "dsguard.dsguard.svc", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(tls, "other.dsguard.svc", 0, 0, NULL), 0);
	assert_int_equal(X509_check_private_key(tls, key), 1);
	assert_int_equal(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
	assert_true(EVP_PKEY_get_group_name(key, group, sizeof(group), NULL));
	assert_string_equal(group, "prime256v1");
	assert_true(seconds_to(X509_get0_notAfter(tls)) > 365.0 * DAY - 60);
	assert_true(seconds_to(X509_get0_notAfter(tls)) <= 365.0 * DAY);
	assert_true(seconds_to(X509_get0_notBefore(tls)) < 0);
	EVP_PKEY_free(key);
	X509_free(tls);
	X509_free(ca);
	ds_cert_set_free(&set);
	assert_null(set.tls_key);
}

static void test_make_rsa(void **state)
{
	ds_cert_request req = default_request();
	ds_cert_set set;
	char *error = NULL;
	EVP_PKEY *key;
	X509 *ca, *tls;

	(void)state;
	req.key_type = DS_KEY_RSA_2048;
	req.days = 1;
	assert_int_equal(ds_certs_make(&req, &set, &error), 0);
	key = parse_key(set.ca_key);
	assert_int_equal(EVP_PKEY_get_base_id(key), EVP_PKEY_RSA);
	assert_int_equal(EVP_PKEY_get_bits(key), 2048);
	ca = parse_cert(set.ca_cert);
	tls = parse_cert(set.tls_cert);
	assert_int_equal(verifies(ca, tls), 1);
	assert_true(seconds_to(X509_get0_notAfter(tls)) <= DAY);
	X509_free(tls);
	X509_free(ca);
	EVP_PKEY_free(key);
	ds_cert_set_free(&set);
}

/* Makes certificates for req into a fresh directory and inspects tls.crt. */
static void make_and_inspect(const ds_cert_request *req, ds_cert_info *info)
{
	char *dir = temp_dir("certs");
	char *out = join(dir, "out");
	char *tls = join(out, DS_TLS_CERT_FILE);
	char *error = NULL;
	ds_cert_set set;

	assert_int_equal(ds_certs_make(req, &set, &error), 0);
	assert_int_equal(ds_certs_write(out, &set, false, &error), 0);
	assert_int_equal(ds_cert_inspect(tls, info, &error), 0);
	assert_null(error);
	ds_cert_set_free(&set);
	free(tls);
	free(out);
	remove_tree(dir);
}

static void test_sans_in_order_once_with_ips(void **state)
{
	static const char *const hosts[] = {"webhook.example.com", "10.0.0.7", "fd00::1", "dsguard.dsguard",
					    "*.example.org", "webhook.example.com"};
	static const char *const want[] = {
		"DNS:dsguard", "DNS:dsguard.dsguard", "DNS:dsguard.dsguard.svc",
		"DNS:dsguard.dsguard.svc.cluster.local", "DNS:webhook.example.com", "IP:10.0.0.7",
		"IP:fd00::1", "DNS:*.example.org"};
	ds_cert_request req = default_request();
	ds_cert_info info;

	(void)state;
	req.hosts = hosts;
	req.host_count = sizeof(hosts) / sizeof(hosts[0]);
	make_and_inspect(&req, &info);
	assert_int_equal(info.san_count, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < info.san_count; i++)
		assert_string_equal(info.sans[i], want[i]);
	assert_string_equal(info.subject, "CN=dsguard.dsguard.svc,O=dsguard");
	assert_string_equal(info.issuer, "CN=dsguard webhook CA,O=dsguard");
	assert_false(info.is_ca);
	assert_true(info.not_after - time(NULL) <= 365L * DAY);
	assert_true(info.not_after - time(NULL) > 365L * DAY - 60);
	assert_true(info.not_before < time(NULL));
	ds_cert_info_free(&info);
	assert_null(info.sans);
}

static void test_service_and_namespace_names(void **state)
{
	ds_cert_request req = default_request();
	ds_cert_info info;

	(void)state;
	req.service = "admission";
	req.namespace = "kube-tools";
	make_and_inspect(&req, &info);
	assert_int_equal(info.san_count, 4);
	assert_string_equal(info.sans[0], "DNS:admission");
	assert_string_equal(info.sans[3], "DNS:admission.kube-tools.svc.cluster.local");
	assert_string_equal(info.subject, "CN=admission.kube-tools.svc,O=dsguard");
	ds_cert_info_free(&info);
}

static void test_long_names_fall_back_to_service_cn(void **state)
{
	char service[64], ns[64], want[80];
	ds_cert_request req = default_request();
	ds_cert_info info;

	(void)state;
	memset(service, 's', 63);
	service[63] = '\0';
	memset(ns, 'n', 63);
	ns[63] = '\0';
	req.service = service;
	req.namespace = ns;
	make_and_inspect(&req, &info);
	snprintf(want, sizeof(want), "CN=%s,O=dsguard", service);
	assert_string_equal(info.subject, want);
	ds_cert_info_free(&info);
}

/* ds_certs_check_request() refuses req with a message containing `want`. */
static void assert_refused(const ds_cert_request *req, const char *want)
{
	char *error = NULL;
	ds_cert_set set;

	assert_int_equal(ds_certs_check_request(req, &error), -1);
	assert_non_null(error);
	if (!strstr(error, want))
		fail_msg("'%s' does not contain '%s'", error, want);
	free(error);
	assert_int_equal(ds_certs_make(req, &set, NULL), -1);
	assert_null(set.ca_cert);
}

static void test_request_refusals(void **state)
{
	static const char *const bad_services[] = {"", "Dsguard", "9lives", "-a", "a-", "a.b", "a_b",
						   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	static const char *const bad_namespaces[] = {"", "Kube", "-x", "x.y",
						     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	static const char *const bad_hosts[] = {"", "a_b", "a..b", ".a", "a.", "-a.com", "a*.com", "*", "1.2.3.4/8",
						"a b"};
	ds_cert_request req;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_services) / sizeof(bad_services[0]); i++) {
		req = default_request();
		req.service = bad_services[i];
		assert_refused(&req, "is not a DNS label");
	}
	for (size_t i = 0; i < sizeof(bad_namespaces) / sizeof(bad_namespaces[0]); i++) {
		req = default_request();
		req.namespace = bad_namespaces[i];
		assert_refused(&req, "namespace");
	}
	for (size_t i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++) {
		req = default_request();
		req.hosts = &bad_hosts[i];
		req.host_count = 1;
		assert_refused(&req, bad_hosts[i][0] ? bad_hosts[i] : "empty");
	}
	req = default_request();
	req.days = 0;
	assert_refused(&req, "days must be from 1 to 3650, not 0");
	req.days = 3651;
	assert_refused(&req, "not 3651");
}

static void test_request_acceptances(void **state)
{
	static const char *const hosts[] = {"a", "Webhook.Example.COM", "*.apps.example.com", "::1",
					    "192.168.1.1", "x-1.y-2"};
	ds_cert_request req = default_request();
	char *error = NULL;

	(void)state;
	req.service = "a";
	req.namespace = "0-ns";
	req.hosts = hosts;
	req.host_count = sizeof(hosts) / sizeof(hosts[0]);
	req.days = 3650;
	assert_int_equal(ds_certs_check_request(&req, &error), 0);
	assert_null(error);
}

static void test_ca_bundle_is_base64_of_the_pem(void **state)
{
	ds_cert_request req = default_request();
	ds_cert_set set;
	char *bundle, *hello = ds_ca_bundle("hello");
	unsigned char *decoded;
	size_t pem_len;
	int n;

	(void)state;
	assert_string_equal(hello, "aGVsbG8=");
	free(hello);
	assert_int_equal(ds_certs_make(&req, &set, NULL), 0);
	bundle = ds_ca_bundle(set.ca_cert);
	assert_non_null(bundle);
	assert_null(strchr(bundle, '\n'));
	decoded = malloc(strlen(bundle));
	n = EVP_DecodeBlock(decoded, (const unsigned char *)bundle, (int)strlen(bundle));
	pem_len = strlen(set.ca_cert);
	assert_true(n >= (int)pem_len && n <= (int)pem_len + 2); /* DecodeBlock keeps padding as zero bytes */
	assert_memory_equal(decoded, set.ca_cert, pem_len);
	free(decoded);
	free(bundle);
	ds_cert_set_free(&set);
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static void test_write_files_and_modes(void **state)
{
	static const char *const names[] = {DS_CA_CERT_FILE, DS_CA_KEY_FILE, DS_TLS_CERT_FILE, DS_TLS_KEY_FILE};
	static const mode_t modes[] = {0644, 0600, 0644, 0600};
	char *dir = temp_dir("certs");
	char *parent = join(dir, "a");
	char *out = join(parent, "b");
	ds_cert_request req = default_request();
	ds_cert_set set;
	mode_t old = umask(022);

	(void)state;
	assert_int_equal(ds_certs_make(&req, &set, NULL), 0);
	assert_int_equal(ds_certs_write(out, &set, false, NULL), 0);
	assert_int_equal(mode_of(parent), 0700);
	assert_int_equal(mode_of(out), 0700);
	for (int i = 0; i < 4; i++) {
		char *path = join(out, names[i]);
		char *text = read_text(path);
		const char *want[] = {set.ca_cert, set.ca_key, set.tls_cert, set.tls_key};
		assert_int_equal(mode_of(path), modes[i]);
		assert_string_equal(text, want[i]);
		free(text);
		free(path);
	}
	umask(old);
	ds_cert_set_free(&set);
	free(out);
	free(parent);
	remove_tree(dir);
}

static void test_write_refuses_existing_and_force_replaces(void **state)
{
	char *dir = temp_dir("certs");
	char *key = join(dir, DS_TLS_KEY_FILE);
	char *ca = join(dir, DS_CA_CERT_FILE);
	ds_cert_request req = default_request();
	char *error = NULL, *text;
	ds_cert_set set;

	(void)state;
	write_text(key, "old");
	assert_int_equal(chmod(key, 0644), 0);
	assert_int_equal(ds_certs_make(&req, &set, NULL), 0);
	assert_int_equal(ds_certs_write(dir, &set, false, &error), 1);
	assert_non_null(strstr(error, key));
	assert_non_null(strstr(error, "already exists"));
	free(error);
	error = NULL;
	assert_int_equal(access(ca, F_OK), -1); /* nothing written */
	text = read_text(key);
	assert_string_equal(text, "old");
	free(text);
	assert_int_equal(ds_certs_write(dir, &set, true, &error), 0);
	assert_int_equal(mode_of(key), 0600);
	text = read_text(key);
	assert_string_equal(text, set.tls_key);
	free(text);
	ds_cert_set_free(&set);
	free(ca);
	free(key);
	remove_tree(dir);
}

static void test_write_never_follows_a_link(void **state)
{
	char *dir = temp_dir("certs");
	char *victim = join(dir, "victim");
	char *key = join(dir, DS_CA_KEY_FILE);
	ds_cert_request req = default_request();
	ds_cert_set set;
	char *text;

	(void)state;
	write_text(victim, "untouched");
	assert_int_equal(symlink(victim, key), 0);
	assert_int_equal(ds_certs_make(&req, &set, NULL), 0);
	assert_int_equal(ds_certs_write(dir, &set, false, NULL), 1);
	assert_int_equal(ds_certs_write(dir, &set, true, NULL), 0);
	text = read_text(victim);
	assert_string_equal(text, "untouched");
	free(text);
	assert_int_equal(mode_of(key), 0600);
	ds_cert_set_free(&set);
	free(key);
	free(victim);
	remove_tree(dir);
}

static void test_write_errors_name_the_path(void **state)
{
	char *dir = temp_dir("certs");
	char *file = join(dir, "file");
	char *below = join(file, "sub");
	ds_cert_request req = default_request();
	char *error = NULL;
	ds_cert_set set;

	(void)state;
	write_text(file, "x");
	assert_int_equal(ds_certs_make(&req, &set, NULL), 0);
	assert_int_equal(ds_certs_write(file, &set, false, &error), -1);
	assert_string_equal(error + strlen(file), ": not a directory");
	free(error);
	error = NULL;
	assert_int_equal(ds_certs_write(below, &set, false, &error), -1);
	assert_string_equal(error + strlen(below), ": cannot create the directory: Not a directory");
	free(error);
	error = NULL;
	assert_int_equal(ds_certs_write("", &set, false, &error), -1);
	assert_string_equal(error, "the directory name is empty");
	free(error);
	ds_cert_set_free(&set);
	free(below);
	free(file);
	remove_tree(dir);
}

/* The GENERAL_NAMES of a subjectAltName in OpenSSL's config syntax. */
static GENERAL_NAMES *names_from_conf(const char *conf)
{
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, NULL, NID_subject_alt_name, conf);
	GENERAL_NAMES *names;

	assert_non_null(ext);
	names = X509V3_EXT_d2i(ext);
	X509_EXTENSION_free(ext);
	assert_non_null(names);
	return names;
}

/* Writes to cert_path a self-signed EC certificate with subjectAltName
 * `names` (NULL: none; freed here), valid until `not_after` seconds from
 * now, and its key to key_path, encrypted with `passphrase` when not NULL. */
static void write_custom_cert(const char *cert_path, GENERAL_NAMES *names, long not_after, const char *key_path,
			      const char *passphrase)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *cert = X509_new();
	FILE *fp;

	assert_non_null(key);
	assert_true(X509_set_version(cert, X509_VERSION_3));
	assert_true(X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_UTF8,
					       (const unsigned char *)"custom", -1, -1, 0));
	assert_true(X509_set_issuer_name(cert, X509_get_subject_name(cert)));
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(cert), -2L * DAY));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(cert), not_after));
	assert_true(X509_set_pubkey(cert, key));
	if (names)
		assert_int_equal(X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT), 1);
	GENERAL_NAMES_free(names);
	assert_true(X509_sign(cert, key, EVP_sha256()));
	assert_non_null(fp = fopen(cert_path, "w"));
	assert_true(PEM_write_X509(fp, cert));
	assert_int_equal(fclose(fp), 0);
	assert_non_null(fp = fopen(key_path, "w"));
	if (passphrase)
		assert_true(PEM_write_PrivateKey(fp, key, EVP_aes_256_cbc(), (const unsigned char *)passphrase,
						 (int)strlen(passphrase), NULL, NULL));
	else
		assert_true(PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL));
	assert_int_equal(fclose(fp), 0);
	X509_free(cert);
	EVP_PKEY_free(key);
}

/* A fresh directory holding a written default set; the caller removes it. */
static char *written_set(ds_key_type type)
{
	char *dir = temp_dir("certs");
	ds_cert_request req = default_request();
	ds_cert_set set;

	req.key_type = type;
	assert_int_equal(ds_certs_make(&req, &set, NULL), 0);
	assert_int_equal(ds_certs_write(dir, &set, false, NULL), 0);
	ds_cert_set_free(&set);
	return dir;
}

static void test_inspect_expired_and_other_san_kinds(void **state)
{
	char *dir = temp_dir("certs");
	char *cert = join(dir, "expired.crt");
	char *key = join(dir, "expired.key");
	ds_cert_info info;
	time_t now = time(NULL);

	(void)state;
	write_custom_cert(cert, names_from_conf("URI:spiffe://cluster.local/ns/x,email:ops@example.com,"
						"RID:1.2.3.4,DNS:a.example,IP:192.0.2.1"),
			  -DAY, key, NULL);
	assert_int_equal(ds_cert_inspect(cert, &info, NULL), 0);
	assert_true(info.not_after <= now - DAY && info.not_after > now - DAY - 60);
	assert_true(info.not_before <= now - 2 * DAY && info.not_before > now - 2 * DAY - 60);
	assert_int_equal(info.san_count, 4);
	assert_string_equal(info.sans[0], "URI:spiffe://cluster.local/ns/x");
	assert_string_equal(info.sans[1], "email:ops@example.com");
	assert_string_equal(info.sans[2], "DNS:a.example");
	assert_string_equal(info.sans[3], "IP:192.0.2.1");
	assert_string_equal(info.subject, "CN=custom");
	ds_cert_info_free(&info);
	free(key);
	free(cert);
	remove_tree(dir);
}

static void test_inspect_shows_control_bytes_as_question_marks(void **state)
{
	char *dir = temp_dir("certs");
	char *cert = join(dir, "odd.crt");
	char *key = join(dir, "odd.key");
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gen = GENERAL_NAME_new();
	ASN1_IA5STRING *dns = ASN1_IA5STRING_new();
	ds_cert_info info;

	(void)state;
	assert_true(ASN1_STRING_set(dns, "evil\0.example\n", 14));
	GENERAL_NAME_set0_value(gen, GEN_DNS, dns);
	assert_true(sk_GENERAL_NAME_push(names, gen));
	write_custom_cert(cert, names, DAY, key, NULL);
	assert_int_equal(ds_cert_inspect(cert, &info, NULL), 0);
	assert_int_equal(info.san_count, 1);
	assert_string_equal(info.sans[0], "DNS:evil?.example?");
	ds_cert_info_free(&info);
	free(key);
	free(cert);
	remove_tree(dir);
}

static void test_inspect_ca_and_no_sans(void **state)
{
	char *dir = written_set(DS_KEY_EC_P256);
	char *ca = join(dir, DS_CA_CERT_FILE);
	ds_cert_info info;

	(void)state;
	assert_int_equal(ds_cert_inspect(ca, &info, NULL), 0);
	assert_true(info.is_ca);
	assert_int_equal(info.san_count, 0);
	assert_null(info.sans);
	assert_string_equal(info.subject, info.issuer);
	ds_cert_info_free(&info);
	ds_cert_info_free(&info); /* safe on an empty info */
	free(ca);
	remove_tree(dir);
}

static void test_inspect_errors_name_the_file(void **state)
{
	char *dir = temp_dir("certs");
	char *missing = join(dir, "missing.crt");
	char *garbage = join(dir, "garbage.crt");
	char *error = NULL;
	ds_cert_info info;

	(void)state;
	write_text(garbage, "not a certificate\n");
	assert_int_equal(ds_cert_inspect(missing, &info, &error), -1);
	assert_string_equal(error + strlen(missing), ": cannot open: No such file or directory");
	assert_null(info.subject);
	free(error);
	error = NULL;
	assert_int_equal(ds_cert_inspect(garbage, &info, &error), -1);
	assert_non_null(strstr(error, garbage));
	assert_non_null(strstr(error, "no start line"));
	free(error);
	assert_int_equal(ds_cert_inspect(garbage, &info, NULL), -1);
	free(garbage);
	free(missing);
	remove_tree(dir);
}

/* ds_cert_key_check(cert, key) returns want, with an error containing each
 * of the non-NULL texts. */
static void assert_key_check(const char *cert, const char *key, int want, const char *text1, const char *text2)
{
	char *error = NULL;

	assert_int_equal(ds_cert_key_check(cert, key, &error), want);
	if (want == 0) {
		assert_null(error);
		return;
	}
	assert_non_null(error);
	if (text1 && !strstr(error, text1))
		fail_msg("'%s' does not contain '%s'", error, text1);
	if (text2 && !strstr(error, text2))
		fail_msg("'%s' does not contain '%s'", error, text2);
	free(error);
}

static void test_key_check(void **state)
{
	char *ec = written_set(DS_KEY_EC_P256);
	char *rsa = written_set(DS_KEY_RSA_2048);
	char *tls = join(ec, DS_TLS_CERT_FILE), *tls_key = join(ec, DS_TLS_KEY_FILE);
	char *ca_key = join(ec, DS_CA_KEY_FILE), *rsa_key = join(rsa, DS_TLS_KEY_FILE);
	char *rsa_tls = join(rsa, DS_TLS_CERT_FILE), *missing = join(ec, "missing.key");
	char *locked_cert = join(ec, "locked.crt"), *locked_key = join(ec, "locked.key");

	(void)state;
	assert_key_check(tls, tls_key, 0, NULL, NULL);
	assert_key_check(rsa_tls, rsa_key, 0, NULL, NULL);
	assert_key_check(tls, ca_key, 1, ca_key, "key values mismatch");
	assert_key_check(tls, rsa_key, 1, rsa_key, tls);
	assert_key_check(tls, missing, -1, missing, "No such file or directory");
	assert_key_check(missing, tls_key, -1, missing, "No such file or directory");
	assert_key_check(tls, tls, -1, tls, "private key");
	write_custom_cert(locked_cert, NULL, DAY, locked_key, "secret");
	assert_key_check(locked_cert, locked_key, -1, locked_key, "unencrypted");
	assert_int_equal(ds_cert_key_check(tls, ca_key, NULL), 1);
	free(locked_key);
	free(locked_cert);
	free(missing);
	free(rsa_tls);
	free(rsa_key);
	free(ca_key);
	free(tls_key);
	free(tls);
	remove_tree(rsa);
	remove_tree(ec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_make_ec_ca_and_serving),
		cmocka_unit_test(test_make_rsa),
		cmocka_unit_test(test_sans_in_order_once_with_ips),
		cmocka_unit_test(test_service_and_namespace_names),
		cmocka_unit_test(test_long_names_fall_back_to_service_cn),
		cmocka_unit_test(test_request_refusals),
		cmocka_unit_test(test_request_acceptances),
		cmocka_unit_test(test_ca_bundle_is_base64_of_the_pem),
		cmocka_unit_test(test_write_files_and_modes),
		cmocka_unit_test(test_write_refuses_existing_and_force_replaces),
		cmocka_unit_test(test_write_never_follows_a_link),
		cmocka_unit_test(test_write_errors_name_the_path),
		cmocka_unit_test(test_inspect_expired_and_other_san_kinds),
		cmocka_unit_test(test_inspect_shows_control_bytes_as_question_marks),
		cmocka_unit_test(test_inspect_ca_and_no_sans),
		cmocka_unit_test(test_inspect_errors_name_the_file),
		cmocka_unit_test(test_key_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
