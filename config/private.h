/* private.h - private to config/: what the readers of the config file's
 * parts share. */
#ifndef DSGUARD_CONFIG_PRIVATE_H
#define DSGUARD_CONFIG_PRIVATE_H

#include "config/config.h"
#include "util/util.h"
#include "yaml/document.h"

/* The state of reading one config file. */
struct config_reader {
	const char *path;  /* the config's path: borrowed from the ds_config being read */
	ds_document *doc;
	int documents;
	char *error;
	const cJSON *set_at[DS_RULE_COUNT][DS_RULE_MAX_OPTIONS]; /* the value that set each option last */
};

/* Sets the reader's error to "path:line:col: message" at item's value
 * (at_value) or key, or at 1:1 for a NULL item. Returns -1. */
int ds_config_error(struct config_reader *r, const cJSON *item, bool at_value, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Reads a boolean into *out. Returns 0, or -1 with the reader's error set. */
int ds_config_read_bool(struct config_reader *r, const cJSON *item, bool *out);

/* Reads a list of non-empty names (null: none) into *out, replacing what it
 * held. Returns 0, or -1 with the reader's error set. */
int ds_config_read_list(struct config_reader *r, const cJSON *item, ds_string_list *out);

/* Reads allowExemptionAnnotation: a boolean, or a mapping of the limits
 * on the annotation (namespaces, users, groups, requireReason), which
 * allows it. Returns 0, or -1 with the reader's error set. */
int ds_config_read_annotation(struct config_reader *r, const cJSON *item, ds_config *cfg);

/* Reads the exemptions list into cfg (after the entries an earlier
 * `exemptions` key gave: a repeated key keeps the last value, so there is
 * one). Returns 0, or -1 with the reader's error set. */
int ds_config_read_exemptions(struct config_reader *r, const cJSON *item, ds_config *cfg);

#endif
