/* review.c - placeholder until the review command lands; replaced by its real implementation. */
#include "cli/cli.h"

int cmd_review(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "dsguard review: not available in this build\n");
	return DS_EXIT_USAGE;
}
