/* kubeconfig.c - reads a kubeconfig file (clusters, users, contexts) into a kube_config. */
#include "kube/private.h"
#include "yaml/document.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The state of reading one kubeconfig. */
struct kc_reader {
	const char *path;
	char *dir;           /* the kubeconfig's directory, for relative names */
	ds_document *doc;    /* the file's first document, with positions */
	const cJSON *root;
	char **error;
};

/* A named entry of `clusters`, `users` or `contexts`: the inner map and the
 * key path that leads to it ("clusters[2].cluster"). */
struct kc_entry {
	const cJSON *node;
	char where[64];
};

/* Sets "path:line:col: message" (just "path: message" without a line).
 * Returns -1. */
static int fail_at(struct kc_reader *r, ds_pos pos, const char *message)
{
	if (!pos.line)
		return ds_fail(r->error, "%s: %s", r->path, message);
	return ds_fail(r->error, "%s:%u:%u: %s", r->path, pos.line, pos.column, message);
}

/* Where the value `item` starts in the file (0:0 when unknown). */
static ds_pos value_pos(const struct kc_reader *r, const cJSON *item)
{
	const ds_node_info *info = ds_document_where(r->doc, item);

	return info ? info->value : (ds_pos){0, 0};
}

/* The value under `key` of the map `node`, or NULL (also when node is not a
 * map). */
static const cJSON *get(const cJSON *node, const char *key)
{
	return cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, key) : NULL;
}

static int kc_error(struct kc_reader *r, const cJSON *at, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Sets "path:line:col: key: message" at the value `at`. Returns -1. */
static int kc_error(struct kc_reader *r, const cJSON *at, const char *key, const char *fmt, ...)
{
	ds_pos pos = value_pos(r, at);
	char *message = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	message = ds_vformat(fmt, ap);
	va_end(ap);
	rc = ds_fail(r->error, "%s:%u:%u: %s: %s", r->path, pos.line, pos.column, key,
		       message ? message : "out of memory");
	free(message);
	return rc;
}

/* The string under `key` of the entry into *out (NULL when absent, null or
 * empty). Returns 0, or -1 when it is not a string (a number, a boolean, a
 * list or a map) or memory runs out. */
static int get_string(struct kc_reader *r, const struct kc_entry *e, const char *key, char **out)
{
	const cJSON *v = get(e->node, key);

	*out = NULL;
	if (!v || cJSON_IsNull(v) || (cJSON_IsString(v) && !*v->valuestring))
		return 0;
	if (!cJSON_IsString(v))
		return kc_error(r, v, key, "must be a string (in %s)", e->where);
	*out = strdup(v->valuestring);
	return *out ? 0 : kc_error(r, v, key, "out of memory");
}

/* The boolean under `key` of the entry into *out (false when absent).
 * Returns 0, or -1 when it is anything but a boolean. */
static int get_bool(struct kc_reader *r, const struct kc_entry *e, const char *key, bool *out)
{
	const cJSON *v = get(e->node, key);

	*out = cJSON_IsTrue(v);
	if (v && !cJSON_IsBool(v))
		return kc_error(r, v, key, "must be true or false (in %s)", e->where);
	return 0;
}

/* Replaces *name with an absolute path (relative to the kubeconfig) that
 * must be readable. Returns 0, or -1 with the error at `key`. */
static int resolve_file(struct kc_reader *r, const struct kc_entry *e, const char *key, char **name)
{
	const cJSON *v = get(e->node, key);
	char *full = *name;

	if (!*name)
		return 0;
	if (**name != '/' && asprintf(&full, "%s/%s", r->dir, *name) < 0)
		return kc_error(r, v, key, "out of memory");
	if (full != *name) {
		free(*name);
		*name = full;
	}
	if (access(full, R_OK) < 0)
		return kc_error(r, v, key, "cannot read %s", full);
	return 0;
}

/* Decodes the base64 PEM under `key`. Returns 0 (nothing when absent), or -1
 * when it is not base64 of PEM text. */
static int get_pem_data(struct kc_reader *r, const struct kc_entry *e, const char *key,
			unsigned char **out, size_t *len)
{
	char *text = NULL;

	if (get_string(r, e, key, &text) < 0)
		return -1;
	if (!text)
		return 0;
	*out = kube_base64_decode(text, len);
	free(text);
	if (!*out || !memmem(*out, *len, "-----BEGIN ", 11)) {
		free(*out);
		*out = NULL;
		return kc_error(r, get(e->node, key), key, "is not base64-encoded PEM (in %s)", e->where);
	}
	return 0;
}

/* Finds the entry named `name` in the list `list` ("clusters") and returns
 * its `inner` map ("cluster") in *e. Returns 0, or -1 when it is missing
 * or malformed; `from` is where the name was given (NULL: an argument). */
static int find_entry(struct kc_reader *r, const char *list, const char *inner, const char *name,
		      const cJSON *from, struct kc_entry *e)
{
	const cJSON *seq = get(r->root, list);
	size_t i = 0;

	if (seq && !cJSON_IsArray(seq))
		return kc_error(r, seq, list, "must be a list");
	for (const cJSON *item = seq ? seq->child : NULL; item; item = item->next, i++) {
		const cJSON *n = get(item, "name");

		if (!cJSON_IsString(n) || strcmp(n->valuestring, name))
			continue;
		e->node = get(item, inner);
		snprintf(e->where, sizeof(e->where), "%s[%zu].%s", list, i, inner);
		if (!cJSON_IsObject(e->node))
			return kc_error(r, e->node ? e->node : item, e->where, "must be a map");
		return 0;
	}
	if (from)
		return kc_error(r, from, inner, "no %s named \"%s\" in %s", inner, name, list);
	return ds_fail(r->error, "%s: no %s named \"%s\" in %s", r->path, inner, name, list);
}

static int read_server(struct kc_reader *r, const struct kc_entry *e, kube_config *cfg)
{
	size_t n;

	if (get_string(r, e, "server", &cfg->server) < 0)
		return -1;
	if (!cfg->server)
		return kc_error(r, e->node, e->where, "has no server");
	if (strncmp(cfg->server, "https://", 8) && strncmp(cfg->server, "http://", 7))
		return kc_error(r, get(e->node, "server"), "server",
				"must be an https:// or http:// URL, not \"%s\"", cfg->server);
	n = strlen(cfg->server);
	while (n > 0 && cfg->server[n - 1] == '/')
		cfg->server[--n] = '\0';
	return 0;
}

static int read_cluster(struct kc_reader *r, const struct kc_entry *e, kube_config *cfg)
{
	const cJSON *sni = get(e->node, "tls-server-name");

	if (sni)
		return kc_error(r, sni, "tls-server-name", "is not supported by dsguard");
	if (read_server(r, e, cfg) < 0 || get_bool(r, e, "insecure-skip-tls-verify", &cfg->insecure) < 0 ||
	    get_string(r, e, "proxy-url", &cfg->proxy) < 0 ||
	    get_string(r, e, "certificate-authority", &cfg->ca_file) < 0 ||
	    get_pem_data(r, e, "certificate-authority-data", &cfg->ca_data, &cfg->ca_len) < 0)
		return -1;
	if (cfg->ca_data) {
		free(cfg->ca_file);
		cfg->ca_file = NULL;
	}
	if (cfg->insecure && (cfg->ca_file || cfg->ca_data))
		return kc_error(r, get(e->node, "insecure-skip-tls-verify"), "insecure-skip-tls-verify",
				"cannot be combined with a certificate authority");
	return resolve_file(r, e, "certificate-authority", &cfg->ca_file);
}

/* Refuses the ways of logging in dsguard does not implement. */
static int refuse_user_kinds(struct kc_reader *r, const struct kc_entry *e)
{
	static const char *const refused[] = {"exec", "auth-provider", "username", "password"};

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		const cJSON *v = get(e->node, refused[i]);

		if (v)
			return kc_error(r, v, refused[i], "is not supported by dsguard (in %s): use a token, "
				        "a tokenFile or a client certificate", e->where);
	}
	return 0;
}

/* client-certificate(-data) and client-key(-data), which go together. */
static int read_client_cert(struct kc_reader *r, const struct kc_entry *e, kube_config *cfg)
{
	if (get_string(r, e, "client-certificate", &cfg->cert_file) < 0 ||
	    get_string(r, e, "client-key", &cfg->key_file) < 0 ||
	    get_pem_data(r, e, "client-certificate-data", &cfg->cert_data, &cfg->cert_len) < 0 ||
	    get_pem_data(r, e, "client-key-data", &cfg->key_data, &cfg->key_len) < 0)
		return -1;
	if (cfg->cert_data) {
		free(cfg->cert_file);
		cfg->cert_file = NULL;
	}
	if (cfg->key_data) {
		free(cfg->key_file);
		cfg->key_file = NULL;
	}
	if (!(cfg->cert_file || cfg->cert_data) != !(cfg->key_file || cfg->key_data))
		return kc_error(r, e->node, e->where, "a client certificate needs its key, and a key its certificate");
	if (resolve_file(r, e, "client-certificate", &cfg->cert_file) < 0)
		return -1;
	return resolve_file(r, e, "client-key", &cfg->key_file);
}

static int read_user(struct kc_reader *r, const struct kc_entry *e, kube_config *cfg)
{
	const cJSON *tok;

	if (refuse_user_kinds(r, e) < 0 || get_string(r, e, "token", &cfg->token) < 0 ||
	    get_string(r, e, "tokenFile", &cfg->token_file) < 0 || read_client_cert(r, e, cfg) < 0)
		return -1;
	tok = get(e->node, "token");
	if (cfg->token && !kube_token_valid(cfg->token))
		return kc_error(r, tok, "token", "holds spaces or control characters");
	return resolve_file(r, e, "tokenFile", &cfg->token_file);
}

/* The context's cluster, user and namespace. */
static int read_context(struct kc_reader *r, const struct kc_entry *ctx, kube_config *cfg)
{
	struct kc_entry cluster, user;
	char *cluster_name = NULL, *user_name = NULL;
	int rc = -1;

	if (get_string(r, ctx, "cluster", &cluster_name) < 0 || get_string(r, ctx, "user", &user_name) < 0 ||
	    get_string(r, ctx, "namespace", &cfg->namespace) < 0)
		goto out;
	if (!cluster_name) {
		rc = kc_error(r, ctx->node, ctx->where, "names no cluster");
		goto out;
	}
	if (find_entry(r, "clusters", "cluster", cluster_name, get(ctx->node, "cluster"), &cluster) < 0 ||
	    read_cluster(r, &cluster, cfg) < 0)
		goto out;
	rc = 0;
	if (user_name && (find_entry(r, "users", "user", user_name, get(ctx->node, "user"), &user) < 0 ||
			  read_user(r, &user, cfg) < 0))
		rc = -1;
out:
	free(cluster_name);
	free(user_name);
	return rc;
}

/* Picks the context: the one asked for, else current-context. */
static int choose_context(struct kc_reader *r, const char *wanted, kube_config *cfg)
{
	struct kc_entry ctx;
	const cJSON *current = get(r->root, "current-context");

	if (!wanted && (!cJSON_IsString(current) || !*current->valuestring))
		return current ? kc_error(r, current, "current-context", "must name a context")
			       : ds_fail(r->error, "%s: no current-context; name a context", r->path);
	cfg->context = strdup(wanted ? wanted : current->valuestring);
	if (!cfg->context)
		return ds_fail(r->error, "%s: out of memory", r->path);
	if (find_entry(r, "contexts", "context", cfg->context, wanted ? NULL : current, &ctx) < 0)
		return -1;
	return read_context(r, &ctx, cfg);
}

/* The directory of path ("." when it has none). */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	return slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
}

/* Refuses a value that came through an alias: a kubeconfig holds no
 * anchors. `at` is the key of the nearest mapping member around item, where
 * the error is reported. Returns 0 or -1. */
static int refuse_aliases(struct kc_reader *r, const cJSON *item, ds_pos at)
{
	const ds_node_info *info = ds_document_where(r->doc, item);

	if (info && info->key.line)
		at = info->key;
	if (info && info->anchor_line)
		return fail_at(r, at, "anchors and aliases are not supported in a kubeconfig");
	for (const cJSON *child = item->child; child; child = child->next)
		if (refuse_aliases(r, child, at) < 0)
			return -1;
	return 0;
}

static int read_root(struct kc_reader *r, const char *context, kube_config *cfg)
{
	/* The replaced values first: they hold the alias of a "<<" merge key
	 * under the "<<" key itself, where the merged members only have the
	 * positions of the anchored text. */
	if ((r->doc->replaced && refuse_aliases(r, r->doc->replaced, value_pos(r, r->root)) < 0) ||
	    refuse_aliases(r, r->root, value_pos(r, r->root)) < 0)
		return -1;
	if (!cJSON_IsObject(r->root))
		return kc_error(r, r->root, "(top)", "a kubeconfig must be a map");
	cfg->source = strdup(r->path);
	if (!cfg->source || !r->dir)
		return ds_fail(r->error, "%s: out of memory", r->path);
	return choose_context(r, context, cfg);
}

/* Keeps the first document of the file and stops reading there: a
 * kubeconfig is one document, and what follows it is not read. */
static int keep_first(void *data, ds_document *doc)
{
	struct kc_reader *r = data;

	r->doc = doc;
	return -1;
}

/* Reads the first document of text into r->doc. Returns 0, or -1 with
 * *error set to the first syntax or limit error ("path:line:col: message")
 * or "path: empty" when the file holds no document. */
static int read_document(struct kc_reader *r, const char *text, size_t len)
{
	ds_diag_list diags = {0};
	int rc = 0;

	if (ds_yaml_load(text, len, keep_first, r, &diags) < 0 && !r->doc) {
		rc = ds_fail(r->error, "%s: out of memory", r->path);
		for (size_t i = 0; i < diags.count; i++) {
			if (diags.items[i].is_error) {
				rc = fail_at(r, diags.items[i].pos, diags.items[i].message);
				break;
			}
		}
	} else if (!r->doc || !r->doc->root) {
		rc = ds_fail(r->error, "%s: empty", r->path);
	}
	ds_diag_list_free(&diags);
	return rc;
}

int kube_config_load(const char *path, const char *context, kube_config *cfg, char **error)
{
	struct kc_reader r = {.path = path, .error = error};
	size_t len = 0;
	char *text = kube_read_file(path, KUBE_MAX_FILE_BYTES, &len, error);
	int rc = -1;

	memset(cfg, 0, sizeof(*cfg));
	if (!text)
		return -1;
	if (read_document(&r, text, len) == 0) {
		r.root = r.doc->root;
		r.dir = dir_of(path);
		rc = read_root(&r, context, cfg);
	}
	if (rc < 0)
		kube_config_free(cfg);
	free(r.dir);
	ds_document_free(r.doc);
	free(text);
	return rc;
}

void kube_config_free(kube_config *cfg)
{
	free(cfg->source);
	free(cfg->context);
	free(cfg->server);
	free(cfg->namespace);
	free(cfg->proxy);
	free(cfg->ca_file);
	free(cfg->ca_data);
	free(cfg->token);
	free(cfg->token_file);
	free(cfg->cert_file);
	free(cfg->cert_data);
	free(cfg->key_file);
	free(cfg->key_data);
	memset(cfg, 0, sizeof(*cfg));
}
