/* certs.c - `dsguard certs`: makes the webhook's TLS material, or checks a
 * certificate. A thin layer over certs/. */
#include "certs/certs.h"
#include "cli/cli.h"
#include "cli/options.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SECONDS_PER_DAY 86400L
#define DEFAULT_DAYS 365
#define DEFAULT_WARN_DAYS 30

enum {
	OPT_OUT,
	OPT_SERVICE,
	OPT_NAMESPACE,
	OPT_HOST,
	OPT_DAYS,
	OPT_RSA,
	OPT_FORCE,
	OPT_CHECK,
	OPT_KEY,
	OPT_WARN_DAYS,
	OPT_COUNT
};

static const struct cli_option options[OPT_COUNT] = {
	[OPT_OUT] = {"out", 0, "DIR", "write ca.crt, ca.key, tls.crt, tls.key into DIR (made 0700)", false},
	[OPT_SERVICE] = {"service", 0, "NAME", "the webhook's Service (default dsguard)", false},
	[OPT_NAMESPACE] = {"namespace", 0, "NAMESPACE", "the Service's namespace (default dsguard)", false},
	[OPT_HOST] = {"host", 0, "NAME_OR_IP", "one more DNS name or IP address to serve (repeatable)", true},
	[OPT_DAYS] = {"days", 0, "N", "validity in days, 1 to 3650 (default 365)", false},
	[OPT_RSA] = {"rsa", 0, NULL, "RSA 2048 keys instead of ECDSA P-256", false},
	[OPT_FORCE] = {"force", 0, NULL, "replace the four files when they exist", false},
	[OPT_CHECK] = {"check", 0, "FILE", "print what certificate FILE says instead of making one", false},
	[OPT_KEY] = {"key", 0, "FILE", "with --check: check that FILE is the certificate's key", false},
	[OPT_WARN_DAYS] = {"warn-days", 0, "N", "with --check: fail when expiring within N days (default 30)",
			   false},
};

static const struct cli_command certs_command = {
	.name = "certs",
	.usage = "--out DIR [OPTIONS] | --check FILE [--key FILE] [--warn-days N]",
	.summary =
		"Makes TLS material for the webhook with OpenSSL: a CA and a serving certificate\n"
		"for SERVICE, SERVICE.NAMESPACE, SERVICE.NAMESPACE.svc,\n"
		"SERVICE.NAMESPACE.svc.cluster.local and each --host, written into DIR with the\n"
		"keys readable by their owner only. Prints the caBundle to register (ca.crt in\n"
		"base64, one line) on standard output, and nothing else.\n"
		"With --check, prints a certificate's subject, SANs and not-after instead, and\n"
		"exits 1 when it has expired or expires within --warn-days (or --key is not its\n"
		"key), 0 when it is fine, 2 on errors.",
	.options = options,
	.option_count = OPT_COUNT,
	.examples = "  dsguard certs --out certs\n"
		    "  dsguard certs --out certs-rsa --namespace webhooks --host dsguard.example.com \\\n"
		    "      --host 10.0.0.7 --days 90 --rsa\n"
		    "  dsguard certs --check certs/tls.crt --key certs/tls.key --warn-days 30\n",
};

/* Options that belong to making, and to checking: each refused in the other. */
static const int make_options[] = {OPT_OUT, OPT_SERVICE, OPT_NAMESPACE, OPT_HOST, OPT_DAYS, OPT_RSA, OPT_FORCE};
static const int check_options[] = {OPT_KEY, OPT_WARN_DAYS};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Prints "dsguard certs: MESSAGE" for an error that is not a usage error,
 * frees message and returns DS_EXIT_USAGE. A NULL message ran out of memory. */
static int fail(char *message)
{
	fprintf(stderr, "dsguard certs: %s\n", message ? message : "out of memory");
	free(message);
	return DS_EXIT_USAGE;
}

/* Usage error when one of opts[] was given alongside --mode. */
static int refuse_options(const struct cli_args *args, const int *opts, size_t count, const char *mode)
{
	for (size_t i = 0; i < count; i++)
		if (cli_has(args, opts[i]))
			return cli_usage_error("certs", "--%s does not go with --%s", options[opts[i]].name, mode);
	return 0;
}

/* Stores option `index` (a whole number from min to max) in *out, or
 * fallback when absent. Returns 0, or a usage error. */
static int get_number(const struct cli_args *args, int index, unsigned long fallback, unsigned long min,
		      unsigned long max, unsigned long *out)
{
	const char *text = cli_get(args, index, NULL);
	char *end;

	*out = fallback;
	if (!text)
		return 0;
	errno = 0;
	*out = strtoul(text, &end, 10);
	if (errno || !isdigit((unsigned char)text[0]) || *end || *out < min || *out > max)
		return cli_usage_error("certs", "--%s needs a whole number from %lu to %lu, not '%s'",
				       options[index].name, min, max, text);
	return 0;
}

/* Writes the made files into dir and prints the caBundle on stdout. */
static int write_and_print(const ds_cert_request *req, const ds_cert_set *set, const char *dir, bool force)
{
	char *error = NULL;
	char *bundle;
	int rc = ds_certs_write(dir, set, force, &error);

	if (rc == 1) {
		fprintf(stderr, "dsguard certs: %s; --force replaces the files\n", error ? error : dir);
		free(error);
		return DS_EXIT_USAGE;
	}
	if (rc != 0)
		return fail(error);
	bundle = ds_ca_bundle(set->ca_cert);
	if (!bundle)
		return fail(NULL);
	printf("%s\n", bundle);
	free(bundle);
	if (fflush(stdout) == EOF || ferror(stdout))
		return fail(strdup("cannot write the caBundle to standard output"));
	fprintf(stderr, "dsguard certs: wrote %s/{ca.crt,ca.key,tls.crt,tls.key} (%s, %u days) for %s.%s.svc; "
			"the caBundle is on standard output\n",
		dir, req->key_type == DS_KEY_RSA_2048 ? "RSA 2048" : "ECDSA P-256", req->days, req->service,
		req->namespace);
	return DS_EXIT_OK;
}

static int run_make(const struct cli_args *args)
{
	const char *dir = cli_get(args, OPT_OUT, "");
	ds_cert_request req = {
		.service = cli_get(args, OPT_SERVICE, "dsguard"),
		.namespace = cli_get(args, OPT_NAMESPACE, "dsguard"),
		.hosts = args->opts[OPT_HOST].values,
		.host_count = (size_t)args->opts[OPT_HOST].count,
		.key_type = cli_has(args, OPT_RSA) ? DS_KEY_RSA_2048 : DS_KEY_EC_P256,
	};
	unsigned long days;
	char *error = NULL;
	ds_cert_set set;
	int rc = refuse_options(args, check_options, COUNT_OF(check_options), "out");

	if (rc == 0)
		rc = get_number(args, OPT_DAYS, DEFAULT_DAYS, DS_CERT_MIN_DAYS, DS_CERT_MAX_DAYS, &days);
	if (rc != 0)
		return rc;
	if (!*dir)
		return cli_usage_error("certs", "--out needs a directory");
	req.days = (unsigned)days;
	if (ds_certs_check_request(&req, &error)) {
		rc = cli_usage_error("certs", "%s", error ? error : "out of memory");
		free(error);
		return rc;
	}
	if (ds_certs_make(&req, &set, &error))
		return fail(error);
	rc = write_and_print(&req, &set, dir, cli_has(args, OPT_FORCE));
	ds_cert_set_free(&set);
	return rc;
}

/* t as "2026-05-01T12:00:00Z" in buf. */
static const char *utc_text(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "%lld", (long long)t);
	return buf;
}

static void print_info(const char *path, const ds_cert_info *info)
{
	char when[64];

	printf("certificate: %s\nsubject:     %s\nissuer:      %s\nSANs:        ", path, info->subject,
	       info->issuer);
	for (size_t i = 0; i < info->san_count; i++)
		printf("%s%s", i ? ", " : "", info->sans[i]);
	printf("%s\nnot before:  %s\n", info->san_count ? "" : "none", utc_text(info->not_before, when, sizeof(when)));
	printf("not after:   %s\n", utc_text(info->not_after, when, sizeof(when)));
}

/* DS_EXIT_FINDINGS, with a line on stderr, when info has expired at `now` or
 * expires within warn_days; else DS_EXIT_OK. */
static int expiry_verdict(const char *path, const ds_cert_info *info, unsigned long warn_days, time_t now)
{
	double left = difftime(info->not_after, now);
	char when[64];

	utc_text(info->not_after, when, sizeof(when));
	if (left <= 0) {
		fprintf(stderr, "dsguard certs: %s expired on %s\n", path, when);
		return DS_EXIT_FINDINGS;
	}
	if (left < (double)warn_days * SECONDS_PER_DAY) {
		fprintf(stderr, "dsguard certs: %s expires on %s, within --warn-days %lu\n", path, when, warn_days);
		return DS_EXIT_FINDINGS;
	}
	return DS_EXIT_OK;
}

/* DS_EXIT_OK when key_path is the key of the certificate at cert_path,
 * DS_EXIT_FINDINGS when it is not, DS_EXIT_USAGE when either is unreadable. */
static int key_verdict(const char *cert_path, const char *key_path)
{
	char *error = NULL;
	int rc = ds_cert_key_check(cert_path, key_path, &error);

	if (rc < 0)
		return fail(error);
	if (rc > 0) {
		fprintf(stderr, "dsguard certs: %s\n", error ? error : "the key does not match");
		free(error);
		return DS_EXIT_FINDINGS;
	}
	printf("key:         %s matches\n", key_path);
	return DS_EXIT_OK;
}

static int run_check(const struct cli_args *args)
{
	const char *path = cli_get(args, OPT_CHECK, "");
	const char *key_path = cli_get(args, OPT_KEY, NULL);
	unsigned long warn_days;
	char *error = NULL;
	ds_cert_info info;
	int rc = refuse_options(args, make_options, COUNT_OF(make_options), "check");

	if (rc == 0)
		rc = get_number(args, OPT_WARN_DAYS, DEFAULT_WARN_DAYS, 0, DS_CERT_MAX_DAYS, &warn_days);
	if (rc != 0)
		return rc;
	if (ds_cert_inspect(path, &info, &error))
		return fail(error);
	print_info(path, &info);
	rc = expiry_verdict(path, &info, warn_days, time(NULL));
	ds_cert_info_free(&info);
	if (key_path) {
		int key_rc = key_verdict(path, key_path);
		rc = key_rc > rc ? key_rc : rc;
	}
	return rc;
}

static int run(const struct cli_args *args)
{
	if (args->operand_count > 0)
		return cli_usage_error("certs", "unexpected argument '%s'", args->operands[0]);
	if (cli_has(args, OPT_CHECK))
		return run_check(args);
	if (cli_has(args, OPT_OUT))
		return run_make(args);
	return cli_usage_error("certs", "say --out DIR to make certificates, or --check FILE to read one");
}

int cmd_certs(int argc, char **argv)
{
	struct cli_args args;
	int rc = cli_parse(&certs_command, argc, argv, &args);

	if (rc != 0)
		return rc;
	if (!args.help)
		rc = run(&args);
	cli_args_free(&args);
	return rc;
}
