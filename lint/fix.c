/* fix.c - turns JSONPatch fixes into minimal text edits: a value rewritten
 * in its own quoting, or a key inserted with the file's own indentation,
 * in block style, flow style and JSON alike. */
#include "lint/fix.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The byte offset of a position (columns count characters; a leading
 * byte-order mark is not counted), or len when it lies beyond the text. */
static size_t offset_of(const char *text, size_t len, ds_pos pos)
{
	size_t at = len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;
	unsigned line = 1, column = 1;

	while (at < len && line < pos.line) {
		if (text[at] == '\n' || (text[at] == '\r' && (at + 1 >= len || text[at + 1] != '\n')))
			line++;
		at++;
	}
	while (at < len && column < pos.column) {
		at++;
		while (at < len && ((unsigned char)text[at] & 0xC0) == 0x80)
			at++;
		column++;
	}
	return at;
}

static size_t line_start(const char *text, size_t at)
{
	while (at > 0 && text[at - 1] != '\n' && text[at - 1] != '\r')
		at--;
	return at;
}

/* "\r\n" when the line holding `at` ends so, else "\n". */
static const char *eol_at(const char *text, size_t len, size_t at)
{
	while (at < len && text[at] != '\n')
		at++;
	return at > 0 && at < len && text[at - 1] == '\r' ? "\r\n" : "\n";
}

/* The line break of the line before the one holding `at`; "\n" when it is
 * the first. */
static const char *eol_before(const char *text, size_t at)
{
	while (at > 0 && text[at - 1] != '\n')
		at--;
	return at >= 2 && text[at - 2] == '\r' ? "\r\n" : "\n";
}

static int cannot(char **why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int cannot(char **why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*why = ds_vformat(fmt, ap);
	va_end(ap);
	return *why ? 1 : -1;
}

static int add_edit(ds_edit_list *edits, size_t start, size_t end, char *text)
{
	ds_edit *grown;

	if (!text)
		return -1;
	grown = ds_array_grow(edits->items, edits->count, sizeof(*grown));
	if (!grown) {
		free(text);
		return -1;
	}
	edits->items = grown;
	grown[edits->count] = (ds_edit){start, end, text, edits->count};
	edits->count++;
	return 0;
}

/* Whether s can stand as a plain YAML scalar and still read as the same
 * string (not a number, boolean or null, no special characters). */
static bool plain_safe(const char *s)
{
	static const char *const words[] = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"};

	if (!*s || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") != strlen(s))
		return false;
	if (strspn(s, "0123456789-+._eE") == strlen(s) || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcasecmp(s, words[i]))
			return false;
	return true;
}

/* A string value as YAML or JSON text in the given quoting style. */
static char *quote(const char *s, char style)
{
	char *out = NULL;

	if (style == '\'' && !strchr(s, '\''))
		return asprintf(&out, "'%s'", s) < 0 ? NULL : out;
	if (style == 'p' && plain_safe(s))
		return strdup(s);
	{
		cJSON *str = cJSON_CreateString(s);
		out = str ? cJSON_PrintUnformatted(str) : NULL;
		cJSON_Delete(str);
	}
	return out;
}

/* The members a fix adds are a string, or an object of one member whose
 * value is again such a value. */

/* "key: value" lines of block style, the first at `indent`, each level
 * `step` deeper, every line ending in eol. Returns a new string or NULL. */
static char *block_lines(const char *key, const cJSON *value, int indent, int step, const char *eol)
{
	char *k = quote(key, 'p'), *rest, *out = NULL;

	if (cJSON_IsObject(value) && value->child)
		rest = block_lines(value->child->string, value->child, indent + step, step, eol);
	else
		rest = quote(cJSON_IsString(value) ? value->valuestring : "", 'p');
	if (k && rest) {
		int n = cJSON_IsObject(value) ? asprintf(&out, "%*s%s:%s%s", indent, "", k, eol, rest)
					      : asprintf(&out, "%*s%s: %s%s", indent, "", k, rest, eol);
		if (n < 0)
			out = NULL;
	}
	free(k);
	free(rest);
	return out;
}

/* "key: value" of flow style (JSON when json is set). New string or NULL. */
static char *flow_member(const char *key, const cJSON *value, bool json)
{
	char *k = quote(key, json ? '"' : 'p'), *v, *out = NULL;
	bool object = cJSON_IsObject(value) && value->child;

	if (object)
		v = flow_member(value->child->string, value->child, json);
	else
		v = quote(cJSON_IsString(value) ? value->valuestring : "", json ? '"' : 'p');
	if (k && v && (object ? asprintf(&out, "%s: {%s}", k, v) : asprintf(&out, "%s: %s", k, v)) < 0)
		out = NULL;
	free(k);
	free(v);
	return out;
}

/* Whether c may be part of an anchor's name as libyaml reads it: an ASCII
 * letter or digit, '-' or '_'. */
static bool anchor_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

/* Rewrites an existing string value in its own quoting. */
/* Whether the tag text[0..len) lets a scalar read as a string: the
 * non-specific "!", "!!str" or its verbatim form. */
static bool string_tag(const char *tag, size_t len)
{
	static const char *const kept[] = {"!", "!!str", "!<tag:yaml.org,2002:str>"};

	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (len == strlen(kept[i]) && !memcmp(tag, kept[i], len))
			return true;
	return false;
}

static int plan_replace(const char *text, size_t len, const ds_node_info *info, const char *value,
			ds_edit_list *edits, char **why)
{
	size_t start, end, tag_at = SIZE_MAX;
	char *quoted, *spaced = NULL;
	bool glued = false; /* the value follows an anchor's name without a space */

	if (info->anchor_line)
		return cannot(why, "the value comes from the anchor at line %u", info->anchor_line);
	if (info->style == '|' || info->style == '>' || info->style == 'b' || info->style == 'f')
		return cannot(why, "the value at line %u is not a simple scalar", info->value.line);
	start = offset_of(text, len, info->value);
	end = offset_of(text, len, info->value_end);
	/* Keep an anchor (&name) in front of the value, and a tag that lets the
	 * new value read as a string (! or !!str); any other tag (!!binary,
	 * !!int, !!null...) would make Kubernetes read the string written as
	 * something else or refuse it, so it goes with the old value. An
	 * anchor's name ends, as libyaml reads it, at the first character that
	 * is not a letter, a digit, '-' or '_': "&a:v" is the anchor a on ":v". */
	while (start < end && (text[start] == '&' || text[start] == '!')) {
		size_t token = start;
		bool anchor = text[start++] == '&';
		while (start < end && text[start] != ' ' && text[start] != '\t' &&
		       (!anchor || anchor_char(text[start])))
			start++;
		if (!anchor && !string_tag(text + token, start - token))
			tag_at = token;
		glued = anchor && start < end && text[start] != ' ' && text[start] != '\t';
		while (start < end && (text[start] == ' ' || text[start] == '\t'))
			start++;
	}
	if (tag_at != SIZE_MAX)
		start = tag_at;
	quoted = quote(value, info->style);
	/* An empty value right after "key:" or a tag needs a space before the
	 * new one, or it would read as part of the key or the tag. */
	if (quoted && (glued || (start == end && start > 0 && text[start - 1] != ' ' && text[start - 1] != '\t'))) {
		if (asprintf(&spaced, " %s", quoted) < 0)
			spaced = NULL;
		free(quoted);
		quoted = spaced;
	}
	return add_edit(edits, start, end, quoted);
}

static bool only_spaces(const char *text, size_t from, size_t to)
{
	for (; from < to; from++)
		if (text[from] != ' ')
			return false;
	return true;
}

/* Inserts "key: value" as new lines of a block mapping, indented like its
 * first key, right below the mapping's own key line (or its tag or anchor). */
static int insert_block(const char *text, size_t len, const ds_document *doc, const cJSON *parent,
			const ds_node_info *pinfo, const char *key, const cJSON *value, ds_edit_list *edits, char **why)
{
	const ds_node_info *first = ds_document_where(doc, parent->child);
	size_t key_at, at;
	int indent, step;
	bool props_below;

	if (!first || !first->key.line)
		return cannot(why, "the mapping at line %u has no key to align with", pinfo->value.line);
	key_at = offset_of(text, len, first->key);
	at = line_start(text, key_at);
	if (!only_spaces(text, at, key_at))
		return cannot(why, "the first key of the mapping at line %u does not begin its line", first->key.line);
	indent = (int)first->key.column - 1;
	step = pinfo->key.line ? indent - ((int)pinfo->key.column - 1) : 2;
	if (step <= 0)
		step = 2;
	/* Right below the key line, unless the mapping's own tag or anchor
	 * stands on a line between: then right above the first key. */
	props_below = pinfo->value.line > pinfo->key.line &&
		      (pinfo->value.line != first->key.line || pinfo->value.column != first->key.column);
	if (pinfo->key.line && first->key.line > pinfo->key.line && !props_below)
		at = offset_of(text, len, (ds_pos){pinfo->key.line + 1, 1});
	return add_edit(edits, at, at, block_lines(key, value, indent, step, eol_at(text, len, key_at)));
}

/* Inserts "key: value" first in a flow mapping or JSON object, on a line
 * of its own when the members stand on lines of their own. */
static int insert_flow(const char *text, size_t len, const ds_document *doc, const cJSON *parent,
		       const ds_node_info *pinfo, const char *key, const cJSON *value, ds_edit_list *edits, char **why)
{
	size_t at = offset_of(text, len, pinfo->value);
	const ds_node_info *first = parent->child ? ds_document_where(doc, parent->child) : NULL;
	ds_pos key_pos = first ? first->key : pinfo->key;
	bool json = key_pos.line && text[offset_of(text, len, key_pos)] == '"';
	char *member, *out = NULL;
	int n;

	if (at >= len || text[at] != '{')
		return cannot(why, "the mapping at line %u is not where it should be", pinfo->value.line);
	member = flow_member(key, value, json);
	if (!member)
		return -1;
	if (!first)
		n = asprintf(&out, "%s", member);
	else if (first->key.line > pinfo->value.line)
		n = asprintf(&out, "%s%*s%s,", eol_at(text, len, at), (int)first->key.column - 1, "", member);
	else if (at + 1 < len && text[at + 1] == ' ')
		n = asprintf(&out, " %s,", member);
	else
		n = asprintf(&out, "%s, ", member);
	free(member);
	return add_edit(edits, at + 1, at + 1, n < 0 ? NULL : out);
}

/* The offset where the line holding `at` ends (its "\n", "\r\n" or "\r"),
 * or len. */
static size_t line_end(const char *text, size_t len, size_t at)
{
	while (at < len && text[at] != '\n' && text[at] != '\r')
		at++;
	return at;
}

/* The offset just past the end of the line holding `at` (past its line
 * break), or len. */
static size_t next_line(const char *text, size_t len, size_t at)
{
	at = line_end(text, len, at);
	if (at < len && text[at] == '\r')
		at++;
	if (at < len && text[at] == '\n')
		at++;
	return at;
}

/* Whether only blanks, then perhaps a comment, follow `at` on its line. A
 * '#' starts a comment only after a blank (or where a line starts). */
static bool rest_is_comment(const char *text, size_t len, size_t at)
{
	size_t from = at;

	while (at < len && (text[at] == ' ' || text[at] == '\t'))
		at++;
	if (at >= len || text[at] == '\n' || text[at] == '\r')
		return true;
	return text[at] == '#' && (at > from || at == 0 || text[at - 1] == ' ' || text[at - 1] == '\t' ||
				   text[at - 1] == '\n' || text[at - 1] == '\r');
}

/* Whether text[from, to) is a plain null: ~, null, Null or NULL. */
static bool plain_null(const char *text, size_t from, size_t to)
{
	static const char *const words[] = {"~", "null", "Null", "NULL"};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (to - from == strlen(words[i]) && !memcmp(text + from, words[i], to - from))
			return true;
	return false;
}

/* The member `value` holds (an object of one member, as a fix makes it) as
 * the text of a flow mapping: "{key: value}" (JSON when json is set). */
static char *flow_mapping(const cJSON *value, bool json)
{
	char *member = value->child ? flow_member(value->child->string, value->child, json) : NULL;
	char *out = NULL;

	if (member && asprintf(&out, "{%s}", member) < 0)
		out = NULL;
	free(member);
	return out;
}

/* Turns the null at op->path (`spec: ~`, an empty `spec:`, `"spec": null`)
 * into the mapping op->value: in block style the null goes and the
 * mapping's lines follow the key's line, one level deeper (comments on the
 * key's line stay there); in a flow mapping or JSON object the null is
 * rewritten as a flow mapping. */
static int plan_fill_null(const char *text, size_t len, const ds_document *doc, const cJSON *resource,
			  const ds_patch_op *op, ds_edit_list *edits, char **why)
{
	const ds_node_info *info = ds_document_where(doc, ds_pointer_get(resource, op->path));
	char *parent_path = strdup(op->path), *cut = parent_path ? strrchr(parent_path, '/') : NULL;
	const ds_node_info *pinfo;
	size_t key_at, start, end, colon;
	char *lines, *out = NULL;
	const char *eol;
	int indent, step;

	if (!cut) {
		free(parent_path);
		return -1;
	}
	*cut = '\0';
	pinfo = ds_document_where(doc, ds_pointer_get(resource, parent_path));
	free(parent_path);
	if (!info || !pinfo || !info->key.line)
		return cannot(why, "%s is not a value of a mapping in the file", op->path);
	if (info->anchor_line)
		return cannot(why, "the value comes from the anchor at line %u", info->anchor_line);
	if (pinfo->anchor_line)
		return cannot(why, "the mapping comes from the anchor at line %u", pinfo->anchor_line);
	start = offset_of(text, len, info->value);
	end = offset_of(text, len, info->value_end);
	if (start != end && (text[start] == '&' || text[start] == '!'))
		return cannot(why, "the null at line %u carries an anchor or a tag", info->value.line);
	if (start != end && !plain_null(text, start, end))
		return cannot(why, "the null at line %u is not written as ~ or null", info->value.line);
	/* the null is preceded, on the key's line, by the key's colon */
	colon = start;
	while (colon > 0 && (text[colon - 1] == ' ' || text[colon - 1] == '\t'))
		colon--;
	if (info->value.line != info->key.line || colon == 0 || text[colon - 1] != ':')
		return cannot(why, "the null at line %u does not follow its key's colon", info->value.line);
	if (pinfo->style == 'f') {
		bool json = text[offset_of(text, len, info->key)] == '"';
		char *mapping = flow_mapping(op->value, json), *spaced = NULL;
		if (mapping && start == end && colon == start && asprintf(&spaced, " %s", mapping) < 0)
			spaced = NULL;
		if (spaced) {
			free(mapping);
			mapping = spaced;
		}
		return add_edit(edits, start, end, mapping);
	}
	key_at = offset_of(text, len, info->key);
	if (!only_spaces(text, line_start(text, key_at), key_at))
		return cannot(why, "the key at line %u does not begin its line", info->key.line);
	if (!rest_is_comment(text, len, end))
		return cannot(why, "the null at line %u is followed by more than a comment", info->value.line);
	step = pinfo->key.line && info->key.column > pinfo->key.column ? (int)(info->key.column - pinfo->key.column) : 2;
	indent = (int)info->key.column - 1 + step;
	if (start != end && add_edit(edits, colon, end, strdup("")) < 0)
		return -1;
	/* the last line, without a line break, takes the one before it */
	eol = line_end(text, len, end) < len ? eol_at(text, len, key_at) : eol_before(text, key_at);
	lines = block_lines(op->value->child->string, op->value->child, indent, step, eol);
	if (line_end(text, len, end) < len)
		return add_edit(edits, next_line(text, len, end), next_line(text, len, end), lines);
	/* the key's line is the last and has no line break: the new lines
	 * follow a line break, and the last of them has none either (each
	 * line block_lines() makes ends in eol) */
	if (lines && asprintf(&out, "%s%.*s", eol, (int)(strlen(lines) - strlen(eol)), lines) < 0)
		out = NULL;
	free(lines);
	return add_edit(edits, len, len, out);
}

static int pos_cmp(ds_pos a, ds_pos b)
{
	if (a.line != b.line)
		return a.line < b.line ? -1 : 1;
	return a.column < b.column ? -1 : a.column > b.column;
}

/* The offset past the blanks, line breaks and comments from `at`. */
static size_t skip_blank(const char *text, size_t len, size_t at)
{
	while (at < len) {
		if (text[at] == ' ' || text[at] == '\t' || text[at] == '\r' || text[at] == '\n')
			at++;
		else if (text[at] == '#' && rest_is_comment(text, len, at))
			at = line_end(text, len, at);
		else
			break;
	}
	return at;
}

/* The line of the first merge key (a plain `<<` key) that may belong to a
 * mapping written in text[from, to), which starts on line `line`; 0 when
 * there is none. In block style (flow false) such a key begins its line,
 * indented at most max_indent (deeper lines belong to nested values, or to
 * a block scalar's text); in flow style it follows '{' or ','. */
static unsigned merge_key_line(const char *text, size_t from, size_t to, unsigned line, bool flow,
			       size_t max_indent)
{
	size_t indent = 0;         /* blanks since the line began */
	bool key_may_start = true; /* only blanks (block), or '{' or ',' and blanks (flow), since then */

	for (size_t at = from; at < to; at++) {
		char c = text[at];
		if (c == '\n' || (c == '\r' && (at + 1 >= to || text[at + 1] != '\n'))) {
			line++;
			indent = 0;
			key_may_start = true;
		} else if (c == '<' && key_may_start && (flow || indent <= max_indent) && at + 1 < to &&
			   text[at + 1] == '<') {
			size_t after = at + 2;
			while (after < to && (text[after] == ' ' || text[after] == '\t'))
				after++;
			if (after < to && text[after] == ':')
				return line;
			key_may_start = false;
		} else if (c == ' ' || c == '\t') {
			indent++;
		} else if (c != '\r') {
			key_may_start = flow && (c == '{' || c == ',');
		}
	}
	return 0;
}

/* Whether the properties in front of the scalar at `at` (an anchor &name,
 * a tag !tag) hold an anchor: text an alias elsewhere may need. */
static bool has_anchor(const char *text, size_t len, size_t at)
{
	while (at < len && (text[at] == '&' || text[at] == '!')) {
		if (text[at] == '&')
			return true;
		while (at < len && text[at] != ' ' && text[at] != '\t' && text[at] != '\n' && text[at] != '\r')
			at++;
		while (at < len && (text[at] == ' ' || text[at] == '\t'))
			at++;
	}
	return false;
}

/* When a fix has put a member first in the flow mapping whose first
 * character is at `at` (the edit inserting there), and the mapping's only
 * other member goes: that member ends the mapping, without its ", ". */
static void drop_separator(ds_edit_list *edits, size_t at)
{
	for (size_t i = 0; i < edits->count; i++) {
		ds_edit *e = &edits->items[i];
		size_t n = strlen(e->text);
		if (e->start != at || e->end != at)
			continue;
		if (n >= 2 && !strcmp(e->text + n - 2, ", "))
			e->text[n - 2] = '\0';
		else if (n >= 1 && e->text[n - 1] == ',')
			e->text[n - 1] = '\0';
	}
}

/* Removes member `key` (positions info) of a block mapping: its whole
 * lines, with a comment on them. */
static int remove_block(const char *text, size_t len, const ds_node_info *info, const char *key,
			ds_edit_list *edits, char **why)
{
	size_t k = offset_of(text, len, info->key), e = offset_of(text, len, info->value_end);
	size_t start = line_start(text, k), end = next_line(text, len, e);

	if (!only_spaces(text, start, k))
		return cannot(why, "%s at line %u does not begin its line", key, info->key.line);
	if (!rest_is_comment(text, len, e))
		return cannot(why, "%s at line %u is followed by more than a comment", key, info->value_end.line);
	if (line_end(text, len, e) == len && start > 0) {
		/* the last line, without a line break: the one before it goes */
		start--;
		if (start > 0 && text[start] == '\n' && text[start - 1] == '\r')
			start--;
	}
	return add_edit(edits, start, end, strdup(""));
}

/* Removes member `key` (positions info) of a flow mapping or JSON object,
 * with one comma: the one after it, or for the last member the one
 * before it. A member on lines of its own goes with its lines. */
static int remove_flow(const char *text, size_t len, const ds_node_info *info, const char *key,
		       ds_edit_list *edits, char **why)
{
	size_t k = offset_of(text, len, info->key), e = offset_of(text, len, info->value_end);
	size_t after = skip_blank(text, len, e), before = k, next;
	bool own_lines = only_spaces(text, line_start(text, k), k);

	while (before > 0 && strchr(" \t\r\n", text[before - 1]))
		before--;
	if (after >= len || (text[after] != ',' && text[after] != '}'))
		return cannot(why, "%s at line %u is not followed by ',' or '}'", key, info->value_end.line);
	if (before == 0 || (text[before - 1] != ',' && text[before - 1] != '{'))
		return cannot(why, "%s at line %u does not follow '{' or ',' (a comment stands before it?)", key,
			      info->key.line);
	if (text[after] == ',') {
		if (own_lines && rest_is_comment(text, len, after + 1))
			return add_edit(edits, line_start(text, k), next_line(text, len, after), strdup(""));
		for (next = after + 1; next < len && (text[next] == ' ' || text[next] == '\t'); next++)
			;
		if (next >= len || text[next] == '\n' || text[next] == '\r' || text[next] == '#')
			next = after + 1;
		return add_edit(edits, k, next, strdup(""));
	}
	if (text[before - 1] == ',')
		return add_edit(edits, before - 1, own_lines && rest_is_comment(text, len, e) ? line_end(text, len, e) : e,
				strdup(""));
	/* the only member: everything from the '{' to the value's end goes */
	drop_separator(edits, before);
	return add_edit(edits, before, e, strdup(""));
}

/* Removes the member at op->path from the text, when no other text gives
 * Kubernetes a value for it once it is gone (a repeated key, a merge key)
 * and no alias needs it. */
static int plan_remove(const char *text, size_t len, const ds_document *doc, const cJSON *resource,
		       const ds_patch_op *op, ds_edit_list *edits, char **why)
{
	const cJSON *item = ds_pointer_get(resource, op->path);
	const ds_node_info *info = ds_document_where(doc, item), *pinfo;
	char *parent_path = strdup(op->path), *cut = parent_path ? strrchr(parent_path, '/') : NULL;
	const char *key = item ? item->string : NULL;
	unsigned merge_line;

	if (!cut) {
		free(parent_path);
		return -1;
	}
	*cut = '\0';
	pinfo = ds_document_where(doc, ds_pointer_get(resource, parent_path));
	free(parent_path);
	if (!info || !pinfo || !key || !info->key.line)
		return cannot(why, "%s is not a member of a mapping in the file", op->path);
	if (info->anchor_line)
		return cannot(why, "%s comes from the anchor at line %u", key, info->anchor_line);
	if (pinfo->anchor_line)
		return cannot(why, "the mapping comes from the anchor at line %u", pinfo->anchor_line);
	if (info->style != 'p' && info->style != '\'' && info->style != '"')
		return cannot(why, "%s at line %u is not a simple value", key, info->value.line);
	if (has_anchor(text, len, offset_of(text, len, info->key)) ||
	    has_anchor(text, len, offset_of(text, len, info->value)))
		return cannot(why, "%s at line %u carries an anchor", key, info->key.line);
	for (const cJSON *r = doc->replaced ? doc->replaced->child : NULL; r; r = r->next) {
		const ds_node_info *rinfo = r->string && !strcmp(r->string, key) ? ds_document_where(doc, r) : NULL;
		if (rinfo && pos_cmp(rinfo->key, pinfo->value) >= 0 && pos_cmp(rinfo->key, pinfo->value_end) < 0)
			return cannot(why, "%s is given twice in the mapping (lines %u and %u)", key,
				      rinfo->key.line < info->key.line ? rinfo->key.line : info->key.line,
				      rinfo->key.line < info->key.line ? info->key.line : rinfo->key.line);
	}
	merge_line = merge_key_line(text, offset_of(text, len, pinfo->value), offset_of(text, len, pinfo->value_end),
				    pinfo->value.line, pinfo->style == 'f', info->key.column - 1);
	if (merge_line)
		return cannot(why, "the mapping has a merge key (<<) at line %u, which may give %s too", merge_line,
			      key);
	return pinfo->style == 'f' ? remove_flow(text, len, info, key, edits, why)
				   : remove_block(text, len, info, key, edits, why);
}

int ds_fix_plan(const char *text, size_t len, const ds_document *doc, const cJSON *resource,
		const ds_patch_op *op, ds_edit_list *edits, char **why)
{
	const ds_node_info *info;
	const cJSON *parent;
	char *parent_path, *cut;
	int rc;

	*why = NULL;
	if (op->kind == DS_PATCH_REPLACE) {
		const cJSON *old = ds_pointer_get(resource, op->path);
		info = ds_document_where(doc, old);
		if (info && cJSON_IsNull(old) && cJSON_IsObject(op->value) && op->value->child)
			return plan_fill_null(text, len, doc, resource, op, edits, why);
		if (!info || !cJSON_IsString(op->value))
			return cannot(why, "%s cannot be rewritten in place", op->path);
		return plan_replace(text, len, info, op->value->valuestring, edits, why);
	}
	if (op->kind == DS_PATCH_REMOVE)
		return plan_remove(text, len, doc, resource, op, edits, why);
	parent_path = strdup(op->path);
	if (!parent_path || !(cut = strrchr(parent_path, '/'))) {
		free(parent_path);
		return -1;
	}
	*cut = '\0';
	parent = ds_pointer_get(resource, parent_path);
	info = ds_document_where(doc, parent);
	if (!info || !cJSON_IsObject(parent))
		rc = cannot(why, "%s is not a mapping in the file", parent_path);
	else if (info->anchor_line)
		rc = cannot(why, "the mapping comes from the anchor at line %u", info->anchor_line);
	else if (info->style == 'f')
		rc = insert_flow(text, len, doc, parent, info, cut + 1, op->value, edits, why);
	else
		rc = insert_block(text, len, doc, parent, info, cut + 1, op->value, edits, why);
	free(parent_path);
	return rc;
}

/* Edits by start; at one start, an insertion before the edit that
 * replaces text from there (both are made), then in the order planned. */
static int edit_order(const void *a, const void *b)
{
	const ds_edit *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Whether ds_edits_apply() would drop one of x and y: they overlap, or one
 * inserts text strictly inside what the other replaces. */
static bool edits_clash(const ds_edit *x, const ds_edit *y)
{
	size_t lo = x->start > y->start ? x->start : y->start, hi = x->end < y->end ? x->end : y->end;

	if (lo < hi)
		return true;
	if (x->start == x->end)
		return y->start < x->start && x->start < y->end;
	return y->start == y->end && x->start < y->start && y->start < x->end;
}

bool ds_edits_clash(const ds_edit_list *edits, size_t from, size_t first_new)
{
	for (size_t i = first_new; i < edits->count; i++)
		for (size_t j = from; j < edits->count; j++)
			if (i != j && edits_clash(&edits->items[i], &edits->items[j]))
				return true;
	return false;
}

void ds_edit_list_truncate(ds_edit_list *edits, size_t count)
{
	while (edits->count > count)
		free(edits->items[--edits->count].text);
}

char *ds_edits_apply(const char *text, size_t len, ds_edit_list *edits, size_t *out_len)
{
	size_t size = len + 1, at = 0, used = 0;
	char *out;

	if (edits->count) /* qsort(NULL, 0, ...) is undefined */
		qsort(edits->items, edits->count, sizeof(*edits->items), edit_order);
	for (size_t i = 0; i < edits->count; i++)
		size += strlen(edits->items[i].text);
	out = malloc(size);
	if (!out)
		return NULL;
	for (size_t i = 0; i < edits->count; i++) {
		const ds_edit *e = &edits->items[i];
		size_t n = strlen(e->text);
		if (e->start < at || e->end > len)
			continue; /* overlaps an edit already made */
		memcpy(out + used, text + at, e->start - at);
		used += e->start - at;
		memcpy(out + used, e->text, n);
		used += n;
		at = e->end;
	}
	memcpy(out + used, text + at, len - at);
	used += len - at;
	out[used] = '\0';
	*out_len = used;
	return out;
}

void ds_edit_list_free(ds_edit_list *edits)
{
	for (size_t i = 0; i < edits->count; i++)
		free(edits->items[i].text);
	free(edits->items);
	edits->items = NULL;
	edits->count = 0;
}
