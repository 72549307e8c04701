/* review.c - the AdmissionReview codec: decodes a request, runs the rules,
 * decides allow, deny or patch, and encodes the response. No I/O. */
#include "webhook/internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define API_V1 "admission.k8s.io/v1"
#define API_V1BETA1 "admission.k8s.io/v1beta1"
#define MAX_LABEL 253             /* longest uid, name or namespace kept for the log */
#define MAX_DENY_DETAIL 512       /* longest finding message quoted in a denial */
#define UNCHECKED "could not be checked: the cluster cache has not listed the cluster's DaemonSets yet"
#define UNCLAIMED "could not be checked: the namespace could not be claimed in the API server in time"

static const char *const operation_names[DS_OP_COUNT] = {"", "CREATE", "UPDATE", "DELETE", "CONNECT"};

/* How one finding is answered. */
typedef enum { ANSWER_WARN, ANSWER_PATCH, ANSWER_DENY } answer;

/* What one review is working on; everything but `out`, `held` and what
 * the evaluation makes is borrowed. */
struct review {
	const ds_review_doc *doc;
	const cJSON *request;
	const cJSON *object;
	const char *api_version;
	ds_review_mode mode;
	const ds_cluster *cluster;  /* NULL: no cluster state */
	ds_namespace_lookup probe;  /* DS003's lookup: ask_cluster() over r */
	bool asked;                 /* DS003 asked who else lives in the namespace */
	bool not_synced;            /* the cluster was not synced when the review began */
	bool unclaimed;             /* the reservation could not be told (a claim failed) */
	char *held;                 /* who holds the namespace, as a reservation found */
	ds_admission admission;     /* who writes the object, for the exemption annotation's limits */
	const ds_rule *grant_refused; /* a rule the request exempts by annotation without the right to */
	ds_context ctx;
	ds_evaluation ev;
	answer *answers;
	ds_warnings warnings;
	ds_review_result *out;
};

const char *ds_operation_name(ds_operation op)
{
	return op < DS_OP_COUNT ? operation_names[op] : "";
}

static ds_operation operation_parse(const char *name)
{
	for (int i = DS_OP_CREATE; i < DS_OP_COUNT; i++)
		if (!strcmp(name, operation_names[i]))
			return (ds_operation)i;
	return DS_OP_NONE;
}

void ds_review_result_free(ds_review_result *r)
{
	free(r->expired_entry);
	free(r->body);
	free(r->error);
	free(r->uid);
	free(r->kind);
	free(r->namespace);
	free(r->name);
	memset(r, 0, sizeof(*r));
}

/* A string member of obj, or NULL when absent or not a string. Borrowed. */
static const char *string_member(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* The compact JSON text of doc in memory of malloc's (the answer outlives
 * the review's arena). Returns a new string, or NULL out of memory. */
static char *print_answer(const cJSON *doc)
{
	char *printed = doc ? cJSON_PrintUnformatted(doc) : NULL;
	char *copy = printed ? strdup(printed) : NULL;

	cJSON_free(printed);
	return copy;
}

/* Sets a status-`status` answer {"code":..,"message":..}. Returns 0, or -1
 * out of memory. */
static int set_error(ds_review_result *out, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int set_error(ds_review_result *out, int status, const char *fmt, ...)
{
	va_list ap;
	cJSON *doc;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&out->error, fmt, ap);
	va_end(ap);
	if (n < 0) {
		out->error = NULL;
		return -1;
	}
	out->status = status;
	doc = cJSON_CreateObject();
	if (doc && cJSON_AddNumberToObject(doc, "code", status) && cJSON_AddStringToObject(doc, "message", out->error))
		out->body = print_answer(doc);
	cJSON_Delete(doc);
	return out->body ? 0 : -1;
}

/* The last resort when memory ran out: a fixed 500 answer. Returns -1. */
static int out_of_memory(ds_review_result *out)
{
	ds_review_result_free(out);
	out->status = 500;
	out->body = strdup("{\"code\":500,\"message\":\"out of memory\"}");
	return -1;
}

/* Copies a label for the log, cut to MAX_LABEL bytes; NULL stays NULL.
 * Returns 0, or -1 out of memory. */
static int copy_label(char **dst, const char *src)
{
	if (!src)
		return 0;
	*dst = ds_text_cut(src, MAX_LABEL);
	return *dst ? 0 : -1;
}

/* Fills the log fields of out from the request. Returns 0, or -1 out of
 * memory. */
static int describe_request(const cJSON *request, const cJSON *object, ds_review_result *out)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(object, "metadata");
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(request, "kind");
	const char *ns = string_member(request, "namespace");
	const char *name = string_member(request, "name");

	if (!ns || !*ns)
		ns = string_member(meta, "namespace");
	if (!name || !*name)
		name = string_member(meta, "name");
	out->dry_run = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(request, "dryRun"));
	if (copy_label(&out->kind, string_member(kind, "kind")) < 0 ||
	    copy_label(&out->namespace, ns && *ns ? ns : NULL) < 0 || copy_label(&out->name, name) < 0)
		return -1;
	if (!out->kind)
		return copy_label(&out->kind, string_member(object, "kind"));
	return 0;
}

/* Checks the envelope: apiVersion, kind, request, uid, operation. Returns
 * 1 when it is sound (r->request and out->uid set), 0 after setting a 400
 * answer, -1 out of memory. */
static int decode_envelope(const cJSON *doc, struct review *r)
{
	ds_review_result *out = r->out;
	const char *api = string_member(doc, "apiVersion");
	const char *kind = string_member(doc, "kind");
	const char *uid, *op;

	if (!cJSON_IsObject(doc))
		return set_error(out, 400, "the body is not a JSON object") < 0 ? -1 : 0;
	if (!api || (strcmp(api, API_V1) && strcmp(api, API_V1BETA1)))
		return set_error(out, 400, "apiVersion must be " API_V1 " or " API_V1BETA1) < 0 ? -1 : 0;
	if (!kind || strcmp(kind, "AdmissionReview"))
		return set_error(out, 400, "kind must be AdmissionReview") < 0 ? -1 : 0;
	r->api_version = api;
	r->request = cJSON_GetObjectItemCaseSensitive(doc, "request");
	if (!cJSON_IsObject(r->request))
		return set_error(out, 400, "request is missing or not an object") < 0 ? -1 : 0;
	uid = string_member(r->request, "uid");
	if (!uid || !*uid)
		return set_error(out, 400, "request.uid is missing or empty") < 0 ? -1 : 0;
	if (copy_label(&out->uid, uid) < 0)
		return -1;
	op = string_member(r->request, "operation");
	out->operation = op ? operation_parse(op) : DS_OP_NONE;
	if (out->operation == DS_OP_NONE)
		return set_error(out, 400, "request.operation must be CREATE, UPDATE, DELETE or CONNECT") < 0 ? -1 : 0;
	return 1;
}

/* Whether an UPDATE leaves spec.template as it was in oldObject: 1 when
 * it does, 0 when it does not (or is no UPDATE), -1 out of memory. The
 * comparison grows with the size of the templates (ds_review_templates_equal),
 * so that the size of the body bounds the cost of a review. */
static int template_unchanged(const struct review *r)
{
	if (r->out->operation != DS_OP_UPDATE)
		return 0;
	return ds_review_templates_equal(r->doc);
}

/* Whether the evaluation carries a fix for rule. */
static bool has_fix(const ds_evaluation *ev, const ds_rule *rule)
{
	for (size_t i = 0; i < ev->op_count; i++)
		if (ev->ops[i].rule == rule)
			return true;
	return false;
}

/* How finding i is answered on its own. A namespace rule that could not
 * decide (the cluster is not synced) denies only at error with
 * --on-unsynced deny. An error-level finding is patched on /mutate when its
 * rule has a fix, else denied; but not on an UPDATE that leaves the template
 * as it was (`keep`), where it only warns. */
static answer choose(const struct review *r, size_t i, bool keep)
{
	const ds_finding *f = &r->ev.findings[i];

	if (f->unknown)
		return !f->exempt && f->severity == DS_SEVERITY_ERROR && r->cluster->deny_unsynced ? ANSWER_DENY
												   : ANSWER_WARN;
	if (f->exempt || f->severity != DS_SEVERITY_ERROR || keep)
		return ANSWER_WARN;
	return r->mode == DS_REVIEW_MUTATE && has_fix(&r->ev, f->rule) ? ANSWER_PATCH : ANSWER_DENY;
}

/* Adds text (a new string, taken; NULL: out of memory) to the warnings.
 * Returns 0, or -1 out of memory. */
static int add_said(struct review *r, char *text)
{
	int rc = text ? ds_warnings_add(&r->warnings, "%s", text) : -1;

	free(text);
	return rc;
}

/* Notes for the log and the metrics that an expired config exemption
 * would have exempted finding f: counted by rule, the first one named as
 * "FILE:LINE (expires: WHEN)". Returns 0, or -1 out of memory. */
static int note_expired(struct review *r, const ds_finding *f)
{
	const ds_exemption *e = f->expired;

	r->out->expired[ds_rule_index(f->rule)]++;
	if (r->out->expired_entry)
		return 0;
	r->out->expired_entry = ds_format("%s:%u (expires: %s)", e->file, e->line, e->expires_text);
	return r->out->expired_entry ? 0 : -1;
}

/* Counts finding i and writes the warning its answer carries. A namespace
 * rule that could not decide is not a finding and is not counted as one;
 * an exempt one says nothing. Returns 0, or -1 out of memory. */
static int report(struct review *r, size_t i, bool keep)
{
	const ds_finding *f = &r->ev.findings[i];
	size_t rule = ds_rule_index(f->rule);

	if (f->expired && note_expired(r, f) < 0)
		return -1;
	if (f->unknown) {
		*(r->unclaimed ? &r->out->unclaimed : &r->out->unsynced) |= !f->exempt;
		if (f->exempt || r->answers[i] == ANSWER_DENY)
			return 0;
		return ds_warnings_add(&r->warnings, "%s %s: %s", f->rule->id, f->rule->name,
				       r->unclaimed ? UNCLAIMED : UNCHECKED);
	}
	if (f->exempt) {
		r->out->exempted[rule]++;
		r->out->exempted_by_config[rule] += f->exempted_by == DS_EXEMPT_CONFIG;
		return add_said(r, ds_say_exempted(f->rule, f->exempted_by, f->exempt_reason, f->message));
	}
	r->out->findings[rule]++;
	if (r->answers[i] == ANSWER_PATCH)
		return ds_warnings_add(&r->warnings, "%s %s: patched: %s", f->rule->id, f->rule->name, f->message);
	if (r->answers[i] == ANSWER_DENY)
		return 0;
	return add_said(r, ds_say_warning(f->rule, f->message, f->severity == DS_SEVERITY_ERROR && keep));
}

/* Decides each finding's answer, counts it and writes its warning. The
 * answer is one: when anything is denied, nothing is patched (the API
 * server applies no patch of a denial), so each finding a fix would have
 * patched is denied with the others and named in the denial instead of
 * being reported as patched. Returns 0, or -1 out of memory. */
static int decide(struct review *r)
{
	int unchanged = template_unchanged(r);
	bool keep = unchanged == 1, denied;

	r->answers = calloc(r->ev.finding_count + 1, sizeof(*r->answers));
	if (!r->answers || unchanged < 0)
		return -1;
	denied = r->grant_refused != NULL;
	for (size_t i = 0; i < r->ev.finding_count; i++) {
		r->answers[i] = choose(r, i, keep);
		denied |= r->answers[i] == ANSWER_DENY;
	}
	for (size_t i = 0; i < r->ev.finding_count; i++) {
		if (denied && r->answers[i] == ANSWER_PATCH)
			r->answers[i] = ANSWER_DENY;
		if (report(r, i, keep) < 0)
			return -1;
	}
	return 0;
}

/* Writes text (a new string, taken; NULL: out of memory) to f. Returns
 * 0, or -1 out of memory. */
static int put_said(FILE *f, char *text)
{
	if (!text)
		return -1;
	fputs(text, f);
	free(text);
	return 0;
}

/* The head of the denial: the DaemonSet, named by its namespace and name
 * cut by ds_text_cut() (on a UTF-8 character boundary, so that the answer
 * stays valid UTF-8). Returns a new string, or NULL out of memory. */
static char *denial_head(const struct review *r)
{
	char *ns = ds_text_cut(ds_resource_namespace(r->object, &r->ctx), MAX_LABEL);
	char *name = ds_text_cut(ds_resource_name(r->object), MAX_LABEL);
	char *head = ns && name ? ds_say_denied(ns, name) : NULL;

	free(ns);
	free(name);
	return head;
}

/* Writes rule's denial item for message, cut to MAX_DENY_DETAIL. Returns
 * 0, or -1 out of memory. */
static int put_denied_rule(FILE *f, const ds_rule *rule, const char *message, bool first)
{
	char *cut = ds_text_cut(message, MAX_DENY_DETAIL);

	if (!cut)
		return -1;
	if (put_said(f, ds_say_denied_rule(rule, cut, first)) < 0) {
		free(cut);
		return -1;
	}
	free(cut);
	return 0;
}

/* Writes the denial to f: the DaemonSet, then an exemption the requester
 * may not grant, then each finding answered ANSWER_DENY with its rule.
 * Returns whether anything was denied, or -1 out of memory. */
static int put_denial(FILE *f, const struct review *r)
{
	int any = 0;

	if (put_said(f, denial_head(r)) < 0)
		return -1;
	if (r->grant_refused) {
		const cJSON *user = cJSON_GetObjectItemCaseSensitive(r->admission.user_info, "username");
		char *who = ds_text_cut(cJSON_IsString(user) ? user->valuestring : "", MAX_LABEL);
		fputc(' ', f);
		if (!who || put_said(f, ds_say_grant_refused(r->grant_refused, who)) < 0) {
			free(who);
			return -1;
		}
		free(who);
		any = 1;
	}
	for (size_t i = 0; i < r->ev.finding_count; i++) {
		const ds_finding *fd = &r->ev.findings[i];
		if (r->answers[i] != ANSWER_DENY)
			continue;
		if (put_denied_rule(f, fd->rule,
				    !fd->unknown ? fd->message
				    : r->unclaimed ? UNCLAIMED " (--on-unsynced deny)" : UNCHECKED " (--on-unsynced deny)",
				    !any) < 0)
			return -1;
		any = 1;
	}
	return any;
}

/* The denial message: every finding answered ANSWER_DENY, with its rule.
 * Returns a new string, NULL when nothing is denied (*oom false) or out of
 * memory (*oom true). */
static char *deny_message(const struct review *r, bool *oom)
{
	char *msg = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&msg, &size);
	int any;

	*oom = !f;
	if (!f)
		return NULL;
	any = put_denial(f, r);
	*oom = fclose(f) != 0 || !msg || any < 0;
	if (any <= 0) {
		free(msg);
		return NULL;
	}
	return msg;
}

/* Adds status {code 403, message} to response. Returns 0, or -1 out of
 * memory. */
static int add_denial(cJSON *response, const char *message)
{
	cJSON *status = cJSON_AddObjectToObject(response, "status");

	if (!status || !cJSON_AddObjectToObject(status, "metadata") ||
	    !cJSON_AddStringToObject(status, "status", "Failure") ||
	    !cJSON_AddStringToObject(status, "message", message) ||
	    !cJSON_AddStringToObject(status, "reason", "Forbidden") || !cJSON_AddNumberToObject(status, "code", 403))
		return -1;
	return 0;
}

/* Adds patchType and the base64 JSONPatch of the fixes whose findings are
 * answered ANSWER_PATCH, when there are any. Returns 0, or -1 out of memory. */
static int add_patch(cJSON *response, struct review *r)
{
	ds_evaluation chosen = {0};
	cJSON *patch;
	char *text, *b64;

	chosen.ops = calloc(r->ev.op_count + 1, sizeof(*chosen.ops));
	if (!chosen.ops)
		return -1;
	for (size_t i = 0; i < r->ev.op_count; i++)
		for (size_t j = 0; j < r->ev.finding_count; j++)
			if (r->answers[j] == ANSWER_PATCH && r->ev.findings[j].rule == r->ev.ops[i].rule) {
				chosen.ops[chosen.op_count++] = r->ev.ops[i];
				break;
			}
	patch = chosen.op_count ? ds_patch_to_json(&chosen) : NULL;
	free(chosen.ops);
	if (!chosen.op_count)
		return 0;
	text = patch ? cJSON_PrintUnformatted(patch) : NULL;
	cJSON_Delete(patch);
	b64 = text ? ds_base64(text, strlen(text)) : NULL;
	cJSON_free(text);
	if (!b64 || !cJSON_AddStringToObject(response, "patchType", "JSONPatch") ||
	    !cJSON_AddStringToObject(response, "patch", b64)) {
		free(b64);
		return -1;
	}
	free(b64);
	r->out->patched = true;
	return 0;
}

/* Fills response with allowed, status, warnings and patch. Returns 0, or -1
 * out of memory. */
static int answer_daemonset(cJSON *response, struct review *r)
{
	bool oom;
	char *denial = deny_message(r, &oom);
	cJSON *warnings;
	int rc;

	if (oom)
		return -1;
	r->out->allowed = !denial;
	if (!cJSON_AddBoolToObject(response, "allowed", !denial)) {
		free(denial);
		return -1;
	}
	rc = denial ? add_denial(response, denial) : add_patch(response, r);
	free(denial);
	if (rc < 0 || !r->warnings.count)
		return rc;
	warnings = ds_warnings_to_json(&r->warnings);
	r->out->warnings = (unsigned)r->warnings.count;
	return warnings && cJSON_AddItemToObject(response, "warnings", warnings) ? 0 : -1;
}

/* Whether the request is one the rules look at: CREATE or UPDATE of a
 * DaemonSet itself (not a subresource). Sets r->object. Returns 1 when it
 * is, 0 when it is to be allowed untouched, -1 after a 400 answer, -2 out
 * of memory. */
static int wants_review(struct review *r)
{
	const char *sub = string_member(r->request, "subResource");
	ds_operation op = r->out->operation;

	r->object = cJSON_GetObjectItemCaseSensitive(r->request, "object");
	if (op == DS_OP_DELETE || op == DS_OP_CONNECT)
		return 0;
	if (!cJSON_IsObject(r->object))
		return set_error(r->out, 400, "request.object is missing or not an object") < 0 ? -2 : -1;
	return (!sub || !*sub) && ds_is_daemonset(r->object);
}

/* The namespace lookup during a review: notes that a namespace rule
 * asked, then answers with the DaemonSet a reservation found, unknown
 * while the cluster is not synced or when the reservation could not be
 * told (decide() answers it as unchecked), or the cluster's own answer. */
static ds_namespace_answer ask_cluster(void *data, const char *ns, const char *name, char **other)
{
	struct review *r = data;

	r->asked = true;
	if (r->held) {
		*other = strdup(r->held);
		return DS_NAMESPACE_SHARED;
	}
	if (r->not_synced || r->unclaimed)
		return DS_NAMESPACE_UNKNOWN;
	return r->cluster->namespaces.other_in_namespace(r->cluster->namespaces.data, ns, name, other);
}

/* Evaluates the DaemonSet and decides each finding. Returns 0, or -1 out
 * of memory. */
static int evaluate(struct review *r)
{
	r->grant_refused = ds_exemption_grant_refused(r->object, &r->ctx);
	return ds_evaluate(r->object, &r->ctx, DS_SCOPE_ALL, &r->ev) < 0 || decide(r) < 0 ? -1 : 0;
}

/* Drops the evaluation and what was decided from it. */
static void forget(struct review *r)
{
	ds_evaluation_free(&r->ev);
	ds_warnings_free(&r->warnings);
	free(r->answers);
	r->answers = NULL;
	r->asked = false;
	memset(r->out->findings, 0, sizeof(r->out->findings));
	memset(r->out->exempted, 0, sizeof(r->out->exempted));
	memset(r->out->exempted_by_config, 0, sizeof(r->out->exempted_by_config));
	memset(r->out->expired, 0, sizeof(r->out->expired));
}

/* Whether the decisions admit the object: nothing is denied, and the
 * namespace rules found the namespace free. */
static bool admitted_alone(const struct review *r)
{
	if (r->grant_refused)
		return false;
	for (size_t i = 0; i < r->ev.finding_count; i++)
		if (r->answers[i] == ANSWER_DENY || r->ev.findings[i].rule->scope == DS_SCOPE_NAMESPACE)
			return false;
	return true;
}

/* Reserves the namespace for an admitted CREATE (not a dry run) whose
 * namespace DS003 checked and found free. When another CREATE holds it
 * already, evaluates again with that one in the namespace, so that DS003
 * answers as for any shared namespace; when the reservation could not be
 * told, evaluates again with DS003 unchecked, answered as --on-unsynced
 * says. Returns 0, or -1 out of memory. */
static int reserve(struct review *r)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(r->object, "metadata");
	ds_claim_request req = {.ns = ds_resource_namespace(r->object, &r->ctx),
				.name = ds_resource_name(r->object),
				.generate_name = string_member(meta, "generateName"),
				.uid = string_member(r->request, "uid"),
				.mode = r->mode};
	int rc;

	if (!r->asked || r->not_synced || r->out->dry_run || !admitted_alone(r))
		return 0;
	rc = r->cluster->reserve(r->cluster->data, &req, &r->held);
	if (rc < 0)
		return -1;
	r->unclaimed = rc > 0;
	r->out->reserved = rc == 0 && !r->held;
	if (r->out->reserved)
		return 0;
	forget(r);
	return evaluate(r);
}

/* The request's side of the exemption annotation's limits: who asks, and
 * on UPDATE whether oldObject carried the annotation. */
static void describe_admission(struct review *r)
{
	const cJSON *old = cJSON_GetObjectItemCaseSensitive(r->request, "oldObject");
	const cJSON *annotations = ds_pointer_get(old, "/metadata/annotations");
	const cJSON *ignore = cJSON_IsObject(annotations)
				      ? cJSON_GetObjectItemCaseSensitive(annotations, DS_IGNORE_ANNOTATION)
				      : NULL;

	r->admission.user_info = cJSON_GetObjectItemCaseSensitive(r->request, "userInfo");
	r->admission.update = r->out->operation == DS_OP_UPDATE;
	r->admission.old_ignore = r->admission.update && cJSON_IsString(ignore) ? ignore->valuestring : NULL;
	r->ctx.admission = &r->admission;
}

/* Evaluates the DaemonSet and answers it into response. The namespace
 * rules ask the cluster on CREATE only. Returns 0, or -1 out of memory. */
static int review_daemonset(cJSON *response, struct review *r, const ds_config *config)
{
	r->ctx.config = config;
	r->ctx.now = time(NULL);
	describe_admission(r);
	r->ctx.default_namespace = r->out->namespace;
	r->ctx.namespaces = r->cluster && r->out->operation == DS_OP_CREATE ? &r->probe : NULL;
	r->probe = (ds_namespace_lookup){.other_in_namespace = ask_cluster, .data = r};
	r->not_synced = r->ctx.namespaces && !r->cluster->synced(r->cluster->data);
	r->out->daemonset = true;
	if (evaluate(r) < 0 || reserve(r) < 0)
		return -1;
	return answer_daemonset(response, r);
}

/* Builds the response envelope for a sound request. Returns 0 (a 200 or a
 * 400 answer in out), or -1 out of memory. */
static int respond(struct review *r, const ds_config *config)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON *response = doc ? cJSON_CreateObject() : NULL;
	int want, rc = -1;

	if (!response || !cJSON_AddStringToObject(doc, "apiVersion", r->api_version) ||
	    !cJSON_AddStringToObject(doc, "kind", "AdmissionReview")) {
		cJSON_Delete(response);
		goto done;
	}
	/* The uid goes back whole (out->uid is cut for the log). */
	if (!cJSON_AddItemToObject(doc, "response", response) ||
	    !cJSON_AddStringToObject(response, "uid", string_member(r->request, "uid")))
		goto done;
	want = wants_review(r);
	if (want < 0) {
		rc = want == -1 ? 0 : -1;
		goto done;
	}
	if (describe_request(r->request, r->object, r->out) < 0)
		goto done;
	r->out->allowed = true;
	if (want == 1)
		rc = review_daemonset(response, r, config);
	else
		rc = cJSON_AddBoolToObject(response, "allowed", true) ? 0 : -1;
	if (rc == 0) {
		r->out->status = 200;
		r->out->body = print_answer(doc);
		rc = r->out->body ? 0 : -1;
	}
done:
	cJSON_Delete(doc);
	return rc;
}

/* Whether body[i] begins the escape \u0000. */
static bool is_nul_escape(const char *body, size_t len, size_t i)
{
	return len - i >= 6 && body[i + 1] == 'u' && !memcmp(body + i + 2, "0000", 4);
}

/* cJSON ends a string at a NUL, so "alice\u0000x" would read as "alice":
 * a requester's name, a group or an annotation would compare equal to
 * what it is not (Go keeps the whole string). Each escaped NUL is read as
 * U+FFFD instead, which no name holds; the escape keeps its length, so
 * byte positions in errors hold. Returns a new copy of body when it holds
 * such an escape, else NULL (*oom set when out of memory). */
static char *nul_escapes_replaced(const char *body, size_t len, bool *oom)
{
	const char *end = body + len, *p = body;
	char *copy = NULL;

	*oom = false;
	while ((p = memchr(p, '\\', (size_t)(end - p))) && p + 1 < end) {
		size_t i = (size_t)(p - body);
		if (is_nul_escape(body, len, i)) {
			if (!copy && (copy = malloc(len)))
				memcpy(copy, body, len);
			if (!copy) {
				*oom = true;
				return NULL;
			}
			memcpy(copy + i + 2, "fffd", 4);
		}
		p += 2; /* past the escaped character, a backslash included */
	}
	return copy;
}

/* Sets the 400 answer for a body ds_review_read() refused (it stopped at
 * byte `where`), saying where cJSON stops in it. Returns 0, or -1 out of
 * memory. */
static int refuse_body(const char *body, size_t len, size_t where, ds_review_result *out)
{
	const char *end = NULL;
	cJSON *doc;

	if (!len)
		return set_error(out, 400, "the body is empty");
	doc = cJSON_ParseWithLengthOpts(body, len, &end, false);
	if (!doc)
		return set_error(out, 400, "malformed JSON near byte %zu",
				 end && end >= body ? (size_t)(end - body) : (size_t)0);
	cJSON_Delete(doc);
	while ((size_t)(end - body) < len && isspace((unsigned char)*end))
		end++;
	return set_error(out, 400, "malformed JSON: unexpected data at byte %zu",
			 (size_t)(end - body) < len ? (size_t)(end - body) : where);
}

/* Reads body into doc. Returns 1 when it is JSON, 0 after setting a 400
 * answer, -1 out of memory. */
static int read_body(const char *body, size_t len, ds_review_doc *doc, ds_review_result *out)
{
	size_t where;
	int rc = ds_review_read(body, len, doc, &where);

	if (rc)
		return rc;
	return refuse_body(body, len, where, out) < 0 ? -1 : 0;
}

/* ds_review() within the arena scope. */
static int review(const char *body, size_t len, ds_review_mode mode, const ds_config *config,
		  const ds_cluster *cluster, ds_review_result *out)
{
	ds_review_doc doc;
	struct review r = {.doc = &doc, .mode = mode, .cluster = cluster, .out = out};
	bool oom;
	char *replaced = nul_escapes_replaced(body, len, &oom); /* the doc's spans borrow it */
	int rc;

	memset(out, 0, sizeof(*out));
	if (oom)
		return out_of_memory(out);
	rc = read_body(replaced ? replaced : body, len, &doc, out);
	if (rc <= 0) {
		free(replaced);
		return rc < 0 ? out_of_memory(out) : 0;
	}
	rc = decode_envelope(doc.root, &r);
	if (rc == 1)
		rc = respond(&r, config);
	ds_evaluation_free(&r.ev);
	ds_warnings_free(&r.warnings);
	free(r.answers);
	free(r.held);
	ds_review_doc_free(&doc);
	free(replaced);
	return rc < 0 ? out_of_memory(out) : 0;
}

int ds_review(const char *body, size_t len, ds_review_mode mode, const ds_config *config,
	      const ds_cluster *cluster, ds_review_result *out)
{
	int rc;

	ds_arena_begin();
	rc = review(body, len, mode, config, cluster, out);
	ds_arena_end();
	return rc;
}
