/* cluster.c - the cluster cache (kube/) as the cluster state DS003 asks. */
#include "webhook/internal.h"

/* Whether the cache has listed the cluster. */
static bool cache_synced(void *data)
{
	return kube_cache_wait_synced(data, 0);
}

/* Reserves req's namespace in the cache, for this process alone (see
 * kube_cache_reserve()). The name is "" while generateName has yet to make
 * it, so two such CREATEs look like one DaemonSet here. */
static int cache_reserve(void *data, const ds_claim_request *req, char **other)
{
	return kube_cache_reserve(data, req->ns, req->name ? req->name : "", other);
}

/* Whether the cache of the claims (the one they were started with) has
 * listed the cluster. */
static bool claims_synced(void *data)
{
	return kube_cache_wait_synced(ds_claims_cache(data), 0);
}

/* Claims req's namespace in the API server (ds_claims_claim()). */
static int claims_reserve(void *data, const ds_claim_request *req, char **other)
{
	return ds_claims_claim(data, req, other);
}

ds_cluster ds_cluster_from_cache(kube_cache *cache, ds_claims *claims, bool deny_unsynced)
{
	if (claims)
		return (ds_cluster){.namespaces = kube_cache_lookup(cache), .synced = claims_synced,
				    .reserve = claims_reserve, .data = claims, .deny_unsynced = deny_unsynced};
	return (ds_cluster){.namespaces = kube_cache_lookup(cache), .synced = cache_synced,
			    .reserve = cache_reserve, .data = cache, .deny_unsynced = deny_unsynced};
}
