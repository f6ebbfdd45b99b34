/*
 * ctx.c - creating and destroying a library context.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

static int check_hooks(const ckpt_osevent_hooks *h)
{
	return h && h->fd_register && h->fd_modify && h->fd_deregister && h->timeout_register &&
	       h->timeout_deregister;
}

static int bind_loop(ckpt_ctx *ctx, const ckpt_ctx_opts *opts)
{
	ctx->loop_kind = opts->loop;
	switch (opts->loop) {
	case CKPT_LOOP_LIBEV:
		ctx->loop = &ao_loop_libev_ops;
		return ao_loop_libev_init(ctx, opts->ev_loop);
	case CKPT_LOOP_HOOKS:
		if (!check_hooks(opts->hooks)) {
			LOG(ctx, ERROR,
			    "ckpt_ctx_new: CKPT_LOOP_HOOKS needs fd and timeout "
			    "register, modify and deregister hooks");
			return CKPT_ERROR_INVAL;
		}
		ctx->loop = &ao_loop_hooks_ops;
		ctx->hooks = *opts->hooks;
		ctx->hooks_user = opts->hooks_user;
		return 0;
	case CKPT_LOOP_POLL:
		ctx->loop = &ao_loop_poll_ops;
		return ao_poller_init(ctx, &ctx->app_poller);
	}
	LOG(ctx, ERROR, "ckpt_ctx_new: unknown loop kind %d", (int)opts->loop);
	return CKPT_ERROR_INVAL;
}

/* Twice the CPUs online, at least 4: enough to overlap scripts that
 * sleep or wait, few enough that they do not starve each other. */
static unsigned default_max_scripts(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	return cpus > 2 ? (unsigned)(2 * cpus) : 4;
}

static void ctx_dispose(ckpt_ctx *ctx)
{
	if (ctx->layer_dispose)
		ctx->layer_dispose(ctx->layer);
	if (ctx->loop && ctx->loop->dispose)
		ctx->loop->dispose(ctx);
	ao_poller_dispose(&ctx->app_poller);
	if (ctx->own_lg)
		xtl_logger_destroy(ctx->own_lg);
	pthread_mutex_destroy(&ctx->faults.lock);
	pthread_mutex_destroy(&ctx->post_lock);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

int ckpt_ctx_new(ckpt_ctx **ctx_out, const ckpt_ctx_opts *opts)
{
	static const ckpt_ctx_opts defaults;
	pthread_mutexattr_t attr;
	ckpt_ctx *ctx;
	int rc;

	if (!ctx_out)
		return CKPT_ERROR_INVAL;
	*ctx_out = NULL;
	if (!opts)
		opts = &defaults;

	ctx = ao_calloc(1, sizeof(*ctx));
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&ctx->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	pthread_mutex_init(&ctx->post_lock, NULL);
	pthread_mutex_init(&ctx->faults.lock, NULL);

	ctx->lg = opts->logger;
	if (!ctx->lg) {
		ctx->own_lg =
		        (xentoollog_logger *)xtl_createlogger_stdiostream(stderr, XTL_WARN, 0);
		if (!ctx->own_lg) {
			fprintf(stderr, "ckptdev: cannot create the default logger, aborting\n");
			abort();
		}
		ctx->lg = ctx->own_lg;
	}

	ao_list_init(&ctx->fds);
	ao_list_init(&ctx->timers);
	ao_list_init(&ctx->pollers);
	ao_list_init(&ctx->aos);
	ao_list_init(&ctx->posted);
	ao_list_init(&ctx->scripts_waiting);
	ctx->scripts_max = opts->max_scripts ? opts->max_scripts : default_max_scripts();
	ao_list_init(&ctx->xswatches);
	ao_fd_init(&ctx->doorbell);
	ctx->doorbell_fd = -1;
	ao_work_init(&ctx->xs_lost_work);
	ao_fd_init(&ctx->xs_watch_fd);
	ao_fd_init(&ctx->xs_live_fd);
	ctx->xs_live_sock = -1;
	ctx->app_poller.wake_fd = -1;
	ao_list_init(&ctx->app_poller.entry);

	rc = bind_loop(ctx, opts);
	if (!rc) {
		ao_ctx_lock(ctx);
		rc = ao_doorbell_open(ctx);
		ao_ctx_unlock(ctx);
	}
	if (rc) {
		ctx_dispose(ctx);
		return rc;
	}
	*ctx_out = ctx;
	return 0;
}

int ckpt_ctx_free(ckpt_ctx *ctx)
{
	size_t running;

	if (!ctx)
		return 0;
	ao_ctx_lock(ctx);
	running = ao_list_count(&ctx->aos) + ctx->callbacks_due;
	if (ctx->dependents) {
		LOG(ctx, ERROR,
		    "ckpt_ctx_free: %u object(s) made on it (devsets) still exist; free "
		    "them first; the context was not destroyed",
		    ctx->dependents);
		ao_ctx_unlock(ctx);
		return CKPT_ERROR_BUSY;
	}
	if (running) {
		LOG(ctx, ERROR,
		    "ckpt_ctx_free: %zu operation(s) still running or awaiting "
		    "their callback; the context was not destroyed",
		    running);
		ao_ctx_unlock(ctx);
		return CKPT_ERROR_BUSY;
	}
	ao_xs_close(ctx);
	ao_doorbell_close(ctx);
	assert(ao_list_empty(&ctx->fds));
	assert(ao_list_empty(&ctx->timers));
	ao_ctx_unlock(ctx);
	ctx_dispose(ctx);
	return 0;
}
