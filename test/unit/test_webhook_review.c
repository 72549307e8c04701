/* test_webhook_review.c - the AdmissionReview codec: both API versions, uid
 * echo, each rule allowed / denied / patched, warnings and their limits,
 * dryRun, UPDATE, DELETE, other kinds, exemptions, DS003 with its cluster
 * state (synced or not, reservations) and bad requests. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test/unit/helpers.h"

#include <ctype.h>
#include <malloc.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhook/internal.h"
#include "test/rule_access.h"

#define UID "705ab4f5-6393-11e8-b7cc-42010a800002"
#define API_V1_NAME "admission.k8s.io/v1"

/* Parses JSON written with single quotes (each ' becomes "). */
static cJSON *json(const char *text)
{
	char *copy = strdup(text);
	cJSON *doc;

	for (char *p = copy; *p; p++)
		if (*p == '\'')
			*p = '"';
	doc = cJSON_Parse(copy);
	free(copy);
	assert_non_null(doc);
	return doc;
}

/* A DaemonSet in namespace `ns` whose pod spec is `spec` (single-quoted JSON). */
static cJSON *daemonset(const char *ns, const char *spec)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':{'name':'fluentd','namespace':'%s'},"
		 "'spec':{'selector':{'matchLabels':{'app':'f'}},'template':{'metadata':{'labels':{'app':'f'}},"
		 "'spec':%s}}}",
		 ns, spec);
	return json(text);
}

/* An AdmissionReview of `api` for `op` on object (taken; may be NULL),
 * with oldObject (taken; may be NULL). Returns its JSON text (free it). */
static char *request(const char *api, const char *op, cJSON *object, cJSON *old)
{
	cJSON *doc = cJSON_CreateObject(), *req = cJSON_AddObjectToObject(doc, "request"), *kind;
	char *text;

	cJSON_AddStringToObject(doc, "apiVersion", api);
	cJSON_AddStringToObject(doc, "kind", "AdmissionReview");
	cJSON_AddStringToObject(req, "uid", UID);
	kind = cJSON_AddObjectToObject(req, "kind");
	cJSON_AddStringToObject(kind, "group", "apps");
	cJSON_AddStringToObject(kind, "version", "v1");
	cJSON_AddStringToObject(kind, "kind", "DaemonSet");
	cJSON_AddStringToObject(req, "namespace", "logging");
	cJSON_AddStringToObject(req, "name", "fluentd");
	cJSON_AddStringToObject(req, "operation", op);
	cJSON_AddItemToObject(req, "object", object ? object : cJSON_CreateNull());
	cJSON_AddItemToObject(req, "oldObject", old ? old : cJSON_CreateNull());
	cJSON_AddBoolToObject(req, "dryRun", false);
	text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	return text;
}

/* Reviews text; checks the envelope of a 200 answer and returns the parsed
 * answer (delete it). The result stays in *r (free it). */
static cJSON *review(const char *text, ds_review_mode mode, const ds_config *cfg, const ds_cluster *ns,
		     ds_review_result *r)
{
	cJSON *doc;

	assert_int_equal(ds_review(text, strlen(text), mode, cfg, ns, r), 0);
	assert_int_equal(r->status, 200);
	doc = cJSON_Parse(r->body);
	assert_non_null(doc);
	assert_string_equal(cJSON_GetObjectItem(doc, "kind")->valuestring, "AdmissionReview");
	assert_string_equal(ds_pointer_get(doc, "/response/uid")->valuestring, UID);
	assert_true(cJSON_IsBool(ds_pointer_get(doc, "/response/allowed")));
	return doc;
}

/* Reviews a request made of its parts with the default config. */
static cJSON *review_parts(const char *api, const char *op, cJSON *object, cJSON *old, ds_review_mode mode,
			   const ds_config *cfg, ds_review_result *r)
{
	char *text = request(api, op, object, old);
	cJSON *doc = review(text, mode, cfg, NULL, r);

	free(text);
	return doc;
}

static bool allowed(const cJSON *doc)
{
	return cJSON_IsTrue(ds_pointer_get(doc, "/response/allowed"));
}

static const char *message(const cJSON *doc)
{
	const cJSON *m = ds_pointer_get(doc, "/response/status/message");
	return cJSON_IsString(m) ? m->valuestring : "";
}

static int warning_count(const cJSON *doc)
{
	return cJSON_GetArraySize(ds_pointer_get(doc, "/response/warnings"));
}

/* The decoded JSONPatch of an answer, or NULL when it has none. */
static cJSON *patch_of(const cJSON *doc)
{
	const cJSON *b64 = ds_pointer_get(doc, "/response/patch");
	unsigned char *raw;
	size_t len;
	int n;
	cJSON *patch;

	if (!b64)
		return NULL;
	assert_string_equal(ds_pointer_get(doc, "/response/patchType")->valuestring, "JSONPatch");
	len = strlen(b64->valuestring);
	raw = calloc(len + 1, 1);
	n = EVP_DecodeBlock(raw, (const unsigned char *)b64->valuestring, (int)len);
	assert_true(n > 0);
	patch = cJSON_Parse((char *)raw);
	free(raw);
	assert_true(cJSON_IsArray(patch));
	return patch;
}

static void config_with_default(ds_config *cfg, const char *def)
{
	ds_config_init(cfg);
	DEFAULT_CLASS(cfg) = strdup(def);
}

static void test_v1_denies_every_failed_rule(void **state)
{
	ds_config cfg;
	ds_review_result r;
	cJSON *doc;

	(void)state;
	ds_config_init(&cfg);
	doc = review_parts(API_V1_NAME, "CREATE", daemonset("logging", "{'restartPolicy':'OnFailure'}"), NULL,
			   DS_REVIEW_VALIDATE, &cfg, &r);
	assert_string_equal(cJSON_GetObjectItem(doc, "apiVersion")->valuestring, "admission.k8s.io/v1");
	assert_false(allowed(doc));
	assert_int_equal(ds_pointer_get(doc, "/response/status/code")->valueint, 403);
	assert_non_null(strstr(message(doc), "DS001 priority-class"));
	assert_non_null(strstr(message(doc), "priorityClassName"));
	assert_non_null(strstr(message(doc), "DS002 restart-policy"));
	assert_non_null(strstr(message(doc), "restartPolicy"));
	assert_null(ds_pointer_get(doc, "/response/patch"));
	assert_false(r.allowed);
	assert_int_equal(r.findings[ds_rule_index(DS001)], 1);
	assert_int_equal(r.findings[ds_rule_index(DS002)], 1);
	assert_string_equal(r.uid, UID);
	assert_string_equal(r.namespace, "logging");
	assert_string_equal(r.name, "fluentd");
	assert_int_equal(r.operation, DS_OP_CREATE);
	cJSON_Delete(doc);
	ds_review_result_free(&r);
}

static void test_v1beta1_answers_in_v1beta1(void **state)
{
	ds_config cfg;
	ds_review_result r;
	cJSON *doc;

	(void)state;
	ds_config_init(&cfg);
	doc = review_parts("admission.k8s.io/v1beta1", "CREATE", daemonset("logging", "{}"), NULL, DS_REVIEW_VALIDATE,
			   &cfg, &r);
	assert_string_equal(cJSON_GetObjectItem(doc, "apiVersion")->valuestring, "admission.k8s.io/v1beta1");
	assert_false(allowed(doc));
	assert_non_null(strstr(message(doc), "DS001"));
	assert_null(strstr(message(doc), "DS002"));
	cJSON_Delete(doc);
	ds_review_result_free(&r);
}

static void test_compliant_daemonset_is_allowed_untouched(void **state)
{
	ds_config cfg;
	ds_review_result r;
	cJSON *doc;

	(void)state;
	ds_config_init(&cfg);
	doc = review_parts(API_V1_NAME, "CREATE",
			   daemonset("logging", "{'priorityClassName':'node-agents','restartPolicy':'Always'}"), NULL,
			   DS_REVIEW_MUTATE, &cfg, &r);
	assert_true(allowed(doc));
	assert_null(ds_pointer_get(doc, "/response/patch"));
	assert_null(ds_pointer_get(doc, "/response/status"));
	assert_int_equal(warning_count(doc), 0);
	assert_true(r.daemonset);
	assert_false(r.patched);
	cJSON_Delete(doc);
	ds_review_result_free(&r);
}

static void test_mutate_patches_both_rules(void **state)
{
	ds_config cfg;
	ds_review_result r;
	cJSON *doc, *patch;

	(void)state;
	config_with_default(&cfg, "node-agents");
	doc = review_parts(API_V1_NAME, "CREATE", daemonset("logging", "{'restartPolicy':'Never'}"), NULL,
			   DS_REVIEW_MUTATE, &cfg, &r);
	assert_true(allowed(doc));
	patch = patch_of(doc);
	assert_non_null(patch);
	assert_int_equal(cJSON_GetArraySize(patch), 2);
	assert_string_equal(ds_pointer_get(patch, "/0/op")->valuestring, "add");
	assert_string_equal(ds_pointer_get(patch, "/0/path")->valuestring, "/spec/template/spec/priorityClassName");
	assert_string_equal(ds_pointer_get(patch, "/0/value")->valuestring, "node-agents");
	assert_string_equal(ds_pointer_get(patch, "/1/op")->valuestring, "replace");
	assert_string_equal(ds_pointer_get(patch, "/1/path")->valuestring, "/spec/template/spec/restartPolicy");
	assert_string_equal(ds_pointer_get(patch, "/1/value")->valuestring, "Always");
	assert_int_equal(warning_count(doc), 2);
	assert_non_null(strstr(ds_pointer_get(doc, "/response/warnings/0")->valuestring, "patched"));
	assert_true(r.patched);
	cJSON_Delete(patch);
	cJSON_Delete(doc);
	ds_review_result_free(&r);
	ds_config_free(&cfg);
}

static void test_mutate_adds_missing_pod_spec_as_an_object(void **state)
{
	ds_config cfg;
	ds_review_result r;
	cJSON *doc, *patch, *object = json("{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':{'name':'a',"
					   "'annotations':{'example.com/a~b':'x'}},'spec':{'template':{}}}");

	(void)state;
	config_with_default(&cfg, "node~agents/x");
	doc = review_parts(API_V1_NAME, "CREATE", object, NULL, DS_REVIEW_MUTATE, &cfg, &r);
	patch = patch_of(doc);
	assert_int_equal(cJSON_GetArraySize(patch), 1);
	assert_string_equal(ds_pointer_get(patch, "/0/path")->valuestring, "/spec/template/spec");
	assert_string_equal(ds_pointer_get(patch, "/0/value/priorityClassName")->valuestring, "node~agents/x");
	cJSON_Delete(patch);
	cJSON_Delete(doc);
	ds_review_result_free(&r);
	ds_config_free(&cfg);
}

static void test_mutate_without_default_denies(void **state)
{
	ds_config cfg;
	ds_review_result r;
	cJSON *doc;

	(void)state;
	ds_config_init(&cfg);
	doc = review_parts(API_V1_NAME, "CREATE", daemonset("logging", "{'restartPolicy':'Never'}"), NULL,
			   DS_REVIEW_MUTATE, &cfg, &r);
	assert_false(allowed(doc));
	assert_non_null(strstr(message(doc), "DS001"));
	assert_null(ds_pointer_get(doc, "/response/patch"));
	cJSON_Delete(doc);
	ds_review_result_free(&r);
}

static void test_allowed_list(void **state)
{
	ds_config cfg;
	ds_review_result r;
	cJSON *doc;

	(void)state;
	ds_config_init(&cfg);
	ALLOWED_CLASSES(&cfg).items = calloc(1, sizeof(char *));
	ALLOWED_CLASSES(&cfg).items[0] = strdup("node-agents");
	ALLOWED_CLASSES(&cfg).count = 1;
	doc = review_parts(API_V1_NAME, "CREATE", daemonset("logging", "{'priorityClassName':'other'}"), NULL,
			   DS_REVIEW_VALIDATE, &cfg, &r);
	assert_false(allowed(doc));
	assert_non_null(strstr(message(doc), "allowed"));
	cJSON_Delete(doc);
	ds_review_result_free(&r);
	ds_config_free(&cfg);
}

static void test_warning_severity_and_audit_mode_only_warn(void **state)
{
	ds_config cfg;
	ds_review_result r;
	cJSON *doc;

	(void)state;
	ds_config_init(&cfg);
	RULE_SETTINGS(&cfg, DS001).severity = DS_SEVERITY_WARNING;
	doc = review_parts(API_V1_NAME, "CREATE", daemonset("logging", "{}"), NULL, DS_REVIEW_VALIDATE, &cfg, &r);
	assert_true(allowed(doc));
	assert_int_equal(warning_count(doc), 1);
	assert_non_null(strstr(ds_pointer_get(doc, "/response/warnings/0")->valuestring, "DS001 priority-class"));
	cJSON_Delete(doc);
	ds_review_result_free(&r);

	ds_config_init(&cfg);
	cfg.enforce = false;
	doc = review_parts(API_V1_NAME, "CREATE", daemonset("logging", "{'restartPolicy':'Never'}"), NULL,
			   DS_REVIEW_MUTATE, &cfg, &r);
	assert_true(allowed(doc));
	assert_null(ds_pointer_get(doc, "/response/patch"));
	assert_int_equal(warning_count(doc), 2);
	cJSON_Delete(doc);
	ds_review_result_free(&r);
}

static void test_exemption_is_a_warning(void **state)
{
	ds_config cfg;
	ds_review_result r;
	cJSON *doc, *object = daemonset("logging", "{'restartPolicy':'Always'}");

	(void)state;
	ds_config_init(&cfg);
	cJSON_AddItemToObject(cJSON_GetObjectItem(object, "metadata"), "annotations",
			      json("{'dsguard.io/ignore':' DS001 , restart-policy'}"));
	doc = review_parts(API_V1_NAME, "CREATE", cJSON_Duplicate(object, 1), NULL, DS_REVIEW_VALIDATE, &cfg, &r);
	assert_true(allowed(doc));
	assert_int_equal(warning_count(doc), 1);
	assert_non_null(strstr(ds_pointer_get(doc, "/response/warnings/0")->valuestring, "exempted"));
	assert_int_equal(r.exempted[ds_rule_index(DS001)], 1);
	assert_int_equal(r.findings[ds_rule_index(DS001)], 0);
	cJSON_Delete(doc);
	ds_review_result_free(&r);

	cfg.allow_exemption_annotation = false;
	doc = review_parts(API_V1_NAME, "CREATE", object, NULL, DS_REVIEW_VALIDATE, &cfg, &r);
	assert_false(allowed(doc));
	cJSON_Delete(doc);
	ds_review_result_free(&r);
}

/* A config exemption for DS001 on every DaemonSet named fluentd, expiring
 * at `expiry` (0: never). */
static void exempt_fluentd(ds_config *cfg, time_t expiry)
{
	ds_exemption *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->rules[ds_rule_index(DS001)] = true;
	e->names.items = calloc(1, sizeof(char *));
	e->names.items[0] = strdup("fluent*");
	e->names.count = 1;
	e->reason = strdup("vendor chart");
	e->expires = expiry != 0;
	e->expiry = expiry;
	e->expires_text = expiry ? strdup("2001-01-01") : NULL;
	e->file = "dsguard.yaml";
	e->line = 7;
	cfg->exemptions = e;
	cfg->exemption_count = 1;
}

/* A config exemption is a warning in its own words; an expired one exempts
 * nothing and is noted for the log and the metrics. */
static void test_config_exemption_and_expiry(void **state)
{
	ds_config cfg;
	ds_review_result r;
	cJSON *doc;

	(void)state;
	ds_config_init(&cfg);
	exempt_fluentd(&cfg, 0);
	doc = review_parts(API_V1_NAME, "CREATE", daemonset("logging", "{}"), NULL, DS_REVIEW_VALIDATE, &cfg, &r);
	assert_true(allowed(doc));
	assert_string_equal(ds_pointer_get(doc, "/response/warnings/0")->valuestring,
			    "DS001 priority-class exempted by config (vendor chart): "
			    "spec.template.spec.priorityClassName is not set");
	assert_int_equal(r.exempted[ds_rule_index(DS001)], 1);
	assert_int_equal(r.exempted_by_config[ds_rule_index(DS001)], 1);
	assert_null(r.expired_entry);
	cJSON_Delete(doc);
	ds_review_result_free(&r);
	ds_config_free(&cfg);

	exempt_fluentd(&cfg, 978307200); /* 2001-01-01T00:00:00Z: long past */
	doc = review_parts(API_V1_NAME, "CREATE", daemonset("logging", "{}"), NULL, DS_REVIEW_VALIDATE, &cfg, &r);
	assert_false(allowed(doc));
	assert_int_equal(r.expired[ds_rule_index(DS001)], 1);
	assert_string_equal(r.expired_entry, "dsguard.yaml:7 (expires: 2001-01-01)");
	cJSON_Delete(doc);
	ds_review_result_free(&r);
	ds_config_free(&cfg);
}

/* Where only listed groups may exempt by annotation, a request from anyone
 * else that adds the annotation is denied, saying why; one that keeps it
 * as oldObject had it is not. */
static void test_grant_refused_is_denied(void **state)
{
	const char *good = "{'priorityClassName':'pc'}";
	ds_config cfg;
	ds_review_result r;
	cJSON *doc, *object = daemonset("logging", good);

	(void)state;
	ds_config_init(&cfg);
	cfg.annotation.groups.items = calloc(1, sizeof(char *));
	cfg.annotation.groups.items[0] = strdup("platform-admins");
	cfg.annotation.groups.count = 1;
	cJSON_AddItemToObject(cJSON_GetObjectItem(object, "metadata"), "annotations",
			      json("{'dsguard.io/ignore':'DS002'}"));
	doc = review_parts(API_V1_NAME, "CREATE", cJSON_Duplicate(object, 1), NULL, DS_REVIEW_MUTATE, &cfg, &r);
	assert_false(allowed(doc));
	assert_string_equal(message(doc), "DaemonSet logging/fluentd is not allowed: dsguard.io/ignore: only the users "
					  "and groups allowExemptionAnnotation lists may add an exemption by "
					  "annotation (here for DS002 restart-policy), and the request's user \"\" is "
					  "not one of them");
	assert_false(r.reserved);
	cJSON_Delete(doc);
	ds_review_result_free(&r);
	doc = review_parts(API_V1_NAME, "UPDATE", cJSON_Duplicate(object, 1), object, DS_REVIEW_VALIDATE, &cfg, &r);
	assert_true(allowed(doc));
	cJSON_Delete(doc);
	ds_review_result_free(&r);
	ds_config_free(&cfg);
}

/* Reviews, with cfg, a CREATE of object (taken) by the requester
 * user_info (a JSON text). Returns the answer (delete it). */
static cJSON *review_by(cJSON *object, const char *user_info, const ds_config *cfg, ds_review_result *r)
{
	char *text = request(API_V1_NAME, "CREATE", object, NULL), *with = NULL, *at = strstr(text, "\"dryRun\"");
	cJSON *doc;

	assert_non_null(at);
	assert_true(asprintf(&with, "%.*s\"userInfo\":%s,%s", (int)(at - text), text, user_info, at) > 0);
	doc = review(with, DS_REVIEW_VALIDATE, cfg, NULL, r);
	free(with);
	free(text);
	return doc;
}

/* A requester's name or group with an escaped NUL is not the name before
 * the NUL: cJSON cut strings there, so "alice\u0000x" could add an
 * exemption only alice may add. */
static void test_requester_with_nul_is_not_listed(void **state)
{
	static const char *const requesters[] = {"{\"username\":\"alice\\u0000x\"}",
						 "{\"username\":\"bob\",\"groups\":[\"admins\\u0000x\"]}",
						 "{\"username\":\"\\\\u0000alice\\u0000\"}"};
	ds_config cfg;
	ds_review_result r;
	cJSON *doc, *object = daemonset("logging", "{'priorityClassName':'pc'}");

	(void)state;
	ds_config_init(&cfg);
	cfg.annotation.users.items = calloc(1, sizeof(char *));
	cfg.annotation.users.items[0] = strdup("alice");
	cfg.annotation.users.count = 1;
	cfg.annotation.groups.items = calloc(1, sizeof(char *));
	cfg.annotation.groups.items[0] = strdup("admins");
	cfg.annotation.groups.count = 1;
	cJSON_AddItemToObject(cJSON_GetObjectItem(object, "metadata"), "annotations",
			      json("{'dsguard.io/ignore':'DS002'}"));
	doc = review_by(cJSON_Duplicate(object, 1), "{\"username\":\"alice\"}", &cfg, &r);
	assert_true(allowed(doc));
	cJSON_Delete(doc);
	ds_review_result_free(&r);
	for (size_t i = 0; i < sizeof(requesters) / sizeof(*requesters); i++) {
		doc = review_by(cJSON_Duplicate(object, 1), requesters[i], &cfg, &r);
		assert_false(allowed(doc));
		assert_non_null(strstr(message(doc), "only the users and groups allowExemptionAnnotation lists"));
		cJSON_Delete(doc);
		ds_review_result_free(&r);
	}
	cJSON_Delete(object);
	ds_config_free(&cfg);
}

static void test_update_with_untouched_template_only_warns(void **state)
{
	ds_config cfg;
	ds_review_result r;
	cJSON *doc, *now = daemonset("logging", "{}"), *old = daemonset("logging", "{}");

	(void)state;
	config_with_default(&cfg, "node-agents");
	cJSON_AddItemToObject(cJSON_GetObjectItem(now, "metadata"), "labels", json("{'team':'obs'}"));
	for (int mode = DS_REVIEW_VALIDATE; mode <= DS_REVIEW_MUTATE; mode++) {
		doc = review_parts(API_V1_NAME, "UPDATE", cJSON_Duplicate(now, 1), cJSON_Duplicate(old, 1),
				   (ds_review_mode)mode, &cfg, &r);
		assert_true(allowed(doc));
		assert_null(ds_pointer_get(doc, "/response/patch"));
		assert_int_equal(warning_count(doc), 1);
		assert_non_null(strstr(ds_pointer_get(doc, "/response/warnings/0")->valuestring, "spec.template"));
		cJSON_Delete(doc);
		ds_review_result_free(&r);
	}
	cJSON_Delete(now);
	cJSON_Delete(old);
	ds_config_free(&cfg);
}

static void test_update_changing_template_is_patched(void **state)
{
	ds_config cfg;
	ds_review_result r;
	cJSON *doc, *patch;

	(void)state;
	config_with_default(&cfg, "node-agents");
	doc = review_parts(API_V1_NAME, "UPDATE", daemonset("logging", "{'hostNetwork':true}"),
			   daemonset("logging", "{}"), DS_REVIEW_MUTATE, &cfg, &r);
	assert_true(allowed(doc));
	patch = patch_of(doc);
	assert_non_null(patch);
	cJSON_Delete(patch);
	cJSON_Delete(doc);
	ds_review_result_free(&r);
	doc = review_parts(API_V1_NAME, "UPDATE", daemonset("logging", "{'hostNetwork':true}"),
			   daemonset("logging", "{}"), DS_REVIEW_VALIDATE, &cfg, &r);
	assert_false(allowed(doc));
	cJSON_Delete(doc);
	ds_review_result_free(&r);
	ds_config_free(&cfg);
}

/* Whether two JSON texts (single-quoted) are equal as the API server reads them. */
static int json_equal(const char *a, const char *b)
{
	cJSON *x = json(a), *y = json(b);
	int rc = ds_json_equal(x, y);

	assert_int_equal(ds_json_equal(y, x), rc);
	cJSON_Delete(x);
	cJSON_Delete(y);
	return rc;
}

/* The comparison of templates: objects whatever the order of their
 * members, the last of a repeated name counting as in Go's decoder (and
 * the API server), arrays in order, values by type and value. */
static void test_json_equal(void **state)
{
	(void)state;
	assert_int_equal(json_equal("{'a':1,'b':[1,'x',{'c':null}]}", "{'b':[1,'x',{'c':null}],'a':1}"), 1);
	assert_int_equal(json_equal("{'a':1,'b':2}", "{'a':1,'b':3}"), 0);
	assert_int_equal(json_equal("{'a':1,'b':2}", "{'a':1}"), 0);
	assert_int_equal(json_equal("{'a':1}", "{'a':1,'a':1}"), 1);
	assert_int_equal(json_equal("{'a':1,'a':2}", "{'a':2}"), 1);       /* the last one counts */
	assert_int_equal(json_equal("{'a':1,'a':2}", "{'a':1}"), 0);
	assert_int_equal(json_equal("{'a':2,'b':0,'a':1}", "{'b':0,'a':1}"), 1);
	assert_int_equal(json_equal("{'x':{'a':{},'a':{'b':[]}}}", "{'x':{'a':{'b':[]}}}"), 1);
	assert_int_equal(json_equal("{'x':{'a':{},'a':{'b':[]}}}", "{'x':{'a':{}}}"), 0);
	assert_int_equal(json_equal("[1,2]", "[2,1]"), 0);                   /* arrays in order */
	assert_int_equal(json_equal("[1,2]", "[1,2,3]"), 0);
	assert_int_equal(json_equal("[]", "{}"), 0);
	assert_int_equal(json_equal("{'a':1}", "{'a':'1'}"), 0);
	assert_int_equal(json_equal("{'a':null}", "{'a':false}"), 0);
	assert_int_equal(json_equal("{'a':true}", "{'a':false}"), 0);
	assert_int_equal(json_equal("{'a':1}", "{'a':1.0}"), 1);              /* numbers by value */
	assert_int_equal(json_equal("{'a':1e2}", "{'a':100}"), 1);
	assert_int_equal(json_equal("{'a':1}", "{'a':1.0000001}"), 0);
	assert_int_equal(json_equal("{'':1}", "{'':1}"), 1);
	assert_int_equal(json_equal("{'A':1}", "{'a':1}"), 0);                /* names are exact */
	assert_int_equal(ds_json_equal(NULL, NULL), 1);
}

/* An UPDATE whose template is the old one with its members in another
 * order, or with a repeated name whose last value is the old one, leaves the
 * template as it was: findings only warn. One whose last value differs
 * changes it: they are denied. */
static void test_update_template_compared_as_the_api_server_reads_it(void **state)
{
	static const char *const labels_old = "{'app':'f','team':'obs','tier':'node'}";
	static const char *const same[] = {"{'tier':'node','team':'obs','app':'f'}",
					   "{'app':'f','team':'x','tier':'node','team':'obs'}"};
	ds_config cfg;
	ds_review_result r;
	cJSON *doc, *now, *old;

	(void)state;
	ds_config_init(&cfg);
	for (size_t i = 0; i < 3; i++) {
		now = daemonset("logging", "{}");
		old = daemonset("logging", "{}");
		cJSON_ReplaceItemInObject(ds_pointer_get(old, "/spec/template/metadata"), "labels", json(labels_old));
		cJSON_ReplaceItemInObject(ds_pointer_get(now, "/spec/template/metadata"), "labels",
					  json(i < 2 ? same[i] : "{'app':'f','team':'obs','tier':'node','team':'x'}"));
		doc = review_parts(API_V1_NAME, "UPDATE", now, old, DS_REVIEW_VALIDATE, &cfg, &r);
		assert_int_equal(allowed(doc), i < 2);
		cJSON_Delete(doc);
		ds_review_result_free(&r);
	}
}

static void test_delete_connect_and_other_kinds_are_allowed_untouched(void **state)
{
	static const char *const ops[] = {"DELETE", "CONNECT"};
	ds_config cfg;
	ds_review_result r;
	cJSON *doc;

	(void)state;
	ds_config_init(&cfg);
	for (int i = 0; i < 2; i++) {
		doc = review_parts(API_V1_NAME, ops[i], NULL, daemonset("logging", "{}"), DS_REVIEW_MUTATE, &cfg, &r);
		assert_true(allowed(doc));
		assert_null(ds_pointer_get(doc, "/response/patch"));
		assert_null(ds_pointer_get(doc, "/response/warnings"));
		assert_false(r.daemonset);
		cJSON_Delete(doc);
		ds_review_result_free(&r);
	}
	doc = review_parts(API_V1_NAME, "CREATE",
			   json("{'apiVersion':'apps/v1','kind':'Deployment','metadata':{'name':'d'},"
				"'spec':{'template':{'spec':{'restartPolicy':'Never'}}}}"),
			   NULL, DS_REVIEW_MUTATE, &cfg, &r);
	assert_true(allowed(doc));
	assert_null(ds_pointer_get(doc, "/response/warnings"));
	assert_false(r.daemonset);
	cJSON_Delete(doc);
	ds_review_result_free(&r);
}

static void test_subresource_is_allowed_untouched(void **state)
{
	ds_config cfg;
	ds_review_result r;
	cJSON *req = json("{'apiVersion':'admission.k8s.io/v1','kind':'AdmissionReview','request':{'uid':'" UID "',"
			  "'operation':'UPDATE','subResource':'status','object':{'apiVersion':'apps/v1',"
			  "'kind':'DaemonSet','metadata':{'name':'a'},'spec':{'template':{'spec':{}}}}}}");
	char *text = cJSON_PrintUnformatted(req);
	cJSON *doc;

	(void)state;
	ds_config_init(&cfg);
	doc = review(text, DS_REVIEW_VALIDATE, &cfg, NULL, &r);
	assert_true(allowed(doc));
	assert_false(r.daemonset);
	cJSON_Delete(doc);
	cJSON_Delete(req);
	free(text);
	ds_review_result_free(&r);
}

static void test_dry_run_gives_the_same_answer(void **state)
{
	ds_config cfg;
	ds_review_result r1, r2;
	char *text = request(API_V1_NAME, "CREATE", daemonset("logging", "{}"), NULL), *dry;
	cJSON *parsed = cJSON_Parse(text), *doc1, *doc2;

	(void)state;
	ds_config_init(&cfg);
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(parsed, "request"), "dryRun", cJSON_CreateTrue());
	dry = cJSON_PrintUnformatted(parsed);
	doc1 = review(text, DS_REVIEW_VALIDATE, &cfg, NULL, &r1);
	doc2 = review(dry, DS_REVIEW_VALIDATE, &cfg, NULL, &r2);
	assert_string_equal(r1.body, r2.body);
	assert_false(r1.dry_run);
	assert_true(r2.dry_run);
	cJSON_Delete(doc1);
	cJSON_Delete(doc2);
	cJSON_Delete(parsed);
	free(text);
	free(dry);
	ds_review_result_free(&r1);
	ds_review_result_free(&r2);
}

/* A cluster where namespace "shared" holds node-exporter. `taken` is a
 * DaemonSet that a concurrent CREATE has just reserved: the lookup does not
 * see it yet, a reservation does. Counts lookups and reservations. */
struct fake_cluster {
	bool synced;
	const char *taken;
	bool fails;            /* the reservation cannot be told (a claim failed) */
	int lookups, reserves;
	/* what the last reservation asked */
	char ns[64], name[64], generate_name[64], uid[64];
	ds_review_mode mode;
};

static ds_namespace_answer fake_other(void *data, const char *ns, const char *name, char **other)
{
	struct fake_cluster *c = data;

	(void)name;
	c->lookups++;
	if (strcmp(ns, "shared"))
		return DS_NAMESPACE_FREE;
	*other = strdup("node-exporter");
	return DS_NAMESPACE_SHARED;
}

static bool fake_synced(void *data)
{
	return ((struct fake_cluster *)data)->synced;
}

static int fake_reserve(void *data, const ds_claim_request *req, char **other)
{
	struct fake_cluster *c = data;

	c->reserves++;
	snprintf(c->ns, sizeof(c->ns), "%s", req->ns);
	snprintf(c->name, sizeof(c->name), "%s", req->name ? req->name : "(null)");
	snprintf(c->generate_name, sizeof(c->generate_name), "%s", req->generate_name ? req->generate_name : "(null)");
	snprintf(c->uid, sizeof(c->uid), "%s", req->uid ? req->uid : "(null)");
	c->mode = req->mode;
	if (c->fails)
		return 1;
	*other = c->taken && strcmp(req->name, c->taken) ? strdup(c->taken) : NULL;
	return 0;
}

/* The ds_cluster over c. */
static ds_cluster fake(struct fake_cluster *c, bool deny_unsynced)
{
	return (ds_cluster){{fake_other, c}, fake_synced, fake_reserve, c, deny_unsynced};
}

/* Reviews a CREATE (or `op`) of fluentd in ns, spec a pod spec, dryRun as
 * given, against cluster. Returns the parsed answer; *r is kept. */
static cJSON *review_in(const char *op, const char *ns, const char *spec, bool dry_run, const ds_config *cfg,
			const ds_cluster *cluster, ds_review_result *r)
{
	char *text = request(API_V1_NAME, op, daemonset(ns, spec), strcmp(op, "UPDATE") ? NULL : daemonset(ns, spec));
	cJSON *parsed = cJSON_Parse(text), *doc;

	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(parsed, "request"), "dryRun", cJSON_CreateBool(dry_run));
	free(text);
	text = cJSON_PrintUnformatted(parsed);
	doc = review(text, DS_REVIEW_VALIDATE, cfg, cluster, r);
	cJSON_Delete(parsed);
	free(text);
	return doc;
}

/* Whether the answer's warnings hold one containing words. */
static bool warned(const cJSON *doc, const char *words)
{
	const cJSON *w;

	cJSON_ArrayForEach(w, ds_pointer_get(doc, "/response/warnings"))
		if (strstr(w->valuestring, words))
			return true;
	return false;
}

#define GOOD_SPEC "{'priorityClassName':'x'}"

static void test_ds003_on_create_only(void **state)
{
	struct fake_cluster c = {.synced = true};
	ds_cluster cluster = fake(&c, false);
	ds_config cfg;
	ds_review_result r;
	cJSON *doc;

	(void)state;
	ds_config_init(&cfg);
	doc = review_in("CREATE", "shared", GOOD_SPEC, false, &cfg, &cluster, &r);
	assert_false(allowed(doc));
	assert_non_null(strstr(message(doc), "DS003 dedicated-namespace: namespace shared is shared with DaemonSet "
					     "shared/node-exporter"));
	assert_int_equal(c.reserves, 0);
	cJSON_Delete(doc);
	ds_review_result_free(&r);
	doc = review_in("CREATE", "shared", GOOD_SPEC, false, &cfg, NULL, &r);
	assert_true(allowed(doc));
	cJSON_Delete(doc);
	ds_review_result_free(&r);

	c.lookups = 0;
	doc = review_in("UPDATE", "shared", GOOD_SPEC, false, &cfg, &cluster, &r);
	assert_true(allowed(doc));
	assert_int_equal(c.lookups + c.reserves, 0);
	cJSON_Delete(doc);
	ds_review_result_free(&r);
}

/* Reviews a CREATE in ns and checks whether it was allowed and how many
 * reservations the cluster saw. */
static void expect_reserves(const char *ns, const char *spec, bool dry_run, const ds_config *cfg, bool allow,
			    int reserves)
{
	struct fake_cluster c = {.synced = true};
	ds_cluster cluster = fake(&c, false);
	ds_review_result r;
	cJSON *doc = review_in("CREATE", ns, spec, dry_run, cfg, &cluster, &r);

	assert_int_equal(allowed(doc), allow);
	assert_int_equal(c.reserves, reserves);
	assert_int_equal(r.reserved, reserves == 1);
	cJSON_Delete(doc);
	ds_review_result_free(&r);
}

static void test_ds003_reserves_an_admitted_create(void **state)
{
	ds_config cfg;

	(void)state;
	ds_config_init(&cfg);
	expect_reserves("free", GOOD_SPEC, false, &cfg, true, 1);
	expect_reserves("free", GOOD_SPEC, true, &cfg, true, 0);             /* dryRun */
	expect_reserves("free", "{}", false, &cfg, false, 0);                /* denied by DS001 */
	expect_reserves("shared", GOOD_SPEC, false, &cfg, false, 0);         /* denied by DS003 */
	RULE_SETTINGS(&cfg, DS003).severity = DS_SEVERITY_WARNING;
	expect_reserves("shared", GOOD_SPEC, false, &cfg, true, 0);          /* a warning, held anyway */
	RULE_SETTINGS(&cfg, DS003).severity = DS_SEVERITY_OFF;
	expect_reserves("free", GOOD_SPEC, false, &cfg, true, 0);
	RULE_SETTINGS(&cfg, DS003).severity = DS_SEVERITY_ERROR;
	EXEMPT_NAMESPACES(&cfg).items = calloc(1, sizeof(char *));
	EXEMPT_NAMESPACES(&cfg).items[0] = strdup("free");
	EXEMPT_NAMESPACES(&cfg).count = 1;
	expect_reserves("free", GOOD_SPEC, false, &cfg, true, 0);
	ds_config_free(&cfg);
}

static void test_ds003_reservation_held_by_another(void **state)
{
	struct fake_cluster c = {.synced = true, .taken = "other-agent"};
	ds_cluster cluster = fake(&c, false);
	const char *exempt = "{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':{'name':'fluentd','namespace':'free',"
			     "'annotations':{'dsguard.io/ignore':'DS003'}},'spec':{'template':{'spec':" GOOD_SPEC "}}}";
	ds_config cfg;
	ds_review_result r;
	char *text;
	cJSON *doc;

	(void)state;
	ds_config_init(&cfg);
	doc = review_in("CREATE", "free", GOOD_SPEC, false, &cfg, &cluster, &r);
	assert_false(allowed(doc));
	assert_string_equal(message(doc), "DaemonSet free/fluentd is not allowed: DS003 dedicated-namespace: namespace "
					  "free is shared with DaemonSet free/other-agent; each DaemonSet needs a "
					  "namespace of its own");
	assert_false(r.reserved);
	assert_int_equal(r.findings[ds_rule_index(DS003)], 1);
	cJSON_Delete(doc);
	ds_review_result_free(&r);

	text = request(API_V1_NAME, "CREATE", json(exempt), NULL);
	doc = review(text, DS_REVIEW_VALIDATE, &cfg, &cluster, &r);
	assert_true(allowed(doc));
	assert_true(warned(doc, "DS003 dedicated-namespace exempted by annotation"));
	assert_int_equal(r.exempted[ds_rule_index(DS003)], 1);
	cJSON_Delete(doc);
	ds_review_result_free(&r);
	free(text);

	RULE_SETTINGS(&cfg, DS003).severity = DS_SEVERITY_WARNING;
	doc = review_in("CREATE", "free", GOOD_SPEC, false, &cfg, &cluster, &r);
	assert_true(allowed(doc));
	assert_true(warned(doc, "shared with DaemonSet free/other-agent"));
	cJSON_Delete(doc);
	ds_review_result_free(&r);
}

/* Checks a denial as AdmissionReview v1 defines it: allowed false, a
 * status of code 403, reason Forbidden, status Failure; no patch and no
 * patchType; no warning saying "patched:". */
static void expect_denial_without_patch(const cJSON *doc, const ds_review_result *r)
{
	const cJSON *w;

	assert_false(allowed(doc));
	assert_int_equal(ds_pointer_get(doc, "/response/status/code")->valueint, 403);
	assert_string_equal(ds_pointer_get(doc, "/response/status/reason")->valuestring, "Forbidden");
	assert_string_equal(ds_pointer_get(doc, "/response/status/status")->valuestring, "Failure");
	assert_null(ds_pointer_get(doc, "/response/patch"));
	assert_null(ds_pointer_get(doc, "/response/patchType"));
	cJSON_ArrayForEach(w, ds_pointer_get(doc, "/response/warnings"))
		if (strstr(w->valuestring, "patched"))
			fail_msg("a denial warns '%s'", w->valuestring);
	assert_false(r->allowed);
	assert_false(r->patched);
}

/* /mutate answering with a denial patches nothing: a finding that a fix
 * would have patched is named in the denial with the others, and no
 * warning says it was patched. */
static void test_mutate_denial_patches_nothing(void **state)
{
	struct fake_cluster c = {.synced = true};
	ds_cluster cluster = fake(&c, false);
	ds_config cfg;
	ds_review_result r;
	char *text;
	cJSON *doc;

	(void)state;
	ds_config_init(&cfg); /* no default class: DS001 cannot be patched */
	doc = review_parts(API_V1_NAME, "CREATE", daemonset("logging", "{'restartPolicy':'Never'}"), NULL,
			   DS_REVIEW_MUTATE, &cfg, &r);
	expect_denial_without_patch(doc, &r);
	assert_string_equal(message(doc), "DaemonSet logging/fluentd is not allowed: DS001 priority-class: "
					  "spec.template.spec.priorityClassName is not set; DS002 restart-policy: "
					  "spec.template.spec.restartPolicy is \"Never\"; it must be Always or unset");
	assert_int_equal(warning_count(doc), 0);
	cJSON_Delete(doc);
	ds_review_result_free(&r);

	DEFAULT_CLASS(&cfg) = strdup("node-agents"); /* both fixable, DS003 denies */
	text = request(API_V1_NAME, "CREATE", daemonset("shared", "{'restartPolicy':'Never'}"), NULL);
	doc = review(text, DS_REVIEW_MUTATE, &cfg, &cluster, &r);
	expect_denial_without_patch(doc, &r);
	assert_non_null(strstr(message(doc), "DS001 priority-class: spec.template.spec.priorityClassName is not set"));
	assert_non_null(strstr(message(doc), "DS002 restart-policy: spec.template.spec.restartPolicy is \"Never\""));
	assert_non_null(strstr(message(doc), "DS003 dedicated-namespace: namespace shared is shared"));
	assert_int_equal(c.reserves, 0);
	cJSON_Delete(doc);
	ds_review_result_free(&r);
	free(text);
	ds_config_free(&cfg);
}

/* Reviews op in ns while the cluster is not synced. */
static cJSON *review_unsynced(const char *op, const char *ns, bool deny, const ds_config *cfg, ds_review_result *r,
			      struct fake_cluster *c)
{
	ds_cluster cluster = fake(c, deny);

	memset(c, 0, sizeof(*c));
	return review_in(op, ns, GOOD_SPEC, false, cfg, &cluster, r);
}

static void test_ds003_before_the_cluster_is_synced(void **state)
{
	struct fake_cluster c;
	ds_config cfg;
	ds_review_result r;
	cJSON *doc;

	(void)state;
	ds_config_init(&cfg);
	doc = review_unsynced("CREATE", "shared", false, &cfg, &r, &c);
	assert_true(allowed(doc));
	assert_true(warned(doc, "DS003 dedicated-namespace: could not be checked"));
	assert_true(r.unsynced);
	assert_int_equal(r.findings[ds_rule_index(DS003)] + c.lookups + c.reserves, 0);
	cJSON_Delete(doc);
	ds_review_result_free(&r);

	doc = review_unsynced("CREATE", "free", true, &cfg, &r, &c);
	assert_false(allowed(doc));
	assert_non_null(strstr(message(doc), "DS003 dedicated-namespace: could not be checked"));
	assert_non_null(strstr(message(doc), "(--on-unsynced deny)"));
	assert_int_equal(c.reserves, 0);
	cJSON_Delete(doc);
	ds_review_result_free(&r);

	doc = review_unsynced("UPDATE", "free", true, &cfg, &r, &c);
	assert_true(allowed(doc));
	assert_int_equal(warning_count(doc), 0);
	cJSON_Delete(doc);
	ds_review_result_free(&r);

	RULE_SETTINGS(&cfg, DS003).severity = DS_SEVERITY_WARNING;
	doc = review_unsynced("CREATE", "free", true, &cfg, &r, &c);
	assert_true(allowed(doc));
	assert_true(warned(doc, "could not be checked"));
	cJSON_Delete(doc);
	ds_review_result_free(&r);
}

/* A reservation that cannot be told (a namespace claim in the API server
 * that failed) is answered as DS003 before the cluster is synced, with its
 * own words: allowed with a warning, or denied with --on-unsynced deny. */
static void test_ds003_reservation_not_told(void **state)
{
	struct fake_cluster c = {.synced = true, .fails = true};
	ds_cluster cluster = fake(&c, false);
	ds_config cfg;
	ds_review_result r;
	cJSON *doc;

	(void)state;
	ds_config_init(&cfg);
	doc = review_in("CREATE", "free", GOOD_SPEC, false, &cfg, &cluster, &r);
	assert_true(allowed(doc));
	assert_true(warned(doc, "DS003 dedicated-namespace: could not be checked: the namespace could not be claimed "
				"in the API server in time"));
	assert_int_equal(warning_count(doc), 1);
	assert_true(r.unclaimed);
	assert_false(r.unsynced);
	assert_false(r.reserved);
	assert_int_equal(r.findings[ds_rule_index(DS003)], 0);
	assert_int_equal(c.reserves, 1);
	cJSON_Delete(doc);
	ds_review_result_free(&r);

	cluster.deny_unsynced = true;
	doc = review_in("CREATE", "free", GOOD_SPEC, false, &cfg, &cluster, &r);
	assert_false(allowed(doc));
	assert_string_equal(message(doc), "DaemonSet free/fluentd is not allowed: DS003 dedicated-namespace: could not "
					  "be checked: the namespace could not be claimed in the API server in time "
					  "(--on-unsynced deny)");
	assert_true(r.unclaimed);
	cJSON_Delete(doc);
	ds_review_result_free(&r);

	RULE_SETTINGS(&cfg, DS003).severity = DS_SEVERITY_WARNING; /* deny only at error */
	doc = review_in("CREATE", "free", GOOD_SPEC, false, &cfg, &cluster, &r);
	assert_true(allowed(doc));
	assert_true(warned(doc, "the namespace could not be claimed"));
	cJSON_Delete(doc);
	ds_review_result_free(&r);
	ds_config_free(&cfg);
}

/* What a reservation is asked: the namespace, the name (empty while
 * generateName has yet to make it), the generateName, the request's uid and
 * the endpoint. */
static void test_ds003_reservation_request(void **state)
{
	struct fake_cluster c = {.synced = true};
	ds_cluster cluster = fake(&c, false);
	ds_config cfg;
	ds_review_result r;
	char *text;
	cJSON *doc;

	(void)state;
	ds_config_init(&cfg);
	text = request(API_V1_NAME, "CREATE",
		       json("{'apiVersion':'apps/v1','kind':'DaemonSet','metadata':{'generateName':'agent-',"
			    "'namespace':'gen'},'spec':{'template':{'spec':" GOOD_SPEC "}}}"),
		       NULL);
	doc = review(text, DS_REVIEW_MUTATE, &cfg, &cluster, &r);
	assert_true(allowed(doc));
	assert_int_equal(c.reserves, 1);
	assert_string_equal(c.ns, "gen");
	assert_string_equal(c.name, "");
	assert_string_equal(c.generate_name, "agent-");
	assert_string_equal(c.uid, UID);
	assert_int_equal(c.mode, DS_REVIEW_MUTATE);
	cJSON_Delete(doc);
	ds_review_result_free(&r);
	free(text);

	doc = review_in("CREATE", "free", GOOD_SPEC, false, &cfg, &cluster, &r);
	assert_string_equal(c.name, "fluentd");
	assert_string_equal(c.generate_name, "(null)");
	assert_int_equal(c.mode, DS_REVIEW_VALIDATE);
	cJSON_Delete(doc);
	ds_review_result_free(&r);
	ds_config_free(&cfg);
}

/* Reviews text and checks it is refused with 400 and a message. */
static void expect_400(const char *text, const char *words)
{
	ds_config cfg;
	ds_review_result r;
	cJSON *doc;

	ds_config_init(&cfg);
	assert_int_equal(ds_review(text, strlen(text), DS_REVIEW_VALIDATE, &cfg, NULL, &r), 0);
	assert_int_equal(r.status, 400);
	doc = cJSON_Parse(r.body);
	assert_int_equal(cJSON_GetObjectItem(doc, "code")->valueint, 400);
	cJSON_Delete(doc);
	if (!strstr(r.error, words))
		fail_msg("error '%s' lacks '%s'", r.error, words);
	ds_review_result_free(&r);
}

static void test_bad_requests(void **state)
{
	char *deep = malloc(200001);

	(void)state;
	expect_400("", "empty");
	expect_400("{\"apiVersion\":", "malformed JSON");
	expect_400("{} x", "unexpected data");
	expect_400("[1]", "not a JSON object");
	expect_400("{\"apiVersion\":\"admission.k8s.io/v2\",\"kind\":\"AdmissionReview\"}", "apiVersion");
	expect_400("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"Pod\"}", "kind");
	expect_400("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}", "request");
	expect_400("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{}}", "uid");
	expect_400("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"\"}}",
		   "uid");
	expect_400("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\","
		   "\"operation\":\"PATCH\"}}",
		   "operation");
	expect_400("{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u\","
		   "\"operation\":\"CREATE\"}}",
		   "request.object");
	memset(deep, '[', 200000);
	deep[200000] = '\0';
	expect_400(deep, "malformed JSON");
	free(deep);
}

/* Whether cJSON takes body (len bytes) whole: one value, then nothing but
 * isspace() bytes (what the review accepted before it read bodies itself). */
static bool cjson_accepts(const char *body, size_t len)
{
	const char *end = NULL;
	cJSON *doc = len ? cJSON_ParseWithLengthOpts(body, len, &end, false) : NULL;
	bool whole;

	if (!doc)
		return false;
	while ((size_t)(end - body) < len && isspace((unsigned char)*end))
		end++;
	whole = (size_t)(end - body) == len;
	cJSON_Delete(doc);
	return whole;
}

/* Reads body with the review's reader and with cJSON: both must give
 * `verdict` (1 JSON, 0 malformed). */
static void expect_read(const char *body, size_t len, int verdict)
{
	ds_review_doc doc;
	size_t where;
	int rc = ds_review_read(body, len, &doc, &where);

	if (rc != verdict || cjson_accepts(body, len) != (verdict == 1))
		fail_msg("%.*s: the reader says %d, cJSON %d, expected %d", (int)len, body, rc,
			 cjson_accepts(body, len), verdict);
	ds_review_doc_free(&doc);
}

#define READ_OK(lit) expect_read(lit, sizeof(lit) - 1, 1)
#define READ_BAD(lit) expect_read(lit, sizeof(lit) - 1, 0)

/* The reader takes what cJSON takes, quirks and all, wherever the value is
 * (kept or only checked): cJSON is the oracle. */
static void test_reader_accepts_what_cjson_accepts(void **state)
{
	char *deep;

	(void)state;
	READ_OK("{\"a\":\"\\uZZZZ\"}");              /* bad hex digits read as 0 */
	READ_OK("{\"a\":\"\\ud83d\\ude00\"}");       /* a surrogate pair */
	READ_BAD("{\"a\":\"\\ud83d\"}");             /* a lone high surrogate */
	READ_BAD("{\"a\":\"\\ude00x\"}");            /* a lone low surrogate */
	READ_BAD("{\"a\":\"\\ud83d\\u0041\"}");      /* high then no low */
	READ_BAD("{\"a\":\"\\x\"}");                 /* an unknown escape */
	READ_BAD("{\"a\":\"\\u12\"}");               /* a short \u */
	READ_OK("{\"a\":\"\xff\xfe\x01\"}");         /* bytes as they are, no UTF-8 check */
	READ_OK("{\"a\":01,\"b\":-.5,\"c\":1.,\"d\":1E+2}"); /* what strtod() reads */
	READ_BAD("{\"a\":1e}");
	READ_BAD("{\"a\":-}");
	READ_BAD("{\"a\":.5}");
	READ_BAD("{\"a\":1.5.5}");
	READ_OK("{\"a\":1234567890123456789012345678901234567890123456789012345678901234567890.5e-3}");
	READ_BAD("{\"a\":1234567890123456789012345678901234567890123456789012345678901234567890.5e-3e}");
	READ_OK("\xEF\xBB\xBF{\"a\":1}");            /* a byte order mark */
	READ_OK("{\x01\"a\"\x1f:\x00[]}\n");         /* any byte to 32 is whitespace inside */
	READ_BAD("{}\x01");                           /* but not after the value */
	READ_OK("{\"a\":[true,false,null,{}],\"b\":{\"c\":[[]]}} \t\r\n\v\f");
	READ_BAD("{\"a\":tru}");
	READ_BAD("{\"a\":[1,]}");
	READ_BAD("{\"a\":1,}");
	READ_BAD("{\"a\" 1}");
	READ_BAD("{\"a\":1");
	READ_BAD("{\"metadata\":{\"managedFields\":[{\"x\":}]}}"); /* checked although not kept */
	READ_BAD("{\"request\":{\"object\":{\"spec\":{\"template\":{\"spec\":{\"containers\":[1 2]}}}}}}");
	READ_OK("\"x\"");
	READ_BAD("");
	READ_BAD("   ");
	/* CJSON_NESTING_LIMIT levels, whether kept or only checked */
	deep = malloc(2 * CJSON_NESTING_LIMIT + 64);
	assert_non_null(deep);
	for (size_t depth = CJSON_NESTING_LIMIT; depth <= CJSON_NESTING_LIMIT + 1; depth++) {
		for (const char *prefix = "{\"x\":", *p = prefix; p; p = p == prefix ? "{\"request\":" : NULL) {
			size_t n = (size_t)sprintf(deep, "%s", p), open = depth - 1;
			memset(deep + n, '[', open);
			memset(deep + n + open, ']', open);
			deep[n + 2 * open] = '}';
			expect_read(deep, n + 2 * open + 1, depth <= CJSON_NESTING_LIMIT);
		}
	}
	free(deep);
}

/* A name the body repeats counts as its last occurrence, as the API
 * server's decoder reads it (cJSON's lookups alone would answer the
 * first): uid, the pod spec's fields, the template compared on UPDATE,
 * annotations, a name written with an escape. */
static void test_repeated_names_the_last_counts(void **state)
{
	static const char body[] =
		"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
		"\"uid\":\"first\",\"operation\":\"CREATE\",\"\\u0075id\":\"" UID "\","
		"\"object\":{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"a\","
		"\"namespace\":\"logging\",\"name\":\"fluentd\"},\"spec\":{\"template\":{\"spec\":{"
		"\"restartPolicy\":\"Always\",\"priorityClassName\":\"system-node-critical\",\"restartPolicy\":\"Never\","
		"\"priorityClassName\":\"\"}}}}}}";
	ds_config cfg;
	ds_review_result r;
	ds_review_doc doc;
	size_t where;
	cJSON *answer;

	(void)state;
	assert_int_equal(ds_review_read(body, sizeof(body) - 1, &doc, &where), 1);
	assert_string_equal(ds_pointer_get(doc.root, "/request/uid")->valuestring, UID);
	assert_string_equal(ds_pointer_get(doc.root, "/request/object/metadata/name")->valuestring, "fluentd");
	assert_string_equal(ds_pointer_get(doc.root, "/request/object/spec/template/spec/restartPolicy")->valuestring,
			    "Never");
	ds_review_doc_free(&doc);

	ds_config_init(&cfg);
	answer = review(body, DS_REVIEW_VALIDATE, &cfg, NULL, &r);
	assert_false(allowed(answer));
	assert_non_null(strstr(message(answer), "DS001"));
	assert_non_null(strstr(message(answer), "DS002"));
	assert_string_equal(r.name, "fluentd");
	cJSON_Delete(answer);
	ds_review_result_free(&r);
	ds_config_free(&cfg);
}

/* The templates compared on UPDATE are the last ones written, whether the
 * name repeated is the template's or one above it. */
static void test_repeated_template_the_last_is_compared(void **state)
{
	static const struct {
		const char *object, *old;
		int equal;
	} cases[] = {
		{"{\"spec\":{\"template\":{\"a\":1},\"template\":{\"a\":2}}}", "{\"spec\":{\"template\":{\"a\":2}}}", 1},
		{"{\"spec\":{\"template\":{\"a\":1}},\"spec\":{}}", "{\"spec\":{\"template\":{\"a\":1}}}", 0},
		{"{\"spec\":{\"template\":{\"a\":1}}}", "{\"spec\":{\"template\":{\"a\":1,\"a\":3}}}", 0},
		{"{\"spec\":{\"template\":{\"a\":1,\"b\":[1,{\"c\":2}]}}}",
		 "{\"spec\":{\"template\":{\"b\":[1,{\"c\":2}], \"a\":1.0}}}", 1},
		{"{\"spec\":{\"template\":null}}", "{\"spec\":{\"template\":null}}", 1},
		{"{\"spec\":{\"template\":{}}}", "{\"spec\":[]}", 0},
	};
	char body[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ds_review_doc doc;
		size_t where;
		int n = snprintf(body, sizeof(body), "{\"request\":{\"object\":%s,\"oldObject\":%s}}", cases[i].object,
				 cases[i].old);
		assert_int_equal(ds_review_read(body, (size_t)n, &doc, &where), 1);
		if (ds_review_templates_equal(&doc) != cases[i].equal)
			fail_msg("%s: expected %d", body, cases[i].equal);
		ds_review_doc_free(&doc);
	}
	/* and when request itself repeats, the last one's templates */
	{
		static const char twice[] = "{\"request\":{\"object\":{\"spec\":{\"template\":1}},\"oldObject\":"
					    "{\"spec\":{\"template\":1}}},\"request\":{}}";
		ds_review_doc doc;
		size_t where;
		assert_int_equal(ds_review_read(twice, sizeof(twice) - 1, &doc, &where), 1);
		assert_int_equal(ds_review_templates_equal(&doc), 0);
		ds_review_doc_free(&doc);
	}
}

static void test_body_with_nul_and_no_terminator(void **state)
{
	static const char body[] = {'{', '}', '\0', 'x'};
	ds_config cfg;
	ds_review_result r;

	(void)state;
	ds_config_init(&cfg);
	assert_int_equal(ds_review(body, sizeof(body), DS_REVIEW_VALIDATE, &cfg, NULL, &r), 0);
	assert_int_equal(r.status, 400);
	ds_review_result_free(&r);
}

static void test_long_values_are_cut(void **state)
{
	ds_config cfg;
	ds_review_result r;
	char spec[2048];
	char big[1500];
	cJSON *doc;
	const char *w;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(spec, sizeof(spec), "{'priorityClassName':'a','restartPolicy':'%s'}", big);
	ds_config_init(&cfg);
	doc = review_parts(API_V1_NAME, "CREATE", daemonset("logging", spec), NULL, DS_REVIEW_VALIDATE, &cfg, &r);
	assert_false(allowed(doc));
	assert_true(strlen(message(doc)) < 1024);
	cJSON_Delete(doc);
	ds_review_result_free(&r);
	RULE_SETTINGS(&cfg, DS002).severity = DS_SEVERITY_WARNING;
	doc = review_parts(API_V1_NAME, "CREATE", daemonset("logging", spec), NULL, DS_REVIEW_VALIDATE, &cfg, &r);
	assert_true(allowed(doc));
	w = ds_pointer_get(doc, "/response/warnings/0")->valuestring;
	assert_int_equal(strlen(w), DS_WARNING_MAX);
	assert_string_equal(w + DS_WARNING_MAX - 3, "...");
	cJSON_Delete(doc);
	ds_review_result_free(&r);
}

static void test_warnings_limits(void **state)
{
	ds_warnings w = {0};
	char line[300];
	cJSON *array;
	size_t total = 0;
	int n;

	(void)state;
	memset(line, 'a', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	for (int i = 0; i < 40; i++)
		assert_int_equal(ds_warnings_add(&w, "%d %s", i, line), 0);
	array = ds_warnings_to_json(&w);
	n = cJSON_GetArraySize(array);
	assert_true(n > 1 && n < 40);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(cJSON_GetArrayItem(array, i)->valuestring);
		assert_true(len <= DS_WARNING_MAX);
		total += len;
	}
	assert_true(total <= DS_WARNINGS_TOTAL_MAX);
	assert_non_null(strstr(cJSON_GetArrayItem(array, n - 1)->valuestring, "more warnings left out"));
	cJSON_Delete(array);
	ds_warnings_free(&w);
}

static void test_text_cut_keeps_utf8_whole(void **state)
{
	char text[600] = "";
	char *cut;

	(void)state;
	for (int i = 0; i < 200; i++)
		strcat(text, "\xc3\xa9");
	cut = ds_text_cut(text, 255);
	assert_true(strlen(cut) <= 255);
	assert_string_equal(cut + strlen(cut) - 3, "...");
	assert_int_equal((strlen(cut) - 3) % 2, 0);
	free(cut);
	cut = ds_text_cut("short", 255);
	assert_string_equal(cut, "short");
	free(cut);
}

/* Whether the n bytes at s are well-formed UTF-8 (RFC 3629: no overlong
 * form, no surrogate, nothing past U+10FFFF), written here apart from the
 * code under test. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i], lo = 0x80, hi = 0xBF;
		size_t need = c < 0x80 ? 0 : c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2
						    : c >= 0xF0 && c <= 0xF4 ? 3 : 4;
		if (need > 3 || i + need >= n)
			return false; /* not a lead byte, or a sequence cut short */
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
		else if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
		for (size_t k = 1; k <= need; k++, lo = 0x80, hi = 0xBF)
			if (s[i + k] < lo || s[i + k] > hi)
				return false;
		i += need + 1;
	}
	return true;
}

/* `count` copies of `unit` after `prefix` copies of 'a', as a new string. */
static char *repeat(size_t prefix, const char *unit, size_t count)
{
	char *s = calloc(prefix + strlen(unit) * count + 1, 1);

	assert_non_null(s);
	memset(s, 'a', prefix);
	for (size_t i = 0; i < count; i++)
		strcat(s, unit);
	return s;
}

/* A denial quotes the namespace and name, each cut to 253 bytes, and each
 * finding's message, cut to 512, a cut ending "..." in those bytes. Each
 * is made here with multibyte characters across both the byte where the
 * text is cut (250 and 509, before "...") and the byte count itself: the
 * cut must fall back to the character boundary, and the answer stay valid
 * UTF-8. */
static void test_denial_cut_on_utf8_boundaries(void **state)
{
	char *name = repeat(249, "\xc3\xa9", 4);       /* é at bytes 249-250, ..., 253-254 */
	char *ns = repeat(249, "\xe2\x82\xac", 3);     /* € at bytes 249-251, 252-254 */
	char *policy = repeat(471, "\xe2\x82\xac", 20); /* € at bytes 508-510 and 511-513 of the message */
	char *a249 = repeat(249, "", 0), *a471 = repeat(471, "", 0), *want;
	cJSON *object = daemonset("x", "{'priorityClassName':'pc'}"), *doc;
	ds_config cfg;
	ds_review_result r;

	(void)state;
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(object, "metadata"), "name", cJSON_CreateString(name));
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(object, "metadata"), "namespace", cJSON_CreateString(ns));
	cJSON_AddStringToObject(ds_pointer_get(object, "/spec/template/spec"), "restartPolicy", policy);
	ds_config_init(&cfg);
	doc = review_parts(API_V1_NAME, "CREATE", object, NULL, DS_REVIEW_VALIDATE, &cfg, &r);
	assert_false(allowed(doc));
	assert_true(utf8_valid((const unsigned char *)r.body, strlen(r.body)));
	assert_true(asprintf(&want, "DaemonSet %s.../%s... is not allowed: DS002 restart-policy: "
				    "spec.template.spec.restartPolicy is \"%s...", a249, a249, a471) > 0);
	assert_string_equal(message(doc), want);
	assert_true(utf8_valid((const unsigned char *)r.namespace, strlen(r.namespace)));
	assert_true(utf8_valid((const unsigned char *)r.name, strlen(r.name)));
	cJSON_Delete(doc);
	ds_review_result_free(&r);
	free(want);
	free(a249);
	free(a471);
	free(name);
	free(ns);
	free(policy);
}

static void test_base64(void **state)
{
	char *b;

	(void)state;
	b = ds_base64("[{\"op\":\"add\"}]", 14);
	assert_string_equal(b, "W3sib3AiOiJhZGQifV0=");
	free(b);
	b = ds_base64("", 0);
	assert_string_equal(b, "");
	free(b);
}

static void test_operation_names(void **state)
{
	(void)state;
	assert_string_equal(ds_operation_name(DS_OP_CREATE), "CREATE");
	assert_string_equal(ds_operation_name(DS_OP_CONNECT), "CONNECT");
	assert_string_equal(ds_operation_name(DS_OP_NONE), "");
}

/* A CREATE of a DaemonSet whose container has `env_count` environment
 * variables: a tree far larger than the arena's first block. */
static char *large_request(int env_count)
{
	cJSON *ds = daemonset("logging", "{'containers':[{'name':'c','image':'i','env':[]}]}");
	cJSON *env = ds_pointer_get(ds, "/spec/template/spec/containers/0/env");
	char name[32];

	for (int i = 0; i < env_count; i++) {
		cJSON *var = cJSON_CreateObject();
		snprintf(name, sizeof(name), "VARIABLE_%d", i);
		cJSON_AddStringToObject(var, "name", name);
		cJSON_AddStringToObject(var, "value", "a value long enough to take some room in the tree");
		cJSON_AddItemToArray(env, var);
	}
	return request(API_V1_NAME, "CREATE", ds, NULL);
}

static void test_arena_large_review_spills_and_starts_again(void **state)
{
	char *text = large_request(4000);
	ds_config cfg;
	ds_review_result first, second;
	cJSON *doc;

	(void)state;
	assert_true(strlen(text) > 256 * 1024);
	config_with_default(&cfg, "node-agents");
	doc = review(text, DS_REVIEW_MUTATE, &cfg, NULL, &first);
	assert_true(allowed(doc));
	assert_true(first.patched);
	cJSON_Delete(doc);
	cJSON_Delete(review(text, DS_REVIEW_MUTATE, &cfg, NULL, &second));
	assert_string_equal(first.body, second.body);
	ds_review_result_free(&first);
	ds_review_result_free(&second);
	ds_config_free(&cfg);
	free(text);
}

#ifdef __SANITIZE_ADDRESS__
/* AddressSanitizer's allocator, which mallinfo2() knows nothing of. */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* Bytes the heap has handed out and not had back. */
static size_t heap_in_use(void)
{
#ifdef __SANITIZE_ADDRESS__
	return __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 m = mallinfo2();
	return m.uordblks + m.hblkhd;
#endif
}

static void test_arena_frees_trees_made_outside_a_scope(void **state)
{
	size_t big = 4u << 20;
	char *value = malloc(big);
	cJSON *outside;
	size_t before, held;

	(void)state;
	memset(value, 'x', big - 1);
	value[big - 1] = '\0';
	before = heap_in_use();
	outside = cJSON_CreateString(value);
	held = heap_in_use();
	assert_true(held >= before + big);
	ds_arena_begin();
	cJSON_Delete(outside);
	ds_arena_end();
	assert_true(heap_in_use() < held - big / 2);
	free(value);
}

static void test_arena_scopes_nest(void **state)
{
	cJSON *doc;
	char *text;
	size_t before;

	(void)state;
	ds_arena_begin();
	ds_arena_begin();
	doc = json("{'kind':'DaemonSet','spec':{'template':{}}}");
	text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	ds_arena_end();
	/* The outer scope is still open: what the inner one made is intact,
	 * what is made next still comes from the arena (the heap does not
	 * grow) and does not take its place. */
	before = heap_in_use();
	doc = cJSON_CreateObject();
	for (int i = 0; i < 100; i++)
		cJSON_AddStringToObject(doc, "key", "a value of some length");
	assert_int_equal(heap_in_use(), before);
	assert_string_equal(text, "{\"kind\":\"DaemonSet\",\"spec\":{\"template\":{}}}");
	cJSON_Delete(doc);
	cJSON_free(text);
	ds_arena_end();
}

struct reviewer {
	const char *text;
	const char *expected;
	int same; /* answers equal to expected */
};

/* Reviews the same request 200 times, counting the answers that match. */
static void *review_repeatedly(void *data)
{
	struct reviewer *w = data;
	ds_config cfg;

	config_with_default(&cfg, "node-agents");
	for (int i = 0; i < 200; i++) {
		ds_review_result r;
		if (ds_review(w->text, strlen(w->text), DS_REVIEW_MUTATE, &cfg, NULL, &r) == 0 && r.body &&
		    !strcmp(r.body, w->expected))
			w->same++;
		ds_review_result_free(&r);
	}
	ds_config_free(&cfg);
	return NULL;
}

static void test_arena_is_per_thread(void **state)
{
	char *small = request(API_V1_NAME, "CREATE", daemonset("logging", "{'containers':[]}"), NULL);
	char *large = large_request(500);
	struct reviewer w[2] = {{.text = small}, {.text = large}};
	ds_review_result expected[2];
	ds_config cfg;
	pthread_t t[2];

	(void)state;
	config_with_default(&cfg, "node-agents");
	for (int i = 0; i < 2; i++) {
		cJSON_Delete(review(w[i].text, DS_REVIEW_MUTATE, &cfg, NULL, &expected[i]));
		w[i].expected = expected[i].body;
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, review_repeatedly, &w[i]), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].same, 200);
		ds_review_result_free(&expected[i]);
	}
	ds_config_free(&cfg);
	free(small);
	free(large);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_denies_every_failed_rule),
		cmocka_unit_test(test_v1beta1_answers_in_v1beta1),
		cmocka_unit_test(test_compliant_daemonset_is_allowed_untouched),
		cmocka_unit_test(test_mutate_patches_both_rules),
		cmocka_unit_test(test_mutate_adds_missing_pod_spec_as_an_object),
		cmocka_unit_test(test_mutate_without_default_denies),
		cmocka_unit_test(test_allowed_list),
		cmocka_unit_test(test_warning_severity_and_audit_mode_only_warn),
		cmocka_unit_test(test_exemption_is_a_warning),
		cmocka_unit_test(test_config_exemption_and_expiry),
		cmocka_unit_test(test_grant_refused_is_denied),
		cmocka_unit_test(test_requester_with_nul_is_not_listed),
		cmocka_unit_test(test_update_with_untouched_template_only_warns),
		cmocka_unit_test(test_update_changing_template_is_patched),
		cmocka_unit_test(test_json_equal),
		cmocka_unit_test(test_update_template_compared_as_the_api_server_reads_it),
		cmocka_unit_test(test_delete_connect_and_other_kinds_are_allowed_untouched),
		cmocka_unit_test(test_subresource_is_allowed_untouched),
		cmocka_unit_test(test_dry_run_gives_the_same_answer),
		cmocka_unit_test(test_ds003_on_create_only),
		cmocka_unit_test(test_ds003_reserves_an_admitted_create),
		cmocka_unit_test(test_ds003_reservation_not_told),
		cmocka_unit_test(test_ds003_reservation_request),
		cmocka_unit_test(test_ds003_reservation_held_by_another),
		cmocka_unit_test(test_ds003_before_the_cluster_is_synced),
		cmocka_unit_test(test_mutate_denial_patches_nothing),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_body_with_nul_and_no_terminator),
		cmocka_unit_test(test_reader_accepts_what_cjson_accepts),
		cmocka_unit_test(test_repeated_names_the_last_counts),
		cmocka_unit_test(test_repeated_template_the_last_is_compared),
		cmocka_unit_test(test_long_values_are_cut),
		cmocka_unit_test(test_warnings_limits),
		cmocka_unit_test(test_text_cut_keeps_utf8_whole),
		cmocka_unit_test(test_denial_cut_on_utf8_boundaries),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_operation_names),
		cmocka_unit_test(test_arena_large_review_spills_and_starts_again),
		cmocka_unit_test(test_arena_frees_trees_made_outside_a_scope),
		cmocka_unit_test(test_arena_scopes_nest),
		cmocka_unit_test(test_arena_is_per_thread),
	};

	/* As `serve` runs them: every review's trees in the thread's arena. */
	ds_arena_install();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
