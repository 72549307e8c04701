/* fuzz_fix.c - manifest bytes -> `dsguard lint --diff` and `lint --fix`
 * (ds_lint_paths() with DS_FIX_DIFF, then DS_FIX_WRITE, on a scratch
 * file), then the fixed file linted again. The config has a default
 * priority class and an allowed list, so DS001 and DS002 can be fixed.
 *
 * Asserts, for every input:
 * - each run succeeds, and --diff and --fix fix the same findings;
 * - --fix leaves the file byte for byte as it was when it fixes nothing;
 *   when it fixes something, the unified diff of --diff, applied to the
 *   input by the applier below (which shares no code with lint), gives
 *   exactly the file --fix wrote;
 * - the fixed file reads as well as the input did (no new input error),
 *   and for each DaemonSet (namespace/name) and rule, DS001 and DS002
 *   report no more findings than the first run left unfixed: a fix that
 *   is claimed holds, and no fix makes a new finding;
 * - a DaemonSet whose DS001 was fixed has no priority beside its class
 *   (the Priority admission plugin would refuse its pods). */
#include "fuzz/fuzz.h"
#include "lint/lint.h"
#include "yaml/document.h"
#include "test/rule_access.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ds_config config;
static char path[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_fixing_config(&config, true);
	snprintf(path, sizeof(path), "%s/manifest.yaml", fuzz_scratch_dir());
	return 0;
}

/* Lints the scratch file once with `fix`; the diff, if asked, goes to a
 * new buffer in *diff (the caller frees it). */
static void lint_file(int fix, ds_lint_report *report, char **diff, size_t *diff_len)
{
	const char *const paths[] = {path};
	ds_lint_options opts = {.config = &config, .fix = fix, .jobs = 1};

	if (diff) {
		opts.diff_out = open_memstream(diff, diff_len);
		FUZZ_ASSERT(opts.diff_out != NULL, "out of memory");
	}
	FUZZ_ASSERT(ds_lint_paths(paths, 1, &opts, report) == 0, "ds_lint_paths failed");
	if (diff)
		FUZZ_ASSERT(fclose(opts.diff_out) == 0, "out of memory");
}

/* ---- a unified diff applier ---- */

/* One line of text: its bytes without "\n", and whether "\n" ended it. */
struct line {
	const char *p;
	size_t len;
	bool newline;
};

/* Reads the line at *at (before end) and moves past it. Returns false at
 * the end. */
static bool read_line(const char **at, const char *end, struct line *l)
{
	const char *nl;

	if (*at >= end)
		return false;
	nl = memchr(*at, '\n', (size_t)(end - *at));
	l->p = *at;
	l->len = nl ? (size_t)(nl - *at) : (size_t)(end - *at);
	l->newline = nl != NULL;
	*at = nl ? nl + 1 : end;
	return true;
}

/* Reads one line of a hunk: its mark (' ', '-', '+') and its text, with a
 * following "\ No newline at end of file" taken into account. */
static bool read_hunk_line(const char **at, const char *end, char *mark, struct line *l)
{
	struct line marker;
	const char *peek;

	if (!read_line(at, end, l) || l->len == 0 || !strchr(" -+", l->p[0]))
		return false;
	*mark = l->p[0];
	l->p++;
	l->len--;
	peek = *at;
	if (read_line(&peek, end, &marker) && marker.len && marker.p[0] == '\\') {
		l->newline = false;
		*at = peek;
	}
	return true;
}

/* The state of applying a diff to a text. */
struct patching {
	const char *a, *a_end; /* what is left of the original */
	size_t a_line;         /* lines of the original read so far */
	FILE *out;
};

/* Copies original lines to the output until `line` have been read. */
static bool copy_until(struct patching *st, size_t line)
{
	struct line l;

	while (st->a_line < line) {
		if (!read_line(&st->a, st->a_end, &l))
			return false;
		fwrite(l.p, 1, l.len, st->out);
		if (l.newline)
			fputc('\n', st->out);
		st->a_line++;
	}
	return true;
}

/* Applies one hunk whose header is `header`. Returns false when it does not
 * match the original. */
static bool apply_hunk(struct patching *st, const struct line *header, const char **at, const char *end)
{
	size_t a0, an, b0, bn;
	char head[128];

	if (header->len >= sizeof(head))
		return false;
	memcpy(head, header->p, header->len);
	head[header->len] = '\0';
	if (sscanf(head, "@@ -%zu,%zu +%zu,%zu @@", &a0, &an, &b0, &bn) != 4 || !copy_until(st, an ? a0 - 1 : a0))
		return false;
	while (an || bn) {
		struct line l, orig;
		char mark;
		if (!read_hunk_line(at, end, &mark, &l))
			return false;
		if (mark != '+') { /* the line must be the original's next one */
			if (!an-- || !read_line(&st->a, st->a_end, &orig) || orig.len != l.len ||
			    orig.newline != l.newline || memcmp(orig.p, l.p, l.len))
				return false;
			st->a_line++;
		}
		if (mark != '-') {
			if (!bn--)
				return false;
			fwrite(l.p, 1, l.len, st->out);
			if (l.newline)
				fputc('\n', st->out);
		}
	}
	return true;
}

/* Applies the unified diff to text. Returns the result (the caller frees
 * it), or NULL when the diff is malformed or does not fit the text. */
static char *apply_diff(const char *text, size_t len, const char *diff, size_t diff_len, size_t *out_len)
{
	struct patching st = {text, text + len, 0, NULL};
	const char *at = diff, *end = diff + diff_len;
	struct line l;
	char *out = NULL;
	bool ok = read_line(&at, end, &l) && l.len > 4 && !strncmp(l.p, "--- ", 4) &&
		  read_line(&at, end, &l) && l.len > 4 && !strncmp(l.p, "+++ ", 4);

	st.out = open_memstream(&out, out_len);
	FUZZ_ASSERT(st.out != NULL, "out of memory");
	while (ok && read_line(&at, end, &l))
		ok = l.len > 3 && !strncmp(l.p, "@@ ", 3) && apply_hunk(&st, &l, &at, end);
	if (ok)
		(void)copy_until(&st, SIZE_MAX); /* the rest of the original */
	FUZZ_ASSERT(fclose(st.out) == 0, "out of memory");
	if (!ok) {
		free(out);
		return NULL;
	}
	return out;
}

/* ---- comparing the runs ---- */

static bool fixable(const ds_lint_finding *f)
{
	return f->rule == DS001 || f->rule == DS002;
}

static bool same_target(const ds_lint_finding *a, const ds_lint_finding *b)
{
	return a->rule == b->rule && !strcmp(a->namespace, b->namespace) && !strcmp(a->name, b->name);
}

/* For each DS001/DS002 finding of the re-run: no more findings for its
 * DaemonSet and rule than the first run left unfixed. */
static void check_relint(const ds_lint_report *before, const ds_lint_report *after)
{
	for (size_t i = 0; i < after->finding_count; i++) {
		const ds_lint_finding *f = &after->findings[i];
		size_t now = 0, left = 0;
		if (!fixable(f) || f->exempt)
			continue;
		for (size_t j = 0; j < after->finding_count; j++)
			now += !after->findings[j].exempt && same_target(f, &after->findings[j]);
		for (size_t j = 0; j < before->finding_count; j++)
			left += !before->findings[j].exempt && !before->findings[j].fixed &&
				same_target(f, &before->findings[j]);
		FUZZ_ASSERT(now <= left, "a DS001/DS002 finding that --fix claimed fixed (or made) is there again");
	}
	FUZZ_ASSERT(before->summary.input_errors || !after->summary.input_errors,
		    "the fixed file has an input error the original had not");
}

/* ---- the priority DS001's fix removes ---- */

/* The DaemonSets of the fixed file, by namespace/name, in two passes: the
 * first counts them, the second checks each. */
struct priority_walk {
	const ds_lint_report *report; /* the --fix run */
	char **names;                 /* "namespace/name" of each DaemonSet (first pass) */
	size_t count;
	bool checking;                /* the second pass */
};

/* How many DS001 findings of the DaemonSet ns/name the report fixed, or
 * SIZE_MAX when one of them was left. */
static size_t class_fixes(const ds_lint_report *report, const char *ns, const char *name)
{
	size_t fixed = 0;

	for (size_t i = 0; i < report->finding_count; i++) {
		const ds_lint_finding *f = &report->findings[i];
		if (f->rule != DS001 || strcmp(f->namespace, ns) || strcmp(f->name, name))
			continue;
		if (!f->fixed)
			return SIZE_MAX;
		fixed++;
	}
	return fixed;
}

static void walk_priority(struct priority_walk *w, const cJSON *obj, int depth)
{
	static const ds_context ctx = {.config = &config};
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "kind"));
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(obj, "items"), *item;
	const cJSON *priority;
	char *key = NULL;
	size_t same = 0;

	if (!cJSON_IsObject(obj))
		return;
	if (kind && strcmp(kind, "DaemonSet") && strlen(kind) >= 4 && !strcmp(kind + strlen(kind) - 4, "List") &&
	    cJSON_IsArray(items) && depth < 8) {
		cJSON_ArrayForEach(item, items)
			walk_priority(w, item, depth + 1);
		return;
	}
	if (!ds_is_daemonset(obj))
		return;
	FUZZ_ASSERT(asprintf(&key, "%s/%s", ds_resource_namespace(obj, &ctx), ds_resource_name(obj)) >= 0,
		    "out of memory");
	if (!w->checking) {
		w->names = realloc(w->names, (w->count + 1) * sizeof(*w->names));
		FUZZ_ASSERT(w->names != NULL, "out of memory");
		w->names[w->count++] = key;
		return;
	}
	for (size_t i = 0; i < w->count; i++)
		same += !strcmp(w->names[i], key);
	free(key);
	/* every DaemonSet of that namespace/name had DS001 fixed */
	if (class_fixes(w->report, ds_resource_namespace(obj, &ctx), ds_resource_name(obj)) != same)
		return;
	priority = ds_pointer_get(obj, "/spec/template/spec/priority");
	FUZZ_ASSERT(!priority || cJSON_IsNull(priority), "DS001 was fixed, and a priority stays beside the class");
}

static int on_fixed_document(void *data, ds_document *doc)
{
	walk_priority(data, doc->root, 0);
	ds_document_free(doc);
	return 0;
}

/* No DaemonSet whose DS001 the --fix run fixed has a priority left in the
 * file it wrote. */
static void check_priority_gone(const ds_lint_report *fixed)
{
	struct priority_walk w = {.report = fixed};
	ds_diag_list diags = {0};
	size_t len;
	char *text = fuzz_read_file(path, &len);

	for (int pass = 0; pass < 2; pass++) {
		w.checking = pass == 1;
		ds_yaml_load(text, len, on_fixed_document, &w, &diags);
		ds_diag_list_free(&diags);
	}
	for (size_t i = 0; i < w.count; i++)
		free(w.names[i]);
	free(w.names);
	free(text);
}

/* Checks the written file against the input and the diff. */
static void check_written(const uint8_t *data, size_t size, const char *diff, size_t diff_len, size_t fixed)
{
	size_t len, patched_len = 0;
	char *written = fuzz_read_file(path, &len);
	char *patched;

	if (!fixed) {
		FUZZ_ASSERT(diff_len == 0, "--diff prints a diff that fixes nothing");
		FUZZ_ASSERT(len == size && !memcmp(written, data, size), "--fix changed a file it fixed nothing in");
	} else {
		patched = apply_diff((const char *)data, size, diff, diff_len, &patched_len);
		FUZZ_ASSERT(patched != NULL, "the --diff output does not apply to the input");
		FUZZ_ASSERT(patched_len == len && !memcmp(patched, written, len),
			    "the --diff output and the file --fix wrote differ");
		free(patched);
	}
	free(written);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ds_lint_report diffed, fixed, again;
	char *diff = NULL;
	size_t diff_len = 0;

	fuzz_write_file(path, data, size);
	lint_file(DS_FIX_DIFF, &diffed, &diff, &diff_len);
	lint_file(DS_FIX_WRITE, &fixed, NULL, NULL);
	FUZZ_ASSERT(diffed.summary.fixed == fixed.summary.fixed, "--diff and --fix fix different findings");
	check_written(data, size, diff, diff_len, fixed.summary.fixed);
	check_priority_gone(&fixed);
	lint_file(DS_FIX_NONE, &again, NULL, NULL);
	check_relint(&fixed, &again);
	ds_lint_report_free(&diffed);
	ds_lint_report_free(&fixed);
	ds_lint_report_free(&again);
	free(diff);
	return 0;
}
