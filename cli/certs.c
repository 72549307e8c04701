/* certs.c - placeholder until the certs command lands; replaced by its real implementation. */
#include "cli/cli.h"

int cmd_certs(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "dsguard certs: not available in this build\n");
	return DS_EXIT_USAGE;
}
