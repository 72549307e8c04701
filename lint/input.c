/* input.c - reads a whole file or standard input, bounded. */
#include "lint/input.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Sets *error to a new formatted message. Returns -1. */
static int set_error(char **error, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int set_error(char **error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(error, fmt, ap) < 0)
		*error = NULL;
	va_end(ap);
	return -1;
}

/* Reads fd to its end into a growing buffer of at most max bytes. */
static int read_all(int fd, size_t max, char **buf, size_t *len, char **error)
{
	size_t cap = 65536, used = 0;
	char *data = malloc(cap + 1);

	if (!data)
		return set_error(error, "%s", "out of memory");
	for (;;) {
		ssize_t n;
		if (used == cap) {
			char *grown;
			if (cap >= max + 1) {
				free(data);
				return set_error(error, "larger than the %zu MiB limit", max >> 20);
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			grown = realloc(data, cap + 1);
			if (!grown) {
				free(data);
				return set_error(error, "%s", "out of memory");
			}
			data = grown;
		}
		n = read(fd, data + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(data);
			return set_error(error, "cannot read: %s", strerror(errno));
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	data[used] = '\0';
	*buf = data;
	*len = used;
	return 0;
}

int ds_read_input(const char *path, size_t max, char **buf, size_t *len, char **error)
{
	struct stat st;
	int fd, rc;

	*error = NULL;
	if (!strcmp(path, "-"))
		return read_all(STDIN_FILENO, max, buf, len, error);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return set_error(error, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return set_error(error, "%s", "not a regular file");
	}
	if ((size_t)st.st_size > max) {
		close(fd);
		return set_error(error, "larger than the %zu MiB limit (%lld bytes)", max >> 20,
				 (long long)st.st_size);
	}
	rc = read_all(fd, max, buf, len, error);
	close(fd);
	return rc;
}
