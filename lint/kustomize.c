/* kustomize.c - Kustomize directories: which directories of a run are
 * roots (included by no other), that a kustomization stays inside its
 * repository, and which patch or transformer of the kustomizations set a
 * rendered field. */
#include "lint/render.h"
#include "util/util.h"

#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How many kustomizations one check or one root search follows, at most. */
#define MAX_KUSTOMIZATIONS 4096

static const char *const kustomization_names[] = {"kustomization.yaml", "kustomization.yml", "Kustomization"};

/* The fields of a kustomization that name other kustomizations or files
 * (must_exist: a directory or file of the repository; kustomize would
 * fetch anything else from the network). */
static const struct {
	const char *key;
	bool must_exist;
} reference_fields[] = {
	{"resources", true}, {"bases", true}, {"components", true},
	{"generators", false}, {"transformers", false}, {"validators", false},
};

bool ds_path_inside(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (!strcmp(path, dir))
		return true;
	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return !strncmp(path, dir, n) && path[n] == '/';
}

static bool holds_file(const char *dir, const char *name)
{
	char *path = ds_path_join(dir, name);
	struct stat st;
	bool found = path && stat(path, &st) == 0 && S_ISREG(st.st_mode);

	free(path);
	return found;
}

const char *ds_kustomization_file(const char *dir)
{
	for (size_t i = 0; i < sizeof(kustomization_names) / sizeof(kustomization_names[0]); i++)
		if (holds_file(dir, kustomization_names[i]))
			return kustomization_names[i];
	return NULL;
}

ds_render_kind ds_render_dir_kind(const char *dir)
{
	if (holds_file(dir, "Chart.yaml"))
		return DS_RENDER_HELM;
	return ds_kustomization_file(dir) ? DS_RENDER_KUSTOMIZE : DS_RENDER_NONE;
}

static int keep_first(void *data, ds_document *doc)
{
	cJSON **root = data;

	if (!*root) {
		*root = doc->root;
		doc->root = NULL;
	}
	ds_document_free(doc);
	return 0;
}

cJSON *ds_kustomization_read(const char *dir, char **error)
{
	const char *name = ds_kustomization_file(dir);
	char *path = name ? ds_path_join(dir, name) : NULL, *text = NULL;
	ds_diag_list diags = {0};
	cJSON *root = NULL;
	size_t len;

	if (!name)
		return NULL;
	if (!path) {
		ds_fail(error, "out of memory");
		return NULL;
	}
	if (ds_read_file(path, DS_MAX_FILE_BYTES, &text, &len, error) == 0) {
		ds_yaml_load(text, len, keep_first, &root, &diags);
		if (diags.count && diags.items[0].is_error) {
			ds_fail(error, "%s:%u:%u: %s", path, diags.items[0].pos.line, diags.items[0].pos.column,
				diags.items[0].message);
			cJSON_Delete(root);
			root = NULL;
		}
	}
	ds_diag_list_free(&diags);
	free(text);
	free(path);
	return root;
}

/* A kustomization to visit: its directory's real path. */
struct visit {
	char **dirs;
	size_t count;
};

static bool visited(const struct visit *v, const char *real)
{
	for (size_t i = 0; i < v->count; i++)
		if (!strcmp(v->dirs[i], real))
			return true;
	return false;
}

/* Adds real (taken) to v. Returns 0, or -1 out of memory (real freed). */
static int add_visit(struct visit *v, char *real)
{
	char **grown = ds_array_grow(v->dirs, v->count, sizeof(*grown));

	if (!grown) {
		free(real);
		return -1;
	}
	v->dirs = grown;
	v->dirs[v->count++] = real;
	return 0;
}

static void visit_free(struct visit *v)
{
	for (size_t i = 0; i < v->count; i++)
		free(v->dirs[i]);
	free(v->dirs);
	memset(v, 0, sizeof(*v));
}

/* What a walk over kustomizations does with each reference: checks it
 * against the repository (boundary set), and follows directories. */
/* Kustomizations read once for many walks: directories' real paths and
 * their trees (NULL when unreadable). Owns both. */
struct trees {
	char **dirs;
	cJSON **roots;
	size_t count;
};

struct walk_refs {
	const char *boundary;  /* NULL: no check */
	const char *top;       /* the kustomization the walk started from, as the run names it */
	struct visit seen;     /* the directories of kustomizations reached */
	char *why;             /* the first reference refused */
	struct trees *trees;   /* where what is read is kept; NULL: read and dropped */
	bool oom;
};

/* Checks the entry `ref` of kustomization dir (a real path) and, when it
 * is a directory, walks into it. */
static void follow(struct walk_refs *w, const char *dir, const char *ref, bool must_exist);

/* Walks the references of the kustomization in the directory dir (a real
 * path). */
/* The tree of the kustomization in dir (a real path): from w->trees, or
 * read (and kept there, else given to the caller in *owned). NULL when it
 * cannot be read. */
static const cJSON *tree_of(struct walk_refs *w, const char *dir, cJSON **owned)
{
	struct trees *t = w->trees;
	char *error = NULL, *copy;
	char **dirs;
	cJSON **roots, *root;

	*owned = NULL;
	for (size_t i = 0; t && i < t->count; i++)
		if (!strcmp(t->dirs[i], dir))
			return t->roots[i];
	root = ds_kustomization_read(dir, &error);
	free(error); /* kustomize says what is wrong with it, and better */
	if (!t)
		return *owned = root;
	dirs = ds_array_grow(t->dirs, t->count, sizeof(*dirs));
	if (dirs)
		t->dirs = dirs;
	roots = ds_array_grow(t->roots, t->count, sizeof(*roots));
	if (roots)
		t->roots = roots;
	copy = dirs && roots ? strdup(dir) : NULL;
	if (!copy) {
		w->oom = true;
		return *owned = root;
	}
	t->dirs[t->count] = copy;
	t->roots[t->count++] = root;
	return root;
}

static void trees_free(struct trees *t)
{
	for (size_t i = 0; i < t->count; i++) {
		free(t->dirs[i]);
		cJSON_Delete(t->roots[i]);
	}
	free(t->dirs);
	free(t->roots);
}

static void walk_kustomization(struct walk_refs *w, const char *dir)
{
	cJSON *owned;
	const cJSON *root = tree_of(w, dir, &owned);

	for (size_t f = 0; root && f < sizeof(reference_fields) / sizeof(reference_fields[0]); f++) {
		const cJSON *item;
		cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, reference_fields[f].key)) {
			/* an entry with a line break is inline configuration */
			if (!w->why && !w->oom && cJSON_IsString(item) && !strchr(item->valuestring, '\n'))
				follow(w, dir, item->valuestring, reference_fields[f].must_exist);
		}
	}
	cJSON_Delete(owned);
}

/* How the kustomization file of the directory `dir` (a real path) is named
 * in messages: relative to the one the walk started from when it is that
 * one. Returns a new string or NULL. */
static char *kustomization_label(const struct walk_refs *w, const char *dir)
{
	const char *name = ds_kustomization_file(dir);

	if (w->seen.count && !strcmp(dir, w->seen.dirs[0]))
		return ds_format("%s/%s", w->top, name ? name : "kustomization.yaml");
	return ds_format("%s/%s", dir, name ? name : "kustomization.yaml");
}

/* Records why the walk stops: the kustomization in dir says `what` (a new
 * string, taken; NULL out of memory). */
static void refuse(struct walk_refs *w, const char *dir, char *what)
{
	char *label = kustomization_label(w, dir);

	w->why = label && what ? ds_format("%s %s", label, what) : NULL;
	if (!w->why)
		w->oom = true;
	free(label);
	free(what);
}

static void follow(struct walk_refs *w, const char *dir, const char *ref, bool must_exist)
{
	char *path = ds_path_join(dir, ref), *real = path ? realpath(path, NULL) : NULL;
	struct stat st;

	if (!path) {
		w->oom = true;
		return;
	}
	free(path);
	if (!real) {
		if (must_exist && w->boundary)
			refuse(w, dir, ds_format("names %s, which is neither a file nor a directory of the repository: a "
						 "remote base is not fetched (render it yourself and pipe it: kustomize "
						 "build DIR | dsguard lint -)",
						 ref));
		return;
	}
	if (w->boundary && !ds_path_inside(real, w->boundary)) {
		refuse(w, dir, ds_format("includes %s (%s), outside the repository %s: dsguard renders only what the "
					 "repository holds",
					 ref, real, w->boundary));
		free(real);
		return;
	}
	if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode) || visited(&w->seen, real) ||
	    w->seen.count >= MAX_KUSTOMIZATIONS) {
		free(real);
		return;
	}
	if (add_visit(&w->seen, real) < 0) {
		w->oom = true;
		return;
	}
	walk_kustomization(w, w->seen.dirs[w->seen.count - 1]);
}

int ds_kustomize_check(const char *dir, const char *boundary, char **why)
{
	struct walk_refs w = {.boundary = boundary, .top = dir};
	char *real = realpath(dir, NULL);
	int rc;

	*why = NULL;
	if (!real)
		return 0; /* kustomize says why */
	if (add_visit(&w.seen, real) < 0)
		return -1;
	walk_kustomization(&w, real);
	rc = w.oom ? -1 : w.why ? 1 : 0;
	*why = w.why;
	visit_free(&w.seen);
	return rc;
}

/* The index of the directory real among reals[0..count), or -1. */
static long index_of(char *const *reals, size_t count, const char *real)
{
	for (size_t i = 0; i < count; i++)
		if (reals[i] && !strcmp(reals[i], real))
			return (long)i;
	return -1;
}

/* Marks in reached[] the kustomizations of the list that dir i reaches
 * (not i itself, unless through a cycle), reading each kustomization once
 * into trees. Returns 0 or -1. */
static int reach(char *const *reals, size_t count, size_t i, bool *reached, struct trees *trees)
{
	struct walk_refs w = {.trees = trees};
	char *start = strdup(reals[i]);

	if (!start || add_visit(&w.seen, start) < 0)
		return -1;
	walk_kustomization(&w, reals[i]);
	for (size_t k = 1; k < w.seen.count; k++) {
		long j = index_of(reals, count, w.seen.dirs[k]);
		if (j >= 0)
			reached[j] = true;
	}
	visit_free(&w.seen);
	return w.oom ? -1 : 0;
}

int ds_kustomize_roots(const char *const *dirs, size_t count, bool *root)
{
	char **reals = calloc(count + 1, sizeof(*reals));
	bool *included = calloc(count + 1, sizeof(*included)), *from_roots = calloc(count + 1, sizeof(*from_roots));
	bool *component = calloc(count + 1, sizeof(*component));
	struct trees trees = {0};
	struct walk_refs w = {.trees = &trees};
	int rc = reals && included && from_roots && component ? 0 : -1;

	for (size_t i = 0; rc == 0 && i < count; i++)
		if ((reals[i] = realpath(dirs[i], NULL)) != NULL)
			rc = reach(reals, count, i, included, &trees);
	for (size_t i = 0; rc == 0 && i < count; i++) {
		cJSON *owned;
		const char *kind = reals[i] ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
						      tree_of(&w, reals[i], &owned), "kind"))
					    : NULL;
		component[i] = kind && !strcmp(kind, "Component");
		root[i] = !component[i] && (!reals[i] || !included[i]);
		if (root[i] && reals[i])
			rc = reach(reals, count, i, from_roots, &trees);
		if (w.oom)
			rc = -1;
	}
	/* included only from inside a cycle: no root reaches it */
	for (size_t i = 0; rc == 0 && i < count; i++)
		if (!component[i] && !root[i] && !from_roots[i])
			root[i] = true;
	for (size_t i = 0; reals && i < count; i++)
		free(reals[i]);
	trees_free(&trees);
	free(reals);
	free(included);
	free(from_roots);
	free(component);
	return rc;
}

char *ds_render_boundary(const char *named)
{
	char *real = realpath(named, NULL), *at, *cwd;
	struct stat st;

	if (!real)
		return NULL;
	if (stat(real, &st) == 0 && !S_ISDIR(st.st_mode)) {
		char *slash = strrchr(real, '/');
		slash[slash == real] = '\0'; /* "/file" leaves "/" */
	}
	for (at = strdup(real); at;) {
		char *git = ds_path_join(at, ".git"), *slash = strrchr(at, '/');
		bool found = git && lstat(git, &st) == 0;
		free(git);
		if (found) {
			free(real);
			return at;
		}
		if (!slash || slash == at) {
			free(at);
			break;
		}
		*slash = '\0';
	}
	cwd = realpath(".", NULL);
	if (cwd && ds_path_inside(real, cwd)) {
		free(real);
		return cwd;
	}
	free(cwd);
	return real;
}

/* ---- which patch or transformer set a rendered field ---- */

void ds_render_spot_free(ds_render_spot *spot)
{
	free(spot->from);
	free(spot->to);
	memset(spot, 0, sizeof(*spot));
}

/* Whether the name a patch gives may be the object's: the rendered name,
 * or a name between the written one and the rendered one (a prefix or
 * suffix of an outer kustomization not added yet). */
static bool names_object(const char *given, const char *name, const char *written)
{
	return !strcmp(given, name) || (written && strstr(given, written) && strstr(name, given));
}

/* Whether the selector `given` of a patch's target (a regular expression,
 * anchored, as kustomize reads it) selects the object. */
static bool selects_name(const char *given, const char *name, const char *written)
{
	char *anchored;
	regex_t re;
	bool hit;

	if (!given[strcspn(given, ".*+?()[]{}|^$\\")])
		return names_object(given, name, written);
	anchored = ds_format("^(%s)$", given);
	if (!anchored || regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB) != 0) {
		free(anchored);
		return false;
	}
	hit = regexec(&re, name, 0, NULL, 0) == 0 || (written && regexec(&re, written, 0, NULL, 0) == 0);
	regfree(&re);
	free(anchored);
	return hit;
}

/* Whether the target of a patch (kind and name; one that selects by labels
 * or annotations cannot be told) is the object. */
static bool target_is(const cJSON *target, const char *kind, const char *name, const char *written)
{
	const char *tkind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(target, "kind"));
	const char *tname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(target, "name"));

	if (!tname || cJSON_GetObjectItemCaseSensitive(target, "labelSelector") ||
	    cJSON_GetObjectItemCaseSensitive(target, "annotationSelector"))
		return false;
	return (!tkind || !strcmp(tkind, kind)) && selects_name(tname, name, written);
}

/* What the trace looks for. */
struct trace {
	ds_render *rd;
	const char *kind, *name, *written;
	const char *pointer;
	const cJSON *value;
	ds_render_spot *spot;
	bool found, oom;
};

/* Records the spot: node of doc (in the file src), read in root, where a
 * rendered pointer starting with from stands for to in root (to NULL: the
 * text is not to be edited). */
static void found_at(struct trace *t, const ds_source *src, const ds_source_doc *doc, const cJSON *root,
		     const cJSON *node, const char *from, const char *to)
{
	*t->spot = (ds_render_spot){.src = src, .doc = doc, .root = root, .node = node,
				    .from = from ? strdup(from) : NULL, .to = to ? strdup(to) : NULL};
	t->found = true;
	t->oom = (from && !t->spot->from) || (to && !t->spot->to);
}

/* A strategic-merge patch (root, a document of src) that names the object
 * (or is aimed at it by target) and sets the field. */
static void try_merge_patch(struct trace *t, const ds_source *src, const ds_source_doc *doc, const cJSON *root,
			    const cJSON *target, bool editable)
{
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "kind"));
	const cJSON *node;

	if (target ? !target_is(target, t->kind, t->name, t->written)
		   : (kind && strcmp(kind, t->kind)) || !names_object(ds_resource_name(root), t->name, t->written))
		return;
	node = ds_pointer_get(root, t->pointer);
	if (node && ds_render_same(node, t->value))
		found_at(t, src, doc, root, node, "", editable ? "" : NULL);
}

/* A JSON 6902 patch (ops, a list of operations in src) aimed at the object
 * by target: the last add or replace that writes the field, or a mapping
 * or list holding it. */
static void try_json_patch(struct trace *t, const ds_source *src, const ds_source_doc *doc, const cJSON *ops,
			   const cJSON *target, bool editable)
{
	int n = cJSON_GetArraySize(ops);

	if (!target_is(target, t->kind, t->name, t->written))
		return;
	for (int i = n - 1; i >= 0 && !t->found; i--) {
		const cJSON *op = cJSON_GetArrayItem(ops, i);
		const char *verb = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "op"));
		const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(op, "path"));
		const cJSON *value = cJSON_GetObjectItemCaseSensitive(op, "value"), *node;
		size_t len = path ? strlen(path) : 0;
		char to[32];
		if (!verb || !path || !value || (strcmp(verb, "add") && strcmp(verb, "replace")) ||
		    strncmp(t->pointer, path, len) || (t->pointer[len] && t->pointer[len] != '/'))
			continue;
		node = ds_pointer_get(value, t->pointer + len);
		snprintf(to, sizeof(to), "/%d/value", i);
		if (node && ds_render_same(node, t->value))
			found_at(t, src, doc, ops, node, path, editable ? to : NULL);
	}
}

/* The documents of an inline patch (a string of a kustomization). */
struct inline_docs {
	ds_document **docs;
	size_t count;
};

static int keep_inline(void *data, ds_document *doc)
{
	struct inline_docs *in = data;
	ds_document **grown = ds_array_grow(in->docs, in->count, sizeof(*grown));

	if (!grown) {
		ds_document_free(doc);
		return -1;
	}
	in->docs = grown;
	grown[in->count++] = doc;
	return 0;
}

/* Tries the patch `entry` of the kustomization k (its file src, in the
 * directory kdir): the file a `path` names, or the inline text, whose
 * place is the entry itself (not edited). json: a JSON 6902 patch; else
 * whatever its text is (a list of operations, or documents to merge). */
static void try_patch(struct trace *t, const ds_source *k, const char *kdir, const cJSON *entry, bool json)
{
	const cJSON *target = cJSON_GetObjectItemCaseSensitive(entry, "target");
	const char *path = cJSON_IsString(entry) ? entry->valuestring
						 : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(entry, "path"));
	const cJSON *inline_patch = cJSON_IsString(entry) ? entry : cJSON_GetObjectItemCaseSensitive(entry, "patch");
	struct inline_docs in = {0};
	ds_diag_list diags = {0};

	if (path && !strchr(path, '\n')) {
		char *joined = ds_path_join(kdir, path), *real = joined ? realpath(joined, NULL) : NULL;
		const ds_source *src = real ? ds_render_source(t->rd, real, DS_SOURCE_WHOLE) : NULL;
		free(joined);
		free(real);
		for (size_t i = 0; src && i < src->doc_count && !t->found; i++) {
			const cJSON *root = src->docs[i].doc->root;
			if (cJSON_IsArray(root) || json)
				try_json_patch(t, src, &src->docs[i], root, target, true);
			else
				try_merge_patch(t, src, &src->docs[i], root, target, true);
		}
		return;
	}
	if (!cJSON_IsString(inline_patch))
		return;
	ds_yaml_load(inline_patch->valuestring, strlen(inline_patch->valuestring), keep_inline, &in, &diags);
	for (size_t i = 0; i < in.count && !t->found; i++) {
		const cJSON *root = in.docs[i]->root;
		const ds_source_doc text = {in.docs[i], 0, strlen(inline_patch->valuestring), 1};
		struct trace probe = *t;
		ds_render_spot spot = {0};
		probe.spot = &spot;
		if (cJSON_IsArray(root) || json)
			try_json_patch(&probe, k, &text, root, target, false);
		else
			try_merge_patch(&probe, k, &text, root, target, false);
		ds_render_spot_free(&spot);
		/* the inline text is placed at its entry in the kustomization */
		if (probe.found)
			found_at(t, k, &k->docs[0], k->docs[0].doc->root, inline_patch, NULL, NULL);
	}
	for (size_t i = 0; i < in.count; i++)
		ds_document_free(in.docs[i]);
	free(in.docs);
	ds_diag_list_free(&diags);
}

/* Tries the patches of the kustomization file `in` (a real path), latest
 * applied first: patchesJson6902, patches, patchesStrategicMerge. */
static void try_patches(struct trace *t, const char *in)
{
	static const struct {
		const char *key;
		bool json;
	} fields[] = {{"patchesJson6902", true}, {"patches", false}, {"patchesStrategicMerge", false}};
	const ds_source *k = ds_render_source(t->rd, in, DS_SOURCE_WHOLE);
	char *kdir = strdup(in);

	if (!kdir) {
		t->oom = true;
		return;
	}
	*strrchr(kdir, '/') = '\0';
	for (size_t f = 0; k && k->doc_count && f < sizeof(fields) / sizeof(fields[0]) && !t->found; f++) {
		const cJSON *list = cJSON_GetObjectItemCaseSensitive(k->docs[0].doc->root, fields[f].key);
		for (int i = cJSON_GetArraySize(list) - 1; i >= 0 && !t->found; i--)
			try_patch(t, k, kdir, cJSON_GetArrayItem(list, i), fields[f].json);
	}
	free(kdir);
}

/* The `namespace:` of the kustomization file `in`, when it is the value. */
static void try_namespace(struct trace *t, const char *in)
{
	const ds_source *k = ds_render_source(t->rd, in, DS_SOURCE_WHOLE);
	const cJSON *ns = k && k->doc_count ? cJSON_GetObjectItemCaseSensitive(k->docs[0].doc->root, "namespace") : NULL;

	if (ns && ds_render_same(ns, t->value))
		found_at(t, k, &k->docs[0], k->docs[0].doc->root, ns, NULL, NULL);
}

int ds_kustomize_trace(ds_render *rd, const ds_render_transform *transforms, size_t count, const char *kind,
		       const char *name, const char *source_name, const char *pointer, const cJSON *value,
		       ds_render_spot *spot)
{
	struct trace t = {.rd = rd, .kind = kind, .name = name, .written = source_name, .pointer = pointer,
			  .value = value, .spot = spot};

	memset(spot, 0, sizeof(*spot));
	for (size_t i = count; i-- > 0 && !t.found && !t.oom;) {
		const ds_render_transform *tr = &transforms[i];
		bool seen = false;
		if (!tr->in)
			continue;
		/* a kustomization's patches are tried once, at its last transformation */
		for (size_t j = i + 1; j < count && !seen; j++)
			seen = transforms[j].in && !strcmp(transforms[j].in, tr->in) && strstr(transforms[j].kind, "Patch");
		if (!strcmp(tr->kind, "NamespaceTransformer") && !strcmp(pointer, "/metadata/namespace"))
			try_namespace(&t, tr->in);
		else if (strstr(tr->kind, "Patch") && !seen)
			try_patches(&t, tr->in);
	}
	if (t.oom) {
		ds_render_spot_free(spot);
		return -1;
	}
	return t.found ? 1 : 0;
}
