/* test_webhook_metrics.c - the server's metrics in the Prometheus text
 * format (the cluster cache's included), file signatures and listen
 * addresses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test/unit/helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "webhook/internal.h"
#include "test/rule_access.h"

/* Whether text holds line (a whole line). */
static bool has_line(const char *text, const char *line)
{
	size_t len = strlen(line);

	for (const char *p = strstr(text, line); p; p = strstr(p + 1, line))
		if ((p == text || p[-1] == '\n') && p[len] == '\n')
			return true;
	return false;
}

static void test_requests_and_histogram(void **state)
{
	ds_metrics *m = calloc(1, sizeof(*m));
	char *text;

	(void)state;
	ds_metrics_request(m, DS_EP_VALIDATE, DS_OP_CREATE, DS_RESULT_DENIED, 0.00005);
	ds_metrics_request(m, DS_EP_VALIDATE, DS_OP_CREATE, DS_RESULT_DENIED, 0.002);
	ds_metrics_request(m, DS_EP_VALIDATE, DS_OP_UPDATE, DS_RESULT_ALLOWED, 45.0);
	ds_metrics_request(m, DS_EP_HEALTHZ, DS_OP_NONE, DS_RESULT_OK, 0.0001);
	text = ds_metrics_render(m, NULL, NULL);
	assert_non_null(text);
	assert_true(has_line(text, "dsguard_requests_total{endpoint=\"/validate\",operation=\"CREATE\",result=\"denied\"} 2"));
	assert_true(has_line(text, "dsguard_requests_total{endpoint=\"/validate\",operation=\"UPDATE\",result=\"allowed\"} 1"));
	assert_true(has_line(text, "dsguard_requests_total{endpoint=\"/healthz\",operation=\"\",result=\"ok\"} 1"));
	assert_true(has_line(text, "dsguard_request_duration_seconds_bucket{endpoint=\"/validate\",le=\"0.0001\"} 1"));
	assert_true(has_line(text, "dsguard_request_duration_seconds_bucket{endpoint=\"/validate\",le=\"0.0025\"} 2"));
	assert_true(has_line(text, "dsguard_request_duration_seconds_bucket{endpoint=\"/validate\",le=\"30\"} 2"));
	assert_true(has_line(text, "dsguard_request_duration_seconds_bucket{endpoint=\"/validate\",le=\"+Inf\"} 3"));
	assert_true(has_line(text, "dsguard_request_duration_seconds_count{endpoint=\"/validate\"} 3"));
	assert_true(has_line(text, "dsguard_request_duration_seconds_bucket{endpoint=\"/healthz\",le=\"0.0001\"} 1"));
	assert_null(strstr(text, "endpoint=\"/mutate\""));
	assert_true(has_line(text, "# TYPE dsguard_request_duration_seconds histogram"));
	free(text);
	free(m);
}

static void test_findings_state_and_build(void **state)
{
	ds_metrics *m = calloc(1, sizeof(*m));
	ds_review_result r = {0};
	char *text, want[128];

	(void)state;
	r.findings[ds_rule_index(DS002)] = 2;
	r.exempted[ds_rule_index(DS001)] = 3;
	r.exempted_by_config[ds_rule_index(DS001)] = 2;
	r.expired[ds_rule_index(DS003)] = 4;
	ds_metrics_review(m, &r);
	atomic_fetch_add(&m->config_reloads[1], 1);
	atomic_store(&m->cert_not_after, 1900000000LL);
	text = ds_metrics_render(m, NULL, NULL);
	assert_true(has_line(text, "dsguard_findings_total{rule=\"DS002\",name=\"restart-policy\"} 2"));
	assert_true(has_line(text, "dsguard_findings_total{rule=\"DS001\",name=\"priority-class\"} 0"));
	assert_true(has_line(text, "dsguard_exemptions_total{rule=\"DS001\",name=\"priority-class\",by=\"annotation\"} 1"));
	assert_true(has_line(text, "dsguard_exemptions_total{rule=\"DS001\",name=\"priority-class\",by=\"config\"} 2"));
	assert_true(has_line(text, "dsguard_exemptions_total{rule=\"DS002\",name=\"restart-policy\",by=\"config\"} 0"));
	assert_true(has_line(text, "dsguard_exemptions_expired_total{rule=\"DS003\",name=\"dedicated-namespace\"} 4"));
	assert_true(has_line(text, "dsguard_exemptions_expired_total{rule=\"DS001\",name=\"priority-class\"} 0"));
	assert_true(has_line(text, "dsguard_config_reloads_total{result=\"failure\"} 1"));
	assert_true(has_line(text, "dsguard_config_reloads_total{result=\"success\"} 0"));
	assert_true(has_line(text, "dsguard_certificate_not_after_seconds 1900000000"));
	assert_true(has_line(text, "dsguard_cluster_state_enabled 0"));
	snprintf(want, sizeof(want), "dsguard_build_info{version=\"%s\"} 1", DSGUARD_VERSION);
	assert_true(has_line(text, want));
	free(text);
	free(m);
}

static void test_cluster_cache(void **state)
{
	ds_metrics *m = calloc(1, sizeof(*m));
	kube_cache_stats stats = {.objects = 3, .namespaces = 2, .reservations = 1,
				  .watch = {.synced = true, .relists = 4, .watch_restarts = 5, .since_last_event = 1.5}};
	char *text = ds_metrics_render(m, NULL, NULL);

	(void)state;
	assert_null(strstr(text, "dsguard_cluster_cache_"));
	free(text);
	text = ds_metrics_render(m, &stats, NULL);
	assert_true(has_line(text, "dsguard_cluster_cache_objects 3"));
	assert_true(has_line(text, "dsguard_cluster_cache_namespaces 2"));
	assert_true(has_line(text, "dsguard_cluster_cache_reservations 1"));
	assert_true(has_line(text, "dsguard_cluster_cache_synced 1"));
	assert_true(has_line(text, "dsguard_cluster_cache_watching 0"));
	assert_true(has_line(text, "# TYPE dsguard_cluster_cache_relists_total counter"));
	assert_true(has_line(text, "dsguard_cluster_cache_relists_total 4"));
	assert_true(has_line(text, "dsguard_cluster_cache_watch_restarts_total 5"));
	assert_true(has_line(text, "dsguard_cluster_cache_last_event_age_seconds 1.5"));
	free(text);
	stats.watch.since_last_event = -1;
	text = ds_metrics_render(m, &stats, NULL);
	assert_null(strstr(text, "last_event_age_seconds"));
	free(text);
	free(m);
}

static void test_managed_certificates(void **state)
{
	ds_metrics *m = calloc(1, sizeof(*m));
	char *text = ds_metrics_render(m, NULL, NULL);

	(void)state;
	assert_null(strstr(text, "dsguard_ca_"));
	free(text);
	atomic_store(&m->certs_managed, true);
	atomic_store(&m->ca_not_after, 1900000000LL);
	atomic_store(&m->cert_rotations[0], 3);
	atomic_store(&m->cert_rotations[1], 1);
	atomic_store(&m->bundle_patches[1][1], 2);
	atomic_store(&m->bundle_trusted, true);
	text = ds_metrics_render(m, NULL, NULL);
	assert_true(has_line(text, "dsguard_ca_not_after_seconds 1900000000"));
	assert_true(has_line(text, "# TYPE dsguard_certificate_rotations_total counter"));
	assert_true(has_line(text, "dsguard_certificate_rotations_total{certificate=\"serving\"} 3"));
	assert_true(has_line(text, "dsguard_certificate_rotations_total{certificate=\"ca\"} 1"));
	assert_true(has_line(text, "dsguard_ca_bundle_patches_total{configuration=\"mutating\",reason=\"reset\"} 2"));
	assert_true(has_line(text, "dsguard_ca_bundle_patches_total{configuration=\"validating\",reason=\"rotation\"} 0"));
	assert_true(has_line(text, "dsguard_ca_bundle_trusted 1"));
	assert_true(has_line(text, "dsguard_certificate_manager_errors_total 0"));
	free(text);
	free(m);
}

static void test_file_signature_follows_data_link(void **state)
{
	char dir[] = "/tmp/dsguard-sig-XXXXXX", path[256], a[256], b[256], link[256], tmp[256];
	ds_file_sig s1, s2, s3;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(a, sizeof(a), "%s/..a", dir);
	snprintf(b, sizeof(b), "%s/..b", dir);
	snprintf(link, sizeof(link), "%s/..data", dir);
	snprintf(tmp, sizeof(tmp), "%s/..data_tmp", dir);
	snprintf(path, sizeof(path), "%s/tls.crt", dir);
	assert_int_equal(mkdir(a, 0700), 0);
	assert_int_equal(mkdir(b, 0700), 0);
	snprintf(tmp, sizeof(tmp), "%s/..a/tls.crt", dir);
	f = fopen(tmp, "w");
	fputs("one", f);
	fclose(f);
	snprintf(tmp, sizeof(tmp), "%s/..b/tls.crt", dir);
	f = fopen(tmp, "w");
	fputs("two", f);
	fclose(f);
	assert_int_equal(symlink("..a", link), 0);
	assert_int_equal(symlink("..data/tls.crt", path), 0);
	ds_file_sig_read(path, &s1);
	ds_file_sig_read(path, &s2);
	assert_true(s1.exists);
	assert_string_equal(s1.data_target, "..a");
	assert_true(ds_file_sig_equal(&s1, &s2));
	snprintf(tmp, sizeof(tmp), "%s/..data_tmp", dir);
	assert_int_equal(symlink("..b", tmp), 0);
	assert_int_equal(rename(tmp, link), 0);
	ds_file_sig_read(path, &s3);
	assert_false(ds_file_sig_equal(&s1, &s3));
	assert_string_equal(s3.data_target, "..b");
	snprintf(tmp, sizeof(tmp), "%s/missing", dir);
	ds_file_sig_read(tmp, &s3);
	assert_false(s3.exists);
	snprintf(tmp, sizeof(tmp), "rm -rf '%s'", dir);
	assert_int_equal(system(tmp), 0);
}

static void test_listen_addresses(void **state)
{
	char bound[80];
	char *error = NULL;
	int fd;

	(void)state;
	fd = ds_listen("127.0.0.1:0", bound, sizeof(bound), &error);
	assert_true(fd >= 0);
	assert_int_equal(strncmp(bound, "127.0.0.1:", 10), 0);
	assert_true(atoi(bound + 10) > 0);
	close(fd);
	fd = ds_listen(":0", bound, sizeof(bound), &error);
	assert_true(fd >= 0);
	close(fd);
	static const char *const bad[] = {"8443", "localhost", "127.0.0.1:", "127.0.0.1:x", "no.such.host.invalid:1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd = ds_listen(bad[i], bound, sizeof(bound), &error);
		assert_int_equal(fd, -1);
		assert_non_null(error);
		assert_non_null(strstr(error, bad[i]));
		free(error);
		error = NULL;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests_and_histogram),
		cmocka_unit_test(test_findings_state_and_build),
		cmocka_unit_test(test_cluster_cache),
		cmocka_unit_test(test_managed_certificates),
		cmocka_unit_test(test_file_signature_follows_data_link),
		cmocka_unit_test(test_listen_addresses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
