/* drive_kube_cache.c - the list+watch cache against the stand-in API server.
 *
 * Starts nothing itself: test/e2e/test_kube.py starts test/e2e/fake_apiserver.py
 * (with DaemonSets a/agent-a, b/agent-b, c/agent-c) and runs this binary with
 * KUBE_TEST_SERVER, KUBE_TEST_TOKEN, KUBE_TEST_CA, KUBE_TEST_CLIENT_CERT,
 * KUBE_TEST_CLIENT_KEY and KUBE_TEST_DOWN_SERVER (a port nothing listens on).
 * Without them it reports one skipped test. The tests share the stand-in's
 * state and run in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kube/private.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT_SECONDS 10.0

static const char *server, *token, *ca, *client_cert, *client_key, *down_server;
static kube_cache *cache; /* the cache most tests share */
static char tmpdir[64];

static size_t discard(char *ptr, size_t size, size_t n, void *data)
{
	(void)ptr;
	(void)data;
	return size * n;
}

/* POSTs a command to the stand-in's /_control/ and expects 200. */
static void control(const char *cmd, const char *json)
{
	CURL *easy = curl_easy_init();
	char url[256];
	long status = 0;

	assert_non_null(easy);
	snprintf(url, sizeof(url), "%s/_control/%s", server, cmd);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_CAINFO, ca);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, json ? json : "{}");
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
	assert_int_equal(curl_easy_perform(easy), CURLE_OK);
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(easy);
	assert_int_equal(status, 200);
}

static kube_client *new_client(const char *url, const char *bearer)
{
	kube_config cfg = {0};
	kube_client *client;
	char *error = NULL;

	cfg.server = strdup(url);
	cfg.token = strdup(bearer);
	cfg.ca_file = strdup(ca);
	client = kube_client_new(&cfg, &error);
	assert_null(error);
	assert_non_null(client);
	return client;
}

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int info_lines;

/* The cache's log lines become TAP comments. */
static void log_line(void *data, kube_log_level level, const char *message)
{
	(void)data;
	pthread_mutex_lock(&log_lock);
	info_lines += level == KUBE_LOG_INFO;
	printf("# kube %s: %s\n", level == KUBE_LOG_INFO ? "info" : "warn", message);
	fflush(stdout);
	pthread_mutex_unlock(&log_lock);
}

static kube_cache *start(const char *url, const kube_cache_options *extra)
{
	kube_cache_options opts = {.backoff_initial = 0.05, .backoff_max = 0.2, .page_limit = 2,
				   .reserve_seconds = 1, .watch_seconds = 30, .log = log_line};
	char *error = NULL;
	kube_cache *c;

	if (extra)
		opts = *extra;
	c = kube_cache_start(new_client(url, token), &opts, &error);
	assert_null(error);
	assert_non_null(c);
	return c;
}

/* The lookup's answer for a new DaemonSet `name` in ns, as a comparable
 * string ("" for none). */
static void lookup(kube_cache *c, const char *ns, const char *name, char *out, size_t size)
{
	ds_namespace_lookup l = kube_cache_lookup(c);
	char *other = NULL;
	ds_namespace_answer a = l.other_in_namespace(l.data, ns, name, &other);

	assert_true(a == DS_NAMESPACE_SHARED ? other != NULL : other == NULL);
	snprintf(out, size, "%s", other ? other : "");
	free(other);
}

/* Waits until the lookup of ns answers `want` ("" for free). */
static void expect_eventually(kube_cache *c, const char *ns, const char *want)
{
	double end = kube_now() + WAIT_SECONDS;
	char got[256];

	do {
		lookup(c, ns, "newcomer", got, sizeof(got));
		if (!strcmp(got, want))
			return;
		usleep(20000);
	} while (kube_now() < end);
	fail_msg("namespace %s: got \"%s\", want \"%s\"", ns, got, want);
}

static kube_cache_stats stats_of(kube_cache *c)
{
	kube_cache_stats st;

	kube_cache_stats_get(c, &st);
	return st;
}

/* Waits until field (a counter of the stats) reaches at least `want`. */
#define EXPECT_STAT_AT_LEAST(c, field, want)                                                     \
	do {                                                                                     \
		double end_ = kube_now() + WAIT_SECONDS;                                         \
		while (stats_of(c).field < (want) && kube_now() < end_)                          \
			usleep(20000);                                                           \
		assert_true(stats_of(c).field >= (want));                                        \
	} while (0)

static void test_list_for_audit(void **state)
{
	kube_client *client = new_client(server, token);
	char *error = NULL;
	static const char *const namespaces[] = {"a", "b", "c"};
	cJSON *items;

	(void)state;
	control("config", "{\"page_size\": 2}");
	items = kube_list_daemonsets(client, &error);
	assert_null(error);
	assert_int_equal(cJSON_GetArraySize(items), 3);
	for (int i = 0; i < 3; i++) {
		const cJSON *item = cJSON_GetArrayItem(items, i);

		assert_true(ds_is_daemonset(item));
		assert_string_equal(ds_resource_namespace(item, NULL), namespaces[i]);
	}
	cJSON_Delete(items);
	kube_client_free(client);
}

static void test_unauthorized(void **state)
{
	kube_client *client = new_client(server, "wrong");
	char *error = NULL;

	(void)state;
	assert_null(kube_list_daemonsets(client, &error));
	assert_non_null(strstr(error, "HTTP 401: Unauthorized"));
	free(error);
	kube_client_free(client);
}

/* Synced from a paginated list: a is taken by agent-a, d is free. */
static void test_sync(void **state)
{
	kube_cache_stats st;
	char got[64];

	(void)state;
	cache = start(server, NULL);
	assert_true(kube_cache_wait_synced(cache, WAIT_SECONDS));
	lookup(cache, "a", "newcomer", got, sizeof(got));
	assert_string_equal(got, "agent-a");
	lookup(cache, "a", "agent-a", got, sizeof(got));
	assert_string_equal(got, "");
	lookup(cache, "d", "newcomer", got, sizeof(got));
	assert_string_equal(got, "");
	st = stats_of(cache);
	assert_true(st.watch.synced);
	assert_int_equal(st.objects, 3);
	assert_int_equal(st.namespaces, 3);
	assert_int_equal(st.watch.lists, 1);
	assert_int_equal(st.watch.relists, 0);
	assert_true(st.watch.last_event > 0);
	assert_true(st.watch.since_last_event >= 0 && st.watch.since_last_event < WAIT_SECONDS);
	EXPECT_STAT_AT_LEAST(cache, watch.watching, 1);
	pthread_mutex_lock(&log_lock);
	assert_true(info_lines > 0); /* "listed 3 DaemonSets ..." */
	pthread_mutex_unlock(&log_lock);
}

static void test_watch_events(void **state)
{
	(void)state;
	control("add", "{\"namespace\": \"d\", \"name\": \"agent-d\"}");
	expect_eventually(cache, "d", "agent-d");
	control("delete", "{\"namespace\": \"a\", \"name\": \"agent-a\"}");
	expect_eventually(cache, "a", "");
	control("add", "{\"namespace\": \"b\", \"name\": \"agent-b\"}"); /* MODIFIED */
	control("bookmark", NULL);
	control("add", "{\"namespace\": \"b\", \"name\": \"another\"}");
	expect_eventually(cache, "b", "agent-b");
	control("delete", "{\"namespace\": \"b\", \"name\": \"another\"}");
	assert_int_equal(stats_of(cache).watch.relists, 0);
	assert_int_equal(stats_of(cache).watch.watch_restarts, 0);
}

/* The watch is dropped, a change happens meanwhile, and the stand-in has
 * forgotten the old resourceVersion: the watch restarts, gets 410 (as an
 * ERROR event), the cache lists again and sees the change. */
static void test_drop_then_gone_event(void **state)
{
	kube_cache_stats before = stats_of(cache);

	(void)state;
	control("config", "{\"gone_mode\": \"event\"}");
	control("drop", "{\"add\": [[\"e\", \"agent-e\"]], \"compact\": true}");
	EXPECT_STAT_AT_LEAST(cache, watch.relists, before.watch.relists + 1);
	expect_eventually(cache, "e", "agent-e");
	expect_eventually(cache, "a", "");
	expect_eventually(cache, "d", "agent-d");
	assert_true(stats_of(cache).watch.watch_restarts > before.watch.watch_restarts);
	assert_int_equal(stats_of(cache).objects, 4); /* b, c, d, e */
}

/* The same with 410 Gone as the HTTP status of the watch. */
static void test_drop_then_gone_http(void **state)
{
	kube_cache_stats before = stats_of(cache);

	(void)state;
	control("config", "{\"gone_mode\": \"http\"}");
	control("drop", "{\"delete\": [[\"e\", \"agent-e\"]], \"compact\": true}");
	EXPECT_STAT_AT_LEAST(cache, watch.relists, before.watch.relists + 1);
	expect_eventually(cache, "e", "");
	control("config", "{\"gone_mode\": \"event\"}");
}

/* An ERROR 410 on an open watch makes a relist; another ERROR a new watch. */
static void test_error_events(void **state)
{
	kube_cache_stats before = stats_of(cache);

	(void)state;
	control("error", "{\"code\": 410}");
	EXPECT_STAT_AT_LEAST(cache, watch.relists, before.watch.relists + 1);
	before = stats_of(cache);
	control("error", "{\"code\": 500}");
	EXPECT_STAT_AT_LEAST(cache, watch.watch_restarts, before.watch.watch_restarts + 1);
	assert_int_equal(stats_of(cache).watch.relists, before.watch.relists);
	control("add", "{\"namespace\": \"f\", \"name\": \"agent-f\"}");
	expect_eventually(cache, "f", "agent-f");
}

/* A dropped watch alone restarts from the last resourceVersion. */
static void test_drop_resumes(void **state)
{
	kube_cache_stats before = stats_of(cache);

	(void)state;
	control("drop", NULL);
	control("delete", "{\"namespace\": \"f\", \"name\": \"agent-f\"}");
	expect_eventually(cache, "f", "");
	EXPECT_STAT_AT_LEAST(cache, watch.watch_restarts, before.watch.watch_restarts + 1);
	assert_int_equal(stats_of(cache).watch.relists, before.watch.relists);
}

static void test_reserve(void **state)
{
	char *other = NULL;
	char got[64];

	(void)state;
	assert_int_equal(kube_cache_reserve(cache, "g", "first", &other), 0);
	assert_null(other);
	lookup(cache, "g", "second", got, sizeof(got));
	assert_string_equal(got, "first");
	lookup(cache, "g", "first", got, sizeof(got));
	assert_string_equal(got, "");
	assert_int_equal(kube_cache_reserve(cache, "g", "second", &other), 0);
	assert_string_equal(other, "first");
	free(other);
	assert_int_equal(kube_cache_reserve(cache, "a-not-there", "x", &other), 0);
	assert_int_equal(stats_of(cache).reservations, 2);
	assert_int_equal(kube_cache_reserve(cache, "d", "x", &other), 0);
	assert_string_equal(other, "agent-d");
	free(other);
	/* the watch sees g/first: the reservation gives way to the index */
	control("add", "{\"namespace\": \"g\", \"name\": \"first\"}");
	EXPECT_STAT_AT_LEAST(cache, objects, 4); /* b, c, d, g */
	lookup(cache, "g", "second", got, sizeof(got));
	assert_string_equal(got, "first");
	/* a reservation the watch never confirms expires (reserve_seconds: 1) */
	usleep(1200000);
	lookup(cache, "a-not-there", "y", got, sizeof(got));
	assert_string_equal(got, "");
	assert_int_equal(stats_of(cache).reservations, 0);
}

struct racer {
	pthread_t thread;
	char name[16];
	char *other;
};

static void *race(void *data)
{
	struct racer *r = data;

	if (kube_cache_reserve(cache, "race", r->name, &r->other) < 0)
		r->other = strdup("error");
	return NULL;
}

/* Simultaneous CREATEs in one namespace: exactly one is let through. */
static void test_reserve_race(void **state)
{
	struct racer racers[8];
	int winners = 0;

	(void)state;
	for (int i = 0; i < 8; i++) {
		snprintf(racers[i].name, sizeof(racers[i].name), "r%d", i);
		racers[i].other = NULL;
		assert_int_equal(pthread_create(&racers[i].thread, NULL, race, &racers[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(racers[i].thread, NULL);
		winners += racers[i].other == NULL;
		if (racers[i].other)
			assert_string_not_equal(racers[i].other, "error");
		free(racers[i].other);
	}
	assert_int_equal(winners, 1);
}

/* An event line over the bound is not taken: the cache lists again. */
/* The DaemonSets a cache's `deleted` callback was told of, "ns/name;" each. */
static char deleted_seen[1024];

static void on_deleted(void *data, const char *ns, const char *name)
{
	size_t len;

	assert_ptr_equal(data, deleted_seen);
	pthread_mutex_lock(&log_lock);
	len = strlen(deleted_seen);
	snprintf(deleted_seen + len, sizeof(deleted_seen) - len, "%s/%s;", ns, name);
	pthread_mutex_unlock(&log_lock);
}

/* kube_cache_holds() answers from the index (a reservation is not held), and
 * the `deleted` callback hears each DELETED event, after the index dropped it,
 * and nothing else. */
static void test_holds_and_deleted(void **state)
{
	kube_cache_options opts = {.backoff_initial = 0.05, .backoff_max = 0.2, .watch_seconds = 30,
				   .log = log_line, .deleted = on_deleted, .deleted_data = deleted_seen};
	kube_cache *c = start(server, &opts);
	double end = kube_now() + WAIT_SECONDS;
	char *other = NULL;
	bool told = false;

	(void)state;
	assert_true(kube_cache_wait_synced(c, WAIT_SECONDS));
	assert_false(kube_cache_holds(c, "gone", "agent-gone"));
	assert_int_equal(kube_cache_reserve(c, "gone", "agent-gone", &other), 0);
	assert_null(other);
	assert_false(kube_cache_holds(c, "gone", "agent-gone"));
	control("add", "{\"namespace\": \"gone\", \"name\": \"agent-gone\"}");
	while (!kube_cache_holds(c, "gone", "agent-gone") && kube_now() < end)
		usleep(20000);
	assert_true(kube_cache_holds(c, "gone", "agent-gone"));
	assert_false(kube_cache_holds(c, "gone", "agent"));
	control("delete", "{\"namespace\": \"gone\", \"name\": \"agent-gone\"}");
	while (!told && kube_now() < end) {
		usleep(20000);
		pthread_mutex_lock(&log_lock);
		told = deleted_seen[0] != '\0';
		pthread_mutex_unlock(&log_lock);
	}
	assert_false(kube_cache_holds(c, "gone", "agent-gone"));
	kube_cache_stop(c);
	assert_string_equal(deleted_seen, "gone/agent-gone;");
}

static void test_event_over_bound(void **state)
{
	kube_cache_options opts = {.backoff_initial = 0.05, .backoff_max = 0.2, .max_event_bytes = 128};
	kube_cache *small = start(server, &opts);

	(void)state;
	assert_true(kube_cache_wait_synced(small, WAIT_SECONDS));
	control("add", "{\"namespace\": \"h\", \"name\": \"agent-h\"}");
	EXPECT_STAT_AT_LEAST(small, watch.relists, 1);
	expect_eventually(small, "h", "agent-h");
	kube_cache_stop(small);
}

static void test_stop_shared(void **state)
{
	(void)state;
	kube_cache_stop(cache);
	cache = NULL;
}

/* Nothing listens: never synced, nothing found, and stopping is quick. */
static void test_down_at_start(void **state)
{
	kube_cache *c = start(down_server, NULL);
	char got[64];
	double t;

	(void)state;
	assert_false(kube_cache_wait_synced(c, 0.5));
	lookup(c, "b", "newcomer", got, sizeof(got));
	assert_string_equal(got, "");
	assert_false(stats_of(c).watch.synced);
	assert_int_equal(stats_of(c).watch.lists, 0);
	assert_true(stats_of(c).watch.since_last_event < 0);
	t = kube_now();
	kube_cache_stop(c);
	assert_true(kube_now() - t < 1.0);
}

/* 503 answers, then the server recovers: the cache syncs by itself. */
static void test_unavailable_then_up(void **state)
{
	kube_cache *c;

	(void)state;
	control("config", "{\"unavailable\": 3}");
	c = start(server, NULL);
	assert_true(kube_cache_wait_synced(c, WAIT_SECONDS));
	expect_eventually(c, "b", "agent-b");
	kube_cache_stop(c);
}

/* A slow answer is cut short by stop. */
static void test_slow_answer_stop(void **state)
{
	kube_cache *c;
	double t;

	(void)state;
	control("config", "{\"delay\": 3}");
	c = start(server, NULL);
	usleep(300000);
	assert_false(stats_of(c).watch.synced);
	t = kube_now();
	kube_cache_stop(c);
	assert_true(kube_now() - t < 1.0);
	control("config", "{\"delay\": 0.3}");
	c = start(server, NULL);
	assert_true(kube_cache_wait_synced(c, WAIT_SECONDS));
	kube_cache_stop(c);
	control("config", "{\"delay\": 0}");
}

static void write_text(const char *path, const char *text)
{
	char tmp[256];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
}

/* In-cluster config: the token is re-read after the kubelet rotates it. */
static void test_in_cluster_token_rotation(void **state)
{
	char dir[128], path[160], text[4096];
	const char *port = strrchr(server, ':') + 1;
	kube_config cfg;
	kube_cache_options opts = {.backoff_initial = 0.05, .backoff_max = 0.2};
	char *error = NULL;
	size_t len;
	char *pem = kube_read_file(ca, 65536, &len, &error);
	kube_cache *c;

	(void)state;
	assert_non_null(pem);
	snprintf(dir, sizeof(dir), "%s/sa", tmpdir);
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	write_text(path, pem);
	free(pem);
	snprintf(path, sizeof(path), "%s/token", dir);
	write_text(path, token);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	assert_int_equal(kube_config_in_cluster(dir, &cfg, &error), 0);
	c = kube_cache_start(kube_client_new(&cfg, &error), &opts, &error);
	assert_non_null(c);
	assert_true(kube_cache_wait_synced(c, WAIT_SECONDS));
	write_text(path, "rotated-token\n");
	control("config", "{\"token\": \"rotated-token\"}");
	control("drop", NULL);
	control("add", "{\"namespace\": \"i\", \"name\": \"agent-i\"}");
	expect_eventually(c, "i", "agent-i");
	kube_cache_stop(c);
	snprintf(text, sizeof(text), "{\"token\": \"%s\"}", token);
	control("config", text);
}

/* base64 of a file, for a kubeconfig's -data keys. */
static char *file_base64(const char *path)
{
	char *error = NULL;
	size_t len;
	char *text = kube_read_file(path, 65536, &len, &error);
	unsigned char *out = malloc(len / 3 * 4 + 8);

	assert_non_null(text);
	assert_non_null(out);
	EVP_EncodeBlock(out, (const unsigned char *)text, (int)len);
	free(text);
	return (char *)out;
}

/* A kubeconfig with the CA and a client certificate inline (no token). */
static void test_kubeconfig_client_certificate(void **state)
{
	char path[128];
	char *ca64 = file_base64(ca), *cert64 = file_base64(client_cert), *key64 = file_base64(client_key);
	char *text = NULL, *error = NULL;
	kube_config cfg;
	kube_client *client;
	cJSON *items;

	(void)state;
	assert_true(asprintf(&text, "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
			     "contexts: [{name: t, context: {cluster: s, user: u}}]\n"
			     "clusters: [{name: s, cluster: {server: '%s', certificate-authority-data: %s}}]\n"
			     "users: [{name: u, user: {client-certificate-data: %s, client-key-data: %s}}]\n",
			     server, ca64, cert64, key64) > 0);
	snprintf(path, sizeof(path), "%s/kubeconfig", tmpdir);
	write_text(path, text);
	assert_int_equal(kube_config_load(path, NULL, &cfg, &error), 0);
	client = kube_client_new(&cfg, &error);
	assert_non_null(client);
	items = kube_list_daemonsets(client, &error);
	assert_null(error);
	assert_true(cJSON_GetArraySize(items) >= 3);
	cJSON_Delete(items);
	kube_client_free(client);
	free(text);
	free(ca64);
	free(cert64);
	free(key64);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/dsguard-kubecache-XXXXXX");
	return mkdtemp(tmpdir) && curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	kube_cache_stop(cache);
	curl_global_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_for_audit),
		cmocka_unit_test(test_unauthorized),
		cmocka_unit_test(test_sync),
		cmocka_unit_test(test_watch_events),
		cmocka_unit_test(test_drop_then_gone_event),
		cmocka_unit_test(test_drop_then_gone_http),
		cmocka_unit_test(test_error_events),
		cmocka_unit_test(test_drop_resumes),
		cmocka_unit_test(test_reserve),
		cmocka_unit_test(test_reserve_race),
		cmocka_unit_test(test_holds_and_deleted),
		cmocka_unit_test(test_event_over_bound),
		cmocka_unit_test(test_stop_shared),
		cmocka_unit_test(test_down_at_start),
		cmocka_unit_test(test_unavailable_then_up),
		cmocka_unit_test(test_slow_answer_stop),
		cmocka_unit_test(test_in_cluster_token_rotation),
		cmocka_unit_test(test_kubeconfig_client_certificate),
	};

	server = getenv("KUBE_TEST_SERVER");
	token = getenv("KUBE_TEST_TOKEN");
	ca = getenv("KUBE_TEST_CA");
	client_cert = getenv("KUBE_TEST_CLIENT_CERT");
	client_key = getenv("KUBE_TEST_CLIENT_KEY");
	down_server = getenv("KUBE_TEST_DOWN_SERVER");
	if (!server || !token || !ca || !client_cert || !client_key || !down_server) {
		printf("1..1\nok 1 - kube cache # SKIP needs the stand-in API server: run test/e2e/test_kube.py\n");
		return 0;
	}
	return cmocka_run_group_tests_name("kube_cache", tests, setup, teardown);
}
