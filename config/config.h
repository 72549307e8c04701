/* config.h - the config file (docs/config.md): YAML read strictly into the
 * ds_config the rules read. Shared by lint, audit, serve and review. */
#ifndef DSGUARD_CONFIG_H
#define DSGUARD_CONFIG_H

#include "rules/rules.h"

/* Reads the YAML config file at `path` strictly into cfg, which is first
 * reset to the defaults. Returns 0 on success. On error returns -1 and sets
 * *error to a newly allocated "path:line:col: message" (cfg is then at the
 * defaults). */
int ds_config_load(const char *path, ds_config *cfg, char **error);

#endif
