/* event.c - watch streams: newline-delimited JSON split into lines, each line decoded into an event. */
#include "kube/private.h"

#include <stdlib.h>
#include <string.h>

static const char *const event_types[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};

/* Copies a JSON string into dst[size]. Returns 0, or -1 when item is not a
 * string or does not fit. */
static int copy_string(char *dst, size_t size, const cJSON *item)
{
	size_t n;

	if (!cJSON_IsString(item))
		return -1;
	n = strlen(item->valuestring);
	if (n >= size)
		return -1;
	memcpy(dst, item->valuestring, n + 1);
	return 0;
}

static int parse_type(const cJSON *event, kube_event *ev)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(event, "type");

	for (size_t i = 0; cJSON_IsString(type) && i < sizeof(event_types) / sizeof(event_types[0]); i++)
		if (!strcmp(type->valuestring, event_types[i])) {
			ev->type = (kube_event_type)i;
			return 0;
		}
	return -1;
}

/* An ERROR event's object is a Status: its code and message. */
static int parse_status(const cJSON *object, kube_event *ev, char **error)
{
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(object, "code");
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(object, "message");

	if (!cJSON_IsNumber(code) || code->valuedouble < 0 || code->valuedouble > 999)
		return ds_fail(error, "an ERROR event without a Status code");
	ev->code = code->valueint;
	if (cJSON_IsString(message)) {
		ds_text_copy(ev->message, sizeof(ev->message), message->valuestring);
	}
	return 0;
}

/* The object's resourceVersion, when it has one. */
static int parse_resource_version(const cJSON *object, kube_event *ev, char **error)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(object, "metadata");
	const cJSON *rv = cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion");

	if (rv && copy_string(ev->resource_version, sizeof(ev->resource_version), rv) < 0)
		return ds_fail(error, "a %s event with a malformed resourceVersion", event_types[ev->type]);
	return 0;
}

const char *kube_event_type_name(kube_event_type type)
{
	return (size_t)type < sizeof(event_types) / sizeof(event_types[0]) ? event_types[type] : "unknown";
}

int kube_event_names(const cJSON *object, kube_event *ev, char **error)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(object, "metadata");

	if (copy_string(ev->ns, sizeof(ev->ns), cJSON_GetObjectItemCaseSensitive(meta, "namespace")) < 0 ||
	    copy_string(ev->name, sizeof(ev->name), cJSON_GetObjectItemCaseSensitive(meta, "name")) < 0 ||
	    !*ev->ns || !*ev->name) {
		ev->ns[0] = ev->name[0] = '\0';
		return ds_fail(error, "a %s event without a valid metadata.namespace and name",
			       kube_event_type_name(ev->type));
	}
	return 0;
}

cJSON *kube_event_read(const char *line, size_t len, kube_event *ev, const cJSON **object, char **error)
{
	cJSON *event = cJSON_ParseWithLength(line, len);
	int rc;

	memset(ev, 0, sizeof(*ev));
	*object = cJSON_GetObjectItemCaseSensitive(event, "object");
	if (!cJSON_IsObject(event))
		rc = ds_fail(error, "a watch event that is not a JSON object");
	else if (parse_type(event, ev) < 0)
		rc = ds_fail(error, "a watch event of unknown type");
	else if (!cJSON_IsObject(*object))
		rc = ds_fail(error, "a %s event without an object", event_types[ev->type]);
	else if (ev->type == KUBE_EVENT_ERROR)
		rc = parse_status(*object, ev, error);
	else
		rc = parse_resource_version(*object, ev, error);
	if (rc < 0) {
		cJSON_Delete(event);
		*object = NULL;
		return NULL;
	}
	return event;
}

int kube_event_parse(const char *line, size_t len, kube_event *ev, char **error)
{
	const cJSON *object;
	cJSON *event = kube_event_read(line, len, ev, &object, error);
	int rc = event ? 0 : -1;

	if (event && ev->type != KUBE_EVENT_ERROR && ev->type != KUBE_EVENT_BOOKMARK)
		rc = kube_event_names(object, ev, error);
	cJSON_Delete(event);
	return rc;
}

/* Hands every complete line in the buffer to on_line and keeps the rest. */
static int drain_lines(kube_line_splitter *s)
{
	size_t start = 0;
	char *nl;
	int rc = 0;

	while (rc == 0 && (nl = memchr(s->buf + start, '\n', s->len - start))) {
		size_t n = (size_t)(nl - (s->buf + start));

		if (n > 0 && s->buf[start + n - 1] == '\r')
			n--;
		if (n > s->max)
			rc = -1;
		else if (n > 0)
			rc = s->on_line(s->data, s->buf + start, n);
		start = (size_t)(nl - s->buf) + 1;
	}
	memmove(s->buf, s->buf + start, s->len - start);
	s->len -= start;
	return rc;
}

/* Makes room for n more bytes. Returns 0, or -1 out of memory. */
static int reserve(kube_line_splitter *s, size_t n)
{
	char *grown = ds_array_reserve(s->buf, s->len, n, 1);

	if (!grown)
		return -1;
	s->buf = grown;
	return 0;
}

int kube_lines_feed(kube_line_splitter *s, const char *bytes, size_t len)
{
	while (len > 0) {
		/* Take no more than can complete a line within the bound (+ "\r\n"). */
		size_t room = s->max + 2 - s->len;
		size_t n = len < room ? len : room;
		int rc;

		if (reserve(s, n) < 0)
			return -1;
		memcpy(s->buf + s->len, bytes, n);
		s->len += n;
		bytes += n;
		len -= n;
		rc = drain_lines(s);
		if (rc)
			return rc;
		if (s->len > s->max && !(s->len == s->max + 1 && s->buf[s->max] == '\r'))
			return -1;
	}
	return 0;
}

void kube_lines_free(kube_line_splitter *s)
{
	free(s->buf);
	s->buf = NULL;
	s->len = 0;
}
