/* helpers.h - what several unit tests share: the stand-in for cli/main.c's
 * cli_usage_error(), and files in a temporary directory. Include it after
 * <cmocka.h>; each test is its own program, so each gets its own copy. */
#ifndef DSGUARD_TEST_HELPERS_H
#define DSGUARD_TEST_HELPERS_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The tests link every library object, cli/ included, but not cli/main.c,
 * which defines this; a weak stand-in yields to a real definition. */
__attribute__((weak)) int cli_usage_error(const char *cmd, const char *fmt, ...);
__attribute__((weak)) int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	(void)cmd;
	(void)fmt;
	return 2;
}

/* A fresh empty directory "dsguard-WHAT-XXXXXX" under TMPDIR (or /tmp);
 * release it with remove_tree(). */
static inline char *temp_dir(const char *what)
{
	const char *base = getenv("TMPDIR");
	char *dir;

	assert_true(asprintf(&dir, "%s/dsguard-%s-XXXXXX", base && *base ? base : "/tmp", what) > 0);
	assert_non_null(mkdtemp(dir));
	return dir;
}

static inline int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes dir and all below it, then frees the string. */
static inline void remove_tree(char *dir)
{
	assert_int_equal(nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
	free(dir);
}

/* dir/name as a new string. */
static inline char *join(const char *dir, const char *name)
{
	char *path;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	return path;
}

static inline void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

/* The content of path (up to 64 KiB) as a new string. */
static inline char *read_text(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *text = calloc(1, 65536);
	size_t n;

	assert_non_null(fp);
	assert_non_null(text);
	n = fread(text, 1, 65535, fp);
	text[n] = '\0';
	fclose(fp);
	return text;
}

#endif
