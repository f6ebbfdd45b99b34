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
 *               binding (libev; hooks, behind the minimal poll loop of
 *               mini_loop.c; poll) against raw libev, and against that
 *               minimal loop on its own: a 0 ms timer re-armed from its
 *               own callback, and a pipe that stays readable, one loop
 *               iteration per event.
 *   checkpoint  one postsuspend/preresume/commit cycle of a devset of 64
 *               disk devices against calling 64 empty functions three
 *               times: the device layer's own overhead per checkpoint.
 *   start       the loop thread's part of starting a script (until it
 *               has exec'd), through the library and the ways of
 *               spawn_ways.c.
 *   disks       setup and teardown of 256 disk stubs whose script sleeps
 *               S ms, max_scripts 256: the wall time against S + 256
 *               starts (the scripts run in parallel, the starts one after
 *               another), against the same scripts through the async
 *               exec alone, and the tasks created, counted in a PID
 *               namespace of the bench's own.
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
#include "mini_loop.h"
#include "spawn_ways.h"

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

/* The context of a dispatch run: the tests' loop for the libev and poll
 * bindings, the bench's minimal loop behind the hooks. */
struct disp_loop {
	struct tloop *tl;
	struct mini_loop ml;
	ckpt_ctx *ctx;
};

static void disp_loop_new(struct disp_loop *dl, enum ckpt_loop_kind kind)
{
	ckpt_ctx_opts opts = {
	        .loop = CKPT_LOOP_HOOKS, .hooks = &mini_loop_hooks, .hooks_user = &dl->ml};

	dl->tl = NULL;
	mini_loop_init(&dl->ml);
	if (kind != CKPT_LOOP_HOOKS) {
		dl->tl = tloop_new(kind);
		dl->ctx = tloop_ctx(dl->tl);
		return;
	}
	if (ckpt_ctx_new(&dl->ctx, &opts))
		bu_die("ckpt_ctx_new with the minimal loop's hooks");
	dl->ml.ctx = dl->ctx;
}

static void disp_loop_run_once(struct disp_loop *dl, int max_ms)
{
	if (dl->tl)
		tloop_run_once(dl->tl, max_ms);
	else
		mini_loop_run_once(&dl->ml, max_ms);
}

static void disp_loop_free(struct disp_loop *dl)
{
	if (dl->tl)
		tloop_free(dl->tl);
	else if (ckpt_ctx_free(dl->ctx))
		bu_die("ckpt_ctx_free of the minimal loop's ctx");
}

/* ns per event through the library on binding kind; fd: -1 for timers. */
static double dispatch_library(enum ckpt_loop_kind kind, int fd, int n)
{
	struct disp_loop dl;
	struct disp d = {.n = n};
	ao_egc egc;
	double t0;
	int r;

	disp_loop_new(&dl, kind);
	d.ctx = dl.ctx;
	ao_time_init(&d.timer);
	ao_fd_init(&d.fd);
	disp_loop_run_once(&dl, 0);
	ao_egc_enter(&egc, d.ctx);
	r = fd < 0 ? ao_time_register_rel(d.ctx, &d.timer, disp_timer_cb, 0)
	           : ao_fd_register(d.ctx, &d.fd, disp_fd_cb, fd, POLLIN);
	ao_egc_leave(&egc);
	if (r)
		bu_die("registering the %s: %s", fd < 0 ? "timer" : "fd", ckpt_strerror(r));
	t0 = bu_now_ns();
	while (d.count < n)
		disp_loop_run_once(&dl, 1000);
	t0 = (bu_now_ns() - t0) / n;
	disp_loop_free(&dl);
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

/* The minimal loop on its own: a 0 ms timer re-armed from its callback
 * (the deadline read from the clock, as the library's relative timers
 * are), or the readable pipe. */
static int mini_fd_slot;

static void mini_raw_timer_cb(struct mini_loop *L, void *arg)
{
	struct timespec now;

	(void)arg;
	if (++raw_count < raw_n) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (mini_timer_add(L, now, mini_raw_timer_cb, NULL) < 0)
			bu_die("mini_timer_add");
	}
}

static void mini_raw_fd_cb(struct mini_loop *L, void *arg, int fd, short events, short revents)
{
	(void)arg, (void)fd, (void)events, (void)revents;
	if (++raw_count >= raw_n)
		mini_fd_del(L, mini_fd_slot);
}

static double dispatch_mini(int fd, int n)
{
	struct mini_loop L;
	struct timespec now;
	double t0;
	int r;

	mini_loop_init(&L);
	raw_count = 0;
	raw_n = n;
	clock_gettime(CLOCK_MONOTONIC, &now);
	r = fd < 0 ? mini_timer_add(&L, now, mini_raw_timer_cb, NULL)
	           : (mini_fd_slot = mini_fd_add(&L, fd, POLLIN, mini_raw_fd_cb, NULL));
	if (r < 0)
		bu_die("adding to the minimal loop");
	t0 = bu_now_ns();
	while (raw_count < n)
		mini_loop_run_once(&L, 1000);
	return (bu_now_ns() - t0) / n;
}

/*
 * Per event: raw libev, the minimal loop alone, and the library through
 * each binding (libev: a private libev loop; hooks: the minimal loop;
 * poll: poll() around beforepoll/afterpoll), interleaved round by round.
 * The target is against raw libev, judged on the median of each round's
 * ratio (the methods of one round run back to back, so a load that comes
 * and goes on a shared machine weighs on both sides of a ratio; the ratio
 * of the medians is printed too).  The hooks binding is also shown
 * against the minimal loop it runs on, whose own cost is the
 * application's, not the library's.
 */
static void bench_dispatch(void)
{
	enum { RAW_LIBEV, RAW_MINI, LIBEV, HOOKS, POLL, N_DISP };
	static const char *const names[N_DISP] = {"raw libev", "raw minimal poll loop",
	                                          "libev binding", "hooks (minimal loop)",
	                                          "poll binding"};
	static const enum ckpt_loop_kind kinds[N_DISP] = {
	        [LIBEV] = CKPT_LOOP_LIBEV, [HOOKS] = CKPT_LOOP_HOOKS, [POLL] = CKPT_LOOP_POLL};
	int n = quick ? 200 : 10000, nr = quick ? rounds : 41, p[2];
	double v[N_DISP][64], paired[N_DISP][64];

	/* a pipe that stays readable: every loop iteration has one fd event */
	if (pipe2(p, O_CLOEXEC) || write(p[1], "x", 1) != 1)
		bu_die("pipe: %s", strerror(errno));
	printf("  (dispatch: %d rounds of %d events per method, methods interleaved)\n", nr, n);
	for (int what = 0; what < 2; what++) {
		int fd = what ? p[0] : -1;
		const char *label = what ? "dispatch per fd event" : "dispatch per timer event";
		struct bu_stats st[N_DISP];
		char t[64];

		for (int r = 0; r < nr; r++)
			for (int m = 0; m < N_DISP; m++) {
				int b = (m + r) % N_DISP; /* the order rotates */

				v[b][r] = b == RAW_LIBEV  ? dispatch_raw(fd, n)
				          : b == RAW_MINI ? dispatch_mini(fd, n)
				                          : dispatch_library(kinds[b], fd, n);
			}
		/* each round's ratios to raw libev, before bu_stats sorts v */
		for (int b = 0; b < N_DISP; b++)
			for (int r = 0; r < nr; r++)
				paired[b][r] = v[b][r] / v[RAW_LIBEV][r];
		for (int b = 0; b < N_DISP; b++) {
			st[b] = bu_stats(v[b], nr);
			bu_row(label, names[b], st[b], "ns");
		}
		bu_ratio(label, "raw minimal/raw libev", st[RAW_MINI].med / st[RAW_LIBEV].med);
		bu_ratio(label, "hooks/raw minimal loop", st[HOOKS].med / st[RAW_MINI].med);
		bu_value(label, "hooks - raw minimal", st[HOOKS].med - st[RAW_MINI].med,
		         "ns (the library's own)");
		for (int b = LIBEV; b < N_DISP; b++) {
			double pr = bu_stats(paired[b], nr).med;

			bu_ratio(label, names[b], st[b].med / st[RAW_LIBEV].med);
			snprintf(t, sizeof(t), "%s %s/raw libev", what ? "fd" : "timer", names[b]);
			bu_target(t, pr, true, 1.2, "median of the rounds' ratios");
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

static void count_done(ckpt_ctx *ctx, int rc, void *user)
{
	(void)ctx;
	if (rc)
		bu_die("a script run by the library failed: %s", ckpt_strerror(rc));
	++*(int *)user;
}

/* One beforepoll/poll/afterpoll cycle of a poll-binding ctx. */
static void poll_ctx_once(ckpt_ctx *ctx, int max_ms)
{
	static struct pollfd fds[2048]; /* 256 scripts: 3 fds each */
	int nfds = 2048, timeout = max_ms;

	if (ckpt_osevent_beforepoll(ctx, &nfds, fds, &timeout))
		bu_die("ckpt_osevent_beforepoll: more than 2048 fds");
	poll(fds, (nfds_t)nfds, timeout);
	ckpt_osevent_afterpoll(ctx, nfds, fds);
}

/* us per start: m scripts started back to back by the library's async
 * exec (each call returns once its script has exec'd), then all waited
 * for; *wall_ms (if not NULL): from the first start to the last end. */
static double start_library(ckpt_ctx *ctx, char *const argv[], int m, double *wall_ms)
{
	int done = 0;
	ckpt_async_how how = {count_done, &done};
	double t0 = bu_now_ns(), t1;

	for (int i = 0; i < m; i++)
		if (top_exec(ctx, argv, NULL, 60000, 0, NULL, &how))
			bu_die("top_exec %s failed", argv[0]);
	t1 = bu_now_ns();
	while (done < m)
		poll_ctx_once(ctx, 1000);
	if (wall_ms)
		*wall_ms = (bu_now_ns() - t0) / 1e6;
	return (t1 - t0) / m / 1e3;
}

static double start_by_hand(enum spawn_way way, char *const argv[], int m)
{
	struct spawned sp[64];
	double t0 = bu_now_ns(), t1;

	for (int i = 0; i < m; i++)
		spawn_start(way, argv, &sp[i]);
	t1 = bu_now_ns();
	for (int i = 0; i < m; i++)
		spawn_reap(&sp[i]);
	return (t1 - t0) / m / 1e3;
}

/*
 * The loop thread's part of starting a script: from the call until the
 * script has exec'd (what every start waits for, one after another), for
 * a script like the disk bench's (sh, which execs sleep), started m at a
 * time: the library, its shape by hand (fork), the same without copying
 * the address space (clone(CLONE_VM), vfork-like), posix_spawn alone.
 */
static void bench_spawn_start(const char *script)
{
	enum { LIB, FORK, CLONE_VM_, POSIX, N_WAYS };
	static const char *const names[N_WAYS] = {"library (async exec)", "fork, by hand",
	                                          "clone(CLONE_VM), by hand", "posix_spawn alone"};
	char *argv[] = {(char *)script, NULL};
	int m = quick ? 2 : 24, nr = quick ? 1 : 7;
	ckpt_ctx_opts opts = {.loop = CKPT_LOOP_POLL, .max_scripts = (unsigned)m};
	ckpt_ctx *ctx;
	double v[N_WAYS][16];
	struct bu_stats st[N_WAYS];
	char what[64];

	if (ckpt_ctx_new(&ctx, &opts))
		bu_die("ckpt_ctx_new");
	snprintf(what, sizeof(what), "start a script, %d at once", m);
	for (int r = 0; r < nr; r++)
		for (int i = 0; i < N_WAYS; i++) {
			int w = (i + r) % N_WAYS;

			if (w == LIB)
				v[w][r] = start_library(ctx, argv, m, NULL);
			else
				v[w][r] = start_by_hand(w == FORK        ? SPAWN_FORK
				                        : w == CLONE_VM_ ? SPAWN_CLONE_VM
				                                         : SPAWN_POSIX,
				                        argv, m);
		}
	if (ckpt_ctx_free(ctx))
		bu_die("ckpt_ctx_free");
	for (int w = 0; w < N_WAYS; w++) {
		st[w] = bu_stats(v[w], nr);
		bu_row(what, names[w], st[w], "us");
	}
	bu_ratio(what, "library/fork by hand", st[LIB].med / st[FORK].med);
	bu_ratio(what, "clone(CLONE_VM)/fork", st[CLONE_VM_].med / st[FORK].med);
}

/*
 * 256 disk stubs whose script sleeps S.  max_scripts is set to N so that
 * every script may run at once: this measures the device layer's
 * parallelism, not the context's limit (by default twice the CPUs, at
 * least 4, which would make it N/limit * S by design).  The library
 * starts the scripts one after another from the loop's thread, each start
 * lasting until its script has exec'd, so the wall time is S plus N
 * starts.  The same N scripts are then run through the async exec alone
 * (no device layer), which times those starts: the devset's wall is
 * compared with S + N starts, and with that run's wall.
 */
static void bench_disk_scripts(void)
{
	int n = quick ? 8 : 256, sleep_ms = quick ? 50 : 1000;
	char dir[] = "/tmp/ckpt-bench.XXXXXX", script[64], param[80], body[64], what[64];
	char quick_script[64];
	ckpt_ctx_opts opts = {.loop = CKPT_LOOP_POLL, .max_scripts = (unsigned)n};
	double t0, t1, t2, expect, start, exec_wall;
	char *argv[] = {script, NULL};
	long p0 = 0, p1 = 0, p2 = 0;
	ckpt_devset *set;
	ckpt_ctx *ctx;

	if (!mkdtemp(dir))
		bu_die("mkdtemp: %s", strerror(errno));
	snprintf(quick_script, sizeof(quick_script), "%s/short-script", dir);
	test_write_script(quick_script, "exec sleep 0.05");
	bench_spawn_start(quick_script);
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
	/* the same n scripts through the async exec alone, no device layer */
	if (ckpt_ctx_new(&ctx, &opts))
		bu_die("ckpt_ctx_new");
	start = start_library(ctx, argv, n, &exec_wall);
	if (ckpt_ctx_free(ctx))
		bu_die("ckpt_ctx_free");
	unlink(script);
	unlink(quick_script);
	rmdir(dir);

	/* the starts measured with these n scripts, in the exec-alone run */
	expect = sleep_ms + n * start / 1e3;
	printf("  (disks: max_scripts = N = %d, every script may run at once)\n", n);
	snprintf(what, sizeof(what), "%d scripts, S=%d ms", n, sleep_ms);
	bu_value(what, "async exec alone: wall", exec_wall, "ms");
	bu_value(what, "async exec alone: start", start / 1e3, "ms per script");
	snprintf(what, sizeof(what), "setup %d disks, S=%d ms", n, sleep_ms);
	bu_value(what, "wall", (t1 - t0) / 1e6, "ms");
	bu_value(what, "S + N x start", expect, "ms");
	bu_ratio(what, "wall/async exec alone", (t1 - t0) / 1e6 / exec_wall);
	if (in_pidns)
		bu_value(what, "tasks per disk", (double)(p1 - p0) / n, "");
	snprintf(what, sizeof(what), "teardown %d disks, S=%d ms", n, sleep_ms);
	bu_value(what, "wall", (t2 - t1) / 1e6, "ms");
	bu_value(what, "S + N x start", expect, "ms");
	bu_ratio(what, "wall/async exec alone", (t2 - t1) / 1e6 / exec_wall);
	if (in_pidns)
		bu_value(what, "tasks per disk", (double)(p2 - p1) / n, "");
	snprintf(what, sizeof(what), "%d disks setup wall / (S + N x start)", n);
	bu_target(what, (t1 - t0) / 1e6 / expect, true, 1.2, "the scripts overlap");
	snprintf(what, sizeof(what), "%d disks teardown wall / (S + N x start)", n);
	bu_target(what, (t2 - t1) / 1e6 / expect, true, 1.2, "the scripts overlap");
	snprintf(what, sizeof(what), "%d disks setup wall / S", n);
	bu_target(what, (t1 - t0) / 1e6 / sleep_ms, true, 2, "serial starts: see above");
	snprintf(what, sizeof(what), "%d disks teardown wall / S", n);
	bu_target(what, (t2 - t1) / 1e6 / sleep_ms, true, 2, "serial starts: see above");
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
