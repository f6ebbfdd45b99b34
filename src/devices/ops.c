/*
 * ops.c - setting up and tearing down a devset: every device in parallel,
 * joined, as one ao.
 *
 * Setup, in order:
 *   1. init the subkinds in use (synchronously; a failure ends the op);
 *   2. start every device's setup; each reports through ckpt_dev_done();
 *   3. when all have reported (setup_join_cb): all READY -> the set is
 *      READY, done.  Otherwise the first error is kept, and
 *   4. every device that was started is torn down (rollback), then the
 *      subkinds are cleaned up, the set is DOWN, and the op ends with
 *      that first error.
 * Teardown: every READY or FAILED device is torn down in parallel, the
 * subkinds cleaned up, the set DOWN; the first error is reported.
 * Cleanup (ckpt_devset_cleanup): the same teardown of every device of a
 * NEW or DOWN set, for what a crashed process left behind.
 * None of teardown, rollback and cleanup can be aborted.
 */
#include <assert.h>
#include <stdlib.h>

#include "internal.h"

static void dev_done_work(ao_egc *egc, ao_work *w);
static void setup_join_cb(ao_egc *egc, ao_join *j, int rc);
static void teardown_join_cb(ao_egc *egc, ao_join *j, int rc);
static void setup_abort_cb(ao_egc *egc, ao_abortable *a, int rc);
static void setup_timeout_cb(ao_egc *egc, ao_time *ev);
static void start_teardown(ao_egc *egc, ckpt_devset *set, enum devset_op op);
static void op_end(ao_egc *egc, ckpt_devset *set, int rc);

/* ------------------------------------------------------------ subkinds */

static void cleanup_subkinds(ckpt_devset *set)
{
	for (size_t g = 0; g < set->n_groups; g++) {
		struct dev_group *grp = &set->groups[g];
		if (!grp->subkind_ready)
			continue;
		if (grp->kind->cleanup_subkind)
			grp->kind->cleanup_subkind(set, grp->subkind_priv);
		grp->subkind_ready = false;
		grp->subkind_priv = NULL;
	}
}

static int init_subkinds(ckpt_devset *set)
{
	ckpt_ctx *ctx = set->ctx;
	int rc;

	for (size_t g = 0; g < set->n_groups; g++) {
		struct dev_group *grp = &set->groups[g];
		rc = ao_fault(ctx, FP_DEV_SUBKIND_INIT);
		if (rc)
			LOG(ctx, ERROR, "domain %u: cannot prepare the %s devices: %s", set->domid,
			    grp->kind->name, ckpt_strerror(rc));
		else if (grp->kind->init_subkind)
			rc = grp->kind->init_subkind(set, &grp->subkind_priv);
		if (rc) {
			cleanup_subkinds(set);
			return rc;
		}
		grp->subkind_ready = true;
	}
	return 0;
}

/* ------------------------------------------------------ device reports */

/* Started and not yet reported done. */
static bool dev_running(const ckpt_dev *dev)
{
	return dev->op_pending && !atomic_load(&dev->reported);
}

/*
 * Any thread, any time, with or without the lock (see internal.h): only
 * the first report of a running step counts, and it is acted on later, on
 * a thread that runs the loop.  The report itself touches nothing the
 * ctx lock guards, so a kind's thread never waits for the library here.
 */
void ckpt_dev_done(ckpt_dev *dev, int rc)
{
	ckpt_ctx *ctx;
	ao_egc *egc;

	if (!dev)
		return;
	ctx = dev->set->ctx;
	egc = ao_egc_current(ctx);
	if (atomic_exchange(&dev->reported, true)) {
		DEV_LOG(dev, ERROR, "ckpt_dev_done: no %s is running (the kind reported twice?)",
		        "setup or teardown");
		return;
	}
	dev->done_rc = rc;
	if (egc)
		ao_work_queue(egc, &dev->done_work, dev_done_work);
	else
		ao_work_post(ctx, &dev->done_work, dev_done_work);
}

/* A device's setup or teardown has ended (dev->done_rc). */
static void dev_done_work(ao_egc *egc, ao_work *w)
{
	ckpt_dev *dev = CONTAINER_OF(w, ckpt_dev, done_work);
	int rc = dev->done_rc;

	dev->op_pending = false;
	if (dev->state == CKPT_DEV_SETTING_UP) {
		if (dev->timed_out && rc != CKPT_ERROR_TIMEDOUT) {
			DEV_LOG(dev, DEBUG, "ended with %s after its setup timed out",
			        ckpt_strerror(rc));
			rc = CKPT_ERROR_TIMEDOUT;
		}
		if (rc)
			DEV_LOG(dev, ERROR, "setup failed: %s", ckpt_strerror(rc));
		dev_set_state(dev, rc ? CKPT_DEV_FAILED : CKPT_DEV_READY);
	} else {
		if (rc)
			DEV_LOG(dev, ERROR, "teardown failed: %s", ckpt_strerror(rc));
		dev_set_state(dev, CKPT_DEV_DOWN);
	}
	atomic_store_explicit(&dev->last_rc, rc, memory_order_relaxed);
	ao_join_member_done(egc, &dev->member, rc);
}

/* Start one device's setup or teardown (state already set). */
static void dev_start(ckpt_dev *dev, bool setup)
{
	ckpt_ctx *ctx = dev->set->ctx;
	void (*op)(ckpt_dev *) = setup ? dev->kind->setup : dev->kind->teardown;
	int rc;

	dev->op_pending = true;
	dev->timed_out = false;
	atomic_store(&dev->reported, false);
	rc = ao_fault(ctx, setup ? FP_DEV_SETUP : FP_DEV_TEARDOWN);
	if (rc) {
		DEV_LOG(dev, ERROR, "%s: %s", setup ? "setup" : "teardown", ckpt_strerror(rc));
		ckpt_dev_done(dev, rc);
	} else if (!op) {
		ckpt_dev_done(dev, 0);
	} else {
		op(dev);
	}
}

/* --------------------------------------------------------------- setup */

/*
 * Enter the library for an operation on set.  idle_only: the set must be
 * NEW or DOWN (else CKPT_ERROR_INVAL); otherwise it must not be in the
 * middle of another operation (else CKPT_ERROR_BUSY).  A bad how is
 * CKPT_ERROR_INVAL (ao_how_check).  On refusal the reason is logged and
 * the egc already left.
 */
static int op_enter(ao_egc *egc, ckpt_devset *set, const char *fn, bool idle_only,
                    const ckpt_async_how *how)
{
	bool idle, busy;
	int rc;

	ao_egc_enter(egc, set->ctx);
	idle = set->state == CKPT_DEV_NEW || set->state == CKPT_DEV_DOWN;
	busy = set->state == CKPT_DEV_SETTING_UP || set->state == CKPT_DEV_TEARING_DOWN;
	rc = ao_how_check(egc, how, fn);
	if (rc) {
		ao_egc_leave(egc);
		return rc;
	}
	if (idle_only ? idle : !busy)
		return 0;
	LOG(set->ctx, ERROR, "%s: domain %u: the devset is %s%s", fn, set->domid,
	    ckpt_dev_state_name(set->state), idle_only ? ", not new or down" : "");
	ao_egc_leave(egc);
	return idle_only ? CKPT_ERROR_INVAL : CKPT_ERROR_BUSY;
}

/* The initiator's return: see ao_inprogress(). */
static int op_return(ao_egc *egc, ao_op *ao)
{
	int rc = ao_inprogress(egc, ao);

	ao_egc_leave(egc);
	return rc;
}

int ckpt_devset_setup(ckpt_devset *set, const ckpt_async_how *how)
{
	ckpt_ctx *ctx;
	ao_egc egc;
	ao_op *ao;
	int rc;

	if (!set)
		return CKPT_ERROR_INVAL;
	ctx = set->ctx;
	rc = op_enter(&egc, set, "ckpt_devset_setup", true, how);
	if (rc)
		return rc;
	set->ao = ao = ao_create(&egc, how);
	set->op = OP_SETUP;
	devset_set_state(set, CKPT_DEV_SETTING_UP);
	set->setup_rc = 0;
	LOG(ctx, DEBUG, "domain %u: setting up %zu device(s)", set->domid, set->n);

	set->abrt.ao = set->ao;
	set->abrt.callback = setup_abort_cb;
	rc = ao_abortable_register(&set->abrt);
	if (!rc)
		rc = init_subkinds(set);
	if (!rc && set->setup_timeout_ms)
		rc = ao_time_register_rel(ctx, &set->timeout, setup_timeout_cb,
		                          set->setup_timeout_ms);
	if (rc) {
		ao_time_deregister(ctx, &set->timeout);
		ao_abortable_deregister(&set->abrt);
		cleanup_subkinds(set);
		devset_set_state(set, CKPT_DEV_DOWN);
		op_end(&egc, set, rc);
		goto out;
	}

	ao_join_init(&set->join, set->ao, setup_join_cb, "devset setup");
	for (size_t i = 0; i < set->n; i++) {
		ckpt_dev *dev = &set->devs[i];
		ao_join_add(&set->join, &dev->member, dev->name);
		dev_set_state(dev, CKPT_DEV_SETTING_UP);
		dev_start(dev, true);
	}
	ao_join_prepared(&egc, &set->join);
out:
	return op_return(&egc, ao);
}

static void setup_abort_cb(ao_egc *egc, ao_abortable *a, int rc)
{
	ckpt_devset *set = CONTAINER_OF(a, ckpt_devset, abrt);

	(void)egc;
	(void)rc;
	LOG(set->ctx, DEBUG, "domain %u: setup aborted", set->domid);
	for (size_t i = 0; i < set->n; i++) {
		ckpt_dev *dev = &set->devs[i];
		if (dev_running(dev) && dev->kind->abort)
			dev->kind->abort(dev);
	}
}

static void setup_timeout_cb(ao_egc *egc, ao_time *ev)
{
	ckpt_devset *set = CONTAINER_OF(ev, ckpt_devset, timeout);

	(void)egc;
	for (size_t i = 0; i < set->n; i++) {
		ckpt_dev *dev = &set->devs[i];
		if (!dev_running(dev))
			continue;
		DEV_LOG(dev, ERROR, "setup did not finish within %u ms%s", set->setup_timeout_ms,
		        dev->kind->abort ? "; aborting it" : "");
		dev->timed_out = true;
		if (dev->kind->abort)
			dev->kind->abort(dev);
	}
}

static void setup_join_cb(ao_egc *egc, ao_join *j, int rc)
{
	ckpt_devset *set = CONTAINER_OF(j, ckpt_devset, join);

	ao_time_deregister(set->ctx, &set->timeout);
	ao_abortable_deregister(&set->abrt);
	if (!rc && set->ao->aborting)
		rc = CKPT_ERROR_ABORTED; /* everything came up, but the caller gave up */
	if (!rc) {
		devset_set_state(set, CKPT_DEV_READY);
		LOG(set->ctx, DEBUG, "domain %u: %zu device(s) ready", set->domid, set->n);
		op_end(egc, set, 0);
		return;
	}
	set->setup_rc = rc;
	LOG(set->ctx, ERROR, "domain %u: setup failed (%s); tearing down what was started",
	    set->domid, ckpt_strerror(rc));
	start_teardown(egc, set, OP_ROLLBACK);
}

/* ------------------------------------------------------------ teardown */

int ckpt_devset_teardown(ckpt_devset *set, const ckpt_async_how *how)
{
	ao_egc egc;
	ao_op *ao;
	int rc;

	if (!set)
		return CKPT_ERROR_INVAL;
	rc = op_enter(&egc, set, "ckpt_devset_teardown", false, how);
	if (rc)
		return rc;
	set->ao = ao = ao_create(&egc, how);
	ao->unabortable = true;
	if (set->state == CKPT_DEV_READY)
		start_teardown(&egc, set, OP_TEARDOWN);
	else
		op_end(&egc, set, 0); /* NEW or DOWN: nothing is up */
	return op_return(&egc, ao);
}

int ckpt_devset_cleanup(ckpt_devset *set, const ckpt_async_how *how)
{
	ao_egc egc;
	ao_op *ao;
	int rc;

	if (!set)
		return CKPT_ERROR_INVAL;
	rc = op_enter(&egc, set, "ckpt_devset_cleanup", true, how);
	if (rc)
		return rc;
	set->ao = ao = ao_create(&egc, how);
	ao->unabortable = true;
	rc = init_subkinds(set);
	if (rc)
		op_end(&egc, set, rc);
	else
		start_teardown(&egc, set, OP_CLEANUP);
	return op_return(&egc, ao);
}

static void start_teardown(ao_egc *egc, ckpt_devset *set, enum devset_op op)
{
	set->op = op;
	devset_set_state(set, CKPT_DEV_TEARING_DOWN);
	ao_join_init(&set->join, set->ao, teardown_join_cb,
	             op == OP_ROLLBACK ? "devset rollback" : "devset teardown");
	for (size_t i = 0; i < set->n; i++) {
		ckpt_dev *dev = &set->devs[i];
		bool wanted = dev->state == CKPT_DEV_READY || dev->state == CKPT_DEV_FAILED ||
		              op == OP_CLEANUP;
		if (!wanted)
			continue;
		ao_join_add(&set->join, &dev->member, dev->name);
		dev_set_state(dev, CKPT_DEV_TEARING_DOWN);
		dev_start(dev, false);
	}
	ao_join_prepared(egc, &set->join);
}

static void teardown_join_cb(ao_egc *egc, ao_join *j, int rc)
{
	ckpt_devset *set = CONTAINER_OF(j, ckpt_devset, join);

	cleanup_subkinds(set);
	devset_set_state(set, CKPT_DEV_DOWN);
	LOG(set->ctx, DEBUG, "domain %u: devices down", set->domid);
	if (set->op == OP_ROLLBACK)
		rc = set->ao->aborting ? CKPT_ERROR_ABORTED : set->setup_rc;
	op_end(egc, set, rc);
}

static void op_end(ao_egc *egc, ckpt_devset *set, int rc)
{
	ao_op *ao = set->ao;

	set->op = OP_NONE;
	set->ao = NULL;
	ao_complete(egc, ao, rc);
}
