/*
 * fault.c - named fault points, armed per ctx.
 *
 * The table has a lock of its own: fault points are passed on the
 * checkpoint path too, which does not take the ctx's lock.  ctx->faults.on
 * is false until a point is armed or counting is switched on, so an
 * unarmed point costs one relaxed load in ao_fault().
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Indexed by enum ao_fault_point. */
static const char *const fault_names[FP__COUNT] = {
        [FP_EXEC_FORK] = "exec.fork",
        [FP_EXEC_EXEC] = "exec.exec",
        [FP_EXEC_PIDFD] = "exec.pidfd",
        [FP_EXEC_TIMEOUT] = "exec.timeout",
        [FP_XS_OPEN] = "xs.open",
        [FP_XS_READ] = "xs.read",
        [FP_XS_WRITE] = "xs.write",
        [FP_XS_WATCH] = "xs.watch",
        [FP_TIMER_REGISTER] = "timer.register",
        [FP_FD_REGISTER] = "fd.register",
        [FP_DEV_SUBKIND_INIT] = "dev.subkind_init",
        [FP_DEV_SETUP] = "dev.setup",
        [FP_DEV_TEARDOWN] = "dev.teardown",
        [FP_DEV_POSTSUSPEND] = "dev.postsuspend",
        [FP_DEV_PRERESUME] = "dev.preresume",
        [FP_DEV_COMMIT] = "dev.commit",
        [FP_DEV_RELEASE] = "dev.release",
        [FP_DEV_REARM] = "dev.rearm",
        [FP_NL_CONNECT] = "nl.connect",
        [FP_NL_ATTACH] = "nl.attach",
        [FP_NL_BUFFER] = "nl.buffer",
        [FP_NL_RELEASE] = "nl.release",
};

const char *const *ckpt_fault_list(size_t *n_out)
{
	if (n_out)
		*n_out = FP__COUNT;
	return fault_names;
}

static int lookup(const char *name)
{
	for (int i = 0; name && i < FP__COUNT; i++)
		if (!strcmp(fault_names[i], name))
			return i;
	return -1;
}

/* The point named name, or a logged refusal (fn names the caller). */
static int find_point(ckpt_ctx *ctx, const char *fn, const char *name, int *p_out)
{
	if (!name) {
		LOG(ctx, ERROR, "%s: the name is NULL", fn);
		return CKPT_ERROR_INVAL;
	}
	*p_out = lookup(name);
	if (*p_out < 0) {
		LOG(ctx, ERROR, "%s: no fault point \"%s\" (ckpt_fault_list names them)", fn, name);
		return CKPT_ERROR_NOTFOUND;
	}
	return 0;
}

int ckpt_fault_arm(ckpt_ctx *ctx, const char *name, unsigned nth, int rc)
{
	struct ao_faults *f;
	int p, r;

	if (!ctx)
		return CKPT_ERROR_INVAL;
	r = find_point(ctx, "ckpt_fault_arm", name, &p);
	if (r)
		return r;
	if (nth < 1) {
		LOG(ctx, ERROR, "ckpt_fault_arm: %s: nth %u: passes count from 1", name, nth);
		return CKPT_ERROR_INVAL;
	}
	if (rc > 0) {
		LOG(ctx, ERROR,
		    "ckpt_fault_arm: %s: rc %d: not an error code (0 or a CKPT_ERROR_*)", name, rc);
		return CKPT_ERROR_INVAL;
	}
	f = &ctx->faults;
	pthread_mutex_lock(&f->lock);
	f->fire_at[p] = f->passes[p] + nth;
	f->rc[p] = rc ? rc : CKPT_ERROR_FAULT;
	atomic_store(&f->on, true);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

void ckpt_fault_reset(ckpt_ctx *ctx)
{
	struct ao_faults *f;

	if (!ctx)
		return;
	f = &ctx->faults;
	pthread_mutex_lock(&f->lock);
	memset(f->passes, 0, sizeof(f->passes));
	memset(f->fire_at, 0, sizeof(f->fire_at));
	memset(f->rc, 0, sizeof(f->rc));
	atomic_store(&f->on, f->counting);
	pthread_mutex_unlock(&f->lock);
}

void ckpt_fault_count(ckpt_ctx *ctx, bool on)
{
	struct ao_faults *f;
	bool armed = false;

	if (!ctx)
		return;
	f = &ctx->faults;
	pthread_mutex_lock(&f->lock);
	f->counting = on;
	for (int p = 0; p < FP__COUNT; p++)
		armed = armed || f->fire_at[p];
	atomic_store(&f->on, on || armed);
	pthread_mutex_unlock(&f->lock);
}

int ckpt_fault_passes(ckpt_ctx *ctx, const char *name, unsigned *passes_out)
{
	int p, r;

	if (!ctx)
		return CKPT_ERROR_INVAL;
	if (!passes_out) {
		LOG(ctx, ERROR, "ckpt_fault_passes: passes_out is NULL");
		return CKPT_ERROR_INVAL;
	}
	r = find_point(ctx, "ckpt_fault_passes", name, &p);
	if (r)
		return r;
	pthread_mutex_lock(&ctx->faults.lock);
	*passes_out = ctx->faults.passes[p];
	pthread_mutex_unlock(&ctx->faults.lock);
	return 0;
}

int ao_fault_pass(ckpt_ctx *ctx, enum ao_fault_point point)
{
	struct ao_faults *f = &ctx->faults;
	unsigned pass;
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	pass = ++f->passes[point];
	if (f->fire_at[point] && pass == f->fire_at[point]) {
		f->fire_at[point] = 0;
		rc = f->rc[point];
	}
	pthread_mutex_unlock(&f->lock);
	if (rc)
		LOG(ctx, DEBUG, "fault point %s: failing pass %u with %s", fault_names[point], pass,
		    ckpt_strerror(rc));
	return rc;
}
