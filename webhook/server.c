/* server.c - the HTTPS server: libmicrohttpd daemons over TLS on one listen
 * socket, certificate generations and reloads, config reloads, drain. */
#include "config/config.h"
#include "webhook/internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* GnuTLS priorities: TLS 1.3 first, then 1.2, nothing older; NORMAL's
 * ciphers and groups (the same suites), reordered so that the server's
 * order decides: AES-128-GCM with SHA-256 first (a SHA-384 suite spends
 * about a quarter of a handshake in SHA-512), X25519 then P-256, which
 * Go's crypto/tls, the API server's client, offers first
 * (docs/performance.md, "New TLS connections"). */
#define TLS_PRIORITIES                                                                                          \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"                                                            \
	":-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CCM:+AES-256-CCM:+AES-128-CBC"      \
	":+AES-256-CBC:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-SECP521R1:+GROUP-X448" \
	":+GROUP-FFDHE2048:+GROUP-FFDHE3072:+GROUP-FFDHE4096:+GROUP-FFDHE6144:+GROUP-FFDHE8192"                 \
	":%SERVER_PRECEDENCE"
#define MAX_THREADS 64
#define RETIRE_GRACE 5        /* seconds past the idle timeout an old generation may keep connections */
#define EXPIRY_WARN_DAYS 30   /* warn when the certificate expires sooner */
#define DRAIN_QUIET 0.2       /* seconds without a request in flight that end a drain */
#define DRAIN_STEP_NS 10000000L
#define ROOM 64               /* connections libmicrohttpd takes past --max-connections (see daemon_options) */
#define SPARE_FILES 256       /* open files besides connections: listen sockets, epoll, the cluster client */

double ds_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Routes libmicrohttpd's own messages (TLS handshake failures and the
 * like) to the log at debug level. The message is formatted whole: the log
 * cuts a line too long on a character boundary, where a fixed buffer
 * would cut it inside one. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char *text;
	size_t len;

	(void)cls;
	if (!ds_log_enabled(DS_LOG_DEBUG))
		return;
	text = ds_vformat(fmt, ap);
	if (!text)
		return;
	len = strlen(text);
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	ds_log(DS_LOG_DEBUG, "libmicrohttpd: %s", text);
	free(text);
}

/* Follows each connection of gen (cls) from its start to its close, for
 * the request deadline and room for newcomers (connections.c); the
 * record is the connection's socket context. With --client-ca, also makes
 * each new TLS session require a client certificate signed by the CA
 * before its handshake. */
static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct generation *gen = cls;
	const union MHD_ConnectionInfo *info;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		ds_conns_closed(&gen->srv->conns, *socket_context);
		*socket_context = NULL;
		return;
	}
	info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
	*socket_context = info ? ds_conns_open(&gen->srv->conns, info->connect_fd, ds_monotonic()) : NULL;
	if (!gen->files.client_ca_pem)
		return;
	info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (info && info->tls_session)
		ds_mtls_require(info->tls_session);
}

/* Fills ops with the daemon options of gen. Returns the number used. */
static int daemon_options(const struct generation *gen, struct MHD_OptionItem *ops)
{
	const ds_server *srv = gen->srv;
	int n = 0;

	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, srv->listen_fd, NULL};
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, gen->files.cert_pem};
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, gen->files.key_pem};
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES};
	/* Room past the limit: libmicrohttpd must accept the newcomer that
	 * makes connections.c close the oldest, and count that one until it is
	 * gone. */
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, srv->opts.connection_limit + ROOM, NULL};
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, srv->opts.idle_timeout, NULL};
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)ds_http_on_completed, (void *)gen};
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, (void *)gen};
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL};
	if (srv->threads > 1)
		ops[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, srv->threads, NULL};
	if (gen->files.client_ca_pem)
		ops[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, gen->files.client_ca_pem};
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	return n;
}

/* Starts a daemon on the listen socket serving `files` (from `source`),
 * which it takes (they are released on failure too). Returns the new
 * generation, or NULL with *error set. */
static struct generation *generation_start(ds_server *srv, ds_tls_files *files, const char *source, char **error)
{
	struct generation *gen = calloc(1, sizeof(*gen));
	struct MHD_OptionItem ops[16];
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | MHD_USE_ITC | MHD_USE_ERROR_LOG;

	if (!gen) {
		ds_tls_files_free(files);
		ds_fail(error, "out of memory");
		return NULL;
	}
	gen->srv = srv;
	gen->files = *files;
	memset(files, 0, sizeof(*files));
	daemon_options(gen, ops);
	flags |= MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES ? MHD_USE_EPOLL : MHD_USE_POLL;
	gen->daemon = MHD_start_daemon(flags, 0, NULL, NULL, ds_http_on_request, gen, MHD_OPTION_ARRAY, ops,
				       MHD_OPTION_END);
	if (!gen->daemon) {
		ds_fail(error, "libmicrohttpd could not start serving %s (run with --log-level debug for its reason)",
			  source);
		ds_tls_files_free(&gen->files);
		free(gen);
		return NULL;
	}
	return gen;
}

/* Stops gen's daemon (closing its connections) and frees it. */
static void generation_free(struct generation *gen)
{
	MHD_stop_daemon(gen->daemon);
	ds_tls_files_free(&gen->files);
	free(gen);
}

/* The connections gen's daemon has open. */
static unsigned generation_connections(const struct generation *gen)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(gen->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return info ? info->num_connections : 0;
}

/* Makes the current generation stop accepting and puts it on the retired
 * list, to be stopped once its connections are gone. Called with gen_lock
 * held. */
static void generation_retire(ds_server *srv, struct generation *gen)
{
	MHD_quiesce_daemon(gen->daemon);
	atomic_store(&gen->retired, true);
	gen->retire_deadline = (time_t)ds_monotonic() + (time_t)srv->opts.idle_timeout + RETIRE_GRACE;
	gen->next = srv->retired;
	srv->retired = gen;
}

/* Stops the retired generations that have no connection left, are past
 * their deadline, or all of them with `all`. */
static void reap_retired(ds_server *srv, bool all)
{
	struct generation **at = &srv->retired;
	time_t now = (time_t)ds_monotonic();

	pthread_mutex_lock(&srv->gen_lock);
	while (*at) {
		struct generation *gen = *at;
		if (all || now >= gen->retire_deadline || generation_connections(gen) == 0) {
			*at = gen->next;
			generation_free(gen);
		} else {
			at = &gen->next;
		}
	}
	pthread_mutex_unlock(&srv->gen_lock);
}

/* Records the certificate's expiry and warns when it is near. */
static void note_expiry(ds_server *srv, time_t not_after, const char *source)
{
	double days = difftime(not_after, time(NULL)) / 86400;

	atomic_store(&srv->metrics.cert_not_after, (long long)not_after);
	if (days < 0)
		ds_log(DS_LOG_ERROR, "the serving certificate %s has expired", source);
	else if (days < EXPIRY_WARN_DAYS && !srv->opts.manage_certs)
		ds_log(DS_LOG_WARN, "the serving certificate %s expires in %.0f days", source, days);
}

/* Remembers what the certificate files look like now. */
static void read_cert_sigs(ds_server *srv)
{
	if (srv->opts.cert_path)
		ds_file_sig_read(srv->opts.cert_path, &srv->cert_sig);
	if (srv->opts.key_path)
		ds_file_sig_read(srv->opts.key_path, &srv->key_sig);
	if (srv->opts.client_ca_path)
		ds_file_sig_read(srv->opts.client_ca_path, &srv->ca_sig);
}

/* Serves `files` (checked, from `source`; taken) on new connections: a new
 * generation replaces the current one, which finishes what it has. Any
 * thread. Returns 0, or -1 with *error set (counted) keeping the old one. */
static int serve_files(ds_server *srv, ds_tls_files *files, const char *source, char **error)
{
	time_t not_after = files->not_after;
	struct generation *gen = generation_start(srv, files, source, error);

	if (!gen) {
		atomic_fetch_add(&srv->metrics.cert_reloads[1], 1);
		return -1;
	}
	pthread_mutex_lock(&srv->gen_lock);
	generation_retire(srv, srv->current);
	srv->current = gen;
	pthread_mutex_unlock(&srv->gen_lock);
	atomic_fetch_add(&srv->metrics.cert_reloads[0], 1);
	note_expiry(srv, not_after, source);
	return 0;
}

/* ds_server_serve_pem() with serve_lock held. */
static int serve_pem(ds_server *srv, const char *cert_pem, const char *key_pem, const char *source, char **error)
{
	ds_tls_files files;

	if (ds_tls_pem_load(cert_pem, key_pem, source, srv->opts.client_ca_path, &files, error) < 0) {
		atomic_fetch_add(&srv->metrics.cert_reloads[1], 1);
		return -1;
	}
	return serve_files(srv, &files, source, error);
}

int ds_server_serve_pem(ds_server *srv, const char *cert_pem, const char *key_pem, const char *source, char **error)
{
	int rc;

	pthread_mutex_lock(&srv->serve_lock);
	rc = serve_pem(srv, cert_pem, key_pem, source, error);
	pthread_mutex_unlock(&srv->serve_lock);
	return rc;
}

/* Serves the certificate files as they are now on new connections (with
 * manage_certs: the pair served now, with the client CA file read again).
 * Returns 0, or -1 (logged and counted) keeping the old certificate. */
static int reload_certs(ds_server *srv)
{
	ds_tls_files files;
	char *error = NULL, *cert = NULL, *key = NULL;
	const char *source = srv->opts.cert_path ? srv->opts.cert_path : "the certificate served now";
	int rc = -1;

	/* One change at a time: the manager's thread must not serve a newer
	 * pair between the copy of the current one below and its reload. */
	pthread_mutex_lock(&srv->serve_lock);
	read_cert_sigs(srv);
	if (srv->opts.manage_certs) {
		pthread_mutex_lock(&srv->gen_lock);
		cert = strdup(srv->current->files.cert_pem);
		key = strdup(srv->current->files.key_pem);
		pthread_mutex_unlock(&srv->gen_lock);
		rc = cert && key ? serve_pem(srv, cert, key, source, &error) : ds_fail(&error, "out of memory");
		if (key)
			memset(key, 0, strlen(key));
	} else if (ds_tls_files_load(srv->opts.cert_path, srv->opts.key_path, srv->opts.client_ca_path, &files,
				     &error) == 0) {
		rc = serve_files(srv, &files, source, &error);
	} else {
		atomic_fetch_add(&srv->metrics.cert_reloads[1], 1);
	}
	pthread_mutex_unlock(&srv->serve_lock);
	free(cert);
	free(key);
	if (rc < 0)
		ds_log(DS_LOG_ERROR, "certificate reload failed, still serving the previous one: %s",
		       error ? error : "out of memory");
	else
		ds_log(DS_LOG_INFO, "certificate reloaded from %s", source);
	free(error);
	return rc;
}

/* Loads the config file into a fresh config. Returns 0, or -1 with *error
 * set (fresh is then at the defaults). */
static int load_config(const ds_server *srv, ds_config *fresh, char **error)
{
	ds_config_init(fresh);
	*error = NULL;
	if (!srv->opts.config_path || ds_config_load(srv->opts.config_path, fresh, error) == 0)
		return 0;
	if (!*error)
		ds_fail(error, "%s: cannot read the config", srv->opts.config_path);
	return -1;
}

/* Replaces the config with the file's current content. Returns 0, or -1
 * (logged and counted) keeping the old config. */
static int reload_config(ds_server *srv)
{
	ds_config fresh, old;
	char *error;

	if (!srv->opts.config_path)
		return 0;
	ds_file_sig_read(srv->opts.config_path, &srv->config_sig);
	if (load_config(srv, &fresh, &error) < 0) {
		ds_log(DS_LOG_ERROR, "config reload failed, keeping the previous config: %s",
		       error ? error : "out of memory");
		free(error);
		atomic_fetch_add(&srv->metrics.config_reloads[1], 1);
		return -1;
	}
	pthread_rwlock_wrlock(&srv->config_lock);
	old = srv->config;
	srv->config = fresh;
	pthread_rwlock_unlock(&srv->config_lock);
	ds_config_free(&old);
	ds_audit_reconfigured(srv->audit);
	atomic_fetch_add(&srv->metrics.config_reloads[0], 1);
	ds_log(DS_LOG_INFO, "config reloaded from %s", srv->opts.config_path);
	return 0;
}

/* Whether the file at path no longer has the signature `was`. */
static bool changed(const char *path, const ds_file_sig *was)
{
	ds_file_sig now;

	if (!path)
		return false;
	ds_file_sig_read(path, &now);
	return !ds_file_sig_equal(&now, was);
}

int ds_server_reload(ds_server *srv)
{
	int rc = reload_config(srv);

	return reload_certs(srv) < 0 ? -1 : rc;
}

void ds_server_poll(ds_server *srv)
{
	if (changed(srv->opts.cert_path, &srv->cert_sig) || changed(srv->opts.key_path, &srv->key_sig) ||
	    changed(srv->opts.client_ca_path, &srv->ca_sig))
		reload_certs(srv);
	if (changed(srv->opts.config_path, &srv->config_sig))
		reload_config(srv);
	reap_retired(srv, false);
	ds_conns_sweep(&srv->conns, ds_monotonic());
}

const char *ds_server_address(const ds_server *srv)
{
	return srv->address;
}

/* The number of worker threads: as asked, else one per online core. */
static unsigned thread_count(unsigned asked)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (asked)
		return asked > MAX_THREADS ? MAX_THREADS : asked;
	return cores < 1 ? 1 : cores > MAX_THREADS ? MAX_THREADS : (unsigned)cores;
}

/* Raises the soft limit on open files to `want` when the hard limit
 * allows (a shell's default of 1024 is below what --max-connections needs:
 * past it accept() fails and libmicrohttpd stops accepting, newcomers
 * included); warns when it cannot. */
static void raise_file_limit(rlim_t want)
{
	struct rlimit lim;

	if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur >= want)
		return;
	lim.rlim_cur = lim.rlim_max == RLIM_INFINITY || lim.rlim_max >= want ? want : lim.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur < want)
		ds_log(DS_LOG_WARN,
		       "the open-file limit (%llu) is below what --max-connections needs (%llu): past it new "
		       "connections wait; raise the limit (ulimit -n) or lower --max-connections",
		       (unsigned long long)lim.rlim_cur, (unsigned long long)want);
}

/* Loads the first certificate: the files, or with manage_certs a
 * placeholder until the Secret's is served. Returns 0 and fills *files, or
 * -1 with *error set. */
static int first_certs(ds_server *srv, ds_tls_files *files, char **error)
{
	read_cert_sigs(srv);
	if (!srv->opts.manage_certs)
		return ds_tls_files_load(srv->opts.cert_path, srv->opts.key_path, srv->opts.client_ca_path, files,
					 error);
	if (ds_certmgr_placeholder(srv->opts.manage_certs, srv->opts.client_ca_path, files, error) < 0)
		return -1;
	ds_log(DS_LOG_INFO, "certificates: serving a placeholder certificate until the one of Secret %s/%s is "
			    "loaded; /readyz answers 503 until then",
	       srv->opts.manage_certs->namespace, srv->opts.manage_certs->secret);
	return 0;
}

/* Loads the config and certificate, binds and starts the first
 * generation, and the certificate manager. Returns 0, or -1 with *error
 * set. */
static int start(ds_server *srv, char **error)
{
	ds_tls_files files;
	const char *source = srv->opts.cert_path ? srv->opts.cert_path : "a placeholder";

	if (srv->opts.config_path)
		ds_file_sig_read(srv->opts.config_path, &srv->config_sig);
	if (load_config(srv, &srv->config, error) < 0)
		return -1;
	if (first_certs(srv, &files, error) < 0)
		return -1;
	srv->listen_fd = ds_listen(srv->opts.listen, srv->address, sizeof(srv->address), error);
	if (srv->listen_fd < 0) {
		ds_tls_files_free(&files);
		return -1;
	}
	if (!srv->opts.manage_certs)
		note_expiry(srv, files.not_after, source);
	srv->current = generation_start(srv, &files, source, error);
	if (!srv->current)
		return -1;
	if (srv->opts.manage_certs) {
		srv->certmgr = ds_certmgr_start(srv, srv->opts.manage_certs, error);
		srv->certs_client_taken = true;
		return srv->certmgr ? 0 : -1;
	}
	return 0;
}

const char *const *ds_server_audit_fields(size_t *count)
{
	*count = ds_audit_field_count;
	return ds_audit_fields;
}

/* Starts the audit over the cluster cache, when there is one, with the
 * PolicyReport client (taken). Returns 0, or -1 with *error set. */
static int start_audit(ds_server *srv, const ds_server_options *opts, char **error)
{
	ds_audit_options ao = {.cache = opts->cluster, .config = &srv->config, .config_lock = &srv->config_lock,
			       .detail = opts->audit_metrics_detail, .reports_client = opts->policy_reports,
			       .lease = opts->lease};

	if (!opts->cluster) {
		kube_client_free(opts->policy_reports);
		return 0;
	}
	srv->audit = ds_audit_start(&ao, error);
	return srv->audit ? 0 : -1;
}

ds_server *ds_server_start(const ds_server_options *opts, char **error)
{
	ds_server *srv = calloc(1, sizeof(*srv));

	*error = NULL;
	if (!srv) {
		if (opts->manage_certs)
			kube_client_free(opts->manage_certs->client);
		kube_client_free(opts->policy_reports);
		ds_fail(error, "out of memory");
		return NULL;
	}
	srv->opts = *opts;
	srv->listen_fd = -1;
	srv->threads = thread_count(opts->threads);
	if (srv->opts.connection_limit < srv->threads)
		srv->opts.connection_limit = srv->threads;
	ds_conns_init(&srv->conns, srv->opts.connection_limit, srv->opts.request_timeout, &srv->metrics);
	raise_file_limit(srv->opts.connection_limit + ROOM + SPARE_FILES);
	ds_config_init(&srv->config);
	pthread_rwlock_init(&srv->config_lock, NULL);
	pthread_mutex_init(&srv->gen_lock, NULL);
	pthread_mutex_init(&srv->serve_lock, NULL);
	atomic_store(&srv->metrics.cluster_state, opts->cluster != NULL);
	if (opts->cluster)
		srv->cluster = ds_cluster_from_cache(opts->cluster, opts->claims, opts->deny_unsynced);
	srv->opts.policy_reports = NULL; /* the audit takes it */
	if (start(srv, error) < 0) {
		kube_client_free(opts->policy_reports);
		if (opts->manage_certs && !srv->certs_client_taken)
			kube_client_free(opts->manage_certs->client);
		ds_server_stop(srv, 0);
		return NULL;
	}
	if (start_audit(srv, opts, error) < 0) {
		ds_server_stop(srv, 0);
		return NULL;
	}
	return srv;
}

/* The connections all generations have open. */
static unsigned connection_count(ds_server *srv)
{
	unsigned n;

	pthread_mutex_lock(&srv->gen_lock);
	n = srv->current ? generation_connections(srv->current) : 0;
	for (const struct generation *gen = srv->retired; gen; gen = gen->next)
		n += generation_connections(gen);
	pthread_mutex_unlock(&srv->gen_lock);
	return n;
}

/* Waits until no connection is left, or no request has been in flight for
 * DRAIN_QUIET seconds, or grace seconds have passed. */
static void wait_for_drain(ds_server *srv, unsigned grace)
{
	double deadline = ds_monotonic() + grace, quiet_since = -1;
	struct timespec step = {0, DRAIN_STEP_NS};

	while (ds_monotonic() < deadline && connection_count(srv) > 0) {
		if (atomic_load(&srv->metrics.in_flight) > 0)
			quiet_since = -1;
		else if (quiet_since < 0)
			quiet_since = ds_monotonic();
		else if (ds_monotonic() - quiet_since >= DRAIN_QUIET)
			return;
		nanosleep(&step, NULL);
	}
}

void ds_server_stop(ds_server *srv, unsigned grace_seconds)
{
	if (!srv)
		return;
	/* First the certificate manager: nothing swaps generations after it. */
	ds_certmgr_stop(srv->certmgr);
	srv->certmgr = NULL;
	atomic_store(&srv->stopping, true);
	if (srv->current)
		MHD_quiesce_daemon(srv->current->daemon);
	if (srv->listen_fd >= 0)
		shutdown(srv->listen_fd, SHUT_RDWR);
	wait_for_drain(srv, grace_seconds);
	if (srv->current)
		generation_free(srv->current);
	reap_retired(srv, true);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	ds_conns_destroy(&srv->conns); /* every daemon is stopped: no connection is left */
	ds_audit_stop(srv->audit);     /* before the config it reads */
	ds_config_free(&srv->config);
	pthread_rwlock_destroy(&srv->config_lock);
	pthread_mutex_destroy(&srv->gen_lock);
	pthread_mutex_destroy(&srv->serve_lock);
	free(srv);
}
