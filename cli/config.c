/* config.c - what lint, audit, serve and policy read alike: the config
 * file, the --fail-on level, the --priority-class override. */
#include "cli/cli.h"
#include "config/config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOCAL_CONFIG ".dsguard.yaml"

int cli_load_config(const char *cmd, const char *path, bool pick_local, ds_config *cfg)
{
	char *error = NULL;

	if (!path && pick_local && access(LOCAL_CONFIG, F_OK) == 0)
		path = LOCAL_CONFIG;
	if (!path)
		return 0;
	if (ds_config_load(path, cfg, &error) == 0)
		return 0;
	fprintf(stderr, "dsguard %s: %s\n", cmd, error ? error : "cannot read the config");
	free(error);
	return DS_EXIT_USAGE;
}

int cli_fail_on(const char *cmd, const char *level, ds_severity *out)
{
	if (!strcmp(level, "error"))
		*out = DS_SEVERITY_ERROR;
	else if (!strcmp(level, "warning"))
		*out = DS_SEVERITY_WARNING;
	else
		return cli_usage_error(cmd, "unknown --fail-on '%s' (use error or warning)", level);
	return 0;
}

int cli_priority_class(const char *cmd, const char *name, ds_config *cfg)
{
	const ds_rule *rule = ds_rule_find("priority-class");
	const ds_rule_option *opt = ds_rule_option_find(rule, "default");
	char *why;

	if (!name)
		return 0;
	if (!*name)
		return cli_usage_error(cmd, "--priority-class needs a name");
	if (ds_rule_option_set_name(cfg, rule, "default", name) < 0)
		return cli_usage_error(cmd, "out of memory");
	why = opt->validate ? opt->validate(ds_rule_settings(cfg, rule)) : NULL;
	if (!why)
		return 0;
	fprintf(stderr, "dsguard %s: --priority-class: %s\n", cmd, why);
	free(why);
	return DS_EXIT_USAGE;
}
