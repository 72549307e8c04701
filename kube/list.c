/* list.c - paginated lists (limit and continue), and the DaemonSets of a cluster for `audit`. */
#include "kube/private.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAEMONSETS_PATH "/apis/apps/v1/daemonsets"
#define MAX_PAGES 100000
#define AUDIT_ATTEMPTS 3

/* path?limit=N[&continue=TOKEN] ("&limit" when path has a query). Returns
 * a new string, or NULL out of memory. */
static char *page_url(const char *path, unsigned limit, const char *cont)
{
	char *escaped = cont ? curl_easy_escape(NULL, cont, 0) : NULL;
	char join = strchr(path, '?') ? '&' : '?';
	char *url;

	if (cont && !escaped)
		return NULL;
	if (escaped)
		url = ds_format("%s%climit=%u&continue=%s", path, join, limit, escaped);
	else
		url = ds_format("%s%climit=%u", path, join, limit);
	curl_free(escaped);
	return url;
}

/* Replaces *dst with a copy of item's string ("" when absent). Returns 0,
 * or -1 when it is not a string or memory runs out. */
static int take_string(char **dst, const cJSON *item)
{
	char *copy;

	if (item && !cJSON_IsString(item))
		return -1;
	copy = strdup(item ? item->valuestring : "");
	if (!copy)
		return -1;
	free(*dst);
	*dst = copy;
	return 0;
}

/* What a list calls for each item. */
typedef int (*item_fn)(void *data, const cJSON *item, char **why);

/* Calls on_item for each item of a page. Returns 0, or -1 with *error set
 * after the URL. */
static int read_items(const cJSON *items, const char *url, item_fn on_item, void *data, char **error)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, items) {
		char *why = NULL;

		if (on_item(data, item, &why) < 0) {
			ds_fail(error, "%s: %s", url, why ? why : "malformed or too many items");
			free(why);
			return -1;
		}
	}
	return 0;
}

/* Reads one page: calls on_item for each item, stores the page's
 * resourceVersion and continue token. Returns 0, or -1 with *error set. */
static int read_page(const kube_response *r, const char *url, item_fn on_item, void *data, char **rv, char **cont,
		     char **error)
{
	cJSON *list = cJSON_ParseWithLength(r->body, r->len);
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(list, "metadata");
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items");
	int rc = -1;

	if (!cJSON_IsObject(list) || !cJSON_IsObject(meta) || !(cJSON_IsArray(items) || cJSON_IsNull(items)))
		ds_fail(error, "%s: the answer is not a list", url);
	else if (take_string(rv, cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion")) < 0 ||
		 take_string(cont, cJSON_GetObjectItemCaseSensitive(meta, "continue")) < 0)
		ds_fail(error, "%s: malformed list metadata", url);
	else
		rc = read_items(items, url, on_item, data, error);
	cJSON_Delete(list);
	return rc;
}

/* GETs one page. Returns 0, or -1 with *error (and *gone on 410). */
static int get_page(kube_client *client, const char *path, unsigned limit, size_t max_bytes, item_fn on_item,
		    void *data, char **rv, char **cont, bool *gone, char **error)
{
	char *url = page_url(path, limit, **cont ? *cont : NULL);
	kube_response r;
	int rc = -1;

	if (!url)
		return ds_fail(error, "out of memory");
	if (kube_get(client, url, max_bytes, &r, error) == 0) {
		*gone = r.status == 410;
		if (r.status != 200)
			kube_status_error(&r, url, error);
		else
			rc = read_page(&r, url, on_item, data, rv, cont, error);
		kube_response_free(&r);
	}
	free(url);
	return rc;
}

int kube_list(kube_client *client, const char *path, unsigned limit, size_t max_bytes,
	      int (*on_item)(void *data, const cJSON *item, char **why), void *data, char **rv,
	      bool *gone, char **error)
{
	char *cont = strdup("");
	int rc = -1;

	*rv = NULL;
	*gone = false;
	if (!cont)
		return ds_fail(error, "out of memory");
	for (unsigned pages = 0; pages < MAX_PAGES; pages++) {
		rc = get_page(client, path, limit, max_bytes, on_item, data, rv, &cont, gone, error);
		if (rc < 0 || !*cont)
			break;
	}
	if (rc == 0 && *cont)
		rc = ds_fail(error, "%s: more than %d pages", path, MAX_PAGES);
	free(cont);
	if (rc < 0) {
		free(*rv);
		*rv = NULL;
	}
	return rc;
}

/* on_item for audit: appends a copy of the item, with its kind. */
static int collect(void *data, const cJSON *item, char **why)
{
	cJSON *all = data;
	cJSON *copy = cJSON_IsObject(item) ? cJSON_Duplicate(item, 1) : NULL;

	(void)why; /* "malformed or too many items" */
	if (!copy)
		return -1;
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "kind");
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "apiVersion");
	if (!cJSON_AddStringToObject(copy, "kind", "DaemonSet") || !cJSON_AddStringToObject(copy, "apiVersion", "apps/v1") ||
	    !cJSON_AddItemToArray(all, copy)) {
		cJSON_Delete(copy);
		return -1;
	}
	return 0;
}

cJSON *kube_list_daemonsets(kube_client *client, char **error)
{
	for (int attempt = 0; attempt < AUDIT_ATTEMPTS; attempt++) {
		cJSON *all = cJSON_CreateArray();
		char *rv = NULL;
		bool gone = false;

		if (!all) {
			ds_fail(error, "out of memory");
			return NULL;
		}
		if (kube_list(client, DAEMONSETS_PATH, 500, KUBE_MAX_LIST_BYTES, collect, all, &rv, &gone, error) == 0) {
			free(rv);
			return all;
		}
		cJSON_Delete(all);
		if (!gone)
			return NULL;
	}
	return NULL;
}
