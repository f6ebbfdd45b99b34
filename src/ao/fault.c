/*
 * fault.c - named fault points, armed per ctx.
 *
 * ctx->faults is NULL until a point is armed or counting is switched on,
 * so an unarmed point costs the one NULL test in ao_fault().
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
        [FP_NL_CONNECT] = "nl.connect",
        [FP_NL_ATTACH] = "nl.attach",
        [FP_NL_BUFFER] = "nl.buffer",
        [FP_NL_RELEASE] = "nl.release",
};

struct ao_faults {
	bool counting;
	unsigned passes[FP__COUNT];
	unsigned fire_at[FP__COUNT]; /* the pass that fails; 0: unarmed */
	int rc[FP__COUNT];
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

static struct ao_faults *faults_of(ckpt_ctx *ctx)
{
	if (!ctx->faults)
		ctx->faults = ao_calloc(1, sizeof(*ctx->faults));
	return ctx->faults;
}

int ckpt_fault_arm(ckpt_ctx *ctx, const char *name, unsigned nth, int rc)
{
	struct ao_faults *f;
	int p;

	if (!ctx)
		return CKPT_ERROR_INVAL;
	p = lookup(name);
	if (p < 0)
		return CKPT_ERROR_NOTFOUND;
	if (nth < 1 || rc > 0)
		return CKPT_ERROR_INVAL;
	ao_ctx_lock(ctx);
	f = faults_of(ctx);
	f->fire_at[p] = f->passes[p] + nth;
	f->rc[p] = rc ? rc : CKPT_ERROR_FAULT;
	ao_ctx_unlock(ctx);
	return 0;
}

void ckpt_fault_reset(ckpt_ctx *ctx)
{
	bool counting;

	if (!ctx)
		return;
	ao_ctx_lock(ctx);
	if (ctx->faults) {
		counting = ctx->faults->counting;
		memset(ctx->faults, 0, sizeof(*ctx->faults));
		ctx->faults->counting = counting;
		if (!counting) {
			free(ctx->faults);
			ctx->faults = NULL;
		}
	}
	ao_ctx_unlock(ctx);
}

void ckpt_fault_count(ckpt_ctx *ctx, bool on)
{
	if (!ctx)
		return;
	ao_ctx_lock(ctx);
	if (on)
		faults_of(ctx)->counting = true;
	else if (ctx->faults)
		ctx->faults->counting = false;
	ao_ctx_unlock(ctx);
}

int ckpt_fault_passes(ckpt_ctx *ctx, const char *name, unsigned *passes_out)
{
	int p = lookup(name);

	if (!ctx || !passes_out)
		return CKPT_ERROR_INVAL;
	if (p < 0)
		return CKPT_ERROR_NOTFOUND;
	ao_ctx_lock(ctx);
	*passes_out = ctx->faults ? ctx->faults->passes[p] : 0;
	ao_ctx_unlock(ctx);
	return 0;
}

int ao_fault_pass(ckpt_ctx *ctx, enum ao_fault_point point)
{
	struct ao_faults *f = ctx->faults;

	f->passes[point]++;
	if (!f->fire_at[point] || f->passes[point] != f->fire_at[point])
		return 0;
	f->fire_at[point] = 0;
	LOG(ctx, DEBUG, "fault point %s: failing pass %u with %s", fault_names[point],
	    f->passes[point], ckpt_strerror(f->rc[point]));
	return f->rc[point];
}
