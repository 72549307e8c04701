/* test_webhook_certplan.c - unit tests of the certificate manager's plan
 * (webhook/certplan.c): each state of a Secret and of the caBundles, and
 * the step and timer it gives, against the timeline of docs/certs.md. */
#include "webhook/internal.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test/unit/helpers.h"

#define NOW 1700000000L
#define OVERLAP 3600L
#define DAY 86400L

/* Usable material: a CA valid for 5 years from a year ago, a serving
 * certificate of 90 days from 10 days ago, signed by the CA, with every
 * name. */
static ds_cert_exam good(void)
{
	return (ds_cert_exam){
		.ca_count = 1, .ca_ok = true, .ca_not_before = NOW - 365 * DAY, .ca_not_after = NOW + 4 * 365 * DAY,
		.tls_ok = true, .issuer = 0, .names_ok = true, .tls_not_before = NOW - 10 * DAY,
		.tls_not_after = NOW + 80 * DAY,
	};
}

static ds_certs_plan decide(const ds_cert_exam *e, double bundles_for, double rotated_for)
{
	ds_certs_plan_input in = {true, e, NOW, bundles_for, rotated_for, OVERLAP};
	return ds_certs_decide(&in);
}

static void test_missing_secret_is_created(void **state)
{
	ds_cert_exam e = {.issuer = -1};
	ds_certs_plan_input in = {false, &e, NOW, -1, -1, OVERLAP};

	(void)state;
	assert_int_equal(ds_certs_decide(&in).step, DS_CERTS_CREATE);
	assert_string_equal(ds_certs_step_name(DS_CERTS_CREATE), "create");
}

static void test_steady_waits_until_two_thirds(void **state)
{
	ds_cert_exam e = good();
	ds_certs_plan p = decide(&e, 100, -1);

	(void)state;
	assert_int_equal(p.step, DS_CERTS_WAIT);
	/* the serving certificate is due at 60 days of its 90: in 50 days */
	assert_true(p.wake_in > 50 * DAY - 1 && p.wake_in < 50 * DAY + 1);
	e.tls_not_before = NOW - 60 * DAY;
	e.tls_not_after = NOW + 30 * DAY;
	p = decide(&e, 100, -1);
	assert_int_equal(p.step, DS_CERTS_NEW_SERVING);
	assert_non_null(strstr(p.why, "two thirds of the serving certificate's validity"));
	assert_true(p.wake_in < 0);
}

static void test_missing_name_renews_the_serving_certificate(void **state)
{
	ds_cert_exam e = good();

	(void)state;
	e.names_ok = false;
	assert_int_equal(decide(&e, 100, -1).step, DS_CERTS_NEW_SERVING);
}

static void test_unusable_material(void **state)
{
	ds_cert_exam e = good();

	(void)state;
	e.tls_ok = false;
	assert_int_equal(decide(&e, -1, -1).step, DS_CERTS_NEW_SERVING); /* the CA can sign a new one */
	e.ca_ok = false;
	assert_int_equal(decide(&e, -1, -1).step, DS_CERTS_REPLACE);
	e = good();
	e.ca_ok = false; /* e.g. no ca.key: a new CA beside the serving certificate's */
	assert_int_equal(decide(&e, 100, -1).step, DS_CERTS_NEW_CA);
}

static void test_ca_rotation_timeline(void **state)
{
	ds_cert_exam e = good();
	ds_certs_plan p;

	(void)state;
	/* 1. two thirds of the CA's 5 years: a new CA is published beside it */
	e.ca_not_before = NOW - 4 * 365 * DAY;
	e.ca_not_after = NOW + 1 * 365 * DAY;
	assert_int_equal(decide(&e, 100, -1).step, DS_CERTS_NEW_CA);
	/* 2. ca.crt = [new, old], the serving certificate still from the old:
	 * nothing until every caBundle has held both for the overlap */
	e = good();
	e.ca_count = 2;
	e.issuer = 1;
	p = decide(&e, -1, -1);
	assert_int_equal(p.step, DS_CERTS_WAIT);
	assert_non_null(strstr(p.why, "not in every caBundle"));
	p = decide(&e, OVERLAP - 600, -1);
	assert_int_equal(p.step, DS_CERTS_WAIT);
	assert_true(p.wake_in > 599 && p.wake_in < 601);
	p = decide(&e, OVERLAP, -1);
	assert_int_equal(p.step, DS_CERTS_NEW_SERVING);
	assert_non_null(strstr(p.why, "moves to it"));
	/* 3. the serving certificate from the new CA: the old CA stays for
	 * another overlap, then leaves */
	e.issuer = 0;
	p = decide(&e, OVERLAP * 2, 10);
	assert_int_equal(p.step, DS_CERTS_WAIT);
	assert_true(p.wake_in > OVERLAP - 11 && p.wake_in < OVERLAP - 9);
	assert_int_equal(decide(&e, OVERLAP * 2, OVERLAP).step, DS_CERTS_DROP_OLD_CA);
	/* ... but only while the caBundles hold ca.crt */
	assert_int_equal(decide(&e, -1, OVERLAP).step, DS_CERTS_WAIT);
}

static void test_renewal_goes_first_in_a_rotation(void **state)
{
	ds_cert_exam e = good();

	(void)state;
	e.ca_count = 2; /* the old CA still in ca.crt, the serving certificate due */
	e.tls_not_before = NOW - 70 * DAY;
	e.tls_not_after = NOW + 20 * DAY;
	assert_int_equal(decide(&e, OVERLAP * 2, OVERLAP * 2).step, DS_CERTS_NEW_SERVING);
	e = good(); /* both due: the serving certificate first, from the CA that signs now */
	e.ca_not_before = NOW - 4 * 365 * DAY;
	e.ca_not_after = NOW + 365 * DAY;
	e.tls_not_before = NOW - 70 * DAY;
	e.tls_not_after = NOW + 20 * DAY;
	assert_int_equal(decide(&e, 100, -1).step, DS_CERTS_NEW_SERVING);
}

static void test_old_serving_certificate_is_not_renewed_before_the_switch(void **state)
{
	ds_cert_exam e = good();
	ds_certs_plan p;

	(void)state;
	/* signed by the old CA, past two thirds: the new CA is not trusted yet,
	 * so it waits for the switch (which makes a new one) */
	e.ca_count = 2;
	e.issuer = 1;
	e.tls_not_before = NOW - 70 * DAY;
	e.tls_not_after = NOW + 20 * DAY;
	p = decide(&e, 10, -1);
	assert_int_equal(p.step, DS_CERTS_WAIT);
	/* expired: unusable, a new one from the first CA at once */
	e.tls_ok = false;
	assert_int_equal(decide(&e, 10, -1).step, DS_CERTS_NEW_SERVING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_secret_is_created),
		cmocka_unit_test(test_steady_waits_until_two_thirds),
		cmocka_unit_test(test_missing_name_renews_the_serving_certificate),
		cmocka_unit_test(test_unusable_material),
		cmocka_unit_test(test_ca_rotation_timeline),
		cmocka_unit_test(test_renewal_goes_first_in_a_rotation),
		cmocka_unit_test(test_old_serving_certificate_is_not_renewed_before_the_switch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
