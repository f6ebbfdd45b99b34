/*
 * internal.h - the device layer's own structures (see ckptdev/devices.h
 * for the behaviour).
 *
 * Device states and the transitions dev_set_state() allows:
 *   NEW, DOWN      -> SETTING_UP                 (setup starts)
 *   SETTING_UP     -> READY | FAILED             (its ckpt_dev_done)
 *   READY, FAILED  -> TEARING_DOWN               (teardown or rollback)
 *   NEW, DOWN      -> TEARING_DOWN               (ckpt_devset_cleanup)
 *   TEARING_DOWN   -> DOWN                       (its ckpt_dev_done)
 * Anything else is a bug in the layer and asserts.
 *
 * A kind reports the end of setup/teardown with ckpt_dev_done(), from
 * inside the op itself, from a later event, or from a thread of its own.
 * The layer never acts on that report on the spot: it queues the device's
 * done_work, on the running egc when the report comes from inside the
 * library on this thread, else posted to the loop (ao_work_post).  So the
 * layer's loops over devices are never re-entered, and the rest of the
 * operation and the application's callback always run on a thread that
 * runs the event loop, whatever thread the kind reports from.
 *
 * LOCKS
 *   The ctx lock guards everything, as in the core, except the checkpoint
 *   path: the set's step_lock guards set->state (written under both
 *   locks, ctx lock first) and set->phase, and is the only lock the
 *   checkpoint steps take.  So a READY set's checkpoint never waits for
 *   another devset's setup or teardown, whatever blocking work that does
 *   under the ctx lock.  While a set is READY no device changes state.
 */
#ifndef CKPT_DEVICES_INTERNAL_H
#define CKPT_DEVICES_INTERNAL_H

#include "../ao/internal.h"
#include "ckptdev/devices.h"

struct ckpt_dev {
	ckpt_devset *set;
	const ckpt_dev_kind *kind;
	struct dev_group *group;
	int devid;
	char **params; /* "key=value", NULL-terminated, owned */
	/* written under the ctx lock; read anywhere (ckpt_dev_state from a
	 * checkpoint op, which holds only the set's step lock) */
	_Atomic enum ckpt_dev_state state;
	atomic_int last_rc;   /* any thread reads it (ckpt_dev_last_rc) */
	void *priv;           /* the kind's */
	bool op_pending;      /* setup/teardown started, done not yet handled */
	atomic_bool reported; /* ckpt_dev_done has been called for it */
	bool timed_out;       /* the setup timeout passed while it ran */
	int done_rc;          /* from ckpt_dev_done, until handled */
	ao_work done_work;
	ao_join_member member;
	char name[48]; /* "nic 0", for the log */
};

/* The devices of one kind in a devset, for batched checkpoint steps. */
struct dev_group {
	const ckpt_dev_kind *kind;
	void *subkind_priv;
	bool subkind_ready; /* init_subkind succeeded */
	size_t n;
	ckpt_dev **devs;  /* all of the kind */
	ckpt_dev **ready; /* scratch: the READY ones, for a step */
	int *rcs;         /* scratch, n entries */
};

enum dev_phase {
	PHASE_IDLE,      /* next: postsuspend */
	PHASE_SUSPENDED, /* next: preresume */
	PHASE_RESUMED,   /* next: commit */
	PHASE_RELEASED,  /* output passes freely; next: rearm */
};

enum devset_op {
	OP_NONE,
	OP_SETUP,
	OP_ROLLBACK, /* teardown after a failed setup */
	OP_TEARDOWN,
	OP_CLEANUP, /* teardown of everything, whatever its state */
};

struct ckpt_devset {
	ckpt_ctx *ctx;
	uint32_t domid;
	pthread_mutex_t step_lock; /* see LOCKS above */
	enum ckpt_dev_state state; /* NEW, SETTING_UP, READY, TEARING_DOWN, DOWN */
	enum dev_phase phase;
	size_t n;
	ckpt_dev *devs;
	size_t n_groups;
	struct dev_group *groups;
	unsigned setup_timeout_ms;

	/* the running operation, one at a time */
	enum devset_op op;
	ao_op *ao;
	int setup_rc; /* first setup error, kept over rollback */
	ao_join join;
	ao_abortable abrt;
	ao_time timeout;
};

/* Kind registry (kind.c). */
HIDDEN const ckpt_dev_kind *dev_kind_find(ckpt_ctx *ctx, const char *name);
HIDDEN extern const ckpt_dev_kind dev_disk_kind;
/* Every context's kinds, NULL-terminated (src/builtin_kinds.c). */
HIDDEN extern const ckpt_dev_kind *const dev_builtin_kinds[];

HIDDEN void dev_set_state(ckpt_dev *dev, enum ckpt_dev_state to);
/* Change the set's state (ctx lock held; takes the step lock). */
HIDDEN void devset_set_state(ckpt_devset *set, enum ckpt_dev_state to);
/* The numeric parameter key, if given, in 1..max (else logged, INVAL);
 * *out is left alone when the parameter is absent. */
/* Why path cannot be run as a kind's script ("a relative path", "a
 * directory", ...), or NULL if it can. */
HIDDEN const char *dev_script_unfit(const char *path);
HIDDEN int dev_param_ulong(ckpt_dev *dev, const char *key, unsigned long max, unsigned long *out);

#define DEV_LOG(dev, lvl, fmt, ...)                                                                \
	LOG((dev)->set->ctx, lvl, "domain %u: %s: " fmt, (dev)->set->domid, (dev)->name,           \
	    ##__VA_ARGS__)

/*
 * Xen's special domids (xen/include/public/xen.h): from
 * DOMID_FIRST_RESERVED up none is a guest's, and xenstore and the
 * toolstack would take DOMID_SELF for the caller's own domain.
 */
#define DOMID_FIRST_RESERVED 0x7FF0u

#endif /* CKPT_DEVICES_INTERNAL_H */
