/* array.c - growing arrays by doubling, so that appending one item at a
 * time stays linear however many items a run collects. */
#include "util/util.h"

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

void *ds_array_reserve(void *array, size_t count, size_t more, size_t size)
{
	size_t want = count + more, cap;

	if (want < count)
		return NULL;
	if (array && want <= ds_array_capacity(count))
		return array;
	cap = ds_array_capacity(want);
	if (cap < want || cap > SIZE_MAX / size)
		return NULL;
	return realloc(array, cap * size);
}

void *ds_array_grow(void *array, size_t count, size_t size)
{
	return ds_array_reserve(array, count, 1, size);
}
