/*
 * nb_parse.c - the kernel's answers to nb_nl.c's requests, read from the
 * bytes of a received datagram (see nb_parse.h).
 *
 * What a get is answered with (nb_nl.c's top tells which requests):
 *   NLMSG_ERROR   nlmsgerr: error 0 is an ack, else -errno; the request's
 *                 header follows (cut short by NETLINK_CAP_ACK)
 *   RTM_NEWLINK   ifinfomsg, then attributes; IFLA_LINKINFO nests
 *                 IFLA_INFO_KIND ("ifb")
 *   RTM_NEWQDISC  tcmsg, then attributes: TCA_KIND ("plug"), TCA_STATS2
 *                 nesting TCA_STATS_BASIC, TCA_STATS_PKT64, TCA_STATS_QUEUE
 * Every length is checked against what holds it before anything behind
 * it is read: the message against the datagram (NLMSG_OK), an attribute
 * against the rest of its message or nest (RTA_OK), a struct against its
 * attribute's payload.
 */
#include <errno.h>
#include <linux/gen_stats.h>
#include <linux/if_link.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>

#include "nb_parse.h"

struct nlmsghdr *nb_rx_next(struct nb_rx *rx)
{
	struct nlmsghdr *h = rx->h;

	if (!h || !NLMSG_OK(h, rx->left))
		return NULL;
	rx->h = NLMSG_NEXT(rx->h, rx->left);
	return h;
}

/* The string attribute a, bounded, into buf. */
static void copy_string(char *buf, size_t size, const struct rtattr *a)
{
	snprintf(buf, size, "%.*s", (int)strnlen(RTA_DATA(a), RTA_PAYLOAD(a)),
	         (const char *)RTA_DATA(a));
}

/* RTM_NEWLINK: the ifindex, IFLA_IFALIAS, IFLA_ADDRESS and
 * IFLA_LINKINFO's IFLA_INFO_KIND. */
static void parse_link(const struct nlmsghdr *h, struct nb_answer *a)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = (int)IFLA_PAYLOAD(h);

	a->got = true;
	a->ifindex = ifi->ifi_index;
	for (const struct rtattr *r = IFLA_RTA(ifi); RTA_OK(r, len); r = RTA_NEXT(r, len)) {
		int ilen = (int)RTA_PAYLOAD(r);

		if (r->rta_type == IFLA_IFALIAS)
			copy_string(a->alias, sizeof(a->alias), r);
		if (r->rta_type == IFLA_ADDRESS && RTA_PAYLOAD(r) <= sizeof(a->addr)) {
			a->addr_len = RTA_PAYLOAD(r);
			memcpy(a->addr, RTA_DATA(r), a->addr_len);
		}
		if ((r->rta_type & NLA_TYPE_MASK) != IFLA_LINKINFO)
			continue;
		for (const struct rtattr *i = RTA_DATA(r); RTA_OK(i, ilen); i = RTA_NEXT(i, ilen))
			if (i->rta_type == IFLA_INFO_KIND)
				copy_string(a->kind, sizeof(a->kind), i);
	}
}

/* TCA_STATS2's members: bytes and packets dequeued (by a plug: released),
 * the queue now (held), and what the limit refused. */
static void parse_stats2(const struct rtattr *stats, ckpt_nic_stats *st)
{
	int len = (int)RTA_PAYLOAD(stats);

	for (const struct rtattr *r = RTA_DATA(stats); RTA_OK(r, len); r = RTA_NEXT(r, len)) {
		struct gnet_stats_basic b;
		struct gnet_stats_queue q;
		uint64_t packets;

		if (r->rta_type == TCA_STATS_BASIC && RTA_PAYLOAD(r) >= sizeof(b)) {
			memcpy(&b, RTA_DATA(r), sizeof(b));
			st->bytes_released = b.bytes;
			st->packets_released = b.packets;
		} else if (r->rta_type == TCA_STATS_PKT64 && RTA_PAYLOAD(r) >= sizeof(packets)) {
			/* after TCA_STATS_BASIC, when the count outgrew its 32 bits */
			memcpy(&packets, RTA_DATA(r), sizeof(packets));
			st->packets_released = packets;
		} else if (r->rta_type == TCA_STATS_QUEUE && RTA_PAYLOAD(r) >= sizeof(q)) {
			memcpy(&q, RTA_DATA(r), sizeof(q));
			st->packets_held = q.qlen;
			st->bytes_held = q.backlog;
			st->drops = q.drops;
		}
	}
}

/* RTM_NEWQDISC: where it is, its kind and handle, and its counters. */
static void parse_qdisc(const struct nlmsghdr *h, struct nb_answer *a)
{
	const struct tcmsg *tcm = NLMSG_DATA(h);
	int len = (int)TCA_PAYLOAD(h);

	a->got = true;
	a->ifindex = tcm->tcm_ifindex;
	a->handle = tcm->tcm_handle;
	for (const struct rtattr *r = TCA_RTA(tcm); RTA_OK(r, len); r = RTA_NEXT(r, len)) {
		if (r->rta_type == TCA_KIND)
			copy_string(a->kind, sizeof(a->kind), r);
		else if ((r->rta_type & NLA_TYPE_MASK) == TCA_STATS2)
			parse_stats2(r, &a->st);
	}
}

bool nb_ack_of(const struct nlmsghdr *h, uint32_t first_seq, size_t k, size_t *j, int *err)
{
	const struct nlmsgerr *e = NLMSG_DATA(h);
	size_t i = (uint32_t)(h->nlmsg_seq - first_seq);

	if (h->nlmsg_type != NLMSG_ERROR || i >= k || h->nlmsg_len < NLMSG_LENGTH(sizeof(e->error)))
		return false;
	*j = i;
	/* 0 or -errno from the kernel; anything else is no answer we know,
	 * and -INT_MIN would overflow */
	*err = e->error <= 0 && e->error > -4096 ? -e->error : EPROTO;
	return true;
}

bool nb_take_answer(const struct nlmsghdr *h, uint32_t first_seq, size_t k,
                    struct nb_answer *answers)
{
	size_t j = (uint32_t)(h->nlmsg_seq - first_seq);
	int err;

	if (nb_ack_of(h, first_seq, k, &j, &err)) {
		if (err)
			answers[j].error = err;
		return j == k - 1;
	}
	if (j >= k)
		return false;
	if (h->nlmsg_type == RTM_NEWLINK && h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct ifinfomsg)))
		parse_link(h, &answers[j]);
	else if (h->nlmsg_type == RTM_NEWQDISC &&
	         h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct tcmsg)))
		parse_qdisc(h, &answers[j]);
	return false;
}
