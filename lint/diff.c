/* diff.c - a unified diff of two texts, line by line (Myers' O(ND)
 * algorithm), as `patch -p0` reads it. */
#include "lint/fix.h"

#include <stdlib.h>
#include <string.h>

#define CONTEXT 3

struct line {
	const char *text;
	size_t len; /* with its line break */
};

struct lines {
	struct line *items;
	size_t count;
};

/* Splits text into lines that keep their line breaks. Returns 0 or -1. */
static int split_lines(const char *text, size_t len, struct lines *out)
{
	out->count = 0;
	out->items = NULL;
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = nl ? (size_t)(nl - (text + at)) + 1 : len - at;
		struct line *grown = ds_array_grow(out->items, out->count, sizeof(*grown));
		if (!grown) {
			free(out->items);
			out->items = NULL;
			return -1;
		}
		out->items = grown;
		out->items[out->count++] = (struct line){text + at, n};
		at += n;
	}
	return 0;
}

static bool same(const struct line *x, const struct line *y)
{
	return x->len == y->len && !memcmp(x->text, y->text, x->len);
}

/* One step of the edit script: ' ' keep, '-' delete from a, '+' insert. */
struct step {
	char op;
	size_t a, b; /* line indexes in a and b */
};

/* Myers' greedy search, keeping each round's frontier to walk back.
 * Returns the edit script (the caller frees it) and its length, or NULL. */
static struct step *edit_script(const struct lines *a, const struct lines *b, size_t *count)
{
	long n = (long)a->count, m = (long)b->count, max = n + m, off = max + 1;
	long *v = calloc((size_t)(2 * max + 3), sizeof(long));
	long **trace = calloc((size_t)(max + 1), sizeof(long *));
	struct step *script = NULL;
	long d, x = 0, y = 0;

	if (!v || !trace)
		goto out;
	for (d = 0; d <= max; d++) {
		bool done = false;
		for (long k = -d; k <= d; k += 2) {
			x = (k == -d || (k != d && v[off + k - 1] < v[off + k + 1])) ? v[off + k + 1] : v[off + k - 1] + 1;
			y = x - k;
			while (x < n && y < m && same(&a->items[x], &b->items[y]))
				x++, y++;
			v[off + k] = x;
			if (x >= n && y >= m) {
				done = true;
				break;
			}
		}
		/* Round d reads only diagonals -d-1 .. d+1 of the round before. */
		trace[d] = malloc(sizeof(long) * (size_t)(2 * d + 3));
		if (!trace[d])
			goto out;
		memcpy(trace[d], v + off - d - 1, sizeof(long) * (size_t)(2 * d + 3));
		if (done)
			break;
	}
	script = malloc(sizeof(*script) * (size_t)(n + m + 1));
	if (!script)
		goto out;
	*count = 0;
	x = n, y = m;
	for (long dd = d; dd >= 0 && (x > 0 || y > 0); dd--) {
		long k = x - y, prev_k, px, py;
		/* pv[k] is diagonal k of round dd - 1 */
		const long *pv = dd > 0 ? trace[dd - 1] + dd : NULL;
		if (dd == 0) {
			prev_k = 0, px = 0, py = 0;
		} else {
			prev_k = (k == -dd || (k != dd && pv[k - 1] < pv[k + 1])) ? k + 1 : k - 1;
			px = pv[prev_k], py = px - prev_k;
		}
		while (x > px && y > py)
			script[(*count)++] = (struct step){' ', (size_t)--x, (size_t)--y};
		if (dd > 0)
			script[(*count)++] = x == px ? (struct step){'+', (size_t)x, (size_t)--y}
						     : (struct step){'-', (size_t)--x, (size_t)y};
	}
	for (size_t i = 0; i < *count / 2; i++) {
		struct step t = script[i];
		script[i] = script[*count - 1 - i];
		script[*count - 1 - i] = t;
	}
out:
	for (long i = 0; trace && i <= max && trace[i]; i++)
		free(trace[i]);
	free(trace);
	free(v);
	return script;
}

static void print_line(FILE *out, char op, const struct line *l)
{
	fputc(op, out);
	fwrite(l->text, 1, l->len, out);
	if (!l->len || l->text[l->len - 1] != '\n')
		fputs("\n\\ No newline at end of file\n", out);
}

/* Prints the hunk of script[from, to). */
static void print_hunk(FILE *out, const struct step *s, size_t from, size_t to, const struct lines *a,
		       const struct lines *b)
{
	size_t a_count = 0, b_count = 0;

	for (size_t i = from; i < to; i++) {
		a_count += s[i].op != '+';
		b_count += s[i].op != '-';
	}
	fprintf(out, "@@ -%zu,%zu +%zu,%zu @@\n", s[from].a + (a_count ? 1 : 0), a_count, s[from].b + (b_count ? 1 : 0),
		b_count);
	for (size_t i = from; i < to; i++)
		print_line(out, s[i].op, s[i].op == '+' ? &b->items[s[i].b] : &a->items[s[i].a]);
}

/* Prints a file name for a diff header: as it is, or, when it holds a
 * control character, '"' or '\\', in double quotes with C escapes, as
 * GNU diff and git write such names and patch reads them. A line break in
 * a name printed as it is would end the header there, and what follows
 * could name another file for patch to change. */
static void print_name(FILE *out, const char *name)
{
	static const char escapes[] = "\a\b\t\n\v\f\r";
	const unsigned char *p;

	for (p = (const unsigned char *)name; *p >= 0x20 && *p != 0x7f && *p != '"' && *p != '\\'; p++)
		;
	if (!*p) {
		fputs(name, out);
		return;
	}
	fputc('"', out);
	for (p = (const unsigned char *)name; *p; p++) {
		const char *e = strchr(escapes, *p);
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (e)
			fprintf(out, "\\%c", "abtnvfr"[e - escapes]);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\%03o", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void print_hunks(FILE *out, const char *name, const struct step *s, size_t count, const struct lines *a,
			const struct lines *b)
{
	bool header = false;

	for (size_t i = 0; i < count;) {
		size_t start, end, last_change;
		if (s[i].op == ' ') {
			i++;
			continue;
		}
		start = i > CONTEXT ? i - CONTEXT : 0;
		last_change = i;
		for (end = i; end < count; end++) {
			if (s[end].op != ' ')
				last_change = end;
			else if (end - last_change > 2 * CONTEXT)
				break;
		}
		end = last_change + CONTEXT + 1 < count ? last_change + CONTEXT + 1 : count;
		if (!header) {
			fputs("--- ", out);
			print_name(out, name);
			fputs("\n+++ ", out);
			print_name(out, name);
			fputc('\n', out);
		}
		header = true;
		print_hunk(out, s, start, end, a, b);
		i = end;
	}
}

int ds_unified_diff(FILE *out, const char *name, const char *a, size_t alen, const char *b, size_t blen)
{
	struct lines la = {0}, lb = {0};
	struct step *script = NULL;
	size_t count = 0;
	int rc = -1;

	if (alen == blen && !memcmp(a, b, alen))
		return 0;
	if (split_lines(a, alen, &la) == 0 && split_lines(b, blen, &lb) == 0 &&
	    (script = edit_script(&la, &lb, &count)) != NULL) {
		print_hunks(out, name, script, count, &la, &lb);
		rc = ferror(out) ? -1 : 0;
	}
	free(script);
	free(la.items);
	free(lb.items);
	return rc;
}
