/* options.h - option tables: one table per command drives both parsing and --help. */
#ifndef DSGUARD_OPTIONS_H
#define DSGUARD_OPTIONS_H

#include <stdbool.h>

/* One option of a command. `arg` is the metavariable ("FILE") or NULL for a
 * flag. `repeat` options may be given more than once. */
struct cli_option {
	const char *name; /* long name without dashes, e.g. "format" */
	char short_name;  /* 0 for none */
	const char *arg;
	const char *help;
	bool repeat;
	/* The values it takes, drawn from where they are defined ("text, json
	 * or sarif"): --help prints them after help. NULL: none listed. */
	const char *(*choices)(void);
};

/* What the parser found for one option. `values` holds every argument given
 * (`count` of them); a flag has count > 0 and no values. `at[i]` is the
 * index in argv of the word the i-th occurrence was given in, so that
 * options can be paired by their order on the command line. */
struct cli_value {
	int count;
	const char **values;
	int *at;
};

/* A parsed command line: one cli_value per option (same index as the table)
 * and the operands, in order. */
struct cli_args {
	struct cli_value *opts;
	int option_count;
	int operand_count;
	char **operands;
	bool help;
};

/* A command's table and texts. */
struct cli_command {
	const char *name;     /* "lint" */
	const char *usage;    /* "[OPTIONS] [PATH|-]..." */
	const char *summary;  /* one paragraph shown above the options */
	const struct cli_option *options;
	int option_count;
	const char *examples; /* shown after the options; may be NULL */
};

/* Parses argv (argv[0] is the command name) against cmd's table.
 * Returns 0 on success (args->help is set for --help, which is printed to
 * stdout already), or DS_EXIT_USAGE after printing the problem to stderr.
 * On success the caller frees args with cli_args_free(). */
int cli_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_args *args);

/* Releases what cli_parse() allocated. */
void cli_args_free(struct cli_args *args);

/* Prints cmd's --help text to stdout. */
void cli_print_help(const struct cli_command *cmd);

/* The last value given for option `index`, or `fallback` when absent. */
const char *cli_get(const struct cli_args *args, int index, const char *fallback);

/* Whether option `index` was given at all. */
bool cli_has(const struct cli_args *args, int index);

/* Parses a non-negative decimal integer from an option value. Returns 0 and
 * stores it, or prints an error naming the option and returns DS_EXIT_USAGE. */
int cli_get_ulong(const struct cli_command *cmd, const struct cli_args *args, int index,
		  unsigned long fallback, unsigned long max, unsigned long *out);

/* The longest duration cli_get_duration() takes: 100 years. */
#define CLI_MAX_DURATION (100L * 365 * 86400)

/* Parses a duration from an option value: a whole number and a unit, s
 * (seconds), m (minutes), h (hours) or d (days): "90d", "12h", "30s".
 * Returns 0 and stores it in seconds (fallback when absent), or prints an
 * error naming the option and returns DS_EXIT_USAGE. */
int cli_get_duration(const struct cli_command *cmd, const struct cli_args *args, int index, long fallback,
		     long *out);

#endif
