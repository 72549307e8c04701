/* http.c - one HTTP request: routing, checks, body, answer, log and metrics. */
#include "webhook/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JSON_TYPE "application/json"
#define TEXT_TYPE "text/plain; charset=utf-8"
#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define MAX_LOGGED_PATH 128 /* longest URL path kept for the log */

/* What one request carries from its first call to its completion. */
struct request {
	struct generation *gen;
	ds_endpoint endpoint;
	double start;
	char *body;               /* grown with ds_array_reserve() */
	size_t len;
	bool too_large;
	bool answered;
	int status;
	ds_result result;
	const char *refusal;      /* why the HTTP layer refused it, for the log */
	char *path;               /* the URL path, cut by ds_text_cut(), for the log */
	ds_review_result review;  /* for /validate and /mutate */
};

static const struct {
	const char *path;
	ds_endpoint endpoint;
	const char *method;
} routes[] = {
	{"/validate", DS_EP_VALIDATE, "POST"}, {"/mutate", DS_EP_MUTATE, "POST"}, {"/healthz", DS_EP_HEALTHZ, "GET"},
	{"/readyz", DS_EP_READYZ, "GET"},      {"/metrics", DS_EP_METRICS, "GET"},   {"/audit", DS_EP_AUDIT, "GET"},
};

#define ROUTE_COUNT (sizeof(routes) / sizeof(routes[0]))

/* The route of url, or ROUTE_COUNT when there is none. */
static size_t find_route(const char *url)
{
	for (size_t i = 0; i < ROUTE_COUNT; i++)
		if (!strcmp(url, routes[i].path))
			return i;
	return ROUTE_COUNT;
}

/* The connection's record in the server's connections (connections.c),
 * or NULL when it has none. */
static ds_conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

/* Queues `body` (malloc'd; taken, NULL for an empty body) with `status`,
 * and an Allow header when `allow` is not NULL: the request is in (or
 * answered early), and the connection is being answered. A retired
 * generation or a stopping server closes the connection after it.
 * Returns what MHD_queue_response returned. */
static enum MHD_Result answer(struct request *req, struct MHD_Connection *c, int status, const char *type, char *body,
			      ds_result result, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result rc;

	resp = MHD_create_response_from_buffer(body ? strlen(body) : 0, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	if (atomic_load(&req->gen->retired) || atomic_load(&req->gen->srv->stopping))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	rc = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	ds_conns_answering(&req->gen->srv->conns, conn_of(c), ds_monotonic());
	req->answered = true;
	req->status = status;
	req->result = result;
	return rc;
}

/* Answers a request the HTTP layer refuses with {"code":..,"message":..}
 * (message is a constant without quotes). */
static enum MHD_Result refuse(struct request *req, struct MHD_Connection *c, int status, const char *message,
			      const char *allow)
{
	char *body;

	req->refusal = message;
	if (asprintf(&body, "{\"code\":%d,\"message\":\"%s\"}", status, message) < 0)
		return MHD_NO;
	return answer(req, c, status, JSON_TYPE, body, DS_RESULT_BAD_REQUEST, allow);
}

/* Whether a Content-Type header names application/json (parameters such
 * as charset allowed). */
static bool is_json_type(const char *type)
{
	size_t len;

	if (!type)
		return false;
	type += strspn(type, " \t");
	len = strcspn(type, "; \t");
	return len == strlen(JSON_TYPE) && !strncasecmp(type, JSON_TYPE, len);
}

/* Whether the declared Content-Length exceeds max. */
static bool declared_too_large(struct MHD_Connection *c, size_t max)
{
	const char *text = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end;
	unsigned long long n;

	if (!text)
		return false;
	n = strtoull(text, &end, 10);
	return end != text && n > max;
}

/* The audit's metrics after the server's text. Takes text; returns a new
 * string, or NULL out of memory. */
static char *with_audit_metrics(char *text, ds_audit *audit)
{
	char *all = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&all, &size);

	if (out) {
		fputs(text, out);
		ds_audit_metrics(audit, out);
	}
	free(text);
	if (!out || fclose(out) != 0) {
		free(all);
		return NULL;
	}
	return all;
}

/* Answers /metrics, with the cluster cache's state, the namespace claims'
 * and the audit's when there are. */
static enum MHD_Result answer_metrics(struct request *req, struct MHD_Connection *c)
{
	ds_server *srv = req->gen->srv;
	kube_cache_stats stats;
	ds_claims_stats claims;
	char *text;

	if (srv->opts.cluster)
		kube_cache_stats_get(srv->opts.cluster, &stats);
	if (srv->opts.claims)
		ds_claims_stats_get(srv->opts.claims, &claims);
	text = ds_metrics_render(&srv->metrics, srv->opts.cluster ? &stats : NULL, srv->opts.claims ? &claims : NULL);
	if (text && srv->audit)
		text = with_audit_metrics(text, srv->audit);
	return text ? answer(req, c, 200, METRICS_TYPE, text, DS_RESULT_OK, NULL) : MHD_NO;
}

/* Answers /audit: the audit's document, 503 before the cache has synced,
 * 404 without cluster state. */
static enum MHD_Result answer_audit(struct request *req, struct MHD_Connection *c)
{
	ds_server *srv = req->gen->srv;
	int status;
	char *text;

	if (!srv->audit) {
		req->refusal = "no audit: the webhook has no cluster state (--cluster off)";
		return answer(req, c, 404, TEXT_TYPE, strdup("no audit: the webhook has no cluster state (--cluster off)\n"),
			      DS_RESULT_BAD_REQUEST, NULL);
	}
	text = ds_audit_document(srv->audit, &status);
	if (text)
		return answer(req, c, 200, JSON_TYPE, text, DS_RESULT_OK, NULL);
	if (status == 503)
		return answer(req, c, 503, TEXT_TYPE, strdup("the cluster cache has not synced yet\n"), DS_RESULT_ERROR,
			      NULL);
	return answer(req, c, 500, TEXT_TYPE, strdup("out of memory\n"), DS_RESULT_ERROR, NULL);
}

/* Answers /readyz 503 with why the managed certificate is not ready yet. */
static enum MHD_Result answer_certs_not_ready(struct request *req, struct MHD_Connection *c, const char *why)
{
	return answer(req, c, 503, TEXT_TYPE, ds_format("certificates: %s\n", why), DS_RESULT_ERROR, NULL);
}

/* Answers a GET endpoint. /readyz is 503 while stopping, until the
 * cluster cache, when there is one, has synced, and with --manage-certs
 * until every caBundle trusts the certificate served. */
static enum MHD_Result answer_get(struct request *req, struct MHD_Connection *c)
{
	ds_server *srv = req->gen->srv;
	char why[512];

	if (req->endpoint == DS_EP_METRICS)
		return answer_metrics(req, c);
	if (req->endpoint == DS_EP_AUDIT)
		return answer_audit(req, c);
	if (req->endpoint == DS_EP_READYZ && atomic_load(&srv->stopping))
		return answer(req, c, 503, TEXT_TYPE, strdup("stopping\n"), DS_RESULT_ERROR, NULL);
	if (req->endpoint == DS_EP_READYZ && srv->opts.cluster && !srv->cluster.synced(srv->cluster.data))
		return answer(req, c, 503, TEXT_TYPE, strdup("the cluster cache has not synced yet\n"), DS_RESULT_ERROR,
			      NULL);
	if (req->endpoint == DS_EP_READYZ && srv->certmgr && !ds_certmgr_ready(srv->certmgr, why, sizeof(why)))
		return answer_certs_not_ready(req, c, why);
	return answer(req, c, 200, TEXT_TYPE, strdup("ok\n"), DS_RESULT_OK, NULL);
}

/* The first call for a request: routes it and answers at once what can be
 * answered from the headers. */
static enum MHD_Result begin(struct generation *gen, struct MHD_Connection *c, const char *url, const char *method,
			     void **req_cls)
{
	struct request *req = calloc(1, sizeof(*req));
	size_t route = find_route(url);

	if (!req)
		return MHD_NO;
	/* Cut on a character boundary: a path of UTF-8 characters cut by bytes
	 * would make the log line invalid UTF-8. */
	req->path = ds_text_cut(url, MAX_LOGGED_PATH);
	if (!req->path) {
		free(req);
		return MHD_NO;
	}
	req->gen = gen;
	req->start = ds_monotonic();
	req->endpoint = route < ROUTE_COUNT ? routes[route].endpoint : DS_EP_OTHER;
	*req_cls = req;
	atomic_fetch_add(&gen->srv->metrics.in_flight, 1);
	if (route == ROUTE_COUNT)
		return refuse(req, c, 404, "no such path; try /validate, /mutate, /healthz, /readyz, /metrics or /audit", NULL);
	if (strcmp(method, routes[route].method))
		return refuse(req, c, 405, "method not allowed", routes[route].method);
	if (req->endpoint != DS_EP_VALIDATE && req->endpoint != DS_EP_MUTATE)
		return answer_get(req, c);
	if (!is_json_type(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)))
		return refuse(req, c, 415, "Content-Type must be application/json", NULL);
	if (declared_too_large(c, gen->srv->opts.max_body_bytes))
		return refuse(req, c, 413, "the body is larger than the limit (--max-body-bytes)", NULL);
	return MHD_YES;
}

/* Appends a piece of the body, or marks the request too large (and drops
 * what it had) once it passes the limit. Returns MHD_NO out of memory. */
static enum MHD_Result append_body(struct request *req, const char *data, size_t size)
{
	size_t max = req->gen->srv->opts.max_body_bytes;
	char *grown;

	if (req->too_large || size > max - req->len) {
		req->too_large = true;
		free(req->body);
		req->body = NULL;
		req->len = 0;
		return MHD_YES;
	}
	grown = ds_array_reserve(req->body, req->len, size, 1);
	if (!grown)
		return MHD_NO;
	req->body = grown;
	memcpy(req->body + req->len, data, size);
	req->len += size;
	return MHD_YES;
}

/* The whole body is in: answers the review. */
static enum MHD_Result finish(struct request *req, struct MHD_Connection *c)
{
	ds_server *srv = req->gen->srv;
	ds_review_mode mode = req->endpoint == DS_EP_MUTATE ? DS_REVIEW_MUTATE : DS_REVIEW_VALIDATE;
	ds_review_result *r = &req->review;
	ds_result result;
	char *body;

	if (req->too_large)
		return refuse(req, c, 413, "the body is larger than the limit (--max-body-bytes)", NULL);
	pthread_rwlock_rdlock(&srv->config_lock);
	ds_review(req->body ? req->body : "", req->len, mode, &srv->config, srv->opts.cluster ? &srv->cluster : NULL,
		  r);
	pthread_rwlock_unlock(&srv->config_lock);
	if (!r->body)
		return MHD_NO;
	if (r->status != 200)
		result = r->status < 500 ? DS_RESULT_BAD_REQUEST : DS_RESULT_ERROR;
	else
		result = !r->allowed ? DS_RESULT_DENIED : r->patched ? DS_RESULT_PATCHED : DS_RESULT_ALLOWED;
	body = r->body;
	r->body = NULL;
	return answer(req, c, r->status, JSON_TYPE, body, result, NULL);
}

enum MHD_Result ds_http_on_request(void *cls, struct MHD_Connection *connection, const char *url,
				   const char *method, const char *version, const char *upload_data,
				   size_t *upload_data_size, void **req_cls)
{
	struct request *req = *req_cls;
	size_t size = *upload_data_size;

	(void)version;
	if (!req)
		return begin(cls, connection, url, method, req_cls);
	*upload_data_size = 0;
	if (req->answered)
		return MHD_YES;
	if (size)
		return append_body(req, upload_data, size);
	return finish(req, connection);
}

/* The JSON array of the ids of the rules whose count is not zero, in buf. */
static const char *rule_ids(char *buf, size_t size, const unsigned counts[DS_RULE_COUNT])
{
	size_t used = 0;

	buf[used++] = '[';
	for (int i = 0; i < DS_RULE_COUNT; i++)
		if (counts[i])
			used += (size_t)snprintf(buf + used, size - used, "%s\"%s\"", used > 1 ? "," : "", ds_rules[i].id);
	snprintf(buf + used, size - used, "]");
	return buf;
}

#define RULE_IDS_SIZE (DS_RULE_COUNT * 16 + 3)

/* Logs a finished review: who, what, the verdict, never object contents. */
static void log_review(const struct request *req, double ms)
{
	const ds_review_result *r = &req->review;
	bool ok = r->status == 200;
	char status[16], duration[32], rules[RULE_IDS_SIZE], exempted[RULE_IDS_SIZE];
	const ds_log_field f[] = {
		{"endpoint", req->endpoint == DS_EP_MUTATE ? "/mutate" : "/validate", true},
		{"status", status, false},
		{"uid", r->uid, true},
		{"kind", r->kind, true},
		{"namespace", r->namespace, true},
		{"name", r->name, true},
		{"operation", r->operation != DS_OP_NONE ? ds_operation_name(r->operation) : NULL, true},
		{"allowed", !ok ? NULL : r->allowed ? "true" : "false", false},
		{"patched", !ok ? NULL : r->patched ? "true" : "false", false},
		{"dryRun", !ok ? NULL : r->dry_run ? "true" : "false", false},
		{"unsynced", ok && r->unsynced ? "true" : NULL, false},
		{"reserved", ok && r->reserved ? "true" : NULL, false},
		{"unclaimed", ok && r->unclaimed ? "true" : NULL, false},
		{"rules", ok ? rule_ids(rules, sizeof(rules), r->findings) : NULL, false},
		{"exempted", ok ? rule_ids(exempted, sizeof(exempted), r->exempted) : NULL, false},
		{"error", ok ? NULL : req->refusal ? req->refusal : r->error, true},
		{"durationMs", duration, false},
	};

	snprintf(status, sizeof(status), "%d", req->status);
	snprintf(duration, sizeof(duration), "%.3f", ms);
	ds_log_line(DS_LOG_INFO, req->status == 200 ? "review" : "bad request", f, sizeof(f) / sizeof(f[0]));
}

/* Logs a request to another endpoint (at debug: probes come often). */
static void log_other(const struct request *req, double ms)
{
	char status[16], duration[32];
	const ds_log_field f[] = {
		{"path", req->path, true},
		{"status", status, false},
		{"error", req->refusal, true},
		{"durationMs", duration, false},
	};

	if (!ds_log_enabled(DS_LOG_DEBUG) && req->status < 500)
		return;
	snprintf(status, sizeof(status), "%d", req->status);
	snprintf(duration, sizeof(duration), "%.3f", ms);
	ds_log_line(req->status < 500 ? DS_LOG_DEBUG : DS_LOG_WARN, "request", f, sizeof(f) / sizeof(f[0]));
}

/* Counts and logs an answered request. */
static void account(struct request *req)
{
	ds_metrics *m = &req->gen->srv->metrics;
	double seconds = ds_monotonic() - req->start;
	bool review = req->endpoint == DS_EP_VALIDATE || req->endpoint == DS_EP_MUTATE;

	ds_metrics_request(m, req->endpoint, req->review.operation, req->result, seconds);
	if (review && req->review.status == 200)
		ds_metrics_review(m, &req->review);
	if (review)
		log_review(req, seconds * 1000);
	else
		log_other(req, seconds * 1000);
}

void ds_http_on_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
			  enum MHD_RequestTerminationCode toe)
{
	struct generation *gen = cls;
	struct request *req = *req_cls;

	/* Answered, and kept alive: the idle timeout holds it until a byte of
	 * its next request comes (any other ending closes the connection). */
	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
		ds_conns_waiting(&gen->srv->conns, conn_of(connection), ds_monotonic());
	if (!req)
		return;
	if (req->answered)
		account(req);
	atomic_fetch_sub(&req->gen->srv->metrics.in_flight, 1);
	ds_review_result_free(&req->review);
	free(req->body);
	free(req->path);
	free(req);
	*req_cls = NULL;
}
