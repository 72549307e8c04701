/* scalar.h - private to yaml/: how a YAML scalar reads, as Kubernetes
 * (sigs.k8s.io/yaml over go-yaml v2) reads it: a JSON value, or the text
 * of a mapping key. */
#ifndef DSGUARD_YAML_SCALAR_H
#define DSGUARD_YAML_SCALAR_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

typedef enum ds_scalar_type {
	DS_SCALAR_NULL,
	DS_SCALAR_BOOL,
	DS_SCALAR_INT,   /* within the 64-bit signed integers */
	DS_SCALAR_UINT,  /* above them, within the unsigned ones */
	DS_SCALAR_FLOAT, /* may be infinite or NaN (.inf, .nan) */
	DS_SCALAR_STRING
} ds_scalar_type;

/* A resolved scalar. Owns `decoded`; `text` points into the input or into
 * `decoded`. */
typedef struct ds_scalar {
	ds_scalar_type type;
	bool boolean;
	long long integer;           /* DS_SCALAR_INT */
	unsigned long long uinteger; /* DS_SCALAR_UINT */
	double number;               /* DS_SCALAR_INT, DS_SCALAR_UINT, DS_SCALAR_FLOAT */
	const char *text;            /* DS_SCALAR_STRING: length bytes, then a NUL */
	size_t length;
	char *decoded; /* a !!binary value's bytes, made valid UTF-8 */
} ds_scalar;

/* Resolves the scalar text[0..length) (text[length] is NUL) of the given
 * style and tag (NULL when it has none, else as libyaml expands it):
 * quoted and block scalars are strings; plain ones are null, booleans
 * (yes/no/on/off too), integers (decimal, 0x, 0o, 0b, leading-0 octal),
 * floats (.inf and .nan included) or strings; a tag (!!str, !!int, !!null,
 * ..., !!binary) says what it is. Returns 0, or -1 with *error set (as
 * ds_fail() sets it) to why Kubernetes refuses it: a tag the text does not
 * fit ("!!null Always"), a !!binary value that is not base64, or memory.
 * Release out with ds_scalar_free(). */
int ds_scalar_resolve(const char *text, size_t length, yaml_scalar_style_t style, const char *tag, ds_scalar *out,
		      char **error);

/* Whether s is a string holding a NUL character ("\0", "\u0000"). */
bool ds_scalar_has_nul(const ds_scalar *s);

/* The JSON value of s: a new item, or NULL with *error set for an
 * infinity or NaN (Kubernetes refuses them: JSON has none) or out of
 * memory. A string holding a NUL is cut there: check ds_scalar_has_nul()
 * first. */
cJSON *ds_scalar_json(const ds_scalar *s, char **error);

/* The text of s as a mapping key, as Kubernetes writes keys: strings as
 * they are, booleans "true" and "false", integers in decimal, floats as
 * Go prints a float32 ("1e+06", "0.1", ".inf"). Returns s->text, a static
 * string or buf (at least 32 bytes); NULL with *error set for a null key
 * or an integer above the 64-bit signed ones, which Kubernetes refuses. */
const char *ds_scalar_key(const ds_scalar *s, char *buf, size_t size, char **error);

/* Whether a key scalar is a merge key: "<<" plain and untagged, or
 * tagged "!" or !!merge. */
bool ds_scalar_is_merge(const char *text, size_t length, yaml_scalar_style_t style, const char *tag);

/* The length of the valid UTF-8 character at s[0..n) (n > 0) as Go's
 * utf8.DecodeRune accepts it (no surrogates, no overlong forms, nothing
 * above U+10FFFF), or 0 when there is none. */
size_t ds_utf8_char(const unsigned char *s, size_t n);

/* Releases what s owns and empties it. */
void ds_scalar_free(ds_scalar *s);

#endif
