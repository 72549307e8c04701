/* test_kube_client.c - what the API client decides without a server: Status bodies read, error messages, requests refused before they are sent, clones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "kube/private.h"
#include "test/unit/helpers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A response holding `body`, with HTTP status `code`. Borrows body. */
static kube_response answer(long code, const char *body)
{
	return (kube_response){.status = code, .body = (char *)body, .len = strlen(body)};
}

/* The shapes of apimachinery's NewAlreadyExists, NewConflict and NewNotFound
 * (pkg/api/errors/errors.go), written out by hand. */
static void test_status_reasons(void **state)
{
	kube_response exists = answer(409, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
					   "\"message\":\"leases.coordination.k8s.io \\\"a\\\" already exists\","
					   "\"reason\":\"AlreadyExists\",\"details\":{\"name\":\"a\",\"group\":"
					   "\"coordination.k8s.io\",\"kind\":\"leases\"},\"code\":409}");
	kube_response stale = answer(409, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
					  "\"message\":\"Operation cannot be fulfilled on leases.coordination.k8s.io "
					  "\\\"a\\\": the object has been modified; please apply your changes to the "
					  "latest version and try again\",\"reason\":\"Conflict\",\"code\":409}");
	kube_response deleted = answer(200, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Success\","
					    "\"details\":{\"name\":\"a\",\"group\":\"coordination.k8s.io\","
					    "\"kind\":\"leases\",\"uid\":\"u\"}}");
	kube_status st;

	(void)state;
	assert_true(kube_status_read(&exists, &st));
	assert_int_equal(st.code, 409);
	assert_string_equal(st.status, "Failure");
	assert_string_equal(st.reason, KUBE_REASON_ALREADY_EXISTS);
	assert_string_equal(st.message, "leases.coordination.k8s.io \"a\" already exists");
	assert_true(kube_status_is(&exists, KUBE_REASON_ALREADY_EXISTS));
	assert_false(kube_status_is(&exists, KUBE_REASON_CONFLICT));
	assert_true(kube_status_is(&stale, KUBE_REASON_CONFLICT));
	assert_false(kube_status_is(&stale, KUBE_REASON_ALREADY_EXISTS));
	/* a DELETE's Status: Success, no code, no reason */
	assert_true(kube_status_read(&deleted, &st));
	assert_int_equal(st.code, 200);
	assert_string_equal(st.status, "Success");
	assert_string_equal(st.reason, "");
	assert_false(kube_status_is(&deleted, ""));
}

/* A body that is not a Status: not one, whatever it says. */
static void test_not_a_status(void **state)
{
	static const char *const bodies[] = {
		"", "not json", "[]", "{\"message\":\"x\",\"reason\":\"Conflict\"}",
		"{\"kind\":\"Lease\",\"reason\":\"Conflict\"}", "{\"kind\":7,\"reason\":\"Conflict\"}",
		"<html><body>502 Bad Gateway</body></html>",
	};
	kube_response r;
	kube_status st;

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		r = answer(502, bodies[i]);
		assert_false(kube_status_read(&r, &st));
		assert_int_equal(st.code, 502);
		assert_false(kube_status_is(&r, KUBE_REASON_CONFLICT));
	}
	r = (kube_response){.status = 500};
	assert_false(kube_status_read(&r, &st));
	assert_int_equal(st.code, 500);
	assert_string_equal(st.message, "");
}

/* A long message is cut at a character boundary: 'é' is two bytes and
 * must not be split. */
static void test_status_message_cut(void **state)
{
	char body[2048], msg[1100];
	kube_response r;
	kube_status st;
	size_t n;

	(void)state;
	/* 510 ASCII bytes then 'é' (0xc3 0xa9) straddles the 511-byte limit */
	memset(msg, 'x', 510);
	strcpy(msg + 510, "\xc3\xa9 and more");
	snprintf(body, sizeof(body), "{\"kind\":\"Status\",\"message\":\"%s\",\"reason\":\"%s\",\"code\":1e300}", msg,
		 "AReasonLongerThanSixtyFourBytesAReasonLongerThanSixtyFourBytesAReasonLongerThanSixtyFour");
	r = answer(500, body);
	assert_true(kube_status_read(&r, &st));
	n = strlen(st.message);
	assert_int_equal(n, sizeof(st.message) - 1); /* 508 'x' and "...": the 'é' is not split */
	assert_string_equal(st.message + n - 3, "...");
	assert_int_equal(st.message[n - 4], 'x');
	assert_int_equal(strlen(st.reason), sizeof(st.reason) - 1);
	assert_int_equal(st.code, 500); /* a code out of range is not taken */
}

/* kube_status_error's message: the Status message and its reason. */
static void test_status_error_messages(void **state)
{
	kube_response exists = answer(409, "{\"kind\":\"Status\",\"message\":\"leases.coordination.k8s.io \\\"a\\\" already "
					   "exists\",\"reason\":\"AlreadyExists\",\"code\":409}");
	kube_response unauthorized = answer(401, "{\"kind\":\"Status\",\"message\":\"Unauthorized\",\"reason\":\"Unauthorized\","
						 "\"code\":401}");
	kube_response reason_only = answer(404, "{\"kind\":\"Status\",\"reason\":\"NotFound\",\"code\":404}");
	kube_response bare = answer(502, "Bad Gateway");
	char *error = NULL;

	(void)state;
	assert_int_equal(kube_status_error(&exists, "POST /x", &error), -1);
	assert_string_equal(error, "POST /x: HTTP 409: leases.coordination.k8s.io \"a\" already exists (reason AlreadyExists)");
	assert_int_equal(kube_status_error(&unauthorized, "GET /x", &error), -1);
	assert_string_equal(error, "GET /x: HTTP 401: Unauthorized");
	assert_int_equal(kube_status_error(&reason_only, "GET /x", &error), -1);
	assert_string_equal(error, "GET /x: HTTP 404 (reason NotFound)");
	assert_int_equal(kube_status_error(&bare, "GET /x", &error), -1);
	assert_string_equal(error, "GET /x: HTTP 502");
	free(error);
}

static kube_client *offline_client(void)
{
	kube_config cfg = {0};
	char *error = NULL;
	kube_client *c;

	cfg.server = strdup("https://127.0.0.1:1");
	cfg.token = strdup("t");
	c = kube_client_new(&cfg, &error);
	assert_null(error);
	assert_non_null(c);
	return c;
}

/* Requests that cannot be made are refused before anything is sent (port 1
 * would refuse the connection with another message). */
static void test_request_refused(void **state)
{
	kube_client *c = offline_client();
	kube_request bad[] = {
		{.method = KUBE_GET, .path = "/x", .deadline = -1},
		{.method = KUBE_GET, .path = "/x", .deadline = KUBE_MAX_DEADLINE * 2},
		{.method = KUBE_GET, .path = "/x", .deadline = NAN},
		{.method = KUBE_GET, .path = "no-slash"},
		{.method = KUBE_GET, .path = NULL},
		{.method = (kube_method)42, .path = "/x"},
	};
	kube_response r = {.status = 7};
	char *error = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(kube_call(c, &bad[i], &r, &error), -1);
		assert_non_null(error);
		assert_null(strstr(error, "connect"));
		assert_int_equal(r.status, 0);
		assert_null(r.body);
		free(error);
		error = NULL;
	}
	kube_client_free(c);
}

/* A clone talks to the same server with the same credentials, and
 * cancelling one leaves the other alone. */
static void test_clone(void **state)
{
	kube_config cfg = {0};
	kube_client *c, *copy;
	kube_request req = {.method = KUBE_GET, .path = "/x", .deadline = 5};
	kube_response r;
	char *dir = temp_dir("kubeclone"), *token = join(dir, "token"), *error = NULL;

	(void)state;
	write_text(token, "from-the-file\n");
	cfg.server = strdup("https://127.0.0.1:1");
	cfg.token_file = strdup(token);
	cfg.ca_data = (unsigned char *)strdup("pem bytes");
	cfg.ca_len = 9;
	cfg.proxy = strdup("http://127.0.0.1:1");
	c = kube_client_new(&cfg, &error);
	assert_non_null(c);
	copy = kube_client_clone(c, &error);
	assert_null(error);
	assert_non_null(copy);
	assert_string_equal(kube_client_server(copy), "https://127.0.0.1:1");
	assert_ptr_not_equal(kube_client_server(copy), kube_client_server(c));
	/* the token file went away: the clone keeps the token the first read */
	assert_int_equal(remove(token), 0);
	kube_client_cancel(c);
	assert_int_equal(kube_call(c, &req, &r, &error), -1);
	assert_non_null(strstr(error, "cancelled"));
	free(error);
	error = NULL;
	assert_int_equal(kube_call(copy, &req, &r, &error), -1); /* nothing listens there */
	assert_null(strstr(error, "cancelled"));
	assert_null(strstr(error, "token"));
	free(error);
	kube_client_free(c);
	kube_client_free(copy);
	free(token);
	remove_tree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_reasons),
		cmocka_unit_test(test_not_a_status),
		cmocka_unit_test(test_status_message_cut),
		cmocka_unit_test(test_status_error_messages),
		cmocka_unit_test(test_request_refused),
		cmocka_unit_test(test_clone),
	};

	return cmocka_run_group_tests_name("kube_client", tests, NULL, NULL);
}
