/* record.c - what the cache keeps of an object: its fields at the JSON Pointers asked for, bounded, as compact JSON text. */
#include "kube/private.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TOKEN 512 /* the longest reference token of a kept pointer */
#define MAX_DEPTH 4   /* levels of a kept value that are copied */

static cJSON *bounded_copy(const cJSON *value, int depth);

/* A copy of a mapping or a list with at most KUBE_MAX_KEPT_MEMBERS members,
 * each copied bounded. Returns the copy, or NULL out of memory. */
static cJSON *bounded_container(const cJSON *value, int depth)
{
	cJSON *copy = cJSON_IsObject(value) ? cJSON_CreateObject() : cJSON_CreateArray();
	const cJSON *member;
	size_t n = 0;

	if (!copy)
		return NULL;
	cJSON_ArrayForEach(member, value) {
		cJSON *item;
		char *key;
		if (n++ == KUBE_MAX_KEPT_MEMBERS || depth >= MAX_DEPTH)
			break;
		item = bounded_copy(member, depth + 1);
		key = item && cJSON_IsObject(value) ? ds_text_cut(member->string, KUBE_MAX_KEPT_STRING) : NULL;
		if (!item || (cJSON_IsObject(value) ? !key || !cJSON_AddItemToObject(copy, key, item)
						     : !cJSON_AddItemToArray(copy, item))) {
			free(key);
			cJSON_Delete(item);
			cJSON_Delete(copy);
			return NULL;
		}
		free(key);
	}
	return copy;
}

/* A copy of value in which every string is cut to KUBE_MAX_KEPT_STRING
 * bytes (on a character boundary, ending "...") and every mapping and list
 * to KUBE_MAX_KEPT_MEMBERS members, MAX_DEPTH levels deep. Returns the
 * copy, or NULL out of memory. */
static cJSON *bounded_copy(const cJSON *value, int depth)
{
	char *cut;
	cJSON *copy;

	if (cJSON_IsObject(value) || cJSON_IsArray(value))
		return bounded_container(value, depth);
	if (!cJSON_IsString(value) || strlen(value->valuestring) <= KUBE_MAX_KEPT_STRING)
		return cJSON_Duplicate(value, 0);
	cut = ds_text_cut(value->valuestring, KUBE_MAX_KEPT_STRING);
	copy = cut ? cJSON_CreateString(cut) : NULL;
	free(cut);
	return copy;
}

/* Unescapes the reference token at *p (RFC 6901) into buf and moves *p past
 * it. Returns 0, or -1 when it is malformed or too long. */
static int next_token(const char **p, char *buf, size_t size)
{
	size_t n = 0;

	for (; **p && **p != '/'; (*p)++) {
		char c = **p;
		if (c == '~') {
			if ((*p)[1] != '0' && (*p)[1] != '1')
				return -1;
			c = (*p)[1] == '0' ? '~' : '/';
			(*p)++;
		}
		if (n + 1 >= size)
			return -1;
		buf[n++] = c;
	}
	buf[n] = '\0';
	return 0;
}

/* Puts a bounded copy of value in out at `pointer`, making the mappings on
 * the way. Returns 0, or -1 out of memory or for a pointer that is not an
 * object path ("/a/b"). */
static int put_at(cJSON *out, const char *pointer, const cJSON *value)
{
	char token[MAX_TOKEN];
	cJSON *at = out, *copy;

	if (*pointer != '/')
		return -1;
	for (;;) {
		pointer++;
		if (next_token(&pointer, token, sizeof(token)) < 0)
			return -1;
		if (!*pointer)
			break;
		cJSON *inner = cJSON_GetObjectItemCaseSensitive(at, token);
		if (!inner)
			inner = cJSON_AddObjectToObject(at, token);
		if (!cJSON_IsObject(inner))
			return -1;
		at = inner;
	}
	copy = bounded_copy(value, 0);
	if (!copy)
		return -1;
	cJSON_DeleteItemFromObjectCaseSensitive(at, token);
	if (!cJSON_AddItemToObject(at, token, copy)) {
		cJSON_Delete(copy);
		return -1;
	}
	return 0;
}

char *kube_record_text(const cJSON *object, const char *api_version, const char *kind, const char *const *keep,
		       size_t keep_count)
{
	cJSON *out = cJSON_CreateObject();
	char *text;

	if (!out || !cJSON_AddStringToObject(out, "apiVersion", api_version) ||
	    !cJSON_AddStringToObject(out, "kind", kind)) {
		cJSON_Delete(out);
		return NULL;
	}
	for (size_t i = 0; i < keep_count; i++) {
		const cJSON *value = ds_pointer_get(object, keep[i]);
		if (value && put_at(out, keep[i], value) < 0) {
			cJSON_Delete(out);
			return NULL;
		}
	}
	text = cJSON_PrintUnformatted(out);
	cJSON_Delete(out);
	return text;
}
