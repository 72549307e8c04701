/* rules.h - the rule engine: a resource (cJSON) and a context in, findings and
 * fixes (RFC 6902 JSONPatch operations) out. No I/O, no YAML, no HTTP. */
#ifndef DSGUARD_RULES_H
#define DSGUARD_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "util/util.h"

typedef enum {
	DS_SEVERITY_OFF = 0,
	DS_SEVERITY_WARNING,
	DS_SEVERITY_ERROR
} ds_severity;

/* How many rules ds_rules[] holds; what is kept per rule (metrics,
 * review counts) is sized with it. */
#define DS_RULE_COUNT 3

/* What a rule needs to see. The engine evaluates rules by scope: the lint
 * run evaluates DS_SCOPE_OBJECT rules as it reads each object and
 * DS_SCOPE_NAMESPACE rules once every object is read; the webhook
 * evaluates both, the namespace rules against the cluster's DaemonSets. */
typedef enum {
	DS_SCOPE_OBJECT = 1 << 0,    /* the object alone */
	/* The object among the other DaemonSets of its namespace, through
	 * ds_context.namespaces. Such a rule reads only apiVersion, kind,
	 * metadata.name and metadata.namespace, and its exemptions the
	 * exemption annotations and the labels config exemptions name: the
	 * lint run keeps no more of an object once its file is read. */
	DS_SCOPE_NAMESPACE = 1 << 1,
} ds_scope;

#define DS_SCOPE_ALL (DS_SCOPE_OBJECT | DS_SCOPE_NAMESPACE)

typedef struct ds_string_list {
	char **items;
	size_t count;
} ds_string_list;

/* The types a rule option may have (see ds_rule_option). */
typedef enum {
	DS_OPTION_NAME,     /* a non-empty string, or null for none */
	DS_OPTION_NAME_LIST /* a list of non-empty strings; null or [] for none */
} ds_option_type;

/* The value of one rule option; which member holds it follows the
 * option's type. Owns its strings. */
typedef union ds_option_value {
	char *name;          /* DS_OPTION_NAME; NULL: none */
	ds_string_list list; /* DS_OPTION_NAME_LIST */
} ds_option_value;

/* The most options one rule may have. */
#define DS_RULE_MAX_OPTIONS 4

/* The settings of one rule (see docs/config.md): its severity and its
 * options, each in the slot its ds_rule_option names. */
typedef struct ds_rule_config {
	ds_severity severity;
	ds_option_value options[DS_RULE_MAX_OPTIONS];
} ds_rule_config;

/* One label an exemption requires: key with exactly this value. Owns both. */
typedef struct ds_label {
	char *key, *value;
} ds_label;

/* One entry of the config's `exemptions` list (docs/config.md): the rules
 * it exempts on the DaemonSets it selects, why, and until when. An object
 * is selected when every selector the entry gives matches (a list of globs
 * when any of them does); the config loader refuses an entry that gives
 * none, and empty lists. Owns every string but file (the config's path). */
typedef struct ds_exemption {
	bool rules[DS_RULE_COUNT];   /* in the order of ds_rules[] */
	ds_string_list namespaces;   /* globs (util.h); none: any namespace */
	ds_string_list names;        /* globs; none: any name */
	ds_label *labels;            /* all must match; none: any labels */
	size_t label_count;
	char *reason;                /* non-empty */
	bool expires;                /* false: it holds for good */
	time_t expiry;               /* the first second (UTC) at which it no longer holds */
	char *expires_text;          /* `expires` as written, for messages; NULL when it does not expire */
	const char *file;            /* where it was written: the config's path (borrowed) */
	unsigned line, column;
} ds_exemption;

/* Where, by whom and how the dsguard.io/ignore annotation counts, when the
 * config honours it at all (allowExemptionAnnotation as a mapping). An
 * empty list sets no limit (the config loader refuses empty lists). */
typedef struct ds_annotation_grant {
	ds_string_list namespaces; /* globs: the annotation counts only in these namespaces */
	/* At admission, the annotation counts only when the requester (its
	 * username, or one of its groups) is listed, or on UPDATE when oldObject
	 * already carried it for the rule: adding it is the privileged act. */
	ds_string_list users, groups;
	bool require_reason;       /* without a dsguard.io/ignore-reason it counts for nothing */
} ds_annotation_grant;

/* The whole configuration. Owns every string in it. */
typedef struct ds_config {
	bool enforce;                    /* false: every finding is at most a warning */
	bool allow_exemption_annotation; /* false: dsguard.io/ignore counts for nothing */
	ds_annotation_grant annotation;  /* the limits on it, when it counts */
	ds_exemption *exemptions;        /* the `exemptions` list, in the file's order */
	size_t exemption_count;
	char *path;                      /* the file it was read from (entries name it); NULL: none */
	ds_rule_config rules[DS_RULE_COUNT]; /* in the order of ds_rules[] */
} ds_config;

/* One option of a rule: `rules.NAME.KEY` in the config file. The config
 * loader, `dsguard rules` (text, markdown and JSON) and docs/config.md are
 * drawn from these records. Every option's default is none (null, or an
 * empty list). */
typedef struct ds_rule_option {
	const char *key;  /* "default" */
	ds_option_type type;
	unsigned slot;    /* its index in ds_rule_config.options */
	const char *what; /* what one value is, for messages: "the name of a PriorityClass" */
	const char *help; /* one sentence for the docs */
	/* Checks the option against the rule's other settings once the whole
	 * config is read (NULL: nothing to check). Returns NULL when the
	 * settings are sound, else a new message that the loader reports at
	 * this option's value. */
	char *(*validate)(const ds_rule_config *settings);
} ds_rule_option;

/* Who else lives in a namespace, for DS_SCOPE_NAMESPACE rules. */
typedef enum {
	DS_NAMESPACE_FREE,   /* no other DaemonSet lives there */
	DS_NAMESPACE_SHARED, /* another one does: *other names it */
	DS_NAMESPACE_UNKNOWN /* it cannot be told yet (the cluster is not listed yet) */
} ds_namespace_answer;

/* The lint run and the webhook's cluster state each provide one. The
 * function answers who else lives in namespace `ns` besides the DaemonSet
 * `name`; for DS_NAMESPACE_SHARED it sets *other to a newly allocated name
 * (the caller frees it), or leaves it NULL when memory ran out. */
typedef struct ds_namespace_lookup {
	ds_namespace_answer (*other_in_namespace)(void *data, const char *ns, const char *name, char **other);
	void *data;
} ds_namespace_lookup;

/* What an admission request tells about who writes the object, for the
 * exemption annotation's limits (ds_annotation_grant). Borrowed. */
typedef struct ds_admission {
	const cJSON *user_info;  /* request.userInfo ({username, groups}), or NULL */
	bool update;             /* an UPDATE (else a CREATE) */
	const char *old_ignore;  /* UPDATE: oldObject's dsguard.io/ignore when it is a string, else NULL */
} ds_admission;

/* What a resource is checked against. */
typedef struct ds_context {
	const ds_config *config;
	const char *default_namespace;         /* where a resource without one lives; NULL: "default" */
	const ds_namespace_lookup *namespaces; /* NULL: DS_SCOPE_NAMESPACE rules are not evaluated */
	time_t now;                            /* what config exemptions' expiry is compared with */
	const ds_admission *admission;         /* the request being admitted; NULL: lint and audit */
} ds_context;

typedef struct ds_rule ds_rule;

/* The annotation that exempts a resource from rules (docs/rules.md), and
 * the one that may say why. */
#define DS_IGNORE_ANNOTATION "dsguard.io/ignore"
#define DS_IGNORE_REASON_ANNOTATION "dsguard.io/ignore-reason"

/* The longest reason a finding carries (longer ones are cut, ending "..."). */
#define DS_EXEMPTION_REASON_MAX 256

/* What exempted a finding. */
typedef enum { DS_EXEMPT_NONE = 0, DS_EXEMPT_CONFIG, DS_EXEMPT_ANNOTATION } ds_exempt_source;

/* Why a finding of one rule on one object is exempt or not: what
 * ds_exemption_decide() found. Borrows from the config and the resource. */
typedef struct ds_exemption_verdict {
	ds_exempt_source by;
	const ds_exemption *entry;   /* by config: the first entry that exempts it */
	const char *reason;          /* the entry's reason, or the object's dsguard.io/ignore-reason (NULL: none) */
	/* Not exempt, though an entry that has expired would have exempted it:
	 * the first such entry; else NULL. */
	const ds_exemption *expired;
	/* Not exempt, though dsguard.io/ignore names the rule: why it does not
	 * count (a constant sentence); NULL when it is not that. Not said when
	 * the config turns the annotation off altogether. */
	const char *refused;
} ds_exemption_verdict;

/* One finding. `pointer` is the RFC 6901 JSON Pointer of the field the
 * finding is about (it may not exist in the resource when the field is
 * missing). Owns message and pointer. */
typedef struct ds_finding {
	const ds_rule *rule;
	ds_severity severity; /* effective: after config and enforce */
	char *message;
	char *pointer;
	bool exempt;     /* exempted: by a config entry or the dsguard.io/ignore annotation */
	ds_exempt_source exempted_by;
	char *exempt_reason;            /* why, cut to DS_EXEMPTION_REASON_MAX; NULL: no reason given */
	const ds_exemption *exemption;  /* by config: the entry (borrowed from the config) */
	const ds_exemption *expired;    /* see ds_exemption_verdict (borrowed from the config) */
	const char *exemption_refused;  /* see ds_exemption_verdict (static) */
	bool unknown;    /* the rule could not decide (DS_NAMESPACE_UNKNOWN): not a verdict */
	const char *unfixable; /* why the rule's fix did not apply with this config, or NULL (static) */
} ds_finding;

typedef enum { DS_PATCH_ADD, DS_PATCH_REPLACE, DS_PATCH_REMOVE } ds_patch_kind;

/* One RFC 6902 operation. Owns path and value. */
typedef struct ds_patch_op {
	ds_patch_kind kind;
	char *path;
	/* add, replace: the new value. remove: a copy of the value the path
	 * holds, what the operation takes away (not part of the JSONPatch). */
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

/* A rule: one record from which `dsguard rules`, docs/rules.md, the
 * config loader, SARIF and JUnit metadata, metrics and webhook messages are
 * all drawn (docs/architecture.md, "Adding a rule"). */
struct ds_rule {
	const char *id;          /* "DS001" */
	const char *name;        /* "priority-class" */
	ds_severity default_severity;
	ds_scope scope;          /* what it needs to see */
	const char *summary;     /* one line: what the rule wants */
	const char *why;         /* why it matters */
	const char *remediation; /* how to fix it by hand */
	const char *fixes;       /* what the automatic fix does, or NULL */
	const ds_rule_option *options; /* its settings besides severity */
	size_t option_count;
	/* Appends findings for `resource` (a DaemonSet). Returns 0, or -1 when
	 * memory runs out. */
	int (*check)(const cJSON *resource, const ds_context *ctx, const ds_rule *rule,
		     ds_evaluation *out);
	/* Appends the operations that fix `finding` (NULL: the rule has no
	 * automatic fix). When it cannot fix it (with this config, or in an
	 * object of this shape) it appends nothing and sets *why_not to a
	 * constant sentence saying why, and what to set where that helps: a
	 * fix does one or the other. Returns 0, or -1 out of memory. */
	int (*fix)(const cJSON *resource, const ds_context *ctx, const ds_finding *finding,
		   ds_evaluation *out, const char **why_not);
};

extern const ds_rule ds_rules[]; /* DS_RULE_COUNT of them; table.c asserts it */

/* The position of rule in ds_rules[] (and in ds_config.rules[]). */
static inline size_t ds_rule_index(const ds_rule *rule)
{
	return (size_t)(rule - ds_rules);
}

/* The settings of rule in cfg. */
static inline const ds_rule_config *ds_rule_settings(const ds_config *cfg, const ds_rule *rule)
{
	return &cfg->rules[ds_rule_index(rule)];
}

/* rule's option `key`, or NULL when it has none by that name. */
const ds_rule_option *ds_rule_option_find(const ds_rule *rule, const char *key);

/* The value of rule's option `key` in cfg (its type says which member
 * holds it), or NULL when the rule has no such option. Not const, as with
 * strchr(): whoever owns cfg may change it. */
ds_option_value *ds_rule_option_value(const ds_config *cfg, const ds_rule *rule, const char *key);

/* Sets rule's DS_OPTION_NAME option `key` in cfg to a copy of value (NULL:
 * none), as a command-line flag does. Returns 0, or -1 when there is no
 * such option or memory runs out. */
int ds_rule_option_set_name(ds_config *cfg, const ds_rule *rule, const char *key, const char *value);

/* "known: a, b, c": the rule names, for messages. Returns a new string or
 * NULL out of memory. */
char *ds_rule_names(void);

/* The rule with this id ("DS001", any case) or name ("priority-class"),
 * or NULL. */
const ds_rule *ds_rule_find(const char *id_or_name);

/* Severity names: "error", "warning", "off". ds_severity_parse returns -1
 * for an unknown name. */
const char *ds_severity_name(ds_severity s);
int ds_severity_parse(const char *name);

/* Fills cfg with the defaults: every rule at its default severity, enforce
 * on, the exemption annotation honoured without limits, no exemption
 * entries, every option none. */
void ds_config_init(ds_config *cfg);

/* Frees the names of list and empties it. */
void ds_string_list_clear(ds_string_list *list);

/* Whether `name` is one of list's items. */
bool ds_string_list_has(const ds_string_list *list, const char *name);

/* Releases an option's value of `type` and empties it. */
void ds_option_value_clear(ds_option_value *value, ds_option_type type);

/* Releases what cfg owns (not cfg itself) and leaves it at the defaults. */
void ds_config_free(ds_config *cfg);

/* Whether obj is a DaemonSet of apps/v1, apps/v1beta2 or extensions/v1beta1. */
bool ds_is_daemonset(const cJSON *obj);

/* metadata.name, or "" when absent. Borrowed from obj. */
const char *ds_resource_name(const cJSON *obj);

/* metadata.namespace, or the context's default namespace ("default" when
 * the context has none). Borrowed. */
const char *ds_resource_namespace(const cJSON *obj, const ds_context *ctx);

/* Checks one resource with every rule of `scopes` (a mask of ds_scope)
 * that is not off; DS_SCOPE_NAMESPACE rules only when ctx->namespaces is
 * set. Non-DaemonSets give no findings. On success returns 0 and out holds
 * findings (including exempt ones, marked) and the fix operations for the
 * non-exempt ones; the caller releases it with ds_evaluation_free().
 * Returns -1 when memory runs out (out is then empty). */
int ds_evaluate(const cJSON *resource, const ds_context *ctx, unsigned scopes, ds_evaluation *out);

/* Releases what ev owns and empties it. */
void ds_evaluation_free(ds_evaluation *ev);

/* ---- Exemptions (exempt.c): the one place that decides them ---- */

/* Decides whether a finding of `rule` on `resource` (a DaemonSet, or the
 * record of one the lint run kept: name, namespace, labels, annotations)
 * is exempt under ctx, and why. The config's entries come first, in the
 * file's order: the first that names the rule, selects the object and has
 * not expired at ctx->now exempts it. Else the dsguard.io/ignore
 * annotation does, when it names the rule and the config lets it count:
 * allowExemptionAnnotation, in a namespace it lists, with a
 * dsguard.io/ignore-reason where requireReason says so, and at admission
 * (ctx->admission) from a listed requester, or on UPDATE where oldObject
 * already named the rule. Fills *out. */
void ds_exemption_decide(const cJSON *resource, const ds_context *ctx, const ds_rule *rule,
			 ds_exemption_verdict *out);

/* At admission, where the config limits who may exempt by annotation: the
 * first rule that the object's dsguard.io/ignore names and the request adds
 * (a CREATE, or oldObject's did not name it), in a namespace where the
 * annotation counts, while the requester is not listed. The webhook denies
 * such a request: once admitted, a later UPDATE would find the annotation
 * already there. NULL when there is none (and outside admission). */
const ds_rule *ds_exemption_grant_refused(const cJSON *resource, const ds_context *ctx);

/* Whether entry e has expired at `now`. */
bool ds_exemption_expired(const ds_exemption *e, time_t now);

/* Whether entry e selects the DaemonSet `name` in namespace ns with
 * `labels` (metadata.labels, or NULL). */
bool ds_exemption_selects(const ds_exemption *e, const char *ns, const char *name, const cJSON *labels);

/* Whether the dsguard.io/ignore value names rule: one of its
 * comma-separated items (spaces around each ignored) is the rule's id (any
 * case), its name or "all" (any case). */
bool ds_ignore_names_rule(const char *value, const ds_rule *rule);

/* The requester of an admission request (userInfo) is one the grant lists:
 * its username in users or one of its groups in groups. */
bool ds_requester_listed(const ds_annotation_grant *grant, const cJSON *user_info);

/* ---- The words of admission answers (answers.c) ----
 * The webhook answers with them and the admission policies (policy/) must
 * say the same, word for word: both take them from here. Each returns a
 * new string, or NULL out of memory. */

/* "DaemonSet NS/NAME is not allowed:", which the denied rules follow. */
char *ds_say_denied(const char *ns, const char *name);

/* One denied rule after ds_say_denied(): " DS001 priority-class: MESSAGE",
 * the second and later ones starting with ";". */
char *ds_say_denied_rule(const ds_rule *rule, const char *message, bool first);

/* A warning: "DS001 priority-class: MESSAGE", with template_kept (an
 * UPDATE that leaves spec.template as it was, so an error only warns)
 * followed by " (this update leaves spec.template as it was)". */
char *ds_say_warning(const ds_rule *rule, const char *message, bool template_kept);

/* The warning of an exempted finding: "DS001 priority-class exempted by
 * annotation dsguard.io/ignore: MESSAGE", with a reason "... by annotation
 * dsguard.io/ignore (REASON): ...", or for a config entry "... exempted by
 * config (REASON): MESSAGE". */
char *ds_say_exempted(const ds_rule *rule, ds_exempt_source by, const char *reason, const char *message);

/* Why a request is denied that adds the annotation for rule without being
 * allowed to (ds_exemption_grant_refused()): a sentence after
 * ds_say_denied(), naming the user (NULL: none given). */
char *ds_say_grant_refused(const ds_rule *rule, const char *user);

/* The operations of ev as an RFC 6902 JSON array (a new cJSON tree the
 * caller deletes), or NULL out of memory. */
cJSON *ds_patch_to_json(const ds_evaluation *ev);

#endif
