/* audit.c - placeholder until the audit command lands; replaced by its real implementation. */
#include "cli/cli.h"

int cmd_audit(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "dsguard audit: not available in this build\n");
	return DS_EXIT_USAGE;
}
