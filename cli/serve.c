/* serve.c - `dsguard serve`: the HTTPS admission webhook. */
#include "cli/cli.h"
#include "cli/options.h"
#include "kube/kube.h"
#include "util/util.h"
#include "webhook/webhook.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DRAIN_SECONDS 25      /* at most this long for requests in flight at SIGTERM */
#define DEFAULT_IDLE_TIMEOUT 30
#define DEFAULT_REQUEST_TIMEOUT 10
#define DEFAULT_MAX_CONNECTIONS 1024

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
	OPT_MAX_BODY,
	OPT_IDLE_TIMEOUT,
	OPT_REQUEST_TIMEOUT,
	OPT_MAX_CONNECTIONS,
	OPT_LOG_FORMAT,
	OPT_LOG_LEVEL,
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
			     "DS003 until the cluster cache has synced: allow (default, with a warning), deny", false},
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
		   "it (--cluster off) DS003 is not evaluated.\n"
		   "With --manage-certs the certificate comes from a Secret instead of files: created when\n"
		   "missing, renewed at two thirds of its validity, its CA rotated with an overlap, served\n"
		   "within seconds of a change, and its CA kept in the caBundle of the webhook configurations;\n"
		   "/readyz answers 503 until every caBundle trusts the certificate served.",
	.options = options,
	.option_count = OPT_COUNT,
	.examples = "  dsguard serve --tls-cert certs/dev/tls.crt --tls-key certs/dev/tls.key --cluster off\n"
		    "  dsguard serve --tls-cert tls.crt --tls-key tls.key --kubeconfig ~/.kube/config --on-unsynced deny\n"
		    "  dsguard serve --listen 127.0.0.1:8443 --tls-cert tls.crt --tls-key tls.key --config dsguard.yaml\n"
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

/* Checks the options, fills opts and *certs, and sets *cluster when the
 * cluster cache is wanted and *managed with --manage-certs. Returns 0 or
 * DS_EXIT_USAGE. */
static int read_options(const struct cli_args *args, ds_server_options *opts, bool *cluster,
			ds_certmgr_options *certs, bool *managed)
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

/* Starts the cluster cache on client (taken). An API server that cannot be
 * reached is no error: the cache keeps trying with backoff. Returns the
 * running cache, or NULL after logging why. */
static kube_cache *start_cluster(kube_client *client)
{
	kube_cache_options cache_opts = {.log = on_cache_log};
	char *error = NULL;
	kube_cache *cache;

	ds_log(DS_LOG_INFO, "cluster cache: listing and watching DaemonSets at %s", kube_client_server(client));
	cache = kube_cache_start(client, &cache_opts, &error);
	if (!cache)
		ds_log(DS_LOG_ERROR, "cannot start the cluster cache: %s", error ? error : "out of memory");
	free(error);
	return cache;
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
 * needs it: starts the cache and readies *certs. *ns gets the namespace
 * the connection names (the caller frees it). Returns 0, or DS_EXIT_USAGE
 * after saying why (then nothing is left running). */
static int connect_cluster(const struct cli_args *args, bool cluster, bool managed, kube_cache **cache,
			   ds_certmgr_options *certs, char **ns)
{
	char *error = NULL;
	kube_client *client;

	*cache = NULL;
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
	if (!(*cache = start_cluster(client))) {
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
	if (opts->cluster)
		cJSON_AddStringToObject(f, "onUnsynced", opts->deny_unsynced ? "deny" : "allow");
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
	ds_certmgr_options certs = {0};
	kube_cache *cache = NULL;
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
	rc = read_options(&args, &opts, &cluster, &certs, &managed);
	if (rc == 0) {
		ds_arena_install(); /* before the cache's thread parses anything */
		block_signals(&signals);
		rc = connect_cluster(&args, cluster, managed, &cache, &certs, &ns);
	}
	if (rc == 0) {
		opts.cluster = cache;
		opts.manage_certs = managed ? &certs : NULL;
		rc = serve(&opts, &signals); /* the server takes certs.client */
	}
	/* The server is stopped (drained) by now: nothing asks the cache. */
	kube_cache_stop(cache);
	if (rc == 0)
		ds_log(DS_LOG_INFO, "stopped");
	free(ns);
	cli_args_free(&args);
	return rc;
}
