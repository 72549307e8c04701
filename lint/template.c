/* template.c - a Helm template read as YAML: every template action
 * ({{ ... }}) blanked, so that the YAML written around the actions can be
 * parsed with its own lines and columns, and each line an action touches
 * known, so that nothing generated is ever edited. */
#include "lint/render.h"

#include <stdlib.h>
#include <string.h>

/* The offset just past the quoted text that starts at `at` (a ", ` or '
 * opening it), or len when it does not end. */
static size_t past_quoted(const char *text, size_t len, size_t at)
{
	char quote = text[at++];

	while (at < len && text[at] != quote) {
		if (quote != '`' && text[at] == '\\' && at + 1 < len)
			at++;
		at++;
	}
	return at < len ? at + 1 : len;
}

/* The offset just past the action that starts with "{{" at `at`: past its
 * "}}", stepping over strings and a comment in it; len when it does not
 * end. */
static size_t past_action(const char *text, size_t len, size_t at)
{
	at += 2;
	if (at < len && text[at] == '-')
		at++;
	while (at < len && (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' || text[at] == '\r'))
		at++;
	if (at + 1 < len && text[at] == '/' && text[at + 1] == '*') {
		const char *end = memmem(text + at + 2, len - at - 2, "*/", 2);
		at = end ? (size_t)(end - text) + 2 : len;
	}
	while (at < len) {
		if (text[at] == '"' || text[at] == '`' || text[at] == '\'')
			at = past_quoted(text, len, at);
		else if (text[at] == '}' && at + 1 < len && text[at + 1] == '}')
			return at + 2;
		else
			at++;
	}
	return len;
}

char *ds_template_mask(const char *text, size_t len, bool **templated, size_t *lines)
{
	char *masked = malloc(len + 1);
	size_t count = 1, line = 0;
	bool *marks;

	for (size_t i = 0; i < len; i++)
		count += ds_ends_line(text, len, i);
	marks = calloc(count, sizeof(*marks));
	if (!masked || !marks) {
		free(masked);
		free(marks);
		return NULL;
	}
	memcpy(masked, text, len);
	masked[len] = '\0';
	for (size_t at = 0; at < len;) {
		size_t end;
		if (ds_ends_line(text, len, at)) {
			line++;
			at++;
			continue;
		}
		if (text[at] != '{' || at + 1 >= len || text[at + 1] != '{') {
			at++;
			continue;
		}
		end = past_action(text, len, at);
		marks[line] = true;
		for (; at < end; at++) {
			if (ds_ends_line(text, len, at)) {
				marks[++line] = true;
				continue;
			}
			if (text[at] != '\r')
				masked[at] = ' ';
		}
	}
	*templated = marks;
	*lines = count;
	return masked;
}

bool ds_template_touches(const ds_source *src, unsigned first, unsigned last)
{
	if (!src->templated)
		return false;
	for (unsigned line = first ? first : 1; line <= last && line <= src->lines; line++)
		if (src->templated[line - 1])
			return true;
	return false;
}

static int pos_cmp(ds_pos a, ds_pos b)
{
	if (a.line != b.line)
		return a.line < b.line ? -1 : 1;
	return a.column < b.column ? -1 : a.column > b.column;
}

/* Whether the key `key`, of length len, is given more than once in the
 * mapping parent of doc (a repeat keeps the last; the others are in
 * doc->replaced). */
static bool given_twice(const ds_document *doc, const cJSON *parent, const char *key, size_t len)
{
	const ds_node_info *pinfo = ds_document_where(doc, parent);

	for (const cJSON *r = doc->replaced ? doc->replaced->child : NULL; pinfo && r; r = r->next) {
		const ds_node_info *rinfo = r->string && strlen(r->string) == len && !memcmp(r->string, key, len)
						    ? ds_document_where(doc, r)
						    : NULL;
		if (rinfo && pos_cmp(rinfo->key, pinfo->value) >= 0 && pos_cmp(rinfo->key, pinfo->value_end) < 0)
			return true;
	}
	return false;
}

/* Whether every key on the way to pointer in root is given once. Tokens
 * are compared as written: a key with "~" or "/" in it counts as given
 * once. */
static bool keys_given_once(const ds_document *doc, const cJSON *root, const char *pointer)
{
	size_t len = strlen(pointer);
	char *path = malloc(len + 1);
	bool once = path != NULL;

	for (size_t at = 0; once && at < len;) {
		size_t end = at + 1 + strcspn(pointer + at + 1, "/");
		const cJSON *parent;
		memcpy(path, pointer, at);
		path[at] = '\0';
		parent = ds_pointer_get(root, path);
		if (cJSON_IsObject(parent) && given_twice(doc, parent, pointer + at + 1, end - at - 1))
			once = false;
		at = end;
	}
	free(path);
	return once;
}

/* Whether the document root's `field` (a string at the top, or in
 * metadata) is `want`, or is not written as a string (a template makes
 * it). */
static bool may_be(const cJSON *field, const char *want)
{
	return !cJSON_IsString(field) || !strcmp(field->valuestring, want);
}

int ds_template_document(const ds_source *src, const char *kind, const char *name, const char *pointer,
			 const ds_source_doc **doc)
{
	const ds_source_doc *found = NULL;
	size_t count = 0, named = 0;

	for (size_t i = 0; i < src->doc_count; i++) {
		const cJSON *root = src->docs[i].doc->root;
		if (!cJSON_IsObject(root) || !ds_pointer_get(root, pointer) ||
		    !may_be(cJSON_GetObjectItemCaseSensitive(root, "kind"), kind))
			continue;
		count++;
		found = count == 1 ? &src->docs[i] : found;
	}
	if (count > 1) {
		for (size_t i = 0; i < src->doc_count; i++) {
			const cJSON *root = src->docs[i].doc->root, *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
			const char *written = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "name"));
			if (cJSON_IsObject(root) && ds_pointer_get(root, pointer) && written && !strcmp(written, name) &&
			    may_be(cJSON_GetObjectItemCaseSensitive(root, "kind"), kind) && named++ == 0)
				found = &src->docs[i];
		}
		if (named != 1)
			return 0;
	}
	if (!found || !keys_given_once(found->doc, found->doc->root, pointer))
		return 0;
	*doc = found;
	return 1;
}

/* The column of the first character of line `line` of text that is not a
 * blank (0 for a blank line). */
static unsigned indent_of(const ds_source *src, unsigned line)
{
	size_t at = 0;
	unsigned column = 1;

	for (unsigned l = 1; l < line && at < src->len; l++)
		at = ds_next_line(src->text, src->len, at);
	for (; at < src->len && (src->text[at] == ' ' || src->text[at] == '\t'); at++)
		column++;
	return at < src->len && src->text[at] != '\n' && src->text[at] != '\r' ? column : 0;
}

bool ds_template_node_touches(const ds_source *src, const ds_source_doc *d, const ds_node_info *info)
{
	unsigned first = ds_source_pos(d, info->key.line ? info->key : info->value).line;
	unsigned column = info->key.line ? info->key.column : info->value.column;
	unsigned last = ds_source_pos(d, info->value_end).line;

	for (unsigned line = first; src->templated && line <= last && line <= src->lines; line++) {
		if (!src->templated[line - 1])
			continue;
		/* a line that starts no deeper than the node's key is outside it */
		if (line == first || indent_of(src, line) > column)
			return true;
	}
	return false;
}

/* Whether text[from, to) holds needle. */
static bool holds(const char *text, size_t from, size_t to, const char *needle)
{
	return to > from && memmem(text + from, to - from, needle, strlen(needle)) != NULL;
}

/* Whether the line text[at, next) is a top-level kind line ("kind:"),
 * and then in *may whether it may name a DaemonSet or a list: its kind is
 * DaemonSet or a list, or an action (template). */
static bool kind_line_at(const char *text, size_t at, size_t next, bool template, bool *may)
{
	size_t end = next, v = at + 5;

	while (end > at && (text[end - 1] == '\n' || text[end - 1] == '\r'))
		end--;
	if (end - at <= 5 || memcmp(text + at, "kind:", 5))
		return false;
	while (v < end && (text[v] == ' ' || text[v] == '\t' || text[v] == '"' || text[v] == '\''))
		v++;
	*may = holds(text, v, end, "DaemonSet") || holds(text, v, end, "List") ||
	       (template && holds(text, at, end, "{{"));
	return true;
}

/* Whether the line at `at` of text is a document marker ("---" alone, or
 * followed by a blank). */
static bool marker_line(const char *text, size_t len, size_t at)
{
	return len - at >= 3 && !memcmp(text + at, "---", 3) &&
	       (len - at == 3 || text[at + 3] == '\n' || text[at + 3] == '\r' || text[at + 3] == ' ' ||
		text[at + 3] == '\t');
}

int ds_each_daemonset_document(const char *text, size_t len, bool template,
			       int (*each)(void *data, size_t from, size_t to, unsigned line), void *data)
{
	size_t start = 0;
	unsigned line = 1;

	while (start < len) {
		unsigned first = line;
		size_t end = start;
		bool kind_line = false, may = false;
		int rc;
		/* a document: its marker line (which may hold some of it), then
		 * its lines up to the next marker. It may be, or hold, a
		 * DaemonSet when one of its kind lines says so, or when it has
		 * none (a flow mapping, JSON, or a kind given some other way:
		 * read it to be sure). */
		do {
			size_t next = ds_next_line(text, len, end);
			bool this_may = false;
			if (kind_line_at(text, end, next, template, &this_may)) {
				kind_line = true;
				may |= this_may;
			}
			end = next;
			line++;
		} while (end < len && !marker_line(text, len, end));
		if ((may || !kind_line) && (rc = each(data, start, end, first)) != 0)
			return rc;
		start = end;
	}
	return 0;
}

ds_pos ds_source_pos(const ds_source_doc *d, ds_pos p)
{
	return (ds_pos){p.line ? p.line + d->line - 1 : 0, p.column};
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Adds text[from, to) less its blanks to the chunks (nothing when it is
 * all blanks); line is the line `from` is on. Returns 0 or -1. */
static int add_chunk(ds_chunk **chunks, size_t *count, const char *text, size_t from, size_t to, unsigned line)
{
	ds_chunk *grown;

	for (; from < to && blank(text[from]); from++)
		line += ds_ends_line(text, to, from);
	while (to > from && blank(text[to - 1]))
		to--;
	if (from == to)
		return 0;
	grown = ds_array_grow(*chunks, *count, sizeof(*grown));
	if (!grown)
		return -1;
	*chunks = grown;
	grown[(*count)++] = (ds_chunk){from, to - from, line};
	return 0;
}

ds_chunk *ds_text_documents(const char *text, size_t len, size_t *count)
{
	ds_chunk *chunks = NULL;
	size_t start = 0;
	unsigned line = 1, start_line = 1;

	*count = 0;
	for (size_t at = 0; at < len;) {
		size_t next = ds_next_line(text, len, at);
		if (text[at] == '-' && marker_line(text, len, at)) {
			if (add_chunk(&chunks, count, text, start, at, start_line) < 0) {
				free(chunks);
				*count = 0;
				return NULL;
			}
			start = next;
			start_line = line + 1;
		}
		at = next;
		line++;
	}
	if (add_chunk(&chunks, count, text, start, len, start_line) < 0) {
		free(chunks);
		*count = 0;
		return NULL;
	}
	return chunks;
}
