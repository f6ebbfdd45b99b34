/*
 * egc.c - event-generation contexts, asynchronous operations and abort.
 *
 * An ao is RUNNING from ao_create() until ao_complete(), then COMPLETE.
 * A completed async ao waits on a done list for its application callback:
 *   - normally the done list of the egc that completed it, run when that
 *     egc is left;
 *   - if it completed inside its own initiator, ctx->deferred, which a
 *     zero-delay timer moves to the done list of a later egc, so the
 *     callback never runs before the starting call has returned.
 * A synchronous ao is never queued: the initiator, in ao_inprogress(),
 * polls until it is COMPLETE and frees it.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

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

void ao_work_init(ao_work *w)
{
	ao_list_init(&w->entry);
	w->fn = NULL;
}

void ao_work_queue(ao_egc *egc, ao_work *w, void (*fn)(ao_egc *egc, ao_work *w))
{
	assert(!ao_list_linked(&w->entry));
	w->fn = fn;
	ao_list_add_tail(&egc->work, &w->entry);
}

static void egc_run_work(ao_egc *egc)
{
	struct ao_list *pos;

	while ((pos = ao_list_first(&egc->work))) {
		ao_work *w = CONTAINER_OF(pos, ao_work, entry);
		ao_list_del(&w->entry);
		w->fn(egc, w);
	}
}

/*
 * Call the application back for every ao on the done list, with the lock
 * released.  Entered and left with the lock held once.  Each ao is
 * uncounted from callbacks_due before its callback, so the callback may
 * destroy the ctx if nothing else is pending.
 */
static void egc_run_callbacks(ao_egc *egc)
{
	ckpt_ctx *ctx = egc->ctx;
	struct ao_list *pos;

	while ((pos = ao_list_first(&egc->done))) {
		ao *ao = CONTAINER_OF(pos, struct ao, entry);
		ao_list_del(&ao->entry);
		ctx->callbacks_due--;
		current_egc = egc->outer;
		ao_ctx_unlock(ctx);
		ao->how.callback(ctx, ao->rc, ao->how.user);
		free(ao);
		ao_ctx_lock(ctx);
		current_egc = egc;
	}
}

void ao_egc_leave(ao_egc *egc)
{
	ckpt_ctx *ctx = egc->ctx;
	struct ao_list done, *pos;

	egc_run_work(egc);
	current_egc = egc->outer;
	if (ao_list_empty(&egc->done)) {
		ao_ctx_unlock(ctx);
		return;
	}
	/* Take the list off the egc so nothing can add to it after unlock. */
	ao_list_init(&done);
	while ((pos = ao_list_first(&egc->done))) {
		ao_list_del(pos);
		ao_list_add_tail(&done, pos);
		ctx->callbacks_due--;
	}
	ao_ctx_unlock(ctx);
	while ((pos = ao_list_first(&done))) {
		ao *ao = CONTAINER_OF(pos, struct ao, entry);
		ao_list_del(&ao->entry);
		ao->how.callback(ctx, ao->rc, ao->how.user);
		free(ao);
	}
}

/* ------------------------------------------------------------------- ao */

static void defer_timer_cb(ao_egc *egc, ao_time *ev);

ao *ao_create(ao_egc *egc, const ckpt_async_how *how)
{
	ao *ao = ao_calloc(1, sizeof(*ao));

	ao->ctx = egc->ctx;
	ao->state = AO_RUNNING;
	ao->sync = !how;
	ao->in_initiator = true;
	if (how) {
		ao->how = *how;
		ao->how_ptr = how;
	}
	ao_list_init(&ao->abortables);
	ao_list_add_tail(&egc->ctx->aos, &ao->entry);
	return ao;
}

static void queue_callback(ao_egc *egc, ao *ao)
{
	ao_list_add_tail(&egc->done, &ao->entry);
	egc->ctx->callbacks_due++;
}

void ao_complete(ao_egc *egc, ao *ao, int rc)
{
	ckpt_ctx *ctx = egc->ctx;

	assert(ao->state == AO_RUNNING);
	assert(ao_list_empty(&ao->abortables));
	ao->state = AO_COMPLETE;
	ao->rc = rc;
	ao_list_del(&ao->entry);
	if (ao->sync)
		return;
	if (!ao->in_initiator) {
		queue_callback(egc, ao);
		return;
	}
	ao_list_add_tail(&ctx->deferred, &ao->entry);
	if (!ao_time_is_registered(&ctx->defer_timer) &&
	    ao_time_register_abs(ctx, &ctx->defer_timer, defer_timer_cb, ao_now())) {
		/* Without a timer the callback cannot wait for the next
		 * iteration; running it when this egc ends is still correct
		 * ordering, only earlier than promised. */
		LOG(ctx, WARN, "completion callback runs before its initiator returns");
		defer_timer_cb(egc, &ctx->defer_timer);
	}
}

static void defer_timer_cb(ao_egc *egc, ao_time *ev)
{
	ckpt_ctx *ctx = egc->ctx;
	struct ao_list *pos;

	(void)ev;
	while ((pos = ao_list_first(&ctx->deferred))) {
		ao_list_del(pos);
		queue_callback(egc, CONTAINER_OF(pos, struct ao, entry));
	}
}

/* Poll until the ao completes, running other callbacks as they come. */
static void drive_until_complete(ao_egc *egc, ao *ao)
{
	ckpt_ctx *ctx = egc->ctx;
	struct ao_poller p;
	int rc, r, nfds, timeout;

	/* Without its wake fd (-1, ignored by poll) this poller only misses
	 * changes made by other threads until its next timeout or event. */
	(void)ao_poller_init(ctx, &p);
	while (ao->state != AO_COMPLETE) {
		egc_run_work(egc);
		egc_run_callbacks(egc);
		if (ao->state == AO_COMPLETE)
			break;
		for (;;) {
			nfds = p.nfds_room;
			timeout = -1;
			rc = ao_poller_fill(ctx, &p, p.fds, &nfds, &timeout);
			if (rc != CKPT_ERROR_BUFFERFULL)
				break;
			p.fds = ao_realloc(p.fds, (size_t)nfds * sizeof(*p.fds));
			p.nfds_room = nfds;
		}
		assert(ctx->lock_depth == 1);
		current_egc = egc->outer;
		ao_ctx_unlock(ctx);
		r = poll(p.fds, (nfds_t)nfds, timeout);
		ao_ctx_lock(ctx);
		current_egc = egc;
		if (r < 0 && errno != EINTR) {
			int e = errno;
			LOGEV(ctx, ERROR, e, "poll failed while waiting for an operation");
			ao_abort_locked(egc, ao);
			continue;
		}
		if (r < 0)
			nfds = 0;
		ao_poller_dispatch(egc, &p, p.fds, nfds);
	}
	ao_poller_dispose(&p);
}

int ao_inprogress(ao_egc *egc, ao *ao)
{
	int rc;

	ao->in_initiator = false;
	if (!ao->sync)
		return 0;
	drive_until_complete(egc, ao);
	rc = ao->rc;
	free(ao);
	return rc;
}

/* ---------------------------------------------------------------- abort */

void ao_abortable_init(ao_abortable *a)
{
	ao_list_init(&a->entry);
}

bool ao_abortable_is_registered(const ao_abortable *a)
{
	return ao_list_linked(&a->entry);
}

int ao_abortable_register(ao_abortable *a)
{
	assert(!ao_abortable_is_registered(a));
	assert(a->ao->state == AO_RUNNING);
	if (a->ao->aborting)
		return CKPT_ERROR_ABORTED;
	ao_list_add_tail(&a->ao->abortables, &a->entry);
	return 0;
}

void ao_abortable_deregister(ao_abortable *a)
{
	ao_list_del(&a->entry);
}

void ao_abort_locked(ao_egc *egc, ao *ao)
{
	struct ao_list *pos;

	if (ao->aborting)
		return;
	ao->aborting = true;
	while ((pos = ao_list_first(&ao->abortables))) {
		ao_abortable *a = CONTAINER_OF(pos, ao_abortable, entry);
		ao_list_del(&a->entry);
		a->callback(egc, a, CKPT_ERROR_ABORTED);
	}
}

int ckpt_ao_abort(ckpt_ctx *ctx, const ckpt_async_how *how)
{
	struct ao_list *pos;
	ao_egc egc;
	int rc = CKPT_ERROR_NOTFOUND;

	if (!ctx || !how)
		return CKPT_ERROR_INVAL;
	ao_egc_enter(&egc, ctx);
	AO_LIST_FOR_EACH(pos, &ctx->aos)
	{
		ao *ao = CONTAINER_OF(pos, struct ao, entry);
		if (ao->how_ptr == how) {
			ao_abort_locked(&egc, ao);
			rc = 0;
			break;
		}
	}
	if (rc)
		LOG(ctx, DEBUG, "abort: no running operation with that how");
	ao_egc_leave(&egc);
	return rc;
}
