/* document.h - YAML and JSON documents read into cJSON with the line and
 * column of every key and value, as Kubernetes reads them: the reader of
 * manifests (lint/: ds_yaml_load_filtered), the config file (config/) and
 * kubeconfig files (kube/: ds_yaml_load). */
#ifndef DSGUARD_YAML_DOCUMENT_H
#define DSGUARD_YAML_DOCUMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

/* Nesting deeper than this is refused (Kubernetes objects stay far below). */
#define DS_YAML_MAX_DEPTH 512
/* Nodes that expanding aliases may add to one document ("billion laughs"). */
#define DS_YAML_MAX_ALIAS_NODES 200000

/* A position in the input, counted from 1; 0 when unknown. */
typedef struct ds_pos {
	unsigned line;
	unsigned column;
} ds_pos;

/* Where one cJSON item came from. `anchor_line` is non-zero when the item
 * was reached through an alias or merge key: the line of the anchor that
 * holds the text. */
typedef struct ds_node_info {
	const cJSON *item;
	ds_pos key;   /* the key of an object member; 0 for array items and roots */
	ds_pos value; /* the start of the value */
	ds_pos value_end; /* just past the value (past a closing quote) */
	unsigned anchor_line;
	char style; /* scalars: 'p'lain, '\'' or '"' quoted, '|' or '>' block;
		       collections: 'b'lock or 'f'low */
} ds_node_info;

typedef struct ds_posmap ds_posmap;

/* One document of a stream. Owns root and its positions. */
typedef struct ds_document {
	cJSON *root;
	ds_posmap *positions;
	cJSON *replaced; /* items overridden by later keys, kept so positions stay valid */
} ds_document;

/* A problem found while reading, with its position (0:0 for a whole-file
 * problem). Owns message. */
typedef struct ds_diag {
	ds_pos pos;
	bool is_error; /* false: a warning (a repeated key) */
	char *message;
} ds_diag;

typedef struct ds_diag_list {
	ds_diag *items;
	size_t count;
} ds_diag_list;

/* Called once per non-empty document, in order. The callee owns doc and
 * releases it with ds_document_free(). Returns 0 to go on, -1 to stop. */
typedef int (*ds_document_cb)(void *data, ds_document *doc);

/* Reads every document of the YAML text buf[0..len) (JSON read as YAML)
 * and hands each to cb, as go-yaml v2 reads YAML 1.1: anchors, aliases
 * and "<<" merge keys are resolved, a repeated key keeps the last value
 * and adds a warning, scalars resolve as go-yaml resolves them (tags
 * included); a scalar Kubernetes refuses (.inf, "!!null Always"), a
 * string holding a NUL character, nesting deeper than DS_YAML_MAX_DEPTH
 * and an alias bomb are errors. For the config and kubeconfig files.
 * Returns 0 when the whole stream was read, -1 on a syntax or limit error
 * (added to diags with its position; documents before it were already
 * handed over) or when cb or memory failed. */
int ds_yaml_load(const char *buf, size_t len, ds_document_cb cb, void *data, ds_diag_list *diags);

/* Decides from a document's top-level `kind` (NULL when it has none)
 * whether the caller needs the document whole. */
typedef bool (*ds_kind_filter)(const char *kind);

/* Reads a manifest file as kubectl reads one given with -f: a text that
 * starts with "{" (after a byte-order mark and white space, within its
 * first 4096 bytes) is a stream of JSON values, one document each, read
 * as Go's encoding/json reads them (surrogate pairs, values one after
 * another); any other text is YAML, read as ds_yaml_load() reads it.
 * A document whose kind `wanted` refuses is handed over as {"kind": KIND}
 * alone (or {} when its kind is no string), with no positions: converting
 * only what is needed keeps reading close to parsing speed; such a
 * document is still checked for what makes Kubernetes refuse the file
 * (nesting, undefined aliases, scalars it cannot read), and a string in
 * it may hold a NUL. With wanted NULL every document is handed over
 * whole. Returns as ds_yaml_load() does. */
int ds_yaml_load_filtered(const char *buf, size_t len, ds_kind_filter wanted, ds_document_cb cb, void *data,
			  ds_diag_list *diags);

/* Releases doc and everything it owns. */
void ds_document_free(ds_document *doc);

/* Where item came from, or NULL when it is not part of doc. */
const ds_node_info *ds_document_where(const ds_document *doc, const cJSON *item);

/* The position a finding about `pointer` in `resource` (a value inside
 * doc) is reported at: the value when the field exists, else the key of the
 * deepest mapping on the way that exists (where the missing key belongs);
 * 0:0 when doc is NULL (an object that came from no file).
 * Also sets *anchor_line as ds_node_info does, when not NULL. */
ds_pos ds_document_locate(const ds_document *doc, const cJSON *resource, const char *pointer,
			  unsigned *anchor_line);

/* A field of a document as ds_yaml_locate() finds it. Owns scalar. */
typedef struct ds_located {
	bool found;
	ds_pos key;        /* where its key is written */
	ds_pos value;      /* where its value starts when written on the key's line, else 0:0 */
	bool collection;   /* its value is a mapping or a sequence */
	cJSON *scalar;     /* a scalar value as ds_yaml_load() reads it, else NULL (a collection, or null) */
} ds_located;

/* Finds the fields at pointers[0..count) (each through mappings alone)
 * in the one document buf[0..len) (its "---" line may start it), without
 * building it: a reading of block-style YAML line by line, for a fraction
 * of a parse. It gives up on whatever ds_yaml_load() might read otherwise
 * or that it does not follow: anchors, aliases, tags, a key on the way
 * given twice, quoted keys on the way, a scalar or flow collection going
 * on over lines, tabs, characters outside ASCII, directives. A text of
 * comments and blank lines is read as holding no field. Returns 1
 * with out[] filled (positions as ds_yaml_load() gives them, line 1 the
 * first of buf; release with ds_located_free()), 0 when it gives up (read
 * the document with ds_yaml_load(); out[] is empty), -1 out of memory. */
int ds_yaml_locate(const char *buf, size_t len, const char *const *pointers, size_t count, ds_located *out);

/* Releases what out[0..count) owns and empties it. */
void ds_located_free(ds_located *out, size_t count);

/* Appends a diagnostic with a printf-style message. Returns 0 or -1 out of
 * memory. */
int ds_diag_add(ds_diag_list *list, ds_pos pos, bool is_error, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Releases every diagnostic in list and empties it. */
void ds_diag_list_free(ds_diag_list *list);

#endif
