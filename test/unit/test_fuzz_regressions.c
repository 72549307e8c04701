/* test_fuzz_regressions.c - replays the inputs the fuzzers found
 * (each file under test/fixtures/fuzz/HARNESS/) through the checks of the harness that
 * found them (fuzz/fuzz_HARNESS.c), each in a child process bounded in time,
 * so that a crash, a sanitizer report or a hang fails the test and the
 * others still run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kube/private.h"
#include "yaml/document.h"
#include "config/config.h"
#include "lint/lint.h"
#include "lint/render.h"
#include "webhook/webhook.h"
#include "test/rule_access.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FIXTURES "test/fixtures/fuzz"
#define SECONDS_EACH 10
#define WATCH_LINE_MAX 4096 /* the bound fuzz_watch gives its splitter */

/* In the child: prints what went wrong and exits 1. */
#define CHECK(cond, what) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "# %s: %s\n", current, (what)); \
			_exit(1); \
		} \
	} while (0)

static const char *current; /* the input being replayed */

/* ---- the checks, one per harness ---- */

static int watch_line(void *data, const char *line, size_t len)
{
	kube_event ev;
	char *error = NULL;

	(void)data;
	CHECK(len > 0 && len <= WATCH_LINE_MAX, "the splitter handed over a line over its bound");
	if (kube_event_parse(line, len, &ev, &error) < 0)
		CHECK(error != NULL, "a refused event without a message");
	free(error);
	return 0;
}

/* The watch stream, fed whole and byte by byte. */
static void replay_watch(const char *buf, size_t len)
{
	for (size_t chunk = len ? len : 1; chunk >= 1; chunk = chunk == 1 ? 0 : 1) {
		kube_line_splitter s = {.max = WATCH_LINE_MAX, .on_line = watch_line};
		for (size_t at = 0; at < len; at += chunk)
			if (kube_lines_feed(&s, buf + at, len - at < chunk ? len - at : chunk) != 0)
				break;
		kube_lines_free(&s);
	}
}

/* What lint reads whole: DaemonSets and lists. */
static bool wanted(const char *kind)
{
	size_t len = kind ? strlen(kind) : 0;

	return kind && (!strcmp(kind, "DaemonSet") || (len >= 4 && !strcmp(kind + len - 4, "List")));
}

/* Writes a line per document: its kind ("-" when none) and, for what lint
 * reads whole, its tree. */
static int note_document(void *data, ds_document *doc)
{
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc->root, "kind"));
	char *tree = wanted(kind) ? cJSON_PrintUnformatted(doc->root) : NULL;

	fprintf(data, "%s %s\n", kind ? kind : "-", tree ? tree : "");
	free(tree);
	ds_document_free(doc);
	return 0;
}

/* Whether a failed filtered load stopped, as it must, on a document whose
 * kind it could not tell without reading it whole: a repeated top-level
 * kind, or a top-level merge key after the kind. */
static bool kind_ambiguity(const ds_diag_list *d)
{
	for (size_t i = 0; i < d->count; i++)
		if (d->items[i].is_error && (!strncmp(d->items[i].message, "kind is given twice", 19) ||
					     !strncmp(d->items[i].message, "a merge key (<<) at the top", 27)))
			return true;
	return false;
}

/* The manifest, loaded whole (every document built) and as lint loads
 * it, as fuzz_manifest checks them: unless the filtered load stopped on a
 * kind it could not tell, it reads every document the whole load handed
 * over with the same kind, and a DaemonSet or List the same; when the
 * whole load read the stream, so does the filtered one. */
static void replay_manifest(const char *buf, size_t len)
{
	ds_diag_list d1 = {0}, d2 = {0};
	char *full = NULL, *filtered = NULL;
	size_t full_len = 0, filtered_len = 0;
	FILE *f1 = open_memstream(&full, &full_len), *f2 = open_memstream(&filtered, &filtered_len);
	int rc1, rc2;

	CHECK(f1 && f2, "out of memory");
	rc1 = ds_yaml_load_filtered(buf, len, NULL, note_document, f1, &d1);
	rc2 = ds_yaml_load_filtered(buf, len, wanted, note_document, f2, &d2);
	fclose(f1);
	fclose(f2);
	if (!(rc2 != 0 && kind_ambiguity(&d2))) {
		CHECK(rc1 != 0 || rc2 == 0, "the filtered load fails where the whole load does not");
		CHECK(rc1 != 0 ? filtered_len >= full_len && !memcmp(full, filtered, full_len)
			       : full_len == filtered_len && !memcmp(full, filtered, full_len),
		      "the filtered load reads another kind or another DaemonSet");
	}
	free(full);
	free(filtered);
	ds_diag_list_free(&d1);
	ds_diag_list_free(&d2);
}

/* Lints path once with `fix` under a config with a default priority
 * class, the only one allowed (as fuzz_fix's: a class written wrong is a
 * finding again); returns 0 with the report, or -1. */
static int lint_path(const char *path, int fix, ds_lint_report *report)
{
	static ds_config cfg;
	static char *allowed[] = {"node-agents"};
	const char *const paths[] = {path};
	ds_lint_options opts = {.config = &cfg, .fix = fix, .jobs = 1};

	ds_config_init(&cfg);
	DEFAULT_CLASS(&cfg) = "node-agents";
	ALLOWED_CLASSES(&cfg) = (ds_string_list){allowed, 1};
	return ds_lint_paths(paths, 1, &opts, report);
}

/* DS001 and DS002 findings of a report: all of them, or those not fixed. */
static size_t fixable_findings(const ds_lint_report *report, bool unfixed_only)
{
	size_t n = 0;

	for (size_t i = 0; i < report->finding_count; i++) {
		const ds_lint_finding *f = &report->findings[i];
		n += f->rule != DS003 && !f->exempt && !(unfixed_only && f->fixed);
	}
	return n;
}

/* The manifest, fixed in a copy by lint --fix and linted again: it reads
 * as well as before, and what --fix says it fixed is gone. */
static void replay_fix(const char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");
	char path[512];
	int fd;
	ds_lint_report fixed, again;

	snprintf(path, sizeof(path), "%s/dsguard-fuzz-fix-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(path);

	CHECK(fd >= 0 && write(fd, buf, len) == (ssize_t)len && close(fd) == 0, "cannot write a scratch file");
	CHECK(lint_path(path, DS_FIX_WRITE, &fixed) == 0 && lint_path(path, DS_FIX_NONE, &again) == 0,
	      "ds_lint_paths failed");
	unlink(path);
	CHECK(fixed.summary.input_errors || !again.summary.input_errors,
	      "the fixed file has an input error the original had not");
	CHECK(fixable_findings(&again, false) <= fixable_findings(&fixed, true),
	      "a DS001/DS002 finding that --fix claimed fixed is there again");
	ds_lint_report_free(&fixed);
	ds_lint_report_free(&again);
}

/* The config file at path: a default priority class it accepts passes
 * DS001 under it. */
static void replay_config(const char *path)
{
	ds_config cfg;
	char *error = NULL;
	cJSON *ds = cJSON_Parse("{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"metadata\":{\"name\":\"a\"},"
				"\"spec\":{\"template\":{\"spec\":{}}}}");
	ds_context ctx = {.config = &cfg};
	ds_evaluation ev = {0};

	ds_config_init(&cfg);
	if (ds_config_load(path, &cfg, &error) == 0 && DEFAULT_CLASS(&cfg)) {
		cJSON_AddStringToObject(ds_pointer_get(ds, "/spec/template/spec"), "priorityClassName",
					DEFAULT_CLASS(&cfg));
		CHECK(ds_evaluate(ds, &ctx, DS_SCOPE_ALL, &ev) == 0, "ds_evaluate failed");
		for (size_t i = 0; i < ev.finding_count; i++)
			CHECK(ev.findings[i].rule != DS001,
			      "the config's default priority class fails DS001");
	} else {
		CHECK(error != NULL, "a failed load without an error");
	}
	ds_evaluation_free(&ev);
	cJSON_Delete(ds);
	free(error);
	ds_config_free(&cfg);
}

/* The last member of obj named key (the one the API server reads), or
 * NULL. */
static const cJSON *last_item(const cJSON *obj, const char *key)
{
	const cJSON *found = NULL;

	for (const cJSON *m = cJSON_IsObject(obj) ? obj->child : NULL; m; m = m->next)
		if (!strcmp(m->string, key))
			found = m;
	return found;
}

/* Whether the answer echoes the request's uid exactly (of a repeated name,
 * the last; an escaped NUL read as U+FFFD, as the webhook reads it, where
 * cJSON would end the string), as the API server demands. */
static bool same_uid(const char *request, size_t len, const char *answer)
{
	char *copy = malloc(len + 1);
	cJSON *in, *out = cJSON_Parse(answer);
	const char *a, *b;
	bool same;

	CHECK(copy != NULL, "out of memory");
	memcpy(copy, request, len);
	for (size_t i = 0; i + 1 < len; i++)
		if (copy[i] == '\\' && copy[++i] == 'u' && len - i >= 5 && !memcmp(copy + i + 1, "0000", 4))
			memcpy(copy + i + 1, "fffd", 4);
	in = cJSON_ParseWithLength(copy, len);
	free(copy);
	a = cJSON_GetStringValue(last_item(last_item(in, "request"), "uid"));
	b = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "response"), "uid"));
	same = a && b && !strcmp(a, b);
	cJSON_Delete(in);
	cJSON_Delete(out);
	return same;
}

/* The AdmissionReview, answered by /validate and /mutate. */
static void replay_admission(const char *buf, size_t len)
{
	ds_config cfg;

	ds_config_init(&cfg);
	DEFAULT_CLASS(&cfg) = strdup("node-agents");
	for (int mode = DS_REVIEW_VALIDATE; mode <= DS_REVIEW_MUTATE; mode++) {
		ds_review_result res;
		CHECK(ds_review(buf, len, (ds_review_mode)mode, &cfg, NULL, &res) == 0, "ds_review failed");
		CHECK(res.body && (res.status == 200 || res.status == 400), "an answer other than 200 or 400");
		if (res.status == 200)
			CHECK(same_uid(buf, len, res.body), "response.uid is not request.uid");
		ds_review_result_free(&res);
	}
	ds_config_free(&cfg);
}

/* ---- running each input in a child ---- */

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&buf, &size);
	int c;

	if (!f || !mem)
		_exit(2);
	while ((c = fgetc(f)) != EOF)
		fputc(c, mem);
	fclose(f);
	fclose(mem);
	*len = size;
	return buf;
}

/* The line of the byte at `at` of text, counted apart from lint: "\n",
 * "\r\n" and a "\r" alone end a line. */
static unsigned template_line(const char *text, size_t len, size_t at)
{
	unsigned line = 1;

	for (size_t i = 0; i < at && i < len; i++)
		line += text[i] == '\n' || (text[i] == '\r' && (i + 1 >= len || text[i + 1] != '\n'));
	return line;
}

static int keep_template_document(void *data, ds_document *doc)
{
	ds_source *src = data;
	ds_source_doc *grown = ds_array_grow(src->docs, src->doc_count, sizeof(*grown));

	CHECK(grown != NULL, "out of memory");
	src->docs = grown;
	grown[src->doc_count++] = (ds_source_doc){doc, 0, 0, 0};
	return 0;
}

static int read_template_document(void *data, size_t from, size_t to, unsigned line)
{
	ds_source *src = data;
	ds_diag_list diags = {0};
	size_t before = src->doc_count;

	CHECK(line == template_line(src->text, src->len, from), "a document on another line than it says");
	ds_yaml_load(src->parsed + from, to - from, keep_template_document, src, &diags);
	ds_diag_list_free(&diags);
	for (size_t i = before; i < src->doc_count; i++)
		src->docs[i] = (ds_source_doc){src->docs[i].doc, from, to - from, line};
	return 0;
}

/* A template (fuzz_template): masked with its line breaks, read a document
 * at a time on the lines it says, each field chosen inside its document. */
static void replay_template(const char *buf, size_t len)
{
	static const char *const pointers[] = {"/spec/template/spec", "/spec/template/spec/restartPolicy",
					       "/metadata/namespace", "/metadata"};
	ds_source src = {.text = (char *)buf, .len = len};

	src.parsed = ds_template_mask(buf, len, &src.templated, &src.lines);
	CHECK(src.parsed != NULL, "out of memory");
	CHECK(src.lines == template_line(buf, len, len), "a line count other than the text's");
	for (size_t i = 0; i < len; i++)
		CHECK((buf[i] == '\n') == (src.parsed[i] == '\n') && (buf[i] == '\r') == (src.parsed[i] == '\r'),
		      "a line break moved");
	ds_each_daemonset_document(buf, len, true, read_template_document, &src);
	for (size_t p = 0; p < sizeof(pointers) / sizeof(pointers[0]); p++) {
		const ds_source_doc *d;
		const ds_node_info *info;
		if (ds_template_document(&src, "DaemonSet", "x", pointers[p], &d) != 1)
			continue;
		info = ds_document_where(d->doc, ds_pointer_get(d->doc->root, pointers[p]));
		CHECK(info != NULL, "a field without a position");
		CHECK(ds_source_pos(d, info->value_end).line <= template_line(buf, len, d->offset + d->len) + 1,
		      "a field's lines outside its document");
	}
	for (size_t i = 0; i < src.doc_count; i++)
		ds_document_free(src.docs[i].doc);
	free(src.docs);
	free(src.templated);
	free(src.parsed);
}

static void replay(const char *harness, const char *path)
{
	size_t len;
	char *buf = read_all(path, &len);

	if (!strcmp(harness, "watch"))
		replay_watch(buf, len);
	else if (!strcmp(harness, "manifest"))
		replay_manifest(buf, len);
	else if (!strcmp(harness, "fix"))
		replay_fix(buf, len);
	else if (!strcmp(harness, "config"))
		replay_config(path);
	else if (!strcmp(harness, "admission"))
		replay_admission(buf, len);
	else if (!strcmp(harness, "template"))
		replay_template(buf, len);
	free(buf);
}

/* Replays every input of one harness (none when it has no folder); fails
 * when a child does not exit 0 within SECONDS_EACH. */
static void replay_dir(const char *harness)
{
	char dir[512], path[1024];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s", FIXTURES, harness);
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		pid_t pid;
		int status = 0;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			current = path;
			alarm(SECONDS_EACH);
			replay(harness, path);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("%s: %s", path,
				 WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? "did not finish in time"
										     : "crashed or failed a check");
	}
	closedir(d);
}

static void test_watch(void **state)
{
	(void)state;
	replay_dir("watch");
}

static void test_manifest(void **state)
{
	(void)state;
	replay_dir("manifest");
}

static void test_fix(void **state)
{
	(void)state;
	replay_dir("fix");
}

static void test_config(void **state)
{
	(void)state;
	replay_dir("config");
}

static void test_admission(void **state)
{
	(void)state;
	replay_dir("admission");
}

static void test_template(void **state)
{
	(void)state;
	replay_dir("template");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_template),
		cmocka_unit_test(test_watch),
		cmocka_unit_test(test_manifest),
		cmocka_unit_test(test_fix),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_admission),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
