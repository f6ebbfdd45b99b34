/*
 * kind_lib.c - an application's device kind as a library for
 * `ckpt-fault --kind-lib`, written the way an application would write one:
 * the public API only (ckptdev/devices.h), built as a shared object
 * without -lckptdev (the harness carries the library).
 *
 * The kind "appthread" sets a device up on a thread of its own, which
 * reports with ckpt_dev_done() after delay_ms (the way a kind that talks
 * to a storage daemon would), tears down inside the op, and keeps the
 * checkpoint steps in order or refuses them.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckptdev/devices.h"

int ckpt_fault_harness_register(ckpt_ctx *ctx, const char **kind_out,
                                const char *const **params_out);

struct appdev {
	ckpt_dev *dev;
	pthread_t thread;
	bool started;
	unsigned delay_ms;
	int step; /* 0 after commit, 1 after postsuspend, 2 after preresume */
};

static int app_validate(ckpt_dev *dev)
{
	const char *delay = ckpt_dev_param(dev, "delay_ms");
	struct appdev *a = calloc(1, sizeof(*a));

	if (!a)
		return CKPT_ERROR_NOMEM;
	a->dev = dev;
	a->delay_ms = delay ? (unsigned)atoi(delay) : 1;
	ckpt_dev_set_priv(dev, a);
	return 0;
}

static void app_join(struct appdev *a)
{
	if (a->started)
		pthread_join(a->thread, NULL);
	a->started = false;
}

static void app_dispose(ckpt_dev *dev)
{
	struct appdev *a = ckpt_dev_priv(dev);

	app_join(a);
	free(a);
}

static void *app_setup_thread(void *arg)
{
	struct appdev *a = arg;

	usleep(a->delay_ms * 1000);
	ckpt_dev_done(a->dev, 0);
	return NULL;
}

static void app_setup(ckpt_dev *dev)
{
	struct appdev *a = ckpt_dev_priv(dev);

	app_join(a);
	a->step = 0;
	if (pthread_create(&a->thread, NULL, app_setup_thread, a))
		ckpt_dev_done(dev, CKPT_ERROR_NOMEM);
	else
		a->started = true;
}

static void app_teardown(ckpt_dev *dev)
{
	ckpt_dev_done(dev, 0);
}

/* A step out of order is the layer's bug: refuse it. */
static int app_step(ckpt_dev *dev, int from, int to)
{
	struct appdev *a = ckpt_dev_priv(dev);

	if (a->step != from)
		return CKPT_ERROR_FAIL;
	a->step = to;
	return 0;
}

static int app_postsuspend(ckpt_dev *dev)
{
	return app_step(dev, 0, 1);
}

static int app_preresume(ckpt_dev *dev)
{
	return app_step(dev, 1, 2);
}

static int app_commit(ckpt_dev *dev)
{
	return app_step(dev, 2, 0);
}

/* The backup is lost; a new one starts from a fresh epoch. */
static int app_release(ckpt_dev *dev)
{
	(void)dev;
	return 0;
}

static int app_rearm(ckpt_dev *dev)
{
	struct appdev *a = ckpt_dev_priv(dev);

	a->step = 0;
	return 0;
}

static const char *const app_keys[] = {"delay_ms", NULL};

static const ckpt_dev_kind app_kind = {
        .name = "appthread",
        .validate = app_validate,
        .dispose = app_dispose,
        .setup = app_setup,
        .teardown = app_teardown,
        .postsuspend = app_postsuspend,
        .preresume = app_preresume,
        .commit = app_commit,
        .release = app_release,
        .rearm = app_rearm,
        .keys = app_keys,
};

int ckpt_fault_harness_register(ckpt_ctx *ctx, const char **kind_out,
                                const char *const **params_out)
{
	static const char *const params[] = {"delay_ms=2", NULL};

	*kind_out = app_kind.name;
	*params_out = params;
	return ckpt_kind_register(ctx, &app_kind);
}
