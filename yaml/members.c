/* members.c - an index of a mapping's members by key: open addressing,
 * rebuilt twice as large when half full. */
#include "yaml/members.h"

#include <stdlib.h>
#include <string.h>

size_t ds_key_hash(const char *s)
{
	size_t h = 14695981039346656037u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

/* The slot of key: the one holding the member so called, or the empty one
 * where it belongs. */
static cJSON **slot_of(const ds_member_index *index, const char *key)
{
	size_t i = ds_key_hash(key) & index->mask;

	for (; index->slots[i]; i = (i + 1) & index->mask)
		if (!strcmp(index->slots[i]->string, key))
			break;
	return &index->slots[i];
}

void ds_member_index_add(ds_member_index *index, cJSON *member)
{
	if (index->slots)
		*slot_of(index, member->string) = member;
}

/* Indexes the members of obj in a table of room for twice `count`.
 * Returns 0, or -1 out of memory (index left empty). */
static int build(ds_member_index *index, const cJSON *obj, size_t count)
{
	size_t cap = 64;

	while (cap < count * 4)
		cap *= 2;
	index->slots = calloc(cap, sizeof(*index->slots));
	if (!index->slots)
		return -1;
	index->mask = cap - 1;
	for (cJSON *m = obj->child; m; m = m->next)
		ds_member_index_add(index, m);
	return 0;
}

cJSON *ds_member_find(ds_member_index *index, const cJSON *obj, size_t count, const char *key)
{
	if (index->slots && count * 2 > index->mask) /* half full: start over, larger */
		ds_member_index_free(index);
	if (!index->slots && count >= DS_MEMBER_INDEX_MIN)
		build(index, obj, count);
	if (index->slots)
		return *slot_of(index, key);
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

void ds_member_index_free(ds_member_index *index)
{
	free(index->slots);
	index->slots = NULL;
	index->mask = 0;
}
