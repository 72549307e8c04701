/* render.c - one chart or kustomization linted as what it renders to: the
 * renderer found and run (helm template; kustomize build or kubectl
 * kustomize through a temporary kustomization that asks for origin
 * annotations), each rendered DaemonSet traced to the file it came from,
 * findings placed at the line where the field is written, and fixes planned
 * in that file. */
#include "lint/render.h"
#include "util/util.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_TIMEOUT 60
/* How many files a rendering keeps read between findings. */
#define CACHE_SLOTS 8
/* The longest renderer error a message quotes. */
#define MAX_TOOL_ERROR 1000

/* A "# Source: CHART/templates/FILE" comment of helm's output: the line
 * it is on, and the path it names. */
struct mark {
	unsigned line;
	char *path;
	size_t start, end; /* the document after it: from the next line to the next "---" line */
	bool resolved;     /* real and name are known */
	char *real;        /* the template's real path, NULL when it is no file of the chart */
	const char *name;  /* how reports name it (borrowed from the rendering's names) */
};

/* A rendered DaemonSet. Owns its strings. */
struct object {
	char *kind, *name;
	long mark;    /* Helm: the comment before it, or -1 */
	/* Helm: whether its document is written as it rendered in its template
	 * (-1 not known yet), and then how many lines later it starts there */
	int same;
	long shift;
	char *origin; /* Kustomize: the real path of the file it came from, or NULL */
	ds_render_transform *transforms;
	size_t transform_count;
};

/* An object of the document being read, by its place in the tree. */
struct current {
	const cJSON *item;
	long object;
};

struct ds_render {
	ds_render_kind kind;
	const char *dir, *root, *boundary; /* borrowed */
	const ds_lint_options *opts;
	ds_fixes *fixes;
	size_t file_index;
	const char *const *charts; /* every chart of the run, as it names them */
	size_t chart_count;
	char *dir_real, *root_real, *cwd_real;
	char *tool;    /* "helm template", "kustomize build", "kubectl kustomize" */
	bool kubectl;  /* the kustomize is kubectl's */
	char *wrapper; /* Kustomize: the real path of the temporary kustomization's directory */
	const char *stream; /* the rendered output while it is read (borrowed), else NULL */
	size_t stream_len;
	struct mark *marks;
	size_t mark_count;
	struct object *objects;
	size_t object_count;
	struct current *current; /* the objects of the document being read */
	size_t current_count;
	char **names; /* the file names findings borrow */
	char **name_reals;
	size_t name_count;
	/* The files read: all those a finding needs stay while it is placed
	 * or fixed; between findings, the CACHE_SLOTS used last. */
	struct cached {
		ds_source *src;
		unsigned long used;
	} *cache;
	size_t cache_count;
	unsigned long clock;
};

/* ---- paths and names ---- */

/* The part of the absolute path `path` below dir ("" for dir itself), or
 * NULL when it is not at or below dir. */
static const char *below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (!dir || !ds_path_inside(path, dir))
		return NULL;
	if (n == 1)
		return path + 1;
	return path[n] ? path + n + 1 : path + n;
}

/* prefix joined with rest (rest may be ""). A new string or NULL. */
static char *join_name(const char *prefix, const char *rest)
{
	size_t n = strlen(prefix);

	if (!*rest)
		return strdup(prefix);
	return ds_format("%s%s%s", prefix, n && prefix[n - 1] == '/' ? "" : "/", rest);
}

/* How reports name the file at the real path `real`: below the rendered
 * directory or the path named on the command line as they are named, else
 * relative to the working directory, else the real path. A new string. */
static char *display_name(const ds_render *rd, const char *real)
{
	const char *rest;

	if ((rest = below(real, rd->dir_real)) != NULL)
		return join_name(rd->dir, rest);
	if (rd->root_real && (rest = below(real, rd->root_real)) != NULL)
		return join_name(rd->root, rest);
	if (rd->cwd_real && (rest = below(real, rd->cwd_real)) != NULL && *rest)
		return strdup(rest);
	return strdup(real);
}

/* The name of the file at real (a real path, or for a file that cannot
 * be read, the path it would have), made once. Borrowed from rd; NULL out
 * of memory. */
static const char *name_of(ds_render *rd, const char *real, const char *name)
{
	char **names, **reals, *copy, *made;

	for (size_t i = 0; i < rd->name_count; i++)
		if (!strcmp(rd->name_reals[i], real))
			return rd->names[i];
	names = ds_array_grow(rd->names, rd->name_count, sizeof(*names));
	if (names)
		rd->names = names;
	reals = ds_array_grow(rd->name_reals, rd->name_count, sizeof(*reals));
	if (reals)
		rd->name_reals = reals;
	copy = strdup(real);
	made = name ? strdup(name) : display_name(rd, real);
	if (!names || !reals || !copy || !made) {
		free(copy);
		free(made);
		return NULL;
	}
	rd->names[rd->name_count] = made;
	rd->name_reals[rd->name_count++] = copy;
	return made;
}

/* The path from the directory `from` to `to` (both real), "../" where
 * needed. A new string or NULL. */
static char *relative_path(const char *from, const char *to)
{
	size_t common = 0, ups = 0, at;
	char *out, *w;

	/* the longest common prefix that ends at a path separator of both */
	for (size_t i = 0;; i++) {
		bool from_end = !from[i] || from[i] == '/', to_end = !to[i] || to[i] == '/';
		if (from_end && to_end)
			common = i;
		if (!from[i] || !to[i] || from[i] != to[i])
			break;
	}
	for (at = common; from[at]; at++)
		ups += from[at] == '/';
	out = malloc(ups * 3 + strlen(to + common) + 2);
	if (!out)
		return NULL;
	w = out;
	for (size_t i = 0; i < ups; i++)
		w += sprintf(w, "../");
	strcpy(w, to[common] == '/' ? to + common + 1 : to + common);
	if (!*out)
		strcpy(out, ".");
	return out;
}

/* ---- the files read ---- */

static void source_free(ds_source *src)
{
	if (!src)
		return;
	for (size_t i = 0; i < src->doc_count; i++)
		ds_document_free(src->docs[i].doc);
	free(src->docs);
	if (src->parsed != src->text)
		free(src->parsed);
	free(src->text);
	free(src->templated);
	for (size_t i = 0; src->ids && i < src->chunk_count; i++) {
		free(src->ids[i].kind);
		free(src->ids[i].name);
	}
	free(src->ids);
	free(src->chunks);
	free(src->real);
	free(src);
}

/* The part of a source being read. */
struct reading {
	ds_source *src;
	size_t offset, len;
	unsigned line;
	bool oom;
};

static int keep_document(void *data, ds_document *doc)
{
	struct reading *r = data;
	ds_source_doc *grown = ds_array_grow(r->src->docs, r->src->doc_count, sizeof(*grown));

	if (!grown) {
		ds_document_free(doc);
		r->oom = true;
		return -1;
	}
	r->src->docs = grown;
	grown[r->src->doc_count++] = (ds_source_doc){doc, r->offset, r->len, r->line};
	return 0;
}

static bool object_kind(const char *kind)
{
	size_t len = kind ? strlen(kind) : 0;
	return kind && (!strcmp(kind, "DaemonSet") || (len >= 4 && !strcmp(kind + len - 4, "List")));
}

/* Reads the document parsed[from, to) of src, which starts on line `line`;
 * what reads before an error is kept (its positions hold). Returns 0, or
 * -1 out of memory. */
static int read_document(void *data, size_t from, size_t to, unsigned line)
{
	ds_source *src = data;
	struct reading r = {src, from, to - from, line, false};
	ds_diag_list diags = {0};

	ds_yaml_load_filtered(src->parsed + from, to - from, src->use == DS_SOURCE_MANIFEST ? object_kind : NULL,
			      keep_document, &r, &diags);
	ds_diag_list_free(&diags);
	return r.oom ? -1 : 0;
}

/* Adds the document text[from, to) of src, starting on line `line`, to
 * its chunks. Returns 0, or -1 out of memory. */
static int add_chunk(void *data, size_t from, size_t to, unsigned line)
{
	ds_source *src = data;
	ds_chunk *grown = ds_array_grow(src->chunks, src->chunk_count, sizeof(*grown));

	if (!grown)
		return -1;
	src->chunks = grown;
	grown[src->chunk_count++] = (ds_chunk){from, to - from, line};
	return 0;
}

static bool object_kind(const char *kind);

/* Reads the kind and name of each chunk of src line by line, once per
 * file read, so that finding an object among them costs a comparison of
 * names (a search per finding stays linear in the file). Returns 0, or -1
 * out of memory. */
static int identify_chunks(ds_source *src)
{
	static const char *const identity[] = {"/kind", "/metadata/name"};

	src->ids = calloc(src->chunk_count + 1, sizeof(*src->ids));
	if (!src->ids)
		return -1;
	for (size_t i = 0; i < src->chunk_count; i++) {
		const ds_chunk *c = &src->chunks[i];
		ds_chunk_id *id = &src->ids[i];
		ds_located got[2];
		int rc = ds_yaml_locate(src->text + c->start, c->len, identity, 2, got);
		const char *kind = rc == 1 ? cJSON_GetStringValue(got[0].scalar) : NULL;
		const char *name = rc == 1 ? cJSON_GetStringValue(got[1].scalar) : NULL;
		if (rc < 0)
			return -1;
		/* a list's items are the parse's to read */
		id->unread = rc == 0 || (kind && object_kind(kind) && strcmp(kind, "DaemonSet"));
		id->kind = kind && !id->unread ? strdup(kind) : NULL;
		id->name = name && !id->unread ? strdup(name) : NULL;
		ds_located_free(got, 2);
		if ((kind && !id->unread && !id->kind) || (name && !id->unread && !id->name)) {
			free(id->kind);
			free(id->name);
			*id = (ds_chunk_id){0};
			return -1;
		}
	}
	return 0;
}

/* Reads and parses the file at real for use. NULL when it cannot be read
 * or memory ran out. */
static ds_source *source_read(ds_render *rd, const char *real, ds_source_use use)
{
	ds_source *src = calloc(1, sizeof(*src));
	ds_diag_list diags = {0};
	char *error = NULL;

	if (src && stat(real, &src->as_read) < 0)
		memset(&src->as_read, 0, sizeof(src->as_read));
	if (!src || !(src->real = strdup(real)) || !(src->name = name_of(rd, real, NULL)) ||
	    ds_read_file(real, DS_MAX_FILE_BYTES, &src->text, &src->len, &error) < 0) {
		free(error);
		source_free(src);
		return NULL;
	}
	if (use == DS_SOURCE_TEMPLATE)
		src->parsed = ds_template_mask(src->text, src->len, &src->templated, &src->lines);
	else
		src->parsed = src->text;
	if (!src->parsed) {
		source_free(src);
		return NULL;
	}
	src->use = use;
	if (use == DS_SOURCE_TEXT) {
		src->chunks = ds_text_documents(src->text, src->len, &src->chunk_count);
		return src;
	}
	if (use == DS_SOURCE_DAEMONSET_TEXT) {
		if (ds_each_daemonset_document(src->text, src->len, false, add_chunk, src) < 0 || identify_chunks(src) < 0) {
			source_free(src);
			return NULL;
		}
		return src;
	}
	if (use == DS_SOURCE_WHOLE) {
		struct reading r = {src, 0, src->len, 1, false};
		ds_yaml_load(src->parsed, src->len, keep_document, &r, &diags);
		ds_diag_list_free(&diags);
	} else if (ds_each_daemonset_document(src->text, src->len, use == DS_SOURCE_TEMPLATE, read_document, src) < 0) {
		source_free(src);
		return NULL;
	}
	return src;
}

const ds_source *ds_render_source(ds_render *rd, const char *real, ds_source_use use)
{
	struct cached *grown;
	ds_source *src;

	if (!real || !ds_path_inside(real, rd->boundary))
		return NULL;
	for (size_t i = 0; i < rd->cache_count; i++) {
		ds_source *c = rd->cache[i].src;
		if (c->use == (int)use && !strcmp(c->real, real)) {
			rd->cache[i].used = ++rd->clock;
			return c;
		}
	}
	grown = ds_array_grow(rd->cache, rd->cache_count, sizeof(*grown));
	if (!grown)
		return NULL;
	rd->cache = grown;
	if (!(src = source_read(rd, real, use)))
		return NULL;
	rd->cache[rd->cache_count++] = (struct cached){src, ++rd->clock};
	return src;
}

/* Starts placing or fixing a finding: keeps the CACHE_SLOTS files used
 * last, so that what the finding reads stays until it is done. */
static void begin(ds_render *rd)
{
	while (rd->cache_count > CACHE_SLOTS) {
		size_t oldest = 0;
		for (size_t i = 1; i < rd->cache_count; i++)
			if (rd->cache[i].used < rd->cache[oldest].used)
				oldest = i;
		source_free(rd->cache[oldest].src);
		rd->cache[oldest] = rd->cache[--rd->cache_count];
	}
}

static void tell_same(ds_render *rd, struct object *o);

void ds_render_release(ds_render *rd)
{
	/* what a finding made at the end of the run needs of the output */
	for (size_t i = 0; rd->kind == DS_RENDER_HELM && i < rd->object_count; i++) {
		begin(rd);
		if (rd->objects[i].same < 0)
			tell_same(rd, &rd->objects[i]);
	}
	rd->stream = NULL;
	rd->stream_len = 0;
	for (size_t i = 0; i < rd->cache_count; i++)
		source_free(rd->cache[i].src);
	free(rd->cache);
	rd->cache = NULL;
	rd->cache_count = 0;
}

/* ---- running the renderer ---- */

/* The program `name` as the shell would find it: a path when it holds a
 * "/", else the first executable file of that name on PATH. A new string,
 * or NULL when there is none (or out of memory). */
static char *find_program(const char *name)
{
	const char *path = getenv("PATH");

	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? strdup(name) : NULL;
	for (const char *dir = path ? path : "/usr/local/bin:/usr/bin:/bin"; dir;) {
		const char *colon = strchr(dir, ':');
		size_t n = colon ? (size_t)(colon - dir) : strlen(dir);
		char *candidate = ds_format("%.*s/%s", (int)n, n ? dir : ".", name);
		struct stat st;
		if (candidate && stat(candidate, &st) == 0 && S_ISREG(st.st_mode) && access(candidate, X_OK) == 0)
			return candidate;
		free(candidate);
		dir = colon ? colon + 1 : NULL;
	}
	return NULL;
}

/* Whether `name`, the CHART of a CHART=... value, names the chart at dir
 * (as the run names it): its path, or its directory's name. */
static bool names_chart(const char *name, size_t len, const char *dir)
{
	size_t n = strlen(dir);
	const char *base;

	while (n > 1 && dir[n - 1] == '/')
		n--;
	while (len > 1 && name[len - 1] == '/')
		len--;
	if (len == n && !strncmp(name, dir, n))
		return true;
	for (base = dir + n; base > dir && base[-1] != '/'; base--)
		;
	return len == (size_t)(dir + n - base) && !strncmp(name, base, len);
}

/* What a --values or --set entry gives this chart: the entry itself, the
 * part after "CHART=" when CHART names this chart, or NULL when CHART
 * names another chart of the run. */
static const char *for_this_chart(const ds_render *rd, const char *entry)
{
	const char *eq = strchr(entry, '=');
	bool other = false;

	if (!eq)
		return entry;
	if (names_chart(entry, (size_t)(eq - entry), rd->dir))
		return eq + 1;
	for (size_t i = 0; i < rd->chart_count; i++)
		other |= names_chart(entry, (size_t)(eq - entry), rd->charts[i]);
	return other ? NULL : entry;
}

/* Adds "flag value" to argv (room made by the caller). */
static void add_flag(const char **argv, size_t *argc, const char *flag, const char *value)
{
	argv[(*argc)++] = flag;
	argv[(*argc)++] = value;
}

/* The release name: --release-name, else the chart directory's name. */
static const char *release_name(const ds_render *rd)
{
	const char *slash = strrchr(rd->dir_real, '/');

	if (rd->opts->render.release_name)
		return rd->opts->render.release_name;
	return slash && slash[1] ? slash + 1 : rd->dir_real;
}

/* The command line of helm template for the chart. A new array of
 * borrowed strings, or NULL out of memory. */
static const char **helm_argv(const ds_render *rd, const char *helm)
{
	const ds_render_options *ro = &rd->opts->render;
	const char **argv = calloc(2 * (ro->value_count + ro->set_count) + 10, sizeof(*argv));
	size_t argc = 0;

	if (!argv)
		return NULL;
	argv[argc++] = helm;
	argv[argc++] = "template";
	if (rd->opts->default_namespace)
		add_flag(argv, &argc, "--namespace", rd->opts->default_namespace);
	for (size_t i = 0; i < ro->value_count; i++)
		if (for_this_chart(rd, ro->values[i]))
			add_flag(argv, &argc, "--values", for_this_chart(rd, ro->values[i]));
	for (size_t i = 0; i < ro->set_count; i++)
		if (for_this_chart(rd, ro->sets[i]))
			add_flag(argv, &argc, "--set", for_this_chart(rd, ro->sets[i]));
	argv[argc++] = "--";
	argv[argc++] = release_name(rd);
	argv[argc++] = rd->dir;
	return argv;
}

/* Writes the temporary kustomization: the user's as its one resource, with
 * origin and transformer annotations asked for. Returns 0, or -1 with
 * *error set. */
static int write_wrapper(ds_render *rd, char **error)
{
	const char *tmp = getenv("TMPDIR");
	char *templ = ds_format("%s/dsguard-render-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	char *rel = NULL, *quoted = NULL, *path = NULL;
	cJSON *str = NULL;
	FILE *f = NULL;
	int rc = -1;

	if (!templ)
		return ds_fail(error, "out of memory");
	if (!mkdtemp(templ)) {
		ds_fail(error, "cannot make a temporary directory like %s: %s", templ, strerror(errno));
		free(templ);
		return -1;
	}
	rd->wrapper = realpath(templ, NULL);
	if (!rd->wrapper) {
		ds_fail(error, "cannot resolve %s: %s", templ, strerror(errno));
		rmdir(templ);
	} else if (!(rel = relative_path(rd->wrapper, rd->dir_real)) || !(str = cJSON_CreateString(rel)) ||
		   !(quoted = cJSON_PrintUnformatted(str)) || !(path = ds_path_join(rd->wrapper, "kustomization.yaml"))) {
		ds_fail(error, "out of memory");
	} else if (!(f = fopen(path, "wx"))) {
		ds_fail(error, "cannot write %s: %s", path, strerror(errno));
	} else {
		fprintf(f, "resources:\n- %s\nbuildMetadata: [originAnnotations, transformerAnnotations]\n", quoted);
		rc = fclose(f) == 0 ? 0 : ds_fail(error, "cannot write %s: %s", path, strerror(errno));
	}
	cJSON_free(quoted);
	cJSON_Delete(str);
	free(rel);
	free(path);
	free(templ);
	return rc;
}

/* Removes the temporary kustomization and its directory. */
static void remove_wrapper(ds_render *rd)
{
	char *path = rd->wrapper ? ds_path_join(rd->wrapper, "kustomization.yaml") : NULL;

	if (path)
		unlink(path);
	if (rd->wrapper)
		rmdir(rd->wrapper);
	free(path);
}

/* The message for a tool that is not there. */
static int missing_tool(const ds_render *rd, const char *named, char **error)
{
	if (rd->kind == DS_RENDER_HELM)
		return ds_fail(error, "cannot render the Helm chart: %s is not %s; install Helm 3 "
				      "(https://helm.sh/docs/intro/install/), name it with --helm PATH, or lint the "
				      "files as they are with --no-render",
			       named ? named : "helm", named && strchr(named, '/') ? "an executable file" : "on PATH");
	if (named)
		return ds_fail(error, "cannot render the kustomization: %s is not %s; name kustomize or kubectl with "
				      "--kustomize PATH, or lint the files as they are with --no-render",
			       named, strchr(named, '/') ? "an executable file" : "on PATH");
	return ds_fail(error, "cannot render the kustomization: neither kustomize nor kubectl is on PATH; install "
			      "one (https://kubectl.docs.kubernetes.io/installation/), name it with --kustomize PATH, "
			      "or lint the files as they are with --no-render");
}

/* The program to run and how (*tool: "helm template" ...). A new string,
 * or NULL with *error set. */
static char *choose_program(ds_render *rd, char **error)
{
	const char *named = rd->kind == DS_RENDER_HELM ? rd->opts->render.helm : rd->opts->render.kustomize;
	char *program = find_program(named ? named : rd->kind == DS_RENDER_HELM ? "helm" : "kustomize");
	const char *base;

	if (!program && !named && rd->kind == DS_RENDER_KUSTOMIZE)
		program = find_program("kubectl");
	if (!program) {
		missing_tool(rd, named, error);
		return NULL;
	}
	base = strrchr(program, '/') ? strrchr(program, '/') + 1 : program;
	rd->kubectl = rd->kind == DS_RENDER_KUSTOMIZE && !strncmp(base, "kubectl", 7);
	if (rd->kind == DS_RENDER_HELM)
		rd->tool = strdup("helm template");
	else
		rd->tool = ds_format("%s %s", base, rd->kubectl ? "kustomize" : "build");
	if (!rd->tool) {
		free(program);
		ds_fail(error, "out of memory");
		return NULL;
	}
	return program;
}

/* Whether line [s, e) starts with klog's header ("E1205 02:21:26.013123
 * 26209 run.go:72] "): the length of the header, else 0. */
static size_t klog_header(const char *s, const char *e)
{
	const char *p = s;

	if (e - s < 8 || !strchr("IWEF", *p) || p[1] < '0' || p[1] > '9')
		return 0;
	p = memchr(s, ']', (size_t)(e - s));
	return p && p + 1 < e && p[1] == ' ' ? (size_t)(p + 2 - s) : 0;
}

/* The last lines of what the renderer wrote to its standard error as one
 * line: blank lines and klog headers dropped, control characters made
 * spaces, at most three lines joined with "; ", cut to MAX_TOOL_ERROR
 * bytes. A new string or NULL. */
static char *tool_error(const char *err, size_t len)
{
	const char *starts[3], *ends[3];
	size_t found = 0;
	char *joined = NULL, *cut;
	size_t used = 0;

	for (const char *end = err + len; end > err && found < 3;) {
		const char *start = end;
		while (start > err && start[-1] != '\n')
			start--;
		const char *s = start, *e = end;
		while (s < e && (unsigned char)*s <= ' ')
			s++;
		while (e > s && (unsigned char)e[-1] <= ' ')
			e--;
		if (e > s) {
			s += klog_header(s, e);
			starts[found] = s;
			ends[found++] = e;
		}
		end = start > err ? start - 1 : start;
	}
	joined = malloc(len + 3 * 2 + 1);
	if (!joined)
		return NULL;
	for (size_t i = found; i-- > 0;) {
		if (used)
			used += (size_t)sprintf(joined + used, "; ");
		for (const char *p = starts[i]; p < ends[i]; p++)
			joined[used++] = (unsigned char)*p < ' ' || *p == 0x7f ? ' ' : *p;
	}
	joined[used] = '\0';
	cut = ds_text_cut(joined, MAX_TOOL_ERROR);
	free(joined);
	return cut;
}

/* The message for a render that did not succeed. Returns -1. */
static int failed_render(const ds_render *rd, const ds_spawn_result *res, char **error)
{
	unsigned timeout = rd->opts->render.timeout_seconds ? rd->opts->render.timeout_seconds : DEFAULT_TIMEOUT;
	char limit[32], *said;
	int rc;

	if (res->timed_out)
		return ds_fail(error, "%s did not finish within %u s (--render-timeout); it was stopped", rd->tool,
			       timeout);
	if (res->too_large)
		return ds_fail(error, "%s wrote more than the %s a rendering may have", rd->tool,
			       ds_size_text(DS_MAX_FILE_BYTES, limit, sizeof(limit)));
	said = tool_error(res->err, res->err_len);
	if (WIFSIGNALED(res->status))
		rc = ds_fail(error, "%s was killed by signal %d%s%s", rd->tool, WTERMSIG(res->status),
			     said && *said ? ": " : "", said ? said : "");
	else
		rc = ds_fail(error, "%s failed (exit status %d)%s%s", rd->tool, WEXITSTATUS(res->status),
			     said && *said ? ": " : "", said && *said ? said : "; it printed no error");
	free(said);
	return rc;
}

/* Finds the "# Source:" comments of helm's output: each follows a "---"
 * line. Returns 0 or -1 out of memory. */
static int index_marks(ds_render *rd, const char *text, size_t len)
{
	static const char prefix[] = "# Source: ";
	unsigned line = 1;
	size_t separator = 0; /* where the last "---" line starts */
	bool after_separator = false;

	for (size_t at = 0; at < len;) {
		size_t next = ds_next_line(text, len, at), end = next, n;
		while (end > at && (text[end - 1] == '\n' || text[end - 1] == '\r'))
			end--;
		n = end - at;
		if (after_separator && n > sizeof(prefix) - 1 && !memcmp(text + at, prefix, sizeof(prefix) - 1)) {
			struct mark *grown = ds_array_grow(rd->marks, rd->mark_count, sizeof(*grown));
			char *path = grown ? strndup(text + at + sizeof(prefix) - 1, n - (sizeof(prefix) - 1)) : NULL;
			if (grown)
				rd->marks = grown;
			if (!path)
				return -1;
			if (rd->mark_count)
				rd->marks[rd->mark_count - 1].end = separator;
			rd->marks[rd->mark_count++] = (struct mark){.line = line, .path = path, .start = next, .end = len};
		}
		after_separator = n == 3 && !memcmp(text + at, "---", 3);
		if (after_separator)
			separator = at;
		at = next;
		line++;
	}
	return 0;
}

int ds_render_run(ds_render *rd, char **text, size_t *len, char **error)
{
	unsigned timeout = rd->opts->render.timeout_seconds ? rd->opts->render.timeout_seconds : DEFAULT_TIMEOUT;
	char *program = NULL, *why = NULL;
	const char **argv = NULL;
	ds_spawn_result res;
	int rc;

	*error = NULL;
	if (rd->kind == DS_RENDER_KUSTOMIZE) {
		rc = ds_kustomize_check(rd->dir, rd->boundary, &why);
		if (rc < 0)
			return ds_fail(error, "out of memory");
		if (rc > 0) {
			*error = why;
			return -1;
		}
	}
	if (!(program = choose_program(rd, error)))
		return -1;
	if (rd->kind == DS_RENDER_HELM) {
		argv = helm_argv(rd, program);
	} else if (write_wrapper(rd, error) == 0) {
		argv = calloc(4, sizeof(*argv));
		if (argv) {
			argv[0] = program;
			argv[1] = rd->kubectl ? "kustomize" : "build";
			argv[2] = rd->wrapper;
		}
	}
	if (!argv) {
		if (!*error)
			ds_fail(error, "out of memory");
		remove_wrapper(rd);
		free(program);
		return -1;
	}
	rc = ds_spawn_capture(argv, timeout, DS_MAX_FILE_BYTES, &res, error);
	remove_wrapper(rd);
	free(argv);
	free(program);
	if (rc < 0)
		return -1;
	if (res.timed_out || res.too_large || !WIFEXITED(res.status) || WEXITSTATUS(res.status) != 0) {
		failed_render(rd, &res, error);
		ds_spawn_result_free(&res);
		return -1;
	}
	if (rd->kind == DS_RENDER_HELM && index_marks(rd, res.out ? res.out : "", res.out_len) < 0) {
		ds_spawn_result_free(&res);
		return ds_fail(error, "out of memory");
	}
	*text = res.out ? res.out : strdup("");
	*len = res.out_len;
	res.out = NULL;
	ds_spawn_result_free(&res);
	rd->stream = *text;
	rd->stream_len = *len;
	return *text ? 0 : ds_fail(error, "out of memory");
}

/* ---- the rendered objects ---- */

/* The tree of the YAML text `text` (an annotation's value), or NULL. */
static int keep_first_root(void *data, ds_document *doc)
{
	cJSON **root = data;

	if (!*root) {
		*root = doc->root;
		doc->root = NULL;
	}
	ds_document_free(doc);
	return 0;
}

static cJSON *read_yaml_value(const char *text)
{
	ds_diag_list diags = {0};
	cJSON *root = NULL;

	ds_yaml_load(text, strlen(text), keep_first_root, &root, &diags);
	ds_diag_list_free(&diags);
	return root;
}

/* The real path of `path` as Kustomize's annotations write it (relative
 * to the temporary kustomization), when it is a file of the repository. A
 * new string, or NULL. */
static char *annotated_path(const ds_render *rd, const char *path)
{
	char *joined = path && rd->wrapper ? ds_path_join(rd->wrapper, path) : NULL, *real;

	/* the temporary directory is gone: its ".." are taken as written */
	if (joined)
		ds_path_lexical(joined);
	real = joined ? realpath(joined, NULL) : NULL;
	free(joined);
	if (real && !ds_path_inside(real, rd->boundary)) {
		free(real);
		real = NULL;
	}
	return real;
}

/* Takes annotation `key` out of res (into doc's replaced items, so that
 * positions stay valid); returns its value when it is a string (borrowed
 * from doc), else NULL. */
static const char *take_annotation(ds_document *doc, cJSON *res, const char *key)
{
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(res, "metadata");
	cJSON *annotations = cJSON_GetObjectItemCaseSensitive(meta, "annotations");
	cJSON *item = cJSON_DetachItemFromObjectCaseSensitive(annotations, key);

	if (!item)
		return NULL;
	if (!doc->replaced)
		doc->replaced = cJSON_CreateArray();
	if (!doc->replaced || !cJSON_AddItemToArray(doc->replaced, item)) {
		cJSON_Delete(item); /* out of memory: the annotation goes all the same */
		return NULL;
	}
	if (annotations && !annotations->child)
		cJSON_AddItemToArray(doc->replaced, cJSON_DetachItemViaPointer(meta, annotations));
	return cJSON_GetStringValue(item);
}

/* Reads Kustomize's annotations of res into o, and takes them out of res.
 * Returns 0, or -1 out of memory. */
static int read_origin(ds_render *rd, ds_document *doc, cJSON *res, struct object *o)
{
	const char *origin = take_annotation(doc, res, "config.kubernetes.io/origin");
	const char *transforms = take_annotation(doc, res, "alpha.config.kubernetes.io/transformations");
	cJSON *ttree = transforms ? read_yaml_value(transforms) : NULL;
	const cJSON *t, *list = cJSON_IsArray(ttree) ? ttree : NULL;
	const char *const path_field[] = {"/path"};
	ds_located path = {0};
	int rc = 0, quick = origin ? ds_yaml_locate(origin, strlen(origin), path_field, 1, &path) : 1;
	cJSON *otree = quick == 0 ? read_yaml_value(origin) : NULL;

	if (quick < 0) {
		cJSON_Delete(ttree);
		return -1;
	}
	/* the origin is read line by line (kustomize writes it as a block
	 * mapping), else parsed */
	o->origin = annotated_path(rd, quick ? cJSON_GetStringValue(path.scalar)
					     : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(otree, "path")));
	ds_located_free(&path, 1);
	cJSON_ArrayForEach(t, list) {
		const char *kind = cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, "configuredBy"), "kind"));
		const char *in = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "configuredIn"));
		ds_render_transform *grown = ds_array_grow(o->transforms, o->transform_count, sizeof(*grown));
		if (!grown) {
			rc = -1;
			break;
		}
		o->transforms = grown;
		grown[o->transform_count] = (ds_render_transform){strdup(kind ? kind : ""), annotated_path(rd, in)};
		if (!grown[o->transform_count++].kind) {
			rc = -1;
			break;
		}
	}
	cJSON_Delete(otree);
	cJSON_Delete(ttree);
	return rc;
}

/* The "# Source:" comment before line, or -1. */
static long mark_before(const ds_render *rd, unsigned line)
{
	size_t lo = 0, hi = rd->mark_count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (rd->marks[mid].line < line)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? (long)lo - 1 : -1;
}

static void object_free(struct object *o)
{
	free(o->kind);
	free(o->name);
	free(o->origin);
	for (size_t i = 0; i < o->transform_count; i++) {
		free(o->transforms[i].kind);
		free(o->transforms[i].in);
	}
	free(o->transforms);
}

/* Records res, a DaemonSet of doc. Returns 0, or -1 out of memory. */
static int add_object(ds_render *rd, ds_document *doc, cJSON *res)
{
	const ds_node_info *at = ds_document_where(doc, doc->root);
	struct object *grown = ds_array_grow(rd->objects, rd->object_count, sizeof(*grown));
	struct current *cur = grown ? ds_array_grow(rd->current, rd->current_count, sizeof(*cur)) : NULL;
	struct object o = {
		.kind = strdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res, "kind"))),
		.name = strdup(ds_resource_name(res)), .mark = -1, .same = -1};

	if (grown)
		rd->objects = grown;
	if (cur)
		rd->current = cur;
	if (!cur || !o.kind || !o.name || (rd->kind == DS_RENDER_KUSTOMIZE && read_origin(rd, doc, res, &o) < 0)) {
		object_free(&o);
		return -1;
	}
	if (rd->kind == DS_RENDER_HELM && at)
		o.mark = mark_before(rd, at->value.line);
	rd->objects[rd->object_count] = o;
	rd->current[rd->current_count++] = (struct current){res, (long)rd->object_count++};
	return 0;
}

/* Records the DaemonSets of obj, a list's items among them. */
static int add_objects(ds_render *rd, ds_document *doc, cJSON *obj, int depth)
{
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "kind"));
	cJSON *item, *items = kind && object_kind(kind) ? cJSON_GetObjectItemCaseSensitive(obj, "items") : NULL;

	if (!kind || depth > 8)
		return 0;
	if (ds_is_daemonset(obj))
		return add_object(rd, doc, obj);
	cJSON_ArrayForEach(item, items)
		if (cJSON_IsObject(item) && add_objects(rd, doc, item, depth + 1) < 0)
			return -1;
	return 0;
}

int ds_render_document(ds_render *rd, ds_document *doc)
{
	rd->current_count = 0;
	return add_objects(rd, doc, doc->root, 0);
}

long ds_render_object(const ds_render *rd, const cJSON *res)
{
	for (size_t i = 0; i < rd->current_count; i++)
		if (rd->current[i].item == res)
			return rd->current[i].object;
	return -1;
}

/* ---- placing findings ---- */

bool ds_render_same(const cJSON *node, const cJSON *value)
{
	if (cJSON_IsObject(value) || cJSON_IsArray(value))
		return cJSON_IsObject(node) || cJSON_IsArray(node) || cJSON_IsNull(node);
	return node && value && cJSON_Compare(node, value, true);
}

/* The position in its file of node (of the document d) for a finding: its
 * value when the finding is about it and it holds the rendered value, else
 * its key. */
static ds_pos node_position(const ds_source_doc *d, const cJSON *node, bool exact)
{
	const ds_node_info *info = ds_document_where(d->doc, node);

	if (!info)
		return (ds_pos){1, 1};
	return ds_source_pos(d, exact || !info->key.line ? info->value : info->key);
}

/* The path of a Helm template below the chart: what its "# Source:"
 * comment names, less the chart's name. */
static const char *template_path(const struct mark *m)
{
	const char *slash = strchr(m->path, '/');
	return slash ? slash + 1 : m->path;
}

/* The mark's template: its real path and name, found once. Returns m, or
 * NULL out of memory. */
static struct mark *resolve_mark(ds_render *rd, struct mark *m)
{
	char *joined, *shown;

	if (m->resolved)
		return m;
	joined = ds_path_join(rd->dir_real, template_path(m));
	shown = joined ? join_name(rd->dir, template_path(m)) : NULL;
	if (!shown) {
		free(joined);
		return NULL;
	}
	m->real = realpath(joined, NULL);
	if (m->real && !ds_path_inside(m->real, rd->dir_real)) {
		free(m->real);
		m->real = NULL;
	}
	m->name = m->real ? name_of(rd, m->real, NULL) : name_of(rd, joined, shown);
	m->resolved = m->name != NULL;
	free(joined);
	free(shown);
	return m->resolved ? m : NULL;
}

/* The template object o came from, as a file of the chart: its name (into
 * *name; NULL when not known or out of memory), and the file read for use
 * (NULL when it cannot be read). */
static const ds_source *helm_template(ds_render *rd, const struct object *o, ds_source_use use, const char **name)
{
	struct mark *m = o->mark >= 0 ? resolve_mark(rd, &rd->marks[o->mark]) : NULL;

	*name = m ? m->name : NULL;
	return m && m->real ? ds_render_source(rd, m->real, use) : NULL;
}

/* The name under which a finding with no file of its own is reported:
 * the kustomization file of the rendered directory, or the chart's
 * directory. */
static const char *fallback_name(ds_render *rd)
{
	const char *file = rd->kind == DS_RENDER_KUSTOMIZE ? ds_kustomization_file(rd->dir_real) : NULL;
	char *real = file ? ds_path_join(rd->dir_real, file) : strdup(rd->dir_real);
	const char *name = real ? name_of(rd, real, NULL) : NULL;

	free(real);
	return name;
}

/* Whether the document object o rendered to is, byte for byte, a part of
 * its template that holds no action (helm wrote it as it is written);
 * then o->shift is how many lines later it starts in the template. Told
 * once, while the rendered output is there. */
static void tell_same(ds_render *rd, struct object *o)
{
	const struct mark *m = o->mark >= 0 ? &rd->marks[o->mark] : NULL;
	const char *name, *doc;
	const ds_source *raw;
	const ds_chunk *hit = NULL;
	size_t n;

	if (!m || !rd->stream || m->end > rd->stream_len)
		return; /* not known (and not to be: the output is gone) */
	raw = helm_template(rd, o, DS_SOURCE_TEXT, &name);
	doc = rd->stream + m->start;
	n = raw ? m->end - m->start : 0;
	o->same = 0;
	while (n && (doc[n - 1] == '\n' || doc[n - 1] == '\r' || doc[n - 1] == ' ' || doc[n - 1] == '\t'))
		n--;
	for (size_t i = 0; raw && n && i < raw->chunk_count; i++) {
		const ds_chunk *c = &raw->chunks[i];
		if (c->len != n || memcmp(raw->text + c->start, doc, n))
			continue;
		if (hit)
			return; /* written twice: which one rendered cannot be told */
		hit = c;
	}
	/* it must start a line (helm drops the blanks a document starts
	 * with), and be no action's output */
	if (!hit || (hit->start && raw->text[hit->start - 1] != '\n' && raw->text[hit->start - 1] != '\r') ||
	    memmem(doc, n, "{{", 2))
		return;
	o->same = 1;
	o->shift = (long)hit->line - (long)(m->line + 1);
}

/* The place in o's template of the rendered position `rendered`, when o's
 * document is written there as it rendered: the same column, the line
 * shifted. Returns 1 with *pos set, else 0. */
static int same_text(ds_render *rd, struct object *o, ds_pos rendered, ds_pos *pos)
{
	if (o->same < 0)
		tell_same(rd, o);
	if (o->same != 1 || (long)rendered.line + o->shift < 1)
		return 0;
	*pos = (ds_pos){(unsigned)((long)rendered.line + o->shift), rendered.column};
	return 1;
}

static int place_helm(ds_render *rd, struct object *o, const ds_render_query *q, ds_render_place *out)
{
	const ds_source *src;
	const ds_source_doc *doc;

	if (same_text(rd, o, q->rendered, &out->pos) && (out->file = rd->marks[o->mark].name) != NULL)
		return 0;
	src = helm_template(rd, o, DS_SOURCE_TEMPLATE, &out->file);
	if (!out->file && !(out->file = fallback_name(rd)))
		return -1;
	if (src && ds_template_document(src, o->kind, o->name, q->found, &doc) == 1) {
		const cJSON *node = ds_pointer_get(doc->doc->root, q->found);
		const ds_node_info *info = ds_document_where(doc->doc, node);
		bool exact = !strcmp(q->found, q->pointer);
		bool literal = info && !ds_template_touches(src, ds_source_pos(doc, info->value).line,
							       ds_source_pos(doc, info->value_end).line);
		/* a literal value other than the rendered one is not what rendered */
		if (info && (!exact || !literal || ds_render_same(node, q->value))) {
			out->pos = node_position(doc, node, exact && literal);
			return 0;
		}
	}
	out->pos = (ds_pos){1, 1};
	out->note = ds_format(" (rendered: line %u, column %u of the chart's helm template output)", q->rendered.line,
			      q->rendered.column);
	return out->note ? 0 : -1;
}

/* The search for the object a Kustomize source holds. */
struct match {
	const struct object *o;
	const cJSON *exact, *partial;
	const ds_source_doc *exact_doc, *partial_doc;
	size_t partials;
};

static void match_in(struct match *m, const ds_source_doc *doc, const cJSON *obj, int depth)
{
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "kind"));
	const char *name = ds_resource_name(obj);
	const cJSON *item, *items = kind && object_kind(kind) ? cJSON_GetObjectItemCaseSensitive(obj, "items") : NULL;

	if (!kind || depth > 8 || m->exact)
		return;
	if (!strcmp(kind, m->o->kind) && !strcmp(name, m->o->name)) {
		m->exact = obj;
		m->exact_doc = doc;
	} else if (!strcmp(kind, m->o->kind) && *name && strstr(m->o->name, name) && m->partials++ == 0) {
		m->partial = obj;
		m->partial_doc = doc;
	}
	cJSON_ArrayForEach(item, items)
		if (cJSON_IsObject(item))
			match_in(m, doc, item, depth + 1);
}

/* The one object of the Kustomize source src that o came from: of o's
 * kind, named as o is, or else the only one whose name o's holds (a prefix
 * or suffix added). Returns it with *doc set, or NULL. */
static const cJSON *kustomize_object(const ds_source *src, const struct object *o, const ds_source_doc **doc)
{
	struct match m = {.o = o};

	for (size_t i = 0; i < src->doc_count && !m.exact; i++)
		match_in(&m, &src->docs[i], src->docs[i].doc->root, 0);
	*doc = m.exact ? m.exact_doc : m.partial_doc;
	return m.exact ? m.exact : m.partials == 1 ? m.partial : NULL;
}

/* Places q as place_kustomize() would when the object's own file holds
 * the rendered value, reading that file line by line rather than parsing
 * it: the object found among the same documents with the same choice as
 * kustomize_object() makes (of o's kind, named as o is, else the only one
 * whose name o's holds), by the kinds and names read once per file.
 * Returns 1 when placed, 0 when the file must be parsed to tell (or the
 * value is set by a patch), -1 out of memory. */
static int quick_place(ds_render *rd, const struct object *o, const ds_render_query *q, ds_render_place *out)
{
	const ds_source *src = o->origin ? ds_render_source(rd, o->origin, DS_SOURCE_DAEMONSET_TEXT) : NULL;
	const char *const field_pointer[] = {q->found};
	bool exact = !strcmp(q->found, q->pointer);
	size_t partials = 0, chosen = (size_t)-1, partial = 0;
	ds_located field;
	const ds_chunk *c;
	int rc;

	for (size_t i = 0; src && i < src->chunk_count; i++) {
		const ds_chunk_id *id = &src->ids[i];
		const char *name = id->name ? id->name : "";
		if (id->unread)
			return 0;
		if (id->kind && !strcmp(id->kind, o->kind) && !strcmp(name, o->name)) {
			chosen = i;
			break;
		}
		if (id->kind && !strcmp(id->kind, o->kind) && *name && strstr(o->name, name) && partials++ == 0)
			partial = i;
	}
	if (chosen == (size_t)-1 && partials == 1)
		chosen = partial;
	if (chosen == (size_t)-1)
		return 0;
	c = &src->chunks[chosen];
	rc = ds_yaml_locate(src->text + c->start, c->len, field_pointer, 1, &field);
	if (rc <= 0)
		return rc;
	rc = 0;
	if (field.found && ((cJSON_IsObject(q->value) || cJSON_IsArray(q->value))
				    ? field.collection && (!exact || field.value.line)
				    : field.scalar && cJSON_Compare(field.scalar, q->value, true))) {
		out->pos = exact ? field.value : field.key;
		out->pos.line += c->line - 1;
		out->file = src->name;
		rc = 1;
	}
	ds_located_free(&field, 1);
	return rc;
}

/* Places q by parsing the object's own file, else at the patch or
 * transformer that set the value. Returns 0, or -1 out of memory. */
static int place_kustomize_parsed(ds_render *rd, const struct object *o, const ds_render_query *q,
				  ds_render_place *out)
{
	const ds_source *src = o->origin ? ds_render_source(rd, o->origin, DS_SOURCE_MANIFEST) : NULL;
	const ds_source_doc *doc = NULL;
	const cJSON *obj = src ? kustomize_object(src, o, &doc) : NULL, *node = NULL;
	bool exact = !strcmp(q->found, q->pointer);
	ds_render_spot spot = {0};
	int rc;

	out->file = src ? src->name : o->origin ? name_of(rd, o->origin, NULL) : fallback_name(rd);
	if (!out->file)
		return -1;
	if (obj && (node = ds_pointer_get(obj, q->found)) != NULL && ds_render_same(node, q->value)) {
		out->pos = node_position(doc, node, exact);
		return 0;
	}
	rc = ds_kustomize_trace(rd, o->transforms, o->transform_count, o->kind, o->name,
				obj ? ds_resource_name(obj) : NULL, q->found, q->value, &spot);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		out->file = spot.src->name;
		out->pos = node_position(spot.doc, spot.node, exact);
		ds_render_spot_free(&spot);
		return 0;
	}
	out->pos = node ? node_position(doc, node, false) : (ds_pos){1, 1};
	out->note = strdup(node ? " (rendered with another value: set by a patch or transformer not traced to a line)"
				: " (rendered: set by a patch or transformer not traced to a line)");
	return out->note ? 0 : -1;
}

static int place_kustomize(ds_render *rd, const struct object *o, const ds_render_query *q, ds_render_place *out)
{
	int quick = quick_place(rd, o, q, out);

	if (quick != 0)
		return quick < 0 ? -1 : 0;
	return place_kustomize_parsed(rd, o, q, out);
}

int ds_render_place_finding(ds_render *rd, const ds_render_query *q, ds_render_place *out)
{
	struct object *o;

	memset(out, 0, sizeof(*out));
	begin(rd);
	if (q->object < 0 || (size_t)q->object >= rd->object_count) {
		out->file = fallback_name(rd);
		out->pos = (ds_pos){1, 1};
		return out->file ? 0 : -1;
	}
	o = &rd->objects[q->object];
	return rd->kind == DS_RENDER_HELM ? place_helm(rd, o, q, out) : place_kustomize(rd, o, q, out);
}

/* ---- fixes ---- */

/* What a fix edits: a file, a document of it, the tree the operation's
 * path is read in, and how a rendered path becomes one in that tree. */
struct target {
	const ds_source *src;
	const ds_source_doc *doc;
	const cJSON *root;
	ds_render_spot spot; /* when the value was traced to a patch */
};

/* The parent of the pointer p: a new string, or NULL out of memory. */
static char *parent_of(const char *p)
{
	const char *slash = strrchr(p, '/');
	return strndup(p, slash ? (size_t)(slash - p) : 0);
}

/* Why a Helm finding is not fixed: a new message or NULL. */
static char *rendered_from(const ds_render *rd, const struct object *o)
{
	return ds_format("rendered from %s; change the template or the values",
			 o->mark >= 0 ? rd->marks[o->mark].path : rd->dir);
}

/* The template text that op edits, when it is written there as rendered:
 * the node it replaces, or the mapping it adds to or removes from, equal
 * to the rendered one, on lines no action touches. Returns 0 with t set,
 * 1 with *why set, -1 out of memory. */
static int helm_target(ds_render *rd, const struct object *o, const cJSON *res, const ds_patch_op *op,
		       struct target *t, char **why)
{
	const char *name;
	const ds_source *src = helm_template(rd, o, DS_SOURCE_TEMPLATE, &name);
	char *checked = op->kind == DS_PATCH_REPLACE ? strdup(op->path) : parent_of(op->path);
	const ds_source_doc *doc = NULL;
	const cJSON *node = NULL;
	const ds_node_info *info = NULL;

	if (!checked)
		return -1;
	if (src && ds_template_document(src, o->kind, o->name, checked, &doc) == 1) {
		node = ds_pointer_get(doc->doc->root, checked);
		info = ds_document_where(doc->doc, node);
	}
	if (!info || !cJSON_Compare(node, ds_pointer_get(res, checked), true) ||
	    ds_template_node_touches(src, doc, info)) {
		free(checked);
		return (*why = rendered_from(rd, o)) ? 1 : -1;
	}
	free(checked);
	*t = (struct target){.src = src, .doc = doc, .root = doc->doc->root};
	return 0;
}

/* The Kustomize file that op edits: the object's own file, where the
 * field (for a replace: with the rendered value) or the mapping it goes in
 * is written; for a replace, else the patch that set the value. Returns 0
 * with t set, 1 with *why set, -1 out of memory. */
static int kustomize_target(ds_render *rd, const struct object *o, const cJSON *res, const ds_patch_op *op,
			    struct target *t, char **why)
{
	const ds_source *src = o->origin ? ds_render_source(rd, o->origin, DS_SOURCE_MANIFEST) : NULL;
	const ds_source_doc *doc = NULL;
	const cJSON *obj = src ? kustomize_object(src, o, &doc) : NULL, *node;
	char *parent;
	int rc;

	if (!obj)
		return (*why = ds_format("the file the DaemonSet comes from %s", o->origin ? "holds no DaemonSet of that name"
										     : "is not known"))
			       ? 1
			       : -1;
	*t = (struct target){.src = src, .doc = doc, .root = obj};
	if (op->kind == DS_PATCH_ADD) {
		if (!(parent = parent_of(op->path)))
			return -1;
		node = ds_pointer_get(obj, parent);
		free(parent);
		if (cJSON_IsObject(node))
			return 0;
		return (*why = strdup("the mapping the field goes in is made while rendering (by a patch or transformer)"))
			       ? 1
			       : -1;
	}
	node = ds_pointer_get(obj, op->path);
	if (op->kind == DS_PATCH_REMOVE && cJSON_Compare(node, op->value, true))
		return 0;
	if (op->kind == DS_PATCH_REPLACE && cJSON_Compare(node, ds_pointer_get(res, op->path), true))
		return 0;
	if (op->kind == DS_PATCH_REPLACE) {
		rc = ds_kustomize_trace(rd, o->transforms, o->transform_count, o->kind, o->name, ds_resource_name(obj),
					op->path, ds_pointer_get(res, op->path), &t->spot);
		if (rc < 0)
			return -1;
		if (rc > 0 && t->spot.to) {
			t->src = t->spot.src;
			t->doc = t->spot.doc;
			t->root = t->spot.root;
			return 0;
		}
		ds_render_spot_free(&t->spot);
	}
	return (*why = ds_format("%s is set while rendering, by a patch or transformer; change it there",
				 op->path + 1))
		       ? 1
		       : -1;
}

/* The line of the byte at `at` of src's text. */
static unsigned line_at(const ds_source *src, size_t at)
{
	return ds_line_of(src->text, src->len, at);
}

/* Whether an edit from index first on changes a line a template action
 * touches (an insertion at the start of a line changes none). */
static bool edits_touch_actions(const ds_source *src, const ds_edit_list *edits, size_t first)
{
	for (size_t i = first; i < edits->count; i++) {
		const ds_edit *e = &edits->items[i];
		bool line_start = e->start == 0 || src->text[e->start - 1] == '\n' || src->text[e->start - 1] == '\r';
		if (e->start == e->end && line_start)
			continue;
		if (ds_template_touches(src, line_at(src, e->start), line_at(src, e->end > e->start ? e->end - 1 : e->start)))
			return true;
	}
	return false;
}

/* Plans op in t's file, its path made one of t's tree. The document's own
 * text is planned in, and the edits then placed in the file. Returns 0, 1
 * with *why set, -1 out of memory. */
static int plan_in(const struct target *t, const ds_patch_op *op, ds_edit_list *edits, char **why)
{
	ds_patch_op moved = *op;
	const char *from = t->spot.from ? t->spot.from : "";
	size_t first = edits->count;
	char *path = NULL;
	int rc;

	if (t->spot.to) {
		path = ds_format("%s%s", t->spot.to, op->path + strlen(from));
		if (!path)
			return -1;
		moved.path = path;
	}
	rc = ds_fix_plan(t->src->parsed + t->doc->offset, t->doc->len, t->doc->doc, t->root, &moved, edits, why);
	for (size_t i = first; rc == 0 && i < edits->count; i++) {
		edits->items[i].start += t->doc->offset;
		edits->items[i].end += t->doc->offset;
	}
	free(path);
	return rc;
}

int ds_render_fix(ds_render *rd, long object, const cJSON *res, const ds_evaluation *ev, const ds_finding *f,
		  char **why)
{
	const struct object *o = object >= 0 && (size_t)object < rd->object_count ? &rd->objects[object] : NULL;
	const ds_source *file = NULL;
	ds_edit_list edits = {0};
	int rc = 0;

	*why = NULL;
	begin(rd);
	if (!o)
		return (*why = strdup("where the DaemonSet comes from is not known")) ? 1 : -1;
	for (size_t i = 0; i < ev->op_count && rc == 0; i++) {
		struct target t = {0};
		size_t first = edits.count;
		if (ev->ops[i].rule != f->rule)
			continue;
		rc = rd->kind == DS_RENDER_HELM ? helm_target(rd, o, res, &ev->ops[i], &t, why)
						: kustomize_target(rd, o, res, &ev->ops[i], &t, why);
		if (rc == 0 && file && file != t.src)
			rc = (*why = ds_format("its fields are written in two files, %s and %s", file->name, t.src->name))
				     ? 1
				     : -1;
		if (rc == 0) {
			file = t.src;
			rc = plan_in(&t, &ev->ops[i], &edits, why);
		}
		if (rc == 0 && rd->kind == DS_RENDER_HELM && edits_touch_actions(file, &edits, first))
			rc = (*why = rendered_from(rd, o)) ? 1 : -1;
		ds_render_spot_free(&t.spot);
	}
	if (rc == 0 && file && edits.count)
		return ds_fixes_add(rd->fixes, file->real, file->name, rd->boundary, rd->file_index, file->text, file->len,
				    &file->as_read, &edits, why);
	ds_edit_list_free(&edits);
	return rc;
}

/* ---- one rendering ---- */

ds_render *ds_render_new(ds_render_kind kind, const char *dir, const char *root, const char *boundary,
			 const ds_lint_options *opts, ds_fixes *fixes)
{
	ds_render *rd = calloc(1, sizeof(*rd));

	if (!rd)
		return NULL;
	*rd = (ds_render){.kind = kind, .dir = dir, .root = root, .boundary = boundary, .opts = opts, .fixes = fixes};
	rd->dir_real = realpath(dir, NULL);
	rd->root_real = root ? realpath(root, NULL) : NULL;
	rd->cwd_real = realpath(".", NULL);
	if (!rd->dir_real && !(rd->dir_real = strdup(dir))) {
		ds_render_free(rd);
		return NULL;
	}
	return rd;
}

void ds_render_set_context(ds_render *rd, size_t file_index, const char *const *charts, size_t chart_count)
{
	rd->file_index = file_index;
	rd->charts = charts;
	rd->chart_count = chart_count;
}

void ds_render_take_names(ds_render *rd, char ***names, size_t *count)
{
	for (size_t i = 0; i < rd->name_count; i++)
		free(rd->name_reals[i]);
	free(rd->name_reals);
	*names = rd->names;
	*count = rd->name_count;
	rd->names = rd->name_reals = NULL;
	rd->name_count = 0;
}

void ds_render_free(ds_render *rd)
{
	if (!rd)
		return;
	ds_render_release(rd);
	for (size_t i = 0; i < rd->mark_count; i++) {
		free(rd->marks[i].path);
		free(rd->marks[i].real);
	}
	for (size_t i = 0; i < rd->object_count; i++)
		object_free(&rd->objects[i]);
	for (size_t i = 0; i < rd->name_count; i++) {
		free(rd->names[i]);
		free(rd->name_reals[i]);
	}
	free(rd->names);
	free(rd->name_reals);
	free(rd->marks);
	free(rd->objects);
	free(rd->current);
	free(rd->dir_real);
	free(rd->root_real);
	free(rd->cwd_real);
	free(rd->tool);
	free(rd->wrapper);
	free(rd);
}
