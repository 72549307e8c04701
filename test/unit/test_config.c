/* test_config.c - the strict config file: values, defaults, and errors that
 * name the file, line and column. Positions are counted by hand from the
 * test text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "lint/lint.h"
#include "test/rule_access.h"

/* Per test: a scratch directory, the config under test, its error. */
struct fixture {
	char dir[256];
	char path[300];
	ds_config cfg;
	char *error;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/dsguard-config-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/dsguard.yaml", f->dir);
	ds_config_init(&f->cfg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ds_config_free(&f->cfg);
	free(f->error);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fclose(fp), 0);
}

/* Writes text to the fixture's file and loads it. */
static int load(struct fixture *f, const char *text)
{
	write_file(f->path, text);
	free(f->error);
	f->error = NULL;
	return ds_config_load(f->path, &f->cfg, &f->error);
}

static void assert_defaults(const ds_config *cfg)
{
	assert_true(cfg->enforce);
	assert_true(cfg->allow_exemption_annotation);
	for (int i = 0; i < DS_RULE_COUNT; i++) {
		assert_int_equal(cfg->rules[i].severity, DS_SEVERITY_ERROR);
		assert_true(options_are_none(cfg, (size_t)i));
	}
}

/* Loads text, which must fail with "PATH:line:col: " followed by a message
 * holding `words`; cfg must be back at the defaults. */
static void expect_error(struct fixture *f, const char *text, unsigned line, unsigned column, const char *words)
{
	char prefix[400];

	assert_int_equal(load(f, text), -1);
	assert_non_null(f->error);
	snprintf(prefix, sizeof(prefix), "%s:%u:%u: ", f->path, line, column);
	if (strncmp(f->error, prefix, strlen(prefix)) || !strstr(f->error + strlen(prefix), words))
		fail_msg("got \"%s\", want \"%s...%s...\"", f->error, prefix, words);
	assert_defaults(&f->cfg);
}

/* ---- values ---- */

static const char spec_example[] =
	"enforce: true                 # false: every finding becomes a warning (audit mode)\n"
	"rules:\n"
	"  priority-class:\n"
	"    severity: error           # error | warning | off\n"
	"    default: node-agents      # what the webhook patches in and --fix inserts; none: no patch\n"
	"    allowed: []               # empty: any non-empty name\n"
	"  restart-policy:\n"
	"    severity: error\n"
	"  dedicated-namespace:\n"
	"    severity: error\n"
	"    exemptNamespaces: [kube-system]\n";

static void test_spec_example(void **state)
{
	struct fixture *f = *state;
	const ds_config *c = &f->cfg;

	assert_int_equal(load(f, spec_example), 0);
	assert_null(f->error);
	assert_true(c->enforce);
	assert_true(c->allow_exemption_annotation);
	assert_int_equal(RULE_SETTINGS(c, DS001).severity, DS_SEVERITY_ERROR);
	assert_string_equal(DEFAULT_CLASS(c), "node-agents");
	assert_int_equal(ALLOWED_CLASSES(c).count, 0);
	assert_int_equal(RULE_SETTINGS(c, DS002).severity, DS_SEVERITY_ERROR);
	assert_int_equal(RULE_SETTINGS(c, DS003).severity, DS_SEVERITY_ERROR);
	assert_int_equal(EXEMPT_NAMESPACES(c).count, 1);
	assert_string_equal(EXEMPT_NAMESPACES(c).items[0], "kube-system");
}

static void test_every_key(void **state)
{
	struct fixture *f = *state;
	const ds_config *c = &f->cfg;

	assert_int_equal(load(f, "enforce: false\n"
				 "allowExemptionAnnotation: false\n"
				 "rules:\n"
				 "  DS001:\n"
				 "    severity: warning\n"
				 "    default: system-node-critical\n"
				 "    allowed:\n"
				 "      - system-node-critical\n"
				 "      - node-agents\n"
				 "  restart-policy: {severity: warning}\n"
				 "  ds003:\n"
				 "    exemptNamespaces: [kube-system, monitoring]\n"),
			 0);
	assert_false(c->enforce);
	assert_false(c->allow_exemption_annotation);
	assert_int_equal(RULE_SETTINGS(c, DS001).severity, DS_SEVERITY_WARNING);
	assert_string_equal(DEFAULT_CLASS(c), "system-node-critical");
	assert_int_equal(ALLOWED_CLASSES(c).count, 2);
	assert_string_equal(ALLOWED_CLASSES(c).items[0], "system-node-critical");
	assert_string_equal(ALLOWED_CLASSES(c).items[1], "node-agents");
	assert_int_equal(RULE_SETTINGS(c, DS002).severity, DS_SEVERITY_WARNING);
	assert_int_equal(RULE_SETTINGS(c, DS003).severity, DS_SEVERITY_ERROR);
	assert_int_equal(EXEMPT_NAMESPACES(c).count, 2);
	assert_string_equal(EXEMPT_NAMESPACES(c).items[1], "monitoring");
}

static void test_severity_off_quoted(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "rules:\n  restart-policy:\n    severity: \"off\"\n"), 0);
	assert_int_equal(RULE_SETTINGS(&f->cfg, DS002).severity, DS_SEVERITY_OFF);
}

static void test_severity_off_plain(void **state)
{
	struct fixture *f = *state;

	/* The SPEC's own example writes "severity: error  # error | warning |
	 * off": a user writes off unquoted, which YAML 1.1 reads as false. */
	if (load(f, "rules:\n  dedicated-namespace:\n    severity: off\n") != 0)
		fail_msg("severity: off (unquoted) is refused: %s", f->error ? f->error : "?");
	assert_int_equal(RULE_SETTINGS(&f->cfg, DS003).severity, DS_SEVERITY_OFF);
}

static void test_nulls_mean_none(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "rules:\n"
				 "  priority-class:\n"
				 "    default: null\n"
				 "    allowed: ~\n"
				 "  restart-policy:\n"
				 "  dedicated-namespace:\n"
				 "    exemptNamespaces:\n"),
			 0);
	assert_defaults(&f->cfg);
	assert_int_equal(load(f, "rules:\n"), 0);
	assert_defaults(&f->cfg);
}

/* A config without settings (an empty file, comments, whitespace, an
 * empty document) is an error naming the file: a config truncated by
 * mistake must not turn into the defaults, where /mutate patches nothing. */
static void test_error_empty_file(void **state)
{
	static const char *const empty[] = {"", "# nothing configured yet\n\n", "  \n    \n\n", "\xef\xbb\xbf",
					    "\r\n", "---\n", "--- # empty\n...\n", "~\n", "null\n"};
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		f->cfg.enforce = false; /* a failed load leaves the defaults */
		expect_error(f, empty[i], 1, 1, "the config is empty");
		assert_non_null(strstr(f->error, "it must hold a YAML mapping of settings"));
	}
	assert_int_equal(load(f, "{}\n"), 0); /* an empty mapping says: the defaults */
	assert_defaults(&f->cfg);
}

static void test_load_replaces_earlier_config(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, spec_example), 0);
	assert_int_equal(load(f, "enforce: false\n"), 0);
	assert_false(f->cfg.enforce);
	assert_null(DEFAULT_CLASS(&f->cfg));
	assert_int_equal(EXEMPT_NAMESPACES(&f->cfg).count, 0);
}

static void test_bom_crlf_and_json(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "\xEF\xBB\xBF" "enforce: false\r\nrules:\r\n  DS002:\r\n    severity: warning\r\n"), 0);
	assert_false(f->cfg.enforce);
	assert_int_equal(RULE_SETTINGS(&f->cfg, DS002).severity, DS_SEVERITY_WARNING);
	assert_int_equal(load(f, "{\"enforce\": false, \"rules\": {\"priority-class\": {\"default\": \"pc\"}}}"), 0);
	assert_false(f->cfg.enforce);
	assert_string_equal(DEFAULT_CLASS(&f->cfg), "pc");
}

static void test_rule_named_twice(void **state)
{
	struct fixture *f = *state;
	int rc;

	/* by id and by name: the later settings apply (and nothing leaks) */
	rc = load(f, "rules:\n"
		     "  DS001:\n"
		     "    default: a\n"
		     "    allowed: [a]\n"
		     "  priority-class:\n"
		     "    default: b\n"
		     "    allowed: [b]\n");
	if (rc == 0) {
		assert_string_equal(DEFAULT_CLASS(&f->cfg), "b");
		assert_int_equal(ALLOWED_CLASSES(&f->cfg).count, 1);
		assert_string_equal(ALLOWED_CLASSES(&f->cfg).items[0], "b");
	} else {
		assert_non_null(strstr(f->error, f->path));
		assert_defaults(&f->cfg);
	}
}

/* ---- errors ---- */

static void test_error_unknown_top_key(void **state)
{
	struct fixture *f = *state;

	expect_error(f, "enforce: true\nfoo: 1\n", 2, 1, "unknown key \"foo\"");
	/* keys are case-sensitive */
	expect_error(f, "enforce: false\nrules: {}\nEnforce: true\n", 3, 1, "unknown key \"Enforce\"");
	expect_error(f, "# comment\n\nallowExemptionAnnotations: false\n", 3, 1, "allowExemptionAnnotations");
}

static void test_error_unknown_rule(void **state)
{
	struct fixture *f = *state;
	char want[512];

	/* docs/config.md shows this very message */
	expect_error(f, "enforce: true\nrules:\n  priority:\n    severity: error\n", 3, 3, "unknown rule \"priority\"");
	snprintf(want, sizeof(want),
		 "%s:3:3: unknown rule \"priority\" (known: priority-class, restart-policy, dedicated-namespace)",
		 f->path);
	assert_string_equal(f->error, want);
	expect_error(f, "rules:\n  restart-policy: {}\n  DS004: {}\n", 3, 3, "DS004");
	expect_error(f, "rules: {priority-class: {}, Priority-Class: {}}\n", 1, 29, "Priority-Class");
}

static void test_error_unknown_rule_key(void **state)
{
	struct fixture *f = *state;

	/* default and allowed belong to priority-class only */
	expect_error(f, "rules:\n  restart-policy:\n    severity: error\n    default: x\n", 4, 5,
		     "unknown key \"default\"");
	assert_non_null(strstr(f->error, "restart-policy"));
	expect_error(f, "rules:\n  priority-class:\n    exemptNamespaces: [a]\n", 3, 5, "exemptNamespaces");
	expect_error(f, "rules:\n  dedicated-namespace:\n    exemptNamespace: [a]\n", 3, 5, "exemptNamespace");
	expect_error(f, "rules:\n  DS001: {severity: error, alowed: [a]}\n", 2, 28, "alowed");
}

static void test_error_wrong_types(void **state)
{
	struct fixture *f = *state;

	expect_error(f, "enforce: 1\n", 1, 10, "enforce");
	expect_error(f, "enforce: \"false\"\n", 1, 10, "enforce");
	expect_error(f, "enforce: true\nallowExemptionAnnotation: [false]\n", 2, 27, "allowExemptionAnnotation");
	expect_error(f, "rules: [priority-class]\n", 1, 8, "rules");
	expect_error(f, "rules:\n  priority-class: error\n", 2, 19, "priority-class");
	expect_error(f, "rules:\n  priority-class:\n    allowed: node-agents\n", 3, 14, "allowed");
	expect_error(f, "rules:\n  priority-class:\n    allowed: [a, 5, b]\n", 3, 18, "allowed");
	expect_error(f, "rules:\n  priority-class:\n    allowed:\n      - a\n      - \"\"\n", 5, 9, "allowed");
	expect_error(f, "rules:\n  priority-class:\n    default: 5\n", 3, 14, "default");
	expect_error(f, "rules:\n  priority-class:\n    default: \"\"\n", 3, 14, "default");
	expect_error(f, "rules:\n  priority-class:\n    default: [a]\n", 3, 14, "default");
	/* a default the API server would refuse in a pod spec (not a DNS
	 * subdomain) is no default: /mutate would patch it in, --fix insert it */
	expect_error(f, "rules:\n  priority-class:\n    default: Node-Agents\n", 3, 14, "is not a PriorityClass name");
	expect_error(f, "rules:\n  priority-class:\n    default: node agents\n", 3, 14, "is not a PriorityClass name");
	expect_error(f, "rules:\n  priority-class:\n    default: a..b\n", 3, 14, "is not a PriorityClass name");
	expect_error(f, "rules:\n  priority-class:\n    default: a-.b\n", 3, 14, "is not a PriorityClass name");
	expect_error(f, "rules:\n  priority-class:\n    default: -a\n", 3, 14, "is not a PriorityClass name");
	expect_error(f, "rules:\n  dedicated-namespace:\n    exemptNamespaces: {kube-system: true}\n", 3, 23,
		     "exemptNamespaces");
	expect_error(f, "- enforce: true\n", 1, 1, "mapping");
	expect_error(f, "just words\n", 1, 1, "mapping");
}

static void test_error_bad_severity(void **state)
{
	struct fixture *f = *state;

	expect_error(f, "rules:\n  DS002:\n    severity: fatal\n", 3, 15, "severity must be error, warning or off");
	expect_error(f, "rules:\n  DS002:\n    severity: Error\n", 3, 15, "severity");
	expect_error(f, "rules:\n  DS002:\n    severity: 2\n", 3, 15, "severity");
	expect_error(f, "rules:\n  DS002:\n    severity:\n", 3, 14, "severity");
}

static void test_error_after_good_keys_leaves_defaults(void **state)
{
	struct fixture *f = *state;

	expect_error(f,
		     "enforce: false\n"
		     "rules:\n"
		     "  priority-class:\n"
		     "    default: pc\n"
		     "    allowed: [pc]\n"
		     "  dedicated-namespace:\n"
		     "    exemptNamespaces: [kube-system]\n"
		     "    severity: never\n",
		     8, 15, "severity");
}

static void test_error_multiple_documents(void **state)
{
	struct fixture *f = *state;
	char line2[400], line3[400];

	assert_int_equal(load(f, "enforce: true\n---\nenforce: false\n"), -1);
	assert_non_null(f->error);
	/* at the second document: its "---" (2:1) or its first key (3:1) */
	snprintf(line2, sizeof(line2), "%s:2:1: ", f->path);
	snprintf(line3, sizeof(line3), "%s:3:1: ", f->path);
	if (strncmp(f->error, line2, strlen(line2)) && strncmp(f->error, line3, strlen(line3)))
		fail_msg("got \"%s\", want \"%s...\" (or line 3)", f->error, line2);
	assert_non_null(strstr(f->error, "document"));
	assert_defaults(&f->cfg);
}

static void test_error_yaml_syntax(void **state)
{
	struct fixture *f = *state;

	/* the flow mapping opened at 2:19 never closes: found at the end */
	expect_error(f, "rules:\n  priority-class: {severity: error\n", 3, 1, "line 2 column 19");
	expect_error(f, "enforce: true\n\trules: {}\n", 2, 1, "tab");
	expect_error(f, "enforce: \"true\n", 2, 1, "quoted scalar");
	expect_error(f, "enforce: true\nrules: \xff\n", 2, 8, "UTF-8");
}

static void test_error_missing_file(void **state)
{
	struct fixture *f = *state;
	char missing[400], want[500];

	snprintf(missing, sizeof(missing), "%s/no-such.yaml", f->dir);
	f->cfg.enforce = false;
	assert_int_equal(ds_config_load(missing, &f->cfg, &f->error), -1);
	/* a whole-file problem has no line and column */
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", missing);
	assert_string_equal(f->error, want);
	assert_defaults(&f->cfg);
}

static void test_error_directory(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(ds_config_load(f->dir, &f->cfg, &f->error), -1);
	assert_non_null(f->error);
	assert_int_equal(strncmp(f->error, f->dir, strlen(f->dir)), 0);
	assert_defaults(&f->cfg);
}

static void test_error_alias_bomb(void **state)
{
	struct fixture *f = *state;
	char text[4096];
	size_t n = 0;

	n += (size_t)snprintf(text + n, sizeof(text) - n, "a0: &a0 [x,x,x,x,x,x,x,x,x,x]\n");
	for (int i = 1; i < 10; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "a%d: &a%d [*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d]\n",
				      i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	assert_int_equal(load(f, text), -1);
	assert_non_null(strstr(f->error, "alias"));
	assert_int_equal(strncmp(f->error, f->path, strlen(f->path)), 0);
	assert_defaults(&f->cfg);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_spec_example),
		T(test_every_key),
		T(test_severity_off_quoted),
		T(test_severity_off_plain),
		T(test_nulls_mean_none),
		T(test_error_empty_file),
		T(test_load_replaces_earlier_config),
		T(test_bom_crlf_and_json),
		T(test_rule_named_twice),
		T(test_error_unknown_top_key),
		T(test_error_unknown_rule),
		T(test_error_unknown_rule_key),
		T(test_error_wrong_types),
		T(test_error_bad_severity),
		T(test_error_after_good_keys_leaves_defaults),
		T(test_error_multiple_documents),
		T(test_error_yaml_syntax),
		T(test_error_missing_file),
		T(test_error_directory),
		T(test_error_alias_bomb),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
