/* review_cpu.c - the CPU one review costs inside the server, without TLS
 * or HTTP: ds_review() of one body, /validate and /mutate in turn, in the
 * thread's arena as `serve` runs it. Prints microseconds of thread CPU per
 * review for each endpoint (the median of RUNS batches of COUNT reviews).
 *
 * Usage: review_cpu BODY.json [CONFIG.yaml]   Env: COUNT (20000), RUNS (5).
 * Built by `make build/bench/review_cpu`; bench/review.py writes a body. */
#include "config/config.h"
#include "util/util.h"
#include "webhook/webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Seconds of this thread's CPU. */
static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Microseconds of CPU per review of body in mode: the median of runs
 * batches of count. Exits when a review fails or does not answer 200. */
static double per_review(const char *body, size_t len, ds_review_mode mode, const ds_config *cfg, int runs,
			 int count)
{
	double *batch = calloc((size_t)runs, sizeof(*batch)), median;

	if (!batch)
		exit(1);
	for (int r = 0; r < runs; r++) {
		double t0 = thread_cpu();
		for (int i = 0; i < count; i++) {
			ds_review_result out;
			if (ds_review(body, len, mode, cfg, NULL, &out) < 0 || out.status != 200) {
				fprintf(stderr, "review_cpu: the review answered %d: %s\n", out.status,
					out.body ? out.body : "");
				exit(1);
			}
			ds_review_result_free(&out);
		}
		batch[r] = (thread_cpu() - t0) / count * 1e6;
	}
	qsort(batch, (size_t)runs, sizeof(*batch), by_value);
	median = batch[runs / 2];
	free(batch);
	return median;
}

int main(int argc, char **argv)
{
	const char *count_env = getenv("COUNT"), *runs_env = getenv("RUNS");
	int count = count_env ? atoi(count_env) : 20000, runs = runs_env ? atoi(runs_env) : 5;
	ds_config cfg;
	char *body = NULL, *error = NULL;
	size_t len;

	if (argc < 2 || argc > 3 || count < 1 || runs < 1) {
		fprintf(stderr, "usage: review_cpu BODY.json [CONFIG.yaml]  (env COUNT, RUNS)\n");
		return 2;
	}
	if (ds_read_file(argv[1], DS_REVIEW_MAX_BODY, &body, &len, &error) < 0 || (argc == 3 ? ds_config_load(argv[2], &cfg, &error) : (ds_config_init(&cfg), 0)) < 0) {
		fprintf(stderr, "review_cpu: %s\n", error ? error : "out of memory");
		return 1;
	}
	ds_arena_install();
	printf("/validate %.2f us/review\n", per_review(body, len, DS_REVIEW_VALIDATE, &cfg, runs, count));
	printf("/mutate %.2f us/review\n", per_review(body, len, DS_REVIEW_MUTATE, &cfg, runs, count));
	ds_config_free(&cfg);
	free(body);
	return 0;
}
