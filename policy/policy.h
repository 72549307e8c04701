/* policy.h - dsguard's rules as Kubernetes admission policies: the
 * ValidatingAdmissionPolicy and MutatingAdmissionPolicy objects (and their
 * bindings) whose CEL the API server evaluates itself, answering as the
 * webhook answers (docs/policies.md). A ds_config in, cJSON objects and
 * their YAML out. No I/O, no config file parsing. */
#ifndef DSGUARD_POLICY_H
#define DSGUARD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "rules/rules.h"

/* Kubernetes minor versions (the major is 1) where the policy kinds start. */
#define DS_POLICY_VALIDATING_MINOR 30     /* ValidatingAdmissionPolicy v1 */
#define DS_POLICY_MUTATING_MINOR 32       /* MutatingAdmissionPolicy v1alpha1 */
#define DS_POLICY_MUTATING_BETA_MINOR 34  /* MutatingAdmissionPolicy v1beta1 */

/* What to generate besides the config. Borrowed. */
typedef struct ds_policy_options {
	unsigned kube_minor;     /* the cluster's Kubernetes minor version: 30 for 1.30 */
	bool mutating;           /* also MutatingAdmissionPolicies for the rules' fixes */
	const char *name_prefix; /* of every object's name; NULL: "dsguard-" */
	/* A LabelSelector (ds_label_selector_parse()) every binding's
	 * matchResources.namespaceSelector carries, or NULL for every namespace. */
	const cJSON *namespace_selector;
	/* When config exemptions' expiry is judged (0: now): an entry expired
	 * then is left out, with a note in the policies' comments. */
	time_t now;
} ds_policy_options;

/* One object to write, with the comment lines written above it. Owns both. */
typedef struct ds_policy_document {
	char *comment;  /* lines without "# ", separated by '\n'; NULL: none */
	cJSON *object;
} ds_policy_document;

/* The generated objects in the order they are written. Owns them. */
typedef struct ds_policy_set {
	ds_policy_document *docs;
	size_t count;
} ds_policy_set;

/* Reads a Kubernetes version, "1.30", "v1.32" or "1.34.1", into *minor.
 * Returns 0, or -1 with *error saying what is wrong: not a version, or
 * older than 1.30 (ValidatingAdmissionPolicy v1 needs 1.30). */
int ds_policy_kube_version(const char *text, unsigned *minor, char **error);

/* Generates the policies for cfg under opts into *out (emptied first).
 * Returns 0, or -1 with *error: --mutating before 1.32, a name prefix that
 * does not make valid names, a rule the config lets be patched whose fix
 * cannot apply (DS001 without a default class), or out of memory. On
 * failure *out is empty. Release it with ds_policy_set_free(). */
int ds_policy_generate(const ds_config *cfg, const ds_policy_options *opts, ds_policy_set *out, char **error);

/* Releases what set owns and leaves it empty. */
void ds_policy_set_free(ds_policy_set *set);

/* The set as multi-document YAML: `header` (lines without "# ", NULL for
 * none) as a comment first, then each object after "---" and its comment.
 * Returns a new string, or NULL out of memory. */
char *ds_policy_yaml(const ds_policy_set *set, const char *header);

/* Parses a label selector as kubectl's -l reads one ("a=b,c!=d,e in
 * (f,g),h notin (i),j,!k") and appends its requirements to `selector`, a
 * LabelSelector object ({"matchExpressions": [...]}, created when absent).
 * Returns 0, or -1 with *error naming the requirement that is wrong. */
int ds_label_selector_parse(const char *text, cJSON *selector, char **error);

#endif
