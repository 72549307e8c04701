/* fuzz.h - what the libFuzzer harnesses share: assertions that abort with a
 * message (so libFuzzer records the input as a crash), the configs they
 * check against, and scratch files under a private temporary directory. */
#ifndef DSGUARD_FUZZ_H
#define DSGUARD_FUZZ_H

#include "rules/rules.h"

#include <stddef.h>
#include <stdint.h>

/* The entry point libFuzzer calls with each input. Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with "fuzz: FILE:LINE: what" when cond is false. */
#define FUZZ_ASSERT(cond, what) \
	((cond) ? (void)0 : fuzz_fail(__FILE__, __LINE__, (what)))

/* Prints where and what, then aborts. Never returns. */
_Noreturn void fuzz_fail(const char *file, int line, const char *what);

/* The name of the default priority class the fixing configs carry. */
#define FUZZ_DEFAULT_CLASS "node-agents"

/* Fills cfg with a config whose every rule is at error, whose
 * priority-class rule patches in FUZZ_DEFAULT_CLASS and, when
 * `with_allowed`, allows only it and system-node-critical. Aborts when
 * memory runs out. Release it with ds_config_free(). */
void fuzz_fixing_config(ds_config *cfg, bool with_allowed);

/* Counts the non-exempt error findings of rule in ev. */
size_t fuzz_errors_of(const ds_evaluation *ev, const ds_rule *rule);

/* A private directory made once per process under TMPDIR (else /tmp),
 * removed at exit. Borrowed; aborts when it cannot be made. */
const char *fuzz_scratch_dir(void);

/* Writes data[0..size) to `path`, replacing it. Aborts on failure. */
void fuzz_write_file(const char *path, const uint8_t *data, size_t size);

/* Reads the whole file at path into a new NUL-terminated buffer (*len
 * excludes the NUL; the caller frees it). Aborts on failure. */
char *fuzz_read_file(const char *path, size_t *len);

/* Opens the memfd a harness hands to a loader that takes a path, named
 * `name`. Returns its path ("/proc/self/fd/N"), static. */
const char *fuzz_memfd_open(const char *name);

/* Makes that memfd hold exactly data[0..size). */
void fuzz_memfd_set(const uint8_t *data, size_t size);

#endif
