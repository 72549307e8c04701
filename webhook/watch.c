/* watch.c - cheap signatures of files, to notice when they change on disk. */
#include "webhook/internal.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Writes the target of the `..data` link in path's directory into buf
 * ("" when there is none). */
static void read_data_link(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');
	char link[PATH_MAX];
	ssize_t n;

	if (slash)
		snprintf(link, sizeof(link), "%.*s/..data", (int)(slash - path), path);
	else
		snprintf(link, sizeof(link), "..data");
	n = readlink(link, buf, size - 1);
	buf[n < 0 ? 0 : n] = '\0';
}

void ds_file_sig_read(const char *path, ds_file_sig *sig)
{
	struct stat st;

	memset(sig, 0, sizeof(*sig));
	read_data_link(path, sig->data_target, sizeof(sig->data_target));
	if (stat(path, &st) != 0)
		return;
	sig->exists = true;
	sig->dev = st.st_dev;
	sig->ino = st.st_ino;
	sig->size = st.st_size;
	sig->mtime = st.st_mtim;
}

bool ds_file_sig_equal(const ds_file_sig *a, const ds_file_sig *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       !strcmp(a->data_target, b->data_target);
}
