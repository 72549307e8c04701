/* cluster.c - the cluster cache (kube/) as the cluster state DS003 asks. */
#include "webhook/webhook.h"

/* Whether the cache has listed the cluster. */
static bool cache_synced(void *data)
{
	return kube_cache_wait_synced(data, 0);
}

/* Reserves ns/name in the cache (see kube_cache_reserve()). */
static int cache_reserve(void *data, const char *ns, const char *name, char **other)
{
	return kube_cache_reserve(data, ns, name, other);
}

ds_cluster ds_cluster_from_cache(kube_cache *cache, bool deny_unsynced)
{
	return (ds_cluster){
		.namespaces = kube_cache_lookup(cache),
		.synced = cache_synced,
		.reserve = cache_reserve,
		.data = cache,
		.deny_unsynced = deny_unsynced,
	};
}
