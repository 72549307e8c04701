/* incluster.c - the config of a process running in a Pod: its service account and the Service env. */
#include "kube/private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "dir/name" as a new string, or NULL out of memory. */
static char *join(const char *dir, const char *name)
{
	char *path = NULL;

	return asprintf(&path, "%s/%s", dir, name) < 0 ? NULL : path;
}

bool kube_in_cluster(const char *dir)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	char *token = join(dir ? dir : KUBE_SERVICE_ACCOUNT_DIR, "token");
	bool ok = host && *host && token && access(token, R_OK) == 0;

	free(token);
	return ok;
}

/* https://HOST:PORT from the environment, an IPv6 host in brackets. */
static int server_url(kube_config *cfg, char **error)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	bool v6 = host && strchr(host, ':');

	if (!host || !*host || !port || !*port)
		return ds_fail(error, "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
				 "must be set");
	if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 || strpbrk(host, "/@?# "))
		return ds_fail(error, "KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is malformed");
	if (asprintf(&cfg->server, v6 ? "https://[%s]:%s" : "https://%s:%s", host, port) < 0) {
		cfg->server = NULL;
		return ds_fail(error, "out of memory");
	}
	return 0;
}

/* The Pod's namespace from dir/namespace, when the file is there. */
static int read_namespace(const char *dir, kube_config *cfg, char **error)
{
	char *path = join(dir, "namespace");
	char *text;
	size_t len = 0;

	if (!path)
		return ds_fail(error, "out of memory");
	if (access(path, F_OK) < 0) {
		free(path);
		return 0;
	}
	text = kube_read_file(path, 256, &len, error);
	free(path);
	if (!text)
		return -1;
	text[strcspn(text, " \t\r\n")] = '\0';
	if (*text)
		cfg->namespace = text;
	else
		free(text);
	return 0;
}

static int fill(const char *dir, kube_config *cfg, char **error)
{
	if (server_url(cfg, error) < 0)
		return -1;
	cfg->source = strdup(dir);
	cfg->token_file = join(dir, "token");
	cfg->ca_file = join(dir, "ca.crt");
	if (!cfg->source || !cfg->token_file || !cfg->ca_file)
		return ds_fail(error, "out of memory");
	if (access(cfg->ca_file, R_OK) < 0)
		return ds_fail(error, "%s: cannot read the cluster's CA certificate", cfg->ca_file);
	if (access(cfg->token_file, R_OK) < 0)
		return ds_fail(error, "%s: cannot read the service account token", cfg->token_file);
	return read_namespace(dir, cfg, error);
}

int kube_config_in_cluster(const char *dir, kube_config *cfg, char **error)
{
	memset(cfg, 0, sizeof(*cfg));
	if (fill(dir ? dir : KUBE_SERVICE_ACCOUNT_DIR, cfg, error) == 0)
		return 0;
	kube_config_free(cfg);
	return -1;
}
