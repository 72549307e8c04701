/* json_equal.c - whether two JSON values are the same value as Kubernetes
 * reads them, in time proportional to their size (times a logarithm). */
#include "webhook/internal.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One member of an object: its name, the name's first 8 bytes as a
 * number that orders as they do (most names differ there, and comparing
 * it costs no call), its value and its place among the members (the later
 * of two with one name is the one that counts). */
struct member {
	const char *name;
	uint64_t head;
	const cJSON *value;
	size_t at;
};

/* The first 8 bytes of name (NUL-padded), big-endian: numbers compare as
 * strcmp() compares the bytes. */
static uint64_t name_head(const char *name)
{
	uint64_t head = 0;
	bool ended = false;

	for (int i = 0; i < 8; i++) {
		ended = ended || !name[i]; /* nothing past the NUL is read */
		head = head << 8 | (ended ? 0u : (unsigned char)name[i]);
	}
	return head;
}

/* Compares the names of two members as strcmp() does. */
static int name_order(const struct member *x, const struct member *y)
{
	if (x->head != y->head)
		return x->head < y->head ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Orders members by name, then by place (qsort() is not stable). */
static int by_name(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	int c = name_order(x, y);

	return c ? c : (x->at > y->at) - (x->at < y->at);
}

/* Whether m[0..n) is in strictly increasing order of names: then it holds
 * no repeated name and needs no sorting. The API server's objects mostly
 * are: Go writes the keys of a map (labels, annotations) sorted. */
static bool strictly_sorted(const struct member *m, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (name_order(&m[i - 1], &m[i]) >= 0)
			return false;
	return true;
}

/* The members of obj sorted by name, each name once with its last value:
 * the API server decodes with Go's encoding/json, which keeps the last of
 * a repeated name, where cJSON keeps every one. Returns a new array (the
 * caller frees it) of *count members, or NULL out of memory. */
static struct member *members(const cJSON *obj, size_t *count)
{
	size_t n = 0, kept = 0;
	struct member *m;
	const cJSON *c;

	for (c = obj->child; c; c = c->next)
		n++;
	m = malloc((n + 1) * sizeof(*m));
	if (!m)
		return NULL;
	n = 0;
	for (c = obj->child; c; c = c->next, n++) {
		const char *name = c->string ? c->string : "";
		m[n] = (struct member){name, name_head(name), c, n};
	}
	if (strictly_sorted(m, n)) {
		*count = n;
		return m;
	}
	qsort(m, n, sizeof(*m), by_name);
	for (size_t i = 0; i < n; i++)
		if (i + 1 == n || name_order(&m[i], &m[i + 1]))
			m[kept++] = m[i];
	*count = kept;
	return m;
}

/* Objects: the same names with equal values, whatever their order. Each
 * side is sorted once, then walked in step: cJSON_Compare looks each name
 * up in the other object instead, quadratic in the number of members (an
 * UPDATE whose template has 40,000 labels took 18 s of CPU). */
static int objects_equal(const cJSON *a, const cJSON *b)
{
	size_t na = 0, nb = 0;
	struct member *ma = members(a, &na), *mb = ma ? members(b, &nb) : NULL;
	int rc = -1;

	if (ma && mb) {
		rc = na == nb;
		for (size_t i = 0; rc == 1 && i < na; i++)
			rc = name_order(&ma[i], &mb[i]) ? 0 : ds_json_equal(ma[i].value, mb[i].value);
	}
	free(ma);
	free(mb);
	return rc;
}

/* Arrays: equal items in the same order. */
static int arrays_equal(const cJSON *a, const cJSON *b)
{
	const cJSON *x = a->child, *y = b->child;
	int rc = 1;

	for (; rc == 1 && x && y; x = x->next, y = y->next)
		rc = ds_json_equal(x, y);
	return rc == 1 ? !x && !y : rc;
}

int ds_json_equal(const cJSON *a, const cJSON *b)
{
	if (!a || !b)
		return a == b;
	if ((a->type & 0xFF) != (b->type & 0xFF))
		return 0;
	switch (a->type & 0xFF) {
	case cJSON_False:
	case cJSON_True:
	case cJSON_NULL:
		return 1;
	case cJSON_Number:
		return a->valuedouble == b->valuedouble;
	case cJSON_String:
	case cJSON_Raw:
		return !strcmp(a->valuestring ? a->valuestring : "", b->valuestring ? b->valuestring : "");
	case cJSON_Array:
		return arrays_equal(a, b);
	case cJSON_Object:
		return objects_equal(a, b);
	default:
		return 0;
	}
}
