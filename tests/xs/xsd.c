/*
 * xsd.c - a private xenstored for tests (see xsd.h for the contract)
 *
 * xsd_start() in the order things happen:
 *   1. check the daemon binary and the stub, make the run folder
 *   2. build the daemon's argv and environment (before fork, so that the
 *      child only calls async-signal-safe functions)
 *   3. fork; the child arms PR_SET_PDEATHSIG, sets up its fds and execs
 *   4. poll: connect to dir/socket and send one XS_DIRECTORY request; the
 *      daemon is ready once an answer comes back (listen() happens before
 *      the daemon's hypervisor setup, so a connect alone proves nothing)
 *   5. export XENSTORED_PATH / XENSTORED_RUNDIR
 */

#include "xsd.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

extern char **environ;

#define XSD_LOG_NAME     "xenstored.log"
#define XSD_TRACE_NAME   "trace"
#define XSD_LOG_TAIL     2048
#define XSD_POLL_STEP_MS 2

/* Everything xsd_start() allocates before the fork. */
struct xsd_launch {
	char *argv[8];
	char **envp;
	char *env_own[4]; /* the strings we added to envp */
	char trace[PATH_MAX + 32];
	int nullfd;
	int logfd;
};

static long long xsd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void xsd_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int xsd_env_flag(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") != 0;
}

/* ---- run folder ----------------------------------------------------- */

static int xsd_rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	if (remove(path) < 0 && errno != ENOENT)
		fprintf(stderr, "xsd: cannot remove %s: %s\n", path, strerror(errno));
	return 0; /* keep going: remove as much as we can */
}

static void xsd_rmtree(const char *dir)
{
	if (nftw(dir, xsd_rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		fprintf(stderr, "xsd: cannot walk %s: %s\n", dir, strerror(errno));
}

/* Print the last XSD_LOG_TAIL bytes of the daemon's log to stderr. */
static void xsd_print_log_tail(const struct xsd *d)
{
	char path[PATH_MAX + 32];
	char buf[XSD_LOG_TAIL + 1];
	ssize_t n;
	off_t size;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", d->dir, XSD_LOG_NAME);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	size = lseek(fd, 0, SEEK_END);
	if (size > XSD_LOG_TAIL)
		lseek(fd, size - XSD_LOG_TAIL, SEEK_SET);
	else
		lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, XSD_LOG_TAIL);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	fprintf(stderr, "xsd: --- tail of %s ---\n%s%s--- end ---\n", path, buf,
	        buf[n - 1] == '\n' ? "" : "\n");
}

/* ---- process ---------------------------------------------------------- */

/*
 * Reap @pid, waiting at most @ms milliseconds (forever when negative).
 * Returns 1 if it is gone (reaped here or by someone else), 0 if not yet.
 */
static int xsd_reap(pid_t pid, long ms)
{
	long long deadline = xsd_now_ms() + ms;
	pid_t r;

	for (;;) {
		r = waitpid(pid, NULL, ms < 0 ? 0 : WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return 1;
		if (r < 0 && errno != EINTR) {
			fprintf(stderr, "xsd: waitpid %d: %s\n", (int)pid, strerror(errno));
			return 1;
		}
		if (ms >= 0 && xsd_now_ms() >= deadline)
			return 0;
		if (r == 0)
			xsd_sleep_ms(1);
	}
}

static void xsd_launch_free(struct xsd_launch *l)
{
	size_t i;

	free(l->envp);
	for (i = 0; i < sizeof(l->env_own) / sizeof(l->env_own[0]); i++)
		free(l->env_own[i]);
	if (l->nullfd >= 0)
		close(l->nullfd);
	if (l->logfd >= 0)
		close(l->logfd);
}

static int xsd_env_is(const char *entry, const char *name)
{
	size_t len = strlen(name);

	return strncmp(entry, name, len) == 0 && entry[len] == '=';
}

static char *xsd_env_entry(const char *name, const char *value)
{
	size_t len = strlen(name) + strlen(value) + 2;
	char *s = malloc(len);

	if (s)
		snprintf(s, len, "%s=%s", name, value);
	return s;
}

/* Our environment minus the variables we set, plus ours. */
static int xsd_launch_env(struct xsd_launch *l, const struct xsd *d, const char *stub)
{
	static const char *const ours[] = {"LD_PRELOAD", "XENSTORED_RUNDIR", "XENSTORED_PATH",
	                                   "CKPT_XSD_STUB_DIR"};
	size_t n = 0, i, j, k = 0;

	while (environ && environ[n])
		n++;
	l->envp = calloc(n + 5, sizeof(char *));
	if (!l->envp)
		return -1;
	for (i = 0; i < n; i++) {
		for (j = 0; j < 4; j++)
			if (xsd_env_is(environ[i], ours[j]))
				break;
		if (j == 4)
			l->envp[k++] = environ[i];
	}
	l->env_own[0] = xsd_env_entry("LD_PRELOAD", stub);
	l->env_own[1] = xsd_env_entry("XENSTORED_RUNDIR", d->dir);
	l->env_own[2] = xsd_env_entry("XENSTORED_PATH", d->socket);
	l->env_own[3] = xsd_env_entry("CKPT_XSD_STUB_DIR", d->dir);
	for (j = 0; j < 4; j++) {
		if (!l->env_own[j])
			return -1;
		l->envp[k++] = l->env_own[j];
	}
	l->envp[k] = NULL;
	return 0;
}

static int xsd_launch_prepare(struct xsd_launch *l, const struct xsd *d, const char *daemon,
                              const char *stub)
{
	char log[PATH_MAX + 32];
	int i = 0, fd;

	l->argv[i++] = (char *)daemon;
	l->argv[i++] = "-N"; /* stay in the foreground: we own the pid */
	if (xsd_env_flag("CKPT_XSD_TRACE")) {
		snprintf(l->trace, sizeof(l->trace), "%s/" XSD_TRACE_NAME, d->dir);
		l->argv[i++] = "-T";
		l->argv[i++] = l->trace;
		l->argv[i++] = "-V";
	}
	l->argv[i] = NULL;

	if (xsd_launch_env(l, d, stub) < 0) {
		fprintf(stderr, "xsd: out of memory\n");
		return -1;
	}

	/* Keep both above 2 so the dup2()s in the child cannot clash. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		l->nullfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		close(fd);
	}
	snprintf(log, sizeof(log), "%s/%s", d->dir, XSD_LOG_NAME);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		l->logfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		close(fd);
	}
	if (l->nullfd < 0 || l->logfd < 0) {
		fprintf(stderr, "xsd: cannot open /dev/null or %s: %s\n", log, strerror(errno));
		return -1;
	}
	return 0;
}

/* In the child: only async-signal-safe calls from here on. */
static void xsd_child(const struct xsd_launch *l, pid_t parent)
{
	static const char msg[] = "xsd: exec of the daemon failed\n";
	static const int dfl[] = {SIGTERM, SIGINT,  SIGHUP,  SIGQUIT, SIGCHLD,
	                          SIGPIPE, SIGALRM, SIGUSR1, SIGUSR2};
	sigset_t none;
	size_t i;
	long fd, max;

	/* Die with the thread that started us, even if it crashes. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	for (i = 0; i < sizeof(dfl) / sizeof(dfl[0]); i++)
		signal(dfl[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (dup2(l->nullfd, 0) < 0 || dup2(l->logfd, 1) < 0 || dup2(l->logfd, 2) < 0)
		_exit(127);
	/* Don't let the daemon hold the test's sockets and pipes open. */
	if (close_range(3, ~0U, 0) < 0) {
		max = sysconf(_SC_OPEN_MAX);
		if (max < 0 || max > 65536)
			max = 65536;
		for (fd = 3; fd < max; fd++)
			close((int)fd);
	}

	execve(l->argv[0], l->argv, l->envp);
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(127);
	_exit(127);
}

/* ---- readiness -------------------------------------------------------- */

/* Wait until @fd has @events, at most until @deadline. 1, 0 (timeout), -1. */
static int xsd_wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	long long left;
	int r;

	for (;;) {
		left = deadline - xsd_now_ms();
		if (left <= 0)
			return 0;
		r = poll(&p, 1, (int)left);
		if (r >= 0)
			return r;
		if (errno != EINTR)
			return -1;
	}
}

/*
 * One XS_DIRECTORY "/" request over a fresh connection.  0 once any reply
 * header arrives, -1 if the daemon cannot answer (yet).  The socket is
 * non-blocking: the daemon's listen backlog is 1, and a blocking connect()
 * to a full backlog would wait past our deadline.
 */
static int xsd_probe(const struct xsd *d, long long deadline)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct xsd_sockmsg hdr = {XS_DIRECTORY, 1, 0, 2}, rsp;
	char req[sizeof(hdr) + 2];
	size_t got = 0;
	ssize_t r;
	int fd, rc = -1;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	memcpy(sa.sun_path, d->socket, strlen(d->socket) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out;
	/* header, then the path "/" with its NUL; no padding on the wire */
	memcpy(req, &hdr, sizeof(hdr));
	memcpy(req + sizeof(hdr), "/", 2);
	if (send(fd, req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req))
		goto out;
	while (got < sizeof(rsp)) {
		if (xsd_wait_fd(fd, POLLIN, deadline) <= 0)
			goto out;
		r = recv(fd, (char *)&rsp + got, sizeof(rsp) - got, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			goto out;
		got += (size_t)r;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

/* 0 when ready, -1 (message printed) when the daemon died or timed out. */
static int xsd_wait_ready(const struct xsd *d)
{
	long long deadline = xsd_now_ms() + XSD_START_TIMEOUT_MS;
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(d->pid, &status, WNOHANG);
		if (r == d->pid) {
			if (WIFEXITED(status))
				fprintf(stderr,
				        "xsd: daemon exited with "
				        "status %d during startup\n",
				        WEXITSTATUS(status));
			else
				fprintf(stderr,
				        "xsd: daemon killed by signal "
				        "%d during startup\n",
				        WTERMSIG(status));
			return -1;
		}
		if (xsd_probe(d, deadline) == 0)
			return 0;
		if (xsd_now_ms() >= deadline) {
			fprintf(stderr,
			        "xsd: daemon did not answer on %s "
			        "within %d ms\n",
			        d->socket, XSD_START_TIMEOUT_MS);
			return -1;
		}
		xsd_sleep_ms(XSD_POLL_STEP_MS);
	}
}

/* ---- public ----------------------------------------------------------- */

int xsd_use(const struct xsd *d)
{
	if (setenv("XENSTORED_PATH", d->socket, 1) < 0 || setenv("XENSTORED_RUNDIR", d->dir, 1) < 0)
		return -1;
	return 0;
}

static int xsd_paths(struct xsd *d)
{
	const char *tmp = getenv("TMPDIR");
	int n;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	n = snprintf(d->dir, sizeof(d->dir), "%s/ckpt-xsd.XXXXXX", tmp);
	if (n < 0 || (size_t)n >= sizeof(d->dir)) {
		fprintf(stderr, "xsd: TMPDIR too long\n");
		d->dir[0] = 0;
		return -1;
	}
	if (!mkdtemp(d->dir)) {
		fprintf(stderr, "xsd: mkdtemp %s: %s\n", d->dir, strerror(errno));
		d->dir[0] = 0;
		return -1;
	}
	n = snprintf(d->socket, sizeof(d->socket), "%s/socket", d->dir);
	if (n < 0 || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fprintf(stderr,
		        "xsd: socket path %s/socket too long for a "
		        "unix socket (set a shorter TMPDIR)\n",
		        d->dir);
		return -1;
	}
	return 0;
}

int xsd_start(struct xsd *d, const char *stub_path, const char *daemon_path)
{
	struct xsd_launch l = {.nullfd = -1, .logfd = -1};
	char stub[PATH_MAX];
	long long t0 = xsd_now_ms();
	pid_t parent = getpid();
	int rc = -1, err = EIO;

	memset(d, 0, sizeof(*d));
	if (!daemon_path)
		daemon_path = XSD_DEFAULT_DAEMON;
	if (access(daemon_path, X_OK) < 0) {
		err = errno;
		fprintf(stderr, "xsd: daemon %s not usable: %s\n", daemon_path, strerror(errno));
		goto out;
	}
	if (!stub_path || !realpath(stub_path, stub)) {
		err = stub_path ? errno : EINVAL;
		fprintf(stderr, "xsd: stand-in library %s not usable: %s\n",
		        stub_path ? stub_path : "(null)", strerror(err));
		goto out;
	}
	if (strpbrk(stub, " :\t")) {
		err = EINVAL;
		fprintf(stderr, "xsd: LD_PRELOAD cannot hold the path %s\n", stub);
		goto out;
	}
	if (xsd_paths(d) < 0 || xsd_launch_prepare(&l, d, daemon_path, stub) < 0)
		goto out;

	d->pid = fork();
	if (d->pid < 0) {
		err = errno;
		d->pid = 0;
		fprintf(stderr, "xsd: fork: %s\n", strerror(err));
		goto out;
	}
	if (d->pid == 0)
		xsd_child(&l, parent);

	if (xsd_wait_ready(d) < 0) {
		xsd_print_log_tail(d);
		goto out;
	}
	if (xsd_use(d) < 0) {
		err = errno;
		fprintf(stderr, "xsd: setenv: %s\n", strerror(err));
		goto out;
	}
	if (xsd_env_flag("CKPT_XSD_VERBOSE"))
		fprintf(stderr, "xsd: pid %d ready on %s after %lld ms\n", (int)d->pid, d->socket,
		        xsd_now_ms() - t0);
	rc = 0;
out:
	xsd_launch_free(&l);
	if (rc) {
		if (d->pid > 0) {
			kill(d->pid, SIGKILL);
			xsd_reap(d->pid, -1);
			d->pid = 0;
		}
		xsd_stop(d);
		errno = err;
	}
	return rc;
}

void xsd_kill(struct xsd *d)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, SIGKILL);
	xsd_reap(d->pid, -1);
	d->pid = 0;
}

void xsd_stop(struct xsd *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGTERM);
		if (!xsd_reap(d->pid, XSD_STOP_GRACE_MS)) {
			fprintf(stderr,
			        "xsd: daemon %d ignored SIGTERM; "
			        "killing it\n",
			        (int)d->pid);
			kill(d->pid, SIGKILL);
			xsd_reap(d->pid, -1);
		}
		d->pid = 0;
	}
	if (d->dir[0])
		xsd_rmtree(d->dir);
	d->dir[0] = 0;
	d->socket[0] = 0;
}
