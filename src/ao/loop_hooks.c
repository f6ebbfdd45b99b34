/*
 * loop_hooks.c - the application's own loop, through ckpt_osevent_hooks.
 *
 * Each registration gets a number of its own (ctx->hook_serial, never
 * reused), and that number is what the application holds as for_ckpt.  A
 * report is accepted only if a registration with that number is still in
 * the ctx's lists, so a late report of a registration that is gone, even
 * when the same ao_fd / ao_time has been registered again meanwhile, does
 * nothing.  Moving a timeout is therefore a new registration too: a
 * report of the old deadline, already on its way, cannot fire the moved
 * timer early.
 */
#include <stdint.h>

#include "internal.h"

static void *new_id(ckpt_ctx *ctx, uint64_t *id_out)
{
	*id_out = ++ctx->hook_serial;
	return (void *)(uintptr_t)*id_out;
}

static uint64_t id_of(void *for_ckpt)
{
	return (uint64_t)(uintptr_t)for_ckpt;
}

static int hooks_fd_register(ckpt_ctx *ctx, ao_fd *ev)
{
	int r = ctx->hooks.fd_register(ctx->hooks_user, ev->fd, &ev->for_app_reg, ev->events,
	                               new_id(ctx, &ev->hook_id));

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
	int r = ctx->hooks.timeout_register(ctx->hooks_user, &ev->for_app_reg, ev->abs,
	                                    new_id(ctx, &ev->hook_id));

	if (r) {
		LOG(ctx, ERROR, "the application's timeout_register hook failed (returned %d)", r);
		return CKPT_ERROR_SYSTEM;
	}
	return 0;
}

static int hooks_time_modify(ckpt_ctx *ctx, ao_time *ev)
{
	ctx->hooks.timeout_deregister(ctx->hooks_user, ev->for_app_reg);
	return hooks_time_register(ctx, ev);
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
		if (ev->hook_id != id_of(for_ckpt))
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
		if (ev->hook_id == id_of(for_ckpt)) {
			ao_time_fire_due(&egc, ev);
			break;
		}
	}
	ao_egc_leave(&egc);
}
