/* fuzz_watch.c - watch stream bytes -> kube_lines_feed() (fed in chunks
 * whose sizes the input's first byte picks) -> kube_event_parse() on each
 * line, as the DaemonSet cache reads a watch.
 *
 * Asserts, for every input:
 * - the splitter hands over exactly the non-empty lines of the stream,
 *   without "\n" or the "\r" before it, each within the bound, the same
 *   however the bytes are chunked (compared with a plain reference split);
 *   it fails only when a line is over the bound;
 * - kube_event_parse() either fails with a message or gives an event of a
 *   known type whose strings are terminated within their fields; an event
 *   other than BOOKMARK and ERROR names a namespace and a name, and an
 *   ERROR a Status code from 0 to 999. */
#include "fuzz/fuzz.h"
#include "kube/private.h"

#include <stdlib.h>
#include <string.h>

#define LINE_MAX_BYTES 4096

/* What the splitter has handed over so far. */
struct seen {
	const uint8_t *stream; /* the whole input, for the reference split */
	size_t size;
	size_t next;           /* where the reference looks for the next line */
	size_t lines;
};

/* The next non-empty line of the stream from s->next, split plainly.
 * Returns false when no complete line is left. */
static bool reference_line(struct seen *s, const char **line, size_t *len)
{
	while (s->next < s->size) {
		const uint8_t *start = s->stream + s->next;
		const uint8_t *nl = memchr(start, '\n', s->size - s->next);
		size_t n;
		if (!nl)
			return false;
		n = (size_t)(nl - start);
		s->next += n + 1;
		if (n > 0 && start[n - 1] == '\r')
			n--;
		if (n > 0) {
			*line = (const char *)start;
			*len = n;
			return true;
		}
	}
	return false;
}

static void check_event(const kube_event *ev)
{
	FUZZ_ASSERT(ev->type <= KUBE_EVENT_ERROR, "an event of unknown type");
	FUZZ_ASSERT(memchr(ev->ns, '\0', sizeof(ev->ns)) && memchr(ev->name, '\0', sizeof(ev->name)) &&
			    memchr(ev->resource_version, '\0', sizeof(ev->resource_version)) &&
			    memchr(ev->message, '\0', sizeof(ev->message)),
		    "an unterminated string in an event");
	if (ev->type == KUBE_EVENT_ERROR)
		FUZZ_ASSERT(ev->code >= 0 && ev->code <= 999, "an ERROR event with a code out of range");
	else if (ev->type != KUBE_EVENT_BOOKMARK)
		FUZZ_ASSERT(ev->ns[0] && ev->name[0], "an event without namespace or name");
}

static int on_line(void *data, const char *line, size_t len)
{
	struct seen *s = data;
	const char *want;
	size_t want_len;
	kube_event ev;
	char *error = NULL;

	FUZZ_ASSERT(len > 0 && len <= LINE_MAX_BYTES, "an empty line or one over the bound");
	FUZZ_ASSERT(!memchr(line, '\n', len), "a line holding a newline");
	FUZZ_ASSERT(reference_line(s, &want, &want_len), "a line the stream does not hold");
	FUZZ_ASSERT(want_len == len && !memcmp(want, line, len), "a line other than the stream's next one");
	s->lines++;
	if (kube_event_parse(line, len, &ev, &error) == 0) {
		FUZZ_ASSERT(error == NULL, "a parsed event with an error");
		check_event(&ev);
	} else {
		FUZZ_ASSERT(error && *error, "a refused event without a message");
	}
	free(error);
	return 0;
}

/* Whether the stream holds a line over the bound before its end (the
 * splitter may then stop). */
static bool has_long_line(const uint8_t *data, size_t size)
{
	size_t start = 0;

	for (size_t i = 0; i <= size; i++)
		if (i == size || data[i] == '\n') {
			size_t n = i - start;
			if (n > 0 && i < size && data[i - 1] == '\r')
				n--;
			if (n > LINE_MAX_BYTES)
				return true;
			start = i + 1;
		}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t chunk = size ? (size_t)data[0] % 64 + 1 : 1;
	struct seen s = {data, size, 0, 0};
	kube_line_splitter sp = {.max = LINE_MAX_BYTES, .on_line = on_line, .data = &s};
	const char *rest;
	size_t rest_len;
	int rc = 0;

	for (size_t at = 0; at < size && rc == 0; at += chunk)
		rc = kube_lines_feed(&sp, (const char *)data + at, size - at < chunk ? size - at : chunk);
	if (rc == 0) {
		FUZZ_ASSERT(!reference_line(&s, &rest, &rest_len), "a complete line the splitter kept");
		FUZZ_ASSERT(sp.len <= LINE_MAX_BYTES + 1, "the splitter keeps more than one line's worth");
	} else {
		FUZZ_ASSERT(rc == -1 && has_long_line(data, size), "the splitter failed without a line over the bound");
	}
	kube_lines_free(&sp);
	return 0;
}
