/* claims.c - DS003 across replicas: an admitted CREATE claims its namespace
 * with a Lease in the API server, the one place every replica asks, and a
 * sweeper removes the claims whose DaemonSet is gone (docs/cluster.md, "Two
 * CREATEs at once"). */
#include "webhook/internal.h"

#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEASES_PATH "/apis/coordination.k8s.io/v1/namespaces/%s/leases"
#define DAEMONSET_PATH "/apis/apps/v1/namespaces/%s/daemonsets/%s"
#define LEASE_PREFIX "dsguard-claim"
#define LEASE_NAME_MAX 63
#define READABLE_MAX 32
#define HASH_HEX 16
#define ANNOTATION_NAMESPACE "dsguard.io/namespace"
#define ANNOTATION_DAEMONSET "dsguard.io/daemonset"
#define ANNOTATION_GENERATE_NAME "dsguard.io/generate-name"
#define LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define LABEL_CLAIM "dsguard.io/claim"
#define LEASE_MAX_BYTES (256u << 10)     /* a Lease answer */
#define DAEMONSET_MAX_BYTES (4u << 20)   /* a DaemonSet answer (etcd keeps objects under 1.5 MiB) */
#define MAX_UID 128                      /* the API server's uids are 36 characters */
#define MAX_ROUNDS 6                     /* reads of the Lease in one claim, each after a lost race */
#define RENEW_AGE 1.0                    /* seconds after which a claim held again is renewed */
#define POOL_MAX 8                       /* API clients claiming at once */
#define MAX_PENDING 10000                /* claims the sweeper watches */
#define SWEEP_DEADLINE 10.0              /* seconds for each of the sweeper's requests */
#define SWEEP_ATTEMPTS 3
#define SWEEP_RETRY 5.0                  /* seconds before a failed sweep is tried again */
#define MAX_TTL 86400.0
#define MAX_DEADLINE 30.0                /* the API server's longest webhook timeout */

/* A claim the sweeper removes once its TTL has passed, unless its DaemonSet
 * exists by then. Owns its strings. */
struct pending {
	char *ns, *holder;
	double due;        /* monotonic seconds */
	unsigned attempts; /* sweeps that failed */
};

struct ds_claims {
	char *namespace;            /* where the Leases live */
	double ttl, deadline;
	kube_cache *cache;          /* borrowed, set by ds_claims_start() */

	pthread_mutex_t pool_lock;  /* guards idle and made */
	pthread_cond_t freed;       /* a client went back to the pool */
	kube_client *template;      /* cloned for the pool and the sweeper */
	kube_client *idle[POOL_MAX];
	size_t idle_count, made;

	pthread_mutex_t lock;       /* guards queue, queued and stopping */
	pthread_cond_t wake;        /* the sweeper has something new, or must stop */
	struct pending *queue;      /* grown with ds_array_grow(); unordered */
	size_t queued;
	kube_client *sweep_client;
	pthread_t sweeper;
	bool started, stopping;

	atomic_ulong results[DS_CLAIM_RESULTS];
	atomic_ulong conflicts, released;
	atomic_ulong latency_buckets[DS_LATENCY_BUCKETS + 1];
	atomic_ulong latency_count;
	atomic_ullong latency_sum_ns;
};

/* ---- names and times ---- */

/* Whether s[0..len) is a DNS label's text: lowercase letters, digits and
 * '-', starting and ending with a letter or digit, 1 to 63 of them. */
static bool dns_label(const char *s, size_t len)
{
	if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* Whether s is a DNS subdomain (RFC 1123, as Kubernetes names most
 * objects): DNS labels joined by '.', at most 253 characters. */
static bool dns_subdomain(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 253)
		return false;
	for (const char *label = s;;) {
		size_t n = strcspn(label, ".");
		if (!dns_label(label, n))
			return false;
		if (!label[n])
			return true;
		label += n + 1;
	}
}

char *ds_claim_lease_name(const char *ns)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char readable[READABLE_MAX + 1], hex[HASH_HEX + 1];
	size_t n = 0, len = strlen(ns);

	if (dns_label(ns, len) && strlen(LEASE_PREFIX "-") + len <= LEASE_NAME_MAX)
		return ds_format(LEASE_PREFIX "-%s", ns);
	for (const char *p = ns; *p && n < READABLE_MAX; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || (*p == '-' && n > 0))
			readable[n++] = *p;
		else if (*p >= 'A' && *p <= 'Z')
			readable[n++] = (char)(*p - 'A' + 'a');
	while (n > 0 && readable[n - 1] == '-')
		n--;
	readable[n] = '\0';
	if (!EVP_Digest(ns, len, md, &md_len, EVP_sha256(), NULL) || md_len * 2 < HASH_HEX)
		return NULL;
	for (size_t i = 0; i < HASH_HEX / 2; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return ds_format(LEASE_PREFIX "%s%s.%s", n ? "-" : "", readable, hex);
}

/* The wall clock, in seconds since the epoch: Lease times are read by every
 * replica, so they are wall-clock times. */
static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes t as a MicroTime (RFC 3339 with exactly six fractional digits, in
 * UTC), as Lease times must be. */
static void micro_time(double t, char out[64])
{
	time_t sec = (time_t)floor(t);
	int usec = (int)((t - (double)sec) * 1e6);
	struct tm tm;
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(out, 64, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 64 - n, ".%06dZ", usec > 999999 ? 999999 : usec);
}

/* Reads n decimal digits at s. Returns the number, or -1. */
static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

double ds_claim_parse_time(const char *s)
{
	struct tm tm = {0};
	double frac = 0, scale = 0.1;
	int offset = 0;
	const char *p;
	time_t t;

	if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
		return NAN;
	tm.tm_year = digits(s, 4) - 1900;
	tm.tm_mon = digits(s + 5, 2) - 1;
	tm.tm_mday = digits(s + 8, 2);
	tm.tm_hour = digits(s + 11, 2);
	tm.tm_min = digits(s + 14, 2);
	tm.tm_sec = digits(s + 17, 2);
	if (tm.tm_year < 0 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour < 0 ||
	    tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
		return NAN;
	p = s + 19;
	if (*p == '.') {
		if (p[1] < '0' || p[1] > '9')
			return NAN;
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			frac += (*p - '0') * scale;
	}
	if (*p == 'Z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) >= 6 && p[3] == ':' && digits(p + 1, 2) >= 0 &&
		   digits(p + 4, 2) >= 0) {
		offset = (digits(p + 1, 2) * 60 + digits(p + 4, 2)) * 60 * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return NAN;
	}
	t = timegm(&tm);
	return *p || t == (time_t)-1 ? NAN : (double)t - offset + frac;
}

/* ---- the decision ---- */

ds_claim_action ds_claim_decide(const ds_claim_lease *lease, const ds_claim_want *want, double age, double ttl)
{
	bool same_prefix = lease->generate_name && want->generate_name &&
			   !strcmp(lease->generate_name, want->generate_name);

	/* The same DaemonSet, or /mutate again for the same generateName (the
	 * API server gives each webhook call a uid of its own, so two calls of
	 * one request cannot be told apart from two requests; /validate, which
	 * sees the generated name, decides). NAN (no time) counts as old. */
	if (!strcmp(lease->holder, want->holder) || (want->provisional && same_prefix))
		return age <= RENEW_AGE ? DS_CLAIM_KEEP : DS_CLAIM_RENEW;
	if (same_prefix && !want->provisional &&
	    !strncmp(want->holder, lease->generate_name, strlen(lease->generate_name)))
		return DS_CLAIM_CONFIRM;
	return age < ttl ? DS_CLAIM_REFUSE : DS_CLAIM_CHECK;
}

/* ---- one claim ---- */

/* What a claim does to the Lease it read. */
typedef enum { WRITE_RENEW, WRITE_CONFIRM, WRITE_TAKE_OVER } write_kind;

/* One claim in progress. */
struct attempt {
	ds_claims *c;
	kube_client *client;
	double end;               /* monotonic: the deadline */
	const char *ns;           /* the namespace claimed */
	char *lease;              /* its Lease's name */
	char *path;               /* the Lease's URL */
	ds_claim_want want;
	bool wrote;               /* a create or update was sent (it may have been carried out) */
	char *error;
};

/* A claim's round ends in one of the results, or: */
#define AGAIN DS_CLAIM_RESULTS /* a race was lost: read the Lease again */

/* One request within the claim's deadline, answered at most max_bytes.
 * Returns 0 with *out filled (any status), or -1 with a->error set. */
static int call(struct attempt *a, kube_method method, const char *path, const char *body, size_t max_bytes,
		kube_response *out)
{
	double left = a->end - ds_monotonic();
	kube_request req = {.method = method, .path = path, .body = body, .max_bytes = max_bytes, .deadline = left};

	memset(out, 0, sizeof(*out));
	if (left <= 0)
		return ds_fail(&a->error, "no answer within the claim deadline (%g s)", a->c->deadline);
	return kube_call(a->client, &req, out, &a->error);
}

/* Sets obj[key] to item (taken; NULL when making it ran out of memory).
 * Returns 0, or -1 out of memory. */
static int set_item(cJSON *obj, const char *key, cJSON *item)
{
	cJSON_bool done;

	if (!item)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(obj, key))
		done = cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
	else
		done = cJSON_AddItemToObject(obj, key, item);
	if (!done)
		cJSON_Delete(item);
	return done ? 0 : -1;
}

static int set_string(cJSON *obj, const char *key, const char *value)
{
	return set_item(obj, key, cJSON_CreateString(value));
}

static int set_number(cJSON *obj, const char *key, double value)
{
	return set_item(obj, key, cJSON_CreateNumber(value));
}

/* obj[key] as an object, made when absent or not an object. NULL out of
 * memory. */
static cJSON *object_member(cJSON *obj, const char *key)
{
	cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (cJSON_IsObject(item))
		return item;
	cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
	return cJSON_AddObjectToObject(obj, key);
}

/* Writes who holds the claim into the Lease doc: spec.holderIdentity, the
 * times (both `now`), the TTL as leaseDurationSeconds, the labels and the
 * annotations naming the namespace and the DaemonSet (and the generateName
 * of a claim made before the name is). Returns 0, or -1 out of memory. */
static int set_holder(cJSON *doc, const struct attempt *a, const char *now)
{
	cJSON *meta = object_member(doc, "metadata");
	cJSON *labels = meta ? object_member(meta, "labels") : NULL;
	cJSON *notes = meta ? object_member(meta, "annotations") : NULL;
	cJSON *spec = object_member(doc, "spec");

	if (!labels || !notes || !spec || set_string(labels, LABEL_MANAGED_BY, "dsguard") < 0 ||
	    set_string(labels, LABEL_CLAIM, "dedicated-namespace") < 0 ||
	    set_string(notes, ANNOTATION_NAMESPACE, a->ns) < 0 || set_string(spec, "holderIdentity", a->want.holder) < 0 ||
	    set_number(spec, "leaseDurationSeconds", ceil(a->c->ttl)) < 0 || set_string(spec, "acquireTime", now) < 0 ||
	    set_string(spec, "renewTime", now) < 0)
		return -1;
	/* One of the two: the DaemonSet's name, or the generateName it is to be made from. */
	cJSON_DeleteItemFromObjectCaseSensitive(notes, ANNOTATION_GENERATE_NAME);
	cJSON_DeleteItemFromObjectCaseSensitive(notes, ANNOTATION_DAEMONSET);
	if (a->want.provisional)
		return set_string(notes, ANNOTATION_GENERATE_NAME, a->want.generate_name);
	return set_string(notes, ANNOTATION_DAEMONSET, a->want.holder);
}

/* Sends the Lease doc (POST to create it, or PUT with the resourceVersion it
 * carries). Returns `done` when it was stored, AGAIN on 409 (AlreadyExists,
 * Conflict: someone else wrote first), or DS_CLAIM_ERROR with a->error set. */
static int send_lease(struct attempt *a, cJSON *doc, bool create, int done)
{
	char *body = cJSON_PrintUnformatted(doc);
	char *path = create ? NULL : ds_format("%s/%s", a->path, a->lease);
	kube_response resp;
	int rc = DS_CLAIM_ERROR;

	if (!body || (!create && !path)) {
		ds_fail(&a->error, "out of memory");
	} else {
		a->wrote = true;
		if (call(a, create ? KUBE_POST : KUBE_PUT, create ? a->path : path, body, LEASE_MAX_BYTES, &resp) == 0) {
			if (resp.status == 200 || resp.status == 201)
				rc = done;
			else if (resp.status == 409)
				rc = AGAIN;
			else
				kube_status_error(&resp, create ? "creating the claim" : "updating the claim", &a->error);
			kube_response_free(&resp);
		}
	}
	if (rc == AGAIN)
		atomic_fetch_add(&a->c->conflicts, 1);
	cJSON_free(body);
	free(path);
	return rc;
}

/* Creates the claim: the namespace looked free. */
static int create_claim(struct attempt *a)
{
	char now[64];
	cJSON *doc = cJSON_CreateObject();
	cJSON *meta = doc ? cJSON_AddObjectToObject(doc, "metadata") : NULL;
	int rc;

	micro_time(wall_now(), now);
	if (!meta || !cJSON_AddStringToObject(doc, "apiVersion", "coordination.k8s.io/v1") ||
	    !cJSON_AddStringToObject(doc, "kind", "Lease") || !cJSON_AddStringToObject(meta, "name", a->lease) ||
	    !cJSON_AddStringToObject(meta, "namespace", a->c->namespace) || set_holder(doc, a, now) < 0 ||
	    set_number(cJSON_GetObjectItemCaseSensitive(doc, "spec"), "leaseTransitions", 0) < 0) {
		cJSON_Delete(doc);
		ds_fail(&a->error, "out of memory");
		return DS_CLAIM_ERROR;
	}
	rc = send_lease(a, doc, true, DS_CLAIM_CLAIMED);
	cJSON_Delete(doc);
	return rc;
}

/* Updates the Lease read (doc, with its resourceVersion) as `kind` says. */
static int update_claim(struct attempt *a, cJSON *doc, write_kind kind, int done)
{
	cJSON *spec = object_member(doc, "spec");
	const cJSON *moves = cJSON_GetObjectItemCaseSensitive(spec, "leaseTransitions");
	char now[64];

	micro_time(wall_now(), now);
	if (!spec || (kind == WRITE_RENEW ? set_string(spec, "renewTime", now) : set_holder(doc, a, now)) < 0 ||
	    (kind == WRITE_TAKE_OVER &&
	     set_number(spec, "leaseTransitions", (cJSON_IsNumber(moves) ? moves->valuedouble : 0) + 1) < 0)) {
		ds_fail(&a->error, "out of memory");
		return DS_CLAIM_ERROR;
	}
	return send_lease(a, doc, false, done);
}

/* Whether the DaemonSet ns/name exists in the API server: 1 yes, 0 no (a
 * name no DaemonSet can have counts as no), -1 with a->error set. */
static int daemonset_exists(struct attempt *a, const char *name)
{
	char *path;
	kube_response resp;
	int rc = -1;

	if (!dns_subdomain(name))
		return 0;
	path = ds_format(DAEMONSET_PATH, a->ns, name);
	if (!path)
		return ds_fail(&a->error, "out of memory");
	if (call(a, KUBE_GET, path, NULL, DAEMONSET_MAX_BYTES, &resp) == 0) {
		if (resp.status == 200)
			rc = 1;
		else if (resp.status == 404 && kube_status_is(&resp, KUBE_REASON_NOT_FOUND))
			rc = 0;
		else
			kube_status_error(&resp, "reading the claim's DaemonSet", &a->error);
		kube_response_free(&resp);
	}
	free(path);
	return rc;
}

/* A string member of obj, or NULL. Borrowed. */
static const char *string_at(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* Reads the claim Lease doc into *lease. Returns how long ago it was
 * renewed (renewTime, else acquireTime), NAN when neither can be read. */
static double read_lease(const cJSON *doc, ds_claim_lease *lease)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(doc, "spec");
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
	const char *holder = string_at(spec, "holderIdentity");
	const char *gen = string_at(cJSON_GetObjectItemCaseSensitive(meta, "annotations"), ANNOTATION_GENERATE_NAME);
	double t = ds_claim_parse_time(string_at(spec, "renewTime"));

	if (isnan(t))
		t = ds_claim_parse_time(string_at(spec, "acquireTime"));
	lease->holder = holder ? holder : "";
	lease->generate_name = gen && *gen ? gen : NULL;
	return wall_now() - t;
}

/* Refuses the claim: *other names the holder. */
static int refuse(struct attempt *a, const char *holder, char **other)
{
	*other = strdup(holder);
	if (*other)
		return DS_CLAIM_REFUSED;
	ds_fail(&a->error, "out of memory");
	return DS_CLAIM_ERROR;
}

/* Takes over a stale claim when its DaemonSet does not exist, else
 * refuses naming it. */
static int take_over(struct attempt *a, cJSON *doc, const char *holder, char **other)
{
	int exists = daemonset_exists(a, holder);

	if (exists < 0)
		return DS_CLAIM_ERROR;
	return exists ? refuse(a, holder, other) : update_claim(a, doc, WRITE_TAKE_OVER, DS_CLAIM_TAKEN_OVER);
}

/* Acts on the Lease read (a 200 answer's body). Returns a result or AGAIN;
 * *other is set (new) on DS_CLAIM_REFUSED. */
static int act(struct attempt *a, const kube_response *resp, char **other)
{
	cJSON *doc = cJSON_ParseWithLength(resp->body, resp->len);
	ds_claim_lease lease;
	double age;
	int rc = DS_CLAIM_HELD;

	if (!cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		ds_fail(&a->error, "the claim Lease %s/%s is not a JSON object", a->c->namespace, a->lease);
		return DS_CLAIM_ERROR;
	}
	age = read_lease(doc, &lease);
	switch (ds_claim_decide(&lease, &a->want, age, a->c->ttl)) {
	case DS_CLAIM_KEEP:
		break;
	case DS_CLAIM_RENEW:
		rc = update_claim(a, doc, WRITE_RENEW, DS_CLAIM_HELD);
		break;
	case DS_CLAIM_CONFIRM:
		rc = update_claim(a, doc, WRITE_CONFIRM, DS_CLAIM_HELD);
		break;
	case DS_CLAIM_REFUSE:
		rc = refuse(a, lease.holder, other);
		break;
	case DS_CLAIM_CHECK:
		rc = take_over(a, doc, lease.holder, other);
		break;
	}
	cJSON_Delete(doc);
	return rc;
}

/* One round: reads the Lease, creates it when there is none, else acts on
 * it. Returns a result, or AGAIN after a lost race. */
static int claim_round(struct attempt *a, char **other)
{
	char *path = ds_format("%s/%s", a->path, a->lease);
	kube_response resp;
	int rc = DS_CLAIM_ERROR;

	if (!path) {
		ds_fail(&a->error, "out of memory");
		return DS_CLAIM_ERROR;
	}
	if (call(a, KUBE_GET, path, NULL, LEASE_MAX_BYTES, &resp) == 0) {
		if (resp.status == 404)
			rc = create_claim(a);
		else if (resp.status == 200)
			rc = act(a, &resp, other);
		else
			kube_status_error(&resp, "reading the claim", &a->error);
		kube_response_free(&resp);
	}
	free(path);
	return rc;
}

/* Who req claims for, into *want (holder is a new string in *holder).
 * Returns 1, 0 when there is nothing to claim (a namespace or name no object
 * can have: the API server refuses it itself), -1 out of memory. */
static int want_of(const ds_claim_request *req, ds_claim_want *want, char **holder)
{
	const char *gen = req->generate_name && *req->generate_name ? req->generate_name : NULL;

	*holder = NULL;
	if (!req->ns || !dns_label(req->ns, strlen(req->ns)))
		return 0;
	if (req->name && *req->name) {
		if (!dns_subdomain(req->name))
			return 0;
		*holder = strdup(req->name);
		*want = (ds_claim_want){.holder = *holder, .generate_name = gen};
	} else {
		if (!gen || strlen(gen) > 253 || !req->uid || !*req->uid || strlen(req->uid) > MAX_UID)
			return 0;
		*holder = ds_format("%s%s", gen, req->uid);
		*want = (ds_claim_want){.holder = *holder, .generate_name = gen, .provisional = true};
	}
	return *holder ? 1 : -1;
}

/* ---- the pool of clients ---- */

/* The monotonic time t as a timespec. */
static void monotonic_timespec(double t, struct timespec *ts)
{
	ts->tv_sec = (time_t)t;
	ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
}

/* A client of the pool, made when none is idle and fewer than POOL_MAX
 * exist, else waited for until `end`. Returns it (give it back with
 * pool_give()), or NULL with *error set. */
static kube_client *pool_take(ds_claims *c, double end, char **error)
{
	struct timespec until;
	kube_client *client = NULL;
	bool make = false;

	monotonic_timespec(end, &until);
	pthread_mutex_lock(&c->pool_lock);
	while (!c->idle_count && c->made >= POOL_MAX)
		if (pthread_cond_clockwait(&c->freed, &c->pool_lock, CLOCK_MONOTONIC, &until) == ETIMEDOUT)
			break;
	if (c->idle_count) {
		client = c->idle[--c->idle_count];
	} else if (c->made < POOL_MAX) {
		c->made++;
		make = true;
	}
	pthread_mutex_unlock(&c->pool_lock);
	if (make && !(client = kube_client_clone(c->template, error))) {
		pthread_mutex_lock(&c->pool_lock);
		c->made--;
		pthread_cond_signal(&c->freed);
		pthread_mutex_unlock(&c->pool_lock);
	}
	if (!client && !make)
		ds_fail(error, "all %d API clients stayed busy with other claims", POOL_MAX);
	return client;
}

static void pool_give(ds_claims *c, kube_client *client)
{
	pthread_mutex_lock(&c->pool_lock);
	c->idle[c->idle_count++] = client;
	pthread_cond_signal(&c->freed);
	pthread_mutex_unlock(&c->pool_lock);
}

/* ---- the sweeper's queue ---- */

/* Queues ns/holder to be swept at `due` (the earlier time when it is
 * queued already). Called with the lock held. Returns 0, or -1 when the
 * queue is full or memory ran out. */
static int queue_add(ds_claims *c, const char *ns, const char *holder, double due)
{
	struct pending *grown;
	char *ns_copy, *holder_copy;

	for (size_t i = 0; i < c->queued; i++)
		if (!strcmp(c->queue[i].ns, ns) && !strcmp(c->queue[i].holder, holder)) {
			c->queue[i].due = fmin(c->queue[i].due, due);
			return 0;
		}
	if (c->queued >= MAX_PENDING)
		return -1;
	grown = ds_array_grow(c->queue, c->queued, sizeof(*grown));
	if (!grown)
		return -1;
	c->queue = grown;
	ns_copy = strdup(ns);
	holder_copy = strdup(holder);
	if (!ns_copy || !holder_copy) {
		free(ns_copy);
		free(holder_copy);
		return -1;
	}
	c->queue[c->queued++] = (struct pending){.ns = ns_copy, .holder = holder_copy, .due = due};
	pthread_cond_signal(&c->wake);
	return 0;
}

/* Whether the sweeper's queue is full. */
static bool queue_full(ds_claims *c)
{
	bool full;

	pthread_mutex_lock(&c->lock);
	full = c->queued >= MAX_PENDING;
	pthread_mutex_unlock(&c->lock);
	return full;
}

/* Hands the claim just written (or maybe written) to the sweeper, to be
 * removed after the TTL unless its DaemonSet exists by then. */
static void sweep_later(ds_claims *c, const char *ns, const char *holder)
{
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = queue_add(c, ns, holder, ds_monotonic() + c->ttl);
	pthread_mutex_unlock(&c->lock);
	if (rc < 0)
		ds_log(DS_LOG_WARN, "claims: cannot watch the claim of namespace %s by %s (%d waiting already): it is "
				    "taken over by the next CREATE there after %g s",
		       ns, holder, MAX_PENDING, c->ttl);
}

void ds_claims_deleted(void *claims, const char *ns, const char *name)
{
	ds_claims *c = claims;
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = queue_add(c, ns, name, ds_monotonic());
	pthread_mutex_unlock(&c->lock);
	if (rc < 0)
		ds_log(DS_LOG_WARN, "claims: the sweeper's queue is full: the claim of namespace %s, if %s holds one, "
				    "is taken over by the next CREATE there",
		       ns, name);
}

/* ---- claims ---- */

/* Counts a claim's result and how long it took. */
static void count(ds_claims *c, int result, double seconds)
{
	int b = 0;

	while (b < DS_LATENCY_BUCKETS && seconds > ds_latency_bounds[b])
		b++;
	atomic_fetch_add(&c->results[result], 1);
	atomic_fetch_add(&c->latency_buckets[b], 1);
	atomic_fetch_add(&c->latency_count, 1);
	atomic_fetch_add(&c->latency_sum_ns, (unsigned long long)(seconds * 1e9));
}

static const char *const result_words[DS_CLAIM_RESULTS] = {"claimed", "held already", "taken over", "refused",
							    "failed"};

/* Runs the rounds of one claim by a (the client taken). Returns a result;
 * *other set on DS_CLAIM_REFUSED. */
static int run_claim(struct attempt *a, char **other)
{
	int rc = AGAIN;

	a->path = ds_format(LEASES_PATH, a->c->namespace);
	a->lease = ds_claim_lease_name(a->ns);
	if (!a->path || !a->lease) {
		ds_fail(&a->error, "out of memory");
		return DS_CLAIM_ERROR;
	}
	for (int round = 0; round < MAX_ROUNDS && rc == AGAIN; round++)
		rc = claim_round(a, other);
	if (rc == AGAIN)
		ds_fail(&a->error, "the claim Lease %s/%s changed under every one of %d reads", a->c->namespace,
			a->lease, MAX_ROUNDS);
	return rc == AGAIN ? DS_CLAIM_ERROR : rc;
}

int ds_claims_claim(ds_claims *c, const ds_claim_request *req, char **other)
{
	double start = ds_monotonic();
	struct attempt a = {.c = c, .ns = req->ns, .end = start + c->deadline};
	char *holder;
	int rc = want_of(req, &a.want, &holder);

	*other = NULL;
	if (rc <= 0)
		return rc;
	rc = DS_CLAIM_ERROR;
	if (queue_full(c))
		ds_fail(&a.error, "%d claims are waiting for their DaemonSet already", MAX_PENDING);
	else if ((a.client = pool_take(c, a.end, &a.error)))
		rc = run_claim(&a, other);
	if (a.client)
		pool_give(c, a.client);
	count(c, rc, ds_monotonic() - start);
	if (rc == DS_CLAIM_ERROR)
		ds_log(DS_LOG_WARN, "claims: namespace %s for DaemonSet %s: %s; DS003 answered as --on-unsynced says",
		       req->ns, holder, a.error ? a.error : "out of memory");
	else
		ds_log(DS_LOG_DEBUG, "claims: namespace %s for DaemonSet %s: %s%s%s", req->ns, holder, result_words[rc],
		       *other ? " by " : "", *other ? *other : "");
	if (a.wrote)
		sweep_later(c, req->ns, holder);
	free(a.error);
	free(a.path);
	free(a.lease);
	free(holder);
	return rc == DS_CLAIM_ERROR ? 1 : 0;
}

/* ---- the sweeper ---- */

/* A sweep's outcome: done, try again later, or not yet (in n seconds). */
#define SWEEP_DONE 0.0
#define SWEEP_FAILED -1.0

/* Sweeps the claim of p->ns by p->holder: nothing when the watch has seen
 * the DaemonSet, when there is no such claim or someone else holds it; when
 * it is younger than the TTL, returns the seconds until it is not; else,
 * when the DaemonSet does not exist, deletes the Lease with the
 * resourceVersion read as precondition (a 404 or 409 then means someone
 * else has acted). Returns SWEEP_DONE, SWEEP_FAILED (*error set), or the
 * seconds to wait. */
static double sweep(ds_claims *c, const struct pending *p, char **error)
{
	struct attempt a = {.c = c, .client = c->sweep_client, .ns = p->ns, .end = ds_monotonic() + SWEEP_DEADLINE};
	char *path = NULL, *lease = ds_claim_lease_name(p->ns), *body = NULL;
	kube_response resp = {0};
	cJSON *doc = NULL;
	ds_claim_lease read;
	const char *rv;
	double age, rc = SWEEP_FAILED;
	int exists;

	if (c->cache && kube_cache_holds(c->cache, p->ns, p->holder)) {
		free(lease);
		return SWEEP_DONE;
	}
	path = lease ? ds_format(LEASES_PATH "/%s", c->namespace, lease) : NULL;
	if (!path || call(&a, KUBE_GET, path, NULL, LEASE_MAX_BYTES, &resp) < 0)
		goto done;
	if (resp.status == 404) {
		rc = SWEEP_DONE;
		goto done;
	}
	doc = resp.status == 200 ? cJSON_ParseWithLength(resp.body, resp.len) : NULL;
	rv = string_at(cJSON_GetObjectItemCaseSensitive(doc, "metadata"), "resourceVersion");
	if (!doc || !rv) {
		kube_status_error(&resp, "reading the claim", &a.error);
		goto done;
	}
	age = read_lease(doc, &read);
	if (strcmp(read.holder, p->holder)) {
		rc = SWEEP_DONE;
		goto done;
	}
	if (age < c->ttl) {
		rc = c->ttl - age + 0.05;
		goto done;
	}
	exists = daemonset_exists(&a, p->holder);
	if (exists != 0) {
		rc = exists > 0 ? SWEEP_DONE : SWEEP_FAILED;
		goto done;
	}
	kube_response_free(&resp);
	body = ds_format("{\"apiVersion\":\"v1\",\"kind\":\"DeleteOptions\",\"preconditions\":{\"resourceVersion\":\"%s\"}}",
			 rv);
	if (!body || call(&a, KUBE_DELETE, path, body, LEASE_MAX_BYTES, &resp) < 0)
		goto done;
	if (resp.status == 200 || resp.status == 202) {
		atomic_fetch_add(&c->released, 1);
		ds_log(DS_LOG_INFO, "claims: removed the claim of namespace %s by DaemonSet %s, which does not exist",
		       p->ns, p->holder);
	}
	if (resp.status == 409)
		atomic_fetch_add(&c->conflicts, 1);
	if (resp.status == 200 || resp.status == 202 || resp.status == 404 || resp.status == 409)
		rc = SWEEP_DONE;
	else
		kube_status_error(&resp, "removing the claim", &a.error);
done:
	if (rc == SWEEP_FAILED)
		*error = a.error ? a.error : ds_format("out of memory");
	else
		free(a.error);
	kube_response_free(&resp);
	cJSON_Delete(doc);
	free(body);
	free(path);
	free(lease);
	return rc;
}

/* The index of the queued claim due first, or c->queued when none is.
 * Called with the lock held. */
static size_t first_due(const ds_claims *c)
{
	size_t first = c->queued;

	for (size_t i = 0; i < c->queued; i++)
		if (first == c->queued || c->queue[i].due < c->queue[first].due)
			first = i;
	return first;
}

/* Sweeps p (taken out of the queue) and puts it back when it is to be
 * swept again. Called with the lock held; drops it while sweeping. */
static void sweep_one(ds_claims *c, struct pending p)
{
	char *error = NULL;
	double rc;

	pthread_mutex_unlock(&c->lock);
	rc = sweep(c, &p, &error);
	if (rc == SWEEP_FAILED && ++p.attempts >= SWEEP_ATTEMPTS)
		ds_log(DS_LOG_WARN, "claims: giving up on the claim of namespace %s by %s (the next CREATE there takes "
				    "it over once its DaemonSet is known not to exist): %s",
		       p.ns, p.holder, error ? error : "out of memory");
	else if (rc == SWEEP_FAILED)
		ds_log(DS_LOG_DEBUG, "claims: sweeping the claim of namespace %s by %s: %s", p.ns, p.holder,
		       error ? error : "out of memory");
	free(error);
	pthread_mutex_lock(&c->lock);
	if (c->stopping || rc == SWEEP_DONE || (rc == SWEEP_FAILED && p.attempts >= SWEEP_ATTEMPTS) ||
	    queue_add(c, p.ns, p.holder, ds_monotonic() + (rc == SWEEP_FAILED ? SWEEP_RETRY : rc)) < 0) {
		free(p.ns);
		free(p.holder);
		return;
	}
	/* queue_add() copied the strings; keep the count of failures */
	for (size_t i = 0; i < c->queued; i++)
		if (!strcmp(c->queue[i].ns, p.ns) && !strcmp(c->queue[i].holder, p.holder))
			c->queue[i].attempts = p.attempts;
	free(p.ns);
	free(p.holder);
}

/* The sweeper's thread: sweeps each queued claim when it is due. */
static void *sweeper(void *data)
{
	ds_claims *c = data;
	struct timespec until;

	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		size_t i = first_due(c);
		if (i == c->queued) {
			pthread_cond_wait(&c->wake, &c->lock);
		} else if (c->queue[i].due > ds_monotonic()) {
			monotonic_timespec(c->queue[i].due, &until);
			pthread_cond_clockwait(&c->wake, &c->lock, CLOCK_MONOTONIC, &until);
		} else {
			struct pending p = c->queue[i];
			c->queue[i] = c->queue[--c->queued];
			sweep_one(c, p);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* ---- life ---- */

/* Checks the claims' settings. Returns 0, or -1 with *error set. */
static int check_options(const char *ns, double ttl, double deadline, char **error)
{
	if (!ns || !dns_label(ns, strlen(ns)))
		return ds_fail(error, "the namespace of the claim Leases, '%s', is not a namespace name (a DNS label: at "
				      "most 63 lowercase letters, digits and '-')",
			       ns ? ns : "");
	if (!(ttl >= 1 && ttl <= MAX_TTL) || !(deadline <= MAX_DEADLINE))
		return ds_fail(error, "a claim TTL must be from 1 to %g s (not %g), a claim deadline at most %g s (not %g)",
			       MAX_TTL, ttl, MAX_DEADLINE, deadline);
	return 0;
}

ds_claims *ds_claims_new(kube_client *client, const ds_claims_options *opts, char **error)
{
	ds_claims *c;
	double ttl = opts->ttl > 0 ? opts->ttl : 30, deadline = opts->deadline > 0 ? opts->deadline : 2;

	if (check_options(opts->namespace, ttl, deadline, error) < 0) {
		kube_client_free(client);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->namespace = strdup(opts->namespace))) {
		free(c);
		kube_client_free(client);
		ds_fail(error, "out of memory");
		return NULL;
	}
	c->template = client;
	c->ttl = ttl;
	c->deadline = deadline;
	pthread_mutex_init(&c->pool_lock, NULL);
	pthread_cond_init(&c->freed, NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	return c;
}

int ds_claims_start(ds_claims *c, kube_cache *cache, char **error)
{
	c->cache = cache;
	c->sweep_client = kube_client_clone(c->template, error);
	if (!c->sweep_client)
		return -1;
	if (pthread_create(&c->sweeper, NULL, sweeper, c) != 0)
		return ds_fail(error, "cannot start the claims' sweeper thread");
	c->started = true;
	return 0;
}

kube_cache *ds_claims_cache(ds_claims *c)
{
	return c->cache;
}

void ds_claims_stop(ds_claims *c)
{
	if (!c || !c->started)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_broadcast(&c->wake);
	pthread_mutex_unlock(&c->lock);
	kube_client_cancel(c->sweep_client);
	pthread_join(c->sweeper, NULL);
	c->started = false;
}

void ds_claims_free(ds_claims *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->queued; i++) {
		free(c->queue[i].ns);
		free(c->queue[i].holder);
	}
	free(c->queue);
	for (size_t i = 0; i < c->idle_count; i++)
		kube_client_free(c->idle[i]);
	kube_client_free(c->sweep_client);
	kube_client_free(c->template);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->freed);
	pthread_mutex_destroy(&c->pool_lock);
	free(c->namespace);
	free(c);
}

void ds_claims_stats_get(ds_claims *c, ds_claims_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < DS_CLAIM_RESULTS; i++)
		out->results[i] = atomic_load(&c->results[i]);
	out->conflicts = atomic_load(&c->conflicts);
	out->released = atomic_load(&c->released);
	for (int b = 0; b <= DS_LATENCY_BUCKETS; b++)
		out->latency_buckets[b] = atomic_load(&c->latency_buckets[b]);
	out->latency_count = atomic_load(&c->latency_count);
	out->latency_sum = (double)atomic_load(&c->latency_sum_ns) / 1e9;
	pthread_mutex_lock(&c->lock);
	out->pending = c->queued;
	pthread_mutex_unlock(&c->lock);
}
