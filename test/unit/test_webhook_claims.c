/* test_webhook_claims.c - the namespace claims' pure parts: the Lease name
 * derived from a namespace, what a claim does with the Lease it reads, and
 * the claim metrics. The claims against an API server are driven end to end
 * by test/e2e/test_serve_claims.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test/unit/helpers.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/internal.h"

/* Whether s[0..n) is a DNS label, checked here on its own: 1 to 63
 * characters of a-z, 0-9 and '-', a letter or digit at each end. */
static bool label_ok(const char *s, size_t n)
{
	if (n < 1 || n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
			return false;
	return true;
}

/* Whether name is a Lease name as the API server takes it (a DNS subdomain)
 * that fits in 63 characters. */
static bool lease_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len < 1 || len > 63)
		return false;
	for (const char *label = name;;) {
		size_t n = strcspn(label, ".");
		if (!label_ok(label, n))
			return false;
		if (!label[n])
			return true;
		label += n + 1;
	}
}

/* Checks the Lease name of ns, and that it is valid. */
static void expect_name(const char *ns, const char *want)
{
	char *name = ds_claim_lease_name(ns);

	assert_non_null(name);
	assert_string_equal(name, want);
	assert_true(lease_name_ok(name));
	free(name);
}

static void test_lease_name_short(void **state)
{
	char ns[64];

	(void)state;
	expect_name("kube-system", "dsguard-claim-kube-system");
	expect_name("a", "dsguard-claim-a");
	memset(ns, 'x', 49);
	ns[49] = '\0'; /* "dsguard-claim-" and 49 characters: 63 */
	expect_name(ns, "dsguard-claim-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

/* Past 63 characters, or with characters a namespace cannot have: what
 * can be kept of it (32 characters at most), a '.' and 16 hex digits of its
 * SHA-256. The digest of "" is the FIPS 180-2 test vector e3b0c442...; the
 * e2e test checks a long name against Python's hashlib. */
static void test_lease_name_hashed(void **state)
{
	char ns[80], *a, *b;

	(void)state;
	expect_name("", "dsguard-claim.e3b0c44298fc1c14");
	memset(ns, 'x', 50);
	ns[50] = '\0';
	a = ds_claim_lease_name(ns);
	assert_non_null(a);
	assert_int_equal(strncmp(a, "dsguard-claim-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.", 47), 0);
	assert_int_equal(strlen(a), 63);
	assert_true(lease_name_ok(a));
	ns[49] = 'y'; /* another namespace: another hash */
	b = ds_claim_lease_name(ns);
	assert_non_null(b);
	assert_int_equal(strncmp(a, b, 47), 0);
	assert_string_not_equal(a, b);
	free(a);
	free(b);

	a = ds_claim_lease_name("Team_A.prod");
	assert_int_equal(strncmp(a, "dsguard-claim-teamaprod.", 24), 0);
	assert_true(lease_name_ok(a));
	free(a);
	a = ds_claim_lease_name("___");
	assert_int_equal(strncmp(a, "dsguard-claim.", 14), 0);
	assert_int_equal(strlen(a), 14 + 16);
	assert_true(lease_name_ok(a));
	free(a);
	a = ds_claim_lease_name("--\xc3\xa9t\xc3\xa9--"); /* "--été--": no '-' at either end, no non-ASCII */
	assert_int_equal(strncmp(a, "dsguard-claim-t.", 16), 0);
	assert_true(lease_name_ok(a));
	free(a);
	/* cut at 32 characters, then no '-' at the end */
	snprintf(ns, sizeof(ns), "%s-%s", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	a = ds_claim_lease_name(ns);
	assert_int_equal(strncmp(a, "dsguard-claim-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.", 46), 0);
	assert_true(lease_name_ok(a));
	free(a);
}

/* One Lease per namespace: every name valid, no two the same, a short name
 * (no '.') never equal to a hashed one; the same namespace, the same name. */
static void test_lease_name_distinct(void **state)
{
	enum { N = 2000 };
	static char *names[N];
	char ns[128];
	unsigned seed = 12345;

	(void)state;
	for (int i = 0; i < N; i++) {
		size_t len = (size_t)(i % 3 == 0 ? 1 + i % 49 : 40 + i % 80);
		for (size_t j = 0; j < len; j++) {
			seed = seed * 1103515245u + 12345u;
			ns[j] = "abcdefghijklmnopqrstuvwxyz0123456789-._XY"[(seed >> 16) % (i % 2 ? 37 : 41)];
		}
		ns[len] = '\0';
		snprintf(ns + (len > 6 ? len - 6 : 0), 7, "%06d", i); /* distinct namespaces */
		names[i] = ds_claim_lease_name(ns);
		assert_non_null(names[i]);
		assert_true(lease_name_ok(names[i]));
		char *again = ds_claim_lease_name(ns);
		assert_string_equal(names[i], again);
		free(again);
	}
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			if (!strcmp(names[i], names[j]))
				fail_msg("two namespaces share the Lease %s", names[i]);
	for (int i = 0; i < N; i++)
		free(names[i]);
	/* a long namespace of 10,000 bytes still gets a name of 63 */
	char *big = malloc(10001), *name;
	memset(big, 'q', 10000);
	big[10000] = '\0';
	name = ds_claim_lease_name(big);
	assert_int_equal(strlen(name), 63);
	assert_true(lease_name_ok(name));
	free(name);
	free(big);
}

/* What a claim does with the Lease it read. */
static void test_decide(void **state)
{
	const double ttl = 30;
	ds_claim_lease mine = {.holder = "fluentd"}, other = {.holder = "vector"};
	ds_claim_lease early = {.holder = "agent-uid-1", .generate_name = "agent-"};
	ds_claim_want named = {.holder = "fluentd"};
	ds_claim_want generated = {.holder = "agent-x7k2p", .generate_name = "agent-"};
	ds_claim_want pending = {.holder = "agent-uid-2", .generate_name = "agent-", .provisional = true};
	ds_claim_want pending_other = {.holder = "other-uid-3", .generate_name = "other-", .provisional = true};
	ds_claim_want stray = {.holder = "zzz", .generate_name = "agent-"};

	(void)state;
	/* its own: kept when fresh, renewed after a second, or without a time */
	assert_int_equal(ds_claim_decide(&mine, &named, 0.5, ttl), DS_CLAIM_KEEP);
	assert_int_equal(ds_claim_decide(&mine, &named, 5, ttl), DS_CLAIM_RENEW);
	assert_int_equal(ds_claim_decide(&mine, &named, 100, ttl), DS_CLAIM_RENEW);
	assert_int_equal(ds_claim_decide(&mine, &named, NAN, ttl), DS_CLAIM_RENEW);
	/* another's: refused within the TTL (a clock ahead counts as fresh), checked after */
	assert_int_equal(ds_claim_decide(&other, &named, 5, ttl), DS_CLAIM_REFUSE);
	assert_int_equal(ds_claim_decide(&other, &named, -3, ttl), DS_CLAIM_REFUSE);
	assert_int_equal(ds_claim_decide(&other, &named, 29.99, ttl), DS_CLAIM_REFUSE);
	assert_int_equal(ds_claim_decide(&other, &named, 30, ttl), DS_CLAIM_CHECK);
	assert_int_equal(ds_claim_decide(&other, &named, NAN, ttl), DS_CLAIM_CHECK);
	/* /mutate's claim for generateName agent- */
	assert_int_equal(ds_claim_decide(&early, &pending, 0.2, ttl), DS_CLAIM_KEEP);
	assert_int_equal(ds_claim_decide(&early, &pending, 3, ttl), DS_CLAIM_RENEW);
	assert_int_equal(ds_claim_decide(&early, &generated, 0.2, ttl), DS_CLAIM_CONFIRM);
	assert_int_equal(ds_claim_decide(&early, &generated, 300, ttl), DS_CLAIM_CONFIRM);
	assert_int_equal(ds_claim_decide(&early, &pending_other, 0.2, ttl), DS_CLAIM_REFUSE);
	assert_int_equal(ds_claim_decide(&early, &stray, 0.2, ttl), DS_CLAIM_REFUSE);
	assert_int_equal(ds_claim_decide(&early, &named, 0.2, ttl), DS_CLAIM_REFUSE);
	assert_int_equal(ds_claim_decide(&early, &named, 31, ttl), DS_CLAIM_CHECK);
	/* a claim already confirmed is a name like any other */
	ds_claim_lease confirmed = {.holder = "agent-x7k2p"};
	ds_claim_want second = {.holder = "agent-qq9zt", .generate_name = "agent-"};
	assert_int_equal(ds_claim_decide(&confirmed, &generated, 0.2, ttl), DS_CLAIM_KEEP);
	assert_int_equal(ds_claim_decide(&confirmed, &second, 0.2, ttl), DS_CLAIM_REFUSE);
	assert_int_equal(ds_claim_decide(&confirmed, &pending, 0.2, ttl), DS_CLAIM_REFUSE);
}

/* Lease times as the API server writes them, and what is not one. */
static void test_parse_time(void **state)
{
	static const char *const bad[] = {
		NULL, "", "2024-05-01", "2024-05-01T10:00:00", "2024-05-01T10:00:00.Z", "2024-05-01T10:00:00.123",
		"2024-05-01 10:00:00Z", "2024-13-01T10:00:00Z", "2024-05-01T25:00:00Z", "2024-05-01T10:00:00Zjunk",
		"2024-05-01T10:00:00+", "2024-05-01T10:00:00+02", "2024-05-01T10:00:00+0200", "2024-05-01T10:00:00+a2:00",
		"x024-05-01T10:00:00Z", "2024-05-01T10:00:00.12x456Z",
	};

	(void)state;
	/* 2024-05-01T10:00:00Z is 1714557600 (date -u -d 2024-05-01T10:00:00Z +%s) */
	assert_float_equal(ds_claim_parse_time("2024-05-01T10:00:00Z"), 1714557600.0, 1e-6);
	assert_float_equal(ds_claim_parse_time("2024-05-01T10:00:00.123456Z"), 1714557600.123456, 1e-6);
	assert_float_equal(ds_claim_parse_time("2024-05-01T12:00:00.5+02:00"), 1714557600.5, 1e-6);
	assert_float_equal(ds_claim_parse_time("2024-05-01T08:30:00-01:30"), 1714557600.0, 1e-6);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!isnan(ds_claim_parse_time(bad[i])))
			fail_msg("'%s' read as a time", bad[i] ? bad[i] : "(null)");
}

/* Whether text holds line (a whole line). */
static bool has_line(const char *text, const char *line)
{
	size_t len = strlen(line);

	for (const char *p = strstr(text, line); p; p = strstr(p + 1, line))
		if ((p == text || p[-1] == '\n') && p[len] == '\n')
			return true;
	return false;
}

static void test_claim_metrics(void **state)
{
	ds_metrics *m = calloc(1, sizeof(*m));
	ds_claims_stats c = {.results = {3, 2, 1, 45, 4}, .conflicts = 7, .released = 2, .pending = 5,
			     .latency_count = 55, .latency_sum = 1.5};
	char *text;

	(void)state;
	c.latency_buckets[5] = 50; /* 5 ms */
	c.latency_buckets[13] = 4; /* 2.5 s */
	c.latency_buckets[DS_LATENCY_BUCKETS] = 1;
	text = ds_metrics_render(m, NULL, &c);
	assert_non_null(text);
	assert_true(has_line(text, "# TYPE dsguard_claims_total counter"));
	assert_true(has_line(text, "dsguard_claims_total{result=\"claimed\"} 3"));
	assert_true(has_line(text, "dsguard_claims_total{result=\"held\"} 2"));
	assert_true(has_line(text, "dsguard_claims_total{result=\"taken_over\"} 1"));
	assert_true(has_line(text, "dsguard_claims_total{result=\"refused\"} 45"));
	assert_true(has_line(text, "dsguard_claims_total{result=\"error\"} 4"));
	assert_true(has_line(text, "dsguard_claim_conflicts_total 7"));
	assert_true(has_line(text, "dsguard_claims_released_total 2"));
	assert_true(has_line(text, "# TYPE dsguard_claims_pending gauge"));
	assert_true(has_line(text, "dsguard_claims_pending 5"));
	assert_true(has_line(text, "# TYPE dsguard_claim_duration_seconds histogram"));
	assert_true(has_line(text, "dsguard_claim_duration_seconds_bucket{le=\"0.0025\"} 0"));
	assert_true(has_line(text, "dsguard_claim_duration_seconds_bucket{le=\"0.005\"} 50"));
	assert_true(has_line(text, "dsguard_claim_duration_seconds_bucket{le=\"1\"} 50"));
	assert_true(has_line(text, "dsguard_claim_duration_seconds_bucket{le=\"2.5\"} 54"));
	assert_true(has_line(text, "dsguard_claim_duration_seconds_bucket{le=\"30\"} 54"));
	assert_true(has_line(text, "dsguard_claim_duration_seconds_bucket{le=\"+Inf\"} 55"));
	assert_true(has_line(text, "dsguard_claim_duration_seconds_count 55"));
	assert_true(has_line(text, "dsguard_claim_duration_seconds_sum 1.500000000"));
	free(text);
	text = ds_metrics_render(m, NULL, NULL); /* --claims local: none of them */
	assert_null(strstr(text, "dsguard_claim"));
	free(text);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lease_name_short),
		cmocka_unit_test(test_lease_name_hashed),
		cmocka_unit_test(test_lease_name_distinct),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_claim_metrics),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
