/* cache.c - the DaemonSet cache: a list+watch (watch.c) keeps a namespace index, with a small record of each DaemonSet, that request threads read. */
#include "kube/private.h"

#include <stdlib.h>
#include <string.h>

#define DAEMONSETS_PATH "/apis/apps/v1/daemonsets"
#define MAX_OBJECTS 1000000u

struct kube_cache {
	kube_watch *watch;
	double reserve_seconds;
	kube_log_fn log;
	void *log_data;
	char **keep;         /* the pointers kept of each DaemonSet (copies) */
	size_t keep_count;

	pthread_mutex_t subscriber_lock; /* held while the subscriber is told */
	kube_cache_changed_fn changed;
	void *changed_data;

	void (*deleted)(void *data, const char *ns, const char *name);
	void *deleted_data;

	pthread_rwlock_t rw; /* guards index and reserved */
	kube_index *index;
	kube_reservations reserved;

	kube_index *fresh;   /* the list in progress; the list+watch thread's own */
};

/* list_begin: a fresh index for the list. */
static int list_begin(void *data, char **error)
{
	kube_cache *c = data;

	kube_index_free(c->fresh);
	c->fresh = kube_index_new();
	return c->fresh ? 0 : ds_fail(error, "out of memory");
}

/* Tells the subscriber, if any, that the view changed (ns NULL: all of it). */
static void tell(kube_cache *c, const char *ns)
{
	pthread_mutex_lock(&c->subscriber_lock);
	if (c->changed)
		c->changed(c->changed_data, ns);
	pthread_mutex_unlock(&c->subscriber_lock);
}

/* Adds ns/name to idx with the record of object (a DaemonSet of the
 * collection, which a list gives without kind and apiVersion). Returns 0,
 * or -1 out of memory. */
static int add_record(kube_cache *c, kube_index *idx, const char *ns, const char *name, const cJSON *object)
{
	char *record = NULL;
	int rc;

	if (c->keep_count) {
		record = kube_record_text(object, "apps/v1", "DaemonSet", (const char *const *)c->keep, c->keep_count);
		if (!record)
			return -1;
	}
	rc = kube_index_add(idx, ns, name, record);
	cJSON_free(record);
	return rc;
}

/* list_item: the item's namespace/name and record into the fresh index. */
static int list_item(void *data, const cJSON *item, char **why)
{
	kube_cache *c = data;
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(item, "metadata");
	const cJSON *ns = cJSON_GetObjectItemCaseSensitive(meta, "namespace");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(meta, "name");

	(void)why; /* "malformed or too many items" */
	if (!cJSON_IsString(ns) || !cJSON_IsString(name) || !*ns->valuestring || !*name->valuestring ||
	    strlen(ns->valuestring) > 63 || strlen(name->valuestring) > 253 ||
	    kube_index_objects(c->fresh) >= MAX_OBJECTS ||
	    add_record(c, c->fresh, ns->valuestring, name->valuestring, item) < 0)
		return -1;
	return 0;
}

/* list_end: puts the freshly listed index in place. */
static int list_end(void *data, const char *rv, char **error)
{
	kube_cache *c = data;
	kube_index *old;

	(void)error;
	if (c->log) {
		char *line = ds_format("listed %zu DaemonSets in %zu namespaces at resourceVersion %s",
				       kube_index_objects(c->fresh), kube_index_namespaces(c->fresh), rv);

		c->log(c->log_data, KUBE_LOG_INFO, line ? line : "out of memory");
		free(line);
	}
	pthread_rwlock_wrlock(&c->rw);
	old = c->index;
	c->index = c->fresh;
	c->fresh = NULL;
	kube_reservations_prune(&c->reserved, c->index, kube_now());
	pthread_rwlock_unlock(&c->rw);
	kube_index_free(old);
	tell(c, NULL);
	return 0;
}

/* list_abort: drops the fresh index. */
static void list_abort(void *data)
{
	kube_cache *c = data;

	kube_index_free(c->fresh);
	c->fresh = NULL;
}

/* event: applies one ADDED, MODIFIED or DELETED event to the index. Returns
 * 0, or -1 with *error set (an object without namespace and name, too many
 * objects, out of memory). */
static int apply(void *data, kube_event_type type, const cJSON *object, char **error)
{
	kube_cache *c = data;
	kube_event ev = {.type = type};
	int rc = 0;

	if (kube_event_names(object, &ev, error) < 0)
		return -1;
	pthread_rwlock_wrlock(&c->rw);
	if (type == KUBE_EVENT_DELETED)
		kube_index_remove(c->index, ev.ns, ev.name);
	else if (kube_index_objects(c->index) < MAX_OBJECTS)
		rc = add_record(c, c->index, ev.ns, ev.name, object) < 0 ? ds_fail(error, "out of memory") : 0;
	else
		rc = ds_fail(error, "more than %u DaemonSets", MAX_OBJECTS);
	kube_reservations_remove(&c->reserved, ev.ns, ev.name);
	kube_reservations_prune(&c->reserved, NULL, kube_now());
	pthread_rwlock_unlock(&c->rw);
	if (rc == 0)
		tell(c, ev.ns);
	if (type == KUBE_EVENT_DELETED && c->deleted)
		c->deleted(c->deleted_data, ev.ns, ev.name);
	return rc;
}

/* A lock that prefers the writer, so the watch is never starved by reviews. */
static void init_lock(kube_cache *c)
{
	pthread_rwlockattr_t rwa;

	pthread_rwlockattr_init(&rwa);
	pthread_rwlockattr_setkind_np(&rwa, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&c->rw, &rwa);
	pthread_rwlockattr_destroy(&rwa);
}

static void cache_free(kube_cache *c)
{
	for (size_t i = 0; i < c->keep_count; i++)
		free(c->keep[i]);
	free(c->keep);
	pthread_mutex_destroy(&c->subscriber_lock);
	pthread_rwlock_destroy(&c->rw);
	kube_index_free(c->index);
	kube_index_free(c->fresh);
	kube_reservations_free(&c->reserved);
	free(c);
}

/* Copies the pointers to keep of each DaemonSet. Returns 0, or -1 out of
 * memory. */
static int copy_keep(kube_cache *c, const kube_cache_options *o)
{
	if (!o->keep_count)
		return 0;
	c->keep = calloc(o->keep_count, sizeof(*c->keep));
	if (!c->keep)
		return -1;
	for (; c->keep_count < o->keep_count; c->keep_count++)
		if (!(c->keep[c->keep_count] = strdup(o->keep[c->keep_count])))
			return -1;
	return 0;
}

kube_cache *kube_cache_start(kube_client *client, const kube_cache_options *opts, char **error)
{
	kube_cache_options o = opts ? *opts : (kube_cache_options){0};
	kube_cache *c = calloc(1, sizeof(*c));
	kube_watch_options wo = {.path = DAEMONSETS_PATH, .what = "DaemonSets", .backoff_initial = o.backoff_initial,
				 .backoff_max = o.backoff_max, .watch_seconds = o.watch_seconds,
				 .page_limit = o.page_limit, .max_list_bytes = o.max_list_bytes,
				 .max_event_bytes = o.max_event_bytes, .log = o.log, .log_data = o.log_data};

	if (!c) {
		kube_client_free(client);
		ds_fail(error, "out of memory");
		return NULL;
	}
	c->reserve_seconds = o.reserve_seconds > 0 ? o.reserve_seconds : 30;
	c->log = o.log;
	c->log_data = o.log_data;
	c->deleted = o.deleted;
	c->deleted_data = o.deleted_data;
	init_lock(c);
	pthread_mutex_init(&c->subscriber_lock, NULL);
	c->index = kube_index_new();
	if (!c->index || copy_keep(c, &o) < 0) {
		kube_client_free(client);
		cache_free(c);
		ds_fail(error, "out of memory");
		return NULL;
	}
	wo.handlers = (kube_watch_handlers){.list_begin = list_begin, .list_item = list_item, .list_end = list_end,
					    .list_abort = list_abort, .event = apply, .data = c};
	c->watch = kube_watch_start(client, &wo, error);
	if (!c->watch) {
		cache_free(c);
		return NULL;
	}
	return c;
}

void kube_cache_stop(kube_cache *cache)
{
	if (!cache)
		return;
	kube_watch_stop(cache->watch);
	cache_free(cache);
}

bool kube_cache_wait_synced(kube_cache *cache, double seconds)
{
	return kube_watch_wait_synced(cache->watch, seconds);
}

/* ds_namespace_lookup's function over the cache. */
static ds_namespace_answer other_in_namespace(void *data, const char *ns, const char *name, char **copy)
{
	kube_cache *c = data;
	const char *other;

	if (!kube_cache_wait_synced(c, 0))
		return DS_NAMESPACE_UNKNOWN;
	pthread_rwlock_rdlock(&c->rw);
	other = kube_index_other(c->index, ns, name);
	if (!other)
		other = kube_reservations_other(&c->reserved, ns, name, kube_now());
	*copy = other ? strdup(other) : NULL;
	pthread_rwlock_unlock(&c->rw);
	return other ? DS_NAMESPACE_SHARED : DS_NAMESPACE_FREE;
}

ds_namespace_lookup kube_cache_lookup(kube_cache *cache)
{
	return (ds_namespace_lookup){.other_in_namespace = other_in_namespace, .data = cache};
}

bool kube_cache_holds(kube_cache *cache, const char *ns, const char *name)
{
	bool held;

	pthread_rwlock_rdlock(&cache->rw);
	held = kube_index_has(cache->index, ns, name);
	pthread_rwlock_unlock(&cache->rw);
	return held;
}

int kube_cache_reserve(kube_cache *cache, const char *ns, const char *name, char **other)
{
	double now = kube_now();
	const char *held;
	int rc;

	*other = NULL;
	pthread_rwlock_wrlock(&cache->rw);
	kube_reservations_prune(&cache->reserved, cache->index, now);
	held = kube_index_other(cache->index, ns, name);
	if (!held)
		held = kube_reservations_other(&cache->reserved, ns, name, now);
	if (held) {
		*other = strdup(held);
		rc = *other ? 0 : -1;
	} else {
		rc = kube_reservations_add(&cache->reserved, ns, name, now + cache->reserve_seconds);
	}
	pthread_rwlock_unlock(&cache->rw);
	return rc;
}

void kube_cache_stats_get(kube_cache *cache, kube_cache_stats *out)
{
	double now = kube_now();

	memset(out, 0, sizeof(*out));
	kube_watch_stats_get(cache->watch, &out->watch);
	pthread_rwlock_rdlock(&cache->rw);
	out->objects = kube_index_objects(cache->index);
	out->namespaces = kube_index_namespaces(cache->index);
	out->reservations = 0;
	for (size_t i = 0; i < cache->reserved.count; i++)
		out->reservations += cache->reserved.items[i].expires > now;
	pthread_rwlock_unlock(&cache->rw);
}

void kube_cache_subscribe(kube_cache *cache, kube_cache_changed_fn fn, void *data)
{
	pthread_mutex_lock(&cache->subscriber_lock);
	cache->changed = fn;
	cache->changed_data = data;
	pthread_mutex_unlock(&cache->subscriber_lock);
}

int kube_cache_snapshot(kube_cache *cache, const char *ns, kube_snapshot *out)
{
	int rc;

	pthread_rwlock_rdlock(&cache->rw);
	rc = kube_index_snapshot(cache->index, ns, out);
	pthread_rwlock_unlock(&cache->rw);
	return rc;
}
