/*
 * top.c - test operations over the internal primitives (see top.h).
 *
 * Each follows the library's own pattern: enter an egc, create the ao,
 * start the primitive, return ao_inprogress(); the primitive's callback
 * frees the operation's state and completes the ao.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/ao/internal.h"
#include "ckptdev/devices.h"
#include "top.h"

/* ---------------------------------------------------------------- timer */

struct top_timer_op {
	ao_op *ao;
	int rc;
	ao_time timer;
	ao_abortable abrt;
	ao_join_member member; /* when part of top_join */
};

static void top_timer_end(ao_egc *egc, struct top_timer_op *op, int rc);

static void top_timer_cb(ao_egc *egc, ao_time *ev)
{
	struct top_timer_op *op = CONTAINER_OF(ev, struct top_timer_op, timer);

	top_timer_end(egc, op, op->rc);
}

static void top_timer_abort_cb(ao_egc *egc, ao_abortable *a, int rc)
{
	top_timer_end(egc, CONTAINER_OF(a, struct top_timer_op, abrt), rc);
}

/* Start a timer op belonging to ao; 0 or an rc (nothing then runs). */
static int top_timer_start(ao_egc *egc, struct top_timer_op *op, ao_op *ao, unsigned ms, int rc)
{
	int r;

	op->ao = ao;
	op->rc = rc;
	ao_time_init(&op->timer);
	ao_abortable_init(&op->abrt);
	op->abrt.ao = ao;
	op->abrt.callback = top_timer_abort_cb;
	r = ao_abortable_register(&op->abrt);
	if (r)
		return r;
	r = ao_time_register_rel(egc->ctx, &op->timer, top_timer_cb, ms);
	if (r)
		ao_abortable_deregister(&op->abrt);
	return r;
}

static void top_timer_end(ao_egc *egc, struct top_timer_op *op, int rc)
{
	ao_time_deregister(egc->ctx, &op->timer);
	ao_abortable_deregister(&op->abrt);
	if (op->member.join) {
		ao_join_member_done(egc, &op->member, rc);
		return;
	}
	ao_complete(egc, op->ao, rc);
	free(op);
}

int top_timer(ckpt_ctx *ctx, unsigned ms, int rc, const ckpt_async_how *how)
{
	struct top_timer_op *op = ao_calloc(1, sizeof(*op));
	ao_egc egc;
	ao_op *ao;
	int r;

	ao_egc_enter(&egc, ctx);
	ao = ao_create(&egc, how);
	r = top_timer_start(&egc, op, ao, ms, rc);
	if (r) {
		free(op);
		ao_complete(&egc, ao, r);
	}
	r = ao_inprogress(&egc, ao);
	ao_egc_leave(&egc);
	return r;
}

int top_timer_moved(ckpt_ctx *ctx, unsigned first_ms, unsigned moved_ms, const ckpt_async_how *how)
{
	struct top_timer_op *op = ao_calloc(1, sizeof(*op));
	ao_egc egc;
	ao_op *ao;
	int r;

	ao_egc_enter(&egc, ctx);
	ao = ao_create(&egc, how);
	r = top_timer_start(&egc, op, ao, first_ms, 0);
	if (!r) {
		r = ao_time_modify_abs(ctx, &op->timer, ao_ts_add_ms(ao_now(), moved_ms));
		if (r)
			top_timer_end(&egc, op, r);
	} else {
		free(op);
		ao_complete(&egc, ao, r);
	}
	r = ao_inprogress(&egc, ao);
	ao_egc_leave(&egc);
	return r;
}

int top_immediate(ckpt_ctx *ctx, int rc, const ckpt_async_how *how)
{
	ao_egc egc;
	ao_op *ao;
	int r;

	ao_egc_enter(&egc, ctx);
	ao = ao_create(&egc, how);
	ao_complete(&egc, ao, rc);
	r = ao_inprogress(&egc, ao);
	ao_egc_leave(&egc);
	return r;
}

/* ----------------------------------------------------------------- join */

struct top_join_op {
	ao_op *ao;
	ao_join join;
	unsigned n;
	struct top_timer_op *timers;
};

static void top_join_cb(ao_egc *egc, ao_join *j, int rc)
{
	struct top_join_op *op = CONTAINER_OF(j, struct top_join_op, join);
	ao_op *ao = op->ao;

	free(op->timers);
	free(op);
	ao_complete(egc, ao, rc);
}

int top_join(ckpt_ctx *ctx, unsigned n, const unsigned *ms, const int *rc,
             const ckpt_async_how *how)
{
	struct top_join_op *op = ao_calloc(1, sizeof(*op));
	ao_egc egc;
	ao_op *ao;
	int r;

	ao_egc_enter(&egc, ctx);
	ao = ao_create(&egc, how);
	op->ao = ao;
	op->n = n;
	op->timers = ao_calloc(n, sizeof(*op->timers));
	ao_join_init(&op->join, ao, top_join_cb, "test join");
	for (unsigned i = 0; i < n; i++) {
		struct top_timer_op *t = &op->timers[i];
		ao_join_add(&op->join, &t->member, "timer");
		r = top_timer_start(&egc, t, ao, ms[i], rc[i]);
		if (r)
			ao_join_member_done(&egc, &t->member, r);
	}
	ao_join_prepared(&egc, &op->join);
	r = ao_inprogress(&egc, ao);
	ao_egc_leave(&egc);
	return r;
}

/* ----------------------------------------------------------------- exec */

struct top_exec_op {
	ao_op *ao;
	int *status_out;
	ao_exec x;
};

static void top_exec_cb(ao_egc *egc, ao_exec *x, int rc)
{
	struct top_exec_op *op = CONTAINER_OF(x, struct top_exec_op, x);
	ao_op *ao = op->ao;

	if (op->status_out)
		*op->status_out = x->status;
	free(op);
	ao_complete(egc, ao, rc);
}

int top_exec(ckpt_ctx *ctx, char *const *argv, char *const *env, unsigned timeout_ms,
             unsigned grace_ms, int *status_out, const ckpt_async_how *how)
{
	struct top_exec_op *op = ao_calloc(1, sizeof(*op));
	ao_egc egc;
	ao_op *ao;
	int r;

	ao_egc_enter(&egc, ctx);
	ao = ao_create(&egc, how);
	op->ao = ao;
	op->status_out = status_out;
	ao_exec_init(&op->x);
	op->x.ao = ao;
	op->x.what = "test-script";
	op->x.argv = argv;
	op->x.env = env;
	op->x.timeout_ms = timeout_ms;
	op->x.grace_ms = grace_ms;
	op->x.callback = top_exec_cb;
	r = ao_exec_start(&egc, &op->x);
	if (r) {
		free(op);
		ao_complete(&egc, ao, r);
	}
	r = ao_inprogress(&egc, ao);
	ao_egc_leave(&egc);
	return r;
}

/* ------------------------------------------------------------------- fd */

struct top_fd_op {
	ao_op *ao;
	char *byte_out;
	ao_fd fd;
	ao_time timer;
	ao_abortable abrt;
};

static void top_fd_end(ao_egc *egc, struct top_fd_op *op, int rc)
{
	ao_op *ao = op->ao;

	ao_fd_deregister(egc->ctx, &op->fd);
	ao_time_deregister(egc->ctx, &op->timer);
	ao_abortable_deregister(&op->abrt);
	free(op);
	ao_complete(egc, ao, rc);
}

static void top_fd_cb(ao_egc *egc, ao_fd *ev, int fd, short events, short revents)
{
	struct top_fd_op *op = CONTAINER_OF(ev, struct top_fd_op, fd);

	(void)events;
	(void)revents;
	if (read(fd, op->byte_out, 1) != 1)
		return; /* spurious: wait on */
	top_fd_end(egc, op, 0);
}

static void top_fd_any_cb(ao_egc *egc, ao_fd *ev, int fd, short events, short revents)
{
	(void)fd;
	(void)events;
	(void)revents;
	top_fd_end(egc, CONTAINER_OF(ev, struct top_fd_op, fd), 0);
}

static void top_fd_timer_cb(ao_egc *egc, ao_time *ev)
{
	top_fd_end(egc, CONTAINER_OF(ev, struct top_fd_op, timer), CKPT_ERROR_TIMEDOUT);
}

static void top_fd_abort_cb(ao_egc *egc, ao_abortable *a, int rc)
{
	top_fd_end(egc, CONTAINER_OF(a, struct top_fd_op, abrt), rc);
}

int top_fd_read(ckpt_ctx *ctx, int fd, unsigned timeout_ms, char *byte_out,
                const ckpt_async_how *how)
{
	struct top_fd_op *op = ao_calloc(1, sizeof(*op));
	ao_egc egc;
	ao_op *ao;
	int r;

	ao_egc_enter(&egc, ctx);
	ao = ao_create(&egc, how);
	op->ao = ao;
	op->byte_out = byte_out;
	ao_fd_init(&op->fd);
	ao_time_init(&op->timer);
	ao_abortable_init(&op->abrt);
	op->abrt.ao = ao;
	op->abrt.callback = top_fd_abort_cb;
	r = ao_abortable_register(&op->abrt);
	if (!r)
		r = ao_fd_register(ctx, &op->fd, top_fd_cb, fd, POLLIN);
	if (!r)
		r = ao_time_register_rel(ctx, &op->timer, top_fd_timer_cb, timeout_ms);
	if (r)
		top_fd_end(&egc, op, r);
	r = ao_inprogress(&egc, ao);
	ao_egc_leave(&egc);
	return r;
}

int top_fd_modified(ckpt_ctx *ctx, int fd, unsigned timeout_ms, const ckpt_async_how *how)
{
	struct top_fd_op *op = ao_calloc(1, sizeof(*op));
	ao_egc egc;
	ao_op *ao;
	int r;

	ao_egc_enter(&egc, ctx);
	ao = ao_create(&egc, how);
	op->ao = ao;
	ao_fd_init(&op->fd);
	ao_time_init(&op->timer);
	ao_abortable_init(&op->abrt);
	op->abrt.ao = ao;
	op->abrt.callback = top_fd_abort_cb;
	r = ao_abortable_register(&op->abrt);
	if (!r)
		r = ao_fd_register(ctx, &op->fd, top_fd_any_cb, fd, POLLIN);
	if (!r)
		r = ao_time_register_rel(ctx, &op->timer, top_fd_timer_cb, timeout_ms);
	if (!r)
		r = ao_fd_modify(ctx, &op->fd, POLLOUT);
	if (r)
		top_fd_end(&egc, op, r);
	r = ao_inprogress(&egc, ao);
	ao_egc_leave(&egc);
	return r;
}

/* --------------------------------------------------------------- xswait */

struct top_xswait_op {
	ao_op *ao;
	char *want;
	char **value_out;
	ao_xswait xw;
};

static int top_xswait_check(ao_egc *egc, ao_xswait *xw, const char *value)
{
	struct top_xswait_op *op = CONTAINER_OF(xw, struct top_xswait_op, xw);

	(void)egc;
	if (!op->want)
		return value ? 1 : 0;
	return value && !strcmp(value, op->want) ? 0 : 1;
}

static void top_xswait_cb(ao_egc *egc, ao_xswait *xw, int rc, const char *value)
{
	struct top_xswait_op *op = CONTAINER_OF(xw, struct top_xswait_op, xw);
	ao_op *ao = op->ao;

	if (op->value_out)
		*op->value_out = value ? strdup(value) : NULL;
	free(op->want);
	free(op);
	ao_complete(egc, ao, rc);
}

int top_xswait(ckpt_ctx *ctx, const char *path, const char *want, unsigned timeout_ms,
               char **value_out, const ckpt_async_how *how)
{
	struct top_xswait_op *op = ao_calloc(1, sizeof(*op));
	ao_egc egc;
	ao_op *ao;
	int r;

	ao_egc_enter(&egc, ctx);
	ao = ao_create(&egc, how);
	op->ao = ao;
	op->want = want ? ao_strdup(want) : NULL;
	op->value_out = value_out;
	ao_xswait_init(&op->xw);
	op->xw.ao = ao;
	op->xw.what = "test wait";
	op->xw.path = path;
	op->xw.timeout_ms = timeout_ms;
	op->xw.check = top_xswait_check;
	op->xw.callback = top_xswait_cb;
	r = ao_xswait_start(&egc, &op->xw);
	if (r) {
		free(op->want);
		free(op);
		ao_complete(&egc, ao, r);
	}
	r = ao_inprogress(&egc, ao);
	ao_egc_leave(&egc);
	return r;
}

/* -------------------------------------------------------------- xswatch */

struct top_xswatch_op {
	ao_op *ao;
	unsigned want, seen;
	char **paths_out;
	char *paths;
	ao_xswatch w;
	ao_time timer;
	ao_abortable abrt;
};

static void top_xswatch_end(ao_egc *egc, struct top_xswatch_op *op, int rc)
{
	ao_op *ao = op->ao;

	ao_xswatch_deregister(egc->ctx, &op->w);
	ao_time_deregister(egc->ctx, &op->timer);
	ao_abortable_deregister(&op->abrt);
	if (op->paths_out)
		*op->paths_out = op->paths;
	else
		free(op->paths);
	free(op);
	ao_complete(egc, ao, rc);
}

static void top_xswatch_cb(ao_egc *egc, ao_xswatch *w, const char *event_path, int rc)
{
	struct top_xswatch_op *op = CONTAINER_OF(w, struct top_xswatch_op, w);
	char *joined;

	if (rc) {
		top_xswatch_end(egc, op, rc);
		return;
	}
	joined = ao_sprintf("%s%s\n", op->paths ? op->paths : "", event_path);
	free(op->paths);
	op->paths = joined;
	if (++op->seen == op->want)
		top_xswatch_end(egc, op, 0); /* deregisters inside its own callback */
}

static void top_xswatch_timer_cb(ao_egc *egc, ao_time *ev)
{
	top_xswatch_end(egc, CONTAINER_OF(ev, struct top_xswatch_op, timer), CKPT_ERROR_TIMEDOUT);
}

static void top_xswatch_abort_cb(ao_egc *egc, ao_abortable *a, int rc)
{
	top_xswatch_end(egc, CONTAINER_OF(a, struct top_xswatch_op, abrt), rc);
}

int top_xswatch(ckpt_ctx *ctx, const char *path, unsigned events, unsigned timeout_ms,
                char **paths_out, const ckpt_async_how *how)
{
	struct top_xswatch_op *op = ao_calloc(1, sizeof(*op));
	ao_egc egc;
	ao_op *ao;
	int r;

	ao_egc_enter(&egc, ctx);
	ao = ao_create(&egc, how);
	op->ao = ao;
	op->want = events;
	op->paths_out = paths_out;
	ao_xswatch_init(&op->w);
	ao_time_init(&op->timer);
	ao_abortable_init(&op->abrt);
	op->abrt.ao = ao;
	op->abrt.callback = top_xswatch_abort_cb;
	r = ao_abortable_register(&op->abrt);
	if (!r)
		r = ao_time_register_rel(ctx, &op->timer, top_xswatch_timer_cb, timeout_ms);
	if (!r)
		r = ao_xswatch_register(ctx, &op->w, top_xswatch_cb, path);
	if (r)
		top_xswatch_end(&egc, op, r);
	r = ao_inprogress(&egc, ao);
	ao_egc_leave(&egc);
	return r;
}

/* ------------------------------------------------------ plain xs access */

int top_xs_write(ckpt_ctx *ctx, const char *path, const char *value)
{
	int rc;

	ao_ctx_lock(ctx);
	rc = ao_xs_write(ctx, path, value);
	ao_ctx_unlock(ctx);
	return rc;
}

int top_xs_read(ckpt_ctx *ctx, const char *path, char **value_out)
{
	int rc;

	ao_ctx_lock(ctx);
	rc = ao_xs_read(ctx, path, value_out);
	ao_ctx_unlock(ctx);
	return rc;
}

/* ---------------------------------------------------------- checkpoints */

int top_checkpoints(ckpt_devset *set, int cycles)
{
	int rc = 0;

	for (int i = 0; i < cycles && !rc; i++) {
		rc = ckpt_devset_postsuspend(set);
		if (!rc)
			rc = ckpt_devset_preresume(set);
		if (!rc)
			rc = ckpt_devset_commit(set);
	}
	return rc;
}
