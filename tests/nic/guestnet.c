/*
 * guestnet.c - the pretend guest's network (see guestnet.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../harness/test.h"
#include "guestnet.h"

#define VIF_ADDR   "10.78.0.1"
#define GUEST_ADDR "10.78.0.2"
#define VIF_MAC    "02:00:0a:4e:00:01"
#define PORT       7788

int guestnet_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(NULL);
	r = system(cmd);
	return r < 0 ? -1 : WEXITSTATUS(r);
}

const char *guestnet_sh_out(char *buf, size_t len, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	buf[0] = '\0';
	p = popen(cmd, "r");
	if (!p)
		return buf;
	if (!fgets(buf, (int)len, p))
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	pclose(p);
	return buf;
}

/* A new network namespace for the process; an fd that keeps it. */
static int new_ns(void)
{
	if (unshare(CLONE_NEWNET))
		SKIP("cannot make a network namespace (%s): needs root", strerror(errno));
	return open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
}

static void enter(int ns)
{
	if (setns(ns, CLONE_NEWNET))
		FAIL("setns: %s", strerror(errno));
}

static void write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (write(fd, value, strlen(value)) < 0)
			perror(path);
		close(fd);
	}
}

static int udp_socket(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (s < 0)
		FAIL("socket: %s", strerror(errno));
	return s;
}

/* Both namespaces, IPv6 off in each; the process is left in the host one. */
static void new_pair(int *ns_host, int *ns_guest)
{
	*ns_host = new_ns();
	*ns_guest = new_ns();
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	enter(*ns_host);
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
}

void guestnet_setup(struct guestnet *g)
{
	struct sockaddr_in vif = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	char guest_path[64];
	int guest_fd;

	memset(g, 0, sizeof(*g));
	new_pair(&g->ns_host, &g->ns_guest);

	/* the guest end goes to the guest namespace, named by an fd ip(8)
	 * inherits (not close-on-exec) */
	guest_fd = dup(g->ns_guest);
	snprintf(guest_path, sizeof(guest_path), "/proc/%d/fd/%d", (int)getpid(), guest_fd);
	if (guestnet_sh("ip link set lo up && ip link add " GUESTNET_VIF " address " VIF_MAC
	                " type veth peer name eth0 netns %s",
	                guest_path)) {
		close(guest_fd);
		SKIP("cannot make a veth pair here");
	}
	close(guest_fd);
	if (guestnet_sh("ip addr add " VIF_ADDR "/24 dev " GUESTNET_VIF
	                " && ip link set " GUESTNET_VIF " up"))
		FAIL("cannot configure " GUESTNET_VIF);
	enter(g->ns_guest);
	if (guestnet_sh("ip link set lo up && ip addr add " GUEST_ADDR "/24 dev eth0 && "
	                "ip link set eth0 up && "
	                "ip neigh add " VIF_ADDR " lladdr " VIF_MAC " dev eth0 nud permanent"))
		FAIL("cannot configure the guest's eth0");
	g->tx = udp_socket();
	inet_pton(AF_INET, VIF_ADDR, &vif.sin_addr);
	if (connect(g->tx, (struct sockaddr *)&vif, sizeof(vif)))
		FAIL("connect: %s", strerror(errno));
	enter(g->ns_host);
	g->rx = udp_socket();
	if (bind(g->rx, (struct sockaddr *)&vif, sizeof(vif)))
		FAIL("bind: %s", strerror(errno));
}

void guestnet_dispose(struct guestnet *g)
{
	close(g->tx);
	close(g->rx);
	close(g->ns_guest);
	close(g->ns_host);
}

void guestnet_send(struct guestnet *g, int n)
{
	for (int i = 0; i < n; i++) {
		uint32_t seq = htonl(++g->next_seq);
		char payload[64] = {0};

		memcpy(payload, &seq, sizeof(seq));
		if (send(g->tx, payload, sizeof(payload), 0) != (ssize_t)sizeof(payload))
			FAIL("guest send %u: %s", g->next_seq, strerror(errno));
	}
}

int guestnet_receive(struct guestnet *g, int want, int ms)
{
	long long deadline = test_now_ms() + ms;
	int n = 0;

	for (;;) {
		struct pollfd p = {.fd = g->rx, .events = POLLIN};
		long long left = deadline - test_now_ms();
		char buf[128];
		uint32_t seq;

		while (recv(g->rx, buf, sizeof(buf), 0) >= (ssize_t)sizeof(seq)) {
			memcpy(&seq, buf, sizeof(seq));
			if (g->ngot < GUESTNET_MAX)
				g->got[g->ngot++] = ntohl(seq);
			n++;
		}
		if ((want && n >= want) || left <= 0)
			return n;
		poll(&p, 1, (int)left);
	}
}

void guestnics_setup(struct guestnics *g, int n)
{
	char guest_path[64];
	int guest_fd;

	if (n > GUESTNICS_MAX)
		FAIL("guestnics_setup: at most %d NICs", GUESTNICS_MAX);
	memset(g, 0, sizeof(*g));
	g->n = n;
	new_pair(&g->ns_host, &g->ns_guest);
	guest_fd = dup(g->ns_guest);
	snprintf(guest_path, sizeof(guest_path), "/proc/%d/fd/%d", (int)getpid(), guest_fd);
	for (int i = 0; i < n; i++) {
		if (guestnet_sh("ip link add vif9.%d address 02:00:0a:4f:%02x:01 type veth "
		                "peer name eth%d netns %s && ip link set vif9.%d up",
		                i, i, i, guest_path, i)) {
			close(guest_fd);
			SKIP("cannot make a veth pair here");
		}
	}
	close(guest_fd);
	enter(g->ns_guest);
	for (int i = 0; i < n; i++)
		if (guestnet_sh("ip addr add 10.79.%d.2/24 dev eth%d && ip link set eth%d up && "
		                "ip neigh add 10.79.%d.1 lladdr 02:00:0a:4f:%02x:01 dev eth%d "
		                "nud permanent",
		                i, i, i, i, i, i))
			FAIL("cannot configure the guest's eth%d", i);
	g->tx = udp_socket();
	enter(g->ns_host);
	guestnet_sh("ip link set lo up");
}

void guestnics_dispose(struct guestnics *g)
{
	close(g->tx);
	close(g->ns_guest);
	close(g->ns_host);
}

void guestnics_send(struct guestnics *g, int i, int count)
{
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(PORT)};
	char addr[32], payload[64] = {0};

	snprintf(addr, sizeof(addr), "10.79.%d.1", i);
	inet_pton(AF_INET, addr, &to.sin_addr);
	for (int k = 0; k < count; k++) {
		if (sendto(g->tx, payload, sizeof(payload), 0, (struct sockaddr *)&to,
		           sizeof(to)) != (ssize_t)sizeof(payload))
			FAIL("guest send through eth%d: %s", i, strerror(errno));
		g->sent[i]++;
	}
}

int guestnet_send_frame(int pkt, int ifindex)
{
	struct sockaddr_ll to = {.sll_family = AF_PACKET,
	                         .sll_protocol = htons(ETH_P_802_EX1),
	                         .sll_ifindex = ifindex,
	                         .sll_halen = ETH_ALEN};
	unsigned char frame[GUESTNET_FRAME_BYTES] = {0xff,
	                                             0xff,
	                                             0xff,
	                                             0xff,
	                                             0xff,
	                                             0xff, /* to everyone */
	                                             0x02,
	                                             0,
	                                             0,
	                                             0,
	                                             0,
	                                             1, /* from a local address */
	                                             ETH_P_802_EX1 >> 8,
	                                             ETH_P_802_EX1 & 0xff}; /* local experimental */

	if (sendto(pkt, frame, sizeof(frame), 0, (struct sockaddr *)&to, sizeof(to)) ==
	    (ssize_t)sizeof(frame))
		return 0;
	if (errno != ENOBUFS)
		FAIL("sendto ifindex %d: %s", ifindex, strerror(errno));
	return errno;
}
