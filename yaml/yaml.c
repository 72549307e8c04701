/* yaml.c - reads YAML text into cJSON documents with positions, straight
 * from libyaml's event stream, resolving anchors, aliases and merge keys
 * the way Kubernetes (sigs.k8s.io/yaml over go-yaml v2) does; a manifest
 * that kubectl would read as JSON goes to json.c. */
#include "yaml/json.h"
#include "yaml/members.h"
#include "yaml/posmap.h"
#include "yaml/scalar.h"
#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* An anchored node, for the aliases that follow it. */
struct anchor {
	char *name;
	const cJSON *item; /* in the document's tree (or its replaced items) */
	unsigned line;     /* where the anchored text starts */
	size_t nodes;      /* how many nodes it holds */
};

/* A collection being built. */
struct frame {
	cJSON *item;
	bool mapping;
	yaml_mark_t start;
	char style;
	char *anchor;
	size_t nodes; /* itself and everything in it so far */
	/* mappings: the key waiting for its value */
	bool key_pending;
	char *key;
	ds_pos key_pos;
	bool merge; /* the pending key is "<<" */
	const cJSON **merged; /* members that came from "<<": replacing them is no repeat */
	size_t merged_count;
	ds_member_index seen;
	size_t members;
};

/* The state of building one document. */
struct builder {
	ds_document *doc;
	ds_diag_list *diags;
	ds_kind_filter wanted;
	struct frame *stack; /* DS_YAML_MAX_DEPTH + 1 frames; those below depth are set */
	size_t depth;
	struct anchor *anchors; /* open addressing by name; the latest definition wins */
	size_t anchor_slots;    /* 0 or a power of two */
	size_t anchor_count;
	size_t alias_nodes;
	/* Set when the document is not wanted whole: it is then followed
	 * without being built, on frames without items (for its nesting,
	 * keys, anchors and aliases), down to its end. */
	bool skip;
	char *skip_kind; /* its kind as it stands: NULL when not a string */
	/* The first string holding a NUL: an error once the document is
	 * known to be read whole (a skipped one may hold any string). */
	bool nul;
	yaml_mark_t nul_at;
	bool failed;
};

int ds_diag_add(ds_diag_list *list, ds_pos pos, bool is_error, const char *fmt, ...)
{
	ds_diag *grown = ds_array_grow(list->items, list->count, sizeof(*grown));
	va_list ap;
	int n;

	if (!grown)
		return -1;
	list->items = grown;
	grown[list->count] = (ds_diag){pos, is_error, NULL};
	va_start(ap, fmt);
	n = vasprintf(&grown[list->count].message, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	list->count++;
	return 0;
}

void ds_diag_list_free(ds_diag_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i].message);
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

void ds_document_free(ds_document *doc)
{
	if (!doc)
		return;
	cJSON_Delete(doc->root);
	cJSON_Delete(doc->replaced);
	ds_posmap_free(doc->positions);
	free(doc);
}

const ds_node_info *ds_document_where(const ds_document *doc, const cJSON *item)
{
	return ds_posmap_get(doc->positions, item);
}


static ds_pos mark_pos(yaml_mark_t m)
{
	return (ds_pos){(unsigned)m.line + 1, (unsigned)m.column + 1};
}

/* Records the first error of a document at `at`. */
static void fail(struct builder *b, yaml_mark_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(struct builder *b, yaml_mark_t at, const char *fmt, ...)
{
	char *message = NULL;
	va_list ap;

	if (b->failed)
		return;
	va_start(ap, fmt);
	message = ds_vformat(fmt, ap);
	va_end(ap);
	ds_diag_add(b->diags, mark_pos(at), true, "%s", message ? message : "out of memory");
	free(message);
	b->failed = true;
}

/* Records that memory ran out (once per document). */
static void oom(struct builder *b)
{
	if (!b->failed)
		ds_diag_add(b->diags, (ds_pos){0, 0}, true, "out of memory");
	b->failed = true;
}

/* Resolves the scalar of ev into s. Returns 0, or -1 after recording why
 * Kubernetes cannot read it. A string holding a NUL is noted. */
static int resolve_scalar(struct builder *b, const yaml_event_t *ev, ds_scalar *s)
{
	char *error = NULL;

	if (ds_scalar_resolve((const char *)ev->data.scalar.value, ev->data.scalar.length, ev->data.scalar.style,
			      (const char *)ev->data.scalar.tag, s, &error) < 0) {
		fail(b, ev->start_mark, "%s", error ? error : "out of memory");
		free(error);
		return -1;
	}
	if (ds_scalar_has_nul(s) && !b->nul) {
		b->nul = true;
		b->nul_at = ev->start_mark;
	}
	return 0;
}

/* The JSON value of the scalar of ev: a new item, or NULL after recording
 * why there is none. Sets *has_nul when it is a string holding a NUL. */
static cJSON *scalar_value(struct builder *b, const yaml_event_t *ev, bool *has_nul)
{
	char *error = NULL;
	cJSON *item;
	ds_scalar s;

	if (resolve_scalar(b, ev, &s) < 0)
		return NULL;
	*has_nul = ds_scalar_has_nul(&s);
	item = ds_scalar_json(&s, &error);
	if (!item)
		fail(b, ev->start_mark, "%s", error ? error : "out of memory");
	free(error);
	ds_scalar_free(&s);
	return item;
}

/* The key text of the scalar of ev, as a new string, or NULL after
 * recording why there is none. */
static char *scalar_key(struct builder *b, const yaml_event_t *ev)
{
	char *error = NULL, number[64], *copy = NULL;
	const char *key;
	ds_scalar s;

	if (resolve_scalar(b, ev, &s) < 0)
		return NULL;
	key = ds_scalar_key(&s, number, sizeof(number), &error);
	if (!key)
		fail(b, ev->start_mark, "%s", error ? error : "out of memory");
	else if (!(copy = strdup(key)))
		oom(b);
	free(error);
	ds_scalar_free(&s);
	return copy;
}

/* Keeps a displaced item alive, so that positions and anchors never point
 * at freed memory. */
static void retire(struct builder *b, cJSON *item)
{
	if (!b->doc->replaced)
		b->doc->replaced = cJSON_CreateArray();
	if (!b->doc->replaced || !cJSON_AddItemToArray(b->doc->replaced, item)) {
		cJSON_Delete(item);
		oom(b);
	}
}

/* The member of the mapping of frame f called key, or NULL. */
static cJSON *existing_member(struct frame *f, const char *key)
{
	return ds_member_find(&f->seen, f->item, f->members, key);
}

/* Adds the pending key with value to the mapping of frame f; a repeated key
 * replaces the earlier value and warns. */
static bool was_merged(const struct frame *f, const cJSON *item)
{
	for (size_t i = 0; i < f->merged_count; i++)
		if (f->merged[i] == item)
			return true;
	return false;
}

static void put_member(struct builder *b, struct frame *f, cJSON *value)
{
	cJSON *old = existing_member(f, f->key);

	if (old) {
		if (!was_merged(f, old))
			ds_diag_add(b->diags, f->key_pos, false,
				    "key \"%s\" is repeated in this mapping; the last value wins", f->key);
		cJSON_DetachItemViaPointer(f->item, old);
		retire(b, old);
		f->members--;
	}
	if (!cJSON_AddItemToObject(f->item, f->key, value)) {
		cJSON_Delete(value);
		oom(b);
		return;
	}
	ds_member_index_add(&f->seen, value);
	f->members++;
}

/* Gives each item of copy the position of its twin in src, marked as
 * reached through the anchor at `line`. Recursion is bounded by the
 * nesting limit. */
static void copy_positions(struct builder *b, const cJSON *src, cJSON *copy, unsigned line)
{
	const ds_node_info *info = ds_posmap_get(b->doc->positions, src);
	const cJSON *s;
	cJSON *c;

	if (info) {
		ds_node_info moved = *info;
		moved.item = copy;
		if (!moved.anchor_line)
			moved.anchor_line = line;
		if (ds_posmap_put(b->doc->positions, &moved) < 0)
			oom(b);
	}
	for (s = src->child, c = copy->child; s && c; s = s->next, c = c->next)
		copy_positions(b, s, c, line);
}

/* A copy of src with positions (see copy_positions). NULL out of memory. */
static cJSON *copy_with_positions(struct builder *b, const cJSON *src, unsigned line)
{
	cJSON *copy = cJSON_Duplicate(src, 1);

	if (copy)
		copy_positions(b, src, copy, line);
	return copy;
}

/* Copies every member of src into the mapping of frame f, replacing what
 * is there: Kubernetes (go-yaml v2) applies a merge key where it stands, so
 * it overrides the keys before it and the keys after it override it. */
static void merge_over(struct builder *b, struct frame *f, const cJSON *src, yaml_mark_t at)
{
	if (!cJSON_IsObject(src)) {
		fail(b, at, "a merge key (<<) needs a mapping or a list of mappings");
		return;
	}
	for (const cJSON *m = src->child; m && !b->failed; m = m->next) {
		cJSON *copy = copy_with_positions(b, m, 0);
		cJSON *old = existing_member(f, m->string);
		const cJSON **grown = ds_array_grow(f->merged, f->merged_count, sizeof(*grown));
		if (grown)
			f->merged = grown;
		if (!copy || !grown) {
			cJSON_Delete(copy);
			oom(b);
			return;
		}
		if (old) {
			cJSON_DetachItemViaPointer(f->item, old);
			retire(b, old);
			f->members--;
		}
		cJSON_AddItemToObject(f->item, m->string, copy);
		ds_member_index_add(&f->seen, copy);
		f->members++;
		f->merged[f->merged_count++] = copy;
	}
}

/* Applies the value of a "<<" key: a mapping, or a list of mappings of
 * which the earlier win. The value itself is kept for its anchors. */
static void apply_merge(struct builder *b, struct frame *f, cJSON *value, yaml_mark_t at)
{
	if (cJSON_IsArray(value)) {
		for (const cJSON *el = cJSON_GetArrayItem(value, cJSON_GetArraySize(value) - 1); el && !b->failed;
		     el = el == value->child ? NULL : el->prev)
			merge_over(b, f, el, at);
	} else {
		merge_over(b, f, value, at);
	}
	retire(b, value);
}

/* The slot of the anchor called name in a table of `slots` entries: where
 * it is, or the empty slot where it would go. */
static struct anchor *anchor_slot(struct anchor *table, size_t slots, const char *name)
{
	size_t i = ds_key_hash(name) & (slots - 1);

	while (table[i].name && strcmp(table[i].name, name))
		i = (i + 1) & (slots - 1);
	return &table[i];
}

/* Doubles the anchor table. Returns 0 or -1 out of memory. */
static int grow_anchors(struct builder *b)
{
	size_t slots = b->anchor_slots ? b->anchor_slots * 2 : 16;
	struct anchor *table = calloc(slots, sizeof(*table));

	if (!table)
		return -1;
	for (size_t i = 0; i < b->anchor_slots; i++)
		if (b->anchors[i].name)
			*anchor_slot(table, slots, b->anchors[i].name) = b->anchors[i];
	free(b->anchors);
	b->anchors = table;
	b->anchor_slots = slots;
	return 0;
}

static void add_anchor(struct builder *b, char *name, const cJSON *item, unsigned line, size_t nodes)
{
	struct anchor *slot;

	if ((b->anchor_count + 1) * 2 > b->anchor_slots && grow_anchors(b) < 0) {
		free(name);
		oom(b);
		return;
	}
	slot = anchor_slot(b->anchors, b->anchor_slots, name);
	if (slot->name)
		free(slot->name); /* redefined: the later anchor wins */
	else
		b->anchor_count++;
	*slot = (struct anchor){name, item, line, nodes};
}

/* Whether this value of the root mapping tells that the document is not
 * wanted whole: its kind is one the filter refuses. */
static bool unwanted_kind(struct builder *b, const struct frame *top, const cJSON *value)
{
	if (!b->wanted || b->depth != 1 || !top->mapping || strcmp(top->key, "kind") || !cJSON_IsString(value))
		return false;
	if (b->wanted(value->valuestring))
		return false;
	b->skip_kind = strdup(value->valuestring);
	b->skip = true;
	if (!b->skip_kind)
		oom(b);
	return true;
}

/* Places a finished node: records its position (the key comes from the
 * mapping it goes into), its anchor, and adds it to its parent, or makes
 * it the root. Takes item and anchor. */
static void attach(struct builder *b, cJSON *item, ds_node_info info, char *anchor, size_t nodes)
{
	struct frame *top = b->depth ? &b->stack[b->depth - 1] : NULL;

	if (!item) {
		free(anchor);
		oom(b);
		return;
	}
	info.item = item;
	info.key = top && top->mapping ? top->key_pos : (ds_pos){0, 0};
	if (ds_posmap_put(b->doc->positions, &info) < 0)
		oom(b);
	if (anchor)
		add_anchor(b, anchor, item, info.value.line, nodes);
	if (!top) {
		cJSON_Delete(b->doc->root);
		b->doc->root = item;
		return;
	}
	top->nodes += nodes;
	if (!top->mapping) {
		if (!cJSON_AddItemToArray(top->item, item)) {
			cJSON_Delete(item);
			oom(b);
		}
		return;
	}
	if (unwanted_kind(b, top, item))
		cJSON_Delete(item);
	else if (top->merge)
		apply_merge(b, top, item, top->start);
	else
		put_member(b, top, item);
	free(top->key);
	top->key = NULL;
	top->key_pending = false;
}

static char scalar_style(yaml_scalar_style_t style)
{
	switch (style) {
	case YAML_SINGLE_QUOTED_SCALAR_STYLE:
		return '\'';
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
		return '"';
	case YAML_LITERAL_SCALAR_STYLE:
		return '|';
	case YAML_FOLDED_SCALAR_STYLE:
		return '>';
	default:
		return 'p';
	}
}

static void skipped_kind_is(struct builder *b, yaml_mark_t at, const cJSON *value);
static void skipped_value_done(struct builder *b);

/* Whether the next node would be a mapping key: keys must be scalars. */
static bool expects_key(const struct builder *b)
{
	return b->depth && b->stack[b->depth - 1].mapping && !b->stack[b->depth - 1].key_pending;
}

static void on_scalar(struct builder *b, yaml_event_t *ev)
{
	const char *text = (const char *)ev->data.scalar.value;
	yaml_scalar_style_t style = ev->data.scalar.style;
	char *anchor = ev->data.scalar.anchor ? strdup((const char *)ev->data.scalar.anchor) : NULL;
	ds_node_info info = {NULL, {0, 0}, mark_pos(ev->start_mark), mark_pos(ev->end_mark), 0, scalar_style(style)};
	struct frame *top = b->depth ? &b->stack[b->depth - 1] : NULL;
	bool has_nul = false;
	cJSON *item;

	if (expects_key(b)) {
		free(anchor);
		top->merge = ds_scalar_is_merge(text, ev->data.scalar.length, style, (const char *)ev->data.scalar.tag);
		top->key = top->merge ? strdup("<<") : scalar_key(b, ev);
		top->key_pos = mark_pos(ev->start_mark);
		top->key_pending = true;
		if (!top->key && !b->failed)
			oom(b);
		return;
	}
	item = scalar_value(b, ev, &has_nul);
	if (!item) {
		free(anchor);
		return;
	}
	if (has_nul && b->depth == 1 && top->mapping && !strcmp(top->key, "kind")) {
		/* which kind it is decides how the document is read */
		fail(b, ev->start_mark, "the kind holds a NUL character, which dsguard cannot compare: remove it");
		cJSON_Delete(item);
		free(anchor);
		return;
	}
	attach(b, item, info, anchor, 1);
}

static void on_start(struct builder *b, yaml_event_t *ev, bool mapping)
{
	const yaml_char_t *anchor = mapping ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
	bool flow = mapping ? ev->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE
			    : ev->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
	struct frame *f;

	if (expects_key(b)) {
		fail(b, ev->start_mark, "a mapping key must be a scalar");
		return;
	}
	if (b->depth >= DS_YAML_MAX_DEPTH) {
		fail(b, ev->start_mark, "nesting is deeper than %d levels", DS_YAML_MAX_DEPTH);
		return;
	}
	if (b->skip)
		skipped_kind_is(b, ev->start_mark, NULL); /* when this is the value of `kind` */
	f = &b->stack[b->depth++];
	memset(f, 0, sizeof(*f));
	f->item = b->skip ? NULL : mapping ? cJSON_CreateObject() : cJSON_CreateArray();
	f->mapping = mapping;
	f->start = ev->start_mark;
	f->style = flow ? 'f' : 'b';
	f->anchor = anchor ? strdup((const char *)anchor) : NULL;
	f->nodes = 1;
	if ((!f->item && !b->skip) || (anchor && !f->anchor))
		oom(b);
}

static void free_frame(struct frame *f)
{
	cJSON_Delete(f->item);
	free(f->anchor);
	free(f->key);
	free(f->merged);
	ds_member_index_free(&f->seen);
}

static void on_end(struct builder *b, yaml_event_t *ev)
{
	struct frame f = b->stack[--b->depth];
	ds_node_info info = {NULL, {0, 0}, mark_pos(f.start), mark_pos(ev->end_mark), 0, f.style};

	free(f.key);
	free(f.merged);
	ds_member_index_free(&f.seen);
	if (!b->skip) {
		attach(b, f.item, info, f.anchor, f.nodes);
		return;
	}
	cJSON_Delete(f.item); /* the root mapping, built up to its kind */
	if (f.anchor) /* an alias of it is no string: enough to tell a kind */
		add_anchor(b, f.anchor, NULL, info.value.line, 1);
	skipped_value_done(b);
}

static const struct anchor *find_anchor(const struct builder *b, const char *name)
{
	const struct anchor *a = b->anchor_slots ? anchor_slot(b->anchors, b->anchor_slots, name) : NULL;

	return a && a->name ? a : NULL;
}

/* The anchor an alias event names, when it exists and the alias does not
 * stand as a key; else NULL after failing the build. */
static const struct anchor *alias_anchor(struct builder *b, yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	const struct anchor *a = find_anchor(b, name);

	if (!a) {
		fail(b, ev->start_mark, "found undefined alias \"%s\"", name);
		return NULL;
	}
	if (expects_key(b)) {
		fail(b, ev->start_mark, "an alias cannot be a mapping key here");
		return NULL;
	}
	return a;
}

/* An alias: a copy of the anchored node, counted against the alias budget
 * (an "alias bomb" stops here instead of filling memory). */
static void on_alias(struct builder *b, yaml_event_t *ev)
{
	const struct anchor *a = alias_anchor(b, ev);
	const ds_node_info *src;
	ds_node_info info;

	if (!a)
		return;
	b->alias_nodes += a->nodes;
	if (b->alias_nodes > DS_YAML_MAX_ALIAS_NODES) {
		fail(b, ev->start_mark, "aliases expand to more than %d nodes (an alias bomb?)",
		     DS_YAML_MAX_ALIAS_NODES);
		return;
	}
	src = ds_posmap_get(b->doc->positions, a->item);
	info = src ? *src : (ds_node_info){0};
	info.anchor_line = a->line;
	attach(b, copy_with_positions(b, a->item, a->line), info, NULL, a->nodes);
}

/* ---- documents followed without being built ---- */

/* The top-level `kind` of a skipped document is given again, as value
 * (NULL when not a string: a collection, a number, an alias of one).
 * Kubernetes takes the last kind, so a later kind the filter wants cannot
 * be skipped: that is an error (the repeated key is a mistake); another
 * kind replaces the first. Does nothing unless the node at hand is the
 * value of a top-level `kind`. */
static void skipped_kind_is(struct builder *b, yaml_mark_t at, const cJSON *value)
{
	const struct frame *top = b->depth == 1 ? &b->stack[0] : NULL;
	const char *kind = cJSON_GetStringValue(value);
	char *copy = NULL;

	if (!top || !top->key_pending || !top->key || strcmp(top->key, "kind"))
		return;
	if (kind && b->wanted(kind)) {
		fail(b, at, "kind is given twice at the top of this document (%s, then %s); Kubernetes takes the last: "
			    "remove the repeated key", b->skip_kind ? b->skip_kind : "none", kind);
		return;
	}
	if (kind && !(copy = strdup(kind)))
		oom(b);
	free(b->skip_kind);
	b->skip_kind = copy;
}

/* A node of a skipped document is complete: its mapping awaits a key. */
static void skipped_value_done(struct builder *b)
{
	struct frame *top = b->depth ? &b->stack[b->depth - 1] : NULL;

	if (!top || !top->mapping)
		return;
	free(top->key);
	top->key = NULL;
	top->key_pending = false;
}

/* Whether an untagged plain scalar could be one Kubernetes refuses: as a
 * value only .inf, .nan and their signed forms; as a key also a null and
 * an integer above the 64-bit signed ones. */
static bool may_be_refused(const char *text, bool key)
{
	if (key)
		return !*text || strchr("~nN+-.0123456789", *text);
	return text[0] == '.' || ((text[0] == '+' || text[0] == '-') && text[1] == '.');
}

/* Checks a scalar of a skipped document for what makes Kubernetes refuse
 * it (a tag it does not fit, .inf, a null key), as a built document is
 * checked; a string holding a NUL is no error here. Most scalars are
 * decided by their first byte. */
static void check_skipped_scalar(struct builder *b, const yaml_event_t *ev, bool key)
{
	const char *text = (const char *)ev->data.scalar.value;
	char *error = NULL, number[64];
	ds_scalar s;
	cJSON *item;

	if (!ev->data.scalar.tag &&
	    (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || !may_be_refused(text, key)))
		return;
	if (resolve_scalar(b, ev, &s) < 0)
		return;
	if (key && !ds_scalar_key(&s, number, sizeof(number), &error))
		fail(b, ev->start_mark, "%s", error ? error : "out of memory");
	if (!key && (item = ds_scalar_json(&s, &error)) == NULL)
		fail(b, ev->start_mark, "%s", error ? error : "out of memory");
	else if (!key)
		cJSON_Delete(item);
	free(error);
	ds_scalar_free(&s);
}

/* A scalar of a skipped document. Top-level keys are read whole, for a
 * repeated `kind` and for a merge key (which could bring one). */
static void skipped_scalar(struct builder *b, yaml_event_t *ev)
{
	struct frame *top = &b->stack[b->depth - 1];
	const char *anchor = (const char *)ev->data.scalar.anchor;
	bool has_nul = false;
	cJSON *value;

	if (expects_key(b)) {
		bool merge = ds_scalar_is_merge((const char *)ev->data.scalar.value, ev->data.scalar.length,
						ev->data.scalar.style, (const char *)ev->data.scalar.tag);
		if (b->depth == 1 && merge)
			fail(b, ev->start_mark, "a merge key (<<) at the top of a document after its kind: dsguard "
						"reads the kind where it first stands; put kind after the merge key");
		else if (b->depth == 1)
			top->key = scalar_key(b, ev);
		else if (!merge)
			check_skipped_scalar(b, ev, true);
		top->key_pending = true;
		return;
	}
	if (!anchor && (b->depth != 1 || !top->key || strcmp(top->key, "kind"))) {
		check_skipped_scalar(b, ev, false);
		skipped_value_done(b);
		return;
	}
	/* the value of a top-level kind, or an anchored value an alias may
	 * make a kind: its value is needed */
	value = scalar_value(b, ev, &has_nul);
	if (!value)
		return;
	if (has_nul && b->depth == 1 && top->key && !strcmp(top->key, "kind"))
		fail(b, ev->start_mark, "the kind holds a NUL character, which dsguard cannot compare: remove it");
	skipped_kind_is(b, ev->start_mark, value);
	if (anchor) {
		char *name = strdup(anchor);
		if (!name) {
			cJSON_Delete(value);
			oom(b);
			return;
		}
		add_anchor(b, name, value, ev->start_mark.line + 1, 1);
		retire(b, value);
	} else {
		cJSON_Delete(value);
	}
	skipped_value_done(b);
}

/* An alias in a skipped document: not expanded, but its anchor must
 * exist, and it must not stand as a key. */
static void skipped_alias(struct builder *b, yaml_event_t *ev)
{
	const struct anchor *a = alias_anchor(b, ev);

	if (!a)
		return;
	skipped_kind_is(b, ev->start_mark, a->item);
	skipped_value_done(b);
}

/* Turns libyaml's error into a diagnostic with the best position it has:
 * reader errors know only a byte offset, counted into line and column. */
static void parser_error(yaml_parser_t *p, const char *buf, size_t len, ds_diag_list *diags)
{
	ds_pos pos = mark_pos(p->problem_mark);
	const char *problem = p->problem ? p->problem : "invalid YAML";

	if (p->error == YAML_READER_ERROR) {
		size_t start = len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3) ? 3 : 0; /* a BOM is no column */
		pos = (ds_pos){1, 1};
		for (size_t i = start; i < p->problem_offset && i < len; i++) {
			if (ds_ends_line(buf, len, i))
				pos = (ds_pos){pos.line + 1, 1};
			else if (buf[i] != '\r' && ((unsigned char)buf[i] & 0xC0) != 0x80)
				pos.column++;
		}
		ds_diag_add(diags, pos, true, "%s (byte 0x%02x at offset %zu)", problem, (unsigned)p->problem_value,
			    p->problem_offset);
		return;
	}
	if (p->context)
		ds_diag_add(diags, pos, true, "%s %s at line %u column %u", problem, p->context,
			    (unsigned)p->context_mark.line + 1, (unsigned)p->context_mark.column + 1);
	else
		ds_diag_add(diags, pos, true, "%s", problem);
}

/* Releases what building a document left behind: open frames, anchors. */
static void builder_reset(struct builder *b)
{
	while (b->depth)
		free_frame(&b->stack[--b->depth]);
	for (size_t i = 0; i < b->anchor_slots; i++)
		free(b->anchors[i].name);
	free(b->anchors);
	free(b->skip_kind);
	ds_document_free(b->doc);
	b->doc = NULL;
	b->anchors = NULL;
	b->anchor_slots = 0;
	b->anchor_count = 0;
	b->alias_nodes = 0;
	b->skip_kind = NULL;
	b->skip = false;
	b->nul = false;
}

static int start_document(struct builder *b)
{
	b->doc = calloc(1, sizeof(*b->doc));
	if (b->doc)
		b->doc->positions = ds_posmap_new();
	if (!b->doc || !b->doc->positions) {
		oom(b);
		return -1;
	}
	return 0;
}

/* Hands the finished document to cb: whole, or as {"kind": KIND} alone
 * when it was not wanted whole. Returns cb's answer, or -1. */
static int finish_document(struct builder *b, ds_document_cb cb, void *data)
{
	ds_document *doc = b->doc;

	if (b->nul && !b->skip) {
		/* The rules compare strings as C strings: "Always\0x" must never
		 * read as "Always". */
		fail(b, b->nul_at, "a string holds a NUL character (\\0 or \\u0000), which dsguard cannot compare: "
				   "remove it");
		return -1;
	}
	if (b->skip) {
		/* {"kind": KIND} alone, with no positions: none of what was
		 * built before the kind is part of it */
		cJSON *stub = cJSON_CreateObject();
		ds_posmap *none = ds_posmap_new();
		if (!stub || !none || (b->skip_kind && !cJSON_AddStringToObject(stub, "kind", b->skip_kind))) {
			cJSON_Delete(stub);
			ds_posmap_free(none);
			oom(b);
			return -1;
		}
		cJSON_Delete(doc->root);
		cJSON_Delete(doc->replaced);
		ds_posmap_free(doc->positions);
		doc->root = stub;
		doc->replaced = NULL;
		doc->positions = none;
	}
	b->doc = NULL;
	return cb(data, doc);
}

/* Builds from one event of a document's content. */
static void on_event(struct builder *b, yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (b->skip)
			skipped_scalar(b, ev);
		else
			on_scalar(b, ev);
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		on_start(b, ev, ev->type == YAML_MAPPING_START_EVENT);
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		on_end(b, ev);
		break;
	case YAML_ALIAS_EVENT:
		if (b->skip)
			skipped_alias(b, ev);
		else
			on_alias(b, ev);
		break;
	default:
		break;
	}
}

/* Reads the YAML stream buf[0..len): see ds_yaml_load_filtered(). */
static int load_yaml(const char *buf, size_t len, ds_kind_filter wanted, ds_document_cb cb, void *data,
		     ds_diag_list *diags)
{
	/* the frames are set as they are pushed: zeroing them all (tens of
	 * kilobytes) for each text would cost more than reading a small one */
	struct frame stack[DS_YAML_MAX_DEPTH + 1];
	struct builder b = {.diags = diags, .wanted = wanted, .stack = stack};
	yaml_parser_t parser;
	yaml_event_t ev;
	bool done = false;
	int rc = 0;

	if (!yaml_parser_initialize(&parser))
		return ds_diag_add(diags, (ds_pos){0, 0}, true, "out of memory"), -1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done && rc == 0 && !b.failed) {
		if (!yaml_parser_parse(&parser, &ev)) {
			parser_error(&parser, buf, len, diags);
			rc = -1;
			break;
		}
		if (ev.type == YAML_STREAM_END_EVENT)
			done = true;
		else if (ev.type == YAML_DOCUMENT_START_EVENT)
			rc = start_document(&b);
		else if (ev.type == YAML_DOCUMENT_END_EVENT && !b.failed) {
			rc = finish_document(&b, cb, data);
			builder_reset(&b);
		} else {
			on_event(&b, &ev);
		}
		yaml_event_delete(&ev);
	}
	builder_reset(&b);
	yaml_parser_delete(&parser);
	return rc < 0 || b.failed ? -1 : 0;
}

int ds_yaml_load(const char *buf, size_t len, ds_document_cb cb, void *data, ds_diag_list *diags)
{
	return load_yaml(buf, len, NULL, cb, data, diags);
}

int ds_yaml_load_filtered(const char *buf, size_t len, ds_kind_filter wanted, ds_document_cb cb, void *data,
			  ds_diag_list *diags)
{
	if (ds_json_sniff(buf, len))
		return ds_json_load(buf, len, wanted, cb, data, diags);
	return load_yaml(buf, len, wanted, cb, data, diags);
}

ds_pos ds_document_locate(const ds_document *doc, const cJSON *resource, const char *pointer,
			  unsigned *anchor_line)
{
	char *path = doc ? strdup(pointer) : NULL;
	ds_pos pos = {0, 0};
	bool exact = true;

	while (path) {
		const cJSON *item = ds_pointer_get(resource, path);
		const ds_node_info *info = item ? ds_document_where(doc, item) : NULL;
		char *cut;
		if (info) {
			pos = exact || !info->key.line ? info->value : info->key;
			if (anchor_line)
				*anchor_line = info->anchor_line;
			break;
		}
		exact = false;
		cut = strrchr(path, '/');
		if (!cut)
			break;
		*cut = '\0';
	}
	free(path);
	return pos;
}
