/* util.h - what every layer shares: error messages, bounded file reading,
 * arrays that grow one item at a time and JSON Pointers. No knowledge of
 * Kubernetes, YAML or HTTP. */
#ifndef DSGUARD_UTIL_H
#define DSGUARD_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

/* ---- error messages (error.c) ---- */

/* The error-return convention: a function that can fail takes `char
 * **error` and, on failure, sets *error to a newly allocated message the
 * caller frees (NULL when even that could not be allocated) and returns -1
 * (or NULL). ds_fail() is that in one call: it frees what *error held,
 * sets it to the printf-formatted message and returns -1, so callers can
 * `return ds_fail(error, ...)`. error may be NULL (nothing is set). */
int ds_fail(char **error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A newly allocated printf-formatted string, or NULL out of memory. */
char *ds_vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
char *ds_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- bounded file reading (file.c) ---- */

/* No manifest or config file may be larger than this. */
#define DS_MAX_FILE_BYTES (64u << 20)

/* Reads all of `path` ("-": standard input) into a new NUL-terminated
 * buffer of at most `max` bytes. Returns 0 and sets *buf (the caller frees
 * it) and *len (without the NUL). On error returns -1 and sets *error to a
 * new message without the path, for the caller to place: "cannot open: No
 * such file or directory", "not a regular file", "larger than the 64 MiB
 * limit" (errno is then EFBIG). */
int ds_read_file(const char *path, size_t max, char **buf, size_t *len, char **error);

/* "64 MiB", "256 KiB" or "100 bytes": a size limit as messages name it.
 * Writes into buf (size bytes) and returns it. */
const char *ds_size_text(size_t bytes, char *buf, size_t size);

/* ---- growable arrays (array.c) ---- */

/* Arrays that grow one item at a time (findings, problems, edits, ...) keep
 * room for ds_array_capacity(count) items, a power of two. */
size_t ds_array_capacity(size_t count);

/* Makes room for item number count + 1 of an array of `count` items of
 * `size` bytes grown only by this function (NULL when count is 0). Returns
 * the array, moved or not; NULL out of memory, the array then unchanged. */
void *ds_array_grow(void *array, size_t count, size_t size);

/* Makes room for `more` items after `count` items of an array grown only by
 * this function and ds_array_grow(). Returns the array, moved or not; NULL
 * out of memory or on overflow, the array then unchanged. */
void *ds_array_reserve(void *array, size_t count, size_t more, size_t size);

/* ---- text cut to a size (text.c) ---- */

/* The longest prefix of s (of length len) no longer than max bytes that
 * does not end inside a UTF-8 character. */
size_t ds_utf8_prefix(const char *s, size_t len, size_t max);

/* Copies at most `max` (at least 3) bytes of s, cut back to a UTF-8
 * character boundary, ending "..." when it was cut. Returns a new string,
 * or NULL out of memory. The one way text is cut (messages, warnings,
 * logs). */
char *ds_text_cut(const char *s, size_t max);

/* As ds_text_cut(), into buf of `size` bytes (NUL included). Returns buf. */
const char *ds_text_copy(char *buf, size_t size, const char *s);

/* Whether the byte at `at` of text[0..len) ends a line as YAML reads line
 * breaks: "\n", "\r\n" and a "\r" alone each end one (the "\n" of "\r\n"
 * ends it). The one test of a line's end wherever lines are counted, so
 * that every position agrees with the YAML reader's. */
bool ds_ends_line(const char *text, size_t len, size_t at);

/* The offset just past the line break of the line holding `at` ("\n",
 * "\r\n", or a "\r" alone, as YAML reads them), or len. */
size_t ds_next_line(const char *text, size_t len, size_t at);

/* The line the byte at `at` of text[0..len) is on, counted from 1. */
unsigned ds_line_of(const char *text, size_t len, size_t at);

/* Whether s[0..len) is a DNS subdomain as Kubernetes checks most names
 * (IsDNS1123Subdomain): at most 253 characters, dot-separated parts of
 * lower-case letters, digits and '-', each beginning and ending with a
 * letter or digit. */
bool ds_dns_subdomain(const char *s, size_t len);

/* The longest name of a Kubernetes object (a DNS subdomain). */
#define DS_OBJECT_NAME_MAX 253

/* ---- paths (file.c) ---- */

/* dir joined with name ("/"-separated; name itself when absolute). A new
 * string, or NULL out of memory. */
char *ds_path_join(const char *dir, const char *name);

/* Rewrites the absolute path `path` in place: "." and empty parts
 * dropped, ".." taking back the part before it (never above "/"). */
void ds_path_lexical(char *path);

/* ---- globs of names (glob.c) ---- */

/* The globs of config exemptions and webhook scoping (docs/config.md):
 * '*' matches any run of characters (none included), '?' exactly one
 * character (a UTF-8 character), '\' makes the character after it literal
 * ("\*", "\?", "\\"); every other character matches itself, case
 * counting. A glob is matched against the whole text. */

/* NULL when pattern is a valid glob, else a constant sentence saying why
 * not (a lone backslash at its end). */
const char *ds_glob_invalid(const char *pattern);

/* Whether text matches pattern; an invalid pattern matches nothing. Time
 * is at most the product of the two lengths, memory constant. */
bool ds_glob_match(const char *pattern, const char *text);

/* Whether pattern matches one text only: it has no unescaped '*' or '?'. */
bool ds_glob_is_literal(const char *pattern);

/* The text a literal pattern matches: pattern with its escapes taken out.
 * Returns a new string, or NULL out of memory. */
char *ds_glob_literal(const char *pattern);

/* ---- JSON Pointers over cJSON trees (pointer.c) ---- */

/* Escapes one reference token for a JSON Pointer (RFC 6901: "~" -> "~0",
 * "/" -> "~1"). Returns a new string, or NULL out of memory. */
char *ds_pointer_escape(const char *token);

/* Resolves an RFC 6901 pointer in doc. Returns the item, or NULL when the
 * path does not exist. */
cJSON *ds_pointer_get(const cJSON *doc, const char *pointer);

#endif
