/*
 * selftest.c - checks the private-xenstored fixture and records how
 * libxenstore 4.17 behaves against it, in particular when the daemon dies.
 *
 * Usage: selftest [-l N] [STUB [DAEMON]]
 *   STUB    path of libxsd_stub.so (default ./libxsd_stub.so)
 *   DAEMON  xenstored binary (default: see xsd.h)
 *   -l N    only start and stop a daemon N times, printing timings
 *
 * Exit status: 0 all checks passed, 1 a check failed, 4 skipped (no
 * daemon or stub on this machine).  Lines starting with "obs:" are
 * observations, not checks; they document behaviour the library relies on.
 */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "xsd.h"

#define EXIT_SKIP 4

static int failures;
static const char *stub_path = "./libxsd_stub.so";
static const char *daemon_path;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			int e_ = errno;                                                            \
			printf("FAIL %s:%d: %s (errno %s)\n", __FILE__, __LINE__, #cond,           \
			       st_errname(e_));                                                    \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static const char *st_errname(int e)
{
	const char *s = strerrorname_np(e);

	return s ? s : "?";
}

static double st_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* 1 if @fd becomes readable within @ms, else 0. */
static int st_readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1 && (p.revents & (POLLIN | POLLHUP));
}

static int st_start(struct xsd *d)
{
	double t0 = st_now_us();

	if (xsd_start(d, stub_path, daemon_path) < 0)
		return -1;
	printf("obs: daemon pid %d ready in %.1f ms (%s)\n", (int)d->pid, (st_now_us() - t0) / 1000,
	       d->dir);
	return 0;
}

/* Wait for one watch event on @h and check its path and token. */
static void st_expect_event(struct xs_handle *h, const char *path, const char *token)
{
	char **ev;

	CHECK(st_readable(xs_fileno(h), 2000));
	ev = xs_check_watch(h);
	CHECK(ev != NULL);
	if (!ev)
		return;
	if (strcmp(ev[XS_WATCH_PATH], path) || strcmp(ev[XS_WATCH_TOKEN], token)) {
		printf("FAIL watch event %s/%s, expected %s/%s\n", ev[XS_WATCH_PATH],
		       ev[XS_WATCH_TOKEN], path, token);
		failures++;
	}
	free(ev);
}

/* ---- a live daemon ------------------------------------------------------ */

static void test_basic(struct xs_handle *h)
{
	unsigned int len, num;
	char *v, **dir;

	CHECK(xs_write(h, XBT_NULL, "/st/a", "hello", 5));
	CHECK(xs_write(h, XBT_NULL, "/st/b", "", 0));
	v = xs_read(h, XBT_NULL, "/st/a", &len);
	CHECK(v && len == 5 && strcmp(v, "hello") == 0);
	free(v);
	dir = xs_directory(h, XBT_NULL, "/st", &num);
	CHECK(dir && num == 2);
	free(dir);
	CHECK(xs_rm(h, XBT_NULL, "/st/a"));
	v = xs_read(h, XBT_NULL, "/st/a", &len);
	CHECK(v == NULL && errno == ENOENT);
	free(v);
	CHECK(xs_rm(h, XBT_NULL, "/st"));
}

static void test_transaction(struct xs_handle *h, struct xs_handle *h2)
{
	xs_transaction_t t;
	unsigned int len;
	char *v;

	/* A committed transaction is seen by others only after its end. */
	t = xs_transaction_start(h);
	CHECK(t != XBT_NULL);
	CHECK(xs_write(h, t, "/tx/k", "1", 1));
	v = xs_read(h2, XBT_NULL, "/tx/k", &len);
	CHECK(v == NULL && errno == ENOENT);
	free(v);
	CHECK(xs_transaction_end(h, t, false));
	v = xs_read(h2, XBT_NULL, "/tx/k", &len);
	CHECK(v && strcmp(v, "1") == 0);
	free(v);

	/* A conflicting write in between makes the commit fail with EAGAIN. */
	t = xs_transaction_start(h);
	v = xs_read(h, t, "/tx/k", &len);
	free(v);
	CHECK(xs_write(h2, XBT_NULL, "/tx/k", "2", 1));
	CHECK(xs_write(h, t, "/tx/k", "3", 1));
	CHECK(!xs_transaction_end(h, t, false) && errno == EAGAIN);
	printf("obs: conflicting transaction end -> false, errno %s\n", st_errname(errno));
	CHECK(xs_rm(h, XBT_NULL, "/tx"));
}

static void test_watch(struct xs_handle *h)
{
	int fd;

	CHECK(xs_write(h, XBT_NULL, "/w", "", 0));
	CHECK(xs_watch(h, "/w", "tok"));
	fd = xs_fileno(h);
	CHECK(fd >= 0);
	/* Registering fires once at once, for the watched path itself. */
	st_expect_event(h, "/w", "tok");
	CHECK(!st_readable(fd, 0));
	CHECK(xs_check_watch(h) == NULL && errno == EAGAIN);

	CHECK(xs_write(h, XBT_NULL, "/w/child", "x", 1));
	st_expect_event(h, "/w/child", "tok");
	CHECK(xs_rm(h, XBT_NULL, "/w/child"));
	st_expect_event(h, "/w/child", "tok");
	CHECK(!st_readable(fd, 50));
	CHECK(xs_unwatch(h, "/w", "tok"));
	CHECK(xs_rm(h, XBT_NULL, "/w"));
}

static void test_round_trip(struct xs_handle *h, const char *what)
{
	enum { N = 2000 };
	unsigned int len;
	double t0;
	char *v;
	int i;

	CHECK(xs_write(h, XBT_NULL, "/rt", "v", 1));
	t0 = st_now_us();
	for (i = 0; i < N; i++) {
		v = xs_read(h, XBT_NULL, "/rt", &len);
		if (!v) {
			CHECK(v != NULL);
			break;
		}
		free(v);
	}
	printf("obs: xs_read round trip %.1f us (mean of %d, %s)\n", (st_now_us() - t0) / N, N,
	       what);
	CHECK(xs_rm(h, XBT_NULL, "/rt"));
}

static void test_two_daemons(struct xsd *d1)
{
	struct xs_handle *h1, *h2;
	struct xsd d2 = {0};
	char dir2[sizeof(d2.dir)];
	unsigned int len;
	char *v;

	/* d1 is current; open h1 on it before d2 takes over the env. */
	CHECK(xsd_use(d1) == 0);
	h1 = xs_open(0);
	CHECK(h1 != NULL);
	if (st_start(&d2) < 0) {
		CHECK(!"second daemon started");
		xs_close(h1);
		return;
	}
	CHECK(strcmp(getenv("XENSTORED_PATH"), d2.socket) == 0);
	CHECK(strcmp(d1->dir, d2.dir) != 0);
	h2 = xs_open(0);
	CHECK(h2 != NULL);
	if (!h1 || !h2)
		goto out;
	CHECK(xs_write(h1, XBT_NULL, "/only/one", "1", 1));
	CHECK(xs_write(h2, XBT_NULL, "/only/two", "2", 1));
	v = xs_read(h2, XBT_NULL, "/only/one", &len);
	CHECK(v == NULL && errno == ENOENT);
	free(v);
	v = xs_read(h1, XBT_NULL, "/only/two", &len);
	CHECK(v == NULL && errno == ENOENT);
	free(v);
	CHECK(xs_rm(h1, XBT_NULL, "/only"));
out:
	xs_close(h1);
	xs_close(h2);
	snprintf(dir2, sizeof(dir2), "%s", d2.dir);
	xsd_stop(&d2);
	CHECK(access(dir2, F_OK) < 0 && errno == ENOENT);
	CHECK(xsd_use(d1) == 0);
}

/* ---- a dying daemon ----------------------------------------------------- */

/*
 * The observations run in a child process so that a SIGPIPE or a hang
 * cannot take the whole selftest down: SIGPIPE is left at SIG_DFL there,
 * and alarm() turns a hang into SIGALRM.  The parent owns the daemon (only
 * it can reap it) and kills it at the moments the child asks for.
 */

enum st_death {
	DEATH_IDLE,        /* the daemon dies while nothing is in flight */
	DEATH_MID_PLAIN,   /* dies during xs_read on a handle without watches */
	DEATH_MID_WATCHED, /* same, on a handle with a watch (reader thread) */
};

static const char *const st_death_name[] = {"idle", "mid-request/plain", "mid-request/watched"};

static void st_obs_ptr(const char *what, void *p, double t0)
{
	int e = errno;

	printf("obs:   %-34s -> %s, errno %s (%.1f ms)\n", what, p ? "non-NULL" : "NULL",
	       p ? "-" : st_errname(e), (st_now_us() - t0) / 1000);
	fflush(stdout);
}

static void st_obs_bool(const char *what, bool ok, double t0)
{
	int e = errno;

	printf("obs:   %-34s -> %s, errno %s (%.1f ms)\n", what, ok ? "true" : "false",
	       ok ? "-" : st_errname(e), (st_now_us() - t0) / 1000);
	fflush(stdout);
}

static void st_sync_send(int fd, char c)
{
	if (write(fd, &c, 1) != 1)
		_exit(3);
}

static char st_sync_recv(int fd)
{
	char c = 0;

	if (read(fd, &c, 1) != 1)
		_exit(3);
	return c;
}

static void st_dying_child(enum st_death how, int to_parent, int from_parent)
{
	struct xs_handle *hw, *hp, *h;
	struct sigaction sa;
	unsigned int len, num;
	char **ev;
	void *p;
	double t0;
	int fd;

	signal(SIGPIPE, SIG_DFL);
	hw = xs_open(0);
	hp = xs_open(0);
	if (!hw || !hp || !xs_watch(hw, "/", "tok"))
		_exit(2);
	fd = xs_fileno(hw);
	ev = xs_check_watch(hw);
	if (!st_readable(fd, 0) && !ev) {
		/* the initial event may still be on its way */
		st_readable(fd, 1000);
		ev = xs_check_watch(hw);
	}
	free(ev);
	h = how == DEATH_MID_WATCHED ? hw : hp;

	alarm(10);
	st_sync_send(to_parent, 'r');
	st_sync_recv(from_parent);

	if (how != DEATH_IDLE) {
		/* daemon is SIGSTOPped: this read waits; then it is killed */
		t0 = st_now_us();
		p = xs_read(h, XBT_NULL, "/", &len);
		st_obs_ptr(how == DEATH_MID_PLAIN ? "xs_read in flight (plain handle)"
		                                  : "xs_read in flight (watched handle)",
		           p, t0);
		free(p);
	} else {
		/* how soon does the reader thread notice the EOF? */
		t0 = st_now_us();
		while (!(p = xs_check_watch(hw)) && errno == EAGAIN && st_now_us() - t0 < 1e6)
			usleep(50);
		st_obs_ptr("xs_check_watch until not EAGAIN", p, t0);
		free(p);
	}

	printf("obs:   xs_fileno fd readable within 1 s -> %s\n",
	       st_readable(fd, 1000) ? "YES" : "no");
	t0 = st_now_us();
	p = xs_check_watch(hw);
	st_obs_ptr("xs_check_watch (watched)", p, t0);
	free(p);
	t0 = st_now_us();
	p = xs_read_watch(hw, &num);
	st_obs_ptr("xs_read_watch, blocking (watched)", p, t0);
	free(p);
	t0 = st_now_us();
	p = xs_read(hw, XBT_NULL, "/", &len);
	st_obs_ptr("xs_read (watched)", p, t0);
	free(p);
	t0 = st_now_us();
	p = xs_read(hp, XBT_NULL, "/", &len);
	st_obs_ptr("xs_read (plain)", p, t0);
	free(p);
	t0 = st_now_us();
	p = xs_read(hp, XBT_NULL, "/", &len);
	st_obs_ptr("xs_read again (plain)", p, t0);
	free(p);
	t0 = st_now_us();
	st_obs_bool("xs_write (plain)", xs_write(hp, XBT_NULL, "/x", "1", 1), t0);
	t0 = st_now_us();
	st_obs_bool("xs_watch (plain)", xs_watch(hp, "/y", "t"), t0);
	t0 = st_now_us();
	p = xs_check_watch(hp);
	st_obs_ptr("xs_check_watch (plain, now watched)", p, t0);
	free(p);
	t0 = st_now_us();
	p = xs_open(0);
	st_obs_ptr("xs_open(0) on the dead socket", p, t0);
	xs_close(p);
	sigaction(SIGPIPE, NULL, &sa);
	printf("obs:   SIGPIPE disposition afterwards -> %s\n",
	       sa.sa_handler == SIG_DFL ? "SIG_DFL (restored)" : "changed");
	t0 = st_now_us();
	xs_close(hw);
	xs_close(hp);
	printf("obs:   xs_close of both handles took %.1f ms\n", (st_now_us() - t0) / 1000);
	fflush(stdout);
	_exit(0);
}

static void test_dying(enum st_death how)
{
	int to_parent[2], from_parent[2], status;
	struct xsd d = {0};
	pid_t child;

	printf("obs: daemon death, %s:\n", st_death_name[how]);
	if (st_start(&d) < 0) {
		CHECK(!"daemon started");
		return;
	}
	if (pipe(to_parent) < 0 || pipe(from_parent) < 0) {
		CHECK(!"pipe");
		xsd_stop(&d);
		return;
	}
	fflush(stdout);
	child = fork();
	if (child == 0) {
		close(to_parent[0]);
		close(from_parent[1]);
		st_dying_child(how, to_parent[1], from_parent[0]);
	}
	close(to_parent[1]);
	close(from_parent[0]);
	CHECK(child > 0);

	if (child > 0 && st_sync_recv(to_parent[0]) == 'r') {
		if (how == DEATH_IDLE) {
			xsd_kill(&d);
			st_sync_send(from_parent[1], 'k');
		} else {
			kill(d.pid, SIGSTOP);
			st_sync_send(from_parent[1], 'g');
			usleep(200 * 1000); /* let the child's request go out */
			xsd_kill(&d);
		}
	}
	if (child > 0 && waitpid(child, &status, 0) == child) {
		if (WIFEXITED(status))
			printf("obs:   observer exited with %d\n", WEXITSTATUS(status));
		else
			printf("obs:   observer KILLED by signal %d (%s)\n", WTERMSIG(status),
			       strsignal(WTERMSIG(status)));
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	close(to_parent[0]);
	close(from_parent[1]);
	CHECK(access(d.socket, F_OK) == 0); /* xsd_kill keeps the folder */
	xsd_stop(&d);
	xsd_stop(&d); /* idempotent */
}

/* ---- main ------------------------------------------------------------- */

static int loop(int n)
{
	double t0, ms, min = 1e9, max = 0, sum = 0;
	struct xsd d;
	int i;

	for (i = 0; i < n; i++) {
		t0 = st_now_us();
		if (xsd_start(&d, stub_path, daemon_path) < 0)
			return 1;
		ms = (st_now_us() - t0) / 1000;
		xsd_stop(&d);
		sum += ms;
		min = ms < min ? ms : min;
		max = ms > max ? ms : max;
	}
	printf("obs: %d starts to ready: min %.1f ms, mean %.1f ms, "
	       "max %.1f ms\n",
	       n, min, sum / n, max);
	return 0;
}

int main(int argc, char **argv)
{
	struct xs_handle *h, *h2;
	struct xsd d = {0};
	int opt, n = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "l:")) != -1) {
		if (opt != 'l') {
			fprintf(stderr, "usage: %s [-l N] [STUB [DAEMON]]\n", argv[0]);
			return 2;
		}
		n = atoi(optarg);
	}
	if (optind < argc)
		stub_path = argv[optind++];
	if (optind < argc)
		daemon_path = argv[optind++];

	if (st_start(&d) < 0) {
		if (errno == ENOENT) {
			printf("skipped: no xenstored or stand-in here\n");
			return EXIT_SKIP;
		}
		printf("FAIL: could not start a private xenstored\n");
		return 1;
	}
	if (n > 0) {
		xsd_stop(&d);
		return loop(n);
	}

	h = xs_open(0);
	h2 = xs_open(0);
	CHECK(h && h2);
	if (h && h2) {
		test_basic(h);
		test_transaction(h, h2);
		test_round_trip(h, "handle without watches");
		test_watch(h);
		test_round_trip(h, "handle with reader thread");
	}
	xs_close(h);
	xs_close(h2);

	test_two_daemons(&d);
	xsd_stop(&d);
	CHECK(d.pid == 0 && d.dir[0] == 0);

	test_dying(DEATH_IDLE);
	test_dying(DEATH_MID_PLAIN);
	test_dying(DEATH_MID_WATCHED);

	printf("%s: %d failure(s)\n", failures ? "FAILED" : "passed", failures);
	return failures ? 1 : 0;
}
