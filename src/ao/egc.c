/*
 * egc.c - the ctx lock, event-generation contexts, and deferred work.
 *
 * Every entry into the library runs inside an egc on its caller's stack
 * (see internal.h).  Leaving the egc runs, in this order:
 *   1. the work queued on it (ao_work_queue), until none is left;
 *   2. the application's callbacks on its done list, with the lock
 *      released, one at a time.
 *
 * Work posted from any thread (ao_work_post) waits on ctx->posted, under
 * post_lock, which is never held while anything else is taken.  Posting
 * to an empty list writes the doorbell, an eventfd registered like any
 * other fd (weak: it alone does not keep the application's loop running),
 * so whichever thread runs the loop, or a synchronous call, wakes and
 * moves the posted items onto its own egc's work list.
 *
 *   any thread                      a thread running the loop
 *   ----------                      -------------------------
 *   ao_work_post(ctx, w, fn)
 *     post_lock: append w  -------> doorbell readable
 *     write doorbell                  egc: doorbell_cb
 *                                       drain the eventfd, then
 *                                       post_lock: take every item
 *                                     egc leave: w->fn(egc, w), ...
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

static void doorbell_cb(ao_egc *egc, ao_fd *ev, int fd, short events, short revents);

/* ----------------------------------------------------------------- lock */

void ao_ctx_lock(ckpt_ctx *ctx)
{
	pthread_mutex_lock(&ctx->lock);
	ctx->lock_depth++;
}

void ao_ctx_unlock(ckpt_ctx *ctx)
{
	assert(ctx->lock_depth > 0);
	ctx->lock_depth--;
	pthread_mutex_unlock(&ctx->lock);
}

/* ------------------------------------------------------------------ egc */

/* The innermost egc of this thread that holds its ctx's lock. */
static _Thread_local ao_egc *current_egc;

void ao_egc_enter(ao_egc *egc, ckpt_ctx *ctx)
{
	egc->ctx = ctx;
	ao_list_init(&egc->done);
	ao_list_init(&egc->work);
	ao_ctx_lock(ctx);
	egc->outer = current_egc;
	current_egc = egc;
}

ao_egc *ao_egc_current(ckpt_ctx *ctx)
{
	return current_egc && current_egc->ctx == ctx ? current_egc : NULL;
}

/* Tell the loop binding whether operations are in flight, so that a loop
 * run "until nothing is left" does not stop under them.  Lock held. */
static void update_hold(ckpt_ctx *ctx)
{
	bool want = !ao_list_empty(&ctx->aos) || ctx->callbacks_due;

	if (want == ctx->held || !ctx->loop->hold)
		return;
	ctx->held = want;
	ctx->loop->hold(ctx, want);
}

/* Run the egc's work until none is left (work may queue more). */
void ao_egc_run_work(ao_egc *egc)
{
	struct ao_list *pos;

	while ((pos = ao_list_first(&egc->work))) {
		ao_work *w = CONTAINER_OF(pos, ao_work, entry);
		ao_list_del(&w->entry);
		w->fn(egc, w);
	}
}

/*
 * The one callback runner.  Entered with the lock held (once) and the egc
 * no longer current.  Each ao leaves callbacks_due just before its
 * callback runs with the lock released, so ckpt_ctx_free() called from
 * the LAST due callback succeeds, and from any earlier one says BUSY.
 * Hence the lock is taken again only while a callback is still due:
 * after the last one, ctx may be gone.  relock: return with the lock held
 * (the caller is known to keep the ctx alive: a synchronous ao it drives
 * is still running); otherwise return with it released.
 */
static void egc_run_callbacks(ao_egc *egc, bool relock)
{
	ckpt_ctx *ctx = egc->ctx;
	struct ao_list *pos;

	while ((pos = ao_list_first(&egc->done))) {
		ao_op *ao = CONTAINER_OF(pos, struct ao_op, entry);
		bool more;

		ao_list_del(&ao->entry);
		ctx->callbacks_due--;
		more = relock || !ao_list_empty(&egc->done);
		update_hold(ctx);
		ao_ctx_unlock(ctx);
		ao->how.callback(ctx, ao->rc, ao->how.user);
		free(ao);
		if (!more)
			return;
		ao_ctx_lock(ctx);
	}
	if (!relock)
		ao_ctx_unlock(ctx);
}

void ao_egc_leave(ao_egc *egc)
{
	ao_egc *outer = egc->outer;
	struct ao_list *pos;

	ao_egc_run_work(egc);
	current_egc = outer;
	if (outer && outer->ctx == egc->ctx) {
		/* Nested in a library call of this thread (a kind's op, a
		 * hook calling in): the lock stays held below us, so the
		 * callbacks wait for the outermost egc. */
		while ((pos = ao_list_first(&egc->done))) {
			ao_list_del(pos);
			ao_list_add_tail(&outer->done, pos);
		}
		ao_ctx_unlock(egc->ctx);
		return;
	}
	update_hold(egc->ctx);
	egc_run_callbacks(egc, false);
}

/* For a synchronous ao's drive loop: run what this egc has gathered, and
 * come back with the lock held and the egc current again. */
void ao_egc_flush(ao_egc *egc)
{
	ao_egc_run_work(egc);
	if (ao_list_empty(&egc->done))
		return;
	current_egc = egc->outer;
	egc_run_callbacks(egc, true);
	current_egc = egc;
}

void ao_egc_pause(ao_egc *egc)
{
	assert(egc->ctx->lock_depth == 1);
	current_egc = egc->outer;
	ao_ctx_unlock(egc->ctx);
}

void ao_egc_resume(ao_egc *egc)
{
	ao_ctx_lock(egc->ctx);
	current_egc = egc;
}

/* ----------------------------------------------------------------- work */

void ao_work_init(ao_work *w)
{
	ao_list_init(&w->entry);
	w->fn = NULL;
}

void ao_work_queue(ao_egc *egc, ao_work *w, ao_work_fn *fn)
{
	assert(!ao_list_linked(&w->entry));
	w->fn = fn;
	ao_list_add_tail(&egc->work, &w->entry);
}

void ao_work_post(ckpt_ctx *ctx, ao_work *w, ao_work_fn *fn)
{
	static const uint64_t one = 1;
	bool ring;

	pthread_mutex_lock(&ctx->post_lock);
	ring = ao_list_empty(&ctx->posted);
	if (!ao_list_linked(&w->entry)) {
		w->fn = fn;
		ao_list_add_tail(&ctx->posted, &w->entry);
	} else {
		ring = false;
	}
	pthread_mutex_unlock(&ctx->post_lock);
	/* An eventfd write fails only when its counter would overflow, and
	 * then it is readable anyway. */
	if (ring && write(ctx->doorbell_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		LOGE(ctx, ERROR, "cannot ring the doorbell; posted work waits for the next event");
}

void ao_work_cancel(ckpt_ctx *ctx, ao_work *w)
{
	pthread_mutex_lock(&ctx->post_lock);
	ao_list_del(&w->entry);
	pthread_mutex_unlock(&ctx->post_lock);
}

static void doorbell_cb(ao_egc *egc, ao_fd *ev, int fd, short events, short revents)
{
	uint64_t count;

	(void)ev;
	(void)events;
	(void)revents;
	/* Drain first: a post after this rings again. */
	while (read(fd, &count, sizeof(count)) < 0 && errno == EINTR)
		;
	ao_work_take_posted(egc);
}

void ao_work_take_posted(ao_egc *egc)
{
	ckpt_ctx *ctx = egc->ctx;
	struct ao_list *pos;

	pthread_mutex_lock(&ctx->post_lock);
	while ((pos = ao_list_first(&ctx->posted))) {
		ao_list_del(pos);
		ao_list_add_tail(&egc->work, pos);
	}
	pthread_mutex_unlock(&ctx->post_lock);
}

int ao_doorbell_open(ckpt_ctx *ctx)
{
	int rc;

	ctx->doorbell_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (ctx->doorbell_fd < 0) {
		LOGE(ctx, ERROR, "ckpt_ctx_new: cannot create an eventfd");
		return CKPT_ERROR_SYSTEM;
	}
	ctx->doorbell.weak = true;
	rc = ao_fd_register(ctx, &ctx->doorbell, doorbell_cb, ctx->doorbell_fd, POLLIN);
	if (rc) {
		close(ctx->doorbell_fd);
		ctx->doorbell_fd = -1;
	}
	return rc;
}

void ao_doorbell_close(ckpt_ctx *ctx)
{
	ao_fd_deregister(ctx, &ctx->doorbell);
	if (ctx->doorbell_fd >= 0)
		close(ctx->doorbell_fd);
	ctx->doorbell_fd = -1;
}
