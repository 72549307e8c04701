/* client.c - HTTPS requests to the API server with libcurl: TLS, bearer tokens, bounded bodies, streams. */
#include "kube/private.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONNECT_TIMEOUT 10L
#define ERROR_BODY_MAX (64u << 10)

struct kube_client {
	kube_config cfg;
	CURLM *multi;          /* keeps connections between requests */
	pthread_mutex_t lock;  /* one request at a time; guards the token */
	atomic_bool cancelled;
	char *file_token;      /* the last token read from cfg.token_file */
	struct stat token_st;  /* the file as it was then */
};

/* A body read into memory, at most max bytes. */
struct body {
	char *data; /* grown with ds_array_reserve() */
	size_t len, max;
	bool over;
};

/* Appends bytes; beyond max sets `over`. Returns 0, or -1 (over or out of
 * memory). */
static int body_append(struct body *b, const char *bytes, size_t n)
{
	char *grown;

	if (n > b->max - b->len) {
		b->over = true;
		return -1;
	}
	grown = ds_array_reserve(b->data, b->len, n + 1, 1);
	if (!grown)
		return -1;
	b->data = grown;
	memcpy(b->data + b->len, bytes, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* Moves b into r (an empty body becomes ""). Returns 0, or -1 out of memory. */
static int body_to_response(struct body *b, long status, kube_response *r)
{
	r->status = status;
	r->body = b->data ? b->data : strdup("");
	r->len = b->len;
	b->data = NULL;
	return r->body ? 0 : -1;
}

/* Re-reads the token file when it changed on disk (the kubelet swaps a
 * symlink when it rotates the token). A failed read keeps the last good
 * token, as client-go does. Called with the lock held. */
static int refresh_token(kube_client *c, char **error)
{
	struct stat st;
	char *token;
	size_t len = 0;

	if (!c->cfg.token_file)
		return 0;
	if (stat(c->cfg.token_file, &st) == 0 && c->file_token && st.st_ino == c->token_st.st_ino &&
	    st.st_dev == c->token_st.st_dev && st.st_size == c->token_st.st_size &&
	    st.st_mtim.tv_sec == c->token_st.st_mtim.tv_sec && st.st_mtim.tv_nsec == c->token_st.st_mtim.tv_nsec)
		return 0;
	token = kube_read_file(c->cfg.token_file, KUBE_MAX_TOKEN_BYTES, &len, error);
	if (token)
		token[strcspn(token, "\r\n")] = '\0';
	if (token && !kube_token_valid(token)) {
		ds_fail(error, "%s: not a bearer token (empty, or spaces or control characters)", c->cfg.token_file);
		free(token);
		token = NULL;
	}
	if (!token)
		return c->file_token ? 0 : -1;
	free(c->file_token);
	c->file_token = token;
	c->token_st = st;
	return 0;
}

kube_client *kube_client_new(kube_config *cfg, char **error)
{
	kube_client *c = calloc(1, sizeof(*c));

	if (!c || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(c);
		kube_config_free(cfg);
		ds_fail(error, "cannot start libcurl");
		return NULL;
	}
	c->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	pthread_mutex_init(&c->lock, NULL);
	atomic_init(&c->cancelled, false);
	c->multi = curl_multi_init();
	if (!c->multi) {
		ds_fail(error, "cannot start libcurl");
		kube_client_free(c);
		return NULL;
	}
	if (refresh_token(c, error) < 0) {
		kube_client_free(c);
		return NULL;
	}
	return c;
}

const char *kube_client_server(const kube_client *client)
{
	return client->cfg.server;
}

void kube_client_cancel(kube_client *client)
{
	atomic_store(&client->cancelled, true);
	curl_multi_wakeup(client->multi);
}

void kube_client_free(kube_client *client)
{
	if (!client)
		return;
	if (client->multi)
		curl_multi_cleanup(client->multi);
	pthread_mutex_destroy(&client->lock);
	free(client->file_token);
	kube_config_free(&client->cfg);
	free(client);
	curl_global_cleanup();
}

void kube_response_free(kube_response *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* The headers of a request: the bearer token (if any) and JSON. Returns the
 * list (curl_slist_free_all) or NULL with *error set. */
static struct curl_slist *make_headers(kube_client *c, char **error)
{
	const char *token = c->file_token ? c->file_token : c->cfg.token;
	struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
	char *auth = NULL;

	if (h && token) {
		struct curl_slist *more = NULL;

		if (asprintf(&auth, "Authorization: Bearer %s", token) >= 0)
			more = curl_slist_append(h, auth);
		free(auth);
		if (!more) {
			curl_slist_free_all(h);
			h = NULL;
		}
	}
	if (!h)
		ds_fail(error, "out of memory");
	return h;
}

/* TLS options: the CA and client certificate, from files or decoded data. */
static void set_tls(CURL *easy, const kube_config *cfg)
{
	curl_easy_setopt(easy, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (cfg->insecure) {
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (cfg->ca_data) {
		struct curl_blob blob = {cfg->ca_data, cfg->ca_len, CURL_BLOB_COPY};

		curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &blob);
	} else if (cfg->ca_file) {
		curl_easy_setopt(easy, CURLOPT_CAINFO, cfg->ca_file);
	}
	if (cfg->cert_data) {
		struct curl_blob blob = {cfg->cert_data, cfg->cert_len, CURL_BLOB_COPY};

		curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &blob);
	} else if (cfg->cert_file) {
		curl_easy_setopt(easy, CURLOPT_SSLCERT, cfg->cert_file);
	}
	if (cfg->key_data) {
		struct curl_blob blob = {cfg->key_data, cfg->key_len, CURL_BLOB_COPY};

		curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &blob);
	} else if (cfg->key_file) {
		curl_easy_setopt(easy, CURLOPT_SSLKEY, cfg->key_file);
	}
}

/* A handle for GET server+path. Returns it, or NULL out of memory. */
static CURL *make_easy(kube_client *c, const char *path, long timeout, struct curl_slist *headers,
		       char *errbuf)
{
	CURL *easy = curl_easy_init();
	char *url = NULL;

	if (!easy || asprintf(&url, "%s%s", c->cfg.server, path) < 0) {
		curl_easy_cleanup(easy);
		return NULL;
	}
	curl_easy_setopt(easy, CURLOPT_URL, url);
	free(url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "dsguard/" DSGUARD_VERSION);
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT, timeout);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	if (c->cfg.proxy)
		curl_easy_setopt(easy, CURLOPT_PROXY, c->cfg.proxy);
	set_tls(easy, &c->cfg);
	return easy;
}

/* Runs one transfer on the client's multi handle until it ends or the
 * client is cancelled. Returns curl's result. */
static CURLcode run_transfer(kube_client *c, CURL *easy)
{
	CURLcode result = CURLE_ABORTED_BY_CALLBACK;
	int running = 1, left;
	CURLMsg *msg;

	if (curl_multi_add_handle(c->multi, easy) != CURLM_OK)
		return CURLE_OUT_OF_MEMORY;
	while (running && !atomic_load(&c->cancelled)) {
		if (curl_multi_perform(c->multi, &running) != CURLM_OK)
			break;
		if (running && curl_multi_poll(c->multi, NULL, 0, 1000, NULL) != CURLM_OK)
			break;
	}
	while ((msg = curl_multi_info_read(c->multi, &left)))
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy)
			result = msg->data.result;
	curl_multi_remove_handle(c->multi, easy);
	return result;
}

/* One request: token, headers, handle, transfer, with the lock held.
 * `setup` sets the write callback. Stores the HTTP status in *status.
 * Returns 0 when the transfer completed, else -1 with *error set from curl
 * (or "cancelled"). */
static int request(kube_client *c, const char *path, long timeout, void (*setup)(CURL *, void *),
		   void *data, long *status, char **error)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	CURL *easy = NULL;
	CURLcode result = CURLE_OUT_OF_MEMORY;

	*status = 0;
	pthread_mutex_lock(&c->lock);
	if (!atomic_load(&c->cancelled) && refresh_token(c, error) == 0 && (headers = make_headers(c, error)) &&
	    (easy = make_easy(c, path, timeout, headers, errbuf))) {
		setup(easy, data);
		result = run_transfer(c, easy);
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, status);
	}
	curl_easy_cleanup(easy);
	curl_slist_free_all(headers);
	pthread_mutex_unlock(&c->lock);
	if (result == CURLE_OK)
		return 0;
	if (atomic_load(&c->cancelled))
		return ds_fail(error, "%s: cancelled", c->cfg.server);
	if (!easy)
		return error && *error ? -1 : ds_fail(error, "out of memory");
	return ds_fail(error, "%s%s: %s", c->cfg.server, path, *errbuf ? errbuf : curl_easy_strerror(result));
}

static size_t body_write(char *ptr, size_t size, size_t n, void *data)
{
	return body_append(data, ptr, size * n) == 0 ? size * n : 0;
}

static void setup_body(CURL *easy, void *data)
{
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, body_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, data);
}

int kube_get(kube_client *client, const char *path, size_t max_bytes, kube_response *out, char **error)
{
	struct body b = {.max = max_bytes ? max_bytes : KUBE_MAX_LIST_BYTES};
	long status;
	int rc = request(client, path, 120L, setup_body, &b, &status, error);

	memset(out, 0, sizeof(*out));
	if (b.over)
		rc = ds_fail(error, "%s%s: the answer is larger than %zu bytes", client->cfg.server, path, b.max);
	else if (rc == 0 && body_to_response(&b, status, out) < 0)
		rc = ds_fail(error, "out of memory");
	free(b.data);
	return rc;
}

/* The state of one streamed GET. */
struct stream {
	CURL *easy;
	long status;
	kube_line_splitter lines; /* a 2xx body */
	struct body other;        /* any other body, cut at ERROR_BODY_MAX */
	int rc;                   /* why the stream was stopped: see kube_stream() */
	const atomic_bool *cancelled;
};

static size_t stream_write(char *ptr, size_t size, size_t n, void *data)
{
	struct stream *s = data;

	if (atomic_load(s->cancelled))
		return 0;
	if (!s->status)
		curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status < 200 || s->status > 299) {
		body_append(&s->other, ptr, size * n);
		return size * n;
	}
	s->rc = kube_lines_feed(&s->lines, ptr, size * n);
	return s->rc ? 0 : size * n;
}

static void setup_stream(CURL *easy, void *data)
{
	struct stream *s = data;

	s->easy = easy;
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, stream_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, data);
}

int kube_stream(kube_client *client, const char *path, size_t max_line, long timeout,
		int (*on_line)(void *data, const char *line, size_t len), void *data,
		kube_response *out, char **error)
{
	struct stream s = {.lines = {.max = max_line, .on_line = on_line, .data = data},
			   .other = {.max = ERROR_BODY_MAX}, .cancelled = &client->cancelled};
	long status;
	int rc = request(client, path, timeout, setup_stream, &s, &status, error);

	memset(out, 0, sizeof(*out));
	kube_lines_free(&s.lines);
	if (s.rc > 0) {
		if (error) {
			free(*error);
			*error = NULL;
		}
		rc = s.rc;
	} else if (s.rc < 0) {
		ds_fail(error, "%s%s: a line over %zu bytes", client->cfg.server, path, max_line);
		rc = KUBE_STREAM_TOO_LONG;
	} else if (rc == 0 && body_to_response(&s.other, status, out) < 0) {
		rc = ds_fail(error, "out of memory");
	}
	free(s.other.data);
	return rc;
}

int kube_status_error(const kube_response *r, const char *what, char **error)
{
	cJSON *status = cJSON_ParseWithLength(r->body ? r->body : "", r->len);
	const cJSON *message = cJSON_GetObjectItemCaseSensitive(status, "message");
	int rc;

	if (cJSON_IsString(message) && *message->valuestring)
		rc = ds_fail(error, "%s: HTTP %ld: %.300s", what, r->status, message->valuestring);
	else
		rc = ds_fail(error, "%s: HTTP %ld", what, r->status);
	cJSON_Delete(status);
	return rc;
}
