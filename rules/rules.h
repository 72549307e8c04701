/* rules.h - the rule engine: a resource (cJSON) and a context in, findings and
 * fixes (RFC 6902 JSONPatch operations) out. No I/O, no YAML, no HTTP. */
#ifndef DSGUARD_RULES_H
#define DSGUARD_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "util/util.h"

typedef enum {
	DS_SEVERITY_OFF = 0,
	DS_SEVERITY_WARNING,
	DS_SEVERITY_ERROR
} ds_severity;

/* Index of each rule in ds_rules[]. */
typedef enum {
	DS_RULE_PRIORITY_CLASS = 0,
	DS_RULE_RESTART_POLICY,
	DS_RULE_DEDICATED_NAMESPACE,
	DS_RULE_COUNT
} ds_rule_index;

typedef struct ds_string_list {
	char **items;
	size_t count;
} ds_string_list;

/* The settings of one rule (see docs/config.md). */
typedef struct ds_rule_config {
	ds_severity severity;
	char *default_value;              /* priority-class: the class to patch in; NULL: none */
	ds_string_list allowed;           /* priority-class: allowed classes; empty: any */
	ds_string_list exempt_namespaces; /* dedicated-namespace: never reported */
} ds_rule_config;

/* The whole configuration. Owns every string in it. */
typedef struct ds_config {
	bool enforce;                    /* false: every finding is at most a warning */
	bool allow_exemption_annotation; /* false: dsguard.io/ignore counts for nothing */
	ds_rule_config rules[DS_RULE_COUNT];
} ds_config;

/* Who else lives in a namespace (DS003). The lint run and the webhook's
 * cluster cache each provide one. Returns a newly allocated name of a
 * DaemonSet in `ns` other than `name` (the caller frees it), or NULL when
 * there is none. */
typedef struct ds_namespace_lookup {
	char *(*other_in_namespace)(void *data, const char *ns, const char *name);
	void *data;
} ds_namespace_lookup;

/* What a resource is checked against. */
typedef struct ds_context {
	const ds_config *config;
	const char *default_namespace;         /* where a resource without one lives; NULL: "default" */
	const ds_namespace_lookup *namespaces; /* NULL: DS003 is not evaluated */
} ds_context;

typedef struct ds_rule ds_rule;

/* The annotation that exempts a resource from rules (docs/rules.md). */
#define DS_IGNORE_ANNOTATION "dsguard.io/ignore"

/* One finding. `pointer` is the RFC 6901 JSON Pointer of the field the
 * finding is about (it may not exist in the resource when the field is
 * missing). Owns message and pointer. */
typedef struct ds_finding {
	const ds_rule *rule;
	ds_severity severity; /* effective: after config and enforce */
	char *message;
	char *pointer;
	bool exempt; /* exempted by the dsguard.io/ignore annotation */
} ds_finding;

typedef enum { DS_PATCH_ADD, DS_PATCH_REPLACE } ds_patch_kind;

/* One RFC 6902 operation. Owns path and value. */
typedef struct ds_patch_op {
	ds_patch_kind kind;
	char *path;
	cJSON *value;
	const ds_rule *rule; /* the rule whose fix this is */
} ds_patch_op;

/* The outcome of checking one resource. */
typedef struct ds_evaluation {
	ds_finding *findings;
	size_t finding_count;
	ds_patch_op *ops;
	size_t op_count;
} ds_evaluation;

/* A rule: one record from which `dsguard rules`, docs/rules.md, SARIF
 * metadata and webhook messages are all drawn. */
struct ds_rule {
	ds_rule_index index;
	const char *id;          /* "DS001" */
	const char *name;        /* "priority-class" */
	ds_severity default_severity;
	const char *summary;     /* one line: what the rule wants */
	const char *why;         /* why it matters */
	const char *remediation; /* how to fix it by hand */
	const char *fixes;       /* what the automatic fix does, or NULL */
	/* Appends findings for `resource` (a DaemonSet). Returns 0, or -1 when
	 * memory runs out. */
	int (*check)(const cJSON *resource, const ds_context *ctx, const ds_rule *rule,
		     ds_evaluation *out);
	/* Appends the operations that fix `finding`, or none when the rule
	 * cannot fix it with this config. Returns 0, or -1 out of memory. */
	int (*fix)(const cJSON *resource, const ds_context *ctx, const ds_finding *finding,
		   ds_evaluation *out);
};

extern const ds_rule ds_rules[DS_RULE_COUNT];

/* The rule with this id ("DS001", any case) or name ("priority-class"),
 * or NULL. */
const ds_rule *ds_rule_find(const char *id_or_name);

/* Severity names: "error", "warning", "off". ds_severity_parse returns -1
 * for an unknown name. */
const char *ds_severity_name(ds_severity s);
int ds_severity_parse(const char *name);

/* Fills cfg with the defaults: every rule at its default severity, enforce
 * on, the exemption annotation honoured, no default class, nothing allowed-
 * listed, no namespace exempt. */
void ds_config_init(ds_config *cfg);

/* Frees the names of list and empties it. */
void ds_string_list_clear(ds_string_list *list);

/* Releases what cfg owns (not cfg itself) and leaves it at the defaults. */
void ds_config_free(ds_config *cfg);

/* Whether obj is a DaemonSet of apps/v1, apps/v1beta2 or extensions/v1beta1. */
bool ds_is_daemonset(const cJSON *obj);

/* metadata.name, or "" when absent. Borrowed from obj. */
const char *ds_resource_name(const cJSON *obj);

/* metadata.namespace, or the context's default namespace ("default" when
 * the context has none). Borrowed. */
const char *ds_resource_namespace(const cJSON *obj, const ds_context *ctx);

/* Checks one resource with every rule that is not off. Non-DaemonSets give
 * no findings. On success returns 0 and out holds findings (including
 * exempt ones, marked) and the fix operations for the non-exempt ones; the
 * caller releases it with ds_evaluation_free(). Returns -1 when memory runs
 * out (out is then empty). */
int ds_evaluate(const cJSON *resource, const ds_context *ctx, ds_evaluation *out);

/* Releases what ev owns and empties it. */
void ds_evaluation_free(ds_evaluation *ev);

/* The operations of ev as an RFC 6902 JSON array (a new cJSON tree the
 * caller deletes), or NULL out of memory. */
cJSON *ds_patch_to_json(const ds_evaluation *ev);

#endif
