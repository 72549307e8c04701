/* test_lint_render.c - the pieces of rendering that need no renderer: a
 * template's actions blanked with lines and offsets kept, lines counted as
 * YAML counts them, the documents of a file that may hold a DaemonSet,
 * helm's trimmed documents, paths, a child process with its time and
 * output limits, and --format/--output paired in command-line order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "lint/render.h"
#include "test/unit/helpers.h"

/* text with each of the spans written there made blanks, line breaks
 * kept: what masking should give, worked out from the spans alone. */
static char *blanked(const char *text, const char *const *spans, size_t count)
{
	char *out = strdup(text);

	for (size_t i = 0; i < count; i++) {
		char *at = strstr(out, spans[i]);
		assert_non_null(at);
		for (size_t j = 0; j < strlen(spans[i]); j++)
			if (at[j] != '\n')
				at[j] = ' ';
	}
	return out;
}

static void test_mask_keeps_lines_and_offsets(void **state)
{
	const char *text = "metadata:\n  name: {{ .Release.Name }}-x\n  labels:\n    {{- include \"l\" . | nindent 4 }}\n"
			   "spec: {{ \"}}\" }}\n{{/* a\n  comment */}}\nkind: DaemonSet\n";
	/* a quoted "}}" does not end an action; a comment spans lines */
	const char *spans[] = {"{{ .Release.Name }}", "{{- include \"l\" . | nindent 4 }}", "{{ \"}}\" }}",
			       "{{/* a\n  comment */}}"};
	char *want = blanked(text, spans, 4);
	bool *templated = NULL;
	size_t lines = 0;
	char *masked = ds_template_mask(text, strlen(text), &templated, &lines);

	(void)state;
	assert_non_null(masked);
	assert_string_equal(masked, want);
	assert_int_equal(lines, 9);
	assert_false(templated[0]);
	assert_true(templated[1]);
	assert_false(templated[2]);
	assert_true(templated[3]);
	assert_true(templated[4]);
	assert_true(templated[5]);
	assert_true(templated[6]);
	assert_false(templated[7]);
	free(want);
	free(masked);
	free(templated);
}

static void test_mask_unterminated_action(void **state)
{
	const char *text = "a: 1\nb: {{ \"open\nc: 2\n";
	const char *spans[] = {"{{ \"open\nc: 2\n"};
	char *want = blanked(text, spans, 1);
	bool *templated = NULL;
	size_t lines = 0;
	char *masked = ds_template_mask(text, strlen(text), &templated, &lines);

	(void)state;
	assert_string_equal(masked, want);
	assert_false(templated[0]);
	assert_true(templated[1] && templated[2]);
	free(want);
	free(masked);
	free(templated);
}

/* Lines end as YAML ends them: "\n", "\r\n" and a "\r" alone each end
 * one; the "\r" of "\r\n" does not end a line on its own. */
static void test_line_breaks(void **state)
{
	const char text[] = "a\nb\r\nc\rd\r\re";
	/* lines:            1  2    3  4  5  6 */
	const unsigned line[] = {1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 6};

	(void)state;
	for (size_t at = 0; at < sizeof(text) - 1; at++)
		assert_int_equal(ds_line_of(text, sizeof(text) - 1, at), line[at]);
	assert_true(ds_ends_line(text, sizeof(text) - 1, 1));
	assert_false(ds_ends_line(text, sizeof(text) - 1, 3));
	assert_true(ds_ends_line(text, sizeof(text) - 1, 4));
	assert_true(ds_ends_line(text, sizeof(text) - 1, 6));
	assert_false(ds_ends_line(text, sizeof(text) - 1, sizeof(text) - 1)); /* past the end */
	assert_true(ds_ends_line("x\r", 2, 1)); /* a "\r" at the very end */
	assert_int_equal(ds_next_line(text, sizeof(text) - 1, 0), 2);
	assert_int_equal(ds_next_line(text, sizeof(text) - 1, 2), 5);
	assert_int_equal(ds_next_line(text, sizeof(text) - 1, 5), 7);
	assert_int_equal(ds_next_line(text, sizeof(text) - 1, 7), 9);
	assert_int_equal(ds_next_line(text, sizeof(text) - 1, 9), 10);
	assert_int_equal(ds_next_line(text, sizeof(text) - 1, 10), 11);
	assert_int_equal(ds_next_line(text, sizeof(text) - 1, 11), 11);
}

struct seen {
	size_t from[8], to[8];
	unsigned line[8];
	size_t count;
};

static int record(void *data, size_t from, size_t to, unsigned line)
{
	struct seen *s = data;

	s->from[s->count] = from;
	s->to[s->count] = to;
	s->line[s->count++] = line;
	return 0;
}

static void test_daemonset_documents(void **state)
{
	const char *text = "kind: ConfigMap\ndata: {a: b}\n---\nkind: DaemonSet\nmetadata: {name: x}\n--- # c\n"
			   "{kind: Service}\n---\nkind: PodList\nitems: []\n---\nkind: \"DaemonSet\"\n";
	struct seen s = {0};

	(void)state;
	assert_int_equal(ds_each_daemonset_document(text, strlen(text), false, record, &s), 0);
	/* the ConfigMap is left out; a document with no kind line is read */
	assert_int_equal(s.count, 4);
	assert_int_equal(s.line[0], 3);
	assert_memory_equal(text + s.from[0], "---\nkind: DaemonSet\nmetadata: {name: x}\n", s.to[0] - s.from[0]);
	assert_int_equal(s.line[1], 6);
	assert_memory_equal(text + s.from[1], "--- # c\n{kind: Service}\n", s.to[1] - s.from[1]);
	assert_int_equal(s.line[2], 8);
	assert_int_equal(s.line[3], 11);
}

static void test_template_kind_action(void **state)
{
	const char *text = "kind: {{ .Values.kind }}\nspec: {}\n---\nkind: Deployment\n";
	struct seen s = {0};

	(void)state;
	assert_int_equal(ds_each_daemonset_document(text, strlen(text), true, record, &s), 0);
	assert_int_equal(s.count, 1);
	assert_int_equal(s.line[0], 1);
	s.count = 0;
	assert_int_equal(ds_each_daemonset_document(text, strlen(text), false, record, &s), 0);
	assert_int_equal(s.count, 0);
}

static void test_text_documents(void **state)
{
	const char *text = "\n\n# Source-like comment\na: 1\n\n---\n  \n---\nb: 2\n  c: 3  \n";
	size_t count = 0;
	ds_chunk *chunks = ds_text_documents(text, strlen(text), &count);

	(void)state;
	assert_int_equal(count, 2);
	assert_int_equal(chunks[0].line, 3);
	assert_int_equal(chunks[0].len, strlen("# Source-like comment\na: 1"));
	assert_memory_equal(text + chunks[0].start, "# Source-like comment\na: 1", chunks[0].len);
	assert_int_equal(chunks[1].line, 9);
	assert_memory_equal(text + chunks[1].start, "b: 2\n  c: 3", chunks[1].len);
	free(chunks);
}

static void test_paths(void **state)
{
	char p1[] = "/a/b/../c/./d//e/..", p2[] = "/../..", p3[] = "/x/";
	char *joined = ds_path_join("dir/", "f.yaml"), *absolute = ds_path_join("dir", "/abs");

	(void)state;
	ds_path_lexical(p1);
	ds_path_lexical(p2);
	ds_path_lexical(p3);
	assert_string_equal(p1, "/a/c/d");
	assert_string_equal(p2, "/");
	assert_string_equal(p3, "/x");
	assert_string_equal(joined, "dir/f.yaml");
	assert_string_equal(absolute, "/abs");
	assert_true(ds_path_inside("/repo/a", "/repo"));
	assert_true(ds_path_inside("/repo", "/repo"));
	assert_false(ds_path_inside("/repository", "/repo"));
	assert_true(ds_path_inside("/x", "/"));
	free(joined);
	free(absolute);
}

static long long ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000LL + (now.tv_nsec - start->tv_nsec) / 1000000;
}

static void test_spawn_output_and_error(void **state)
{
	const char *argv[] = {"/bin/sh", "-c", "printf 'kind: DaemonSet\\n'; echo oops >&2; exit 3", NULL};
	ds_spawn_result res;
	char *error = NULL;

	(void)state;
	assert_int_equal(ds_spawn_capture(argv, 10, 1000, &res, &error), 0);
	assert_string_equal(res.out, "kind: DaemonSet\n");
	assert_string_equal(res.err, "oops\n");
	assert_true(WIFEXITED(res.status) && WEXITSTATUS(res.status) == 3);
	assert_false(res.timed_out || res.too_large);
	ds_spawn_result_free(&res);
}

static void test_spawn_limits(void **state)
{
	const char *big[] = {"/bin/sh", "-c", "yes kind: DaemonSet", NULL};
	const char *hang[] = {"/bin/sh", "-c", "sleep 30 & sleep 30", NULL};
	const char *none[] = {"/nonexistent/renderer", NULL};
	struct timespec start;
	ds_spawn_result res;
	char *error = NULL;

	(void)state;
	assert_int_equal(ds_spawn_capture(big, 30, 1 << 20, &res, &error), 0);
	assert_true(res.too_large);
	assert_true(res.out_len <= (1 << 20) + 1);
	ds_spawn_result_free(&res);
	clock_gettime(CLOCK_MONOTONIC, &start);
	assert_int_equal(ds_spawn_capture(hang, 1, 1000, &res, &error), 0);
	assert_true(res.timed_out);
	assert_true(WIFSIGNALED(res.status) && WTERMSIG(res.status) == SIGKILL);
	if (!getenv("DSGUARD_VALGRIND"))
		assert_true(ms_since(&start) < 10000);
	ds_spawn_result_free(&res);
	/* posix_spawn() says the program is missing; under valgrind, which
	 * runs it as fork() and exec(), the child exits 127 instead */
	if (ds_spawn_capture(none, 1, 1000, &res, &error) == 0) {
		assert_true(getenv("DSGUARD_VALGRIND") && WIFEXITED(res.status) && WEXITSTATUS(res.status) == 127);
		ds_spawn_result_free(&res);
	} else {
		assert_non_null(strstr(error, "cannot run /nonexistent/renderer"));
		free(error);
	}
}

/* The --format and --output of a command line, as the parser records them. */
static void outputs_of(const char *const *words, int n, struct cli_output **list, size_t *count, int *rc)
{
	const char *values[2][8];
	int at[2][8];

	assert_true(n <= 16);
	struct cli_value formats = {0, values[0], at[0]}, outputs = {0, values[1], at[1]};

	for (int i = 0; i + 1 < n; i += 2) {
		struct cli_value *v = !strcmp(words[i], "--format") ? &formats : &outputs;
		v->values[v->count] = words[i + 1];
		v->at[v->count++] = i;
	}
	*rc = cli_outputs("lint", &formats, &outputs, list, count);
}

static void test_outputs_paired_in_order(void **state)
{
	const char *words[] = {"--format", "sarif", "--output", "a.sarif", "--output", "b.txt", "--format", "json",
			       "--output", "-", "--format", "junit", "--output", "c.xml"};
	const char *two_stdout[] = {"--format", "json", "--format", "sarif"};
	const char *twice[] = {"--format", "json", "--output", "x", "--format", "sarif", "--output", "x"};
	struct cli_output *list;
	size_t count;
	int rc;

	(void)state;
	outputs_of(words, 14, &list, &count, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(count, 4);
	assert_string_equal(list[0].format, "sarif");
	assert_string_equal(list[0].path, "a.sarif");
	assert_string_equal(list[1].format, "text"); /* an --output with no --format before it */
	assert_string_equal(list[1].path, "b.txt");
	assert_string_equal(list[2].format, "json");
	assert_null(list[2].path); /* "-": standard output */
	assert_string_equal(list[3].format, "junit");
	assert_string_equal(list[3].path, "c.xml");
	free(list);
	outputs_of(two_stdout, 4, &list, &count, &rc);
	assert_int_equal(rc, DS_EXIT_USAGE);
	outputs_of(twice, 8, &list, &count, &rc);
	assert_int_equal(rc, DS_EXIT_USAGE);
	outputs_of(NULL, 0, &list, &count, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(count, 1);
	assert_string_equal(list[0].format, "text");
	free(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mask_keeps_lines_and_offsets),
		cmocka_unit_test(test_mask_unterminated_action),
		cmocka_unit_test(test_line_breaks),
		cmocka_unit_test(test_daemonset_documents),
		cmocka_unit_test(test_template_kind_action),
		cmocka_unit_test(test_text_documents),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_spawn_output_and_error),
		cmocka_unit_test(test_spawn_limits),
		cmocka_unit_test(test_outputs_paired_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
