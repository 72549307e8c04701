/* rule_access.h - the rules and options the unit tests and fuzzers name,
 * by id and key as a user does: no test depends on where the table keeps
 * them. */
#ifndef DSGUARD_TEST_RULE_ACCESS_H
#define DSGUARD_TEST_RULE_ACCESS_H

#include "rules/rules.h"

#define DS001 ds_rule_find("DS001")
#define DS002 ds_rule_find("DS002")
#define DS003 ds_rule_find("DS003")

/* The settings of a rule in a ds_config (an lvalue). */
#define RULE_SETTINGS(cfg, rule) ((cfg)->rules[ds_rule_index(rule)])

/* DS001's default class (char *), DS001's allowed list and DS003's exempt
 * namespaces (ds_string_list), as lvalues of a ds_config pointer. */
#define DEFAULT_CLASS(cfg) (ds_rule_option_value((cfg), DS001, "default")->name)
#define ALLOWED_CLASSES(cfg) (ds_rule_option_value((cfg), DS001, "allowed")->list)
#define EXEMPT_NAMESPACES(cfg) (ds_rule_option_value((cfg), DS003, "exemptNamespaces")->list)

/* Whether every option of rule number i in cfg is none. */
static inline bool options_are_none(const ds_config *cfg, size_t i)
{
	for (size_t j = 0; j < ds_rules[i].option_count; j++) {
		const ds_option_value *v = &cfg->rules[i].options[ds_rules[i].options[j].slot];
		if (ds_rules[i].options[j].type == DS_OPTION_NAME ? v->name != NULL : v->list.count > 0)
			return false;
	}
	return true;
}

#endif
