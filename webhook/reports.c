/* reports.c - the audit's PolicyReports (wgpolicyk8s.io/v1alpha2): one per
 * namespace holding DaemonSets, written by the Lease holder alone, only
 * when its content changed, bursts coalesced, requests rate-limited. */
#include "webhook/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUP_PATH "/apis/wgpolicyk8s.io/v1alpha2"
#define REPORT_NAME "dsguard"
#define MANAGED_BY "app.kubernetes.io/managed-by"
#define SETTLE 1.0             /* seconds a namespace must rest before its report is written */
#define MAX_DELAY 10.0         /* ... but no longer than this after its first change */
#define RETRY 30.0             /* seconds before a failed write is tried again */
#define RATE 5.0               /* requests per second on average (client-go's default QPS) */
#define BURST 10.0             /* and in a burst (client-go's default) */
#define DISCOVERY_INTERVAL 60.0 /* between two looks for the PolicyReport API */
#define MAX_RESULTS 500        /* results one report lists (its summary counts them all) */
#define DEADLINE 10.0          /* seconds one request may take */
#define MAX_ANSWER (8u << 20)  /* bytes of one answer */
#define LIST_PAGE 100

enum { OP_CREATE, OP_UPDATE, OP_DELETE, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"create", "update", "delete"};

struct ds_reports {
	ds_audit *audit;
	kube_client *client;
	kube_lease *lease;
	pthread_t thread;
	pthread_cond_t cond;   /* with audit->mu: a report is due, or stop */
	bool stop;             /* under audit->mu */
	double tokens;         /* the rate limiter's, under audit->mu */
	double tokens_at;
	atomic_ulong writes[OP_COUNT][2]; /* [op][0 success, 1 failure] */
	atomic_bool leading;
	atomic_bool served;
	/* the thread's own */
	bool known;            /* whether the API was looked for yet */
	double next_discovery;
	bool sweep;            /* reports of namespaces without DaemonSets are to be found */
	double next_sweep;
};

/* The monotonic time t (seconds, as ds_monotonic() gives) as a timespec,
 * for waits on r->cond (CLOCK_MONOTONIC). */
static void monotonic_timespec(double t, struct timespec *ts)
{
	ts->tv_sec = (time_t)t;
	ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* ---- requests ---- */

/* Waits for the rate limiter's token. Returns false when stopping. */
static bool take_token(ds_reports *r)
{
	ds_audit *a = r->audit;
	bool got = false;

	pthread_mutex_lock(&a->mu);
	while (!r->stop) {
		double now = ds_monotonic();
		struct timespec until;

		r->tokens += (now - r->tokens_at) * RATE;
		if (r->tokens > BURST)
			r->tokens = BURST;
		r->tokens_at = now;
		if (r->tokens >= 1) {
			r->tokens -= 1;
			got = true;
			break;
		}
		monotonic_timespec(now + (1 - r->tokens) / RATE, &until);
		pthread_cond_timedwait(&r->cond, &a->mu, &until);
	}
	pthread_mutex_unlock(&a->mu);
	return got;
}

/* Makes one request through the rate limiter. Returns the HTTP status
 * (out filled), or -1 when no answer came (logged). */
static long request(ds_reports *r, kube_method method, const char *path, const char *body, kube_response *out)
{
	kube_request req = {.method = method, .path = path, .body = body, .deadline = DEADLINE,
			    .max_bytes = MAX_ANSWER};
	char *error = NULL;

	memset(out, 0, sizeof(*out));
	if (!take_token(r))
		return -1;
	if (kube_call(r->client, &req, out, &error) == 0)
		return out->status;
	ds_log(DS_LOG_WARN, "policy reports: %s: %s", path, error ? error : "out of memory");
	free(error);
	return -1;
}

/* Logs a failed answer, naming what was done. */
static void log_failure(const kube_response *resp, const char *what)
{
	char *error = NULL;

	kube_status_error(resp, what, &error);
	ds_log(DS_LOG_WARN, "policy reports: %s", error ? error : what);
	free(error);
}

static void count(ds_reports *r, int op, bool ok)
{
	atomic_fetch_add(&r->writes[op][ok ? 0 : 1], 1);
}

/* Whether ns can be put in a path as it stands: a DNS label, as the API
 * server makes every namespace's name. */
static bool plain_name(const char *ns)
{
	return *ns && strlen(ns) <= 63 && strspn(ns, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(ns);
}

/* ---- the report ---- */

/* A PolicyReport's severity for a dsguard severity. */
static const char *report_severity(ds_severity s)
{
	return s == DS_SEVERITY_ERROR ? "high" : "medium";
}

/* The results a report's summary counts. */
enum { PASS, FAIL, WARN, SKIP, OUTCOMES };
static const char *const outcome_names[OUTCOMES] = {"pass", "fail", "warn", "skip"};

/* One result of rule for the DaemonSet ns/name (uid), at time `at`; f is
 * its finding, or NULL when it passed. Returns it, or NULL out of memory. */
static cJSON *result_of(const ds_rule *rule, ds_severity severity, const ds_lint_finding *f, const char *ns,
			const char *name, const char *uid, time_t at, int outcome)
{
	cJSON *o = cJSON_CreateObject(), *res, *ts;
	char label[64], *message = NULL;

	snprintf(label, sizeof(label), "%s %s", rule->id, rule->name);
	if (outcome == SKIP)
		message = ds_format("exempted by %s: %s", DS_IGNORE_ANNOTATION, f->message);
	res = cJSON_AddArrayToObject(o, "resources");
	cJSON *ref = cJSON_CreateObject();
	cJSON_AddItemToArray(res, ref);
	ts = cJSON_AddObjectToObject(o, "timestamp");
	if (!cJSON_AddStringToObject(o, "source", "dsguard") || !cJSON_AddStringToObject(o, "policy", "dsguard") ||
	    !cJSON_AddStringToObject(o, "rule", label) ||
	    !cJSON_AddStringToObject(o, "category", "DaemonSet best practices") ||
	    !cJSON_AddStringToObject(o, "severity", report_severity(f ? f->severity : severity)) ||
	    !cJSON_AddStringToObject(o, "result", outcome_names[outcome]) ||
	    !cJSON_AddStringToObject(o, "message", outcome == SKIP ? (message ? message : "") :
						     f ? f->message : rule->summary) ||
	    !cJSON_AddBoolToObject(o, "scored", true) || !ref || !cJSON_AddStringToObject(ref, "apiVersion", "apps/v1") ||
	    !cJSON_AddStringToObject(ref, "kind", "DaemonSet") || !cJSON_AddStringToObject(ref, "namespace", ns) ||
	    !cJSON_AddStringToObject(ref, "name", name) || !cJSON_AddStringToObject(ref, "uid", uid) || !ts ||
	    !cJSON_AddNumberToObject(ts, "seconds", (double)at) || !cJSON_AddNumberToObject(ts, "nanos", 0) ||
	    (outcome == SKIP && !message)) {
		cJSON_Delete(o);
		o = NULL;
	}
	free(message);
	return o;
}

/* What outcome a finding is. */
static int outcome_of(const ds_lint_finding *f)
{
	return f->exempt ? SKIP : f->severity == DS_SEVERITY_ERROR ? FAIL : WARN;
}

/* The rules' severities under cfg (NULL: off), as a finding of each would
 * carry it. */
static void rule_severities(const ds_config *cfg, ds_severity out[DS_RULE_COUNT])
{
	for (size_t i = 0; i < DS_RULE_COUNT; i++) {
		out[i] = cfg->rules[i].severity;
		if (!cfg->enforce && out[i] == DS_SEVERITY_ERROR)
			out[i] = DS_SEVERITY_WARNING;
	}
}

/* Adds the results of one pass over the evaluation to results: those that
 * are not passes (passes false), or the passes. Counts every one in
 * counts, lists no more than MAX_RESULTS. Returns 0, or -1 out of memory. */
static int add_results(cJSON *results, const ds_audit_eval *ev, const char *ns, const ds_severity sev[DS_RULE_COUNT],
		       time_t at, bool passes, unsigned long counts[OUTCOMES])
{
	const ds_lint_report *rep = &ev->report;
	size_t fi = 0;

	for (size_t d = 0; d < rep->daemonset_count; d++) {
		const ds_lint_daemonset *ds = &rep->daemonsets[d];
		const char *uid = ev->uids[ds->file_index - 1];
		while (fi < rep->finding_count && rep->findings[fi].file_index < ds->file_index)
			fi++;
		for (size_t r = 0; r < DS_RULE_COUNT; r++) {
			bool found = false;
			if (sev[r] == DS_SEVERITY_OFF)
				continue;
			for (size_t k = fi; k < rep->finding_count && rep->findings[k].file_index == ds->file_index; k++) {
				const ds_lint_finding *f = &rep->findings[k];
				cJSON *o;
				if (f->rule != &ds_rules[r])
					continue;
				found = true;
				if (passes)
					continue;
				counts[outcome_of(f)]++;
				if ((size_t)cJSON_GetArraySize(results) >= MAX_RESULTS)
					continue;
				o = result_of(f->rule, f->severity, f, ns, ds->name, uid, at, outcome_of(f));
				if (!o || !cJSON_AddItemToArray(results, o))
					return -1;
			}
			if (found || !passes)
				continue;
			counts[PASS]++;
			if ((size_t)cJSON_GetArraySize(results) < MAX_RESULTS) {
				cJSON *o = result_of(&ds_rules[r], sev[r], NULL, ns, ds->name, uid, at, PASS);
				if (!o || !cJSON_AddItemToArray(results, o))
					return -1;
			}
		}
	}
	return 0;
}

/* The PolicyReport of namespace ns from its evaluation under cfg, its
 * results stamped `at`: failures, warnings and exemptions first, then
 * passes, at most MAX_RESULTS, the summary counting all. Returns a new
 * tree, or NULL out of memory. */
static cJSON *build_report(const char *ns, const ds_audit_eval *ev, const ds_config *cfg, time_t at)
{
	cJSON *rep = cJSON_CreateObject(), *meta, *labels, *results, *summary;
	unsigned long counts[OUTCOMES] = {0};
	ds_severity sev[DS_RULE_COUNT];

	rule_severities(cfg, sev);
	meta = cJSON_AddObjectToObject(rep, "metadata");
	labels = cJSON_AddObjectToObject(meta, "labels");
	results = cJSON_AddArrayToObject(rep, "results");
	if (!cJSON_AddStringToObject(rep, "apiVersion", "wgpolicyk8s.io/v1alpha2") ||
	    !cJSON_AddStringToObject(rep, "kind", "PolicyReport") || !meta ||
	    !cJSON_AddStringToObject(meta, "name", REPORT_NAME) || !cJSON_AddStringToObject(meta, "namespace", ns) ||
	    !labels || !cJSON_AddStringToObject(labels, MANAGED_BY, "dsguard") || !results ||
	    add_results(results, ev, ns, sev, at, false, counts) < 0 ||
	    add_results(results, ev, ns, sev, at, true, counts) < 0 ||
	    !(summary = cJSON_AddObjectToObject(rep, "summary")) ||
	    !cJSON_AddNumberToObject(summary, "pass", (double)counts[PASS]) ||
	    !cJSON_AddNumberToObject(summary, "fail", (double)counts[FAIL]) ||
	    !cJSON_AddNumberToObject(summary, "warn", (double)counts[WARN]) ||
	    !cJSON_AddNumberToObject(summary, "error", 0) ||
	    !cJSON_AddNumberToObject(summary, "skip", (double)counts[SKIP])) {
		cJSON_Delete(rep);
		return NULL;
	}
	return rep;
}

/* What of a report is compared before writing it: our label, the results
 * without their timestamps, the summary. Returns a new tree, or NULL. */
static cJSON *content_of(const cJSON *report)
{
	const cJSON *labels = ds_pointer_get(report, "/metadata/labels");
	const cJSON *label = cJSON_GetObjectItemCaseSensitive(labels, MANAGED_BY);
	cJSON *c = cJSON_CreateObject();
	cJSON *results = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(report, "results"), 1);
	cJSON *summary = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(report, "summary"), 1);
	cJSON *item;

	cJSON_ArrayForEach(item, results)
		cJSON_DeleteItemFromObjectCaseSensitive(item, "timestamp");
	if (!c || (label && !cJSON_AddItemToObject(c, "label", cJSON_Duplicate(label, 0))) ||
	    (results && !cJSON_AddItemToObject(c, "results", results)) ||
	    (summary && !cJSON_AddItemToObject(c, "summary", summary))) {
		cJSON_Delete(c);
		return NULL;
	}
	return c;
}

/* Whether the stored report says what ours says (timestamps aside). */
static bool same_content(const cJSON *ours, const cJSON *theirs)
{
	cJSON *a = content_of(ours), *b = content_of(theirs);
	bool same = a && b && ds_json_equal(a, b) == 1;

	cJSON_Delete(a);
	cJSON_Delete(b);
	return same;
}

/* The report's path in namespace ns (name NULL: the collection). */
static char *report_path(const char *ns, const char *name)
{
	return name ? ds_format(GROUP_PATH "/namespaces/%s/policyreports/%s", ns, name)
		    : ds_format(GROUP_PATH "/namespaces/%s/policyreports", ns);
}

/* The resourceVersion of an answer's object, a new string or NULL. */
static char *rv_of(const kube_response *resp)
{
	cJSON *obj = cJSON_ParseWithLength(resp->body, resp->len);
	const char *rv = cJSON_GetStringValue(ds_pointer_get(obj, "/metadata/resourceVersion"));
	char *copy = rv ? strdup(rv) : NULL;

	cJSON_Delete(obj);
	return copy;
}

/* Sends the report: PUT over the stored one at *rv, or POST when rv is
 * NULL. Returns the HTTP status (-1: no answer); on 200 or 201 *rv is the
 * new resourceVersion. */
static long send_report(ds_reports *r, const char *ns, cJSON *report, char **rv)
{
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(report, "metadata");
	char *path = report_path(ns, *rv ? REPORT_NAME : NULL), *body;
	kube_response resp;
	long status = -1;
	int op = *rv ? OP_UPDATE : OP_CREATE;

	cJSON_DeleteItemFromObjectCaseSensitive(meta, "resourceVersion");
	if (*rv && !cJSON_AddStringToObject(meta, "resourceVersion", *rv)) {
		free(path);
		return -1;
	}
	body = path ? cJSON_PrintUnformatted(report) : NULL;
	if (body)
		status = request(r, *rv ? KUBE_PUT : KUBE_POST, path, body, &resp);
	if (status == 200 || status == 201) {
		free(*rv);
		*rv = rv_of(&resp);
	} else if (status > 0 && status != 409) {
		log_failure(&resp, path);
	}
	if (status > 0)
		count(r, op, status == 200 || status == 201);
	kube_response_free(&resp);
	cJSON_free(body);
	free(path);
	return status;
}

/* Puts our report in the cluster unless the stored one says the same: with
 * *rv known, a PUT over it; else the stored one is read first, then left
 * as it is (same content), replaced, or created. Returns true when the
 * cluster holds our content (*rv its resourceVersion). */
static bool put_report(ds_reports *r, const char *ns, cJSON *report, char **rv)
{
	char *path;
	kube_response resp;
	long status;
	cJSON *stored;
	bool same;

	if (*rv) {
		status = send_report(r, ns, report, rv);
		return status == 200 || status == 201;
	}
	path = report_path(ns, REPORT_NAME);
	status = path ? request(r, KUBE_GET, path, NULL, &resp) : -1;
	free(path);
	if (status == 404) {
		kube_response_free(&resp);
		return send_report(r, ns, report, rv) == 201;
	}
	if (status != 200) {
		if (status > 0)
			log_failure(&resp, "reading PolicyReport " REPORT_NAME);
		kube_response_free(&resp);
		return false;
	}
	stored = cJSON_ParseWithLength(resp.body, resp.len);
	*rv = rv_of(&resp);
	kube_response_free(&resp);
	same = stored && same_content(report, stored);
	cJSON_Delete(stored);
	if (!*rv)
		return false;
	if (same)
		return true;
	status = send_report(r, ns, report, rv);
	return status == 200 || status == 201;
}

/* Deletes namespace ns's report. Returns true when it is gone. */
static bool delete_report(ds_reports *r, const char *ns)
{
	char *path = report_path(ns, REPORT_NAME);
	kube_response resp;
	long status = path ? request(r, KUBE_DELETE, path, NULL, &resp) : -1;

	if (status == 200 || status == 404)
		count(r, OP_DELETE, true);
	else if (status > 0) {
		count(r, OP_DELETE, false);
		log_failure(&resp, path);
	}
	kube_response_free(&resp);
	free(path);
	return status == 200 || status == 404;
}

/* Records how writing ns's report went (the caller holds a->mu). */
static void settle(ds_audit *a, const char *ns, bool ok, uint64_t hash, char *rv, bool gone)
{
	ds_audit_ns *s = ds_audit_find(a, ns);
	double now = ds_monotonic();

	if (!s) {
		free(rv);
		return;
	}
	free(s->written_rv);
	s->written_rv = ok ? rv : NULL;
	s->written = ok ? hash : 0;
	if (!ok) {
		free(rv);
		if (!s->due)
			s->due_first = now;
		s->due = true;
		s->due_last = now;
		s->retry_at = now + RETRY;
	} else if (gone && !s->daemonsets && !s->due && !s->dirty) {
		ds_audit_drop(a, ns);
	}
}

/* Brings namespace ns's report in line with its DaemonSets now. */
static void write_one(ds_reports *r, const char *ns)
{
	ds_audit *a = r->audit;
	kube_snapshot snap;
	ds_audit_eval ev;
	cJSON *report = NULL;
	char *rv = NULL, *text = NULL;
	uint64_t hash = 0, written = 0;
	time_t at = time(NULL);
	bool ok = false;

	if (kube_cache_snapshot(a->cache, ns, &snap) < 0)
		goto done;
	if (!snap.count) {
		ok = delete_report(r, ns);
		pthread_mutex_lock(&a->mu);
		settle(a, ns, ok, 0, NULL, true);
		pthread_mutex_unlock(&a->mu);
		kube_snapshot_free(&snap);
		return;
	}
	if (ds_audit_evaluate(a, snap.records, snap.count, &ev) == 0) {
		ds_audit_ns *s;
		pthread_mutex_lock(&a->mu);
		s = ds_audit_find(a, ns);
		if (s) {
			at = s->changed_at ? s->changed_at : at;
			written = s->written;
			rv = s->written_rv ? strdup(s->written_rv) : NULL;
		}
		pthread_mutex_unlock(&a->mu);
		pthread_rwlock_rdlock(a->config_lock);
		report = build_report(ns, &ev, a->config, at);
		pthread_rwlock_unlock(a->config_lock);
		ds_audit_eval_free(&ev);
	}
	text = report ? cJSON_PrintUnformatted(report) : NULL;
	if (text) {
		hash = ds_fnv(DS_FNV_START, text, strlen(text));
		ok = written == hash || put_report(r, ns, report, &rv);
	}
done:
	if (!text)
		ds_log(DS_LOG_ERROR, "policy reports: out of memory making the report of namespace %s", ns);
	pthread_mutex_lock(&a->mu);
	settle(a, ns, ok, hash, rv, false);
	pthread_mutex_unlock(&a->mu);
	cJSON_free(text);
	cJSON_Delete(report);
	kube_snapshot_free(&snap);
}

/* ---- the writer ---- */

/* Looks whether the cluster serves policyreports in wgpolicyk8s.io/v1alpha2
 * (discovery), and says so when that changes. */
static void discover(ds_reports *r)
{
	kube_response resp;
	long status = request(r, KUBE_GET, GROUP_PATH, NULL, &resp);
	cJSON *list = status == 200 ? cJSON_ParseWithLength(resp.body, resp.len) : NULL;
	const cJSON *res;
	bool served = false, was = atomic_load(&r->served);

	cJSON_ArrayForEach(res, cJSON_GetObjectItemCaseSensitive(list, "resources"))
		served = served || (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(res, "name")) &&
				    !strcmp(cJSON_GetObjectItemCaseSensitive(res, "name")->valuestring, "policyreports"));
	cJSON_Delete(list);
	if (status > 0 && status != 200 && status != 404)
		log_failure(&resp, GROUP_PATH);
	kube_response_free(&resp);
	r->next_discovery = ds_monotonic() + DISCOVERY_INTERVAL;
	if (status != 200 && status != 404)
		return;
	atomic_store(&r->served, served);
	if (served && (!was || !r->known))
		ds_log(DS_LOG_INFO, "policy reports: the cluster serves wgpolicyk8s.io/v1alpha2 policyreports; "
				    "writing one PolicyReport named %s in each namespace holding DaemonSets", REPORT_NAME);
	else if (!served && (was || !r->known))
		ds_log(DS_LOG_WARN, "policy reports: the cluster does not serve wgpolicyk8s.io/v1alpha2 policyreports "
				    "(the PolicyReport CRD is not installed): none is written; install the CRD (e.g. with "
				    "Policy Reporter or Kyverno) and dsguard starts within a minute");
	if (served && (!was || !r->known))
		r->sweep = true;
	r->known = true;
}

/* Marks every namespace's report due, what the cluster holds unknown: a
 * new leader compares each before it writes (the caller holds a->mu). */
static void restart_all(ds_audit *a, double now)
{
	for (size_t i = 0; i < a->space_count; i++) {
		ds_audit_ns *s = a->spaces[i];
		free(s->written_rv);
		s->written_rv = NULL;
		s->written = 0;
		s->due = true;
		s->due_first = s->due_last = now - SETTLE;
		s->retry_at = 0;
	}
}

/* Forgets the namespaces without DaemonSets: only a leader deletes
 * reports, and a new one finds them again (the caller holds a->mu). */
static void forget_empty(ds_audit *a)
{
	for (size_t i = a->space_count; i-- > 0;)
		if (!a->spaces[i]->daemonsets && !a->spaces[i]->dirty)
			ds_audit_drop(a, a->spaces[i]->ns);
}

/* Marks the report of namespace ns due when ns holds no DaemonSet (found
 * by the sweep; the caller holds a->mu). */
static void orphan_found(ds_audit *a, const char *ns)
{
	ds_audit_ns *s = ds_audit_find(a, ns);
	double now = ds_monotonic();

	if (s && (s->daemonsets || s->dirty))
		return;
	s = s ? s : ds_audit_ensure(a, ns);
	if (s && !s->due) {
		s->due = true;
		s->due_first = s->due_last = now - SETTLE;
	}
}

/* s percent-encoded for a query string (RFC 3986: all but the unreserved
 * characters). Returns a new string, or NULL out of memory. */
static char *query_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *w = out;

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~", *p)) {
			*w++ = (char)*p;
		} else {
			*w++ = '%';
			*w++ = hex[*p >> 4];
			*w++ = hex[*p & 15];
		}
	}
	*w = '\0';
	return out;
}

/* Lists the reports named dsguard that dsguard manages, in pages, and
 * marks those of namespaces without DaemonSets for deletion. Returns
 * whether the whole list was read. */
static bool sweep(ds_reports *r)
{
	char *cont = NULL;
	bool ok = true;

	do {
		char *path = cont ? ds_format(GROUP_PATH "/policyreports?fieldSelector=metadata.name%%3D" REPORT_NAME
							"&limit=%d&continue=%s",
					      LIST_PAGE, cont)
				  : ds_format(GROUP_PATH "/policyreports?fieldSelector=metadata.name%%3D" REPORT_NAME
							"&limit=%d",
					      LIST_PAGE);
		kube_response resp;
		long status = path ? request(r, KUBE_GET, path, NULL, &resp) : -1;
		cJSON *list = status == 200 ? cJSON_ParseWithLength(resp.body, resp.len) : NULL;
		const cJSON *item;
		const char *next = cJSON_GetStringValue(ds_pointer_get(list, "/metadata/continue"));

		if (status > 0 && status != 200)
			log_failure(&resp, "listing PolicyReports");
		ok = list != NULL;
		pthread_mutex_lock(&r->audit->mu);
		cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(list, "items")) {
			const char *ns = cJSON_GetStringValue(ds_pointer_get(item, "/metadata/namespace"));
			const char *by = cJSON_GetStringValue(
				cJSON_GetObjectItemCaseSensitive(ds_pointer_get(item, "/metadata/labels"), MANAGED_BY));
			if (ns && by && !strcmp(by, "dsguard") && plain_name(ns))
				orphan_found(r->audit, ns);
		}
		pthread_mutex_unlock(&r->audit->mu);
		free(cont);
		cont = ok && next && *next ? query_escape(next) : NULL;
		ok = ok && (!next || !*next || cont);
		cJSON_Delete(list);
		kube_response_free(&resp);
		free(path);
	} while (ok && cont);
	free(cont);
	return ok;
}

/* The next namespace whose report is to be written now, a new string (the
 * caller holds a->mu), or NULL; *wake is lowered to when the next one will
 * be. */
static char *next_due(ds_audit *a, double now, double *wake)
{
	for (size_t i = 0; i < a->space_count; i++) {
		ds_audit_ns *s = a->spaces[i];
		double ready = s->due_last + SETTLE < s->due_first + MAX_DELAY ? s->due_last + SETTLE
									     : s->due_first + MAX_DELAY;
		if (!s->due || s->dirty)
			continue;
		if (ready < s->retry_at)
			ready = s->retry_at;
		if (ready > now) {
			if (ready < *wake)
				*wake = ready;
			continue;
		}
		if (!plain_name(s->ns)) {
			s->due = false;
			continue;
		}
		s->due = false;
		return strdup(s->ns);
	}
	return NULL;
}

/* One step of the writer, a->mu held (released while it talks to the API
 * server). Returns the time to wait until, or 0 to go on at once. */
static double step(ds_reports *r)
{
	ds_audit *a = r->audit;
	double now = ds_monotonic(), wake = now + 1;
	bool leading = r->lease ? kube_lease_held(r->lease) : true;
	char *ns;

	if (leading != atomic_load(&r->leading)) {
		atomic_store(&r->leading, leading);
		if (leading) {
			restart_all(a, now);
			r->sweep = true;
		}
	}
	if (!leading) {
		forget_empty(a);
		return wake;
	}
	if (!a->evaluated)
		return wake;
	if (!atomic_load(&r->served) || !r->known) {
		if (now < r->next_discovery)
			return r->next_discovery;
		pthread_mutex_unlock(&a->mu);
		discover(r);
		pthread_mutex_lock(&a->mu);
		return 0;
	}
	if (r->sweep && now >= r->next_sweep) {
		bool done;
		pthread_mutex_unlock(&a->mu);
		done = sweep(r);
		pthread_mutex_lock(&a->mu);
		r->sweep = !done;
		r->next_sweep = ds_monotonic() + RETRY;
		return 0;
	}
	ns = next_due(a, now, &wake);
	if (!ns)
		return wake;
	pthread_mutex_unlock(&a->mu);
	write_one(r, ns);
	free(ns);
	pthread_mutex_lock(&a->mu);
	return 0;
}

static void *run(void *data)
{
	ds_reports *r = data;
	ds_audit *a = r->audit;

	pthread_mutex_lock(&a->mu);
	while (!r->stop) {
		double until = step(r);
		struct timespec ts;

		if (until <= 0 || r->stop)
			continue;
		monotonic_timespec(until, &ts);
		pthread_cond_timedwait(&r->cond, &a->mu, &ts);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

ds_reports *ds_reports_start(ds_audit *a, kube_client *client, kube_lease *lease, char **error)
{
	ds_reports *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;

	if (!r) {
		kube_client_free(client);
		ds_fail(error, "out of memory");
		return NULL;
	}
	r->audit = a;
	r->client = client;
	r->lease = lease;
	r->tokens = BURST;
	r->tokens_at = ds_monotonic();
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&r->thread, NULL, run, r) != 0) {
		pthread_cond_destroy(&r->cond);
		kube_client_free(client);
		free(r);
		ds_fail(error, "cannot start the PolicyReport writer's thread");
		return NULL;
	}
	return r;
}

void ds_reports_wake(ds_reports *r)
{
	pthread_cond_signal(&r->cond);
}

void ds_reports_stop(ds_reports *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->audit->mu);
	r->stop = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->audit->mu);
	kube_client_cancel(r->client);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->cond);
	kube_client_free(r->client);
	free(r);
}

void ds_reports_metrics(ds_reports *r, FILE *out)
{
	fprintf(out,
		"# HELP dsguard_audit_leader Whether this replica holds the audit's Lease and writes the "
		"PolicyReports (1) or not (0).\n"
		"# TYPE dsguard_audit_leader gauge\n"
		"dsguard_audit_leader %d\n"
		"# HELP dsguard_policy_reports_served Whether the cluster serves wgpolicyk8s.io/v1alpha2 "
		"policyreports (1) or not (0).\n"
		"# TYPE dsguard_policy_reports_served gauge\n"
		"dsguard_policy_reports_served %d\n"
		"# HELP dsguard_policy_report_writes_total PolicyReport writes, by operation and result.\n"
		"# TYPE dsguard_policy_report_writes_total counter\n",
		!r->lease || kube_lease_held(r->lease) ? 1 : 0, atomic_load(&r->served) ? 1 : 0);
	for (int op = 0; op < OP_COUNT; op++)
		fprintf(out,
			"dsguard_policy_report_writes_total{operation=\"%s\",result=\"success\"} %lu\n"
			"dsguard_policy_report_writes_total{operation=\"%s\",result=\"failure\"} %lu\n",
			op_names[op], atomic_load(&r->writes[op][0]), op_names[op], atomic_load(&r->writes[op][1]));
}
