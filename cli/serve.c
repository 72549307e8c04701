/* serve.c - `dsguard serve`: the HTTPS admission webhook. */
#include "cli/cli.h"
#include "cli/options.h"
#include "kube/kube.h"
#include "util/util.h"
#include "webhook/webhook.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define DRAIN_SECONDS 25      /* at most this long for requests in flight at SIGTERM */
#define DEFAULT_IDLE_TIMEOUT 30
#define DEFAULT_REQUEST_TIMEOUT 10
#define DEFAULT_MAX_CONNECTIONS 1024
#define AUDIT_LEASE "dsguard-audit" /* the Lease of the replica that writes PolicyReports */
#define DEFAULT_CLAIM_TTL 30.0
#define DEFAULT_CLAIM_DEADLINE 2.0
#define MAX_CLAIM_DEADLINE 30.0 /* the API server's longest webhook timeout */

enum {
	OPT_LISTEN,
	OPT_CERT,
	OPT_KEY,
	OPT_CLIENT_CA,
	OPT_MANAGE_CERTS,
	OPT_CERT_SECRET,
	OPT_SERVICE,
	OPT_SERVICE_NAMESPACE,
	OPT_VALIDATING_WEBHOOK,
	OPT_MUTATING_WEBHOOK,
	OPT_CA_VALIDITY,
	OPT_CERT_VALIDITY,
	OPT_CA_OVERLAP,
	OPT_CONFIG,
	OPT_CLUSTER,
	OPT_KUBECONFIG,
	OPT_CONTEXT,
	OPT_ON_UNSYNCED,
	OPT_CLAIMS,
	OPT_CLAIM_TTL,
	OPT_CLAIM_DEADLINE,
	OPT_CLAIM_NAMESPACE,
	OPT_MAX_BODY,
	OPT_IDLE_TIMEOUT,
	OPT_REQUEST_TIMEOUT,
	OPT_MAX_CONNECTIONS,
	OPT_LOG_FORMAT,
	OPT_LOG_LEVEL,
	OPT_AUDIT_DETAIL,
	OPT_POLICY_REPORTS,
	OPT_LEASE_NAMESPACE,
	OPT_COUNT
};

static const struct cli_option options[OPT_COUNT] = {
	[OPT_LISTEN] = {"listen", 0, "ADDR:PORT", "address to serve on (default :8443, every address)", false},
	[OPT_CERT] = {"tls-cert", 0, "FILE", "PEM serving certificate (chain); reloaded when it changes", false},
	[OPT_KEY] = {"tls-key", 0, "FILE", "PEM private key of the certificate; reloaded when it changes", false},
	[OPT_CLIENT_CA] = {"client-ca", 0, "FILE", "require client certificates signed by this PEM CA (mTLS)", false},
	[OPT_MANAGE_CERTS] = {"manage-certs", 0, NULL,
			      "instead of --tls-cert/--tls-key: the certificate kept in a Secret, renewed and rotated "
			      "with the other replicas, its CA published in the webhook configurations",
			      false},
	[OPT_CERT_SECRET] = {"cert-secret", 0, "NAME", "--manage-certs: the kubernetes.io/tls Secret (default dsguard-tls)",
			     false},
	[OPT_SERVICE] = {"service", 0, "NAME", "--manage-certs: the webhook's Service, named by the certificate (default "
					      "dsguard)",
			 false},
	[OPT_SERVICE_NAMESPACE] = {"service-namespace", 0, "NS",
				   "--manage-certs: the namespace of the Service and the Secret (default: the Pod's, or "
				   "the kubeconfig context's)",
				   false},
	[OPT_VALIDATING_WEBHOOK] = {"validating-webhook", 0, "NAME",
				    "--manage-certs: the ValidatingWebhookConfiguration whose caBundle to keep", false},
	[OPT_MUTATING_WEBHOOK] = {"mutating-webhook", 0, "NAME",
				  "--manage-certs: the MutatingWebhookConfiguration whose caBundle to keep", false},
	[OPT_CA_VALIDITY] = {"ca-validity", 0, "DURATION", "--manage-certs: the CA's validity (default 1825d)", false},
	[OPT_CERT_VALIDITY] = {"cert-validity", 0, "DURATION",
			       "--manage-certs: the serving certificate's validity, renewed at two thirds (default 90d)",
			       false},
	[OPT_CA_OVERLAP] = {"ca-overlap", 0, "DURATION",
			    "--manage-certs: how long old and new CA are both trusted in a CA rotation (default 1h)",
			    false},
	[OPT_CONFIG] = {"config", 'c', "FILE", "config file; reloaded when it changes and on SIGHUP", false},
	[OPT_CLUSTER] = {"cluster", 0, "MODE",
			 "cluster state for DS003: auto (default: on in a Pod or with --kubeconfig), on, off", false},
	[OPT_KUBECONFIG] = {"kubeconfig", 0, "FILE",
			    "kubeconfig for the cluster cache and --manage-certs (default: in-cluster)", false},
	[OPT_CONTEXT] = {"context", 0, "NAME", "kubeconfig context (default: current-context)", false},
	[OPT_ON_UNSYNCED] = {"on-unsynced", 0, "MODE",
			     "DS003 while it cannot be checked (the cluster cache has not synced, a claim failed): allow "
			     "(default, with a warning), deny",
			     false},
	[OPT_CLAIMS] = {"claims", 0, "MODE",
			"where an admitted CREATE holds its namespace for DS003: local (default: in this process alone) "
			"or cluster (a Lease in the API server: exact across replicas)",
			false},
	[OPT_CLAIM_TTL] = {"claim-ttl", 0, "SECONDS",
			   "--claims cluster: how long a claim whose DaemonSet does not exist holds before another "
			   "CREATE may take it over (default 30)",
			   false},
	[OPT_CLAIM_DEADLINE] = {"claim-deadline", 0, "SECONDS",
				"--claims cluster: the longest one claim may take, its API calls included; past it "
				"DS003 follows --on-unsynced (default 2, at most 30, below --request-timeout)",
				false},
	[OPT_CLAIM_NAMESPACE] = {"claim-namespace", 0, "NS",
				 "--claims cluster: the namespace of the claim Leases (default: the Pod's namespace, "
				 "or the kubeconfig context's)",
				 false},
	[OPT_MAX_BODY] = {"max-body-bytes", 0, "N", "answer 413 to bodies larger than N bytes (default 8388608)", false},
	[OPT_IDLE_TIMEOUT] = {"idle-timeout", 0, "SECONDS",
			      "close a connection that sends nothing this long (default 30)", false},
	[OPT_REQUEST_TIMEOUT] = {"request-timeout", 0, "SECONDS",
				 "close a connection whose request is not in and answered this long after its first byte, "
				 "however slowly it sends (default 10)",
				 false},
	[OPT_MAX_CONNECTIONS] = {"max-connections", 0, "N",
				 "connections held at once; a newcomer past it closes the one waiting longest for its "
				 "request (default 1024)",
				 false},
	[OPT_LOG_FORMAT] = {"log-format", 0, "FORMAT", "json (default) or text", false},
	[OPT_LOG_LEVEL] = {"log-level", 0, "LEVEL", "debug, info (default), warn or error", false},
	[OPT_AUDIT_DETAIL] = {"audit-metrics-detail", 0, NULL,
			      "also expose dsguard_violation{rule,namespace,name} per violating DaemonSet (one series "
			      "each: mind the cardinality)",
			      false},
	[OPT_POLICY_REPORTS] = {"policy-reports", 0, NULL,
				"write a wgpolicyk8s.io/v1alpha2 PolicyReport named dsguard in each namespace holding "
				"DaemonSets; the replica holding the Lease " AUDIT_LEASE " writes them",
				false},
	[OPT_LEASE_NAMESPACE] = {"lease-namespace", 0, "NS",
				 "namespace of that Lease (default: the Pod's, else the kubeconfig context's, else "
				 "default)",
				 false},
};

static const struct cli_command serve_command = {
	.name = "serve",
	.usage = "--tls-cert FILE --tls-key FILE [OPTIONS] | --manage-certs --validating-webhook NAME [OPTIONS]",
	.summary = "Serves the admission webhook over HTTPS (TLS 1.2 and 1.3): POST /validate and /mutate take\n"
		   "AdmissionReview v1 or v1beta1; GET /healthz, /readyz and /metrics (Prometheus).\n"
		   "New certificate files are served without a restart; SIGHUP reloads the config and the\n"
		   "certificate; SIGTERM or SIGINT stops accepting, finishes the requests in flight and exits 0.\n"
		   "DS003 needs cluster state: a list+watch cache of the cluster's DaemonSets, through the\n"
		   "Pod's service account or --kubeconfig; /readyz answers 503 until it has synced. Without\n"
		   "it (--cluster off) DS003 is not evaluated. With it every DaemonSet is audited all the time:\n"
		   "dsguard_violations in /metrics, GET /audit (lint's JSON), and with --policy-reports\n"
		   "PolicyReports (docs/audit.md). With several replicas, --claims cluster makes each\n"
		   "admitted CREATE claim its namespace with a Lease in the API server, so that two\n"
		   "CREATEs sent to different replicas at once cannot both be admitted.\n"
		   "With --manage-certs the certificate comes from a Secret instead of files: created when\n"
		   "missing, renewed at two thirds of its validity, its CA rotated with an overlap, served\n"
		   "within seconds of a change, and its CA kept in the caBundle of the webhook configurations;\n"
		   "/readyz answers 503 until every caBundle trusts the certificate served.",
	.options = options,
	.option_count = OPT_COUNT,
	.examples = "  dsguard serve --tls-cert certs/dev/tls.crt --tls-key certs/dev/tls.key --cluster off\n"
		    "  dsguard serve --tls-cert tls.crt --tls-key tls.key --kubeconfig ~/.kube/config --on-unsynced deny\n"
		    "  dsguard serve --listen 127.0.0.1:8443 --tls-cert tls.crt --tls-key tls.key --config dsguard.yaml\n"
		    "  dsguard serve --tls-cert tls.crt --tls-key tls.key --kubeconfig ~/.kube/config --policy-reports\n"
		    "  dsguard serve --tls-cert tls.crt --tls-key tls.key --claims cluster --claim-namespace dsguard-system\n"
		    "  dsguard serve --manage-certs --cert-secret dsguard-tls --service dsguard \\\n"
		    "      --validating-webhook dsguard --mutating-webhook dsguard\n",
};

/* Whether value is one of the NULL-terminated names. */
static bool one_of(const char *value, const char *const *names)
{
	for (; *names; names++)
		if (!strcmp(value, *names))
			return true;
	return false;
}

/* What --claims and its settings say. */
struct claim_settings {
	bool cluster;           /* --claims cluster */
	ds_claims_options opts; /* namespace from --claim-namespace, or NULL */
};

/* Reads option `index` as seconds (fractions allowed) into *out, `fallback`
 * when it is absent. Returns 0, or DS_EXIT_USAGE when it is not a number of
 * seconds from min to max. */
static int get_seconds(const struct cli_args *args, int index, double fallback, double min, double max, double *out)
{
	const char *text = cli_get(args, index, NULL);
	char *end;

	*out = fallback;
	if (!text)
		return 0;
	errno = 0;
	*out = strtod(text, &end);
	if (end == text || *end || errno || !isfinite(*out) || *out < min || *out > max)
		return cli_usage_error("serve", "--%s must be a number of seconds from %g to %g, not '%s'",
				       options[index].name, min, max, text);
	return 0;
}

/* Checks --claims and its settings against the cluster cache (`cluster`:
 * whether it is on) and --request-timeout, and fills *cs. Returns 0 or
 * DS_EXIT_USAGE. */
static int read_claim_options(const struct cli_args *args, bool cluster, unsigned long request_timeout,
			      struct claim_settings *cs)
{
	static const char *const modes[] = {"local", "cluster", NULL};
	const char *mode = cli_get(args, OPT_CLAIMS, "local");
	double deadline_max = fmin(MAX_CLAIM_DEADLINE, (double)request_timeout);

	if (!one_of(mode, modes))
		return cli_usage_error("serve", "--claims must be local or cluster, not '%s'", mode);
	memset(cs, 0, sizeof(*cs));
	cs->cluster = !strcmp(mode, "cluster");
	if (!cs->cluster && (cli_has(args, OPT_CLAIM_TTL) || cli_has(args, OPT_CLAIM_DEADLINE) ||
			     cli_has(args, OPT_CLAIM_NAMESPACE)))
		return cli_usage_error("serve", "--claim-ttl, --claim-deadline and --claim-namespace are for --claims cluster");
	if (cs->cluster && !cluster)
		return cli_usage_error("serve", "--claims cluster needs the cluster state: --cluster on (or auto in a Pod "
						"or with --kubeconfig)");
	if (get_seconds(args, OPT_CLAIM_TTL, DEFAULT_CLAIM_TTL, 1, 86400, &cs->opts.ttl) ||
	    get_seconds(args, OPT_CLAIM_DEADLINE, DEFAULT_CLAIM_DEADLINE, 0.01, deadline_max, &cs->opts.deadline))
		return DS_EXIT_USAGE;
	if (cs->opts.deadline >= (double)request_timeout)
		return cli_usage_error("serve", "--claim-deadline must be below --request-timeout (%lu s)", request_timeout);
	cs->opts.namespace = cli_get(args, OPT_CLAIM_NAMESPACE, NULL);
	return 0;
}

/* Checks the cluster options and sets *on when the cluster cache is
 * wanted: --cluster on, or auto in a Pod or with --kubeconfig. Returns 0
 * or DS_EXIT_USAGE. */
static int read_cluster_options(const struct cli_args *args, bool managed, bool *on)
{
	static const char *const clusters[] = {"auto", "on", "off", NULL};
	static const char *const unsynced[] = {"allow", "deny", NULL};
	const char *cluster = cli_get(args, OPT_CLUSTER, "auto");

	if (!one_of(cluster, clusters))
		return cli_usage_error("serve", "--cluster must be auto, on or off, not '%s'", cluster);
	if (!one_of(cli_get(args, OPT_ON_UNSYNCED, "allow"), unsynced))
		return cli_usage_error("serve", "--on-unsynced must be allow or deny");
	if (cli_has(args, OPT_CONTEXT) && !cli_has(args, OPT_KUBECONFIG))
		return cli_usage_error("serve", "--context needs --kubeconfig");
	if (!strcmp(cluster, "off") && cli_has(args, OPT_KUBECONFIG) && !managed)
		return cli_usage_error("serve", "--kubeconfig is for the cluster cache, which --cluster off turns off");
	if (!strcmp(cluster, "off") && (cli_has(args, OPT_POLICY_REPORTS) || cli_has(args, OPT_AUDIT_DETAIL)))
		return cli_usage_error("serve", "--policy-reports and --audit-metrics-detail audit the cluster cache, "
						"which --cluster off turns off");
	if (cli_has(args, OPT_LEASE_NAMESPACE) && !cli_has(args, OPT_POLICY_REPORTS))
		return cli_usage_error("serve", "--lease-namespace is for --policy-reports");
	if (!strcmp(cluster, "auto"))
		*on = cli_has(args, OPT_KUBECONFIG) || kube_in_cluster(NULL);
	else
		*on = !strcmp(cluster, "on");
	return 0;
}

/* The options that go with --manage-certs only. */
static const int managed_options[] = {OPT_CERT_SECRET,        OPT_SERVICE,          OPT_SERVICE_NAMESPACE,
				      OPT_VALIDATING_WEBHOOK, OPT_MUTATING_WEBHOOK, OPT_CA_VALIDITY,
				      OPT_CERT_VALIDITY,      OPT_CA_OVERLAP};

#define MANAGED_OPTION_COUNT (sizeof(managed_options) / sizeof(managed_options[0]))

/* Checks where the certificate comes from: the files, or --manage-certs,
 * whose options it reads into *certs (strings borrowed from args; the
 * client, and the namespace when not given, come once connected). Sets
 * *managed. Returns 0 or DS_EXIT_USAGE. */
static int read_cert_options(const struct cli_args *args, ds_certmgr_options *certs, bool *managed)
{
	char *error = NULL;
	ds_certmgr_options check;

	*managed = cli_has(args, OPT_MANAGE_CERTS);
	if (!*managed) {
		for (size_t i = 0; i < MANAGED_OPTION_COUNT; i++)
			if (cli_has(args, managed_options[i]))
				return cli_usage_error("serve", "--%s goes with --manage-certs",
						       options[managed_options[i]].name);
		if (!cli_has(args, OPT_CERT) || !cli_has(args, OPT_KEY))
			return cli_usage_error("serve", "--tls-cert and --tls-key are required (or --manage-certs)");
		return 0;
	}
	if (cli_has(args, OPT_CERT) || cli_has(args, OPT_KEY))
		return cli_usage_error("serve", "--manage-certs makes its own certificate: leave out --tls-cert and "
						"--tls-key");
	*certs = (ds_certmgr_options){
		.namespace = cli_get(args, OPT_SERVICE_NAMESPACE, NULL),
		.secret = cli_get(args, OPT_CERT_SECRET, "dsguard-tls"),
		.service = cli_get(args, OPT_SERVICE, "dsguard"),
		.validating = cli_get(args, OPT_VALIDATING_WEBHOOK, NULL),
		.mutating = cli_get(args, OPT_MUTATING_WEBHOOK, NULL),
	};
	if (cli_get_duration(&serve_command, args, OPT_CA_VALIDITY, DS_MANAGED_CA_SECONDS, &certs->ca_seconds) ||
	    cli_get_duration(&serve_command, args, OPT_CERT_VALIDITY, DS_MANAGED_CERT_SECONDS, &certs->serving_seconds) ||
	    cli_get_duration(&serve_command, args, OPT_CA_OVERLAP, DS_MANAGED_OVERLAP_SECONDS, &certs->overlap_seconds))
		return DS_EXIT_USAGE;
	check = *certs;
	if (!check.namespace)
		check.namespace = "default"; /* the namespace comes later: check the rest now */
	if (ds_certmgr_check_options(&check, &error) < 0) {
		cli_usage_error("serve", "--manage-certs: %s", error ? error : "out of memory");
		free(error);
		return DS_EXIT_USAGE;
	}
	return 0;
}

/* Checks the options, fills opts, *claims and *certs, and sets *cluster
 * when the cluster cache is wanted and *managed with --manage-certs.
 * Returns 0 or DS_EXIT_USAGE. */
static int read_options(const struct cli_args *args, ds_server_options *opts, bool *cluster,
			struct claim_settings *claims, ds_certmgr_options *certs, bool *managed)
{
	unsigned long max_body, idle, request, conns;

	if (read_cert_options(args, certs, managed) != 0 || read_cluster_options(args, *managed, cluster) != 0)
		return DS_EXIT_USAGE;
	if (ds_log_setup(cli_get(args, OPT_LOG_FORMAT, "json"), cli_get(args, OPT_LOG_LEVEL, "info")) < 0)
		return cli_usage_error("serve", "--log-format must be json or text, --log-level debug, info, warn or error");
	if (cli_get_ulong(&serve_command, args, OPT_MAX_BODY, DS_REVIEW_MAX_BODY, 1ul << 30, &max_body) ||
	    cli_get_ulong(&serve_command, args, OPT_IDLE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, 3600, &idle) ||
	    cli_get_ulong(&serve_command, args, OPT_REQUEST_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, 3600, &request) ||
	    cli_get_ulong(&serve_command, args, OPT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS, 1u << 20, &conns))
		return DS_EXIT_USAGE;
	if (max_body == 0 || idle == 0 || request == 0 || conns == 0)
		return cli_usage_error("serve", "--max-body-bytes, --idle-timeout, --request-timeout and "
						"--max-connections must be at least 1");
	if (read_claim_options(args, *cluster, request, claims) != 0)
		return DS_EXIT_USAGE;
	*opts = (ds_server_options){
		.listen = cli_get(args, OPT_LISTEN, ":8443"),
		.cert_path = cli_get(args, OPT_CERT, NULL),
		.key_path = cli_get(args, OPT_KEY, NULL),
		.client_ca_path = cli_get(args, OPT_CLIENT_CA, NULL),
		.config_path = cli_get(args, OPT_CONFIG, NULL),
		.deny_unsynced = !strcmp(cli_get(args, OPT_ON_UNSYNCED, "allow"), "deny"),
		.max_body_bytes = max_body,
		.idle_timeout = (unsigned)idle,
		.request_timeout = (unsigned)request,
		.connection_limit = (unsigned)conns,
		.audit_metrics_detail = cli_has(args, OPT_AUDIT_DETAIL),
	};
	return 0;
}

/* Serves until SIGTERM or SIGINT: SIGHUP reloads, and once a second the
 * files are checked for changes. */
static void run(ds_server *srv, const sigset_t *signals)
{
	struct timespec second = {1, 0};

	for (;;) {
		int sig = sigtimedwait(signals, NULL, &second);
		if (sig == SIGTERM || sig == SIGINT) {
			ds_log(DS_LOG_INFO, "%s: no longer accepting, finishing the requests in flight",
			       sig == SIGTERM ? "SIGTERM" : "SIGINT");
			return;
		}
		if (sig == SIGHUP) {
			ds_log(DS_LOG_INFO, "SIGHUP: reloading the config and the certificate");
			ds_server_reload(srv);
		} else {
			ds_server_poll(srv);
		}
	}
}

/* Passes the cluster cache's log lines on to the log. */
static void on_cache_log(void *data, kube_log_level level, const char *message)
{
	(void)data;
	ds_log(level == KUBE_LOG_WARN ? DS_LOG_WARN : DS_LOG_INFO, "cluster cache: %s", message);
}

/* A client for the API server from --kubeconfig (and --context), else
 * from the Pod's service account. Sets *ns to a copy of the namespace that
 * names (the context's, the Pod's; NULL: none). Returns the client, or NULL
 * with *error set (a bad kubeconfig is named by file and line). */
static kube_client *connect_api(const struct cli_args *args, char **ns, char **error)
{
	const char *path = cli_get(args, OPT_KUBECONFIG, NULL);
	kube_config kc;
	int rc = path ? kube_config_load(path, cli_get(args, OPT_CONTEXT, NULL), &kc, error)
		      : kube_config_in_cluster(NULL, &kc, error);

	*ns = NULL;
	if (rc != 0)
		return NULL;
	if (kc.namespace && !(*ns = strdup(kc.namespace))) {
		kube_config_free(&kc);
		ds_fail(error, "out of memory");
		return NULL;
	}
	return kube_client_new(&kc, error);
}

/* Passes the leader election's log lines on to the log. */
static void on_lease_log(void *data, kube_log_level level, const char *message)
{
	(void)data;
	ds_log(level == KUBE_LOG_WARN ? DS_LOG_WARN : DS_LOG_INFO, "policy reports: %s", message);
}

/* This process's identity among the replicas: the host name (the Pod's
 * name) and a random suffix, as client-go's leader election makes it.
 * Writes it into buf and returns it. */
static const char *identity(char *buf, size_t size)
{
	char host[256] = "dsguard";
	unsigned suffix = (unsigned)getpid() ^ (unsigned)time(NULL);

	if (gethostname(host, sizeof(host) - 1) != 0)
		strcpy(host, "dsguard");
	host[sizeof(host) - 1] = '\0';
	if (getrandom(&suffix, sizeof(suffix), 0) != sizeof(suffix))
		suffix ^= (unsigned)clock();
	snprintf(buf, size, "%.200s_%08x", host, suffix);
	return buf;
}

/* Starts the election of the replica that writes PolicyReports, on a
 * clone of client, in --lease-namespace, else ns (the Pod's or the
 * context's), else "default". Returns it, or NULL after logging why. */
static kube_lease *start_lease(const struct cli_args *args, kube_client *client, const char *ns)
{
	char id[300], *error = NULL;
	kube_client *own = kube_client_clone(client, &error);
	kube_lease_options lo = {.namespace = cli_get(args, OPT_LEASE_NAMESPACE, ns && *ns ? ns : "default"),
				 .name = AUDIT_LEASE, .identity = identity(id, sizeof(id)), .log = on_lease_log};
	kube_lease *lease = own ? kube_lease_start(own, &lo, &error) : NULL;

	if (lease)
		ds_log(DS_LOG_INFO, "policy reports: electing their writer with Lease %s/%s as %s", lo.namespace,
		       AUDIT_LEASE, id);
	else
		ds_log(DS_LOG_ERROR, "cannot start the leader election: %s", error ? error : "out of memory");
	free(error);
	return lease;
}

/* The namespace of the claim Leases: --claim-namespace, else the Pod's or
 * the kubeconfig context's (own_ns). Returns a new string, NULL with
 * *error set when there is none or memory ran out. */
static char *claim_namespace(const struct claim_settings *cs, const char *own_ns, char **error)
{
	const char *ns = cs->opts.namespace ? cs->opts.namespace : own_ns;
	char *copy = ns ? strdup(ns) : NULL;

	if (!copy)
		ds_fail(error, ns ? "out of memory"
				  : "--claims cluster needs a namespace for its Leases: give --claim-namespace NS (in a Pod "
				    "it is the Pod's own), or a kubeconfig context with a namespace");
	return copy;
}

/* Makes the claims over a clone of client, their Leases in namespace ns.
 * Returns them, or NULL with *error set. */
static ds_claims *make_claims(const struct claim_settings *cs, const char *ns, kube_client *client, char **error)
{
	ds_claims_options o = cs->opts;
	kube_client *own = kube_client_clone(client, error);
	ds_claims *claims;

	o.namespace = ns;
	claims = own ? ds_claims_new(own, &o, error) : NULL;
	if (claims)
		ds_log(DS_LOG_INFO, "claims: namespaces are claimed with Leases in namespace %s (TTL %g s, deadline %g s)",
		       ns, o.ttl, o.deadline);
	return claims;
}

/* What start_cluster() starts. */
struct cluster {
	kube_cache *cache;
	kube_client *reports; /* for the PolicyReport writer, with --policy-reports */
	kube_lease *lease;    /* with --policy-reports */
	ds_claims *claims;    /* with --claims cluster */
};

/* Releases what start_cluster() started, once the server is stopped: the
 * sweeper of the claims asks the cache, and the cache tells the claims of
 * deletions until it stops, so the claims are freed last. */
static void stop_cluster(struct cluster *c)
{
	kube_lease_stop(c->lease);
	ds_claims_stop(c->claims);
	kube_cache_stop(c->cache);
	ds_claims_free(c->claims);
	memset(c, 0, sizeof(*c));
}

/* Starts the cluster cache on client (taken), keeping what the audit reads
 * of each DaemonSet; with --claims cluster the claims beside it (told of
 * each DaemonSet the watch sees deleted); with --policy-reports a client for
 * the writer and the leader election. An API server that cannot be reached
 * is no error: the cache keeps trying with backoff. ns is the namespace the
 * connection names (NULL: none). Returns 0, or -1 after logging why. */
static int start_cluster(const struct cli_args *args, const struct claim_settings *cs, kube_client *client,
			 const char *ns, struct cluster *out)
{
	const char *what = "cluster cache";
	kube_cache_options cache_opts = {.log = on_cache_log};
	char *error = NULL, *claim_ns = NULL;

	memset(out, 0, sizeof(*out));
	cache_opts.keep = ds_server_audit_fields(&cache_opts.keep_count);
	if (cs->cluster && !(claim_ns = claim_namespace(cs, ns, &error))) {
		kube_client_free(client);
		client = NULL;
		what = "namespace claims";
	}
	if (client && cs->cluster && !(out->claims = make_claims(cs, claim_ns, client, &error))) {
		kube_client_free(client);
		client = NULL;
		what = "namespace claims";
	}
	if (client && cli_has(args, OPT_POLICY_REPORTS)) {
		out->reports = kube_client_clone(client, &error);
		out->lease = out->reports ? start_lease(args, client, ns) : NULL;
		if (!out->lease) { /* start_lease() said why */
			kube_client_free(client);
			client = NULL;
			what = "policy reports";
		}
	}
	if (client) {
		cache_opts.deleted = out->claims ? ds_claims_deleted : NULL;
		cache_opts.deleted_data = out->claims;
		ds_log(DS_LOG_INFO, "cluster cache: listing and watching DaemonSets at %s", kube_client_server(client));
		out->cache = kube_cache_start(client, &cache_opts, &error);
	}
	if (out->cache && out->claims && ds_claims_start(out->claims, out->cache, &error) < 0) {
		kube_cache_stop(out->cache);
		out->cache = NULL;
		what = "namespace claims";
	}
	if (!out->cache) {
		if (error || strcmp(what, "policy reports"))
			ds_log(DS_LOG_ERROR, "cannot start the %s: %s", what, error ? error : "out of memory");
		kube_client_free(out->reports);
		out->reports = NULL;
		stop_cluster(out);
	}
	free(error);
	free(claim_ns);
	return out->cache ? 0 : -1;
}

/* Gives *certs its client (taken by the server) and, when --service-namespace
 * was not given, the namespace ns of the kubeconfig context or the Pod.
 * Returns 0, or DS_EXIT_USAGE after saying why. */
static int prepare_certs(ds_certmgr_options *certs, kube_client *client, const char *ns)
{
	char *error = NULL;

	if (!certs->namespace && !(certs->namespace = ns))
		return cli_usage_error("serve", "--manage-certs needs --service-namespace: the kubeconfig context names "
						"no namespace");
	if (ds_certmgr_check_options(certs, &error) < 0) {
		cli_usage_error("serve", "--manage-certs: %s", error ? error : "out of memory");
		free(error);
		return DS_EXIT_USAGE;
	}
	if (!(certs->client = kube_client_clone(client, &error))) {
		ds_log(DS_LOG_ERROR, "cannot manage certificates: %s", error ? error : "out of memory");
		free(error);
		return DS_EXIT_USAGE;
	}
	return 0;
}

/* Connects to the API server when the cluster cache or --manage-certs
 * needs it: starts what start_cluster() starts into *state and readies
 * *certs. *ns gets the namespace the connection names (the caller frees
 * it). Returns 0, or DS_EXIT_USAGE after saying why (then nothing is left
 * running). */
static int connect_cluster(const struct cli_args *args, bool cluster, const struct claim_settings *cs, bool managed,
			   struct cluster *state, ds_certmgr_options *certs, char **ns)
{
	char *error = NULL;
	kube_client *client;

	*ns = NULL;
	if (!cluster && !managed)
		return 0;
	if (!(client = connect_api(args, ns, &error))) {
		ds_log(DS_LOG_ERROR, "%s: %s", cluster ? "cannot start the cluster cache" : "cannot manage certificates",
		       error ? error : "out of memory");
		free(error);
		return DS_EXIT_USAGE;
	}
	if (managed && prepare_certs(certs, client, *ns) != 0) {
		kube_client_free(client);
		return DS_EXIT_USAGE;
	}
	if (!cluster) {
		kube_client_free(client);
		return 0;
	}
	if (start_cluster(args, cs, client, *ns, state) < 0) {
		kube_client_free(certs->client);
		certs->client = NULL;
		return DS_EXIT_USAGE;
	}
	return 0;
}

/* Logs where the server listens and what it checks. */
static void log_start(const ds_server *srv, const ds_server_options *opts)
{
	cJSON *f = cJSON_CreateObject();

	cJSON_AddStringToObject(f, "address", ds_server_address(srv));
	cJSON_AddStringToObject(f, "version", DSGUARD_VERSION);
	cJSON_AddBoolToObject(f, "mTLS", opts->client_ca_path != NULL);
	if (opts->manage_certs)
		cJSON_AddStringToObject(f, "certificateSecret", opts->manage_certs->secret);
	cJSON_AddStringToObject(f, "config", opts->config_path ? opts->config_path : "(defaults)");
	cJSON_AddBoolToObject(f, "cluster", opts->cluster != NULL);
	if (opts->cluster) {
		cJSON_AddStringToObject(f, "onUnsynced", opts->deny_unsynced ? "deny" : "allow");
		cJSON_AddBoolToObject(f, "auditMetricsDetail", opts->audit_metrics_detail);
		cJSON_AddBoolToObject(f, "policyReports", opts->lease != NULL);
		cJSON_AddStringToObject(f, "claims", opts->claims ? "cluster" : "local");
	}
	ds_log_fields(DS_LOG_INFO, "serving", f);
	if (!opts->cluster)
		ds_log(DS_LOG_WARN, "DS003 dedicated-namespace is off: the webhook has no cluster state (--cluster off, "
				    "or auto outside a cluster without --kubeconfig)");
}

/* Starts the server, serves until SIGTERM or SIGINT, and drains. Returns
 * the exit code. */
static int serve(const ds_server_options *opts, const sigset_t *signals)
{
	char *error = NULL;
	ds_server *srv = ds_server_start(opts, &error);

	if (!srv) {
		ds_log(DS_LOG_ERROR, "cannot serve: %s", error ? error : "out of memory");
		free(error);
		return DS_EXIT_USAGE;
	}
	log_start(srv, opts);
	run(srv, signals);
	ds_server_stop(srv, DRAIN_SECONDS);
	return DS_EXIT_OK;
}

/* Blocks the signals run() waits for. Called before any thread starts, so
 * that every thread inherits the mask and only run() takes them. */
static void block_signals(sigset_t *signals)
{
	sigemptyset(signals);
	sigaddset(signals, SIGHUP);
	sigaddset(signals, SIGTERM);
	sigaddset(signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, signals, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int cmd_serve(int argc, char **argv)
{
	struct cli_args args;
	ds_server_options opts;
	struct claim_settings claim_settings;
	struct cluster state = {0};
	ds_certmgr_options certs = {0};
	sigset_t signals;
	bool cluster = false, managed = false;
	char *ns = NULL;
	int rc;

	rc = cli_parse(&serve_command, argc, argv, &args);
	if (rc != 0 || args.help) {
		if (rc == 0)
			cli_args_free(&args);
		return rc;
	}
	rc = read_options(&args, &opts, &cluster, &claim_settings, &certs, &managed);
	if (rc == 0) {
		ds_arena_install(); /* before the cache's thread parses anything */
		block_signals(&signals);
		rc = connect_cluster(&args, cluster, &claim_settings, managed, &state, &certs, &ns);
	}
	if (rc == 0) {
		opts.cluster = state.cache;
		opts.claims = state.claims;
		opts.policy_reports = state.reports; /* taken by the server */
		opts.lease = state.lease;
		opts.manage_certs = managed ? &certs : NULL; /* the server takes certs.client */
		rc = serve(&opts, &signals);
	}
	/* The server is stopped (drained, its audit and writer too) by now:
	 * nothing asks the cache or claims, and the Lease can be released. */
	stop_cluster(&state);
	if (rc == 0)
		ds_log(DS_LOG_INFO, "stopped");
	free(ns);
	cli_args_free(&args);
	return rc;
}
