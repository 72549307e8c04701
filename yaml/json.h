/* json.h - private to yaml/: a manifest file read as kubectl reads one
 * whose text starts with "{": a stream of JSON values, each a document, as
 * Go's encoding/json reads them. */
#ifndef DSGUARD_YAML_JSON_H
#define DSGUARD_YAML_JSON_H

#include "yaml/document.h"

/* How far into a file kubectl looks for the "{" that makes it JSON. */
#define DS_JSON_SNIFF_BYTES 4096

/* Whether kubectl reads buf[0..len) as a stream of JSON values: after a
 * byte-order mark, its first DS_JSON_SNIFF_BYTES bytes hold white space
 * (as Go's unicode.IsSpace has it: U+00A0 and U+2028 too) and then "{". */
bool ds_json_sniff(const char *buf, size_t len);

/* Reads every value of the JSON stream buf[0..len) (values one after the
 * other, white space between or none) and hands each to cb as a document,
 * as ds_yaml_load_filtered() does (wanted may be NULL). Strings read as Go
 * reads them: a surrogate pair is one character, a lone surrogate U+FFFD.
 * Returns 0 when the whole stream was read, -1 on a syntax or limit error
 * (added to diags with its position) or when cb or memory failed. */
int ds_json_load(const char *buf, size_t len, ds_kind_filter wanted, ds_document_cb cb, void *data,
		 ds_diag_list *diags);

#endif
