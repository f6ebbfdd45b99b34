/*
 * guest_sender - the traffic of the run-in-xen test guest.
 *
 *   guest_sender ADDR PORT INTERVAL_MS
 *
 * Sends UDP datagrams to ADDR:PORT for ever, one every INTERVAL_MS
 * milliseconds (after a pause of the guest it goes on at that pace rather
 * than catching up). Each datagram is 64 bytes and starts with its number
 * (32 bits, network byte order), counting from 1, so a receiver can tell
 * order, loss and gaps. Send errors (no route yet, full queue) are counted
 * and reported once a second on stderr; the datagram's number is used up
 * all the same.
 *
 * Built static by run-in-xen and run as the guest's last process.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define PAYLOAD 64

static void advance(struct timespec *t, long ms)
{
	t->tv_nsec += (ms % 1000) * 1000000L;
	t->tv_sec += ms / 1000 + t->tv_nsec / 1000000000L;
	t->tv_nsec %= 1000000000L;
}

int main(int argc, char **argv)
{
	struct sockaddr_in to = {.sin_family = AF_INET};
	unsigned char buf[PAYLOAD] = {0};
	struct timespec next, now, report;
	unsigned long errors = 0;
	int last_error = 0;
	uint32_t seq = 1;
	long interval;
	int fd;

	if (argc != 4 || inet_pton(AF_INET, argv[1], &to.sin_addr) != 1) {
		fprintf(stderr, "usage: guest_sender ADDR PORT INTERVAL_MS\n");
		return 2;
	}
	to.sin_port = htons((uint16_t)atoi(argv[2]));
	interval = atol(argv[3]);
	if (interval <= 0)
		interval = 100;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &next);
	report = next;
	for (;;) {
		uint32_t n = htonl(seq++);

		memcpy(buf, &n, sizeof(n));
		if (sendto(fd, buf, sizeof(buf), 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
			errors++;
			last_error = errno;
		}
		advance(&next, interval);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec + 1)
			next = now;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
		if (errors && next.tv_sec > report.tv_sec) {
			fprintf(stderr, "guest_sender: %lu send errors, last: %s\n", errors,
			        strerror(last_error));
			report = next;
			errors = 0;
		}
	}
}
