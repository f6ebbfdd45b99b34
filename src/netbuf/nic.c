/*
 * nic.c - "nic", the device kind that buffers a guest's network output.
 *
 * Parameters (see docs/devices.md and docs/script-protocol.md):
 *   vif=NAME         the guest's backend interface (required)
 *   script=PATH      the hotplug script (default: the installed
 *                    remus-netbuf-setup)
 *   timeout_ms=N     the script's timeout (default 10000)
 *   limit=BYTES      the plug qdisc's byte limit (default: the script's)
 *
 * Setup:    refuse (BUSY) if the device's xenstore record names another
 *           process that still runs (owner.c); else clear the folder and
 *           write the record: vif, owner.  Run `SCRIPT setup` with
 *           vifname, XENBUS_PATH, NETBUF_OWNER (this process: the script
 *           refuses a live owner's IFB to anyone else) and NETBUF_LIMIT;
 *           on failure log its hotplug-error line; on success read
 *           XENBUS_PATH/ifb, check the name, and attach to the IFB's plug
 *           qdisc.
 * Teardown: if attached, release everything the plug holds
 *           (RELEASE_INDEFINITE); run `SCRIPT teardown`, which releases
 *           the plug itself, removes the redirect, waits for the IFB's
 *           queue to drain and only then deletes the IFB.  If the script
 *           fails, is killed, times out or cannot start, the library does
 *           the same itself (nb_sweep.c).  Then remove the xenstore folder
 *           if nothing of ours is left (else keep it, so that a later
 *           teardown finds what is), detach.  Every step is tried even if
 *           an earlier one failed.
 * Checkpoints go to the backend as one batch for all NICs of the devset
 *           (one sendmsg, each NIC its own result: nb_nl.c):
 *           postsuspend = BUFFER, commit = RELEASE_ONE; the backup lost:
 *           release_all = RELEASE_INDEFINITE, rearm = BUFFER.  A NIC whose
 *           vif or IFB was deleted (the devset's link watch, nb_linkmon.c,
 *           saw it and said so) fails them with NOTFOUND, and its teardown
 *           still runs every step.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#ifndef CKPT_NETBUF_SCRIPT
#define CKPT_NETBUF_SCRIPT "/usr/local/libexec/ckptdev/remus-netbuf-setup"
#endif

#define NIC_TIMEOUT_MS 10000
/* What remus-netbuf-setup's hotplug-error says when the kernel lacks the
 * plug qdisc (its step 5; docs/script-protocol.md quotes the line). */
#define NIC_NO_PLUG_TEXT "kernel has no plug qdisc"
#define NIC_NAME_CHARS   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

static void setup_script_cb(ao_egc *egc, ao_exec *x, int rc);
static void teardown_script_cb(ao_egc *egc, ao_exec *x, int rc);
static void sweep_done(ao_egc *egc, struct nb_sweep *s);

/* NETBUF_OWNER=PID:START for the script, which records this process as
 * the IFB's owner and refuses a live owner's IFB to anyone else
 * (docs/script-protocol.md).  NULL if /proc cannot tell; the script then
 * takes its parent as the owner. */
static char *owner_env(void)
{
	char self[NB_OWNER_LEN];

	return nb_owner_self(self) ? NULL : ao_sprintf("NETBUF_OWNER=%s", self);
}

bool nb_ifname_ok(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len < 16 && strspn(name, NIC_NAME_CHARS) == len && strcmp(name, ".") &&
	       strcmp(name, "..");
}

static int nic_validate(ckpt_dev *dev)
{
	const char *vif = ckpt_dev_param(dev, "vif");
	const char *script = ckpt_dev_param(dev, "script");
	const char *unfit;
	unsigned long timeout = NIC_TIMEOUT_MS, limit = 0;
	struct nb_nic *n;

	if (!vif || !vif[0]) {
		DEV_LOG(dev, ERROR, "needs a vif=NAME parameter (the guest's backend interface)");
		return CKPT_ERROR_INVAL;
	}
	if (!nb_ifname_ok(vif)) {
		DEV_LOG(dev, ERROR,
		        "vif \"%s\": not an interface name (1-15 of A-Z a-z 0-9 . _ -, not . or "
		        "..)",
		        vif);
		return CKPT_ERROR_INVAL;
	}
	/* one IFB per vif (its name comes from the vif): two NICs on one
	 * vif would fight over it, and its plug would get two barriers a
	 * checkpoint */
	for (size_t i = 0; i + 1 < dev->set->n; i++) {
		ckpt_dev *other = &dev->set->devs[i];
		if (other->kind == dev->kind && !strcmp(nb_nic_of(other)->vif, vif)) {
			DEV_LOG(dev, ERROR, "vif \"%s\" is nic %d's already: one NIC per vif", vif,
			        other->devid);
			return CKPT_ERROR_INVAL;
		}
	}
	if (!script)
		script = CKPT_NETBUF_SCRIPT;
	unfit = dev_script_unfit(script);
	if (unfit) {
		DEV_LOG(dev, ERROR,
		        "hotplug script \"%s\": not an absolute path to an executable file (%s)",
		        script, unfit);
		return CKPT_ERROR_INVAL;
	}
	if (dev_param_ulong(dev, "timeout_ms", 3600000, &timeout) ||
	    dev_param_ulong(dev, "limit", 1UL << 31, &limit))
		return CKPT_ERROR_INVAL;

	n = ao_calloc(1, sizeof(*n));
	n->dev = dev;
	n->vif = vif;
	n->script = ao_strdup(script);
	n->timeout_ms = (unsigned)timeout;
	n->limit = limit;
	n->xs_path =
	        ao_sprintf("/libxl/%u/remus/netbuf/%d", ckpt_dev_domid(dev), ckpt_dev_devid(dev));
	ao_exec_init(&n->x);
	nb_sweep_init(&n->sweep);
	n->argv[0] = n->script;
	n->env[0] = ao_sprintf("vifname=%s", vif);
	n->env[1] = ao_sprintf("XENBUS_PATH=%s", n->xs_path);
	n->env[2] = owner_env();
	if (limit)
		n->env[n->env[2] ? 3 : 2] = ao_sprintf("NETBUF_LIMIT=%lu", limit);
	ckpt_dev_set_priv(dev, n);
	return 0;
}

static void nic_dispose(ckpt_dev *dev)
{
	struct nb_nic *n = nb_nic_of(dev);

	if (!n)
		return;
	free(n->script);
	free(n->xs_path);
	for (int i = 0; i < 4; i++)
		free(n->env[i]);
	free(n);
	ckpt_dev_set_priv(dev, NULL);
}

/* The backend's socket is sized for a step on every NIC of the set; its
 * link watch looks out for their vifs and IFBs from before they attach. */
static int nic_init_subkind(ckpt_devset *set, void **priv_out)
{
	struct dev_group *grp = NULL;
	struct nb_backend *be;
	int rc;

	for (size_t g = 0; g < set->n_groups; g++)
		if (set->groups[g].kind == &nb_nic_kind)
			grp = &set->groups[g];
	*priv_out = NULL;
	rc = nb_backend_open(set->ctx, set->domid, grp ? grp->n : 0, &be);
	if (rc)
		return rc;
	rc = nb_backend_watch_links(be, grp ? grp->devs : NULL, grp ? grp->n : 0);
	if (rc) {
		nb_backend_close(be);
		return rc;
	}
	*priv_out = be;
	return 0;
}

/* Remove path if it has no children left (someone else's nodes stay):
 * 0 (removed, absent or not empty) or the rc of the failed request. */
static int rm_if_empty(ckpt_ctx *ctx, const char *path)
{
	char **list = NULL;
	unsigned n = 0;
	int rc = ao_xs_directory(ctx, path, &list, &n);

	free(list);
	if (rc == CKPT_ERROR_NOTFOUND)
		return 0;
	if (!rc && n == 0)
		rc = ao_xs_rm(ctx, path);
	return rc;
}

/* After a NIC's folder went: the parents go too once empty (the last NIC
 * of the domain's takes them; /libxl/<domid> itself is the toolstack's).
 * 0 or the rc of a failed request, which the teardown reports. */
static int rm_parents(ckpt_dev *dev)
{
	char *netbuf = ao_sprintf("/libxl/%u/remus/netbuf", ckpt_dev_domid(dev));
	char *remus = ao_sprintf("/libxl/%u/remus", ckpt_dev_domid(dev));
	int rc = rm_if_empty(ckpt_dev_ctx(dev), netbuf);

	if (!rc)
		rc = rm_if_empty(ckpt_dev_ctx(dev), remus);
	free(netbuf);
	free(remus);
	return rc;
}

static void nic_cleanup_subkind(ckpt_devset *set, void *priv)
{
	(void)set;
	nb_backend_close(priv);
}

/* Start `SCRIPT cmd`; 0, or the rc of a script that could not start. */
static int run_script(ckpt_dev *dev, char *cmd, ao_exec_cb *callback)
{
	struct nb_nic *n = nb_nic_of(dev);
	ao_egc *egc = ao_egc_current(ckpt_dev_ctx(dev));

	n->argv[1] = cmd;
	n->x.ao = NULL; /* stopped by nic_abort, politely: its undo runs */
	n->x.what = "remus-netbuf-setup";
	n->x.argv = n->argv;
	n->x.env = n->env;
	n->x.timeout_ms = n->timeout_ms;
	n->x.callback = callback;
	return ao_exec_start(egc, &n->x);
}

/* Write NODE=value in the device's folder. */
static int write_node(ckpt_dev *dev, const char *node, const char *value)
{
	char *path = ao_sprintf("%s/%s", nb_nic_of(dev)->xs_path, node);
	int rc = ao_xs_write(ckpt_dev_ctx(dev), path, value);

	free(path);
	return rc;
}

/* The device's record may belong to another process: refuse (BUSY,
 * logged) if that process still runs, since it protects this NIC right
 * now; a dead owner's record is a leftover, ours to replace or remove. */
static int check_owner(ckpt_dev *dev, const char *doing)
{
	struct nb_nic *n = nb_nic_of(dev);
	char *path = ao_sprintf("%s/owner", n->xs_path);
	char *rec = NULL;
	int rc, pid;

	rc = ao_xs_read(ckpt_dev_ctx(dev), path, &rec);
	if (rc == CKPT_ERROR_NOTFOUND)
		rc = 0;
	if (!rc && nb_owner_alive(rec, &pid) == 1 && pid != getpid()) {
		DEV_LOG(dev, ERROR,
		        "not %s: %s is protected by process %d, which is still running (%s = "
		        "\"%s\")",
		        doing, n->vif, pid, path, rec);
		rc = CKPT_ERROR_BUSY;
	}
	free(rec);
	free(path);
	return rc;
}

static void nic_setup(ckpt_dev *dev)
{
	struct nb_nic *n = nb_nic_of(dev);
	char self[NB_OWNER_LEN];
	int rc;

	n->foreign = false;
	rc = check_owner(dev, "setting it up");
	if (rc == CKPT_ERROR_BUSY)
		n->foreign = true;
	/* whatever a crashed run left must not be read back as ours; then
	 * the record says whose this NIC is, before anything is made */
	if (!rc)
		rc = ao_xs_rm(ckpt_dev_ctx(dev), n->xs_path);
	if (!rc)
		rc = write_node(dev, "vif", n->vif);
	if (!rc && !nb_owner_self(self))
		rc = write_node(dev, "owner", self);
	if (rc) {
		ckpt_dev_done(dev, rc);
		return;
	}
	DEV_LOG(dev, DEBUG, "buffering the output of %s", n->vif);
	rc = run_script(dev, "setup", setup_script_cb);
	if (rc)
		ckpt_dev_done(dev, rc);
}

/* NOTSUP when the line says the kernel has no plug qdisc: nothing this
 * host can buffer with, as when nb_plug_attach finds no plug. */
int nb_hotplug_error_rc(const char *msg)
{
	return strstr(msg, NIC_NO_PLUG_TEXT) ? CKPT_ERROR_NOTSUP : CKPT_ERROR_SCRIPT;
}

/* The script failed: say what it said went wrong, and give the rc
 * (nb_hotplug_error_rc; CKPT_ERROR_SCRIPT if it said nothing). */
static int log_hotplug_error(ckpt_dev *dev, const char *cmd)
{
	struct nb_nic *n = nb_nic_of(dev);
	char *path = ao_sprintf("%s/hotplug-error", n->xs_path);
	char *msg = NULL;
	int rc = CKPT_ERROR_SCRIPT;

	if (ao_xs_read(ckpt_dev_ctx(dev), path, &msg) == 0 && msg[0]) {
		DEV_LOG(dev, ERROR, "remus-netbuf-setup %s for %s failed: %s", cmd, n->vif, msg);
		rc = nb_hotplug_error_rc(msg);
	} else {
		DEV_LOG(dev, ERROR, "remus-netbuf-setup %s for %s failed (it left no %s)", cmd,
		        n->vif, path);
	}
	free(msg);
	free(path);
	return rc;
}

/* After a successful setup script: find and check the IFB it made. */
static int attach_ifb(ckpt_dev *dev)
{
	struct nb_nic *n = nb_nic_of(dev);
	char *path = ao_sprintf("%s/ifb", n->xs_path);
	char *ifb = NULL;
	int rc;

	rc = ao_xs_read(ckpt_dev_ctx(dev), path, &ifb);
	if (rc == CKPT_ERROR_NOTFOUND)
		DEV_LOG(dev, ERROR, "remus-netbuf-setup succeeded but wrote no %s", path);
	if (rc)
		goto out;
	if (!nb_ifname_ok(ifb)) {
		DEV_LOG(dev, ERROR, "%s holds \"%s\", which is not an interface name", path, ifb);
		rc = CKPT_ERROR_SCRIPT;
		goto out;
	}
	snprintf(n->ifb, sizeof(n->ifb), "%s", ifb);
	rc = nb_plug_attach(ckpt_dev_subkind(dev), dev, n->ifb, &n->plug);
	if (!rc)
		DEV_LOG(dev, DEBUG, "%s is buffered through %s", n->vif, n->ifb);
out:
	free(ifb);
	free(path);
	return rc;
}

static void setup_script_cb(ao_egc *egc, ao_exec *x, int rc)
{
	struct nb_nic *n = CONTAINER_OF(x, struct nb_nic, x);

	(void)egc;
	if (rc == CKPT_ERROR_SCRIPT)
		rc = log_hotplug_error(n->dev, "setup");
	if (!rc)
		rc = attach_ifb(n->dev);
	ckpt_dev_done(n->dev, rc);
}

static void nic_teardown(ckpt_dev *dev)
{
	struct nb_nic *n = nb_nic_of(dev);
	int rc;

	/* A graceful teardown drops nothing.  Attached (n->plug), we let out
	 * what the plug holds at once, through netlink.  The script's
	 * teardown releases too, first thing, then removes the redirect,
	 * waits for the queue to drain and only then deletes the IFB: that
	 * is what lets the packets out when we are not attached (the setup
	 * failed after the script had put the redirect in place, or
	 * ckpt_devset_cleanup after a crash) or our release failed; and the
	 * sweep does the same when the script does not finish. */
	n->release_rc = 0;
	/* its vif and IFB may go now: that is no news for the link watch */
	n->vif_ifindex = 0;
	n->ifb_ifindex = 0;
	if (n->foreign) {
		/* its setup was refused: everything there is the owner's */
		ckpt_dev_done(dev, 0);
		return;
	}
	if (!n->plug) {
		/* ckpt_devset_cleanup, or a setup that failed: not ours if a
		 * live process owns the record */
		rc = check_owner(dev, "tearing it down");
		if (rc) {
			ckpt_dev_done(dev, rc);
			return;
		}
	}
	if (n->plug)
		nb_plug_request(ckpt_dev_subkind(dev), &dev, 1, NB_RELEASE_INDEFINITE,
		                &n->release_rc);
	rc = run_script(dev, "teardown", teardown_script_cb);
	if (rc)
		teardown_script_cb(ao_egc_current(ckpt_dev_ctx(dev)), &n->x, rc);
}

/* The end of a teardown: the record goes only with what it records. */
static void teardown_done(ckpt_dev *dev, int rc, bool all_gone)
{
	struct nb_nic *n = nb_nic_of(dev);
	int r;

	if (n->release_rc)
		rc = n->release_rc;
	if (all_gone) {
		r = ao_xs_rm(ckpt_dev_ctx(dev), n->xs_path);
		if (!r)
			r = rm_parents(dev);
		if (!rc)
			rc = r;
	} else {
		DEV_LOG(dev, ERROR,
		        "%s keeps what is left of the buffer of %s: a later teardown "
		        "(ckpt_devset_cleanup, ckptdev teardown --domid %u) finds it there",
		        n->xs_path, n->vif, ckpt_dev_domid(dev));
	}
	nb_plug_detach(ckpt_dev_subkind(dev), n->plug);
	n->plug = NULL;
	ckpt_dev_done(dev, rc);
}

/* The script's teardown ended, or (x->pid 0) could not start.  When it
 * did not finish its job, the sweep does; the rc stays the script's. */
static void teardown_script_cb(ao_egc *egc, ao_exec *x, int rc)
{
	struct nb_nic *n = CONTAINER_OF(x, struct nb_nic, x);
	char *path, *ifb = NULL;

	if (!rc) {
		teardown_done(n->dev, 0, true);
		return;
	}
	if (rc == CKPT_ERROR_SCRIPT)
		(void)log_hotplug_error(n->dev, "teardown");
	n->script_rc = rc;
	nb_sweep_init(&n->sweep);
	n->sweep.dev = n->dev;
	n->sweep.vif = n->vif;
	n->sweep.callback = sweep_done;
	/* the IFB attached to, or the one the record names */
	path = ao_sprintf("%s/ifb", n->xs_path);
	if (n->ifb[0])
		snprintf(n->sweep.ifb, sizeof(n->sweep.ifb), "%s", n->ifb);
	else if (ao_xs_read(ckpt_dev_ctx(n->dev), path, &ifb) == 0 && nb_ifname_ok(ifb))
		snprintf(n->sweep.ifb, sizeof(n->sweep.ifb), "%s", ifb);
	free(ifb);
	free(path);
	nb_sweep_start(egc, &n->sweep);
}

static void sweep_done(ao_egc *egc, struct nb_sweep *s)
{
	struct nb_nic *n = CONTAINER_OF(s, struct nb_nic, sweep);

	(void)egc;
	teardown_done(n->dev, n->script_rc, s->left == 0);
}

/* Let the script stop and undo what it did: SIGTERM, its grace, SIGKILL. */
static void nic_abort(ckpt_dev *dev)
{
	ao_exec_stop(ao_egc_current(ckpt_dev_ctx(dev)), &nb_nic_of(dev)->x, CKPT_ERROR_ABORTED);
}

static int nic_postsuspend_all(ckpt_dev *const *devs, size_t n, int *rcs)
{
	return nb_plug_request(ckpt_dev_subkind(devs[0]), devs, n, NB_BUFFER, rcs);
}

static int nic_commit_all(ckpt_dev *const *devs, size_t n, int *rcs)
{
	return nb_plug_request(ckpt_dev_subkind(devs[0]), devs, n, NB_RELEASE_ONE, rcs);
}

/* The backup is lost: let everything out, and pass what comes. */
static int nic_release_all(ckpt_dev *const *devs, size_t n, int *rcs)
{
	return nb_plug_request(ckpt_dev_subkind(devs[0]), devs, n, NB_RELEASE_INDEFINITE, rcs);
}

/* A new backup: a barrier ends pass-through mode, and what comes next is
 * held as the first epoch (the qdisc's closed epoch is empty after a
 * release, so the postsuspend that follows is not a second barrier on
 * held packets). */
static int nic_rearm_all(ckpt_dev *const *devs, size_t n, int *rcs)
{
	return nb_plug_request(ckpt_dev_subkind(devs[0]), devs, n, NB_BUFFER, rcs);
}

static const char *const nic_keys[] = {"vif", "script", "timeout_ms", "limit", NULL};

const ckpt_dev_kind nb_nic_kind = {
        .name = "nic",
        .keys = nic_keys,
        .validate = nic_validate,
        .dispose = nic_dispose,
        .init_subkind = nic_init_subkind,
        .cleanup_subkind = nic_cleanup_subkind,
        .setup = nic_setup,
        .teardown = nic_teardown,
        .abort = nic_abort,
        .postsuspend_all = nic_postsuspend_all,
        .commit_all = nic_commit_all,
        .release_all = nic_release_all,
        .rearm_all = nic_rearm_all,
};

int ckpt_nic_get_stats(const ckpt_dev *dev, ckpt_nic_stats *out)
{
	ckpt_dev *d = (ckpt_dev *)dev; /* its plug's drop count changes, not the device */
	ckpt_ctx *ctx;
	int rc;

	if (!dev)
		return CKPT_ERROR_INVAL;
	ctx = ckpt_dev_ctx(dev);
	if (!out) {
		LOG(ctx, ERROR, "ckpt_nic_get_stats: domain %u: %s: out is NULL",
		    ckpt_dev_domid(dev), dev->name);
		return CKPT_ERROR_INVAL;
	}
	/* the netlink socket is the checkpoint path's: its lock, not ctx's */
	pthread_mutex_lock(&dev->set->step_lock);
	if (dev->kind != &nb_nic_kind || dev->set->state != CKPT_DEV_READY ||
	    dev->state != CKPT_DEV_READY || !nb_nic_of(dev)->plug) {
		LOG(ctx, ERROR, "ckpt_nic_get_stats: domain %u: %s is not a ready nic",
		    ckpt_dev_domid(dev), dev->name);
		rc = CKPT_ERROR_INVAL;
	} else {
		nb_plug_stats(ckpt_dev_subkind(dev), &d, 1, out, &rc);
	}
	pthread_mutex_unlock(&dev->set->step_lock);
	return rc;
}

int ckpt_devset_nic_stats(ckpt_devset *set, ckpt_nic_stats *out, int *rcs, size_t n)
{
	struct dev_group *grp = NULL;
	int rc = 0;

	if (!set || (n && !out))
		return CKPT_ERROR_INVAL;
	for (size_t g = 0; g < set->n_groups; g++)
		if (set->groups[g].kind == &nb_nic_kind)
			grp = &set->groups[g];
	/* the netlink socket is the checkpoint path's: its lock, not ctx's */
	pthread_mutex_lock(&set->step_lock);
	if (set->state != CKPT_DEV_READY) {
		LOG(set->ctx, ERROR,
		    "ckpt_devset_nic_stats: domain %u: the devset is %s, not ready", set->domid,
		    ckpt_dev_state_name(set->state));
		rc = CKPT_ERROR_INVAL;
		goto out;
	}
	if (!grp)
		goto out; /* no NIC: nothing to read */
	if (n < grp->n) {
		LOG(set->ctx, ERROR,
		    "ckpt_devset_nic_stats: domain %u: room for %zu NICs' counters, the devset "
		    "has %zu NICs",
		    set->domid, n, grp->n);
		rc = CKPT_ERROR_INVAL;
		goto out;
	}
	/* a READY set's NICs are all READY and attached */
	for (size_t i = 0; i < grp->n; i++)
		assert(grp->devs[i]->state == CKPT_DEV_READY && nb_nic_of(grp->devs[i])->plug);
	/* without rcs, the steps' scratch (this lock is theirs) */
	rc = nb_plug_stats(grp->subkind_priv, grp->devs, grp->n, out, rcs ? rcs : grp->rcs);
out:
	pthread_mutex_unlock(&set->step_lock);
	return rc;
}

const char *ckpt_nic_ifb(const ckpt_dev *dev)
{
	if (!dev || dev->kind != &nb_nic_kind || dev->state != CKPT_DEV_READY)
		return NULL;
	return nb_nic_of(dev)->ifb;
}
