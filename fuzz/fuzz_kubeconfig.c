/* fuzz_kubeconfig.c - kubeconfig bytes -> kube_config_load() (its current
 * context), read through a memfd as /proc/self/fd/N. Only the kubeconfig
 * itself is read: the files it names are opened later, by the client.
 *
 * Asserts, for every input:
 * - a load that fails sets an error that starts with "PATH:" and leaves the
 *   config empty;
 * - a load that succeeds sets no error and gives a server URL, never both
 *   insecure-skip-tls-verify and a CA, a token only when it is usable in a
 *   header, and decoded PEM data whose length is set with it. */
#include "fuzz/fuzz.h"
#include "kube/private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *path;

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	path = fuzz_memfd_open("kubeconfig");
	return 0;
}

static bool is_empty(const kube_config *cfg)
{
	static const kube_config empty;

	return !memcmp(cfg, &empty, sizeof(empty));
}

static void check_loaded(const kube_config *cfg)
{
	FUZZ_ASSERT(cfg->server && *cfg->server, "a config without a server");
	FUZZ_ASSERT(!(cfg->insecure && (cfg->ca_file || cfg->ca_data)), "insecure and a CA at once");
	FUZZ_ASSERT(!cfg->token || kube_token_valid(cfg->token), "a token unusable in a header");
	FUZZ_ASSERT(!cfg->ca_data == !cfg->ca_len && !cfg->cert_data == !cfg->cert_len &&
			    !cfg->key_data == !cfg->key_len,
		    "PEM data without its length, or a length without data");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	kube_config cfg;
	char *error = NULL;

	memset(&cfg, 0, sizeof(cfg));
	fuzz_memfd_set(data, size);
	if (kube_config_load(path, NULL, &cfg, &error) == 0) {
		FUZZ_ASSERT(error == NULL, "a successful load with an error");
		check_loaded(&cfg);
	} else {
		FUZZ_ASSERT(error && !strncmp(error, path, strlen(path)) && error[strlen(path)] == ':',
			    "a load error that does not start with PATH:");
		FUZZ_ASSERT(is_empty(&cfg), "a failed load leaves the config filled");
	}
	free(error);
	kube_config_free(&cfg);
	return 0;
}
