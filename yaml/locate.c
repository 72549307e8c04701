/* locate.c - the place of a few fields of one block-style YAML document,
 * found line by line without building the document: what placing a
 * finding in a file needs, for a fraction of a parse. It gives up on
 * whatever it could read otherwise than yaml.c does; the caller then
 * reads the document whole. */
#include "yaml/scalar.h"
#include "yaml/document.h"
#include "util/util.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Collections nested deeper than this are given up on. */
#define MAX_FRAMES 64
/* Keys on the way to the fields asked for, kept to catch one given twice. */
#define MAX_SEEN 64
/* The longest pointer followed. */
#define MAX_POINTER 512

/* An open block collection: where its entries start, whether it is a
 * sequence, and for a mapping on the way to a field asked for, the length
 * of its pointer in the walk's path (else -1). */
struct frame {
	size_t indent;
	bool seq;
	int path;
};

struct walk {
	const char *buf;
	size_t len;
	const char *const *pointers;
	size_t count;
	ds_located *out;
	size_t depth;
	bool root_done;     /* the root mapping was closed: nothing may follow */
	/* the last entry of the top frame has no value on its line: a deeper
	 * line (or a "-" at its indent, in a mapping) holds it */
	bool pending;
	int pending_path;        /* its pointer's length in path when it leads to a field asked for, else -1 */
	ds_located *pending_out; /* the field asked for that it is, or NULL */
	/* lines deeper than skip_above, and blank ones, belong to the value
	 * of the entry before (a block scalar, or a scalar of a mapping not
	 * followed) */
	bool skipping;
	size_t skip_above;
	bool skip_gives_up; /* the value is a field asked for: a deeper line is more of it */
	/* this line opened a collection in the entry before (one that leads
	 * to a field, or is one, when relevant) */
	bool opened, opened_relevant;
	size_t seen_count;
	unsigned line;
	bool give_up, oom;
	/* set as they are used (not zeroed: reading is to cost little) */
	struct frame frames[MAX_FRAMES];
	char path[MAX_POINTER + 1];
	char *seen[MAX_SEEN]; /* pointers of keys met on the way to a field asked for */
};

/* Whether the pointer p (of length n) leads to a field asked for; sets
 * *exact to the index of the field it is, else to w->count. */
static bool leads_to(const struct walk *w, const char *p, size_t n, size_t *exact)
{
	bool leads = false;

	*exact = w->count;
	for (size_t i = 0; i < w->count; i++) {
		const char *want = w->pointers[i];
		if (strncmp(want, p, n))
			continue;
		if (!want[n])
			*exact = i;
		else if (want[n] == '/')
			leads = true;
	}
	return leads;
}

/* The column (from 1) of the byte at `at` of a line starting at `start`,
 * in characters as libyaml counts them. */
static unsigned column_of(const struct walk *w, size_t start, size_t at)
{
	unsigned column = 1;

	for (size_t i = start; i < at; i++)
		column += ((unsigned char)w->buf[i] & 0xC0) != 0x80;
	return column;
}

/* The end of the quoted scalar opening at `at` on a line ending at end,
 * just past its closing quote; 0 when it does not close on the line. */
static size_t past_quote(const char *buf, size_t at, size_t end)
{
	char quote = buf[at++];

	while (at < end) {
		if (quote == '"' && buf[at] == '\\' && at + 1 < end) {
			at += 2;
			continue;
		}
		if (buf[at] == quote) {
			if (quote == '\'' && at + 1 < end && buf[at + 1] == '\'') {
				at += 2;
				continue;
			}
			return at + 1;
		}
		at++;
	}
	return 0;
}

/* The end of the flow collection opening at `at`, just past its closing
 * bracket; 0 when it does not close on the line or holds what is not
 * followed (anchors, aliases, tags, comments). */
static size_t past_flow(const char *buf, size_t at, size_t end)
{
	int open = 0;

	while (at < end) {
		char c = buf[at];
		if (c == '"' || c == '\'') {
			size_t q = past_quote(buf, at, end);
			if (!q)
				return 0;
			at = q;
			continue;
		}
		if (strchr("&*!#|>%@`", c))
			return 0;
		if (c == '[' || c == '{')
			open++;
		else if ((c == ']' || c == '}') && --open == 0)
			return at + 1;
		at++;
	}
	return 0;
}

/* Whether only blanks, or blanks and a comment, follow `at` on the line. */
static bool rest_blank(const char *buf, size_t at, size_t end)
{
	size_t from = at;

	while (at < end && buf[at] == ' ')
		at++;
	return at == end || (buf[at] == '#' && (at > from || at == 0 || buf[at - 1] == ' '));
}

/* A scalar value buf[at, end) of the given style read as yaml.c reads
 * it: a new item, or NULL (w->give_up or w->oom set). */
static cJSON *scalar_json(struct walk *w, size_t at, size_t end, yaml_scalar_style_t style)
{
	char *text = NULL, *error = NULL;
	size_t n = 0;
	ds_scalar s;
	cJSON *item = NULL;

	if (style == YAML_DOUBLE_QUOTED_SCALAR_STYLE && memchr(w->buf + at, '\\', end - at)) {
		w->give_up = true;
		return NULL;
	}
	text = malloc(end - at + 1);
	if (!text) {
		w->oom = true;
		return NULL;
	}
	for (size_t i = at; i < end; i++) {
		text[n++] = w->buf[i];
		if (style == YAML_SINGLE_QUOTED_SCALAR_STYLE && w->buf[i] == '\'')
			i++; /* '' is one quote */
	}
	text[n] = '\0';
	if (ds_scalar_resolve(text, n, style, NULL, &s, &error) < 0) {
		w->give_up = true;
	} else {
		item = ds_scalar_has_nul(&s) ? NULL : ds_scalar_json(&s, &error);
		if (!item)
			w->give_up = true;
		ds_scalar_free(&s);
	}
	free(error);
	free(text);
	return item;
}

static void push(struct walk *w, size_t indent, bool seq, int path)
{
	if (w->depth >= MAX_FRAMES) {
		w->give_up = true;
		return;
	}
	w->frames[w->depth++] = (struct frame){indent, seq, path};
}

/* Records that the key at pointer path[0..n) was met; gives up when it
 * was met before (which of the two counts is the parse's to tell). */
static void seen_once(struct walk *w, size_t n)
{
	char *copy;

	for (size_t i = 0; i < w->seen_count; i++)
		if (strlen(w->seen[i]) == n && !memcmp(w->seen[i], w->path, n)) {
			w->give_up = true;
			return;
		}
	if (w->seen_count >= MAX_SEEN) {
		w->give_up = true;
		return;
	}
	copy = strndup(w->path, n);
	if (!copy) {
		w->oom = true;
		return;
	}
	w->seen[w->seen_count++] = copy;
}

/* Reads the value that starts at `at` on the line [start, end) of the
 * entry whose key or dash is at column index `col` (0-based): out is the
 * field asked for that it is (or NULL), path the length of its pointer
 * when it leads to one (else -1). */
static void read_value(struct walk *w, size_t start, size_t at, size_t end, size_t col, ds_located *out, int path)
{
	char c;

	while (at < end && w->buf[at] == ' ')
		at++;
	if (at == end || rest_blank(w->buf, at, end)) {
		/* on the lines below: a collection, or null when none follows */
		w->pending = true;
		w->pending_path = path;
		w->pending_out = out;
		return;
	}
	c = w->buf[at];
	if (c == '-' && (at + 1 == end || w->buf[at + 1] == ' ')) {
		w->give_up = true; /* a sequence's entry after a key: the parse refuses it */
		return;
	}
	/* what leads to a field is a mapping on the lines below; anchors,
	 * aliases and tags are the parse's to resolve */
	if (path >= 0 || strchr("&*!?%@`,", c)) {
		w->give_up = true;
		return;
	}
	if (out)
		out->value = (ds_pos){w->line, column_of(w, start, at)};
	if (c == '|' || c == '>') {
		if (out)
			w->give_up = true; /* a block scalar asked for: the parse reads it */
	} else if (c == '[' || c == '{') {
		size_t close = past_flow(w->buf, at, end);
		if (!close || !rest_blank(w->buf, close, end))
			w->give_up = true;
		if (out)
			out->collection = true;
	} else if (c == '"' || c == '\'') {
		size_t close = past_quote(w->buf, at, end);
		if (!close || !rest_blank(w->buf, close, end))
			w->give_up = true;
		else if (out)
			out->scalar = scalar_json(w, at + 1, close - 1,
						  c == '"' ? YAML_DOUBLE_QUOTED_SCALAR_STYLE : YAML_SINGLE_QUOTED_SCALAR_STYLE);
	} else if (out) {
		size_t e = at;
		while (e < end && !(w->buf[e] == '#' && w->buf[e - 1] == ' '))
			e++;
		while (e > at && w->buf[e - 1] == ' ')
			e--;
		if (memmem(w->buf + at, e - at, ": ", 2) || w->buf[e - 1] == ':')
			w->give_up = true;
		else
			out->scalar = scalar_json(w, at, e, YAML_PLAIN_SCALAR_STYLE);
	}
	/* deeper lines go on with the value (a block scalar, a plain scalar
	 * over lines): skipped, unless it is the field asked for */
	w->skipping = true;
	w->skip_above = col;
	w->skip_gives_up = out != NULL;
}

/* Appends the key text[0..n) to the path after its first `at` bytes, as a
 * pointer token. Returns the new length, or -1 when it does not fit. */
static int path_append(struct walk *w, int at, const char *key, size_t n)
{
	size_t len = (size_t)at;

	if (len + 1 > MAX_POINTER)
		return -1;
	w->path[len++] = '/';
	for (size_t i = 0; i < n; i++) {
		const char *token = key[i] == '~' ? "~0" : key[i] == '/' ? "~1" : NULL;
		size_t tn = token ? 2 : 1;
		if (len + tn > MAX_POINTER)
			return -1;
		if (token)
			memcpy(w->path + len, token, 2);
		else
			w->path[len] = key[i];
		len += tn;
	}
	w->path[len] = '\0';
	return (int)len;
}

/* Whether the plain key text[0..n) reads as the string it is written as. */
static bool plain_string_key(const char *text, size_t n)
{
	char *copy = strndup(text, n), *error = NULL;
	ds_scalar s;
	bool plain = false;

	if (copy && ds_scalar_resolve(copy, n, YAML_PLAIN_SCALAR_STYLE, NULL, &s, &error) == 0) {
		plain = s.type == DS_SCALAR_STRING && s.length == n && !memcmp(s.text, text, n);
		ds_scalar_free(&s);
	}
	free(error);
	free(copy);
	return plain;
}

/* Reads the entry at `at` (a key and its value, or a value alone) of the
 * top frame, on the line [start, end). */
static void read_entry(struct walk *w, size_t start, size_t at, size_t end)
{
	struct frame *top = &w->frames[w->depth - 1];
	size_t col = at - start, key_end = at, colon = end;
	char c = w->buf[at];

	if (strchr("&*!?%@`", c)) {
		w->give_up = true; /* an anchor, alias, tag or complex key */
		return;
	}
	/* where the key ends: a quoted key, or plain text up to ": " */
	if (c == '"' || c == '\'') {
		key_end = past_quote(w->buf, at, end);
		if (!key_end) {
			w->give_up = true;
			return;
		}
		if (key_end < end && w->buf[key_end] == ':' && (key_end + 1 == end || w->buf[key_end + 1] == ' '))
			colon = key_end;
	} else if (c != '[' && c != '{') {
		for (size_t i = at; i < end; i++) {
			if (w->buf[i] == '#' && i > at && w->buf[i - 1] == ' ')
				break;
			if (w->buf[i] == ':' && (i + 1 == end || w->buf[i + 1] == ' ')) {
				colon = i;
				break;
			}
		}
		key_end = colon;
		while (key_end > at && w->buf[key_end - 1] == ' ')
			key_end--;
	}
	if (colon == end) {
		/* a value alone: a sequence's entry, or the value of a key of the
		 * line before (not followed when it leads to a field) */
		if (top->seq) {
			read_value(w, start, at, end, top->indent, NULL, -1);
		} else if (w->opened && !w->opened_relevant) {
			w->depth--;
			read_value(w, start, at, end, w->frames[w->depth - 1].indent, NULL, -1);
		} else {
			w->give_up = true;
		}
		return;
	}
	if (top->seq) {
		/* "- key: value": a mapping in the entry, at the key's column */
		push(w, col, false, -1);
		top = &w->frames[w->depth - 1];
	}
	if (top->path < 0) {
		read_value(w, start, colon + 1, end, col, NULL, -1);
		return;
	}
	/* a key of a mapping on the way to a field asked for */
	{
		size_t exact;
		int len;
		bool leads;
		ds_located *out = NULL;
		/* a quoted key, "<<" (a merge) or one that reads as no string:
		 * the parse tells what it is */
		if (c == '"' || c == '\'' || strchr("?&*!|>%@`-[]{},#<", c) || !plain_string_key(w->buf + at, key_end - at) ||
		    (len = path_append(w, top->path, w->buf + at, key_end - at)) < 0) {
			w->give_up = true;
			return;
		}
		leads = leads_to(w, w->path, (size_t)len, &exact);
		if (!leads && exact == w->count) {
			read_value(w, start, colon + 1, end, col, NULL, -1);
			return;
		}
		seen_once(w, (size_t)len);
		if (w->give_up || w->oom)
			return;
		if (exact < w->count) {
			out = &w->out[exact];
			out->found = true;
			out->key = (ds_pos){w->line, column_of(w, start, at)};
		}
		read_value(w, start, colon + 1, end, col, out, leads ? len : -1);
	}
}

/* Whether the line holds a dash that opens a sequence's entry at `at`. */
static bool dash_at(const struct walk *w, size_t at, size_t end)
{
	return at < end && w->buf[at] == '-' && (at + 1 == end || w->buf[at + 1] == ' ');
}

/* Closes the frames deeper than indent. */
static void close_deeper(struct walk *w, size_t indent)
{
	while (w->depth && w->frames[w->depth - 1].indent > indent) {
		if (--w->depth == 0)
			w->root_done = true;
	}
}

/* Places the line's first entry, at column index n, among the open
 * frames: a sibling of the top frame's entries, or the first of a
 * collection nested in its last entry. */
static void place_line(struct walk *w, size_t n, bool dash)
{
	struct frame *top;
	bool pending = w->pending;

	w->pending = false;
	close_deeper(w, n);
	if (!w->depth) {
		if (w->root_done || dash)
			w->give_up = true; /* the root is a mapping, and one */
		else
			push(w, n, false, 0);
		return;
	}
	top = &w->frames[w->depth - 1];
	if (top->indent == n && top->seq && !dash) {
		w->depth--; /* a sequence at its key's indent has ended */
		top = w->depth ? &w->frames[w->depth - 1] : NULL;
		if (!top || top->seq || top->indent != n)
			w->give_up = true;
		return;
	}
	if (top->indent == n && !(dash && !top->seq))
		return; /* another entry of the top frame */
	/* a collection nested in the last entry: a mapping below its key, or a
	 * sequence below it or at its indent */
	if (!pending || (top->indent == n && !dash)) {
		w->give_up = true;
		return;
	}
	w->opened = true;
	w->opened_relevant = w->pending_out || w->pending_path >= 0;
	if (w->pending_out)
		w->pending_out->collection = true;
	if (dash && w->pending_path >= 0)
		w->give_up = true; /* on the way to a field: a sequence */
	else
		push(w, n, dash, dash ? -1 : w->pending_path);
}

/* Reads the line [start, end). */
static void read_line(struct walk *w, size_t start, size_t end)
{
	size_t at = start;

	w->opened = false;
	while (at < end && w->buf[at] == ' ')
		at++;
	if (at == end)
		return; /* blank */
	if (w->skipping) {
		if (at - start > w->skip_above) {
			if (w->skip_gives_up)
				w->give_up = true; /* the field asked for goes on over lines */
			return;
		}
		w->skipping = false;
	}
	if (w->buf[at] == '#')
		return;
	if (w->line == 1 && end - start >= 3 && !memcmp(w->buf + start, "---", 3) && rest_blank(w->buf, start + 3, end))
		return; /* the document's marker */
	if (w->buf[at] == '%' || (end - at >= 3 && (!memcmp(w->buf + at, "---", 3) || !memcmp(w->buf + at, "...", 3)))) {
		w->give_up = true;
		return;
	}
	place_line(w, at - start, dash_at(w, at, end));
	/* entries of sequences, and sequences in them, on this line */
	while (!w->give_up && dash_at(w, at, end)) {
		at++;
		while (at < end && w->buf[at] == ' ')
			at++;
		if (at == end || rest_blank(w->buf, at, end)) {
			w->pending = true;
			w->pending_path = -1;
			w->pending_out = NULL;
			return;
		}
		if (dash_at(w, at, end))
			push(w, at - start, true, -1);
	}
	if (!w->give_up)
		read_entry(w, start, at, end);
}

/* The end of the line at `at` of buf[0..len) (without its break) and, in
 * *next, the start of the next; (size_t)-1 when a byte on the way is one
 * the walk cannot read as libyaml does: a tab, another control character,
 * a character outside ASCII (columns, and the line breaks NEL, LS and PS),
 * a NUL. Eight bytes at a time, so that the text costs little more than
 * a look at each word. */
static size_t line_end(const char *buf, size_t len, size_t at, size_t *next)
{
	const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;

	for (; at + 8 <= len; at += 8) {
		uint64_t x, low7;
		memcpy(&x, buf + at, 8);
		low7 = x & ~highs;
		/* a byte below 0x20 or above 0x7E (the sums never carry over) */
		if (((~(low7 + 0x60 * ones) | (low7 + ones) | x) & highs) != 0)
			break;
	}
	for (; at < len; at++) {
		unsigned char c = (unsigned char)buf[at];
		if (c >= 0x20 && c < 0x7F)
			continue;
		if (c != '\n' && c != '\r') {
			*next = len;
			return (size_t)-1;
		}
		*next = at + 1 + (c == '\r' && at + 1 < len && buf[at + 1] == '\n');
		return at;
	}
	*next = len;
	return len;
}

int ds_yaml_locate(const char *buf, size_t len, const char *const *pointers, size_t count, ds_located *out)
{
	struct walk *w;
	int rc;

	for (size_t i = 0; i < count; i++)
		out[i] = (ds_located){0};
	for (size_t i = 0; i < count; i++)
		if (pointers[i][0] != '/' || strchr(pointers[i], '~') || strlen(pointers[i]) > MAX_POINTER)
			return 0;
	w = malloc(sizeof(*w));
	if (!w)
		return -1;
	memset(w, 0, offsetof(struct walk, frames));
	w->buf = buf;
	w->len = len;
	w->pointers = pointers;
	w->count = count;
	w->out = out;
	w->line = 1;
	for (size_t at = 0; at < len && !w->give_up && !w->oom; w->line++) {
		size_t next, end = line_end(buf, len, at, &next);
		if (end == (size_t)-1)
			w->give_up = true;
		else
			read_line(w, at, end);
		at = next;
	}
	/* a text of comments and blank lines is no document: nothing found */
	rc = w->oom ? -1 : w->give_up ? 0 : 1;
	for (size_t i = 0; i < w->seen_count; i++)
		free(w->seen[i]);
	free(w);
	if (rc != 1)
		ds_located_free(out, count);
	return rc;
}

void ds_located_free(ds_located *out, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		cJSON_Delete(out[i].scalar);
		out[i] = (ds_located){0};
	}
}
