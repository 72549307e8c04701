/* util.c - kube/'s shared helpers: error messages, bounded file reads, base64, clock. */
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

int kube_fail(char **error, const char *fmt, ...)
{
	va_list ap;

	if (!error)
		return -1;
	free(*error);
	va_start(ap, fmt);
	if (vasprintf(error, fmt, ap) < 0)
		*error = NULL;
	va_end(ap);
	return -1;
}

/* Reads all of fd, up to max bytes. Returns the buffer or NULL (errno set;
 * EFBIG when over the bound). */
static char *read_bounded(int fd, size_t max, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);

	while (buf) {
		ssize_t got;

		if (n == cap) {
			char *grown = cap > max ? NULL : realloc(buf, cap * 2 + 1);

			if (!grown) {
				errno = cap > max ? EFBIG : ENOMEM;
				break;
			}
			buf = grown;
			cap *= 2;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			break;
		if (got == 0 && n <= max) {
			buf[n] = '\0';
			*len = n;
			return buf;
		}
		if (got == 0) {
			errno = EFBIG;
			break;
		}
		n += (size_t)got;
	}
	free(buf);
	return NULL;
}

char *kube_read_file(const char *path, size_t max, size_t *len, char **error)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	size_t n = 0;

	if (fd < 0) {
		kube_fail(error, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
		errno = EISDIR;
	else
		buf = read_bounded(fd, max, &n);
	if (!buf && errno == EFBIG)
		kube_fail(error, "%s: larger than %zu bytes", path, max);
	else if (!buf)
		kube_fail(error, "%s: %s", path, strerror(errno));
	close(fd);
	if (buf && len)
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
