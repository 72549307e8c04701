/* write.c - the four PEM files in their directory; keys never readable by
 * anyone but the owner. */
#include "certs/private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_COUNT 4
#define DIR_MODE 0700
#define KEY_MODE 0600
#define CERT_MODE 0644

struct pem_file {
	const char *name;
	mode_t mode;
	const char *text;
};

/* Creates the missing parents of dir with mode 0700. Returns 0, or -1 with
 * *error set. */
static int make_parents(const char *dir, char **error)
{
	char *path = strdup(dir);
	int rc = 0;

	if (!path)
		return ds_fail(error, "%s: out of memory", dir);
	for (char *p = strchr(path + 1, '/'); p && rc == 0; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(path, DIR_MODE) && errno != EEXIST)
			rc = ds_fail(error, "%s: cannot create the directory: %s", path, strerror(errno));
		*p = '/';
	}
	free(path);
	return rc;
}

/* Creates dir and its missing parents with mode 0700. Returns 0 when dir
 * is a directory afterwards, else -1 with *error set. */
static int make_dirs(const char *dir, char **error)
{
	struct stat st;

	if (!*dir)
		return ds_fail(error, "the directory name is empty");
	if (make_parents(dir, error))
		return -1;
	if (mkdir(dir, DIR_MODE) && errno != EEXIST)
		return ds_fail(error, "%s: cannot create the directory: %s", dir, strerror(errno));
	if (stat(dir, &st))
		return ds_fail(error, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return ds_fail(error, "%s: not a directory", dir);
	return 0;
}

/* Writes all of text to fd. Returns 0, or -1 with errno set. */
static int write_all(int fd, const char *text)
{
	size_t left = strlen(text);

	while (left > 0) {
		ssize_t n = write(fd, text, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		text += n;
		left -= (size_t)n;
	}
	return 0;
}

/* Creates path afresh with `mode` (O_EXCL: never through an existing file
 * or link, never wider than mode) and writes text into it. Returns 0, 1
 * when path exists, or -1; both with *error set. */
static int write_file(const char *path, const struct pem_file *f, char **error)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, f->mode);
	int saved;

	if (fd < 0 && errno == EEXIST) {
		ds_fail(error, "%s already exists", path);
		return 1;
	}
	if (fd < 0)
		return ds_fail(error, "%s: cannot create: %s", path, strerror(errno));
	if (write_all(fd, f->text) == 0 && fsync(fd) == 0 && close(fd) == 0)
		return 0;
	saved = errno;
	close(fd);
	unlink(path);
	return ds_fail(error, "%s: cannot write: %s", path, strerror(saved));
}

/* Fills paths[i] with dir/files[i].name. Returns 0, or -1 out of memory. */
static int join_paths(const char *dir, const struct pem_file *files, char **paths, char **error)
{
	for (int i = 0; i < FILE_COUNT; i++)
		if (asprintf(&paths[i], "%s/%s", dir, files[i].name) < 0) {
			paths[i] = NULL;
			return ds_fail(error, "%s: out of memory", dir);
		}
	return 0;
}

/* Without overwrite: 1 with *error set when one of paths exists. With it:
 * removes those that exist. Otherwise 0, or -1 with *error set. */
static int clear_way(char **paths, bool overwrite, char **error)
{
	struct stat st;

	for (int i = 0; i < FILE_COUNT; i++) {
		if (!overwrite && lstat(paths[i], &st) == 0) {
			ds_fail(error, "%s already exists", paths[i]);
			return 1;
		}
		if (overwrite && unlink(paths[i]) && errno != ENOENT)
			return ds_fail(error, "%s: cannot replace: %s", paths[i], strerror(errno));
	}
	return 0;
}

/* Writes each file; on failure removes those written before. */
static int write_files(char **paths, const struct pem_file *files, char **error)
{
	for (int i = 0; i < FILE_COUNT; i++) {
		int rc = write_file(paths[i], &files[i], error);
		if (rc == 0)
			continue;
		while (i-- > 0)
			unlink(paths[i]);
		return rc;
	}
	return 0;
}

int ds_certs_write(const char *dir, const ds_cert_set *set, bool overwrite, char **error)
{
	const struct pem_file files[FILE_COUNT] = {
		{DS_CA_CERT_FILE, CERT_MODE, set->ca_cert},
		{DS_CA_KEY_FILE, KEY_MODE, set->ca_key},
		{DS_TLS_CERT_FILE, CERT_MODE, set->tls_cert},
		{DS_TLS_KEY_FILE, KEY_MODE, set->tls_key},
	};
	char *paths[FILE_COUNT] = {NULL};
	int rc = make_dirs(dir, error);

	if (rc == 0)
		rc = join_paths(dir, files, paths, error);
	if (rc == 0)
		rc = clear_way(paths, overwrite, error);
	if (rc == 0)
		rc = write_files(paths, files, error);
	for (int i = 0; i < FILE_COUNT; i++)
		free(paths[i]);
	return rc;
}
