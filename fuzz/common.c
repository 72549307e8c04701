/* common.c - helpers the libFuzzer harnesses share (see fuzz.h). */
#include "fuzz/fuzz.h"
#include "test/rule_access.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char scratch[4096];

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "fuzz: %s:%d: %s\n", file, line, what);
	abort();
}

/* Copies name into a new string; aborts out of memory. */
static char *must_strdup(const char *name)
{
	char *copy = strdup(name);

	FUZZ_ASSERT(copy != NULL, "out of memory");
	return copy;
}

/* Sets list to the given names; aborts out of memory. */
static void set_list(ds_string_list *list, const char *const *names, size_t count)
{
	list->items = calloc(count, sizeof(*list->items));
	FUZZ_ASSERT(list->items != NULL, "out of memory");
	for (size_t i = 0; i < count; i++)
		list->items[i] = must_strdup(names[i]);
	list->count = count;
}

void fuzz_fixing_config(ds_config *cfg, bool with_allowed)
{
	static const char *const allowed[] = {FUZZ_DEFAULT_CLASS, "system-node-critical"};

	ds_config_init(cfg);
	for (int i = 0; i < DS_RULE_COUNT; i++)
		cfg->rules[i].severity = DS_SEVERITY_ERROR;
	DEFAULT_CLASS(cfg) = must_strdup(FUZZ_DEFAULT_CLASS);
	if (with_allowed)
		set_list(&ALLOWED_CLASSES(cfg), allowed, 2);
}

size_t fuzz_errors_of(const ds_evaluation *ev, const ds_rule *rule)
{
	size_t n = 0;

	for (size_t i = 0; i < ev->finding_count; i++) {
		const ds_finding *f = &ev->findings[i];
		n += f->rule == rule && !f->exempt && f->severity == DS_SEVERITY_ERROR;
	}
	return n;
}

/* Removes the scratch directory and what is in it (one level). */
static void remove_scratch(void)
{
	DIR *dir = opendir(scratch);
	struct dirent *e;
	char path[sizeof(scratch) + 256];

	while (dir && (e = readdir(dir)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", scratch, e->d_name);
		unlink(path);
	}
	if (dir)
		closedir(dir);
	rmdir(scratch);
}

const char *fuzz_scratch_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (scratch[0])
		return scratch;
	snprintf(scratch, sizeof(scratch), "%s/dsguard-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	FUZZ_ASSERT(mkdtemp(scratch) != NULL, "cannot make the scratch directory");
	atexit(remove_scratch);
	return scratch;
}

void fuzz_write_file(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	FUZZ_ASSERT(f != NULL, "cannot create a scratch file");
	FUZZ_ASSERT(fwrite(data, 1, size, f) == size, "cannot write a scratch file");
	FUZZ_ASSERT(fclose(f) == 0, "cannot write a scratch file");
}

char *fuzz_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t size = 0;
	FILE *mem = open_memstream(&buf, &size);
	char chunk[65536];
	size_t n;

	FUZZ_ASSERT(f != NULL && mem != NULL, "cannot read a scratch file");
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		FUZZ_ASSERT(fwrite(chunk, 1, n, mem) == n, "out of memory");
	FUZZ_ASSERT(!ferror(f), "cannot read a scratch file");
	fclose(f);
	FUZZ_ASSERT(fclose(mem) == 0, "out of memory");
	*len = size;
	return buf;
}

static int memfd = -1;
static char memfd_path[64];

const char *fuzz_memfd_open(const char *name)
{
	memfd = memfd_create(name, MFD_CLOEXEC);
	FUZZ_ASSERT(memfd >= 0, "memfd_create failed");
	snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
	return memfd_path;
}

void fuzz_memfd_set(const uint8_t *data, size_t size)
{
	size_t done = 0;

	FUZZ_ASSERT(ftruncate(memfd, 0) == 0, "ftruncate failed");
	while (done < size) {
		ssize_t n = pwrite(memfd, data + done, size - done, (off_t)done);
		FUZZ_ASSERT(n > 0, "pwrite failed");
		done += (size_t)n;
	}
}
