/* audit.c - `dsguard audit`: the DaemonSets of a live cluster, reported as
 * `dsguard lint` reports files. */
#include "cli/cli.h"
#include "cli/options.h"
#include "kube/kube.h"
#include "lint/lint.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPT_KUBECONFIG, OPT_CONTEXT, OPT_FORMAT, OPT_CONFIG, OPT_FAIL_ON, OPT_VERBOSE, OPT_COUNT };

static const struct cli_option options[OPT_COUNT] = {
	[OPT_KUBECONFIG] = {"kubeconfig", 0, "FILE", "kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, "
						      "else the in-cluster service account)", false},
	[OPT_CONTEXT] = {"context", 0, "NAME", "kubeconfig context (default: current-context)", false},
	[OPT_FORMAT] = {"format", 'f', "FORMAT", "output format", false, cli_format_choices},
	[OPT_CONFIG] = {"config", 'c', "FILE", "config file (default: .dsguard.yaml when present)", false},
	[OPT_FAIL_ON] = {"fail-on", 0, "LEVEL", "exit 1 on findings of this level or above: error (default) or warning",
			 false},
	[OPT_VERBOSE] = {"verbose", 'v', NULL, "also list exempted findings (by a config exemption or dsguard.io/ignore)", false},
};

static const struct cli_command audit_command = {
	.name = "audit",
	.usage = "[OPTIONS]",
	.summary = "Lists every DaemonSet of a live cluster through the Kubernetes API and reports every rule\n"
		   "as 'dsguard lint' would (same formats, same exit codes). Each DaemonSet is named by its API\n"
		   "path, apis/apps/v1/namespaces/NS/daemonsets/NAME. Needs get and list on daemonsets.",
	.options = options,
	.option_count = OPT_COUNT,
	.examples = "  dsguard audit\n"
		    "  dsguard audit --kubeconfig ~/.kube/config --context prod --format sarif > audit.sarif\n",
};

/* The kubeconfig to read: --kubeconfig (flag), $KUBECONFIG (its first
 * file), then ~/.kube/config when it exists; NULL: in-cluster. Returns a
 * new string. */
static char *kubeconfig_path(const char *flag)
{
	const char *env = getenv("KUBECONFIG");
	const char *home = getenv("HOME");
	char *path = NULL;

	if (flag)
		return strdup(flag);
	if (env && *env)
		return strndup(env, strcspn(env, ":"));
	if (home && asprintf(&path, "%s/.kube/config", home) >= 0 && access(path, R_OK) == 0)
		return path;
	free(path);
	return NULL;
}

cJSON *cli_list_cluster(const char *cmd, const char *kubeconfig, const char *context)
{
	char *path = kubeconfig_path(kubeconfig), *error = NULL;
	kube_config kc;
	kube_client *client = NULL;
	cJSON *items = NULL;
	int rc = path ? kube_config_load(path, context, &kc, &error) : kube_config_in_cluster(NULL, &kc, &error);

	if (rc == 0)
		client = kube_client_new(&kc, &error);
	if (client)
		items = kube_list_daemonsets(client, &error);
	if (!items)
		fprintf(stderr, "dsguard %s: %s%s\n", cmd, error ? error : "out of memory",
			path ? "" : " (no kubeconfig found: give --kubeconfig)");
	kube_client_free(client);
	free(error);
	free(path);
	return items;
}

static int audit(const struct cli_args *args, const ds_config *cfg, ds_severity fail_on)
{
	ds_lint_options opts = {.config = cfg};
	ds_lint_report report;
	cJSON *items = cli_list_cluster("audit", cli_get(args, OPT_KUBECONFIG, NULL), cli_get(args, OPT_CONTEXT, NULL));
	int rc;

	if (!items)
		return DS_EXIT_USAGE;
	rc = ds_lint_objects(items, &opts, &report);
	cJSON_Delete(items);
	if (rc < 0) {
		fprintf(stderr, "dsguard audit: out of memory\n");
		return DS_EXIT_USAGE;
	}
	rc = cli_report("audit", stdout, cli_get(args, OPT_FORMAT, "text"), &report,
			&(ds_report_options){cfg, cli_has(args, OPT_VERBOSE)}, fail_on);
	ds_lint_report_free(&report);
	return rc;
}

int cmd_audit(int argc, char **argv)
{
	struct cli_args args;
	ds_severity fail_on = DS_SEVERITY_ERROR;
	const char *level;
	ds_config cfg;
	int rc = cli_parse(&audit_command, argc, argv, &args);

	if (rc != 0 || args.help) {
		if (rc == 0)
			cli_args_free(&args);
		return rc;
	}
	ds_config_init(&cfg);
	level = cli_get(&args, OPT_FAIL_ON, "error");
	if (args.operand_count > 0)
		rc = cli_usage_error("audit", "takes no arguments");
	else if (cli_check_format("audit", cli_get(&args, OPT_FORMAT, "text")) != 0)
		rc = DS_EXIT_USAGE;
	else
		rc = cli_fail_on("audit", level, &fail_on);
	if (rc == 0)
		rc = cli_load_config("audit", cli_get(&args, OPT_CONFIG, NULL), true, &cfg);
	if (rc == 0)
		rc = audit(&args, &cfg, fail_on);
	ds_config_free(&cfg);
	cli_args_free(&args);
	return rc;
}
