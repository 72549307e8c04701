/* test_kube_config.c - kubeconfig parsing (good and bad files, error positions), in-cluster config, base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kube/private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* base64 of "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" */
#define PEM_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
#define PEM_TEXT "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

static char tmpdir[64];

static int make_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/dsguard-kubecfg-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes text to tmpdir/name; returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Loads text as a kubeconfig; expects failure with an error that ends with
 * `want` after "path:". */
static void expect_error(const char *text, const char *context, const char *want)
{
	const char *path = write_file("config", text);
	kube_config cfg;
	char *error = NULL;
	size_t n = strlen(path);

	assert_int_equal(kube_config_load(path, context, &cfg, &error), -1);
	assert_non_null(error);
	if (strncmp(error, path, n) || strcmp(error + n, want)) {
		print_error("got:  %s\nwant: %s%s\n", error, path, want);
		fail();
	}
	assert_null(cfg.server);
	free(error);
}

static const char good[] =
	"apiVersion: v1\n"
	"kind: Config\n"
	"preferences: {}\n"
	"current-context: dev\n"
	"clusters:\n"
	"- name: dev-cluster\n"
	"  cluster:\n"
	"    server: https://dev.example:6443/\n"
	"    certificate-authority-data: " PEM_B64 "\n"
	"- name: prod-cluster\n"
	"  cluster:\n"
	"    server: https://prod.example\n"
	"    insecure-skip-tls-verify: true\n"
	"    proxy-url: http://proxy:3128\n"
	"contexts:\n"
	"- name: dev\n"
	"  context: {cluster: dev-cluster, user: dev-user, namespace: agents}\n"
	"- name: prod\n"
	"  context:\n"
	"    cluster: prod-cluster\n"
	"    user: prod-user\n"
	"users:\n"
	"- name: dev-user\n"
	"  user:\n"
	"    token: abc.def\n"
	"    extensions: [{name: x, extension: {}}]\n"
	"- name: prod-user\n"
	"  user:\n"
	"    client-certificate-data: " PEM_B64 "\n"
	"    client-key-data: " PEM_B64 "\n";

static void test_current_context(void **state)
{
	const char *path = write_file("config", good);
	kube_config cfg;
	char *error = NULL;

	(void)state;
	assert_int_equal(kube_config_load(path, NULL, &cfg, &error), 0);
	assert_null(error);
	assert_string_equal(cfg.context, "dev");
	assert_string_equal(cfg.server, "https://dev.example:6443");
	assert_string_equal(cfg.namespace, "agents");
	assert_string_equal(cfg.token, "abc.def");
	assert_int_equal(cfg.ca_len, strlen(PEM_TEXT));
	assert_memory_equal(cfg.ca_data, PEM_TEXT, cfg.ca_len);
	assert_false(cfg.insecure);
	assert_null(cfg.cert_data);
	kube_config_free(&cfg);
	assert_null(cfg.server);
}

static void test_named_context(void **state)
{
	const char *path = write_file("config", good);
	kube_config cfg;
	char *error = NULL;

	(void)state;
	assert_int_equal(kube_config_load(path, "prod", &cfg, &error), 0);
	assert_string_equal(cfg.server, "https://prod.example");
	assert_true(cfg.insecure);
	assert_string_equal(cfg.proxy, "http://proxy:3128");
	assert_null(cfg.token);
	assert_null(cfg.namespace);
	assert_int_equal(cfg.cert_len, strlen(PEM_TEXT));
	assert_int_equal(cfg.key_len, strlen(PEM_TEXT));
	kube_config_free(&cfg);
}

/* Relative file names are taken from the kubeconfig's directory. */
static void test_relative_files(void **state)
{
	const char *path;
	kube_config cfg;
	char *error = NULL, want[256];

	(void)state;
	write_file("ca.pem", PEM_TEXT);
	write_file("tok", "secret\n");
	write_file("c.pem", PEM_TEXT);
	write_file("k.pem", PEM_TEXT);
	path = write_file("config", "current-context: x\n"
				    "contexts: [{name: x, context: {cluster: c, user: u}}]\n"
				    "clusters: [{name: c, cluster: {server: 'http://localhost:8001', "
				    "certificate-authority: ca.pem}}]\n"
				    "users: [{name: u, user: {tokenFile: tok, client-certificate: c.pem, client-key: k.pem}}]\n");
	assert_int_equal(kube_config_load(path, NULL, &cfg, &error), 0);
	snprintf(want, sizeof(want), "%s/ca.pem", tmpdir);
	assert_string_equal(cfg.ca_file, want);
	snprintf(want, sizeof(want), "%s/tok", tmpdir);
	assert_string_equal(cfg.token_file, want);
	snprintf(want, sizeof(want), "%s/k.pem", tmpdir);
	assert_string_equal(cfg.key_file, want);
	assert_string_equal(cfg.server, "http://localhost:8001");
	kube_config_free(&cfg);
}

static void test_no_user(void **state)
{
	const char *path = write_file("config", "current-context: x\n"
						"contexts: [{name: x, context: {cluster: c}}]\n"
						"clusters: [{name: c, cluster: {server: 'https://h'}}]\n");
	kube_config cfg;
	char *error = NULL;

	(void)state;
	assert_int_equal(kube_config_load(path, NULL, &cfg, &error), 0);
	assert_null(cfg.token);
	assert_null(cfg.token_file);
	kube_config_free(&cfg);
}

#define CTX "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"

static void test_bad_files(void **state)
{
	(void)state;
	expect_error(CTX "clusters:\n- name: c\n  cluster:\n    insecure-skip-tls-verify: true\n",
		     NULL, ":6:5: clusters[0].cluster: has no server");
	expect_error(CTX "clusters:\n- name: c\n  cluster:\n    server: https://h\n"
		     "    certificate-authority-data: '%%%%'\n",
		     NULL, ":7:33: certificate-authority-data: is not base64-encoded PEM (in clusters[0].cluster)");
	expect_error(CTX "clusters: [{name: c, cluster: {server: https://h}}]\n"
		     "users:\n- name: u\n  user:\n    exec:\n      command: aws\n",
		     NULL, ":8:7: exec: is not supported by dsguard (in users[0].user): use a token, a tokenFile or a "
			   "client certificate");
	expect_error("contexts: []\n", NULL, ": no current-context; name a context");
	expect_error(CTX, "other", ": no context named \"other\" in contexts");
	expect_error(CTX "clusters: []\n", NULL, ":2:41: cluster: no cluster named \"c\" in clusters");
	expect_error(CTX "clusters: [{name: c, cluster: {server: https://h}}]\nusers: []\n", NULL,
		     ":2:50: user: no user named \"u\" in users");
	expect_error("current-context: x\nclusters: [\n", NULL,
		     ":3:1: did not find expected node content while parsing a flow node at line 3 column 1");
	expect_error(CTX "clusters: [{name: c, cluster: {server: https://h, insecure-skip-tls-verify: 'true'}}]\n",
		     NULL, ":3:77: insecure-skip-tls-verify: must be true or false (in clusters[0].cluster)");
	expect_error(CTX "clusters: [{name: c, cluster: {server: ftp://h}}]\n", NULL,
		     ":3:40: server: must be an https:// or http:// URL, not \"ftp://h\"");
	expect_error(CTX "clusters: [{name: c, cluster: {server: https://h, tls-server-name: n}}]\n", NULL,
		     ":3:68: tls-server-name: is not supported by dsguard");
	expect_error(CTX "clusters: {c: 1}\n", NULL, ":3:11: clusters: must be a list");
	expect_error(CTX "clusters: [{name: c, cluster: {server: [https://h]}}]\n", NULL,
		     ":3:40: server: must be a string (in clusters[0].cluster)");
}

/* A missing file names itself; the message holds the resolved path. */
static void test_missing_referenced_file(void **state)
{
	const char *path = write_file("config", CTX "clusters: [{name: c, cluster: {server: https://h, "
						    "certificate-authority: nope.pem}}]\n");
	kube_config cfg;
	char *error = NULL;

	(void)state;
	assert_int_equal(kube_config_load(path, NULL, &cfg, &error), -1);
	assert_non_null(strstr(error, ":3:74: certificate-authority: cannot read "));
	assert_non_null(strstr(error, "/nope.pem"));
	free(error);
}

static void test_more_bad_files(void **state)
{
	(void)state;
	expect_error(CTX "clusters: [{name: c, cluster: {server: https://h}}]\n"
		     "users: [{name: u, user: {client-certificate-data: " PEM_B64 "}}]\n",
		     NULL, ":4:25: users[0].user: a client certificate needs its key, and a key its certificate");
	expect_error(CTX "clusters: [{name: c, cluster: {server: https://h}}]\n"
		     "users: [{name: u, user: {token: 'a b'}}]\n", NULL, ":4:33: token: holds spaces or control characters");
	expect_error(CTX "clusters: [{name: c, cluster: &a {server: https://h}}]\nx: *a\n", NULL,
		     ":4:1: anchors and aliases are not supported in a kubeconfig");
	expect_error(CTX "clusters: [{name: c, cluster: {server: https://h, certificate-authority-data: " PEM_B64
		     ", insecure-skip-tls-verify: true}}]\n", NULL,
		     ":3:187: insecure-skip-tls-verify: cannot be combined with a certificate authority");
	expect_error("", NULL, ": empty");
	expect_error("- a\n- b\n", NULL, ":1:1: (top): a kubeconfig must be a map");
	expect_error(CTX "clusters: [{name: c, cluster: 5}]\n", NULL, ":3:31: clusters[0].cluster: must be a map");
}

static void test_missing_file(void **state)
{
	kube_config cfg;
	char *error = NULL;

	(void)state;
	assert_int_equal(kube_config_load("/nonexistent/kubeconfig", NULL, &cfg, &error), -1);
	assert_string_equal(error, "/nonexistent/kubeconfig: cannot open: No such file or directory");
	free(error);
}

static void test_base64(void **state)
{
	size_t len = 0;
	unsigned char *out;

	(void)state;
	out = kube_base64_decode("aGVsbG8=", &len);
	assert_int_equal(len, 5);
	assert_memory_equal(out, "hello", 5);
	free(out);
	out = kube_base64_decode(" aGVs\nbG8h ", &len);
	assert_int_equal(len, 6);
	assert_memory_equal(out, "hello!", 6);
	free(out);
	out = kube_base64_decode("aGk=", &len);
	assert_int_equal(len, 2);
	free(out);
	assert_null(kube_base64_decode("aGVsbG8", &len));
	assert_null(kube_base64_decode("a$==", &len));
	assert_null(kube_base64_decode("", &len));
}

/* A service account directory: token, ca.crt, namespace. */
static void make_service_account(const char *token)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/sa", tmpdir);
	mkdir(path, 0700);
	write_file("sa/token", token);
	write_file("sa/ca.crt", PEM_TEXT);
	write_file("sa/namespace", "dsguard\n");
}

static void test_in_cluster(void **state)
{
	char dir[128], want[160];
	kube_config cfg;
	char *error = NULL;

	(void)state;
	make_service_account("tok\n");
	snprintf(dir, sizeof(dir), "%s/sa", tmpdir);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_true(kube_in_cluster(dir));
	assert_int_equal(kube_config_in_cluster(dir, &cfg, &error), 0);
	assert_string_equal(cfg.server, "https://10.96.0.1:443");
	assert_string_equal(cfg.namespace, "dsguard");
	snprintf(want, sizeof(want), "%s/token", dir);
	assert_string_equal(cfg.token_file, want);
	kube_config_free(&cfg);

	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	assert_int_equal(kube_config_in_cluster(dir, &cfg, &error), 0);
	assert_string_equal(cfg.server, "https://[fd00::1]:443");
	kube_config_free(&cfg);

	setenv("KUBERNETES_SERVICE_PORT", "44 3", 1);
	assert_int_equal(kube_config_in_cluster(dir, &cfg, &error), -1);
	assert_non_null(strstr(error, "malformed"));
	free(error);
	error = NULL;
	unsetenv("KUBERNETES_SERVICE_HOST");
	assert_false(kube_in_cluster(dir));
	assert_int_equal(kube_config_in_cluster(dir, &cfg, &error), -1);
	assert_non_null(strstr(error, "KUBERNETES_SERVICE_HOST"));
	free(error);
}

/* A client reads the token file at once and refuses a malformed token. */
static void test_client_token(void **state)
{
	char dir[128];
	kube_config cfg;
	kube_client *client;
	char *error = NULL;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/sa", tmpdir);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "1", 1);
	make_service_account("good-token\n");
	assert_int_equal(kube_config_in_cluster(dir, &cfg, &error), 0);
	client = kube_client_new(&cfg, &error);
	assert_non_null(client);
	assert_null(cfg.server);
	assert_string_equal(kube_client_server(client), "https://127.0.0.1:1");
	kube_client_free(client);

	make_service_account("bad token\n");
	assert_int_equal(kube_config_in_cluster(dir, &cfg, &error), 0);
	assert_null(kube_client_new(&cfg, &error));
	assert_non_null(strstr(error, "not a bearer token"));
	free(error);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_current_context),
		cmocka_unit_test(test_named_context),
		cmocka_unit_test(test_relative_files),
		cmocka_unit_test(test_no_user),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_missing_referenced_file),
		cmocka_unit_test(test_more_bad_files),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_in_cluster),
		cmocka_unit_test(test_client_token),
	};

	return cmocka_run_group_tests_name("kube_config", tests, make_dir, remove_dir);
}
