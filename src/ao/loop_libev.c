/*
 * loop_libev.c - the default binding: one libev watcher per registered fd
 * or timer, stored inside the ao_fd / ao_time.  The only file that
 * includes <ev.h>.
 *
 * A weak fd (the ctx's doorbell) is unreferenced once started, so it alone
 * does not keep ev_run() going; while operations are in flight the ctx
 * holds one reference on the loop instead (hold), so a loop run until it
 * has nothing left to do does not stop under them.  Every call here runs
 * on the loop's thread (see ckptdev/ao.h, THREADS).
 */
#include <assert.h>
#include <ev.h>

#include "internal.h"

_Static_assert(sizeof(ev_io) <= sizeof(((ao_fd *)0)->backend), "ev_io fits in ao_fd");
_Static_assert(sizeof(ev_timer) <= sizeof(((ao_time *)0)->backend), "ev_timer fits in ao_time");

static ev_io *io_of(ao_fd *ev)
{
	return (ev_io *)(void *)ev->backend;
}

static ev_timer *timer_of(ao_time *ev)
{
	return (ev_timer *)(void *)ev->backend;
}

static int libev_mask(short events)
{
	return ((events & POLLIN) ? EV_READ : 0) | ((events & POLLOUT) ? EV_WRITE : 0);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	ao_fd *ev = w->data;
	short pr =
	        (short)(((revents & EV_READ) ? POLLIN : 0) | ((revents & EV_WRITE) ? POLLOUT : 0));

	(void)loop;
	ao_fd_occurred(ev->ctx, ev, pr);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	ao_time *ev = w->data;

	(void)loop;
	(void)revents;
	ao_time_occurred(ev->ctx, ev);
}

static int libev_fd_register(ckpt_ctx *ctx, ao_fd *ev)
{
	ev_io *w = io_of(ev);

	ev_io_init(w, io_cb, ev->fd, libev_mask(ev->events));
	w->data = ev;
	ev_io_start(ctx->ev_loop, w);
	if (ev->weak)
		ev_unref(ctx->ev_loop);
	return 0;
}

static int libev_fd_modify(ckpt_ctx *ctx, ao_fd *ev, short events)
{
	ev_io *w = io_of(ev);

	if (ev->weak)
		ev_ref(ctx->ev_loop);
	ev_io_stop(ctx->ev_loop, w);
	ev_io_set(w, ev->fd, libev_mask(events));
	ev_io_start(ctx->ev_loop, w);
	if (ev->weak)
		ev_unref(ctx->ev_loop);
	return 0;
}

static void libev_fd_deregister(ckpt_ctx *ctx, ao_fd *ev)
{
	if (ev->weak)
		ev_ref(ctx->ev_loop);
	ev_io_stop(ctx->ev_loop, io_of(ev));
}

/* Seconds from libev's idea of now (refreshed) until the deadline. */
static ev_tstamp delay_of(ckpt_ctx *ctx, const ao_time *ev)
{
	struct timespec now = ao_now();
	double d = (double)(ev->abs.tv_sec - now.tv_sec) + (ev->abs.tv_nsec - now.tv_nsec) / 1e9;

	ev_now_update(ctx->ev_loop);
	return d > 0 ? d : 0;
}

static int libev_time_register(ckpt_ctx *ctx, ao_time *ev)
{
	ev_timer *w = timer_of(ev);

	ev_timer_init(w, timer_cb, delay_of(ctx, ev), 0.);
	w->data = ev;
	ev_timer_start(ctx->ev_loop, w);
	return 0;
}

static int libev_time_modify(ckpt_ctx *ctx, ao_time *ev)
{
	ev_timer *w = timer_of(ev);

	ev_timer_stop(ctx->ev_loop, w);
	ev_timer_set(w, delay_of(ctx, ev), 0.);
	ev_timer_start(ctx->ev_loop, w);
	return 0;
}

static void libev_time_deregister(ckpt_ctx *ctx, ao_time *ev)
{
	ev_timer_stop(ctx->ev_loop, timer_of(ev));
}

static void libev_hold(ckpt_ctx *ctx, bool on)
{
	if (on)
		ev_ref(ctx->ev_loop);
	else
		ev_unref(ctx->ev_loop);
}

int ao_loop_libev_init(ckpt_ctx *ctx, struct ev_loop *loop)
{
	if (!loop)
		loop = ev_default_loop(0);
	if (!loop) {
		LOG(ctx, ERROR, "cannot initialise libev's default loop");
		return CKPT_ERROR_SYSTEM;
	}
	ctx->ev_loop = loop;
	return 0;
}

const struct ao_loop_ops ao_loop_libev_ops = {
        .fd_register = libev_fd_register,
        .fd_modify = libev_fd_modify,
        .fd_deregister = libev_fd_deregister,
        .time_register = libev_time_register,
        .time_modify = libev_time_modify,
        .time_deregister = libev_time_deregister,
        .hold = libev_hold,
};
