/* scalar.h - private to yaml/: how a YAML scalar reads as JSON. */
#ifndef DSGUARD_YAML_SCALAR_H
#define DSGUARD_YAML_SCALAR_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <yaml.h>

/* The JSON value of a scalar: quoted and block scalars are strings; plain
 * ones resolve to null, booleans (yes/no/on/off too), numbers (decimal,
 * 0x, octal, 0b) or strings. A new item, or NULL out of memory. */
cJSON *ds_yaml_scalar(const char *text, yaml_scalar_style_t style, const char *tag);

/* A scalar mapping key as JSON object keys hold it, as Kubernetes writes
 * them: booleans and nulls spelled "true", "false", "null", numbers in
 * decimal (0x10 -> "16"). Returns text, a static string, or buf (size
 * bytes) holding the spelling. */
const char *ds_yaml_key_text(const char *text, yaml_scalar_style_t style, char *buf, size_t size);

#endif
