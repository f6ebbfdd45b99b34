/*
 * nb_parse.h - reading the kernel's netlink answers (nb_parse.c), apart
 * from the socket so that a fuzz target (tests/fuzz) can feed them bytes.
 *
 * nb_nl.c receives a datagram into its buffer and walks it with
 * nb_rx_next; each message then goes to nb_take_answer (the answers to a
 * batch of gets: attach and the counters) or nb_ack_of (the answers to a
 * batch of plug changes: a checkpoint step).  Nothing here allocates,
 * logs or trusts a length it has not checked against the datagram.
 */
#ifndef CKPT_NETBUF_NB_PARSE_H
#define CKPT_NETBUF_NB_PARSE_H

#include <linux/netlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal.h"

/* What came back for one get of a batch. */
struct nb_answer {
	int error;             /* the errno of the kernel's error answer; 0 */
	bool got;              /* the object came: the fields below are its */
	int ifindex;           /* RTM_NEWLINK, RTM_NEWQDISC */
	char kind[16];         /* IFLA_INFO_KIND or TCA_KIND; "" if none */
	char alias[64];        /* RTM_NEWLINK: IFLA_IFALIAS; "" if none */
	unsigned char addr[6]; /* RTM_NEWLINK: IFLA_ADDRESS, if addr_len */
	size_t addr_len;
	uint32_t handle;   /* RTM_NEWQDISC */
	ckpt_nic_stats st; /* RTM_NEWQDISC's TCA_STATS2 */
};

/* Walking one received datagram.  Set h to its start (4-byte aligned)
 * and left to its length; lost is nb_nl.c's (recv said ENOBUFS). */
struct nb_rx {
	struct nlmsghdr *h; /* the next message; NULL: none received yet */
	ssize_t left;       /* bytes of the datagram from h on */
	bool lost;          /* the kernel dropped answers */
};

/* The next whole message of the datagram (its nlmsg_len within what is
 * left), or NULL at its end or at a message that does not fit. */
HIDDEN struct nlmsghdr *nb_rx_next(struct nb_rx *rx);

/* Message h, answering a batch of k gets numbered from first_seq: an
 * error goes to its get's answers[j].error, an RTM_NEWLINK or
 * RTM_NEWQDISC fills answers[j]; anything else, or a sequence number
 * outside the batch, is ignored.  Returns true if h is the error answer
 * (or ack) of the last get: the batch's end. */
HIDDEN bool nb_take_answer(const struct nlmsghdr *h, uint32_t first_seq, size_t k,
                           struct nb_answer *answers);

/* Whether h is the error answer or ack to one of k requests numbered from
 * first_seq; then *j is that request's position and *err its errno (0:
 * done; EPROTO if the answer's error is not 0 or -1..-4095). */
HIDDEN bool nb_ack_of(const struct nlmsghdr *h, uint32_t first_seq, size_t k, size_t *j, int *err);

#endif /* CKPT_NETBUF_NB_PARSE_H */
