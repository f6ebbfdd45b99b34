/*
 * runner.c - runs the registered tests, each in a forked child with a
 * timeout, and prints TAP.
 *
 * Usage: TESTBIN [--no-skip] [--list] [PATTERN...]
 *   PATTERN   run only tests whose name matches (fnmatch) or contains it
 *   --no-skip a skipped test counts as failed (a tier that must run here)
 *
 * A test child runs in its own process group, with stdout and stderr in a
 * file that is shown (as TAP comments) when the test fails, or always with
 * CKPT_TEST_VERBOSE=1.  After the test function returns, the child checks
 * that no fd was left open and no child process left behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test.h"

struct test_case {
	char name[128];
	test_fn *fn;
	test_loop_fn *loop_fn;
	enum ckpt_loop_kind loop;
	unsigned timeout_s;
	struct test_case *next;
};

static struct test_case *tests, **tests_tail = &tests;
static char bin_dir[PATH_MAX];

static const char *const loop_names[] = {
        [CKPT_LOOP_LIBEV] = "libev",
        [CKPT_LOOP_HOOKS] = "hooks",
        [CKPT_LOOP_POLL] = "poll",
};

static void add_case(const char *name, test_fn *fn, test_loop_fn *loop_fn, int loop,
                     unsigned timeout_s)
{
	struct test_case *t = calloc(1, sizeof(*t));

	if (!t)
		abort();
	if (loop_fn)
		snprintf(t->name, sizeof(t->name), "%s/%s", name, loop_names[loop]);
	else
		snprintf(t->name, sizeof(t->name), "%s", name);
	t->fn = fn;
	t->loop_fn = loop_fn;
	t->loop = (enum ckpt_loop_kind)loop;
	t->timeout_s = timeout_s;
	*tests_tail = t;
	tests_tail = &t->next;
}

void test_register(const char *name, test_fn *fn, test_loop_fn *loop_fn, unsigned timeout_s)
{
	if (!loop_fn) {
		add_case(name, fn, NULL, 0, timeout_s);
		return;
	}
	for (int loop = CKPT_LOOP_LIBEV; loop <= CKPT_LOOP_POLL; loop++)
		add_case(name, NULL, loop_fn, loop, timeout_s);
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FAILED at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(NULL);
	exit(1);
}

void test_skip(const char *fmt, ...)
{
	va_list ap;

	printf("skipped: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(NULL);
	exit(TEST_EXIT_SKIP);
}

int test_fd_count(void)
{
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			n++;
	return n;
}

long long test_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

const char *test_bin_dir(void)
{
	return bin_dir;
}

const char *test_tmp_path(const char *name)
{
	static char bufs[8][128];
	static unsigned next;
	char *buf = bufs[next++ % 8];

	snprintf(buf, sizeof(bufs[0]), "/tmp/ckpt-test-%d-%s", (int)getpid(), name);
	return buf;
}

void test_write_script(const char *path, const char *body)
{
	FILE *f = fopen(path, "w");

	if (!f)
		FAIL("cannot write %s: %s", path, strerror(errno));
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	if (chmod(path, 0755))
		FAIL("chmod %s: %s", path, strerror(errno));
}

static unsigned timeout_scale(void)
{
	const char *s = getenv("CKPT_TEST_TIMEOUT_SCALE");
	int v = s ? atoi(s) : 1;

	return v > 0 ? (unsigned)v : 1;
}

unsigned test_scale_ms(unsigned ms)
{
	return ms * timeout_scale();
}

/* Any live or zombie child of any thread of this process? */
static bool children_left(void)
{
	char path[300], buf[64];
	bool found = false;
	struct dirent *d;
	DIR *dir = opendir("/proc/self/task");

	if (!dir)
		return false;
	while (!found && (d = readdir(dir))) {
		FILE *f;
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && buf[0] >= '0' && buf[0] <= '9') {
			fprintf(stderr, "child(ren) still present: %s\n", buf);
			found = true;
		}
		fclose(f);
	}
	closedir(dir);
	return found;
}

/* In the child: run the test, then look for what it left behind. */
static void run_child(const struct test_case *t)
{
	int fds_before = test_fd_count();
	siginfo_t si;

	if (t->loop_fn)
		t->loop_fn(t->loop);
	else
		t->fn();
	fflush(NULL);

	if (test_fd_count() != fds_before) {
		char cmd[64];
		fprintf(stderr, "LEAK: %d fds open before the test, %d after\n", fds_before,
		        test_fd_count());
		snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd >&2", (int)getpid());
		if (system(cmd) < 0)
			perror("system");
		exit(1);
	}
	if (children_left()) {
		fprintf(stderr, "LEAK: the test left a child process behind\n");
		exit(1);
	}
	memset(&si, 0, sizeof(si));
	if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT | __WALL) == 0 && si.si_pid) {
		fprintf(stderr, "LEAK: child process %d was not reaped\n", (int)si.si_pid);
		exit(1);
	}
	exit(0);
}

static void show_output(int fd)
{
	char buf[4096];
	bool bol = true;
	ssize_t n;

	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (bol)
				fputs("# ", stdout);
			fputc(buf[i], stdout);
			bol = buf[i] == '\n';
		}
	}
	if (!bol)
		fputc('\n', stdout);
}

/* The reason a skipped test gave ("skipped: ..." in its output). */
static void skip_reason(int fd, char *out, size_t len)
{
	char buf[8192], *p, *nl;
	ssize_t n;

	snprintf(out, len, "no reason given");
	lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return;
	buf[n] = '\0';
	p = strstr(buf, "skipped: ");
	if (!p)
		return;
	p += strlen("skipped: ");
	nl = strchr(p, '\n');
	if (nl)
		*nl = '\0';
	snprintf(out, len, "%s", p);
}

enum result { PASS, FAIL, SKIPPED };

static bool no_pidfd; /* pidfd_open failed once: don't ask again */

/* Wait for the test child to exit; false on timeout.  Without pidfd
 * support (valgrind 3.19 lacks pidfd_open) poll with WNOWAIT. */
static bool wait_exit(pid_t pid, int pidfd, unsigned timeout_s)
{
	long long deadline = test_now_ms() + (long long)timeout_s * 1000;
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	siginfo_t si;

	if (pidfd >= 0)
		return poll(&p, 1, (int)timeout_s * 1000) != 0;
	while (test_now_ms() < deadline) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid)
			return true;
		usleep(5000);
	}
	return false;
}

static enum result run_one(const struct test_case *t, int num)
{
	unsigned timeout_s = t->timeout_s * timeout_scale();
	bool verbose = getenv("CKPT_TEST_VERBOSE") != NULL;
	long long start = test_now_ms();
	char why[256] = "";
	int out, pidfd, status = 0;
	enum result res;
	pid_t pid;

	out = memfd_create("test-output", MFD_CLOEXEC);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		setpgid(0, 0);
		dup2(out, 1);
		dup2(out, 2);
		close(out);
		run_child(t);
	}
	setpgid(pid, pid);
	pidfd = no_pidfd ? -1 : (int)syscall(SYS_pidfd_open, pid, 0);
	no_pidfd = pidfd < 0;
	if (!wait_exit(pid, pidfd, timeout_s)) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		snprintf(why, sizeof(why), " # timed out after %u s", timeout_s);
	}
	waitpid(pid, &status, 0);
	kill(-pid, SIGKILL); /* anything the test left running */
	if (pidfd >= 0)
		close(pidfd);

	if (why[0]) {
		res = FAIL;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		res = PASS;
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == TEST_EXIT_SKIP) {
		char reason[200];
		skip_reason(out, reason, sizeof(reason));
		snprintf(why, sizeof(why), " # SKIP %s", reason);
		res = SKIPPED;
	} else {
		if (WIFSIGNALED(status))
			snprintf(why, sizeof(why), " # killed by signal %d", WTERMSIG(status));
		else
			snprintf(why, sizeof(why), " # exit status %d", WEXITSTATUS(status));
		res = FAIL;
	}
	printf("%s %d - %s%s (%lld ms)\n", res == FAIL ? "not ok" : "ok", num, t->name, why,
	       test_now_ms() - start);
	if (res == FAIL || verbose)
		show_output(out);
	fflush(stdout);
	close(out);
	return res;
}

static bool selected(const struct test_case *t, int npat, char **pat)
{
	if (npat == 0)
		return true;
	for (int i = 0; i < npat; i++)
		if (!fnmatch(pat[i], t->name, 0) || strstr(t->name, pat[i]))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	int passed = 0, failed = 0, skipped = 0, total = 0, num = 0, npat = 0;
	bool no_skip = false, list = false;
	char **pat = calloc((size_t)argc, sizeof(*pat));
	char *slash;

	snprintf(bin_dir, sizeof(bin_dir), "%s", argv[0]);
	slash = strrchr(bin_dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(bin_dir, sizeof(bin_dir), ".");

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-skip"))
			no_skip = true;
		else if (!strcmp(argv[i], "--list"))
			list = true;
		else
			pat[npat++] = argv[i];
	}
	signal(SIGPIPE, SIG_IGN);

	for (struct test_case *t = tests; t; t = t->next)
		if (selected(t, npat, pat))
			total++;
	if (list) {
		for (struct test_case *t = tests; t; t = t->next)
			if (selected(t, npat, pat))
				printf("%s\n", t->name);
		return 0;
	}
	printf("TAP version 13\n1..%d\n", total);
	for (struct test_case *t = tests; t; t = t->next) {
		if (!selected(t, npat, pat))
			continue;
		switch (run_one(t, ++num)) {
		case PASS:
			passed++;
			break;
		case FAIL:
			failed++;
			break;
		case SKIPPED:
			skipped++;
			break;
		}
	}
	if (no_skip && skipped)
		printf("# %d test(s) skipped in a tier that must run here: counted as failed\n",
		       skipped);
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	free(pat);
	return (failed || (no_skip && skipped) || total == 0) ? 1 : 0;
}
