/* run.c - one lint run: walks the inputs, reads each manifest, checks every
 * DaemonSet, then checks namespaces across all of them (DS003). */
#include "lint/lint.h"
#include "yaml/document.h"
#include "lint/fix.h"
#include "util/util.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* What DS003 needs of one DaemonSet, kept after its file is released:
 * what ds_exemption_decide() reads, and no more. */
struct ns_entry {
	const char *ns, *name; /* borrowed from the DaemonSet's record in the report */
	const char *file;      /* borrowed from the report's file names */
	char *ignore;          /* its dsguard.io/ignore annotation when that is a string, else NULL */
	char *reason;          /* its dsguard.io/ignore-reason, cut to DS_EXEMPTION_REASON_MAX, or NULL */
	cJSON *labels;         /* its labels whose keys some config exemption names, or NULL */
	ds_pos pos;            /* where a DS003 finding points */
	size_t file_index;
};

/* The kind of every resource that has findings (see ds_is_daemonset()). */
static const char daemonset_kind[] = "DaemonSet";

/* A directory on the current walk, to catch symlink loops. */
struct dir_chain {
	dev_t dev;
	ino_t ino;
	const char *path;
	const struct dir_chain *up;
};

/* One file to read, found by the walk. Its index orders the output. */
struct input {
	const char *name; /* borrowed from the report's file names */
	/* The path on the command line it was found from (borrowed from the
	 * caller's paths): a directory it lies below, or the file itself
	 * (root_is_file). --fix writes nothing outside it. */
	const char *root;
	bool root_is_file;
	size_t index;
	char *diff;       /* its --diff output, printed in input order */
	size_t diff_len;
	bool is_stdin;    /* read "-" (name is then --stdin-filename or "-") */
	bool done;        /* read, and its diff ready to print */
};

/* The state of one worker (or of the walk): what it found so far. */
struct run {
	const ds_lint_options *opts;
	ds_context ctx;
	ds_lint_report *report;
	struct ns_entry *entries;
	size_t entry_count;
	size_t file_index;
	struct input *input; /* the input being read */
	const char *file;    /* and its name */
	const char *text; /* and its text */
	size_t text_len;
	ds_edit_list edits; /* the file's fixes, with --fix or --diff */
	bool namespace_rules; /* a namespace rule is on: keep what it needs of each DaemonSet */
	bool oom;
};

static char *dup_or_flag(struct run *r, const char *s)
{
	char *copy = strdup(s ? s : "");

	if (!copy)
		r->oom = true;
	return copy;
}

static void add_problem(struct run *r, const char *file, ds_pos pos, bool is_error, const char *message)
{
	ds_lint_report *rep = r->report;
	ds_lint_problem *grown = ds_array_grow(rep->problems, rep->problem_count, sizeof(*grown));

	if (!grown) {
		r->oom = true;
		return;
	}
	rep->problems = grown;
	grown[rep->problem_count++] = (ds_lint_problem){dup_or_flag(r, file), pos.line, pos.column, is_error,
						       dup_or_flag(r, message), r->file_index};
	if (is_error)
		rep->summary.input_errors++;
}

/* Adds finding f about the DaemonSet ns/name at pos in file (strings the
 * report keeps until it is freed). Returns the lint finding, or NULL out
 * of memory. */
static ds_lint_finding *add_finding(struct run *r, const char *ns, const char *name, const ds_finding *f,
				    const char *file, ds_pos pos, size_t file_index)
{
	ds_lint_report *rep = r->report;
	ds_lint_finding *grown = ds_array_grow(rep->findings, rep->finding_count, sizeof(*grown));

	if (!grown) {
		r->oom = true;
		return NULL;
	}
	rep->findings = grown;
	grown[rep->finding_count++] = (ds_lint_finding){
		.rule = f->rule, .severity = f->severity, .exempt = f->exempt, .exempted_by = f->exempted_by,
		.exempt_reason = f->exempt_reason ? dup_or_flag(r, f->exempt_reason) : NULL,
		.exemption = f->exemption, .expired = f->expired, .exemption_refused = f->exemption_refused,
		.line = pos.line, .column = pos.column, .message = dup_or_flag(r, f->message), .file = file,
		.kind = daemonset_kind, .namespace = ns, .name = name, .file_index = file_index};
	if (f->exempt)
		rep->summary.exempted++;
	else if (f->severity == DS_SEVERITY_ERROR)
		rep->summary.errors++;
	else if (f->severity == DS_SEVERITY_WARNING)
		rep->summary.warnings++;
	return &grown[rep->finding_count - 1];
}

/* Plans the text edits for finding f of res (with --fix or --diff); marks
 * the lint finding fixed, or notes why not (the rule's reason, or why an
 * edit cannot be made in the text). A fix is all its operations or none:
 * when one cannot be made, the edits planned for the others are dropped.
 * res_edits is where res's edits begin in the list. */
static void plan_fix(struct run *r, const ds_document *doc, const cJSON *res, const ds_evaluation *ev,
		     const ds_finding *f, ds_lint_finding *lf, size_t res_edits)
{
	size_t planned = 0, first = r->edits.count;
	char *why = NULL;

	for (size_t i = 0; i < ev->op_count && !why && !r->oom; i++) {
		int rc;
		if (ev->ops[i].rule != f->rule)
			continue;
		rc = ds_fix_plan(r->text, r->text_len, doc, res, &ev->ops[i], &r->edits, &why);
		if (rc < 0)
			r->oom = true;
		planned += rc == 0;
	}
	if (!why && planned && ds_edits_clash(&r->edits, res_edits, first))
		why = dup_or_flag(r, "its edit would overlap the edit of another fix");
	if (why || r->oom)
		ds_edit_list_truncate(&r->edits, first);
	if (why)
		lf->fix_note = why;
	else if (planned)
		lf->fixed = true;
	else if (f->unfixable)
		lf->fix_note = dup_or_flag(r, f->unfixable);
}

/* Whether some config exemption selects by the label `key`. */
static bool label_wanted(const ds_config *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->exemption_count; i++)
		for (size_t j = 0; j < cfg->exemptions[i].label_count; j++)
			if (!strcmp(cfg->exemptions[i].labels[j].key, key))
				return true;
	return false;
}

/* The labels of res that config exemptions select by (a new object), or
 * NULL when there are none. A value longer than a label value can be
 * (63) can match no exemption and is not kept. */
static cJSON *wanted_labels(struct run *r, const cJSON *res)
{
	const cJSON *labels = ds_pointer_get(res, "/metadata/labels"), *item;
	cJSON *kept = NULL;

	if (!cJSON_IsObject(labels) || !r->opts->config->exemption_count)
		return NULL;
	cJSON_ArrayForEach(item, labels) {
		if (!cJSON_IsString(item) || strlen(item->valuestring) > 63 || !label_wanted(r->opts->config, item->string))
			continue;
		if (!kept && !(kept = cJSON_CreateObject())) {
			r->oom = true;
			return NULL;
		}
		if (!cJSON_AddStringToObject(kept, item->string, item->valuestring))
			r->oom = true;
	}
	return kept;
}

/* Keeps what the namespace rules, which run once every file is read, need
 * of res, the DaemonSet ns/name: its identity (borrowed), where a finding
 * points, its exemption annotations (the reason cut as findings cut it)
 * and the labels config exemptions select by. Nothing else of the
 * document is kept. */
static void remember_namespace(struct run *r, const ds_document *doc, const cJSON *res, const char *ns,
			       const char *name)
{
	const cJSON *annotations = ds_pointer_get(res, "/metadata/annotations");
	const cJSON *ignore = cJSON_GetObjectItemCaseSensitive(annotations, DS_IGNORE_ANNOTATION);
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(annotations, DS_IGNORE_REASON_ANNOTATION);
	struct ns_entry *grown;

	if (!r->namespace_rules)
		return;
	grown = ds_array_grow(r->entries, r->entry_count, sizeof(*grown));
	if (!grown) {
		r->oom = true;
		return;
	}
	r->entries = grown;
	grown[r->entry_count++] = (struct ns_entry){
		.ns = ns, .name = name, .file = r->file,
		.ignore = cJSON_IsString(ignore) ? dup_or_flag(r, ignore->valuestring) : NULL,
		.labels = wanted_labels(r, res),
		.pos = ds_document_locate(doc, res, "/metadata/namespace", NULL), .file_index = r->file_index};
	if (cJSON_IsString(ignore) && cJSON_IsString(reason) &&
	    !(grown[r->entry_count - 1].reason = ds_text_cut(reason->valuestring, DS_EXEMPTION_REASON_MAX)))
		r->oom = true;
}

/* Lists res among the DaemonSets checked, with or without findings: its
 * namespace and name in one allocation. Returns the record (valid until
 * the next is added), or NULL out of memory. */
static const ds_lint_daemonset *add_daemonset(struct run *r, const cJSON *res)
{
	ds_lint_report *rep = r->report;
	const char *ns = ds_resource_namespace(res, &r->ctx), *name = ds_resource_name(res);
	size_t ns_size = strlen(ns) + 1, name_size = strlen(name) + 1;
	ds_lint_daemonset *grown = ds_array_grow(rep->daemonsets, rep->daemonset_count, sizeof(*grown));
	char *strings = grown ? malloc(ns_size + name_size) : NULL;

	if (grown)
		rep->daemonsets = grown;
	if (!strings) {
		r->oom = true;
		return NULL;
	}
	memcpy(strings, ns, ns_size);
	memcpy(strings + ns_size, name, name_size);
	grown[rep->daemonset_count] = (ds_lint_daemonset){
		.file = r->file, .namespace = strings, .name = strings + ns_size, .file_index = r->file_index,
		.seq = rep->daemonset_count};
	return &grown[rep->daemonset_count++];
}

static void check_daemonset(struct run *r, const ds_document *doc, const cJSON *res)
{
	const ds_lint_daemonset *ds;
	const char *ns, *name;
	size_t res_edits = r->edits.count;
	ds_evaluation ev;

	r->report->summary.daemonsets++;
	ds = add_daemonset(r, res);
	if (!ds)
		return;
	ns = ds->namespace;
	name = ds->name;
	if (ds_evaluate(res, &r->ctx, DS_SCOPE_OBJECT, &ev) < 0) {
		r->oom = true;
		return;
	}
	for (size_t i = 0; i < ev.finding_count; i++) {
		const ds_finding *f = &ev.findings[i];
		ds_lint_finding *lf = add_finding(r, ns, name, f, r->file,
						  ds_document_locate(doc, res, f->pointer, NULL), r->file_index);
		if (lf && !f->exempt && f->rule->fix && r->opts->fix != DS_FIX_NONE)
			plan_fix(r, doc, res, &ev, f, lf, res_edits);
	}
	ds_evaluation_free(&ev);
	remember_namespace(r, doc, res, ns, name);
}

static bool is_list_kind(const char *kind)
{
	size_t len = strlen(kind);
	return len >= 4 && !strcmp(kind + len - 4, "List");
}

/* Checks one object of a document; a List's items are objects in turn. */
static void check_object(struct run *r, const ds_document *doc, const cJSON *obj, int depth)
{
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "kind"));
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(obj, "items");
	const cJSON *item;

	if (!cJSON_IsObject(obj) || !kind || !*kind)
		return;
	if (is_list_kind(kind) && cJSON_IsArray(items) && depth < 8) {
		cJSON_ArrayForEach(item, items)
			check_object(r, doc, item, depth + 1);
		return;
	}
	r->report->summary.resources++;
	if (ds_is_daemonset(obj))
		check_daemonset(r, doc, obj);
}

/* Only DaemonSets and lists (which may hold them) are read whole. */
static bool needs_whole_document(const char *kind)
{
	return kind && (!strcmp(kind, "DaemonSet") || is_list_kind(kind));
}

static int on_document(void *data, ds_document *doc)
{
	struct run *r = data;

	check_object(r, doc, doc->root, 0);
	ds_document_free(doc);
	return r->oom ? -1 : 0;
}

/* A hint for the text that looks like a Helm template. */
static void add_parse_problems(struct run *r, const ds_diag_list *diags, const char *text)
{
	for (size_t i = 0; i < diags->count; i++) {
		const ds_diag *d = &diags->items[i];
		char *message = NULL;
		if (d->is_error && strstr(text, "{{") &&
		    asprintf(&message, "%s; this looks like a Helm template: render it first "
				       "(helm template ... | dsguard lint -)", d->message) < 0)
			message = NULL;
		add_problem(r, r->file, d->pos, d->is_error, message ? message : d->message);
		free(message);
	}
}

/* Counts the findings of the current file that its edits fix, now that
 * they are made. */
static void count_fixed(struct run *r)
{
	ds_lint_summary *s = &r->report->summary;

	for (size_t i = r->report->finding_count; i-- > 0 && r->report->findings[i].file_index == r->file_index;) {
		const ds_lint_finding *f = &r->report->findings[i];
		if (!f->fixed)
			continue;
		s->fixed++;
		/* A file rewritten no longer holds the finding. */
		if (r->opts->fix == DS_FIX_WRITE && f->severity == DS_SEVERITY_ERROR)
			s->errors--;
		else if (r->opts->fix == DS_FIX_WRITE && f->severity == DS_SEVERITY_WARNING)
			s->warnings--;
	}
}

/* The current file's findings that its edits fix stay open: the file was
 * not written (the input error says why). Each says so. */
static void keep_open(struct run *r)
{
	for (size_t i = r->report->finding_count; i-- > 0 && r->report->findings[i].file_index == r->file_index;) {
		ds_lint_finding *f = &r->report->findings[i];
		if (!f->fixed)
			continue;
		f->fixed = false;
		free(f->fix_note);
		f->fix_note = strdup("the fixed file was not written; see the error for this file");
		if (!f->fix_note)
			r->oom = true;
	}
}

/* Applies the current file's edits: prints the diff (--diff) or rewrites
 * the file (--fix). A file that is not written is an input error, and its
 * findings stay open. */
static void apply_fixes(struct run *r, const char *path, const char *name)
{
	size_t fixed_len;
	char *fixed = ds_edits_apply(r->text, r->text_len, &r->edits, &fixed_len);
	char *message = NULL, *error = NULL;

	if (!fixed) {
		r->oom = true;
		return;
	}
	if (r->opts->fix == DS_FIX_DIFF) {
		FILE *mem = open_memstream(&r->input->diff, &r->input->diff_len);
		if (!mem || ds_unified_diff(mem, name, r->text, r->text_len, fixed, fixed_len) < 0)
			r->oom = true;
		else
			count_fixed(r);
		if (mem)
			fclose(mem);
	} else if (r->input->is_stdin) {
		add_problem(r, name, (ds_pos){0, 0}, true, "--fix cannot rewrite standard input; use --diff");
		keep_open(r);
	} else if (ds_write_fixed(path, r->input->root, r->input->root_is_file, fixed, fixed_len, &error) < 0) {
		message = ds_format("cannot write the fixed file: %s", error ? error : "out of memory");
		add_problem(r, name, (ds_pos){0, 0}, true, message ? message : "cannot write the fixed file");
		keep_open(r);
		free(message);
		free(error);
	} else {
		count_fixed(r);
	}
	free(fixed);
}

/* Reads and checks one input. */
static void lint_source(struct run *r, struct input *in)
{
	const char *path = in->is_stdin ? "-" : in->name, *name = in->name;
	ds_diag_list diags = {0};
	char *buf = NULL, *error = NULL;
	size_t len;

	r->input = in;
	r->file = name;
	r->file_index = in->index;
	r->report->summary.files++;
	if (ds_read_file(path, DS_MAX_FILE_BYTES, &buf, &len, &error) < 0) {
		add_problem(r, name, (ds_pos){0, 0}, true, error ? error : "out of memory");
		free(error);
		return;
	}
	r->text = buf;
	r->text_len = len;
	ds_yaml_load_filtered(buf, len, needs_whole_document, on_document, r, &diags);
	add_parse_problems(r, &diags, buf);
	ds_diag_list_free(&diags);
	if (r->edits.count)
		apply_fixes(r, path, name);
	ds_edit_list_free(&r->edits);
	r->text = NULL;
	free(buf);
}

static bool excluded(const ds_lint_options *opts, const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	for (size_t i = 0; i < opts->exclude_count; i++)
		if (!fnmatch(opts->excludes[i], path, 0) || !fnmatch(opts->excludes[i], base, 0))
			return true;
	return false;
}

static bool has_manifest_extension(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml") || !strcmp(dot, ".json"));
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* The walk: inputs in output order, and the problems met on the way. */
struct walk {
	struct run *run; /* collects the walk's problems */
	struct input *inputs;
	size_t count;
};

/* Gives the report the file name `name` to keep (every finding, DaemonSet
 * and DS003 entry of the file borrows it). Returns 0, or -1 out of memory
 * with name freed. */
static int keep_file_name(ds_lint_report *rep, char *name)
{
	char **grown = ds_array_grow(rep->files, rep->file_count, sizeof(*grown));

	if (!grown) {
		free(name);
		return -1;
	}
	rep->files = grown;
	grown[rep->file_count++] = name;
	return 0;
}

/* Adds the file `name` (standard input when is_stdin), found from `root`,
 * to the inputs. */
static void add_input(struct walk *w, bool is_stdin, const char *name, const char *root)
{
	struct input *grown = ds_array_grow(w->inputs, w->count, sizeof(*grown));
	char *copy = grown ? strdup(name) : NULL;

	if (grown)
		w->inputs = grown;
	if (!copy || keep_file_name(w->run->report, copy) < 0) {
		w->run->oom = true;
		return;
	}
	grown[w->count++] = (struct input){.name = copy, .root = root, .root_is_file = root == name,
					   .is_stdin = is_stdin, .index = ++w->run->file_index};
}

/* A problem of the walk itself, at its place in the output order. */
static void walk_problem(struct walk *w, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void walk_problem(struct walk *w, const char *path, const char *fmt, ...)
{
	char *message = NULL;
	va_list ap;

	w->run->file_index++;
	va_start(ap, fmt);
	message = ds_vformat(fmt, ap);
	va_end(ap);
	add_problem(w->run, path, (ds_pos){0, 0}, true, message ? message : "cannot read");
	free(message);
}

static void walk_path(struct walk *w, const char *path, const char *root, const struct dir_chain *up);

/* Walks the directory `path` (of stat st), found from the named path root. */
static void walk_dir(struct walk *w, const char *path, const char *root, const struct stat *st,
		     const struct dir_chain *up)
{
	struct dir_chain here = {st->st_dev, st->st_ino, path, up};
	struct dirent **entries = NULL;
	int n;

	for (const struct dir_chain *c = up; c; c = c->up) {
		if (c->dev == st->st_dev && c->ino == st->st_ino) {
			walk_problem(w, path, "symlink loop: this directory is %s again; not followed", c->path);
			return;
		}
	}
	n = scandir(path, &entries, NULL, by_name);
	if (n < 0) {
		walk_problem(w, path, "cannot read the directory: %s", strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		char *child = NULL;
		if (entries[i]->d_name[0] != '.' &&
		    asprintf(&child, "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", entries[i]->d_name) >= 0) {
			walk_path(w, child, root, &here);
			free(child);
		}
		free(entries[i]);
	}
	free(entries);
}

/* Walks path, found from root: a path named on the command line (then
 * path is root) or a directory it names. */
static void walk_path(struct walk *w, const char *path, const char *root, const struct dir_chain *up)
{
	const ds_lint_options *opts = w->run->opts;
	bool named = path == root;
	struct stat st;

	if (excluded(opts, path))
		return;
	if (!strcmp(path, "-") && named) {
		add_input(w, true, opts->stdin_name ? opts->stdin_name : "-", NULL);
		return;
	}
	if (stat(path, &st) < 0) {
		if (named || errno != ENOENT)
			walk_problem(w, path, "cannot open: %s", strerror(errno));
		return;
	}
	if (S_ISDIR(st.st_mode))
		walk_dir(w, path, root, &st, up);
	else if (named || (S_ISREG(st.st_mode) && has_manifest_extension(path)))
		add_input(w, false, path, root);
}

static int entry_order(const void *a, const void *b)
{
	const struct ns_entry *x = a, *y = b;
	int c = strcmp(x->ns, y->ns);
	return c ? c : strcmp(x->name, y->name);
}

/* The first of the sorted entries that is not before (ns, name); with
 * name NULL, the first of namespace ns. */
static size_t entries_from(const struct run *r, const char *ns, const char *name)
{
	size_t lo = 0, hi = r->entry_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->entries[mid].ns, ns);
		if (c < 0 || (c == 0 && name && strcmp(r->entries[mid].name, name) <= 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The ds_namespace_lookup over the run's sorted entries: the first name of
 * the namespace other than `name`, found by binary search however many
 * times one name repeats. */
static ds_namespace_answer other_in_namespace(void *data, const char *ns, const char *name, char **other)
{
	const struct run *r = data;
	size_t at = entries_from(r, ns, NULL);

	if (at < r->entry_count && !strcmp(r->entries[at].ns, ns) && !strcmp(r->entries[at].name, name))
		at = entries_from(r, ns, name); /* past every entry named `name` */
	if (at == r->entry_count || strcmp(r->entries[at].ns, ns))
		return DS_NAMESPACE_FREE;
	*other = strdup(r->entries[at].name);
	return DS_NAMESPACE_SHARED;
}

/* Adds to object a member whose key and string value are both references
 * to storage that outlives it. Returns false out of memory. */
static bool add_reference(cJSON *object, const char *key, const char *value)
{
	cJSON *item = cJSON_CreateStringReference(value);

	if (!item || !cJSON_AddItemToObjectCS(object, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

/* The DaemonSet of entry e as DS003 and its exemptions read it:
 * apiVersion, kind and metadata's name, namespace, exemption annotations
 * and the labels kept, all borrowed from e. Returns a new tree, or NULL
 * out of memory. */
static cJSON *namespace_stub(const struct ns_entry *e)
{
	cJSON *stub = cJSON_CreateObject();
	cJSON *meta = cJSON_AddObjectToObject(stub, "metadata");
	cJSON *annotations = e->ignore ? cJSON_AddObjectToObject(meta, "annotations") : NULL;

	if (!meta || (e->ignore && !annotations) || !add_reference(stub, "apiVersion", "apps/v1") ||
	    !add_reference(stub, "kind", daemonset_kind) || !add_reference(meta, "name", e->name) ||
	    !add_reference(meta, "namespace", e->ns) ||
	    (e->ignore && !add_reference(annotations, DS_IGNORE_ANNOTATION, e->ignore)) ||
	    (e->reason && !add_reference(annotations, DS_IGNORE_REASON_ANNOTATION, e->reason)) ||
	    (e->labels && !cJSON_AddItemReferenceToObject(meta, "labels", e->labels))) {
		cJSON_Delete(stub);
		return NULL;
	}
	return stub;
}

/* The namespace rules over every DaemonSet the run saw. */
static void check_namespaces(struct run *r)
{
	ds_namespace_lookup lookup = {other_in_namespace, r};
	ds_context ctx = r->ctx;

	ctx.namespaces = &lookup;
	if (r->entry_count) /* qsort(NULL, 0, ...) is undefined */
		qsort(r->entries, r->entry_count, sizeof(*r->entries), entry_order);
	for (size_t i = 0; i < r->entry_count && !r->oom; i++) {
		const struct ns_entry *e = &r->entries[i];
		cJSON *stub = namespace_stub(e);
		ds_evaluation ev;
		if (!stub || ds_evaluate(stub, &ctx, DS_SCOPE_NAMESPACE, &ev) < 0) {
			cJSON_Delete(stub);
			r->oom = true;
			break;
		}
		for (size_t j = 0; j < ev.finding_count; j++)
			add_finding(r, e->ns, e->name, &ev.findings[j], e->file, e->pos, e->file_index);
		ds_evaluation_free(&ev);
		cJSON_Delete(stub);
	}
}

static int finding_order(const void *a, const void *b)
{
	const ds_lint_finding *x = a, *y = b;
	int c;

	if (x->file_index != y->file_index)
		return x->file_index < y->file_index ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	if (x->rule != y->rule)
		return x->rule < y->rule ? -1 : 1;
	c = strcmp(x->namespace, y->namespace);
	return c ? c : strcmp(x->name, y->name);
}

static int problem_order(const void *a, const void *b)
{
	const ds_lint_problem *x = a, *y = b;

	if (x->file_index != y->file_index)
		return x->file_index < y->file_index ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return strcmp(x->message, y->message);
}

static void free_entries(struct run *r)
{
	for (size_t i = 0; i < r->entry_count; i++) {
		free(r->entries[i].ignore);
		free(r->entries[i].reason);
		cJSON_Delete(r->entries[i].labels);
	}
	free(r->entries);
}

/* The work shared by the threads of a run: inputs handed out in order.
 * With --diff, each input's diff is printed as soon as every input before
 * it is done, and no input is handed out more than `ahead` inputs past the
 * first whose diff is not printed yet: the diffs held for ordered output
 * stay few, whatever the number of inputs. */
struct pool {
	struct input *inputs;
	size_t count;
	size_t next;        /* the next input to hand out */
	size_t printed;     /* the inputs before it are done and their diffs printed */
	size_t ahead;       /* how far past it inputs are handed out, with --diff */
	FILE *diff_out;     /* where --diff output goes; NULL without --diff */
	pthread_mutex_t lock;
	pthread_cond_t printed_more;
};

struct worker {
	struct pool *pool;
	struct run run;
	ds_lint_report report;
	pthread_t thread;
};

/* Marks input i done, then prints and frees the diffs of the inputs done
 * in a row from the first not printed yet (with --diff). */
static void input_done(struct pool *p, size_t i)
{
	if (!p->diff_out)
		return;
	pthread_mutex_lock(&p->lock);
	p->inputs[i].done = true;
	for (; p->printed < p->count && p->inputs[p->printed].done; p->printed++) {
		struct input *in = &p->inputs[p->printed];
		if (in->diff)
			fwrite(in->diff, 1, in->diff_len, p->diff_out);
		free(in->diff);
		in->diff = NULL;
	}
	pthread_cond_broadcast(&p->printed_more);
	pthread_mutex_unlock(&p->lock);
}

/* Reads inputs until there are none left or memory runs out. An input
 * taken is always marked done, so that no thread waits for it forever. */
static void *work(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;

	for (;;) {
		size_t i;
		pthread_mutex_lock(&p->lock);
		while (p->diff_out && p->next < p->count && p->next - p->printed >= p->ahead)
			pthread_cond_wait(&p->printed_more, &p->lock);
		i = p->next++;
		pthread_mutex_unlock(&p->lock);
		if (i >= p->count)
			return NULL;
		if (!w->run.oom)
			lint_source(&w->run, &p->inputs[i]);
		input_done(p, i);
		if (w->run.oom)
			return NULL;
	}
}

/* Appends n items of size `size` from *src to *dst (growing it), and
 * releases *src; an empty *dst takes *src as it is. Returns 0 or -1 out of
 * memory (*src then unchanged). */
static int take_all(void **dst, size_t *dst_count, void **src, size_t *src_count, size_t size)
{
	char *grown;

	if (!*dst_count) {
		free(*dst);
		*dst = *src;
		*dst_count = *src_count;
		*src = NULL;
		*src_count = 0;
		return 0;
	}
	if (*src_count) {
		grown = realloc(*dst, size * ds_array_capacity(*dst_count + *src_count));
		if (!grown)
			return -1;
		memcpy(grown + size * *dst_count, *src, size * *src_count);
		*dst = grown;
		*dst_count += *src_count;
	}
	free(*src);
	*src = NULL;
	*src_count = 0;
	return 0;
}

static void add_summary(ds_lint_summary *to, const ds_lint_summary *s)
{
	to->files += s->files;
	to->resources += s->resources;
	to->daemonsets += s->daemonsets;
	to->errors += s->errors;
	to->warnings += s->warnings;
	to->exempted += s->exempted;
	to->input_errors += s->input_errors;
	to->fixed += s->fixed;
}

/* Moves what worker w found into the main run. Returns 0 or -1. */
static int merge_worker(struct run *main_run, struct worker *w)
{
	ds_lint_report *to = main_run->report, *from = &w->report;

	add_summary(&to->summary, &from->summary);
	memset(&from->summary, 0, sizeof(from->summary));
	if (take_all((void **)&to->findings, &to->finding_count, (void **)&from->findings, &from->finding_count,
		     sizeof(*to->findings)) < 0 ||
	    take_all((void **)&to->problems, &to->problem_count, (void **)&from->problems, &from->problem_count,
		     sizeof(*to->problems)) < 0 ||
	    take_all((void **)&to->daemonsets, &to->daemonset_count, (void **)&from->daemonsets,
		     &from->daemonset_count, sizeof(*to->daemonsets)) < 0 ||
	    take_all((void **)&main_run->entries, &main_run->entry_count, (void **)&w->run.entries,
		     &w->run.entry_count, sizeof(*main_run->entries)) < 0)
		return -1;
	return w->run.oom ? -1 : 0;
}

static int daemonset_order(const void *a, const void *b)
{
	const ds_lint_daemonset *x = a, *y = b;

	if (x->file_index != y->file_index)
		return x->file_index < y->file_index ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* How many threads to use: --jobs, else one per core, never more than
 * there are inputs. */
static size_t thread_count(const ds_lint_options *opts, size_t inputs)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n = opts->jobs ? opts->jobs : cores > 0 ? (size_t)cores : 1;

	return n > inputs ? (inputs ? inputs : 1) : n;
}

/* Lints the inputs on `threads` threads, then merges what each found.
 * Returns 0 or -1 out of memory. */
static int lint_inputs(struct run *main_run, struct input *inputs, size_t count)
{
	size_t threads = thread_count(main_run->opts, count), started = 0;
	struct pool pool = {
		.inputs = inputs, .count = count, .ahead = threads < 32 ? 64 : 2 * threads,
		.diff_out = main_run->opts->fix == DS_FIX_DIFF ? main_run->opts->diff_out : NULL,
		.lock = PTHREAD_MUTEX_INITIALIZER, .printed_more = PTHREAD_COND_INITIALIZER};
	struct worker *workers = calloc(threads, sizeof(*workers));
	int rc = workers ? 0 : -1;

	for (size_t i = 0; workers && i < threads; i++) {
		workers[i].pool = &pool;
		workers[i].run = (struct run){.opts = main_run->opts, .ctx = main_run->ctx, .report = &workers[i].report,
					      .namespace_rules = main_run->namespace_rules};
		if (i > 0 && pthread_create(&workers[i].thread, NULL, work, &workers[i]) != 0)
			break;
		started++;
	}
	if (workers && started > 0)
		work(&workers[0]);
	for (size_t i = 1; i < started; i++)
		pthread_join(workers[i].thread, NULL);
	for (size_t i = 0; i < started; i++) {
		if (merge_worker(main_run, &workers[i]) < 0)
			rc = -1;
		ds_lint_report_free(&workers[i].report);
		free_entries(&workers[i].run);
	}
	free(workers);
	return started > 0 ? rc : -1;
}

static void free_inputs(struct input *inputs, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(inputs[i].diff);
	free(inputs);
}

/* An input warning, before every file's problems, for each config
 * exemption that has expired: it exempts nothing any more. */
static void note_expired(struct run *r)
{
	const ds_config *cfg = r->opts->config;
	size_t file_index = r->file_index;

	r->file_index = 0;
	for (size_t i = 0; i < cfg->exemption_count && !r->oom; i++) {
		const ds_exemption *e = &cfg->exemptions[i];
		char *message;
		if (!ds_exemption_expired(e, r->ctx.now))
			continue;
		message = ds_format("this exemption expired (expires: %s) and exempts nothing any more (its reason: "
				    "%s); renew or remove it",
				    e->expires_text, e->reason);
		add_problem(r, e->file, (ds_pos){e->line, e->column}, false, message ? message : "");
		r->oom |= !message;
		free(message);
	}
	r->file_index = file_index;
}

/* Ends a run: DS003 over everything seen, then the report in its order.
 * Returns 0, or -1 (the report emptied) when memory ran out. */
static int finish_run(struct run *r)
{
	ds_lint_report *out = r->report;

	if (!r->oom)
		check_namespaces(r);
	if (!r->oom)
		note_expired(r);
	free_entries(r);
	if (r->oom) {
		ds_lint_report_free(out);
		return -1;
	}
	/* qsort(NULL, 0, ...) is undefined behaviour (the arrays stay NULL when empty) */
	if (out->finding_count)
		qsort(out->findings, out->finding_count, sizeof(*out->findings), finding_order);
	if (out->problem_count)
		qsort(out->problems, out->problem_count, sizeof(*out->problems), problem_order);
	if (out->daemonset_count)
		qsort(out->daemonsets, out->daemonset_count, sizeof(*out->daemonsets), daemonset_order);
	return 0;
}

/* Starts a run over opts that fills out. */
static struct run start_run(const ds_lint_options *opts, ds_lint_report *out)
{
	struct run r = {.opts = opts, .report = out};

	memset(out, 0, sizeof(*out));
	r.ctx.config = opts->config;
	r.ctx.default_namespace = opts->default_namespace;
	r.ctx.now = opts->now ? opts->now : time(NULL);
	for (size_t i = 0; i < DS_RULE_COUNT; i++)
		if (ds_rules[i].scope & DS_SCOPE_NAMESPACE && opts->config->rules[i].severity != DS_SEVERITY_OFF)
			r.namespace_rules = true;
	return r;
}

int ds_lint_paths(const char *const *paths, size_t count, const ds_lint_options *opts, ds_lint_report *out)
{
	struct run r = start_run(opts, out);
	struct walk w = {.run = &r};

	out->rewritten = opts->fix == DS_FIX_WRITE;
	for (size_t i = 0; i < count && !r.oom; i++)
		walk_path(&w, paths[i], paths[i], NULL);
	if (!r.oom && lint_inputs(&r, w.inputs, w.count) < 0)
		r.oom = true;
	free_inputs(w.inputs, w.count);
	return finish_run(&r);
}

int ds_lint_objects_from(ds_lint_next_object next, void *data, const ds_lint_options *opts, ds_lint_report *out)
{
	struct run r = start_run(opts, out);
	const cJSON *obj;

	while (!r.oom && (obj = next(data)) != NULL) {
		char *name = NULL;
		if (asprintf(&name, "apis/apps/v1/namespaces/%s/daemonsets/%s", ds_resource_namespace(obj, &r.ctx),
			     ds_resource_name(obj)) < 0 ||
		    keep_file_name(out, name) < 0) {
			r.oom = true;
			break;
		}
		r.file = name;
		r.file_index++;
		out->summary.files++;
		check_object(&r, NULL, obj, 0);
		r.file = NULL;
	}
	if (finish_run(&r) < 0)
		return -1;
	out->source = "cluster";
	return 0;
}

/* ds_lint_next_object over the items of a cJSON array: data is a cursor
 * (const cJSON **) at the next item. */
static const cJSON *next_item(void *data)
{
	const cJSON **at = data;
	const cJSON *item = *at;

	if (item)
		*at = item->next;
	return item;
}

int ds_lint_objects(const cJSON *objects, const ds_lint_options *opts, ds_lint_report *out)
{
	const cJSON *at = cJSON_IsArray(objects) ? objects->child : NULL;

	return ds_lint_objects_from(next_item, &at, opts, out);
}

void ds_lint_report_free(ds_lint_report *report)
{
	for (size_t i = 0; i < report->finding_count; i++) {
		free(report->findings[i].message);
		free(report->findings[i].fix_note);
		free(report->findings[i].exempt_reason);
	}
	for (size_t i = 0; i < report->problem_count; i++) {
		free(report->problems[i].file);
		free(report->problems[i].message);
	}
	for (size_t i = 0; i < report->daemonset_count; i++)
		free(report->daemonsets[i].namespace);
	for (size_t i = 0; i < report->file_count; i++)
		free(report->files[i]);
	free(report->findings);
	free(report->problems);
	free(report->daemonsets);
	free(report->files);
	memset(report, 0, sizeof(*report));
}

bool ds_lint_finding_open(const ds_lint_report *report, const ds_lint_finding *f)
{
	return !(f->fixed && report->rewritten);
}

int ds_lint_exit_code(const ds_lint_report *report, ds_severity fail_on)
{
	if (report->summary.input_errors)
		return 2;
	if (report->summary.errors || (fail_on == DS_SEVERITY_WARNING && report->summary.warnings))
		return 1;
	return 0;
}
