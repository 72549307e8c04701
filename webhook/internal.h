/* internal.h - private to webhook/: what its files share with each other
 * (and with the unit tests). */
#ifndef DSGUARD_WEBHOOK_INTERNAL_H
#define DSGUARD_WEBHOOK_INTERNAL_H

#include "certs/certs.h"
#include "lint/lint.h"
#include "webhook/webhook.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* ---- response.warnings, kept within the API server's limits ---- */

/* A list of warning texts, each owned. */
typedef struct ds_warnings {
	char **items;
	size_t count;
} ds_warnings;

/* Appends a printf-formatted warning. Returns 0, or -1 out of memory. */
int ds_warnings_add(ds_warnings *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Releases what w owns and empties it. */
void ds_warnings_free(ds_warnings *w);

/* The warnings as a JSON array of strings: each cut to DS_WARNING_MAX
 * bytes (at a UTF-8 boundary, ending "..."), and no more of them than fit
 * in DS_WARNINGS_TOTAL_MAX bytes in all, the last one then saying how many
 * were left out. Returns a new array (the caller deletes it), or NULL out
 * of memory. */
cJSON *ds_warnings_to_json(const ds_warnings *w);


/* A scope whose cJSON allocations come from the thread's arena (when
 * ds_arena_install() ran; else malloc). Scopes nest; leaving the outermost
 * frees everything cJSON made in it at once, so nothing made inside may be
 * kept, or freed with free(): copy what must outlive it, and release cJSON's
 * printed strings with cJSON_free(). */
void ds_arena_begin(void);
void ds_arena_end(void);

/* Whether a and b are the same JSON value as the API server reads them:
 * objects by member name whatever the order, the last of a repeated name
 * counting (Go's decoder keeps the last, cJSON every one); arrays item by
 * item in order; numbers by value. Two NULLs are equal. Time and memory
 * grow with the size of the trees (sorting each object's names once).
 * Returns 1 when equal, 0 when not, -1 out of memory. */
int ds_json_equal(const cJSON *a, const cJSON *b);

/* ---- reading a review's body (scan.c) ---- */

/* Bytes of the body; text NULL when there are none. */
typedef struct ds_span {
	const char *text;
	size_t len;
} ds_span;

/* The spans a review compares: request.object's and request.oldObject's
 * spec.template. */
#define DS_REVIEW_SLOTS 2

/* An AdmissionReview as the review reads it: a tree of the members it and
 * the rules read (apiVersion, kind; request's uid, kind, subResource,
 * namespace, name, operation, dryRun, userInfo; object's apiVersion, kind,
 * metadata name, namespace, generateName, labels, annotations and pod spec
 * priorityClassName, priority, restartPolicy; oldObject's annotations),
 * each object holding only the last of a repeated name; and where the two
 * templates lie in the body (spans[0] object's, spans[1] oldObject's). */
typedef struct ds_review_doc {
	cJSON *root;
	ds_span spans[DS_REVIEW_SLOTS];
} ds_review_doc;

/* Reads body (len bytes) in one pass: accepts exactly what
 * cJSON_ParseWithLengthOpts() followed by nothing but isspace() accepts,
 * builds nodes only for what ds_review_doc names and checks the rest.
 * Returns 1 with *doc filled (the spans borrow body; release it with
 * ds_review_doc_free()), 0 when the body is malformed, -1 out of memory;
 * *where is the byte the reading stopped at. */
int ds_review_read(const char *body, size_t len, ds_review_doc *doc, size_t *where);

void ds_review_doc_free(ds_review_doc *doc);

/* Whether object's and oldObject's spec.template are both there and the
 * same value (ds_json_equal()): 1 when they are, 0 when not, -1 out of
 * memory. Time grows with their size. */
int ds_review_templates_equal(const ds_review_doc *doc);

/* Base64 of `len` bytes (one line, no newline). Returns a new string, or
 * NULL out of memory. */
char *ds_base64(const char *data, size_t len);

/* ---- metrics ---- */

/* The HTTP endpoints, as metrics label them. */
typedef enum {
	DS_EP_VALIDATE = 0,
	DS_EP_MUTATE,
	DS_EP_HEALTHZ,
	DS_EP_READYZ,
	DS_EP_METRICS,
	DS_EP_AUDIT,
	DS_EP_OTHER,
	DS_EP_COUNT
} ds_endpoint;

/* How a request ended, as metrics label it. */
typedef enum {
	DS_RESULT_ALLOWED = 0, /* a review answered allowed, nothing patched */
	DS_RESULT_PATCHED,     /* a review answered allowed with a patch */
	DS_RESULT_DENIED,      /* a review answered allowed: false */
	DS_RESULT_OK,          /* any other endpoint answered 2xx */
	DS_RESULT_BAD_REQUEST, /* 4xx */
	DS_RESULT_ERROR,       /* 5xx */
	DS_RESULT_COUNT
} ds_result;

/* Why the server closed a connection early. */
typedef enum {
	DS_CLOSED_REQUEST_TIMEOUT = 0, /* its request was not in and answered within --request-timeout */
	DS_CLOSED_SERVER_FULL,         /* it had waited longest when a newcomer found the server full */
	DS_CLOSED_COUNT
} ds_closed_reason;

/* Upper bounds of the latency histogram, in seconds: 100 µs up to the
 * API server's 30 s webhook timeout. */
#define DS_LATENCY_BUCKETS 17
extern const double ds_latency_bounds[DS_LATENCY_BUCKETS];

/* The server's counters. Every field is updated atomically, so any thread
 * may record while another renders. Zero-initialise it. */
typedef struct ds_metrics {
	atomic_ulong requests[DS_EP_COUNT][DS_OP_COUNT][DS_RESULT_COUNT];
	atomic_ulong latency_buckets[DS_EP_COUNT][DS_LATENCY_BUCKETS + 1]; /* last: +Inf only */
	atomic_ulong latency_count[DS_EP_COUNT];
	atomic_ullong latency_sum_ns[DS_EP_COUNT];
	atomic_ulong findings[DS_RULE_COUNT];
	atomic_ulong exemptions[DS_RULE_COUNT][2]; /* [0] by annotation, [1] by config */
	atomic_ulong expired_exemptions[DS_RULE_COUNT]; /* findings an expired config exemption left standing */
	atomic_ulong config_reloads[2]; /* [0] success, [1] failure */
	atomic_ulong cert_reloads[2];
	atomic_llong cert_not_after; /* unix seconds */
	atomic_uint in_flight;
	atomic_bool cluster_state;   /* DS003 has cluster state */
	atomic_ulong connections_closed[DS_CLOSED_COUNT]; /* connections the server closed early, by reason */
	/* serve --manage-certs (certmgr.c) */
	atomic_bool certs_managed;
	atomic_llong ca_not_after;           /* the first CA of the Secret's ca.crt, unix seconds */
	atomic_ulong cert_rotations[2];      /* written by this replica: [0] serving certificates, [1] CAs */
	atomic_ulong bundle_patches[2][2];   /* [0] validating, [1] mutating; [0] ca.crt changed, [1] reset */
	atomic_bool bundle_trusted;          /* every caBundle trusts the served certificate */
	atomic_ulong certmgr_errors;         /* requests and writes that failed */
} ds_metrics;

/* Counts one finished request and its duration. */
void ds_metrics_request(ds_metrics *m, ds_endpoint ep, ds_operation op, ds_result result, double seconds);

/* Counts the findings and exemptions of one review, and logs an expired
 * config exemption the review met (once for each, ds_log_once()). */
void ds_metrics_review(ds_metrics *m, const ds_review_result *r);

struct ds_claims_stats;

/* The metrics in the Prometheus text exposition format (0.0.4), with the
 * cluster cache's state when `cluster` is not NULL and the namespace
 * claims' when `claims` is not NULL. Returns a new string, or NULL out of
 * memory. */
char *ds_metrics_render(ds_metrics *m, const kube_cache_stats *cluster, const struct ds_claims_stats *claims);

/* ---- namespace claims (claims.c) ---- */

/* How one claim ended, as metrics label it. */
typedef enum {
	DS_CLAIM_CLAIMED = 0, /* the namespace was free: the Lease was created */
	DS_CLAIM_HELD,        /* the claim was this DaemonSet's already (a retry, /mutate then /validate) */
	DS_CLAIM_TAKEN_OVER,  /* a stale claim (its DaemonSet does not exist, older than the TTL) was taken over */
	DS_CLAIM_REFUSED,     /* another DaemonSet holds the namespace: denied */
	DS_CLAIM_ERROR,       /* the API server failed or was too slow: --on-unsynced */
	DS_CLAIM_RESULTS
} ds_claim_result;

/* What the claims have done, for /metrics. */
typedef struct ds_claims_stats {
	unsigned long results[DS_CLAIM_RESULTS];
	unsigned long conflicts;      /* 409 answers that made a claim read the Lease again */
	unsigned long released;       /* claims removed because their DaemonSet does not exist */
	unsigned long pending;        /* claims the sweeper still watches */
	unsigned long latency_buckets[DS_LATENCY_BUCKETS + 1]; /* per bucket (not cumulative); last: +Inf */
	unsigned long latency_count;
	double latency_sum;           /* seconds */
} ds_claims_stats;

/* Holds req->ns in the API server for the DaemonSet being admitted (the
 * ds_cluster reserve hook of --claims cluster; docs/cluster.md says how).
 * Returns 0 when decided: *other NULL when the namespace is held for this
 * DaemonSet (or there is nothing to hold: a namespace or name the API server
 * would refuse), else the holder's name (the caller frees it); 1 when it
 * could not be told within the deadline (the cause is logged); -1 out of
 * memory. Thread-safe; at most a few claims talk to the API server at once,
 * the others wait for a client within their deadline. */
int ds_claims_claim(ds_claims *claims, const ds_claim_request *req, char **other);

/* The cache the claims were started with (borrowed), or NULL. */
kube_cache *ds_claims_cache(ds_claims *claims);

/* Fills *out with the claims' counters now. */
void ds_claims_stats_get(ds_claims *claims, ds_claims_stats *out);

/* The name of the Lease that claims namespace ns: "dsguard-claim-NS" when
 * NS is a DNS label that fits in 63 characters, else "dsguard-claim-R.H"
 * where R is what can be kept of NS (lowercase letters, digits and '-', at
 * most 32, no '-' at either end; "dsguard-claim.H" when nothing) and H 16 hex
 * digits of NS's SHA-256: a DNS subdomain of at most 63 characters, one per
 * namespace (a short name has no '.'). Returns a new string, or NULL out of
 * memory. */
char *ds_claim_lease_name(const char *ns);

/* Reads an RFC 3339 time as a Lease's acquireTime and renewTime hold it
 * ("2024-05-01T10:00:00.123456Z"; the fraction optional, "Z" or an offset
 * such as "+02:00"). Returns seconds since the epoch, or NAN when s is NULL
 * or not such a time. */
double ds_claim_parse_time(const char *s);

/* What a claim Lease says. Borrowed from the Lease read. */
typedef struct ds_claim_lease {
	const char *holder;        /* spec.holderIdentity; "" when absent */
	const char *generate_name; /* /mutate's claim for a name yet to be generated: its generateName; else NULL */
} ds_claim_lease;

/* Who claims. Borrowed. */
typedef struct ds_claim_want {
	const char *holder;        /* the DaemonSet's name; at /mutate without a name, generateName + uid */
	const char *generate_name; /* the object's generateName, or NULL */
	bool provisional;          /* the name is yet to be generated (holder is generateName + uid) */
} ds_claim_want;

/* What a claim does with the Lease it read. */
typedef enum {
	DS_CLAIM_KEEP,    /* it is this DaemonSet's, renewed less than a second ago: nothing to write */
	DS_CLAIM_RENEW,   /* it is this DaemonSet's, older: its renewTime is written anew */
	DS_CLAIM_CONFIRM, /* /mutate's claim for this generateName: /validate writes the generated name in */
	DS_CLAIM_REFUSE,  /* another DaemonSet's, younger than the TTL: denied naming it */
	DS_CLAIM_CHECK    /* another's, at least the TTL old: taken over if its DaemonSet does not exist */
} ds_claim_action;

/* Decides what a claim by `want` does with `lease`, last renewed `age`
 * seconds ago (NAN when its time cannot be read, which counts as old), when
 * claims hold for `ttl` seconds. */
ds_claim_action ds_claim_decide(const ds_claim_lease *lease, const ds_claim_want *want, double age, double ttl);

/* ---- certificate material ---- */

/* A certificate and key read from disk, checked to belong together. */
typedef struct ds_tls_files {
	char *cert_pem;
	char *key_pem;
	char *client_ca_pem; /* NULL without mTLS */
	time_t not_after;
} ds_tls_files;

/* Reads the certificate, the key and (when client_ca_path is not NULL) the
 * client CA, each once, and checks them with GnuTLS as the server will load
 * them: the certificate file holds at least one certificate, the key is
 * unencrypted (an encrypted one is refused, never prompted for) and belongs
 * to the first certificate, and the client CA file holds at least one
 * certificate. not_after is the first certificate's expiry. Returns 0 and
 * fills *out (release it with ds_tls_files_free()), or -1 with *error set
 * to a newly allocated message naming the file, what is wrong and what the
 * flag needs. */
int ds_tls_files_load(const char *cert_path, const char *key_path, const char *client_ca_path,
		      ds_tls_files *out, char **error);

/* The same checks for a pair held in memory (a Secret's tls.crt and
 * tls.key), copied into *out, with the client CA read from its file as
 * ds_tls_files_load() reads it (client_ca_path NULL: no mTLS). `source`
 * names where the pair comes from in messages ("Secret
 * dsguard/dsguard-tls"). Returns 0 and fills *out (release it with
 * ds_tls_files_free()), or -1 with *error set to a newly allocated
 * message. */
int ds_tls_pem_load(const char *cert_pem, const char *key_pem, const char *source, const char *client_ca_path,
		    ds_tls_files *out, char **error);

/* Releases what f owns, wiping the key, and empties it. */
void ds_tls_files_free(ds_tls_files *f);

/* Makes the GnuTLS session `tls_session` (a gnutls_session_t, before its
 * handshake) require a client certificate that chains to the trusted CA. */
void ds_mtls_require(void *tls_session);

/* ---- watching files ---- */

/* What identifies a file's content cheaply: the file a path resolves to,
 * its size and time, and the target of the `..data` link beside it (how a
 * Kubernetes Secret or ConfigMap volume swaps its files at once). */
typedef struct ds_file_sig {
	bool exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	char data_target[256];
} ds_file_sig;

/* Reads the signature of path (a missing file gives exists == false). */
void ds_file_sig_read(const char *path, ds_file_sig *sig);

/* Whether two signatures are the same. */
bool ds_file_sig_equal(const ds_file_sig *a, const ds_file_sig *b);

/* ---- the listen socket ---- */

/* Creates a non-blocking TCP socket listening on `addr` ("HOST:PORT",
 * ":PORT", "[IPv6]:PORT"). Returns the socket and writes the bound address
 * into `bound` (at least 64 bytes), or returns -1 with *error set. */
int ds_listen(const char *addr, char *bound, size_t bound_size, char **error);

/* ---- connections: a deadline for each request, room for newcomers ---- */

/* Where a connection stands. Waiting: kept alive after an answer, no byte
 * of its next request seen yet (the idle timeout is its bound). Reading:
 * from the first byte of a request (for a new connection, from the accept:
 * the TLS handshake is part of getting its request in) until its headers
 * and body are in. Answering: from then until its answer is sent. */
typedef enum { DS_CONN_WAITING = 0, DS_CONN_READING, DS_CONN_ANSWERING, DS_CONN_PHASES } ds_conn_phase;

/* One connection libmicrohttpd holds, from its STARTED notification to its
 * CLOSED one. Owned by its ds_conns. */
typedef struct ds_conn {
	int fd;                      /* libmicrohttpd's socket, open until CLOSED */
	ds_conn_phase phase;
	double since;                /* monotonic seconds: when its request began (waiting: its last answer) */
	unsigned long long bytes_in; /* waiting: TCP bytes received when a sweep first saw it wait */
	bool counted;                /* waiting: bytes_in is set */
	bool closing;                /* shut down by the server; on no list any more */
	struct ds_conn *prev, *next; /* in the list of its phase, oldest first */
} ds_conn;

/* The connections of a server (of every certificate generation), by
 * phase, under one lock. */
typedef struct ds_conns {
	pthread_mutex_t lock;
	ds_conn *head[DS_CONN_PHASES], *tail[DS_CONN_PHASES];
	unsigned open;     /* connections on the lists (not closing) */
	unsigned limit;    /* --max-connections */
	double timeout;    /* --request-timeout, seconds */
	ds_metrics *metrics;
} ds_conns;

/* Starts tracking connections, at most `limit` at once, each request in
 * and answered within `timeout` seconds (0: no deadline), closings
 * counted in metrics (borrowed). */
void ds_conns_init(ds_conns *c, unsigned limit, unsigned timeout, ds_metrics *metrics);

/* Releases c and any connection still tracked (none once every daemon is
 * stopped). */
void ds_conns_destroy(ds_conns *c);

/* A new connection on socket fd, reading its request from `now`. When
 * `limit` connections are open already, first closes the one that has
 * waited longest for its request: the oldest reading one, else the oldest
 * waiting one (one being answered is left to finish). Returns its record,
 * or NULL out of memory (the connection is then closed). */
ds_conn *ds_conns_open(ds_conns *c, int fd, double now);

/* k's request is in (or answered early): it is being answered. NULL is
 * ignored. */
void ds_conns_answering(ds_conns *c, ds_conn *k, double now);

/* k's answer is sent and the connection kept alive: it waits for its next
 * request. NULL is ignored. */
void ds_conns_waiting(ds_conns *c, ds_conn *k, double now);

/* libmicrohttpd closes k (its CLOSED notification): forgets and frees it.
 * NULL is ignored. */
void ds_conns_closed(ds_conns *c, ds_conn *k);

/* Once a second or so: a waiting connection that has received a byte
 * since its last answer starts reading, and a connection reading or
 * being answered for `timeout` seconds since its request began is closed,
 * however steadily it sends. */
void ds_conns_sweep(ds_conns *c, double now);

/* ---- certificates that look after themselves: the plan (certplan.c) ---- */

/* What the certificate manager writes to the Secret next. */
typedef enum {
	DS_CERTS_WAIT = 0,      /* nothing now */
	DS_CERTS_CREATE,        /* there is no Secret: create it with a new CA and serving certificate */
	DS_CERTS_REPLACE,       /* neither CA nor serving certificate can be used: both anew */
	DS_CERTS_NEW_SERVING,   /* a new serving certificate signed by the first CA of ca.crt */
	DS_CERTS_NEW_CA,        /* a new CA, first in ca.crt, the serving certificate's CA after it */
	DS_CERTS_DROP_OLD_CA    /* ca.crt becomes its first CA alone */
} ds_certs_step;

/* What the plan is made from. Borrows exam. */
typedef struct ds_certs_plan_input {
	bool secret_exists;
	const ds_cert_exam *exam; /* the Secret's material (certs/), when it exists */
	time_t now;               /* wall clock, as certificates count time */
	double bundles_for;       /* seconds every caBundle has held ca.crt as it is; < 0: not now */
	double rotated_for;       /* seconds ca.crt has held several CAs with the serving certificate from
				   * the first; < 0: not now */
	long overlap;             /* --ca-overlap, seconds */
} ds_certs_plan_input;

/* The decision, and when to decide again if nothing happens before. */
typedef struct ds_certs_plan {
	ds_certs_step step;
	const char *why;  /* a static sentence for the log */
	double wake_in;   /* DS_CERTS_WAIT: seconds until something is due (0: now); else -1 */
} ds_certs_plan;

/* Decides the next write (docs/certs.md, "The rotation timeline"): create
 * a missing Secret; replace material that cannot be used; renew the
 * serving certificate at two thirds of its validity or when it lacks a
 * name; at two thirds of the CA's validity publish a new CA beside the old
 * one, move the serving certificate to it once every caBundle has held
 * both for the overlap, and drop the old CA after another overlap. */
ds_certs_plan ds_certs_decide(const ds_certs_plan_input *in);

/* A step's name for the log: "create", "new CA", ... A static string. */
const char *ds_certs_step_name(ds_certs_step step);

/* ---- certificates that look after themselves: the manager (certmgr.c) ---- */

typedef struct ds_certmgr ds_certmgr;

/* A serving pair made on the spot for the Service's names and checked as
 * ds_tls_pem_load() checks (with the client CA read from client_ca_path,
 * NULL: none), for the server to start with: nothing trusts it, and /readyz
 * says so until the Secret's pair is served. Returns 0 and fills *out, or
 * -1 with *error set. */
int ds_certmgr_placeholder(const ds_certmgr_options *opts, const char *client_ca_path, ds_tls_files *out,
			   char **error);

/* Starts the manager of srv's certificates on a thread of its own: it
 * watches the Secret and both webhook configurations, writes the Secret
 * when certplan.c says so (POST when it is missing; PUT with the
 * resourceVersion read; on 409 it reads again), serves the Secret's pair
 * through ds_server_serve_pem(), patches the caBundles that do not hold
 * ca.crt, and judges readiness. Takes opts->client (freed also on failure);
 * borrows the options' strings and srv. Returns the manager, or NULL with
 * *error set. */
ds_certmgr *ds_certmgr_start(ds_server *srv, const ds_certmgr_options *opts, char **error);

/* Stops the thread and the watches (requests in progress are cancelled),
 * and frees the manager and its clients. NULL is ignored. */
void ds_certmgr_stop(ds_certmgr *m);

/* Whether the served certificate comes from the Secret and every caBundle
 * trusts it. When not, writes why into why (size bytes). Any thread. */
bool ds_certmgr_ready(ds_certmgr *m, char *why, size_t size);

/* ---- the continuous audit (audit.c) and its PolicyReports (reports.c) ---- */

/* The fields the cluster cache keeps of each DaemonSet for the audit: what
 * the rules and the engine read, the uid and resourceVersion, the labels. */
extern const char *const ds_audit_fields[];
extern const size_t ds_audit_field_count;

/* One violation now, for dsguard_violation (--audit-metrics-detail). */
typedef struct ds_audit_violation {
	const ds_rule *rule;
	char *name; /* the DaemonSet's */
} ds_audit_violation;

/* What the audit knows of one namespace. Owned by the audit, read and
 * written under its lock. */
typedef struct ds_audit_ns {
	char *ns;
	size_t daemonsets;
	unsigned long violations[DS_RULE_COUNT][2]; /* non-exempt findings by rule; [0] warning, [1] error */
	ds_audit_violation *list;
	size_t list_count;
	uint64_t hash;      /* of its verdicts: the DaemonSets' names and uids, the findings */
	time_t changed_at;  /* wall clock when hash last changed */
	bool dirty;         /* to be evaluated again */
	/* reports.c's */
	bool due;           /* its report may differ from the one in the cluster */
	double due_first;   /* monotonic: when it became due */
	double due_last;    /* monotonic: its last change since */
	double retry_at;    /* monotonic: no write before this (after a failure) */
	uint64_t written;   /* hash of the report as last written or found; 0: not known */
	char *written_rv;   /* that report's resourceVersion; NULL: not known */
} ds_audit_ns;

typedef struct ds_reports ds_reports;

/* The audit of every DaemonSet in the cluster cache (docs/audit.md). */
typedef struct ds_audit {
	kube_cache *cache;
	const ds_config *config;      /* the server's, read under config_lock */
	pthread_rwlock_t *config_lock;
	bool detail;                  /* --audit-metrics-detail */
	pthread_t thread;

	pthread_mutex_t mu;           /* guards everything below */
	pthread_cond_t cond;          /* wakes the audit's thread */
	bool stop;
	bool all_dirty;               /* everything is to be evaluated again */
	size_t dirty_count;
	bool evaluated;               /* a whole pass has run since the cache synced */
	ds_audit_ns **spaces;         /* sorted by namespace */
	size_t space_count;
	unsigned long totals[DS_RULE_COUNT][2];
	size_t daemonsets;
	time_t last_change;           /* wall clock of the last change of any verdict; 0: none */
	ds_reports *reports;          /* NULL: no PolicyReports */
} ds_audit;

/* How the audit runs. */
typedef struct ds_audit_options {
	kube_cache *cache;             /* borrowed; made with ds_audit_fields kept */
	const ds_config *config;       /* borrowed, read under config_lock */
	pthread_rwlock_t *config_lock;
	bool detail;
	kube_client *reports_client;   /* taken: writes the PolicyReports; NULL: none */
	kube_lease *lease;             /* borrowed: reports are written while it is held */
} ds_audit_options;

/* Starts the audit's thread (and the PolicyReport writer's, with a
 * client), subscribed to the cache. Returns the audit, or NULL with *error
 * set (the client is freed either way on failure). */
ds_audit *ds_audit_start(const ds_audit_options *opts, char **error);

/* Unsubscribes, stops the threads and frees the audit. NULL is allowed. */
void ds_audit_stop(ds_audit *a);

/* The config changed: everything is evaluated again. */
void ds_audit_reconfigured(ds_audit *a);

/* Writes the audit's metrics (and the writer's) in the Prometheus text
 * format. */
void ds_audit_metrics(ds_audit *a, FILE *out);

/* The /audit document: `dsguard lint --format json` of the cache's
 * DaemonSets now, with "source": "cluster". Returns a new string, or NULL
 * with *status 503 (the cache has not synced) or 500 (out of memory). */
char *ds_audit_document(ds_audit *a, int *status);

/* One namespace's DaemonSets evaluated: lint's report over their records
 * and each one's uid, in the order of the records ("" for none). */
typedef struct ds_audit_eval {
	ds_lint_report report;
	char **uids;
	size_t count;
} ds_audit_eval;

/* Evaluates records (those of one namespace, or of all) under the server's
 * config. Returns 0 with out filled (release it with
 * ds_audit_eval_free()), or -1 out of memory. */
int ds_audit_evaluate(ds_audit *a, const kube_record *records, size_t count, ds_audit_eval *out);

void ds_audit_eval_free(ds_audit_eval *ev);

/* The namespace's state (the caller holds a->mu), or NULL. */
ds_audit_ns *ds_audit_find(ds_audit *a, const char *ns);

/* The namespace's state, made (empty, not dirty) when there is none (the
 * caller holds a->mu). Returns it, or NULL out of memory. */
ds_audit_ns *ds_audit_ensure(ds_audit *a, const char *ns);

/* Drops the namespace's state (the caller holds a->mu). */
void ds_audit_drop(ds_audit *a, const char *ns);

/* Starts the PolicyReport writer for a (reports.c). Takes client. Returns
 * it, or NULL with *error set. */
ds_reports *ds_reports_start(ds_audit *a, kube_client *client, kube_lease *lease, char **error);

/* Wakes the writer: a report became due (the caller holds a->mu). */
void ds_reports_wake(ds_reports *r);

/* Stops the writer's thread and frees it. NULL is allowed. */
void ds_reports_stop(ds_reports *r);

/* Writes the writer's metrics. */
void ds_reports_metrics(ds_reports *r, FILE *out);

/* A 64-bit FNV-1a hash of len bytes, continuing from h (start:
 * DS_FNV_START). */
#define DS_FNV_START 14695981039346656037ull
uint64_t ds_fnv(uint64_t h, const void *bytes, size_t len);

/* ---- the server's state, shared by server.c and http.c ---- */

/* One libmicrohttpd daemon with the certificate it was started with. A
 * reload starts a new generation on the same listen socket and retires the
 * old one: it accepts no more connections and closes each of its
 * connections after its next answer. */
struct generation {
	ds_server *srv;
	struct MHD_Daemon *daemon;
	ds_tls_files files;
	atomic_bool retired;
	time_t retire_deadline; /* CLOCK_MONOTONIC seconds after which it is stopped anyway */
	struct generation *next;
};

struct ds_server {
	ds_server_options opts;
	char address[80];
	int listen_fd;
	unsigned threads;
	pthread_rwlock_t config_lock; /* readers: reviews; writer: a config reload */
	ds_config config;
	ds_cluster cluster;           /* over opts.cluster, when it is set */
	pthread_mutex_t gen_lock;     /* guards current and retired: the manager's thread swaps them too */
	pthread_mutex_t serve_lock;   /* one change of certificate at a time (a reload, the manager's) */
	struct generation *current;
	struct generation *retired;
	ds_certmgr *certmgr;          /* with opts.manage_certs */
	bool certs_client_taken;      /* opts.manage_certs->client was handed to the manager */
	ds_metrics metrics;
	ds_file_sig cert_sig, key_sig, ca_sig, config_sig;
	ds_conns conns;               /* the connections of every generation */
	atomic_bool stopping;
	ds_audit *audit;              /* with cluster state; NULL: none */
};

/* The MHD access handler of every generation (cls is the generation). */
enum MHD_Result ds_http_on_request(void *cls, struct MHD_Connection *connection, const char *url,
				   const char *method, const char *version, const char *upload_data,
				   size_t *upload_data_size, void **req_cls);

/* The MHD completion callback (cls is the generation): counts, logs and
 * frees a request; a connection kept alive waits for its next one. */
void ds_http_on_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
			  enum MHD_RequestTerminationCode toe);

/* Seconds on CLOCK_MONOTONIC. */
double ds_monotonic(void);

/* Serves cert_pem and key_pem (PEM text, copied) on new connections, as a
 * certificate reload does: checked first (ds_tls_pem_load(), with the
 * client CA file of the options), and connections on the old pair finish
 * their requests. `source` names the pair in messages. Any thread. Returns
 * 0, or -1 with *error set (counted; the old pair stays). */
int ds_server_serve_pem(ds_server *srv, const char *cert_pem, const char *key_pem, const char *source, char **error);

#endif
