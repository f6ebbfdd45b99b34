/*
 * run.c - the child side of a harness run (see fault.h): a ctx on the poll
 * binding, the operations of the sweep, and the two phases.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "../ops/top.h"
#include "ckptdev/netbuf.h"
#include "fault.h"
#include "frames.h"
#include "world.h"

struct fault_cfg fault_cfg;

struct fault_env {
	const struct fault_req *req;
	ckpt_ctx *ctx;
	xentoollog_logger_stdiostream *logger;
	ckpt_devset *set;
	uint32_t domid;
	int callbacks_bad;
	bool window_done, in_window;
	unsigned passes_at_open[FAULT_MAX_POINTS];
	struct fault_res1 *res;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ the loop */

/* One turn of an application's poll loop around the library. */
static void loop_turn(ckpt_ctx *ctx, int max_ms)
{
	struct pollfd fds[64];
	int n = 64, timeout = max_ms;

	if (ckpt_osevent_beforepoll(ctx, &n, fds, &timeout)) {
		fprintf(stderr, "ckpt-fault: beforepoll wants %d fds\n", n);
		exit(3);
	}
	if (poll(fds, (nfds_t)n, timeout) < 0 && errno != EINTR) {
		perror("ckpt-fault: poll");
		exit(3);
	}
	ckpt_osevent_afterpoll(ctx, n, fds);
}

struct done {
	int n, rc;
};

static void done_cb(ckpt_ctx *ctx, int rc, void *user)
{
	struct done *d = user;

	(void)ctx;
	d->n++;
	d->rc = rc;
}

/* Run until d completed (or 150 s), then a little longer to see a second
 * completion; the rc, FAULT_HUNG if it never came. */
static int wait_done(struct fault_env *e, struct done *d)
{
	long long deadline = now_ms() + 150000; /* beyond two script timeouts */

	while (!d->n && now_ms() < deadline)
		loop_turn(e->ctx, 100);
	for (long long end = now_ms() + 5; now_ms() < end;)
		loop_turn(e->ctx, 5);
	if (d->n != 1)
		e->callbacks_bad++;
	return d->n ? d->rc : FAULT_HUNG;
}

typedef int start_fn(void *obj, const ckpt_async_how *how);

/* Start an asynchronous operation and wait for its completion; with
 * req->abort_at >= 0, abort it after that many loop turns. */
static int async_op(struct fault_env *e, start_fn *start, void *obj)
{
	struct done d = {0};
	ckpt_async_how how = {.callback = done_cb, .user = &d};
	int rc = start(obj, &how);

	if (rc)
		return rc; /* nothing started, no callback due */
	for (int i = 0; e->in_window && e->req->abort_at >= 0 && !d.n; i++) {
		if (i == e->req->abort_at) {
			rc = ckpt_ao_abort(e->ctx, &how);
			if (rc && rc != CKPT_ERROR_NOTFOUND)
				snprintf(e->res->detail, sizeof(e->res->detail),
				         "ckpt_ao_abort: %s", ckpt_strerror(rc));
			break;
		}
		loop_turn(e->ctx, 1000);
	}
	return wait_done(e, &d);
}

static int start_setup(void *set, const ckpt_async_how *how)
{
	return ckpt_devset_setup(set, how);
}

static int start_cleanup(void *set, const ckpt_async_how *how)
{
	return ckpt_devset_cleanup(set, how);
}

static int start_teardown(void *set, const ckpt_async_how *how)
{
	return ckpt_devset_teardown(set, how);
}

/* ------------------------------------------------------ the fault window */

void fault_window_open(struct fault_env *e)
{
	const struct fault_req *r = e->req;
	const char *const *names;
	size_t n;

	if (!e->res)
		return; /* phase two: nothing armed */
	e->in_window = true;
	names = ckpt_fault_list(&n);
	for (size_t p = 0; p < n && p < FAULT_MAX_POINTS; p++)
		ckpt_fault_passes(e->ctx, names[p], &e->passes_at_open[p]);
	if (r->point >= 0 && ckpt_fault_arm(e->ctx, names[r->point], r->nth, 0)) {
		fprintf(stderr, "ckpt-fault: cannot arm %s\n", names[r->point]);
		exit(3);
	}
}

void fault_window_close(struct fault_env *e)
{
	const struct fault_req *r = e->req;
	const char *const *names;
	size_t n;

	if (!e->res || e->window_done)
		return;
	e->window_done = true;
	e->in_window = false;
	names = ckpt_fault_list(&n);
	for (size_t p = 0; p < n && p < FAULT_MAX_POINTS; p++) {
		unsigned now = 0;

		ckpt_fault_passes(e->ctx, names[p], &now);
		e->res->passes[p] = now - e->passes_at_open[p];
	}
	if (r->point >= 0)
		e->res->reached = e->res->passes[r->point] >= r->nth;
	ckpt_fault_reset(e->ctx);
	ckpt_fault_count(e->ctx, r->count);
}

/* ------------------------------------------------------------ devsets */

static int make_devset(struct fault_env *e)
{
	static char script[4200], nic_script[4200], timeout[40];
	static const char *disk0[4], *disk1[] = {"target=vg/fault1", NULL}, *nic[4];
	ckpt_dev_spec specs[2];
	size_t nspecs = 2;
	enum fault_profile prof = e->req->op->profile;
	const char *kind = NULL;
	const char *const *kparams = NULL;
	int rc;

	snprintf(script, sizeof(script), "script=%s",
	         e->req->disk_script ? e->req->disk_script : fault_cfg.ok_script);
	snprintf(nic_script, sizeof(nic_script), "script=%s",
	         e->req->nic_script ? e->req->nic_script : fault_cfg.netbuf_script);
	/* room for a starved test VM: a NIC's script there has taken 30 s */
	snprintf(timeout, sizeof(timeout), "timeout_ms=%u",
	         e->req->script_timeout_ms ? e->req->script_timeout_ms : 60000);
	disk0[0] = "target=vg/fault0";
	disk0[1] = script;
	disk0[2] = timeout;
	disk0[3] = NULL;
	nic[0] = "vif=vif9.0";
	nic[1] = nic_script;
	nic[2] = timeout;
	nic[3] = NULL;
	specs[1] = (ckpt_dev_spec){"disk", 0, disk0};
	switch (prof) {
	case PROF_DISK:
		e->domid = 7;
		specs[0] = (ckpt_dev_spec){"disk", 1, disk1};
		break;
	case PROF_NIC:
		/* the NIC alone: each pass of the sweep costs script runs */
		e->domid = 9;
		specs[0] = (ckpt_dev_spec){"nic", 0, nic};
		nspecs = 1;
		break;
	case PROF_KIND:
		e->domid = 11;
		rc = fault_cfg.kind_register(e->ctx, &kind, &kparams);
		if (rc) {
			fprintf(stderr, "ckpt-fault: the kind library's register: %s\n",
			        ckpt_strerror(rc));
			exit(3);
		}
		specs[0] = (ckpt_dev_spec){kind, 0, kparams};
		break;
	case PROF_CORE:
		return 0;
	}
	rc = ckpt_devset_new(e->ctx, e->domid, specs, nspecs, &e->set);
	if (rc) {
		fprintf(stderr, "ckpt-fault: ckpt_devset_new: %s\n", ckpt_strerror(rc));
		exit(3);
	}
	return 0;
}

/* cycles checkpoint cycles; the first error. */
static int checkpoints(ckpt_devset *set, int cycles)
{
	int first = 0, rc;

	for (int i = 0; i < cycles; i++) {
		if ((rc = ckpt_devset_postsuspend(set)) && !first)
			first = rc;
		if ((rc = ckpt_devset_preresume(set)) && !first)
			first = rc;
		if ((rc = ckpt_devset_commit(set)) && !first)
			first = rc;
	}
	return first;
}

/* A teardown outside the window must succeed, or give what the fault
 * makes it give (req->teardown_rc). */
static void teardown_after(struct fault_env *e)
{
	int rc = async_op(e, start_teardown, e->set);
	int want = e->res ? e->req->teardown_rc : 0;

	if (rc != want && e->res) {
		snprintf(e->res->detail, sizeof(e->res->detail),
		         "the teardown after the window gave %s, not %s", ckpt_strerror(rc),
		         ckpt_strerror(want));
		e->res->state_bad = true;
	}
}

/* ----------------------------------------------------- the guest's output */

static struct frames guest = {.tx = -1, .rx = -1};
static char guest_ifb[IF_NAMESIZE]; /* the IFB that held it */

/* The guest sends; a READY NIC's plug holds it until a commit, a
 * release_all or the teardown lets it go. */
static void send_output(struct fault_env *e)
{
	const char *ifb;

	if (guest.tx < 0 || !e->res)
		return;
	ifb = ckpt_nic_ifb(ckpt_devset_device(e->set, 0));
	snprintf(guest_ifb, sizeof(guest_ifb), "%s", ifb ? ifb : "");
	frames_send(&guest, 8);
}

/* What came of it: every frame once and in order; or, while the IFB
 * stays (may_hold), the rest still in it. */
static enum fault_packets judge_output(char *detail, size_t len, bool may_hold)
{
	bool ifb_stays = guest_ifb[0] && if_nametoindex(guest_ifb);

	frames_collect(&guest, ifb_stays ? 50 : 1000);
	frames_describe(&guest, detail, len);
	if (frames_all_delivered(&guest))
		return PK_DELIVERED;
	if (may_hold && ifb_stays && !guest.dup && !guest.out_of_order)
		return PK_HELD;
	return PK_LOST;
}

/* req->pause_marker: the devset is READY; the parent acts on the world
 * while the application is busy elsewhere (its loop does not run, so
 * what the kernel tells the library piles up), then the loop runs on a
 * little, as between checkpoints. */
static void pause_for_the_world(struct fault_env *e)
{
	char go[PATH_MAX + 4];
	int watch = -1, least = 0;
	FILE *f;

	if (!e->req->pause_marker || !e->res)
		return;
	if (e->req->squeeze_watch) {
		watch = world_link_watch_fd();
		if (watch < 0 || setsockopt(watch, SOL_SOCKET, SO_RCVBUF, &least, sizeof(least)))
			snprintf(e->res->detail, sizeof(e->res->detail),
			         "cannot find or squeeze the library's link watch socket");
	}
	snprintf(go, sizeof(go), "%s.go", e->req->pause_marker);
	f = fopen(e->req->pause_marker, "w");
	if (f)
		fclose(f);
	for (long long end = now_ms() + 120000; access(go, F_OK);) {
		if (now_ms() > end) {
			/* going on would judge a fault that did not happen */
			snprintf(e->res->detail, sizeof(e->res->detail),
			         "the world did not act within 120 s of %s", e->req->pause_marker);
			break;
		}
		usleep(10000);
	}
	e->res->watch_drops = watch >= 0 ? world_netlink_drops(watch) : -1;
	for (long long end = now_ms() + 100; now_ms() < end;)
		loop_turn(e->ctx, 10);
}

/* Past a successful setup: the guest's output, then the world's turn. */
static void devset_ready(struct fault_env *e)
{
	send_output(e);
	pause_for_the_world(e);
}

/* --------------------------------------------------------- operations */

static int op_setup(struct fault_env *e)
{
	int rc;

	fault_window_open(e);
	rc = async_op(e, start_setup, e->set);
	fault_window_close(e);
	if (!rc)
		teardown_after(e);
	return rc;
}

/* Outside the window a setup must give what it gives unarmed; if it does
 * not even succeed there is nothing to do (reported as its rc). */
static int setup_outside(struct fault_env *e)
{
	return async_op(e, start_setup, e->set);
}

static int op_teardown(struct fault_env *e)
{
	int rc = setup_outside(e);

	if (rc)
		return rc;
	devset_ready(e);
	fault_window_open(e);
	rc = async_op(e, start_teardown, e->set);
	fault_window_close(e);
	return rc;
}

static int op_checkpoints(struct fault_env *e)
{
	int rc = setup_outside(e);

	if (rc)
		return rc;
	devset_ready(e);
	fault_window_open(e);
	rc = checkpoints(e->set, 2);
	fault_window_close(e);
	teardown_after(e);
	return rc;
}

static int op_release(struct fault_env *e)
{
	int rc = setup_outside(e), r;

	if (rc)
		return rc;
	devset_ready(e);
	checkpoints(e->set, 1);
	fault_window_open(e);
	rc = ckpt_devset_release_all(e->set);
	if ((r = ckpt_devset_rearm(e->set)) && !rc)
		rc = r;
	fault_window_close(e);
	if ((r = checkpoints(e->set, 1)) && e->res && !e->res->detail[0])
		snprintf(e->res->detail, sizeof(e->res->detail),
		         "a checkpoint after the rearm failed: %s", ckpt_strerror(r));
	teardown_after(e);
	return rc;
}

struct exec_args {
	ckpt_ctx *ctx;
	char *argv[2];
};

static int start_exec(void *obj, const ckpt_async_how *how)
{
	struct exec_args *a = obj;

	return ckpt_exec(a->ctx, a->argv, NULL, 5000, NULL, how);
}

static int op_exec(struct fault_env *e)
{
	struct exec_args a = {e->ctx, {(char *)fault_cfg.ok_script, NULL}};
	int rc;

	fault_window_open(e);
	rc = async_op(e, start_exec, &a);
	fault_window_close(e);
	return rc;
}

struct xswait_args {
	ckpt_ctx *ctx;
	const char *path;
};

static int start_xswait(void *obj, const ckpt_async_how *how)
{
	struct xswait_args *a = obj;

	return top_xswait(a->ctx, a->path, "ready", 5000, NULL, how);
}

/* Wait for a node that another xenstore client writes, then for its
 * removal; the harness's own connection writes and removes it. */
static int op_xswait(struct fault_env *e)
{
	static const char path[] = "/libxl/13/fault-wait";
	struct xswait_args a = {e->ctx, path};
	struct xs_handle *xs = xs_open(0);
	int rc;

	if (!xs) {
		perror("ckpt-fault: xs_open");
		exit(3);
	}
	xs_write(xs, XBT_NULL, path, "ready", 5);
	fault_window_open(e);
	rc = async_op(e, start_xswait, &a);
	fault_window_close(e);
	xs_rm(xs, XBT_NULL, path);
	xs_close(xs);
	return rc;
}

const struct fault_op fault_ops[] = {
        {"exec", PROF_CORE, op_exec},
        {"xswait", PROF_CORE, op_xswait},
        {"disk.setup", PROF_DISK, op_setup},
        {"disk.teardown", PROF_DISK, op_teardown},
        {"disk.checkpoints", PROF_DISK, op_checkpoints},
        {"disk.release+rearm", PROF_DISK, op_release},
        {"nic.setup", PROF_NIC, op_setup},
        /* these pass their window only where the NIC gets READY (sch_plug:
         * the VM); elsewhere they end with the setup's rc, unarmed */
        {"nic.teardown", PROF_NIC, op_teardown},
        {"nic.checkpoints", PROF_NIC, op_checkpoints},
        {"nic.release+rearm", PROF_NIC, op_release},
        {"kind.setup", PROF_KIND, op_setup},
        {"kind.teardown", PROF_KIND, op_teardown},
        {"kind.checkpoints", PROF_KIND, op_checkpoints},
        {"kind.release+rearm", PROF_KIND, op_release},
};
const size_t fault_n_ops = sizeof(fault_ops) / sizeof(fault_ops[0]);

/* ------------------------------------------------------------ the child */

static void env_begin(struct fault_env *e)
{
	ckpt_ctx_opts opts = {.loop = CKPT_LOOP_POLL};
	int rc;

	e->logger = xtl_createlogger_stdiostream(stderr,
	                                         fault_cfg.verbose ? XTL_DEBUG : XTL_CRITICAL, 0);
	opts.logger = (xentoollog_logger *)e->logger;
	rc = ckpt_ctx_new(&e->ctx, &opts);
	if (rc) {
		fprintf(stderr, "ckpt-fault: ckpt_ctx_new: %s\n", ckpt_strerror(rc));
		exit(3);
	}
	ckpt_fault_count(e->ctx, e->req->count);
	make_devset(e);
}

/* Free what env_begin made; false if the library refused. */
static bool env_end(struct fault_env *e)
{
	bool ok = true;

	if (e->set) {
		if (ckpt_devset_state(e->set) != CKPT_DEV_DOWN &&
		    ckpt_devset_state(e->set) != CKPT_DEV_NEW) {
			if (e->res)
				e->res->state_bad = true;
			ok = false;
		}
		ok = !ckpt_devset_free(e->set) && ok;
	}
	ok = !ckpt_ctx_free(e->ctx) && ok;
	xtl_logger_destroy((xentoollog_logger *)e->logger);
	return ok;
}

static void put(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		exit(3);
}

void fault_child(const struct fault_req *req, int to_parent, int from_parent)
{
	struct fault_res1 r1 = {0};
	struct fault_res2 r2 = {0};
	struct fault_env e = {.req = req, .res = &r1};
	struct fault_req again = *req;
	char path[4096] = {0};
	ssize_t n;

	/* phase one: the run (the guest's sockets open before the count) */
	if (req->op->profile == PROF_NIC && fault_cfg.plug && !req->no_packets &&
	    !frames_open(&guest, "eth9", "vif9.0"))
		exit(3);
	r1.fds_before = world_fd_count();
	env_begin(&e);
	r1.rc = req->op->run(&e);
	r1.callbacks_bad = e.callbacks_bad;
	r1.free_failed = !env_end(&e);
	r1.fds_after = world_fd_count();
	r1.children =
	        world_children(getpid(), 0, 0, r1.detail[0] ? NULL : r1.detail, sizeof(r1.detail));
	if (guest.sent)
		r1.packets = judge_output(r1.packets_detail, sizeof(r1.packets_detail), true);
	put(to_parent, &r1, sizeof(r1));

	/* the parent looks at the world; it answers 'C' when the run left
	 * something (the application then cleans up), '-' when not, and may
	 * name another xenstored after that */
	n = read(from_parent, path, sizeof(path) - 1);
	if (n <= 0)
		exit(3);
	if (path[0] == 'S')
		exit(0); /* no second life asked for */
	if (path[1])
		setenv("XENSTORED_PATH", path + 1, 1);

	/* phase two: the same life, nothing armed */
	again.point = -1;
	again.count = false;
	again.abort_at = -1;
	again.nic_script = NULL;
	again.disk_script = NULL;
	again.script_timeout_ms = 0;
	again.pause_marker = NULL;
	again.teardown_rc = 0;
	again.squeeze_watch = false;
	e = (struct fault_env){.req = &again};
	r2.fds_before = world_fd_count();
	env_begin(&e);
	if (path[0] == 'C' && e.set) {
		r2.rc = async_op(&e, start_cleanup, e.set);
		if (r2.rc)
			r2.cleanup_failed = r2.rc;
	}
	if (r1.packets == PK_HELD)
		r2.packets = judge_output(r2.packets_detail, sizeof(r2.packets_detail), false);
	if (req->op->profile == PROF_CORE) {
		r2.rc = req->op->run(&e);
	} else {
		r2.rc = setup_outside(&e);
		if (!r2.rc) {
			int rc = checkpoints(e.set, 2);
			int t = async_op(&e, start_teardown, e.set);

			r2.rc = rc ? rc : t;
		}
	}
	r2.callbacks_bad = e.callbacks_bad;
	if (!env_end(&e))
		r2.callbacks_bad++;
	r2.fds_after = world_fd_count();
	r2.children = world_children(getpid(), 0, 0, NULL, 0);
	put(to_parent, &r2, sizeof(r2));
	close(to_parent);
	exit(0);
}
