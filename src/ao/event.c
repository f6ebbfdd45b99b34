/*
 * event.c - the fd and timer primitives, kept in the ctx's lists whatever
 * the loop binding, and forwarded to the binding's backend.
 *
 * The ctx's lists are the truth: a synchronous operation polls them itself
 * (see poller.c), and the CKPT_LOOP_POLL binding hands them to the
 * application.  The libev and hooks backends mirror them into the
 * application's loop.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "internal.h"

/* ------------------------------------------------------------------ fds */

void ao_fd_init(ao_fd *ev)
{
	ev->ctx = NULL;
	ev->func = NULL;
	ev->fd = -1;
	ev->events = 0;
	ev->revents = 0;
	ev->poll_index = -1;
	ev->weak = false;
	ev->hook_id = 0;
	ev->for_app_reg = NULL;
	ao_list_init(&ev->entry);
	ao_list_init(&ev->ready);
}

bool ao_fd_is_registered(const ao_fd *ev)
{
	return ao_list_linked(&ev->entry);
}

int ao_fd_register(ckpt_ctx *ctx, ao_fd *ev, ao_fd_cb *func, int fd, short events)
{
	int rc;

	assert(!ao_fd_is_registered(ev));
	rc = ao_fault(ctx, FP_FD_REGISTER);
	if (rc) {
		LOG(ctx, ERROR, "cannot watch fd %d: %s", fd, ckpt_strerror(rc));
		return rc;
	}
	ev->ctx = ctx;
	ev->func = func;
	ev->fd = fd;
	ev->events = events;
	ev->poll_index = -1;
	ev->for_app_reg = NULL;
	if (ctx->loop->fd_register) {
		rc = ctx->loop->fd_register(ctx, ev);
		if (rc)
			return rc;
	}
	ao_list_add_tail(&ctx->fds, &ev->entry);
	ao_pollers_wake(ctx);
	return 0;
}

int ao_fd_modify(ckpt_ctx *ctx, ao_fd *ev, short events)
{
	int rc;

	assert(ao_fd_is_registered(ev));
	if (ctx->loop->fd_modify) {
		rc = ctx->loop->fd_modify(ctx, ev, events);
		if (rc)
			return rc;
	}
	ev->events = events;
	ao_pollers_wake(ctx);
	return 0;
}

void ao_fd_deregister(ckpt_ctx *ctx, ao_fd *ev)
{
	if (!ao_fd_is_registered(ev))
		return;
	if (ctx->loop->fd_deregister)
		ctx->loop->fd_deregister(ctx, ev);
	ao_list_del(&ev->entry);
	ao_list_del(&ev->ready);
	ao_pollers_wake(ctx);
}

void ao_fd_occurred(ckpt_ctx *ctx, ao_fd *ev, short revents)
{
	ao_egc egc;

	ao_egc_enter(&egc, ctx);
	if (ao_fd_is_registered(ev))
		ev->func(&egc, ev, ev->fd, ev->events, revents);
	ao_egc_leave(&egc);
}

/* --------------------------------------------------------------- timers */

void ao_time_init(ao_time *ev)
{
	ev->ctx = NULL;
	ev->func = NULL;
	ev->abs.tv_sec = 0;
	ev->abs.tv_nsec = 0;
	ev->hook_id = 0;
	ev->for_app_reg = NULL;
	ao_list_init(&ev->entry);
	ao_list_init(&ev->ready);
}

bool ao_time_is_registered(const ao_time *ev)
{
	return ao_list_linked(&ev->entry);
}

/* Keep ctx->timers sorted by deadline; equal deadlines keep their order. */
static void time_insert(ckpt_ctx *ctx, ao_time *ev)
{
	struct ao_list *pos;

	AO_LIST_FOR_EACH(pos, &ctx->timers)
	{
		ao_time *other = CONTAINER_OF(pos, ao_time, entry);
		if (ao_ts_cmp(ev->abs, other->abs) < 0)
			break;
	}
	ao_list_insert_before(pos, &ev->entry);
}

int ao_time_register_abs(ckpt_ctx *ctx, ao_time *ev, ao_time_cb *func, struct timespec abs)
{
	int rc;

	assert(!ao_time_is_registered(ev));
	rc = ao_fault(ctx, FP_TIMER_REGISTER);
	if (rc) {
		LOG(ctx, ERROR, "cannot register a timer: %s", ckpt_strerror(rc));
		return rc;
	}
	ev->ctx = ctx;
	ev->func = func;
	ev->abs = abs;
	ev->for_app_reg = NULL;
	if (ctx->loop->time_register) {
		rc = ctx->loop->time_register(ctx, ev);
		if (rc)
			return rc;
	}
	time_insert(ctx, ev);
	ao_pollers_wake(ctx);
	return 0;
}

int ao_time_register_rel(ckpt_ctx *ctx, ao_time *ev, ao_time_cb *func, unsigned ms)
{
	return ao_time_register_abs(ctx, ev, func, ao_ts_add_ms(ao_now(), ms));
}

int ao_time_modify_abs(ckpt_ctx *ctx, ao_time *ev, struct timespec abs)
{
	struct timespec old = ev->abs;
	int rc;

	assert(ao_time_is_registered(ev));
	ev->abs = abs;
	if (ctx->loop->time_modify) {
		rc = ctx->loop->time_modify(ctx, ev);
		if (rc) {
			ev->abs = old;
			return rc;
		}
	}
	ao_list_del(&ev->entry);
	time_insert(ctx, ev);
	ao_pollers_wake(ctx);
	return 0;
}

/* Take the timer off the lists; the backend is told unless it already
 * knows (a hooks timeout, once reported, is gone on the application's
 * side). */
static void time_unlink(ckpt_ctx *ctx, ao_time *ev, bool backend_knows)
{
	if (!backend_knows && ctx->loop->time_deregister)
		ctx->loop->time_deregister(ctx, ev);
	ao_list_del(&ev->entry);
	ao_list_del(&ev->ready);
}

void ao_time_deregister(ckpt_ctx *ctx, ao_time *ev)
{
	if (!ao_time_is_registered(ev))
		return;
	time_unlink(ctx, ev, false);
}

void ao_time_fire(ao_egc *egc, ao_time *ev, bool backend_knows)
{
	time_unlink(egc->ctx, ev, backend_knows);
	ev->func(egc, ev);
}

void ao_time_fire_due(ao_egc *egc, ao_time *ev)
{
	ckpt_ctx *ctx = egc->ctx;
	struct timespec upto = ao_now();
	struct ao_list ready, *pos;

	if (ao_ts_cmp(ev->abs, upto) > 0)
		upto = ev->abs; /* the backend's clock ran a little ahead */
	ao_list_init(&ready);
	AO_LIST_FOR_EACH(pos, &ctx->timers)
	{
		ao_time *t = CONTAINER_OF(pos, ao_time, entry);
		if (ao_ts_cmp(t->abs, upto) > 0)
			break;
		ao_list_add_tail(&ready, &t->ready);
	}
	while ((pos = ao_list_first(&ready))) {
		ao_time *t = CONTAINER_OF(pos, ao_time, ready);
		ao_list_del(&t->ready);
		ao_time_fire(egc, t, t == ev);
	}
}

void ao_time_occurred(ckpt_ctx *ctx, ao_time *ev)
{
	ao_egc egc;

	ao_egc_enter(&egc, ctx);
	if (ao_time_is_registered(ev))
		ao_time_fire_due(&egc, ev);
	ao_egc_leave(&egc);
}
