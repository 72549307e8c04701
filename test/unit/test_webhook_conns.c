/* test_webhook_conns.c - the server's connections (webhook/connections.c):
 * which one a newcomer makes room by closing, the request deadline, and a
 * kept-alive connection's wait that only its next request's first byte
 * ends. Each connection is a real loopback TCP pair: the server's end is
 * what the tracker holds, the client's end shows whether it was closed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "webhook/internal.h"

#define MAX_PAIRS 8

/* A loopback listener, and the pairs made through it. */
struct fixture {
	int listener;
	struct sockaddr_in addr;
	int server[MAX_PAIRS], client[MAX_PAIRS];
	ds_conn *conn[MAX_PAIRS];
	int count;
	ds_metrics metrics;
	ds_conns conns;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	socklen_t len = sizeof(f->addr);

	assert_non_null(f);
	f->listener = socket(AF_INET, SOCK_STREAM, 0);
	f->addr.sin_family = AF_INET;
	f->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(f->listener, (struct sockaddr *)&f->addr, sizeof(f->addr)), 0);
	assert_int_equal(listen(f->listener, MAX_PAIRS), 0);
	assert_int_equal(getsockname(f->listener, (struct sockaddr *)&f->addr, &len), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < f->count; i++) {
		ds_conns_closed(&f->conns, f->conn[i]); /* as libmicrohttpd's CLOSED, before its close() */
		close(f->server[i]);
		close(f->client[i]);
	}
	ds_conns_destroy(&f->conns);
	close(f->listener);
	free(f);
	return 0;
}

/* Connects a new pair; the server's end is tracked as opened at `now`.
 * Returns its index. */
static int connect_pair(struct fixture *f, double now)
{
	int i = f->count++;

	assert_true(i < MAX_PAIRS);
	f->client[i] = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(f->client[i], (struct sockaddr *)&f->addr, sizeof(f->addr)), 0);
	f->server[i] = accept(f->listener, NULL, NULL);
	assert_true(f->server[i] >= 0);
	f->conn[i] = ds_conns_open(&f->conns, f->server[i], now);
	assert_non_null(f->conn[i]);
	return i;
}

/* Whether the server's end of pair i was shut down: its client reads the
 * end of the stream. */
static bool was_closed(const struct fixture *f, int i)
{
	struct pollfd p = {.fd = f->client[i], .events = POLLIN};
	char c;

	return poll(&p, 1, 200) == 1 && recv(f->client[i], &c, 1, MSG_DONTWAIT) == 0;
}

/* The client of pair i sends a byte, and the server's kernel has it. */
static void send_byte(const struct fixture *f, int i)
{
	struct pollfd p = {.fd = f->server[i], .events = POLLIN};

	assert_int_equal(send(f->client[i], "P", 1, 0), 1);
	assert_int_equal(poll(&p, 1, 1000), 1);
}

static unsigned long closed_for(const struct fixture *f, ds_closed_reason why)
{
	return atomic_load(&f->metrics.connections_closed[why]);
}

/* A newcomer past the limit closes the oldest connection reading its
 * request, even when one waiting between two requests is older. */
static void test_newcomer_closes_the_oldest_reading(void **state)
{
	struct fixture *f = *state;
	int waiting, old, young, newcomer;

	ds_conns_init(&f->conns, 3, 10, &f->metrics);
	waiting = connect_pair(f, 100);
	ds_conns_answering(&f->conns, f->conn[waiting], 100.1);
	ds_conns_waiting(&f->conns, f->conn[waiting], 100.2);
	old = connect_pair(f, 101);
	young = connect_pair(f, 102);
	assert_int_equal(f->conns.open, 3);
	newcomer = connect_pair(f, 103);
	assert_true(was_closed(f, old));
	assert_false(was_closed(f, waiting));
	assert_false(was_closed(f, young));
	assert_false(was_closed(f, newcomer));
	assert_int_equal(f->conns.open, 3);
	assert_int_equal(closed_for(f, DS_CLOSED_SERVER_FULL), 1);
	assert_int_equal(closed_for(f, DS_CLOSED_REQUEST_TIMEOUT), 0);
}

/* With none reading, the one waiting longest is closed; one being answered
 * never is (its deadline bounds it). */
static void test_newcomer_closes_the_oldest_waiting_never_one_answered(void **state)
{
	struct fixture *f = *state;
	int answered, first, second;

	ds_conns_init(&f->conns, 2, 10, &f->metrics);
	answered = connect_pair(f, 100);
	ds_conns_answering(&f->conns, f->conn[answered], 100);
	first = connect_pair(f, 101);
	ds_conns_waiting(&f->conns, f->conn[first], 101.5);
	second = connect_pair(f, 102); /* full: the waiting one goes, not the answered one */
	assert_true(was_closed(f, first));
	assert_false(was_closed(f, answered));
	ds_conns_answering(&f->conns, f->conn[second], 102.5);
	connect_pair(f, 103);          /* full of answered ones: nothing to close */
	assert_false(was_closed(f, answered));
	assert_false(was_closed(f, second));
	assert_int_equal(f->conns.open, 3);
	assert_int_equal(closed_for(f, DS_CLOSED_SERVER_FULL), 1);
}

/* A request not in and answered `timeout` seconds after it began is
 * closed, however much it has sent; a connection waiting for its next
 * request is not, however long it waits. */
static void test_request_deadline(void **state)
{
	struct fixture *f = *state;
	int reading, answering, waiting;

	ds_conns_init(&f->conns, 8, 10, &f->metrics);
	reading = connect_pair(f, 100);
	answering = connect_pair(f, 100);
	ds_conns_answering(&f->conns, f->conn[answering], 105);
	waiting = connect_pair(f, 100);
	ds_conns_answering(&f->conns, f->conn[waiting], 100.1);
	ds_conns_waiting(&f->conns, f->conn[waiting], 100.2);
	send_byte(f, reading);
	ds_conns_sweep(&f->conns, 109.9);
	assert_false(was_closed(f, reading));
	assert_false(was_closed(f, answering));
	ds_conns_sweep(&f->conns, 110);
	assert_true(was_closed(f, reading));   /* from its accept, not its last byte */
	assert_true(was_closed(f, answering)); /* from its request's first byte, not its answer */
	ds_conns_sweep(&f->conns, 1000);
	assert_false(was_closed(f, waiting));
	assert_int_equal(closed_for(f, DS_CLOSED_REQUEST_TIMEOUT), 2);
	assert_int_equal(f->conns.open, 1);
}

/* A kept-alive connection reads its next request from the sweep that
 * sees a byte of it (counting from the first sweep that saw it wait): its
 * deadline counts from then. */
static void test_next_request_starts_with_its_first_byte(void **state)
{
	struct fixture *f = *state;
	int i;

	ds_conns_init(&f->conns, 8, 10, &f->metrics);
	i = connect_pair(f, 100);
	send_byte(f, i);
	ds_conns_answering(&f->conns, f->conn[i], 100.1);
	ds_conns_waiting(&f->conns, f->conn[i], 100.2); /* the bytes so far were its first request */
	ds_conns_sweep(&f->conns, 150);
	assert_int_equal(f->conn[i]->phase, DS_CONN_WAITING);
	send_byte(f, i);
	ds_conns_sweep(&f->conns, 200);
	assert_int_equal(f->conn[i]->phase, DS_CONN_READING);
	ds_conns_sweep(&f->conns, 209.9);
	assert_false(was_closed(f, i));
	ds_conns_sweep(&f->conns, 210);
	assert_true(was_closed(f, i));
}

/* A connection the server closed stays known until libmicrohttpd's CLOSED
 * notification, but is counted and considered no more. */
static void test_closing_connections_are_left_alone(void **state)
{
	struct fixture *f = *state;
	int i;

	ds_conns_init(&f->conns, 1, 10, &f->metrics);
	i = connect_pair(f, 100);
	connect_pair(f, 101);
	assert_true(f->conn[i]->closing);
	ds_conns_answering(&f->conns, f->conn[i], 102);
	ds_conns_waiting(&f->conns, f->conn[i], 103);
	ds_conns_sweep(&f->conns, 1000);
	assert_int_equal(closed_for(f, DS_CLOSED_SERVER_FULL), 1);
	assert_int_equal(closed_for(f, DS_CLOSED_REQUEST_TIMEOUT), 1); /* the newcomer's own deadline */
	assert_int_equal(f->conns.open, 0);
	ds_conns_closed(&f->conns, NULL);
	ds_conns_answering(&f->conns, NULL, 0);
	ds_conns_waiting(&f->conns, NULL, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_newcomer_closes_the_oldest_reading),
		T(test_newcomer_closes_the_oldest_waiting_never_one_answered),
		T(test_request_deadline),
		T(test_next_request_starts_with_its_first_byte),
		T(test_closing_connections_are_left_alone),
	};

	return cmocka_run_group_tests_name("webhook connections", tests, NULL, NULL);
}
