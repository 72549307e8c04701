/* kube.h - a Kubernetes API client (kubeconfig or in-cluster service account,
 * over libcurl with OpenSSL): requests of any verb, a list+watch of one
 * collection, and the list+watch cache of DaemonSets that gives DS003 the
 * cluster's state. For `serve` and `audit`.
 *
 * Errors: every function that can fail takes `char **error`. On failure it
 * sets *error to a newly allocated message (a kubeconfig problem reads
 * "path:line:col: key: what is wrong"); the caller frees it with free().
 *
 * Threads: a kube_client runs one request at a time (a second caller waits,
 * within its deadline); kube_client_clone() makes another for concurrent
 * callers. Any number of clients may live in any threads. A kube_watch and a
 * kube_cache run their own thread; the cache's lookup, holds, reserve and
 * stats functions may be called from any number of threads while it runs. */
#ifndef DSGUARD_KUBE_H
#define DSGUARD_KUBE_H

#include "rules/rules.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <cjson/cJSON.h>

/* Where the kubelet mounts a Pod's service account. */
#define KUBE_SERVICE_ACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* Bounds on what is read from disk and from the API server. */
#define KUBE_MAX_FILE_BYTES (4u << 20)        /* kubeconfig, token, PEM files */
#define KUBE_MAX_TOKEN_BYTES (64u << 10)      /* a bearer token */
#define KUBE_MAX_LIST_BYTES (64u << 20)       /* one page of a list (default) */
#define KUBE_MAX_EVENT_BYTES (16u << 20)      /* one watch event line (default) */

/* How to reach and authenticate to one API server. Owns every pointer in it.
 * A `_data` field holds decoded PEM bytes and wins over its file form. */
typedef struct kube_config {
	char *source;        /* the kubeconfig path or service account dir, for messages */
	char *context;       /* the kubeconfig context used; NULL in-cluster */
	char *server;        /* "https://host:port[/prefix]", no trailing slash */
	char *namespace;     /* the context's or the Pod's namespace; NULL: none given */
	char *proxy;         /* the cluster's proxy-url, or NULL */
	bool insecure;       /* insecure-skip-tls-verify: the server is not verified */
	char *ca_file;       /* certificate-authority, or the service account's ca.crt */
	unsigned char *ca_data;
	size_t ca_len;
	char *token;         /* a bearer token given inline */
	char *token_file;    /* a bearer token re-read whenever the file changes */
	char *cert_file;     /* client-certificate */
	unsigned char *cert_data;
	size_t cert_len;
	char *key_file;      /* client-key */
	unsigned char *key_data;
	size_t key_len;
} kube_config;

/* Reads the kubeconfig at `path` with libyaml and resolves `context` (NULL:
 * its current-context) to a cluster and a user. Relative file names are taken
 * from the kubeconfig's directory, as kubectl does; -data values are base64
 * decoded. Unknown keys are ignored as kubectl ignores them; exec and
 * auth-provider users, basic auth and tls-server-name are refused.
 * Returns 0 and fills cfg (released with kube_config_free()), or -1 with
 * *error set to "path:line:col: key: message" (cfg is then empty). */
int kube_config_load(const char *path, const char *context, kube_config *cfg, char **error);

/* Builds the in-cluster config from KUBERNETES_SERVICE_HOST and
 * KUBERNETES_SERVICE_PORT and the service account files in `dir` (NULL:
 * KUBE_SERVICE_ACCOUNT_DIR): token (re-read when the kubelet rotates it),
 * ca.crt and namespace. Returns 0 and fills cfg, or -1 with *error set (cfg
 * is then empty). */
int kube_config_in_cluster(const char *dir, kube_config *cfg, char **error);

/* Whether this process looks like it runs in a Pod: KUBERNETES_SERVICE_HOST
 * is set and `dir` (NULL: KUBE_SERVICE_ACCOUNT_DIR) holds a readable token.
 * For `--cluster=auto`. */
bool kube_in_cluster(const char *dir);

/* Releases what cfg owns and empties it. */
void kube_config_free(kube_config *cfg);

typedef struct kube_client kube_client;

/* A client for cfg's API server. Takes ownership of what cfg holds (cfg is
 * emptied, also on error). Checks that the token, if any, can be read now.
 * Returns the client (freed with kube_client_free()), or NULL with *error. */
kube_client *kube_client_new(kube_config *cfg, char **error);

/* Another client for the same API server and credentials, with its own
 * connection and lock, so that two threads can make requests at once (a
 * client runs one request at a time). A token file is re-read by each client
 * whenever it changes on disk; the new client starts with the last token
 * `client` read. Cancelling one client does not cancel the other. Safe while
 * `client` is making a request. Returns the new client (freed with
 * kube_client_free()), or NULL with *error set (out of memory). */
kube_client *kube_client_clone(kube_client *client, char **error);

/* The server URL the client talks to. Borrowed from the client. */
const char *kube_client_server(const kube_client *client);

/* Makes the request in flight, and every later one, fail at once with
 * "cancelled". Safe from any thread; for shutting a client down. */
void kube_client_cancel(kube_client *client);

/* Closes connections and frees the client. NULL is allowed. */
void kube_client_free(kube_client *client);

/* One answer of the API server. Owns body, which is NUL-terminated. */
typedef struct kube_response {
	long status; /* the HTTP status code */
	char *body;
	size_t len;
} kube_response;

/* The verbs of the API, as HTTP methods. */
typedef enum { KUBE_GET, KUBE_POST, KUBE_PUT, KUBE_PATCH, KUBE_DELETE } kube_method;

/* Content types of a request body ("API Concepts"; "Patch" in the API
 * reference). */
#define KUBE_JSON "application/json"
#define KUBE_JSON_PATCH "application/json-patch+json"   /* RFC 6902 operations */
#define KUBE_MERGE_PATCH "application/merge-patch+json" /* RFC 7386 merge */

/* The deadline of a request that names none, in seconds. */
#define KUBE_DEFAULT_DEADLINE 120.0
/* The longest deadline a request may name, in seconds. */
#define KUBE_MAX_DEADLINE 86400.0

/* One request to the API server. Borrows every pointer. */
typedef struct kube_request {
	kube_method method;
	const char *path;         /* from "/", query string included (escaped by the caller) */
	const char *body;         /* NULL: none */
	size_t body_len;          /* bytes of body; 0 with a body: strlen(body) */
	const char *content_type; /* of the body; NULL: KUBE_JSON */
	size_t max_bytes;         /* bound on the answer's body; 0: KUBE_MAX_LIST_BYTES */
	double deadline;          /* seconds the whole call may take, the wait for a busy
				   * client included; 0: KUBE_DEFAULT_DEADLINE */
} kube_request;

/* Makes one request: the method, the path on the client's server, the body
 * with its Content-Type, the bearer token (the token file re-read when it
 * changed) or client certificate, TLS 1.2 or later, the proxy. Returns 0
 * with *out filled (any HTTP status; a Status body is read with
 * kube_status_read(); release with kube_response_free()), or -1 with *error
 * set when no complete answer came: connection or TLS failure, the deadline
 * passed ("... no complete answer within 2 s"), a body over max_bytes,
 * cancelled, a deadline out of range (not in (0, KUBE_MAX_DEADLINE]). *out is
 * then empty, and the request may or may not have been carried out. A POST or
 * PATCH is sent once, on a new connection; other verbs may be sent a second
 * time by libcurl when a reused connection turns out dead before any answer,
 * as HTTP allows for idempotent methods. */
int kube_call(kube_client *client, const kube_request *req, kube_response *out, char **error);

/* GETs `path` (from "/", query string included) from the API server, reading
 * at most max_bytes of body (0: KUBE_MAX_LIST_BYTES), within
 * KUBE_DEFAULT_DEADLINE: kube_call() with a GET. Returns 0 with *out filled
 * (any HTTP status; release with kube_response_free()), or -1 with *error
 * set when no complete answer came (connection, TLS, timeout, a body over the
 * bound, cancelled). */
int kube_get(kube_client *client, const char *path, size_t max_bytes, kube_response *out,
	     char **error);

/* Releases what r owns and empties it. */
void kube_response_free(kube_response *r);

/* Reasons of a failure Status (apimachinery's metav1.StatusReason), for
 * kube_status_is(). */
#define KUBE_REASON_NOT_FOUND "NotFound"           /* 404 */
#define KUBE_REASON_ALREADY_EXISTS "AlreadyExists" /* 409 on create */
#define KUBE_REASON_CONFLICT "Conflict"            /* 409: a stale resourceVersion */
#define KUBE_REASON_INVALID "Invalid"              /* 422 */
#define KUBE_REASON_BAD_REQUEST "BadRequest"       /* 400 */
#define KUBE_REASON_EXPIRED "Expired"              /* 410: a resourceVersion too old */

/* What a Status body says (the body of every failure, and of some DELETEs).
 * The strings are cut to fit, at a character boundary. */
typedef struct kube_status {
	long code;          /* the Status's code; the HTTP status when it has none */
	char status[16];    /* "Failure" or "Success"; "" when absent */
	char reason[64];    /* a KUBE_REASON_*, or another reason; "" when absent */
	char message[512];  /* "" when absent */
} kube_status;

/* Reads r's body as a metav1.Status (kind "Status"). Returns true when it is
 * one. *out is filled either way: code is the Status's code (else r's HTTP
 * status), and status, reason and message are read from any JSON object
 * ("" when absent or not JSON). */
bool kube_status_read(const kube_response *r, kube_status *out);

/* Whether r's body is a Status whose reason is `reason` (a KUBE_REASON_*),
 * e.g. a POST answered 409 AlreadyExists, a PUT answered 409 Conflict. An
 * empty reason never matches. */
bool kube_status_is(const kube_response *r, const char *reason);

/* Sets *error to a message for a non-2xx answer, naming `what` (a path, or
 * what was being done): "what: HTTP 409: <the Status message> (reason
 * AlreadyExists)"; the reason is left out when the Status has none or its
 * message is the reason itself, the message when there is none. Returns -1. */
int kube_status_error(const kube_response *r, const char *what, char **error);

/* Lists every DaemonSet of the cluster (GET /apis/apps/v1/daemonsets, in
 * pages of 500 joined with `continue`). Each item gets the kind and
 * apiVersion a list leaves out, so it reads as a manifest would. Returns a new
 * cJSON array the caller deletes, or NULL with *error set (an HTTP error
 * names its status and the Status message). */
cJSON *kube_list_daemonsets(kube_client *client, char **error);

/* INFO: a list completed, the server said 410 Gone. WARN: a request or an
 * event failed (the list+watch retries by itself). */
typedef enum { KUBE_LOG_INFO, KUBE_LOG_WARN } kube_log_level;

/* Receives the log lines of a list+watch or a cache (called from its
 * thread). */
typedef void (*kube_log_fn)(void *data, kube_log_level level, const char *message);

/* ---- list+watch of one collection ---- */

/* The types of watch events ("API Concepts", "Efficient detection of
 * changes"). */
typedef enum {
	KUBE_EVENT_ADDED,
	KUBE_EVENT_MODIFIED,
	KUBE_EVENT_DELETED,
	KUBE_EVENT_BOOKMARK,
	KUBE_EVENT_ERROR
} kube_event_type;

/* "ADDED", "MODIFIED", ...: the type as the stream spells it. A static
 * string. */
const char *kube_event_type_name(kube_event_type type);

/* What a list+watch hands its caller, from its own thread, one call at a
 * time. Objects are borrowed for the call only. A handler that fails returns
 * -1 and may set *error to a new message (the list+watch logs it and frees
 * it). Any handler may be NULL. */
typedef struct kube_watch_handlers {
	/* A list begins: the items that follow make a fresh view. */
	int (*list_begin)(void *data, char **error);
	/* One item of the list. Items of built-in kinds carry no kind or
	 * apiVersion, as the API server lists them. -1 abandons the list. */
	int (*list_item)(void *data, const cJSON *item, char **error);
	/* Every item has been given: the fresh view replaces the old one.
	 * resource_version (borrowed) is where the watch starts. -1 abandons
	 * the list. */
	int (*list_end)(void *data, const char *resource_version, char **error);
	/* The list in progress failed or was abandoned: drop the fresh view. */
	void (*list_abort)(void *data);
	/* An ADDED, MODIFIED or DELETED event and its object (a DELETED object
	 * is the last state of the object). -1 makes the list+watch list again,
	 * since the view may now miss a change. */
	int (*event)(void *data, kube_event_type type, const cJSON *object, char **error);
	void *data; /* passed to every handler */
} kube_watch_handlers;

/* How a list+watch runs. Zero values take the defaults given. */
typedef struct kube_watch_options {
	const char *path;        /* the collection, from "/", without query (copied), e.g.
				  * "/apis/coordination.k8s.io/v1/namespaces/NS/leases" */
	const char *name;        /* NULL: every object of the collection; else only the
				  * object of this name, followed with GET and watch alone
				  * (see kube_watch_start()) */
	const char *what;        /* what log lines call the objects ("listing Leases: ...");
				  * NULL: the path */
	double backoff_initial;  /* first retry delay; 0.5 s */
	double backoff_max;      /* cap of the doubling delay (jitter below it); 30 s */
	unsigned watch_seconds;  /* timeoutSeconds asked for each watch; 300 */
	unsigned page_limit;     /* limit of each list page; 500 */
	size_t max_list_bytes;   /* bound of one list page (of the GET of the one
				  * object); KUBE_MAX_LIST_BYTES */
	size_t max_event_bytes;  /* bound of one watch event line; KUBE_MAX_EVENT_BYTES */
	kube_log_fn log;         /* NULL: silent */
	void *log_data;
	kube_watch_handlers handlers;
} kube_watch_options;

/* What a list+watch knows about itself. */
typedef struct kube_watch_stats {
	bool synced;             /* a full list (or the GET of the one object) has been
				  * read (stays true after) */
	bool watching;           /* a watch stream is open now */
	unsigned long lists;     /* complete lists (GETs of the one object) read, the
				  * first included */
	unsigned long relists;   /* those after the first (410 Gone, lost events; for
				  * one object also a watch that ended before any event) */
	unsigned long watch_restarts; /* watches opened after the first */
	time_t last_event;       /* wall clock of the last list or watch event; 0: none */
	double since_last_event; /* seconds since then (monotonic); -1: none yet */
} kube_watch_stats;

typedef struct kube_watch kube_watch;

/* Starts a thread that lists the collection (in pages joined with
 * `continue`), hands each item to the handlers, then watches from the list's
 * resourceVersion (allowWatchBookmarks=true) and hands on each event; when a
 * watch ends it watches again from the last resourceVersion seen; on 410 Gone
 * (as the HTTP status or an ERROR event), an event it cannot read (malformed,
 * over max_event_bytes) or a handler's -1 it lists again; after an attempt
 * that made no progress it waits (exponential backoff with jitter).
 * With opts->name it never lists (RBAC limited by resourceNames grants no
 * list of a collection): it watches with fieldSelector=metadata.name=NAME
 * from the most recent resourceVersion (no resourceVersion: "API Concepts",
 * "Semantics for watch") and, once that watch is open, GETs the object and
 * hands it to the handlers as a list of one item (404 NotFound: of none,
 * resource_version ""); a change after the GET comes as an event (so a
 * deletion while the watch was on its way is not missed), a change between
 * the watch's start and the GET may come again as an event after it. Where
 * it would list again, it does that watch and GET again; a watch that ends
 * after events resumes from the last resourceVersion seen. Takes
 * ownership of client (freed by kube_watch_stop(), also when this fails).
 * Copies what opts points to but the handlers' data. Returns the running
 * list+watch, or NULL with *error set (no path, out of memory, no thread). */
kube_watch *kube_watch_start(kube_client *client, const kube_watch_options *opts, char **error);

/* Stops the thread (a request in progress is cancelled at once), joins it
 * and frees the list+watch and its client. No handler runs after it returns.
 * NULL is allowed. */
void kube_watch_stop(kube_watch *w);

/* Waits up to `seconds` for the first complete list. Returns whether the
 * list+watch is synced. */
bool kube_watch_wait_synced(kube_watch *w, double seconds);

/* Fills *out with the list+watch's state now. */
void kube_watch_stats_get(kube_watch *w, kube_watch_stats *out);

/* ---- the DaemonSet cache ---- */

/* Bounds of what a cache keeps of one DaemonSet's fields (see
 * kube_cache_options.keep): a longer string is cut on a character boundary
 * (ending "..."), a larger mapping or list keeps its first members. */
#define KUBE_MAX_KEPT_STRING 1024
#define KUBE_MAX_KEPT_MEMBERS 64

/* Told from the cache's thread once its view has changed: ns is the
 * namespace of a DaemonSet just ADDED, MODIFIED or DELETED, or NULL when a
 * list replaced the whole view. It must not call into the cache. */
typedef void (*kube_cache_changed_fn)(void *data, const char *ns);

/* How a cache runs. Zero values take the defaults given. */
typedef struct kube_cache_options {
	/* What is kept of each DaemonSet besides its namespace and name: its
	 * fields at these JSON Pointers (object paths, e.g.
	 * "/spec/template/spec/restartPolicy"), bounded as above, a few
	 * hundred bytes of JSON text each (kube_cache_snapshot()). Copied.
	 * NULL: nothing more. */
	const char *const *keep;
	size_t keep_count;
	double reserve_seconds;  /* how long a reservation holds; 30 */
	double backoff_initial;  /* first reconnect delay; 0.5 s */
	double backoff_max;      /* cap of the doubling delay (jitter below it); 30 s */
	unsigned watch_seconds;  /* timeoutSeconds asked for each watch; 300 */
	unsigned page_limit;     /* limit of each list page; 500 */
	size_t max_list_bytes;   /* bound of one list page; KUBE_MAX_LIST_BYTES */
	size_t max_event_bytes;  /* bound of one watch event line; KUBE_MAX_EVENT_BYTES */
	kube_log_fn log;         /* NULL: silent */
	void *log_data;
	/* Called from the cache's thread after a DELETED event has been
	 * applied, with the DaemonSet's namespace and name (borrowed for the
	 * call); it must not block. NULL: nothing is called. */
	void (*deleted)(void *data, const char *ns, const char *name);
	void *deleted_data;
} kube_cache_options;

/* What a cache knows about itself, for /readyz and /metrics. */
typedef struct kube_cache_stats {
	size_t objects;          /* DaemonSets in the index */
	size_t namespaces;       /* namespaces holding at least one */
	size_t reservations;     /* admitted creations not yet seen by the watch */
	kube_watch_stats watch;  /* its list+watch */
} kube_cache_stats;

typedef struct kube_cache kube_cache;

/* Starts the cache: a list+watch (kube_watch_start()) of every DaemonSet
 * into the namespace index. Takes ownership of client (freed by
 * kube_cache_stop(), also when this fails). opts may be NULL. Returns the
 * running cache, or NULL with *error set. */
kube_cache *kube_cache_start(kube_client *client, const kube_cache_options *opts, char **error);

/* Stops the thread (an open request is cancelled at once), joins it and
 * frees the cache and its client. NULL is allowed. */
void kube_cache_stop(kube_cache *cache);

/* Waits up to `seconds` for the first complete list. Returns whether the
 * cache is synced. */
bool kube_cache_wait_synced(kube_cache *cache, double seconds);

/* The DS003 lookup backed by the cache: another DaemonSet of the namespace
 * from the index (the first by name), else a reservation not yet expired.
 * Valid until kube_cache_stop(). Before the first sync it answers
 * DS_NAMESPACE_UNKNOWN (the caller applies --on-unsynced). */
ds_namespace_lookup kube_cache_lookup(kube_cache *cache);

/* Whether the index holds the DaemonSet ns/name now (listed or watched;
 * reservations do not count). */
bool kube_cache_holds(kube_cache *cache, const char *ns, const char *name);

/* Records that the DaemonSet ns/name has just been admitted, so that lookups
 * see it until the watch reports it or the reservation expires. Checks and
 * records under one lock: when another DaemonSet (in the index or reserved)
 * already holds ns, nothing is recorded and *other is set to its name (the
 * caller frees it); else *other is NULL. Returns 0, or -1 out of memory. */
int kube_cache_reserve(kube_cache *cache, const char *ns, const char *name, char **other);

/* Fills *out with the cache's state now. */
void kube_cache_stats_get(kube_cache *cache, kube_cache_stats *out);

/* Makes the cache call fn(data, ...) after each change of its view (fn
 * NULL: no more calls; once this returns, the previous fn is not running
 * and will not run). One subscriber at a time. */
void kube_cache_subscribe(kube_cache *cache, kube_cache_changed_fn fn, void *data);

/* One DaemonSet as the cache keeps it. Borrowed from its snapshot. */
typedef struct kube_record {
	const char *ns, *name;
	/* JSON text of an object holding apiVersion "apps/v1", kind
	 * "DaemonSet" and the fields at kube_cache_options.keep. */
	const char *record;
} kube_record;

/* A copy of some of the cache's DaemonSets, taken at one moment, sorted by
 * namespace and name (byte order). Owns everything it points to. */
typedef struct kube_snapshot {
	kube_record *records;
	size_t count;
	char *text; /* where the records' strings are */
} kube_snapshot;

/* Copies the DaemonSets of namespace ns (NULL: every namespace) into out,
 * under the cache's lock for as long as the copy takes (a memory copy, no
 * parsing). Before the first sync it is empty. Returns 0, or -1 out of
 * memory (out is then empty). */
int kube_cache_snapshot(kube_cache *cache, const char *ns, kube_snapshot *out);

/* Releases what s owns and empties it. */
void kube_snapshot_free(kube_snapshot *s);

/* ---- leader election ---- */

/* How a process takes part in electing one leader among its replicas, with
 * a coordination.k8s.io/v1 Lease (docs/audit.md). Zero values take the
 * defaults given (those of client-go's leaderelection). */
typedef struct kube_lease_options {
	const char *namespace;  /* where the Lease lives */
	const char *name;       /* the Lease's name */
	const char *identity;   /* this process's holderIdentity, unique among the replicas */
	double duration;        /* leaseDurationSeconds: how long a holder's renewal counts; 15 */
	double renew_deadline;  /* a holder that could not renew for this long stops leading; 10 */
	double retry_period;    /* between two attempts, and each request's deadline; 2 */
	kube_log_fn log;        /* NULL: silent */
	void *log_data;
} kube_lease_options;

typedef struct kube_lease kube_lease;

/* Starts a thread that every retry period reads the Lease and, as client-go
 * does, creates it when absent, renews it when this process holds it, takes
 * it when its holder let it lapse (no renewal seen for leaseDurationSeconds)
 * or released it, and else leaves it alone. MicroTimes are written with six
 * fractional digits. Takes ownership of client (freed by kube_lease_stop(),
 * also when this fails). Copies the strings of opts. Returns the running
 * election, or NULL with *error set (a missing namespace, name or
 * identity; renew_deadline + retry_period not below duration; out of
 * memory; no thread). */
kube_lease *kube_lease_start(kube_client *client, const kube_lease_options *opts, char **error);

/* Whether this process leads now: it holds the Lease and renewed it less
 * than renew_deadline ago. Any thread. */
bool kube_lease_held(kube_lease *lease);

/* Stops the thread, releases the Lease when this process holds it (the
 * holder emptied, so that another replica takes it at its next attempt)
 * and frees the election and its client. NULL is allowed. */
void kube_lease_stop(kube_lease *lease);

#endif
