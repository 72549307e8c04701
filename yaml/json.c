/* json.c - a stream of JSON values read into documents with positions, as
 * kubectl reads a manifest file whose text starts with "{" (Go's
 * encoding/json, then the numbers as Kubernetes converts them): values one
 * after the other, surrogate pairs and lone surrogates as Go reads them. */
#include "yaml/json.h"
#include "yaml/members.h"
#include "yaml/posmap.h"
#include "yaml/scalar.h"
#include "util/util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOM "\xEF\xBB\xBF"
/* The end of a message about JSON syntax: why the text is JSON at all. */
#define READ_AS_JSON " (a file whose text starts with \"{\" is JSON, as kubectl reads it)"

/* The state of reading a stream. Positions: `line` is the line of `at`,
 * starting at byte line_start; col is the column of byte col_at, a byte
 * of that line at or before any position asked next. */
struct reader {
	const char *buf;
	size_t len, at;
	unsigned line;
	size_t line_start, col_at;
	unsigned col;
	ds_diag_list *diags;
	ds_kind_filter wanted; /* NULL: every document whole */
	ds_document *doc;      /* the document being read */
	bool failed;
	/* The first string holding a NUL in the document (an error once it
	 * is known to be read whole). */
	bool nul;
	ds_pos nul_at;
	/* A top-level object lint does not read whole: its kind as it stands
	 * (NULL: not a string), and whether a later kind makes it one to read
	 * whole after all. */
	bool skip, restart;
	char *skip_kind;
};

/* A string as read: its bytes (a NUL after them) and where it stood. */
struct string {
	char *bytes;
	size_t length;
	size_t start, end; /* the offsets of its quotes: start at the first, end past the last */
};

/* The position of byte `at`, on the current line. */
static ds_pos pos_at(struct reader *r, size_t at)
{
	if (r->col_at < r->line_start || r->col_at > at) {
		r->col_at = r->line_start;
		r->col = 1;
	}
	for (; r->col_at < at && r->col_at < r->len; r->col_at++)
		r->col += ((unsigned char)r->buf[r->col_at] & 0xC0) != 0x80;
	return (ds_pos){r->line, r->col};
}

/* Records the first error of the stream at byte `at`. */
static void fail_at(struct reader *r, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail_at(struct reader *r, size_t at, const char *fmt, ...)
{
	char *message;
	va_list ap;

	if (r->failed)
		return;
	va_start(ap, fmt);
	message = ds_vformat(fmt, ap);
	va_end(ap);
	ds_diag_add(r->diags, pos_at(r, at), true, "%s", message ? message : "out of memory");
	free(message);
	r->failed = true;
}

static void oom(struct reader *r)
{
	if (!r->failed)
		ds_diag_add(r->diags, (ds_pos){0, 0}, true, "out of memory");
	r->failed = true;
}

/* The byte at `at` as Go's messages quote it: 'x', '\x01', or the end. */
static const char *shown(const struct reader *r, size_t at, char *buf, size_t size)
{
	unsigned char c = at < r->len ? (unsigned char)r->buf[at] : 0;

	if (at >= r->len)
		snprintf(buf, size, "end of input");
	else if (c >= 0x20 && c < 0x7F)
		snprintf(buf, size, c == '\'' ? "character '\\''" : "character '%c'", c);
	else
		snprintf(buf, size, "character '\\x%02x'", c);
	return buf;
}

/* Records that the byte at `at` is not what JSON allows there. */
static void unexpected(struct reader *r, size_t at, const char *where)
{
	char what[32];

	if (at >= r->len)
		fail_at(r, at, "unexpected end of JSON input %s" READ_AS_JSON, where);
	else
		fail_at(r, at, "invalid %s %s" READ_AS_JSON, shown(r, at, what, sizeof(what)), where);
}

/* Skips JSON white space (space, tab, line breaks), counting lines: "\n",
 * "\r\n" and a lone "\r" each end one. */
static void skip_space(struct reader *r)
{
	while (r->at < r->len) {
		char c = r->buf[r->at];
		if (c == ' ' || c == '\t') {
			r->at++;
		} else if (c == '\n' || c == '\r') {
			r->at += c == '\r' && r->at + 1 < r->len && r->buf[r->at + 1] == '\n' ? 2 : 1;
			r->line++;
			r->line_start = r->at;
		} else {
			break;
		}
	}
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The code unit of the escape \uXXXX at s (len bytes), or -1. */
static long u4(const char *s, size_t len)
{
	long v = 0;

	if (len < 6 || s[0] != '\\' || s[1] != 'u')
		return -1;
	for (int i = 2; i < 6; i++) {
		int h = hex_value(s[i]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static size_t put_utf8(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Checks the string at r->at (its opening quote) and moves past it.
 * Decodes it into s->bytes when `decode`. Go's reading: the escapes
 * \" \\ \/ \b \f \n \r \t \uXXXX; a surrogate pair is one character, a
 * surrogate without its pair U+FFFD. A byte that is not UTF-8 is an error
 * here (Go would read U+FFFD), as in YAML. Returns true, or false with
 * r->failed. */
static bool read_string(struct reader *r, struct string *s, bool decode)
{
	size_t at = r->at + 1, n = 0;

	s->start = r->at;
	s->bytes = NULL;
	s->length = 0;
	if (decode) {
		/* the decoded text is never longer than the quoted one: find the
		 * end first */
		size_t end = at;
		while (end < r->len && r->buf[end] != '"')
			end += r->buf[end] == '\\' && end + 1 < r->len ? 2 : 1;
		s->bytes = malloc(end - at + 1);
		if (!s->bytes) {
			oom(r);
			return false;
		}
	}
	while (at < r->len && r->buf[at] != '"') {
		unsigned char c = (unsigned char)r->buf[at];
		char esc, what[32];
		long cp, low;
		size_t len;
		if (c < 0x20) {
			fail_at(r, at, "invalid %s in string literal" READ_AS_JSON, shown(r, at, what, sizeof(what)));
			goto failed;
		}
		if (c >= 0x80) {
			len = ds_utf8_char((const unsigned char *)r->buf + at, r->len - at);
			if (!len) {
				fail_at(r, at, "invalid UTF-8 (byte 0x%02x at offset %zu)", c, at);
				goto failed;
			}
			if (decode)
				memcpy(s->bytes + n, r->buf + at, len);
			n += len;
			at += len;
			continue;
		}
		if (c != '\\') {
			if (decode)
				s->bytes[n] = (char)c;
			n++;
			at++;
			continue;
		}
		esc = at + 1 < r->len ? r->buf[at + 1] : '\0';
		if (esc && strchr("\"\\/bfnrt", esc)) {
			static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
			if (decode)
				s->bytes[n] = to[strchr(from, esc) - from];
			n++;
			at += 2;
			continue;
		}
		if (esc != 'u') {
			unexpected(r, at + 1, "in string escape code");
			goto failed;
		}
		cp = u4(r->buf + at, r->len - at);
		if (cp < 0) {
			size_t bad = at + 2;
			while (bad < at + 6 && bad < r->len && hex_value(r->buf[bad]) >= 0)
				bad++;
			unexpected(r, bad, "in \\u hexadecimal character escape");
			goto failed;
		}
		at += 6;
		if (cp >= 0xD800 && cp < 0xE000) {
			low = u4(r->buf + at, r->len - at);
			if (cp < 0xDC00 && low >= 0xDC00 && low < 0xE000) {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
				at += 6;
			} else {
				cp = 0xFFFD;
			}
		}
		if (cp == 0 && !r->nul) {
			r->nul = true;
			r->nul_at = pos_at(r, s->start);
		}
		if (decode)
			n += put_utf8(s->bytes + n, (unsigned long)cp);
		else
			n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
	}
	if (at >= r->len) {
		unexpected(r, at, "in string literal");
		goto failed;
	}
	if (decode)
		s->bytes[n] = '\0';
	s->length = n;
	r->at = at + 1;
	s->end = r->at;
	return true;
failed:
	free(s->bytes);
	s->bytes = NULL;
	return false;
}

/* Checks the number at r->at and moves past it: -?(0|[1-9][0-9]*)
 * (\.[0-9]+)?([eE][-+]?[0-9]+)?. Kubernetes reads it as a 64-bit integer,
 * else a 64-bit float: one beyond the floats (1e400) it refuses. Sets
 * *value. Returns true, or false with r->failed. */
static bool read_number(struct reader *r, double *value)
{
	const char *b = r->buf;
	size_t start = r->at, at = start, n;
	char small[64], *text;
	bool ok;

	at += at < r->len && b[at] == '-';
	if (at < r->len && b[at] == '0') {
		at++;
	} else if (at < r->len && b[at] >= '1' && b[at] <= '9') {
		while (at < r->len && b[at] >= '0' && b[at] <= '9')
			at++;
	} else {
		unexpected(r, at, "in numeric literal");
		return false;
	}
	if (at < r->len && b[at] == '.') {
		at++;
		if (at >= r->len || b[at] < '0' || b[at] > '9') {
			unexpected(r, at, "after decimal point in numeric literal");
			return false;
		}
		while (at < r->len && b[at] >= '0' && b[at] <= '9')
			at++;
	}
	if (at < r->len && (b[at] == 'e' || b[at] == 'E')) {
		at++;
		at += at < r->len && (b[at] == '+' || b[at] == '-');
		if (at >= r->len || b[at] < '0' || b[at] > '9') {
			unexpected(r, at, "in exponent of numeric literal");
			return false;
		}
		while (at < r->len && b[at] >= '0' && b[at] <= '9')
			at++;
	}
	r->at = at;
	n = at - start;
	text = n < sizeof(small) ? small : malloc(n + 1);
	if (!text) {
		oom(r);
		return false;
	}
	memcpy(text, b + start, n);
	text[n] = '\0';
	errno = 0;
	*value = strtod(text, NULL);
	ok = !(errno == ERANGE && isinf(*value)); /* an underflow reads as 0, as in Go */
	if (!ok) {
		char head[48];
		snprintf(head, sizeof(head), "%.40s%s", text, n > 40 ? "..." : "");
		fail_at(r, start, "the number %s is beyond the 64-bit floats Kubernetes reads numbers into", head);
	}
	if (text != small)
		free(text);
	return ok;
}

/* Checks the literal true, false or null at r->at and moves past it. */
static bool read_literal(struct reader *r, const char *word)
{
	size_t n = strlen(word);

	for (size_t i = 0; i < n; i++) {
		if (r->at + i >= r->len || r->buf[r->at + i] != word[i]) {
			char where[32];
			snprintf(where, sizeof(where), "in literal %s", word);
			unexpected(r, r->at + i, where);
			return false;
		}
	}
	r->at += n;
	return true;
}

/* Records where item came from. */
static void place(struct reader *r, cJSON *item, ds_pos key, ds_pos value, size_t end, char style)
{
	ds_node_info info = {item, key, value, pos_at(r, end), 0, style};

	if (ds_posmap_put(r->doc->positions, &info) < 0)
		oom(r);
}

static cJSON *read_value(struct reader *r, unsigned depth, bool build, ds_pos key);

/* Adds value to obj as key (a member replaced by it is kept alive, with a
 * warning at the key). Takes value. */
static void add_member(struct reader *r, cJSON *obj, ds_member_index *index, size_t *count, const char *key,
		       ds_pos key_pos, cJSON *value)
{
	cJSON *old = ds_member_find(index, obj, *count, key);

	if (old) {
		ds_diag_add(r->diags, key_pos, false, "key \"%s\" is repeated in this mapping; the last value wins",
			    key);
		cJSON_DetachItemViaPointer(obj, old);
		(*count)--;
		if (!r->doc->replaced)
			r->doc->replaced = cJSON_CreateArray();
		if (!r->doc->replaced || !cJSON_AddItemToArray(r->doc->replaced, old)) {
			cJSON_Delete(old);
			oom(r);
		}
	}
	if (!cJSON_AddItemToObject(obj, key, value)) {
		cJSON_Delete(value);
		oom(r);
		return;
	}
	ds_member_index_add(index, value);
	(*count)++;
}

/* A top-level member `kind` of a document read for lint, its value a
 * string: decides whether the document is read whole. Returns true when
 * it is skipped from here on. */
static bool kind_seen(struct reader *r, const struct string *kind)
{
	bool has_nul = memchr(kind->bytes, '\0', kind->length) != NULL;
	bool wanted = !has_nul && r->wanted(kind->bytes);

	if (has_nul) {
		fail_at(r, kind->start, "the kind holds a NUL character, which dsguard cannot compare: remove it");
		return false;
	}
	if (!r->skip) {
		if (wanted)
			return false;
		r->skip = true;
	} else if (wanted) {
		r->restart = true; /* Kubernetes takes the last kind: read it whole */
		return true;
	}
	free(r->skip_kind);
	r->skip_kind = strdup(kind->bytes);
	if (!r->skip_kind)
		oom(r);
	return true;
}

/* Reads the object at r->at ('{'). A top-level object read for lint
 * (`top`) is followed for its kind: from a kind lint does not want on,
 * it is read without being built. */
static cJSON *read_object(struct reader *r, unsigned depth, bool build, bool top, ds_pos key)
{
	ds_pos at = pos_at(r, r->at);
	cJSON *obj = build ? cJSON_CreateObject() : NULL;
	ds_member_index index = {0};
	size_t count = 0;

	if (build && !obj) {
		oom(r);
		return NULL;
	}
	r->at++;
	skip_space(r);
	if (r->at < r->len && r->buf[r->at] == '}') {
		r->at++;
	} else {
		while (!r->failed && !r->restart) {
			struct string name;
			ds_pos name_pos;
			bool is_kind;
			cJSON *value;
			skip_space(r);
			if (r->at >= r->len || r->buf[r->at] != '"') {
				unexpected(r, r->at, "looking for beginning of object key string");
				break;
			}
			name_pos = pos_at(r, r->at);
			if (!read_string(r, &name, build || top))
				break;
			is_kind = top && name.length == 4 && !memcmp(name.bytes, "kind", 4);
			skip_space(r);
			if (r->at >= r->len || r->buf[r->at] != ':') {
				free(name.bytes);
				unexpected(r, r->at, "after object key");
				break;
			}
			r->at++;
			skip_space(r);
			if (is_kind && r->wanted && r->at < r->len && r->buf[r->at] == '"') {
				struct string kind;
				ds_pos kind_pos = pos_at(r, r->at);
				if (read_string(r, &kind, true) && kind_seen(r, &kind) && build) {
					cJSON_Delete(obj); /* what was built before the kind is not needed */
					obj = NULL;
					build = false;
					ds_member_index_free(&index);
				}
				value = build && !r->failed ? cJSON_CreateString(kind.bytes) : NULL;
				if (value)
					place(r, value, name_pos, kind_pos, kind.end, '"');
				else if (build && !r->failed)
					oom(r);
				free(kind.bytes);
			} else {
				if (is_kind && r->skip) { /* a kind that is no string: none */
					free(r->skip_kind);
					r->skip_kind = NULL;
				}
				value = read_value(r, depth + 1, build, name_pos);
			}
			if (value)
				add_member(r, obj, &index, &count, name.bytes, name_pos, value);
			free(name.bytes);
			if (r->failed || r->restart)
				break;
			skip_space(r);
			if (r->at < r->len && r->buf[r->at] == ',') {
				r->at++;
				continue;
			}
			if (r->at < r->len && r->buf[r->at] == '}') {
				r->at++;
				break;
			}
			unexpected(r, r->at, "after object key:value pair");
		}
	}
	ds_member_index_free(&index);
	if (r->failed || r->restart || !obj) {
		cJSON_Delete(obj);
		return NULL;
	}
	place(r, obj, key, at, r->at, 'f');
	return obj;
}

/* Reads the array at r->at ('['). */
static cJSON *read_array(struct reader *r, unsigned depth, bool build, ds_pos key)
{
	ds_pos at = pos_at(r, r->at);
	cJSON *arr = build ? cJSON_CreateArray() : NULL;

	if (build && !arr) {
		oom(r);
		return NULL;
	}
	r->at++;
	skip_space(r);
	if (r->at < r->len && r->buf[r->at] == ']') {
		r->at++;
	} else {
		while (!r->failed) {
			cJSON *value;
			skip_space(r);
			value = read_value(r, depth + 1, build, (ds_pos){0, 0});
			if (value && !cJSON_AddItemToArray(arr, value)) {
				cJSON_Delete(value);
				oom(r);
			}
			if (r->failed)
				break;
			skip_space(r);
			if (r->at < r->len && r->buf[r->at] == ',') {
				r->at++;
				continue;
			}
			if (r->at < r->len && r->buf[r->at] == ']') {
				r->at++;
				break;
			}
			unexpected(r, r->at, "after array element");
		}
	}
	if (r->failed || !arr) {
		cJSON_Delete(arr);
		return NULL;
	}
	place(r, arr, key, at, r->at, 'f');
	return arr;
}

/* Reads the value at r->at, `depth` levels deep (a document is the
 * first), with `key` the position of its key (0:0 for none). Returns the
 * item when building, else NULL; r->failed tells an error. */
static cJSON *read_value(struct reader *r, unsigned depth, bool build, ds_pos key)
{
	size_t start = r->at;
	char c = start < r->len ? r->buf[start] : '\0';
	cJSON *item = NULL;
	struct string s;
	double number;

	if ((c == '{' || c == '[') && depth > DS_YAML_MAX_DEPTH) {
		fail_at(r, start, "nesting is deeper than %d levels", DS_YAML_MAX_DEPTH);
		return NULL;
	}
	if (c == '{')
		return read_object(r, depth, build, depth == 1 && r->wanted, key);
	if (c == '[')
		return read_array(r, depth, build, key);
	if (start >= r->len || !strchr("\"-0123456789tfn", c)) {
		unexpected(r, start, "looking for beginning of value");
		return NULL;
	}
	if (c == '"') {
		if (!read_string(r, &s, build))
			return NULL;
		item = build ? cJSON_CreateString(s.bytes) : NULL;
		free(s.bytes);
	} else if (c == 't' || c == 'f') {
		if (!read_literal(r, c == 't' ? "true" : "false"))
			return NULL;
		item = build ? cJSON_CreateBool(c == 't') : NULL;
	} else if (c == 'n') {
		if (!read_literal(r, "null"))
			return NULL;
		item = build ? cJSON_CreateNull() : NULL;
	} else {
		if (!read_number(r, &number))
			return NULL;
		item = build ? cJSON_CreateNumber(number) : NULL;
	}
	if (build && !item) {
		oom(r);
		return NULL;
	}
	if (item)
		place(r, item, key, pos_at(r, start), r->at, c == '"' ? '"' : 'p');
	return item;
}

static int new_document(struct reader *r)
{
	r->doc = calloc(1, sizeof(*r->doc));
	if (r->doc)
		r->doc->positions = ds_posmap_new();
	if (!r->doc || !r->doc->positions) {
		ds_document_free(r->doc);
		r->doc = NULL;
		oom(r);
		return -1;
	}
	return 0;
}

/* Drops the diagnostics added after the first `keep`. */
static void drop_diags(ds_diag_list *diags, size_t keep)
{
	while (diags->count > keep)
		free(diags->items[--diags->count].message);
}

/* Reads the document at r->at and hands it to cb. Returns cb's answer,
 * or -1 on an error. */
static int read_document(struct reader *r, ds_document_cb cb, void *data)
{
	struct reader saved = *r;
	size_t diags = r->diags->count;
	ds_document *doc;

	if (new_document(r) < 0)
		return -1;
	r->doc->root = read_value(r, 1, true, (ds_pos){0, 0});
	if (r->restart) {
		/* a later kind lint wants: read the object again, whole */
		ds_document_free(r->doc);
		free(r->skip_kind);
		drop_diags(r->diags, diags);
		*r = saved;
		r->wanted = NULL;
		if (new_document(r) < 0)
			return -1;
		r->doc->root = read_value(r, 1, true, (ds_pos){0, 0});
		r->wanted = saved.wanted;
	}
	if (!r->failed && r->skip) {
		/* {"kind": KIND} alone, with no positions: none of what was read
		 * before the kind is part of it */
		cJSON_Delete(r->doc->replaced);
		r->doc->replaced = NULL;
		ds_posmap_free(r->doc->positions);
		r->doc->positions = ds_posmap_new();
		r->doc->root = cJSON_CreateObject();
		if (!r->doc->positions || !r->doc->root ||
		    (r->skip_kind && !cJSON_AddStringToObject(r->doc->root, "kind", r->skip_kind)))
			oom(r);
	} else if (!r->failed && r->nul) {
		/* The rules compare strings as C strings: "Always\0x" must never
		 * read as "Always". */
		ds_diag_add(r->diags, r->nul_at, true, "a string holds a NUL character (\\0 or \\u0000), which dsguard "
						       "cannot compare: remove it");
		r->failed = true;
	}
	doc = r->doc;
	r->doc = NULL;
	free(r->skip_kind);
	r->skip_kind = NULL;
	r->skip = r->restart = r->nul = false;
	if (r->failed) {
		ds_document_free(doc);
		return -1;
	}
	return cb(data, doc);
}

bool ds_json_sniff(const char *buf, size_t len)
{
	size_t at = len >= 3 && !memcmp(buf, BOM, 3) ? 3 : 0;
	size_t end = len - at > DS_JSON_SNIFF_BYTES ? at + DS_JSON_SNIFF_BYTES : len;

	while (at < end) {
		const unsigned char *s = (const unsigned char *)buf + at;
		size_t n = ds_utf8_char(s, end - at);
		unsigned long cp;
		if (*s == '{')
			return true;
		if (!n)
			return false;
		cp = n == 1 ? s[0] : n == 2 ? (s[0] & 0x1Fu) << 6 | (s[1] & 0x3Fu)
			     : n == 3 ? (s[0] & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu) : 0;
		/* Go's unicode.IsSpace */
		if (!((cp >= '\t' && cp <= '\r') || cp == ' ' || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
		      (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
		      cp == 0x3000))
			return false;
		at += n;
	}
	return false;
}

int ds_json_load(const char *buf, size_t len, ds_kind_filter wanted, ds_document_cb cb, void *data,
		 ds_diag_list *diags)
{
	size_t start = len >= 3 && !memcmp(buf, BOM, 3) ? 3 : 0; /* a BOM is no column */
	struct reader r = {.buf = buf, .len = len, .at = start, .line = 1, .line_start = start, .col_at = start,
			   .col = 1, .diags = diags, .wanted = wanted};
	int rc = 0;

	for (;;) {
		skip_space(&r);
		if (r.at >= r.len)
			break;
		rc = read_document(&r, cb, data);
		if (rc < 0 || r.failed)
			break;
	}
	return rc < 0 || r.failed ? -1 : 0;
}
