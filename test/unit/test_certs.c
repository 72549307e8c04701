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


/* ---- validity in seconds, the CA and the serving certificate apart ---- */

/* Seconds from notBefore to notAfter of cert. */
static double span_of(X509 *cert)
{
	int days, secs;
	assert_true(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert)));
	return (double)days * DAY + secs;
}

static void test_validity_in_seconds_backdates_a_tenth(void **state)
{
	ds_cert_request req = default_request();
	ds_cert_set set;
	X509 *ca, *tls;

	(void)state;
	req.seconds = 90;
	assert_int_equal(ds_certs_make(&req, &set, NULL), 0);
	ca = parse_cert(set.ca_cert);
	tls = parse_cert(set.tls_cert);
	/* valid from 9 s ago (a tenth of 90 s) until 90 s from now */
	assert_true(span_of(tls) >= 98 && span_of(tls) <= 100);
	assert_true(seconds_to(X509_get0_notAfter(tls)) > 85 && seconds_to(X509_get0_notAfter(tls)) <= 90);
	assert_true(seconds_to(X509_get0_notBefore(tls)) <= -8);
	assert_int_equal(verifies(ca, tls), 1);
	X509_free(tls);
	X509_free(ca);
	ds_cert_set_free(&set);
	/* days still backdate five minutes */
	req.seconds = 0;
	req.days = 1;
	assert_int_equal(ds_certs_make(&req, &set, NULL), 0);
	tls = parse_cert(set.tls_cert);
	assert_true(span_of(tls) >= DAY + 299 && span_of(tls) <= DAY + 301);
	X509_free(tls);
	ds_cert_set_free(&set);
}

static void test_seconds_out_of_range_are_refused(void **state)
{
	ds_cert_request req = default_request();
	ds_cert_set set = {0};
	char *error = NULL;

	(void)state;
	req.seconds = DS_CERT_MAX_SECONDS + 1;
	assert_int_equal(ds_certs_make(&req, &set, &error), -1);
	assert_non_null(strstr(error, "the validity must be from 1 to"));
	free(error);
	error = NULL;
	assert_int_equal(ds_certs_make_ca(DS_KEY_EC_P256, 0, &set, &error), -1);
	assert_non_null(strstr(error, "a CA must be valid from 1 to"));
	assert_null(set.ca_cert);
	free(error);
}

static void test_serving_from_an_existing_ca_never_outlives_it(void **state)
{
	ds_cert_request req = default_request();
	ds_cert_set set = {0};
	char *first_ca;
	X509 *ca, *tls;

	(void)state;
	assert_int_equal(ds_certs_make_ca(DS_KEY_EC_P256, 60, &set, NULL), 0);
	first_ca = strdup(set.ca_cert);
	req.seconds = 3600; /* longer than the CA */
	assert_int_equal(ds_certs_make_serving(&req, &set, NULL), 0);
	assert_string_equal(set.ca_cert, first_ca); /* the CA is kept */
	ca = parse_cert(set.ca_cert);
	tls = parse_cert(set.tls_cert);
	assert_int_equal(verifies(ca, tls), 1);
	assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(tls), X509_get0_notAfter(ca)), 0);
	X509_free(tls);
	X509_free(ca);
	free(first_ca);
	ds_cert_set_free(&set);
}

static void test_serving_needs_a_ca_and_its_key(void **state)
{
	ds_cert_request req = default_request();
	ds_cert_set a = {0}, b = {0};
	char *error = NULL, *key;

	(void)state;
	assert_int_equal(ds_certs_make_serving(&req, &a, &error), -1);
	assert_non_null(strstr(error, "cannot sign the serving certificate"));
	free(error);
	error = NULL;
	assert_int_equal(ds_certs_make_ca(DS_KEY_EC_P256, 600, &a, NULL), 0);
	assert_int_equal(ds_certs_make_ca(DS_KEY_EC_P256, 600, &b, NULL), 0);
	key = a.ca_key;
	a.ca_key = b.ca_key; /* another CA's key */
	b.ca_key = key;
	assert_int_equal(ds_certs_make_serving(&req, &a, &error), -1);
	assert_non_null(strstr(error, "do not belong together"));
	assert_null(a.tls_cert);
	free(error);
	ds_cert_set_free(&a);
	ds_cert_set_free(&b);
}

/* ---- examining material held in memory ---- */

/* A copy of s or NULL. */
static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* set's CA (its PEM) put after a fresh CA in ca_cert, with the fresh CA's
 * key: a CA rotation's first step. */
static void rotate_ca(ds_cert_set *set)
{
	ds_cert_set fresh = {0};
	char *both;

	assert_int_equal(ds_certs_make_ca(DS_KEY_EC_P256, 3600, &fresh, NULL), 0);
	assert_true(asprintf(&both, "%s%s", fresh.ca_cert, set->ca_cert) > 0);
	free(set->ca_cert);
	free(set->ca_key);
	set->ca_cert = both;
	set->ca_key = dup_or_null(fresh.ca_key);
	ds_cert_set_free(&fresh);
}

static void test_examine_good_material(void **state)
{
	ds_cert_request req = default_request();
	ds_cert_set set;
	ds_cert_exam e;
	X509 *ca, *tls;
	time_t now = time(NULL);

	(void)state;
	req.seconds = 600;
	assert_int_equal(ds_certs_make(&req, &set, NULL), 0);
	assert_int_equal(ds_certs_examine(&set, &req, now, &e), 0);
	assert_true(e.ca_ok);
	assert_true(e.tls_ok);
	assert_null(e.ca_problem);
	assert_null(e.tls_problem);
	assert_int_equal(e.ca_count, 1);
	assert_int_equal(e.issuer, 0);
	assert_true(e.names_ok);
	assert_string_equal(e.ca_pem, set.ca_cert);
	assert_string_equal(e.issuer_pem, set.ca_cert);
	ca = parse_cert(set.ca_cert);
	tls = parse_cert(set.tls_cert);
	assert_true(e.tls_not_after - now >= 595 && e.tls_not_after - now <= 600);
	assert_int_equal(e.tls_not_after - e.tls_not_before, (time_t)span_of(tls));
	assert_int_equal(e.ca_not_after - e.ca_not_before, (time_t)span_of(ca));
	X509_free(tls);
	X509_free(ca);
	ds_cert_exam_free(&e);
	assert_int_equal(e.issuer, -1);
	assert_null(e.ca_pem);
	ds_cert_set_free(&set);
}

static void test_examine_missing_and_mismatched(void **state)
{
	ds_cert_request req = default_request();
	ds_cert_set set, other, empty = {0};
	ds_cert_exam e;
	char *swap;

	(void)state;
	assert_int_equal(ds_certs_examine(&empty, &req, time(NULL), &e), 0);
	assert_false(e.ca_ok);
	assert_false(e.tls_ok);
	assert_int_equal(e.ca_count, 0);
	assert_string_equal(e.ca_problem, "ca.crt holds no PEM certificate");
	assert_string_equal(e.tls_problem, "tls.crt holds no PEM certificate");
	ds_cert_exam_free(&e);

	assert_int_equal(ds_certs_make(&req, &set, NULL), 0);
	assert_int_equal(ds_certs_make(&req, &other, NULL), 0);
	swap = set.ca_key; /* each CA with the other's key */
	set.ca_key = other.ca_key;
	other.ca_key = swap;
	assert_int_equal(ds_certs_examine(&set, &req, time(NULL), &e), 0);
	assert_false(e.ca_ok);
	assert_string_equal(e.ca_problem, "ca.key is not the key of the first certificate of ca.crt");
	assert_true(e.tls_ok); /* the pair is fine and chains to the CA */
	ds_cert_exam_free(&e);

	swap = set.tls_key; /* the serving key of another pair */
	set.tls_key = other.tls_key;
	other.tls_key = swap;
	assert_int_equal(ds_certs_examine(&set, &req, time(NULL), &e), 0);
	assert_false(e.tls_ok);
	assert_string_equal(e.tls_problem, "tls.key is not the key of tls.crt");
	ds_cert_exam_free(&e);

	free(set.ca_cert); /* the serving certificate of another CA */
	set.ca_cert = dup_or_null(other.ca_cert);
	free(set.tls_key);
	set.tls_key = NULL;
	assert_int_equal(ds_certs_examine(&set, &req, time(NULL), &e), 0);
	assert_false(e.tls_ok);
	assert_string_equal(e.tls_problem, "tls.key is missing or holds no unencrypted PEM private key");
	assert_int_equal(e.issuer, -1);
	assert_null(e.issuer_pem);
	ds_cert_exam_free(&e);
	ds_cert_set_free(&set);
	ds_cert_set_free(&other);
}

static void test_examine_finds_the_issuer_in_a_bundle(void **state)
{
	ds_cert_request req = default_request();
	ds_cert_set set;
	ds_cert_exam e;
	char *old_ca;

	(void)state;
	assert_int_equal(ds_certs_make(&req, &set, NULL), 0);
	old_ca = strdup(set.ca_cert);
	rotate_ca(&set);
	assert_int_equal(ds_certs_examine(&set, &req, time(NULL), &e), 0);
	assert_int_equal(e.ca_count, 2);
	assert_true(e.ca_ok); /* the new CA and its key */
	assert_true(e.tls_ok);
	assert_int_equal(e.issuer, 1); /* signed by the old one */
	assert_string_equal(e.issuer_pem, old_ca);
	assert_true(strcmp(e.ca_pem, old_ca) != 0);
	assert_int_equal(strncmp(set.ca_cert, e.ca_pem, strlen(e.ca_pem)), 0);
	ds_cert_exam_free(&e);
	free(old_ca);
	ds_cert_set_free(&set);
}

static void test_examine_names_and_time(void **state)
{
	ds_cert_request req = default_request(), other = default_request();
	ds_cert_set set;
	ds_cert_exam e;
	const char *hosts[] = {"dsguard.example.com"};

	(void)state;
	req.seconds = 600;
	assert_int_equal(ds_certs_make(&req, &set, NULL), 0);
	other.service = "admission";
	assert_int_equal(ds_certs_examine(&set, &other, time(NULL), &e), 0);
	assert_true(e.tls_ok);
	assert_false(e.names_ok);
	ds_cert_exam_free(&e);
	other = default_request();
	other.hosts = hosts;
	other.host_count = 1;
	assert_int_equal(ds_certs_examine(&set, &other, time(NULL), &e), 0);
	assert_false(e.names_ok); /* one more name than the certificate holds */
	ds_cert_exam_free(&e);
	/* an hour later the serving certificate has expired; the CA (10 min) too */
	assert_int_equal(ds_certs_examine(&set, &req, time(NULL) + 3600, &e), 0);
	assert_false(e.tls_ok);
	assert_non_null(strstr(e.tls_problem, "certificate has expired"));
	assert_false(e.ca_ok);
	assert_non_null(strstr(e.ca_problem, "is not valid now"));
	ds_cert_exam_free(&e);
	ds_cert_set_free(&set);
}

static void test_verify_as_a_ca_bundle_client(void **state)
{
	ds_cert_request req = default_request();
	ds_cert_set set, other;
	char *error = NULL, *both;

	(void)state;
	assert_int_equal(ds_certs_make(&req, &set, NULL), 0);
	assert_int_equal(ds_certs_make(&req, &other, NULL), 0);
	assert_int_equal(ds_certs_verify(set.ca_cert, set.tls_cert, "dsguard.dsguard.svc", time(NULL), &error), 0);
	assert_null(error);
	assert_int_equal(ds_certs_verify(set.ca_cert, set.tls_cert, "dsguard.other.svc", time(NULL), &error), -1);
	assert_string_equal(error, "hostname mismatch");
	free(error);
	error = NULL;
	assert_int_equal(ds_certs_verify(other.ca_cert, set.tls_cert, NULL, time(NULL), &error), -1);
	assert_string_equal(error, "unable to get local issuer certificate");
	free(error);
	error = NULL;
	assert_true(asprintf(&both, "%s%s", other.ca_cert, set.ca_cert) > 0);
	assert_int_equal(ds_certs_verify(both, set.tls_cert, "dsguard.dsguard.svc", time(NULL), &error), 0);
	assert_int_equal(ds_certs_verify("", set.tls_cert, NULL, time(NULL), &error), -1);
	assert_string_equal(error, "the bundle holds no PEM certificate");
	free(error);
	error = NULL;
	assert_int_equal(ds_certs_verify(set.ca_cert, set.tls_cert, NULL, time(NULL) + 2 * 365 * DAY, &error), -1);
	assert_string_equal(error, "certificate has expired");
	free(error);
	free(both);
	ds_cert_set_free(&set);
	ds_cert_set_free(&other);
}

static void test_ca_bundle_decodes_back(void **state)
{
	char *text;

	(void)state;
	text = ds_ca_bundle_decode("aGVsbG8=");
	assert_string_equal(text, "hello");
	free(text);
	text = ds_ca_bundle_decode("");
	assert_string_equal(text, "");
	free(text);
	assert_null(ds_ca_bundle_decode("not base64!"));
	assert_null(ds_ca_bundle_decode("aGVs\nbG8=x")); /* data after the padding */
	assert_null(ds_ca_bundle_decode("AGIA")); /* "\0b\0": a NUL in the text */
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
		cmocka_unit_test(test_validity_in_seconds_backdates_a_tenth),
		cmocka_unit_test(test_seconds_out_of_range_are_refused),
		cmocka_unit_test(test_serving_from_an_existing_ca_never_outlives_it),
		cmocka_unit_test(test_serving_needs_a_ca_and_its_key),
		cmocka_unit_test(test_examine_good_material),
		cmocka_unit_test(test_examine_missing_and_mismatched),
		cmocka_unit_test(test_examine_finds_the_issuer_in_a_bundle),
		cmocka_unit_test(test_examine_names_and_time),
		cmocka_unit_test(test_verify_as_a_ca_bundle_client),
		cmocka_unit_test(test_ca_bundle_decodes_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
