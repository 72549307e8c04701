/* review.c - `dsguard review`: answers one AdmissionReview as the webhook would. */
#include "cli/cli.h"
#include "cli/options.h"
#include "webhook/webhook.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_MUTATE, OPT_CONFIG, OPT_MAX_BODY, OPT_COUNT };

static const struct cli_option options[OPT_COUNT] = {
	[OPT_MUTATE] = {"mutate", 'm', NULL, "give the mutating answer (/mutate) instead of the validating one", false},
	[OPT_CONFIG] = {"config", 'c', "FILE", "config file (default: none, every rule at error)", false},
	[OPT_MAX_BODY] = {"max-body-bytes", 0, "N", "refuse a request larger than N bytes (default 8388608)", false},
};

static const struct cli_command review_command = {
	.name = "review",
	.usage = "[OPTIONS] [FILE|-]",
	.summary = "Reads one AdmissionReview (admission.k8s.io/v1 or v1beta1) from FILE or standard input and\n"
		   "prints the response the webhook would give, on one line, through the same code as\n"
		   "`dsguard serve`. DS003 needs cluster state and is not evaluated.\n"
		   "Exit status: 0 allowed, 1 denied, 2 usage, config, I/O or a malformed request.",
	.options = options,
	.option_count = OPT_COUNT,
	.examples = "  dsguard review examples/admission/deny.json\n"
		    "  dsguard review --mutate --config examples/admission/config.yaml examples/admission/patch.json\n"
		    "  kubectl get --raw ... | dsguard review -\n",
};

/* Reads the request from path ("-": standard input). Returns 0 with *body,
 * or DS_EXIT_USAGE after saying why. */
static int read_request(const char *path, size_t max, char **body, size_t *len)
{
	char *error = NULL;

	errno = 0;
	if (ds_read_file(path, max, body, len, &error) == 0)
		return 0;
	fprintf(stderr, "dsguard review: %s: %s%s\n", path, error ? error : "out of memory",
		errno == EFBIG ? " (see --max-body-bytes)" : "");
	free(error);
	return DS_EXIT_USAGE;
}

/* Answers the request in body and prints it. Returns the exit code. */
static int answer(const char *body, size_t len, bool mutate, const ds_config *cfg)
{
	ds_review_result r;
	int code;

	ds_review(body, len, mutate ? DS_REVIEW_MUTATE : DS_REVIEW_VALIDATE, cfg, NULL, &r);
	if (r.status != 200) {
		fprintf(stderr, "dsguard review: %d: %s\n", r.status, r.error ? r.error : "out of memory");
		ds_review_result_free(&r);
		return DS_EXIT_USAGE;
	}
	printf("%s\n", r.body);
	code = r.allowed ? DS_EXIT_OK : DS_EXIT_FINDINGS;
	ds_review_result_free(&r);
	return fflush(stdout) == 0 ? code : DS_EXIT_USAGE;
}

int cmd_review(int argc, char **argv)
{
	struct cli_args args;
	unsigned long max;
	ds_config cfg;
	char *body = NULL;
	size_t len = 0;
	int rc;

	rc = cli_parse(&review_command, argc, argv, &args);
	if (rc != 0)
		return rc;
	if (args.help) {
		cli_args_free(&args);
		return DS_EXIT_OK;
	}
	ds_config_init(&cfg);
	rc = cli_get_ulong(&review_command, &args, OPT_MAX_BODY, DS_REVIEW_MAX_BODY, 1ul << 30, &max);
	if (rc == 0 && args.operand_count > 1)
		rc = cli_usage_error("review", "give one FILE or '-', not %d", args.operand_count);
	if (rc == 0)
		rc = cli_load_config("review", cli_get(&args, OPT_CONFIG, NULL), false, &cfg);
	if (rc == 0)
		rc = read_request(args.operand_count ? args.operands[0] : "-", max, &body, &len);
	if (rc == 0)
		rc = answer(body, len, cli_has(&args, OPT_MUTATE), &cfg);
	free(body);
	ds_config_free(&cfg);
	cli_args_free(&args);
	return rc;
}
