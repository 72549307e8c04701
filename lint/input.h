/* input.h - private to lint/: reading whole files and standard input with
 * a size limit. */
#ifndef DSGUARD_LINT_INPUT_H
#define DSGUARD_LINT_INPUT_H

#include <stddef.h>
#include <stdio.h>

/* No manifest or config file may be larger than this. */
#define DS_MAX_FILE_BYTES (64u << 20)

/* Reads all of `path` ("-": standard input) into a new NUL-terminated
 * buffer. Returns 0 and sets *buf (the caller frees it) and *len. On error
 * returns -1 and sets *error to a new message without the path ("cannot
 * read: Permission denied", "larger than the 64 MiB limit"). */
int ds_read_input(const char *path, size_t max, char **buf, size_t *len, char **error);

#endif
