/* fix.h - private to lint/: the rules' JSONPatch fixes turned into minimal
 * text edits of the manifest, the unified diff of the result (--diff), and
 * the result written over the file (--fix). */
#ifndef DSGUARD_LINT_FIX_H
#define DSGUARD_LINT_FIX_H

#include "yaml/document.h"
#include "rules/rules.h"

#include <stdio.h>
#include <sys/stat.h>

/* Replace bytes [start, end) of the text with `text` (owned). */
typedef struct ds_edit {
	size_t start, end;
	char *text;
	size_t seq; /* its place in the list when planned: edits at one place are made in that order */
} ds_edit;

typedef struct ds_edit_list {
	ds_edit *items;
	size_t count;
} ds_edit_list;

/* Plans the text edits that carry out `op` (a fix of `resource`, an
 * object of `doc`, read from text[0..len)): a value rewritten in its own
 * quoting, a key inserted with the file's own indentation, a null made a
 * mapping, a member removed with its lines. Returns 0 with the edits
 * appended; 1 when it cannot be done as a minimal edit, with *why set to a
 * new message ("the value comes from the anchor at line 7"); -1 out of
 * memory. A remove planned after an insertion into the same flow mapping
 * (DS001's order) may shorten that insertion. */
int ds_fix_plan(const char *text, size_t len, const ds_document *doc, const cJSON *resource,
		const ds_patch_op *op, ds_edit_list *edits, char **why);

/* Whether an edit from index first_new on clashes with another from index
 * from on: ds_edits_apply() would drop one of them. */
bool ds_edits_clash(const ds_edit_list *edits, size_t from, size_t first_new);

/* Releases the edits from index count on: the list keeps the first count. */
void ds_edit_list_truncate(ds_edit_list *edits, size_t count);

/* Applies edits (sorted here; an edit overlapping an earlier one is
 * dropped) to text. Returns a new NUL-terminated buffer (the caller frees
 * it) and sets *out_len, or NULL out of memory. */
char *ds_edits_apply(const char *text, size_t len, ds_edit_list *edits, size_t *out_len);

/* Releases the edits and empties the list. */
void ds_edit_list_free(ds_edit_list *edits);

/* Writes the fixed text over the file at path (--fix). The run reached
 * path from root: a directory named on the command line, or (root_is_file)
 * a file named there, which stands for the directory that holds it. What is
 * written is the file path leads to through symbolic links, and only when
 * it lies inside that directory; a file with more than one hard link, one
 * its user may not write, or one that is no longer as it was read (as_read,
 * its stat(2) taken before it was read: another program wrote it since) is
 * left alone. The text replaces the file
 * through a new file in the same directory, renamed over it (a reader sees
 * the old file or the new, whole), with the old file's owner, group and
 * mode. Returns 0, or -1 with *error set to a new message saying why
 * nothing was written. */
int ds_write_fixed(const char *path, const char *root, bool root_is_file, const struct stat *as_read,
		   const char *text, size_t len, char **error);

/* Writes a unified diff (3 lines of context) turning a into b, with `name`
 * as both file names so that `patch -p0` applies it. Writes nothing when
 * they are equal. Returns 0, or -1 out of memory or on a write error. */
int ds_unified_diff(FILE *out, const char *name, const char *a, size_t alen, const char *b, size_t blen);

#endif
