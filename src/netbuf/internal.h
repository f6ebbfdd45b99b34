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

struct nb_backend; /* per devset: the netlink socket and a send buffer */
struct nb_plug;    /* per NIC: its IFB's plug qdisc */

enum nb_action {
	NB_BUFFER,
	NB_RELEASE_ONE,
	NB_RELEASE_INDEFINITE,
};

/* The kind's ops table (nic.c), listed in src/builtin_kinds.c. */
HIDDEN extern const ckpt_dev_kind nb_nic_kind;

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

/* Open the devset's netlink socket.  Logs and returns an rc. */
HIDDEN int nb_backend_open(ckpt_ctx *ctx, struct nb_backend **be_out);
HIDDEN void nb_backend_close(struct nb_backend *be);

/* Check that ifb is an IFB with a root plug qdisc and prepare the
 * requests for it.  Logs (naming dev) and returns an rc. */
HIDDEN int nb_plug_attach(struct nb_backend *be, ckpt_dev *dev, const char *ifb,
                          struct nb_plug **plug_out);
HIDDEN void nb_plug_detach(struct nb_backend *be, struct nb_plug *plug);

/* The plug's counters, read from the kernel. */
HIDDEN int nb_plug_stats(struct nb_backend *be, struct nb_plug *plug, ckpt_nic_stats *out);

/* One action on the plug of each of devs[0..n) (all attached), sent to the
 * kernel as one batch; every ack is checked.  rcs[i] gets each device's
 * result (logged with the kernel's reason): 0, CKPT_ERROR_NOTFOUND (the
 * IFB or its plug has gone), CKPT_ERROR_NOMEM (the kernel is out of
 * memory), CKPT_ERROR_NETLINK (any other refusal, or no answer);
 * returns the first error.  No allocation. */
HIDDEN int nb_plug_request(struct nb_backend *be, ckpt_dev *const *devs, size_t n,
                           enum nb_action action, int *rcs);

/* The rc for a kernel's error ack carrying errno errnoval (positive):
 * what nb_plug_request gives a refused request.  For the tests. */
HIDDEN int nb_rc_from_ack(int errnoval);

#endif /* CKPT_NETBUF_INTERNAL_H */
