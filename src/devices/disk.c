/*
 * disk.c - "disk", the stub disk kind and the template for a real one.
 *
 * It shows every part a kind has: parameters checked when the devset is
 * made (validate), per-device state made there and released by dispose,
 * an optional script run through the core's async exec at setup and
 * teardown, an abort op that stops a running script (SIGTERM to its
 * process group, SIGKILL after DISK_GRACE_MS), so ckpt_ao_abort() and the
 * devset's setup timeout bound it, and checkpoint steps that must be
 * quick: here they only count.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define DISK_TIMEOUT_MS   10000
#define DISK_GRACE_MS     1000 /* after SIGTERM, on timeout or abort */
#define DISK_TARGET_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._:-"

struct disk {
	ckpt_dev *dev;
	ckpt_disk_stats stats;
	unsigned timeout_ms;
	bool setting_up;
	ao_exec x;
	char *argv[3];
	char *env[4];
};

static void disk_script_cb(ao_egc *egc, ao_exec *x, int rc);

static int disk_validate(ckpt_dev *dev)
{
	const char *target = ckpt_dev_param(dev, "target");
	const char *script = ckpt_dev_param(dev, "script");
	const char *unfit = script ? dev_script_unfit(script) : NULL;
	struct disk *d;
	unsigned long ms = DISK_TIMEOUT_MS;

	if (!target || !target[0]) {
		DEV_LOG(dev, ERROR, "needs a target=PATH-OR-NAME parameter");
		return CKPT_ERROR_INVAL;
	}
	if (strlen(target) > PATH_MAX) {
		DEV_LOG(dev, ERROR, "target: %zu characters, more than PATH_MAX (%d)",
		        strlen(target), PATH_MAX);
		return CKPT_ERROR_INVAL;
	}
	if (strspn(target, DISK_TARGET_CHARS) != strlen(target)) {
		DEV_LOG(dev, ERROR, "target \"%s\": only letters, digits and /._:- are allowed",
		        target);
		return CKPT_ERROR_INVAL;
	}
	if (unfit) {
		DEV_LOG(dev, ERROR,
		        "script \"%s\": not an absolute path to an executable file (%s)", script,
		        unfit);
		return CKPT_ERROR_INVAL;
	}
	if (dev_param_ulong(dev, "timeout_ms", 3600000, &ms))
		return CKPT_ERROR_INVAL;
	d = ao_calloc(1, sizeof(*d));
	d->dev = dev;
	d->timeout_ms = (unsigned)ms;
	ao_exec_init(&d->x);
	d->argv[0] = script ? ao_strdup(script) : NULL;
	d->env[0] = ao_sprintf("DOMID=%u", ckpt_dev_domid(dev));
	d->env[1] = ao_sprintf("DEVID=%d", ckpt_dev_devid(dev));
	d->env[2] = ao_sprintf("TARGET=%s", target);
	ckpt_dev_set_priv(dev, d);
	return 0;
}

static void disk_dispose(ckpt_dev *dev)
{
	struct disk *d = ckpt_dev_priv(dev);

	if (!d)
		return;
	free(d->argv[0]);
	for (int i = 0; i < 3; i++)
		free(d->env[i]);
	free(d);
	ckpt_dev_set_priv(dev, NULL);
}

/* Run the script with "setup" or "teardown", or finish at once. */
static void disk_run(ckpt_dev *dev, bool setup)
{
	struct disk *d = ckpt_dev_priv(dev);
	ao_egc *egc = ao_egc_current(ckpt_dev_ctx(dev));
	int rc;

	d->setting_up = setup;
	if (!d->argv[0]) {
		if (setup)
			d->stats.setups++;
		else
			d->stats.teardowns++;
		ckpt_dev_done(dev, 0);
		return;
	}
	d->argv[1] = setup ? "setup" : "teardown";
	d->x.ao = NULL; /* stopped by disk_abort, politely */
	d->x.what = d->argv[0];
	d->x.argv = d->argv;
	d->x.env = d->env;
	d->x.timeout_ms = d->timeout_ms;
	d->x.grace_ms = DISK_GRACE_MS;
	d->x.callback = disk_script_cb;
	rc = ao_exec_start(egc, &d->x);
	if (rc)
		ckpt_dev_done(dev, rc);
}

static void disk_script_cb(ao_egc *egc, ao_exec *x, int rc)
{
	struct disk *d = CONTAINER_OF(x, struct disk, x);

	(void)egc;
	if (!rc && d->setting_up)
		d->stats.setups++;
	else if (!rc)
		d->stats.teardowns++;
	ckpt_dev_done(d->dev, rc);
}

static void disk_setup(ckpt_dev *dev)
{
	disk_run(dev, true);
}

static void disk_teardown(ckpt_dev *dev)
{
	disk_run(dev, false);
}

static void disk_abort(ckpt_dev *dev)
{
	struct disk *d = ckpt_dev_priv(dev);

	ao_exec_stop(ao_egc_current(ckpt_dev_ctx(dev)), &d->x, CKPT_ERROR_ABORTED);
}

static int disk_postsuspend(ckpt_dev *dev)
{
	((struct disk *)ckpt_dev_priv(dev))->stats.postsuspend++;
	return 0;
}

static int disk_preresume(ckpt_dev *dev)
{
	((struct disk *)ckpt_dev_priv(dev))->stats.preresume++;
	return 0;
}

static int disk_commit(ckpt_dev *dev)
{
	((struct disk *)ckpt_dev_priv(dev))->stats.commit++;
	return 0;
}

static int disk_release(ckpt_dev *dev)
{
	((struct disk *)ckpt_dev_priv(dev))->stats.releases++;
	return 0;
}

static int disk_rearm(ckpt_dev *dev)
{
	((struct disk *)ckpt_dev_priv(dev))->stats.rearms++;
	return 0;
}

static const char *const disk_keys[] = {"target", "script", "timeout_ms", NULL};

const ckpt_dev_kind dev_disk_kind = {
        .name = "disk",
        .keys = disk_keys,
        .validate = disk_validate,
        .dispose = disk_dispose,
        .setup = disk_setup,
        .teardown = disk_teardown,
        .abort = disk_abort,
        .postsuspend = disk_postsuspend,
        .preresume = disk_preresume,
        .commit = disk_commit,
        .release = disk_release,
        .rearm = disk_rearm,
};

int ckpt_disk_get_stats(const ckpt_dev *dev, ckpt_disk_stats *out)
{
	struct disk *d;

	if (!dev)
		return CKPT_ERROR_INVAL;
	if (!out || dev->kind != &dev_disk_kind) {
		LOG(dev->set->ctx, ERROR, "ckpt_disk_get_stats: domain %u: %s: %s", dev->set->domid,
		    dev->name, out ? "not a disk" : "out is NULL");
		return CKPT_ERROR_INVAL;
	}
	/* setups/teardowns change under the ctx lock, the step counts under
	 * the set's step lock */
	ao_ctx_lock(dev->set->ctx);
	pthread_mutex_lock(&dev->set->step_lock);
	d = ckpt_dev_priv(dev);
	*out = d->stats;
	pthread_mutex_unlock(&dev->set->step_lock);
	ao_ctx_unlock(dev->set->ctx);
	return 0;
}
