/*
 * test_child.c - the supervisor between the library and a script: while
 * the script runs it holds none of the application's fds (pipes see EOF,
 * flock()s are free), whatever the application did to its own stdio; and
 * the application's waitpid(-1) never takes it, also where clone3 or
 * pidfds are missing (made so here with a seccomp filter).
 */
#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/sched.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness/test.h"
#include "../harness/tloop.h"
#include "../ops/top.h"

#ifdef __x86_64__
#define SECCOMP_ARCH AUDIT_ARCH_X86_64
#else
#define SECCOMP_ARCH 0 /* the filter below is written for x86_64 only */
#endif

/* A system call to fail with err, as on a kernel or under a seccomp
 * profile without it; flag: only when the first argument has that bit. */
struct deny {
	int nr;
	unsigned flag;
	int err;
};

/* For the rest of this (forked) test process and its children. */
static void deny_syscalls(const struct deny *deny, size_t n)
{
	struct sock_filter f[64];
	struct sock_fprog prog;
	unsigned k = 0;

	if (!SECCOMP_ARCH)
		SKIP("the seccomp filter of this test is written for x86_64");
	ASSERT_LE(3 + n * 5 + 1, sizeof(f) / sizeof(f[0]));
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	                                      offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SECCOMP_ARCH, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	for (size_t i = 0; i < n; i++) {
		struct sock_filter fail =
		        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)deny[i].err);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		                                      offsetof(struct seccomp_data, nr));
		if (!deny[i].flag) {
			f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			                                      (unsigned)deny[i].nr, 0, 1);
			f[k++] = fail;
			continue;
		}
		/* the low half of args[0] (little-endian) */
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		                                      (unsigned)deny[i].nr, 0, 3);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		                                      offsetof(struct seccomp_data, args[0]));
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, deny[i].flag, 0,
		                                      1);
		f[k++] = fail;
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog.len = (unsigned short)k;
	prog.filter = f;
	ASSERT_OK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0))
		SKIP("cannot install a seccomp filter: %s", strerror(errno));
}

/* A script that runs until aborted. */
static char *sleeper[] = {"/bin/sleep", "30", NULL};

static void start_sleeper(struct tloop *L, struct tdone *d, ckpt_async_how *how)
{
	*how = tdone_how(d);
	ASSERT_OK(top_exec(tloop_ctx(L), sleeper, NULL, 60000, 0, NULL, how));
}

static void stop_sleeper(struct tloop *L, struct tdone *d, ckpt_async_how *how)
{
	ASSERT_EQ(d->done, 0); /* it was still running all along */
	ASSERT_OK(ckpt_ao_abort(tloop_ctx(L), how));
	ASSERT_TRUE(tloop_run_until(L, &d->done, test_scale_ms(5000)));
	ASSERT_RC(d->rc, CKPT_ERROR_ABORTED);
}

/* The pid of this test's only child process: the library's supervisor. */
static pid_t only_child(void)
{
	char path[64], buf[64], *end;
	FILE *f;
	long pid;

	snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
	f = fopen(path, "r");
	ASSERT_TRUE(f != NULL);
	ASSERT_TRUE(fgets(buf, sizeof(buf), f) != NULL);
	fclose(f);
	pid = strtol(buf, &end, 10);
	ASSERT_GT(pid, 0);
	ASSERT_STR_EQ(end, " "); /* just the one */
	return (pid_t)pid;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The fds open in process pid, as "0 1 2".  Those from the limit on new
 * fds up are not the program's: valgrind keeps its own there. */
static void fds_of(pid_t pid, char *out, size_t len)
{
	int fds[256], n = 0;
	size_t used = 0;
	char path[64];
	struct rlimit nofile;
	struct dirent *e;
	DIR *dir;

	ASSERT_OK(getrlimit(RLIMIT_NOFILE, &nofile));
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	ASSERT_TRUE(dir != NULL);
	while ((e = readdir(dir)) && n < 256) {
		if (e->d_name[0] == '.' || (rlim_t)atoll(e->d_name) >= nofile.rlim_cur)
			continue;
		fds[n++] = atoi(e->d_name);
	}
	closedir(dir);
	qsort(fds, (size_t)n, sizeof(fds[0]), cmp_int);
	out[0] = '\0';
	for (int i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%d", i ? " " : "", fds[i]);
}

TEST_LOOPS(child_holds_no_copy_of_the_applications_pipes)
{
	static const int flags[] = {0, O_CLOEXEC};
	struct tloop *L = tloop_new(loop);

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct pollfd p = {.events = POLLIN};
		struct tdone d = {0};
		ckpt_async_how how;
		int fds[2];

		ASSERT_OK(pipe2(fds, flags[i]));
		start_sleeper(L, &d, &how);
		/* our end closed: nobody else writes, the reader sees EOF
		 * now, while the script still runs */
		close(fds[1]);
		p.fd = fds[0];
		ASSERT_EQ(poll(&p, 1, (int)test_scale_ms(2000)), 1);
		ASSERT_TRUE(p.revents & POLLHUP);
		close(fds[0]);
		stop_sleeper(L, &d, &how);
	}
	tloop_free(L);
}

TEST_LOOPS(child_holds_no_flock_of_the_application)
{
	static const int flags[] = {0, O_CLOEXEC};
	struct tloop *L = tloop_new(loop);
	char path[] = "/tmp/ckpt-flock-XXXXXX";
	int fd = mkstemp(path);

	ASSERT_GE(fd, 0);
	close(fd);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct tdone d = {0};
		ckpt_async_how how;
		int again;

		fd = open(path, O_RDWR | flags[i]);
		ASSERT_GE(fd, 0);
		ASSERT_OK(flock(fd, LOCK_EX));
		start_sleeper(L, &d, &how);
		/* the lock goes with the last fd of its open file */
		close(fd);
		again = open(path, O_RDWR | O_CLOEXEC);
		ASSERT_GE(again, 0);
		if (flock(again, LOCK_EX | LOCK_NB))
			FAIL("the lock is still held while the script runs: %s", strerror(errno));
		close(again);
		stop_sleeper(L, &d, &how);
	}
	unlink(path);
	tloop_free(L);
}

/* While a script runs, its supervisor holds none of the application's
 * fds, close-on-exec or not: only stdio and its own report pipe (4). */
static void check_supervisor_fds(struct tloop *L)
{
	struct tdone d = {0};
	ckpt_async_how how;
	char open_fds[256];
	int fds[2], sock[2];

	ASSERT_OK(pipe(fds));
	ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock));
	start_sleeper(L, &d, &how);
	/* the status pipe (3) is closed by the time the start returns */
	fds_of(only_child(), open_fds, sizeof(open_fds));
	ASSERT_STR_EQ(open_fds, "0 1 2 4");
	stop_sleeper(L, &d, &how);
	close(fds[0]);
	close(fds[1]);
	close(sock[0]);
	close(sock[1]);
}

TEST_LOOPS(child_supervisor_holds_only_stdio_and_report)
{
	struct tloop *L = tloop_new(loop);

	check_supervisor_fds(L);
	tloop_free(L);
}

/* Before Linux 5.9, or under a seccomp profile without close_range: the
 * supervisor closes them one by one. */
TEST(child_supervisor_holds_only_stdio_and_report_without_close_range)
{
	static const struct deny deny[] = {{SYS_close_range, 0, ENOSYS}};
	struct tloop *L;

	deny_syscalls(deny, 1);
	ASSERT_TRUE(syscall(SYS_close_range, 100U, 100U, 0U) < 0 && errno == ENOSYS);
	L = tloop_new(CKPT_LOOP_POLL);
	check_supervisor_fds(L);
	tloop_free(L);
}

/* What a script and a missing one gave, run with 0, 1 and 2 closed. */
struct no_stdio_run {
	int rc, status, rc_missing;
	bool out, err, cannot_execute;
};

static void close_stdio(int saved[3])
{
	for (int fd = 0; fd < 3; fd++) {
		saved[fd] = fcntl(fd, F_DUPFD_CLOEXEC, 10);
		ASSERT_GE(saved[fd], 0);
		close(fd);
	}
}

static void restore_stdio(const int saved[3])
{
	for (int fd = 0; fd < 3; fd++) {
		dup2(saved[fd], fd);
		close(saved[fd]);
	}
}

/* Nothing may fail between close_stdio and restore_stdio: the runner
 * would not see why. */
static void run_without_stdio(enum ckpt_loop_kind loop, bool loop_first, struct no_stdio_run *r)
{
	char *missing[] = {"/nonexistent/remus-script", NULL};
	char *script[] = {"/bin/sh", "-c", "read x && exit 10; echo out; echo err >&2; exit 3",
	                  NULL};
	struct tloop *L = NULL;
	int saved[3];

	if (loop_first)
		L = tloop_new(loop);
	close_stdio(saved);
	if (!loop_first)
		L = tloop_new(loop);
	r->status = -1;
	r->rc = top_exec(tloop_ctx(L), script, NULL, 5000, 0, &r->status, NULL);
	r->rc_missing = top_exec(tloop_ctx(L), missing, NULL, 5000, 0, NULL, NULL);
	r->out = tlog_contains(L, "]: out");
	r->err = tlog_contains(L, "]: err");
	r->cannot_execute = tlog_contains(L, "cannot execute /nonexistent/remus-script");
	if (!loop_first)
		tloop_free(L);
	restore_stdio(saved);
	if (loop_first)
		tloop_free(L);
}

/*
 * With 0, 1 and 2 closed, the library's own fds are made there: the
 * loop's, or (loop made first) the pipes to the script and the status
 * pipe.  The script must still get /dev/null and its output pipes, and
 * an exec failure must still be reported.
 */
TEST_LOOPS(child_works_with_the_applications_stdio_closed)
{
	for (int loop_first = 0; loop_first < 2; loop_first++) {
		struct no_stdio_run r;

		printf("stdio closed %s the ctx was made\n", loop_first ? "after" : "before");
		run_without_stdio(loop, loop_first, &r);
		ASSERT_RC(r.rc, CKPT_ERROR_SCRIPT);
		ASSERT_TRUE(WIFEXITED(r.status));
		ASSERT_EQ(WEXITSTATUS(r.status), 3);
		ASSERT_TRUE(r.out);
		ASSERT_TRUE(r.err);
		ASSERT_RC(r.rc_missing, CKPT_ERROR_SCRIPT);
		ASSERT_TRUE(r.cannot_execute);
	}
}

/* ------------------------------------------ libev's default loop */

static int app_reaped; /* children the application's waitpid(-1) took */

static void app_child_cb(struct ev_loop *ev, ev_child *w, int revents)
{
	(void)ev;
	(void)revents;
	fprintf(stderr, "the application reaped %d (wait status %#x)\n", w->rpid, w->rstatus);
	app_reaped++;
}

static void wakeup_cb(struct ev_loop *ev, ev_timer *w, int revents)
{
	(void)ev;
	(void)w;
	(void)revents;
}

/*
 * With clone3 and the given other calls denied, run scripts on libev's
 * default loop, whose SIGCHLD handler reaps with waitpid(-1): ten that
 * exit 0 and one that exits 3, all at once.  Each must report its own
 * status; the application's waitpid(-1) (seen by a watcher for any pid)
 * must get none of the library's children.
 */
static void scripts_on_the_default_loop(const struct deny *deny, size_t n)
{
	enum { N = 11 };
	static char *exit0[] = {"/bin/sh", "-c", "exit 0", NULL};
	static char *exit3[] = {"/bin/sh", "-c", "exit 3", NULL};
	ckpt_ctx_opts opts = {.loop = CKPT_LOOP_LIBEV, .ev_loop = NULL};
	struct tdone d[N] = {{0}};
	ckpt_async_how how[N];
	int status[N];
	struct ev_loop *ev;
	ev_child any;
	ckpt_ctx *ctx;
	long long deadline;
	int done;

	deny_syscalls(deny, n);
	ASSERT_TRUE(syscall(SYS_clone3, NULL, 0) < 0 && errno == ENOSYS);
	ev = ev_default_loop(0);
	ASSERT_TRUE(ev != NULL);
	ev_child_init(&any, app_child_cb, 0, 0);
	ev_child_start(ev, &any);
	ASSERT_OK(ckpt_ctx_new(&ctx, &opts));
	for (int i = 0; i < N; i++) {
		how[i] = tdone_how(&d[i]);
		status[i] = -1;
		ASSERT_OK(top_exec(ctx, i < N - 1 ? exit0 : exit3, NULL, 10000, 0, &status[i],
		                   &how[i]));
	}
	deadline = test_now_ms() + test_scale_ms(10000);
	do {
		ev_timer guard;

		ev_timer_init(&guard, wakeup_cb, 0.1, 0.);
		ev_timer_start(ev, &guard);
		ev_run(ev, EVRUN_ONCE);
		ev_timer_stop(ev, &guard);
		done = 0;
		for (int i = 0; i < N; i++)
			done += d[i].done;
	} while (done < N && test_now_ms() < deadline);

	for (int i = 0; i < N; i++) {
		printf("script %d: rc %d, wait status %#x\n", i, d[i].rc, status[i]);
		ASSERT_EQ(d[i].done, 1);
		ASSERT_RC(d[i].rc, i < N - 1 ? 0 : CKPT_ERROR_SCRIPT);
		ASSERT_TRUE(WIFEXITED(status[i]));
		ASSERT_EQ(WEXITSTATUS(status[i]), i < N - 1 ? 0 : 3);
	}
	ASSERT_EQ(app_reaped, 0);
	ev_child_stop(ev, &any);
	ASSERT_OK(ckpt_ctx_free(ctx));
	ev_loop_destroy(ev);
}

/* seccomp profiles, valgrind, kernels before 5.3 */
TEST(child_on_libevs_default_loop_without_clone3)
{
	static const struct deny deny[] = {{SYS_clone3, 0, ENOSYS}};

	scripts_on_the_default_loop(deny, sizeof(deny) / sizeof(deny[0]));
}

/* Valgrind preloads its vgpreload_*.so into the program it runs. */
static bool under_valgrind(void)
{
	const char *preload = getenv("LD_PRELOAD");

	return preload && strstr(preload, "vgpreload");
}

/*
 * The library's clone(CLONE_PIDFD) fails in the next two tests, and
 * valgrind 3.19 leaves every signal blocked after a fork-like clone()
 * fails (ML_(do_fork_clone)), so the test dies at its next SIGSEGV.  Not
 * checked under valgrind, as test_exec.c does with what valgrind lacks;
 * the other tiers check it.
 */
static bool valgrind_cannot_fail_a_clone(void)
{
	if (!under_valgrind())
		return false;
	printf("under valgrind, whose clone() cannot fail safely: not checked\n");
	return true;
}

/* clone() that will not make a pidfd: pidfd_open instead */
TEST(child_on_libevs_default_loop_without_clone3_or_clone_pidfd)
{
	static const struct deny deny[] = {{SYS_clone3, 0, ENOSYS},
	                                   {SYS_clone, CLONE_PIDFD, EINVAL}};

	if (valgrind_cannot_fail_a_clone())
		return;
	scripts_on_the_default_loop(deny, sizeof(deny) / sizeof(deny[0]));
}

/* no pidfds at all (kernels before 5.2): the poll timer */
TEST(child_on_libevs_default_loop_without_pidfds)
{
	static const struct deny deny[] = {{SYS_clone3, 0, ENOSYS},
	                                   {SYS_clone, CLONE_PIDFD, EINVAL},
	                                   {SYS_pidfd_open, 0, ENOSYS}};

	if (valgrind_cannot_fail_a_clone())
		return;
	scripts_on_the_default_loop(deny, sizeof(deny) / sizeof(deny[0]));
}
