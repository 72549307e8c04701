/* posmap.h - private to yaml/: where each cJSON item of a document came from. */
#ifndef DSGUARD_YAML_POSMAP_H
#define DSGUARD_YAML_POSMAP_H

#include "yaml/document.h"

/* A new empty map, or NULL out of memory. Free with ds_posmap_free(). */
ds_posmap *ds_posmap_new(void);
void ds_posmap_free(ds_posmap *map);

/* Records (or replaces) info under info->item. Returns 0, -1 out of memory. */
int ds_posmap_put(ds_posmap *map, const ds_node_info *info);

/* The record for item, or NULL. Valid until the next put. */
const ds_node_info *ds_posmap_get(const ds_posmap *map, const cJSON *item);

#endif
