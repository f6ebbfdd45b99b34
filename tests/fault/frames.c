/*
 * frames.c - numbered frames through the vif (see frames.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "frames.h"

#define ETHERTYPE 0x88b5 /* ETH_P_802_EX1 */
static const char magic[8] = "ckptflt";

struct frame {
	unsigned char dst[ETH_ALEN], src[ETH_ALEN];
	uint16_t type;
	char magic[8];
	uint32_t seq;
	unsigned char pad[64 - 2 * ETH_ALEN - 2 - 8 - 4];
} __attribute__((packed));

static int packet_socket(const char *ifname, uint16_t proto, int *ifindex)
{
	struct sockaddr_ll at = {.sll_family = AF_PACKET, .sll_protocol = htons(proto)};
	int fd;

	*ifindex = (int)if_nametoindex(ifname);
	if (!*ifindex) {
		fprintf(stderr, "ckpt-fault: frames: no interface %s\n", ifname);
		return -1;
	}
	at.sll_ifindex = *ifindex;
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(proto));
	if (fd < 0 || bind(fd, (struct sockaddr *)&at, sizeof(at))) {
		fprintf(stderr, "ckpt-fault: frames: packet socket on %s: %s\n", ifname,
		        strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

bool frames_open(struct frames *f, const char *from, const char *to)
{
	int ifindex;

	memset(f, 0, sizeof(*f));
	/* protocol 0: the sending socket receives nothing */
	f->tx = packet_socket(from, 0, &ifindex);
	f->rx = f->tx < 0 ? -1 : packet_socket(to, ETHERTYPE, &ifindex);
	if (f->rx < 0) {
		frames_close(f);
		return false;
	}
	return true;
}

void frames_close(struct frames *f)
{
	if (f->tx >= 0)
		close(f->tx);
	if (f->rx >= 0)
		close(f->rx);
	f->tx = f->rx = -1;
}

void frames_send(struct frames *f, unsigned n)
{
	for (unsigned i = 0; i < n && f->sent < FRAMES_MAX; i++) {
		struct frame fr = {.dst = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		                   .src = {0x02, 0, 0, 0, 0, 0x09},
		                   .type = htons(ETHERTYPE),
		                   .seq = htonl(f->sent)};

		memcpy(fr.magic, magic, sizeof(magic));
		if (send(f->tx, &fr, sizeof(fr), 0) != (ssize_t)sizeof(fr))
			fprintf(stderr, "ckpt-fault: frames: send: %s\n", strerror(errno));
		else
			f->sent++;
	}
}

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

unsigned frames_collect(struct frames *f, int ms)
{
	long long end = ms_now() + ms;

	while (f->seen < f->sent) {
		struct pollfd p = {f->rx, POLLIN, 0};
		struct frame fr;
		long long left = end - ms_now();
		ssize_t n;
		uint32_t seq;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		while ((n = recv(f->rx, &fr, sizeof(fr), 0)) >= 0) {
			if (n < (ssize_t)offsetof(struct frame, pad) ||
			    memcmp(fr.magic, magic, sizeof(magic)))
				continue; /* someone else's */
			seq = ntohl(fr.seq);
			if (seq >= FRAMES_MAX)
				continue;
			if (f->count[seq]++) {
				f->dup++;
				continue;
			}
			if (f->seen && seq < f->last)
				f->out_of_order++;
			f->last = seq;
			f->seen++;
		}
	}
	return f->seen;
}

const char *frames_describe(const struct frames *f, char *buf, size_t len)
{
	snprintf(buf, len, "%u sent, %u delivered, %u twice, %u out of order", f->sent, f->seen,
	         f->dup, f->out_of_order);
	return buf;
}

bool frames_all_delivered(const struct frames *f)
{
	return f->seen == f->sent && !f->dup && !f->out_of_order;
}
