/* private.h - private to kube/: what the folder's files share. */
#ifndef DSGUARD_KUBE_PRIVATE_H
#define DSGUARD_KUBE_PRIVATE_H

#include "kube/kube.h"
#include "util/util.h"

#include <pthread.h>
#include <time.h>

/* ds_read_file() of path with the path in the message: reads at most `max`
 * bytes into a new NUL-terminated buffer (*len excludes the NUL). Returns
 * it, or NULL with *error set ("path: cannot open: ...", "path: larger than
 * the 4 MiB limit"). */
char *kube_read_file(const char *path, size_t max, size_t *len, char **error);

/* Decodes base64 text (whitespace ignored) with OpenSSL. Returns a new buffer
 * of *len bytes, or NULL when the text is not base64 or memory runs out. */
unsigned char *kube_base64_decode(const char *text, size_t *len);

/* Whether a bearer token is usable in a header: non-empty, no control
 * characters, no spaces. */
bool kube_token_valid(const char *token);

/* ---- watch events (event.c) ---- */

/* One watch event line, decoded. Names are bounded as Kubernetes bounds them
 * (a namespace is a DNS label, a name a DNS subdomain). */
typedef struct kube_event {
	kube_event_type type;
	char ns[64];
	char name[254];
	char resource_version[128]; /* "" when the object has none */
	int code;                   /* ERROR: the Status code (410: Gone) */
	char message[256];          /* ERROR: the Status message, cut */
} kube_event;

/* Decodes one line of a watch stream of any resource: its type, the
 * object's resourceVersion and, for ERROR, the Status code and message; ns
 * and name are left empty. Returns the parsed line, which the caller deletes
 * with cJSON_Delete() (*object points into it), or NULL with *error set when
 * the line is not an event (bad JSON, unknown type, no object, a malformed
 * resourceVersion, an ERROR without a Status code). */
cJSON *kube_event_read(const char *line, size_t len, kube_event *ev, const cJSON **object, char **error);

/* Copies the object's metadata.namespace and metadata.name into ev. Returns
 * 0, or -1 with *error set when either is missing, empty, not a string or
 * too long (a namespaced object of a DaemonSet's kind). */
int kube_event_names(const cJSON *object, kube_event *ev, char **error);

/* Decodes one line of a DaemonSet watch: kube_event_read() and, for every
 * type but BOOKMARK and ERROR, kube_event_names(). Returns 0 and fills *ev,
 * or -1 with *error set. */
int kube_event_parse(const char *line, size_t len, kube_event *ev, char **error);

/* Splits a byte stream into lines without their "\n" (and a "\r" before
 * it). A line longer than `max` is an error. */
typedef struct kube_line_splitter {
	char *buf; /* grown with ds_array_reserve() */
	size_t len, max;
	int (*on_line)(void *data, const char *line, size_t len);
	void *data;
} kube_line_splitter;

/* Feeds bytes; calls on_line for each complete non-empty line. Returns 0,
 * the first non-zero value of on_line, or -1 when a line is over the bound
 * or memory runs out. */
int kube_lines_feed(kube_line_splitter *s, const char *bytes, size_t len);

/* Releases the splitter's buffer and empties it. */
void kube_lines_free(kube_line_splitter *s);

/* ---- the namespace index (index.c) ---- */

/* namespace -> sorted DaemonSet names, each with its record (the text
 * kube_record_text() made of it), namespaces sorted. Not locked: the cache
 * guards it. */
typedef struct kube_index kube_index;

/* Returns a new empty index, or NULL out of memory. */
kube_index *kube_index_new(void);
void kube_index_free(kube_index *idx);

/* Adds ns/name with a copy of its record (NULL: ""); when present, its
 * record is replaced. Returns 0, or -1 out of memory (the index is then as
 * it was). */
int kube_index_add(kube_index *idx, const char *ns, const char *name, const char *record);

/* Removes ns/name when present. */
void kube_index_remove(kube_index *idx, const char *ns, const char *name);

/* Whether the index holds exactly ns/name. */
bool kube_index_has(const kube_index *idx, const char *ns, const char *name);

/* The first name in ns other than `name`, borrowed from the index, or NULL. */
const char *kube_index_other(const kube_index *idx, const char *ns, const char *name);

size_t kube_index_objects(const kube_index *idx);
size_t kube_index_namespaces(const kube_index *idx);

/* Copies the DaemonSets of namespace ns (NULL: all) with their records into
 * out, in the index's order. Returns 0 (out may be empty), or -1 out of
 * memory (out is then empty). */
int kube_index_snapshot(const kube_index *idx, const char *ns, kube_snapshot *out);

/* ---- records (record.c) ---- */

/* The fields of object at the JSON Pointers keep (object paths such as
 * "/metadata/labels" or "/metadata/annotations/dsguard.io~1ignore"), as
 * compact JSON text of an object that also carries apiVersion and kind:
 * strings cut to KUBE_MAX_KEPT_STRING bytes on a character boundary,
 * mappings and lists to KUBE_MAX_KEPT_MEMBERS members, so a record stays
 * small whatever the object holds. Fields absent from object are absent
 * from the record, as are those of a pointer that is not an RFC 6901
 * object path. Returns a new string (free it with cJSON_free()), or NULL
 * out of memory. */
char *kube_record_text(const cJSON *object, const char *api_version, const char *kind, const char *const *keep,
		       size_t keep_count);

/* ---- admitted creations not yet watched (index.c) ---- */

typedef struct kube_reservation {
	char *ns, *name;
	double expires; /* monotonic seconds */
} kube_reservation;

typedef struct kube_reservations {
	kube_reservation *items;
	size_t count;
} kube_reservations;

/* Adds or renews ns/name until `expires`. Returns 0, or -1 out of memory. */
int kube_reservations_add(kube_reservations *r, const char *ns, const char *name, double expires);

/* Drops ns/name when reserved. */
void kube_reservations_remove(kube_reservations *r, const char *ns, const char *name);

/* Drops every reservation expired at `now`, and those the index holds. */
void kube_reservations_prune(kube_reservations *r, const kube_index *idx, double now);

/* The name of a reservation in ns other than `name` live at `now`, borrowed,
 * or NULL. */
const char *kube_reservations_other(const kube_reservations *r, const char *ns, const char *name,
				    double now);

void kube_reservations_free(kube_reservations *r);

/* Monotonic clock in seconds. */
double kube_now(void);

/* The monotonic time t (seconds, as kube_now() gives) as a timespec, for
 * waits on CLOCK_MONOTONIC. */
void kube_timespec(double t, struct timespec *ts);

/* ---- requests (client.c) ---- */

/* What kube_stream() returns when a line is over its bound. */
#define KUBE_STREAM_TOO_LONG (-2)

/* Streams GET path: calls on_open (unless NULL) once when a 2xx answer's
 * headers have come and before its body, then on_line for each line of the
 * body (each line at most max_line bytes); both get data. A non-2xx
 * answer's body is kept (bounded) in *out. Returns 0 when the stream ended
 * (out->status tells how it began), a positive value returned by on_open or
 * on_line (which stops the stream), or with
 * *error set: KUBE_STREAM_TOO_LONG for a line over the bound, -1 for
 * anything else (connection, no end within `seconds`, cancelled). */
int kube_stream(kube_client *client, const char *path, size_t max_line, double seconds,
		int (*on_open)(void *data), int (*on_line)(void *data, const char *line, size_t len), void *data,
		kube_response *out, char **error);

/* Reads the pages of a list at `path` (a collection URL, with or without a
 * query), in pages of `limit`. Calls on_item with each item of each page
 * (borrowed); when it returns -1 the list fails with its message (*why, a
 * new string or NULL) after the page's URL. Returns 0 and sets *rv to a new
 * copy of the list's resourceVersion, or -1 with *error set; *gone is set
 * when the server answered 410 Gone. */
int kube_list(kube_client *client, const char *path, unsigned limit, size_t max_bytes,
	      int (*on_item)(void *data, const cJSON *item, char **why), void *data, char **rv,
	      bool *gone, char **error);

#endif
