/*
 * ckptdev/devices.h - the devices of a protected domain, and the kinds
 * that know how to protect them.
 *
 * A devset holds the devices of one domain.  Its life:
 *
 *            ckpt_devset_new()
 *                  |
 *                 NEW ----setup----> SETTING_UP ----ok----> READY
 *                  ^                     |                    |
 *                  |                 failed/aborted:          | teardown
 *                  |                 the devices that came    v
 *                  +---- DOWN <----- up are torn down    TEARING_DOWN
 *                         ^                                   |
 *                         +-----------------------------------+
 *
 * While READY, the toolstack runs the checkpoint cycle, synchronously and
 * without the event loop:
 *
 *	postsuspend -> preresume -> commit -> postsuspend -> ...
 *	      \___________\___________\__ release_all --> RELEASED
 *	                                                    |
 *	postsuspend <----------------------- rearm ---------+
 *
 * postsuspend (the guest is paused) closes the current output epoch;
 * preresume (the guest is about to run again) needs nothing from a NIC;
 * commit (the backup holds the checkpoint) releases the epoch closed by
 * the last postsuspend.  A call out of this order returns
 * CKPT_ERROR_INVAL and changes nothing: the kernel's plug qdisc keeps only
 * one closed epoch, so two barriers without a release would let
 * uncommitted output out.  The cycle advances even when a device fails a
 * step; the step's error names the device, and the device's last rc says
 * which ones failed (ckpt_dev_last_rc).
 *
 * When the backup is lost, release_all (from any point of the cycle) lets
 * every device stop holding output: what is held goes out, in order, and
 * new output passes straight through.  The set stays READY but RELEASED:
 * the checkpoint steps return CKPT_ERROR_INVAL and say why, until rearm
 * (for a new backup: every device holds output again, in a fresh epoch;
 * postsuspend comes next) or a teardown.
 *
 * The checkpoint steps take only the devset's own lock: they never wait
 * for another devset's setup or teardown, and may be called from any
 * thread, whatever the loop binding.
 *
 * Devices of a devset are set up in parallel, and torn down in parallel;
 * each operation completes once, with the first error (later ones are
 * logged).  Teardown is best effort, cannot be aborted (it is the cleanup:
 * ckpt_ao_abort says CKPT_ERROR_NOTSUP) and reaches every device that was
 * ever started, including those whose setup failed.
 */
#ifndef CKPTDEV_DEVICES_H
#define CKPTDEV_DEVICES_H

#include <stdint.h>

#include "ckptdev/ao.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ckpt_devset ckpt_devset;
typedef struct ckpt_dev ckpt_dev;

/* Xen's DOMID_INVALID: never a devset's domid (ckpt_devset_new refuses
 * it); what the domid getters give for a NULL object. */
#define CKPT_DOMID_INVALID 0x7FF4u

enum ckpt_dev_state {
	CKPT_DEV_NEW,
	CKPT_DEV_SETTING_UP,
	CKPT_DEV_READY,
	CKPT_DEV_TEARING_DOWN,
	CKPT_DEV_DOWN,
	CKPT_DEV_FAILED, /* setup failed; teardown still follows */
};

/* "new", "setting-up", ... */
const char *ckpt_dev_state_name(enum ckpt_dev_state state);

/* One device of a domain, as the application describes it. */
typedef struct ckpt_dev_spec {
	const char *kind;          /* "nic", "disk", or a registered kind */
	int devid;                 /* >= 0, unique within the kind and devset */
	const char *const *params; /* "key=value" strings, NULL-terminated; may be NULL */
} ckpt_dev_spec;

/* ------------------------------------------------------------- devsets */

/*
 * Make a devset for domain domid from n device specs (copied).
 * Returns 0 and *set_out, or CKPT_ERROR_INVAL (logged with the reason: an
 * unknown kind, a duplicate or negative devid, a malformed parameter, or a
 * kind's own check of its parameters failed).
 */
int ckpt_devset_new(ckpt_ctx *ctx, uint32_t domid, const ckpt_dev_spec *specs, size_t n,
                    ckpt_devset **set_out);

/* Free a devset that is NEW or DOWN.  NULL is accepted.  Returns
 * CKPT_ERROR_BUSY (and frees nothing) in any other state. */
int ckpt_devset_free(ckpt_devset *set);

/*
 * Set up every device (asynchronously, see ckpt_async_how).  The set must
 * be NEW or DOWN (else CKPT_ERROR_INVAL).  Completes with 0 (READY), or
 * with the first device's error after the layer has torn down everything
 * it started (DOWN).  ckpt_ao_abort() makes it end with
 * CKPT_ERROR_ABORTED, also when it lands during that rollback (which still
 * runs to its end).
 */
int ckpt_devset_setup(ckpt_devset *set, const ckpt_async_how *how);

/* Tear down every device.  READY: as described above.  NEW or DOWN:
 * nothing to do, completes with 0.  SETTING_UP or TEARING_DOWN:
 * CKPT_ERROR_BUSY. */
int ckpt_devset_teardown(ckpt_devset *set, const ckpt_async_how *how);

/* Tear down every device of a NEW or DOWN set, as if each were up: for
 * what a crashed process left behind (kinds' teardown copes with absent
 * devices).  Completes with the first error; CKPT_ERROR_INVAL in another
 * state. */
int ckpt_devset_cleanup(ckpt_devset *set, const ckpt_async_how *how);

/*
 * The checkpoint steps: synchronous, no event loop.  Each returns 0, the
 * first device error (after trying every device), or CKPT_ERROR_INVAL if
 * the set is not READY or the step is out of order (nothing is done).
 */
int ckpt_devset_postsuspend(ckpt_devset *set);
int ckpt_devset_preresume(ckpt_devset *set);
int ckpt_devset_commit(ckpt_devset *set);

/*
 * The backup is lost: stop holding output (see the picture above).
 * Synchronous like the checkpoint steps, from any thread, at any point of
 * the cycle.  Returns 0 or the first device error (after trying every
 * device; the set is RELEASED either way, and ckpt_dev_last_rc names the
 * device that failed), or CKPT_ERROR_INVAL if the set is not READY or is
 * already released (nothing done).
 */
int ckpt_devset_release_all(ckpt_devset *set);
/*
 * A new backup: hold output again, from a fresh epoch; postsuspend comes
 * next.  Returns 0 or the first device error (the set is back in the
 * cycle either way), or CKPT_ERROR_INVAL if the set is not released.
 */
int ckpt_devset_rearm(ckpt_devset *set);

/* Bound each device's setup: after ms, a device still setting up is told
 * to abort (if its kind can) and fails with CKPT_ERROR_TIMEDOUT.  0: no
 * bound (the default). */
void ckpt_devset_set_setup_timeout(ckpt_devset *set, unsigned ms);

/* The getters: for a NULL object see ao.h, ERRORS (CKPT_DEV_DOWN,
 * CKPT_DOMID_INVALID, 0, NULL). */
enum ckpt_dev_state ckpt_devset_state(const ckpt_devset *set);
uint32_t ckpt_devset_domid(const ckpt_devset *set);
size_t ckpt_devset_count(const ckpt_devset *set);
/* The i-th device (in spec order), or NULL (also for i >= the count). */
ckpt_dev *ckpt_devset_device(const ckpt_devset *set, size_t i);

/* ------------------------------------------------------------- devices */

/* The getters: for a NULL dev see ao.h, ERRORS (NULL, CKPT_ERROR_INVAL
 * for the devid and the last rc, CKPT_DOMID_INVALID, CKPT_DEV_DOWN). */
const char *ckpt_dev_kind_name(const ckpt_dev *dev);
int ckpt_dev_devid(const ckpt_dev *dev);
uint32_t ckpt_dev_domid(const ckpt_dev *dev);
ckpt_ctx *ckpt_dev_ctx(const ckpt_dev *dev);
enum ckpt_dev_state ckpt_dev_state(const ckpt_dev *dev);
/* The rc of the device's last setup, teardown or checkpoint step. */
int ckpt_dev_last_rc(const ckpt_dev *dev);
/* The value of parameter key, or NULL if the spec did not give it (or
 * dev or key is NULL). */
const char *ckpt_dev_param(const ckpt_dev *dev, const char *key);

/* ---------------------------------------------------------------- kinds */

/*
 * A device kind.  Every entry but name may be NULL, meaning "nothing to
 * do" (the step succeeds).  The contract:
 *
 * keys: the parameter keys the kind takes, NULL-terminated.  The layer
 *   refuses (CKPT_ERROR_INVAL) a devset with any other key, naming it and
 *   these, so that a typo (timout_ms=) is not ignored.  NULL: any key
 *   (of a-z, 0-9, _) passes to validate.  The built-in kinds declare
 *   theirs.  Every parameter, declared or not, must have a value.
 * validate(dev): check the device's parameters when the devset is made;
 *   return CKPT_ERROR_INVAL to refuse.  The layer then logs, at ERROR,
 *   that the kind refused the device (an application's kind has no
 *   library logger: its own log may say more; the built-in kinds log
 *   their precise reason instead).  It may set a priv.
 * dispose(dev): the devset is being freed (also after a failed
 *   ckpt_devset_new): release what validate made.
 * init_subkind(set, &priv) / cleanup_subkind(set, priv): once per devset,
 *   before the first setup of a device of this kind and after the last
 *   teardown (e.g. open and close a netlink socket).  ckpt_dev_subkind()
 *   gives priv to the device ops.
 * setup(dev) / teardown(dev): start the work and return; report its end
 *   with ckpt_dev_done(dev, rc), exactly once.  The report may come from
 *   inside setup/teardown itself, from a later event, or from any thread
 *   of the kind's own, with or without the lock: it is recorded and acted
 *   on later, on the loop's thread, and ckpt_dev_done returns at once
 *   (it never waits for the library's lock and never calls back).
 *   teardown is called after a failed setup too, and possibly twice: it
 *   must cope with a half-made or absent device.
 * abort(dev): optional; the setup in flight should end promptly with
 *   CKPT_ERROR_ABORTED (it still reports through ckpt_dev_done).  Called
 *   on ckpt_ao_abort() and when the devset's setup timeout passes.  A kind
 *   without it cannot be bounded by either.
 * postsuspend / preresume / commit (dev): one checkpoint step for one
 *   device; must not block on anything but the kernel; return 0 or an rc.
 * release / rearm (dev): stop holding the device's output (everything
 *   held goes out, new output passes), and hold it again from a fresh
 *   epoch; the same rules as the checkpoint steps.
 * postsuspend_all / preresume_all / commit_all / release_all / rearm_all
 *   (devs, n, rcs): the same step for every READY device of the kind at
 *   once (one netlink batch, say); fill rcs[i] for devs[i] and return the
 *   first error.  Used instead of the per-device entry when present.
 * setup, teardown, abort, validate, dispose and the subkind ops run with
 * the context's lock held; the checkpoint ops run with only their
 * devset's lock held (so other devsets' work never delays them).  No op
 * may call the ckpt_devset_* functions; ckpt_dev_done and the ckpt_dev_*
 * getters are fine.
 */
typedef struct ckpt_dev_kind {
	const char *name;
	int (*validate)(ckpt_dev *dev);
	void (*dispose)(ckpt_dev *dev);
	int (*init_subkind)(ckpt_devset *set, void **priv_out);
	void (*cleanup_subkind)(ckpt_devset *set, void *priv);
	void (*setup)(ckpt_dev *dev);
	void (*teardown)(ckpt_dev *dev);
	void (*abort)(ckpt_dev *dev);
	int (*postsuspend)(ckpt_dev *dev);
	int (*preresume)(ckpt_dev *dev);
	int (*commit)(ckpt_dev *dev);
	int (*postsuspend_all)(ckpt_dev *const *devs, size_t n, int *rcs);
	int (*preresume_all)(ckpt_dev *const *devs, size_t n, int *rcs);
	int (*commit_all)(ckpt_dev *const *devs, size_t n, int *rcs);
	int (*release)(ckpt_dev *dev);
	int (*rearm)(ckpt_dev *dev);
	int (*release_all)(ckpt_dev *const *devs, size_t n, int *rcs);
	int (*rearm_all)(ckpt_dev *const *devs, size_t n, int *rcs);
	/* Last, so that a kind's initialiser that does not name it leaves it
	 * NULL.  The struct grew: a kind compiled against the older header
	 * must be rebuilt (the library reads the field in place). */
	const char *const *keys;
} ckpt_dev_kind;

/* Make a kind available to this context's devsets.  The struct is used
 * in place and must outlive the context.  Returns CKPT_ERROR_EXISTS if a
 * kind of that name exists (built-ins: "nic", "disk"), CKPT_ERROR_INVAL
 * for a missing or empty name. */
int ckpt_kind_register(ckpt_ctx *ctx, const ckpt_dev_kind *kind);

/* For kinds: the end of a setup or teardown started by the layer. */
void ckpt_dev_done(ckpt_dev *dev, int rc);
/* For kinds: a pointer of the kind's own, per device. */
void *ckpt_dev_priv(const ckpt_dev *dev);
void ckpt_dev_set_priv(ckpt_dev *dev, void *priv);
/* For kinds: the priv its init_subkind made for this devset. */
void *ckpt_dev_subkind(const ckpt_dev *dev);

/* --------------------------------------------------- the disk stub kind */

/*
 * "disk": the template for a real disk kind.  Parameters:
 *   target=PATH-OR-NAME  required: letters, digits and /._:- only
 *   script=PATH          optional: run as `PATH setup` at setup and
 *                        `PATH teardown` at teardown, with environment
 *                        DOMID, DEVID, TARGET (stdin /dev/null, output to
 *                        the log); a non-zero exit fails the step
 *   timeout_ms=N         the script's timeout (default 10000)
 * A script that times out, or whose setup is aborted (ckpt_ao_abort, the
 * devset's setup timeout), gets SIGTERM to its process group and SIGKILL
 * 1 s later.  The checkpoint steps (and release, rearm) only count calls.
 */
typedef struct ckpt_disk_stats {
	unsigned long postsuspend, preresume, commit;
	unsigned long setups, teardowns;
	unsigned long releases, rearms;
} ckpt_disk_stats;

/* CKPT_ERROR_INVAL if dev is not a disk. */
int ckpt_disk_get_stats(const ckpt_dev *dev, ckpt_disk_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* CKPTDEV_DEVICES_H */
