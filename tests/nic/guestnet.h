/*
 * guestnet.h - a pretend guest for NIC tests: two anonymous network
 * namespaces joined by a veth pair.
 *
 *   guest ns: eth0 10.78.0.2 -- veth --> host ns: VIF 10.78.0.1 (the "vif")
 *
 * The test process lives in the host namespace, where the library runs its
 * hotplug script against VIF.  The guest sends numbered UDP datagrams to
 * 10.78.0.1; a socket in the host namespace receives them.  The guest has
 * a permanent neighbour entry for the vif and IPv6 is off, so nothing but
 * those datagrams crosses a buffer on the vif's ingress.  The namespaces
 * die with the process.
 */
#ifndef CKPT_GUESTNET_H
#define CKPT_GUESTNET_H

#include <stdint.h>

#define GUESTNET_VIF "vif9.0"
#define GUESTNET_MAX 512

struct guestnet {
	int ns_host, ns_guest;
	int tx, rx;
	uint32_t next_seq;
	uint32_t got[GUESTNET_MAX]; /* sequence numbers, in arrival order */
	int ngot;
};

/* Build it and move the process into the host namespace.  On a machine
 * that cannot (not root, no veth) the test is skipped. */
void guestnet_setup(struct guestnet *g);
void guestnet_dispose(struct guestnet *g);

/* Send n datagrams, numbered on from the last one sent. */
void guestnet_send(struct guestnet *g, int n);
/* Receive until want datagrams came in this call, or ms passed (want 0:
 * the whole time).  Returns how many came. */
int guestnet_receive(struct guestnet *g, int want, int ms);

/*
 * A guest with n NICs, for devsets of several: vif9.0 .. vif9.<n-1> in the
 * host namespace (up, no address), each the peer of the guest's ethI on
 * 10.79.I.2/24, which has a permanent neighbour entry for 10.79.I.1.  The
 * datagrams sent to NIC I cross vif9.I's ingress and nothing else does;
 * nobody receives them: the tests count them with the buffers' counters.
 */
#define GUESTNICS_MAX 32

struct guestnics {
	int ns_host, ns_guest;
	int tx; /* in the guest namespace */
	int n;
	int sent[GUESTNICS_MAX]; /* datagrams sent through each NIC */
};

void guestnics_setup(struct guestnics *g, int n);
void guestnics_dispose(struct guestnics *g);
/* Send count datagrams from the guest through its NIC i. */
void guestnics_send(struct guestnics *g, int i, int count);

/* Send one 64-byte Ethernet frame (broadcast, ethertype 0x88b5) out of
 * the interface ifindex, through its root qdisc, as if redirected there;
 * pkt is an AF_PACKET raw socket.  Returns 0, or ENOBUFS if the qdisc
 * dropped it; any other failure fails the test. */
#define GUESTNET_FRAME_BYTES 64
int guestnet_send_frame(int pkt, int ifindex);

/* Run a shell command in the host namespace; its exit status. */
int guestnet_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Its first line of output, in buf. */
const char *guestnet_sh_out(char *buf, size_t len, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#endif /* CKPT_GUESTNET_H */
