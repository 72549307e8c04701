/* render.h - private to lint/: Helm charts and Kustomize directories
 * rendered by the real tools (helm template, kustomize build, kubectl
 * kustomize), and each rendered DaemonSet traced back to the file, line and
 * column it was written at, for findings and --fix (docs/gitops.md). */
#ifndef DSGUARD_LINT_RENDER_H
#define DSGUARD_LINT_RENDER_H

#include "lint/fix.h"
#include "lint/lint.h"
#include "yaml/document.h"

#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

/* ---- a renderer as a child process (spawn.c) ---- */

/* How much of a renderer's standard error is kept: its end. */
#define DS_SPAWN_ERR_KEEP 8192

/* What a child process did. Owns out and err (NUL-terminated). */
typedef struct ds_spawn_result {
	char *out;
	size_t out_len;
	char *err; /* the last DS_SPAWN_ERR_KEEP bytes of its standard error */
	size_t err_len;
	int status;     /* as waitpid() reports it */
	bool timed_out; /* it ran past the time limit and was killed */
	bool too_large; /* its output passed the limit and it was killed */
} ds_spawn_result;

/* Runs argv (argv[0] a path to the program; no shell) with standard input
 * from /dev/null, in a process group of its own, reading its standard
 * output (at most max_out bytes) and the end of its standard error. After
 * timeout_s seconds, or once the output passes max_out, the process group
 * is killed. Returns 0 with res filled (release it with
 * ds_spawn_result_free()), or -1 with *error set when it could not be
 * started or memory ran out. */
int ds_spawn_capture(const char *const *argv, unsigned timeout_s, size_t max_out, ds_spawn_result *res,
		     char **error);

/* Releases what res owns and empties it. */
void ds_spawn_result_free(ds_spawn_result *res);

/* ---- what a directory is (kustomize.c) ---- */

typedef enum { DS_RENDER_NONE, DS_RENDER_HELM, DS_RENDER_KUSTOMIZE } ds_render_kind;

/* What the directory dir holds: a Helm chart (Chart.yaml), a Kustomize
 * root (kustomization.yaml, kustomization.yml or Kustomization), or
 * neither. */
ds_render_kind ds_render_dir_kind(const char *dir);

/* Of the kustomization directories dirs[0..count) found by one walk, marks
 * in root[] those that no other of them includes (resources, bases,
 * components), directly or through kustomizations outside the list;
 * components (kind: Component) are never roots. A kustomization included
 * only inside a cycle is a root too, so that its error is reported. Returns
 * 0, or -1 out of memory. */
int ds_kustomize_roots(const char *const *dirs, size_t count, bool *root);

/* The top of the repository holding the path `named` (a directory named on
 * the command line, or one a named path lies in): the nearest directory
 * at or above it holding .git; without one, the working directory when
 * named lies inside it, else named itself. Returns a new real path, or
 * NULL when named cannot be resolved or memory ran out. */
char *ds_render_boundary(const char *named);

/* The kustomization file of dir ("kustomization.yaml", "kustomization.yml"
 * or "Kustomization", a constant), or NULL when it has none. */
const char *ds_kustomization_file(const char *dir);

/* The kustomization in dir, read: a new tree the caller deletes; NULL
 * when dir has none, or (with *error set) when it cannot be read. */
cJSON *ds_kustomization_read(const char *dir, char **error);

/* Checks that the kustomization in dir, and every kustomization it
 * includes, names only files and directories inside `boundary` (a real
 * path) and nothing kustomize would fetch. Returns 0, 1 with *why set to
 * a new one-line message naming the kustomization file and the entry, or
 * -1 out of memory. */
int ds_kustomize_check(const char *dir, const char *boundary, char **why);

/* Whether the absolute path `path` is dir or lies below it (both without
 * "." or ".." parts). */
bool ds_path_inside(const char *path, const char *dir);

/* ---- fixes of the files rendered objects came from (sources.c) ---- */

/* The edits planned by every rendered input of a run, by file, made once
 * all inputs are read: two overlays of one base fix it once. Shared by the
 * run's threads. */
typedef struct ds_fixes ds_fixes;

/* A new, empty set, or NULL out of memory. */
ds_fixes *ds_fixes_new(void);

/* Adds the edits planned on text[0..len), the content of the file at the
 * real path `real` (reported as `name`; written only inside the directory
 * `root`), first met in the input of index file_index. An edit equal to
 * one already planned for the file is the same fix; one that overlaps
 * another is refused, as is a text other than the one read first. as_read
 * is the file's stat(2) taken before text was read (see ds_write_fixed()).
 * Takes the edits (the list is emptied). Returns 0, 1 with *why set when
 * refused, or -1 out of memory. */
int ds_fixes_add(ds_fixes *fx, const char *real, const char *name, const char *root, size_t file_index,
		 const char *text, size_t len, const struct stat *as_read, ds_edit_list *edits, char **why);

/* Called for a file that could not be written, with its name and index and
 * what went wrong. */
typedef void (*ds_fixes_failed)(void *data, const char *name, size_t file_index, const char *message);

/* Makes the edits: prints each file's unified diff to diff_out (--diff),
 * or writes each file (--fix, diff_out NULL). Files in order of name.
 * Returns 0, or -1 out of memory. */
int ds_fixes_apply(ds_fixes *fx, FILE *diff_out, ds_fixes_failed failed, void *data);

/* Releases fx (NULL is allowed). */
void ds_fixes_free(ds_fixes *fx);

/* ---- one rendering (render.c) ---- */

/* A chart or kustomization being linted as what it renders to. */
typedef struct ds_render ds_render;

/* A new rendering of the directory `dir` (as the run names it; borrowed,
 * as are root, boundary, opts and fixes, for its lifetime), found from
 * `root` (a path named on the command line), inside the repository
 * `boundary` (a real path); fixes are planned into `fixes`. Returns NULL
 * out of memory. */
ds_render *ds_render_new(ds_render_kind kind, const char *dir, const char *root, const char *boundary,
			 const ds_lint_options *opts, ds_fixes *fixes);

/* Tells rd the index of its input in the run (for the order of problems)
 * and every chart of the run as it names them (borrowed), so that a
 * CHART=... value aimed at another chart is left out. */
void ds_render_set_context(ds_render *rd, size_t file_index, const char *const *charts, size_t chart_count);

/* Runs the renderer. Returns 0 with *text (NUL-terminated, the caller
 * frees it) and *len, or -1 with *error set to a new one-line message
 * (the tool missing, a failed render, the time limit, a kustomization
 * reaching outside the repository). */
int ds_render_run(ds_render *rd, char **text, size_t *len, char **error);

/* Records the DaemonSets of doc, a document of the rendered output (its
 * root, or a list's items), as objects of the rendering: where each came
 * from (Helm's "# Source:" comment; Kustomize's origin and transformer
 * annotations, which are taken out of the object). Returns 0, or -1 out of
 * memory. */
int ds_render_document(ds_render *rd, ds_document *doc);

/* The number of the object res, a DaemonSet of the document last given to
 * ds_render_document(), or -1. */
long ds_render_object(const ds_render *rd, const cJSON *res);

/* Where a finding about object `object` is reported. */
typedef struct ds_render_query {
	long object;
	const char *pointer; /* what the finding is about */
	const char *found;   /* the deepest part of pointer the rendered object has */
	const cJSON *value;  /* the rendered value at found */
	ds_pos rendered;     /* where found is in the rendered output */
} ds_render_query;

typedef struct ds_render_place {
	const char *file; /* borrowed from the rendering */
	ds_pos pos;
	char *note; /* NULL, or what the message says besides (" (rendered: ...)"), owned */
} ds_render_place;

/* Places a finding: at the line and column of the template or file where
 * the field, or the mapping it belongs in, is written, when that can be
 * told exactly; else at 1:1 of that file with a note. Returns 0, or -1 out
 * of memory. */
int ds_render_place_finding(ds_render *rd, const ds_render_query *q, ds_render_place *out);

/* Plans the fix of finding f of object `object` (res, evaluated as ev)
 * in the file its fields are written in, into the run's fixes. Returns 0
 * when planned, 1 with *why set when it cannot be (a new message), or -1
 * out of memory. */
int ds_render_fix(ds_render *rd, long object, const cJSON *res, const ds_evaluation *ev, const ds_finding *f,
		  char **why);

/* Drops what the rendering read to place findings (kept: its objects and
 * file names, for the findings DS003 makes at the end of the run). */
void ds_render_release(ds_render *rd);

/* Hands the names of the files the findings borrow to the caller: *names
 * (each and the array are the caller's to free), *count. */
void ds_render_take_names(ds_render *rd, char ***names, size_t *count);

/* Releases rd (NULL is allowed). */
void ds_render_free(ds_render *rd);

/* ---- what render.c, template.c and kustomize.c share ---- */

/* A document of a file's text: where it starts and its length, blanks
 * around it left out as helm leaves them out, and its first line. */
typedef struct ds_chunk {
	size_t start, len;
	unsigned line;
} ds_chunk;

/* What a document that may hold a DaemonSet is, read line by line
 * (ds_yaml_locate()): its kind and name when they are strings (else
 * NULL), or unread when the reading gave up on it or it is a list. Owns
 * its strings. */
typedef struct ds_chunk_id {
	char *kind, *name;
	bool unread;
} ds_chunk_id;

/* A document of a source, read on its own from the part of the file it is
 * written in: its positions are the file's once `line` - 1 is added to
 * their lines. Owns doc. */
typedef struct ds_source_doc {
	ds_document *doc;
	size_t offset, len; /* its part of the file's text */
	unsigned line;      /* the line of the file its first line is */
} ds_source_doc;

/* A file read to place findings and plan fixes: a template, a manifest, a
 * kustomization or a patch. Owns all but name. */
typedef struct ds_source {
	char *real;         /* its real path */
	const char *name;   /* as reports name it: borrowed from the rendering */
	char *text;         /* as read, NUL-terminated */
	size_t len;
	struct stat as_read; /* its stat(2) before it was read (zeros when stat failed) */
	char *parsed;       /* the text as parsed: text, or for a template a copy with each action blanked */
	bool *templated;    /* a template: whether an action touches line i + 1; else NULL */
	size_t lines;       /* how many lines templated[] has */
	ds_source_doc *docs; /* its documents that may matter, with positions */
	size_t doc_count;
	ds_chunk *chunks;   /* read for DS_SOURCE_TEXT or DS_SOURCE_DAEMONSET_TEXT: its documents as text */
	ds_chunk_id *ids;   /* DS_SOURCE_DAEMONSET_TEXT: the kind and name of each chunk, read line by line */
	size_t chunk_count;
	int use;            /* the ds_source_use it was read for */
} ds_source;

typedef enum {
	DS_SOURCE_MANIFEST, /* the documents that may hold a DaemonSet read (whole), the others blanked */
	DS_SOURCE_TEMPLATE, /* a Helm template: actions blanked, then as DS_SOURCE_MANIFEST */
	DS_SOURCE_WHOLE,    /* every document read whole: kustomizations, patches */
	DS_SOURCE_TEXT,     /* the text alone, not parsed */
	DS_SOURCE_DAEMONSET_TEXT /* the text alone, and in chunks the documents that may hold a
				    DaemonSet (each from its "---" line), not parsed */
} ds_source_use;

/* The file at the real path `real`, read for `use` and kept in rd's cache
 * (valid until the next finding is placed or fixed, or until
 * ds_render_release()). NULL when it cannot be read, lies outside the
 * repository, or memory ran out. */
const ds_source *ds_render_source(ds_render *rd, const char *real, ds_source_use use);

/* A copy of text[0..len) in which every template action ({{ ... }}) is
 * spaces, line breaks kept, so that lines, columns and offsets stay; marks
 * in *templated (a new array of *lines flags, the caller frees it) each line
 * an action touches. Returns the copy (NUL-terminated; the caller frees it),
 * or NULL out of memory. */
char *ds_template_mask(const char *text, size_t len, bool **templated, size_t *lines);

/* Calls each(data, from, to, line) for every document of text[0..len)
 * that may be, or hold, a DaemonSet: all but those whose top-level kind
 * line names another kind (in a template: with no action in it). The
 * document runs from `from` (its "---" line, when it has one) to `to`,
 * and starts on line `line`. Reading only those documents builds only what a
 * DaemonSet's place may be looked for in. Returns 0, or the first value
 * other than 0 that each returned. */
int ds_each_daemonset_document(const char *text, size_t len, bool template,
			       int (*each)(void *data, size_t from, size_t to, unsigned line), void *data);

/* The position p of a node of d as a position of its file. */
ds_pos ds_source_pos(const ds_source_doc *d, ds_pos p);

/* The documents of text[0..len) between its "---" lines, each without the
 * blanks around it: a new array (the caller frees it) of *count chunks, or
 * NULL out of memory (or when there is none). */
ds_chunk *ds_text_documents(const char *text, size_t len, size_t *count);

/* Whether an action of the template src touches a line from first to last. */
bool ds_template_touches(const ds_source *src, unsigned first, unsigned last);

/* Whether an action of the template src touches the lines of the node
 * info (of its document d): its key's line, or a line of its value that
 * starts deeper than its key (a line no deeper, where the value has ended,
 * is the parent's). */
bool ds_template_node_touches(const ds_source *src, const ds_source_doc *d, const ds_node_info *info);

/* The one document of the template src that can be the rendered object of
 * kind and name: the documents holding `pointer`, of that kind when they
 * name one, and when more than one, the one of that name. Returns 1 with
 * *doc set, 0 when there is none or the choice is not clear. Also 0 when
 * a key on the way to pointer is given twice in its mapping (branches of
 * an if: which one rendered cannot be told). */
int ds_template_document(const ds_source *src, const char *kind, const char *name, const char *pointer,
			 const ds_source_doc **doc);

/* Where in a file a rendered field was written. */
typedef struct ds_render_spot {
	const ds_source *src;
	const ds_source_doc *doc;
	const cJSON *root;  /* the tree pointers are read in: an object, a patch, a list of operations */
	const cJSON *node;  /* the field */
	char *from, *to;    /* a rendered pointer starting with `from` is `to` and the rest in root; owned.
			       to NULL: not to be edited (an inline patch, a kustomization's namespace) */
} ds_render_spot;

/* What is known of a rendered object from Kustomize's annotations. */
typedef struct ds_render_transform {
	char *kind; /* NamespaceTransformer, PatchTransformer, ... */
	char *in;   /* the real path of the kustomization file that configured it; NULL unknown */
} ds_render_transform;

/* Finds the patch or transformer that gave the rendered object (kind,
 * rendered name `name`, written as `source_name`, NULL when not known) the
 * value `value` at `pointer`: among the transformations the object went
 * through (transforms[0..count), in the order applied), the last that
 * sets it. A patch counts only when it names the object (its kind, and a
 * name between the written and the rendered one). Returns 1 with *spot
 * set (release it with ds_render_spot_free()), 0 when none is found, -1
 * out of memory. */
int ds_kustomize_trace(ds_render *rd, const ds_render_transform *transforms, size_t count, const char *kind,
		       const char *name, const char *source_name, const char *pointer, const cJSON *value,
		       ds_render_spot *spot);

/* Releases what spot owns. */
void ds_render_spot_free(ds_render_spot *spot);

/* Whether the rendered value `value` and the written `node` are the same
 * field: both collections (a mapping is there, whatever it holds), or
 * equal scalars. */
bool ds_render_same(const cJSON *node, const cJSON *value);

#endif
