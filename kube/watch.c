/* watch.c - list+watch of one collection in a thread (pages, watch from the list's resourceVersion, relist on 410, backoff), or get+watch of one named object. */
#include "kube/private.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a watch ended, as the thread's next step sees it. */
enum watch_end {
	WATCH_ENDED,   /* the server closed it (timeoutSeconds): watch again */
	WATCH_BROKEN,  /* connection or HTTP error: watch again after a backoff */
	WATCH_RELIST   /* 410 Gone or an event not understood: list (or read the object) again */
};

/* What on_line or on_open asks of the stream. */
enum { STREAM_GONE = 1, STREAM_LOST, STREAM_ERROR, STREAM_UNREAD };

struct kube_watch {
	kube_client *client;
	kube_watch_options opt;   /* its strings are the copies below */
	char *path;               /* the collection, with the fieldSelector of opt.name */
	char *what;
	kube_client *getter;      /* one named object: the client of its GETs (the
				   * watch's own client is busy with the stream) */
	char *object_path;        /* one named object: its path */
	pthread_t thread;

	pthread_mutex_t mu;       /* guards stop, stats */
	pthread_cond_t cond;      /* signals stop and the first sync */
	bool stop;
	kube_watch_stats stats;
	double last_event_mono;

	/* The thread's own. */
	char *rv;                 /* where the next watch starts; NULL (one named
				   * object only): at the most recent, then GET */
	unsigned failures;        /* attempts in a row that made no progress */
	unsigned seed;            /* for the jitter */
};

static void watch_log(kube_watch *w, kube_log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void watch_log(kube_watch *w, kube_log_level level, const char *fmt, ...)
{
	char *message = NULL;
	va_list ap;

	if (!w->opt.log)
		return;
	va_start(ap, fmt);
	message = ds_vformat(fmt, ap);
	va_end(ap);
	w->opt.log(w->opt.log_data, level, message ? message : "out of memory");
	free(message);
}

static bool stopping(kube_watch *w)
{
	bool stop;

	pthread_mutex_lock(&w->mu);
	stop = w->stop;
	pthread_mutex_unlock(&w->mu);
	return stop;
}

/* Records that the API server told us something now. */
static void touch(kube_watch *w)
{
	pthread_mutex_lock(&w->mu);
	w->stats.last_event = time(NULL);
	w->last_event_mono = kube_now();
	pthread_mutex_unlock(&w->mu);
}

/* Sleeps the backoff for the current run of failures: the delay doubles
 * from backoff_initial up to backoff_max, and a random part of its upper
 * half is taken off (jitter). Returns early when the list+watch stops. */
static void backoff(kube_watch *w)
{
	double delay = w->opt.backoff_initial;
	struct timespec until;

	for (unsigned i = 1; i < w->failures && delay < w->opt.backoff_max; i++)
		delay *= 2;
	if (delay > w->opt.backoff_max)
		delay = w->opt.backoff_max;
	delay = delay / 2 + delay / 2 * ((double)rand_r(&w->seed) / RAND_MAX);
	kube_timespec(kube_now() + delay, &until);
	pthread_mutex_lock(&w->mu);
	while (!w->stop && pthread_cond_timedwait(&w->cond, &w->mu, &until) == 0)
		;
	pthread_mutex_unlock(&w->mu);
}

/* on_item of kube_list(): the caller's list_item. */
static int list_item(void *data, const cJSON *item, char **why)
{
	kube_watch *w = data;
	const kube_watch_handlers *h = &w->opt.handlers;

	return h->list_item ? h->list_item(h->data, item, why) : 0;
}

/* Counts a complete list (or GET of the one object) and wakes those
 * waiting for the first. Takes rv, where the next watch starts (NULL for one
 * named object: the watch open now starts at the most recent). */
static void listed(kube_watch *w, char *rv)
{
	free(w->rv);
	w->rv = rv;
	pthread_mutex_lock(&w->mu);
	w->stats.relists += w->stats.lists > 0;
	w->stats.lists++;
	w->stats.synced = true;
	w->stats.last_event = time(NULL);
	w->last_event_mono = kube_now();
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

/* Lists the collection into the caller's fresh view. Returns 0 when the
 * caller took the list, else -1 (logged). */
static int relist(kube_watch *w)
{
	const kube_watch_handlers *h = &w->opt.handlers;
	char *rv = NULL, *error = NULL;
	bool gone;

	if (h->list_begin && h->list_begin(h->data, &error) < 0) {
		watch_log(w, KUBE_LOG_WARN, "listing %s: %s", w->what, error ? error : "out of memory");
		free(error);
		return -1;
	}
	if (kube_list(w->client, w->path, w->opt.page_limit, w->opt.max_list_bytes, list_item, w, &rv, &gone,
		      &error) < 0 || !*rv) {
		if (!stopping(w))
			watch_log(w, KUBE_LOG_WARN, "listing %s: %s", w->what,
				  error ? error : "the list has no resourceVersion");
		free(error);
		free(rv);
		if (h->list_abort)
			h->list_abort(h->data);
		return -1;
	}
	if (h->list_end && h->list_end(h->data, rv, &error) < 0) {
		watch_log(w, KUBE_LOG_WARN, "listing %s: %s", w->what, error ? error : "out of memory");
		free(error);
		free(rv);
		if (h->list_abort)
			h->list_abort(h->data);
		return -1;
	}
	listed(w, rv);
	return 0;
}

/* The object's metadata.resourceVersion (borrowed); "" when it has none. */
static const char *resource_version_of(const cJSON *obj)
{
	const cJSON *rv = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "metadata"),
							  "resourceVersion");

	return cJSON_IsString(rv) ? rv->valuestring : "";
}

/* The one object's body (a new cJSON), or NULL with *error set. */
static cJSON *object_read(const kube_response *r, char **error)
{
	cJSON *obj = r->body ? cJSON_ParseWithLength(r->body, r->len) : NULL;

	if (!cJSON_IsObject(obj)) {
		cJSON_Delete(obj);
		ds_fail(error, "the answer is not a JSON object");
		return NULL;
	}
	return obj;
}

/* GETs the one named object into the caller's fresh view, as a list of at
 * most one item: 200 is the item, 404 NotFound an empty list. Returns 0 when
 * the caller took it, else -1 (logged). */
static int fetch(kube_watch *w)
{
	const kube_watch_handlers *h = &w->opt.handlers;
	kube_response r = {0};
	cJSON *obj = NULL;
	char *error = NULL;
	int rc = -1;

	if (h->list_begin && h->list_begin(h->data, &error) < 0)
		goto out;
	if (kube_get(w->getter, w->object_path, w->opt.max_list_bytes, &r, &error) < 0)
		goto abort;
	if (r.status != 200 && !(r.status == 404 && kube_status_is(&r, KUBE_REASON_NOT_FOUND))) {
		kube_status_error(&r, w->object_path, &error);
		goto abort;
	}
	if (r.status == 200 && (!(obj = object_read(&r, &error)) ||
				(h->list_item && h->list_item(h->data, obj, &error) < 0)))
		goto abort;
	if (h->list_end && h->list_end(h->data, obj ? resource_version_of(obj) : "", &error) < 0)
		goto abort;
	listed(w, NULL);
	rc = 0;
	goto out;
abort:
	if (h->list_abort)
		h->list_abort(h->data);
out:
	if (rc < 0 && !stopping(w))
		watch_log(w, KUBE_LOG_WARN, "reading %s: %s", w->what, error ? error : "out of memory");
	free(error);
	cJSON_Delete(obj);
	kube_response_free(&r);
	return rc;
}

/* The state of one watch stream. */
struct stream {
	kube_watch *w;
	unsigned long events;
};

/* on_open of a watch stream of one named object that starts at the most
 * recent resourceVersion: now that the watch is open, a GET says what the
 * object is; any change after it comes as an event. (The API server makes
 * the watch before it answers, and sends and flushes the 200's headers
 * before any event: apiserver's endpoints/handlers/watch.go,
 * WatchServer.HandleHTTP.) */
static int on_open(void *data)
{
	struct stream *s = data;

	if (fetch(s->w) < 0)
		return STREAM_UNREAD;
	s->events++; /* progress */
	return 0;
}

/* Moves the watch's start to the event's resourceVersion. */
static int advance(kube_watch *w, const kube_event *ev)
{
	char *rv;

	if (!*ev->resource_version)
		return 0;
	rv = strdup(ev->resource_version);
	if (!rv)
		return -1;
	free(w->rv);
	w->rv = rv;
	return 0;
}

/* Hands one ADDED, MODIFIED or DELETED event to the caller. Returns 0, or
 * -1 (logged) when the caller could not take it. */
static int deliver(kube_watch *w, const kube_event *ev, const cJSON *object)
{
	const kube_watch_handlers *h = &w->opt.handlers;
	char *why = NULL;

	if (!h->event || h->event(h->data, ev->type, object, &why) == 0)
		return 0;
	watch_log(w, KUBE_LOG_WARN, "watch: %s; listing again", why ? why : "an event could not be taken");
	free(why);
	return -1;
}

/* on_line of a watch stream: decodes one event and hands it on. */
static int on_line(void *data, const char *line, size_t len)
{
	struct stream *s = data;
	kube_watch *w = s->w;
	const cJSON *object;
	kube_event ev;
	char *error = NULL;
	cJSON *event = kube_event_read(line, len, &ev, &object, &error);
	int rc = 0;

	if (!event) {
		watch_log(w, KUBE_LOG_WARN, "watch: %s; listing again", error ? error : "out of memory");
		free(error);
		return STREAM_LOST;
	}
	if (ev.type == KUBE_EVENT_ERROR) {
		s->events++;
		touch(w);
		watch_log(w, ev.code == 410 ? KUBE_LOG_INFO : KUBE_LOG_WARN, "watch: ERROR %d: %s", ev.code, ev.message);
		rc = ev.code == 410 ? STREAM_GONE : STREAM_ERROR;
	} else if (ev.type != KUBE_EVENT_BOOKMARK && deliver(w, &ev, object) < 0) {
		rc = STREAM_LOST;
	} else {
		s->events++;
		touch(w);
		rc = advance(w, &ev) < 0 ? STREAM_LOST : 0;
	}
	cJSON_Delete(event);
	return rc;
}

/* The URL of a watch from the current resourceVersion, or from the most
 * recent one when there is none. Returns a new string, or NULL out of
 * memory. */
static char *watch_url(kube_watch *w)
{
	char *rv = w->rv ? curl_easy_escape(NULL, w->rv, 0) : NULL;
	char *url = rv || !w->rv ? ds_format("%s%cwatch=1&allowWatchBookmarks=true%s%s&timeoutSeconds=%u", w->path,
					     strchr(w->path, '?') ? '&' : '?', rv ? "&resourceVersion=" : "",
					     rv ? rv : "", w->opt.watch_seconds)
				 : NULL;

	curl_free(rv);
	return url;
}

static void set_watching(kube_watch *w, bool on)
{
	pthread_mutex_lock(&w->mu);
	w->stats.watching = on;
	pthread_mutex_unlock(&w->mu);
}

/* How a stream's end reads: the result of kube_stream() and its answer. */
static enum watch_end watch_outcome(kube_watch *w, int rc, const kube_response *r, const char *error)
{
	char *message = NULL;

	if (rc == STREAM_GONE || rc == STREAM_LOST)
		return WATCH_RELIST;
	if (rc == STREAM_ERROR || rc == STREAM_UNREAD)
		return WATCH_BROKEN;
	if (rc == KUBE_STREAM_TOO_LONG) {
		watch_log(w, KUBE_LOG_WARN, "watch: %s; listing again", error);
		return WATCH_RELIST;
	}
	if (rc < 0) {
		if (!stopping(w))
			watch_log(w, KUBE_LOG_WARN, "watch: %s", error ? error : "out of memory");
		return WATCH_BROKEN;
	}
	if (r->status == 200)
		return WATCH_ENDED;
	kube_status_error(r, "watch", &message);
	watch_log(w, r->status == 410 ? KUBE_LOG_INFO : KUBE_LOG_WARN, "%s", message ? message : "watch failed");
	free(message);
	return r->status == 410 ? WATCH_RELIST : WATCH_BROKEN;
}

/* Watches from w->rv until the stream ends; without w->rv, from the most
 * recent resourceVersion, reading the one named object once the stream is
 * open. Sets *progress when the object was read or at least one event
 * came. */
static enum watch_end watch(kube_watch *w, bool *progress)
{
	struct stream s = {.w = w};
	kube_response r = {0};
	char *url = watch_url(w), *error = NULL;
	enum watch_end end;
	int rc = -1;

	if (url) {
		set_watching(w, true);
		rc = kube_stream(w->client, url, w->opt.max_event_bytes, (double)w->opt.watch_seconds + 30,
				 w->rv ? NULL : on_open, on_line, &s, &r, &error);
		set_watching(w, false);
	}
	end = watch_outcome(w, rc, &r, url ? error : "out of memory");
	kube_response_free(&r);
	free(error);
	free(url);
	*progress = s.events > 0;
	return end;
}

/* The thread: list, watch, and again as the server and the network say.
 * For one named object "list" is: watch from the most recent
 * resourceVersion, and GET the object once that watch is open (watch()). */
static void *run(void *data)
{
	kube_watch *w = data;
	bool need_list = true, watched = false;

	while (!stopping(w)) {
		bool progress = false;
		enum watch_end end;

		if (need_list && w->getter) {
			free(w->rv);
			w->rv = NULL;
		} else if (need_list && relist(w) < 0) {
			w->failures++;
			backoff(w);
			continue;
		}
		need_list = false;
		if (watched) {
			pthread_mutex_lock(&w->mu);
			w->stats.watch_restarts++;
			pthread_mutex_unlock(&w->mu);
		}
		watched = true;
		end = watch(w, &progress);
		need_list = end == WATCH_RELIST;
		w->failures = progress && end != WATCH_BROKEN ? 0 : w->failures + 1;
		if (w->failures > 0)
			backoff(w);
	}
	return NULL;
}

static void set_defaults(kube_watch_options *o)
{
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

/* The collection's path, with fieldSelector=metadata.name=NAME when one
 * object is watched. Returns a new string, or NULL out of memory. */
static char *collection_path(const char *path, const char *name)
{
	char *selector, *escaped, *out;

	if (!name)
		return strdup(path);
	selector = ds_format("metadata.name=%s", name);
	escaped = selector ? curl_easy_escape(NULL, selector, 0) : NULL;
	out = escaped ? ds_format("%s?fieldSelector=%s", path, escaped) : NULL;
	curl_free(escaped);
	free(selector);
	return out;
}

/* The path of the object `name` of the collection: PATH/NAME, the name
 * escaped. Returns a new string, or NULL out of memory. */
static char *object_path(const char *path, const char *name)
{
	char *escaped = curl_easy_escape(NULL, name, 0);
	char *out = escaped ? ds_format("%s/%s", path, escaped) : NULL;

	curl_free(escaped);
	return out;
}

/* A condition on CLOCK_MONOTONIC and a mutex. */
static void init_locks(kube_watch *w)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&w->mu, NULL);
}

static void watch_free(kube_watch *w)
{
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mu);
	kube_client_free(w->client);
	kube_client_free(w->getter);
	free(w->object_path);
	free(w->path);
	free(w->what);
	free(w->rv);
	free(w);
}

kube_watch *kube_watch_start(kube_client *client, const kube_watch_options *opts, char **error)
{
	kube_watch *w;

	if (!opts->path || *opts->path != '/' || strchr(opts->path, '?') || (opts->name && !*opts->name)) {
		kube_client_free(client);
		ds_fail(error, "a list+watch needs a collection path from \"/\" without a query, and a name or none");
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		kube_client_free(client);
		ds_fail(error, "out of memory");
		return NULL;
	}
	w->client = client;
	w->opt = *opts;
	set_defaults(&w->opt);
	w->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)w;
	w->stats.since_last_event = -1;
	init_locks(w);
	w->path = collection_path(opts->path, opts->name);
	w->what = strdup(opts->what ? opts->what : opts->path);
	if (opts->name && !(w->getter = kube_client_clone(client, error))) {
		watch_free(w);
		return NULL;
	}
	if (opts->name)
		w->object_path = object_path(opts->path, opts->name);
	w->opt.path = w->opt.name = w->opt.what = NULL; /* not kept: w->path and w->what are */
	if (!w->path || !w->what || (opts->name && !w->object_path)) {
		watch_free(w);
		ds_fail(error, "out of memory");
		return NULL;
	}
	if (pthread_create(&w->thread, NULL, run, w) != 0) {
		watch_free(w);
		ds_fail(error, "cannot start the list+watch thread");
		return NULL;
	}
	return w;
}

void kube_watch_stop(kube_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
	kube_client_cancel(w->client);
	if (w->getter)
		kube_client_cancel(w->getter);
	pthread_join(w->thread, NULL);
	watch_free(w);
}

bool kube_watch_wait_synced(kube_watch *w, double seconds)
{
	struct timespec until;
	bool synced;

	kube_timespec(kube_now() + seconds, &until);
	pthread_mutex_lock(&w->mu);
	while (!w->stats.synced && pthread_cond_timedwait(&w->cond, &w->mu, &until) == 0)
		;
	synced = w->stats.synced;
	pthread_mutex_unlock(&w->mu);
	return synced;
}

void kube_watch_stats_get(kube_watch *w, kube_watch_stats *out)
{
	double now = kube_now();

	pthread_mutex_lock(&w->mu);
	*out = w->stats;
	out->since_last_event = out->last_event ? now - w->last_event_mono : -1;
	pthread_mutex_unlock(&w->mu);
}
