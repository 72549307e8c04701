/* exemptions.c - `dsguard exemptions`: the config's exemptions and what
 * each exempts now, in manifests or in a cluster, the expired ones
 * flagged: the review an auditor asks for. */
#include "cli/cli.h"
#include "cli/options.h"
#include "lint/lint.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OPT_CONFIG, OPT_FORMAT, OPT_NAMESPACE, OPT_CLUSTER, OPT_KUBECONFIG, OPT_CONTEXT, OPT_COUNT };

static const char *format_choices(void)
{
	return "text (default) or json";
}

static const struct cli_option options[OPT_COUNT] = {
	[OPT_CONFIG] = {"config", 'c', "FILE", "config file (default: .dsguard.yaml when present)", false},
	[OPT_FORMAT] = {"format", 'f', "FORMAT", "output format", false, format_choices},
	[OPT_NAMESPACE] = {"namespace", 'n', "NS", "namespace of manifests that name none (default: default)", false},
	[OPT_CLUSTER] = {"cluster", 0, NULL,
			 "look at the DaemonSets of a live cluster (as dsguard audit lists them) instead of files",
			 false},
	[OPT_KUBECONFIG] = {"kubeconfig", 0, "FILE",
			    "with --cluster: kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, else the "
			    "in-cluster service account)",
			    false},
	[OPT_CONTEXT] = {"context", 0, "NAME", "with --cluster: kubeconfig context (default: current-context)", false},
};

static const struct cli_command exemptions_command = {
	.name = "exemptions",
	.usage = "[OPTIONS] [PATH|-]...",
	.summary = "Lists each exemption of the config (its rules, selectors, reason and expiry) with the\n"
		   "findings it exempts now in the manifests given (read as 'dsguard lint' reads them) or,\n"
		   "with --cluster, in a live cluster; an expired one is flagged with the findings it would\n"
		   "exempt. The findings the dsguard.io/ignore annotation exempts follow, and those where it\n"
		   "does not count. Exit status: 0 listed, 1 an exemption has expired, 2 usage, config or\n"
		   "input error.",
	.options = options,
	.option_count = OPT_COUNT,
	.examples = "  dsguard exemptions --config dsguard.yaml deploy/\n"
		    "  helm template charts/cni | dsguard exemptions --config dsguard.yaml -\n"
		    "  dsguard exemptions --config dsguard.yaml --cluster --context prod --format json\n",
};

/* The rules entry e names: "DS001, DS003" or "all rules". Into buf. */
static const char *rule_list(const ds_exemption *e, char *buf, size_t size)
{
	size_t used = 0, named = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < DS_RULE_COUNT; i++)
		named += e->rules[i];
	if (named == DS_RULE_COUNT)
		return "all rules";
	for (size_t i = 0; i < DS_RULE_COUNT && used < size; i++)
		if (e->rules[i])
			used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", ds_rules[i].id);
	return buf;
}

/* Whether finding f belongs under entry e: exempted by it (`expired`
 * false), or left standing because it expired (`expired` true). */
static bool finding_of(const ds_lint_finding *f, const ds_exemption *e, bool expired)
{
	return expired ? f->expired == e : f->exemption == e;
}

static void text_finding(FILE *out, const ds_lint_finding *f)
{
	if (f->line)
		fprintf(out, "    %s:%u:%u: ", f->file, f->line, f->column);
	else
		fprintf(out, "    %s: ", f->file);
	fprintf(out, "%s %s/%s: %s %s: %s\n", f->kind, f->namespace, f->name, f->rule->id, f->rule->name, f->message);
}

/* Lists the findings of the report that `pick` picks, after `title` (with
 * their count); "none" when there are none. */
static void text_findings(FILE *out, const ds_lint_report *report, const char *title,
			  bool (*pick)(const ds_lint_finding *, const void *), const void *data)
{
	size_t n = 0;

	for (size_t i = 0; i < report->finding_count; i++)
		n += pick(&report->findings[i], data);
	fprintf(out, "  %s: %zu\n", title, n);
	for (size_t i = 0; i < report->finding_count; i++)
		if (pick(&report->findings[i], data))
			text_finding(out, &report->findings[i]);
}

static bool pick_exempted(const ds_lint_finding *f, const void *e)
{
	return finding_of(f, e, false);
}

static bool pick_left(const ds_lint_finding *f, const void *e)
{
	return finding_of(f, e, true);
}

static bool pick_annotation(const ds_lint_finding *f, const void *data)
{
	(void)data;
	return f->exempted_by == DS_EXEMPT_ANNOTATION;
}

static bool pick_refused(const ds_lint_finding *f, const void *data)
{
	(void)data;
	return f->exemption_refused != NULL;
}

/* Writes one glob list as " key a, b" (after ";" when *more) when it is
 * not empty. */
static void text_list(FILE *out, const char *key, const ds_string_list *list, bool *more)
{
	if (!list->count)
		return;
	fprintf(out, "%s %s", *more ? ";" : "", key);
	for (size_t i = 0; i < list->count; i++)
		fprintf(out, "%s %s", i ? "," : "", list->items[i]);
	*more = true;
}

static void text_entry(FILE *out, const ds_lint_report *report, const ds_exemption *e, time_t now)
{
	bool expired = ds_exemption_expired(e, now), more = false;
	char rules[128];

	fprintf(out, "%s:%u:%u: %s%s", e->file, e->line, e->column, expired ? "EXPIRED " : "",
		rule_list(e, rules, sizeof(rules)));
	if (e->expires)
		fprintf(out, ", %s %s", expired ? "expired" : "expires", e->expires_text);
	fputs("\n  selects:", out);
	text_list(out, "namespaces", &e->namespaces, &more);
	text_list(out, "names", &e->names, &more);
	if (e->label_count) {
		fprintf(out, "%s labels", more ? ";" : "");
		for (size_t i = 0; i < e->label_count; i++)
			fprintf(out, "%s %s=%s", i ? "," : "", e->labels[i].key, e->labels[i].value);
	}
	fprintf(out, "\n  reason: %s\n", e->reason);
	if (expired)
		text_findings(out, report, "findings it would exempt had it not expired", pick_left, e);
	else
		text_findings(out, report, "findings it exempts", pick_exempted, e);
}

static int write_text(FILE *out, const ds_config *cfg, const ds_lint_report *report, time_t now)
{
	if (!cfg->exemption_count)
		fprintf(out, "%s: no exemptions\n", cfg->path ? cfg->path : "the default config");
	for (size_t i = 0; i < cfg->exemption_count; i++)
		text_entry(out, report, &cfg->exemptions[i], now);
	fprintf(out, "%s (annotation%s)\n", DS_IGNORE_ANNOTATION, cfg->allow_exemption_annotation ? "" : " turned off");
	text_findings(out, report, "findings it exempts", pick_annotation, NULL);
	text_findings(out, report, "findings where it does not count", pick_refused, NULL);
	return ferror(out) ? -1 : 0;
}

/* {file, line, column, namespace, name, rule, message} of finding f. */
static cJSON *json_finding(const ds_lint_finding *f)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "file", f->file);
	if (f->line) {
		cJSON_AddNumberToObject(o, "line", f->line);
		cJSON_AddNumberToObject(o, "column", f->column);
	}
	cJSON_AddStringToObject(o, "namespace", f->namespace);
	cJSON_AddStringToObject(o, "resourceName", f->name);
	cJSON_AddStringToObject(o, "rule", f->rule->id);
	cJSON_AddStringToObject(o, "message", f->message);
	if (f->exempt_reason)
		cJSON_AddStringToObject(o, "exemptReason", f->exempt_reason);
	if (f->exemption_refused)
		cJSON_AddStringToObject(o, "exemptionRefused", f->exemption_refused);
	return o;
}

/* The findings `pick` picks as a JSON array under key. */
static void json_findings(cJSON *parent, const char *key, const ds_lint_report *report,
			  bool (*pick)(const ds_lint_finding *, const void *), const void *data)
{
	cJSON *list = cJSON_AddArrayToObject(parent, key);

	for (size_t i = 0; i < report->finding_count; i++)
		if (pick(&report->findings[i], data))
			cJSON_AddItemToArray(list, json_finding(&report->findings[i]));
}

static cJSON *json_list(const ds_string_list *list)
{
	return cJSON_CreateStringArray((const char *const *)list->items, (int)list->count);
}

static cJSON *json_entry(const ds_lint_report *report, const ds_exemption *e, time_t now)
{
	cJSON *o = cJSON_CreateObject(), *rules, *labels;
	bool expired = ds_exemption_expired(e, now);

	cJSON_AddStringToObject(o, "file", e->file);
	cJSON_AddNumberToObject(o, "line", e->line);
	cJSON_AddNumberToObject(o, "column", e->column);
	rules = cJSON_AddArrayToObject(o, "rules");
	for (size_t i = 0; i < DS_RULE_COUNT; i++)
		if (e->rules[i])
			cJSON_AddItemToArray(rules, cJSON_CreateString(ds_rules[i].id));
	cJSON_AddItemToObject(o, "namespaces", json_list(&e->namespaces));
	cJSON_AddItemToObject(o, "names", json_list(&e->names));
	labels = cJSON_AddObjectToObject(o, "labels");
	for (size_t i = 0; i < e->label_count; i++)
		cJSON_AddStringToObject(labels, e->labels[i].key, e->labels[i].value);
	cJSON_AddStringToObject(o, "reason", e->reason);
	if (e->expires)
		cJSON_AddStringToObject(o, "expires", e->expires_text);
	cJSON_AddBoolToObject(o, "expired", expired);
	json_findings(o, "exempts", report, pick_exempted, e);
	json_findings(o, "wouldExempt", report, pick_left, e);
	return o;
}

static int write_json(FILE *out, const ds_config *cfg, const ds_lint_report *report, time_t now)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON *list = cJSON_AddArrayToObject(doc, "exemptions");
	cJSON *annotation = cJSON_AddObjectToObject(doc, "annotation");
	char *text;
	int rc = -1;

	for (size_t i = 0; i < cfg->exemption_count; i++)
		cJSON_AddItemToArray(list, json_entry(report, &cfg->exemptions[i], now));
	cJSON_AddBoolToObject(annotation, "allowed", cfg->allow_exemption_annotation);
	json_findings(annotation, "exempts", report, pick_annotation, NULL);
	json_findings(annotation, "refused", report, pick_refused, NULL);
	text = doc ? cJSON_PrintUnformatted(doc) : NULL;
	if (text && fputs(text, out) >= 0 && fputc('\n', out) != EOF && !ferror(out))
		rc = 0;
	cJSON_free(text);
	cJSON_Delete(doc);
	return rc;
}

/* Lints the inputs (paths, or the cluster) into report. Returns 0, or
 * DS_EXIT_USAGE after saying why. */
static int gather(const struct cli_args *args, const ds_lint_options *opts, ds_lint_report *report)
{
	cJSON *items;
	int rc;

	if (!cli_has(args, OPT_CLUSTER))
		rc = ds_lint_paths((const char *const *)args->operands, (size_t)args->operand_count, opts, report);
	else if (!(items = cli_list_cluster("exemptions", cli_get(args, OPT_KUBECONFIG, NULL),
					    cli_get(args, OPT_CONTEXT, NULL))))
		return DS_EXIT_USAGE;
	else {
		rc = ds_lint_objects(items, opts, report);
		cJSON_Delete(items);
	}
	if (rc < 0) {
		fprintf(stderr, "dsguard exemptions: out of memory\n");
		return DS_EXIT_USAGE;
	}
	return 0;
}

/* Lists what each exemption exempts. Returns the exit code. */
static int list_exemptions(const struct cli_args *args, const ds_config *cfg)
{
	ds_lint_options opts = {.config = cfg, .default_namespace = cli_get(args, OPT_NAMESPACE, NULL),
				.now = time(NULL)};
	bool json = !strcmp(cli_get(args, OPT_FORMAT, "text"), "json");
	ds_lint_report report;
	int rc = gather(args, &opts, &report);
	bool expired = false;

	if (rc != 0)
		return rc;
	/* what could not be read is said on stderr: stdout holds the list */
	for (size_t i = 0; i < report.problem_count; i++) {
		const ds_lint_problem *p = &report.problems[i];
		if (p->line)
			fprintf(stderr, "%s:%u:%u: %s: %s\n", p->file, p->line, p->column,
				p->is_error ? "error" : "warning", p->message);
		else
			fprintf(stderr, "%s: %s: %s\n", p->file, p->is_error ? "error" : "warning", p->message);
	}
	for (size_t i = 0; i < cfg->exemption_count; i++)
		expired |= ds_exemption_expired(&cfg->exemptions[i], opts.now);
	if ((json ? write_json : write_text)(stdout, cfg, &report, opts.now) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "dsguard exemptions: cannot write the list\n");
		rc = DS_EXIT_USAGE;
	} else {
		rc = report.summary.input_errors ? DS_EXIT_USAGE : expired ? DS_EXIT_FINDINGS : DS_EXIT_OK;
	}
	ds_lint_report_free(&report);
	return rc;
}

/* Checks the options' values. Returns 0 or DS_EXIT_USAGE. */
static int check_args(const struct cli_args *args)
{
	const char *format = cli_get(args, OPT_FORMAT, "text");

	if (strcmp(format, "text") && strcmp(format, "json"))
		return cli_usage_error("exemptions", "unknown --format '%s' (use %s)", format, format_choices());
	if (cli_has(args, OPT_CLUSTER) && args->operand_count)
		return cli_usage_error("exemptions", "--cluster looks at the cluster: name no files with it");
	if (!cli_has(args, OPT_CLUSTER) && !args->operand_count)
		return cli_usage_error("exemptions",
				       "name at least one file, directory, or - for standard input (or give --cluster)");
	if (!cli_has(args, OPT_CLUSTER) && (cli_has(args, OPT_KUBECONFIG) || cli_has(args, OPT_CONTEXT)))
		return cli_usage_error("exemptions", "--kubeconfig and --context go with --cluster");
	return 0;
}

int cmd_exemptions(int argc, char **argv)
{
	struct cli_args args;
	ds_config cfg;
	int rc = cli_parse(&exemptions_command, argc, argv, &args);

	if (rc != 0 || args.help) {
		if (rc == 0)
			cli_args_free(&args);
		return rc;
	}
	ds_config_init(&cfg);
	rc = check_args(&args);
	if (rc == 0)
		rc = cli_load_config("exemptions", cli_get(&args, OPT_CONFIG, NULL), true, &cfg);
	if (rc == 0)
		rc = list_exemptions(&args, &cfg);
	ds_config_free(&cfg);
	cli_args_free(&args);
	return rc;
}
