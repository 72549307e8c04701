/* log.c - the server's log: one line per event on stderr, JSON or text. */
#include "webhook/internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* What a line too long for one atomic write keeps: each string value is
 * cut to CUT_VALUE bytes and the message to CUT_MESSAGE (at most six times
 * that once JSON-escaped), which brings every line dsguard makes under
 * PIPE_BUF. */
#define CUT_VALUE 48
#define CUT_MESSAGE 256

static struct {
	bool text;
	ds_log_level min;
} log_state = {false, DS_LOG_INFO};

int ds_log_setup(const char *format, const char *level)
{
	int lvl = -1;

	for (int i = DS_LOG_DEBUG; i <= DS_LOG_ERROR; i++)
		if (!strcmp(level, level_names[i]))
			lvl = i;
	if (lvl < 0 || (strcmp(format, "json") && strcmp(format, "text")))
		return -1;
	log_state.text = !strcmp(format, "text");
	log_state.min = (ds_log_level)lvl;
	return 0;
}

bool ds_log_enabled(ds_log_level level)
{
	return level >= log_state.min;
}

/* Writes the current UTC time, RFC 3339 with milliseconds, into buf. The
 * thread keeps the text of the last second it formatted: most lines of a
 * busy server fall into the same second. */
static void format_time(char *buf, size_t size)
{
	static _Thread_local struct {
		time_t second;
		char text[32];
	} last;
	struct timespec now;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &now);
	if (!last.text[0] || now.tv_sec != last.second) {
		gmtime_r(&now.tv_sec, &tm);
		strftime(last.text, sizeof(last.text), "%Y-%m-%dT%H:%M:%S", &tm);
		last.second = now.tv_sec;
	}
	snprintf(buf, size, "%s.%03ldZ", last.text, now.tv_nsec / 1000000);
}

/* Whether s can be written bare in a text line: printable ASCII with no
 * space, quote, backslash or '='. */
static bool is_bare(const char *s)
{
	for (; *s; s++)
		if (*s <= ' ' || *s > '~' || *s == '"' || *s == '\\' || *s == '=')
			return false;
	return true;
}

/* A line being written: into the thread's buffer while it fits, then into
 * memory of its own (only a line a hostile request makes long, which is
 * then cut and made again). */
struct line {
	char *text;
	size_t len, size;
	bool heap, failed;
};

#define LINE_BUFFER (PIPE_BUF + 1)

static _Thread_local char thread_line[LINE_BUFFER];

static void line_put(struct line *l, const char *s, size_t n)
{
	if (l->failed)
		return;
	if (l->len + n + 1 > l->size) {
		size_t size = (l->len + n + 1) * 2;
		char *grown = l->heap ? realloc(l->text, size) : malloc(size);
		if (!grown) {
			l->failed = true;
			return;
		}
		if (!l->heap)
			memcpy(grown, l->text, l->len);
		l->text = grown, l->size = size, l->heap = true;
	}
	memcpy(l->text + l->len, s, n);
	l->len += n;
	l->text[l->len] = '\0';
}

static void line_puts(struct line *l, const char *s)
{
	line_put(l, s, strlen(s));
}

/* Writes s as a JSON string, escaped as cJSON_Print() escapes it: '"',
 * '\\' and \b \f \n \r \t by name, the other bytes below 0x20 as \u00xx,
 * every other byte as it is. */
static void line_json_string(struct line *l, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run = p;

	line_put(l, "\"", 1);
	for (; *p; p++) {
		char esc[8];
		if (*p > 31 && *p != '"' && *p != '\\')
			continue;
		line_put(l, (const char *)run, (size_t)(p - run));
		run = p + 1;
		switch (*p) {
		case '"': line_put(l, "\\\"", 2); break;
		case '\\': line_put(l, "\\\\", 2); break;
		case '\b': line_put(l, "\\b", 2); break;
		case '\f': line_put(l, "\\f", 2); break;
		case '\n': line_put(l, "\\n", 2); break;
		case '\r': line_put(l, "\\r", 2); break;
		case '\t': line_put(l, "\\t", 2); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			line_put(l, esc, 6);
		}
	}
	line_put(l, (const char *)run, (size_t)(p - run));
	line_put(l, "\"", 1);
}

/* Writes one field: `"key":value` (JSON) or ` key=value` (text: plain
 * strings bare, the others as JSON). With cut, a string is cut to
 * CUT_VALUE bytes. */
static void line_field(struct line *l, const ds_log_field *f, bool cut)
{
	char cut_value[CUT_VALUE + 1];
	const char *value = f->value;

	if (f->is_string && cut)
		value = ds_text_copy(cut_value, sizeof(cut_value), value);
	if (log_state.text) {
		line_put(l, " ", 1);
		line_puts(l, f->key);
		line_put(l, "=", 1);
	} else {
		line_put(l, ",", 1);
		line_json_string(l, f->key);
		line_put(l, ":", 1);
	}
	if (!f->is_string || (log_state.text && *value && is_bare(value)))
		line_puts(l, value);
	else
		line_json_string(l, value);
}

/* Formats the line into l: time, level, message and the fields whose value
 * is not NULL; with cut, every string field cut to CUT_VALUE bytes and
 * "cut": true after them. */
static void format_line(struct line *l, ds_log_level level, const char *message, const ds_log_field *fields,
			size_t count, bool cut)
{
	static const ds_log_field cut_mark = {"cut", "true", false};
	char when[48];

	format_time(when, sizeof(when));
	if (log_state.text) {
		line_puts(l, when);
		line_put(l, " ", 1);
		line_puts(l, level_names[level]);
		line_puts(l, level_names[level][4] ? " " : "  "); /* the level in 5 columns */
		line_puts(l, message);
	} else {
		line_puts(l, "{\"time\":");
		line_json_string(l, when);
		line_puts(l, ",\"level\":");
		line_json_string(l, level_names[level]);
		line_puts(l, ",\"msg\":");
		line_json_string(l, message);
	}
	for (size_t i = 0; i < count; i++)
		if (fields[i].value)
			line_field(l, &fields[i], cut);
	if (cut)
		line_field(l, &cut_mark, false);
	line_puts(l, log_state.text ? "\n" : "}\n");
}

/* Writes a line to stderr with one write(). The threads share no lock for
 * it (one cost each review a contended mutex): a write of up to PIPE_BUF
 * bytes to a pipe is atomic, and writes to a regular file do not
 * interleave, so lines stay whole; cutting keeps them that short. */
static void write_line(const char *line, size_t len)
{
	while (len) {
		ssize_t n = write(STDERR_FILENO, line, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		line += n;
		len -= (size_t)n;
	}
}

/* Makes the line again with its strings cut (see CUT_VALUE), for a line
 * longer than one atomic write takes: names full of control characters
 * escape to six times their size. */
static void cut_line(struct line *l, ds_log_level level, const char *message, const ds_log_field *fields,
		     size_t count)
{
	char cut_message[CUT_MESSAGE + 1];

	l->len = 0;
	l->failed = false;
	format_line(l, level, ds_text_copy(cut_message, sizeof(cut_message), message), fields, count, true);
}

void ds_log_line(ds_log_level level, const char *message, const ds_log_field *fields, size_t count)
{
	static const char oom[] = "{\"level\":\"error\",\"msg\":\"out of memory while logging\"}\n";
	struct line l = {thread_line, 0, sizeof(thread_line), false, false};

	if (!ds_log_enabled(level))
		return;
	format_line(&l, level, message, fields, count, false);
	if (!l.failed && l.len > PIPE_BUF)
		cut_line(&l, level, message, fields, count);
	if (l.failed)
		write_line(oom, sizeof(oom) - 1);
	else
		write_line(l.text, l.len);
	if (l.heap)
		free(l.text);
}

void ds_log_fields(ds_log_level level, const char *message, cJSON *fields)
{
	size_t count = (size_t)cJSON_GetArraySize(fields), n = 0;
	ds_log_field *list = ds_log_enabled(level) ? calloc(count + 1, sizeof(*list)) : NULL;

	for (const cJSON *item = fields ? fields->child : NULL; list && item; item = item->next, n++) {
		list[n].key = item->string;
		list[n].is_string = cJSON_IsString(item);
		list[n].value = list[n].is_string ? item->valuestring : cJSON_PrintUnformatted(item);
	}
	if (list || !ds_log_enabled(level))
		ds_log_line(level, message, list, n);
	else
		ds_log_line(level, "out of memory while logging", NULL, 0);
	for (size_t i = 0; i < n; i++)
		if (!list[i].is_string)
			cJSON_free((char *)list[i].value);
	free(list);
	cJSON_Delete(fields);
}

/* Logs the message fmt and ap make at level. */
static void log_vformat(ds_log_level level, const char *fmt, va_list ap)
{
	char *message;
	int n = vasprintf(&message, fmt, ap);

	ds_log_fields(level, n < 0 ? "out of memory while logging" : message, NULL);
	if (n >= 0)
		free(message);
}

void ds_log(ds_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!ds_log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vformat(level, fmt, ap);
	va_end(ap);
}

/* The keys ds_log_once() has logged. */
static struct {
	pthread_mutex_t lock;
	char **keys;
	size_t count;
} once = {PTHREAD_MUTEX_INITIALIZER, NULL, 0};

/* Whether key is new: then it is remembered (when there is room). */
static bool first_time(const char *key)
{
	bool fresh = true;
	char **grown;

	pthread_mutex_lock(&once.lock);
	for (size_t i = 0; i < once.count && fresh; i++)
		fresh = strcmp(once.keys[i], key) != 0;
	if (fresh && once.count >= DS_LOG_ONCE_KEYS)
		fresh = false;
	if (fresh && (grown = ds_array_grow(once.keys, once.count, sizeof(*grown))) != NULL) {
		once.keys = grown;
		if ((grown[once.count] = strdup(key)) != NULL)
			once.count++;
	}
	pthread_mutex_unlock(&once.lock);
	return fresh;
}

void ds_log_once(ds_log_level level, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (!ds_log_enabled(level) || !first_time(key))
		return;
	va_start(ap, fmt);
	log_vformat(level, fmt, ap);
	va_end(ap);
}
