/*
 * child.c - starting child processes and watching them exit.
 *
 * The library's child is a small supervisor, made with an exit signal of
 * 0 and a pidfd, that forks the program and passes on how it ended:
 *
 *   library --clone, exit signal 0--> supervisor --fork+exec--> program
 *     ^ waitid(P_PIDFD)                 | waits for it, then exits the same
 *     +---- same exit status or signal -+ way (exit N, or killed by S)
 *
 *   - the pidfd comes with the child, so there is no window in which the
 *     pid could be reaped and reused before we watch it;
 *   - a child whose exit signal is not SIGCHLD raises no SIGCHLD and is
 *     seen only by waits with __WALL or __WCLONE (ours), never by the
 *     application's waitpid(-1) (libev's default loop does that on every
 *     SIGCHLD);
 *   - a child that calls exec reports its exit with SIGCHLD again, and
 *     becomes visible to waitpid(-1); the supervisor never execs, so it
 *     stays invisible, and the program is its child, not ours: neither
 *     side can reap the other's children.
 * The child comes from clone3(CLONE_PIDFD).  Where clone3 is unavailable
 * (ENOSYS: kernels before 5.3, valgrind, seccomp profiles) it comes from
 * the old clone(), still with exit signal 0, and its pidfd from
 * CLONE_PIDFD, or where that makes none, from pidfd_open() (no waitpid(-1)
 * can reap the child and free its pid in between).  Where neither works
 * (kernels before 5.2) the child is polled with waitpid(pid, WNOHANG |
 * __WALL) on a timer, every CHILD_POLL_MS: slower to notice an exit, but
 * still only our own pid.
 *
 * The supervisor leads a new process group (set on both sides of the
 * fork), which the program and whatever it starts join, so all of them can
 * be signalled at once.  The supervisor ignores the polite signals (TERM,
 * INT, HUP, QUIT) so that it outlives its program and reports its end;
 * SIGKILL to the group ends both.  Exec failures come back through a
 * close-on-exec pipe, so the caller hears "cannot execute" at once rather
 * than as an exit status.
 *
 * How the program ended comes back twice: as the supervisor's own end (the
 * same exit code or signal), and, first, as the program's wait status
 * written to a report pipe just before the supervisor exits.  The pipe is
 * what counts when it has something: a runtime wrapped around the
 * supervisor (valgrind's leak check, a sanitizer's exit code) may change
 * how the supervisor itself ends, never what it wrote.
 *
 * The supervisor closes every fd but 0, 1 and 2 (/dev/null and the output
 * pipes), that status pipe, which it closes once it has forked, and the
 * report pipe (close-on-exec, so the program does not inherit it).  Marking
 * the application's fds close-on-exec would not do: the supervisor never
 * execs, so it would hold them for the program's whole run, and the
 * application's pipes would see no EOF, its peers no close, its flock()s
 * stay taken.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

#define CHILD_POLL_MS 10
/* The supervisor's status pipe, after 0, 1 and 2. */
#define CHILD_STATUS_FD 3
#define CHILD_REPORT_FD 4
/* Without close_range, fds up to here are closed one by one. */
#define CHILD_CLOSE_MAX 65536

/* Set once pidfd_open has said ENOSYS: a fact about this kernel. */
static atomic_bool no_pidfd_open;

static void child_fd_cb(ao_egc *egc, ao_fd *ev, int fd, short events, short revents);
static void child_poll_cb(ao_egc *egc, ao_time *ev);

void ao_child_init(ao_child *ch)
{
	ch->pid = 0;
	ch->pidfd = -1;
	ch->report_fd = -1;
	ch->func = NULL;
	ao_fd_init(&ch->fd);
	ao_time_init(&ch->poll);
}

bool ao_child_is_registered(const ao_child *ch)
{
	return ao_fd_is_registered(&ch->fd) || ao_time_is_registered(&ch->poll);
}

/* Kill the child's whole group and wait for the child (it dies at once). */
static void kill_and_reap(pid_t pid, int pidfd)
{
	siginfo_t si;

	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	if (pidfd < 0) {
		while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
			;
		return;
	}
	while (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL) < 0 && errno == EINTR)
		;
	close(pidfd);
}

/*
 * clone3's stand-in: the old clone() (flags first, the pidfd's address
 * third, as on x86-64 and arm64), with exit signal 0 all the same.  Its
 * CLONE_PIDFD (Linux 5.2) may be refused, or ignored by older kernels:
 * then pidfd_open (5.3), else no pidfd (*pidfd_out = -1: poll).
 */
static pid_t clone_old(int *pidfd_out)
{
	int pidfd = -1;
	pid_t pid;

	pid = (pid_t)syscall(SYS_clone, (unsigned long)CLONE_PIDFD, 0UL, &pidfd, 0UL, 0UL);
	if (pid < 0)
		pid = (pid_t)syscall(SYS_clone, 0UL, 0UL, 0UL, 0UL, 0UL);
	if (pid > 0 && pidfd < 0 && !atomic_load(&no_pidfd_open)) {
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (pidfd < 0 && errno == ENOSYS) {
			atomic_store(&no_pidfd_open, true);
		} else if (pidfd < 0) {
			int e = errno;
			kill_and_reap(pid, -1);
			errno = e;
			return -1;
		}
	}
	if (pid > 0)
		*pidfd_out = pidfd;
	return pid;
}

/* Make the child and its pidfd (or -1); returns the pid as fork() does. */
static pid_t clone_with_pidfd(int *pidfd_out)
{
	struct clone_args args;
	pid_t pid;
	int pidfd = -1;

	memset(&args, 0, sizeof(args));
	args.flags = CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	args.exit_signal = 0;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0 && errno == ENOSYS)
		return clone_old(pidfd_out);
	if (pid > 0)
		*pidfd_out = pidfd;
	return pid;
}

/* In the child: only async-signal-safe calls from here on. */
static void set_handler(int sig, void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigaction(sig, &sa, NULL);
}

/* End the supervisor: the raw system call, not libc's _exit, which a
 * sanitizer's runtime intercepts (it may then wait on a lock that another
 * thread of the parent held at the clone, and flushes stdio). */
static _Noreturn void supervisor_exit(int status)
{
	for (;;)
		syscall(SYS_exit_group, status);
}

static _Noreturn void report_errno(int status_fd, int e)
{
	if (write(status_fd, &e, sizeof(e)) < 0)
		supervisor_exit(127);
	supervisor_exit(127);
}

/* fd itself if above 2, else a close-on-exec copy above 2 (or -1). */
static int lift_fd(int fd)
{
	return fd > 2 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/* Close every fd from first up. */
static void close_from(int first)
{
	struct rlimit nofile;
	rlim_t end = CHILD_CLOSE_MAX;

	if (syscall(SYS_close_range, (unsigned)first, ~0U, 0U) == 0)
		return;
	/* No close_range (before Linux 5.9, or refused by a seccomp
	 * profile): one by one, up to the limit on new fds. */
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < end)
		end = nofile.rlim_cur;
	for (rlim_t fd = (rlim_t)first; fd < end; fd++)
		close((int)fd);
}

/*
 * Give the supervisor /dev/null and the output pipes as 0, 1 and 2, the
 * status pipe as CHILD_STATUS_FD and the report pipe as CHILD_REPORT_FD
 * (both still close-on-exec), and nothing else.
 * Every source may be below 3, where the application had closed its
 * stdio, so all are first copied above 2, out of the way of the dup2()s.
 * Returns the status fd; a failure is reported through it.
 */
static int set_up_fds(const struct ao_spawn *sp, int devnull, int status_fd, int report_fd)
{
	int src[3] = {devnull, sp->stdout_fd >= 0 ? sp->stdout_fd : devnull,
	              sp->stderr_fd >= 0 ? sp->stderr_fd : devnull};
	int fd = lift_fd(status_fd);

	if (fd < 0)
		report_errno(status_fd, errno);
	status_fd = fd;
	report_fd = lift_fd(report_fd);
	if (report_fd < 0)
		report_errno(status_fd, errno);
	for (int i = 0; i < 3; i++) {
		src[i] = lift_fd(src[i]);
		if (src[i] < 0)
			report_errno(status_fd, errno);
	}
	for (int i = 0; i < 3; i++)
		if (dup2(src[i], i) < 0)
			report_errno(status_fd, errno);
	if (status_fd != CHILD_STATUS_FD && dup3(status_fd, CHILD_STATUS_FD, O_CLOEXEC) < 0)
		report_errno(status_fd, errno);
	status_fd = CHILD_STATUS_FD;
	if (report_fd != CHILD_REPORT_FD && dup3(report_fd, CHILD_REPORT_FD, O_CLOEXEC) < 0)
		report_errno(status_fd, errno);
	close_from(CHILD_REPORT_FD + 1);
	return CHILD_STATUS_FD;
}

/*
 * The supervisor, in the child: only async-signal-safe calls from here on
 * (the parent may have other threads, whose locks were copied mid-use), so
 * raw system calls rather than fork() and getpid() from libc.
 */
static _Noreturn void supervise(const struct ao_spawn *sp, int devnull, int status_fd,
                                int report_fd, int fake_errno)
{
	static const int polite[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
	struct rlimit no_core = {0, 0};
	sigset_t none;
	pid_t pid;
	int status;

	for (int sig = 1; sig < NSIG; sig++)
		set_handler(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	status_fd = set_up_fds(sp, devnull, status_fd, report_fd);

	pid = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, 0UL, 0UL, 0UL, 0UL);
	if (pid < 0)
		report_errno(status_fd, errno);
	if (pid == 0) {
		if (fake_errno)
			report_errno(status_fd, fake_errno);
		execve(sp->path, sp->argv, sp->envp);
		report_errno(status_fd, errno);
	}
	close(status_fd); /* the parent reads EOF once the program runs */
	for (size_t i = 0; i < ARRAY_SIZE(polite); i++)
		set_handler(polite[i], SIG_IGN);
	while (wait4(pid, &status, 0, NULL) < 0)
		if (errno != EINTR)
			supervisor_exit(127);
	syscall(SYS_write, CHILD_REPORT_FD, &status, sizeof(status));
	if (WIFSIGNALED(status)) {
		/* end the same way, without a core of our own */
		setrlimit(RLIMIT_CORE, &no_core);
		set_handler(WTERMSIG(status), SIG_DFL);
		syscall(SYS_kill, syscall(SYS_getpid), WTERMSIG(status));
	}
	supervisor_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 127);
}

int ao_child_spawn(ckpt_ctx *ctx, ao_child *ch, ao_child_cb *func, const struct ao_spawn *sp,
                   const char *what)
{
	int status_pipe[2] = {-1, -1}, report_pipe[2] = {-1, -1};
	int devnull = -1, pidfd = -1, fake_errno = 0, child_errno = 0;
	pid_t pid;
	ssize_t n;
	int rc;

	assert(!ao_child_is_registered(ch));
	rc = ao_fault(ctx, FP_EXEC_FORK);
	if (rc) {
		LOG(ctx, ERROR, "%s: cannot start a child process: %s", what, ckpt_strerror(rc));
		return rc;
	}
	if (ao_fault(ctx, FP_EXEC_EXEC))
		fake_errno = ENOEXEC;

	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0) {
		LOGE(ctx, ERROR, "%s: cannot open /dev/null", what);
		rc = CKPT_ERROR_SYSTEM;
		goto out;
	}
	if (pipe2(status_pipe, O_CLOEXEC) || pipe2(report_pipe, O_CLOEXEC | O_NONBLOCK)) {
		LOGE(ctx, ERROR, "%s: cannot make a pipe", what);
		rc = CKPT_ERROR_SYSTEM;
		goto out;
	}

	pid = clone_with_pidfd(&pidfd);
	if (pid == 0)
		supervise(sp, devnull, status_pipe[1], report_pipe[1], fake_errno);
	if (pid < 0) {
		LOGE(ctx, ERROR, "%s: cannot start a child process", what);
		rc = CKPT_ERROR_SYSTEM;
		goto out;
	}
	setpgid(pid, pid); /* also done by the child; whichever runs first */
	close(status_pipe[1]);
	status_pipe[1] = -1;
	close(report_pipe[1]);
	report_pipe[1] = -1;

	do
		n = read(status_pipe[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		LOGEV(ctx, ERROR, child_errno, "%s: cannot execute %s", what, sp->path);
		kill_and_reap(pid, pidfd);
		rc = CKPT_ERROR_SCRIPT;
		goto out;
	}

	rc = ao_fault(ctx, FP_EXEC_PIDFD);
	if (rc)
		LOG(ctx, ERROR, "%s[%d]: cannot watch the child's pidfd: %s", what, (int)pid,
		    ckpt_strerror(rc));
	else if (pidfd >= 0)
		rc = ao_fd_register(ctx, &ch->fd, child_fd_cb, pidfd, POLLIN);
	else
		rc = ao_time_register_rel(ctx, &ch->poll, child_poll_cb, CHILD_POLL_MS);
	if (rc) {
		kill_and_reap(pid, pidfd);
		goto out;
	}
	ch->pid = pid;
	ch->pidfd = pidfd;
	ch->report_fd = report_pipe[0];
	report_pipe[0] = -1;
	ch->func = func;
out:
	for (int i = 0; i < 2; i++)
		if (report_pipe[i] >= 0)
			close(report_pipe[i]);
	if (devnull >= 0)
		close(devnull);
	if (status_pipe[0] >= 0)
		close(status_pipe[0]);
	if (status_pipe[1] >= 0)
		close(status_pipe[1]);
	return rc;
}

/* The supervisor has ended with status: the program's own wait status
 * from the report pipe if it wrote one, else that.  Closes the pipe. */
static int reported_status(ao_child *ch, int status)
{
	int reported;

	if (ch->report_fd < 0)
		return status;
	if (read(ch->report_fd, &reported, sizeof(reported)) == sizeof(reported))
		status = reported;
	close(ch->report_fd);
	ch->report_fd = -1;
	return status;
}

static int status_from_siginfo(const siginfo_t *si)
{
	switch (si->si_code) {
	case CLD_EXITED:
		return (si->si_status & 0xff) << 8;
	case CLD_DUMPED:
		return (si->si_status & 0x7f) | 0x80;
	default:
		return si->si_status & 0x7f;
	}
}

static void child_fd_cb(ao_egc *egc, ao_fd *ev, int fd, short events, short revents)
{
	ao_child *ch = CONTAINER_OF(ev, ao_child, fd);
	ckpt_ctx *ctx = egc->ctx;
	siginfo_t si;
	int status;

	(void)events;
	(void)revents;
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG | __WALL) < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		/* Someone else reaped it (a wait with __WALL or __WCLONE,
		 * or for this pid): the status is lost. */
		LOGE(ctx, ERROR, "child %d: cannot collect its exit status", (int)ch->pid);
		status = 255 << 8;
	} else if (si.si_pid == 0) {
		return; /* not exited yet */
	} else {
		status = status_from_siginfo(&si);
	}
	ao_fd_deregister(ctx, &ch->fd);
	close(ch->pidfd);
	ch->pidfd = -1;
	ch->func(egc, ch, reported_status(ch, status));
}

/* The fallback without a pidfd: is it gone yet? */
static void child_poll_cb(ao_egc *egc, ao_time *ev)
{
	ao_child *ch = CONTAINER_OF(ev, ao_child, poll);
	int status = 0;
	pid_t r = waitpid(ch->pid, &status, WNOHANG | __WALL);

	if (r == 0 || (r < 0 && errno == EINTR)) {
		if (ao_time_register_rel(egc->ctx, &ch->poll, child_poll_cb, CHILD_POLL_MS) == 0)
			return;
		/* cannot keep polling: wait for it here (after killing it) */
		kill_and_reap(ch->pid, -1);
		status = SIGKILL;
	} else if (r < 0) {
		LOGE(egc->ctx, ERROR, "child %d: cannot collect its exit status", (int)ch->pid);
		status = 255 << 8;
	}
	ch->func(egc, ch, reported_status(ch, status));
}

void ao_child_deregister(ckpt_ctx *ctx, ao_child *ch)
{
	if (!ao_child_is_registered(ch))
		return;
	ao_fd_deregister(ctx, &ch->fd);
	ao_time_deregister(ctx, &ch->poll);
	kill_and_reap(ch->pid, ch->pidfd);
	ch->pidfd = -1;
	reported_status(ch, 0); /* closes the report pipe */
}

int ao_child_signal_group(ao_child *ch, int sig)
{
	return kill(-ch->pid, sig);
}

const char *ao_wait_status_text(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)%s", WTERMSIG(status),
		         strsignal(WTERMSIG(status)), WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(buf, len, "ended with wait status %#x", (unsigned)status);
	return buf;
}
