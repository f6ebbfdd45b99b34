/*
 * nb_nl.c - the network-buffering backend: the IFB's plug qdisc, driven
 * through netlink.  The only file that includes libnl, for one thing: its
 * table from errno to -NLE_* (rc_from_nle).
 *
 * One plain NETLINK_ROUTE socket per devset (socket(2), connected to the
 * kernel, so nothing else can write to it), with its own sequence numbers,
 * carries every request; the requests are built here, the answers are
 * parsed by nb_parse.c (apart, for the fuzz target).  No libnl object, no allocation after attach, and never a dump:
 * a dump of the host's qdiscs or links per NIC would cost K NICs K^2.
 *
 *   attach    one RTM_GETLINK for the IFB by name (IFLA_IFNAME): is it an
 *             ifb, and its ifindex, and in the same sendmsg one for the
 *             vif: it exists, and its ifindex (both for the link watch,
 *             nb_linkmon.c); one RTM_GETQDISC for its root qdisc
 *             (tcm_ifindex, tcm_parent TC_H_ROOT: a get, not a dump): is
 *             it a plug, and its handle.  Then the plug's two requests
 *             are built once: the "change" of a step (struct nb_req) and
 *             the get of its counters (struct nb_get).
 *   step      one "change" per NIC in ONE sendmsg, as described below;
 *             a NIC the link watch found gone is left out (NOTFOUND).
 *   counters  one get per NIC in ONE sendmsg, the same way: each is
 *             answered with the root qdisc and its TCA_STATS2, or an error.
 *
 * A get is answered with the object (RTM_NEWLINK, RTM_NEWQDISC) or an
 * error, under its sequence number; but a qdisc only to a get that sets
 * NLM_F_ECHO (tc_get_qdisc "notifies", and unicasts only an echo), so ours
 * set it.  A root qdisc the kernel does not show (the builtin noop of an
 * IFB that never had one) gets no answer at all: the ack asked for on the
 * last request of a batch marks its end.  (Both measured on 6.1 and 6.18.)
 *
 * A checkpoint step, for the n NICs of a devset:
 *
 *   attach   each plug's RTM_NEWQDISC "change" request is built by hand
 *            once (struct nb_req, 60 bytes)
 *   step     copy the requests into one buffer; stamp the action and a
 *            sequence number in each; NLM_F_ACK on the LAST one only
 *   send()   ONE sendmsg.  rtnetlink runs the requests in order inside the
 *            call and queues, before it returns, on our socket:
 *              - an error (its sequence number, an errno) for each request
 *                it refuses, asked for or not;
 *              - the answer to the last request: ack or error.
 *            A refusal does not stop the batch (it is not a transaction).
 *   read     recv(MSG_DONTWAIT) until the last request's answer: each error
 *            goes to its NIC by sequence number; every other NIC's request
 *            was run (the kernel says nothing about a success it was not
 *            asked to ack).  Nothing can come later, so there is no poll and
 *            no timeout: in the usual case a step is send() + one recv().
 *
 * Sizes.  Every answer is charged to the receive buffer at the kernel's
 * cost for a small skb, about 832 bytes (measured on 6.1 and 6.18; with
 * NETLINK_CAP_ACK an error carries 20 bytes, not the request echoed back;
 * a root qdisc with its counters, ~170 bytes, costs the same).  At open
 * the buffer is sized for every NIC of the devset answering at once,
 * NB_ANSWER_SPACE each (room enough for a batch of gets' closing ack):
 * SO_RCVBUF, or SO_RCVBUFFORCE (CAP_NET_ADMIN) where net.core.rmem_max is
 * lower; the send buffer likewise for the requests (netlink refuses a
 * datagram longer than sndbuf - 32).  batch_max, the requests one sendmsg
 * carries, is what both buffers hold; a larger step goes in several
 * sendmsgs, each read to its end before the next is sent.  If the buffers
 * could not be made large enough, nb_backend_open says so.
 *
 * Lost answers.  The kernel drops an answer when the receive buffer is full
 * (and then every later one until we read: the answers we get are a prefix)
 * or when it has no memory for it; either way recv() reports ENOBUFS once,
 * before the answers that were queued.  Those are read and used.  A NIC
 * whose counters did not come fails that read (reading again is
 * harmless).  For each other request of a step the outcome is then
 * unknown: with an ack on the last request only, a success and a lost
 * error look the same.  Such a NIC is logged as "outcome unknown" and
 * counted as done (rc 0), not failed:
 *   - the kernel most likely ran it: a change to an attached plug fails
 *     only if the IFB or its plug has gone, and a NIC whose plug has gone
 *     fails the next step anyway, with its own error;
 *   - a buffer or release that did not run only holds that NIC's output
 *     longer (the plug then releases fewer packets, never uncommitted ones),
 *     whereas a false failure would stop a checkpoint that probably worked.
 * The same choice is made if the last request's answer never comes and
 * there was no ENOBUFS.  That would mean a malformed request cut the batch
 * short: the kernel silently drops the rest of the datagram, so those
 * requests did not run (the second point still holds).  Only a bug here
 * can cause it, as every request is a struct made by a build_ function.
 * With the receive buffer sized as above, answers are lost only when the
 * kernel runs out of memory.
 */
#include <errno.h>
#include <limits.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "nb_parse.h"

/* Receive-buffer bytes allowed per answer: the ~832 the kernel charges,
 * with room to spare (it is a limit, not memory in use). */
#define NB_ANSWER_SPACE 2048
/* One answer per recv(): an ack is 36 bytes with NETLINK_CAP_ACK, 80
 * without; a root qdisc with its counters ~170; an IFB's RTM_NEWLINK
 * ~1.5 K.  A longer answer would be cut short, and count as lost. */
#define NB_RECV_SPACE 8192
/* netlink_sendmsg() refuses a datagram longer than sndbuf minus this. */
#define NB_SNDBUF_SLACK 32

/* The RTM_NEWQDISC "change" request for one plug, laid out as the kernel
 * reads it: header, tcmsg, TCA_KIND "plug", TCA_OPTIONS tc_plug_qopt. */
struct nb_req {
	struct nlmsghdr h;
	struct tcmsg tcm;
	struct rtattr kind_rta;
	char kind[8]; /* "plug" and its NUL, padded */
	struct rtattr opt_rta;
	struct tc_plug_qopt opt;
};

_Static_assert(offsetof(struct nb_req, kind_rta) == NLMSG_ALIGN(NLMSG_LENGTH(sizeof(struct tcmsg))),
               "TCA_KIND follows the tcmsg");
_Static_assert(offsetof(struct nb_req, opt_rta) ==
                       offsetof(struct nb_req, kind_rta) + RTA_ALIGN(RTA_LENGTH(sizeof("plug"))),
               "TCA_OPTIONS follows TCA_KIND");
_Static_assert(sizeof(struct nb_req) == offsetof(struct nb_req, opt_rta) +
                                                RTA_ALIGN(RTA_LENGTH(sizeof(struct tc_plug_qopt))),
               "no padding after TCA_OPTIONS");
_Static_assert(sizeof(struct nb_req) % NLMSG_ALIGNTO == 0, "requests follow each other");

/* An RTM_GETQDISC for the IFB's root qdisc and its counters. */
struct nb_get {
	struct nlmsghdr h;
	struct tcmsg tcm;
};

/* An RTM_GETLINK for one interface, by name. */
struct nb_getlink {
	struct nlmsghdr h;
	struct ifinfomsg ifi;
	struct rtattr name_rta;
	char name[IFNAMSIZ]; /* NUL-padded: the attribute's length is fixed */
};

_Static_assert(offsetof(struct nb_getlink, name_rta) ==
                       NLMSG_ALIGN(NLMSG_LENGTH(sizeof(struct ifinfomsg))),
               "IFLA_IFNAME follows the ifinfomsg");
_Static_assert(sizeof(struct nb_getlink) ==
                       offsetof(struct nb_getlink, name_rta) + RTA_ALIGN(RTA_LENGTH(IFNAMSIZ)),
               "no padding after IFLA_IFNAME");
_Static_assert(sizeof(struct nb_get) == NLMSG_LENGTH(sizeof(struct tcmsg)), "a bare tcmsg");

struct nb_plug {
	ckpt_dev *dev;
	char ifb[16];
	const char *kind; /* of the root qdisc attached to: "plug" (tests: a stand-in) */
	int ifindex;
	uint32_t handle;
	uint64_t drops;    /* the drop counter at the last read, in 64 bits */
	struct nb_req req; /* a step copies it and stamps action, seq, flags */
	struct nb_get get; /* a read of the counters copies it and stamps seq */
};

struct nb_backend {
	ckpt_ctx *ctx;
	uint32_t domid;            /* for the log */
	int fd;                    /* raw NETLINK_ROUTE: every request */
	uint32_t seq;              /* of the last request sent on fd */
	size_t batch_max;          /* requests per sendmsg: what both buffers hold */
	struct nb_req *sendbuf;    /* batch_max requests */
	size_t *sent_index;        /* batch_max: position in the batch -> device */
	struct nb_get *getbuf;     /* batch_max gets */
	struct nb_answer *answers; /* batch_max (at least 2): their answers */
	struct nb_linkmon mon;     /* the NICs' vifs and IFBs: nb_linkmon.c */
	unsigned char recvbuf[NB_RECV_SPACE];
};

static const char *const action_names[] = {
        [NB_BUFFER] = "buffer",
        [NB_RELEASE_ONE] = "release_one",
        [NB_RELEASE_INDEFINITE] = "release_indefinite",
};

static const int tcq_action[] = {
        [NB_BUFFER] = TCQ_PLUG_BUFFER,
        [NB_RELEASE_ONE] = TCQ_PLUG_RELEASE_ONE,
        [NB_RELEASE_INDEFINITE] = TCQ_PLUG_RELEASE_INDEFINITE,
};

/*
 * The one translation of netlink failures into rcs: libnl's -NLE_* codes.
 * NOMEM: the kernel or libnl ran out of memory; NOTFOUND: the interface or
 * qdisc is not there (gone from under us); NETLINK: every other failure,
 * the kernel's EINVAL included (CKPT_ERROR_INVAL means a call the API
 * refused before doing anything, which a refused request is not).  The
 * caller logs libnl's or the kernel's own text.
 */
static int rc_from_nle(int err)
{
	switch (err < 0 ? -err : err) {
	case NLE_NOMEM:
		return CKPT_ERROR_NOMEM;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
		return CKPT_ERROR_NOTFOUND;
	default:
		return CKPT_ERROR_NETLINK;
	}
}

/* A request the kernel refused, by the errno of its error answer (or of a
 * send() that delivered nothing): mapped to libnl's code by libnl's own
 * table (the one it applies to the acks it reads), so a refusal gives the
 * same rc on the checkpoint path as at attach.  ENOMEM, ENOBUFS: NOMEM;
 * ENODEV, ENOENT, ESRCH: NOTFOUND; any other errno: NETLINK. */
int nb_rc_from_ack(int errnoval)
{
	return rc_from_nle(nl_syserr2nlerr(errnoval));
}

/* Make the socket buffer opt (SO_RCVBUF or SO_SNDBUF) hold want bytes:
 * the plain option (capped by net.core.[rw]mem_max), else force_opt
 * (CAP_NET_ADMIN).  The kernel doubles what it is given, so it is given
 * half.  Returns the size it has now. */
static int size_buffer(int fd, int opt, int force_opt, int want)
{
	int have = 0, half = want / 2 + 1;
	socklen_t len = sizeof(have);

	if (getsockopt(fd, SOL_SOCKET, opt, &have, &len) == 0 && have >= want)
		return have;
	if (setsockopt(fd, SOL_SOCKET, opt, &half, sizeof(half)) == 0 &&
	    getsockopt(fd, SOL_SOCKET, opt, &have, &len) == 0 && have >= want)
		return have;
	if (setsockopt(fd, SOL_SOCKET, force_opt, &half, sizeof(half)) == 0)
		getsockopt(fd, SOL_SOCKET, opt, &have, &len);
	return have;
}

/* The checkpoint socket, its buffers sized for nics requests at once. */
static int open_batch_socket(struct nb_backend *be, size_t nics)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	size_t want = nics ? nics : 1, rcv_max, snd_max;
	int one = 1, rcvbuf, sndbuf;

	if (want > INT_MAX / NB_ANSWER_SPACE)
		want = INT_MAX / NB_ANSWER_SPACE;
	be->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (be->fd < 0) {
		LOGE(be->ctx, ERROR, "cannot open a netlink socket");
		return CKPT_ERROR_NETLINK;
	}
	/* error answers without the request echoed back (kernel 4.3) */
	if (setsockopt(be->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one)))
		LOGE(be->ctx, DEBUG, "domain %u: no NETLINK_CAP_ACK: errors echo the request",
		     be->domid);
	rcvbuf = size_buffer(be->fd, SO_RCVBUF, SO_RCVBUFFORCE, (int)want * NB_ANSWER_SPACE);
	sndbuf = size_buffer(be->fd, SO_SNDBUF, SO_SNDBUFFORCE,
	                     (int)(want * sizeof(struct nb_req)) + NB_SNDBUF_SLACK);
	rcv_max = (size_t)rcvbuf / NB_ANSWER_SPACE;
	snd_max = sndbuf > NB_SNDBUF_SLACK
	                  ? (size_t)(sndbuf - NB_SNDBUF_SLACK) / sizeof(struct nb_req)
	                  : 0;
	be->batch_max = want;
	if (rcv_max < be->batch_max)
		be->batch_max = rcv_max;
	if (snd_max < be->batch_max)
		be->batch_max = snd_max;
	if (be->batch_max == 0)
		be->batch_max = 1;
	if (be->batch_max < want)
		LOG(be->ctx, WARN,
		    "domain %u: the netlink socket buffers (receive %d, send %d bytes) hold "
		    "the answers of %zu plug requests, not %zu (net.core.rmem_max or "
		    "wmem_max is lower, and SO_RCVBUFFORCE needs CAP_NET_ADMIN): each "
		    "checkpoint step (and read of the counters) of these NICs goes to the "
		    "kernel in %zu sendmsg calls",
		    be->domid, rcvbuf, sndbuf, be->batch_max, want,
		    (want + be->batch_max - 1) / be->batch_max);
	if (connect(be->fd, (struct sockaddr *)&kernel, sizeof(kernel))) {
		LOGE(be->ctx, ERROR, "cannot connect a netlink socket to the kernel");
		return CKPT_ERROR_NETLINK;
	}
	return 0;
}

int nb_backend_open(ckpt_ctx *ctx, uint32_t domid, size_t nics, struct nb_backend **be_out)
{
	struct nb_backend *be;
	int rc;

	*be_out = NULL;
	rc = ao_fault(ctx, FP_NL_CONNECT);
	if (rc) {
		LOG(ctx, ERROR, "cannot open a netlink socket: %s", ckpt_strerror(rc));
		return rc;
	}
	be = ao_calloc(1, sizeof(*be));
	be->ctx = ctx;
	be->domid = domid;
	be->fd = -1;
	nb_linkmon_init(&be->mon);
	rc = open_batch_socket(be, nics);
	if (rc)
		goto out;
	be->sendbuf = ao_calloc(be->batch_max, sizeof(*be->sendbuf));
	be->sent_index = ao_calloc(be->batch_max, sizeof(*be->sent_index));
	be->getbuf = ao_calloc(be->batch_max, sizeof(*be->getbuf));
	/* at least 2: attach asks about the IFB and the vif at once */
	be->answers = ao_calloc(be->batch_max < 2 ? 2 : be->batch_max, sizeof(*be->answers));
	*be_out = be;
out:
	if (rc)
		nb_backend_close(be);
	return rc;
}

void nb_backend_close(struct nb_backend *be)
{
	if (!be)
		return;
	nb_linkmon_stop(&be->mon);
	if (be->fd >= 0)
		close(be->fd);
	free(be->sendbuf);
	free(be->sent_index);
	free(be->getbuf);
	free(be->answers);
	free(be);
}

int nb_backend_watch_links(struct nb_backend *be, ckpt_dev *const *devs, size_t n)
{
	be->mon.ctx = be->ctx;
	be->mon.domid = be->domid;
	be->mon.devs = devs;
	be->mon.n = n;
	return nb_linkmon_start(&be->mon);
}

size_t nb_backend_batch_max(const struct nb_backend *be)
{
	return be->batch_max;
}

void nb_backend_set_rcvbuf(struct nb_backend *be, int bytes)
{
	int half = bytes / 2;

	setsockopt(be->fd, SOL_SOCKET, SO_RCVBUFFORCE, &half, sizeof(half));
}

void nb_backend_set_watch_rcvbuf(struct nb_backend *be, int bytes)
{
	int half = bytes / 2;

	setsockopt(be->mon.fd, SOL_SOCKET, SO_RCVBUFFORCE, &half, sizeof(half));
}

/* Build the plug's change request once; a step only stamps it. */
static void build_request(struct nb_plug *p)
{
	struct nb_req *r = &p->req;

	memset(r, 0, sizeof(*r));
	r->h.nlmsg_len = sizeof(*r);
	r->h.nlmsg_type = RTM_NEWQDISC;
	r->h.nlmsg_flags = NLM_F_REQUEST;
	r->tcm.tcm_family = AF_UNSPEC;
	r->tcm.tcm_ifindex = p->ifindex;
	r->tcm.tcm_handle = p->handle;
	r->tcm.tcm_parent = TC_H_ROOT;
	r->kind_rta.rta_type = TCA_KIND;
	r->kind_rta.rta_len = RTA_LENGTH(sizeof("plug"));
	memcpy(r->kind, "plug", sizeof("plug"));
	r->opt_rta.rta_type = TCA_OPTIONS;
	r->opt_rta.rta_len = RTA_LENGTH(sizeof(r->opt));
	r->opt.action = TCQ_PLUG_BUFFER;
}

/* The get of the IFB's root qdisc, whatever its handle (the answer says
 * which it is: tcm_handle 0 matches any). */
static void build_get(struct nb_plug *p)
{
	struct nb_get *g = &p->get;

	memset(g, 0, sizeof(*g));
	g->h.nlmsg_len = sizeof(*g);
	g->h.nlmsg_type = RTM_GETQDISC;
	g->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ECHO; /* see the top */
	g->tcm.tcm_family = AF_UNSPEC;
	g->tcm.tcm_ifindex = p->ifindex;
	g->tcm.tcm_parent = TC_H_ROOT;
}

/* ------------------------------------------------------ reading answers */

/* The next answer the kernel queued on the socket, or NULL when none is
 * left.  rtnetlink answers inside send(), so everything is queued (or
 * lost: rx->lost) when send() returns, and the reads never wait. */
static struct nlmsghdr *next_answer(struct nb_backend *be, struct nb_rx *rx)
{
	struct nlmsghdr *h;
	ssize_t len;

	for (;;) {
		h = nb_rx_next(rx);
		if (h)
			return h;
		len = recv(be->fd, be->recvbuf, sizeof(be->recvbuf), MSG_DONTWAIT);
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0 && errno == ENOBUFS) {
			rx->lost = true; /* what was queued before the loss still comes */
			continue;
		}
		if (len < 0) {
			if (errno != EAGAIN)
				LOGE(be->ctx, ERROR, "domain %u: reading netlink answers",
				     be->domid);
			return NULL;
		}
		rx->h = (struct nlmsghdr *)be->recvbuf;
		rx->left = len;
	}
}

/*
 * Send the k gets of size bytes each at reqs as one datagram, the last
 * asking for an ack (it marks the end), and read the answers into
 * be->answers[0..k).  Returns 0, or the errno of a send() that delivered
 * nothing (then none ran).  *complete: every answer was read (else some
 * were lost, and a get with neither object nor error is unknown rather
 * than one the kernel had nothing to show for).
 */
static int exchange(struct nb_backend *be, void *reqs, size_t k, size_t size, bool *complete)
{
	uint32_t first_seq = be->seq + 1;
	struct nb_rx rx = {0};
	bool got_last = false;
	struct nlmsghdr *h;
	ssize_t r;

	for (size_t j = 0; j < k; j++) {
		h = (struct nlmsghdr *)((char *)reqs + j * size);
		h->nlmsg_seq = ++be->seq;
		h->nlmsg_flags &= ~NLM_F_ACK;
		if (j == k - 1)
			h->nlmsg_flags |= NLM_F_ACK;
		memset(&be->answers[j], 0, sizeof(be->answers[j]));
	}
	do {
		r = send(be->fd, reqs, k * size, 0);
	} while (r < 0 && errno == EINTR);
	if (r != (ssize_t)(k * size))
		return r < 0 ? errno : EMSGSIZE; /* netlink takes a datagram whole or not at all */
	while (!got_last && (h = next_answer(be, &rx)))
		got_last = nb_take_answer(h, first_seq, k, be->answers);
	*complete = got_last && !rx.lost;
	return 0;
}

/* ---------------------------------------------------------------- attach */

/* Interfaces names[0..k) (k <= 2), by name, in one sendmsg: their
 * answers in be->answers[0..k), errs[j] the errno of each (ENODEV: no
 * such interface).  Returns 0, or the errno of a send that failed. */
static int get_links(struct nb_backend *be, const char *const *names, size_t k, int *errs)
{
	struct nb_getlink req[2];
	bool complete;
	int err;

	memset(req, 0, sizeof(req));
	for (size_t j = 0; j < k; j++) {
		req[j].h.nlmsg_len = sizeof(req[j]);
		req[j].h.nlmsg_type = RTM_GETLINK;
		req[j].h.nlmsg_flags = NLM_F_REQUEST;
		req[j].ifi.ifi_family = AF_UNSPEC;
		req[j].name_rta.rta_type = IFLA_IFNAME;
		req[j].name_rta.rta_len = RTA_LENGTH(sizeof(req[j].name));
		snprintf(req[j].name, sizeof(req[j].name), "%s", names[j]);
	}
	err = exchange(be, req, k, sizeof(req[0]), &complete);
	for (size_t j = 0; j < k && !err; j++) {
		const struct nb_answer *a = &be->answers[j];
		/* a get is always answered */
		errs[j] = a->got ? 0 : a->error ? a->error : ENOBUFS;
	}
	return err;
}

/* One interface, by name: its answer in be->answers[0].  Returns 0, or
 * the errno of the failure (ENODEV: no such interface). */
static int get_link(struct nb_backend *be, const char *name)
{
	int err1 = 0, err = get_links(be, &name, 1, &err1);

	return err ? err : err1;
}

/* The IFB's ifindex, after checking it is an ifb, and the vif's: both
 * asked in one sendmsg. */
static int find_ifb(struct nb_backend *be, ckpt_dev *dev, const char *ifb, int *ifindex,
                    int *vif_index)
{
	struct nb_answer *a = &be->answers[0];
	const char *vif = nb_nic_of(dev)->vif;
	const char *names[2] = {ifb, vif};
	int errs[2] = {0, 0}, err = get_links(be, names, 2, errs);

	if (!err)
		err = errs[0];
	if (err == ENODEV) {
		DEV_LOG(dev, ERROR, "IFB %s: no such interface", ifb);
		return CKPT_ERROR_NOTFOUND;
	}
	if (err) {
		LOGEV(be->ctx, ERROR, err, "domain %u: %s: cannot look up IFB %s", be->domid,
		      dev->name, ifb);
		return nb_rc_from_ack(err);
	}
	*ifindex = a->ifindex;
	if (strcmp(a->kind, "ifb")) {
		DEV_LOG(dev, ERROR, "%s is %s%s, not an ifb device", ifb,
		        a->kind[0] ? "of type " : "", a->kind[0] ? a->kind : "a plain interface");
		return CKPT_ERROR_INVAL;
	}
	if (errs[1] == ENODEV) {
		DEV_LOG(dev, ERROR, "vif %s: no such interface (deleted while it was set up?)",
		        vif);
		return CKPT_ERROR_NOTFOUND;
	}
	if (errs[1]) {
		LOGEV(be->ctx, ERROR, errs[1], "domain %u: %s: cannot look up vif %s", be->domid,
		      dev->name, vif);
		return nb_rc_from_ack(errs[1]);
	}
	*vif_index = be->answers[1].ifindex;
	return 0;
}

/* The handle of the IFB's root qdisc, after checking it is of the kind
 * wanted (a plug, but for the tests' stand-ins). */
static int find_root(struct nb_backend *be, struct nb_plug *p)
{
	struct nb_qdisc q;
	int err = nb_nl_qdisc(be, p->ifindex, TC_H_ROOT, &q);

	if (err == ENODEV) {
		DEV_LOG(p->dev, ERROR, "IFB %s: no such interface", p->ifb);
		return CKPT_ERROR_NOTFOUND;
	}
	if (err) {
		LOGEV(be->ctx, ERROR, err, "domain %u: %s: cannot read the root qdisc of %s",
		      be->domid, p->dev->name, p->ifb);
		return nb_rc_from_ack(err);
	}
	if (strcmp(q.kind, p->kind)) {
		DEV_LOG(p->dev, ERROR,
		        "%s has %s%s as its root qdisc, not %s (a kernel without sch_plug? "
		        "CONFIG_NET_SCH_PLUG, modprobe sch_plug)",
		        p->ifb, q.kind[0] ? q.kind : "nothing", q.kind[0] ? "" : " set", p->kind);
		return CKPT_ERROR_NOTSUP;
	}
	p->handle = q.handle;
	return 0;
}

int nb_plug_attach_kind(struct nb_backend *be, ckpt_dev *dev, const char *ifb, const char *kind,
                        struct nb_plug **plug_out)
{
	struct nb_nic *n = nb_nic_of(dev);
	struct nb_plug *p;
	int rc, vif_index = 0;

	*plug_out = NULL;
	rc = ao_fault(be->ctx, FP_NL_ATTACH);
	if (rc) {
		DEV_LOG(dev, ERROR, "cannot attach to %s: %s", ifb, ckpt_strerror(rc));
		return rc;
	}
	p = ao_calloc(1, sizeof(*p));
	p->dev = dev;
	p->kind = kind;
	snprintf(p->ifb, sizeof(p->ifb), "%s", ifb);
	rc = find_ifb(be, dev, ifb, &p->ifindex, &vif_index);
	if (!rc) {
		build_get(p);
		rc = find_root(be, p);
	}
	if (rc) {
		free(p);
		return rc;
	}
	build_request(p);
	/* from here on, the link watch reports their deletion */
	n->vif_ifindex = vif_index;
	n->ifb_ifindex = p->ifindex;
	atomic_store(&n->gone, 0);
	*plug_out = p;
	return 0;
}

int nb_plug_attach(struct nb_backend *be, ckpt_dev *dev, const char *ifb, struct nb_plug **plug_out)
{
	return nb_plug_attach_kind(be, dev, ifb, "plug", plug_out);
}

void nb_plug_detach(struct nb_backend *be, struct nb_plug *plug)
{
	(void)be;
	if (plug) {
		struct nb_nic *n = nb_nic_of(plug->dev);
		n->vif_ifindex = 0;
		n->ifb_ifindex = 0;
	}
	free(plug);
}

/* -------------------------------------------------------------- counters */

/* A drop counter that grew since the last read: the buffer was full. */
static void warn_drops(struct nb_plug *p, uint64_t drops)
{
	struct nb_nic *n = nb_nic_of(p->dev);
	char limit[48];

	if (n->limit)
		snprintf(limit, sizeof(limit), "now %lu bytes", n->limit);
	else
		snprintf(limit, sizeof(limit), "now the hotplug script's default");
	DEV_LOG(p->dev, WARN,
	        "the buffer of %s (%s) was full: it dropped %llu packet(s) since the last "
	        "read, %llu in all; raise the NIC's limit= parameter (%s)",
	        n->vif, p->ifb, (unsigned long long)(drops - p->drops), (unsigned long long)drops,
	        limit);
}

/* One NIC's answer to a read of the counters: its rc. */
static int take_counters(struct nb_backend *be, struct nb_plug *p, const struct nb_answer *a,
                         bool complete, ckpt_nic_stats *out)
{
	ckpt_dev *dev = p->dev;

	if (a->error == ENODEV) {
		DEV_LOG(dev, ERROR, "counters: IFB %s has gone", p->ifb);
		return CKPT_ERROR_NOTFOUND;
	}
	if (a->error && a->error != EINVAL && a->error != ENOENT) {
		LOGEV(be->ctx, ERROR, a->error, "domain %u: %s: cannot read the counters of %s",
		      be->domid, dev->name, p->ifb);
		return nb_rc_from_ack(a->error);
	}
	if (!a->got && !a->error && !complete) {
		DEV_LOG(dev, ERROR, "counters of %s: the kernel's answer was lost (ENOBUFS?)",
		        p->ifb);
		return CKPT_ERROR_NETLINK;
	}
	/* the root qdisc now: the plug we attached to, or whatever replaced it */
	if (!a->got || a->ifindex != p->ifindex || strcmp(a->kind, p->kind) ||
	    a->handle != p->handle) {
		DEV_LOG(dev, ERROR, "%s has lost its %s qdisc (its root is now %s)", p->ifb,
		        p->kind, a->got && a->kind[0] ? a->kind : "none");
		return CKPT_ERROR_NOTFOUND;
	}
	*out = a->st;
	/* the kernel's drop counter is 32 bits wide: ours goes on across
	 * its wrap */
	out->drops = nb_counter32_extend(p->drops, (uint32_t)a->st.drops);
	if (out->drops > p->drops)
		warn_drops(p, out->drops);
	p->drops = out->drops;
	return 0;
}

int nb_plug_stats(struct nb_backend *be, ckpt_dev *const *devs, size_t n, ckpt_nic_stats *out,
                  int *rcs)
{
	size_t k;
	int first = 0;

	for (size_t base = 0; base < n; base += k) {
		bool complete = false;
		int err;

		k = n - base < be->batch_max ? n - base : be->batch_max;
		for (size_t j = 0; j < k; j++)
			be->getbuf[j] = nb_nic_of(devs[base + j])->plug->get;
		err = exchange(be, be->getbuf, k, sizeof(*be->getbuf), &complete);
		if (err)
			LOGEV(be->ctx, ERROR, err, "domain %u: cannot send %zu counters request(s)",
			      be->domid, k);
		for (size_t j = 0; j < k; j++) {
			struct nb_nic *nic = nb_nic_of(devs[base + j]);

			memset(&out[base + j], 0, sizeof(out[base + j]));
			if (atomic_load_explicit(&nic->gone, memory_order_relaxed))
				rcs[base + j] = CKPT_ERROR_NOTFOUND; /* the watch said so */
			else
				rcs[base + j] = err ? nb_rc_from_ack(err)
				                    : take_counters(be, nic->plug, &be->answers[j],
				                                    complete, &out[base + j]);
		}
	}
	for (size_t j = 0; j < n && !first; j++)
		first = rcs[j];
	return first;
}

/* ----------------------------------------------------------------- steps */

/* The NICs of the batch just read that have neither an error nor, for
 * the last one, its ack: their outcome is unknown (see the top). */
static void log_unknown(struct nb_backend *be, ckpt_dev *const *devs, size_t k, bool got_last,
                        bool lost, enum nb_action action, const int *rcs)
{
	for (size_t j = 0; j < k; j++) {
		ckpt_dev *dev = devs[be->sent_index[j]];

		if (rcs[be->sent_index[j]] || (got_last && j == k - 1))
			continue;
		LOG(be->ctx, ERROR,
		    "domain %u: %s: plug %s on %s: outcome unknown, the kernel's answer was "
		    "lost (%s); counted as done (a plug that is gone fails the next step)",
		    ckpt_dev_domid(dev), dev->name, action_names[action], nb_nic_of(dev)->plug->ifb,
		    lost ? "ENOBUFS: the receive buffer overflowed or the kernel ran out of memory"
		         : "no answer to the batch's last request: a malformed batch?");
	}
}

/* Read the answers to the k requests just sent: an error for each one the
 * kernel refused, and the answer to the last. */
static void read_answers(struct nb_backend *be, ckpt_dev *const *devs, size_t k,
                         enum nb_action action, int *rcs)
{
	uint32_t first_seq = be->sendbuf[0].h.nlmsg_seq;
	struct nb_rx rx = {0};
	bool got_last = false;
	struct nlmsghdr *h;

	while (!got_last && (h = next_answer(be, &rx))) {
		size_t j;
		int err;

		if (!nb_ack_of(h, first_seq, k, &j, &err))
			continue;
		if (j == k - 1)
			got_last = true;
		if (err) {
			ckpt_dev *dev = devs[be->sent_index[j]];
			LOGEV(be->ctx, ERROR, err, "domain %u: %s: plug %s on %s failed",
			      ckpt_dev_domid(dev), dev->name, action_names[action],
			      nb_nic_of(dev)->plug->ifb);
			rcs[be->sent_index[j]] = nb_rc_from_ack(err);
		}
	}
	if (rx.lost || !got_last)
		log_unknown(be, devs, k, got_last, rx.lost, action, rcs);
}

/* Send the k requests stamped in sendbuf as one datagram; read back. */
static void send_batch(struct nb_backend *be, ckpt_dev *const *devs, size_t k,
                       enum nb_action action, int *rcs)
{
	size_t len = k * sizeof(struct nb_req);
	ssize_t r;
	int err;

	be->sendbuf[k - 1].h.nlmsg_flags |= NLM_F_ACK;
	do {
		r = send(be->fd, be->sendbuf, len, 0);
	} while (r < 0 && errno == EINTR);
	if (r == (ssize_t)len) {
		read_answers(be, devs, k, action, rcs);
		return;
	}
	/* netlink takes a datagram whole or not at all: none of it ran */
	err = r < 0 ? errno : EMSGSIZE;
	LOGEV(be->ctx, ERROR, err, "domain %u: cannot send %zu plug %s request(s)", be->domid, k,
	      action_names[action]);
	for (size_t j = 0; j < k; j++)
		rcs[be->sent_index[j]] = nb_rc_from_ack(err);
}

int nb_plug_request(struct nb_backend *be, ckpt_dev *const *devs, size_t n, enum nb_action action,
                    int *rcs)
{
	enum ao_fault_point fp = action == NB_BUFFER ? FP_NL_BUFFER : FP_NL_RELEASE;
	size_t i = 0, k;
	int first = 0;

	for (size_t j = 0; j < n; j++) {
		rcs[j] = ao_fault(be->ctx, fp);
		/* its vif or IFB deleted (logged by the watch): nothing of it
		 * is buffered, and it must not look as if it were */
		if (!rcs[j] && action != NB_RELEASE_INDEFINITE &&
		    atomic_load_explicit(&nb_nic_of(devs[j])->gone, memory_order_relaxed))
			rcs[j] = CKPT_ERROR_NOTFOUND;
	}
	while (i < n) {
		/* the next batch_max devices that have no rc yet */
		for (k = 0; i < n && k < be->batch_max; i++) {
			struct nb_req *r = &be->sendbuf[k];

			if (rcs[i])
				continue;
			*r = nb_nic_of(devs[i])->plug->req;
			r->opt.action = tcq_action[action];
			r->h.nlmsg_seq = ++be->seq;
			be->sent_index[k++] = i;
		}
		if (k)
			send_batch(be, devs, k, action, rcs);
	}
	for (size_t j = 0; j < n && !first; j++)
		first = rcs[j];
	return first;
}

/* ------------------------------------------- the teardown sweep's needs */

int nb_nl_link(struct nb_backend *be, const char *name, struct nb_link *out)
{
	const struct nb_answer *a = &be->answers[0];
	int err = get_link(be, name);

	memset(out, 0, sizeof(*out));
	if (err)
		return err;
	out->ifindex = a->ifindex;
	memcpy(out->kind, a->kind, sizeof(out->kind));
	memcpy(out->alias, a->alias, sizeof(out->alias));
	memcpy(out->addr, a->addr, sizeof(out->addr));
	out->addr_len = a->addr_len;
	return 0;
}

int nb_nl_qdisc(struct nb_backend *be, int ifindex, uint32_t parent, struct nb_qdisc *out)
{
	const struct nb_answer *a = &be->answers[0];
	struct nb_plug p = {.ifindex = ifindex};
	bool complete;
	int err;

	memset(out, 0, sizeof(*out));
	build_get(&p);
	p.get.tcm.tcm_parent = parent;
	err = exchange(be, &p.get, 1, sizeof(p.get), &complete);
	/* EINVAL, ENOENT or no answer at all: none the kernel shows */
	if (!err && a->error && a->error != EINVAL && a->error != ENOENT)
		err = a->error;
	if (!err && !a->got && !a->error && !complete)
		err = ENOBUFS;
	if (err || !a->got || a->ifindex != ifindex)
		return err;
	memcpy(out->kind, a->kind, sizeof(out->kind));
	out->handle = a->handle;
	out->st = a->st;
	return 0;
}

int nb_nl_release_root(struct nb_backend *be, int ifindex, uint32_t handle)
{
	struct nb_plug p = {.ifindex = ifindex, .handle = handle};
	bool complete;
	int err;

	build_request(&p);
	p.req.opt.action = TCQ_PLUG_RELEASE_INDEFINITE;
	err = exchange(be, &p.req, 1, sizeof(p.req), &complete);
	if (!err)
		err = be->answers[0].error;
	if (!err && !complete)
		err = ENOBUFS;
	return err;
}

int nb_nl_talk(struct nb_backend *be, struct nlmsghdr *req, nb_nl_msg_fn *fn, void *arg)
{
	bool dump = req->nlmsg_flags & NLM_F_DUMP;
	uint32_t seq = ++be->seq;
	struct nb_rx rx = {0};
	struct nlmsghdr *h;
	ssize_t r;

	req->nlmsg_seq = seq;
	req->nlmsg_flags |= NLM_F_REQUEST | (dump ? 0 : NLM_F_ACK);
	do {
		r = send(be->fd, req, req->nlmsg_len, 0);
	} while (r < 0 && errno == EINTR);
	if (r != (ssize_t)req->nlmsg_len)
		return r < 0 ? errno : EMSGSIZE;
	/* answered inside send(); a dump's next part is queued by the recv()
	 * that takes the one before it, so no read has to wait */
	while ((h = next_answer(be, &rx))) {
		const int *err = NLMSG_DATA(h);

		if (h->nlmsg_seq != seq)
			continue;
		if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE)
			return h->nlmsg_len >= NLMSG_LENGTH(sizeof(*err)) ? -*err : 0;
		if (fn)
			fn(h, arg);
	}
	return rx.lost ? ENOBUFS : EPROTO; /* the end never came */
}

/* ---------------------------------------------------------------- survey */

int nb_ifb_probe(ckpt_ctx *ctx, const char *ifb, char qdisc[16], ckpt_nic_stats *st)
{
	struct nb_backend *be;
	struct nb_link link;
	struct nb_qdisc q;
	int err, rc;

	qdisc[0] = '\0';
	memset(st, 0, sizeof(*st));
	rc = nb_backend_open(ctx, CKPT_DOMID_INVALID, 1, &be);
	if (rc)
		return rc;
	err = nb_nl_link(be, ifb, &link);
	if (!err)
		err = nb_nl_qdisc(be, link.ifindex, TC_H_ROOT, &q);
	if (!err) {
		memcpy(qdisc, q.kind, 16);
		*st = q.st;
	}
	nb_backend_close(be);
	if (err == ENODEV)
		return CKPT_ERROR_NOTFOUND;
	return err ? nb_rc_from_ack(err) : 0;
}
