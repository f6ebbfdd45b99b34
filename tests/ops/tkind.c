/*
 * tkind.c - the test device kinds (see tkind.h).  They use the core's
 * timers for their asynchronous steps, as a built-in kind would.
 */
#include <stdlib.h>
#include <string.h>

#include "../../src/devices/internal.h"
#include "tkind.h"

int tkind_subkind_inits, tkind_subkind_cleanups;

struct tdev {
	ckpt_dev *dev;
	struct tkind_stats stats;
	ao_time timer;
	int pending_rc;
	bool hanging;
};

static const char *param(ckpt_dev *dev, const char *key, const char *def)
{
	const char *v = ckpt_dev_param(dev, key);
	return v ? v : def;
}

static int fail_rc(ckpt_dev *dev)
{
	return atoi(param(dev, "rc", "-1"));
}

static int t_validate(ckpt_dev *dev)
{
	struct tdev *t = calloc(1, sizeof(*t));

	t->dev = dev;
	ao_time_init(&t->timer);
	ckpt_dev_set_priv(dev, t);
	return 0;
}

static void t_dispose(ckpt_dev *dev)
{
	free(ckpt_dev_priv(dev));
}

static int t_init_subkind(ckpt_devset *set, void **priv)
{
	(void)set;
	tkind_subkind_inits++;
	*priv = &tkind_subkind_inits;
	return 0;
}

static void t_cleanup_subkind(ckpt_devset *set, void *priv)
{
	(void)set;
	if (priv != &tkind_subkind_inits)
		abort();
	tkind_subkind_cleanups++;
}

static void t_timer_cb(ao_egc *egc, ao_time *ev)
{
	struct tdev *t = CONTAINER_OF(ev, struct tdev, timer);

	(void)egc;
	ckpt_dev_done(t->dev, t->pending_rc);
}

/* Finish a step as `mode` says. */
static void t_step(ckpt_dev *dev, const char *mode)
{
	struct tdev *t = ckpt_dev_priv(dev);
	unsigned delay = (unsigned)atoi(param(dev, "delay_ms", "1"));

	if (!strcmp(mode, "sync-ok")) {
		ckpt_dev_done(dev, 0);
	} else if (!strcmp(mode, "sync-fail")) {
		ckpt_dev_done(dev, fail_rc(dev));
	} else if (!strcmp(mode, "hang")) {
		t->hanging = true;
	} else {
		t->pending_rc = strcmp(mode, "fail") ? 0 : fail_rc(dev);
		if (ao_time_register_rel(ckpt_dev_ctx(dev), &t->timer, t_timer_cb, delay))
			ckpt_dev_done(dev, CKPT_ERROR_FAIL);
	}
}

static void t_setup(ckpt_dev *dev)
{
	((struct tdev *)ckpt_dev_priv(dev))->stats.setups++;
	t_step(dev, param(dev, "setup", "ok"));
}

static void t_teardown(ckpt_dev *dev)
{
	struct tdev *t = ckpt_dev_priv(dev);

	t->stats.teardowns++;
	t->hanging = false;
	ao_time_deregister(ckpt_dev_ctx(dev), &t->timer);
	t_step(dev, param(dev, "teardown", "ok"));
}

static void t_abort(ckpt_dev *dev)
{
	struct tdev *t = ckpt_dev_priv(dev);

	t->stats.aborts++;
	ao_time_deregister(ckpt_dev_ctx(dev), &t->timer);
	t->hanging = false;
	ckpt_dev_done(dev, CKPT_ERROR_ABORTED);
}

static int t_check(ckpt_dev *dev, const char *step, int *counter)
{
	(*counter)++;
	return strcmp(param(dev, step, "ok"), "fail") ? 0 : fail_rc(dev);
}

static int t_postsuspend(ckpt_dev *dev)
{
	return t_check(dev, "postsuspend", &((struct tdev *)ckpt_dev_priv(dev))->stats.postsuspend);
}

static int t_preresume(ckpt_dev *dev)
{
	return t_check(dev, "preresume", &((struct tdev *)ckpt_dev_priv(dev))->stats.preresume);
}

static int t_commit(ckpt_dev *dev)
{
	return t_check(dev, "commit", &((struct tdev *)ckpt_dev_priv(dev))->stats.commit);
}

static int t_release(ckpt_dev *dev)
{
	return t_check(dev, "release", &((struct tdev *)ckpt_dev_priv(dev))->stats.release);
}

static int t_rearm(ckpt_dev *dev)
{
	return t_check(dev, "rearm", &((struct tdev *)ckpt_dev_priv(dev))->stats.rearm);
}

static int t_batch(ckpt_dev *const *devs, size_t n, int *rcs, int (*one)(ckpt_dev *))
{
	int first = 0;

	for (size_t i = 0; i < n; i++) {
		((struct tdev *)ckpt_dev_priv(devs[i]))->stats.batch_calls++;
		rcs[i] = one(devs[i]);
		if (rcs[i] && !first)
			first = rcs[i];
	}
	return first;
}

static int t_postsuspend_all(ckpt_dev *const *devs, size_t n, int *rcs)
{
	return t_batch(devs, n, rcs, t_postsuspend);
}

static int t_preresume_all(ckpt_dev *const *devs, size_t n, int *rcs)
{
	return t_batch(devs, n, rcs, t_preresume);
}

static int t_commit_all(ckpt_dev *const *devs, size_t n, int *rcs)
{
	return t_batch(devs, n, rcs, t_commit);
}

static int t_release_all(ckpt_dev *const *devs, size_t n, int *rcs)
{
	return t_batch(devs, n, rcs, t_release);
}

static int t_rearm_all(ckpt_dev *const *devs, size_t n, int *rcs)
{
	return t_batch(devs, n, rcs, t_rearm);
}

const ckpt_dev_kind tkind_test = {
        .name = "test",
        .validate = t_validate,
        .dispose = t_dispose,
        .init_subkind = t_init_subkind,
        .cleanup_subkind = t_cleanup_subkind,
        .setup = t_setup,
        .teardown = t_teardown,
        .abort = t_abort,
        .postsuspend = t_postsuspend,
        .preresume = t_preresume,
        .commit = t_commit,
        .release = t_release,
        .rearm = t_rearm,
};

const ckpt_dev_kind tkind_batch = {
        .name = "tbatch",
        .validate = t_validate,
        .dispose = t_dispose,
        .init_subkind = t_init_subkind,
        .cleanup_subkind = t_cleanup_subkind,
        .setup = t_setup,
        .teardown = t_teardown,
        .abort = t_abort,
        .postsuspend_all = t_postsuspend_all,
        .preresume_all = t_preresume_all,
        .commit_all = t_commit_all,
        .release_all = t_release_all,
        .rearm_all = t_rearm_all,
};

void tkind_register(ckpt_ctx *ctx)
{
	if (ckpt_kind_register(ctx, &tkind_test) || ckpt_kind_register(ctx, &tkind_batch))
		abort();
}

const struct tkind_stats *tkind_stats(const ckpt_dev *dev)
{
	return &((struct tdev *)ckpt_dev_priv(dev))->stats;
}
