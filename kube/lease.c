/* lease.c - leader election with a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it. */
#include "kube/private.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define LEASES_PATH "/apis/coordination.k8s.io/v1/namespaces/%s/leases"

struct kube_lease {
	kube_client *client;
	char *path;      /* of the Lease object */
	char *ns, *name, *identity;
	double duration, renew_deadline, retry_period;
	kube_log_fn log;
	void *log_data;
	pthread_t thread;

	pthread_mutex_t mu; /* guards stop, leading, renewed */
	pthread_cond_t cond;
	bool stop;
	bool leading;
	double renewed;     /* monotonic time of the last successful write as holder */

	/* The thread's own: what the Lease looked like, and since when. */
	char *seen;         /* holderIdentity, renewTime and resourceVersion last read */
	double seen_at;     /* monotonic time they were first read so */
	double lapses_at;   /* monotonic time another holder's Lease lapses; 0: none */
	long transitions;
};

static void lease_log(kube_lease *l, kube_log_level level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void lease_log(kube_lease *l, kube_log_level level, const char *fmt, ...)
{
	char *message;
	va_list ap;

	if (!l->log)
		return;
	va_start(ap, fmt);
	message = ds_vformat(fmt, ap);
	va_end(ap);
	l->log(l->log_data, level, message ? message : "out of memory");
	free(message);
}

/* Now as a MicroTime: RFC 3339 in UTC with exactly six fractional digits
 * (metav1.MicroTime, "2006-01-02T15:04:05.000000Z07:00"), into buf. */
static const char *micro_time(char *buf, size_t size)
{
	struct timeval tv;
	struct tm tm;
	char base[32];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%06ldZ", base, (long)tv.tv_usec);
	return buf;
}

/* Reads an RFC 3339 time ("2024-01-02T03:04:05[.frac](Z|+hh:mm)") as Unix
 * seconds. Returns 0, or -1 when it is not one. */
static int parse_time(const char *text, double *out)
{
	struct tm tm = {0};
	char frac[16] = "", zone[8] = "";
	int n = 0, hh = 0, mm = 0;
	double seconds;

	if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec, &n) != 6)
		return -1;
	text += n;
	if (*text == '.' && sscanf(text, ".%15[0-9]%n", frac, &n) == 1)
		text += n;
	if (sscanf(text, "%7s", zone) != 1 ||
	    (strcmp(zone, "Z") && sscanf(zone + 1, "%2d:%2d", &hh, &mm) != 2) || (zone[0] != 'Z' && zone[0] != '+' &&
										zone[0] != '-'))
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	seconds = (double)timegm(&tm);
	if (frac[0]) {
		char fraction[20] = "0.";
		strncat(fraction, frac, sizeof(fraction) - 3);
		seconds += strtod(fraction, NULL);
	}
	if (zone[0] != 'Z')
		seconds -= (zone[0] == '-' ? -1 : 1) * (hh * 3600.0 + mm * 60.0);
	*out = seconds;
	return 0;
}

/* Sets whether this process leads, and says so when that changes. */
static void set_leading(kube_lease *l, bool leading, double renewed)
{
	bool was;

	pthread_mutex_lock(&l->mu);
	was = l->leading;
	l->leading = leading;
	if (leading)
		l->renewed = renewed;
	pthread_mutex_unlock(&l->mu);
	if (was == leading)
		return;
	lease_log(l, KUBE_LOG_INFO, leading ? "Lease %s/%s: %s is the leader now" : "Lease %s/%s: %s leads no more",
		  l->ns, l->name, l->identity);
}

/* A Lease object holding l as its holder (holder NULL: released), with the
 * stored one's resourceVersion (rv NULL: a new object). Returns its JSON
 * text (cJSON_free() it), or NULL out of memory. */
static char *lease_body(kube_lease *l, const char *holder, const char *rv, const char *acquired, long transitions,
			int duration)
{
	cJSON *obj = cJSON_CreateObject(), *meta, *spec;
	char now[40], *text = NULL;

	micro_time(now, sizeof(now));
	meta = cJSON_AddObjectToObject(obj, "metadata");
	spec = cJSON_AddObjectToObject(obj, "spec");
	if (cJSON_AddStringToObject(obj, "apiVersion", "coordination.k8s.io/v1") &&
	    cJSON_AddStringToObject(obj, "kind", "Lease") && meta && spec &&
	    cJSON_AddStringToObject(meta, "name", l->name) && cJSON_AddStringToObject(meta, "namespace", l->ns) &&
	    (!rv || cJSON_AddStringToObject(meta, "resourceVersion", rv)) &&
	    cJSON_AddStringToObject(spec, "holderIdentity", holder ? holder : "") &&
	    cJSON_AddNumberToObject(spec, "leaseDurationSeconds", duration) &&
	    cJSON_AddStringToObject(spec, "acquireTime", acquired ? acquired : now) &&
	    cJSON_AddStringToObject(spec, "renewTime", now) &&
	    cJSON_AddNumberToObject(spec, "leaseTransitions", (double)transitions))
		text = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	return text;
}

/* Sends a Lease: POST of a new one (rv NULL) or PUT over the stored one.
 * Returns the HTTP status, or -1 when no answer came (logged). */
static long send_lease(kube_lease *l, const char *rv, const char *holder, const char *acquired, long transitions,
		       int duration)
{
	char *body = lease_body(l, holder, rv, acquired, transitions, duration), *error = NULL;
	char *collection = rv ? NULL : strndup(l->path, (size_t)(strrchr(l->path, '/') - l->path));
	kube_request req = {.method = rv ? KUBE_PUT : KUBE_POST, .path = rv ? l->path : collection, .body = body,
			    .deadline = l->retry_period, .max_bytes = 1u << 20};
	kube_response r = {0};
	long status = -1;

	if (body && (rv || collection) && kube_call(l->client, &req, &r, &error) == 0)
		status = r.status;
	else if (body)
		lease_log(l, KUBE_LOG_WARN, "Lease %s/%s: %s", l->ns, l->name, error ? error : "out of memory");
	if (status >= 300 && status != 409) {
		kube_status_error(&r, l->path, &error);
		lease_log(l, KUBE_LOG_WARN, "Lease %s/%s: %s", l->ns, l->name, error ? error : "write failed");
	}
	kube_response_free(&r);
	free(error);
	free(collection);
	cJSON_free(body);
	return status;
}

/* What a stored Lease says. Borrowed from its parsed body. */
struct record {
	const char *holder, *renew, *acquired, *rv;
	long transitions;
	int duration;
};

static const char *string_at(const cJSON *obj, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

static void read_record(const cJSON *lease, struct record *rec)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(lease, "spec");
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(lease, "metadata");
	const cJSON *transitions = cJSON_GetObjectItemCaseSensitive(spec, "leaseTransitions");
	const cJSON *duration = cJSON_GetObjectItemCaseSensitive(spec, "leaseDurationSeconds");

	rec->holder = string_at(spec, "holderIdentity");
	rec->renew = string_at(spec, "renewTime");
	rec->acquired = string_at(spec, "acquireTime");
	rec->rv = string_at(meta, "resourceVersion");
	rec->transitions = cJSON_IsNumber(transitions) && transitions->valuedouble >= 0 &&
				   transitions->valuedouble < 1e9 ? (long)transitions->valuedouble : 0;
	rec->duration = cJSON_IsNumber(duration) && duration->valuedouble > 0 && duration->valuedouble < 86400
				? (int)duration->valuedouble : 0;
}

/* Notes the record as seen now when it differs from the last one seen (a
 * renewal, a new holder). Returns when it was first seen so (monotonic). */
static double observe(kube_lease *l, const struct record *rec, double now)
{
	char *seen = ds_format("%s\n%s\n%s", rec->holder ? rec->holder : "", rec->renew ? rec->renew : "",
			       rec->rv ? rec->rv : "");

	if (!seen || (l->seen && !strcmp(seen, l->seen))) {
		free(seen);
		return l->seen ? l->seen_at : now;
	}
	free(l->seen);
	l->seen = seen;
	l->seen_at = now;
	return now;
}

/* When the record's holder lets it lapse (monotonic). Expiry runs from
 * when this process first saw the current renewal, as client-go counts it
 * (no clock of another machine is trusted), except that a renewTime no
 * older than one retry period before that is taken as the renewal's time:
 * the record may have been read up to a retry period after it was
 * written. */
static double lapses_at(kube_lease *l, const struct record *rec, double seen_at, double now)
{
	double renewed_at = seen_at, renew_wall, duration = rec->duration ? rec->duration : l->duration;
	struct timespec wall;

	clock_gettime(CLOCK_REALTIME, &wall);
	if (rec->renew && parse_time(rec->renew, &renew_wall) == 0) {
		/* the renewal's time on the monotonic clock, if clocks agree */
		double at = now - ((double)wall.tv_sec + (double)wall.tv_nsec / 1e9 - renew_wall);
		if (at < seen_at && at >= seen_at - l->retry_period)
			renewed_at = at;
	}
	return renewed_at + duration;
}

/* What an attempt found. */
enum outcome {
	HOLDS = 1,    /* this process holds the Lease (renewed or taken) */
	OTHER = 0,    /* another holds it and it has not lapsed */
	FAILED = -1   /* no answer, an error or a lost race: try again */
};

/* One attempt: reads the Lease, then renews it (held), takes it (absent,
 * released or lapsed) or leaves it to its holder. */
static enum outcome attempt(kube_lease *l)
{
	kube_response r = {0};
	kube_request req = {.method = KUBE_GET, .path = l->path, .deadline = l->retry_period, .max_bytes = 1u << 20};
	char *error = NULL;
	double now = kube_now();
	cJSON *lease = NULL;
	struct record rec = {0};
	long status;
	bool mine;

	if (kube_call(l->client, &req, &r, &error) < 0) {
		lease_log(l, KUBE_LOG_WARN, "Lease %s/%s: %s", l->ns, l->name, error ? error : "out of memory");
		free(error);
		return FAILED;
	}
	if (r.status == 404) {
		kube_response_free(&r);
		status = send_lease(l, NULL, l->identity, NULL, 0, (int)l->duration);
		return status == 201 || status == 200 ? HOLDS : FAILED;
	}
	if (r.status != 200 || !(lease = cJSON_ParseWithLength(r.body, r.len))) {
		kube_status_error(&r, l->path, &error);
		lease_log(l, KUBE_LOG_WARN, "Lease %s/%s: %s", l->ns, l->name, error ? error : "unreadable answer");
		free(error);
		kube_response_free(&r);
		return FAILED;
	}
	kube_response_free(&r);
	read_record(lease, &rec);
	mine = rec.holder && !strcmp(rec.holder, l->identity);
	l->lapses_at = 0;
	if (!mine && rec.holder && *rec.holder && rec.rv) {
		double lapses = lapses_at(l, &rec, observe(l, &rec, now), now);
		if (now < lapses) {
			l->lapses_at = lapses;
			cJSON_Delete(lease);
			return OTHER;
		}
	}
	status = rec.rv ? send_lease(l, rec.rv, l->identity, mine ? rec.acquired : NULL,
				     mine ? rec.transitions : rec.transitions + 1, (int)l->duration)
			: -1;
	cJSON_Delete(lease);
	return status == 200 || status == 201 ? HOLDS : FAILED;
}

/* Waits `seconds`, or less when stopped. Returns whether to go on. */
static bool pause_for(kube_lease *l, double seconds)
{
	struct timespec until;
	bool go_on;

	kube_timespec(kube_now() + seconds, &until);
	pthread_mutex_lock(&l->mu);
	while (!l->stop && pthread_cond_timedwait(&l->cond, &l->mu, &until) == 0)
		;
	go_on = !l->stop;
	pthread_mutex_unlock(&l->mu);
	return go_on;
}

static void *run(void *data)
{
	kube_lease *l = data;
	double wait;

	do {
		double started = kube_now();
		enum outcome got = attempt(l);

		/* a renewal counts from when it was sent; a holder that cannot
		 * renew leads until its renew deadline, which ends before any
		 * other process may take the Lease */
		if (got == HOLDS)
			set_leading(l, true, started);
		else if (got == OTHER || !kube_lease_held(l))
			set_leading(l, false, 0);
		/* a standby tries again at once when the holder's Lease lapses */
		wait = l->retry_period;
		if (got == OTHER && l->lapses_at - kube_now() < wait)
			wait = l->lapses_at - kube_now() > 0.001 ? l->lapses_at - kube_now() : 0.001;
	} while (pause_for(l, wait));
	return NULL;
}

/* Gives the Lease up when this process holds it, so that another takes it
 * at once: holderIdentity empty and a lease of one second, as client-go's
 * ReleaseOnCancel leaves it. */
static void release(kube_lease *l)
{
	kube_response r = {0};
	kube_request req = {.method = KUBE_GET, .path = l->path, .deadline = l->retry_period, .max_bytes = 1u << 20};
	struct record rec = {0};
	cJSON *lease = NULL;
	char *error = NULL;

	if (kube_call(l->client, &req, &r, &error) == 0 && r.status == 200)
		lease = cJSON_ParseWithLength(r.body, r.len);
	kube_response_free(&r);
	free(error);
	read_record(lease, &rec);
	if (rec.holder && !strcmp(rec.holder, l->identity) && rec.rv &&
	    send_lease(l, rec.rv, NULL, rec.acquired, rec.transitions, 1) == 200)
		lease_log(l, KUBE_LOG_INFO, "Lease %s/%s: released", l->ns, l->name);
	cJSON_Delete(lease);
}

static void lease_free(kube_lease *l)
{
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->mu);
	kube_client_free(l->client);
	free(l->path);
	free(l->ns);
	free(l->name);
	free(l->identity);
	free(l->seen);
	free(l);
}

/* The Lease's path, its namespace and name escaped. Returns a new string,
 * or NULL out of memory. */
static char *lease_path(const char *ns, const char *name)
{
	char *ens = curl_easy_escape(NULL, ns, 0), *ename = curl_easy_escape(NULL, name, 0);
	char *path = ens && ename ? ds_format(LEASES_PATH "/%s", ens, ename) : NULL;

	curl_free(ens);
	curl_free(ename);
	return path;
}

kube_lease *kube_lease_start(kube_client *client, const kube_lease_options *opts, char **error)
{
	kube_lease *l = calloc(1, sizeof(*l));
	pthread_condattr_t ca;

	if (!l) {
		kube_client_free(client);
		ds_fail(error, "out of memory");
		return NULL;
	}
	l->client = client;
	l->duration = opts->duration > 0 ? opts->duration : 15;
	l->renew_deadline = opts->renew_deadline > 0 ? opts->renew_deadline : 10;
	l->retry_period = opts->retry_period > 0 ? opts->retry_period : 2;
	l->log = opts->log;
	l->log_data = opts->log_data;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&l->mu, NULL);
	if (!opts->namespace || !*opts->namespace || !opts->name || !*opts->name || !opts->identity ||
	    !*opts->identity || l->renew_deadline + l->retry_period >= l->duration) {
		lease_free(l);
		ds_fail(error, "a Lease needs a namespace, a name, an identity, and a renew deadline that ends a retry "
			       "period before the lease duration");
		return NULL;
	}
	l->ns = strdup(opts->namespace);
	l->name = strdup(opts->name);
	l->identity = strdup(opts->identity);
	l->path = l->ns && l->name ? lease_path(l->ns, l->name) : NULL;
	if (!l->identity || !l->path) {
		lease_free(l);
		ds_fail(error, "out of memory");
		return NULL;
	}
	if (pthread_create(&l->thread, NULL, run, l) != 0) {
		lease_free(l);
		ds_fail(error, "cannot start the leader election thread");
		return NULL;
	}
	return l;
}

bool kube_lease_held(kube_lease *lease)
{
	bool held;

	pthread_mutex_lock(&lease->mu);
	held = lease->leading && kube_now() - lease->renewed < lease->renew_deadline;
	pthread_mutex_unlock(&lease->mu);
	return held;
}

void kube_lease_stop(kube_lease *lease)
{
	if (!lease)
		return;
	pthread_mutex_lock(&lease->mu);
	lease->stop = true;
	pthread_cond_broadcast(&lease->cond);
	pthread_mutex_unlock(&lease->mu);
	pthread_join(lease->thread, NULL);
	if (kube_lease_held(lease)) {
		set_leading(lease, false, 0);
		release(lease);
	}
	lease_free(lease);
}
