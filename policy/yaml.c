/* yaml.c - the policies as block YAML, as kubectl and people write it:
 * plain scalars where YAML reads them back as the same string, literal
 * blocks for CEL that spans lines, double quotes for the rest. */
#include "policy/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Whether s may be written plain and read back as the same string by a
 * YAML 1.1 or 1.2 reader: a letter first, then letters, digits, '.', '_',
 * '/', '-'; and none of the words YAML 1.1 reads as a boolean or null. */
static bool plain_ok(const char *s)
{
	static const char *const words[] = {"y", "yes", "n", "no", "true", "false", "on", "off", "null"};

	if (!isalpha((unsigned char)s[0]))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._/-", *p))
			return false;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcasecmp(s, words[i]))
			return false;
	return true;
}

/* Whether s, which spans lines, reads back the same from a literal block
 * ("|-"): printable, not starting with a space, no line of white space
 * alone, no newline at the end. */
static bool block_ok(const char *s)
{
	const char *line = s;

	if (!strchr(s, '\n') || *s == ' ' || s[strlen(s) - 1] == '\n')
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\n') || *p == 0x7f)
			return false;
	while (line) {
		size_t len = strcspn(line, "\n");
		if (len && strspn(line, " ") >= len)
			return false;
		line = line[len] ? line + len + 1 : NULL;
	}
	return true;
}

static void pad(FILE *f, int indent)
{
	fprintf(f, "%*s", indent, "");
}

static void double_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void string(FILE *f, const char *s, int indent)
{
	if (plain_ok(s)) {
		fprintf(f, " %s", s);
	} else if (block_ok(s)) {
		fputs(" |-", f);
		for (const char *line = s; line;) {
			size_t len = strcspn(line, "\n");
			fputc('\n', f);
			if (len) {
				pad(f, indent);
				fwrite(line, 1, len, f);
			}
			line = line[len] ? line + len + 1 : NULL;
		}
	} else {
		fputc(' ', f);
		double_quoted(f, s);
	}
}

static void mapping(FILE *f, const cJSON *obj, int indent, bool inline_first);
static void sequence(FILE *f, const cJSON *arr, int indent);

/* Writes a value after "key:" or "-": a space and a scalar, or the
 * collection on the lines below at `indent`. */
static void value(FILE *f, const cJSON *v, int indent)
{
	if (cJSON_IsObject(v) && v->child)
		mapping(f, v, indent, false);
	else if (cJSON_IsArray(v) && v->child)
		sequence(f, v, indent);
	else if (cJSON_IsObject(v))
		fputs(" {}", f);
	else if (cJSON_IsArray(v))
		fputs(" []", f);
	else if (cJSON_IsString(v))
		string(f, v->valuestring, indent);
	else if (cJSON_IsBool(v))
		fputs(cJSON_IsTrue(v) ? " true" : " false", f);
	else if (cJSON_IsNumber(v))
		fprintf(f, " %.17g", v->valuedouble);
	else
		fputs(" null", f);
}

static void mapping(FILE *f, const cJSON *obj, int indent, bool inline_first)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, obj) {
		if (item != obj->child || !inline_first) {
			fputc('\n', f);
			pad(f, indent);
		}
		if (plain_ok(item->string))
			fputs(item->string, f);
		else
			double_quoted(f, item->string);
		fputc(':', f);
		value(f, item, indent + 2);
	}
}

static void sequence(FILE *f, const cJSON *arr, int indent)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, arr) {
		fputc('\n', f);
		pad(f, indent);
		fputc('-', f);
		if (cJSON_IsObject(item) && item->child) {
			fputc(' ', f);
			mapping(f, item, indent + 2, true);
		} else {
			value(f, item, indent + 2);
		}
	}
}

void ds_yaml_write(FILE *f, const cJSON *v, int indent)
{
	if (cJSON_IsObject(v) && v->child)
		mapping(f, v, indent, true);
	else
		value(f, v, indent);
}

/* Writes text as comment lines. */
static void comment(FILE *f, const char *text)
{
	for (const char *line = text; line;) {
		size_t len = strcspn(line, "\n");
		if (len)
			fprintf(f, "# %.*s\n", (int)len, line);
		else
			fputs("#\n", f);
		line = line[len] ? line + len + 1 : NULL;
	}
}

char *ds_policy_yaml(const ds_policy_set *set, const char *header)
{
	ds_text t;

	if (ds_text_open(&t) < 0)
		return NULL;
	if (header)
		comment(t.f, header);
	for (size_t i = 0; i < set->count; i++) {
		fputs("---\n", t.f);
		if (set->docs[i].comment)
			comment(t.f, set->docs[i].comment);
		ds_yaml_write(t.f, set->docs[i].object, 0);
		fputc('\n', t.f);
	}
	return ds_text_close(&t);
}
