/*
 * loop_poll.c - the CKPT_LOOP_POLL binding: the application polls the
 * library's fds itself, around its own poll() call.  The ctx's lists are
 * all the state there is, so the backend has nothing to do on changes.
 */
#include "internal.h"

const struct ao_loop_ops ao_loop_poll_ops = {0};

int ckpt_osevent_beforepoll(ckpt_ctx *ctx, int *nfds_io, struct pollfd *fds, int *timeout_io)
{
	int room, rc;

	if (!ctx)
		return CKPT_ERROR_INVAL;
	if (!nfds_io || !timeout_io || (*nfds_io > 0 && !fds) || *nfds_io < 0) {
		if (!nfds_io || !timeout_io)
			LOG(ctx, ERROR, "ckpt_osevent_beforepoll: nfds_io or timeout_io is NULL");
		else if (*nfds_io < 0)
			LOG(ctx, ERROR, "ckpt_osevent_beforepoll: *nfds_io is %d, not a size",
			    *nfds_io);
		else
			LOG(ctx, ERROR, "ckpt_osevent_beforepoll: fds is NULL with *nfds_io %d",
			    *nfds_io);
		return CKPT_ERROR_INVAL;
	}
	ao_ctx_lock(ctx);
	if (ctx->loop_kind != CKPT_LOOP_POLL) {
		LOG(ctx, ERROR, "ckpt_osevent_beforepoll: the context does not use CKPT_LOOP_POLL");
		rc = CKPT_ERROR_INVAL;
		goto out;
	}
	room = *nfds_io;
	rc = ao_poller_fill(ctx, &ctx->app_poller, fds, nfds_io, timeout_io);
	/* the documented way to size the array: not worth a warning */
	if (rc == CKPT_ERROR_BUFFERFULL)
		LOG(ctx, DEBUG,
		    "ckpt_osevent_beforepoll: the pollfd array has room for %d "
		    "entries, %d are needed",
		    room, *nfds_io);
out:
	ao_ctx_unlock(ctx);
	return rc;
}

void ckpt_osevent_afterpoll(ckpt_ctx *ctx, int nfds, const struct pollfd *fds)
{
	ao_egc egc;

	if (!ctx || nfds < 0 || (nfds > 0 && !fds))
		return;
	ao_egc_enter(&egc, ctx);
	if (ctx->loop_kind == CKPT_LOOP_POLL)
		ao_poller_dispatch(&egc, &ctx->app_poller, fds, nfds);
	else
		LOG(ctx, ERROR, "ckpt_osevent_afterpoll: the context does not use CKPT_LOOP_POLL");
	ao_egc_leave(&egc);
}
