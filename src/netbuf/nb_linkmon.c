/*
 * nb_linkmon.c - the link watch: which NICs of a devset have lost their
 * vif or their IFB behind the library's back (see internal.h).
 *
 * Why.  When the guest's vif is deleted (the domain destroyed, a hotplug
 * script's offline, an operator's `ip link del`), the kernel takes its
 * clsact qdisc and our redirect filter with it, but the IFB and its plug
 * stay: every plug request still succeeds, so the checkpoint steps alone
 * would never tell that nothing of this NIC is buffered any more.  Asking
 * the kernel about the vif at every step would add a syscall per NIC to
 * the checkpoint path; instead the kernel tells us, once, on a socket of
 * our own, and the steps read a bit.
 *
 *   kernel: RTM_DELLINK (RTNLGRP_LINK) --> our socket, readable
 *   loop:   watch_cb: for each message, for each NIC of the devset:
 *             ifindex == vif_ifindex: gone |= NB_GONE_VIF, log once
 *             ifindex == ifb_ifindex: gone |= NB_GONE_IFB, log once
 *   step:   nb_plug_request: gone ? CKPT_ERROR_NOTFOUND, no request
 *
 * Ifindexes, not names: a vif of the same name made again later (the
 * domain restarted) is another interface, without our redirect.  The
 * socket is subscribed before any NIC attaches, so a deletion after
 * attach's RTM_GETLINK answer is always reported after it.
 *
 * Lost notifications.  When the socket's receive buffer is full (the loop
 * did not run while many interfaces changed), the kernel drops what does
 * not fit and recv() says ENOBUFS once.  Then every attached NIC's vif and
 * IFB is asked about again, one RTM_GETLINK by ifindex each, on the same
 * socket: the kernel answers inside send(), so each answer (the link, or
 * ENODEV) is read at once, in the same callback; notifications read
 * meanwhile are taken as usual.  An answer lost again leaves a second
 * pass; after three, the watch says it cannot tell.
 */
#include <errno.h>
#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

#define RECHECK_PASSES 3

static void watch_cb(ao_egc *egc, ao_fd *ev, int fd, short events, short revents);

/* An RTM_GETLINK for one interface, by ifindex. */
struct getlink_req {
	struct nlmsghdr h;
	struct ifinfomsg ifi;
};

void nb_linkmon_init(struct nb_linkmon *m)
{
	m->fd = -1;
	m->portid = 0;
	m->seq = 0;
	ao_fd_init(&m->ev);
}

int nb_linkmon_start(struct nb_linkmon *m)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK};
	socklen_t len = sizeof(sa);
	int rc;

	m->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (m->fd < 0) {
		LOGE(m->ctx, ERROR, "domain %u: cannot open a netlink socket to watch the vifs",
		     m->domid);
		return CKPT_ERROR_NETLINK;
	}
	if (bind(m->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(m->fd, (struct sockaddr *)&sa, &len)) {
		LOGE(m->ctx, ERROR,
		     "domain %u: cannot subscribe to the kernel's interface notifications",
		     m->domid);
		rc = CKPT_ERROR_NETLINK;
		goto fail;
	}
	m->portid = sa.nl_pid;
	m->ev.weak = true; /* it alone does not keep the loop running */
	rc = ao_fd_register(m->ctx, &m->ev, watch_cb, m->fd, POLLIN);
	if (rc)
		goto fail;
	return 0;
fail:
	close(m->fd);
	m->fd = -1;
	return rc;
}

void nb_linkmon_stop(struct nb_linkmon *m)
{
	ao_fd_deregister(m->ctx, &m->ev);
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
}

/* ifindex was deleted: mark and log each NIC it was the vif or IFB of. */
static void link_gone(struct nb_linkmon *m, int ifindex)
{
	if (ifindex <= 0)
		return; /* 0: what a NIC not attached has */
	for (size_t i = 0; i < m->n; i++) {
		ckpt_dev *dev = m->devs[i];
		struct nb_nic *n = nb_nic_of(dev);
		unsigned bit = 0;

		if (ifindex == n->vif_ifindex)
			bit |= NB_GONE_VIF;
		if (ifindex == n->ifb_ifindex)
			bit |= NB_GONE_IFB;
		if (!bit || (atomic_fetch_or(&n->gone, bit) & bit) == bit)
			continue; /* not this NIC's, or said already */
		if (bit & NB_GONE_VIF)
			DEV_LOG(dev, ERROR,
			        "%s has been deleted: its output is no longer buffered (%s's "
			        "redirect went with it); this NIC's checkpoint steps fail with "
			        "NOTFOUND until it is torn down",
			        n->vif, n->ifb);
		else
			DEV_LOG(dev, ERROR,
			        "IFB %s has been deleted: the output of %s is no longer "
			        "buffered; this NIC's checkpoint steps fail with NOTFOUND until "
			        "it is torn down",
			        n->ifb, n->vif);
	}
}

/* One message from the socket: a notification, or an answer to a recheck
 * (ours: our port id; ENODEV names the interface by the request's seq). */
static void take_message(struct nb_linkmon *m, const struct nlmsghdr *h, const int *asked,
                         uint32_t first_seq, size_t asked_n)
{
	if (h->nlmsg_type == RTM_DELLINK &&
	    h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg))) {
		const struct ifinfomsg *ifi = NLMSG_DATA(h);

		link_gone(m, ifi->ifi_index);
		return;
	}
	if (h->nlmsg_type == NLMSG_ERROR && asked && h->nlmsg_pid == m->portid &&
	    h->nlmsg_len >= NLMSG_LENGTH(sizeof(int))) {
		size_t j = (uint32_t)(h->nlmsg_seq - first_seq);
		const int *err = NLMSG_DATA(h);

		if (j < asked_n && *err == -ENODEV)
			link_gone(m, asked[j]);
	}
}

/* Read every datagram queued; *lost: the kernel dropped some (ENOBUFS).
 * Returns false on a read error other than EAGAIN (logged). */
static bool drain(struct nb_linkmon *m, bool *lost, const int *asked, uint32_t first_seq,
                  size_t asked_n)
{
	for (;;) {
		ssize_t len = recv(m->fd, m->buf, sizeof(m->buf), MSG_DONTWAIT);

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0 && errno == ENOBUFS) {
			*lost = true;
			continue;
		}
		if (len < 0) {
			if (errno == EAGAIN)
				return true;
			LOGE(m->ctx, ERROR,
			     "domain %u: reading the kernel's interface notifications", m->domid);
			return false;
		}
		for (const struct nlmsghdr *h = (const struct nlmsghdr *)m->buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len))
			take_message(m, h, asked, first_seq, asked_n);
	}
}

/* Ask about one interface by ifindex; its answer is queued when send()
 * returns, and read by the drain that follows. */
static void ask(struct nb_linkmon *m, int ifindex)
{
	struct getlink_req req;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = RTM_GETLINK;
	req.h.nlmsg_flags = NLM_F_REQUEST;
	req.h.nlmsg_seq = ++m->seq;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = ifindex;
	while (send(m->fd, &req, sizeof(req), 0) < 0 && errno == EINTR)
		;
}

/* Notifications were lost: ask about every attached NIC's vif and IFB,
 * one at a time (an answer is a whole link, ~1.5 K: asking for all at
 * once could overflow the buffer again).  Returns whether anything was
 * lost meanwhile. */
static bool recheck(struct nb_linkmon *m)
{
	bool lost = false;

	for (size_t i = 0; i < m->n; i++) {
		struct nb_nic *n = nb_nic_of(m->devs[i]);
		int asked[2] = {n->vif_ifindex, n->ifb_ifindex};

		if (!asked[0])
			continue; /* not attached */
		for (int w = 0; w < 2; w++) {
			ask(m, asked[w]);
			if (!drain(m, &lost, &asked[w], m->seq, 1))
				return true;
		}
	}
	return lost;
}

static void watch_cb(ao_egc *egc, ao_fd *ev, int fd, short events, short revents)
{
	struct nb_linkmon *m = CONTAINER_OF(ev, struct nb_linkmon, ev);
	bool lost = false;

	(void)egc, (void)fd, (void)events, (void)revents;
	if (!drain(m, &lost, NULL, 0, 0) || !lost)
		return;
	LOG(m->ctx, INFO,
	    "domain %u: interface notifications were lost (ENOBUFS): asking about every vif "
	    "and IFB again",
	    m->domid);
	for (int pass = 1; recheck(m); pass++) {
		if (pass == RECHECK_PASSES) {
			LOG(m->ctx, WARN,
			    "domain %u: interface notifications keep being lost: a vif deleted "
			    "meanwhile may go unseen until they are lost again",
			    m->domid);
			return;
		}
	}
}
