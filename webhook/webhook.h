/* webhook.h - the admission webhook: the AdmissionReview codec shared by
 * `serve` and `review`, the log, and the HTTPS server with its metrics. */
#ifndef DSGUARD_WEBHOOK_H
#define DSGUARD_WEBHOOK_H

#include "kube/kube.h"
#include "rules/rules.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- The AdmissionReview codec: request bytes in, response JSON out. ---- */

/* Which answer a review gives: /validate or /mutate. */
typedef enum { DS_REVIEW_VALIDATE = 0, DS_REVIEW_MUTATE } ds_review_mode;

/* request.operation of an AdmissionReview; DS_OP_NONE when unknown. */
typedef enum { DS_OP_NONE = 0, DS_OP_CREATE, DS_OP_UPDATE, DS_OP_DELETE, DS_OP_CONNECT, DS_OP_COUNT } ds_operation;

/* The largest body a review accepts by default (8 MiB). */
#define DS_REVIEW_MAX_BODY (8u << 20)

/* What the API server's checks allow in response.warnings: each under 256
 * characters, 4096 in all. */
#define DS_WARNING_MAX 255
#define DS_WARNINGS_TOTAL_MAX 4096

/* What a CREATE being admitted asks to hold: its namespace, for the
 * DaemonSet it names. Borrows every string. */
typedef struct ds_claim_request {
	const char *ns;
	const char *name;          /* metadata.name; NULL or "" while generateName has yet to make it */
	const char *generate_name; /* metadata.generateName; NULL when absent */
	const char *uid;           /* request.uid (the API server makes one per webhook call) */
	ds_review_mode mode;       /* /mutate runs before the name is generated, /validate after */
} ds_claim_request;

/* Namespace claims in the API server (--claims cluster, webhook/claims.c). */
typedef struct ds_claims ds_claims;

/* Cluster state for DS003, as a review asks it: who else lives in a
 * namespace, whether that answer is complete yet, and a way to hold a
 * namespace for a CREATE being admitted. ds_cluster_from_cache() makes one
 * over the cluster cache; tests make their own. */
typedef struct ds_cluster {
	ds_namespace_lookup namespaces;
	/* Whether the cluster's DaemonSets have been listed (the lookup is
	 * complete). */
	bool (*synced)(void *data);
	/* Holds req->ns for the DaemonSet being admitted, unless another
	 * DaemonSet holds it already: then nothing is held and *other is set to
	 * that one's name (the caller frees it). Returns 0 when decided (*other
	 * NULL: the namespace is held for this DaemonSet), 1 when it could not
	 * be told (the API server failed or was too slow; the cause is logged),
	 * -1 out of memory. */
	int (*reserve)(void *data, const ds_claim_request *req, char **other);
	void *data;
	bool deny_unsynced; /* --on-unsynced deny: DS003 denies while it cannot be checked */
} ds_cluster;

/* The cluster state of the cluster cache, whose namespaces are held by
 * claims in the API server when `claims` is not NULL and by reservations in
 * the cache (this process alone) when it is. Both are borrowed: they must
 * outlive every review that uses the result. */
ds_cluster ds_cluster_from_cache(kube_cache *cache, ds_claims *claims, bool deny_unsynced);

/* The outcome of one review. `body` is what goes back over HTTP: the
 * AdmissionReview response (status 200) or {"code":..,"message":..} (400
 * for a malformed request, 500 when memory ran out). The other fields are
 * for the log and the metrics, never object contents. Owns every string. */
typedef struct ds_review_result {
	int status;
	char *body;
	char *error; /* why the request was refused (status != 200), else NULL */
	char *uid, *kind, *namespace, *name; /* NULL when absent */
	ds_operation operation;
	bool daemonset; /* a DaemonSet was evaluated */
	bool allowed;
	bool patched;
	bool dry_run;
	bool unsynced;   /* DS003 applied but could not be checked (cache not synced) */
	bool reserved;   /* the namespace was reserved (or claimed) for this CREATE */
	bool unclaimed;  /* DS003 applied but the namespace claim could not be made */
	unsigned findings[DS_RULE_COUNT]; /* non-exempt findings, by rule */
	unsigned exempted[DS_RULE_COUNT]; /* exempted findings, by rule */
	unsigned exempted_by_config[DS_RULE_COUNT]; /* those of them a config exemption exempted */
	unsigned expired[DS_RULE_COUNT];  /* findings an expired config exemption would have exempted */
	char *expired_entry;              /* the first such exemption: "FILE:LINE (expires: WHEN)", or NULL */
	unsigned warnings;                /* entries in response.warnings */
} ds_review_result;

/* Answers one AdmissionReview (admission.k8s.io/v1 or v1beta1) in the
 * request's version, echoing its uid. `cluster` is where DS003 asks who
 * else lives in a namespace; NULL leaves DS003 unevaluated (no cluster
 * state). It is consulted on CREATE only: an UPDATE is never denied for
 * sharing a namespace it already lives in. Before the cluster is synced,
 * DS003 warns that it could not check, or denies with deny_unsynced. A
 * CREATE that DS003 checked and that is allowed (not a dry run) reserves its
 * namespace through cluster->reserve; when another CREATE got there first,
 * it is answered as DS003 answers a shared namespace, naming that one, and
 * when the reservation could not be told, as before the cluster is synced.
 * Exemptions are decided by ds_exemption_decide() at the current time, with
 * the request's userInfo and oldObject; a request that adds dsguard.io/ignore
 * where the config does not let its user do so is denied
 * (ds_exemption_grant_refused()). No other side effect, and no I/O but what
 * cluster->reserve does. Returns 0 and fills *out (release it with
 * ds_review_result_free()); a malformed request is not a failure but a
 * result with status 400. Returns -1 only when memory ran out, with *out
 * holding a status 500 body when even that could be made. */
int ds_review(const char *body, size_t len, ds_review_mode mode, const ds_config *config,
	      const ds_cluster *cluster, ds_review_result *out);

/* Releases what r owns and empties it. */
void ds_review_result_free(ds_review_result *r);

/* Makes cJSON allocate from a per-thread arena while a review is being
 * made (see webhook/arena.c), and from malloc everywhere
 * else. cJSON's hooks are process-wide: call it once, before any thread
 * uses cJSON. Without it everything goes through malloc, with the same
 * results. */
void ds_arena_install(void);

/* "CREATE", "UPDATE", "DELETE", "CONNECT", or "" for DS_OP_NONE. */
const char *ds_operation_name(ds_operation op);

/* ---- Namespace claims: DS003 across replicas (docs/cluster.md). ---- */

/* How claims are made. Zero values take the defaults given. */
typedef struct ds_claims_options {
	const char *namespace; /* where the Leases live (copied): a DNS label */
	double ttl;            /* seconds before a claim whose DaemonSet does not exist may be taken over; 30 */
	double deadline;       /* seconds one claim may take, every API call in it included; 2 */
} ds_claims_options;

/* Claims over client (taken: freed by ds_claims_free(), also when this
 * fails): each admitted CREATE holds its namespace with a
 * coordination.k8s.io/v1 Lease in opts->namespace, made with a create and
 * taken over with an update carrying the resourceVersion read. No thread
 * runs yet. Returns the claims, or NULL with *error set (a namespace that is
 * not a DNS label, a TTL or deadline out of range, out of memory). */
ds_claims *ds_claims_new(kube_client *client, const ds_claims_options *opts, char **error);

/* For kube_cache_options.deleted (data is the ds_claims): the DaemonSet
 * ns/name is gone, so its claim is removed by the sweeper (when it holds
 * one). Does not block; safe from any thread until ds_claims_free(). */
void ds_claims_deleted(void *claims, const char *ns, const char *name);

/* Starts the sweeper: the thread that removes the claims whose DaemonSet
 * does not exist once their TTL has passed (those this process made, and
 * those of deleted DaemonSets), asking `cache` (borrowed until
 * ds_claims_stop()) what the watch has seen. Returns 0, or -1 with *error
 * set. */
int ds_claims_start(ds_claims *claims, kube_cache *cache, char **error);

/* Stops the sweeper (its request in progress is cancelled) and joins it.
 * NULL and a claims never started are allowed. */
void ds_claims_stop(ds_claims *claims);

/* Frees the claims and their clients (after ds_claims_stop(), once nothing
 * calls them any more). NULL is allowed. */
void ds_claims_free(ds_claims *claims);

/* ---- The log: one line per event on stderr, JSON or text. ---- */

typedef enum { DS_LOG_DEBUG = 0, DS_LOG_INFO, DS_LOG_WARN, DS_LOG_ERROR } ds_log_level;

/* Sets the format ("json" or "text") and the lowest level written ("debug",
 * "info", "warn", "error"). Returns 0, or -1 when either name is unknown
 * (nothing is changed then). Before the first call: json at info. */
int ds_log_setup(const char *format, const char *level);

/* Whether a line at `level` would be written. */
bool ds_log_enabled(ds_log_level level);

/* One field of a log line: a string (escaped in JSON, bare in text when it
 * can be), or JSON text written as it is (a number, true, an array). A
 * field whose value is NULL is left out. Borrows both strings. */
typedef struct ds_log_field {
	const char *key;
	const char *value;
	bool is_string;
} ds_log_field;

/* Writes one line: time, level, message and the `count` fields, built
 * without a tree in the thread's buffer. A line longer than PIPE_BUF is
 * made again with each string cut and "cut": true. Thread-safe. */
void ds_log_line(ds_log_level level, const char *message, const ds_log_field *fields, size_t count);

/* As ds_log_line(), the fields the members of `fields` (a cJSON object,
 * or NULL), which the call takes and deletes. Thread-safe. */
void ds_log_fields(ds_log_level level, const char *message, cJSON *fields);

/* Writes one line whose message is printf-formatted. Thread-safe. */
void ds_log(ds_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- Certificates that look after themselves (serve --manage-certs). ---- */

/* Defaults of the certificate manager (docs/certs.md). */
#define DS_MANAGED_CA_SECONDS (5 * 365 * 86400L)   /* the CA: five years */
#define DS_MANAGED_CERT_SECONDS (90 * 86400L)      /* the serving certificate: 90 days */
#define DS_MANAGED_OVERLAP_SECONDS 3600L           /* old and new CA both trusted: one hour */

/* Where the serving certificate lives and where its CA is published, and
 * how long each lives. Strings are borrowed for the server's life. */
typedef struct ds_certmgr_options {
	/* The API client of the manager; the server takes it (it is freed when
	 * the server stops, or when it fails to start). */
	kube_client *client;
	const char *namespace;   /* of the Secret and the Service */
	const char *secret;      /* the kubernetes.io/tls Secret: tls.crt, tls.key, ca.crt, ca.key */
	const char *service;     /* the Service the API server calls: the certificate names it */
	const char *validating;  /* the ValidatingWebhookConfiguration whose caBundle is kept; NULL: none */
	const char *mutating;    /* the MutatingWebhookConfiguration; NULL: none */
	/* Validity of the CA and of the serving certificate, and how long old
	 * and new CA are both in the caBundles during a CA rotation (and how
	 * long a new caBundle is in place before certificates of its new CA are
	 * served). serving <= ca / 3 and overlap <= serving / 6, so that a
	 * rotation always ends before what it replaces expires. */
	long ca_seconds, serving_seconds, overlap_seconds;
} ds_certmgr_options;

/* Checks the options without starting anything: the names (a Secret name,
 * a Service name and namespace that make valid DNS names, at least one
 * webhook configuration) and the durations and their ratios. Returns 0, or
 * -1 with *error set saying which value is wrong and what it must be. */
int ds_certmgr_check_options(const ds_certmgr_options *opts, char **error);

/* As ds_log(), the first time it is called with `key` in the process's
 * life; later calls with the same key write nothing. At most
 * DS_LOG_ONCE_KEYS keys are remembered: past that, nothing more is
 * written (the metrics still count). Thread-safe. */
#define DS_LOG_ONCE_KEYS 1024
void ds_log_once(ds_log_level level, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- The HTTPS server. ---- */

/* How `dsguard serve` runs. Strings are borrowed for the server's life. */
typedef struct ds_server_options {
	const char *listen;         /* "HOST:PORT", ":PORT" (every address) or "[IPv6]:PORT"; port 0 picks one */
	const char *cert_path;      /* PEM certificate (chain); NULL with manage_certs */
	const char *key_path;       /* PEM private key, unencrypted; NULL with manage_certs */
	/* Instead of the files: the certificate comes from a Secret that the
	 * server creates, renews and publishes itself (docs/certs.md). Until it
	 * is served and its CA is in every caBundle, /readyz answers 503. */
	const ds_certmgr_options *manage_certs;
	const char *client_ca_path; /* PEM CA that client certificates must chain to; NULL: no mTLS */
	const char *config_path;    /* NULL: the defaults */
	/* The cluster cache DS003 asks (borrowed: stop the server before the
	 * cache); NULL: DS003 is off. /readyz answers 503 until it has synced. */
	kube_cache *cluster;
	/* Where admitted CREATEs claim their namespace (borrowed: stop the
	 * server first); NULL: reservations in the cache, this process alone. */
	ds_claims *claims;
	bool deny_unsynced;         /* --on-unsynced deny */
	size_t max_body_bytes;      /* larger bodies get 413 */
	unsigned idle_timeout;      /* seconds a connection may sit idle */
	unsigned request_timeout;   /* seconds a request may take from its first byte to its answer; 0: no limit */
	/* Connections held at once. A newcomer past it closes the one that has
	 * waited longest for its request (not one being answered). */
	unsigned connection_limit;
	unsigned threads;           /* worker threads; 0: one per online core */
	/* The continuous audit (docs/audit.md) runs with cluster state, over
	 * the cache, which must keep ds_server_audit_fields(). */
	bool audit_metrics_detail;  /* dsguard_violation per DaemonSet (--audit-metrics-detail) */
	/* The client that writes the audit's PolicyReports, taken by
	 * ds_server_start() (freed, also when it fails); NULL: no PolicyReports. */
	kube_client *policy_reports;
	/* Whether this replica writes them: while it holds this Lease
	 * (borrowed: stop it after the server). */
	kube_lease *lease;
} ds_server_options;

/* The JSON Pointers of the fields the cluster cache is to keep of each
 * DaemonSet for the audit (kube_cache_options.keep), and their count. */
const char *const *ds_server_audit_fields(size_t *count);

typedef struct ds_server ds_server;

/* Loads the config and the certificate (refusing a key that does not match
 * it), binds the listen address and starts serving. Raises the soft limit
 * on open files to what connection_limit needs, when the hard limit
 * allows (else it logs a warning). Signals are the
 * caller's: block them in the calling thread first so that the server's
 * threads inherit the mask. Returns a new server (stop it with
 * ds_server_stop()), or NULL after setting *error to a newly allocated
 * message. */
ds_server *ds_server_start(const ds_server_options *opts, char **error);

/* The address actually bound, e.g. "127.0.0.1:8443" or "[::]:8443".
 * Borrowed from the server. */
const char *ds_server_address(const ds_server *srv);

/* Reloads the config file and the certificate and key (and client CA;
 * with manage_certs only the config): new connections get the new
 * certificate; connections open on the old one finish their requests. A reload that fails keeps what is served,
 * logs why and counts a failure in the metrics. Returns 0 when both
 * reloaded, -1 when one did not. Call it from one thread only (the one
 * that calls ds_server_poll). */
int ds_server_reload(ds_server *srv);

/* Housekeeping, about once a second: reloads the certificate or the config
 * when their files changed on disk (a Kubernetes volume swapping its
 * `..data` link included), stops old certificate generations whose
 * connections are gone, and closes the connections whose request is past
 * request_timeout. */
void ds_server_poll(ds_server *srv);

/* Stops accepting connections (the listen socket is closed), lets the
 * requests in flight finish (at most `grace_seconds`), then stops every
 * thread and releases the server. NULL is ignored. */
void ds_server_stop(ds_server *srv, unsigned grace_seconds);

#endif
