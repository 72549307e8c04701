/* main.c - the dsguard entry point: picks the subcommand. */
#include "cli/cli.h"

#include <string.h>

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"lint", cmd_lint, "check manifest files, directories or stdin"},
	{"serve", cmd_serve, "run the HTTPS admission webhook"},
	{"review", cmd_review, "answer one AdmissionReview as the webhook would"},
	{"certs", cmd_certs, "make or check TLS material for the webhook"},
	{"audit", cmd_audit, "check the DaemonSets of a live cluster"},
	{"rules", cmd_rules, "describe each rule"},
	{"policy", cmd_policy, "print the rules as Kubernetes admission policies"},
	{"exemptions", cmd_exemptions, "list the config's exemptions and what each exempts"},
	{"version", cmd_version, "print the version"},
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static void print_usage(FILE *out)
{
	fprintf(out, "dsguard keeps Kubernetes DaemonSets to best practice.\n\n"
		     "Usage: dsguard COMMAND [OPTIONS]\n\nCommands:\n");
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nRun 'dsguard COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		print_usage(stderr);
		return DS_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		print_usage(stdout);
		return DS_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "dsguard: unknown command '%s'\n", argv[1]);
	print_usage(stderr);
	return DS_EXIT_USAGE;
}
