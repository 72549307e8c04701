/* file.c - reads a whole file or standard input, bounded; joins paths and
 * resolves their "." and ".." by their text. */
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *ds_size_text(size_t bytes, char *buf, size_t size)
{
	if (bytes >= (1u << 20) && bytes % (1u << 20) == 0)
		snprintf(buf, size, "%zu MiB", bytes >> 20);
	else if (bytes >= 1024 && bytes % 1024 == 0)
		snprintf(buf, size, "%zu KiB", bytes >> 10);
	else
		snprintf(buf, size, "%zu bytes", bytes);
	return buf;
}

static int too_large(char **error, size_t max)
{
	char limit[32];

	ds_fail(error, "larger than the %s limit", ds_size_text(max, limit, sizeof(limit)));
	errno = EFBIG;
	return -1;
}

/* Reads fd to its end into a growing buffer of at most max bytes. */
static int read_all(int fd, size_t max, char **buf, size_t *len, char **error)
{
	size_t cap = max < 65536 ? max : 65536, used = 0;
	char *data = malloc(cap + 1);

	if (!data)
		return ds_fail(error, "out of memory");
	for (;;) {
		ssize_t n;
		if (used == cap) {
			char *grown;
			if (cap >= max + 1) {
				free(data);
				return too_large(error, max);
			}
			cap = cap * 2 + 1 > max + 1 ? max + 1 : cap * 2 + 1;
			grown = realloc(data, cap + 1);
			if (!grown) {
				free(data);
				return ds_fail(error, "out of memory");
			}
			data = grown;
		}
		n = read(fd, data + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			free(data);
			return ds_fail(error, "cannot read: %s", strerror(err));
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

int ds_read_file(const char *path, size_t max, char **buf, size_t *len, char **error)
{
	struct stat st;
	int fd, rc;

	if (!strcmp(path, "-"))
		return read_all(STDIN_FILENO, max, buf, len, error);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return ds_fail(error, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = ds_fail(error, "cannot read: %s", strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return ds_fail(error, "%s", S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
	}
	if ((size_t)st.st_size > max) {
		char limit[32];
		close(fd);
		ds_fail(error, "larger than the %s limit (%lld bytes)", ds_size_text(max, limit, sizeof(limit)),
			(long long)st.st_size);
		errno = EFBIG;
		return -1;
	}
	rc = read_all(fd, max, buf, len, error);
	close(fd);
	return rc;
}

char *ds_path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir);

	if (name[0] == '/')
		return strdup(name);
	return ds_format("%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

void ds_path_lexical(char *path)
{
	char *out = path, *seg = path;

	while (*seg) {
		char *end = seg + strcspn(seg, "/");
		size_t len = (size_t)(end - seg);
		if (len == 2 && !strncmp(seg, "..", 2)) {
			while (out > path && *--out != '/')
				;
		} else if (len && !(len == 1 && *seg == '.')) {
			*out++ = '/';
			memmove(out, seg, len);
			out += len;
		}
		seg = *end ? end + 1 : end;
	}
	if (out == path)
		*out++ = '/';
	*out = '\0';
}
