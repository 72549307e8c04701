/* array.c - growing arrays by doubling, so that appending one item at a
 * time stays linear however many items a run collects. */
#include "rules/rules.h"

#include <stdint.h>
#include <stdlib.h>

size_t ds_array_capacity(size_t count)
{
	size_t cap = 4;

	if (count == 0)
		return 0;
	while (cap < count && cap <= SIZE_MAX / 2)
		cap *= 2;
	return cap;
}

void *ds_array_grow(void *array, size_t count, size_t size)
{
	size_t cap = ds_array_capacity(count + 1);

	if (array && count < ds_array_capacity(count))
		return array;
	if (cap < count + 1 || cap > SIZE_MAX / size)
		return NULL;
	return realloc(array, cap * size);
}
