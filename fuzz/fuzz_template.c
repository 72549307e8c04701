/* fuzz_template.c - template bytes -> what lint reads of a Helm template:
 * the actions blanked (ds_template_mask), the documents that may hold a
 * DaemonSet read one by one (ds_each_daemonset_document), helm's trimmed
 * documents (ds_text_documents), and the document and lines a finding's
 * field would be placed at or fixed in (ds_template_document,
 * ds_template_node_touches).
 *
 * Asserts, for every input:
 * - masking keeps the length and every line break, only makes blanks of
 *   what it changes, and marks every line it changes;
 * - the documents are in order, inside the text, each on the line it says;
 *   helm's documents too, with no blank at either end;
 * - a document chosen for a field holds it, and the field's lines lie
 *   inside that document;
 * - where ds_yaml_locate() reads a document that parses, each field it
 *   reports is the parse's: found or not, its key's and value's places,
 *   its value. */
#include "fuzz/fuzz.h"
#include "lint/render.h"

#include <stdlib.h>
#include <string.h>

static const char *const pointers[] = {"/spec/template/spec", "/spec/template/spec/restartPolicy",
				       "/spec/template/spec/priorityClassName", "/metadata/namespace", "/metadata"};

/* The line of the byte at `at` of text[0..len), counted here apart from
 * lint's own counting: "\n", "\r\n" and a "\r" alone end a line. */
static unsigned line_at(const char *text, size_t at)
{
	unsigned line = 1;

	for (size_t i = 0; i < at; i++)
		line += text[i] == '\n' || (text[i] == '\r' && text[i + 1] != '\n');
	return line;
}

static int keep(void *data, ds_document *doc)
{
	ds_source *src = data;
	ds_source_doc *grown = ds_array_grow(src->docs, src->doc_count, sizeof(*grown));

	FUZZ_ASSERT(grown != NULL, "out of memory");
	src->docs = grown;
	/* offset and line are set by the caller, who knows the document's place */
	grown[src->doc_count++] = (ds_source_doc){doc, 0, 0, 0};
	return 0;
}

struct reading {
	ds_source *src;
	size_t last_to;
};

static bool same_pos(ds_pos a, ds_pos b)
{
	return a.line == b.line && a.column == b.column;
}

/* Checks ds_yaml_locate() on text[0..len) against doc, its parse. */
static void check_locate(const char *text, size_t len, const ds_document *doc)
{
	enum { COUNT = sizeof(pointers) / sizeof(pointers[0]) };
	ds_located out[COUNT];
	int rc = ds_yaml_locate(text, len, pointers, COUNT, out);

	FUZZ_ASSERT(rc >= 0, "out of memory");
	for (size_t i = 0; rc == 1 && i < COUNT; i++) {
		const cJSON *node = ds_pointer_get(doc->root, pointers[i]);
		const ds_node_info *info = node ? ds_document_where(doc, node) : NULL;
		FUZZ_ASSERT(out[i].found == (node != NULL), "located a field the parse has not, or missed one");
		if (!node)
			continue;
		FUZZ_ASSERT(info && same_pos(out[i].key, info->key), "a key located elsewhere than the parse has it");
		if (cJSON_IsObject(node) || cJSON_IsArray(node))
			FUZZ_ASSERT(out[i].collection && !out[i].scalar &&
					    (!out[i].value.line || same_pos(out[i].value, info->value)),
				    "a collection located otherwise than parsed");
		else if (out[i].scalar)
			FUZZ_ASSERT(cJSON_Compare(out[i].scalar, node, true) && same_pos(out[i].value, info->value),
				    "a scalar located otherwise than parsed");
		else
			FUZZ_ASSERT(cJSON_IsNull(node) && !out[i].collection, "a null located otherwise than parsed");
	}
	ds_located_free(out, COUNT);
}

static int read_one(void *data, size_t from, size_t to, unsigned line)
{
	struct reading *r = data;
	ds_source *src = r->src;
	ds_diag_list diags = {0};
	size_t before = src->doc_count;

	FUZZ_ASSERT(from >= r->last_to && from <= to && to <= src->len, "documents out of order or outside the text");
	FUZZ_ASSERT(line == line_at(src->text, from), "a document on another line than it says");
	r->last_to = to;
	ds_yaml_load(src->parsed + from, to - from, keep, src, &diags);
	if (src->doc_count == before + 1 && !(diags.count && diags.items[diags.count - 1].is_error))
		check_locate(src->parsed + from, to - from, src->docs[before].doc);
	ds_diag_list_free(&diags);
	for (size_t i = before; i < src->doc_count; i++)
		src->docs[i] = (ds_source_doc){src->docs[i].doc, from, to - from, line};
	return 0;
}

/* The fields a finding could be about, placed as lint places them. */
static void place_fields(const ds_source *src)
{
	for (size_t p = 0; p < sizeof(pointers) / sizeof(pointers[0]); p++) {
		const ds_source_doc *d;
		const cJSON *node;
		const ds_node_info *info;
		unsigned first, last;
		if (ds_template_document(src, "DaemonSet", "x", pointers[p], &d) != 1)
			continue;
		node = ds_pointer_get(d->doc->root, pointers[p]);
		FUZZ_ASSERT(node != NULL, "a document chosen for a field it does not hold");
		info = ds_document_where(d->doc, node);
		FUZZ_ASSERT(info != NULL, "a field without a position");
		first = ds_source_pos(d, info->key.line ? info->key : info->value).line;
		last = ds_source_pos(d, info->value_end).line;
		FUZZ_ASSERT(first >= d->line && last >= first && last <= line_at(src->text, d->offset + d->len) + 1,
			    "a field's lines outside its document");
		(void)ds_template_node_touches(src, d, info);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	ds_source src = {0};
	struct reading r = {&src, 0};
	ds_chunk *chunks;
	size_t count, last = 0;

	FUZZ_ASSERT(text != NULL, "out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	src.text = text;
	src.len = size;
	src.parsed = ds_template_mask(text, size, &src.templated, &src.lines);
	FUZZ_ASSERT(src.parsed != NULL, "out of memory");
	FUZZ_ASSERT(src.lines == line_at(text, size), "a line count other than the text's");
	for (size_t i = 0, line = 1; i < size; line += text[i] == '\n' || (text[i] == '\r' && text[i + 1] != '\n'), i++) {
		FUZZ_ASSERT((text[i] == '\n') == (src.parsed[i] == '\n') && (text[i] == '\r') == (src.parsed[i] == '\r'),
			    "a line break moved");
		FUZZ_ASSERT(src.parsed[i] == text[i] || (src.parsed[i] == ' ' && src.templated[line - 1]),
			    "a change that is no blank, or on a line not marked");
	}
	ds_each_daemonset_document(text, size, true, read_one, &r);
	place_fields(&src);
	chunks = ds_text_documents(text, size, &count);
	for (size_t i = 0; i < count; i++) {
		const ds_chunk *c = &chunks[i];
		FUZZ_ASSERT(c->start >= last && c->len > 0 && c->start + c->len <= size, "a document out of order");
		FUZZ_ASSERT(c->line == line_at(text, c->start), "a document on another line than it says");
		FUZZ_ASSERT(!memchr(" \t\n\r\v\f", text[c->start], 6) && !memchr(" \t\n\r\v\f", text[c->start + c->len - 1], 6),
			    "a document with blanks at an end");
		last = c->start + c->len;
	}
	free(chunks);
	for (size_t i = 0; i < src.doc_count; i++)
		ds_document_free(src.docs[i].doc);
	free(src.docs);
	free(src.templated);
	free(src.parsed);
	free(text);
	return 0;
}
