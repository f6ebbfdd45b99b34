/*
 * xen_smoke - the run-in-xen machine works: the test guest's datagrams
 * reach dom0 through its vif, in order, and pausing the guest with xl
 * stops them until it is unpaused.
 *
 * Run in dom0 by tests/xen/run-in-xen, which sets CKPT_XEN_DOMID,
 * CKPT_XEN_VIF, CKPT_XEN_DOM0_ADDR and CKPT_XEN_PORT (see tests/xen/dom0.sh).
 * The guest sends a numbered 64-byte UDP datagram every 100 ms of its own
 * time (tests/xen/guest_sender.c).
 *
 * Datagrams are counted on the vif itself with a packet socket of all
 * protocols (a socket for IPv4 only would be served after the bridge took
 * the packet, and see nothing), so the test sees exactly what the guest
 * put on its virtual NIC; a UDP socket on
 * dom0's address also takes them, which checks they are delivered (and
 * keeps dom0 from answering with ICMP errors).
 *
 * Output is TAP, ending with "N passed, N failed". Exit status: 0 when all
 * passed, 1 when some failed, 4 (with "skipped: <reason>") outside
 * run-in-xen.
 */
#include "../vm/tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FIRST_WAIT_MS  120000 /* the guest may still be booting */
#define FIRST_COUNT    10
#define QUIET_MS       1500  /* after xl pause: settled once this quiet */
#define SETTLE_MS      10000 /* ... and it must settle within this */
#define PAUSED_MS      5000  /* watched for silence while paused */
#define RESUME_WAIT_MS 60000
#define RESUME_COUNT   5
#define MAX_SEQ        4096

struct watch {
	int pkt; /* packet socket on the vif */
	int udp; /* UDP socket on dom0's address */
	uint16_t port;
	uint32_t seq[MAX_SEQ]; /* numbers seen on the vif, in order */
	int nseq;
	int delivered; /* datagrams the UDP socket received */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static const char *need_env(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v) {
		fprintf(stderr, "%s is not set\n", name);
		tap_skip("needs the machine of tests/xen/run-in-xen");
	}
	return v;
}

/* xl: run "xl VERB DOMID" and wait; 0 when it succeeded. */
static int xl(const char *verb, const char *domid)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execlp("xl", "xl", verb, domid, (char *)NULL);
		fprintf(stderr, "exec xl: %s\n", strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int open_sockets(struct watch *w, const char *vif, const char *addr)
{
	struct sockaddr_ll ll = {
	        .sll_family = AF_PACKET,
	        .sll_protocol = htons(ETH_P_ALL),
	        .sll_ifindex = (int)if_nametoindex(vif),
	};
	struct sockaddr_in in = {
	        .sin_family = AF_INET,
	        .sin_port = htons(w->port),
	};

	if (!ll.sll_ifindex || inet_pton(AF_INET, addr, &in.sin_addr) != 1)
		return -1;
	w->pkt = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK, htons(ETH_P_ALL));
	w->udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	if (w->pkt < 0 || w->udp < 0) {
		perror("socket");
		return -1;
	}
	if (bind(w->pkt, (struct sockaddr *)&ll, sizeof(ll)) < 0 ||
	    bind(w->udp, (struct sockaddr *)&in, sizeof(in)) < 0) {
		perror("bind");
		return -1;
	}
	return 0;
}

/* take_packet: if buf (an IPv4 packet the guest sent) is one of its
 * datagrams, record its number. */
static void take_packet(struct watch *w, const unsigned char *buf, ssize_t n)
{
	const struct iphdr *ip = (const void *)buf;
	const struct udphdr *udp;
	size_t hl;
	uint32_t seq;

	if (n < (ssize_t)sizeof(*ip) || ip->version != 4 || ip->protocol != IPPROTO_UDP)
		return;
	hl = ip->ihl * 4u;
	if ((size_t)n < hl + sizeof(*udp) + sizeof(seq))
		return;
	udp = (const void *)(buf + hl);
	if (ntohs(udp->dest) != w->port)
		return;
	memcpy(&seq, buf + hl + sizeof(*udp), sizeof(seq));
	if (w->nseq < MAX_SEQ)
		w->seq[w->nseq++] = ntohl(seq);
}

static void drain(struct watch *w)
{
	unsigned char buf[2048];
	struct sockaddr_ll from;
	socklen_t len = sizeof(from);
	ssize_t n;

	while ((n = recvfrom(w->pkt, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len)) >= 0) {
		if (from.sll_pkttype != PACKET_OUTGOING && from.sll_protocol == htons(ETH_P_IP))
			take_packet(w, buf, n);
		len = sizeof(from);
	}
	while (recv(w->udp, buf, sizeof(buf), 0) >= 0)
		w->delivered++;
}

/* watch_for: record datagrams until want more have come through the vif,
 * or ms milliseconds have passed (want 0: watch the whole time). Returns
 * how many came. */
static int watch_for(struct watch *w, int want, int ms)
{
	struct pollfd pfd[2] = {
	        {.fd = w->pkt, .events = POLLIN},
	        {.fd = w->udp, .events = POLLIN},
	};
	long long end = now_ms() + ms;
	int before = w->nseq;

	for (;;) {
		long long left;

		drain(w);
		left = end - now_ms();
		if ((want && w->nseq - before >= want) || left <= 0)
			break;
		poll(pfd, 2, (int)left);
	}
	return w->nseq - before;
}

/* settle: let what was on its way when the guest stopped arrive: wait
 * until QUIET_MS pass without a datagram, for at most SETTLE_MS. A guest
 * that goes on sending never settles, and the check after this fails. */
static void settle(struct watch *w)
{
	long long end = now_ms() + SETTLE_MS;

	while (now_ms() < end && watch_for(w, 1, QUIET_MS) > 0)
		;
}

/* increasing: are the numbers from index from on strictly increasing (and
 * above the one before from, if any)? Sets *bad to the first offender. */
static bool increasing(const struct watch *w, int from, int *bad)
{
	for (int i = from > 0 ? from : 1; i < w->nseq; i++)
		if (w->seq[i] <= w->seq[i - 1]) {
			*bad = i;
			return false;
		}
	return true;
}

int main(void)
{
	struct watch w = {.pkt = -1, .udp = -1};
	const char *domid, *vif, *addr;
	char path[128];
	struct stat st;
	int n, mark, bad = 0;
	uint32_t last;

	setvbuf(stdout, NULL, _IOLBF, 0);
	domid = need_env("CKPT_XEN_DOMID");
	vif = need_env("CKPT_XEN_VIF");
	addr = need_env("CKPT_XEN_DOM0_ADDR");
	w.port = (uint16_t)atoi(need_env("CKPT_XEN_PORT"));

	snprintf(path, sizeof(path), "/sys/class/net/%s/brport", vif);
	if (!tap_ok(open_sockets(&w, vif, addr) == 0 && stat(path, &st) == 0,
	            "the guest's vif exists in dom0 and is a bridge port", "vif %s, %s: %s", vif,
	            path, strerror(errno)))
		return tap_finish();

	n = watch_for(&w, FIRST_COUNT, FIRST_WAIT_MS);
	tap_ok(n >= FIRST_COUNT, "the guest's datagrams come through its vif",
	       "expected %d within %d s, got %d", FIRST_COUNT, FIRST_WAIT_MS / 1000, n);
	tap_ok(w.nseq > 0 && increasing(&w, 0, &bad), "they come in order",
	       "datagram %u came after %u", bad ? w.seq[bad] : 0, bad ? w.seq[bad - 1] : 0);
	tap_ok(w.delivered > 0, "dom0's UDP socket receives them", "expected some, got %d",
	       w.delivered);

	tap_ok(xl("pause", domid) == 0, "xl pause succeeds", "xl pause %s failed", domid);
	settle(&w);
	last = w.nseq ? w.seq[w.nseq - 1] : 0;
	n = watch_for(&w, 0, PAUSED_MS);
	tap_ok(n == 0, "no datagram comes while the guest is paused",
	       "expected 0 in %d s (once quiet for %d ms), got %d", PAUSED_MS / 1000, QUIET_MS, n);

	tap_ok(xl("unpause", domid) == 0, "xl unpause succeeds", "xl unpause %s failed", domid);
	mark = w.nseq;
	n = watch_for(&w, RESUME_COUNT, RESUME_WAIT_MS);
	tap_ok(n >= RESUME_COUNT, "datagrams come again after unpause",
	       "expected %d within %d s, got %d", RESUME_COUNT, RESUME_WAIT_MS / 1000, n);
	tap_ok(n > 0 && w.seq[mark] > last && increasing(&w, mark, &bad),
	       "their numbering goes on from before the pause, in order",
	       "last before the pause %u, first after %u", last, n > 0 ? w.seq[mark] : 0);
	return tap_finish();
}
