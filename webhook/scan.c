/* scan.c - reads an AdmissionReview body in one pass, building cJSON nodes
 * only for the members the review and the rules read, and checking the rest
 * without keeping it.
 *
 * What it accepts is exactly what cJSON_ParseWithLengthOpts() accepts (the
 * library the server always read bodies with): the same whitespace (any
 * byte up to 32), escapes (\uXXXX with invalid hex digits read as 0, lone
 * surrogates refused), bytes taken as they are (no UTF-8 check), numbers as
 * strtod() reads the run of their characters, nesting up to
 * CJSON_NESTING_LIMIT, a UTF-8 byte order mark skipped. Where a name is
 * repeated in an object, the last one counts, as in the API server's
 * decoder (cJSON alone would answer the first). An escaped NUL never
 * reaches it: review.c reads each as U+FFFD first. */
#include "webhook/internal.h"

#include <stdlib.h>
#include <string.h>

/* What is done with one member's value. */
typedef enum {
	KEEP_NONE,  /* checked, not kept */
	KEEP_ALL,   /* kept whole */
	KEEP_SHAPE  /* an object: its members as `shape` says; any other value kept as a placeholder */
} keep;

struct shape;

/* One member a shape names. */
struct member_rule {
	const char *name;
	keep keep;
	const struct shape *shape; /* KEEP_SHAPE's */
	int span;                  /* the value's bytes are noted in this slot (-1: none) */
	unsigned clears;           /* slots (bits) this member's value may hold: emptied when it begins */
};

/* The members of an object that are kept; the others are checked only. */
struct shape {
	const struct member_rule *members;
	size_t count;
};

#define SLOT_NOW 0
#define SLOT_OLD 1
#define BIT(slot) (1u << (slot))
#define SHAPE(list) {list, sizeof(list) / sizeof(list[0])}
#define SHAPE_MAX 10 /* the most members a shape names */

static const struct member_rule pod_spec_members[] = {
	{"priorityClassName", KEEP_ALL, NULL, -1, 0},
	{"priority", KEEP_ALL, NULL, -1, 0},
	{"restartPolicy", KEEP_ALL, NULL, -1, 0},
};
static const struct shape pod_spec = SHAPE(pod_spec_members);

static const struct member_rule template_members[] = {
	{"spec", KEEP_SHAPE, &pod_spec, -1, 0},
};
static const struct shape pod_template = SHAPE(template_members);

static const struct member_rule spec_members[] = {
	{"template", KEEP_SHAPE, &pod_template, SLOT_NOW, BIT(SLOT_NOW)},
};
static const struct shape spec = SHAPE(spec_members);

static const struct member_rule metadata_members[] = {
	{"name", KEEP_ALL, NULL, -1, 0},
	{"namespace", KEEP_ALL, NULL, -1, 0},
	{"generateName", KEEP_ALL, NULL, -1, 0},
	{"labels", KEEP_ALL, NULL, -1, 0},
	{"annotations", KEEP_ALL, NULL, -1, 0},
};
static const struct shape metadata = SHAPE(metadata_members);

static const struct member_rule object_members[] = {
	{"apiVersion", KEEP_ALL, NULL, -1, 0},
	{"kind", KEEP_ALL, NULL, -1, 0},
	{"metadata", KEEP_SHAPE, &metadata, -1, 0},
	{"spec", KEEP_SHAPE, &spec, -1, BIT(SLOT_NOW)},
};
static const struct shape object = SHAPE(object_members);

static const struct member_rule old_metadata_members[] = {
	{"annotations", KEEP_ALL, NULL, -1, 0},
};
static const struct shape old_metadata = SHAPE(old_metadata_members);

static const struct member_rule old_spec_members[] = {
	{"template", KEEP_NONE, NULL, SLOT_OLD, BIT(SLOT_OLD)},
};
static const struct shape old_spec = SHAPE(old_spec_members);

static const struct member_rule old_object_members[] = {
	{"metadata", KEEP_SHAPE, &old_metadata, -1, 0},
	{"spec", KEEP_SHAPE, &old_spec, -1, BIT(SLOT_OLD)},
};
static const struct shape old_object = SHAPE(old_object_members);

static const struct member_rule request_members[] = {
	{"uid", KEEP_ALL, NULL, -1, 0},
	{"kind", KEEP_ALL, NULL, -1, 0},
	{"subResource", KEEP_ALL, NULL, -1, 0},
	{"namespace", KEEP_ALL, NULL, -1, 0},
	{"name", KEEP_ALL, NULL, -1, 0},
	{"operation", KEEP_ALL, NULL, -1, 0},
	{"dryRun", KEEP_ALL, NULL, -1, 0},
	{"userInfo", KEEP_ALL, NULL, -1, 0},
	{"object", KEEP_SHAPE, &object, -1, BIT(SLOT_NOW)},
	{"oldObject", KEEP_SHAPE, &old_object, -1, BIT(SLOT_OLD)},
};
static const struct shape request = SHAPE(request_members);
_Static_assert(sizeof(request_members) / sizeof(request_members[0]) <= SHAPE_MAX, "the largest shape fits");

static const struct member_rule review_members[] = {
	{"apiVersion", KEEP_ALL, NULL, -1, 0},
	{"kind", KEEP_ALL, NULL, -1, 0},
	{"request", KEEP_SHAPE, &request, -1, BIT(SLOT_NOW) | BIT(SLOT_OLD)},
};
static const struct shape review = SHAPE(review_members);

/* The longest member name a shape holds, and room for one more byte. */
#define NAME_MAX_KEPT 24

/* Where the reading stands. */
struct scan {
	const unsigned char *s;
	size_t len;
	size_t at;
	size_t depth;
	bool oom;
	ds_review_doc *doc;
};

/* Skips whitespace as cJSON does: every byte up to 32; when that reaches
 * the end, the last byte is looked at again (and refused by the caller). */
static void skip_space(struct scan *sc)
{
	if (sc->at >= sc->len)
		return;
	while (sc->at < sc->len && sc->s[sc->at] <= 32)
		sc->at++;
	if (sc->at == sc->len)
		sc->at--;
}

/* Four hex digits at p as cJSON reads them: 0 when any is not one. */
static unsigned hex4(const unsigned char *p)
{
	unsigned h = 0;

	for (int i = 0; i < 4; i++) {
		unsigned c = p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return 0;
		h = h << 4 | d;
	}
	return h;
}

/* The length of the \u escape at p (6 or 12) ending before end, its code
 * point in *cp; 0 when cJSON refuses it (too short, a lone surrogate). */
static size_t utf16_escape(const unsigned char *p, const unsigned char *end, unsigned long *cp)
{
	unsigned first, second;

	if (end - p < 6)
		return 0;
	first = hex4(p + 2);
	if (first >= 0xDC00 && first <= 0xDFFF)
		return 0;
	if (first < 0xD800 || first > 0xDBFF) {
		*cp = first;
		return 6;
	}
	if (end - (p + 6) < 6 || p[6] != '\\' || p[7] != 'u')
		return 0;
	second = hex4(p + 8);
	if (second < 0xDC00 || second > 0xDFFF)
		return 0;
	*cp = 0x10000 + (((unsigned long)(first & 0x3FF) << 10) | (second & 0x3FF));
	return 12;
}

/* Appends byte c to the name being read into name (NAME_MAX_KEPT bytes),
 * as a C string reads it: a NUL ends it; a name too long for any shape
 * is marked (*n past the room). */
static void name_put(char *name, size_t *n, bool *ended, unsigned char c)
{
	if (*ended)
		return;
	if (!c) {
		*ended = true;
		return;
	}
	if (*n < NAME_MAX_KEPT)
		name[*n] = (char)c;
	if (*n <= NAME_MAX_KEPT)
		(*n)++;
}

/* Reads the string at sc->at (its opening quote) as cJSON's parse_string()
 * does. When name is not NULL, writes into it the string as a C string
 * reads it (cut at the first NUL), or "" when it is longer than any name a
 * shape holds or holds a byte past ASCII. Returns whether it is a string
 * cJSON accepts; sc->at is then past its closing quote. */
static bool scan_string(struct scan *sc, char *name)
{
	const unsigned char *start = sc->s + sc->at + 1, *end = start, *limit = sc->s + sc->len, *p;
	size_t n = 0;
	bool ended = false, foreign = false;

	if (!name) { /* most strings hold no escape: the closing quote is the first one */
		const unsigned char *quote = memchr(start, '"', (size_t)(limit - start));
		if (quote && !memchr(start, '\\', (size_t)(quote - start))) {
			sc->at = (size_t)(quote - sc->s) + 1;
			return true;
		}
	}
	while (end < limit && *end != '"') {
		if (*end == '\\') {
			if (end + 1 >= limit)
				return false;
			end++;
		}
		end++;
	}
	if (end >= limit)
		return false;
	for (p = start; p < end;) {
		unsigned long cp = 0;
		size_t step = 2;
		if (*p != '\\') {
			if (name) {
				foreign |= !ended && *p >= 0x80;
				name_put(name, &n, &ended, *p);
			}
			p++;
			continue;
		}
		switch (p[1]) {
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case '"': case '\\': case '/': cp = p[1]; break;
		case 'u':
			step = utf16_escape(p, end, &cp);
			if (!step)
				return false;
			break;
		default:
			return false;
		}
		if (name) {
			foreign |= !ended && cp >= 0x80;
			name_put(name, &n, &ended, (unsigned char)(cp < 0x80 ? cp : 0x80));
		}
		p += step;
	}
	if (name)
		name[foreign || n > NAME_MAX_KEPT - 1 ? 0 : n] = '\0';
	sc->at = (size_t)(end - sc->s) + 1;
	return true;
}

/* Whether run[0..n) is a number strtod() reads whole: -?D+(.D+)?([eE][+-]?D+)?
 * (what a JSON writer writes; anything else is left to strtod()). */
static bool plain_number(const unsigned char *run, size_t n)
{
	size_t i = run[0] == '-', digits;

#define DIGITS()                                                      \
	for (digits = 0; i < n && run[i] >= '0' && run[i] <= '9'; i++) \
		digits++
	DIGITS();
	if (!digits)
		return false;
	if (i < n && run[i] == '.') {
		i++;
		DIGITS();
		if (!digits)
			return false;
	}
	if (i < n && (run[i] == 'e' || run[i] == 'E')) {
		i++;
		if (i < n && (run[i] == '+' || run[i] == '-'))
			i++;
		DIGITS();
		if (!digits)
			return false;
	}
#undef DIGITS
	return i == n;
}

/* Reads the number at sc->at as cJSON's parse_number() does: the run of
 * characters of numbers, of which strtod() takes what it can. Returns
 * whether strtod() took anything; sc->at is then past it (sc->oom set when
 * a long run could not be copied). */
static bool scan_number(struct scan *sc)
{
	char small[64], *buf = small, *after;
	size_t n = 0;
	bool took;

	while (sc->at + n < sc->len && sc->s[sc->at + n] && strchr("0123456789+-eE.", sc->s[sc->at + n]))
		n++;
	if (n && plain_number(sc->s + sc->at, n)) {
		sc->at += n;
		return true;
	}
	if (n >= sizeof(small) && !(buf = malloc(n + 1))) {
		sc->oom = true;
		return false;
	}
	memcpy(buf, sc->s + sc->at, n);
	buf[n] = '\0';
	(void)strtod(buf, &after);
	took = after != buf;
	sc->at += (size_t)(after - buf);
	if (buf != small)
		free(buf);
	return took;
}

/* Whether the text at sc->at starts with word (as cJSON's strncmp()
 * within the buffer); sc->at is then past it. */
static bool scan_word(struct scan *sc, const char *word)
{
	size_t n = strlen(word);

	if (sc->at + n > sc->len || memcmp(sc->s + sc->at, word, n))
		return false;
	sc->at += n;
	return true;
}

static bool scan_value(struct scan *sc);

/* Reads the array or object at sc->at (its opening bracket) as cJSON's
 * parse_array() or parse_object() does. Returns whether cJSON accepts it;
 * sc->at is then past its closing bracket. */
static bool scan_container(struct scan *sc)
{
	bool is_object = sc->s[sc->at] == '{';
	unsigned char close = is_object ? '}' : ']';

	if (sc->depth >= CJSON_NESTING_LIMIT)
		return false;
	sc->depth++;
	sc->at++;
	skip_space(sc);
	if (sc->at < sc->len && sc->s[sc->at] == close)
		goto done;
	if (sc->at >= sc->len)
		return false;
	sc->at--;
	do {
		sc->at++;
		skip_space(sc);
		if (is_object) {
			if (sc->at >= sc->len || sc->s[sc->at] != '"' || !scan_string(sc, NULL))
				return false;
			skip_space(sc);
			if (sc->at >= sc->len || sc->s[sc->at] != ':')
				return false;
			sc->at++;
			skip_space(sc);
		}
		if (!scan_value(sc))
			return false;
		skip_space(sc);
	} while (sc->at < sc->len && sc->s[sc->at] == ',');
	if (sc->at >= sc->len || sc->s[sc->at] != close)
		return false;
done:
	sc->depth--;
	sc->at++;
	return true;
}

/* Reads any value at sc->at as cJSON's parse_value() does. Returns whether
 * cJSON accepts it; sc->at is then past it. */
static bool scan_value(struct scan *sc)
{
	if (sc->at >= sc->len)
		return false;
	switch (sc->s[sc->at]) {
	case 'n':
		return scan_word(sc, "null");
	case 'f':
		return scan_word(sc, "false");
	case 't':
		return scan_word(sc, "true");
	case '"':
		return scan_string(sc, NULL);
	case '[':
	case '{':
		return scan_container(sc);
	case '-':
	case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
		return scan_number(sc);
	default:
		return false;
	}
}

/* ---- the last of a repeated name counts ---- */

/* One member of an object being sorted: its place breaks ties. */
struct named {
	cJSON *item;
	size_t at;
};

static int by_name_then_place(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int c = strcmp(x->item->string, y->item->string);

	return c ? c : (x->at > y->at) - (x->at < y->at);
}

/* Removes from obj every member whose name a later member repeats
 * (names compared as C strings, as lookups compare them). Returns 0, or
 * -1 out of memory. */
static int drop_repeated(cJSON *obj)
{
	struct named *list;
	size_t n = 0, i = 0;
	bool sorted = true;
	cJSON *m;

	for (m = obj->child; m; m = m->next, n++)
		sorted = sorted && (!m->next || strcmp(m->string, m->next->string) < 0);
	if (sorted)
		return 0;
	list = malloc(n * sizeof(*list));
	if (!list)
		return -1;
	for (m = obj->child; m; m = m->next, i++)
		list[i] = (struct named){m, i};
	qsort(list, n, sizeof(*list), by_name_then_place);
	for (i = 0; i + 1 < n; i++)
		if (!strcmp(list[i].item->string, list[i + 1].item->string))
			cJSON_Delete(cJSON_DetachItemViaPointer(obj, list[i].item));
	free(list);
	return 0;
}

/* Makes every object in the tree item keep only the last of each repeated
 * name. Returns 0, or -1 out of memory. */
static int last_wins(cJSON *item)
{
	for (cJSON *m = item->child; m; m = m->next)
		if ((cJSON_IsObject(m) || cJSON_IsArray(m)) && last_wins(m) < 0)
			return -1;
	return cJSON_IsObject(item) ? drop_repeated(item) : 0;
}

/* ---- building what is kept ---- */

/* The value at start..sc->at (checked already) as a tree with the last of
 * each repeated name. Returns it, or NULL out of memory (sc->oom set). */
static cJSON *build_all(struct scan *sc, size_t start)
{
	cJSON *item = cJSON_ParseWithLength((const char *)sc->s + start, sc->at - start);

	if (!item || last_wins(item) < 0) {
		cJSON_Delete(item);
		sc->oom = true;
		return NULL;
	}
	return item;
}

/* The rule of shape for member `name`, or NULL. */
static const struct member_rule *rule_for(const struct shape *shape, const char *name)
{
	for (size_t i = 0; i < shape->count; i++)
		if (shape->members[i].name[0] == name[0] && !strcmp(shape->members[i].name, name))
			return &shape->members[i];
	return NULL;
}

static cJSON *scan_shaped(struct scan *sc, const struct shape *shape);

/* Reads the value of a member kept by rule and adds it to obj under the
 * rule's name, in place of the one *kept holds (the member of that name
 * read before, or NULL); *kept is then the new one. Returns whether it was
 * read (false: malformed, or out of memory with sc->oom set). */
static bool keep_member(struct scan *sc, cJSON *obj, const struct member_rule *rule, cJSON **kept)
{
	size_t start = sc->at;
	cJSON *item;

	for (int slot = 0; slot < DS_REVIEW_SLOTS; slot++)
		if (rule->clears & BIT(slot))
			sc->doc->spans[slot] = (ds_span){0};
	if (rule->keep == KEEP_SHAPE && sc->at < sc->len && sc->s[sc->at] == '{') {
		item = scan_shaped(sc, rule->shape);
		if (!item)
			return false;
	} else {
		if (!scan_value(sc))
			return false;
		if (rule->keep == KEEP_NONE)
			item = NULL;
		else if (rule->keep == KEEP_SHAPE && sc->s[start] == '[')
			item = cJSON_CreateArray(); /* a list where a mapping was due: only its type is read */
		else
			item = build_all(sc, start);
		if (rule->keep != KEEP_NONE && !item) {
			sc->oom = true;
			return false;
		}
	}
	if (rule->span >= 0)
		sc->doc->spans[rule->span] = (ds_span){(const char *)sc->s + start, sc->at - start};
	if (!item)
		return true;
	if (*kept)
		cJSON_Delete(cJSON_DetachItemViaPointer(obj, *kept));
	*kept = NULL;
	if (!cJSON_AddItemToObjectCS(obj, rule->name, item)) {
		cJSON_Delete(item);
		sc->oom = true;
		return false;
	}
	*kept = item;
	return true;
}

/* Reads the object at sc->at as scan_container() does, keeping the
 * members shape names. Returns the object, or NULL when it is malformed
 * or out of memory (sc->oom set). */
static cJSON *scan_shaped(struct scan *sc, const struct shape *shape)
{
	cJSON *obj, *kept[SHAPE_MAX] = {0};
	char name[NAME_MAX_KEPT];

	if (sc->depth >= CJSON_NESTING_LIMIT)
		return NULL;
	obj = cJSON_CreateObject();
	if (!obj) {
		sc->oom = true;
		return NULL;
	}
	sc->depth++;
	sc->at++;
	skip_space(sc);
	if (sc->at < sc->len && sc->s[sc->at] == '}')
		goto done;
	if (sc->at >= sc->len)
		goto fail;
	sc->at--;
	do {
		const struct member_rule *rule;
		sc->at++;
		skip_space(sc);
		if (sc->at >= sc->len || sc->s[sc->at] != '"' || !scan_string(sc, name))
			goto fail;
		skip_space(sc);
		if (sc->at >= sc->len || sc->s[sc->at] != ':')
			goto fail;
		sc->at++;
		skip_space(sc);
		rule = rule_for(shape, name);
		if (rule ? !keep_member(sc, obj, rule, &kept[rule - shape->members]) : !scan_value(sc))
			goto fail;
		skip_space(sc);
	} while (sc->at < sc->len && sc->s[sc->at] == ',');
	if (sc->at >= sc->len || sc->s[sc->at] != '}')
		goto fail;
done:
	sc->depth--;
	sc->at++;
	return obj;
fail:
	cJSON_Delete(obj);
	return NULL;
}

int ds_review_read(const char *body, size_t len, ds_review_doc *doc, size_t *where)
{
	struct scan sc = {.s = (const unsigned char *)body, .len = len, .doc = doc};
	size_t start;

	memset(doc, 0, sizeof(*doc));
	*where = 0;
	if (!len)
		return 0;
	if (len >= 5 && !memcmp(body, "\xEF\xBB\xBF", 3))
		sc.at = 3;
	skip_space(&sc);
	start = sc.at;
	if (sc.s[sc.at] == '{') {
		doc->root = scan_shaped(&sc, &review);
	} else if (scan_value(&sc)) {
		doc->root = sc.s[start] == '[' ? cJSON_CreateArray() : build_all(&sc, start);
		sc.oom = sc.oom || !doc->root;
	}
	if (!doc->root) {
		memset(doc->spans, 0, sizeof(doc->spans));
		*where = sc.at;
		return sc.oom ? -1 : 0;
	}
	while (sc.at < len && (body[sc.at] == ' ' || (body[sc.at] >= '\t' && body[sc.at] <= '\r')))
		sc.at++;
	*where = sc.at;
	if (sc.at == len)
		return 1;
	ds_review_doc_free(doc);
	return 0;
}

void ds_review_doc_free(ds_review_doc *doc)
{
	cJSON_Delete(doc->root);
	memset(doc, 0, sizeof(*doc));
}

int ds_review_templates_equal(const ds_review_doc *doc)
{
	const ds_span *now = &doc->spans[SLOT_NOW], *old = &doc->spans[SLOT_OLD];
	cJSON *a, *b;
	int equal;

	if (!now->text || !old->text)
		return 0;
	if (now->len == old->len && !memcmp(now->text, old->text, now->len))
		return 1;
	a = cJSON_ParseWithLength(now->text, now->len);
	b = a ? cJSON_ParseWithLength(old->text, old->len) : NULL;
	equal = b ? ds_json_equal(a, b) : -1;
	cJSON_Delete(a);
	cJSON_Delete(b);
	return equal;
}
