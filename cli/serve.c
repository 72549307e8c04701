/* serve.c - placeholder until the serve command lands; replaced by its real implementation. */
#include "cli/cli.h"

int cmd_serve(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "dsguard serve: not available in this build\n");
	return DS_EXIT_USAGE;
}
