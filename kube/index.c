/* index.c - the namespace index (namespace -> DaemonSets, each its name and its kept record) and the reservations beside it. */
#include "kube/private.h"

#include <stdlib.h>
#include <string.h>

/* One namespace and its DaemonSets, sorted by name. Each is one
 * allocation: its name, a NUL, its record's text and a NUL. */
struct ns_entry {
	char *ns;
	char **names;
	size_t count;
};

struct kube_index {
	struct ns_entry *entries; /* sorted by ns */
	size_t count;
	size_t objects;
};

kube_index *kube_index_new(void)
{
	return calloc(1, sizeof(kube_index));
}

void kube_index_free(kube_index *idx)
{
	if (!idx)
		return;
	for (size_t i = 0; i < idx->count; i++) {
		for (size_t j = 0; j < idx->entries[i].count; j++)
			free(idx->entries[i].names[j]);
		free(idx->entries[i].names);
		free(idx->entries[i].ns);
	}
	free(idx->entries);
	free(idx);
}

/* Where `key` is, or would go, in the sorted array of n strings reached
 * through get(i). Sets *found. */
static size_t search(const void *base, size_t n, const char *(*get)(const void *, size_t), const char *key,
		     bool *found)
{
	size_t lo = 0, hi = n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(get(base, mid), key);

		if (cmp == 0) {
			*found = true;
			return mid;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static const char *entry_ns(const void *base, size_t i)
{
	return ((const struct ns_entry *)base)[i].ns;
}

static const char *name_at(const void *base, size_t i)
{
	return ((char *const *)base)[i];
}

/* Inserts a new namespace entry at `at`. Returns it, or NULL out of memory. */
static struct ns_entry *insert_ns(kube_index *idx, size_t at, const char *ns)
{
	char *copy = strdup(ns);
	struct ns_entry *grown;

	if (!copy)
		return NULL;
	grown = ds_array_grow(idx->entries, idx->count, sizeof(*grown));
	if (!grown) {
		free(copy);
		return NULL;
	}
	idx->entries = grown;
	memmove(&idx->entries[at + 1], &idx->entries[at], (idx->count - at) * sizeof(idx->entries[0]));
	idx->entries[at] = (struct ns_entry){.ns = copy};
	idx->count++;
	return &idx->entries[at];
}

/* The allocation of a DaemonSet: "name\0record\0" (record NULL: "").
 * Returns it, or NULL out of memory. */
static char *name_and_record(const char *name, const char *record)
{
	size_t name_size = strlen(name) + 1, record_size = record ? strlen(record) + 1 : 1;
	char *both = malloc(name_size + record_size);

	if (!both)
		return NULL;
	memcpy(both, name, name_size);
	memcpy(both + name_size, record ? record : "", record_size);
	return both;
}

static int insert_name(struct ns_entry *e, size_t at, const char *name, const char *record)
{
	char *copy = name_and_record(name, record);
	char **grown = copy ? ds_array_grow(e->names, e->count, sizeof(*grown)) : NULL;

	if (!grown) {
		free(copy);
		return -1;
	}
	e->names = grown;
	memmove(&e->names[at + 1], &e->names[at], (e->count - at) * sizeof(e->names[0]));
	e->names[at] = copy;
	e->count++;
	return 0;
}

/* Drops the namespace entry at `at` (which has no names left). */
static void remove_ns(kube_index *idx, size_t at)
{
	free(idx->entries[at].ns);
	free(idx->entries[at].names);
	memmove(&idx->entries[at], &idx->entries[at + 1], (idx->count - at - 1) * sizeof(idx->entries[0]));
	idx->count--;
}

int kube_index_add(kube_index *idx, const char *ns, const char *name, const char *record)
{
	bool found;
	size_t at = search(idx->entries, idx->count, entry_ns, ns, &found);
	struct ns_entry *e = found ? &idx->entries[at] : insert_ns(idx, at, ns);

	if (!e)
		return -1;
	at = search(e->names, e->count, name_at, name, &found);
	if (found) {
		char *both = name_and_record(name, record);
		if (!both)
			return -1;
		free(e->names[at]);
		e->names[at] = both;
		return 0;
	}
	if (insert_name(e, at, name, record) < 0) {
		if (e->count == 0)
			remove_ns(idx, (size_t)(e - idx->entries));
		return -1;
	}
	idx->objects++;
	return 0;
}

void kube_index_remove(kube_index *idx, const char *ns, const char *name)
{
	bool found;
	size_t at = search(idx->entries, idx->count, entry_ns, ns, &found);
	struct ns_entry *e;
	size_t i;

	if (!found)
		return;
	e = &idx->entries[at];
	i = search(e->names, e->count, name_at, name, &found);
	if (!found)
		return;
	free(e->names[i]);
	memmove(&e->names[i], &e->names[i + 1], (e->count - i - 1) * sizeof(e->names[0]));
	e->count--;
	idx->objects--;
	if (e->count == 0)
		remove_ns(idx, at);
}

const char *kube_index_other(const kube_index *idx, const char *ns, const char *name)
{
	bool found;
	size_t at = search(idx->entries, idx->count, entry_ns, ns, &found);

	if (!found)
		return NULL;
	for (size_t i = 0; i < idx->entries[at].count; i++)
		if (strcmp(idx->entries[at].names[i], name))
			return idx->entries[at].names[i];
	return NULL;
}

/* The record of the DaemonSet whose allocation is `both`. */
static const char *record_of(const char *both)
{
	return both + strlen(both) + 1;
}

/* Where namespace ns's entries begin and end in idx (ns NULL: all). */
static void entry_range(const kube_index *idx, const char *ns, size_t *from, size_t *to)
{
	bool found;

	*from = 0;
	*to = idx->count;
	if (!ns)
		return;
	*from = search(idx->entries, idx->count, entry_ns, ns, &found);
	*to = found ? *from + 1 : *from;
}

int kube_index_snapshot(const kube_index *idx, const char *ns, kube_snapshot *out)
{
	size_t from, to, count = 0, bytes = 0, used = 0;

	memset(out, 0, sizeof(*out));
	entry_range(idx, ns, &from, &to);
	for (size_t i = from; i < to; i++) {
		count += idx->entries[i].count;
		for (size_t j = 0; j < idx->entries[i].count; j++) {
			const char *both = idx->entries[i].names[j];
			bytes += strlen(idx->entries[i].ns) + 1 + strlen(both) + 1 + strlen(record_of(both)) + 1;
		}
	}
	if (!count)
		return 0;
	out->records = calloc(count, sizeof(*out->records));
	out->text = malloc(bytes);
	if (!out->records || !out->text) {
		kube_snapshot_free(out);
		return -1;
	}
	for (size_t i = from; i < to; i++) {
		const struct ns_entry *e = &idx->entries[i];
		for (size_t j = 0; j < e->count; j++) {
			const char *parts[3] = {e->ns, e->names[j], record_of(e->names[j])};
			const char **slots[3] = {&out->records[out->count].ns, &out->records[out->count].name,
						 &out->records[out->count].record};
			for (int k = 0; k < 3; k++) {
				size_t n = strlen(parts[k]) + 1;
				memcpy(out->text + used, parts[k], n);
				*slots[k] = out->text + used;
				used += n;
			}
			out->count++;
		}
	}
	return 0;
}

void kube_snapshot_free(kube_snapshot *s)
{
	free(s->records);
	free(s->text);
	memset(s, 0, sizeof(*s));
}

size_t kube_index_objects(const kube_index *idx)
{
	return idx->objects;
}

size_t kube_index_namespaces(const kube_index *idx)
{
	return idx->count;
}

/* The position of ns/name among the reservations, or r->count. */
static size_t find_reservation(const kube_reservations *r, const char *ns, const char *name)
{
	size_t i;

	for (i = 0; i < r->count; i++)
		if (!strcmp(r->items[i].ns, ns) && !strcmp(r->items[i].name, name))
			break;
	return i;
}

int kube_reservations_add(kube_reservations *r, const char *ns, const char *name, double expires)
{
	size_t i = find_reservation(r, ns, name);
	kube_reservation item = {.expires = expires}, *grown;

	if (i < r->count) {
		r->items[i].expires = expires;
		return 0;
	}
	grown = ds_array_grow(r->items, r->count, sizeof(*grown));
	if (!grown)
		return -1;
	r->items = grown;
	item.ns = strdup(ns);
	item.name = strdup(name);
	if (!item.ns || !item.name) {
		free(item.ns);
		free(item.name);
		return -1;
	}
	r->items[r->count++] = item;
	return 0;
}

static void drop_at(kube_reservations *r, size_t i)
{
	free(r->items[i].ns);
	free(r->items[i].name);
	r->items[i] = r->items[--r->count];
}

void kube_reservations_remove(kube_reservations *r, const char *ns, const char *name)
{
	size_t i = find_reservation(r, ns, name);

	if (i < r->count)
		drop_at(r, i);
}

bool kube_index_has(const kube_index *idx, const char *ns, const char *name)
{
	bool found;
	size_t at = search(idx->entries, idx->count, entry_ns, ns, &found);

	if (!found)
		return false;
	search(idx->entries[at].names, idx->entries[at].count, name_at, name, &found);
	return found;
}

void kube_reservations_prune(kube_reservations *r, const kube_index *idx, double now)
{
	size_t i = 0;

	while (i < r->count) {
		if (r->items[i].expires <= now || (idx && kube_index_has(idx, r->items[i].ns, r->items[i].name)))
			drop_at(r, i);
		else
			i++;
	}
}

const char *kube_reservations_other(const kube_reservations *r, const char *ns, const char *name, double now)
{
	for (size_t i = 0; i < r->count; i++)
		if (r->items[i].expires > now && !strcmp(r->items[i].ns, ns) && strcmp(r->items[i].name, name))
			return r->items[i].name;
	return NULL;
}

void kube_reservations_free(kube_reservations *r)
{
	while (r->count > 0)
		drop_at(r, r->count - 1);
	free(r->items);
	memset(r, 0, sizeof(*r));
}
