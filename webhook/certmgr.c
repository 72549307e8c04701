/* certmgr.c - serve --manage-certs: the serving certificate kept in a
 * Secret that the replicas create, renew and rotate between them, served
 * from memory as soon as it changes, and its CA kept in the caBundle of the
 * webhook configurations. One thread of its own, fed by three watches of
 * one named object each (GET and watch, no list: kube_watch_start()); what
 * to write next is decided by certplan.c. */
#include "webhook/internal.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OBJECT_BYTES (4u << 20) /* a Secret is at most 1 MiB, any object at most etcd's 1.5 MiB */
#define CALL_SECONDS 10.0           /* deadline of one request */
#define RECHECK_SECONDS 60.0        /* the plan is made again at least this often */
#define MIN_WAKE_SECONDS 0.05
#define BACKOFF_MAX_SECONDS 30.0    /* between failed writes */
#define RESET_WINDOW_SECONDS 60.0   /* a caBundle reset again within it is patched after a growing delay */
#define RESET_DELAY_MAX_SECONDS 60.0
#define PLACEHOLDER_SECONDS 86400L
#define MAX_WRITES_IN_ROW 4        /* writes without the plan settling before they are spaced out */
#define MANAGED_BY "dsguard"

enum { VIEW_SECRET, VIEW_VALIDATING, VIEW_MUTATING, VIEW_COUNT };

/* One object as its watch last saw it. */
struct view {
	struct ds_certmgr *mgr;
	const char *kind;       /* "Secret", "ValidatingWebhookConfiguration", ... */
	const char *short_kind; /* metrics label: "secret", "validating", "mutating" */
	char *collection;       /* API path of the collection */
	char *path;             /* API path of the object */
	const char *name;       /* borrowed from the options */
	kube_watch *watch;
	/* Guarded by mgr->mu. */
	cJSON *object;          /* NULL: absent */
	cJSON *fresh;           /* the GET being read */
	bool synced;            /* read once */
	/* The loop's own. */
	char *held;             /* the ca.crt (base64) this object was last seen to hold in every caBundle */
	double patched_at;      /* when this replica last patched it (monotonic) */
	unsigned resets;        /* resets of it within RESET_WINDOW_SECONDS of each other */
	double retry_at;        /* no patch before this (monotonic), after failures */
	unsigned failures;      /* patches in a row that failed */
};

struct ds_certmgr {
	ds_server *srv;
	ds_certmgr_options opt; /* strings borrowed from the server's options */
	ds_cert_request req;    /* the names of the serving certificate, its validity */
	char *source;           /* "Secret NS/NAME", for messages */
	char *host;             /* SERVICE.NAMESPACE.svc, the name the API server calls */
	kube_client *client;    /* the loop's requests */
	struct view views[VIEW_COUNT];
	pthread_t thread;
	bool started;

	pthread_mutex_t mu;     /* guards stop, dirty, ready, why and the views' objects */
	pthread_cond_t cond;
	bool stop;
	bool dirty;             /* a view changed since the last step */
	bool ready;
	char why[512];          /* why not ready */

	/* The loop's own. */
	char *served;           /* the certificate (PEM) the server serves from the Secret; NULL: none yet */
	char *tried;            /* the last certificate the server refused, not tried again */
	char *bundle_key;       /* the caBundle bundles_since counts for */
	double bundles_since;   /* monotonic: since when every caBundle has been it; < 0: not */
	char *rotated_key;      /* the ca.crt rotated_since counts for */
	double rotated_since;
	double retry_at;        /* no write before this (monotonic) */
	unsigned failures;      /* writes in a row that failed */
	unsigned writes_in_row; /* writes since the plan last said wait */
};

/* What one step works on: copies of the three objects, taken under the
 * lock, and what the Secret holds. */
struct snapshot {
	cJSON *objects[VIEW_COUNT];
	bool synced[VIEW_COUNT];
	ds_cert_set set;
	ds_cert_exam exam;
	char *bundle;           /* base64 of ca.crt: what every caBundle should hold; NULL: nothing to publish */
};

/* How a write ended. */
enum outcome {
	WROTE,      /* written, and learnt from the answer */
	READ_AGAIN, /* not written: the object changed and was read again */
	FAILED,     /* not written: logged, to be tried again after a delay */
	HELD        /* not tried: a delay (after resets or failures) is not over */
};

/* ---- options ---- */

/* Checks a webhook configuration name, when given. */
static int check_config_name(const char *name, const char *flag, char **error)
{
	if (name && !ds_dns_subdomain(name, strlen(name)))
		return ds_fail(error, "%s '%s' is not an object name: use lower-case letters, digits, '-' and '.', "
				      "starting and ending with a letter or digit, at most %d characters",
			       flag, name, DS_OBJECT_NAME_MAX);
	return 0;
}

int ds_certmgr_check_options(const ds_certmgr_options *o, char **error)
{
	ds_cert_request req = {.service = o->service, .namespace = o->namespace, .seconds = o->serving_seconds};

	if (!o->secret || !ds_dns_subdomain(o->secret, strlen(o->secret)))
		return ds_fail(error, "the Secret name '%s' is not an object name: use lower-case letters, digits, '-' "
				      "and '.', starting and ending with a letter or digit",
			       o->secret ? o->secret : "");
	if (check_config_name(o->validating, "--validating-webhook", error) ||
	    check_config_name(o->mutating, "--mutating-webhook", error))
		return -1;
	if (!o->validating && !o->mutating)
		return ds_fail(error, "name the webhook configurations whose caBundle to keep: --validating-webhook, "
				      "--mutating-webhook or both");
	if (ds_certs_check_request(&req, error))
		return -1;
	if (o->ca_seconds < 1 || o->ca_seconds > DS_CERT_MAX_SECONDS)
		return ds_fail(error, "the CA validity must be from 1 second to %d days", DS_CERT_MAX_DAYS);
	if (o->serving_seconds > o->ca_seconds / 3)
		return ds_fail(error, "the serving certificate's validity (%lds) must be at most a third of the CA's "
				      "(%lds), so that a certificate never outlives the CA that signed it",
			       o->serving_seconds, o->ca_seconds);
	if (o->overlap_seconds < 1 || o->overlap_seconds > o->serving_seconds / 6)
		return ds_fail(error, "the CA overlap (%lds) must be from 1 second to a sixth of the serving "
				      "certificate's validity (%lds), so that a CA rotation ends before the "
				      "serving certificate is due",
			       o->overlap_seconds, o->serving_seconds);
	return 0;
}

/* The serving certificate's request: the Service's names, its validity. */
static ds_cert_request serving_request(const ds_certmgr_options *o)
{
	return (ds_cert_request){.service = o->service, .namespace = o->namespace, .days = 1, .seconds = o->serving_seconds};
}

int ds_certmgr_placeholder(const ds_certmgr_options *opts, const char *client_ca_path, ds_tls_files *out,
			   char **error)
{
	ds_cert_request req = serving_request(opts);
	ds_cert_set set;
	int rc;

	req.seconds = PLACEHOLDER_SECONDS;
	if (ds_certs_make(&req, &set, error))
		return -1;
	rc = ds_tls_pem_load(set.tls_cert, set.tls_key, "a placeholder", client_ca_path, out, error);
	ds_cert_set_free(&set);
	return rc;
}

/* ---- the views, fed by the watches ---- */

/* Wakes the loop: something changed. Called with mgr->mu held. */
static void poke(struct ds_certmgr *m)
{
	m->dirty = true;
	pthread_cond_broadcast(&m->cond);
}

/* Makes obj (a copy, NULL: absent) what v holds, and wakes the loop.
 * Called with mgr->mu held; takes obj. */
static void view_set(struct view *v, cJSON *obj)
{
	cJSON_Delete(v->object);
	v->object = obj;
	v->synced = true;
	poke(v->mgr);
}

static int on_list_begin(void *data, char **error)
{
	struct view *v = data;

	(void)error;
	pthread_mutex_lock(&v->mgr->mu);
	cJSON_Delete(v->fresh);
	v->fresh = NULL;
	pthread_mutex_unlock(&v->mgr->mu);
	return 0;
}

static int on_list_item(void *data, const cJSON *item, char **error)
{
	struct view *v = data;
	cJSON *copy = cJSON_Duplicate(item, true);

	if (!copy)
		return ds_fail(error, "out of memory");
	pthread_mutex_lock(&v->mgr->mu);
	cJSON_Delete(v->fresh);
	v->fresh = copy;
	pthread_mutex_unlock(&v->mgr->mu);
	return 0;
}

static int on_list_end(void *data, const char *resource_version, char **error)
{
	struct view *v = data;

	(void)resource_version;
	(void)error;
	pthread_mutex_lock(&v->mgr->mu);
	view_set(v, v->fresh);
	v->fresh = NULL;
	pthread_mutex_unlock(&v->mgr->mu);
	return 0;
}

static void on_list_abort(void *data)
{
	struct view *v = data;

	pthread_mutex_lock(&v->mgr->mu);
	cJSON_Delete(v->fresh);
	v->fresh = NULL;
	pthread_mutex_unlock(&v->mgr->mu);
}

static int on_event(void *data, kube_event_type type, const cJSON *object, char **error)
{
	struct view *v = data;
	cJSON *copy = NULL;

	if (type != KUBE_EVENT_DELETED && !(copy = cJSON_Duplicate(object, true)))
		return ds_fail(error, "out of memory");
	pthread_mutex_lock(&v->mgr->mu);
	view_set(v, copy);
	pthread_mutex_unlock(&v->mgr->mu);
	return 0;
}

/* Passes a watch's log lines on to the log. */
static void on_watch_log(void *data, kube_log_level level, const char *message)
{
	struct view *v = data;

	ds_log(level == KUBE_LOG_WARN ? DS_LOG_WARN : DS_LOG_INFO, "certificates: watching %s %s: %s", v->kind,
	       v->name, message);
}

/* Makes what an object of the API (a response body) says into v, as the
 * watch would: our own writes are seen at once. Takes obj. */
static void view_learn(struct view *v, cJSON *obj)
{
	pthread_mutex_lock(&v->mgr->mu);
	view_set(v, obj);
	pthread_mutex_unlock(&v->mgr->mu);
}

/* ---- requests ---- */

/* Counts and logs a failed request or write. */
static void log_failure(struct ds_certmgr *m, const char *what, const char *error)
{
	atomic_fetch_add(&m->srv->metrics.certmgr_errors, 1);
	ds_log(DS_LOG_ERROR, "certificates: %s: %s", what, error ? error : "out of memory");
}

/* Makes one request. Returns the HTTP status with *out filled (release it
 * with kube_response_free()), or -1 (logged as `what`) when no answer came. */
static long call(struct ds_certmgr *m, kube_method method, const char *path, const char *body, const char *type,
		 const char *what, kube_response *out)
{
	kube_request req = {.method = method, .path = path, .body = body, .content_type = type,
			    .max_bytes = MAX_OBJECT_BYTES, .deadline = CALL_SECONDS};
	char *error = NULL;

	if (kube_call(m->client, &req, out, &error) < 0) {
		log_failure(m, what, error);
		free(error);
		return -1;
	}
	return out->status;
}

/* The JSON object of a 2xx answer, or NULL (logged as `what`). */
static cJSON *answer_object(struct ds_certmgr *m, const kube_response *r, const char *what)
{
	cJSON *obj = cJSON_ParseWithLength(r->body, r->len);

	if (!cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		log_failure(m, what, "the answer is not a JSON object");
		return NULL;
	}
	return obj;
}

/* Logs a non-2xx answer as the failure of `what`. */
static void log_status(struct ds_certmgr *m, const kube_response *r, const char *what)
{
	char *error = NULL;

	kube_status_error(r, what, &error);
	log_failure(m, "", error);
	free(error);
}

/* Reads v's object again into v (absent on 404). Returns 0, or -1 (logged). */
static int reread(struct ds_certmgr *m, struct view *v)
{
	kube_response r = {0};
	long status = call(m, KUBE_GET, v->path, NULL, NULL, v->path, &r);
	cJSON *obj = NULL;
	int rc = -1;

	if (status == 404) {
		view_learn(v, NULL);
		rc = 0;
	} else if (status == 200 && (obj = answer_object(m, &r, v->path))) {
		view_learn(v, obj);
		rc = 0;
	} else if (status >= 0) {
		log_status(m, &r, v->path);
	}
	kube_response_free(&r);
	return rc;
}

/* ---- the Secret ---- */

/* The resourceVersion of an object, or "" when it has none. Borrowed. */
static const char *resource_version(const cJSON *obj)
{
	const cJSON *rv = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
							   "resourceVersion");
	return cJSON_IsString(rv) ? rv->valuestring : "";
}

static const struct {
	const char *key;
	size_t offset;
} secret_keys[] = {
	{"tls.crt", offsetof(ds_cert_set, tls_cert)},
	{"tls.key", offsetof(ds_cert_set, tls_key)},
	{"ca.crt", offsetof(ds_cert_set, ca_cert)},
	{"ca.key", offsetof(ds_cert_set, ca_key)},
};

#define SECRET_KEYS (sizeof(secret_keys) / sizeof(secret_keys[0]))

/* The slot of set for secret_keys[i]. */
static char **slot(ds_cert_set *set, size_t i)
{
	return (char **)((char *)set + secret_keys[i].offset);
}

/* Fills set with the PEM text of the Secret's four keys (each NULL when
 * absent or not base64). */
static void secret_material(const cJSON *secret, ds_cert_set *set)
{
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(secret, "data");

	memset(set, 0, sizeof(*set));
	for (size_t i = 0; i < SECRET_KEYS; i++) {
		const cJSON *value = cJSON_GetObjectItemCaseSensitive(data, secret_keys[i].key);
		*slot(set, i) = cJSON_IsString(value) ? ds_ca_bundle_decode(value->valuestring) : NULL;
	}
}

/* Sets the Secret's type and the four keys of its data to set's, in
 * base64, keeping any other key. Returns 0, or -1 out of memory. */
static int put_material(cJSON *secret, const ds_cert_set *set)
{
	cJSON *data = cJSON_GetObjectItemCaseSensitive(secret, "data");

	cJSON_DeleteItemFromObjectCaseSensitive(secret, "type");
	if (!cJSON_AddStringToObject(secret, "type", "kubernetes.io/tls"))
		return -1;
	if (!cJSON_IsObject(data)) {
		cJSON_DeleteItemFromObjectCaseSensitive(secret, "data");
		if (!(data = cJSON_AddObjectToObject(secret, "data")))
			return -1;
	}
	for (size_t i = 0; i < SECRET_KEYS; i++) {
		char *b64 = ds_ca_bundle(*slot((ds_cert_set *)set, i));
		cJSON *value = b64 ? cJSON_CreateString(b64) : NULL;
		free(b64);
		cJSON_DeleteItemFromObjectCaseSensitive(data, secret_keys[i].key);
		if (!value || !cJSON_AddItemToObject(data, secret_keys[i].key, value)) {
			cJSON_Delete(value);
			return -1;
		}
	}
	return 0;
}

/* A new Secret object holding set. Returns it, or NULL out of memory. */
static cJSON *new_secret(const struct ds_certmgr *m, const ds_cert_set *set)
{
	cJSON *s = cJSON_CreateObject(), *meta, *labels;

	if (!s || !cJSON_AddStringToObject(s, "apiVersion", "v1") || !cJSON_AddStringToObject(s, "kind", "Secret") ||
	    !(meta = cJSON_AddObjectToObject(s, "metadata")) || !cJSON_AddStringToObject(meta, "name", m->opt.secret) ||
	    !cJSON_AddStringToObject(meta, "namespace", m->opt.namespace) ||
	    !(labels = cJSON_AddObjectToObject(meta, "labels")) ||
	    !cJSON_AddStringToObject(labels, "app.kubernetes.io/managed-by", MANAGED_BY) || put_material(s, set)) {
		cJSON_Delete(s);
		return NULL;
	}
	return s;
}

/* The material a step writes: made from the Secret's where it keeps some.
 * Returns 0 and fills *out (release with ds_cert_set_free()), or -1 with
 * *error set. */
static int make_material(struct ds_certmgr *m, ds_certs_step step, const struct snapshot *s, ds_cert_set *out,
			 char **error)
{
	const ds_cert_set *old = &s->set;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (step == DS_CERTS_CREATE || step == DS_CERTS_REPLACE) {
		if (ds_certs_make_ca(DS_KEY_EC_P256, m->opt.ca_seconds, out, error) == 0 &&
		    ds_certs_make_serving(&m->req, out, error) == 0)
			return 0;
		ds_cert_set_free(out);
		return -1;
	}
	if (!(out->tls_cert = strdup(old->tls_cert ? old->tls_cert : "")) ||
	    !(out->tls_key = strdup(old->tls_key ? old->tls_key : "")) ||
	    !(out->ca_key = strdup(old->ca_key ? old->ca_key : "")))
		rc = ds_fail(error, "out of memory");
	else if (step == DS_CERTS_NEW_SERVING)
		rc = (out->ca_cert = strdup(old->ca_cert)) ? ds_certs_make_serving(&m->req, out, error)
							   : ds_fail(error, "out of memory");
	else if (step == DS_CERTS_DROP_OLD_CA)
		rc = (out->ca_cert = strdup(s->exam.ca_pem)) ? 0 : ds_fail(error, "out of memory");
	else if (ds_certs_make_ca(DS_KEY_EC_P256, m->opt.ca_seconds, out, error) == 0) {
		/* DS_CERTS_NEW_CA: the new CA first, then the one the serving certificate comes from */
		char *both = ds_format("%s%s", out->ca_cert, s->exam.issuer_pem);
		rc = both ? 0 : ds_fail(error, "out of memory");
		free(out->ca_cert);
		out->ca_cert = both;
	} else {
		rc = -1;
	}
	if (rc)
		ds_cert_set_free(out);
	return rc;
}

/* Counts the rotation a step made. */
static void count_rotation(struct ds_certmgr *m, ds_certs_step step)
{
	if (step == DS_CERTS_CREATE || step == DS_CERTS_REPLACE || step == DS_CERTS_NEW_SERVING)
		atomic_fetch_add(&m->srv->metrics.cert_rotations[0], 1);
	if (step == DS_CERTS_CREATE || step == DS_CERTS_REPLACE || step == DS_CERTS_NEW_CA)
		atomic_fetch_add(&m->srv->metrics.cert_rotations[1], 1);
}

/* Logs a write to the Secret: the step, why, and the problems seen. */
static void log_write(struct ds_certmgr *m, const ds_certs_plan *p, const struct snapshot *s, const ds_cert_set *set)
{
	cJSON *f = cJSON_CreateObject();
	ds_cert_exam e;

	cJSON_AddStringToObject(f, "secret", m->source);
	cJSON_AddStringToObject(f, "step", ds_certs_step_name(p->step));
	cJSON_AddStringToObject(f, "why", p->why);
	if (s->exam.ca_problem && (p->step == DS_CERTS_REPLACE || p->step == DS_CERTS_NEW_CA))
		cJSON_AddStringToObject(f, "caProblem", s->exam.ca_problem);
	if (s->exam.tls_problem && p->step != DS_CERTS_CREATE)
		cJSON_AddStringToObject(f, "servingProblem", s->exam.tls_problem);
	if (ds_certs_examine(set, &m->req, time(NULL), &e) == 0) {
		cJSON_AddNumberToObject(f, "caNotAfter", (double)e.ca_not_after);
		cJSON_AddNumberToObject(f, "servingNotAfter", (double)e.tls_not_after);
		cJSON_AddNumberToObject(f, "caCount", (double)e.ca_count);
		ds_cert_exam_free(&e);
	}
	ds_log_fields(DS_LOG_INFO, "certificates: wrote the Secret", f);
}

/* Creates the Secret with set (POST). Another replica may have been
 * first: then its Secret is read instead. */
static enum outcome create_secret(struct ds_certmgr *m, const ds_cert_set *set)
{
	struct view *v = &m->views[VIEW_SECRET];
	cJSON *body = new_secret(m, set), *obj;
	char *text = body ? cJSON_PrintUnformatted(body) : NULL;
	kube_response r = {0};
	enum outcome out = FAILED;
	long status = text ? call(m, KUBE_POST, v->collection, text, KUBE_JSON, "creating the Secret", &r) : -1;

	if (!text)
		log_failure(m, "creating the Secret", "out of memory");
	if (status == 201 || status == 200) {
		if ((obj = answer_object(m, &r, "creating the Secret")))
			view_learn(v, obj);
		out = obj ? WROTE : FAILED;
	} else if (status == 409 && kube_status_is(&r, KUBE_REASON_ALREADY_EXISTS)) {
		ds_log(DS_LOG_INFO, "certificates: %s was created by another replica first; using it", m->source);
		out = reread(m, v) == 0 ? READ_AGAIN : FAILED;
	} else if (status >= 0) {
		log_status(m, &r, "creating the Secret");
	}
	kube_response_free(&r);
	free(text);
	cJSON_Delete(body);
	return out;
}

/* Replaces the Secret's material with set (PUT of the object as read, its
 * resourceVersion the precondition). A newer Secret is read instead. */
static enum outcome update_secret(struct ds_certmgr *m, const cJSON *secret, const ds_cert_set *set)
{
	struct view *v = &m->views[VIEW_SECRET];
	cJSON *body = cJSON_Duplicate(secret, true), *obj;
	char *text = body && put_material(body, set) == 0 ? cJSON_PrintUnformatted(body) : NULL;
	kube_response r = {0};
	enum outcome out = FAILED;
	long status = text ? call(m, KUBE_PUT, v->path, text, KUBE_JSON, "updating the Secret", &r) : -1;

	if (!text)
		log_failure(m, "updating the Secret", "out of memory");
	if (status == 200) {
		if ((obj = answer_object(m, &r, "updating the Secret")))
			view_learn(v, obj);
		out = obj ? WROTE : FAILED;
	} else if (status == 409 || status == 404) {
		ds_log(DS_LOG_INFO, "certificates: %s changed meanwhile (HTTP %ld); reading it again", m->source, status);
		out = reread(m, v) == 0 ? READ_AGAIN : FAILED;
	} else if (status >= 0) {
		log_status(m, &r, "updating the Secret");
	}
	kube_response_free(&r);
	free(text);
	cJSON_Delete(body);
	return out;
}

/* Carries out a step of the plan. */
static enum outcome write_secret(struct ds_certmgr *m, const ds_certs_plan *p, const struct snapshot *s)
{
	ds_cert_set set;
	char *error = NULL;
	enum outcome out;

	if (make_material(m, p->step, s, &set, &error)) {
		log_failure(m, "making the certificates", error);
		free(error);
		return FAILED;
	}
	out = p->step == DS_CERTS_CREATE ? create_secret(m, &set) : update_secret(m, s->objects[VIEW_SECRET], &set);
	if (out == WROTE) {
		count_rotation(m, p->step);
		log_write(m, p, s, &set);
	}
	ds_cert_set_free(&set);
	return out;
}

/* The wait after `failures` failed writes in a row: one second, doubling,
 * at most BACKOFF_MAX_SECONDS. */
static double backoff_delay(unsigned failures)
{
	double delay = 1;

	for (unsigned i = 1; i < failures && delay < BACKOFF_MAX_SECONDS; i++)
		delay *= 2;
	return delay < BACKOFF_MAX_SECONDS ? delay : BACKOFF_MAX_SECONDS;
}

/* ---- the caBundles ---- */

/* Whether config has webhooks and every one holds `bundle` as its
 * clientConfig.caBundle. */
static bool holds(const cJSON *config, const char *bundle)
{
	const cJSON *hooks = cJSON_GetObjectItemCaseSensitive(config, "webhooks"), *hook;
	bool any = false;

	cJSON_ArrayForEach(hook, hooks)
	{
		const cJSON *cc = cJSON_GetObjectItemCaseSensitive(hook, "clientConfig");
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(cc, "caBundle");
		if (!cJSON_IsString(b) || strcmp(b->valuestring, bundle))
			return false;
		any = true;
	}
	return any;
}

/* Whether every webhook configuration named exists and holds bundle. */
static bool all_hold(const struct ds_certmgr *m, const struct snapshot *s, const char *bundle)
{
	for (int i = VIEW_VALIDATING; i < VIEW_COUNT; i++)
		if (m->views[i].name && (!s->objects[i] || !holds(s->objects[i], bundle)))
			return false;
	return true;
}

/* Appends one RFC 6902 operation to ops. Returns 0, or -1 out of memory. */
static int add_op(cJSON *ops, const char *op, const char *path, const char *value)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddStringToObject(o, "op", op) || !cJSON_AddStringToObject(o, "path", path) ||
	    !cJSON_AddStringToObject(o, "value", value) || !cJSON_AddItemToArray(ops, o)) {
		cJSON_Delete(o);
		return -1;
	}
	return 0;
}

/* The JSON patch that sets every webhook's clientConfig.caBundle of
 * config to bundle: it holds the resourceVersion read as a precondition
 * (the API server answers 409 Conflict when the object changed since), and
 * tests each webhook's name at its index. Returns a new string, or NULL
 * out of memory. */
static char *bundle_patch(const cJSON *config, const char *bundle)
{
	const cJSON *hooks = cJSON_GetObjectItemCaseSensitive(config, "webhooks"), *hook;
	cJSON *ops = cJSON_CreateArray();
	char *text = NULL, path[64];
	int i = 0, rc = ops ? add_op(ops, "replace", "/metadata/resourceVersion", resource_version(config)) : -1;

	cJSON_ArrayForEach(hook, hooks)
	{
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(hook, "name");
		snprintf(path, sizeof(path), "/webhooks/%d/name", i);
		if (rc == 0 && cJSON_IsString(name))
			rc = add_op(ops, "test", path, name->valuestring);
		snprintf(path, sizeof(path), "/webhooks/%d/clientConfig/caBundle", i++);
		if (rc == 0)
			rc = add_op(ops, "add", path, bundle);
	}
	if (rc == 0)
		text = cJSON_PrintUnformatted(ops);
	cJSON_Delete(ops);
	return text;
}

/* Whether the Secret is still what the snapshot holds: read again, so
 * that a replica whose watch lags never publishes an older CA. A newer
 * one is learnt (and the step made again). */
static bool secret_current(struct ds_certmgr *m, const struct snapshot *s)
{
	struct view *v = &m->views[VIEW_SECRET];
	const char *had = resource_version(s->objects[VIEW_SECRET]);
	bool same;

	if (reread(m, v) < 0)
		return false;
	pthread_mutex_lock(&m->mu);
	same = v->object && !strcmp(resource_version(v->object), had);
	pthread_mutex_unlock(&m->mu);
	return same;
}

/* The delay before patching v again when its caBundle was reset by
 * someone else: none the first time, then doubling while the resets keep
 * coming within RESET_WINDOW_SECONDS (two controllers must not fight at
 * full speed). Sets *n to the count of this reset. */
static double reset_delay(const struct view *v, double now, unsigned *n)
{
	double delay = 1;

	*n = now - v->patched_at < RESET_WINDOW_SECONDS ? v->resets + 1 : 1;
	if (*n <= 1)
		return 0;
	for (unsigned i = 2; i < *n && delay < RESET_DELAY_MAX_SECONDS; i++)
		delay *= 2;
	return delay < RESET_DELAY_MAX_SECONDS ? delay : RESET_DELAY_MAX_SECONDS;
}

/* Records and logs a caBundle patch of v. */
static void patched(struct ds_certmgr *m, struct view *v, bool reset, unsigned n)
{
	int which = v == &m->views[VIEW_VALIDATING] ? 0 : 1;
	cJSON *f = cJSON_CreateObject();

	v->patched_at = ds_monotonic();
	v->resets = reset ? n : 0;
	atomic_fetch_add(&m->srv->metrics.bundle_patches[which][reset], 1);
	cJSON_AddStringToObject(f, "kind", v->kind);
	cJSON_AddStringToObject(f, "name", v->name);
	cJSON_AddStringToObject(f, "reason", reset ? "the caBundle was changed by someone else" : "ca.crt changed");
	if (reset)
		cJSON_AddNumberToObject(f, "resetsInARow", n);
	ds_log_fields(reset ? DS_LOG_WARN : DS_LOG_INFO, "certificates: published the CA in the caBundle", f);
}

/* Patches every caBundle of v (whose object is config) to bundle. */
static enum outcome patch_bundles(struct ds_certmgr *m, struct view *v, const cJSON *config, const char *bundle,
				  bool reset, unsigned n)
{
	char *patch = bundle_patch(config, bundle), what[320];
	kube_response r = {0};
	enum outcome out = FAILED;
	cJSON *obj;
	long status;

	snprintf(what, sizeof(what), "patching the caBundle of %s %s", v->kind, v->name);
	status = patch ? call(m, KUBE_PATCH, v->path, patch, KUBE_JSON_PATCH, what, &r) : -1;
	if (!patch)
		log_failure(m, what, "out of memory");
	if (status == 200 && (obj = answer_object(m, &r, what))) {
		view_learn(v, obj);
		patched(m, v, reset, n);
		out = WROTE;
	} else if (status == 409 || status == 404) {
		/* changed since it was read (the resourceVersion), or gone: read it again */
		out = reread(m, v) == 0 ? READ_AGAIN : FAILED;
	} else if (status >= 0 && status != 200) {
		/* 422: a webhook's name was not where it was read (or the object is
		 * invalid): read again, but as a failure, so that it is not retried at
		 * once */
		log_status(m, &r, what);
		if (status == 422)
			reread(m, v);
	}
	kube_response_free(&r);
	free(patch);
	return out;
}

/* Notes that v holds bundle (so that a later change of it by someone else
 * is told from a rotation). */
static void note_held(struct view *v, const char *bundle)
{
	if (v->held && !strcmp(v->held, bundle))
		return;
	free(v->held);
	v->held = strdup(bundle);
}

/* Publishes bundle in v (whose object is config), unless a delay after
 * resets or failures holds it back. *checked says whether the Secret was
 * found current in this step already (a patch checks first). Returns the
 * outcome (READ_AGAIN also when the Secret changed); with HELD and FAILED,
 * *wait is set to the seconds until the patch may be tried. */
static enum outcome publish_one(struct ds_certmgr *m, struct view *v, const cJSON *config,
				const struct snapshot *s, bool *checked, double *wait)
{
	double now = ds_monotonic(), delay, at;
	/* It held this very ca.crt before: someone else changed it. */
	bool reset = v->held && !strcmp(v->held, s->bundle);
	unsigned n = 0;
	enum outcome out;

	delay = reset ? reset_delay(v, now, &n) : 0;
	at = v->patched_at + delay > v->retry_at ? v->patched_at + delay : v->retry_at;
	if (now < at) {
		*wait = at - now;
		return HELD;
	}
	if (!*checked && !(*checked = secret_current(m, s)))
		return READ_AGAIN;
	out = patch_bundles(m, v, config, s->bundle, reset, n);
	if (out == FAILED) {
		v->retry_at = now + backoff_delay(++v->failures);
		*wait = v->retry_at - now;
	} else {
		v->failures = 0;
	}
	return out;
}

/* Publishes ca.crt in every webhook configuration that does not hold it
 * (and notes which hold it). Returns the seconds until a held-back patch is
 * due (-1: none), and sets *again when an object was learnt anew and the
 * step must be made again. */
static double publish(struct ds_certmgr *m, const struct snapshot *s, bool *again)
{
	double wake = -1;
	bool checked = false;

	*again = false;
	for (int i = VIEW_VALIDATING; i < VIEW_COUNT && !*again; i++) {
		struct view *v = &m->views[i];
		double wait = -1;

		if (!v->name || !s->objects[i])
			continue;
		if (holds(s->objects[i], s->bundle)) {
			note_held(v, s->bundle);
			continue;
		}
		*again = publish_one(m, v, s->objects[i], s, &checked, &wait) == READ_AGAIN;
		if (wait >= 0 && (wake < 0 || wait < wake))
			wake = wait;
	}
	return wake;
}

/* ---- serving and readiness ---- */

/* Serves the Secret's pair when it can be used and is not served yet. */
static void serve_secret(struct ds_certmgr *m, const struct snapshot *s)
{
	const char *cert = s->set.tls_cert;
	char *error = NULL, *copy;
	cJSON *f;

	if (!s->exam.tls_ok || (m->served && !strcmp(m->served, cert)) || (m->tried && !strcmp(m->tried, cert)))
		return;
	if (ds_server_serve_pem(m->srv, cert, s->set.tls_key, m->source, &error) < 0) {
		log_failure(m, "serving the Secret's certificate", error);
		free(error);
		free(m->tried);
		m->tried = strdup(cert);
		return;
	}
	if (!(copy = strdup(cert)))
		return;
	free(m->served);
	m->served = copy;
	f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "secret", m->source);
	cJSON_AddNumberToObject(f, "notAfter", (double)s->exam.tls_not_after);
	cJSON_AddBoolToObject(f, "fromNewestCA", s->exam.issuer == 0);
	ds_log_fields(DS_LOG_INFO, "certificates: serving the Secret's certificate", f);
}

/* Writes into why (size bytes) why the caBundles of config do not trust
 * the served certificate. Returns whether they all do. */
static bool trusted_by(const struct ds_certmgr *m, const struct view *v, const cJSON *config, char *why, size_t size)
{
	const cJSON *hooks = cJSON_GetObjectItemCaseSensitive(config, "webhooks"), *hook;
	bool any = false;

	cJSON_ArrayForEach(hook, hooks)
	{
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(hook, "name");
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(hook, "clientConfig"),
								  "caBundle");
		char *pem = cJSON_IsString(b) ? ds_ca_bundle_decode(b->valuestring) : NULL, *error = NULL;
		int rc = pem && *pem ? ds_certs_verify(pem, m->served, m->host, time(NULL), &error) : -1;
		if (rc)
			snprintf(why, size, "the caBundle of %s %s (webhook %s) does not trust the served certificate: %s",
				 v->kind, v->name, cJSON_IsString(name) ? name->valuestring : "?",
				 error ? error : pem ? "it is empty" : "it is missing or not base64");
		free(error);
		free(pem);
		if (rc)
			return false;
		any = true;
	}
	if (!any)
		snprintf(why, size, "%s %s has no webhooks", v->kind, v->name);
	return any;
}

/* Decides readiness: a certificate from the Secret is served, and every
 * caBundle of the webhook configurations named trusts it. */
static void judge(struct ds_certmgr *m, const struct snapshot *s)
{
	char why[sizeof(m->why)] = "";
	bool ready = true;

	if (!s->synced[VIEW_SECRET])
		snprintf(why, sizeof(why), "%s has not been read yet", m->source);
	else if (!m->served)
		snprintf(why, sizeof(why), "no certificate from %s is served yet", m->source);
	for (int i = VIEW_VALIDATING; i < VIEW_COUNT && !*why; i++) {
		const struct view *v = &m->views[i];
		if (!v->name)
			continue;
		if (!s->synced[i])
			snprintf(why, sizeof(why), "%s %s has not been read yet", v->kind, v->name);
		else if (!s->objects[i])
			snprintf(why, sizeof(why), "%s %s does not exist", v->kind, v->name);
		else
			trusted_by(m, v, s->objects[i], why, sizeof(why));
	}
	ready = !*why;
	atomic_store(&m->srv->metrics.bundle_trusted, ready);
	pthread_mutex_lock(&m->mu);
	if (ready != m->ready)
		ds_log(ready ? DS_LOG_INFO : DS_LOG_WARN, "certificates: %s", ready ? "ready: the served certificate is trusted by every caBundle" : why);
	m->ready = ready;
	snprintf(m->why, sizeof(m->why), "%s", why);
	pthread_mutex_unlock(&m->mu);
}

bool ds_certmgr_ready(ds_certmgr *m, char *why, size_t size)
{
	bool ready;

	pthread_mutex_lock(&m->mu);
	ready = m->ready;
	snprintf(why, size, "%s", m->why);
	pthread_mutex_unlock(&m->mu);
	return ready;
}

/* ---- one step ---- */

/* Copies what the views hold and reads the Secret's material. Returns 0,
 * or -1 out of memory (s is then empty). */
static int take_snapshot(struct ds_certmgr *m, struct snapshot *s)
{
	bool oom = false;

	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&m->mu);
	for (int i = 0; i < VIEW_COUNT; i++) {
		s->synced[i] = m->views[i].synced;
		if (m->views[i].object && !(s->objects[i] = cJSON_Duplicate(m->views[i].object, true)))
			oom = true;
	}
	pthread_mutex_unlock(&m->mu);
	secret_material(s->objects[VIEW_SECRET], &s->set);
	if (oom || ds_certs_examine(&s->set, &m->req, time(NULL), &s->exam))
		return -1;
	if (s->exam.ca_count > 0 && s->set.ca_cert && !(s->bundle = ds_ca_bundle(s->set.ca_cert)))
		return -1;
	return 0;
}

static void snapshot_free(struct snapshot *s)
{
	for (int i = 0; i < VIEW_COUNT; i++)
		cJSON_Delete(s->objects[i]);
	ds_cert_set_free(&s->set);
	ds_cert_exam_free(&s->exam);
	free(s->bundle);
	memset(s, 0, sizeof(*s));
}

/* Restarts timer *since for `key` when it counts for another key or not
 * at all, when `on`; stops it when not. */
static void track(char **key, double *since, bool on, const char *value, double now)
{
	if (!on) {
		*since = -1;
		return;
	}
	if (*since >= 0 && *key && !strcmp(*key, value))
		return;
	free(*key);
	*key = strdup(value);
	*since = *key ? now : -1;
}

/* What the plan is made from, the timers brought up to date. */
static ds_certs_plan_input plan_input(struct ds_certmgr *m, const struct snapshot *s)
{
	double now = ds_monotonic();
	bool rotated = s->exam.tls_ok && s->exam.issuer == 0 && s->exam.ca_count > 1;

	track(&m->bundle_key, &m->bundles_since, s->bundle && all_hold(m, s, s->bundle), s->bundle, now);
	track(&m->rotated_key, &m->rotated_since, rotated && s->bundle, s->bundle, now);
	return (ds_certs_plan_input){
		.secret_exists = s->objects[VIEW_SECRET] != NULL,
		.exam = &s->exam,
		.now = time(NULL),
		.bundles_for = m->bundles_since >= 0 ? now - m->bundles_since : -1,
		.rotated_for = m->rotated_since >= 0 ? now - m->rotated_since : -1,
		.overlap = m->opt.overlap_seconds,
	};
}

/* Waits longer after each failed write of the Secret. */
static void back_off(struct ds_certmgr *m)
{
	m->retry_at = ds_monotonic() + backoff_delay(++m->failures);
}

/* The earlier of two delays, where a negative one is none. */
static double sooner(double a, double b)
{
	return b >= 0 && b < a ? b : a;
}

/* Writes the Secret when the plan says so and no backoff holds it back.
 * Returns whether the step must be made again at once (something was
 * written or read anew), else lowers *wake to when the plan falls due. */
static bool write_when_due(struct ds_certmgr *m, const struct snapshot *s, double *wake)
{
	ds_certs_plan_input in = plan_input(m, s);
	ds_certs_plan p = ds_certs_decide(&in);
	enum outcome out;

	if (p.step == DS_CERTS_WAIT) {
		m->writes_in_row = 0;
		*wake = sooner(*wake, p.wake_in);
		return false;
	}
	if (ds_monotonic() < m->retry_at) {
		*wake = sooner(*wake, m->retry_at - ds_monotonic());
		return false;
	}
	out = write_secret(m, &p, s);
	if (out == WROTE && ++m->writes_in_row > MAX_WRITES_IN_ROW)
		log_failure(m, "the Secret", "it still needs writing after several writes in a row; waiting before "
					     "the next");
	else if (out != FAILED) {
		m->failures = 0;
		return true;
	}
	back_off(m);
	*wake = sooner(*wake, m->retry_at - ds_monotonic());
	return false;
}

/* Makes one step: the Secret written when the plan says so, its pair
 * served, its CA published, readiness judged. Returns the seconds until
 * the next step is due when nothing happens before (0: at once). */
static double step(struct ds_certmgr *m)
{
	struct snapshot s;
	double wake = RECHECK_SECONDS;
	bool again = false;

	if (take_snapshot(m, &s) < 0) {
		log_failure(m, "reading the Secret", "out of memory");
		snapshot_free(&s);
		return 1;
	}
	if (s.synced[VIEW_SECRET]) {
		again = write_when_due(m, &s, &wake);
		if (!again) {
			serve_secret(m, &s);
			if (s.bundle && (s.exam.ca_ok || s.exam.tls_ok))
				wake = sooner(wake, publish(m, &s, &again));
		}
		atomic_store(&m->srv->metrics.ca_not_after, (long long)s.exam.ca_not_after);
	}
	if (!again)
		judge(m, &s);
	snapshot_free(&s);
	return again ? 0 : wake;
}

/* The deadline `at` (monotonic seconds) as a timespec. */
static struct timespec deadline(double at)
{
	struct timespec ts;

	ts.tv_sec = (time_t)at;
	ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
	return ts;
}

/* The thread: a step whenever a view changes or something falls due. */
static void *run(void *data)
{
	struct ds_certmgr *m = data;
	double wake_at = 0;

	pthread_mutex_lock(&m->mu);
	while (!m->stop) {
		if (!m->dirty && ds_monotonic() < wake_at) {
			struct timespec ts = deadline(wake_at);
			pthread_cond_timedwait(&m->cond, &m->mu, &ts);
			continue;
		}
		m->dirty = false;
		pthread_mutex_unlock(&m->mu);
		double wait = step(m);
		pthread_mutex_lock(&m->mu);
		wake_at = ds_monotonic() + (wait < MIN_WAKE_SECONDS ? MIN_WAKE_SECONDS : wait);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/* ---- start and stop ---- */

/* Sets up v for the object `name` of `kind` in `collection`. Returns 0, or
 * -1 out of memory. */
static int view_init(struct ds_certmgr *m, struct view *v, const char *kind, const char *collection,
		     const char *name)
{
	v->mgr = m;
	v->kind = kind;
	v->name = name;
	v->patched_at = -RESET_WINDOW_SECONDS;
	if (!name)
		return 0;
	v->collection = strdup(collection);
	v->path = ds_format("%s/%s", collection, name);
	return v->collection && v->path ? 0 : -1;
}

/* Starts the watch of v's object (GET and watch by name), on a client of
 * its own. */
static int view_watch(struct ds_certmgr *m, struct view *v, char **error)
{
	kube_client *client;
	kube_watch_options o = {
		.path = v->collection,
		.name = v->name,
		.what = v->kind,
		.max_list_bytes = MAX_OBJECT_BYTES,
		.max_event_bytes = MAX_OBJECT_BYTES,
		.log = on_watch_log,
		.log_data = v,
		.handlers = {on_list_begin, on_list_item, on_list_end, on_list_abort, on_event, v},
	};

	if (!v->name)
		return 0;
	if (!(client = kube_client_clone(m->client, error)))
		return -1;
	v->watch = kube_watch_start(client, &o, error);
	return v->watch ? 0 : -1;
}

static void locks_init(struct ds_certmgr *m)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&m->mu, NULL);
}

ds_certmgr *ds_certmgr_start(ds_server *srv, const ds_certmgr_options *opts, char **error)
{
	struct ds_certmgr *m = calloc(1, sizeof(*m));
	char *secrets = opts->namespace ? ds_format("/api/v1/namespaces/%s/secrets", opts->namespace) : NULL;

	if (!m || !secrets) {
		kube_client_free(opts->client);
		free(m);
		free(secrets);
		ds_fail(error, "out of memory");
		return NULL;
	}
	locks_init(m);
	m->srv = srv;
	m->opt = *opts;
	m->client = opts->client;
	m->req = serving_request(opts);
	m->bundles_since = m->rotated_since = -1;
	snprintf(m->why, sizeof(m->why), "starting");
	m->source = ds_format("Secret %s/%s", opts->namespace, opts->secret);
	m->host = ds_format("%s.%s.svc", opts->service, opts->namespace);
	if (!m->source || !m->host || view_init(m, &m->views[VIEW_SECRET], "Secret", secrets, opts->secret) ||
	    view_init(m, &m->views[VIEW_VALIDATING], "ValidatingWebhookConfiguration",
		      "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations", opts->validating) ||
	    view_init(m, &m->views[VIEW_MUTATING], "MutatingWebhookConfiguration",
		      "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", opts->mutating))
		ds_fail(error, "out of memory");
	else if (view_watch(m, &m->views[VIEW_SECRET], error) == 0 &&
		 view_watch(m, &m->views[VIEW_VALIDATING], error) == 0 &&
		 view_watch(m, &m->views[VIEW_MUTATING], error) == 0) {
		m->started = pthread_create(&m->thread, NULL, run, m) == 0;
		if (!m->started)
			ds_fail(error, "cannot start the certificate manager's thread");
	}
	free(secrets);
	atomic_store(&srv->metrics.certs_managed, true);
	if (m->started)
		return m;
	ds_certmgr_stop(m);
	return NULL;
}

void ds_certmgr_stop(ds_certmgr *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->stop = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->mu);
	kube_client_cancel(m->client);
	if (m->started)
		pthread_join(m->thread, NULL);
	for (int i = 0; i < VIEW_COUNT; i++) {
		struct view *v = &m->views[i];
		kube_watch_stop(v->watch); /* no handler runs after it */
		cJSON_Delete(v->object);
		cJSON_Delete(v->fresh);
		free(v->collection);
		free(v->path);
		free(v->held);
	}
	kube_client_free(m->client);
	free(m->source);
	free(m->host);
	free(m->served);
	free(m->tried);
	free(m->bundle_key);
	free(m->rotated_key);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
