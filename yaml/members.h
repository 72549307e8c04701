/* members.h - private to yaml/: the members of a mapping being built,
 * found by key in constant time once the mapping is large, so that
 * reading a mapping stays linear in its size however its keys repeat. */
#ifndef DSGUARD_YAML_MEMBERS_H
#define DSGUARD_YAML_MEMBERS_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Mappings of fewer members are searched by a walk. */
#define DS_MEMBER_INDEX_MIN 16

/* Open addressing over a mapping's members by their keys (their own
 * strings). Borrows the members. */
typedef struct ds_member_index {
	cJSON **slots;
	size_t mask;
} ds_member_index;

/* FNV-1a of s. */
size_t ds_key_hash(const char *s);

/* The member of obj (a mapping of `count` members, indexed in index once
 * it has DS_MEMBER_INDEX_MIN of them) called key, or NULL. Out of memory
 * it searches by a walk. */
cJSON *ds_member_find(ds_member_index *index, const cJSON *obj, size_t count, const char *key);

/* Records member, just added to its mapping, in index (when one is
 * kept), in place of the member with an equal key it replaces. */
void ds_member_index_add(ds_member_index *index, cJSON *member);

/* Releases the index and empties it. */
void ds_member_index_free(ds_member_index *index);

#endif
