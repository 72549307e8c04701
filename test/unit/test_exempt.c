/* test_exempt.c - governed exemptions: the glob matcher, the config's
 * `exemptions` and allowExemptionAnnotation read strictly, and the decision
 * table of ds_exemption_decide() (rule x namespace x name x labels x expiry
 * x annotation x user and groups x operation). Times are fixed in the
 * context; expected expiry seconds are worked out by hand (days since the
 * epoch times 86400). */
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
#include "rules/rules.h"
#include "test/rule_access.h"
#include "test/unit/helpers.h"

/* 2026-06-01T00:00:00Z: 20605 days after the epoch. */
#define JUNE_2026 ((time_t)20605 * 86400)
/* 2027-04-01T00:00:00Z, the end of 2027-03-31: 20909 days. */
#define APRIL_2027 ((time_t)20909 * 86400)

/* ---- the glob matcher ---- */

static void test_glob_star_and_question(void **state)
{
	(void)state;
	assert_true(ds_glob_match("*", ""));
	assert_true(ds_glob_match("*", "kube-system"));
	assert_true(ds_glob_match("kube-*", "kube-"));
	assert_true(ds_glob_match("kube-*", "kube-system"));
	assert_false(ds_glob_match("kube-*", "kube"));
	assert_false(ds_glob_match("kube-*", "xkube-system"));
	assert_true(ds_glob_match("*-node", "calico-node"));
	assert_false(ds_glob_match("*-node", "calico-nodes"));
	assert_true(ds_glob_match("a*b*c", "abc"));
	assert_true(ds_glob_match("a*b*c", "aXbYbZc"));
	assert_false(ds_glob_match("a*b*c", "aXbYbZ"));
	assert_true(ds_glob_match("**", "x"));
	assert_true(ds_glob_match("csi-?", "csi-a"));
	assert_false(ds_glob_match("csi-?", "csi-"));
	assert_false(ds_glob_match("csi-?", "csi-ab"));
	assert_true(ds_glob_match("?", "\xc3\xa9"));        /* one character of two bytes */
	assert_false(ds_glob_match("??", "\xc3\xa9"));
	assert_true(ds_glob_match("*\xc3\xa9", "caf\xc3\xa9"));
	assert_false(ds_glob_match("Kube-*", "kube-system")); /* case counts */
	assert_true(ds_glob_match("*?", "a"));
	assert_false(ds_glob_match("*?", ""));
}

static void test_glob_escapes(void **state)
{
	char *lit;

	(void)state;
	assert_true(ds_glob_match("a\\*", "a*"));
	assert_false(ds_glob_match("a\\*", "ab"));
	assert_true(ds_glob_match("\\?", "?"));
	assert_false(ds_glob_match("\\?", "x"));
	assert_true(ds_glob_match("\\\\", "\\"));
	assert_true(ds_glob_match("\\a", "a")); /* any escaped character is itself */
	assert_true(ds_glob_match("*\\*", "ends with *"));
	assert_null(ds_glob_invalid("a\\*b"));
	assert_non_null(ds_glob_invalid("a\\"));
	assert_false(ds_glob_match("a\\", "a\\"));  /* invalid: matches nothing */
	assert_false(ds_glob_match("a\\", "a"));
	assert_true(ds_glob_is_literal("calico-node"));
	assert_true(ds_glob_is_literal("a\\*b\\?"));
	assert_false(ds_glob_is_literal("a*"));
	assert_false(ds_glob_is_literal("a\\\\?"));
	lit = ds_glob_literal("a\\*b\\\\c");
	assert_string_equal(lit, "a*b\\c");
	free(lit);
}

static void test_glob_empty(void **state)
{
	(void)state;
	assert_true(ds_glob_match("", ""));
	assert_false(ds_glob_match("", "a"));
	assert_false(ds_glob_match("a", ""));
	assert_false(ds_glob_match("?", ""));
	assert_true(ds_glob_is_literal(""));
}

/* Long names and patterns built to make a backtracking matcher blow up:
 * the answer comes at once (time is bounded by the product of the
 * lengths, memory is constant). */
static void test_glob_very_long(void **state)
{
	size_t n = 200000;
	char *text = malloc(n + 2), *pattern = malloc(2 * 64 + 2);

	(void)state;
	assert_non_null(text);
	assert_non_null(pattern);
	memset(text, 'a', n);
	text[n] = 'b';
	text[n + 1] = '\0';
	for (int i = 0; i < 64; i++)
		memcpy(pattern + 2 * i, "*a", 2);
	strcpy(pattern + 128, "c");
	assert_false(ds_glob_match(pattern, text));
	pattern[128] = 'b';
	assert_true(ds_glob_match(pattern, text));
	assert_true(ds_glob_match("*b", text));
	assert_false(ds_glob_match("*c", text));
	memset(text, '*', n);
	text[n] = '\0';
	assert_true(ds_glob_match(text, "anything at all"));
	assert_true(ds_glob_match(text, ""));
	free(text);
	free(pattern);
}

/* ---- the config ---- */

struct fixture {
	char *dir, *path;
	ds_config cfg;
	char *error;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->dir = temp_dir("exempt");
	f->path = join(f->dir, "dsguard.yaml");
	ds_config_init(&f->cfg);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ds_config_free(&f->cfg);
	free(f->error);
	free(f->path);
	remove_tree(f->dir);
	free(f);
	return 0;
}

static int load(struct fixture *f, const char *text)
{
	write_text(f->path, text);
	free(f->error);
	f->error = NULL;
	return ds_config_load(f->path, &f->cfg, &f->error);
}

/* Loads text, which must fail at line:col with a message holding words. */
static void expect_error(struct fixture *f, const char *text, unsigned line, unsigned column, const char *words)
{
	char prefix[400];

	assert_int_equal(load(f, text), -1);
	assert_non_null(f->error);
	snprintf(prefix, sizeof(prefix), "%s:%u:%u: ", f->path, line, column);
	if (strncmp(f->error, prefix, strlen(prefix)) || !strstr(f->error + strlen(prefix), words))
		fail_msg("got \"%s\", want \"%s...%s...\"", f->error, prefix, words);
	assert_int_equal(f->cfg.exemption_count, 0);
	assert_null(f->cfg.path);
}

#define CONFIG                                                                  \
	"exemptions:\n"                                                         \
	"  - rules: [DS001]\n"                                                  \
	"    namespaces: [\"kube-*\"]\n"                                        \
	"    names: [\"cilium*\", calico-node]\n"                               \
	"    labels: {app.kubernetes.io/part-of: cilium}\n"                     \
	"    reason: vendor chart pins its own priority\n"                      \
	"    expires: 2027-03-31\n"                                             \
	"  - rules: [all]\n"                                                    \
	"    namespaces: [legacy]\n"                                            \
	"    reason: being retired\n"                                           \
	"    expires: 2001-01-01T00:00:00Z\n"                                   \
	"  - rules: [dedicated-namespace]\n"                                    \
	"    names: [\"csi-?\"]\n"                                              \
	"    reason: one CSI driver per node pool\n"                            \
	"allowExemptionAnnotation:\n"                                           \
	"  namespaces: [\"team-*\"]\n"                                          \
	"  users: [alice]\n"                                                    \
	"  groups: [platform-admins]\n"                                         \
	"  requireReason: true\n"

static void test_config_reads_entries(void **state)
{
	struct fixture *f = *state;
	const ds_exemption *e;

	if (load(f, CONFIG) != 0)
		fail_msg("%s", f->error);
	assert_int_equal(f->cfg.exemption_count, 3);
	assert_string_equal(f->cfg.path, f->path);
	e = &f->cfg.exemptions[0];
	assert_true(e->rules[ds_rule_index(DS001)]);
	assert_false(e->rules[ds_rule_index(DS002)]);
	assert_int_equal(e->namespaces.count, 1);
	assert_int_equal(e->names.count, 2);
	assert_int_equal(e->label_count, 1);
	assert_string_equal(e->labels[0].key, "app.kubernetes.io/part-of");
	assert_string_equal(e->labels[0].value, "cilium");
	assert_string_equal(e->reason, "vendor chart pins its own priority");
	assert_true(e->expires);
	assert_int_equal(e->expiry, APRIL_2027);
	assert_string_equal(e->expires_text, "2027-03-31");
	assert_ptr_equal(e->file, f->cfg.path);
	assert_int_equal(e->line, 2);
	assert_int_equal(e->column, 5);
	e = &f->cfg.exemptions[1];
	for (size_t i = 0; i < DS_RULE_COUNT; i++)
		assert_true(e->rules[i]);
	assert_int_equal(e->expiry, (time_t)11323 * 86400); /* 2001-01-01 */
	assert_int_equal(e->line, 8);
	e = &f->cfg.exemptions[2];
	assert_true(e->rules[ds_rule_index(DS003)]);
	assert_false(e->expires);
	assert_true(f->cfg.allow_exemption_annotation);
	assert_true(f->cfg.annotation.require_reason);
	assert_int_equal(f->cfg.annotation.namespaces.count, 1);
	assert_string_equal(f->cfg.annotation.users.items[0], "alice");
	assert_string_equal(f->cfg.annotation.groups.items[0], "platform-admins");
}

/* Each form of `expires`, and the first second at which it no longer holds. */
static void test_config_expiry_forms(void **state)
{
	static const struct {
		const char *text;
		time_t expiry;
	} forms[] = {
		{"2027-03-31", APRIL_2027},
		{"2027-03-31T18:00:00Z", APRIL_2027 - 6 * 3600},
		{"2027-03-31t18:00:00z", APRIL_2027 - 6 * 3600},
		{"2027-03-31T18:00:00+02:00", APRIL_2027 - 8 * 3600},
		{"2027-03-31T18:00:00-01:30", APRIL_2027 - 6 * 3600 + 5400},
		{"2027-03-31T18:00:00.000Z", APRIL_2027 - 6 * 3600},
		{"2027-03-31T18:00:00.25Z", APRIL_2027 - 6 * 3600 + 1}, /* holds through 18:00:00 */
		{"2028-02-29", (time_t)21244 * 86400}, /* a leap day: to 2028-03-01 */
	};
	struct fixture *f = *state;
	char text[256];

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(text, sizeof(text), "exemptions:\n  - rules: [DS001]\n    names: [a]\n    reason: r\n"
					     "    expires: \"%s\"\n",
			 forms[i].text);
		if (load(f, text) != 0)
			fail_msg("%s: %s", forms[i].text, f->error);
		if (f->cfg.exemptions[0].expiry != forms[i].expiry)
			fail_msg("%s: %lld, want %lld", forms[i].text, (long long)f->cfg.exemptions[0].expiry,
				 (long long)forms[i].expiry);
	}
}

static void test_config_errors(void **state)
{
	static const char *const bad_expiry[] = {"2027-02-30", "2027-3-31", "2027-03-31T25:00:00Z",
						 "2027-03-31T10:00:00", "2027-03-31 10:00:00Z", "31.03.2027",
						 "2027-03-31T10:00:00.Z", "2027-03-31T10:00:00+2:00", "2027-03-31x"};
	struct fixture *f = *state;
	char text[256];

	for (size_t i = 0; i < sizeof(bad_expiry) / sizeof(bad_expiry[0]); i++) {
		snprintf(text, sizeof(text),
			 "exemptions:\n  - rules: [DS001]\n    names: [a]\n    reason: r\n    expires: \"%s\"\n",
			 bad_expiry[i]);
		expect_error(f, text, 5, 14, "expires must be a date");
	}
	expect_error(f, "exemptions:\n  - rules: [DS001]\n    names: [a]\n    reason: r\n    expires: 2027\n", 5, 14,
		     "expires must be a date");
	expect_error(f, "exemptions:\n  - rules: [DS001]\n    names: [a]\n", 2, 5, "must give its reason");
	expect_error(f, "exemptions:\n  - rules: [DS001]\n    names: [a]\n    reason: \"\"\n", 4, 13,
		     "reason must be a non-empty string");
	expect_error(f, "exemptions:\n  - names: [a]\n    reason: r\n", 2, 5, "must name its rules");
	expect_error(f, "exemptions:\n  - rules: [DS001]\n    reason: r\n", 2, 5,
		     "must select DaemonSets by namespaces, names or labels");
	expect_error(f, "exemptions:\n  - rules: [DS009]\n    names: [a]\n    reason: r\n", 2, 13,
		     "unknown rule \"DS009\" in exemptions[].rules (known: priority-class");
	expect_error(f, "exemptions:\n  - rules: []\n    names: [a]\n    reason: r\n", 2, 12, "non-empty list");
	expect_error(f, "exemptions:\n  - rules: [DS001]\n    names: []\n    reason: r\n", 3, 12,
		     "exemptions[].names must be a non-empty list of globs");
	expect_error(f, "exemptions:\n  - rules: [DS001]\n    names: [\"a\\\\\"]\n    reason: r\n", 3, 13,
		     "is not a glob: it ends in a lone backslash");
	expect_error(f, "exemptions:\n  - rules: [DS001]\n    namespaces: kube-system\n    reason: r\n", 3, 17,
		     "exemptions[].namespaces must be a non-empty list");
	expect_error(f, "exemptions:\n  - rules: [DS001]\n    labels: {\"a b\": c}\n    reason: r\n", 3, 14,
		     "\"a b\" is not a Kubernetes label key");
	expect_error(f, "exemptions:\n  - rules: [DS001]\n    labels: {Example.com/a: c}\n    reason: r\n", 3, 14,
		     "is not a Kubernetes label key");
	expect_error(f, "exemptions:\n  - rules: [DS001]\n    labels: {a: true}\n    reason: r\n", 3, 17,
		     "the value of label a must be a string");
	expect_error(f, "exemptions:\n  - rules: [DS001]\n    labels: {a: \"-x\"}\n    reason: r\n", 3, 17,
		     "is not a Kubernetes label value");
	expect_error(f, "exemptions:\n  - rules: [DS001]\n    names: [a]\n    reason: r\n    owner: me\n", 5, 5,
		     "unknown key \"owner\" in an exemption (known: rules, namespaces");
	expect_error(f, "exemptions: {rules: [DS001]}\n", 1, 13, "exemptions must be a list");
	expect_error(f, "exemptions:\n  - DS001\n", 2, 5, "each exemption must be a mapping");
	expect_error(f, "allowExemptionAnnotation: yes please\n", 1, 27, "must be true, false, or a mapping");
	expect_error(f, "allowExemptionAnnotation:\n  users: []\n", 2, 10,
		     "allowExemptionAnnotation.users must be a non-empty list of names");
	expect_error(f, "allowExemptionAnnotation:\n  user: [a]\n", 2, 3,
		     "unknown key \"user\" in allowExemptionAnnotation (known: namespaces, users, groups, requireReason");
	expect_error(f, "allowExemptionAnnotation:\n  requireReason: 1\n", 2, 18, "requireReason must be true or false");
}

/* An empty mapping allows the annotation without limits, as true does. */
static void test_config_annotation_forms(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "allowExemptionAnnotation: {}\n"), 0);
	assert_true(f->cfg.allow_exemption_annotation);
	assert_int_equal(load(f, "allowExemptionAnnotation: false\n"), 0);
	assert_false(f->cfg.allow_exemption_annotation);
	assert_int_equal(load(f, "allowExemptionAnnotation: {requireReason: false}\n"), 0);
	assert_true(f->cfg.allow_exemption_annotation);
	assert_false(f->cfg.annotation.require_reason);
}

/* ---- the decision table ---- */

/* One case: what the object is, who writes it, when, and what is decided. */
struct decision_case {
	const char *rule, *ns, *name, *labels; /* labels: JSON with ' for " (NULL: none) */
	const char *ignore, *reason;           /* the two annotations (NULL: absent) */
	enum { LINT, CREATE, UPDATE } op;
	const char *user, *group, *old_ignore; /* admission only */
	time_t now;
	ds_exempt_source by;
	const char *why;      /* a word of the reason given, or of why the annotation does not count */
	int entry;            /* the config entry that exempts (by config), or that expired (-1: none) */
};

#define CILIUM_LABELS "{'app.kubernetes.io/part-of':'cilium'}"

static const struct decision_case decisions[] = {
	/* config entries: every selector must match; lists match when any glob does */
	{"DS001", "kube-net", "cilium", CILIUM_LABELS, NULL, NULL, LINT, NULL, NULL, NULL, JUNE_2026, DS_EXEMPT_CONFIG,
	 "vendor", 0},
	{"DS001", "kube-net", "cilium-agent", CILIUM_LABELS, NULL, NULL, LINT, NULL, NULL, NULL, JUNE_2026,
	 DS_EXEMPT_CONFIG, "vendor", 0},
	{"DS001", "kube-net", "calico-node", CILIUM_LABELS, NULL, NULL, CREATE, "bob", "devs", NULL, JUNE_2026,
	 DS_EXEMPT_CONFIG, "vendor", 0},
	{"DS001", "kube-net", "calico-nodes", CILIUM_LABELS, NULL, NULL, LINT, NULL, NULL, NULL, JUNE_2026,
	 DS_EXEMPT_NONE, NULL, -1},
	{"DS001", "kube-net", "cilium", NULL, NULL, NULL, LINT, NULL, NULL, NULL, JUNE_2026, DS_EXEMPT_NONE, NULL, -1},
	{"DS001", "kube-net", "cilium", "{'app.kubernetes.io/part-of':'calico'}", NULL, NULL, LINT, NULL, NULL, NULL,
	 JUNE_2026, DS_EXEMPT_NONE, NULL, -1},
	{"DS001", "kube-net", "cilium", "{'app.kubernetes.io/part-of':1}", NULL, NULL, LINT, NULL, NULL, NULL,
	 JUNE_2026, DS_EXEMPT_NONE, NULL, -1},
	{"DS001", "default", "cilium", CILIUM_LABELS, NULL, NULL, LINT, NULL, NULL, NULL, JUNE_2026, DS_EXEMPT_NONE,
	 NULL, -1},
	{"DS002", "kube-net", "cilium", CILIUM_LABELS, NULL, NULL, LINT, NULL, NULL, NULL, JUNE_2026, DS_EXEMPT_NONE,
	 NULL, -1},
	/* expiry: a date holds to the end of its day (UTC) */
	{"DS001", "kube-net", "cilium", CILIUM_LABELS, NULL, NULL, LINT, NULL, NULL, NULL, APRIL_2027 - 1,
	 DS_EXEMPT_CONFIG, "vendor", 0},
	{"DS001", "kube-net", "cilium", CILIUM_LABELS, NULL, NULL, LINT, NULL, NULL, NULL, APRIL_2027, DS_EXEMPT_NONE,
	 NULL, 0},
	{"DS001", "kube-net", "cilium", CILIUM_LABELS, NULL, NULL, UPDATE, "alice", NULL, NULL, APRIL_2027,
	 DS_EXEMPT_NONE, NULL, 0},
	{"DS003", "legacy", "x", NULL, NULL, NULL, LINT, NULL, NULL, NULL, JUNE_2026, DS_EXEMPT_NONE, NULL, 1},
	{"DS003", "legacy", "csi-a", NULL, NULL, NULL, LINT, NULL, NULL, NULL, JUNE_2026, DS_EXEMPT_CONFIG, "CSI", 2},
	{"DS002", "legacy", "x", NULL, NULL, NULL, LINT, NULL, NULL, NULL, (time_t)11322 * 86400, DS_EXEMPT_CONFIG,
	 "retired", 1},
	/* ? is one character */
	{"DS003", "any", "csi-\xc3\xa9", NULL, NULL, NULL, LINT, NULL, NULL, NULL, JUNE_2026, DS_EXEMPT_CONFIG, "CSI", 2},
	{"DS003", "any", "csi-ab", NULL, NULL, NULL, LINT, NULL, NULL, NULL, JUNE_2026, DS_EXEMPT_NONE, NULL, -1},
	/* the config comes before the annotation */
	{"DS001", "kube-net", "cilium", CILIUM_LABELS, "DS001", "mine", LINT, NULL, NULL, NULL, JUNE_2026,
	 DS_EXEMPT_CONFIG, "vendor", 0},
	/* the annotation: namespaces, requireReason */
	{"DS001", "team-a", "agent", NULL, "DS001", "waiting for the new class", LINT, NULL, NULL, NULL, JUNE_2026,
	 DS_EXEMPT_ANNOTATION, "waiting", -1},
	{"DS001", "team-a", "agent", NULL, "all", "r", LINT, NULL, NULL, NULL, JUNE_2026, DS_EXEMPT_ANNOTATION, "r", -1},
	{"DS001", "team-a", "agent", NULL, "DS002", "r", LINT, NULL, NULL, NULL, JUNE_2026, DS_EXEMPT_NONE, NULL, -1},
	{"DS001", "team-a", "agent", NULL, "DS001", NULL, LINT, NULL, NULL, NULL, JUNE_2026, DS_EXEMPT_NONE,
	 "requireReason", -1},
	{"DS001", "team-a", "agent", NULL, "DS001", " \t\n", LINT, NULL, NULL, NULL, JUNE_2026, DS_EXEMPT_NONE,
	 "requireReason", -1},
	{"DS001", "apps", "agent", NULL, "DS001", "r", LINT, NULL, NULL, NULL, JUNE_2026, DS_EXEMPT_NONE,
	 "namespaces does not list", -1},
	/* the annotation at admission: a listed user or group, or already there on UPDATE */
	{"DS001", "team-a", "agent", NULL, "DS001", "r", CREATE, "alice", "devs", NULL, JUNE_2026,
	 DS_EXEMPT_ANNOTATION, "r", -1},
	{"DS001", "team-a", "agent", NULL, "DS001", "r", CREATE, "bob", "platform-admins", NULL, JUNE_2026,
	 DS_EXEMPT_ANNOTATION, "r", -1},
	{"DS001", "team-a", "agent", NULL, "DS001", "r", CREATE, "bob", "devs", NULL, JUNE_2026, DS_EXEMPT_NONE,
	 "not listed", -1},
	{"DS001", "team-a", "agent", NULL, "DS001", "r", CREATE, NULL, NULL, NULL, JUNE_2026, DS_EXEMPT_NONE,
	 "not listed", -1},
	{"DS001", "team-a", "agent", NULL, "DS001", "r", UPDATE, "bob", "devs", "DS001", JUNE_2026,
	 DS_EXEMPT_ANNOTATION, "r", -1},
	{"DS001", "team-a", "agent", NULL, "DS001", "r", UPDATE, "bob", "devs", "ALL", JUNE_2026,
	 DS_EXEMPT_ANNOTATION, "r", -1},
	{"DS001", "team-a", "agent", NULL, "DS001", "r", UPDATE, "bob", "devs", "DS002", JUNE_2026, DS_EXEMPT_NONE,
	 "not listed", -1},
	{"DS001", "team-a", "agent", NULL, "DS001", "r", UPDATE, "bob", "devs", NULL, JUNE_2026, DS_EXEMPT_NONE,
	 "not listed", -1},
	{"DS001", "team-a", "agent", NULL, "DS001", "r", UPDATE, "alice", NULL, NULL, JUNE_2026,
	 DS_EXEMPT_ANNOTATION, "r", -1},
};

/* The JSON of the case's object. A new tree. */
static cJSON *case_object(const struct decision_case *c)
{
	cJSON *o = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(o, "metadata");
	cJSON *ann = (c->ignore || c->reason) ? cJSON_AddObjectToObject(meta, "annotations") : NULL;

	cJSON_AddStringToObject(o, "apiVersion", "apps/v1");
	cJSON_AddStringToObject(o, "kind", "DaemonSet");
	cJSON_AddStringToObject(meta, "name", c->name);
	cJSON_AddStringToObject(meta, "namespace", c->ns);
	if (c->ignore)
		cJSON_AddStringToObject(ann, DS_IGNORE_ANNOTATION, c->ignore);
	if (c->reason)
		cJSON_AddStringToObject(ann, DS_IGNORE_REASON_ANNOTATION, c->reason);
	if (c->labels) {
		char *text = strdup(c->labels);
		for (char *p = text; *p; p++)
			if (*p == '\'')
				*p = '"';
		cJSON_AddItemToObject(meta, "labels", cJSON_Parse(text));
		free(text);
	}
	return o;
}

/* The case's userInfo. A new tree. */
static cJSON *case_user(const struct decision_case *c)
{
	cJSON *u = cJSON_CreateObject();

	if (c->user)
		cJSON_AddStringToObject(u, "username", c->user);
	if (c->group)
		cJSON_AddItemToObject(u, "groups", cJSON_CreateStringArray(&c->group, 1));
	return u;
}

static void test_decision_table(void **state)
{
	struct fixture *f = *state;

	if (load(f, CONFIG) != 0)
		fail_msg("%s", f->error);
	for (size_t i = 0; i < sizeof(decisions) / sizeof(decisions[0]); i++) {
		const struct decision_case *c = &decisions[i];
		cJSON *obj = case_object(c), *user = case_user(c);
		ds_admission adm = {user, c->op == UPDATE, c->old_ignore};
		ds_context ctx = {.config = &f->cfg, .now = c->now, .admission = c->op == LINT ? NULL : &adm};
		const char *said;
		ds_exemption_verdict v;

		ds_exemption_decide(obj, &ctx, ds_rule_find(c->rule), &v);
		if (v.by != c->by)
			fail_msg("case %zu (%s %s/%s): exempted by %d, want %d", i, c->rule, c->ns, c->name, v.by, c->by);
		said = v.by ? v.reason : v.refused;
		if (c->why && (!said || !strstr(said, c->why)))
			fail_msg("case %zu: said \"%s\", want \"%s\"", i, said ? said : "(nothing)", c->why);
		if (!c->why && said)
			fail_msg("case %zu: said \"%s\", want nothing", i, said);
		if (v.by == DS_EXEMPT_CONFIG && v.entry != &f->cfg.exemptions[c->entry])
			fail_msg("case %zu: the wrong entry", i);
		if (v.by != DS_EXEMPT_CONFIG && v.expired != (c->entry < 0 ? NULL : &f->cfg.exemptions[c->entry]))
			fail_msg("case %zu: expired entry %p, want entry %d", i, (const void *)v.expired, c->entry);
		cJSON_Delete(obj);
		cJSON_Delete(user);
	}
}

/* With no limits configured, the annotation counts as it always did:
 * anyone, anywhere, with or without a reason; allowExemptionAnnotation:
 * false turns it off without a word. */
static void test_decision_defaults(void **state)
{
	struct fixture *f = *state;
	struct decision_case c = {"DS002", "apps", "agent", NULL, " ds002 , x", NULL, CREATE, "bob", NULL, NULL,
				  JUNE_2026, DS_EXEMPT_ANNOTATION, NULL, -1};
	cJSON *obj = case_object(&c), *user = case_user(&c);
	ds_admission adm = {user, false, NULL};
	ds_context ctx = {.config = &f->cfg, .now = JUNE_2026, .admission = &adm};
	ds_exemption_verdict v;

	ds_exemption_decide(obj, &ctx, DS002, &v);
	assert_int_equal(v.by, DS_EXEMPT_ANNOTATION);
	assert_null(v.reason);
	assert_null(v.refused);
	assert_null(ds_exemption_grant_refused(obj, &ctx));
	f->cfg.allow_exemption_annotation = false;
	ds_exemption_decide(obj, &ctx, DS002, &v);
	assert_int_equal(v.by, DS_EXEMPT_NONE);
	assert_null(v.refused);
	cJSON_Delete(obj);
	cJSON_Delete(user);
}

/* Adding the annotation is the privileged act: a request that adds it for
 * a rule, from a requester the config does not list, is refused. */
static void test_grant_refused(void **state)
{
	struct fixture *f = *state;
	struct decision_case c = {"DS001", "team-a", "agent", NULL, "DS001", "r", CREATE, "bob", "devs", NULL,
				  JUNE_2026, DS_EXEMPT_NONE, NULL, -1};
	cJSON *obj, *user;
	ds_admission adm;
	ds_context ctx;

	if (load(f, CONFIG) != 0)
		fail_msg("%s", f->error);
	obj = case_object(&c);
	user = case_user(&c);
	adm = (ds_admission){user, false, NULL};
	ctx = (ds_context){.config = &f->cfg, .now = JUNE_2026, .admission = &adm};
	assert_ptr_equal(ds_exemption_grant_refused(obj, &ctx), DS001);
	adm = (ds_admission){user, true, "DS001"};
	assert_null(ds_exemption_grant_refused(obj, &ctx));       /* already there */
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"), "annotations"),
				  DS_IGNORE_ANNOTATION, cJSON_CreateString("DS001,dedicated-namespace"));
	assert_ptr_equal(ds_exemption_grant_refused(obj, &ctx), DS003); /* widened */
	ctx.admission = NULL;
	assert_null(ds_exemption_grant_refused(obj, &ctx));       /* lint and audit grant nothing */
	ctx.admission = &adm;
	cJSON_Delete(user);
	c.user = "alice";
	user = case_user(&c);
	adm.user_info = user;
	assert_null(ds_exemption_grant_refused(obj, &ctx));       /* a listed user */
	cJSON_Delete(obj);
	c.ns = "apps";
	obj = case_object(&c);
	cJSON_Delete(user);
	c.user = "bob";
	user = case_user(&c);
	adm = (ds_admission){user, false, NULL};
	assert_null(ds_exemption_grant_refused(obj, &ctx));       /* where it never counts */
	cJSON_Delete(obj);
	cJSON_Delete(user);
}

/* The engine carries the verdict into each finding, the reason cut. */
static void test_engine_marks_findings(void **state)
{
	struct fixture *f = *state;
	char reason[600];
	struct decision_case c = {"DS001", "team-a", "agent", NULL, "all", reason, LINT, NULL, NULL, NULL, JUNE_2026,
				  DS_EXEMPT_ANNOTATION, NULL, -1};
	cJSON *obj;
	ds_context ctx;
	ds_evaluation ev;

	if (load(f, CONFIG) != 0)
		fail_msg("%s", f->error);
	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	obj = case_object(&c);
	cJSON_AddItemToObject(obj, "spec", cJSON_Parse("{\"template\":{\"spec\":{\"restartPolicy\":\"Never\"}}}"));
	ctx = (ds_context){.config = &f->cfg, .now = JUNE_2026};
	assert_int_equal(ds_evaluate(obj, &ctx, DS_SCOPE_OBJECT, &ev), 0);
	assert_int_equal(ev.finding_count, 2);
	for (size_t i = 0; i < ev.finding_count; i++) {
		assert_true(ev.findings[i].exempt);
		assert_int_equal(ev.findings[i].exempted_by, DS_EXEMPT_ANNOTATION);
		assert_int_equal(strlen(ev.findings[i].exempt_reason), DS_EXEMPTION_REASON_MAX);
		assert_string_equal(ev.findings[i].exempt_reason + DS_EXEMPTION_REASON_MAX - 3, "...");
	}
	assert_int_equal(ev.op_count, 0); /* no fix for an exempt finding */
	ds_evaluation_free(&ev);
	cJSON_Delete(obj);
}

/* The words admission answers share with the policies. */
static void test_answers(void **state)
{
	char *s;

	(void)state;
	s = ds_say_exempted(DS001, DS_EXEMPT_ANNOTATION, NULL, "m");
	assert_string_equal(s, "DS001 priority-class exempted by annotation dsguard.io/ignore: m");
	free(s);
	s = ds_say_exempted(DS001, DS_EXEMPT_ANNOTATION, "why", "m");
	assert_string_equal(s, "DS001 priority-class exempted by annotation dsguard.io/ignore (why): m");
	free(s);
	s = ds_say_exempted(DS003, DS_EXEMPT_CONFIG, "vendor", "m");
	assert_string_equal(s, "DS003 dedicated-namespace exempted by config (vendor): m");
	free(s);
	s = ds_say_warning(DS002, "m", true);
	assert_string_equal(s, "DS002 restart-policy: m (this update leaves spec.template as it was)");
	free(s);
	s = ds_say_denied("ns", "n");
	assert_string_equal(s, "DaemonSet ns/n is not allowed:");
	free(s);
	s = ds_say_denied_rule(DS001, "m", false);
	assert_string_equal(s, "; DS001 priority-class: m");
	free(s);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob_star_and_question),
		cmocka_unit_test(test_glob_escapes),
		cmocka_unit_test(test_glob_empty),
		cmocka_unit_test(test_glob_very_long),
		T(test_config_reads_entries),
		T(test_config_expiry_forms),
		T(test_config_errors),
		T(test_config_annotation_forms),
		T(test_decision_table),
		T(test_decision_defaults),
		T(test_grant_refused),
		T(test_engine_marks_findings),
		cmocka_unit_test(test_answers),
	};

	return cmocka_run_group_tests_name("exempt", tests, NULL, NULL);
}
