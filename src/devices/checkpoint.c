/*
 * checkpoint.c - the synchronous checkpoint steps: postsuspend, preresume,
 * commit, and leaving and re-entering that cycle when the backup is lost
 * (release_all, rearm).  No event loop, no allocation, and not the ctx lock: each step
 * takes only its set's step_lock (see internal.h, LOCKS), checks the
 * order, and runs the step on every READY device, kind by kind (one
 * batched call for kinds that offer one).  So a step never waits for
 * another devset's setup or teardown, and may be called from any thread.
 */
#include "internal.h"

enum step_id { STEP_POSTSUSPEND, STEP_PRERESUME, STEP_COMMIT, STEP_RELEASE, STEP_REARM };

typedef int dev_step_fn(ckpt_dev *dev);
typedef int dev_batch_fn(ckpt_dev *const *devs, size_t n, int *rcs);

#define IN_CYCLE (1u << PHASE_IDLE | 1u << PHASE_SUSPENDED | 1u << PHASE_RESUMED)

struct step {
	const char *name;
	unsigned from; /* the phases it may start in, as bits */
	enum dev_phase to;
	enum ao_fault_point fault;
};

static const struct step steps[] = {
        [STEP_POSTSUSPEND] = {"postsuspend", 1u << PHASE_IDLE, PHASE_SUSPENDED, FP_DEV_POSTSUSPEND},
        [STEP_PRERESUME] = {"preresume", 1u << PHASE_SUSPENDED, PHASE_RESUMED, FP_DEV_PRERESUME},
        [STEP_COMMIT] = {"commit", 1u << PHASE_RESUMED, PHASE_IDLE, FP_DEV_COMMIT},
        [STEP_RELEASE] = {"release_all", IN_CYCLE, PHASE_RELEASED, FP_DEV_RELEASE},
        [STEP_REARM] = {"rearm", 1u << PHASE_RELEASED, PHASE_IDLE, FP_DEV_REARM},
};

/* Why a step cannot run in this phase. */
static const char *const phase_next[] = {
        [PHASE_IDLE] = "out of order: postsuspend comes next",
        [PHASE_SUSPENDED] = "out of order: preresume comes next",
        [PHASE_RESUMED] = "out of order: commit comes next",
        [PHASE_RELEASED] = "its output is released (ckpt_devset_release_all): re-arm it "
                           "(ckpt_devset_rearm) or tear it down",
};

static dev_step_fn *single_op(const ckpt_dev_kind *k, enum step_id s)
{
	switch (s) {
	case STEP_POSTSUSPEND:
		return k->postsuspend;
	case STEP_PRERESUME:
		return k->preresume;
	case STEP_COMMIT:
		return k->commit;
	case STEP_RELEASE:
		return k->release;
	case STEP_REARM:
		return k->rearm;
	}
	return NULL;
}

static dev_batch_fn *batch_op(const ckpt_dev_kind *k, enum step_id s)
{
	switch (s) {
	case STEP_POSTSUSPEND:
		return k->postsuspend_all;
	case STEP_PRERESUME:
		return k->preresume_all;
	case STEP_COMMIT:
		return k->commit_all;
	case STEP_RELEASE:
		return k->release_all;
	case STEP_REARM:
		return k->rearm_all;
	}
	return NULL;
}

/* Run step s on the READY devices of one kind; the first error. */
static int run_group(ckpt_devset *set, struct dev_group *grp, enum step_id s)
{
	dev_batch_fn *batch = batch_op(grp->kind, s);
	dev_step_fn *single = single_op(grp->kind, s);
	size_t n = 0;
	int first = 0;

	for (size_t i = 0; i < grp->n; i++)
		if (grp->devs[i]->state == CKPT_DEV_READY)
			grp->ready[n++] = grp->devs[i];
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		grp->rcs[i] = 0;
	if (batch) {
		batch(grp->ready, n, grp->rcs);
	} else if (single) {
		for (size_t i = 0; i < n; i++)
			grp->rcs[i] = single(grp->ready[i]);
	}
	for (size_t i = 0; i < n; i++) {
		ckpt_dev *dev = grp->ready[i];
		int rc = grp->rcs[i];
		if (!rc)
			rc = ao_fault(set->ctx, steps[s].fault);
		atomic_store_explicit(&dev->last_rc, rc, memory_order_relaxed);
		if (!rc)
			continue;
		DEV_LOG(dev, ERROR, "%s failed: %s", steps[s].name, ckpt_strerror(rc));
		if (!first)
			first = rc;
	}
	return first;
}

static int run_step(ckpt_devset *set, enum step_id s)
{
	ckpt_ctx *ctx;
	int rc = 0, r;

	if (!set)
		return CKPT_ERROR_INVAL;
	ctx = set->ctx;
	pthread_mutex_lock(&set->step_lock);
	if (set->state != CKPT_DEV_READY) {
		LOG(ctx, ERROR, "ckpt_devset_%s: domain %u: the devset is %s, not ready",
		    steps[s].name, set->domid, ckpt_dev_state_name(set->state));
		rc = CKPT_ERROR_INVAL;
		goto out;
	}
	if (!(steps[s].from & 1u << set->phase)) {
		LOG(ctx, ERROR, "ckpt_devset_%s: domain %u: %s", steps[s].name, set->domid,
		    s == STEP_REARM ? "its output is not released: nothing to re-arm"
		                    : phase_next[set->phase]);
		rc = CKPT_ERROR_INVAL;
		goto out;
	}
	for (size_t g = 0; g < set->n_groups; g++) {
		r = run_group(set, &set->groups[g], s);
		if (r && !rc)
			rc = r;
	}
	set->phase = steps[s].to;
out:
	pthread_mutex_unlock(&set->step_lock);
	return rc;
}

int ckpt_devset_postsuspend(ckpt_devset *set)
{
	return run_step(set, STEP_POSTSUSPEND);
}

int ckpt_devset_preresume(ckpt_devset *set)
{
	return run_step(set, STEP_PRERESUME);
}

int ckpt_devset_commit(ckpt_devset *set)
{
	return run_step(set, STEP_COMMIT);
}

int ckpt_devset_release_all(ckpt_devset *set)
{
	return run_step(set, STEP_RELEASE);
}

int ckpt_devset_rearm(ckpt_devset *set)
{
	return run_step(set, STEP_REARM);
}
