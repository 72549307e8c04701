/* fuzz_secret.c - a Secret's material -> ds_certs_examine(), the reading
 * serve --manage-certs makes of what anyone allowed to write the Secret put
 * there, and ds_certs_verify() and ds_ca_bundle_decode() over the same
 * bytes. The input is up to four parts separated by NUL bytes: ca.crt,
 * ca.key, tls.crt, tls.key (a missing part is a missing key).
 *
 * Asserts, for every input:
 * - what cannot be used says why, and what can be used has what using it
 *   needs: a usable CA has its PEM and times; a usable serving pair has the
 *   index of its CA within ca.crt, that CA's PEM and its times;
 * - the examination of the same input twice is the same;
 * - ds_certs_verify() accepts the serving certificate against ca.crt
 *   whenever the examination found its issuer there, and an error always
 *   comes with a message. */
#include "fuzz/fuzz.h"
#include "certs/certs.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PARTS 4

/* The clock of the examinations: fixed when the process starts, so that
 * the seeds (made just before) are valid and each input is examined at the
 * same time throughout a run. */
static time_t now;

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	now = time(NULL);
	return 0;
}

/* The input's parts as NUL-terminated strings (NULL: absent). */
static void split(const uint8_t *data, size_t size, char *parts[PARTS])
{
	size_t at = 0;

	for (int i = 0; i < PARTS; i++) {
		const uint8_t *end = at < size ? memchr(data + at, 0, size - at) : NULL;
		size_t len = end ? (size_t)(end - (data + at)) : size - at;
		parts[i] = NULL;
		if (at > size || (at == size && i > 0))
			continue;
		parts[i] = malloc(len + 1);
		FUZZ_ASSERT(parts[i] != NULL, "out of memory");
		memcpy(parts[i], data + at, len);
		parts[i][len] = '\0';
		at += len + 1;
	}
}

static void check_exam(const ds_cert_exam *e)
{
	FUZZ_ASSERT(e->ca_ok == !e->ca_problem, "a CA neither usable nor said why");
	FUZZ_ASSERT(e->tls_ok == !e->tls_problem, "a serving pair neither usable nor said why");
	FUZZ_ASSERT(!e->ca_ok || (e->ca_count >= 1 && e->ca_pem && e->ca_not_before <= e->ca_not_after),
		    "a usable CA without its PEM or times");
	FUZZ_ASSERT(!e->tls_ok || (e->issuer >= 0 && (size_t)e->issuer < e->ca_count && e->issuer_pem &&
				   e->tls_not_before <= e->tls_not_after),
		    "a usable serving pair without its CA within ca.crt");
	FUZZ_ASSERT(e->issuer >= 0 || !e->issuer_pem, "an issuer's PEM without an issuer");
}

static bool same_exam(const ds_cert_exam *a, const ds_cert_exam *b)
{
	return a->ca_ok == b->ca_ok && a->tls_ok == b->tls_ok && a->issuer == b->issuer && a->ca_count == b->ca_count &&
	       a->names_ok == b->names_ok && a->tls_not_after == b->tls_not_after;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = {"dsguard.example.com"};
	ds_cert_request req = {"dsguard", "dsguard", hosts, 1, 0, DS_KEY_EC_P256, 90};
	char *parts[PARTS], *error = NULL, *text;
	ds_cert_set set;
	ds_cert_exam a, b;

	split(data, size, parts);
	set = (ds_cert_set){parts[0], parts[1], parts[2], parts[3]};
	FUZZ_ASSERT(ds_certs_examine(&set, &req, now, &a) == 0, "examine failed (out of memory?)");
	FUZZ_ASSERT(ds_certs_examine(&set, &req, now, &b) == 0, "examine failed (out of memory?)");
	check_exam(&a);
	FUZZ_ASSERT(same_exam(&a, &b), "two examinations of one input differ");
	if (parts[0] && parts[2]) {
		int rc = ds_certs_verify(parts[0], parts[2], NULL, now, &error);
		FUZZ_ASSERT(rc == 0 || error, "a refusal without a message");
		FUZZ_ASSERT(!a.tls_ok || rc == 0, "verify refuses what the examination found signed by ca.crt");
		free(error);
	}
	text = parts[0] ? ds_ca_bundle_decode(parts[0]) : NULL;
	FUZZ_ASSERT(!text || strlen(text) <= strlen(parts[0]), "decoded text longer than its base64");
	free(text);
	ds_cert_exam_free(&a);
	ds_cert_exam_free(&b);
	for (int i = 0; i < PARTS; i++)
		free(parts[i]);
	return 0;
}
