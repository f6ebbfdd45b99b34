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

/*
 * What the teardown sweep (nb_sweep.c) asks the kernel, on the devset's
 * socket, one request at a time (answered inside the send: nothing
 * waits).  Each returns 0 or the errno of the failure, logs nothing.
 *   nb_nl_link     one interface by name (ENODEV: none)
 *   nb_nl_qdisc    the qdisc of ifindex at parent (TC_H_ROOT, TC_H_CLSACT);
 *                  0 with kind "" if there is none
 *   nb_nl_release_root  RELEASE_INDEFINITE on the plug at ifindex's root
 *   nb_nl_talk     any request: NLM_F_ACK is added (not to a dump); every
 *                  answer but the final ack, error or NLMSG_DONE goes to fn
 */
struct nb_link {
	int ifindex;
	char kind[16];  /* IFLA_INFO_KIND; "" for a plain interface */
	char alias[64]; /* "" if none */
	unsigned char addr[6];
	size_t addr_len;
};

struct nb_qdisc {
	char kind[16];
	uint32_t handle;
	ckpt_nic_stats st; /* held: its queue now */
};

struct nlmsghdr;
typedef void nb_nl_msg_fn(const struct nlmsghdr *h, void *arg);

HIDDEN int nb_nl_link(struct nb_backend *be, const char *name, struct nb_link *out);
HIDDEN int nb_nl_qdisc(struct nb_backend *be, int ifindex, uint32_t parent, struct nb_qdisc *out);
HIDDEN int nb_nl_release_root(struct nb_backend *be, int ifindex, uint32_t handle);
HIDDEN int nb_nl_talk(struct nb_backend *be, struct nlmsghdr *req, nb_nl_msg_fn *fn, void *arg);

/*
 * The library's own end of a NIC's teardown (nb_sweep.c), for when the
 * hotplug script's did not finish (it failed, was killed, timed out or
 * could not start): the script's teardown steps again, through the
 * devset's netlink socket, on the loop, never blocking it.
 *
 * States:
 *   Idle    after nb_sweep_init, and from the callback on.
 *   Active  from nb_sweep_start until the callback, which always comes
 *           exactly once, maybe from inside nb_sweep_start.  Only the
 *           drain timer may be registered meanwhile.  It cannot be
 *           stopped (it is part of a teardown, which cannot be aborted).
 */
struct nb_sweep;
typedef void nb_sweep_cb(ao_egc *egc, struct nb_sweep *s);

struct nb_sweep {
	/* caller fills */
	ckpt_dev *dev;
	const char *vif;
	char ifb[16]; /* the IFB the record names; "": the script's derived name */
	nb_sweep_cb *callback;
	/* results */
	unsigned removed; /* kernel objects removed (filter, clsact, IFB) */
	unsigned left;    /* ours still there: each one was logged */
	/* private */
	struct nb_backend *be;
	struct nb_link link; /* the IFB as first seen */
	bool plug, released;
	struct timespec deadline; /* of the drain wait */
	ao_time timer;
};

HIDDEN void nb_sweep_init(struct nb_sweep *s);
HIDDEN void nb_sweep_start(ao_egc *egc, struct nb_sweep *s);

/* cksum(1)'s CRC of s, which names a vif's IFB and marks it as ours
 * (scripts/remus-netbuf-setup, "IFB naming" and "Ownership"). */
HIDDEN uint32_t nb_cksum(const char *s);

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
	int release_rc;       /* of the teardown's RELEASE_INDEFINITE */
	int script_rc;        /* of the teardown script, while the sweep runs */
	bool foreign;         /* setup refused: a live process owns the record */
	ao_exec x;
	struct nb_sweep sweep;
	char *argv[3];
	char *env[5]; /* vifname, XENBUS_PATH, NETBUF_OWNER, NETBUF_LIMIT, NULL */
	/* What the link watch (nb_linkmon.c) looks for: set by attach,
	 * cleared by detach, under the ctx lock.  0: not attached. */
	int vif_ifindex, ifb_ifindex;
	/* NB_GONE_*: deleted since attach.  Set by the link watch on the
	 * loop's thread, read by the checkpoint steps under the step lock. */
	atomic_uint gone;
};

#define NB_GONE_VIF 1u /* the guest's vif: its redirect went with it */
#define NB_GONE_IFB 2u /* the IFB, and its plug with it */

static inline struct nb_nic *nb_nic_of(const ckpt_dev *dev)
{
	return ckpt_dev_priv(dev);
}

/* Owners (owner.c): a NIC's protector is recorded as "PID:START" (START:
 * the process's start time, field 22 of /proc/PID/stat), in the device's
 * xenstore folder, node "owner". */
#define NB_OWNER_LEN 48
/* This process's record; -1 if /proc cannot tell its start time. */
HIDDEN int nb_owner_self(char buf[NB_OWNER_LEN]);
/* Split a record; CKPT_ERROR_INVAL if it is not one. */
HIDDEN int nb_owner_parse(const char *rec, int *pid_out, unsigned long long *start_out);
/* 1 if the process the record names still runs (the same pid started at
 * the same time), 0 if it has gone, -1 if rec is not a record.  *pid_out
 * gets its pid (0 if unparsable). */
HIDDEN int nb_owner_alive(const char *rec, int *pid_out);

/*
 * The link watch (nb_linkmon.c), one per devset: a NETLINK_ROUTE socket
 * of its own, subscribed to RTNLGRP_LINK, its fd on the ctx's loop.  The
 * kernel reports there every interface deleted; when one is the vif or the
 * IFB of a NIC of the devset (by the ifindexes attach learnt), the NIC's
 * gone bit is set and that is logged, once.  The checkpoint steps read
 * the bit (an atomic load, no syscall): see nb_plug_request.  If the
 * kernel dropped notifications (ENOBUFS on the socket), every attached
 * NIC's vif and IFB is asked about again, by ifindex, from the loop.
 * So a deletion is seen once the loop has run after it, not before.
 *
 * States:
 *   Idle    after nb_linkmon_init, and after nb_linkmon_stop.
 *   Active  from nb_linkmon_start (returning 0) until nb_linkmon_stop.
 * Both are called under the ctx lock (init_subkind, cleanup_subkind).
 * The fd is weak: it alone does not keep the application's loop running.
 */
struct nb_linkmon {
	/* caller fills, before start */
	ckpt_ctx *ctx;
	uint32_t domid;
	ckpt_dev *const *devs; /* the devset's NICs; attached or not */
	size_t n;
	/* private */
	int fd;
	uint32_t portid; /* the socket's netlink address: our answers */
	uint32_t seq;
	ao_fd ev;
	unsigned char buf[8192]; /* one datagram */
};

HIDDEN void nb_linkmon_init(struct nb_linkmon *m);
/* Open and subscribe the socket, watch its fd.  Logs and returns an rc. */
HIDDEN int nb_linkmon_start(struct nb_linkmon *m);
HIDDEN void nb_linkmon_stop(struct nb_linkmon *m);

/* Start the devset's link watch on the backend, for its NICs devs[0..n)
 * (nb_linkmon_start; stopped by nb_backend_close).  Logs, returns an rc. */
HIDDEN int nb_backend_watch_links(struct nb_backend *be, ckpt_dev *const *devs, size_t n);

/* Open the devset's netlink socket, sized for a checkpoint batch of nics
 * requests (every NIC of the devset); logs, at WARN, if the buffers cannot
 * hold that many answers, and the steps will then be split.  Logs and
 * returns an rc. */
HIDDEN int nb_backend_open(ckpt_ctx *ctx, uint32_t domid, size_t nics, struct nb_backend **be_out);
HIDDEN void nb_backend_close(struct nb_backend *be);

/* Check that ifb is an IFB with a root plug qdisc and that dev's vif
 * exists (one sendmsg of two RTM_GETLINKs, one RTM_GETQDISC, no dump),
 * learn both ifindexes for the link watch, clear dev's gone bits, and
 * prepare the requests for the plug.  Logs (naming dev) and returns an
 * rc: CKPT_ERROR_NOTFOUND (no such IFB, or no such vif), CKPT_ERROR_INVAL
 * (not an ifb), CKPT_ERROR_NOTSUP (its root qdisc is not a plug), or what
 * the kernel's refusal maps to. */
HIDDEN int nb_plug_attach(struct nb_backend *be, ckpt_dev *dev, const char *ifb,
                          struct nb_plug **plug_out);
HIDDEN void nb_plug_detach(struct nb_backend *be, struct nb_plug *plug);

/* The counters of the plugs of devs[0..n) (all attached), read with one
 * RTM_GETQDISC per IFB, all in one sendmsg (or several, as for
 * nb_plug_request).  out[i] and rcs[i] for devs[i]: 0; CKPT_ERROR_NOTFOUND
 * (the IFB has gone, or its root qdisc is no longer that plug, or the
 * link watch found its vif or IFB deleted: not logged again);
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
 * A device the link watch found gone (its vif or IFB deleted) is not sent
 * BUFFER or RELEASE_ONE: it gets CKPT_ERROR_NOTFOUND at once, not logged
 * again (the watch said it); RELEASE_INDEFINITE is sent to it all the
 * same, to let out what its IFB still holds.  Returns the first error.
 * No allocation. */
HIDDEN int nb_plug_request(struct nb_backend *be, ckpt_dev *const *devs, size_t n,
                           enum nb_action action, int *rcs);

/* A cumulative counter the kernel keeps in 32 bits (the plug's drops,
 * gnet_stats_queue.drops), kept in 64: prev is our 64-bit value at the
 * last read, raw the kernel's 32 bits now.  Across a wrap between the two
 * reads the value grows by what really came (as long as that is below
 * 2^32), never jumps by about 2^32 or goes back. */
static inline uint64_t nb_counter32_extend(uint64_t prev, uint32_t raw)
{
	return prev + (uint32_t)(raw - (uint32_t)prev);
}

/* For ckpt_nic_survey, on a socket of its own: the kind of ifb's root
 * qdisc ("" if none) and its counters.  Returns 0; CKPT_ERROR_NOTFOUND if
 * there is no such interface; CKPT_ERROR_NETLINK or CKPT_ERROR_NOMEM if
 * the kernel refused or the answer was lost; CKPT_ERROR_NOTSUP without
 * the netlink backend.  Logs nothing but a socket that cannot open. */
HIDDEN int nb_ifb_probe(ckpt_ctx *ctx, const char *ifb, char qdisc[16], ckpt_nic_stats *st);

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
/* For the tests: the link watch's receive buffer forced to bytes, so that
 * notifications get lost. */
HIDDEN void nb_backend_set_watch_rcvbuf(struct nb_backend *be, int bytes);

#endif /* CKPT_NETBUF_INTERNAL_H */
