/*
 * plug_bench.h - a Remus output buffer on a test bench, with real packets.
 *
 * The bench builds, in two network namespaces of its own, the path that an
 * output buffer puts behind a Xen guest's vif:
 *
 *   guest ns                      host ns ("dom0")
 *   +-------------+   veth    +-------------------------------------------+
 *   | eth0        |---------->| vif1.0   ingress qdisc, matchall filter:  |
 *   | 10.77.0.2   |           | 10.77.0.1  mirred egress redirect ---+    |
 *   | UDP sender  |           |                                      v    |
 *   +-------------+           | nbifb0   root qdisc: plug                 |
 *                             |   the IFB hands what the plug releases    |
 *                             |   back to vif1.0's receive path, so it    |
 *                             |   reaches the UDP receiver on 10.77.0.1   |
 *                             +-------------------------------------------+
 *
 * The guest sends numbered datagrams; the bench records the numbers the
 * receiver gets, in arrival order, and reads the plug qdisc's counters.
 * The guest has a permanent neighbour entry for the vif and IPv6 is off
 * in both namespaces, so nothing but the test's datagrams crosses the plug.
 * Plug operations go through libnl-route-3; links, addresses and the
 * redirect are made by running ip(8) and tc(8).
 *
 * The namespaces are anonymous and held only by the bench's process, so
 * the kernel removes them, with every interface in them, when the process
 * ends, however it ends; pre-existing interfaces are never touched.
 *
 * States: Idle (after bench_init or bench_dispose) and Ready (after
 * bench_setup returned 0). bench_dispose accepts both, and a half-built
 * bench after a failed setup. Every other function wants Ready.
 */
#ifndef CKPT_TESTS_PLUG_BENCH_H
#define CKPT_TESTS_PLUG_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#define BENCH_MAX_SEQ    256
#define BENCH_PLUG_LIMIT (1 << 20) /* bytes: far more than a test sends */

struct nl_sock;
struct rtnl_qdisc;

enum plug_op { PLUG_BUFFER, PLUG_RELEASE_ONE, PLUG_RELEASE_INDEFINITE };

struct plug_stats {
	uint64_t qlen;    /* packets held */
	uint64_t packets; /* packets released */
	uint64_t drops;   /* packets refused: over the limit */
};

struct bench {
	/* Results. */
	uint32_t got[BENCH_MAX_SEQ]; /* numbers received, in arrival order */
	int ngot;
	const char *skip; /* why bench_setup returned BENCH_SKIP */

	/* Private. */
	int ns_host;  /* fd of the host namespace; the process stays in it */
	int ns_guest; /* fd of the guest namespace */
	int tx;       /* UDP socket in the guest namespace */
	int rx;       /* UDP socket in the host namespace */
	struct nl_sock *nl;
	struct rtnl_qdisc *plug;
	int ifb_index;
	uint32_t next_seq; /* number of the next datagram sent */
};

#define BENCH_SKIP 1

void bench_init(struct bench *b);

/* bench_setup: build the bench, the plug holding everything. Returns 0,
 * BENCH_SKIP (this machine cannot: b->skip says why) or -1 (after saying
 * why on stderr). Moves the process into the bench's host namespace. */
int bench_setup(struct bench *b);

void bench_dispose(struct bench *b);

/* Plug control through libnl: 0 or a negative libnl error (reported). */
int bench_plug(struct bench *b, enum plug_op op);
int bench_limit(struct bench *b, int bytes);
int bench_stats(struct bench *b, struct plug_stats *st);

/* bench_wait_qlen: poll until the plug holds want packets or ms have
 * passed; returns the last length seen. */
uint64_t bench_wait_qlen(struct bench *b, uint64_t want, int ms);

/* bench_send: n datagrams from the guest, numbered on from the last. */
int bench_send(struct bench *b, int n);

/* bench_receive: record datagrams until want of them have come during the
 * call, or ms have passed (want 0: watch the whole time). Returns how many
 * came. */
int bench_receive(struct bench *b, int want, int ms);

/* bench_in_order: are got[from...] exactly the numbers first..last? */
bool bench_in_order(const struct bench *b, int from, uint32_t first, uint32_t last);

#endif
