/*
 * frames.h - the guest's output, for the packets invariant (in the test VM,
 * where the NIC gets READY).
 *
 * Numbered Ethernet frames (ethertype 0x88b5, local experimental) go out
 * of eth9, the guest's end of the vif's veth, and arrive on vif9.0's
 * ingress, where the NIC's redirect takes them into its IFB.  A packet
 * socket on vif9.0 for that ethertype sees a frame only when it comes
 * back out of the IFB: the redirect steals it before the protocol
 * handlers, and the IFB hands it back past the vif's ingress filters.  So
 * a frame held by a plug is not seen, a released one is seen once, and a
 * frame seen twice or out of order is a fault of the buffer.
 */
#ifndef CKPT_FAULT_FRAMES_H
#define CKPT_FAULT_FRAMES_H

#include <stdbool.h>

#define FRAMES_MAX 64

struct frames {
	int tx, rx;
	unsigned sent, seen;
	unsigned dup, out_of_order, last;
	unsigned char count[FRAMES_MAX];
};

/* Sockets on from (sending) and to (receiving); false if the kernel
 * refused (the reason on stderr). */
bool frames_open(struct frames *f, const char *from, const char *to);
void frames_close(struct frames *f);

/* Send n more frames, numbered on. */
void frames_send(struct frames *f, unsigned n);

/* Read what came, until every frame sent was seen or ms passed; the
 * number seen so far. */
unsigned frames_collect(struct frames *f, int ms);

/* "8 sent, 6 delivered, 1 twice, 2 out of order" into buf. */
const char *frames_describe(const struct frames *f, char *buf, size_t len);

/* Every frame sent was seen once, in order. */
bool frames_all_delivered(const struct frames *f);

#endif /* CKPT_FAULT_FRAMES_H */
