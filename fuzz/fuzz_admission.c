/* fuzz_admission.c - AdmissionReview bytes -> ds_review(), /validate and
 * /mutate, under two configs that carry a default priority class (one with
 * an allowed list).
 *
 * Asserts, for every input:
 * - ds_review() returns 0 (only running out of memory may fail it) with a
 *   body that is JSON, and status 200 or 400; a 400 says why;
 * - a 200 is an AdmissionReview in the request's apiVersion whose
 *   response.uid is request.uid, whole (the request read as the API server
 *   reads it: of a repeated name, the last; an escaped NUL kept, which the
 *   webhook reads as U+FFFD), and whose `allowed` is a boolean;
 *   a denial carries status.code 403;
 * - a patch is patchType JSONPatch, base64 of a JSON array of add/replace/remove
 *   operations that apply to request.object under RFC 6902 (checked by
 *   the applier below, which shares no code with the webhook), and the
 *   patched object has no DS001 or DS002 error;
 * - an allowed CREATE of a DaemonSet has no error left: /validate allows
 *   only an object without error findings, /mutate only one without DS001
 *   or DS002 errors once its patch (if any) is applied;
 * - the review's one-pass reader (ds_review_read()) accepts exactly what a
 *   full cJSON parse followed by nothing but whitespace accepts, and every
 *   member the review reads has in its tree the value the full tree holds
 *   when the last of each repeated name counts (found here by a walk of
 *   the full tree that shares no code with the reader), the members where
 *   an object is due having at least the same type; and the templates of
 *   object and oldObject compare as ds_json_equal() compares the full
 *   tree's. */
#include "fuzz/fuzz.h"
#include "webhook/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static ds_config configs[2];

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_fixing_config(&configs[0], false);
	fuzz_fixing_config(&configs[1], true);
	ds_arena_install(); /* reviews in the arena, as `serve` runs them */
	return 0;
}

/* ---- base64 (RFC 4648, padded), independent of the webhook's encoder ---- */

static int b64_value(unsigned char c)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(alphabet, c) : NULL;

	return p ? (int)(p - alphabet) : -1;
}

/* Decodes padded base64 text into a new NUL-terminated string. Returns it,
 * or NULL when text is not canonical padded base64. */
static char *b64_decode(const char *text)
{
	size_t len = strlen(text), n = 0;
	char *out = malloc(len / 4 * 3 + 1);

	FUZZ_ASSERT(out != NULL, "out of memory");
	if (len % 4) {
		free(out);
		return NULL;
	}
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		for (int j = 0; j < 4; j++)
			v[j] = text[i + j] == '=' && i + 4 == len && j >= 2 ? 0 : b64_value((unsigned char)text[i + j]);
		if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0 || (text[i + 2] == '=' && text[i + 3] != '=')) {
			free(out);
			return NULL;
		}
		out[n++] = (char)(v[0] << 2 | v[1] >> 4);
		if (text[i + 2] != '=')
			out[n++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
		if (text[i + 3] != '=')
			out[n++] = (char)((v[2] & 3) << 6 | v[3]);
	}
	out[n] = '\0';
	return out;
}

/* ---- a tiny RFC 6902 applier: "add" and "replace" only ---- */

/* Copies the next reference token of *pointer (just past a '/') into buf,
 * unescaping ~0 and ~1, and advances *pointer. Returns 0, or -1 when the
 * token is malformed or too long. */
static int next_token(const char **pointer, char *buf, size_t size)
{
	const char *p = *pointer;
	size_t n = 0;

	for (; *p && *p != '/'; p++) {
		char c = *p;
		if (c == '~') {
			if (p[1] != '0' && p[1] != '1')
				return -1;
			c = *++p == '0' ? '~' : '/';
		}
		if (n + 1 >= size)
			return -1;
		buf[n++] = c;
	}
	buf[n] = '\0';
	*pointer = p;
	return 0;
}

/* An array index token: digits without a leading zero. -1 when not. */
static long index_of(const char *token)
{
	if (!*token || strlen(token) > 9 || strspn(token, "0123456789") != strlen(token) ||
	    (token[0] == '0' && token[1]))
		return -1;
	return strtol(token, NULL, 10);
}

/* The child `token` of container, or NULL. */
static cJSON *child(cJSON *container, const char *token)
{
	long i;

	if (cJSON_IsObject(container))
		return cJSON_GetObjectItemCaseSensitive(container, token);
	if (!cJSON_IsArray(container) || (i = index_of(token)) < 0)
		return NULL;
	return cJSON_GetArrayItem(container, (int)i);
}

/* Sets the member or element `token` of parent to value (taken). Returns
 * 0, or -1 when RFC 6902 refuses the operation (value is then freed). */
static int put(cJSON *parent, const char *token, cJSON *value, bool replace)
{
	long i = cJSON_IsArray(parent) && !(strcmp(token, "-") == 0 && !replace) ? index_of(token) : -1;
	int size = cJSON_GetArraySize(parent);

	if (cJSON_IsObject(parent)) {
		if (cJSON_GetObjectItemCaseSensitive(parent, token))
			return cJSON_ReplaceItemInObjectCaseSensitive(parent, token, value) ? 0 : -1;
		if (!replace && cJSON_AddItemToObject(parent, token, value))
			return 0;
	} else if (cJSON_IsArray(parent) && !strcmp(token, "-") && !replace) {
		if (cJSON_AddItemToArray(parent, value))
			return 0;
	} else if (cJSON_IsArray(parent) && i >= 0 && (replace ? i < size : i <= size)) {
		if (replace ? cJSON_ReplaceItemInArray(parent, (int)i, value) : cJSON_InsertItemInArray(parent, (int)i, value))
			return 0;
	}
	cJSON_Delete(value);
	return -1;
}

/* Applies one operation to *doc. Returns 0, or -1 when it is not a well-
 * formed add/replace/remove whose target RFC 6902 accepts (a remove has
 * no value, and its target must exist). */
static int apply_op(cJSON **doc, const cJSON *op)
{
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "op"));
	const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "path"));
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(op, "value");
	cJSON *parent = NULL, *at = *doc;
	char token[4096] = "";
	bool replace, remove;

	if (!kind || !path || (strcmp(kind, "add") && strcmp(kind, "replace") && strcmp(kind, "remove")))
		return -1;
	replace = !strcmp(kind, "replace");
	remove = !strcmp(kind, "remove");
	if (remove ? value != NULL || !*path : value == NULL)
		return -1;
	if (!*path) { /* the whole document */
		cJSON_Delete(*doc);
		*doc = cJSON_Duplicate(value, true);
		return *doc ? 0 : -1;
	}
	while (*path) {
		if (*path != '/' || !at)
			return -1;
		path++;
		if (next_token(&path, token, sizeof(token)) < 0)
			return -1;
		parent = at;
		at = child(parent, token);
	}
	if (remove) {
		if (!at)
			return -1;
		cJSON_Delete(cJSON_DetachItemViaPointer(parent, at));
		return 0;
	}
	return put(parent, token, cJSON_Duplicate(value, true), replace);
}

/* ---- the checks ---- */

/* Evaluates obj as the webhook does (no cluster state) and returns the
 * count of non-exempt error findings of DS001 and DS002 (all rules when
 * `every_rule`). */
static size_t errors_left(const cJSON *obj, const ds_config *cfg, bool every_rule)
{
	ds_context ctx = {.config = cfg};
	ds_evaluation ev;
	size_t n = 0;

	FUZZ_ASSERT(ds_evaluate(obj, &ctx, DS_SCOPE_ALL, &ev) == 0, "ds_evaluate ran out of memory");
	for (size_t i = 0; i < DS_RULE_COUNT; i++)
		if (every_rule || ds_rules[i].scope != DS_SCOPE_NAMESPACE)
			n += fuzz_errors_of(&ev, &ds_rules[i]);
	ds_evaluation_free(&ev);
	return n;
}

/* Decodes the response's patch, applies it to a copy of object and
 * returns the patched copy (the caller deletes it). */
static cJSON *apply_patch(const cJSON *response, const cJSON *object)
{
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(response, "patchType"));
	const char *b64 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(response, "patch"));
	char *text;
	cJSON *patch, *doc = cJSON_Duplicate(object, true), *op;

	FUZZ_ASSERT(doc != NULL, "out of memory");
	FUZZ_ASSERT(type && !strcmp(type, "JSONPatch"), "a patch without patchType JSONPatch");
	FUZZ_ASSERT(b64 != NULL, "patchType without a patch");
	text = b64_decode(b64);
	FUZZ_ASSERT(text != NULL, "the patch is not base64");
	patch = cJSON_Parse(text);
	free(text);
	FUZZ_ASSERT(cJSON_IsArray(patch) && cJSON_GetArraySize(patch) > 0, "the patch is not a non-empty JSON array");
	cJSON_ArrayForEach(op, patch)
		FUZZ_ASSERT(apply_op(&doc, op) == 0, "a patch operation RFC 6902 refuses");
	cJSON_Delete(patch);
	return doc;
}

/* Checks a 200 answer against the request it answers. */
static void check_answer(const cJSON *request_doc, const ds_review_result *res, ds_review_mode mode,
			 const ds_config *cfg)
{
	const cJSON *request = cJSON_GetObjectItemCaseSensitive(request_doc, "request");
	const cJSON *object = cJSON_GetObjectItemCaseSensitive(request, "object");
	cJSON *answer = cJSON_Parse(res->body);
	const cJSON *response = cJSON_GetObjectItemCaseSensitive(answer, "response");
	const cJSON *allowed = cJSON_GetObjectItemCaseSensitive(response, "allowed");
	const char *uid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(request, "uid"));
	const char *echoed = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(response, "uid"));
	const char *api = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(request_doc, "apiVersion"));
	const char *api_out = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(answer, "apiVersion"));

	FUZZ_ASSERT(answer != NULL, "a 200 body that is not JSON");
	FUZZ_ASSERT(api && api_out && !strcmp(api, api_out), "the answer's apiVersion is not the request's");
	FUZZ_ASSERT(uid && echoed && !strcmp(uid, echoed), "response.uid is not request.uid");
	FUZZ_ASSERT(cJSON_IsBool(allowed), "response.allowed is not a boolean");
	FUZZ_ASSERT(cJSON_IsTrue(allowed) == res->allowed, "the result's allowed differs from the body's");
	if (!res->allowed) {
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(response, "status"), "code");
		FUZZ_ASSERT(cJSON_IsNumber(code) && code->valueint == 403, "a denial without status.code 403");
	}
	FUZZ_ASSERT(res->patched == (cJSON_GetObjectItemCaseSensitive(response, "patch") != NULL),
		    "the result's patched differs from the body's");
	FUZZ_ASSERT(!res->patched || (mode == DS_REVIEW_MUTATE && res->allowed && res->daemonset),
		    "a patch outside an allowed /mutate of a DaemonSet");
	if (res->patched) {
		cJSON *patched = apply_patch(response, object);
		FUZZ_ASSERT(errors_left(patched, cfg, false) == 0, "the patched object still has a DS001/DS002 error");
		cJSON_Delete(patched);
	} else if (res->allowed && res->daemonset && res->operation == DS_OP_CREATE) {
		FUZZ_ASSERT(errors_left(object, cfg, mode == DS_REVIEW_VALIDATE) == 0,
			    "a CREATE allowed with an error finding unpatched");
	}
	cJSON_Delete(answer);
}

/* Reviews the input once and checks the outcome. */
static void review_once(const uint8_t *data, size_t size, const cJSON *request_doc, ds_review_mode mode,
			const ds_config *cfg)
{
	ds_review_result res;
	cJSON *body;

	FUZZ_ASSERT(ds_review((const char *)data, size, mode, cfg, NULL, &res) == 0, "ds_review failed");
	FUZZ_ASSERT(res.status == 200 || res.status == 400, "a status other than 200 or 400");
	FUZZ_ASSERT(res.body != NULL, "no body");
	body = cJSON_Parse(res.body);
	FUZZ_ASSERT(cJSON_IsObject(body), "a body that is not a JSON object");
	cJSON_Delete(body);
	if (res.status == 400)
		FUZZ_ASSERT(res.error && *res.error, "a 400 without a reason");
	else
		check_answer(request_doc, &res, mode, cfg);
	ds_review_result_free(&res);
}

/* ---- the one-pass reader against a full parse ---- */

/* The members whose whole value the reader keeps. */
static const char *const kept_whole[] = {
	"/apiVersion", "/kind", "/request/uid", "/request/kind", "/request/subResource", "/request/namespace",
	"/request/name", "/request/operation", "/request/dryRun", "/request/userInfo", "/request/object/apiVersion",
	"/request/object/kind", "/request/object/metadata/name", "/request/object/metadata/namespace",
	"/request/object/metadata/generateName", "/request/object/metadata/labels",
	"/request/object/metadata/annotations", "/request/object/spec/template/spec/priorityClassName",
	"/request/object/spec/template/spec/priority", "/request/object/spec/template/spec/restartPolicy",
	"/request/oldObject/metadata/annotations",
};

/* The members where an object is due: the reader keeps their type (and a
 * value that is neither an object nor a list whole). */
static const char *const kept_typed[] = {
	"", "/request", "/request/object", "/request/object/metadata", "/request/object/spec",
	"/request/object/spec/template", "/request/object/spec/template/spec", "/request/oldObject",
	"/request/oldObject/metadata", "/request/oldObject/spec",
};

/* The last member of obj named name (as a C string), or NULL. */
static const cJSON *last_member(const cJSON *obj, const char *name)
{
	const cJSON *found = NULL;

	for (const cJSON *m = obj->child; m; m = m->next)
		if (!strcmp(m->string, name))
			found = m;
	return found;
}

/* The value at path (plain "/a/b" names, no escapes) in the full tree,
 * the last of a repeated name counting; NULL when absent or under a value
 * that is not an object. */
static const cJSON *last_at(const cJSON *doc, const char *path)
{
	char token[64];

	while (doc && *path) {
		size_t n = strcspn(path + 1, "/");
		if (!cJSON_IsObject(doc))
			return NULL;
		memcpy(token, path + 1, n);
		token[n] = '\0';
		doc = last_member(doc, token);
		path += n + 1;
	}
	return doc;
}

/* Whether kept (the reader's, every name once) is full read with the last
 * of each repeated name counting. */
static bool same_value(const cJSON *full, const cJSON *kept)
{
	size_t names = 0, members = 0;

	if (!full || !kept || (full->type & 0xFF) != (kept->type & 0xFF))
		return full == kept;
	if (cJSON_IsString(full))
		return !strcmp(full->valuestring, kept->valuestring);
	if (cJSON_IsNumber(full))
		return full->valuedouble == kept->valuedouble ||
		       (full->valuedouble != full->valuedouble && kept->valuedouble != kept->valuedouble);
	if (cJSON_IsArray(full)) {
		const cJSON *k = kept->child;
		for (const cJSON *f = full->child; f; f = f->next, k = k->next)
			if (!k || !same_value(f, k))
				return false;
		return k == NULL;
	}
	if (!cJSON_IsObject(full))
		return true;
	for (const cJSON *f = full->child; f; f = f->next)
		names += last_member(full, f->string) == f;
	for (const cJSON *k = kept->child; k; k = k->next, members++)
		if (last_member(kept, k->string) != k || !same_value(last_member(full, k->string), k))
			return false;
	return names == members;
}

/* The reader against cJSON on data: same verdict, same values read. */
static void compare_reader(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *end = NULL;
	cJSON *full = size ? cJSON_ParseWithLengthOpts(text, size, &end, false) : NULL;
	ds_review_doc doc;
	size_t where;
	int rc;

	while (full && (size_t)(end - text) < size && isspace((unsigned char)*end))
		end++;
	if (full && (size_t)(end - text) != size) {
		cJSON_Delete(full);
		full = NULL;
	}
	rc = ds_review_read(text, size, &doc, &where);
	FUZZ_ASSERT(rc >= 0, "ds_review_read ran out of memory");
	FUZZ_ASSERT((rc == 1) == (full != NULL), "the reader and cJSON disagree on whether the body is JSON");
	if (rc == 1) {
		const cJSON *now, *old;
		int equal;
		for (size_t i = 0; i < sizeof(kept_whole) / sizeof(kept_whole[0]); i++)
			FUZZ_ASSERT(same_value(last_at(full, kept_whole[i]), ds_pointer_get(doc.root, kept_whole[i])),
				    kept_whole[i]);
		for (size_t i = 0; i < sizeof(kept_typed) / sizeof(kept_typed[0]); i++) {
			const cJSON *f = last_at(full, kept_typed[i]), *k = ds_pointer_get(doc.root, kept_typed[i]);
			FUZZ_ASSERT(f && k ? (f->type & 0xFF) == (k->type & 0xFF) : f == k, kept_typed[i]);
			FUZZ_ASSERT(!f || cJSON_IsObject(f) || cJSON_IsArray(f) || same_value(f, k), kept_typed[i]);
		}
		now = last_at(full, "/request/object/spec/template");
		old = last_at(full, "/request/oldObject/spec/template");
		equal = now && old ? ds_json_equal(now, old) : 0;
		FUZZ_ASSERT(equal >= 0, "out of memory");
		FUZZ_ASSERT(ds_review_templates_equal(&doc) == equal, "the templates compare otherwise");
		ds_review_doc_free(&doc);
	}
	cJSON_Delete(full);
}

/* Drops from every object in item each member whose name a later member
 * repeats, so that cJSON's lookups answer what the API server reads. */
static void keep_last_names(cJSON *item)
{
	cJSON *m = item ? item->child : NULL;

	while (m) {
		cJSON *next = m->next;
		keep_last_names(m);
		if (cJSON_IsObject(item) && last_member(item, m->string) != m)
			cJSON_Delete(cJSON_DetachItemViaPointer(item, m));
		m = next;
	}
}

/* A copy of data[0..size) in which each escape \u0000 reads \ufffd, as
 * the webhook reads a request (cJSON would end the string there). */
static char *nul_escapes_as_fffd(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);

	FUZZ_ASSERT(copy, "out of memory");
	memcpy(copy, data, size);
	for (size_t i = 0; i + 1 < size; i++) {
		if (copy[i] != '\\')
			continue;
		if (size - i >= 6 && !memcmp(copy + i + 1, "u0000", 5))
			memcpy(copy + i + 2, "fffd", 4);
		i++; /* the escaped character, a backslash included */
	}
	return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *as_read = nul_escapes_as_fffd(data, size);
	cJSON *request_doc;

	compare_reader(data, size);
	request_doc = cJSON_ParseWithLength(as_read, size);
	free(as_read);
	keep_last_names(request_doc);

	for (int c = 0; c < 2; c++) {
		review_once(data, size, request_doc, DS_REVIEW_VALIDATE, &configs[c]);
		review_once(data, size, request_doc, DS_REVIEW_MUTATE, &configs[c]);
	}
	cJSON_Delete(request_doc);
	return 0;
}
