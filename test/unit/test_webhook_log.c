/* test_webhook_log.c - the log line made without a tree: the bytes cJSON
 * prints for the same members (its escaping of every byte, quotes,
 * backslashes, control characters, invalid UTF-8), in both formats, cut
 * as cJSON's strings would be cut when it is longer than PIPE_BUF. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "test/unit/helpers.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "webhook/internal.h"

/* What ds_log_line() writes for the arguments, read back from a file that
 * stands in for stderr. The caller frees it. */
static char *logged(ds_log_level level, const char *message, const ds_log_field *fields, size_t count)
{
	FILE *file = tmpfile();
	int saved = dup(STDERR_FILENO);
	char *text = calloc(1, 65536);
	size_t len;

	assert_non_null(file);
	assert_non_null(text);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(file), STDERR_FILENO) >= 0);
	ds_log_line(level, message, fields, count);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(file);
	len = fread(text, 1, 65535, file);
	text[len] = '\0';
	fclose(file);
	return text;
}

/* Every byte from 1 to 255 once, then quotes, backslashes and the named
 * escapes again, and a cut-off UTF-8 sequence. */
static char *hostile_string(void)
{
	static const char tail[] = "\"\\\b\f\n\r\t\x7f\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80\xc3";
	char *s = malloc(256 + sizeof(tail));

	assert_non_null(s);
	for (int i = 1; i < 256; i++)
		s[i - 1] = (char)i;
	memcpy(s + 255, tail, sizeof(tail));
	return s;
}

/* The line cJSON_PrintUnformatted() makes of {time, level, msg, fields}
 * (strings as strings, the rest parsed from their JSON text), with the
 * time taken from the line written, and its newline. */
static char *cjson_line(const char *written, const char *level, const char *message, const ds_log_field *fields,
			size_t count)
{
	cJSON *line = cJSON_Parse(written), *expect = cJSON_CreateObject();
	char *text, *out;

	assert_non_null(line);
	cJSON_AddStringToObject(expect, "time", cJSON_GetObjectItem(line, "time")->valuestring);
	cJSON_AddStringToObject(expect, "level", level);
	cJSON_AddStringToObject(expect, "msg", message);
	for (size_t i = 0; i < count; i++) {
		if (!fields[i].value)
			continue;
		cJSON_AddItemToObject(expect, fields[i].key, fields[i].is_string ? cJSON_CreateString(fields[i].value)
										 : cJSON_Parse(fields[i].value));
	}
	text = cJSON_PrintUnformatted(expect);
	assert_true(asprintf(&out, "%s\n", text) > 0);
	free(text);
	cJSON_Delete(expect);
	cJSON_Delete(line);
	return out;
}

static void test_json_hostile_strings(void **state)
{
	char *hostile = hostile_string(), *line, *expect;
	const ds_log_field fields[] = {
		{"name", hostile, true},
		{"status", "200", false},
		{"absent", NULL, true},
		{"empty", "", true},
		{"rules", "[\"DS001\",\"DS003\"]", false},
		{"allowed", "false", false},
		{"we\"ird\n", "key", true},
		{"durationMs", "0.125", false},
	};
	size_t count = sizeof(fields) / sizeof(fields[0]);

	(void)state;
	assert_int_equal(ds_log_setup("json", "info"), 0);
	line = logged(DS_LOG_WARN, hostile, fields, count);
	assert_true(strlen(line) <= PIPE_BUF);
	expect = cjson_line(line, "warn", hostile, fields, count);
	assert_string_equal(line, expect);
	free(expect);
	free(line);
	free(hostile);
}

/* A line longer than PIPE_BUF: each string cut as ds_text_cut() cuts it
 * (48 bytes, the message 256) and "cut": true, as cJSON prints them. */
static void test_json_cut(void **state)
{
	char *big = malloc(3001), *cut_big, *cut_message, *line, *expect;
	ds_log_field fields[] = {
		{"uid", NULL, true},
		{"status", "400", false},
		{"error", "plain", true},
		{"cut", "true", false},
	};

	(void)state;
	assert_non_null(big);
	for (int i = 0; i < 3000; i++)
		big[i] = (char)(i % 3 ? 1 : '"');
	big[3000] = '\0';
	fields[0].value = big;
	assert_int_equal(ds_log_setup("json", "info"), 0);
	line = logged(DS_LOG_INFO, big, fields, 3);
	cut_big = ds_text_cut(big, 48);
	cut_message = ds_text_cut(big, 256);
	fields[0].value = cut_big;
	expect = cjson_line(line, "info", cut_message, fields, 4);
	assert_string_equal(line, expect);
	free(expect);
	free(cut_message);
	free(cut_big);
	free(line);
	free(big);
}

/* Text: strings of printable ASCII without space, quote, backslash or '='
 * bare, every other string as cJSON prints it, JSON text as it is. */
static void test_text(void **state)
{
	char *hostile = hostile_string(), *line, *expect, *quoted, *when;
	cJSON *item = cJSON_CreateString(hostile);
	const ds_log_field fields[] = {
		{"endpoint", "/validate", true},
		{"name", hostile, true},
		{"empty", "", true},
		{"eq", "a=b", true},
		{"rules", "[]", false},
	};

	(void)state;
	quoted = cJSON_PrintUnformatted(item);
	assert_int_equal(ds_log_setup("text", "debug"), 0);
	line = logged(DS_LOG_INFO, "review", fields, sizeof(fields) / sizeof(fields[0]));
	when = strndup(line, strcspn(line, " "));
	assert_true(asprintf(&expect, "%s info  review endpoint=/validate name=%s empty=\"\" eq=\"a=b\" rules=[]\n", when,
			     quoted) > 0);
	assert_string_equal(line, expect);
	free(expect);
	free(when);
	free(line);
	cJSON_free(quoted);
	cJSON_Delete(item);
	free(hostile);
	assert_int_equal(ds_log_setup("json", "info"), 0);
}

/* ds_log_fields(): a cJSON object's members, nested ones printed as cJSON
 * prints them; below the level nothing is written. */
static void test_fields_object(void **state)
{
	cJSON *f = cJSON_CreateObject(), *by_rule = cJSON_AddObjectToObject(f, "violations");
	FILE *file = tmpfile();
	int saved = dup(STDERR_FILENO);
	char text[4096], *expect, *members;
	cJSON *line;
	size_t len;

	(void)state;
	cJSON_AddNumberToObject(f, "daemonsets", 12);
	cJSON_AddNumberToObject(by_rule, "DS001", 3);
	cJSON_AddStringToObject(f, "config", "a \"b\"\x01");
	members = cJSON_PrintUnformatted(f);
	assert_int_equal(ds_log_setup("json", "info"), 0);
	assert_true(dup2(fileno(file), STDERR_FILENO) >= 0);
	ds_log_fields(DS_LOG_DEBUG, "hidden", cJSON_Duplicate(f, true));
	ds_log_fields(DS_LOG_INFO, "audit", f);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(file);
	len = fread(text, 1, sizeof(text) - 1, file);
	text[len] = '\0';
	fclose(file);
	line = cJSON_Parse(text);
	assert_non_null(line);
	assert_true(asprintf(&expect, "{\"time\":\"%s\",\"level\":\"info\",\"msg\":\"audit\",%s\n",
			     cJSON_GetObjectItem(line, "time")->valuestring, members + 1) > 0);
	assert_string_equal(text, expect);
	free(expect);
	cJSON_Delete(line);
	cJSON_free(members);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_hostile_strings),
		cmocka_unit_test(test_json_cut),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_fields_object),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
