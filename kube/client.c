/* client.c - HTTPS requests to the API server with libcurl: any verb, TLS, bearer tokens, deadlines, bounded bodies, streams. */
#include "kube/private.h"

#include <curl/curl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONNECT_TIMEOUT 10.0
#define ERROR_BODY_MAX (64u << 10)

static const char *const method_names[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

struct kube_client {
	kube_config cfg;       /* read-only once the client is made */
	CURLM *multi;          /* keeps connections between requests */
	pthread_mutex_t lock;  /* one request at a time */
	pthread_mutex_t token_lock; /* guards file_token and token_st */
	atomic_bool cancelled;
	char *file_token;      /* the last token read from cfg.token_file */
	struct stat token_st;  /* the file as it was then */
};

/* libcurl's global state lives while any client does: curl_global_init()
 * when the first is made, curl_global_cleanup() when the last is freed,
 * under one lock (they are not thread-safe in every libcurl). */
static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long global_users;

static int global_start(void)
{
	int rc = 0;

	pthread_mutex_lock(&global_lock);
	if (global_users == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		rc = -1;
	else
		global_users++;
	pthread_mutex_unlock(&global_lock);
	return rc;
}

static void global_stop(void)
{
	pthread_mutex_lock(&global_lock);
	if (global_users > 0 && --global_users == 0)
		curl_global_cleanup();
	pthread_mutex_unlock(&global_lock);
}

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
 * token, as client-go does. Called with the token lock held. */
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

/* A client around cfg (taken over, emptied) with no token read yet. Returns
 * it, or NULL with *error set (cfg is then released). */
static kube_client *client_make(kube_config *cfg, char **error)
{
	kube_client *c;

	if (global_start() < 0) {
		kube_config_free(cfg);
		ds_fail(error, "cannot start libcurl");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		kube_config_free(cfg);
		global_stop();
		ds_fail(error, "out of memory");
		return NULL;
	}
	c->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->token_lock, NULL);
	atomic_init(&c->cancelled, false);
	c->multi = curl_multi_init();
	if (!c->multi) {
		ds_fail(error, "cannot start libcurl");
		kube_client_free(c);
		return NULL;
	}
	return c;
}

kube_client *kube_client_new(kube_config *cfg, char **error)
{
	kube_client *c = client_make(cfg, error);

	if (c && refresh_token(c, error) < 0) {
		kube_client_free(c);
		return NULL;
	}
	return c;
}

/* *dst = a copy of src's n bytes (NULL stays NULL). Returns 0, or -1 out of
 * memory. */
static int copy_bytes(void *dst, const void *src, size_t n)
{
	void *copy = NULL;

	if (src && !(copy = malloc(n ? n : 1)))
		return -1;
	if (src)
		memcpy(copy, src, n);
	*(void **)dst = copy;
	return 0;
}

static int copy_string(char **dst, const char *src)
{
	return copy_bytes(dst, src, src ? strlen(src) + 1 : 0);
}

/* A deep copy of src into dst. Returns 0, or -1 out of memory (dst is then
 * released). */
static int config_copy(kube_config *dst, const kube_config *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->insecure = src->insecure;
	dst->ca_len = src->ca_len;
	dst->cert_len = src->cert_len;
	dst->key_len = src->key_len;
	if (copy_string(&dst->source, src->source) < 0 || copy_string(&dst->context, src->context) < 0 ||
	    copy_string(&dst->server, src->server) < 0 || copy_string(&dst->namespace, src->namespace) < 0 ||
	    copy_string(&dst->proxy, src->proxy) < 0 || copy_string(&dst->ca_file, src->ca_file) < 0 ||
	    copy_bytes(&dst->ca_data, src->ca_data, src->ca_len) < 0 || copy_string(&dst->token, src->token) < 0 ||
	    copy_string(&dst->token_file, src->token_file) < 0 || copy_string(&dst->cert_file, src->cert_file) < 0 ||
	    copy_bytes(&dst->cert_data, src->cert_data, src->cert_len) < 0 ||
	    copy_string(&dst->key_file, src->key_file) < 0 ||
	    copy_bytes(&dst->key_data, src->key_data, src->key_len) < 0) {
		kube_config_free(dst);
		return -1;
	}
	return 0;
}

kube_client *kube_client_clone(kube_client *client, char **error)
{
	kube_config cfg;
	kube_client *c;
	int rc = 0;

	if (config_copy(&cfg, &client->cfg) < 0) {
		ds_fail(error, "out of memory");
		return NULL;
	}
	c = client_make(&cfg, error);
	if (!c)
		return NULL;
	pthread_mutex_lock(&client->token_lock);
	if (client->file_token) {
		rc = copy_string(&c->file_token, client->file_token);
		c->token_st = client->token_st;
	}
	pthread_mutex_unlock(&client->token_lock);
	if (rc < 0) {
		kube_client_free(c);
		ds_fail(error, "out of memory");
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
	pthread_mutex_destroy(&client->token_lock);
	free(client->file_token);
	kube_config_free(&client->cfg);
	free(client);
	global_stop();
}

void kube_response_free(kube_response *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Appends the header line "name: prefix value" to *h ("name:" alone, which
 * makes curl leave the header out, when both are ""). Returns 0, or -1 out
 * of memory (*h is then freed and NULL). */
static int add_header(struct curl_slist **h, const char *name, const char *prefix, const char *value)
{
	char *line = ds_format("%s:%s%s%s", name, *prefix || *value ? " " : "", prefix, value);
	struct curl_slist *more = line ? curl_slist_append(*h, line) : NULL;

	free(line);
	if (!more) {
		curl_slist_free_all(*h);
		*h = NULL;
		return -1;
	}
	*h = more;
	return 0;
}

/* The headers of a request: JSON, the bearer token (the token file re-read
 * when it changed), and a body's Content-Type. Returns the list
 * (curl_slist_free_all) or NULL with *error set. */
static struct curl_slist *make_headers(kube_client *c, const char *content_type, char **error)
{
	struct curl_slist *h = NULL;
	const char *token;
	int rc;

	pthread_mutex_lock(&c->token_lock);
	rc = refresh_token(c, error);
	token = c->file_token ? c->file_token : c->cfg.token;
	if (rc == 0 && (add_header(&h, "Accept", "", KUBE_JSON) < 0 ||
			(token && add_header(&h, "Authorization", "Bearer ", token) < 0)))
		rc = -1;
	pthread_mutex_unlock(&c->token_lock);
	/* No "Expect: 100-continue" round trip before a body. */
	if (rc == 0 && content_type && (add_header(&h, "Content-Type", "", content_type) < 0 || add_header(&h, "Expect", "", "") < 0))
		rc = -1;
	if (rc < 0) {
		curl_slist_free_all(h);
		if (!error || !*error)
			ds_fail(error, "out of memory");
		return NULL;
	}
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

/* One request as request() makes it. */
struct call {
	kube_method method;
	const char *path;
	const char *body;         /* NULL: none */
	size_t body_len;
	const char *content_type; /* with a body */
	double seconds;           /* the deadline, from the call's start */
	void (*setup)(CURL *, void *); /* sets the write callback */
	void *data;
};

/* A handle for the call, to finish within `ms` milliseconds. Returns it, or
 * NULL out of memory. */
static CURL *make_easy(kube_client *c, const struct call *call, long ms, struct curl_slist *headers,
		       char *errbuf)
{
	CURL *easy = curl_easy_init();
	char *url = easy ? ds_format("%s%s", c->cfg.server, call->path) : NULL;

	if (!url) {
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
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, ms < CONNECT_TIMEOUT * 1000 ? ms : (long)(CONNECT_TIMEOUT * 1000));
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	if (call->method != KUBE_GET && call->method != KUBE_POST)
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method_names[call->method]);
	/* libcurl sends a request again when a reused connection dies before
	 * any answer; POST and PATCH are not idempotent, so they go on a
	 * fresh connection, where it never does. */
	if (call->method == KUBE_POST || call->method == KUBE_PATCH)
		curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
	if (call->body) {
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, call->body);
	}
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

/* "METHOD " for a message, "" for a GET (which names only the URL). */
static const char *method_prefix(kube_method m)
{
	static const char *const prefixes[] = {"", "POST ", "PUT ", "PATCH ", "DELETE "};

	return prefixes[m];
}

/* Waits for the client's lock until the monotonic time `end`. Returns 0 with
 * the lock held, or -1 when the time passed. */
static int lock_until(kube_client *c, double end)
{
	struct timespec until;

	kube_timespec(end, &until);
	return pthread_mutex_clocklock(&c->lock, CLOCK_MONOTONIC, &until) == 0 ? 0 : -1;
}

/* One request: the client's lock (waited for within the deadline), token,
 * headers, handle, transfer. Stores the HTTP status in *status. Returns 0
 * when the transfer completed, else -1 with *error set: curl's message,
 * "cancelled", or the deadline. */
static int request(kube_client *c, const struct call *call, long *status, char **error)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	CURL *easy = NULL;
	CURLcode result = CURLE_OUT_OF_MEMORY;
	double end = kube_now() + call->seconds, left;
	bool late = false;

	*status = 0;
	if (lock_until(c, end) < 0) {
		late = true;
	} else {
		left = end - kube_now();
		late = left <= 0;
		if (!late && !atomic_load(&c->cancelled) && (headers = make_headers(c, call->body ? call->content_type : NULL, error)) &&
		    (easy = make_easy(c, call, (long)ceil(left * 1000), headers, errbuf))) {
			call->setup(easy, call->data);
			result = run_transfer(c, easy);
			curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, status);
		}
		curl_easy_cleanup(easy);
		curl_slist_free_all(headers);
		pthread_mutex_unlock(&c->lock);
	}
	if (result == CURLE_OK)
		return 0;
	if (atomic_load(&c->cancelled))
		return ds_fail(error, "%s%s: cancelled", method_prefix(call->method), c->cfg.server);
	if (late || result == CURLE_OPERATION_TIMEDOUT)
		return ds_fail(error, "%s%s%s: no complete answer within %g s%s", method_prefix(call->method),
			       c->cfg.server, call->path, call->seconds,
			       late ? " (the client was busy with another request)" : "");
	if (!easy)
		return error && *error ? -1 : ds_fail(error, "out of memory");
	return ds_fail(error, "%s%s%s: %s", method_prefix(call->method), c->cfg.server, call->path,
		       *errbuf ? errbuf : curl_easy_strerror(result));
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

int kube_call(kube_client *client, const kube_request *req, kube_response *out, char **error)
{
	struct body b = {.max = req->max_bytes ? req->max_bytes : KUBE_MAX_LIST_BYTES};
	struct call call = {.method = req->method, .path = req->path, .body = req->body,
			    .content_type = req->content_type ? req->content_type : KUBE_JSON,
			    .seconds = req->deadline == 0 ? KUBE_DEFAULT_DEADLINE : req->deadline,
			    .setup = setup_body, .data = &b};
	long status;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((unsigned)req->method >= sizeof(method_names) / sizeof(method_names[0]) || !req->path || *req->path != '/')
		return ds_fail(error, "a request needs a method and a path from \"/\"");
	if (!(call.seconds > 0 && call.seconds <= KUBE_MAX_DEADLINE))
		return ds_fail(error, "%s%s%s: a deadline of %g s is not in (0, %g]", method_prefix(req->method),
			       client->cfg.server, req->path, req->deadline, KUBE_MAX_DEADLINE);
	if (req->body)
		call.body_len = req->body_len ? req->body_len : strlen(req->body);
	else if (req->method == KUBE_POST)
		call.body = ""; /* an empty body, still of its content type */
	rc = request(client, &call, &status, error);
	if (b.over)
		rc = ds_fail(error, "%s%s%s: the answer is larger than %zu bytes", method_prefix(req->method),
			     client->cfg.server, req->path, b.max);
	else if (rc == 0 && body_to_response(&b, status, out) < 0)
		rc = ds_fail(error, "out of memory");
	free(b.data);
	return rc;
}

int kube_get(kube_client *client, const char *path, size_t max_bytes, kube_response *out, char **error)
{
	kube_request req = {.method = KUBE_GET, .path = path, .max_bytes = max_bytes};

	return kube_call(client, &req, out, error);
}

/* The state of one streamed GET. */
struct stream {
	CURL *easy;
	long status;
	kube_line_splitter lines; /* a 2xx body */
	struct body other;        /* any other body, cut at ERROR_BODY_MAX */
	int rc;                   /* why the stream was stopped: see kube_stream() */
	const atomic_bool *cancelled;
	int (*on_open)(void *data); /* NULL, or called once when a 2xx answer's headers end */
	bool opened;
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

/* The header callback: at the empty line that ends a 2xx answer's headers
 * (the stream is open, nothing of its body has come), calls on_open. */
static size_t stream_header(char *ptr, size_t size, size_t n, void *data)
{
	struct stream *s = data;
	size_t len = size * n;
	long status = 0;

	if (s->opened || !s->on_open || !(len == 2 && ptr[0] == '\r' && ptr[1] == '\n') || atomic_load(s->cancelled))
		return len;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299)
		return len;
	s->opened = true;
	s->rc = s->on_open(s->lines.data);
	return s->rc ? 0 : len;
}

static void setup_stream(CURL *easy, void *data)
{
	struct stream *s = data;

	s->easy = easy;
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, stream_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, data);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, stream_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, data);
	/* a proxy's answer to CONNECT is not the stream's */
	curl_easy_setopt(easy, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
}

int kube_stream(kube_client *client, const char *path, size_t max_line, double seconds,
		int (*on_open)(void *data), int (*on_line)(void *data, const char *line, size_t len), void *data,
		kube_response *out, char **error)
{
	struct stream s = {.lines = {.max = max_line, .on_line = on_line, .data = data},
			   .other = {.max = ERROR_BODY_MAX}, .cancelled = &client->cancelled, .on_open = on_open};
	struct call call = {.method = KUBE_GET, .path = path, .seconds = seconds, .setup = setup_stream, .data = &s};
	long status;
	int rc = request(client, &call, &status, error);

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

/* Copies a JSON string into dst[size], cut at a UTF-8 character boundary
 * when it is too long; "" when item is not a string. */
static void copy_cut(char *dst, size_t size, const cJSON *item)
{
	ds_text_copy(dst, size, cJSON_IsString(item) ? item->valuestring : "");
}

bool kube_status_read(const kube_response *r, kube_status *out)
{
	cJSON *status = r->body ? cJSON_ParseWithLength(r->body, r->len) : NULL;
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(status, "kind");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(status, "code");
	bool is_status = cJSON_IsObject(status) && cJSON_IsString(kind) && !strcmp(kind->valuestring, "Status");

	/* The fields are read from any JSON object, for kube_status_error()'s
	 * sake (a proxy's answer may say something too); only a Status counts. */
	memset(out, 0, sizeof(*out));
	out->code = r->status;
	if (is_status && cJSON_IsNumber(code) && code->valuedouble >= 100 && code->valuedouble <= 999)
		out->code = (long)code->valuedouble;
	copy_cut(out->status, sizeof(out->status), cJSON_GetObjectItemCaseSensitive(status, "status"));
	copy_cut(out->reason, sizeof(out->reason), cJSON_GetObjectItemCaseSensitive(status, "reason"));
	copy_cut(out->message, sizeof(out->message), cJSON_GetObjectItemCaseSensitive(status, "message"));
	cJSON_Delete(status);
	return is_status;
}

bool kube_status_is(const kube_response *r, const char *reason)
{
	kube_status st;

	return *reason && kube_status_read(r, &st) && !strcmp(st.reason, reason);
}

int kube_status_error(const kube_response *r, const char *what, char **error)
{
	kube_status st;
	bool with_reason;
	char cut[304]; /* 300 bytes of the message, and "..." */

	kube_status_read(r, &st);
	with_reason = *st.reason && strcmp(st.reason, st.message) != 0;
	if (*st.message)
		return ds_fail(error, "%s: HTTP %ld: %s%s%s%s", what, r->status, ds_text_copy(cut, sizeof(cut), st.message),
			       with_reason ? " (reason " : "", with_reason ? st.reason : "", with_reason ? ")" : "");
	if (with_reason)
		return ds_fail(error, "%s: HTTP %ld (reason %s)", what, r->status, st.reason);
	return ds_fail(error, "%s: HTTP %ld", what, r->status);
}
