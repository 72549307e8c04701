/* test_rules.c - the rule engine: DS001-DS003, severities, exemptions,
 * JSONPatch fixes and JSON Pointers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"
#include "test/rule_access.h"

/* Parses JSON written with single quotes (each ' becomes "). The caller
 * deletes the result. */
static cJSON *json(const char *text)
{
	char *copy = strdup(text);
	cJSON *doc;

	assert_non_null(copy);
	for (char *p = copy; *p; p++)
		if (*p == '\'')
			*p = '"';
	doc = cJSON_Parse(copy);
	if (!doc)
		fail_msg("test JSON does not parse: %s", text);
	free(copy);
	return doc;
}

/* A DaemonSet of apps/v1 with the given metadata and pod spec (JSON text
 * with single quotes). */
#define DAEMONSET(meta, podspec)                                                                     \
	"{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':" meta ",'spec':{'selector':{},"    \
	"'template':{'metadata':{},'spec':" podspec "}}}"
#define META "{'name':'agent','namespace':'logging'}"
#define GOOD_SPEC "{'priorityClassName':'node-agents','containers':[{'name':'a','image':'a'}]}"

/* Fills list with copies of the NULL-terminated names. */
static void set_list(ds_string_list *list, ...)
{
	va_list ap;
	const char *s;

	list->items = calloc(8, sizeof(char *));
	list->count = 0;
	assert_non_null(list->items);
	va_start(ap, list);
	while ((s = va_arg(ap, const char *)) != NULL && list->count < 8)
		list->items[list->count++] = strdup(s);
	va_end(ap);
}

/* Runs the engine over the JSON text; the caller frees ev. */
static void evaluate(const char *text, const ds_context *ctx, ds_evaluation *ev)
{
	cJSON *res = json(text);

	assert_int_equal(ds_evaluate(res, ctx, DS_SCOPE_ALL, ev), 0);
	cJSON_Delete(res);
}

/* The finding of rule id in ev, or NULL. */
static const ds_finding *finding_of(const ds_evaluation *ev, const char *id)
{
	for (size_t i = 0; i < ev->finding_count; i++)
		if (!strcmp(ev->findings[i].rule->id, id))
			return &ev->findings[i];
	return NULL;
}

/* Evaluates and expects exactly one finding, of rule id, with message msg
 * (NULL: not checked) about pointer. */
static void expect_one(const char *text, const ds_context *ctx, const char *id, const char *pointer,
		       const char *msg)
{
	ds_evaluation ev;

	evaluate(text, ctx, &ev);
	assert_int_equal(ev.finding_count, 1);
	assert_string_equal(ev.findings[0].rule->id, id);
	assert_string_equal(ev.findings[0].pointer, pointer);
	if (msg)
		assert_string_equal(ev.findings[0].message, msg);
	assert_false(ev.findings[0].exempt);
	ds_evaluation_free(&ev);
}

static void expect_none(const char *text, const ds_context *ctx)
{
	ds_evaluation ev;

	evaluate(text, ctx, &ev);
	assert_int_equal(ev.finding_count, 0);
	assert_int_equal(ev.op_count, 0);
	ds_evaluation_free(&ev);
}

/* ---- fixtures ---- */

struct fixture {
	ds_config cfg;
	ds_context ctx;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	ds_config_init(&f->cfg);
	f->ctx.config = &f->cfg;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ds_config_free(&f->cfg);
	free(f);
	return 0;
}

/* ---- the table, names, severities ---- */

static void test_rule_table(void **state)
{
	(void)state;
	assert_string_equal(DS001->id, "DS001");
	assert_string_equal(DS001->name, "priority-class");
	assert_string_equal(DS002->id, "DS002");
	assert_string_equal(DS002->name, "restart-policy");
	assert_string_equal(DS003->id, "DS003");
	assert_string_equal(DS003->name, "dedicated-namespace");
	for (int i = 0; i < DS_RULE_COUNT; i++) {
		assert_int_equal(ds_rule_index(&ds_rules[i]), i);
		assert_int_equal(ds_rules[i].default_severity, DS_SEVERITY_ERROR);
		assert_non_null(ds_rules[i].why);
		assert_non_null(ds_rules[i].remediation);
		assert_non_null(ds_rules[i].summary);
		assert_non_null(ds_rules[i].check);
	}
	assert_non_null(DS001->fix);
	assert_non_null(DS002->fix);
	assert_null(DS003->fix); /* SPEC: DS003 has no automatic fix */
	assert_null(DS003->fixes);
}

static void test_rule_find(void **state)
{
	(void)state;
	assert_ptr_equal(ds_rule_find("DS001"), &ds_rules[0]);
	assert_ptr_equal(ds_rule_find("ds002"), &ds_rules[1]);
	assert_ptr_equal(ds_rule_find("dedicated-namespace"), &ds_rules[2]);
	assert_ptr_equal(ds_rule_find("restart-policy"), &ds_rules[1]);
	assert_null(ds_rule_find("DS004"));
	assert_null(ds_rule_find("priority"));
	assert_null(ds_rule_find(""));
}

static void test_severity_names(void **state)
{
	(void)state;
	assert_string_equal(ds_severity_name(DS_SEVERITY_OFF), "off");
	assert_string_equal(ds_severity_name(DS_SEVERITY_WARNING), "warning");
	assert_string_equal(ds_severity_name(DS_SEVERITY_ERROR), "error");
	assert_int_equal(ds_severity_parse("off"), DS_SEVERITY_OFF);
	assert_int_equal(ds_severity_parse("warning"), DS_SEVERITY_WARNING);
	assert_int_equal(ds_severity_parse("error"), DS_SEVERITY_ERROR);
	assert_int_equal(ds_severity_parse("fatal"), -1);
	assert_int_equal(ds_severity_parse(""), -1);
}

static void test_config_defaults(void **state)
{
	ds_config cfg;

	(void)state;
	ds_config_init(&cfg);
	assert_true(cfg.enforce);
	assert_true(cfg.allow_exemption_annotation);
	for (int i = 0; i < DS_RULE_COUNT; i++) {
		assert_int_equal(cfg.rules[i].severity, DS_SEVERITY_ERROR);
		assert_true(options_are_none(&cfg, (size_t)i));
	}
	/* ds_config_free releases owned strings and resets to the defaults */
	cfg.enforce = false;
	DEFAULT_CLASS(&cfg) = strdup("x");
	set_list(&ALLOWED_CLASSES(&cfg), "a", "b", NULL);
	set_list(&EXEMPT_NAMESPACES(&cfg), "kube-system", NULL);
	ds_config_free(&cfg);
	assert_true(cfg.enforce);
	assert_null(DEFAULT_CLASS(&cfg));
	assert_int_equal(ALLOWED_CLASSES(&cfg).count, 0);
	assert_int_equal(EXEMPT_NAMESPACES(&cfg).count, 0);
}

/* ---- kinds ---- */

static void test_is_daemonset(void **state)
{
	static const struct {
		const char *json;
		bool want;
	} cases[] = {
		{"{'apiVersion':'apps/v1','kind':'DaemonSet'}", true},
		{"{'apiVersion':'apps/v1beta2','kind':'DaemonSet'}", true},
		{"{'apiVersion':'extensions/v1beta1','kind':'DaemonSet'}", true},
		{"{'apiVersion':'apps/v1beta1','kind':'DaemonSet'}", false},
		{"{'apiVersion':'apps/v1','kind':'Deployment'}", false},
		{"{'apiVersion':'apps/v1','kind':'daemonset'}", false},
		{"{'kind':'DaemonSet'}", false},
		{"{'apiVersion':'apps/v1'}", false},
		{"{'apiVersion':1,'kind':'DaemonSet'}", false},
		{"{'apiVersion':'apps/v1','kind':'DaemonSetList','items':[]}", false},
		{"[]", false},
		{"'DaemonSet'", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *obj = json(cases[i].json);
		if (ds_is_daemonset(obj) != cases[i].want)
			fail_msg("ds_is_daemonset(%s) should be %d", cases[i].json, cases[i].want);
		cJSON_Delete(obj);
	}
}

static void test_old_api_versions_checked(void **state)
{
	struct fixture *f = *state;
	static const char *const apis[] = {"apps/v1beta2", "extensions/v1beta1"};

	for (size_t i = 0; i < 2; i++) {
		char text[512];
		snprintf(text, sizeof(text),
			 "{'apiVersion':'%s','kind':'DaemonSet','metadata':{'name':'a'},"
			 "'spec':{'template':{'spec':{'restartPolicy':'Never'}}}}",
			 apis[i]);
		ds_evaluation ev;
		evaluate(text, &f->ctx, &ev);
		assert_int_equal(ev.finding_count, 2);
		assert_non_null(finding_of(&ev, "DS001"));
		assert_non_null(finding_of(&ev, "DS002"));
		ds_evaluation_free(&ev);
	}
}

static void test_other_kinds_never_reported(void **state)
{
	struct fixture *f = *state;

	expect_none("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'a'},"
		    "'spec':{'template':{'spec':{'restartPolicy':'Never'}}}}",
		    &f->ctx);
	expect_none("{'apiVersion':'v1','kind':'Pod','metadata':{'name':'a'},'spec':{'restartPolicy':'Never'}}",
		    &f->ctx);
	expect_none("{'apiVersion':'scheduling.k8s.io/v1','kind':'PriorityClass','metadata':{'name':'p'}}",
		    &f->ctx);
	/* A DaemonSetList is not a DaemonSet: lists are opened by the loader. */
	expect_none("{'apiVersion':'apps/v1','kind':'DaemonSetList','items':[" DAEMONSET(META, "{}") "]}",
		    &f->ctx);
	expect_none("{'kind':'DaemonSet','spec':{}}", &f->ctx);
}

static void test_resource_name_and_namespace(void **state)
{
	struct fixture *f = *state;
	cJSON *a = json("{'metadata':{'name':'x','namespace':'ns1'}}");
	cJSON *b = json("{'metadata':{}}");
	cJSON *c = json("{'metadata':{'name':5,'namespace':''}}");

	assert_string_equal(ds_resource_name(a), "x");
	assert_string_equal(ds_resource_namespace(a, &f->ctx), "ns1");
	assert_string_equal(ds_resource_name(b), "");
	assert_string_equal(ds_resource_namespace(b, &f->ctx), "default");
	assert_string_equal(ds_resource_name(c), "");
	assert_string_equal(ds_resource_namespace(c, &f->ctx), "default");
	f->ctx.default_namespace = "agents";
	assert_string_equal(ds_resource_namespace(b, &f->ctx), "agents");
	assert_string_equal(ds_resource_namespace(a, &f->ctx), "ns1");
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(c);
}

/* ---- DS001 ---- */

#define PCN "/spec/template/spec/priorityClassName"

static void test_ds001_missing(void **state)
{
	struct fixture *f = *state;

	expect_one(DAEMONSET(META, "{'containers':[]}"), &f->ctx, "DS001", PCN,
		   "spec.template.spec.priorityClassName is not set");
	/* an explicit null is the same as absent */
	expect_one(DAEMONSET(META, "{'priorityClassName':null}"), &f->ctx, "DS001", PCN,
		   "spec.template.spec.priorityClassName is not set");
	/* no pod spec, no template, no spec at all */
	expect_one("{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':" META ",'spec':{'template':{}}}",
		   &f->ctx, "DS001", PCN, "spec.template.spec.priorityClassName is not set");
	expect_one("{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':" META "}", &f->ctx, "DS001", PCN,
		   "spec.template.spec.priorityClassName is not set");
}

static void test_ds001_empty(void **state)
{
	struct fixture *f = *state;

	expect_one(DAEMONSET(META, "{'priorityClassName':''}"), &f->ctx, "DS001", PCN,
		   "spec.template.spec.priorityClassName is empty");
}

static void test_ds001_not_a_string(void **state)
{
	struct fixture *f = *state;

	expect_one(DAEMONSET(META, "{'priorityClassName':5}"), &f->ctx, "DS001", PCN,
		   "spec.template.spec.priorityClassName is not a string");
	expect_one(DAEMONSET(META, "{'priorityClassName':true}"), &f->ctx, "DS001", PCN,
		   "spec.template.spec.priorityClassName is not a string");
	expect_one(DAEMONSET(META, "{'priorityClassName':{'a':1}}"), &f->ctx, "DS001", PCN,
		   "spec.template.spec.priorityClassName is not a string");
}

static void test_ds001_not_allowed(void **state)
{
	struct fixture *f = *state;

	set_list(&ALLOWED_CLASSES(&f->cfg), "node-agents", "system-node-critical", NULL);
	expect_one(DAEMONSET(META, "{'priorityClassName':'high'}"), &f->ctx, "DS001", PCN,
		   "spec.template.spec.priorityClassName \"high\" is not one of the allowed classes "
		   "(node-agents, system-node-critical)");
	/* allowed names match exactly */
	expect_one(DAEMONSET(META, "{'priorityClassName':'Node-Agents'}"), &f->ctx, "DS001", PCN, NULL);
	expect_none(DAEMONSET(META, "{'priorityClassName':'system-node-critical'}"), &f->ctx);
	expect_none(DAEMONSET(META, GOOD_SPEC), &f->ctx);
	/* missing stays "not set", not "not allowed" */
	expect_one(DAEMONSET(META, "{}"), &f->ctx, "DS001", PCN, "spec.template.spec.priorityClassName is not set");
}

static void test_ds001_ok(void **state)
{
	struct fixture *f = *state;

	expect_none(DAEMONSET(META, GOOD_SPEC), &f->ctx);
	/* without an allow-list any non-empty name is fine */
	expect_none(DAEMONSET(META, "{'priorityClassName':'x'}"), &f->ctx);
}

/* ---- DS002 ---- */

#define RP "/spec/template/spec/restartPolicy"

static void test_ds002(void **state)
{
	struct fixture *f = *state;

	expect_none(DAEMONSET(META, "{'priorityClassName':'p'}"), &f->ctx);
	expect_none(DAEMONSET(META, "{'priorityClassName':'p','restartPolicy':'Always'}"), &f->ctx);
	expect_none(DAEMONSET(META, "{'priorityClassName':'p','restartPolicy':null}"), &f->ctx);
	/* Kubernetes defaults an empty restartPolicy to Always: it is unset */
	expect_none(DAEMONSET(META, "{'priorityClassName':'p','restartPolicy':''}"), &f->ctx);
	expect_one(DAEMONSET(META, "{'priorityClassName':'p','restartPolicy':'OnFailure'}"), &f->ctx, "DS002", RP,
		   "spec.template.spec.restartPolicy is \"OnFailure\"; it must be Always or unset");
	expect_one(DAEMONSET(META, "{'priorityClassName':'p','restartPolicy':'Never'}"), &f->ctx, "DS002", RP,
		   "spec.template.spec.restartPolicy is \"Never\"; it must be Always or unset");
	/* values are case-sensitive in Kubernetes */
	expect_one(DAEMONSET(META, "{'priorityClassName':'p','restartPolicy':'always'}"), &f->ctx, "DS002", RP,
		   NULL);
	expect_one(DAEMONSET(META, "{'priorityClassName':'p','restartPolicy':true}"), &f->ctx, "DS002", RP,
		   "spec.template.spec.restartPolicy is not a string; it must be Always or unset");
	expect_one(DAEMONSET(META, "{'priorityClassName':'p','restartPolicy':1}"), &f->ctx, "DS002", RP,
		   "spec.template.spec.restartPolicy is not a string; it must be Always or unset");
}

/* ---- DS003 ---- */

/* A fake cluster: (namespace, name) pairs; remembers the last question. */
struct fake_cluster {
	const char *const *pairs; /* ns, name, ns, name, ..., NULL */
	char asked_ns[64], asked_name[64];
	int calls;
};

static ds_namespace_answer fake_other(void *data, const char *ns, const char *name, char **other)
{
	struct fake_cluster *c = data;

	c->calls++;
	snprintf(c->asked_ns, sizeof(c->asked_ns), "%s", ns);
	snprintf(c->asked_name, sizeof(c->asked_name), "%s", name);
	for (size_t i = 0; c->pairs[i]; i += 2) {
		if (!strcmp(c->pairs[i], ns) && strcmp(c->pairs[i + 1], name)) {
			*other = strdup(c->pairs[i + 1]);
			return DS_NAMESPACE_SHARED;
		}
	}
	return DS_NAMESPACE_FREE;
}

#define NSP "/metadata/namespace"

static void test_ds003_shared(void **state)
{
	struct fixture *f = *state;
	static const char *const pairs[] = {"logging", "agent", "logging", "fluent-bit", NULL};
	struct fake_cluster cluster = {.pairs = pairs};
	ds_namespace_lookup lookup = {fake_other, &cluster};

	f->ctx.namespaces = &lookup;
	expect_one(DAEMONSET(META, GOOD_SPEC), &f->ctx, "DS003", NSP,
		   "namespace logging is shared with DaemonSet logging/fluent-bit; each DaemonSet needs a "
		   "namespace of its own");
	assert_int_equal(cluster.calls, 1);
	assert_string_equal(cluster.asked_ns, "logging");
	assert_string_equal(cluster.asked_name, "agent");
}

static void test_ds003_alone(void **state)
{
	struct fixture *f = *state;
	static const char *const pairs[] = {"logging", "agent", "monitoring", "node-exporter", NULL};
	struct fake_cluster cluster = {.pairs = pairs};
	ds_namespace_lookup lookup = {fake_other, &cluster};

	f->ctx.namespaces = &lookup;
	expect_none(DAEMONSET(META, GOOD_SPEC), &f->ctx);
	assert_int_equal(cluster.calls, 1);
}

static void test_ds003_same_name_not_counted(void **state)
{
	struct fixture *f = *state;
	/* the same DaemonSet seen twice (e.g. in two files) is no second one */
	static const char *const pairs[] = {"logging", "agent", "logging", "agent", NULL};
	struct fake_cluster cluster = {.pairs = pairs};
	ds_namespace_lookup lookup = {fake_other, &cluster};

	f->ctx.namespaces = &lookup;
	expect_none(DAEMONSET(META, GOOD_SPEC), &f->ctx);
	assert_string_equal(cluster.asked_name, "agent");
}

static void test_ds003_without_lookup(void **state)
{
	struct fixture *f = *state;

	f->ctx.namespaces = NULL;
	expect_none(DAEMONSET(META, GOOD_SPEC), &f->ctx);
}

static void test_ds003_exempt_namespace(void **state)
{
	struct fixture *f = *state;
	static const char *const pairs[] = {"kube-system", "kube-proxy", "kube-system", "agent", NULL};
	struct fake_cluster cluster = {.pairs = pairs};
	ds_namespace_lookup lookup = {fake_other, &cluster};

	f->ctx.namespaces = &lookup;
	set_list(&EXEMPT_NAMESPACES(&f->cfg), "monitoring", "kube-system", NULL);
	expect_none(DAEMONSET("{'name':'agent','namespace':'kube-system'}", GOOD_SPEC), &f->ctx);
	assert_int_equal(cluster.calls, 0);
	/* exemption is per namespace, by exact name */
	EXEMPT_NAMESPACES(&f->cfg).items[1][0] = 'K';
	expect_one(DAEMONSET("{'name':'agent','namespace':'kube-system'}", GOOD_SPEC), &f->ctx, "DS003", NSP,
		   NULL);
}

static void test_ds003_default_namespace(void **state)
{
	struct fixture *f = *state;
	static const char *const pairs[] = {"default", "other", "agents", "other", NULL};
	struct fake_cluster cluster = {.pairs = pairs};
	ds_namespace_lookup lookup = {fake_other, &cluster};

	f->ctx.namespaces = &lookup;
	/* no namespace in the manifest, none in the context: "default" */
	expect_one(DAEMONSET("{'name':'agent'}", GOOD_SPEC), &f->ctx, "DS003", NSP,
		   "namespace default is shared with DaemonSet default/other; each DaemonSet needs a namespace "
		   "of its own");
	assert_string_equal(cluster.asked_ns, "default");
	/* the context's namespace (--namespace) */
	f->ctx.default_namespace = "agents";
	expect_one(DAEMONSET("{'name':'agent'}", GOOD_SPEC), &f->ctx, "DS003", NSP,
		   "namespace agents is shared with DaemonSet agents/other; each DaemonSet needs a namespace "
		   "of its own");
	assert_string_equal(cluster.asked_ns, "agents");
	/* an empty namespace is no namespace */
	expect_one(DAEMONSET("{'name':'agent','namespace':''}", GOOD_SPEC), &f->ctx, "DS003", NSP, NULL);
	assert_string_equal(cluster.asked_ns, "agents");
	/* the manifest's own namespace wins over the context's */
	expect_none(DAEMONSET("{'name':'agent','namespace':'solo'}", GOOD_SPEC), &f->ctx);
	assert_string_equal(cluster.asked_ns, "solo");
}

static void test_ds003_exempt_namespace_is_default(void **state)
{
	struct fixture *f = *state;
	static const char *const pairs[] = {"agents", "other", NULL};
	struct fake_cluster cluster = {.pairs = pairs};
	ds_namespace_lookup lookup = {fake_other, &cluster};

	f->ctx.namespaces = &lookup;
	f->ctx.default_namespace = "agents";
	set_list(&EXEMPT_NAMESPACES(&f->cfg), "agents", NULL);
	expect_none(DAEMONSET("{'name':'agent'}", GOOD_SPEC), &f->ctx);
}

/* ---- severities and enforce ---- */

#define ALL_BAD DAEMONSET(META, "{'restartPolicy':'Never'}")

static struct fake_cluster shared_cluster_data;
static const char *const shared_pairs[] = {"logging", "agent", "logging", "other", NULL};

static void use_shared_cluster(struct fixture *f, ds_namespace_lookup *lookup)
{
	memset(&shared_cluster_data, 0, sizeof(shared_cluster_data));
	shared_cluster_data.pairs = shared_pairs;
	*lookup = (ds_namespace_lookup){fake_other, &shared_cluster_data};
	f->ctx.namespaces = lookup;
}

static void test_severity_off_warning_error(void **state)
{
	struct fixture *f = *state;
	ds_namespace_lookup lookup;
	ds_evaluation ev;

	use_shared_cluster(f, &lookup);
	evaluate(ALL_BAD, &f->ctx, &ev);
	assert_int_equal(ev.finding_count, 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(ev.findings[i].severity, DS_SEVERITY_ERROR);
	ds_evaluation_free(&ev);

	RULE_SETTINGS(&f->cfg, DS001).severity = DS_SEVERITY_OFF;
	RULE_SETTINGS(&f->cfg, DS002).severity = DS_SEVERITY_WARNING;
	evaluate(ALL_BAD, &f->ctx, &ev);
	assert_int_equal(ev.finding_count, 2);
	assert_null(finding_of(&ev, "DS001"));
	assert_int_equal(finding_of(&ev, "DS002")->severity, DS_SEVERITY_WARNING);
	assert_int_equal(finding_of(&ev, "DS003")->severity, DS_SEVERITY_ERROR);
	ds_evaluation_free(&ev);

	/* a rule that is off is not even run: DS003 does not ask the cluster */
	RULE_SETTINGS(&f->cfg, DS003).severity = DS_SEVERITY_OFF;
	shared_cluster_data.calls = 0;
	evaluate(ALL_BAD, &f->ctx, &ev);
	assert_int_equal(ev.finding_count, 1);
	assert_non_null(finding_of(&ev, "DS002"));
	assert_int_equal(shared_cluster_data.calls, 0);
	ds_evaluation_free(&ev);
}

static void test_enforce_false(void **state)
{
	struct fixture *f = *state;
	ds_namespace_lookup lookup;
	ds_evaluation ev;

	use_shared_cluster(f, &lookup);
	f->cfg.enforce = false;
	RULE_SETTINGS(&f->cfg, DS002).severity = DS_SEVERITY_WARNING;
	RULE_SETTINGS(&f->cfg, DS003).severity = DS_SEVERITY_OFF;
	evaluate(ALL_BAD, &f->ctx, &ev);
	assert_int_equal(ev.finding_count, 2);
	assert_int_equal(finding_of(&ev, "DS001")->severity, DS_SEVERITY_WARNING);
	assert_int_equal(finding_of(&ev, "DS002")->severity, DS_SEVERITY_WARNING);
	/* audit mode still computes the fixes */
	assert_int_equal(ev.op_count, 1);
	ds_evaluation_free(&ev);
}

/* ---- dsguard.io/ignore ---- */

/* Evaluates ALL_BAD (with DS003 shared) under an ignore annotation with
 * value `ignore` (JSON text, single quotes) and returns a bitmask of the
 * exempt rules: 1 DS001, 2 DS002, 4 DS003. */
static unsigned exempt_mask(struct fixture *f, const char *ignore)
{
	ds_namespace_lookup lookup;
	ds_evaluation ev;
	char text[1024];
	unsigned mask = 0;

	use_shared_cluster(f, &lookup);
	snprintf(text, sizeof(text),
		 DAEMONSET("{'name':'agent','namespace':'logging','annotations':{'dsguard.io/ignore':%s}}",
			   "{'restartPolicy':'Never'}"),
		 ignore);
	evaluate(text, &f->ctx, &ev);
	assert_int_equal(ev.finding_count, 3);
	for (size_t i = 0; i < ev.finding_count; i++)
		if (ev.findings[i].exempt)
			mask |= 1u << ds_rule_index(ev.findings[i].rule);
	ds_evaluation_free(&ev);
	f->ctx.namespaces = NULL; /* lookup lives on this stack frame */
	return mask;
}

static void test_ignore_annotation(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *value;
		unsigned mask;
	} cases[] = {
		{"'DS003'", 4},
		{"'DS001'", 1},
		{"'priority-class'", 1},
		{"'restart-policy'", 2},
		{"'dedicated-namespace'", 4},
		{"'all'", 7},
		{"'ALL'", 7},
		{"'All'", 7},
		{"'ds002'", 2},
		{"'Ds003'", 4},
		{"'DS001,DS002'", 3},
		{"' DS001 , restart-policy '", 3},
		{"'DS001,  DS003'", 5},
		{"'DS001,DS002,DS003'", 7},
		{"',,DS002,'", 2},
		{"'DS00'", 0},
		{"'DS0011'", 0},
		{"'priority'", 0},
		{"'DS001 DS002'", 0},
		{"''", 0},
		{"'none'", 0},
		{"true", 0},
		{"['DS001']", 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned got = exempt_mask(f, cases[i].value);
		if (got != cases[i].mask)
			fail_msg("dsguard.io/ignore: %s exempts mask %u, want %u", cases[i].value, got,
				 cases[i].mask);
	}
}

static void test_ignore_other_annotation_key(void **state)
{
	struct fixture *f = *state;
	ds_evaluation ev;

	evaluate(DAEMONSET("{'name':'a','annotations':{'dsguard.io/Ignore':'all','ignore':'all'}}", "{}"),
		 &f->ctx, &ev);
	assert_int_equal(ev.finding_count, 1);
	assert_false(ev.findings[0].exempt);
	ds_evaluation_free(&ev);
}

static void test_exempt_findings_kept_without_fix(void **state)
{
	struct fixture *f = *state;
	ds_evaluation ev;

	DEFAULT_CLASS(&f->cfg) = strdup("node-agents");
	evaluate(DAEMONSET("{'name':'a','annotations':{'dsguard.io/ignore':'DS001'}}", "{'restartPolicy':'Never'}"),
		 &f->ctx, &ev);
	assert_int_equal(ev.finding_count, 2);
	assert_true(finding_of(&ev, "DS001")->exempt);
	assert_false(finding_of(&ev, "DS002")->exempt);
	/* the exempt finding keeps its severity; only DS002 is fixed */
	assert_int_equal(finding_of(&ev, "DS001")->severity, DS_SEVERITY_ERROR);
	assert_int_equal(ev.op_count, 1);
	assert_string_equal(ev.ops[0].path, RP);
	assert_ptr_equal(ev.ops[0].rule, DS002);
	ds_evaluation_free(&ev);
}

static void test_exemption_annotation_disallowed(void **state)
{
	struct fixture *f = *state;
	ds_evaluation ev;

	f->cfg.allow_exemption_annotation = false;
	DEFAULT_CLASS(&f->cfg) = strdup("node-agents");
	assert_int_equal(exempt_mask(f, "'all'"), 0);
	evaluate(DAEMONSET("{'name':'a','annotations':{'dsguard.io/ignore':'DS001'}}", "{}"), &f->ctx, &ev);
	assert_int_equal(ev.finding_count, 1);
	assert_false(ev.findings[0].exempt);
	assert_int_equal(ev.op_count, 1);
	ds_evaluation_free(&ev);
}

/* ---- fixes ---- */

/* The patch of ev as compact JSON text, single quotes for double. */
static char *patch_text(const ds_evaluation *ev)
{
	cJSON *patch = ds_patch_to_json(ev);
	char *text;

	assert_non_null(patch);
	text = cJSON_PrintUnformatted(patch);
	assert_non_null(text);
	cJSON_Delete(patch);
	for (char *p = text; *p; p++)
		if (*p == '"')
			*p = '\'';
	return text;
}

static void expect_patch(const char *resource, const ds_context *ctx, const char *want)
{
	ds_evaluation ev;
	char *got;

	evaluate(resource, ctx, &ev);
	got = patch_text(&ev);
	assert_string_equal(got, want);
	free(got);
	ds_evaluation_free(&ev);
}

static void test_fix_add_priority_class(void **state)
{
	struct fixture *f = *state;

	DEFAULT_CLASS(&f->cfg) = strdup("node-agents");
	expect_patch(DAEMONSET(META, "{'containers':[]}"), &f->ctx,
		     "[{'op':'add','path':'/spec/template/spec/priorityClassName','value':'node-agents'}]");
}

static void test_fix_replace_bad_priority_class(void **state)
{
	struct fixture *f = *state;

	DEFAULT_CLASS(&f->cfg) = strdup("node-agents");
	set_list(&ALLOWED_CLASSES(&f->cfg), "node-agents", NULL);
	expect_patch(DAEMONSET(META, "{'priorityClassName':''}"), &f->ctx,
		     "[{'op':'replace','path':'/spec/template/spec/priorityClassName','value':'node-agents'}]");
	expect_patch(DAEMONSET(META, "{'priorityClassName':'low'}"), &f->ctx,
		     "[{'op':'replace','path':'/spec/template/spec/priorityClassName','value':'node-agents'}]");
	expect_patch(DAEMONSET(META, "{'priorityClassName':null}"), &f->ctx,
		     "[{'op':'replace','path':'/spec/template/spec/priorityClassName','value':'node-agents'}]");
}

static void test_fix_adds_missing_objects(void **state)
{
	struct fixture *f = *state;

	DEFAULT_CLASS(&f->cfg) = strdup("pc");
	/* template without spec: add the whole pod spec object */
	expect_patch("{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':" META
		     ",'spec':{'template':{'metadata':{}}}}",
		     &f->ctx, "[{'op':'add','path':'/spec/template/spec','value':{'priorityClassName':'pc'}}]");
	/* spec without template */
	expect_patch("{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':" META ",'spec':{'selector':{}}}",
		     &f->ctx,
		     "[{'op':'add','path':'/spec/template','value':{'spec':{'priorityClassName':'pc'}}}]");
	/* no spec at all */
	expect_patch("{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':" META "}", &f->ctx,
		     "[{'op':'add','path':'/spec','value':{'template':{'spec':{'priorityClassName':'pc'}}}}]");
}

static void test_fix_removes_priority(void **state)
{
	struct fixture *f = *state;
	ds_evaluation ev;
	cJSON *patch;

	DEFAULT_CLASS(&f->cfg) = strdup("node-agents");
	/* the Priority admission plugin refuses a pod with a class and an
	 * integer priority it did not compute: the fix that sets the class
	 * removes the priority */
	expect_patch(DAEMONSET(META, "{'priority':1000,'containers':[]}"), &f->ctx,
		     "[{'op':'add','path':'/spec/template/spec/priorityClassName','value':'node-agents'},"
		     "{'op':'remove','path':'/spec/template/spec/priority'}]");
	set_list(&ALLOWED_CLASSES(&f->cfg), "node-agents", NULL);
	expect_patch(DAEMONSET(META, "{'priorityClassName':'low','priority':5}"), &f->ctx,
		     "[{'op':'replace','path':'/spec/template/spec/priorityClassName','value':'node-agents'},"
		     "{'op':'remove','path':'/spec/template/spec/priority'}]");
	/* a null priority is no priority: nothing to remove */
	expect_patch(DAEMONSET(META, "{'priority':null}"), &f->ctx,
		     "[{'op':'add','path':'/spec/template/spec/priorityClassName','value':'node-agents'}]");
	/* a template that passes DS001 keeps its priority: no finding, no fix */
	expect_patch(DAEMONSET(META, "{'priorityClassName':'node-agents','priority':5}"), &f->ctx, "[]");
	/* the remove carries what it takes away, and no value in the JSONPatch */
	evaluate(DAEMONSET(META, "{'priority':1000}"), &f->ctx, &ev);
	assert_int_equal(ev.op_count, 2);
	assert_int_equal(ev.ops[1].kind, DS_PATCH_REMOVE);
	assert_ptr_equal(ev.ops[1].rule, DS001);
	assert_true(cJSON_IsNumber(ev.ops[1].value));
	assert_int_equal(ev.ops[1].value->valueint, 1000);
	patch = ds_patch_to_json(&ev);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetArrayItem(patch, 1)), 2);
	cJSON_Delete(patch);
	ds_evaluation_free(&ev);
}

static void test_fix_keeps_priority_without_class(void **state)
{
	struct fixture *f = *state;

	/* no default class: nothing is fixed, the priority stays too */
	expect_patch(DAEMONSET(META, "{'priority':1000}"), &f->ctx, "[]");
}

static void test_fix_blocked_by_non_object(void **state)
{
	struct fixture *f = *state;
	ds_evaluation ev;

	DEFAULT_CLASS(&f->cfg) = strdup("pc");
	/* a level on the way is not an object: no patch can add the field,
	 * and the finding says which level, not that a class is missing */
	evaluate("{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':" META ",'spec':{'template':'x'}}",
		 &f->ctx, &ev);
	assert_int_equal(ev.finding_count, 1);
	assert_int_equal(ev.op_count, 0);
	assert_string_equal(ev.findings[0].unfixable, "spec.template is not a mapping");
	ds_evaluation_free(&ev);
	evaluate("{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':" META ",'spec':{'template':{'spec':[]}}}",
		 &f->ctx, &ev);
	assert_int_equal(ev.finding_count, 1);
	assert_int_equal(ev.op_count, 0);
	assert_string_equal(ev.findings[0].unfixable, "spec.template.spec is not a mapping");
	ds_evaluation_free(&ev);
	evaluate("{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':" META ",'spec':7}", &f->ctx, &ev);
	assert_int_equal(ev.op_count, 0);
	assert_string_equal(ev.findings[0].unfixable, "spec is not a mapping");
	ds_evaluation_free(&ev);
}

static void test_fix_fills_null_levels(void **state)
{
	struct fixture *f = *state;
	ds_evaluation ev;

	DEFAULT_CLASS(&f->cfg) = strdup("pc");
	/* `spec: ~` (or an empty `spec:`) under template: the null becomes the
	 * pod spec holding the class */
	expect_patch("{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':" META
		     ",'spec':{'template':{'metadata':{},'spec':null}}}",
		     &f->ctx, "[{'op':'replace','path':'/spec/template/spec','value':{'priorityClassName':'pc'}}]");
	expect_patch("{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':" META ",'spec':{'template':null}}",
		     &f->ctx,
		     "[{'op':'replace','path':'/spec/template','value':{'spec':{'priorityClassName':'pc'}}}]");
	expect_patch("{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':" META ",'spec':null}", &f->ctx,
		     "[{'op':'replace','path':'/spec','value':{'template':{'spec':{'priorityClassName':'pc'}}}}]");
	evaluate("{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':" META ",'spec':{'template':{'spec':null}}}",
		 &f->ctx, &ev);
	assert_null(ev.findings[0].unfixable);
	ds_evaluation_free(&ev);
}

static void test_fix_replace_restart_policy(void **state)
{
	struct fixture *f = *state;
	ds_evaluation ev;

	expect_patch(DAEMONSET(META, "{'priorityClassName':'p','restartPolicy':'OnFailure'}"), &f->ctx,
		     "[{'op':'replace','path':'/spec/template/spec/restartPolicy','value':'Always'}]");
	expect_patch(DAEMONSET(META, "{'priorityClassName':'p','restartPolicy':7}"), &f->ctx,
		     "[{'op':'replace','path':'/spec/template/spec/restartPolicy','value':'Always'}]");
	evaluate(DAEMONSET(META, "{'priorityClassName':'p','restartPolicy':'Never'}"), &f->ctx, &ev);
	assert_int_equal(ev.op_count, 1);
	assert_int_equal(ev.ops[0].kind, DS_PATCH_REPLACE);
	assert_string_equal(ev.ops[0].path, RP);
	assert_true(cJSON_IsString(ev.ops[0].value));
	assert_string_equal(ev.ops[0].value->valuestring, "Always");
	assert_ptr_equal(ev.ops[0].rule, DS002);
	ds_evaluation_free(&ev);
}

static void test_fix_none_without_default_class(void **state)
{
	struct fixture *f = *state;
	ds_evaluation ev;

	evaluate(DAEMONSET(META, "{}"), &f->ctx, &ev);
	assert_int_equal(ev.finding_count, 1);
	assert_int_equal(ev.op_count, 0);
	ds_evaluation_free(&ev);
	expect_patch(DAEMONSET(META, "{}"), &f->ctx, "[]");
}

static void test_fix_none_for_ds003(void **state)
{
	struct fixture *f = *state;
	ds_namespace_lookup lookup;
	ds_evaluation ev;

	use_shared_cluster(f, &lookup);
	evaluate(DAEMONSET(META, GOOD_SPEC), &f->ctx, &ev);
	assert_int_equal(ev.finding_count, 1);
	assert_string_equal(ev.findings[0].rule->id, "DS003");
	assert_int_equal(ev.op_count, 0);
	ds_evaluation_free(&ev);
}

static void test_fix_both_rules(void **state)
{
	struct fixture *f = *state;

	DEFAULT_CLASS(&f->cfg) = strdup("node-agents");
	expect_patch(DAEMONSET(META, "{'restartPolicy':'Never'}"), &f->ctx,
		     "[{'op':'add','path':'/spec/template/spec/priorityClassName','value':'node-agents'},"
		     "{'op':'replace','path':'/spec/template/spec/restartPolicy','value':'Always'}]");
}

static void test_fix_applies_cleanly(void **state)
{
	struct fixture *f = *state;
	cJSON *res = json(DAEMONSET(META, "{'restartPolicy':'Never'}"));
	ds_evaluation ev, again;

	/* applying the operations by hand leaves nothing to report */
	DEFAULT_CLASS(&f->cfg) = strdup("node-agents");
	assert_int_equal(ds_evaluate(res, &f->ctx, DS_SCOPE_ALL, &ev), 0);
	assert_int_equal(ev.op_count, 2);
	for (size_t i = 0; i < ev.op_count; i++) {
		char *parent = strdup(ev.ops[i].path);
		char *cut = strrchr(parent, '/');
		cJSON *obj;
		*cut = '\0';
		obj = ds_pointer_get(res, parent);
		assert_true(cJSON_IsObject(obj));
		if (ev.ops[i].kind == DS_PATCH_REPLACE)
			assert_true(cJSON_ReplaceItemInObjectCaseSensitive(obj, cut + 1,
									   cJSON_Duplicate(ev.ops[i].value, 1)));
		else
			assert_true(cJSON_AddItemToObject(obj, cut + 1, cJSON_Duplicate(ev.ops[i].value, 1)));
		free(parent);
	}
	assert_int_equal(ds_evaluate(res, &f->ctx, DS_SCOPE_ALL, &again), 0);
	assert_int_equal(again.finding_count, 0);
	ds_evaluation_free(&again);
	ds_evaluation_free(&ev);
	cJSON_Delete(res);
}

static void test_patch_to_json_empty(void **state)
{
	ds_evaluation ev = {0};
	cJSON *patch = ds_patch_to_json(&ev);

	(void)state;
	assert_true(cJSON_IsArray(patch));
	assert_int_equal(cJSON_GetArraySize(patch), 0);
	cJSON_Delete(patch);
}

static void test_patch_to_json_shape(void **state)
{
	struct fixture *f = *state;
	ds_evaluation ev;
	cJSON *patch, *op;

	DEFAULT_CLASS(&f->cfg) = strdup("pc");
	evaluate(DAEMONSET(META, "{'restartPolicy':'Never'}"), &f->ctx, &ev);
	patch = ds_patch_to_json(&ev);
	assert_int_equal(cJSON_GetArraySize(patch), 2);
	cJSON_ArrayForEach(op, patch) {
		/* exactly op, path, value, in that order (RFC 6902) */
		assert_int_equal(cJSON_GetArraySize(op), 3);
		assert_string_equal(op->child->string, "op");
		assert_string_equal(op->child->next->string, "path");
		assert_string_equal(op->child->next->next->string, "value");
		assert_true(cJSON_IsString(op->child->next));
	}
	/* the JSON is a copy: the evaluation can go first */
	ds_evaluation_free(&ev);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(patch, 0), "value")->valuestring, "pc");
	cJSON_Delete(patch);
}

static void test_evaluation_free_twice(void **state)
{
	struct fixture *f = *state;
	ds_evaluation ev;

	evaluate(ALL_BAD, &f->ctx, &ev);
	ds_evaluation_free(&ev);
	assert_int_equal(ev.finding_count, 0);
	assert_null(ev.findings);
	ds_evaluation_free(&ev);
}

/* ---- JSON Pointers ---- */

static void test_pointer_escape(void **state)
{
	static const char *const cases[][2] = {
		{"a/b~c", "a~1b~0c"},
		{"", ""},
		{"plain", "plain"},
		{"~", "~0"},
		{"/", "~1"},
		{"~1", "~01"},
		{"//~~", "~1~1~0~0"},
		{"dsguard.io/ignore", "dsguard.io~1ignore"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = ds_pointer_escape(cases[i][0]);
		assert_non_null(got);
		assert_string_equal(got, cases[i][1]);
		free(got);
	}
}

static void test_pointer_get(void **state)
{
	cJSON *doc = json("{'a':{'b':[10,{'c':'deep'},30]},'x/y':1,'m~n':2,'':3,'~1':4,"
			  "'meta':{'annotations':{'dsguard.io/ignore':'all'}},'arr':[[5]]}");

	(void)state;
	assert_ptr_equal(ds_pointer_get(doc, ""), doc);
	assert_int_equal(ds_pointer_get(doc, "/a/b/0")->valueint, 10);
	assert_int_equal(ds_pointer_get(doc, "/a/b/2")->valueint, 30);
	assert_string_equal(ds_pointer_get(doc, "/a/b/1/c")->valuestring, "deep");
	assert_int_equal(ds_pointer_get(doc, "/arr/0/0")->valueint, 5);
	assert_int_equal(ds_pointer_get(doc, "/x~1y")->valueint, 1);
	assert_int_equal(ds_pointer_get(doc, "/m~0n")->valueint, 2);
	assert_int_equal(ds_pointer_get(doc, "/")->valueint, 3);
	/* "~01" is "~1" (RFC 6901: ~1 is decoded after ~0, not again) */
	assert_int_equal(ds_pointer_get(doc, "/~01")->valueint, 4);
	assert_string_equal(ds_pointer_get(doc, "/meta/annotations/dsguard.io~1ignore")->valuestring, "all");
	/* missing or malformed */
	assert_null(ds_pointer_get(doc, "/a/b/3"));
	assert_null(ds_pointer_get(doc, "/a/b/-"));
	assert_null(ds_pointer_get(doc, "/a/b/01"));
	assert_null(ds_pointer_get(doc, "/a/b/-1"));
	assert_null(ds_pointer_get(doc, "/a/b/1x"));
	assert_null(ds_pointer_get(doc, "/a/b/99999999999999999999"));
	assert_null(ds_pointer_get(doc, "/a/b/0/c"));
	assert_null(ds_pointer_get(doc, "/a/c"));
	assert_null(ds_pointer_get(doc, "/x/y"));
	assert_null(ds_pointer_get(doc, "/m~2n"));
	assert_null(ds_pointer_get(doc, "/m~"));
	assert_null(ds_pointer_get(doc, "a"));
	assert_null(ds_pointer_get(doc, NULL));
	assert_null(ds_pointer_get(NULL, "/a"));
	/* an escaped pointer built with ds_pointer_escape finds its key */
	{
		char *tok = ds_pointer_escape("x/y");
		char ptr[64];
		snprintf(ptr, sizeof(ptr), "/%s", tok);
		assert_int_equal(ds_pointer_get(doc, ptr)->valueint, 1);
		free(tok);
	}
	cJSON_Delete(doc);
}

static void test_pointer_case_sensitive(void **state)
{
	cJSON *doc = json("{'Spec':1}");

	(void)state;
	assert_null(ds_pointer_get(doc, "/spec"));
	assert_non_null(ds_pointer_get(doc, "/Spec"));
	cJSON_Delete(doc);
}

/* Each rule's record is sound: a scope, options in distinct slots within
 * the room kept for them, each documented, and a fix exactly when it says
 * what the fix does. */
static void test_rule_records(void **state)
{
	(void)state;
	assert_int_equal(DS001->scope, DS_SCOPE_OBJECT);
	assert_int_equal(DS002->scope, DS_SCOPE_OBJECT);
	assert_int_equal(DS003->scope, DS_SCOPE_NAMESPACE);
	for (size_t i = 0; i < DS_RULE_COUNT; i++) {
		const ds_rule *r = &ds_rules[i];
		unsigned used = 0;
		assert_true(r->scope == DS_SCOPE_OBJECT || r->scope == DS_SCOPE_NAMESPACE);
		assert_true((r->fix == NULL) == (r->fixes == NULL));
		assert_true(r->option_count <= DS_RULE_MAX_OPTIONS);
		for (size_t j = 0; j < r->option_count; j++) {
			const ds_rule_option *o = &r->options[j];
			assert_true(o->slot < DS_RULE_MAX_OPTIONS);
			assert_false(used & (1u << o->slot));
			used |= 1u << o->slot;
			assert_string_not_equal(o->key, "severity");
			assert_ptr_equal(ds_rule_option_find(r, o->key), o);
			assert_non_null(o->what);
			assert_non_null(o->help);
		}
	}
	assert_null(ds_rule_option_find(DS002, "default"));
}

/* The engine runs the rules of the scopes asked for, and namespace rules
 * only with a lookup: the lint run's two passes never evaluate a rule
 * twice. */
static void test_evaluate_by_scope(void **state)
{
	struct fixture *f = *state;
	ds_namespace_lookup lookup;
	ds_evaluation ev;
	cJSON *res = json(DAEMONSET(META, "{'restartPolicy':'Never'}"));

	use_shared_cluster(f, &lookup);
	assert_int_equal(ds_evaluate(res, &f->ctx, DS_SCOPE_OBJECT, &ev), 0);
	assert_int_equal(ev.finding_count, 2);
	assert_null(finding_of(&ev, "DS003"));
	ds_evaluation_free(&ev);
	assert_int_equal(ds_evaluate(res, &f->ctx, DS_SCOPE_NAMESPACE, &ev), 0);
	assert_int_equal(ev.finding_count, 1);
	assert_non_null(finding_of(&ev, "DS003"));
	ds_evaluation_free(&ev);
	f->ctx.namespaces = NULL;
	assert_int_equal(ds_evaluate(res, &f->ctx, DS_SCOPE_NAMESPACE, &ev), 0);
	assert_int_equal(ev.finding_count, 0);
	cJSON_Delete(res);
}

/* A lookup that cannot tell gives a finding marked unknown: no verdict,
 * and no fix is asked of it. */
static ds_namespace_answer not_listed_yet(void *data, const char *ns, const char *name, char **other)
{
	(void)data, (void)ns, (void)name, (void)other;
	return DS_NAMESPACE_UNKNOWN;
}

static void test_ds003_unknown(void **state)
{
	struct fixture *f = *state;
	ds_namespace_lookup lookup = {not_listed_yet, NULL};
	const ds_finding *fd;
	ds_evaluation ev;

	f->ctx.namespaces = &lookup;
	evaluate(DAEMONSET(META, GOOD_SPEC), &f->ctx, &ev);
	assert_int_equal(ev.finding_count, 1);
	fd = finding_of(&ev, "DS003");
	assert_non_null(fd);
	assert_true(fd->unknown);
	ds_evaluation_free(&ev);
	f->ctx.namespaces = NULL;
}

/* A fix that cannot apply says why, from the rule itself. */
static void test_fix_says_why_not(void **state)
{
	struct fixture *f = *state;
	ds_evaluation ev;

	evaluate(DAEMONSET(META, "{}"), &f->ctx, &ev);
	assert_int_equal(ev.finding_count, 1);
	assert_string_equal(ev.findings[0].unfixable,
			    "no default priority class: set rules.priority-class.default or --priority-class");
	ds_evaluation_free(&ev);
	assert_int_equal(ds_rule_option_set_name(&f->cfg, DS001, "default", "node-agents"), 0);
	evaluate(DAEMONSET(META, "{}"), &f->ctx, &ev);
	assert_null(ev.findings[0].unfixable);
	assert_int_equal(ev.op_count, 1);
	ds_evaluation_free(&ev);
	assert_int_equal(ds_rule_option_set_name(&f->cfg, DS001, "allowed", "x"), -1); /* a list, not a name */
	assert_int_equal(ds_rule_option_set_name(&f->cfg, DS002, "default", "x"), -1); /* no such option */
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_rule_table),
		T(test_rule_records),
		T(test_evaluate_by_scope),
		T(test_ds003_unknown),
		T(test_fix_says_why_not),
		T(test_rule_find),
		T(test_severity_names),
		T(test_config_defaults),
		T(test_is_daemonset),
		T(test_old_api_versions_checked),
		T(test_other_kinds_never_reported),
		T(test_resource_name_and_namespace),
		T(test_ds001_missing),
		T(test_ds001_empty),
		T(test_ds001_not_a_string),
		T(test_ds001_not_allowed),
		T(test_ds001_ok),
		T(test_ds002),
		T(test_ds003_shared),
		T(test_ds003_alone),
		T(test_ds003_same_name_not_counted),
		T(test_ds003_without_lookup),
		T(test_ds003_exempt_namespace),
		T(test_ds003_default_namespace),
		T(test_ds003_exempt_namespace_is_default),
		T(test_severity_off_warning_error),
		T(test_enforce_false),
		T(test_ignore_annotation),
		T(test_ignore_other_annotation_key),
		T(test_exempt_findings_kept_without_fix),
		T(test_exemption_annotation_disallowed),
		T(test_fix_add_priority_class),
		T(test_fix_replace_bad_priority_class),
		T(test_fix_adds_missing_objects),
		T(test_fix_removes_priority),
		T(test_fix_keeps_priority_without_class),
		T(test_fix_blocked_by_non_object),
		T(test_fix_fills_null_levels),
		T(test_fix_replace_restart_policy),
		T(test_fix_none_without_default_class),
		T(test_fix_none_for_ds003),
		T(test_fix_both_rules),
		T(test_fix_applies_cleanly),
		T(test_patch_to_json_empty),
		T(test_patch_to_json_shape),
		T(test_evaluation_free_twice),
		T(test_pointer_escape),
		T(test_pointer_get),
		T(test_pointer_case_sensitive),
	};

	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
