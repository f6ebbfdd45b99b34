/*
 * bench_util.h - what the benchmarks share: a clock, min and median of a
 * sample, the result lines (one format for every bench, so that `make
 * bench` prints one table), targets judged PASS or MISS, an allocation
 * counter, tasks counted in a PID namespace of the bench's own, and the
 * few helpers of the test harness that its fixtures (tloop, xenstored,
 * guestnet) call.
 *
 * Timings are never assertions: a MISS is printed, the exit status says
 * only whether every bench could run (bu_die on a failed step).
 */
#ifndef CKPT_BENCH_UTIL_H
#define CKPT_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* CLOCK_MONOTONIC in nanoseconds. */
double bu_now_ns(void);

struct bu_stats {
	double min, med;
};

/* min and median of v[0..n) (sorts v). */
struct bu_stats bu_stats(double *v, int n);

/* Tiny counts (make bench-quick, make check): BENCH_QUICK=1 or --quick. */
bool bu_quick(int argc, char **argv);

/* The label every row of this run carries, e.g. "vm/plug" or "host/pfifo". */
void bu_set_where(const char *where);

/* One row: what was measured, the method, its min and median in unit. */
void bu_row(const char *what, const char *method, struct bu_stats s, const char *unit);
/* One row of a single value (a count, a wall time). */
void bu_value(const char *what, const char *method, double v, const char *unit);
/* A ratio row: name = a / b. */
void bu_ratio(const char *what, const char *name, double ratio);

/* A target: value compared with limit (le: value must be <= limit, else
 * >=).  Prints PASS, or MISS and by how much. */
void bu_target(const char *what, double value, bool le, double limit, const char *note);

/* A step that must work did not: print and exit 1. */
void bu_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Allocations (malloc, calloc, realloc) made by this thread so far:
 * bench_util.c replaces glibc's, as the NIC tests do.  Always 0 under a
 * sanitizer (which owns malloc). */
unsigned long bu_allocs(void);

/* Tasks (processes and threads) counted in a PID namespace: bu_pidns_enter
 * makes one and forks its first process, in which the caller returns
 * (true); the original process waits for it and exits with its status.
 * false (and nothing done) if the namespace cannot be made (not root).
 * Inside, bu_last_pid() is the namespace's last PID, so the difference of
 * two reads is the number of tasks created in between. */
bool bu_pidns_enter(void);
long bu_last_pid(void);

#endif /* CKPT_BENCH_UTIL_H */
