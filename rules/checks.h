/* checks.h - private to rules/: what the rule table's checks and fixes share
 * with the engine. */
#ifndef DSGUARD_RULES_CHECKS_H
#define DSGUARD_RULES_CHECKS_H

#include "rules/rules.h"

/* The pod template's spec, where DS001 and DS002 look. */
#define DS_POD_SPEC "/spec/template/spec"

/* Appends a finding of `rule` about `pointer` with a printf-style message,
 * at the rule's effective severity under ctx. Returns 0, or -1 out of
 * memory. */
int ds_add_finding(ds_evaluation *out, const ds_rule *rule, const ds_context *ctx,
		   const char *pointer, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* As ds_add_finding(), for a finding the rule could not decide (marked
 * unknown: a caller answers it as unchecked, never as a verdict). */
int ds_add_unknown(ds_evaluation *out, const ds_rule *rule, const ds_context *ctx, const char *pointer,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Appends the operations that make `pointer` (an object path) hold `value`:
 * a replace when the field exists, else an add at the first missing level
 * carrying the missing objects; a level on the way that is null is replaced
 * by the objects below it. Takes ownership of value. Adds nothing when a
 * level on the way exists but is neither an object nor null. Returns 0, or
 * -1 out of memory. */
int ds_add_set_op(ds_evaluation *out, const ds_rule *rule, const cJSON *resource,
		  const char *pointer, cJSON *value);

/* Appends a remove of `pointer` when resource holds a value there; adds
 * nothing when it does not. Returns 0, or -1 out of memory. */
int ds_add_remove_op(ds_evaluation *out, const ds_rule *rule, const cJSON *resource, const char *pointer);

#endif
