/* sources.c - the fixes of the files rendered objects came from (templates,
 * bases, patches), gathered from every rendering of a run and made once at
 * its end: a base two overlays share is fixed once, with one diff. */
#include "lint/render.h"
#include "util/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* One file to fix. Owns everything. */
struct fixed_file {
	char *real, *name, *root;
	size_t file_index;
	char *text;
	size_t len;
	struct stat as_read; /* before text was read */
	ds_edit_list edits;
};

struct ds_fixes {
	pthread_mutex_t lock;
	struct fixed_file *files;
	size_t count;
};

ds_fixes *ds_fixes_new(void)
{
	ds_fixes *fx = calloc(1, sizeof(*fx));

	if (fx && pthread_mutex_init(&fx->lock, NULL) != 0) {
		free(fx);
		return NULL;
	}
	return fx;
}

/* The entry of the file at real, made (with a copy of text) when there is
 * none. NULL out of memory. */
static struct fixed_file *file_entry(ds_fixes *fx, const char *real, const char *name, const char *root,
				     size_t file_index, const char *text, size_t len, const struct stat *as_read)
{
	struct fixed_file *grown, *f;

	for (size_t i = 0; i < fx->count; i++)
		if (!strcmp(fx->files[i].real, real))
			return &fx->files[i];
	grown = ds_array_grow(fx->files, fx->count, sizeof(*grown));
	if (!grown)
		return NULL;
	fx->files = grown;
	f = &grown[fx->count];
	*f = (struct fixed_file){.real = strdup(real), .name = strdup(name), .root = strdup(root),
				 .file_index = file_index, .text = malloc(len + 1), .len = len,
				 .as_read = *as_read};
	if (!f->real || !f->name || !f->root || !f->text) {
		free(f->real);
		free(f->name);
		free(f->root);
		free(f->text);
		return NULL;
	}
	memcpy(f->text, text, len);
	f->text[len] = '\0';
	fx->count++;
	return f;
}

static bool same_edit(const ds_edit *a, const ds_edit *b)
{
	return a->start == b->start && a->end == b->end && !strcmp(a->text, b->text);
}

/* Whether the edit e was planned for f already. */
static bool planned(const struct fixed_file *f, const ds_edit *e)
{
	for (size_t i = 0; i < f->edits.count; i++)
		if (same_edit(&f->edits.items[i], e))
			return true;
	return false;
}

/* Adds copies of the edits that f does not have yet to f's list, when
 * none of them clashes with f's. Returns 0, 1 on a clash, -1 out of
 * memory (f then unchanged). */
static int merge(struct fixed_file *f, const ds_edit_list *edits)
{
	size_t first = f->edits.count;

	for (size_t i = 0; i < edits->count; i++) {
		const ds_edit *e = &edits->items[i];
		ds_edit *grown;
		char *copy;
		if (planned(f, e))
			continue;
		grown = ds_array_grow(f->edits.items, f->edits.count, sizeof(*grown));
		if (grown)
			f->edits.items = grown;
		copy = grown ? strdup(e->text) : NULL;
		if (!copy) {
			ds_edit_list_truncate(&f->edits, first);
			return -1;
		}
		grown[f->edits.count] = (ds_edit){e->start, e->end, copy, f->edits.count};
		f->edits.count++;
	}
	if (ds_edits_clash(&f->edits, 0, first)) {
		ds_edit_list_truncate(&f->edits, first);
		return 1;
	}
	return 0;
}

int ds_fixes_add(ds_fixes *fx, const char *real, const char *name, const char *root, size_t file_index,
		 const char *text, size_t len, const struct stat *as_read, ds_edit_list *edits, char **why)
{
	struct fixed_file *f;
	int rc;

	*why = NULL;
	pthread_mutex_lock(&fx->lock);
	f = file_entry(fx, real, name, root, file_index, text, len, as_read);
	if (!f)
		rc = -1;
	else if (f->len != len || memcmp(f->text, text, len))
		rc = (*why = ds_format("%s changed while it was being linted", name)) ? 1 : -1;
	else if ((rc = merge(f, edits)) == 1 && !(*why = strdup("its edit would overlap the edit of another fix")))
		rc = -1;
	if (f && file_index < f->file_index)
		f->file_index = file_index;
	pthread_mutex_unlock(&fx->lock);
	ds_edit_list_free(edits);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct fixed_file *)a)->name, ((const struct fixed_file *)b)->name);
}

int ds_fixes_apply(ds_fixes *fx, FILE *diff_out, ds_fixes_failed failed, void *data)
{
	if (fx->count)
		qsort(fx->files, fx->count, sizeof(*fx->files), by_name);
	for (size_t i = 0; i < fx->count; i++) {
		struct fixed_file *f = &fx->files[i];
		size_t len;
		char *fixed = ds_edits_apply(f->text, f->len, &f->edits, &len), *error = NULL, *message;
		if (!fixed)
			return -1;
		if (diff_out) {
			if (ds_unified_diff(diff_out, f->name, f->text, f->len, fixed, len) < 0) {
				free(fixed);
				return -1;
			}
		} else if (ds_write_fixed(f->name, f->root, false, &f->as_read, fixed, len, &error) < 0) {
			message = ds_format("cannot write the fixed file: %s", error ? error : "out of memory");
			failed(data, f->name, f->file_index, message ? message : "cannot write the fixed file");
			free(message);
			free(error);
		}
		free(fixed);
	}
	return 0;
}

void ds_fixes_free(ds_fixes *fx)
{
	if (!fx)
		return;
	for (size_t i = 0; i < fx->count; i++) {
		free(fx->files[i].real);
		free(fx->files[i].name);
		free(fx->files[i].root);
		free(fx->files[i].text);
		ds_edit_list_free(&fx->files[i].edits);
	}
	free(fx->files);
	pthread_mutex_destroy(&fx->lock);
	free(fx);
}
