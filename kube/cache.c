/* cache.c - the list+watch cache of DaemonSets: a thread keeps a namespace index that request threads read. */
#include "kube/private.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAEMONSETS_PATH "/apis/apps/v1/daemonsets"
#define MAX_OBJECTS 1000000u

/* How a watch ended, as the thread's next step sees it. */
enum watch_end {
	WATCH_ENDED,   /* the server closed it (timeoutSeconds): watch again */
	WATCH_BROKEN,  /* connection or HTTP error: watch again after a backoff */
	WATCH_RELIST   /* 410 Gone or an event not understood: list again */
};

/* What on_event asks of the stream. */
enum { STREAM_GONE = 1, STREAM_LOST, STREAM_ERROR };

struct kube_cache {
	kube_client *client;
	kube_cache_options opt;
	pthread_t thread;

	pthread_rwlock_t rw; /* guards index and reserved */
	kube_index *index;
	kube_reservations reserved;

	pthread_mutex_t mu;  /* guards stop, stats */
	pthread_cond_t cond; /* signals stop and the first sync */
	bool stop;
	kube_cache_stats stats;
	double last_event_mono;

	/* The thread's own. */
	char *rv;            /* where the next watch starts */
	unsigned failures;   /* attempts in a row that made no progress */
	unsigned seed;       /* for the jitter */
};

static void cache_log(kube_cache *c, kube_log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void cache_log(kube_cache *c, kube_log_level level, const char *fmt, ...)
{
	char *message = NULL;
	va_list ap;

	if (!c->opt.log)
		return;
	va_start(ap, fmt);
	message = ds_vformat(fmt, ap);
	va_end(ap);
	c->opt.log(c->opt.log_data, level, message ? message : "out of memory");
	free(message);
}

static bool stopping(kube_cache *c)
{
	bool stop;

	pthread_mutex_lock(&c->mu);
	stop = c->stop;
	pthread_mutex_unlock(&c->mu);
	return stop;
}

/* Records that the API server told us something now. */
static void touch(kube_cache *c)
{
	pthread_mutex_lock(&c->mu);
	c->stats.last_event = time(NULL);
	c->last_event_mono = kube_now();
	pthread_mutex_unlock(&c->mu);
}

/* Sleeps the backoff for the current run of failures: the delay doubles
 * from backoff_initial up to backoff_max, and a random part of its upper
 * half is taken off (jitter). Returns early when the cache stops. */
static void backoff(kube_cache *c)
{
	double delay = c->opt.backoff_initial;
	struct timespec until;
	double end;

	for (unsigned i = 1; i < c->failures && delay < c->opt.backoff_max; i++)
		delay *= 2;
	if (delay > c->opt.backoff_max)
		delay = c->opt.backoff_max;
	delay = delay / 2 + delay / 2 * ((double)rand_r(&c->seed) / RAND_MAX);
	clock_gettime(CLOCK_MONOTONIC, &until);
	end = (double)until.tv_sec + (double)until.tv_nsec / 1e9 + delay;
	until.tv_sec = (time_t)end;
	until.tv_nsec = (long)((end - (double)until.tv_sec) * 1e9);
	pthread_mutex_lock(&c->mu);
	while (!c->stop && pthread_cond_timedwait(&c->cond, &c->mu, &until) == 0)
		;
	pthread_mutex_unlock(&c->mu);
}

/* on_page of a list: every item's namespace/name into the new index. */
static int index_items(void *data, const cJSON *items)
{
	kube_index *idx = data;
	const cJSON *item;

	cJSON_ArrayForEach(item, items) {
		const cJSON *meta = cJSON_GetObjectItemCaseSensitive(item, "metadata");
		const cJSON *ns = cJSON_GetObjectItemCaseSensitive(meta, "namespace");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(meta, "name");

		if (!cJSON_IsString(ns) || !cJSON_IsString(name) || !*ns->valuestring || !*name->valuestring ||
		    strlen(ns->valuestring) > 63 || strlen(name->valuestring) > 253 ||
		    kube_index_objects(idx) >= MAX_OBJECTS || kube_index_add(idx, ns->valuestring, name->valuestring) < 0)
			return -1;
	}
	return 0;
}

/* Puts a freshly listed index in place and counts the list. */
static void install(kube_cache *c, kube_index *fresh, char *rv)
{
	kube_index *old;

	pthread_rwlock_wrlock(&c->rw);
	old = c->index;
	c->index = fresh;
	kube_reservations_prune(&c->reserved, fresh, kube_now());
	pthread_rwlock_unlock(&c->rw);
	kube_index_free(old);
	free(c->rv);
	c->rv = rv;
	pthread_mutex_lock(&c->mu);
	c->stats.relists += c->stats.lists > 0;
	c->stats.lists++;
	c->stats.synced = true;
	c->stats.last_event = time(NULL);
	c->last_event_mono = kube_now();
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
}

/* Lists every DaemonSet. Returns 0 when the index was replaced, else -1. */
static int relist(kube_cache *c)
{
	kube_index *fresh = kube_index_new();
	char *rv = NULL, *error = NULL;
	bool gone;

	if (!fresh)
		return -1;
	if (kube_list(c->client, DAEMONSETS_PATH, c->opt.page_limit, c->opt.max_list_bytes, index_items, fresh,
		      &rv, &gone, &error) < 0 || !*rv) {
		if (!stopping(c))
			cache_log(c, KUBE_LOG_WARN, "listing DaemonSets: %s",
				  error ? error : "the list has no resourceVersion");
		free(error);
		free(rv);
		kube_index_free(fresh);
		return -1;
	}
	cache_log(c, KUBE_LOG_INFO, "listed %zu DaemonSets in %zu namespaces at resourceVersion %s",
		  kube_index_objects(fresh), kube_index_namespaces(fresh), rv);
	install(c, fresh, rv);
	return 0;
}

/* Applies one ADDED, MODIFIED or DELETED event. Returns 0, or -1 out of
 * memory. */
static int apply(kube_cache *c, const kube_event *ev)
{
	int rc = 0;

	pthread_rwlock_wrlock(&c->rw);
	if (ev->type == KUBE_EVENT_DELETED)
		kube_index_remove(c->index, ev->ns, ev->name);
	else if (kube_index_objects(c->index) < MAX_OBJECTS)
		rc = kube_index_add(c->index, ev->ns, ev->name);
	else
		rc = -1;
	kube_reservations_remove(&c->reserved, ev->ns, ev->name);
	kube_reservations_prune(&c->reserved, NULL, kube_now());
	pthread_rwlock_unlock(&c->rw);
	return rc;
}

/* The state of one watch. */
struct watch {
	kube_cache *c;
	unsigned long events;
};

/* Moves the watch's start to the event's resourceVersion. */
static int advance(kube_cache *c, const kube_event *ev)
{
	char *rv;

	if (!*ev->resource_version)
		return 0;
	rv = strdup(ev->resource_version);
	if (!rv)
		return -1;
	free(c->rv);
	c->rv = rv;
	return 0;
}

/* on_line of a watch stream: decodes and applies one event. */
static int on_event(void *data, const char *line, size_t len)
{
	struct watch *w = data;
	kube_event ev;
	char *error = NULL;

	if (kube_event_parse(line, len, &ev, &error) < 0) {
		cache_log(w->c, KUBE_LOG_WARN, "watch: %s; listing again", error ? error : "out of memory");
		free(error);
		return STREAM_LOST;
	}
	w->events++;
	touch(w->c);
	if (ev.type == KUBE_EVENT_ERROR) {
		cache_log(w->c, ev.code == 410 ? KUBE_LOG_INFO : KUBE_LOG_WARN, "watch: ERROR %d: %s", ev.code,
			  ev.message);
		return ev.code == 410 ? STREAM_GONE : STREAM_ERROR;
	}
	if (ev.type != KUBE_EVENT_BOOKMARK && apply(w->c, &ev) < 0)
		return STREAM_LOST;
	return advance(w->c, &ev) < 0 ? STREAM_LOST : 0;
}

/* The URL of a watch from the current resourceVersion. Returns a new
 * string, or NULL out of memory. */
static char *watch_url(kube_cache *c)
{
	char *rv = curl_easy_escape(NULL, c->rv, 0);
	char *url = NULL;

	if (rv && asprintf(&url, "%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%u",
			   DAEMONSETS_PATH, rv, c->opt.watch_seconds) < 0)
		url = NULL;
	curl_free(rv);
	return url;
}

static void set_watching(kube_cache *c, bool on)
{
	pthread_mutex_lock(&c->mu);
	c->stats.watching = on;
	pthread_mutex_unlock(&c->mu);
}

/* How a stream's end reads: the result of kube_stream() and its answer. */
static enum watch_end watch_outcome(kube_cache *c, int rc, const kube_response *r, const char *error)
{
	char *message = NULL;

	if (rc == STREAM_GONE || rc == STREAM_LOST)
		return WATCH_RELIST;
	if (rc == STREAM_ERROR)
		return WATCH_BROKEN;
	if (rc == KUBE_STREAM_TOO_LONG) {
		cache_log(c, KUBE_LOG_WARN, "watch: %s; listing again", error);
		return WATCH_RELIST;
	}
	if (rc < 0) {
		if (!stopping(c))
			cache_log(c, KUBE_LOG_WARN, "watch: %s", error ? error : "out of memory");
		return WATCH_BROKEN;
	}
	if (r->status == 200)
		return WATCH_ENDED;
	kube_status_error(r, "watch", &message);
	cache_log(c, r->status == 410 ? KUBE_LOG_INFO : KUBE_LOG_WARN, "%s", message ? message : "watch failed");
	free(message);
	return r->status == 410 ? WATCH_RELIST : WATCH_BROKEN;
}

/* Watches from c->rv until the stream ends. Sets *progress when at least
 * one event came. */
static enum watch_end watch(kube_cache *c, bool *progress)
{
	struct watch w = {.c = c};
	kube_response r = {0};
	char *url = watch_url(c), *error = NULL;
	enum watch_end end;
	int rc = -1;

	if (url) {
		set_watching(c, true);
		rc = kube_stream(c->client, url, c->opt.max_event_bytes, (double)c->opt.watch_seconds + 30, on_event, &w,
				 &r, &error);
		set_watching(c, false);
	}
	end = watch_outcome(c, rc, &r, url ? error : "out of memory");
	kube_response_free(&r);
	free(error);
	free(url);
	*progress = w.events > 0;
	return end;
}

/* The thread: list, watch, and again as the server and the network say. */
static void *run(void *data)
{
	kube_cache *c = data;
	bool need_list = true, watched = false;

	while (!stopping(c)) {
		bool progress = false;
		enum watch_end end;

		if (need_list && relist(c) < 0) {
			c->failures++;
			backoff(c);
			continue;
		}
		need_list = false;
		if (watched) {
			pthread_mutex_lock(&c->mu);
			c->stats.watch_restarts++;
			pthread_mutex_unlock(&c->mu);
		}
		watched = true;
		end = watch(c, &progress);
		need_list = end == WATCH_RELIST;
		c->failures = progress && end != WATCH_BROKEN ? 0 : c->failures + 1;
		if (c->failures > 0)
			backoff(c);
	}
	return NULL;
}

static void set_defaults(kube_cache_options *o)
{
	if (o->reserve_seconds <= 0)
		o->reserve_seconds = 30;
	if (o->backoff_initial <= 0)
		o->backoff_initial = 0.5;
	if (o->backoff_max <= 0)
		o->backoff_max = 30;
	if (o->backoff_max < o->backoff_initial)
		o->backoff_max = o->backoff_initial;
	if (!o->watch_seconds)
		o->watch_seconds = 300;
	if (!o->page_limit)
		o->page_limit = 500;
	if (!o->max_list_bytes)
		o->max_list_bytes = KUBE_MAX_LIST_BYTES;
	if (!o->max_event_bytes)
		o->max_event_bytes = KUBE_MAX_EVENT_BYTES;
}

/* Locks that prefer the writer, so the watch is never starved by reviews. */
static void init_locks(kube_cache *c)
{
	pthread_rwlockattr_t rwa;
	pthread_condattr_t ca;

	pthread_rwlockattr_init(&rwa);
	pthread_rwlockattr_setkind_np(&rwa, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&c->rw, &rwa);
	pthread_rwlockattr_destroy(&rwa);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&c->mu, NULL);
}

static void cache_free(kube_cache *c)
{
	pthread_rwlock_destroy(&c->rw);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->mu);
	kube_index_free(c->index);
	kube_reservations_free(&c->reserved);
	kube_client_free(c->client);
	free(c->rv);
	free(c);
}

kube_cache *kube_cache_start(kube_client *client, const kube_cache_options *opts, char **error)
{
	kube_cache *c = calloc(1, sizeof(*c));

	if (!c) {
		kube_client_free(client);
		ds_fail(error, "out of memory");
		return NULL;
	}
	c->client = client;
	if (opts)
		c->opt = *opts;
	set_defaults(&c->opt);
	c->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)c;
	c->stats.since_last_event = -1;
	init_locks(c);
	c->index = kube_index_new();
	if (!c->index || pthread_create(&c->thread, NULL, run, c) != 0) {
		cache_free(c);
		ds_fail(error, "cannot start the cache's thread");
		return NULL;
	}
	return c;
}

void kube_cache_stop(kube_cache *cache)
{
	if (!cache)
		return;
	pthread_mutex_lock(&cache->mu);
	cache->stop = true;
	pthread_cond_broadcast(&cache->cond);
	pthread_mutex_unlock(&cache->mu);
	kube_client_cancel(cache->client);
	pthread_join(cache->thread, NULL);
	cache_free(cache);
}

bool kube_cache_wait_synced(kube_cache *cache, double seconds)
{
	double end = kube_now() + seconds;
	struct timespec until = {.tv_sec = (time_t)end, .tv_nsec = (long)((end - (double)(time_t)end) * 1e9)};
	bool synced;

	pthread_mutex_lock(&cache->mu);
	while (!cache->stats.synced && pthread_cond_timedwait(&cache->cond, &cache->mu, &until) == 0)
		;
	synced = cache->stats.synced;
	pthread_mutex_unlock(&cache->mu);
	return synced;
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
		rc = kube_reservations_add(&cache->reserved, ns, name, now + cache->opt.reserve_seconds);
	}
	pthread_rwlock_unlock(&cache->rw);
	return rc;
}

void kube_cache_stats_get(kube_cache *cache, kube_cache_stats *out)
{
	double now = kube_now();

	pthread_mutex_lock(&cache->mu);
	*out = cache->stats;
	out->since_last_event = out->last_event ? now - cache->last_event_mono : -1;
	pthread_mutex_unlock(&cache->mu);
	pthread_rwlock_rdlock(&cache->rw);
	out->objects = kube_index_objects(cache->index);
	out->namespaces = kube_index_namespaces(cache->index);
	out->reservations = 0;
	for (size_t i = 0; i < cache->reserved.count; i++)
		out->reservations += cache->reserved.items[i].expires > now;
	pthread_rwlock_unlock(&cache->rw);
}
