/*
 * ckptdev/netbuf.h - what the NIC kind ("nic") offers beyond the generic
 * device interface: the numbers of its output buffer, one NIC's or the
 * whole devset's at once.
 *
 * A NIC device takes these parameters (see docs/devices.md):
 *   vif=NAME        the guest's backend interface (required)
 *   script=PATH     the hotplug script (default: the installed
 *                   remus-netbuf-setup)
 *   timeout_ms=N    the script's timeout (default 10000)
 *   limit=BYTES     the buffer's byte limit (default: the script's)
 *
 * Teardown (docs/devices.md): the buffer is released, then the hotplug
 * script removes it.  If the script fails, is killed, times out or cannot
 * start, the library removes what is left itself (release, the redirect,
 * the clsact, a bounded drain, the IFB; only what is ours).  The NIC's
 * teardown rc is then still the script's (CKPT_ERROR_SCRIPT,
 * CKPT_ERROR_TIMEDOUT, ...), even when the library removed everything.
 * The xenstore record /libxl/<domid>/remus/netbuf/<devid> is removed only
 * once nothing is left; otherwise it is kept, and logged, for a later
 * ckpt_devset_cleanup() to find.
 *
 * A NIC's vif or IFB deleted behind the library's back (docs/devices.md):
 * the devset watches the kernel's link notifications on the event loop;
 * once the loop has seen the deletion (logged once, naming the vif or
 * IFB), that NIC's postsuspend, commit and rearm fail with
 * CKPT_ERROR_NOTFOUND (ckpt_dev_last_rc), without a syscall, and so do its
 * counters; the devset's other NICs are unaffected, and its teardown
 * still completes.
 */
#ifndef CKPTDEV_NETBUF_H
#define CKPTDEV_NETBUF_H

#include <stdbool.h>
#include <stdint.h>

#include "ckptdev/devices.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Counters of a NIC's plug qdisc, as the kernel keeps them: cumulative
 * since setup, except the "held" pair, which is the queue right now.
 * Per epoch, from two reads: after postsuspend, "held" is what the epoch
 * just closed holds plus what the guest sent since; after commit, the
 * growth of "released" is what that commit let out.
 */
typedef struct ckpt_nic_stats {
	uint64_t packets_released, bytes_released;
	uint64_t packets_held, bytes_held;
	uint64_t drops; /* refused: the buffer was full (raise limit=); the
	                 * kernel's 32-bit count, carried on across its wrap */
} ckpt_nic_stats;

/*
 * Read one NIC's counters: one netlink request for its IFB's root qdisc
 * (never a dump of the host's qdiscs).  Returns 0; CKPT_ERROR_INVAL if
 * dev is not a READY nic of a READY devset; CKPT_ERROR_NOTFOUND if its IFB
 * or its vif has gone or its root qdisc is no longer the plug set up;
 * CKPT_ERROR_NOMEM or CKPT_ERROR_NETLINK if the kernel refused or its
 * answer was lost.
 * Failures are logged naming the NIC, and *out is then zeroed.  Drops
 * since the last read (of this NIC, by either call) are logged as a
 * warning naming the NIC and the limit= to raise.  Threads and costs as
 * for ckpt_devset_nic_stats: the devset's step lock, no allocation.
 */
int ckpt_nic_get_stats(const ckpt_dev *dev, ckpt_nic_stats *out);

/*
 * Read the counters of every NIC of a READY devset at once: one netlink
 * request per NIC's IFB, all in ONE sendmsg (a few, if the devset's
 * netlink buffers could not be sized for all its NICs: setup says so),
 * never a dump.  Cheap enough for every checkpoint, e.g. after
 * postsuspend and after commit.
 *
 * out[i] (and rcs[i], if rcs is not NULL) is for the set's i-th NIC: the
 * i-th device of kind "nic" in spec order (ckpt_devset_device order,
 * devices of other kinds skipped).  n is the room in out and rcs: at
 * least the set's number of NICs; slots past the last NIC are not
 * touched.  rcs[i] is 0, or for that NIC alone CKPT_ERROR_NOTFOUND (its
 * IFB, its plug or its vif has gone), CKPT_ERROR_NOMEM or
 * CKPT_ERROR_NETLINK (the kernel refused, or its answer was lost: reading
 * again is harmless); each failure is logged naming the NIC, its out[i]
 * is zeroed, and the other NICs still get their counters.  A drop counter that grew since the last
 * read is logged as a warning naming the NIC and saying to raise its
 * limit= parameter.
 *
 * Returns 0 (every NIC read; also for a set without NICs), the first
 * NIC's error after reading every NIC, or CKPT_ERROR_INVAL with nothing
 * read: set is NULL, or out is NULL with n > 0, or (logged) n is smaller
 * than the number of NICs or the set is not READY (a RELEASED set is).
 *
 * Threads: from any thread, without the event loop.  Takes the devset's
 * step lock, as the checkpoint steps do: it waits for a step in progress
 * (and a step for it), never for another devset's work.  Blocks on
 * nothing but the kernel's answer; allocates nothing (but to log).
 */
int ckpt_devset_nic_stats(ckpt_devset *set, ckpt_nic_stats *out, int *rcs, size_t n);

/*
 * What protects a domain's NICs, from their records in xenstore: each NIC
 * device's folder /libxl/<domid>/remus/netbuf/<devid> holds "vif" and
 * "owner" (written before its setup script runs) and "ifb" (once the
 * script has named its IFB), and stays until teardown has removed what it
 * names.  A record whose owner has gone is a crashed run's leftover, for
 * ckpt_devset_cleanup.  Where the IFB exists, the record also tells its
 * root qdisc and that qdisc's counters, read as ckpt_devset_nic_stats
 * reads them (one targeted netlink request, no dump).
 */
typedef struct ckpt_nic_record {
	int devid;
	char vif[16];     /* the guest's backend interface; "" if unrecorded */
	char ifb[16];     /* its IFB; "" if the script named none */
	int owner_pid;    /* the protecting process; 0 if unrecorded */
	bool owner_alive; /* that very process (pid and start time) still runs */
	bool ifb_exists;  /* the kernel has an interface named ifb */
	char qdisc[16];   /* the kind of its root qdisc ("plug"); "" if none */
	int stats_rc;     /* 0: stats hold its root qdisc's counters; else why not */
	ckpt_nic_stats stats;
} ckpt_nic_record;

/*
 * Fill out[0..n) with domain domid's NIC records, in devid order, and set
 * *count_out to how many there are.  Returns 0 (also when there is none);
 * CKPT_ERROR_BUFFERFULL if there are more than n (then *count_out says
 * how many: call again with room for them); CKPT_ERROR_INVAL for a NULL
 * ctx or count_out, a NULL out with n > 0, or a reserved domid (0x7FF0
 * and above); CKPT_ERROR_XENSTORE if xenstore could not be read.  A
 * failure to read an IFB's counters is not the call's: that record's
 * stats_rc says it (CKPT_ERROR_NOTFOUND: the IFB has no root qdisc; see
 * ckpt_devset_nic_stats for the others).
 * Synchronous: reads xenstore under the context's lock (blocking on the
 * daemon's answers), from any thread.
 */
int ckpt_nic_survey(ckpt_ctx *ctx, uint32_t domid, ckpt_nic_record *out, size_t n,
                    size_t *count_out);

/* The IFB buffering a READY nic's output, or NULL. */
const char *ckpt_nic_ifb(const ckpt_dev *dev);

#ifdef __cplusplus
}
#endif

#endif /* CKPTDEV_NETBUF_H */
