/*
 * ao.c - the life of an asynchronous operation.
 *
 *   ao_create()      RUNNING, on ctx->aos; the initiator starts its work
 *   ao_inprogress()  the initiator is done starting: first the work it
 *                    queued on its egc runs (a device may report at once),
 *                    then the ao counts as "returned to the caller"
 *   ao_complete()    COMPLETE, once.  An async ao's callback is queued on
 *                    the completing egc's done list; if the initiator has
 *                    not returned yet, it is posted to a later egc instead,
 *                    so it never runs inside the starting call.  A
 *                    synchronous ao's initiator, polling in
 *                    drive_until_complete(), is woken.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

/* Back-off after a failed poll(), so a persistent failure does not spin. */
#define DRIVE_RETRY_MS 10

static void later_work(ao_egc *egc, ao_work *w);

int ao_how_check(ao_egc *egc, const ckpt_async_how *how, const char *fn)
{
	ckpt_ctx *ctx = egc->ctx;

	if (how && !how->callback) {
		LOG(ctx, ERROR, "%s: the ckpt_async_how has no callback (pass NULL to wait)", fn);
		return CKPT_ERROR_INVAL;
	}
	if (!how && ctx->lock_depth > 1) {
		LOG(ctx, ERROR,
		    "%s: a synchronous call from inside the library (a kind's op or a "
		    "hook) cannot wait; nothing was started",
		    fn);
		return CKPT_ERROR_INVAL;
	}
	return 0;
}

ao_op *ao_create(ao_egc *egc, const ckpt_async_how *how)
{
	ao_op *ao = ao_calloc(1, sizeof(*ao));

	ao->ctx = egc->ctx;
	ao->state = AO_RUNNING;
	ao->sync = !how;
	ao->in_initiator = true;
	if (how) {
		ao->how = *how;
		ao->how_ptr = how;
	}
	ao_list_init(&ao->abortables);
	ao_work_init(&ao->later);
	ao_list_add_tail(&egc->ctx->aos, &ao->entry);
	return ao;
}

void ao_complete(ao_egc *egc, ao_op *ao, int rc)
{
	ckpt_ctx *ctx = egc->ctx;

	assert(ao->state == AO_RUNNING);
	assert(ao_list_empty(&ao->abortables));
	ao->state = AO_COMPLETE;
	ao->rc = rc;
	ao_list_del(&ao->entry);
	if (ao->sync) {
		/* its initiator may be inside poll() on another thread */
		ao_pollers_wake(ctx);
		return;
	}
	ctx->callbacks_due++;
	if (ao->in_initiator)
		ao_work_post(ctx, &ao->later, later_work);
	else
		ao_list_add_tail(&egc->done, &ao->entry);
}

/* An ao that ended inside its initiator: its callback, from a later egc. */
static void later_work(ao_egc *egc, ao_work *w)
{
	ao_op *ao = CONTAINER_OF(w, struct ao_op, later);

	ao_list_add_tail(&egc->done, &ao->entry);
}

/* Sleep a little with the lock released (poll() keeps failing). */
static void drive_backoff(ao_egc *egc)
{
	struct timespec ts = {0, DRIVE_RETRY_MS * 1000000L};

	ao_egc_pause(egc);
	nanosleep(&ts, NULL);
	ao_egc_resume(egc);
}

/* Poll until the ao completes, running other callbacks as they come. */
static void drive_until_complete(ao_egc *egc, ao_op *ao)
{
	ckpt_ctx *ctx = egc->ctx;
	struct ao_poller p;
	bool failing = false;
	int rc, r, nfds, timeout;

	/* Without its wake fd (-1, ignored by poll) this poller only misses
	 * changes made by other threads until its next timeout or event. */
	(void)ao_poller_init(ctx, &p);
	for (;;) {
		ao_egc_flush(egc);
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
		ao_egc_pause(egc);
		r = poll(p.fds, (nfds_t)nfds, timeout);
		ao_egc_resume(egc);
		if (r < 0 && errno != EINTR) {
			int e = errno;
			if (!failing)
				LOGEV(ctx, ERROR, e,
				      "poll failed while waiting for an operation; aborting it");
			failing = true;
			ao_abort_locked(egc, ao);
			/* no fd can be watched; timers and posted work go on */
			ao_poller_dispatch(egc, &p, p.fds, 0);
			ao_work_take_posted(egc);
			drive_backoff(egc);
			continue;
		}
		failing = false;
		ao_poller_dispatch(egc, &p, p.fds, r < 0 ? 0 : nfds);
	}
	ao_poller_dispose(&p);
}

int ao_inprogress(ao_egc *egc, ao_op *ao)
{
	int rc;

	/* Reports the initiator's own work queued (a device done at once)
	 * still belong to the starting call. */
	ao_egc_run_work(egc);
	ao->in_initiator = false;
	if (!ao->sync)
		return 0;
	drive_until_complete(egc, ao);
	rc = ao->rc;
	free(ao);
	return rc;
}
