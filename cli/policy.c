/* policy.c - `dsguard policy`: the rules as Kubernetes admission policies. */
#include "cli/cli.h"
#include "cli/options.h"
#include "policy/policy.h"

#include <stdlib.h>
#include <string.h>

enum {
	OPT_CONFIG,
	OPT_KUBE_VERSION,
	OPT_MUTATING,
	OPT_PRIORITY_CLASS,
	OPT_NAME_PREFIX,
	OPT_NS_SELECTOR,
	OPT_OBJECT_SELECTOR,
	OPT_COUNT
};

static const struct cli_option options[OPT_COUNT] = {
	[OPT_CONFIG] = {"config", 'c', "FILE", "config file (default: none, every rule at error)", false},
	[OPT_KUBE_VERSION] = {"kube-version", 'k', "VERSION",
			      "the cluster's Kubernetes version, 1.30 or later (default: 1.30); it picks the API "
			      "versions",
			      false},
	[OPT_MUTATING] = {"mutating", 'm', NULL,
			  "also MutatingAdmissionPolicies that patch as /mutate does (Kubernetes 1.32 or later)", false},
	[OPT_PRIORITY_CLASS] = {"priority-class", 0, "NAME",
				"the class the mutating policy patches in (default: rules.priority-class.default)", false},
	[OPT_NAME_PREFIX] = {"name-prefix", 0, "PREFIX", "the start of every object's name (default: dsguard-)",
			     false},
	[OPT_NS_SELECTOR] = {"namespace-selector", 0, "SELECTOR",
			     "bind the policies only in namespaces whose labels match, as kubectl -l reads it "
			     "('kubernetes.io/metadata.name notin (kube-system)'); repeatable, all must match",
			     true},
	[OPT_OBJECT_SELECTOR] = {"object-selector", 0, "SELECTOR",
				 "bind the policies only to DaemonSets whose own labels match, in the same syntax; "
				 "repeatable, all must match",
				 true},
};

static const struct cli_command policy_command = {
	.name = "policy",
	.usage = "[OPTIONS]",
	.summary = "Prints the rules as Kubernetes admission policies (multi-document YAML on standard output):\n"
		   "ValidatingAdmissionPolicies and their bindings that deny and warn as the webhook does, and\n"
		   "with --mutating MutatingAdmissionPolicies that patch as its /mutate does. The API server\n"
		   "evaluates them itself: no webhook to run. docs/policies.md says what each rule becomes.\n"
		   "Exit status: 0 printed, 2 usage or config error, or a config the policies cannot express.",
	.options = options,
	.option_count = OPT_COUNT,
	.examples = "  dsguard policy --config dsguard.yaml > policies.yaml\n"
		    "  dsguard policy --kube-version 1.34 --mutating --config dsguard.yaml | kubectl apply -f -\n"
		    "  dsguard policy --namespace-selector 'kubernetes.io/metadata.name notin (kube-system)'\n",
};

/* Whether word can stand in a shell command line unquoted. */
static bool shell_safe(const char *word)
{
	return *word && strspn(word, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=@%+,-") ==
				strlen(word);
}

/* The header: what made the output, from which config, and how to make it
 * again (the command line, quoted for a shell). A new string, or NULL out
 * of memory. */
static char *header(int argc, char **argv, const char *config)
{
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	if (!f)
		return NULL;
	fprintf(f, "Kubernetes admission policies for dsguard's rules, made by dsguard %s with:\n  dsguard",
		DSGUARD_VERSION);
	for (int i = 0; i < argc; i++) {
		if (shell_safe(argv[i])) {
			fprintf(f, " %s", argv[i]);
			continue;
		}
		fputs(" '", f);
		for (const char *p = argv[i]; *p; p++) {
			if (*p == '\'')
				fputs("'\\''", f);
			else
				fputc(*p, f);
		}
		fputc('\'', f);
	}
	fprintf(f, "\nConfig: %s\n", config ? config : "defaults (no config file)");
	fputs("Regenerate it with the same command after changing the config or upgrading dsguard;\n"
	      "edits by hand are lost then. docs/policies.md says what each object does.",
	      f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* Reads every value of the selector option `opt` into *selector (NULL
 * when it is not given). Returns 0 or DS_EXIT_USAGE. */
static int read_selectors(const struct cli_args *args, int opt, cJSON **selector)
{
	const struct cli_value *v = &args->opts[opt];
	char *error = NULL;

	*selector = NULL;
	if (!v->count)
		return 0;
	*selector = cJSON_CreateObject();
	if (!*selector)
		return cli_usage_error("policy", "out of memory");
	for (int i = 0; i < v->count; i++)
		if (ds_label_selector_parse(v->values[i], *selector, &error) < 0) {
			fprintf(stderr, "dsguard policy: --%s: %s\n", options[opt].name, error ? error : "out of memory");
			free(error);
			return DS_EXIT_USAGE;
		}
	return 0;
}

/* Generates and prints the policies. Returns the exit code. */
static int print_policies(const ds_config *cfg, const ds_policy_options *opts, const char *head)
{
	ds_policy_set set;
	char *error = NULL, *yaml;

	if (ds_policy_generate(cfg, opts, &set, &error) < 0) {
		fprintf(stderr, "dsguard policy: %s\n", error ? error : "out of memory");
		free(error);
		return DS_EXIT_USAGE;
	}
	yaml = ds_policy_yaml(&set, head);
	ds_policy_set_free(&set);
	if (!yaml)
		return cli_usage_error("policy", "out of memory");
	fputs(yaml, stdout);
	free(yaml);
	if (fflush(stdout) != 0)
		return cli_usage_error("policy", "cannot write the policies to standard output");
	return DS_EXIT_OK;
}

int cmd_policy(int argc, char **argv)
{
	ds_policy_options opts = {.kube_minor = DS_POLICY_VALIDATING_MINOR};
	cJSON *selector = NULL, *object_selector = NULL;
	struct cli_args args;
	char *error = NULL, *head = NULL;
	const char *config;
	ds_config cfg;
	int rc;

	rc = cli_parse(&policy_command, argc, argv, &args);
	if (rc != 0 || args.help) {
		if (rc == 0)
			cli_args_free(&args);
		return rc;
	}
	ds_config_init(&cfg);
	config = cli_get(&args, OPT_CONFIG, NULL);
	if (args.operand_count > 0)
		rc = cli_usage_error("policy", "takes no arguments, only options");
	if (rc == 0 && cli_has(&args, OPT_KUBE_VERSION) &&
	    ds_policy_kube_version(cli_get(&args, OPT_KUBE_VERSION, ""), &opts.kube_minor, &error) < 0) {
		fprintf(stderr, "dsguard policy: --kube-version: %s\n", error ? error : "out of memory");
		rc = DS_EXIT_USAGE;
	}
	if (rc == 0)
		rc = read_selectors(&args, OPT_NS_SELECTOR, &selector);
	if (rc == 0)
		rc = read_selectors(&args, OPT_OBJECT_SELECTOR, &object_selector);
	if (rc == 0)
		rc = cli_load_config("policy", config, false, &cfg);
	if (rc == 0)
		rc = cli_priority_class("policy", cli_get(&args, OPT_PRIORITY_CLASS, NULL), &cfg);
	if (rc == 0 && !(head = header(argc, argv, config)))
		rc = cli_usage_error("policy", "out of memory");
	if (rc == 0) {
		opts.mutating = cli_has(&args, OPT_MUTATING);
		opts.name_prefix = cli_get(&args, OPT_NAME_PREFIX, NULL);
		opts.namespace_selector = selector;
		opts.object_selector = object_selector;
		rc = print_policies(&cfg, &opts, head);
	}
	free(error);
	free(head);
	cJSON_Delete(selector);
	cJSON_Delete(object_selector);
	ds_config_free(&cfg);
	cli_args_free(&args);
	return rc;
}
