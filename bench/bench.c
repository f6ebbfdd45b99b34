/*
 * bench.c - what the library's design costs, as ratios against a baseline
 * measured in the same run (never absolute times: machines differ).
 *
 *   spawn       running /bin/true through the library's async exec (a
 *               supervisor that forks the program, pipes for its output,
 *               a pidfd, the event loop) against posix_spawn + waitpid.
 *   checkpoint  one postsuspend/preresume/commit cycle of a devset of 64
 *               disk devices against calling 64 empty functions three
 *               times: the device layer's own overhead per checkpoint.
 *
 * Output: one line per benchmark with both medians and their ratio.
 * Run with `make bench`.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

#include "../tests/ops/top.h"
#include "ckptdev.h"

extern char **environ;

#define ROUNDS 7

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static void report(const char *name, const char *unit, double lib, double base)
{
	printf("%-11s library %10.1f %s   baseline %10.1f %s   ratio %6.2f\n", name, lib, unit,
	       base, unit, lib / base);
}

/* ---------------------------------------------------------------- spawn */

static double spawn_library(ckpt_ctx *ctx, int n)
{
	char *argv[] = {"/bin/true", NULL};
	double t0 = now_ns();

	for (int i = 0; i < n; i++)
		if (top_exec(ctx, argv, NULL, 10000, 0, NULL, NULL))
			abort();
	return (now_ns() - t0) / n;
}

static double spawn_baseline(int n)
{
	char *argv[] = {"/bin/true", NULL};
	double t0 = now_ns();

	for (int i = 0; i < n; i++) {
		pid_t pid;
		int st;
		if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) ||
		    waitpid(pid, &st, 0) != pid)
			abort();
	}
	return (now_ns() - t0) / n;
}

static void bench_spawn(void)
{
	ckpt_ctx_opts opts = {.loop = CKPT_LOOP_POLL};
	double lib[ROUNDS], base[ROUNDS];
	ckpt_ctx *ctx;

	if (ckpt_ctx_new(&ctx, &opts))
		abort();
	for (int r = 0; r < ROUNDS; r++) {
		lib[r] = spawn_library(ctx, 50);
		base[r] = spawn_baseline(50);
	}
	ckpt_ctx_free(ctx);
	report("spawn", "us", median(lib, ROUNDS) / 1e3, median(base, ROUNDS) / 1e3);
}

/* ----------------------------------------------------------- checkpoint */

#define NDEV   64
#define CYCLES 20000

static volatile unsigned long sink;

__attribute__((noinline)) static int empty_step(int i)
{
	sink += (unsigned long)i;
	return 0;
}

static void bench_checkpoint(void)
{
	ckpt_ctx_opts opts = {.loop = CKPT_LOOP_POLL};
	static ckpt_dev_spec specs[NDEV];
	static const char *params[NDEV][2];
	static char targets[NDEV][32];
	double lib[ROUNDS], base[ROUNDS];
	ckpt_devset *set;
	ckpt_ctx *ctx;

	for (int i = 0; i < NDEV; i++) {
		snprintf(targets[i], sizeof(targets[i]), "target=disk%d", i);
		params[i][0] = targets[i];
		specs[i] = (ckpt_dev_spec){"disk", i, params[i]};
	}
	if (ckpt_ctx_new(&ctx, &opts) || ckpt_devset_new(ctx, 1, specs, NDEV, &set) ||
	    ckpt_devset_setup(set, NULL))
		abort();
	for (int r = 0; r < ROUNDS; r++) {
		double t0 = now_ns();
		for (int c = 0; c < CYCLES; c++)
			if (ckpt_devset_postsuspend(set) || ckpt_devset_preresume(set) ||
			    ckpt_devset_commit(set))
				abort();
		lib[r] = (now_ns() - t0) / CYCLES;
		t0 = now_ns();
		for (int c = 0; c < CYCLES; c++)
			for (int step = 0; step < 3; step++)
				for (int i = 0; i < NDEV; i++)
					empty_step(i);
		base[r] = (now_ns() - t0) / CYCLES;
	}
	ckpt_devset_teardown(set, NULL);
	ckpt_devset_free(set);
	ckpt_ctx_free(ctx);
	report("checkpoint", "ns", median(lib, ROUNDS), median(base, ROUNDS));
}

int main(void)
{
	printf("medians of %d rounds; ratio = library / baseline\n", ROUNDS);
	bench_spawn();
	bench_checkpoint();
	return 0;
}
