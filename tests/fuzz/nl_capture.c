/*
 * nl_capture - record the kernel's real answers to the requests that
 * src/netbuf/nb_nl.c sends, as inputs for fuzz_nl_reply (its seed corpus).
 *
 *   nl_capture OUTDIR PREFIX IFNAME...
 *
 * On a socket set up as nb_nl.c sets up its own (NETLINK_ROUTE,
 * NETLINK_CAP_ACK, connected to the kernel), for the interfaces named:
 *   getlink-NAME     RTM_GETLINK by IFLA_IFNAME (attach's first question)
 *   getlink-missing  the same for a name that does not exist
 *   getqdisc-NAME    RTM_GETQDISC of the root qdisc, NLM_F_ECHO (attach's
 *                    second question, and the counters)
 *   getqdisc-all     one such get per interface in one sendmsg
 *   getqdisc-gone    for an ifindex that does not exist
 *   step-ACTION      a plug "change" (RTM_NEWQDISC, TCA_KIND plug,
 *                    TCA_OPTIONS tc_plug_qopt) per interface in one
 *                    sendmsg: buffer, release_one, release_indefinite
 *   step-gone        a change for an ifindex that does not exist
 * each with NLM_F_ACK on the last request of the batch, as nb_nl.c asks.
 * Every datagram recv() gives back is written, in fuzz_nl_reply's format
 * (see there), to OUTDIR/PREFIX-WHAT.  tests/fuzz/capture-nl runs this in
 * namespaces of its own, on the host and in the test VM (sch_plug).
 */
#include <errno.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_IFS 16
#define GONE    999999 /* an ifindex nobody has */

struct getlink {
	struct nlmsghdr h;
	struct ifinfomsg ifi;
	struct rtattr name_rta;
	char name[IFNAMSIZ];
};

struct getqdisc {
	struct nlmsghdr h;
	struct tcmsg tcm;
};

struct change {
	struct nlmsghdr h;
	struct tcmsg tcm;
	struct rtattr kind_rta;
	char kind[8];
	struct rtattr opt_rta;
	struct tc_plug_qopt opt;
};

static int fd;
static uint32_t seq = 1000;
static const char *outdir, *prefix;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* Send the k requests of size bytes at reqs (seq stamped, ack on the
 * last), and write what comes back to OUTDIR/PREFIX-what.  Returns the
 * handle of the last RTM_NEWQDISC seen (0 if none). */
static uint32_t exchange(const char *what, void *reqs, size_t k, size_t size)
{
	unsigned char buf[8192], hdr[5];
	uint32_t first = seq + 1, handle = 0;
	char path[4096];
	FILE *f;
	ssize_t r;

	for (size_t j = 0; j < k; j++) {
		struct nlmsghdr *h = (struct nlmsghdr *)((char *)reqs + j * size);
		h->nlmsg_seq = ++seq;
		if (j == k - 1)
			h->nlmsg_flags |= NLM_F_ACK;
	}
	if (send(fd, reqs, k * size, 0) != (ssize_t)(k * size))
		die("send");
	snprintf(path, sizeof(path), "%s/%s-%s", outdir, prefix, what);
	f = fopen(path, "wb");
	if (!f)
		die(path);
	hdr[0] = (unsigned char)(k - 1);
	for (int i = 0; i < 4; i++)
		hdr[1 + i] = (unsigned char)(first >> (8 * i));
	fwrite(hdr, 1, sizeof(hdr), f);
	/* rtnetlink answers inside send(): everything is queued by now */
	while ((r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) >= 0 || errno == EINTR ||
	       errno == ENOBUFS) {
		unsigned char len[2];
		ssize_t left = r;

		if (r < 0)
			continue;
		len[0] = (unsigned char)r;
		len[1] = (unsigned char)(r >> 8);
		fwrite(len, 1, 2, f);
		fwrite(buf, 1, (size_t)r, f);
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left);
		     h = NLMSG_NEXT(h, left))
			if (h->nlmsg_type == RTM_NEWQDISC)
				handle = ((struct tcmsg *)NLMSG_DATA(h))->tcm_handle;
	}
	if (fclose(f))
		die(path);
	printf("%s\n", path);
	return handle;
}

static void getlink(const char *what, const char *name)
{
	struct getlink req;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = RTM_GETLINK;
	req.h.nlmsg_flags = NLM_F_REQUEST;
	req.ifi.ifi_family = AF_UNSPEC;
	req.name_rta.rta_type = IFLA_IFNAME;
	req.name_rta.rta_len = RTA_LENGTH(sizeof(req.name));
	snprintf(req.name, sizeof(req.name), "%s", name);
	exchange(what, &req, 1, sizeof(req));
}

static void make_get(struct getqdisc *g, int ifindex)
{
	memset(g, 0, sizeof(*g));
	g->h.nlmsg_len = sizeof(*g);
	g->h.nlmsg_type = RTM_GETQDISC;
	g->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ECHO;
	g->tcm.tcm_family = AF_UNSPEC;
	g->tcm.tcm_ifindex = ifindex;
	g->tcm.tcm_parent = TC_H_ROOT;
}

static void make_change(struct change *c, int ifindex, uint32_t handle, int action)
{
	memset(c, 0, sizeof(*c));
	c->h.nlmsg_len = sizeof(*c);
	c->h.nlmsg_type = RTM_NEWQDISC;
	c->h.nlmsg_flags = NLM_F_REQUEST;
	c->tcm.tcm_family = AF_UNSPEC;
	c->tcm.tcm_ifindex = ifindex;
	c->tcm.tcm_handle = handle;
	c->tcm.tcm_parent = TC_H_ROOT;
	c->kind_rta.rta_type = TCA_KIND;
	c->kind_rta.rta_len = RTA_LENGTH(sizeof("plug"));
	memcpy(c->kind, "plug", sizeof("plug"));
	c->opt_rta.rta_type = TCA_OPTIONS;
	c->opt_rta.rta_len = RTA_LENGTH(sizeof(c->opt));
	c->opt.action = action;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int action;
	} steps[] = {
	        {"buffer", TCQ_PLUG_BUFFER},
	        {"release_one", TCQ_PLUG_RELEASE_ONE},
	        {"release_indefinite", TCQ_PLUG_RELEASE_INDEFINITE},
	};
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	struct getqdisc gets[MAX_IFS];
	struct change changes[MAX_IFS];
	int ifindex[MAX_IFS], one = 1;
	uint32_t handle[MAX_IFS];
	size_t n = (size_t)argc - 3;
	char what[64];

	if (argc < 4 || n > MAX_IFS) {
		fprintf(stderr, "usage: nl_capture OUTDIR PREFIX IFNAME... (at most %d)\n",
		        MAX_IFS);
		return 2;
	}
	outdir = argv[1];
	prefix = argv[2];
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0 || setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one)) ||
	    connect(fd, (struct sockaddr *)&kernel, sizeof(kernel)))
		die("netlink socket");
	for (size_t i = 0; i < n; i++) {
		ifindex[i] = (int)if_nametoindex(argv[3 + i]);
		if (!ifindex[i])
			die(argv[3 + i]);
		snprintf(what, sizeof(what), "getlink-%s", argv[3 + i]);
		getlink(what, argv[3 + i]);
		make_get(&gets[0], ifindex[i]);
		snprintf(what, sizeof(what), "getqdisc-%s", argv[3 + i]);
		handle[i] = exchange(what, gets, 1, sizeof(gets[0]));
	}
	getlink("getlink-missing", "ckfz-missing");
	for (size_t i = 0; i < n; i++)
		make_get(&gets[i], ifindex[i]);
	exchange("getqdisc-all", gets, n, sizeof(gets[0]));
	make_get(&gets[0], GONE);
	exchange("getqdisc-gone", gets, 1, sizeof(gets[0]));
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		for (size_t i = 0; i < n; i++)
			make_change(&changes[i], ifindex[i], handle[i], steps[s].action);
		snprintf(what, sizeof(what), "step-%s", steps[s].name);
		exchange(what, changes, n, sizeof(changes[0]));
	}
	make_change(&changes[0], GONE, 0, TCQ_PLUG_BUFFER);
	exchange("step-gone", changes, 1, sizeof(changes[0]));
	close(fd);
	return 0;
}
