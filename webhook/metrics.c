/* metrics.c - the server's counters, rendered in the Prometheus text format. */
#include "webhook/internal.h"

#include <stdio.h>
#include <stdlib.h>

const double ds_latency_bounds[DS_LATENCY_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,
};

static const char *const endpoint_names[DS_EP_COUNT] = {"/validate", "/mutate",  "/healthz", "/readyz",
							 "/metrics",  "/audit",   "other"};
static const char *const result_names[DS_RESULT_COUNT] = {"allowed", "patched",     "denied",
							   "ok",      "bad_request", "error"};

void ds_metrics_request(ds_metrics *m, ds_endpoint ep, ds_operation op, ds_result result, double seconds)
{
	int b = 0;

	while (b < DS_LATENCY_BUCKETS && seconds > ds_latency_bounds[b])
		b++;
	atomic_fetch_add(&m->requests[ep][op][result], 1);
	atomic_fetch_add(&m->latency_buckets[ep][b], 1);
	atomic_fetch_add(&m->latency_count[ep], 1);
	atomic_fetch_add(&m->latency_sum_ns[ep], (unsigned long long)(seconds * 1e9));
}

void ds_metrics_review(ds_metrics *m, const ds_review_result *r)
{
	for (int i = 0; i < DS_RULE_COUNT; i++) {
		atomic_fetch_add(&m->findings[i], r->findings[i]);
		atomic_fetch_add(&m->exemptions[i][0], r->exempted[i] - r->exempted_by_config[i]);
		atomic_fetch_add(&m->exemptions[i][1], r->exempted_by_config[i]);
		atomic_fetch_add(&m->expired_exemptions[i], r->expired[i]);
	}
	/* The one place every answered review passes: the log hears of an
	 * expired exemption here, once for each. */
	if (r->expired_entry)
		ds_log_once(DS_LOG_WARN, r->expired_entry,
			    "the config exemption at %s has expired and exempts nothing any more: renew or remove it",
			    r->expired_entry);
}

static void render_requests(FILE *out, ds_metrics *m)
{
	fputs("# HELP dsguard_requests_total HTTP requests answered, by endpoint, admission operation and result.\n"
	      "# TYPE dsguard_requests_total counter\n",
	      out);
	for (int e = 0; e < DS_EP_COUNT; e++)
		for (int o = 0; o < DS_OP_COUNT; o++)
			for (int r = 0; r < DS_RESULT_COUNT; r++) {
				unsigned long n = atomic_load(&m->requests[e][o][r]);
				if (n)
					fprintf(out,
						"dsguard_requests_total{endpoint=\"%s\",operation=\"%s\",result=\"%s\"} %lu\n",
						endpoint_names[e], ds_operation_name((ds_operation)o), result_names[r], n);
			}
}

static void render_latency(FILE *out, ds_metrics *m)
{
	fputs("# HELP dsguard_request_duration_seconds Time from a request's headers to its answer.\n"
	      "# TYPE dsguard_request_duration_seconds histogram\n",
	      out);
	for (int e = 0; e < DS_EP_COUNT; e++) {
		unsigned long count = atomic_load(&m->latency_count[e]), cumulative = 0;
		if (!count)
			continue;
		for (int b = 0; b < DS_LATENCY_BUCKETS; b++) {
			cumulative += atomic_load(&m->latency_buckets[e][b]);
			fprintf(out, "dsguard_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %lu\n",
				endpoint_names[e], ds_latency_bounds[b], cumulative);
		}
		fprintf(out, "dsguard_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %lu\n",
			endpoint_names[e], count);
		fprintf(out, "dsguard_request_duration_seconds_sum{endpoint=\"%s\"} %.9f\n", endpoint_names[e],
			(double)atomic_load(&m->latency_sum_ns[e]) / 1e9);
		fprintf(out, "dsguard_request_duration_seconds_count{endpoint=\"%s\"} %lu\n", endpoint_names[e], count);
	}
}

static void render_rules(FILE *out, ds_metrics *m)
{
	fputs("# HELP dsguard_findings_total Findings in admission reviews (not counting exempted ones), by rule.\n"
	      "# TYPE dsguard_findings_total counter\n",
	      out);
	for (int i = 0; i < DS_RULE_COUNT; i++)
		fprintf(out, "dsguard_findings_total{rule=\"%s\",name=\"%s\"} %lu\n", ds_rules[i].id, ds_rules[i].name,
			atomic_load(&m->findings[i]));
	fputs("# HELP dsguard_exemptions_total Findings exempted, by rule and by what exempted them: the "
	      "dsguard.io/ignore annotation or a config exemption.\n"
	      "# TYPE dsguard_exemptions_total counter\n",
	      out);
	for (int i = 0; i < DS_RULE_COUNT; i++)
		for (int by = 0; by < 2; by++)
			fprintf(out, "dsguard_exemptions_total{rule=\"%s\",name=\"%s\",by=\"%s\"} %lu\n", ds_rules[i].id,
				ds_rules[i].name, by ? "config" : "annotation", atomic_load(&m->exemptions[i][by]));
	fputs("# HELP dsguard_exemptions_expired_total Findings that a config exemption would have exempted had it "
	      "not expired, by rule.\n"
	      "# TYPE dsguard_exemptions_expired_total counter\n",
	      out);
	for (int i = 0; i < DS_RULE_COUNT; i++)
		fprintf(out, "dsguard_exemptions_expired_total{rule=\"%s\",name=\"%s\"} %lu\n", ds_rules[i].id,
			ds_rules[i].name, atomic_load(&m->expired_exemptions[i]));
}

static void render_state(FILE *out, ds_metrics *m)
{
	fprintf(out,
		"# HELP dsguard_config_reloads_total Config reloads, by result.\n"
		"# TYPE dsguard_config_reloads_total counter\n"
		"dsguard_config_reloads_total{result=\"success\"} %lu\n"
		"dsguard_config_reloads_total{result=\"failure\"} %lu\n"
		"# HELP dsguard_certificate_reloads_total Certificate reloads, by result.\n"
		"# TYPE dsguard_certificate_reloads_total counter\n"
		"dsguard_certificate_reloads_total{result=\"success\"} %lu\n"
		"dsguard_certificate_reloads_total{result=\"failure\"} %lu\n"
		"# HELP dsguard_certificate_not_after_seconds When the serving certificate expires (Unix time).\n"
		"# TYPE dsguard_certificate_not_after_seconds gauge\n"
		"dsguard_certificate_not_after_seconds %lld\n"
		"# HELP dsguard_requests_in_flight Requests being answered now.\n"
		"# TYPE dsguard_requests_in_flight gauge\n"
		"dsguard_requests_in_flight %u\n"
		"# HELP dsguard_connections_closed_total Connections the server closed early, by reason: a request "
		"not in and answered within --request-timeout, or room made for a newcomer.\n"
		"# TYPE dsguard_connections_closed_total counter\n"
		"dsguard_connections_closed_total{reason=\"request_timeout\"} %lu\n"
		"dsguard_connections_closed_total{reason=\"server_full\"} %lu\n"
		"# HELP dsguard_cluster_state_enabled Whether DS003 has cluster state (1) or is off (0).\n"
		"# TYPE dsguard_cluster_state_enabled gauge\n"
		"dsguard_cluster_state_enabled %d\n"
		"# HELP dsguard_build_info The running build.\n"
		"# TYPE dsguard_build_info gauge\n"
		"dsguard_build_info{version=\"%s\"} 1\n",
		atomic_load(&m->config_reloads[0]), atomic_load(&m->config_reloads[1]),
		atomic_load(&m->cert_reloads[0]), atomic_load(&m->cert_reloads[1]),
		(long long)atomic_load(&m->cert_not_after), atomic_load(&m->in_flight),
		atomic_load(&m->connections_closed[DS_CLOSED_REQUEST_TIMEOUT]),
		atomic_load(&m->connections_closed[DS_CLOSED_SERVER_FULL]),
		atomic_load(&m->cluster_state) ? 1 : 0, DSGUARD_VERSION);
}

/* Writes one metric with its HELP and TYPE lines. */
static void render_one(FILE *out, const char *name, const char *type, const char *help, double value)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, value);
}

/* Writes the cluster cache's state; the last event's age only once there was one. */
static void render_cluster(FILE *out, const kube_cache_stats *c)
{
	render_one(out, "dsguard_cluster_cache_objects", "gauge", "DaemonSets in the cluster cache.",
		   (double)c->objects);
	render_one(out, "dsguard_cluster_cache_namespaces", "gauge",
		   "Namespaces holding at least one DaemonSet in the cluster cache.", (double)c->namespaces);
	render_one(out, "dsguard_cluster_cache_reservations", "gauge",
		   "Admitted CREATEs the watch has not reported yet.", (double)c->reservations);
	render_one(out, "dsguard_cluster_cache_synced", "gauge",
		   "Whether the cluster's DaemonSets have been listed (1) or not yet (0).", c->watch.synced);
	render_one(out, "dsguard_cluster_cache_watching", "gauge", "Whether a watch stream is open (1) or not (0).",
		   c->watch.watching);
	render_one(out, "dsguard_cluster_cache_relists_total", "counter",
		   "Lists after the first (410 Gone, events that could not be read).", (double)c->watch.relists);
	render_one(out, "dsguard_cluster_cache_watch_restarts_total", "counter", "Watches opened after the first.",
		   (double)c->watch.watch_restarts);
	if (c->watch.since_last_event >= 0)
		render_one(out, "dsguard_cluster_cache_last_event_age_seconds", "gauge",
			   "Seconds since the last list or watch event.", c->watch.since_last_event);
}

/* Writes the metrics of serve --manage-certs. */
static void render_managed_certs(FILE *out, ds_metrics *m)
{
	static const char *const configs[2] = {"validating", "mutating"};
	static const char *const reasons[2] = {"rotation", "reset"};

	render_one(out, "dsguard_ca_not_after_seconds", "gauge",
		   "When the CA that signs the serving certificates expires (Unix time).",
		   (double)atomic_load(&m->ca_not_after));
	fputs("# HELP dsguard_certificate_rotations_total Certificates this replica made and wrote to the Secret, by "
	      "kind.\n# TYPE dsguard_certificate_rotations_total counter\n",
	      out);
	fprintf(out, "dsguard_certificate_rotations_total{certificate=\"serving\"} %lu\n",
		atomic_load(&m->cert_rotations[0]));
	fprintf(out, "dsguard_certificate_rotations_total{certificate=\"ca\"} %lu\n", atomic_load(&m->cert_rotations[1]));
	fputs("# HELP dsguard_ca_bundle_patches_total caBundle patches this replica made, by webhook configuration and "
	      "reason: rotation (ca.crt changed) or reset (someone else changed the caBundle).\n"
	      "# TYPE dsguard_ca_bundle_patches_total counter\n",
	      out);
	for (int c = 0; c < 2; c++)
		for (int r = 0; r < 2; r++)
			fprintf(out, "dsguard_ca_bundle_patches_total{configuration=\"%s\",reason=\"%s\"} %lu\n",
				configs[c], reasons[r], atomic_load(&m->bundle_patches[c][r]));
	render_one(out, "dsguard_ca_bundle_trusted", "gauge",
		   "Whether every caBundle trusts the certificate this replica serves (1) or not (0).",
		   atomic_load(&m->bundle_trusted));
	render_one(out, "dsguard_certificate_manager_errors_total", "counter",
		   "Requests to the API server and writes of the certificate manager that failed.",
		   (double)atomic_load(&m->certmgr_errors));
}

static const char *const claim_result_names[DS_CLAIM_RESULTS] = {"claimed", "held", "taken_over", "refused",
								  "error"};

/* Writes the namespace claims' counters and their latency histogram. */
static void render_claims(FILE *out, const ds_claims_stats *c)
{
	unsigned long cumulative = 0;

	fputs("# HELP dsguard_claims_total Namespace claims made in the API server for admitted CREATEs, by result.\n"
	      "# TYPE dsguard_claims_total counter\n",
	      out);
	for (int i = 0; i < DS_CLAIM_RESULTS; i++)
		fprintf(out, "dsguard_claims_total{result=\"%s\"} %lu\n", claim_result_names[i], c->results[i]);
	render_one(out, "dsguard_claim_conflicts_total", "counter",
		   "409 answers (AlreadyExists, Conflict) after which a claim read its Lease again.",
		   (double)c->conflicts);
	render_one(out, "dsguard_claims_released_total", "counter",
		   "Claims removed because their DaemonSet does not exist.", (double)c->released);
	render_one(out, "dsguard_claims_pending", "gauge",
		   "Claims this replica watches until their DaemonSet exists or their TTL has passed.",
		   (double)c->pending);
	fputs("# HELP dsguard_claim_duration_seconds Time one claim took, its API calls and any wait for a client "
	      "included.\n# TYPE dsguard_claim_duration_seconds histogram\n",
	      out);
	for (int b = 0; b < DS_LATENCY_BUCKETS; b++) {
		cumulative += c->latency_buckets[b];
		fprintf(out, "dsguard_claim_duration_seconds_bucket{le=\"%g\"} %lu\n", ds_latency_bounds[b], cumulative);
	}
	fprintf(out, "dsguard_claim_duration_seconds_bucket{le=\"+Inf\"} %lu\n", c->latency_count);
	fprintf(out, "dsguard_claim_duration_seconds_sum %.9f\n", c->latency_sum);
	fprintf(out, "dsguard_claim_duration_seconds_count %lu\n", c->latency_count);
}

char *ds_metrics_render(ds_metrics *m, const kube_cache_stats *cluster, const ds_claims_stats *claims)
{
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	if (!out)
		return NULL;
	render_requests(out, m);
	render_latency(out, m);
	render_rules(out, m);
	render_state(out, m);
	if (cluster)
		render_cluster(out, cluster);
	if (claims)
		render_claims(out, claims);
	if (atomic_load(&m->certs_managed))
		render_managed_certs(out, m);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
