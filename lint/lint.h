/* lint.h - the offline linter: manifests read with positions, rules run over
 * them, findings reported. Also the config file loader shared with serve. */
#ifndef DSGUARD_LINT_H
#define DSGUARD_LINT_H

#include "rules/rules.h"

/* Reads the YAML config file at `path` strictly into cfg, which is first
 * reset to the defaults. Returns 0 on success. On error returns -1 and sets
 * *error to a newly allocated "path:line:col: message" (cfg is then at the
 * defaults). */
int ds_config_load(const char *path, ds_config *cfg, char **error);

#endif
