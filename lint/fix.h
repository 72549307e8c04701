/* fix.h - private to lint/: the rules' JSONPatch fixes turned into minimal
 * text edits of the manifest, and the unified diff of the result. */
#ifndef DSGUARD_LINT_FIX_H
#define DSGUARD_LINT_FIX_H

#include "yaml/document.h"
#include "rules/rules.h"

#include <stdio.h>

/* Replace bytes [start, end) of the text with `text` (owned). */
typedef struct ds_edit {
	size_t start, end;
	char *text;
} ds_edit;

typedef struct ds_edit_list {
	ds_edit *items;
	size_t count;
} ds_edit_list;

/* Plans the text edit that carries out `op` (a fix of `resource`, an
 * object of `doc`, read from text[0..len)). Returns 0 with the edit
 * appended; 1 when it cannot be done as a minimal edit, with *why set to a
 * new message ("the value comes from the anchor at line 7"); -1 out of
 * memory. */
int ds_fix_plan(const char *text, size_t len, const ds_document *doc, const cJSON *resource,
		const ds_patch_op *op, ds_edit_list *edits, char **why);

/* Applies edits (sorted here; an edit overlapping an earlier one is
 * dropped) to text. Returns a new NUL-terminated buffer (the caller frees
 * it) and sets *out_len, or NULL out of memory. */
char *ds_edits_apply(const char *text, size_t len, ds_edit_list *edits, size_t *out_len);

/* Releases the edits and empties the list. */
void ds_edit_list_free(ds_edit_list *edits);

/* Writes a unified diff (3 lines of context) turning a into b, with `name`
 * as both file names so that `patch -p0` applies it. Writes nothing when
 * they are equal. Returns 0, or -1 out of memory or on a write error. */
int ds_unified_diff(FILE *out, const char *name, const char *a, size_t alen, const char *b, size_t blen);

#endif
