/* options.c - parses a command line against a command's option table. */
#include "cli/options.h"
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int find_long(const struct cli_command *cmd, const char *name, size_t len)
{
	for (int i = 0; i < cmd->option_count; i++)
		if (strlen(cmd->options[i].name) == len && !strncmp(cmd->options[i].name, name, len))
			return i;
	return -1;
}

static int find_short(const struct cli_command *cmd, char c)
{
	for (int i = 0; i < cmd->option_count; i++)
		if (cmd->options[i].short_name && cmd->options[i].short_name == c)
			return i;
	return -1;
}

/* Records one occurrence of option i, with value v (NULL for a flag),
 * given in argv[at]. */
static int record(const struct cli_command *cmd, struct cli_args *args, int i, const char *v, int at)
{
	struct cli_value *val = &args->opts[i];
	const char **grown;
	int *grown_at;

	if (val->count > 0 && !cmd->options[i].repeat && !cmd->options[i].arg)
		return 0;
	grown = ds_array_grow(val->values, (size_t)val->count, sizeof(*grown));
	if (grown)
		val->values = grown;
	grown_at = ds_array_grow(val->at, (size_t)val->count, sizeof(*grown_at));
	if (grown_at)
		val->at = grown_at;
	if (!grown || !grown_at)
		return cli_usage_error(cmd->name, "out of memory");
	grown[val->count] = v;
	grown_at[val->count++] = at;
	return 0;
}

/* Parses one "--name[=value]" at argv[*at]; advances *at past its value. */
static int parse_long(const struct cli_command *cmd, struct cli_args *args, int argc, char **argv, int *at)
{
	const char *word = argv[*at] + 2;
	const char *eq = strchr(word, '=');
	size_t len = eq ? (size_t)(eq - word) : strlen(word);
	int i = find_long(cmd, word, len);

	if (i < 0)
		return cli_usage_error(cmd->name, "unknown option '--%.*s'", (int)len, word);
	if (!cmd->options[i].arg) {
		if (eq)
			return cli_usage_error(cmd->name, "option '--%s' takes no value", cmd->options[i].name);
		return record(cmd, args, i, NULL, *at);
	}
	if (eq)
		return record(cmd, args, i, eq + 1, *at);
	if (*at + 1 >= argc)
		return cli_usage_error(cmd->name, "option '--%s' needs a value (%s)", cmd->options[i].name,
				       cmd->options[i].arg);
	++*at;
	return record(cmd, args, i, argv[*at], *at - 1);
}

/* Parses one word of short options at argv[*at] as getopt does: flags may
 * be grouped ("-vq"), and an option that takes a value takes the rest of
 * the word ("-j4", "-fjson") or else the next word ("-j 4"). Advances *at
 * past a value taken from the next word. */
static int parse_short(const struct cli_command *cmd, struct cli_args *args, int argc, char **argv, int *at)
{
	const char *word = argv[*at];

	for (const char *c = word + 1; *c; c++) {
		int i = *c == 'h' ? -1 : find_short(cmd, *c);
		int rc;
		if (*c == 'h') {
			args->help = true;
			continue;
		}
		if (i < 0)
			return c == word + 1 ? cli_usage_error(cmd->name, "unknown option '%s'", word)
					     : cli_usage_error(cmd->name, "unknown option '-%c' in '%s'", *c, word);
		if (!cmd->options[i].arg) {
			if ((rc = record(cmd, args, i, NULL, *at)) != 0)
				return rc;
			continue;
		}
		if (c[1])
			return record(cmd, args, i, c + 1, *at);
		if (*at + 1 >= argc)
			return cli_usage_error(cmd->name, "option '-%c' needs a value (%s)", *c, cmd->options[i].arg);
		++*at;
		return record(cmd, args, i, argv[*at], *at - 1);
	}
	return 0;
}

int cli_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_args *args)
{
	bool options_done = false;
	int rc = 0;

	memset(args, 0, sizeof(*args));
	args->opts = calloc((size_t)cmd->option_count + 1, sizeof(*args->opts));
	args->option_count = cmd->option_count;
	args->operands = calloc((size_t)argc + 1, sizeof(*args->operands));
	if (!args->opts || !args->operands) {
		cli_args_free(args);
		return cli_usage_error(cmd->name, "out of memory");
	}
	for (int at = 1; at < argc && rc == 0; at++) {
		const char *a = argv[at];
		if (options_done || a[0] != '-' || !strcmp(a, "-"))
			args->operands[args->operand_count++] = argv[at];
		else if (!strcmp(a, "--"))
			options_done = true;
		else if (!strcmp(a, "--help"))
			args->help = true;
		else if (a[1] == '-')
			rc = parse_long(cmd, args, argc, argv, &at);
		else
			rc = parse_short(cmd, args, argc, argv, &at);
	}
	if (rc != 0) {
		cli_args_free(args);
		return rc;
	}
	if (args->help)
		cli_print_help(cmd);
	return 0;
}

void cli_args_free(struct cli_args *args)
{
	for (int i = 0; args->opts && i < args->option_count; i++) {
		free(args->opts[i].values);
		free(args->opts[i].at);
	}
	free(args->opts);
	free(args->operands);
	memset(args, 0, sizeof(*args));
}

void cli_print_help(const struct cli_command *cmd)
{
	printf("Usage: dsguard %s %s\n\n%s\n\nOptions:\n", cmd->name, cmd->usage, cmd->summary);
	for (int i = 0; i < cmd->option_count; i++) {
		const struct cli_option *o = &cmd->options[i];
		char left[64];
		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name, o->arg ? " " : "",
				 o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		printf("  %-28s %s%s%s\n", left, o->help, o->choices ? ": " : "", o->choices ? o->choices() : "");
	}
	printf("  %-28s %s\n", "-h, --help", "show this help and exit");
	if (cmd->examples)
		printf("\nExamples:\n%s", cmd->examples);
}

const char *cli_get(const struct cli_args *args, int index, const char *fallback)
{
	const struct cli_value *v = &args->opts[index];
	return v->count > 0 && v->values[v->count - 1] ? v->values[v->count - 1] : fallback;
}

bool cli_has(const struct cli_args *args, int index)
{
	return args->opts[index].count > 0;
}

int cli_get_ulong(const struct cli_command *cmd, const struct cli_args *args, int index,
		  unsigned long fallback, unsigned long max, unsigned long *out)
{
	const char *text = cli_get(args, index, NULL);
	char *end;
	unsigned long v;

	if (!text) {
		*out = fallback;
		return 0;
	}
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || v > max)
		return cli_usage_error(cmd->name, "--%s needs a whole number from 0 to %lu, not '%s'",
				       cmd->options[index].name, max, text);
	*out = v;
	return 0;
}

int cli_get_duration(const struct cli_command *cmd, const struct cli_args *args, int index, long fallback,
		     long *out)
{
	static const struct {
		char unit;
		long seconds;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	const char *text = cli_get(args, index, NULL);
	char *end;
	long n;

	*out = fallback;
	if (!text)
		return 0;
	errno = 0;
	n = isdigit((unsigned char)text[0]) ? strtol(text, &end, 10) : -1;
	for (size_t i = 0; n > 0 && !errno && i < sizeof(units) / sizeof(units[0]); i++)
		if (end[0] == units[i].unit && !end[1] && n <= CLI_MAX_DURATION / units[i].seconds) {
			*out = n * units[i].seconds;
			return 0;
		}
	return cli_usage_error(cmd->name, "--%s needs a duration: a whole number above 0 and a unit, s, m, h or d "
					  "(90d, 12h, 30s), at most 100 years; not '%s'",
			       cmd->options[index].name, text);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "dsguard %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nRun 'dsguard %s --help' for usage.\n", cmd);
	return DS_EXIT_USAGE;
}
