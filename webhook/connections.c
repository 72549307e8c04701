/* connections.c - the connections the server holds: each request gets a
 * deadline for its headers and body, and a newcomer always finds room.
 *
 * libmicrohttpd's own timeout is an idle timeout: a client that sends a
 * byte now and then (slowloris) is never idle, and 1,024 of them held every
 * connection the server takes, so that the API server could not get in for
 * as long as they kept trickling. Here each connection is followed from
 * libmicrohttpd's STARTED notification to its CLOSED one: a request that
 * is not in within --request-timeout of its first byte is closed, and when
 * --max-connections are open, a newcomer makes the server close the one
 * that has waited longest for its request. libmicrohttpd is given room for
 * a few connections more than that (server.c), so that it still accepts
 * the newcomer that triggers this.
 *
 * Closing a socket that libmicrohttpd owns, from another thread: the
 * server calls shutdown(2), never close(2), on it; libmicrohttpd then
 * reads the end of the stream and closes the connection as if the client
 * had. It is done under c->lock, which the CLOSED notification takes too:
 * libmicrohttpd 0.9.75 notifies CLOSED before it closes the socket
 * (daemon.c: MHD_cleanup_connections(), and the failure path of
 * new_connection_process_()), so while a connection is tracked here its fd
 * is still its own socket, never a number the kernel has given to another
 * file. */
#include "webhook/internal.h"

#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/tcp.h>

void ds_conns_init(ds_conns *c, unsigned limit, unsigned timeout, ds_metrics *metrics)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->limit = limit;
	c->timeout = timeout;
	c->metrics = metrics;
}

/* Unlinks k from the list of its phase. Called with the lock held. */
static void unlink_conn(ds_conns *c, ds_conn *k)
{
	*(k->prev ? &k->prev->next : &c->head[k->phase]) = k->next;
	*(k->next ? &k->next->prev : &c->tail[k->phase]) = k->prev;
	k->prev = k->next = NULL;
	c->open--;
}

/* Appends k to the list of `phase` as its newest, from `since`. Called
 * with the lock held. */
static void append(ds_conns *c, ds_conn *k, ds_conn_phase phase, double since)
{
	k->phase = phase;
	k->since = since;
	k->prev = c->tail[phase];
	k->next = NULL;
	*(k->prev ? &k->prev->next : &c->head[phase]) = k;
	c->tail[phase] = k;
	c->open++;
}

void ds_conns_destroy(ds_conns *c)
{
	for (int p = 0; p < DS_CONN_PHASES; p++)
		while (c->head[p]) {
			ds_conn *k = c->head[p];
			unlink_conn(c, k);
			free(k);
		}
	pthread_mutex_destroy(&c->lock);
}

/* Closes k before its request is in, for `why`: see the top of the file
 * for why shutdown(2) under the lock is safe. k stays allocated, on no
 * list, until its CLOSED notification. Called with the lock held. */
static void shut(ds_conns *c, ds_conn *k, ds_closed_reason why)
{
	shutdown(k->fd, SHUT_RDWR);
	unlink_conn(c, k);
	k->closing = true;
	atomic_fetch_add(&c->metrics->connections_closed[why], 1);
}

/* The TCP payload bytes fd has received, or ULLONG_MAX when the kernel does
 * not say (tcpi_bytes_received is Linux 4.1 and later). */
static unsigned long long bytes_received(int fd)
{
	struct tcp_info info;
	socklen_t len = sizeof(info);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
	    len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(info.tcpi_bytes_received))
		return ULLONG_MAX;
	return info.tcpi_bytes_received;
}

ds_conn *ds_conns_open(ds_conns *c, int fd, double now)
{
	ds_conn *k = calloc(1, sizeof(*k));

	pthread_mutex_lock(&c->lock);
	if (c->open >= c->limit) {
		ds_conn *oldest = c->head[DS_CONN_READING] ? c->head[DS_CONN_READING] : c->head[DS_CONN_WAITING];
		if (oldest)
			shut(c, oldest, DS_CLOSED_SERVER_FULL);
	}
	if (k) {
		k->fd = fd;
		append(c, k, DS_CONN_READING, now);
	}
	pthread_mutex_unlock(&c->lock);
	if (!k)
		shutdown(fd, SHUT_RDWR); /* no deadline could hold it: not served */
	return k;
}

void ds_conns_answering(ds_conns *c, ds_conn *k, double now)
{
	if (!k)
		return;
	pthread_mutex_lock(&c->lock);
	/* The deadline goes on from the request's first byte, over its answer:
	 * a client that reads the answer a byte at a time is held to it too.
	 * One answered while it seemed to wait (its request came whole right
	 * after the last answer, before a sweep saw it) began now. */
	if (!k->closing && k->phase != DS_CONN_ANSWERING) {
		double since = k->phase == DS_CONN_READING ? k->since : now;
		unlink_conn(c, k);
		append(c, k, DS_CONN_ANSWERING, since);
	}
	pthread_mutex_unlock(&c->lock);
}

void ds_conns_waiting(ds_conns *c, ds_conn *k, double now)
{
	if (!k)
		return;
	pthread_mutex_lock(&c->lock);
	if (!k->closing) {
		k->counted = false; /* the next sweep counts its bytes: no system call on every answer */
		unlink_conn(c, k);
		append(c, k, DS_CONN_WAITING, now);
	}
	pthread_mutex_unlock(&c->lock);
}

void ds_conns_closed(ds_conns *c, ds_conn *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&c->lock);
	if (!k->closing)
		unlink_conn(c, k);
	pthread_mutex_unlock(&c->lock);
	free(k);
}

/* A waiting connection that received bytes since the first sweep that
 * saw it wait has begun its next request: it reads from now. (Bytes come
 * in before that sweep too, at most a sweep's interval after the answer:
 * a request that is whole by then is answered at once anyway, and a
 * trickling one is seen at its next byte.) Where the kernel does not count
 * the bytes, the request is taken to have begun with the wait. Called
 * with the lock held. */
static void start_reading(ds_conns *c, double now)
{
	ds_conn *next;

	for (ds_conn *k = c->head[DS_CONN_WAITING]; k; k = next) {
		unsigned long long bytes = bytes_received(k->fd);
		next = k->next;
		if (bytes == ULLONG_MAX) {
			unlink_conn(c, k);
			append(c, k, DS_CONN_READING, k->since);
		} else if (!k->counted) {
			k->bytes_in = bytes;
			k->counted = true;
		} else if (bytes != k->bytes_in) {
			unlink_conn(c, k);
			append(c, k, DS_CONN_READING, now);
		}
	}
}

/* Closes the connections of `phase` whose request began `timeout` seconds
 * ago or more. Called with the lock held. */
static void expire(ds_conns *c, ds_conn_phase phase, double now)
{
	ds_conn *next;

	for (ds_conn *k = c->head[phase]; k; k = next) {
		next = k->next;
		if (now - k->since >= c->timeout)
			shut(c, k, DS_CLOSED_REQUEST_TIMEOUT);
	}
}

void ds_conns_sweep(ds_conns *c, double now)
{
	if (c->timeout <= 0)
		return; /* no deadline */
	pthread_mutex_lock(&c->lock);
	start_reading(c, now);
	expire(c, DS_CONN_READING, now);
	expire(c, DS_CONN_ANSWERING, now);
	pthread_mutex_unlock(&c->lock);
}
