/*
 * loop_hooks.c - the application's own loop, through ckpt_osevent_hooks.
 *
 * The library hands the application the ao_fd / ao_time pointer as
 * for_ckpt; a report is accepted only if that pointer is still registered
 * in the ctx (and, for fds, with the same fd), so a late report of a
 * registration that is gone does nothing.
 */
#include "internal.h"

static int hooks_fd_register(ckpt_ctx *ctx, ao_fd *ev)
{
	int r = ctx->hooks.fd_register(ctx->hooks_user, ev->fd, &ev->for_app_reg, ev->events, ev);

	if (r) {
		LOG(ctx, ERROR, "the application's fd_register hook refused fd %d (returned %d)",
		    ev->fd, r);
		return CKPT_ERROR_SYSTEM;
	}
	return 0;
}

static int hooks_fd_modify(ckpt_ctx *ctx, ao_fd *ev, short events)
{
	int r = ctx->hooks.fd_modify(ctx->hooks_user, ev->fd, &ev->for_app_reg, events);

	if (r) {
		LOG(ctx, ERROR, "the application's fd_modify hook failed for fd %d (returned %d)",
		    ev->fd, r);
		return CKPT_ERROR_SYSTEM;
	}
	return 0;
}

static void hooks_fd_deregister(ckpt_ctx *ctx, ao_fd *ev)
{
	ctx->hooks.fd_deregister(ctx->hooks_user, ev->fd, ev->for_app_reg);
}

static int hooks_time_register(ckpt_ctx *ctx, ao_time *ev)
{
	int r = ctx->hooks.timeout_register(ctx->hooks_user, &ev->for_app_reg, ev->abs, ev);

	if (r) {
		LOG(ctx, ERROR, "the application's timeout_register hook failed (returned %d)", r);
		return CKPT_ERROR_SYSTEM;
	}
	return 0;
}

static int hooks_time_modify(ckpt_ctx *ctx, ao_time *ev)
{
	int r;

	if (!ctx->hooks.timeout_modify) {
		ctx->hooks.timeout_deregister(ctx->hooks_user, ev->for_app_reg);
		return hooks_time_register(ctx, ev);
	}
	r = ctx->hooks.timeout_modify(ctx->hooks_user, &ev->for_app_reg, ev->abs);
	if (r) {
		LOG(ctx, ERROR, "the application's timeout_modify hook failed (returned %d)", r);
		return CKPT_ERROR_SYSTEM;
	}
	return 0;
}

static void hooks_time_deregister(ckpt_ctx *ctx, ao_time *ev)
{
	ctx->hooks.timeout_deregister(ctx->hooks_user, ev->for_app_reg);
}

const struct ao_loop_ops ao_loop_hooks_ops = {
        .fd_register = hooks_fd_register,
        .fd_modify = hooks_fd_modify,
        .fd_deregister = hooks_fd_deregister,
        .time_register = hooks_time_register,
        .time_modify = hooks_time_modify,
        .time_deregister = hooks_time_deregister,
};

void ckpt_osevent_occurred_fd(ckpt_ctx *ctx, void *for_ckpt, int fd, short events, short revents)
{
	struct ao_list *pos;
	ao_egc egc;

	(void)events;
	if (!ctx || !for_ckpt)
		return;
	ao_egc_enter(&egc, ctx);
	AO_LIST_FOR_EACH(pos, &ctx->fds)
	{
		ao_fd *ev = CONTAINER_OF(pos, ao_fd, entry);
		if (ev != for_ckpt)
			continue;
		revents &= ev->events | POLLERR | POLLHUP | POLLNVAL;
		if (ev->fd == fd && revents)
			ev->func(&egc, ev, ev->fd, ev->events, revents);
		break;
	}
	ao_egc_leave(&egc);
}

void ckpt_osevent_occurred_timeout(ckpt_ctx *ctx, void *for_ckpt)
{
	struct ao_list *pos;
	ao_egc egc;

	if (!ctx || !for_ckpt)
		return;
	ao_egc_enter(&egc, ctx);
	AO_LIST_FOR_EACH(pos, &ctx->timers)
	{
		ao_time *ev = CONTAINER_OF(pos, ao_time, entry);
		if (ev == for_ckpt) {
			ao_time_fire(&egc, ev, ctx->loop_kind == CKPT_LOOP_HOOKS);
			break;
		}
	}
	ao_egc_leave(&egc);
}
