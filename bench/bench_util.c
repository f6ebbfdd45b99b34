/*
 * bench_util.c - see bench_util.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tests/harness/test.h"
#include "bench_util.h"

static const char *where = "host";

double bu_now_ns(void)
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

struct bu_stats bu_stats(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return (struct bu_stats){v[0], n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2};
}

bool bu_quick(int argc, char **argv)
{
	const char *q = getenv("BENCH_QUICK");

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--quick"))
			return true;
	return q && q[0] && strcmp(q, "0");
}

void bu_set_where(const char *w)
{
	where = w;
}

void bu_row(const char *what, const char *method, struct bu_stats s, const char *unit)
{
	printf("  %-10s %-30s %-24s min %10.1f  med %10.1f %s\n", where, what, method, s.min, s.med,
	       unit);
	fflush(stdout);
}

void bu_value(const char *what, const char *method, double v, const char *unit)
{
	printf("  %-10s %-30s %-24s     %10.1f %s\n", where, what, method, v, unit);
	fflush(stdout);
}

void bu_ratio(const char *what, const char *name, double ratio)
{
	printf("  %-10s %-30s %-24s ratio %8.2fx\n", where, what, name, ratio);
	fflush(stdout);
}

void bu_target(const char *what, double value, bool le, double limit, const char *note)
{
	bool pass = le ? value <= limit : value >= limit;

	printf("  TARGET %-10s %-44s %9.2f %s %-8.2f %s", where, what, value,
	       le ? "<=" : ">=", limit, pass ? "PASS" : "MISS");
	if (!pass)
		printf(" by %.0f%%", le ? (value / limit - 1) * 100 : (1 - value / limit) * 100);
	if (note && note[0])
		printf(" (%s)", note);
	printf("\n");
	fflush(stdout);
}

void bu_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

/* ------------------------------------------------------------ allocations */

static _Thread_local unsigned long thread_allocs;

unsigned long bu_allocs(void)
{
	return thread_allocs;
}

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

void *malloc(size_t n)
{
	thread_allocs++;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	thread_allocs++;
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	thread_allocs++;
	return __libc_realloc(p, n);
}

void free(void *p)
{
	__libc_free(p);
}
#endif

/* ------------------------------------------------------ a PID namespace */

bool bu_pidns_enter(void)
{
	pid_t pid;
	int st;

	if (unshare(CLONE_NEWPID))
		return false;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		bu_die("fork: %s", strerror(errno));
	if (pid == 0)
		return true;
	if (waitpid(pid, &st, 0) != pid)
		bu_die("waitpid: %s", strerror(errno));
	exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

long bu_last_pid(void)
{
	FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "r");
	long v = -1;

	if (!f || fscanf(f, "%ld", &v) != 1)
		bu_die("cannot read /proc/sys/kernel/ns_last_pid");
	fclose(f);
	return v;
}

/* ------------------------------------------- the test harness's helpers */

/* The fixtures the benches borrow (tests/harness/tloop.c, tests/xs,
 * tests/nic/guestnet.c) report through these; runner.c has them for the
 * tests, with a main of its own. */

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "bench: %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

void test_skip(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "bench: cannot run: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

long long test_now_ms(void)
{
	return (long long)(bu_now_ns() / 1e6);
}

/* The tests' binaries (libxsd_stub.so): BUILD/tests, next to BUILD/bench. */
const char *test_bin_dir(void)
{
	static char dir[PATH_MAX];
	char exe[PATH_MAX];
	ssize_t n;

	if (dir[0])
		return dir;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		bu_die("readlink /proc/self/exe: %s", strerror(errno));
	exe[n] = '\0';
	snprintf(dir, sizeof(dir), "%s/../tests", dirname(exe));
	return dir;
}

unsigned test_scale_ms(unsigned ms)
{
	return ms;
}

void test_write_script(const char *path, const char *body)
{
	FILE *f = fopen(path, "w");

	if (!f)
		bu_die("cannot write %s: %s", path, strerror(errno));
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	if (chmod(path, 0755))
		bu_die("chmod %s: %s", path, strerror(errno));
}
