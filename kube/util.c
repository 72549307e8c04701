/* util.c - kube/'s shared helpers: files named in messages, base64, clock. */
#include "kube/private.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

char *kube_read_file(const char *path, size_t max, size_t *len, char **error)
{
	char *buf = NULL, *why = NULL;
	size_t n = 0;

	if (ds_read_file(path, max, &buf, &n, &why) < 0) {
		ds_fail(error, "%s: %s", path, why ? why : "out of memory");
		free(why);
		return NULL;
	}
	if (len)
		*len = n;
	return buf;
}

/* Copies text without whitespace. Returns the copy, or NULL out of memory. */
static char *strip_space(const char *text, size_t *len)
{
	char *out = malloc(strlen(text) + 1);
	size_t n = 0;

	if (!out)
		return NULL;
	for (const char *p = text; *p; p++)
		if (!strchr(" \t\r\n", *p))
			out[n++] = *p;
	out[n] = '\0';
	*len = n;
	return out;
}

unsigned char *kube_base64_decode(const char *text, size_t *len)
{
	size_t n, pad = 0;
	char *clean = strip_space(text, &n);
	unsigned char *out = NULL;
	int got;

	if (!clean || n == 0 || n % 4 != 0 || n > INT32_MAX) {
		free(clean);
		return NULL;
	}
	pad = (clean[n - 1] == '=') + (clean[n - 2] == '=');
	out = malloc(n / 4 * 3 + 1);
	got = out ? EVP_DecodeBlock(out, (const unsigned char *)clean, (int)n) : -1;
	free(clean);
	if (got < 0 || (size_t)got < pad) {
		free(out);
		return NULL;
	}
	*len = (size_t)got - pad;
	return out;
}

bool kube_token_valid(const char *token)
{
	if (!*token)
		return false;
	for (const unsigned char *p = (const unsigned char *)token; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

double kube_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void kube_timespec(double t, struct timespec *ts)
{
	if (!(t > 0))
		t = 0;
	if (t > 1e12)
		t = 1e12;
	ts->tv_sec = (time_t)t;
	ts->tv_nsec = (long)((t - (double)ts->tv_sec) * 1e9);
	if (ts->tv_nsec >= 1000000000L)
		ts->tv_nsec = 999999999L;
}
