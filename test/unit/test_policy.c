/* test_policy.c - policy/: Kubernetes versions, CEL literals and guards,
 * label selectors, the YAML writer (read back by yaml/, the reader of
 * manifests), and which objects a config becomes. Expected CEL and YAML
 * text is written here by hand from the CEL and YAML specifications. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/internal.h"
#include "test/rule_access.h"
#include "yaml/document.h"

/* What fn writes, as a new string. */
#define WRITTEN(call)                                   \
	({                                              \
		ds_text t_;                             \
		assert_int_equal(ds_text_open(&t_), 0); \
		FILE *f = t_.f;                         \
		call;                                   \
		ds_text_close(&t_);                     \
	})

static void kube_versions(void **state)
{
	unsigned minor = 0;
	char *error = NULL;

	(void)state;
	assert_int_equal(ds_policy_kube_version("1.30", &minor, &error), 0);
	assert_int_equal(minor, 30);
	assert_int_equal(ds_policy_kube_version("v1.34.2", &minor, &error), 0);
	assert_int_equal(minor, 34);
	assert_int_equal(ds_policy_kube_version("1.29", &minor, &error), -1);
	assert_non_null(strstr(error, "ValidatingAdmissionPolicy v1 needs Kubernetes 1.30"));
	for (const char *const *bad = (const char *const[]){"", "1", "2.30", "1.", "1.30x", "1.x", "v", "1.30.", NULL};
	     *bad; bad++) {
		assert_int_equal(ds_policy_kube_version(*bad, &minor, &error), -1);
		assert_non_null(strstr(error, "is not a Kubernetes version"));
	}
	free(error);
}

static void cel_literals(void **state)
{
	ds_string_list list = {(char *[]){"a", "it's"}, 2};
	cJSON *json = cJSON_Parse("{\"k\":[1,-2,true,null,\"x\"],\"d\":1.5}");
	char *s;

	(void)state;
	s = WRITTEN(ds_cel_quote(f, "it's a \\ \"q\"\n\t\x01\x7f é"));
	assert_string_equal(s, "'it\\'s a \\\\ \"q\"\\n\\t\\u0001\\u007f é'");
	free(s);
	s = WRITTEN(ds_cel_list(f, &list));
	assert_string_equal(s, "['a', 'it\\'s']");
	free(s);
	s = WRITTEN(ds_cel_list(f, &(ds_string_list){NULL, 0}));
	assert_string_equal(s, "[]");
	free(s);
	s = WRITTEN(ds_cel_literal(f, json));
	assert_string_equal(s, "{'k': [1, -2, true, null, 'x'], 'd': 1.50000000000000000e+00}");
	free(s);
	cJSON_Delete(json);
}

static void cel_selections(void **state)
{
	char *s;

	(void)state;
	s = WRITTEN(ds_cel_select(f, "object", "/spec/template"));
	assert_string_equal(s, "object.spec.template");
	free(s);
	/* Not identifiers: indexed, the pointer's escapes undone; CEL keywords too. */
	s = WRITTEN(ds_cel_select(f, "object", "/metadata/annotations/a~1b~0c/in/_x1"));
	assert_string_equal(s, "object.metadata.annotations['a/b~c']['in']._x1");
	free(s);
	s = WRITTEN(ds_cel_present(f, "object", "/a/b/c", true));
	assert_string_equal(s, "has(object.a) && type(object.a) == map && has(object.a.b) && type(object.a.b) == map"
			       " && has(object.a.b.c)");
	free(s);
	s = WRITTEN(ds_cel_present(f, "object", "/a/b/c", false));
	assert_string_equal(s, "has(object.a) && type(object.a) == map && has(object.a.b) && type(object.a.b) == map");
	free(s);
	s = WRITTEN(ds_cel_present(f, "o", "/a/x.y", true));
	assert_string_equal(s, "has(o.a) && type(o.a) == map && 'x.y' in o.a");
	free(s);
	s = WRITTEN(ds_cel_present(f, "o", "/a", false));
	assert_string_equal(s, "true");
	free(s);
	s = WRITTEN(ds_re2_literal(f, "DS001.a-(b)", true));
	assert_string_equal(s, "[Dd][Ss]001\\.[Aa]-\\([Bb]\\)");
	free(s);
	s = WRITTEN(ds_re2_literal(f, "priority-class", false));
	assert_string_equal(s, "priority-class");
	free(s);
}

static void cel_messages(void **state)
{
	char *s;

	(void)state;
	s = WRITTEN(ds_cel_message(f, "a \"" DS_MARK_VALUE "\" b", "v", NULL));
	assert_string_equal(s, "'a \"' + v + '\" b'");
	free(s);
	s = WRITTEN(ds_cel_message(f, DS_MARK_VALUE "/" DS_MARK_OTHER, "ns", "other"));
	assert_string_equal(s, "ns + '/' + other");
	free(s);
	s = WRITTEN(ds_cel_message(f, "", "v", NULL));
	assert_string_equal(s, "''");
	free(s);
}

/* The matchExpressions of selector text, printed. */
static char *selector(const char *text, char **error)
{
	cJSON *sel = cJSON_CreateObject();
	char *out = NULL;

	if (ds_label_selector_parse(text, sel, error) == 0)
		out = cJSON_PrintUnformatted(cJSON_GetObjectItem(sel, "matchExpressions"));
	cJSON_Delete(sel);
	return out;
}

static void label_selectors(void **state)
{
	char *error = NULL, *s;

	(void)state;
	s = selector("a=b, c==d,e != f ,g in (h, i),j notin(k),l,!m,example.com/n-o_p.q", &error);
	assert_string_equal(
		s, "[{\"key\":\"a\",\"operator\":\"In\",\"values\":[\"b\"]},{\"key\":\"c\",\"operator\":\"In\",\"values\":[\"d\"]},"
		   "{\"key\":\"e\",\"operator\":\"NotIn\",\"values\":[\"f\"]},{\"key\":\"g\",\"operator\":\"In\",\"values\":[\"h\",\"i\"]},"
		   "{\"key\":\"j\",\"operator\":\"NotIn\",\"values\":[\"k\"]},{\"key\":\"l\",\"operator\":\"Exists\"},"
		   "{\"key\":\"m\",\"operator\":\"DoesNotExist\"},{\"key\":\"example.com/n-o_p.q\",\"operator\":\"Exists\"}]");
	free(s);
	s = selector("kubernetes.io/metadata.name notin (kube-system, dsguard)", &error);
	assert_string_equal(s, "[{\"key\":\"kubernetes.io/metadata.name\",\"operator\":\"NotIn\",\"values\":[\"kube-system\","
			       "\"dsguard\"]}]");
	free(s);
	s = selector("a=", &error);
	assert_string_equal(s, "[{\"key\":\"a\",\"operator\":\"In\",\"values\":[\"\"]}]");
	free(s);
	for (const char *const *bad = (const char *const[]){"", " ", "a=b c", "a in b", "a in (b", "a > 1", "-a", "a,",
							    "A.b/c", "a=-b", "!a=b", "a b", NULL};
	     *bad; bad++) {
		s = selector(*bad, &error);
		if (s)
			fail_msg("\"%s\" was read as %s", *bad, s);
		assert_non_null(error);
	}
	free(error);
}

/* Reads text back with yaml/ (the reader of manifests) into its only
 * document's root. */
static int keep_root(void *data, ds_document *doc)
{
	cJSON **root = data;

	*root = doc->root;
	doc->root = NULL;
	ds_document_free(doc);
	return 0;
}

static void yaml_reads_back(void **state)
{
	const char *json =
		"{\"plain\":\"admissionregistration.k8s.io/v1\",\"words\":[\"yes\",\"No\",\"null\",\"on\",\"true\",\"y\"],"
		"\"numbers\":[\"1.30\",\"0x1F\",\"1e3\",\"007\"],\"quoted\":[\"a: b\",\"#c\",\"-\",\"'\",\"\\\"\",\" lead\",\"\"],"
		"\"block\":\"a\\n  ? 'b' + \\\"c\\\"\\n\\n: d\",\"not block\":[\"a\\n\",\" a\\nb\",\"a\\n   \\nb\",\"t\\tab\\n\\u0001\"],"
		"\"empty\":{},\"none\":[],\"n\":[1,2.5,-3,true,false,null],\"list of maps\":[{\"a\":1,\"b\":[{\"c\":\"d\"}]},{}],"
		"\"x.io/k\":{\"selector\":{}}}";
	cJSON *in = cJSON_Parse(json), *back = NULL;
	ds_diag_list diags = {0};
	char *text;

	(void)state;
	text = WRITTEN(ds_yaml_write(f, in, 0));
	assert_int_equal(ds_yaml_load(text, strlen(text), keep_root, &back, &diags), 0);
	assert_int_equal(diags.count, 0);
	if (!cJSON_Compare(in, back, true))
		fail_msg("read back differently:\n%s", text);
	/* The forms chosen. */
	assert_non_null(strstr(text, "plain: admissionregistration.k8s.io/v1\n"));
	assert_non_null(strstr(text, "block: |-\n  a\n    ? 'b' + \"c\"\n\n  : d\n"));
	assert_non_null(strstr(text, "- \"yes\"\n"));
	assert_non_null(strstr(text, "- \"1.30\"\n"));
	assert_non_null(strstr(text, "empty: {}\n"));
	assert_non_null(strstr(text, "x.io/k:\n  selector: {}"));
	assert_non_null(strstr(text, "\"list of maps\":\n  - a: 1\n    b:\n      - c: d\n  - {}\n"));
	ds_diag_list_free(&diags);
	cJSON_Delete(back);
	cJSON_Delete(in);
	free(text);
}

/* Generates with cfg; returns the kinds and names, one "Kind name" a line. */
static char *generate(const ds_config *cfg, unsigned minor, bool mutating, const char *prefix, char **error)
{
	ds_policy_options opts = {.kube_minor = minor, .mutating = mutating, .name_prefix = prefix};
	ds_policy_set set;
	ds_text t;

	if (ds_policy_generate(cfg, &opts, &set, error) < 0)
		return NULL;
	assert_int_equal(ds_text_open(&t), 0);
	for (size_t i = 0; i < set.count; i++)
		fprintf(t.f, "%s %s %s\n", cJSON_GetObjectItem(set.docs[i].object, "apiVersion")->valuestring,
			cJSON_GetObjectItem(set.docs[i].object, "kind")->valuestring,
			cJSON_GetObjectItem(cJSON_GetObjectItem(set.docs[i].object, "metadata"), "name")->valuestring);
	ds_policy_set_free(&set);
	return ds_text_close(&t);
}

#define V1 "admissionregistration.k8s.io/v1 "
#define VAP V1 "ValidatingAdmissionPolicy "
#define VAPB V1 "ValidatingAdmissionPolicyBinding "

static void objects_by_config(void **state)
{
	ds_config cfg;
	char *error = NULL, *s;

	(void)state;
	ds_config_init(&cfg);
	/* Defaults: DS001 denies and warns; DS002 is the API server's; DS003
	 * denies, and warns for an exemption. */
	s = generate(&cfg, 30, false, NULL, &error);
	assert_string_equal(s, VAP "dsguard-ds001-priority-class\n" VAPB "dsguard-ds001-priority-class\n"
			       VAP "dsguard-ds001-priority-class-warn\n" VAPB "dsguard-ds001-priority-class-warn\n"
			       VAP "dsguard-ds003-dedicated-namespace\n" VAPB "dsguard-ds003-dedicated-namespace\n"
			       VAP "dsguard-ds003-dedicated-namespace-warn\n" VAPB "dsguard-ds003-dedicated-namespace-warn\n");
	free(s);
	/* No exemptions: DS003 has nothing to warn about. */
	cfg.allow_exemption_annotation = false;
	RULE_SETTINGS(&cfg, DS001).severity = DS_SEVERITY_WARNING;
	s = generate(&cfg, 31, false, "x.", &error);
	assert_string_equal(s, VAP "x.ds001-priority-class\n" VAPB "x.ds001-priority-class\n"
			       VAP "x.ds003-dedicated-namespace\n" VAPB "x.ds003-dedicated-namespace\n");
	free(s);
	/* enforce: false warns only; off is nothing. */
	cfg.enforce = false;
	RULE_SETTINGS(&cfg, DS003).severity = DS_SEVERITY_OFF;
	s = generate(&cfg, 34, false, "", &error);
	assert_string_equal(s, VAP "ds001-priority-class\n" VAPB "ds001-priority-class\n");
	free(s);
	RULE_SETTINGS(&cfg, DS001).severity = DS_SEVERITY_OFF;
	s = generate(&cfg, 34, false, NULL, &error);
	assert_string_equal(s, "");
	free(s);
	ds_config_free(&cfg);
}

static void mutating(void **state)
{
	ds_config cfg;
	char *error = NULL, *s;

	(void)state;
	ds_config_init(&cfg);
	assert_null(generate(&cfg, 31, true, NULL, &error));
	assert_non_null(strstr(error, "--mutating needs Kubernetes 1.32 or later"));
	/* DS001 enforced without a default class cannot be patched. */
	assert_null(generate(&cfg, 32, true, NULL, &error));
	assert_non_null(strstr(error, "DS001 priority-class cannot be patched"));
	assert_non_null(strstr(error, "rules.priority-class.default"));
	DEFAULT_CLASS(&cfg) = strdup("node-agents");
	s = generate(&cfg, 33, true, NULL, &error);
	assert_non_null(strstr(s, "admissionregistration.k8s.io/v1alpha1 MutatingAdmissionPolicy dsguard-ds001-priority-class\n"
				  "admissionregistration.k8s.io/v1alpha1 MutatingAdmissionPolicyBinding dsguard-ds001-priority-class\n"));
	assert_non_null(strstr(s, "admissionregistration.k8s.io/v1alpha1 MutatingAdmissionPolicy dsguard-ds002-restart-policy\n"));
	assert_null(strstr(s, "ValidatingAdmissionPolicy dsguard-ds002"));
	free(s);
	s = generate(&cfg, 34, true, NULL, &error);
	assert_non_null(strstr(s, "admissionregistration.k8s.io/v1beta1 MutatingAdmissionPolicy dsguard-ds002-restart-policy\n"));
	assert_null(strstr(s, "v1alpha1"));
	free(s);
	/* A warning is never patched; with nothing to patch, --mutating says so. */
	cfg.enforce = false;
	assert_null(generate(&cfg, 34, true, NULL, &error));
	assert_non_null(strstr(error, "no rule is to be patched"));
	free(error);
	ds_config_free(&cfg);
}

static void names(void **state)
{
	ds_config cfg;
	char *error = NULL;
	char long_prefix[260];

	(void)state;
	ds_config_init(&cfg);
	for (const char *const *bad = (const char *const[]){"Dsguard-", "-x", "a_b-", "x/", NULL}; *bad; bad++) {
		assert_null(generate(&cfg, 30, false, *bad, &error));
		assert_non_null(strstr(error, "does not make a valid object name"));
	}
	memset(long_prefix, 'a', 240);
	long_prefix[240] = '\0';
	assert_null(generate(&cfg, 30, false, long_prefix, &error));
	free(error);
	ds_config_free(&cfg);
}

/* The rules' messages come from the engine, markers where values go. */
static void probes(void **state)
{
	ds_config cfg;
	ds_probe p;
	char *error = NULL;

	(void)state;
	ds_config_init(&cfg);
	RULE_SETTINGS(&cfg, DS001).severity = DS_SEVERITY_OFF; /* a probe runs the rule all the same */
	assert_int_equal(ds_probe_rule(DS001, &cfg,
				       "{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"spec\":{\"template\":{\"spec\":{}}}}",
				       NULL, &p, &error), 0);
	assert_non_null(p.message);
	assert_string_equal(p.pointer, "/spec/template/spec/priorityClassName");
	assert_non_null(p.unfixable);
	assert_int_equal(cJSON_GetArraySize(p.fix), 0);
	ds_probe_free(&p);
	assert_int_equal(ds_probe_rule(DS003, &cfg,
				       "{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"a\","
				       "\"namespace\":\"" DS_MARK_VALUE "\"}}",
				       DS_MARK_OTHER, &p, &error), 0);
	assert_non_null(strstr(p.message, DS_MARK_VALUE "/" DS_MARK_OTHER));
	ds_probe_free(&p);
	assert_int_equal(ds_probe_rule(DS001, &cfg, "{", NULL, &p, &error), -1);
	free(error);
	ds_config_free(&cfg);
}

/* The annotation is read as the engine reads it (checked in CEL by
 * test_policy_cel.py); here, its shape and that the config can turn it off. */
static void exemptions(void **state)
{
	ds_config cfg;
	ds_cel_exemptions ex;
	bool oom;
	char *s;

	(void)state;
	ds_config_init(&cfg);
	assert_int_equal(ds_exemptions_make(DS001, &cfg, 1, &ex), 0);
	s = ds_exemptions_condition(&ex, &oom);
	assert_false(oom);
	assert_non_null(strstr(s, "'dsguard.io/ignore' in object.metadata.annotations"));
	assert_non_null(strstr(s, ".matches('(^|,)[ \\\\t]*([Dd][Ss]001|priority-class|[Aa][Ll][Ll])[ \\\\t\\\\n\\\\v\\\\f\\\\r]*(,|$)')"));
	free(s);
	ds_exemptions_free(&ex);
	cfg.allow_exemption_annotation = false;
	assert_int_equal(ds_exemptions_make(DS001, &cfg, 1, &ex), 0);
	assert_null(ds_exemptions_condition(&ex, &oom));
	assert_false(oom);
	ds_exemptions_free(&ex);
	ds_config_free(&cfg);
}

/* A config entry becomes its selectors in CEL: a literal glob by
 * equality, a pattern by matches(), a label by key and value; one that
 * has expired is left out with a note, one that will is noted. */
static void config_exemptions(void **state)
{
	ds_config cfg;
	ds_cel_exemptions ex;
	ds_exemption *e;
	bool oom;
	char *s;

	(void)state;
	ds_config_init(&cfg);
	cfg.allow_exemption_annotation = false;
	cfg.exemptions = calloc(2, sizeof(*cfg.exemptions));
	cfg.exemption_count = 2;
	e = &cfg.exemptions[0];
	e->rules[ds_rule_index(DS001)] = true;
	e->namespaces.items = calloc(2, sizeof(char *));
	e->namespaces.items[0] = strdup("kube-*.x?");
	e->namespaces.items[1] = strdup("cni\\*");
	e->namespaces.count = 2;
	e->labels = calloc(1, sizeof(*e->labels));
	e->labels[0] = (ds_label){strdup("app.kubernetes.io/part-of"), strdup("cilium")};
	e->label_count = 1;
	e->reason = strdup("vendor's \"chart\"");
	e->expires = true;
	e->expiry = 100;
	e->expires_text = strdup("1970-01-01T00:01:40Z");
	e->file = "c.yaml";
	e->line = 3;
	cfg.exemptions[1] = *e;
	cfg.exemptions[1].labels = NULL;
	cfg.exemptions[1].label_count = 0;
	cfg.exemptions[1].namespaces = (ds_string_list){0};
	cfg.exemptions[1].reason = strdup("x");
	cfg.exemptions[1].expires_text = strdup("then");
	cfg.exemptions[1].names.items = calloc(1, sizeof(char *));
	cfg.exemptions[1].names.items[0] = strdup("a");
	cfg.exemptions[1].names.count = 1;
	cfg.exemptions[1].line = 9;
	cfg.exemptions[1].expiry = 50;

	assert_int_equal(ds_exemptions_make(DS001, &cfg, 60, &ex), 0);
	assert_int_equal(ex.count, 1);
	s = ds_exemptions_condition(&ex, &oom);
	assert_non_null(strstr(s, ".matches('^kube-.*\\\\.x.$')"));
	assert_non_null(strstr(s, " == 'cni*'"));
	assert_non_null(strstr(s, "object.metadata.labels['app.kubernetes.io/part-of'] == 'cilium'"));
	assert_non_null(strstr(ex.items[0].message, "'DS001 priority-class exempted by config (vendor\\'s \"chart\"): ' + variables.finding"));
	assert_non_null(strstr(ex.notes, "c.yaml:9 left out: it expired (expires: then)"));
	assert_non_null(strstr(ex.notes, "c.yaml:3 holds until 1970-01-01T00:01:40Z"));
	free(s);
	ds_exemptions_free(&ex);
	assert_int_equal(ds_exemptions_make(DS002, &cfg, 60, &ex), 0);
	assert_int_equal(ex.count, 0);
	ds_exemptions_free(&ex);
	ds_config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kube_versions),   cmocka_unit_test(cel_literals),	cmocka_unit_test(cel_selections),
		cmocka_unit_test(cel_messages),	   cmocka_unit_test(label_selectors),	cmocka_unit_test(yaml_reads_back),
		cmocka_unit_test(objects_by_config), cmocka_unit_test(mutating),	cmocka_unit_test(names),
		cmocka_unit_test(probes),	   cmocka_unit_test(exemptions), cmocka_unit_test(config_exemptions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
