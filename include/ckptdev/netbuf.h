/*
 * ckptdev/netbuf.h - what the NIC kind ("nic") offers beyond the generic
 * device interface: the numbers of its output buffer.
 *
 * A NIC device takes these parameters (see docs/devices.md):
 *   vif=NAME        the guest's backend interface (required)
 *   script=PATH     the hotplug script (default: the installed
 *                   remus-netbuf-setup)
 *   timeout_ms=N    the script's timeout (default 10000)
 *   limit=BYTES     the buffer's byte limit (default: the script's)
 */
#ifndef CKPTDEV_NETBUF_H
#define CKPTDEV_NETBUF_H

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
	uint64_t drops; /* refused: the buffer was full (raise limit=) */
} ckpt_nic_stats;

/*
 * Read one NIC's counters: one netlink request for its IFB's root qdisc
 * (never a dump of the host's qdiscs).  Returns 0; CKPT_ERROR_INVAL if
 * dev is not a READY nic of a READY devset; CKPT_ERROR_NOTFOUND if its IFB
 * has gone or its root qdisc is no longer the plug set up; CKPT_ERROR_NOMEM
 * or CKPT_ERROR_NETLINK if the kernel refused or its answer was lost.
 * Failures are logged naming the NIC, and *out is then zeroed.  Drops
 * since the last read are logged as a warning naming the NIC and the
 * limit= to raise.  Takes the devset's step lock, as the checkpoint steps
 * do; allocates nothing.
 */
int ckpt_nic_get_stats(const ckpt_dev *dev, ckpt_nic_stats *out);

/* The IFB buffering a READY nic's output, or NULL. */
const char *ckpt_nic_ifb(const ckpt_dev *dev);

#ifdef __cplusplus
}
#endif

#endif /* CKPTDEV_NETBUF_H */
