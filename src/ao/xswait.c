/*
 * xswait.c - wait until a xenstore node satisfies a check, or a timeout.
 *
 * A watch on the path re-reads the node at every event (the first event
 * comes straight after registering, so a node that is already right ends
 * the wait at once) and asks the caller's check.  Exactly one of: the
 * check says done or fails, the timeout, an abort, or the loss of the
 * connection ends the wait; the callback then comes once, with the
 * watch, the timer and the abortable all released.
 */
#include <stdlib.h>

#include "internal.h"

static void xswait_watch_cb(ao_egc *egc, ao_xswatch *w, const char *event_path, int rc);
static void xswait_timer_cb(ao_egc *egc, ao_time *ev);
static void xswait_abort_cb(ao_egc *egc, ao_abortable *a, int rc);
static void xswait_finish(ao_egc *egc, ao_xswait *xw, int rc, const char *value);

void ao_xswait_init(ao_xswait *xw)
{
	ao_xswatch_init(&xw->watch);
	ao_time_init(&xw->timer);
	ao_abortable_init(&xw->abrt);
}

bool ao_xswait_is_running(const ao_xswait *xw)
{
	return ao_abortable_is_registered(&xw->abrt);
}

int ao_xswait_start(ao_egc *egc, ao_xswait *xw)
{
	ckpt_ctx *ctx = egc->ctx;
	int rc;

	xw->abrt.ao = xw->ao;
	xw->abrt.callback = xswait_abort_cb;
	rc = ao_abortable_register(&xw->abrt);
	if (rc) {
		LOG(ctx, ERROR, "%s: not started: the operation is being aborted", xw->what);
		return rc;
	}
	if (xw->timeout_ms) {
		rc = ao_time_register_rel(ctx, &xw->timer, xswait_timer_cb, xw->timeout_ms);
		if (rc)
			goto fail;
	}
	rc = ao_xswatch_register(ctx, &xw->watch, xswait_watch_cb, xw->path);
	if (rc)
		goto fail;
	return 0;
fail:
	ao_time_deregister(ctx, &xw->timer);
	ao_abortable_deregister(&xw->abrt);
	return rc;
}

static void xswait_watch_cb(ao_egc *egc, ao_xswatch *w, const char *event_path, int rc)
{
	ao_xswait *xw = CONTAINER_OF(w, ao_xswait, watch);
	char *value = NULL;
	int r;

	(void)event_path;
	if (rc) {
		LOG(egc->ctx, ERROR, "%s: waiting for %s: %s", xw->what, xw->path,
		    ckpt_strerror(rc));
		xswait_finish(egc, xw, rc, NULL);
		return;
	}
	rc = ao_xs_read(egc->ctx, xw->path, &value);
	if (rc && rc != CKPT_ERROR_NOTFOUND) {
		xswait_finish(egc, xw, rc, NULL);
		return;
	}
	r = xw->check(egc, xw, value);
	if (r <= 0)
		xswait_finish(egc, xw, r, value);
	free(value);
}

static void xswait_timer_cb(ao_egc *egc, ao_time *ev)
{
	ao_xswait *xw = CONTAINER_OF(ev, ao_xswait, timer);
	char *value = NULL;

	LOG(egc->ctx, ERROR, "%s: timed out after %u ms waiting for %s", xw->what, xw->timeout_ms,
	    xw->path);
	if (ao_xs_read(egc->ctx, xw->path, &value) != 0)
		value = NULL;
	xswait_finish(egc, xw, CKPT_ERROR_TIMEDOUT, value);
	free(value);
}

static void xswait_abort_cb(ao_egc *egc, ao_abortable *a, int rc)
{
	ao_xswait *xw = CONTAINER_OF(a, ao_xswait, abrt);

	xswait_finish(egc, xw, rc, NULL);
}

static void xswait_finish(ao_egc *egc, ao_xswait *xw, int rc, const char *value)
{
	ao_xswatch_deregister(egc->ctx, &xw->watch);
	ao_time_deregister(egc->ctx, &xw->timer);
	ao_abortable_deregister(&xw->abrt);
	xw->callback(egc, xw, rc, value);
}
