/*
 * internal.h - the NIC kind ("nic") and its network-buffering backend.
 *
 * nic.c is the kind: parameters, the hotplug script, the xenstore
 * read-back and the order of steps.  The backend drives the IFB's plug
 * qdisc and is chosen by the Makefile: nb_nl.c (libnl-route-3) or
 * nb_stub.c (NETBUF=no: every attempt fails with CKPT_ERROR_NOTSUP).
 *
 * The plug qdisc's epochs, as the kernel keeps them:
 *
 *    guest tx -> vif ingress -> mirred -> IFB root plug -> out
 *
 *    |<- released ->|<- closed epoch (held) ->|<- open epoch (held) ->
 *                    ^ BUFFER at postsuspend   ^ now
 *
 *    BUFFER (postsuspend):  close the open epoch: a barrier after the
 *                           packets the guest sent before it was paused.
 *    RELEASE_ONE (commit):  let out what precedes the OLDEST barrier.
 *    RELEASE_INDEFINITE:    let everything out and stop holding
 *                           (teardown: nothing buffered is dropped).
 * The qdisc remembers only one closed epoch, so BUFFER and RELEASE_ONE
 * must alternate; the device layer enforces that order per devset.
 */
#ifndef CKPT_NETBUF_INTERNAL_H
#define CKPT_NETBUF_INTERNAL_H

#include "../devices/internal.h"
#include "ckptdev/netbuf.h"

struct nb_backend; /* per devset: the netlink socket and the batch buffers */
struct nb_plug;    /* per NIC: its IFB's plug qdisc */

enum nb_action {
	NB_BUFFER,
	NB_RELEASE_ONE,
	NB_RELEASE_INDEFINITE,
};

/* The kind's ops table (nic.c), listed in src/builtin_kinds.c. */
HIDDEN extern const ckpt_dev_kind nb_nic_kind;

/* What the hotplug script writes to xenstore, as nic.c reads it back
 * (apart, for the fuzz target in tests/fuzz):
 * nb_ifname_ok: an interface name we are willing to pass around (a vif=
 *   parameter, XENBUS_PATH/ifb): fits IFNAMSIZ, only characters that need
 *   no quoting anywhere, and not "." or ".." (which the kernel refuses,
 *   and which are directories under /sys and /proc).
 * nb_hotplug_error_rc: the rc for the line the script left in
 *   XENBUS_PATH/hotplug-error: CKPT_ERROR_NOTSUP if it says the kernel
 *   has no plug qdisc, else CKPT_ERROR_SCRIPT. */
HIDDEN bool nb_ifname_ok(const char *name);
HIDDEN int nb_hotplug_error_rc(const char *msg);

/* The per-device state of a NIC. */
struct nb_nic {
	ckpt_dev *dev;
	const char *vif;
	char *script;
	char *xs_path; /* /libxl/<domid>/remus/netbuf/<devid> */
	unsigned timeout_ms;
	unsigned long limit; /* bytes; 0: the script's default */
	char ifb[16];
	struct nb_plug *plug; /* while attached */
	bool setting_up;
	int release_rc; /* of the teardown's RELEASE_INDEFINITE */
	ao_exec x;
	char *argv[3];
	char *env[4];
};

static inline struct nb_nic *nb_nic_of(const ckpt_dev *dev)
{
	return ckpt_dev_priv(dev);
}

/* Open the devset's netlink socket, sized for a checkpoint batch of nics
 * requests (every NIC of the devset); logs, at WARN, if the buffers cannot
 * hold that many answers, and the steps will then be split.  Logs and
 * returns an rc. */
HIDDEN int nb_backend_open(ckpt_ctx *ctx, uint32_t domid, size_t nics, struct nb_backend **be_out);
HIDDEN void nb_backend_close(struct nb_backend *be);

/* Check that ifb is an IFB with a root plug qdisc (one RTM_GETLINK and
 * one RTM_GETQDISC, no dump) and prepare the requests for it.  Logs
 * (naming dev) and returns an rc: CKPT_ERROR_NOTFOUND (no such
 * interface), CKPT_ERROR_INVAL (not an ifb), CKPT_ERROR_NOTSUP (its root
 * qdisc is not a plug), or what the kernel's refusal maps to. */
HIDDEN int nb_plug_attach(struct nb_backend *be, ckpt_dev *dev, const char *ifb,
                          struct nb_plug **plug_out);
HIDDEN void nb_plug_detach(struct nb_backend *be, struct nb_plug *plug);

/* The counters of the plugs of devs[0..n) (all attached), read with one
 * RTM_GETQDISC per IFB, all in one sendmsg (or several, as for
 * nb_plug_request).  out[i] and rcs[i] for devs[i]: 0; CKPT_ERROR_NOTFOUND
 * (the IFB has gone, or its root qdisc is no longer that plug);
 * CKPT_ERROR_NOMEM or CKPT_ERROR_NETLINK (refused, or the answer was
 * lost).  Each failure is logged naming its NIC, and out[i] zeroed.  A
 * drop counter grown since the last read is logged at WARN (raise limit=).
 * Returns the first error.  No allocation. */
HIDDEN int nb_plug_stats(struct nb_backend *be, ckpt_dev *const *devs, size_t n,
                         ckpt_nic_stats *out, int *rcs);

/* One action on the plug of each of devs[0..n) (all attached), sent to the
 * kernel as one batch (several sendmsgs if the socket buffers hold fewer
 * than n answers, see nb_nl.c).  rcs[i] gets each device's result (a
 * failure logged with the kernel's reason): 0, CKPT_ERROR_NOTFOUND (the
 * IFB or its plug has gone), CKPT_ERROR_NOMEM (the kernel is out of
 * memory), CKPT_ERROR_NETLINK (any other refusal).  A request whose answer
 * the kernel lost counts as done and is logged as "outcome unknown".
 * Returns the first error.  No allocation. */
HIDDEN int nb_plug_request(struct nb_backend *be, ckpt_dev *const *devs, size_t n,
                           enum nb_action action, int *rcs);

/* The rc for a kernel's error answer carrying errno errnoval (positive):
 * what nb_plug_request gives a refused request.  For the tests. */
HIDDEN int nb_rc_from_ack(int errnoval);

/* For the tests, on a kernel without sch_plug (nb_nl.c only):
 * nb_plug_attach to a root qdisc of another kind, a stand-in to which
 * every plug request is refused (EINVAL); the most requests one sendmsg
 * carries; and the receive buffer forced to bytes, below what that was
 * sized for, so that answers get lost. */
HIDDEN int nb_plug_attach_kind(struct nb_backend *be, ckpt_dev *dev, const char *ifb,
                               const char *kind, struct nb_plug **plug_out);
HIDDEN size_t nb_backend_batch_max(const struct nb_backend *be);
HIDDEN void nb_backend_set_rcvbuf(struct nb_backend *be, int bytes);

#endif /* CKPT_NETBUF_INTERNAL_H */
