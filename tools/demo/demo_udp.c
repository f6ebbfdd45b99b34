/*
 * demo-udp - numbered traffic for the demo, and its independent capture.
 *
 *   demo-udp send ADDR PORT INTERVAL_US   (in the guest)
 *   demo-udp recv ADDR PORT               (on the far side of the buffer)
 *
 * send: writes "# ready" and waits for SIGUSR1 (so that it can be
 * started ahead and set off at the right moment without a fork); then
 * sends one UDP datagram every INTERVAL_US microseconds (on an absolute
 * schedule, so a late wake-up does not stretch the stream) until SIGINT
 * or SIGTERM.  Each carries its sequence number (from 1) and its send
 * time; each is also written to standard output as "SEQ SEND_S" when
 * sendto returned, SEND_S read just before sendto.  The send buffer is
 * raised first: held datagrams stay charged to it while the plug holds
 * them.
 *
 * recv: bind ADDR:PORT and write "SEQ SEND_S ARRIVAL_S" for every
 * datagram that arrives, ARRIVAL_S read as soon as recvmsg returns (never
 * earlier than the datagram left the buffer), until SIGINT or SIGTERM;
 * then a last line "# drops N": datagrams the socket's queue refused
 * (SO_RXQ_OVFL), which would otherwise look lost.
 *
 * Times are CLOCK_MONOTONIC in seconds, the clock of ckptdev's --json
 * (its summary's start_monotonic_s): the guest, the capture and the driver
 * run on one kernel, so the three logs can be joined.  Nothing here uses
 * the library: the capture is a plain socket.
 *
 * Exit status: 0 after a signal; 1 when a socket call fails (the call is
 * named); 2 for a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* What a datagram carries; 32 bytes of payload in all (a 74-byte frame). */
struct dgram {
	uint64_t seq;
	uint64_t send_ns;
	uint8_t pad[16];
};

static volatile sig_atomic_t stopping, started;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		started = 1;
	else
		stopping = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int fail(const char *what)
{
	fprintf(stderr, "demo-udp: %s: %s\n", what, strerror(errno));
	return 1;
}

static int parse_addr(struct sockaddr_in *sa, const char *addr, const char *port)
{
	char *end;
	unsigned long p = strtoul(port, &end, 10);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)p);
	if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1) {
		fprintf(stderr, "demo-udp: \"%s\" is not an IPv4 address\n", addr);
		return -1;
	}
	if (!*port || *end || p == 0 || p > 65535) {
		fprintf(stderr, "demo-udp: port \"%s\" is not 1..65535\n", port);
		return -1;
	}
	return 0;
}

static int do_send(int fd, const struct sockaddr_in *to, unsigned long interval_us,
                   const sigset_t *unblocked)
{
	int sndbuf = 8 << 20;
	struct dgram d = {0};
	struct timespec next;
	uint64_t ns;

	/* FORCE passes rmem/wmem_max (we are root); the plain one is the
	 * fallback */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)) &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)))
		return fail("setsockopt SO_SNDBUF");
	printf("# ready\n");
	fflush(stdout);
	while (!started && !stopping)
		sigsuspend(unblocked); /* SIGUSR1 is blocked until here */
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stopping) {
		d.seq++;
		d.send_ns = ns = mono_ns();
		if (sendto(fd, &d, sizeof(d), 0, (const struct sockaddr *)to, sizeof(*to)) < 0) {
			if (errno == EINTR)
				break;
			return fail("sendto");
		}
		printf("%" PRIu64 " %" PRIu64 ".%09" PRIu64 "\n", d.seq, ns / 1000000000u,
		       ns % 1000000000u);
		next.tv_nsec += (long)(interval_us * 1000);
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		while (!stopping &&
		       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}
	return 0;
}

static int do_recv(int fd, const struct sockaddr_in *at)
{
	int rcvbuf = 8 << 20, on = 1;
	struct timeval tick = {.tv_usec = 100000};
	uint32_t drops = 0;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)))
		return fail("setsockopt SO_RCVBUF");
	if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof(on)))
		return fail("setsockopt SO_RXQ_OVFL");
	/* a signal between the check of stopping and recvmsg waits at most this */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof(tick)))
		return fail("setsockopt SO_RCVTIMEO");
	if (bind(fd, (const struct sockaddr *)at, sizeof(*at)))
		return fail("bind");
	printf("# listening\n");
	fflush(stdout);
	while (!stopping) {
		struct dgram d;
		char cbuf[CMSG_SPACE(sizeof(uint32_t))];
		struct iovec iov = {.iov_base = &d, .iov_len = sizeof(d)};
		struct msghdr mh = {.msg_iov = &iov,
		                    .msg_iovlen = 1,
		                    .msg_control = cbuf,
		                    .msg_controllen = sizeof(cbuf)};
		ssize_t n = recvmsg(fd, &mh, 0);
		uint64_t ns = mono_ns();

		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return fail("recvmsg");
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL)
				memcpy(&drops, CMSG_DATA(c), sizeof(drops));
		if (n != (ssize_t)sizeof(d))
			continue; /* not one of ours */
		printf("%" PRIu64 " %" PRIu64 ".%09" PRIu64 " %" PRIu64 ".%09" PRIu64 "\n", d.seq,
		       d.send_ns / 1000000000u, d.send_ns % 1000000000u, ns / 1000000000u,
		       ns % 1000000000u);
	}
	printf("# drops %" PRIu32 "\n", drops);
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: demo-udp send ADDR PORT INTERVAL_US\n"
	                "       demo-udp recv ADDR PORT\n");
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: EINTR ends a wait */
	sigset_t usr1, unblocked;
	struct sockaddr_in addr;
	unsigned long interval_us = 0;
	bool send;
	int fd, rc;

	if (argc < 4 || (strcmp(argv[1], "send") && strcmp(argv[1], "recv"))) {
		usage();
		return 2;
	}
	send = !strcmp(argv[1], "send");
	if (argc != (send ? 5 : 4)) {
		usage();
		return 2;
	}
	if (parse_addr(&addr, argv[2], argv[3]))
		return 2;
	if (send) {
		char *end;
		interval_us = strtoul(argv[4], &end, 10);
		if (!*argv[4] || *end || interval_us == 0 || interval_us > 1000000) {
			fprintf(stderr, "demo-udp: interval \"%s\" is not 1..1000000 us\n",
			        argv[4]);
			return 2;
		}
	}
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, &unblocked);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail("socket");
	rc = send ? do_send(fd, &addr, interval_us, &unblocked) : do_recv(fd, &addr);
	close(fd);
	fflush(stdout);
	return rc;
}
