/* cel.c - CEL text: string, list and JSON literals, selections and
 * presence guards, RE2 patterns. Everything written here is core CEL. */
#include "policy/internal.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int ds_text_open(ds_text *t)
{
	t->buf = NULL;
	t->size = 0;
	t->f = open_memstream(&t->buf, &t->size);
	return t->f ? 0 : -1;
}

char *ds_text_close(ds_text *t)
{
	bool failed = !t->f || ferror(t->f);

	if (t->f && fclose(t->f) != 0)
		failed = true;
	t->f = NULL;
	if (failed || !t->buf) {
		free(t->buf);
		t->buf = NULL;
		return NULL;
	}
	return t->buf;
}

/* Writes one character of a CEL string literal. */
static void quote_char(FILE *f, unsigned char c)
{
	if (c == '\\' || c == '\'')
		fprintf(f, "\\%c", c);
	else if (c == '\n')
		fputs("\\n", f);
	else if (c == '\t')
		fputs("\\t", f);
	else if (c < 0x20 || c == 0x7f)
		fprintf(f, "\\u%04x", c);
	else
		fputc(c, f);
}

void ds_cel_quote_n(FILE *f, const char *s, size_t len)
{
	fputc('\'', f);
	for (size_t i = 0; i < len; i++)
		quote_char(f, (unsigned char)s[i]);
	fputc('\'', f);
}

void ds_cel_quote(FILE *f, const char *s)
{
	ds_cel_quote_n(f, s, strlen(s));
}

void ds_cel_literal(FILE *f, const cJSON *v)
{
	const cJSON *item;
	double d;

	if (cJSON_IsNull(v) || !v) {
		fputs("null", f);
	} else if (cJSON_IsBool(v)) {
		fputs(cJSON_IsTrue(v) ? "true" : "false", f);
	} else if (cJSON_IsNumber(v)) {
		d = v->valuedouble;
		if (d == floor(d) && fabs(d) < 9007199254740992.0)
			fprintf(f, "%lld", (long long)d);
		else if (isfinite(d))
			fprintf(f, "%.17e", d);
		else
			fputs("null", f);
	} else if (cJSON_IsString(v)) {
		ds_cel_quote(f, v->valuestring);
	} else if (cJSON_IsArray(v)) {
		fputc('[', f);
		cJSON_ArrayForEach(item, v) {
			ds_cel_literal(f, item);
			if (item->next)
				fputs(", ", f);
		}
		fputc(']', f);
	} else {
		fputc('{', f);
		cJSON_ArrayForEach(item, v) {
			ds_cel_quote(f, item->string);
			fputs(": ", f);
			ds_cel_literal(f, item);
			if (item->next)
				fputs(", ", f);
		}
		fputc('}', f);
	}
}

void ds_cel_list(FILE *f, const ds_string_list *list)
{
	fputc('[', f);
	for (size_t i = 0; i < list->count; i++) {
		if (i)
			fputs(", ", f);
		ds_cel_quote(f, list->items[i]);
	}
	fputc(']', f);
}

/* CEL's words that a selection may not use as a field name. */
static bool is_keyword(const char *tok, size_t len)
{
	static const char *const words[] = {"true", "false", "null", "in"};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == len && !strncmp(tok, words[i], len))
			return true;
	return false;
}

/* Whether a pointer token (len bytes) can be selected as .token. */
static bool is_identifier(const char *tok, size_t len)
{
	bool ident = len > 0 && (isalpha((unsigned char)tok[0]) || tok[0] == '_') && !is_keyword(tok, len);

	for (size_t i = 0; ident && i < len; i++)
		ident = isalnum((unsigned char)tok[i]) || tok[i] == '_';
	return ident;
}

/* Writes a pointer token (len bytes, still escaped) as a string literal. */
static void token_literal(FILE *f, const char *tok, size_t len)
{
	fputc('\'', f);
	for (size_t i = 0; i < len; i++) {
		if (tok[i] == '~' && i + 1 < len && (tok[i + 1] == '0' || tok[i + 1] == '1'))
			quote_char(f, tok[++i] == '0' ? '~' : '/');
		else
			quote_char(f, (unsigned char)tok[i]);
	}
	fputc('\'', f);
}

/* Writes base and the first `upto` bytes of pointer as a selection. */
static void select_prefix(FILE *f, const char *base, const char *pointer, size_t upto)
{
	const char *p = pointer;

	fputs(base, f);
	while (*p == '/' && (size_t)(p - pointer) < upto) {
		size_t len = strcspn(p + 1, "/");
		if (is_identifier(p + 1, len)) {
			fprintf(f, ".%.*s", (int)len, p + 1);
		} else {
			fputc('[', f);
			token_literal(f, p + 1, len);
			fputc(']', f);
		}
		p += 1 + len;
	}
}

void ds_cel_select(FILE *f, const char *base, const char *pointer)
{
	select_prefix(f, base, pointer, strlen(pointer));
}

void ds_cel_present(FILE *f, const char *base, const char *pointer, bool last)
{
	const char *p = pointer;
	bool first = true;

	while (*p == '/') {
		size_t at = (size_t)(p - pointer), len = strcspn(p + 1, "/");
		bool is_last = p[1 + len] == '\0';
		if (is_last && !last)
			break;
		fputs(first ? "" : " && ", f);
		if (is_identifier(p + 1, len)) {
			fputs("has(", f);
			select_prefix(f, base, pointer, at + 1 + len);
			fputc(')', f);
		} else {
			token_literal(f, p + 1, len);
			fputs(" in ", f);
			select_prefix(f, base, pointer, at);
		}
		if (!is_last) {
			fputs(" && type(", f);
			select_prefix(f, base, pointer, at + 1 + len);
			fputs(") == map", f);
		}
		first = false;
		p += 1 + len;
	}
	if (first)
		fputs("true", f);
}

void ds_re2_literal(FILE *f, const char *s, bool fold)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (fold && isalpha(*p))
			fprintf(f, "[%c%c]", toupper(*p), tolower(*p));
		else if (strchr("\\.+*?()|[]{}^$", *p))
			fprintf(f, "\\%c", *p);
		else
			fputc(*p, f);
	}
}
