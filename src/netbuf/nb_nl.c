/*
 * nb_nl.c - the network-buffering backend: the IFB's plug qdisc, driven
 * through libnl-route-3.  The only file that includes libnl.
 *
 * Setup-time work uses libnl's object API (look up the IFB, find its root
 * qdisc, check it is a plug).  The checkpoint path is built for speed: each
 * plug's RTM_NEWQDISC "change" request is built once, with libnl, when the
 * plug is attached; a checkpoint copies the requests of all NICs into one
 * buffer, stamps action and sequence numbers, sends them in ONE sendmsg,
 * and reads back one ack per request.  The kernel runs the requests in
 * order and answers each (an error ack even if an earlier one failed), so
 * every NIC gets its own result.  A reply that never comes (a malformed
 * batch makes the kernel drop the rest) is bounded by NB_ACK_TIMEOUT_MS.
 *
 * At most NB_BATCH_MAX (128) requests go in one sendmsg, but the real
 * bound is lower: all the acks of a batch must fit in the socket's receive
 * buffer at once, and libnl's default buffer (32 KiB, which the kernel
 * doubles) holds about 78 success acks, fewer error acks (each carries its
 * request).  A bigger batch overflows it: the kernel still runs every
 * request but drops the acks that do not fit, the next recv fails with
 * ENOBUFS, and read_acks gives up, so every request of the batch fails
 * with CKPT_ERROR_NETLINK (logged as unanswered).  A devset of more than
 * about 78 NICs fails every checkpoint step today (issue 9).
 */
#include <errno.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "internal.h"

#define NB_MSG_SPACE      128
#define NB_BATCH_MAX      128
#define NB_ACK_TIMEOUT_MS 1000
#define NB_RECV_SPACE     32768

struct nb_plug {
	ckpt_dev *dev;
	char ifb[16];
	int ifindex;
	uint32_t handle;
	size_t len;        /* of msg */
	size_t action_off; /* where tc_plug_qopt.action sits in msg */
	unsigned char msg[NB_MSG_SPACE];
};

struct nb_backend {
	ckpt_ctx *ctx;
	struct nl_sock *sk;
	int fd;
	uint32_t seq;
	unsigned char *sendbuf;          /* NB_BATCH_MAX requests */
	unsigned char *recvbuf;          /* NB_RECV_SPACE */
	size_t sent_index[NB_BATCH_MAX]; /* batch position -> device index */
	bool acked[NB_BATCH_MAX];
	bool stale; /* a batch ended without all its acks */
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

/* A request the kernel refused, by the errno of its error ack: mapped to
 * libnl's code by libnl's own table (the one it applies to the acks it
 * reads), so a refusal gives the same rc on the checkpoint path as at
 * attach.  ENOMEM, ENOBUFS: NOMEM; ENODEV, ENOENT, ESRCH: NOTFOUND; any
 * other errno: NETLINK. */
int nb_rc_from_ack(int errnoval)
{
	return rc_from_nle(nl_syserr2nlerr(errnoval));
}

/* Drop any reply still queued (from a batch that timed out). */
static void drain(struct nb_backend *be)
{
	while (recv(be->fd, be->recvbuf, NB_RECV_SPACE, MSG_DONTWAIT) > 0)
		;
	be->stale = false;
}

int nb_backend_open(ckpt_ctx *ctx, struct nb_backend **be_out)
{
	struct nb_backend *be;
	int err, rc;

	*be_out = NULL;
	rc = ao_fault(ctx, FP_NL_CONNECT);
	if (rc) {
		LOG(ctx, ERROR, "cannot open a netlink socket: %s", ckpt_strerror(rc));
		return rc;
	}
	be = ao_calloc(1, sizeof(*be));
	be->ctx = ctx;
	be->sk = nl_socket_alloc();
	if (!be->sk) {
		LOG(ctx, ERROR, "cannot allocate a netlink socket");
		free(be);
		return CKPT_ERROR_NOMEM;
	}
	err = nl_connect(be->sk, NETLINK_ROUTE);
	if (err < 0) {
		LOG(ctx, ERROR, "cannot open a netlink socket: %s", nl_geterror(err));
		nl_socket_free(be->sk);
		free(be);
		return rc_from_nle(err);
	}
	be->fd = nl_socket_get_fd(be->sk);
	be->sendbuf = ao_malloc(NB_BATCH_MAX * NB_MSG_SPACE);
	be->recvbuf = ao_malloc(NB_RECV_SPACE);
	*be_out = be;
	return 0;
}

void nb_backend_close(struct nb_backend *be)
{
	if (!be)
		return;
	nl_socket_free(be->sk);
	free(be->sendbuf);
	free(be->recvbuf);
	free(be);
}

/* Build the plug's change request once; checkpoints only patch it. */
static int build_request(struct nb_plug *p)
{
	struct tcmsg tcm = {
	        .tcm_family = AF_UNSPEC,
	        .tcm_ifindex = p->ifindex,
	        .tcm_handle = p->handle,
	        .tcm_parent = TC_H_ROOT,
	};
	struct tc_plug_qopt opt = {.action = TCQ_PLUG_BUFFER, .limit = 0};
	struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_ACK);
	struct nlmsghdr *h;
	struct nlattr *a;
	int rc = CKPT_ERROR_NOMEM;

	if (!m)
		return rc;
	if (nlmsg_append(m, &tcm, sizeof(tcm), NLMSG_ALIGNTO) < 0 ||
	    nla_put_string(m, TCA_KIND, "plug") < 0 ||
	    nla_put(m, TCA_OPTIONS, sizeof(opt), &opt) < 0)
		goto out;
	h = nlmsg_hdr(m);
	a = nlmsg_find_attr(h, sizeof(tcm), TCA_OPTIONS);
	if (!a || NLMSG_ALIGN(h->nlmsg_len) > sizeof(p->msg))
		goto out;
	p->len = NLMSG_ALIGN(h->nlmsg_len);
	memset(p->msg, 0, sizeof(p->msg));
	memcpy(p->msg, h, h->nlmsg_len);
	p->action_off = (size_t)((unsigned char *)nla_data(a) - (unsigned char *)h) +
	                offsetof(struct tc_plug_qopt, action);
	rc = 0;
out:
	nlmsg_free(m);
	return rc;
}

/* The IFB's ifindex, after checking it is an ifb. */
static int find_ifb(struct nb_backend *be, ckpt_dev *dev, const char *ifb, int *ifindex)
{
	struct rtnl_link *link = NULL;
	const char *type;
	int err, rc = 0;

	err = rtnl_link_get_kernel(be->sk, 0, ifb, &link);
	if (err < 0) {
		DEV_LOG(dev, ERROR, "IFB %s: %s", ifb,
		        err == -NLE_OBJ_NOTFOUND || err == -NLE_NODEV ? "no such interface"
		                                                      : nl_geterror(err));
		return rc_from_nle(err);
	}
	type = rtnl_link_get_type(link);
	if (!type || strcmp(type, "ifb")) {
		DEV_LOG(dev, ERROR, "%s is %s%s, not an ifb device", ifb, type ? "of type " : "",
		        type ? type : "a plain interface");
		rc = CKPT_ERROR_INVAL;
	}
	*ifindex = rtnl_link_get_ifindex(link);
	rtnl_link_put(link);
	return rc;
}

/* The handle of the IFB's root qdisc, after checking it is a plug. */
static int find_plug(struct nb_backend *be, ckpt_dev *dev, const char *ifb, int ifindex,
                     uint32_t *handle)
{
	struct nl_cache *cache = NULL;
	struct rtnl_qdisc *q;
	const char *kind;
	int err, rc = 0;

	err = rtnl_qdisc_alloc_cache(be->sk, &cache);
	if (err < 0) {
		DEV_LOG(dev, ERROR, "cannot list qdiscs: %s", nl_geterror(err));
		return rc_from_nle(err);
	}
	q = rtnl_qdisc_get_by_parent(cache, ifindex, TC_H_ROOT);
	kind = q ? rtnl_tc_get_kind(TC_CAST(q)) : NULL;
	if (!kind || strcmp(kind, "plug")) {
		DEV_LOG(dev, ERROR,
		        "%s has %s%s as its root qdisc, not plug (a kernel without sch_plug? "
		        "CONFIG_NET_SCH_PLUG, modprobe sch_plug)",
		        ifb, kind ? kind : "nothing", kind ? "" : " set");
		rc = CKPT_ERROR_NOTSUP;
	} else {
		*handle = rtnl_tc_get_handle(TC_CAST(q));
	}
	if (q)
		rtnl_qdisc_put(q);
	nl_cache_free(cache);
	return rc;
}

int nb_plug_attach(struct nb_backend *be, ckpt_dev *dev, const char *ifb, struct nb_plug **plug_out)
{
	struct nb_plug *p;
	int rc;

	*plug_out = NULL;
	rc = ao_fault(be->ctx, FP_NL_ATTACH);
	if (rc) {
		DEV_LOG(dev, ERROR, "cannot attach to %s: %s", ifb, ckpt_strerror(rc));
		return rc;
	}
	p = ao_calloc(1, sizeof(*p));
	p->dev = dev;
	snprintf(p->ifb, sizeof(p->ifb), "%s", ifb);
	drain(be);
	rc = find_ifb(be, dev, ifb, &p->ifindex);
	if (!rc)
		rc = find_plug(be, dev, ifb, p->ifindex, &p->handle);
	if (!rc) {
		rc = build_request(p);
		if (rc)
			DEV_LOG(dev, ERROR, "cannot build the plug request for %s", ifb);
	}
	if (rc) {
		free(p);
		return rc;
	}
	*plug_out = p;
	return 0;
}

int nb_plug_stats(struct nb_backend *be, struct nb_plug *plug, ckpt_nic_stats *out)
{
	struct nl_cache *cache = NULL;
	struct rtnl_qdisc *q;
	int err, rc = 0;

	drain(be);
	err = rtnl_qdisc_alloc_cache(be->sk, &cache);
	if (err < 0) {
		DEV_LOG(plug->dev, ERROR, "cannot list qdiscs: %s", nl_geterror(err));
		return rc_from_nle(err);
	}
	q = rtnl_qdisc_get_by_parent(cache, plug->ifindex, TC_H_ROOT);
	if (!q) {
		DEV_LOG(plug->dev, ERROR, "%s has lost its plug qdisc", plug->ifb);
		rc = CKPT_ERROR_NOTFOUND;
	} else {
		struct rtnl_tc *tc = TC_CAST(q);
		out->packets_released = rtnl_tc_get_stat(tc, RTNL_TC_PACKETS);
		out->bytes_released = rtnl_tc_get_stat(tc, RTNL_TC_BYTES);
		out->packets_held = rtnl_tc_get_stat(tc, RTNL_TC_QLEN);
		out->bytes_held = rtnl_tc_get_stat(tc, RTNL_TC_BACKLOG);
		out->drops = rtnl_tc_get_stat(tc, RTNL_TC_DROPS);
		rtnl_qdisc_put(q);
	}
	nl_cache_free(cache);
	return rc;
}

void nb_plug_detach(struct nb_backend *be, struct nb_plug *plug)
{
	(void)be;
	free(plug);
}

/* Read acks for the batch until each of its n requests has one or the
 * time is up.  Returns how many are still missing. */
static size_t read_acks(struct nb_backend *be, uint32_t first_seq, size_t n, ckpt_dev *const *devs,
                        enum nb_action action, int *rcs)
{
	struct timespec deadline = ao_ts_add_ms(ao_now(), NB_ACK_TIMEOUT_MS);
	size_t missing = n;

	while (missing) {
		ssize_t len = recv(be->fd, be->recvbuf, NB_RECV_SPACE, MSG_DONTWAIT);
		struct nlmsghdr *h;

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0 && errno == EAGAIN) {
			struct pollfd pfd = {.fd = be->fd, .events = POLLIN};
			int ms = ao_ts_ms_until(deadline, ao_now());
			if (ms == 0 || poll(&pfd, 1, ms) <= 0)
				break;
			continue;
		}
		if (len <= 0) {
			LOGE(be->ctx, ERROR, "reading netlink acks");
			break;
		}
		for (h = (struct nlmsghdr *)be->recvbuf; NLMSG_OK(h, (size_t)len);
		     h = NLMSG_NEXT(h, len)) {
			struct nlmsgerr *e = NLMSG_DATA(h);
			size_t k = h->nlmsg_seq - first_seq;

			if (h->nlmsg_type != NLMSG_ERROR || k >= n || be->acked[k])
				continue;
			be->acked[k] = true;
			missing--;
			if (e->error) {
				size_t i = be->sent_index[k];
				struct nb_plug *p = nb_nic_of(devs[i])->plug;
				LOGEV(be->ctx, ERROR, -e->error,
				      "domain %u: %s: plug %s on %s failed",
				      ckpt_dev_domid(devs[i]), devs[i]->name, action_names[action],
				      p->ifb);
				rcs[i] = nb_rc_from_ack(-e->error);
			}
		}
	}
	return missing;
}

/* Send devs[from..to) (those without an rc yet) as one batch. */
static void send_batch(struct nb_backend *be, ckpt_dev *const *devs, size_t from, size_t to,
                       enum nb_action action, int *rcs)
{
	uint32_t first_seq = be->seq + 1;
	size_t off = 0, n = 0;
	int act = tcq_action[action];

	for (size_t i = from; i < to; i++) {
		struct nb_plug *p = nb_nic_of(devs[i])->plug;
		struct nlmsghdr *h = (struct nlmsghdr *)(be->sendbuf + off);

		if (rcs[i])
			continue;
		memcpy(be->sendbuf + off, p->msg, p->len);
		memcpy(be->sendbuf + off + p->action_off, &act, sizeof(act));
		h->nlmsg_seq = ++be->seq;
		h->nlmsg_pid = 0;
		be->sent_index[n] = i;
		be->acked[n] = false;
		off += p->len;
		n++;
	}
	if (n == 0)
		return;
	if (send(be->fd, be->sendbuf, off, 0) != (ssize_t)off) {
		LOGE(be->ctx, ERROR, "sending %zu plug %s request(s)", n, action_names[action]);
		for (size_t k = 0; k < n; k++)
			rcs[be->sent_index[k]] = CKPT_ERROR_NETLINK;
		be->stale = true; /* some of the batch may have run */
		return;
	}
	if (read_acks(be, first_seq, n, devs, action, rcs) == 0)
		return;
	be->stale = true; /* late acks may still come: drop them before the next batch */
	for (size_t k = 0; k < n; k++) {
		if (be->acked[k])
			continue;
		rcs[be->sent_index[k]] = CKPT_ERROR_NETLINK;
		LOG(be->ctx, ERROR,
		    "domain %u: %s: no answer from the kernel to plug %s within %d ms",
		    ckpt_dev_domid(devs[be->sent_index[k]]), devs[be->sent_index[k]]->name,
		    action_names[action], NB_ACK_TIMEOUT_MS);
	}
}

int nb_plug_request(struct nb_backend *be, ckpt_dev *const *devs, size_t n, enum nb_action action,
                    int *rcs)
{
	enum ao_fault_point fp = action == NB_BUFFER ? FP_NL_BUFFER : FP_NL_RELEASE;
	int first = 0;

	for (size_t i = 0; i < n; i++)
		rcs[i] = ao_fault(be->ctx, fp);
	if (be->stale)
		drain(be);
	for (size_t from = 0; from < n; from += NB_BATCH_MAX)
		send_batch(be, devs, from, from + NB_BATCH_MAX < n ? from + NB_BATCH_MAX : n,
		           action, rcs);
	for (size_t i = 0; i < n && !first; i++)
		first = rcs[i];
	return first;
}
