/*
 * plug_bench.c - a Remus output buffer on a test bench (see plug_bench.h).
 */
#include "plug_bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/plug.h>
#include <netlink/route/tc.h>

#define VIF        "vif1.0"
#define VIF_MAC    "02:00:0a:4d:00:01"
#define VIF_ADDR   "10.77.0.1"
#define GUEST_DEV  "eth0"
#define GUEST_MAC  "02:00:0a:4d:00:02"
#define GUEST_ADDR "10.77.0.2"
#define IFB        "nbifb0"
#define UDP_PORT   7777
#define PAYLOAD    64

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * run: run argv (NULL-terminated) in network namespace netns and wait for
 * it. Returns 0 when it exited with 0, else -1 (after saying why).
 */
static int run(int netns, const char *const argv[])
{
	pid_t pid;
	int status;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		if (setns(netns, CLONE_NEWNET) < 0) {
			perror("setns");
			_exit(127);
		}
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0) {
		perror("waitpid");
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	fprintf(stderr, "# failed:");
	for (int i = 0; argv[i]; i++)
		fprintf(stderr, " %s", argv[i]);
	fprintf(stderr, " (status 0x%x)\n", status);
	return -1;
}

#define RUN(ns, ...) run((ns), (const char *const[]){__VA_ARGS__, NULL})

/* no_ipv6: keep IPv6 off the current namespace's new interfaces: no
 * router or neighbour solicitations mixed with the datagrams. */
static void no_ipv6(void)
{
	static const char *const paths[] = {
	        "/proc/sys/net/ipv6/conf/all/disable_ipv6",
	        "/proc/sys/net/ipv6/conf/default/disable_ipv6",
	};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int fd = open(paths[i], O_WRONLY);

		if (fd < 0)
			continue;
		if (write(fd, "1", 1) != 1)
			perror(paths[i]);
		close(fd);
	}
}

/* new_netns: move the process into a new network namespace; returns an fd
 * for it, -1 on failure, or -2 when this process may not. */
static int new_netns(void)
{
	int fd;

	if (unshare(CLONE_NEWNET) < 0) {
		if (errno == EPERM)
			return -2;
		perror("unshare");
		return -1;
	}
	fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		perror("/proc/self/ns/net");
	no_ipv6();
	return fd;
}

/* udp_socket: a non-blocking UDP socket made in namespace netns; the
 * process goes back to the host namespace afterwards. */
static int udp_socket(struct bench *b, int netns)
{
	int fd;

	if (setns(netns, CLONE_NEWNET) < 0) {
		perror("setns");
		return -1;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		perror("socket");
	if (setns(b->ns_host, CLONE_NEWNET) < 0) {
		perror("setns");
		return -1;
	}
	return fd;
}

/* plug_create: the root plug qdisc on the IFB; its limit can only be set
 * in the request that creates it or by a later change. */
static int plug_create(struct bench *b)
{
	int err;

	b->nl = nl_socket_alloc();
	b->plug = rtnl_qdisc_alloc();
	if (!b->nl || !b->plug)
		return -1;
	err = nl_connect(b->nl, NETLINK_ROUTE);
	if (err < 0) {
		fprintf(stderr, "nl_connect: %s\n", nl_geterror(err));
		return -1;
	}
	rtnl_tc_set_ifindex(TC_CAST(b->plug), b->ifb_index);
	rtnl_tc_set_parent(TC_CAST(b->plug), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(b->plug), TC_HANDLE(1, 0));
	err = rtnl_tc_set_kind(TC_CAST(b->plug), "plug");
	if (err == 0)
		err = rtnl_qdisc_plug_set_limit(b->plug, BENCH_PLUG_LIMIT);
	if (err == 0)
		err = rtnl_qdisc_add(b->nl, b->plug, NLM_F_CREATE | NLM_F_EXCL);
	if (err == -NLE_OBJ_NOTFOUND || err == -NLE_OPNOTSUPP) {
		b->skip = "this kernel has no plug qdisc (CONFIG_NET_SCH_PLUG, "
		          "modprobe sch_plug)";
		return BENCH_SKIP;
	}
	if (err < 0) {
		fprintf(stderr, "creating the plug qdisc: %s\n", nl_geterror(err));
		return -1;
	}
	return 0;
}

static int make_links(struct bench *b)
{
	char guest_ns[64];

	snprintf(guest_ns, sizeof(guest_ns), "/proc/%d/fd/%d", (int)getpid(), b->ns_guest);
	if (RUN(b->ns_host, "ip", "link", "add", VIF, "address", VIF_MAC, "type", "veth", "peer",
	        "name", GUEST_DEV, "address", GUEST_MAC, "netns", guest_ns) ||
	    RUN(b->ns_host, "ip", "addr", "add", VIF_ADDR "/24", "dev", VIF) ||
	    RUN(b->ns_host, "ip", "link", "set", VIF, "up") ||
	    RUN(b->ns_host, "tc", "qdisc", "add", "dev", VIF, "ingress") ||
	    RUN(b->ns_host, "tc", "filter", "add", "dev", VIF, "parent", "ffff:", "matchall",
	        "action", "mirred", "egress", "redirect", "dev", IFB))
		return -1;

	/* The guest knows the vif's MAC, so it never sends ARP (which the
	 * plug would hold like any other packet). */
	if (RUN(b->ns_guest, "ip", "addr", "add", GUEST_ADDR "/24", "dev", GUEST_DEV) ||
	    RUN(b->ns_guest, "ip", "link", "set", GUEST_DEV, "up") ||
	    RUN(b->ns_guest, "ip", "neigh", "add", VIF_ADDR, "lladdr", VIF_MAC, "dev", GUEST_DEV,
	        "nud", "permanent"))
		return -1;
	return 0;
}

static int open_sockets(struct bench *b)
{
	struct sockaddr_in sa = {
	        .sin_family = AF_INET,
	        .sin_port = htons(UDP_PORT),
	};

	inet_pton(AF_INET, VIF_ADDR, &sa.sin_addr);
	b->rx = udp_socket(b, b->ns_host);
	b->tx = udp_socket(b, b->ns_guest);
	if (b->rx < 0 || b->tx < 0)
		return -1;
	if (bind(b->rx, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    connect(b->tx, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("bind/connect");
		return -1;
	}
	return 0;
}

void bench_init(struct bench *b)
{
	memset(b, 0, sizeof(*b));
	b->ns_host = b->ns_guest = b->tx = b->rx = -1;
	b->next_seq = 1;
}

int bench_setup(struct bench *b)
{
	int rc;

	b->ns_host = new_netns();
	if (b->ns_host >= 0)
		b->ns_guest = new_netns();
	if (b->ns_host == -2 || b->ns_guest == -2) {
		b->skip = "making network namespaces needs root (CAP_SYS_ADMIN)";
		return BENCH_SKIP;
	}
	if (b->ns_host < 0 || b->ns_guest < 0 || setns(b->ns_host, CLONE_NEWNET) < 0)
		return -1;

	/* The IFB and its plug first: without a plug qdisc, skip. */
	if (RUN(b->ns_host, "ip", "link", "add", IFB, "type", "ifb") ||
	    RUN(b->ns_host, "ip", "link", "set", IFB, "up"))
		return -1;
	b->ifb_index = (int)if_nametoindex(IFB);
	if (!b->ifb_index)
		return -1;
	rc = plug_create(b);
	if (rc)
		return rc;
	if (make_links(b) || open_sockets(b))
		return -1;
	return 0;
}

void bench_dispose(struct bench *b)
{
	if (b->rx >= 0)
		close(b->rx);
	if (b->tx >= 0)
		close(b->tx);
	if (b->plug)
		rtnl_qdisc_put(b->plug);
	if (b->nl)
		nl_socket_free(b->nl);
	if (b->ns_host >= 0 && setns(b->ns_host, CLONE_NEWNET) == 0) {
		if (if_nametoindex(VIF))
			RUN(b->ns_host, "ip", "link", "del", VIF);
		if (if_nametoindex(IFB))
			RUN(b->ns_host, "ip", "link", "del", IFB);
	}
	if (b->ns_host >= 0)
		close(b->ns_host);
	if (b->ns_guest >= 0)
		close(b->ns_guest);
	bench_init(b);
}

/* The plug operations set the action on the qdisc object, then send it as
 * a change of the existing qdisc. */
int bench_plug(struct bench *b, enum plug_op op)
{
	int err;

	switch (op) {
	case PLUG_BUFFER:
		err = rtnl_qdisc_plug_buffer(b->plug);
		break;
	case PLUG_RELEASE_ONE:
		err = rtnl_qdisc_plug_release_one(b->plug);
		break;
	default:
		err = rtnl_qdisc_plug_release_indefinite(b->plug);
		break;
	}
	if (err == 0)
		err = rtnl_qdisc_add(b->nl, b->plug, NLM_F_REPLACE);
	if (err < 0)
		fprintf(stderr, "# plug operation %d: %s\n", op, nl_geterror(err));
	return err;
}

int bench_limit(struct bench *b, int bytes)
{
	int err = rtnl_qdisc_plug_set_limit(b->plug, bytes);

	if (err == 0)
		err = rtnl_qdisc_add(b->nl, b->plug, NLM_F_REPLACE);
	if (err < 0)
		fprintf(stderr, "# plug limit %d: %s\n", bytes, nl_geterror(err));
	return err;
}

int bench_stats(struct bench *b, struct plug_stats *st)
{
	struct nl_cache *cache;
	struct rtnl_qdisc *q;
	int err;

	err = rtnl_qdisc_alloc_cache(b->nl, &cache);
	if (err < 0) {
		fprintf(stderr, "# qdisc dump: %s\n", nl_geterror(err));
		return err;
	}
	q = rtnl_qdisc_get(cache, b->ifb_index, TC_HANDLE(1, 0));
	if (q) {
		st->qlen = rtnl_tc_get_stat(TC_CAST(q), RTNL_TC_QLEN);
		st->packets = rtnl_tc_get_stat(TC_CAST(q), RTNL_TC_PACKETS);
		st->drops = rtnl_tc_get_stat(TC_CAST(q), RTNL_TC_DROPS);
		rtnl_qdisc_put(q);
	}
	nl_cache_free(cache);
	if (!q)
		fprintf(stderr, "# the plug qdisc is gone\n");
	return q ? 0 : -NLE_OBJ_NOTFOUND;
}

uint64_t bench_wait_qlen(struct bench *b, uint64_t want, int ms)
{
	struct plug_stats st = {0};
	struct timespec tick = {0, 10 * 1000000L};
	long long end = now_ms() + ms;

	while (bench_stats(b, &st) == 0 && st.qlen != want && now_ms() < end)
		nanosleep(&tick, NULL);
	return st.qlen;
}

int bench_send(struct bench *b, int n)
{
	unsigned char buf[PAYLOAD] = {0};

	for (int i = 0; i < n; i++) {
		uint32_t seq = htonl(b->next_seq);

		memcpy(buf, &seq, sizeof(seq));
		if (send(b->tx, buf, sizeof(buf), 0) != sizeof(buf)) {
			perror("# send");
			return -1;
		}
		b->next_seq++;
	}
	return 0;
}

int bench_receive(struct bench *b, int want, int ms)
{
	struct pollfd pfd = {.fd = b->rx, .events = POLLIN};
	long long end = now_ms() + ms;
	int before = b->ngot;

	for (;;) {
		unsigned char buf[PAYLOAD];
		uint32_t seq;
		long long left;

		while (recv(b->rx, buf, sizeof(buf), 0) == sizeof(buf)) {
			memcpy(&seq, buf, sizeof(seq));
			if (b->ngot < BENCH_MAX_SEQ)
				b->got[b->ngot++] = ntohl(seq);
		}
		left = end - now_ms();
		if ((want && b->ngot - before >= want) || left <= 0)
			break;
		poll(&pfd, 1, (int)left);
	}
	return b->ngot - before;
}

bool bench_in_order(const struct bench *b, int from, uint32_t first, uint32_t last)
{
	if (b->ngot - from != (int)(last - first + 1))
		return false;
	for (uint32_t n = first; n <= last; n++)
		if (b->got[from + (int)(n - first)] != n)
			return false;
	return true;
}
