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

/* Writes the current UTC time, RFC 3339 with milliseconds, into buf. */
static void format_time(char *buf, size_t size)
{
	struct timespec now;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03ldZ", base, now.tv_nsec / 1000000);
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

/* Writes one member as key=value: plain strings bare, everything else
 * (quoted strings included) as JSON. */
static void print_text_field(FILE *out, const cJSON *item)
{
	char *json;

	if (cJSON_IsString(item) && *item->valuestring && is_bare(item->valuestring)) {
		fprintf(out, " %s=%s", item->string, item->valuestring);
		return;
	}
	json = cJSON_PrintUnformatted(item);
	fprintf(out, " %s=%s", item->string, json ? json : "?");
	cJSON_free(json);
}

/* Formats the line for fields (which it may extend). Returns a new string
 * with its newline, or NULL out of memory. */
static char *format_line(ds_log_level level, const char *message, cJSON *fields)
{
	char when[48], *line = NULL, *json;
	size_t size = 0;
	FILE *out;
	cJSON *head;

	format_time(when, sizeof(when));
	if (log_state.text) {
		out = open_memstream(&line, &size);
		if (!out)
			return NULL;
		fprintf(out, "%s %-5s %s", when, level_names[level], message);
		for (const cJSON *item = fields ? fields->child : NULL; item; item = item->next)
			print_text_field(out, item);
		fputc('\n', out);
		if (fclose(out) == 0)
			return line;
		free(line);
		return NULL;
	}
	head = cJSON_CreateObject();
	if (!head || !cJSON_AddStringToObject(head, "time", when) ||
	    !cJSON_AddStringToObject(head, "level", level_names[level]) || !cJSON_AddStringToObject(head, "msg", message)) {
		cJSON_Delete(head);
		return NULL;
	}
	for (cJSON *item = fields ? fields->child : NULL; item; item = item->next)
		cJSON_AddItemReferenceToObject(head, item->string, item);
	json = cJSON_PrintUnformatted(head);
	cJSON_Delete(head);
	if (json && asprintf(&line, "%s\n", json) < 0)
		line = NULL;
	cJSON_free(json);
	return line;
}

/* fields with each string value cut to CUT_VALUE bytes (the others
 * shared) and "cut": true. Returns a new object, or NULL out of memory. */
static cJSON *cut_fields(const cJSON *fields)
{
	cJSON *cut = cJSON_CreateObject();

	for (const cJSON *item = fields ? fields->child : NULL; cut && item; item = item->next) {
		char *text = cJSON_IsString(item) ? ds_text_cut(item->valuestring, CUT_VALUE) : NULL;
		bool added = cJSON_IsString(item) ? text && cJSON_AddStringToObject(cut, item->string, text)
						  : cJSON_AddItemReferenceToObject(cut, item->string, (cJSON *)item);
		free(text);
		if (!added) {
			cJSON_Delete(cut);
			return NULL;
		}
	}
	if (cut && !cJSON_AddTrueToObject(cut, "cut")) {
		cJSON_Delete(cut);
		return NULL;
	}
	return cut;
}

/* The line made again with its strings cut (see CUT_VALUE), for a line
 * longer than one atomic write takes: names full of control characters
 * escape to six times their size. Takes `line`. Returns a new line, or
 * NULL out of memory. */
static char *cut_line(ds_log_level level, const char *message, const cJSON *fields, char *line)
{
	cJSON *cut = cut_fields(fields);
	char *msg = ds_text_cut(message, CUT_MESSAGE);

	free(line);
	line = cut && msg ? format_line(level, msg, cut) : NULL;
	cJSON_Delete(cut);
	free(msg);
	return line;
}

/* Writes a line to stderr with one write(). The threads share no lock for
 * it (one cost each review a contended mutex): a write of up to PIPE_BUF
 * bytes to a pipe is atomic, and writes to a regular file do not
 * interleave, so lines stay whole; cut_line() keeps them that short. */
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

void ds_log_fields(ds_log_level level, const char *message, cJSON *fields)
{
	static const char oom[] = "{\"level\":\"error\",\"msg\":\"out of memory while logging\"}\n";
	char *line;
	size_t len;

	if (!ds_log_enabled(level)) {
		cJSON_Delete(fields);
		return;
	}
	line = format_line(level, message, fields);
	len = line ? strlen(line) : 0;
	if (len > PIPE_BUF) {
		line = cut_line(level, message, fields, line);
		len = line ? strlen(line) : 0;
	}
	cJSON_Delete(fields);
	if (line)
		write_line(line, len);
	else
		write_line(oom, sizeof(oom) - 1);
	free(line);
}

void ds_log(ds_log_level level, const char *fmt, ...)
{
	char *message;
	va_list ap;
	int n;

	if (!ds_log_enabled(level))
		return;
	va_start(ap, fmt);
	n = vasprintf(&message, fmt, ap);
	va_end(ap);
	ds_log_fields(level, n < 0 ? "out of memory while logging" : message, NULL);
	if (n >= 0)
		free(message);
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
	char *message;
	va_list ap;
	int n;

	if (!ds_log_enabled(level) || !first_time(key))
		return;
	va_start(ap, fmt);
	n = vasprintf(&message, fmt, ap);
	va_end(ap);
	ds_log_fields(level, n < 0 ? "out of memory while logging" : message, NULL);
	if (n >= 0)
		free(message);
}
