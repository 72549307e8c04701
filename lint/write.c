/* write.c - --fix writes a fixed manifest over the file it was read from:
 * through symbolic links only to a file inside the tree it was asked to
 * fix, never splitting hard links, keeping owner, group and mode. */
#include "lint/fix.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Whether the absolute path `path` lies inside the directory `dir` (both
 * without "." or ".." components). */
static bool inside(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return path[0] == '/' && path[1];
	return !strncmp(path, dir, n) && path[n] == '/';
}

static bool inside_or_at(const char *path, const char *dir)
{
	return !strcmp(path, dir) || inside(path, dir);
}

/* The absolute path `path` (relative ones from the directory cwd) with
 * ".", ".." and repeated slashes taken out as written, no link followed.
 * Returns a new string, or NULL out of memory. */
static char *lexical(const char *cwd, const char *path)
{
	char *joined = NULL, *out;
	size_t used = 0;

	if (asprintf(&joined, "%s/%s", path[0] == '/' ? "" : cwd, path) < 0)
		return NULL;
	out = malloc(strlen(joined) + 2);
	if (!out) {
		free(joined);
		return NULL;
	}
	for (const char *p = joined; *p;) {
		size_t n;
		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 2 && !strncmp(p, "..", 2)) {
			while (used > 0 && out[--used] != '/')
				;
		} else if (n > 0 && !(n == 1 && *p == '.')) {
			out[used++] = '/';
			memcpy(out + used, p, n);
			used += n;
		}
		p += n;
	}
	if (!used)
		out[used++] = '/';
	out[used] = '\0';
	free(joined);
	return out;
}

/* The directory the file must stay inside: `root` when the file was found
 * below the directory root, else the directory holding the file named
 * `root`; resolved, in *base (a new string). A root named inside the
 * working directory must lead to a place inside it: a link of the tree
 * that takes it elsewhere (a directory of a repository that is a link to
 * /etc) is refused. Returns 0, or -1 with *error set. */
static int resolve_root(const char *root, bool root_is_file, char **base, char **error)
{
	char *copy = strdup(root), *cwd = realpath(".", NULL), *named = NULL;
	const char *dir = copy && root_is_file ? dirname(copy) : root;
	int rc = 0;

	*base = NULL;
	if (!copy)
		rc = ds_fail(error, "out of memory");
	else if (!cwd)
		rc = ds_fail(error, "cannot resolve the working directory: %s", strerror(errno));
	else if (!(*base = realpath(dir, NULL)))
		rc = ds_fail(error, "cannot resolve %s: %s", dir, strerror(errno));
	else if (!(named = lexical(cwd, dir)))
		rc = ds_fail(error, "out of memory");
	else if (inside_or_at(named, cwd) && !inside_or_at(*base, cwd))
		rc = ds_fail(error, "%s leads out of the working directory, to %s; --fix does not follow a link of "
				    "the tree out of it (name %s itself to fix the file there)",
			     dir, *base, *base);
	free(named);
	free(cwd);
	free(copy);
	if (rc < 0) {
		free(*base);
		*base = NULL;
	}
	return rc;
}

/* Where the directory open as dirfd is now, as the kernel knows it (a new
 * string), or NULL when that cannot be told (no /proc). */
static char *where_now(int dirfd)
{
	char link[64], *path = malloc(PATH_MAX);
	ssize_t n;

	if (!path)
		return NULL;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	n = readlink(link, path, PATH_MAX - 1);
	if (n <= 0 || path[0] != '/') {
		free(path);
		return NULL;
	}
	path[n] = '\0';
	return path;
}

/* Writes len bytes of text to fd. Returns 0, or -1 with errno set. */
static int write_all(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, text, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Creates a new file of a name no other has in the directory dirfd, only
 * for this process (mode 0600, no link followed). Returns its descriptor
 * with its name in tmp (size bytes), or -1 with errno set. */
static int create_beside(int dirfd, char *tmp, size_t size)
{
	static unsigned counter;
	struct timespec now;

	for (int attempt = 0; attempt < 100; attempt++) {
		int fd;
		clock_gettime(CLOCK_REALTIME, &now);
		snprintf(tmp, size, ".dsguard-fix-%ld-%u-%lx", (long)getpid(),
			 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED), (unsigned long)now.tv_nsec);
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1;
}

/* Whether the file st describes is still as it was when read (as_read):
 * the same file, of the same size and modification time. */
static bool unchanged(const struct stat *st, const struct stat *as_read)
{
	return st->st_dev == as_read->st_dev && st->st_ino == as_read->st_ino && st->st_size == as_read->st_size &&
	       st->st_mtim.tv_sec == as_read->st_mtim.tv_sec && st->st_mtim.tv_nsec == as_read->st_mtim.tv_nsec;
}

/* Whether the file `name` in the directory dirfd holds exactly text: a
 * file named twice (two arguments, a link and its target) is fixed by
 * whichever run comes first, and the other finds its work done. */
static bool holds(int dirfd, const char *name, const char *text, size_t len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char buf[65536];
	size_t at = 0;
	bool same = fd >= 0;

	while (same) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			same = n == 0 && at == len;
			break;
		}
		same = (size_t)n <= len - at && !memcmp(buf, text + at, (size_t)n);
		at += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	return same;
}

/* The error for a file another program wrote while it was being fixed. */
static int changed_meanwhile(char **error)
{
	return ds_fail(error, "it changed while it was being fixed (another program wrote it); nothing was written: "
			      "run --fix again");
}

/* Writes text into a new file in the directory dirfd (so that a rename puts
 * it in place whole), gives it the owner, group and mode of st, and renames
 * it over `name` there, unless `name` has changed from st meanwhile.
 * Returns 0, or -1 with *error set (the new file is then gone). dir names
 * the directory in messages. */
static int replace(int dirfd, const char *dir, const char *name, const struct stat *st, const char *text,
		   size_t len, char **error)
{
	char tmp[96];
	int fd = create_beside(dirfd, tmp, sizeof(tmp)), rc;
	struct stat now;

	if (fd < 0)
		return ds_fail(error, "cannot create a file in %s: %s", dir, strerror(errno));
	/* fchown() before fchmod(): a change of owner may clear set-ID bits */
	if (fchown(fd, st->st_uid, st->st_gid) < 0)
		rc = ds_fail(error, "cannot give the new file the owner and group of the old (%ju:%ju): %s; run --fix "
				    "as its owner or as root",
			     (uintmax_t)st->st_uid, (uintmax_t)st->st_gid, strerror(errno));
	else if (write_all(fd, text, len) < 0 || fchmod(fd, st->st_mode & 07777) < 0 || fsync(fd) < 0)
		rc = ds_fail(error, "%s", strerror(errno));
	else
		rc = 0;
	if (close(fd) < 0 && rc == 0)
		rc = ds_fail(error, "%s", strerror(errno));
	if (rc == 0 && (fstatat(dirfd, name, &now, AT_SYMLINK_NOFOLLOW) < 0 || !unchanged(&now, st))) {
		/* written meanwhile: by another run of this fix, or not */
		unlinkat(dirfd, tmp, 0);
		return holds(dirfd, name, text, len) ? 0 : changed_meanwhile(error);
	}
	if (rc == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		rc = ds_fail(error, "%s", strerror(errno));
	if (rc < 0)
		unlinkat(dirfd, tmp, 0);
	return rc;
}

/* Writes text over the file `name` in the directory dirfd (found at the
 * resolved path dir, which was checked), when it is a regular file with one
 * link that its user may write, still as it was read (as_read).
 * Returns 0, or -1 with *error set. */
static int write_in(int dirfd, const char *dir, const char *name, const struct stat *as_read, const char *text,
		    size_t len, char **error)
{
	char *now = where_now(dirfd);
	struct stat st;
	/* the directory opened must be the one checked, not one a link
	 * swapped in on the way since; from here on, every step goes through
	 * the open directory */
	bool moved = now && strcmp(now, dir);

	free(now);
	if (moved)
		return ds_fail(error, "its directory moved while it was being fixed");
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return ds_fail(error, "%s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return ds_fail(error, "it is not a regular file");
	if (!unchanged(&st, as_read))
		return holds(dirfd, name, text, len) ? 0 : changed_meanwhile(error);
	if (st.st_nlink > 1)
		return ds_fail(error, "it has %ju hard links; --fix leaves such a file alone (a new file would part it "
				      "from its other names, and writing in place would change those too, wherever "
				      "they are): apply the --diff output by hand",
			       (uintmax_t)st.st_nlink);
	/* a file its user may not write stays as it is, though its directory
	 * would let a new file take its place */
	if (faccessat(dirfd, name, W_OK, AT_EACCESS) < 0)
		return ds_fail(error, "it is not writable: %s", strerror(errno));
	return replace(dirfd, dir, name, &st, text, len, error);
}

int ds_write_fixed(const char *path, const char *root, bool root_is_file, const struct stat *as_read,
		   const char *text, size_t len, char **error)
{
	char *target = realpath(path, NULL), *base = NULL;
	char *slash;
	int dirfd, rc;

	*error = NULL;
	if (!target) {
		rc = ds_fail(error, "cannot resolve the path: %s", strerror(errno));
		goto out;
	}
	if (resolve_root(root, root_is_file, &base, error) < 0) {
		rc = -1;
		goto out;
	}
	if (!inside(target, base)) {
		rc = ds_fail(error, "it leads to %s, outside %s; --fix follows links only to files inside the "
				    "directory it was given (name the file itself to fix it)",
			     target, base);
		goto out;
	}
	/* target is absolute and not "/": it has a last slash, and a name after it */
	slash = strrchr(target, '/');
	*slash = '\0';
	dirfd = open(slash == target ? "/" : target, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		rc = ds_fail(error, "cannot open its directory: %s", strerror(errno));
		goto out;
	}
	rc = write_in(dirfd, slash == target ? "/" : target, slash + 1, as_read, text, len, error);
	close(dirfd);
out:
	free(target);
	free(base);
	return rc;
}
