/* config.c - the config file as lint, audit and serve load it. */
#include "cli/cli.h"
#include "lint/lint.h"

#include <stdlib.h>
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
