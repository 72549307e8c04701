/* posmap.c - positions of cJSON items: an open-addressing hash table keyed
 * by the item's address, its slots made on the first put (a document read
 * only for its kind records none). */
#include "yaml/posmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The slots a map starts with. */
#define FIRST_CAPACITY 256

struct ds_posmap {
	ds_node_info *slots; /* NULL until the first put */
	size_t capacity;     /* a power of two, or 0 */
	size_t used;
};

static size_t slot_of(const ds_posmap *map, const cJSON *item)
{
	uintptr_t h = (uintptr_t)item;

	h ^= h >> 17;
	h *= (uintptr_t)0x9E3779B97F4A7C15ull;
	h ^= h >> 29;
	return (size_t)h & (map->capacity - 1);
}

ds_posmap *ds_posmap_new(void)
{
	return calloc(1, sizeof(ds_posmap));
}

void ds_posmap_free(ds_posmap *map)
{
	if (!map)
		return;
	free(map->slots);
	free(map);
}

static void insert_slot(ds_posmap *map, const ds_node_info *info)
{
	size_t i = slot_of(map, info->item);

	while (map->slots[i].item && map->slots[i].item != info->item)
		i = (i + 1) & (map->capacity - 1);
	if (!map->slots[i].item)
		map->used++;
	map->slots[i] = *info;
}

static int grow(ds_posmap *map)
{
	ds_node_info *old = map->slots;
	size_t old_capacity = map->capacity, capacity = old_capacity ? old_capacity * 2 : FIRST_CAPACITY;

	map->slots = calloc(capacity, sizeof(*map->slots));
	if (!map->slots) {
		map->slots = old;
		return -1;
	}
	map->capacity = capacity;
	map->used = 0;
	for (size_t i = 0; i < old_capacity; i++)
		if (old[i].item)
			insert_slot(map, &old[i]);
	free(old);
	return 0;
}

int ds_posmap_put(ds_posmap *map, const ds_node_info *info)
{
	if ((map->used + 1) * 4 > map->capacity * 3 && grow(map) < 0)
		return -1;
	insert_slot(map, info);
	return 0;
}

const ds_node_info *ds_posmap_get(const ds_posmap *map, const cJSON *item)
{
	size_t i;

	if (!map || !map->capacity || !item)
		return NULL;
	for (i = slot_of(map, item); map->slots[i].item; i = (i + 1) & (map->capacity - 1))
		if (map->slots[i].item == item)
			return &map->slots[i];
	return NULL;
}
