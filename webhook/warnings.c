/* warnings.c - response.warnings, kept within the API server's limits. */
#include "webhook/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEFT_OUT_NOTE_MAX 64 /* room kept for "N more warnings left out" */

int ds_warnings_add(ds_warnings *w, const char *fmt, ...)
{
	char **grown = ds_array_grow(w->items, w->count, sizeof(*grown));
	va_list ap;

	if (!grown)
		return -1;
	w->items = grown;
	va_start(ap, fmt);
	grown[w->count] = ds_vformat(fmt, ap);
	va_end(ap);
	if (!grown[w->count])
		return -1;
	w->count++;
	return 0;
}

void ds_warnings_free(ds_warnings *w)
{
	for (size_t i = 0; i < w->count; i++)
		free(w->items[i]);
	free(w->items);
	memset(w, 0, sizeof(*w));
}

/* Appends a copy of text to the array. Returns 0, or -1 out of memory. */
static int append_string(cJSON *array, const char *text)
{
	cJSON *item = cJSON_CreateString(text);

	if (!item || !cJSON_AddItemToArray(array, item)) {
		cJSON_Delete(item);
		return -1;
	}
	return 0;
}

cJSON *ds_warnings_to_json(const ds_warnings *w)
{
	cJSON *array = cJSON_CreateArray();
	size_t total = 0, i;
	char note[LEFT_OUT_NOTE_MAX];

	for (i = 0; array && i < w->count; i++) {
		char *text = ds_text_cut(w->items[i], DS_WARNING_MAX);
		size_t room = DS_WARNINGS_TOTAL_MAX - total - (i + 1 < w->count ? LEFT_OUT_NOTE_MAX : 0);
		int rc;
		if (text && strlen(text) > room) {
			free(text);
			break;
		}
		rc = text ? append_string(array, text) : -1;
		total += text ? strlen(text) : 0;
		free(text);
		if (rc < 0) {
			cJSON_Delete(array);
			return NULL;
		}
	}
	if (array && i < w->count) {
		snprintf(note, sizeof(note), "%zu more warnings left out", w->count - i);
		if (append_string(array, note) < 0) {
			cJSON_Delete(array);
			return NULL;
		}
	}
	return array;
}
