/* internal.h - private to policy/ (and its unit tests): CEL text, what each
 * rule becomes, and the YAML writer's pieces. */
#ifndef DSGUARD_POLICY_INTERNAL_H
#define DSGUARD_POLICY_INTERNAL_H

#include <stdio.h>
#include <time.h>

#include "policy/policy.h"
#include "util/util.h"

/* ---- text built in memory (cel.c) ---- */

/* A string written with stdio. Owns buf until ds_text_close(). */
typedef struct ds_text {
	FILE *f;
	char *buf;
	size_t size;
} ds_text;

/* Starts an empty text. Returns 0, or -1 out of memory. */
int ds_text_open(ds_text *t);

/* Ends the text: returns what was written (the caller frees it), or NULL
 * when memory ran out at any point. */
char *ds_text_close(ds_text *t);

/* ---- CEL text (cel.c) ---- */

/* Writes s as a CEL string literal: single-quoted, with backslash, quote
 * and control characters escaped. */
void ds_cel_quote(FILE *f, const char *s);

/* As ds_cel_quote(), for the first len bytes of s. */
void ds_cel_quote_n(FILE *f, const char *s, size_t len);

/* Writes a JSON value as the CEL literal of the same value: null, bool,
 * int (a number without fraction), double, string, list or map. */
void ds_cel_literal(FILE *f, const cJSON *value);

/* Writes the list as a CEL list of string literals: ['a', 'b']. */
void ds_cel_list(FILE *f, const ds_string_list *list);

/* Writes the CEL selection of an RFC 6901 pointer below `base`:
 * ("object", "/spec/template") -> object.spec.template; a token that is not
 * a CEL identifier is indexed: object.metadata.annotations['a/b']. */
void ds_cel_select(FILE *f, const char *base, const char *pointer);

/* Writes a condition that holds when every level of pointer below base
 * down to its parent is a map, and, with `last`, the last token is present
 * there: has(object.spec) && type(object.spec) == map && has(object.spec.x).
 * Never an error, whatever the object holds. */
void ds_cel_present(FILE *f, const char *base, const char *pointer, bool last);

/* Writes s into an RE2 pattern so that it matches itself; letters match
 * in either case when `fold`. */
void ds_re2_literal(FILE *f, const char *s, bool fold);

/* ---- the rules' messages (messages.c) ---- */

/* The message and fix rule writes for one resource. Owns every string. */
typedef struct ds_probe {
	char *message;  /* the finding's message with the markers in it; NULL: no finding */
	char *pointer;  /* the finding's JSON Pointer */
	cJSON *fix;     /* the fix as an RFC 6902 array ([] when none) */
	const char *unfixable; /* why the fix could not apply (static), or NULL */
} ds_probe;

/* Characters that stand for a value in a probe's resource and come out in
 * its message, for a CEL expression to take their place. */
#define DS_MARK_VALUE "\001"
#define DS_MARK_OTHER "\002"

/* Runs rule over `resource` (JSON text of a DaemonSet) with cfg's settings
 * for it, at error and with exemptions off; for a namespace rule, another
 * DaemonSet named `other` lives in the namespace. Returns 0 with *out, or -1
 * with *error (a resource that is not JSON, out of memory). */
int ds_probe_rule(const ds_rule *rule, const ds_config *cfg, const char *resource, const char *other,
		  ds_probe *out, char **error);

/* Releases what p owns and empties it. */
void ds_probe_free(ds_probe *p);

/* Writes message as a CEL string expression in which DS_MARK_VALUE is
 * `value` and DS_MARK_OTHER is `other` (CEL expressions, or NULL when the
 * message may hold no such mark): 'a "' + variables.value + '" b'. */
void ds_cel_message(FILE *f, const char *message, const char *value, const char *other);

/* As ds_cel_message(), with `count` markers: the character of code k (1
 * to count) stands for the CEL expression exprs[k - 1] ('' when NULL);
 * DS_MARK_VALUE is 1, DS_MARK_OTHER 2. */
void ds_cel_message_marks(FILE *f, const char *message, const char *const *exprs, size_t count);

/* ---- what each rule becomes (rules.c) ---- */

/* One CEL variable of a policy. */
typedef struct ds_cel_variable {
	char *name;
	char *expression;
} ds_cel_variable;

/* A rule as CEL: the variables of its policy (the last, `finding`, is
 * the finding's message, or '' when the rule has nothing to say) and, when
 * it can be patched, the JSONPatch expression. Owns every string. */
typedef struct ds_rule_cel {
	const ds_rule *rule;
	ds_cel_variable *variables;
	size_t variable_count;
	bool validating;        /* false: the API server's own validation covers it */
	const char *why_not;    /* when not validating: why (static) */
	bool per_daemonset;     /* evaluated once per other DaemonSet of the namespace (params) */
	char *patch;            /* NULL: no mutation */
	const char *unpatched;  /* why there is no patch (static), or NULL */
	const char *exempt_namespaces; /* the list option of namespaces the rule leaves out, or NULL */
} ds_rule_cel;

/* Translates rule under cfg; `patch` asks for the JSONPatch expression.
 * Returns 0 with *out, or -1 with *error (out of memory, or the rules no
 * longer write what the translation expects). */
int ds_rule_cel_make(const ds_rule *rule, const ds_config *cfg, bool patch, ds_rule_cel *out, char **error);

/* Releases what rc owns and empties it. */
void ds_rule_cel_free(ds_rule_cel *rc);

/* One way a rule may be exempted, in CEL: the condition (over object,
 * oldObject and request) under which it exempts the DaemonSet, and the
 * warning an exempted finding then gets (a CEL string expression over
 * variables.finding, in the webhook's words). Owns both. */
typedef struct ds_cel_exemption {
	char *condition;
	char *message;
} ds_cel_exemption;

/* A rule's exemptions in the order the engine tries them (the config's
 * entries, then the dsguard.io/ignore annotation within the config's
 * limits), and notes on the entries left out or that will expire. Owns
 * everything. */
typedef struct ds_cel_exemptions {
	ds_cel_exemption *items;
	size_t count;
	char *notes; /* comment lines, '\n'-separated, or NULL */
} ds_cel_exemptions;

/* Translates what exempts rule under cfg at `now` (entries expired then
 * are left out). Returns 0 with *out, or -1 out of memory. */
int ds_exemptions_make(const ds_rule *rule, const ds_config *cfg, time_t now, ds_cel_exemptions *out);

/* Releases what ex owns and empties it. */
void ds_exemptions_free(ds_cel_exemptions *ex);

/* The condition under which anything exempts the rule (the exemptions'
 * conditions ORed), or NULL when nothing does (*oom false) or out of
 * memory (*oom true). Returns a new string. */
char *ds_exemptions_condition(const ds_cel_exemptions *ex, bool *oom);

/* Writes the warning of an exempted finding, in parentheses: the message
 * of the first exemption whose condition holds (the last one's when none
 * before it does: the finding is known to be exempted). */
void ds_exemptions_message(FILE *f, const ds_cel_exemptions *ex);

/* ---- YAML (yaml.c) ---- */

/* Writes value as a block YAML node at `indent` spaces, the way
 * ds_policy_yaml() writes documents (a mapping's first line is not
 * indented: it follows what the caller wrote). */
void ds_yaml_write(FILE *f, const cJSON *value, int indent);

#endif
