/*
 * bench.c - what the library's core costs, as ratios against a baseline
 * measured in the same run (never absolute times: machines differ).
 *
 *   spawn       running /bin/true through the library's async exec (a
 *               supervisor that forks the program, pipes for its output,
 *               a pidfd, the event loop) against the same two processes
 *               made by hand (fork; the child forks and execs the program
 *               with its output on a pipe and waits for it; the parent
 *               reads the pipe to its end and waits), and, for reference,
 *               posix_spawn + waitpid of the program alone.
 *   dispatch    one timer event and one fd event through each loop
 *               binding (libev, hooks: the tests' epoll loop, poll)
 *               against raw libev: a 0 ms timer re-armed from its own
 *               callback, and a pipe that stays readable, one loop
 *               iteration per event.
 *   checkpoint  one postsuspend/preresume/commit cycle of a devset of 64
 *               disk devices against calling 64 empty functions three
 *               times: the device layer's own overhead per checkpoint.
 *   disks       setup and teardown of 256 disk stubs whose script sleeps
 *               S ms, max_scripts 256: the wall time against S (the
 *               scripts run in parallel), and the tasks created, counted
 *               in a PID namespace of the bench's own.
 *
 * BENCH_QUICK=1 or --quick: tiny counts.  Run with `make bench`.
 */
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/ao/internal.h"
#include "../tests/harness/test.h"
#include "../tests/harness/tloop.h"
#include "../tests/ops/top.h"
#include "bench_util.h"
#include "ckptdev.h"

extern char **environ;

static bool quick, in_pidns;
static int rounds;

/* ---------------------------------------------------------------- spawn */

static double spawn_library(ckpt_ctx *ctx, int n)
{
	char *argv[] = {"/bin/true", NULL};
	double t0 = bu_now_ns();

	for (int i = 0; i < n; i++)
		if (top_exec(ctx, argv, NULL, 10000, 0, NULL, NULL))
			bu_die("top_exec /bin/true failed");
	return (bu_now_ns() - t0) / n;
}

/* The library's two processes, by hand: a middle process that forks and
 * execs the program with its output on a pipe, and waits for it. */
static double spawn_by_hand(int n)
{
	double t0 = bu_now_ns();

	for (int i = 0; i < n; i++) {
		int out[2], st;
		char buf[256];
		pid_t mid;

		if (pipe2(out, O_CLOEXEC))
			bu_die("pipe: %s", strerror(errno));
		mid = fork();
		if (mid == 0) {
			pid_t prog = fork();

			if (prog == 0) {
				int null = open("/dev/null", O_RDONLY);

				dup2(null, 0);
				dup2(out[1], 1);
				dup2(out[1], 2);
				execl("/bin/true", "/bin/true", (char *)NULL);
				_exit(127);
			}
			_exit(waitpid(prog, &st, 0) == prog && WIFEXITED(st) ? WEXITSTATUS(st)
			                                                     : 126);
		}
		close(out[1]);
		while (read(out[0], buf, sizeof(buf)) > 0)
			;
		close(out[0]);
		if (waitpid(mid, &st, 0) != mid || !WIFEXITED(st) || WEXITSTATUS(st))
			bu_die("spawn by hand failed");
	}
	return (bu_now_ns() - t0) / n;
}

static double spawn_posix(int n)
{
	char *argv[] = {"/bin/true", NULL};
	double t0 = bu_now_ns();

	for (int i = 0; i < n; i++) {
		pid_t pid;
		int st;

		if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) ||
		    waitpid(pid, &st, 0) != pid)
			bu_die("posix_spawn failed");
	}
	return (bu_now_ns() - t0) / n;
}

static void bench_spawn(void)
{
	ckpt_ctx_opts opts = {.loop = CKPT_LOOP_POLL};
	double lib[16], hand[16], posix[16];
	struct bu_stats l, h, p;
	int n = quick ? 5 : 50;
	ckpt_ctx *ctx;

	if (ckpt_ctx_new(&ctx, &opts))
		bu_die("ckpt_ctx_new");
	for (int r = 0; r < rounds; r++) {
		lib[r] = spawn_library(ctx, n) / 1e3;
		hand[r] = spawn_by_hand(n) / 1e3;
		posix[r] = spawn_posix(n) / 1e3;
	}
	ckpt_ctx_free(ctx);
	l = bu_stats(lib, rounds);
	h = bu_stats(hand, rounds);
	p = bu_stats(posix, rounds);
	bu_row("spawn /bin/true", "library (async exec)", l, "us");
	bu_row("spawn /bin/true", "two processes by hand", h, "us");
	bu_row("spawn /bin/true", "posix_spawn alone", p, "us");
	bu_ratio("spawn /bin/true", "library/by hand", l.med / h.med);
}

/* ------------------------------------------------------------- dispatch */

struct disp {
	ckpt_ctx *ctx;
	ao_time timer;
	ao_fd fd;
	int count, n;
};

static void disp_timer_cb(ao_egc *egc, ao_time *ev)
{
	struct disp *d = CONTAINER_OF(ev, struct disp, timer);

	if (++d->count < d->n && ao_time_register_rel(egc->ctx, &d->timer, disp_timer_cb, 0))
		bu_die("ao_time_register_rel");
}

static void disp_fd_cb(ao_egc *egc, ao_fd *ev, int fd, short events, short revents)
{
	struct disp *d = CONTAINER_OF(ev, struct disp, fd);

	(void)fd, (void)events, (void)revents;
	if (++d->count >= d->n)
		ao_fd_deregister(egc->ctx, &d->fd);
}

/* ns per event through the library on binding kind; fd: -1 for timers. */
static double dispatch_library(enum ckpt_loop_kind kind, int fd, int n)
{
	struct tloop *L = tloop_new(kind);
	struct disp d = {.ctx = tloop_ctx(L), .n = n};
	ao_egc egc;
	double t0;
	int r;

	ao_time_init(&d.timer);
	ao_fd_init(&d.fd);
	tloop_run_once(L, 0);
	ao_egc_enter(&egc, d.ctx);
	r = fd < 0 ? ao_time_register_rel(d.ctx, &d.timer, disp_timer_cb, 0)
	           : ao_fd_register(d.ctx, &d.fd, disp_fd_cb, fd, POLLIN);
	ao_egc_leave(&egc);
	if (r)
		bu_die("registering the %s: %s", fd < 0 ? "timer" : "fd", ckpt_strerror(r));
	t0 = bu_now_ns();
	while (d.count < n)
		tloop_run_once(L, 1000);
	t0 = (bu_now_ns() - t0) / n;
	tloop_free(L);
	return t0;
}

static int raw_count, raw_n;

static void raw_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	if (++raw_count < raw_n) {
		ev_timer_set(w, 0., 0.);
		ev_timer_start(loop, w);
	}
}

static void raw_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	if (++raw_count >= raw_n)
		ev_io_stop(loop, w);
}

static double dispatch_raw(int fd, int n)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	ev_timer t;
	ev_io io;
	double t0;

	raw_count = 0;
	raw_n = n;
	if (fd < 0) {
		ev_timer_init(&t, raw_timer_cb, 0., 0.);
		ev_timer_start(loop, &t);
	} else {
		ev_io_init(&io, raw_io_cb, fd, EV_READ);
		ev_io_start(loop, &io);
	}
	t0 = bu_now_ns();
	while (raw_count < n)
		ev_run(loop, EVRUN_ONCE);
	t0 = (bu_now_ns() - t0) / n;
	ev_loop_destroy(loop);
	return t0;
}

static void bench_dispatch(void)
{
	static const char *const names[3] = {"libev binding", "hooks binding", "poll binding"};
	static const enum ckpt_loop_kind kinds[3] = {CKPT_LOOP_LIBEV, CKPT_LOOP_HOOKS,
	                                             CKPT_LOOP_POLL};
	int n = quick ? 200 : 20000, p[2];
	double v[4][16];

	/* a pipe that stays readable: every loop iteration has one fd event */
	if (pipe2(p, O_CLOEXEC) || write(p[1], "x", 1) != 1)
		bu_die("pipe: %s", strerror(errno));
	for (int what = 0; what < 2; what++) {
		int fd = what ? p[0] : -1;
		const char *label = what ? "dispatch per fd event" : "dispatch per timer event";
		struct bu_stats raw, st;
		char t[64];

		for (int r = 0; r < rounds; r++) {
			v[3][r] = dispatch_raw(fd, n);
			for (int b = 0; b < 3; b++)
				v[b][r] = dispatch_library(kinds[b], fd, n);
		}
		raw = bu_stats(v[3], rounds);
		bu_row(label, "raw libev", raw, "ns");
		for (int b = 0; b < 3; b++) {
			st = bu_stats(v[b], rounds);
			bu_row(label, names[b], st, "ns");
			bu_ratio(label, names[b], st.med / raw.med);
			snprintf(t, sizeof(t), "%s %s/raw libev", what ? "fd" : "timer", names[b]);
			bu_target(t, st.med / raw.med, true, 1.2, "medians");
		}
	}
	close(p[0]);
	close(p[1]);
}

/* ----------------------------------------------------------- checkpoint */

#define NDEV 64

static volatile unsigned long sink;

__attribute__((noinline)) static int empty_step(int i)
{
	sink += (unsigned long)i;
	return 0;
}

/* A devset of n disks "disk0".., each with params extra (may be NULL). */
static ckpt_devset *disk_devset(ckpt_ctx *ctx, int n, const char *extra)
{
	static ckpt_dev_spec specs[256];
	static const char *params[256][3];
	static char targets[256][32];
	ckpt_devset *set;

	for (int i = 0; i < n; i++) {
		snprintf(targets[i], sizeof(targets[i]), "target=disk%d", i);
		params[i][0] = targets[i];
		params[i][1] = extra;
		params[i][2] = NULL;
		specs[i] = (ckpt_dev_spec){"disk", i, params[i]};
	}
	if (ckpt_devset_new(ctx, 1, specs, (size_t)n, &set))
		bu_die("ckpt_devset_new of %d disks", n);
	return set;
}

static void bench_checkpoint(void)
{
	ckpt_ctx_opts opts = {.loop = CKPT_LOOP_POLL};
	int cycles = quick ? 200 : 20000;
	double lib[16], base[16];
	struct bu_stats l, b;
	unsigned long a0, allocs;
	ckpt_devset *set;
	ckpt_ctx *ctx;

	if (ckpt_ctx_new(&ctx, &opts))
		bu_die("ckpt_ctx_new");
	set = disk_devset(ctx, NDEV, NULL);
	if (ckpt_devset_setup(set, NULL))
		bu_die("setup of %d disks", NDEV);
	a0 = bu_allocs();
	for (int r = 0; r < rounds; r++) {
		double t0 = bu_now_ns();
		for (int c = 0; c < cycles; c++)
			if (ckpt_devset_postsuspend(set) || ckpt_devset_preresume(set) ||
			    ckpt_devset_commit(set))
				bu_die("checkpoint of %d disks failed", NDEV);
		lib[r] = (bu_now_ns() - t0) / cycles;
		t0 = bu_now_ns();
		for (int c = 0; c < cycles; c++)
			for (int step = 0; step < 3; step++)
				for (int i = 0; i < NDEV; i++)
					empty_step(i);
		base[r] = (bu_now_ns() - t0) / cycles;
	}
	allocs = bu_allocs() - a0;
	ckpt_devset_teardown(set, NULL);
	ckpt_devset_free(set);
	ckpt_ctx_free(ctx);
	l = bu_stats(lib, rounds);
	b = bu_stats(base, rounds);
	bu_row("checkpoint 64 disks", "library", l, "ns");
	bu_row("checkpoint 64 disks", "64x3 empty calls", b, "ns");
	bu_ratio("checkpoint 64 disks", "library/empty calls", l.med / b.med);
	bu_value("checkpoint 64 disks allocations", "library", (double)allocs / (rounds * cycles),
	         "per checkpoint");
	if (allocs)
		bu_die("the checkpoints of %d disks allocated (%lu)", NDEV, allocs);
}

/* ---------------------------------------------------------------- disks */

static void bench_disk_scripts(void)
{
	int n = quick ? 16 : 256, sleep_ms = quick ? 100 : 1000;
	char dir[] = "/tmp/ckpt-bench.XXXXXX", script[64], param[80], body[64], what[64];
	ckpt_ctx_opts opts = {.loop = CKPT_LOOP_POLL, .max_scripts = (unsigned)n};
	double t0, t1, t2;
	long p0 = 0, p1 = 0, p2 = 0;
	ckpt_devset *set;
	ckpt_ctx *ctx;

	if (!mkdtemp(dir))
		bu_die("mkdtemp: %s", strerror(errno));
	snprintf(script, sizeof(script), "%s/disk-script", dir);
	snprintf(body, sizeof(body), "exec sleep %d.%03d", sleep_ms / 1000, sleep_ms % 1000);
	test_write_script(script, body);
	snprintf(param, sizeof(param), "script=%s", script);
	if (ckpt_ctx_new(&ctx, &opts))
		bu_die("ckpt_ctx_new");
	set = disk_devset(ctx, n, param);
	if (in_pidns)
		p0 = bu_last_pid();
	t0 = bu_now_ns();
	if (ckpt_devset_setup(set, NULL))
		bu_die("setup of %d disks with scripts", n);
	t1 = bu_now_ns();
	if (in_pidns)
		p1 = bu_last_pid();
	if (ckpt_devset_teardown(set, NULL))
		bu_die("teardown of %d disks with scripts", n);
	t2 = bu_now_ns();
	if (in_pidns)
		p2 = bu_last_pid();
	ckpt_devset_free(set);
	ckpt_ctx_free(ctx);
	unlink(script);
	rmdir(dir);

	snprintf(what, sizeof(what), "setup %d disks, S=%d ms", n, sleep_ms);
	bu_value(what, "wall", (t1 - t0) / 1e6, "ms");
	if (in_pidns)
		bu_value(what, "tasks per disk", (double)(p1 - p0) / n, "");
	snprintf(what, sizeof(what), "teardown %d disks, S=%d ms", n, sleep_ms);
	bu_value(what, "wall", (t2 - t1) / 1e6, "ms");
	if (in_pidns)
		bu_value(what, "tasks per disk", (double)(p2 - p1) / n, "");
	snprintf(what, sizeof(what), "%d disks setup wall / S", n);
	bu_target(what, (t1 - t0) / 1e6 / sleep_ms, true, 2, "parallel: about 1, not N");
	snprintf(what, sizeof(what), "%d disks teardown wall / S", n);
	bu_target(what, (t2 - t1) / 1e6 / sleep_ms, true, 2, "parallel: about 1, not N");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	quick = bu_quick(argc, argv);
	rounds = quick ? 3 : 9;
	in_pidns = bu_pidns_enter();
	printf("bench: core costs, medians of %d rounds%s\n", rounds,
	       in_pidns ? "" : " (no PID namespace: not root, tasks not counted)");
	bench_spawn();
	bench_dispatch();
	bench_checkpoint();
	bench_disk_scripts();
	return 0;
}
