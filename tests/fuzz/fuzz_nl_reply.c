/*
 * fuzz_nl_reply - the kernel's netlink answers, as src/netbuf reads them
 * (nb_parse.c): the walk over a received datagram, the answers to a batch
 * of gets (attach, the counters) and the acks of a checkpoint step.
 *
 * Input (what tests/fuzz/nl_capture writes from the kernel's replies):
 *   byte 0       k - 1: the batch had k requests (1..256)
 *   bytes 1..4   the first request's sequence number (little endian)
 *   then         datagrams as recv() gave them, each a 2-byte little-
 *                endian length and that many bytes
 * Each datagram is copied into a buffer of exactly its length, so that a
 * read past what the kernel sent is caught by ASan.  Both readers see
 * every message until each has seen its batch's end, as nb_nl.c's loops
 * stop there.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netbuf/nb_parse.h"

#define MAX_K      256
#define RECV_SPACE 8192 /* nb_nl.c's NB_RECV_SPACE: recv() never gives more */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct nb_answer answers[MAX_K];
	static int rcs[MAX_K];
	size_t k, j;
	uint32_t first_seq;
	bool gets_done = false, step_done = false;

	if (size < 5)
		return 0;
	k = (size_t)data[0] + 1;
	first_seq = le32(data + 1);
	data += 5;
	size -= 5;
	memset(answers, 0, sizeof(answers));
	memset(rcs, 0, sizeof(rcs));
	while (size >= 2 && !(gets_done && step_done)) {
		size_t len = (size_t)data[0] | (size_t)data[1] << 8;
		struct nb_rx rx = {0};
		struct nlmsghdr *h;
		unsigned char *buf;
		int err;

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		buf = malloc(len ? len : 1);
		memcpy(buf, data, len);
		data += len;
		size -= len;
		rx.h = (struct nlmsghdr *)buf;
		rx.left = len < RECV_SPACE ? (ssize_t)len : RECV_SPACE;
		while ((h = nb_rx_next(&rx))) {
			/* a message handed out lies whole inside the datagram */
			assert((unsigned char *)h >= buf && h->nlmsg_len >= sizeof(*h) &&
			       (size_t)((unsigned char *)h - buf) + h->nlmsg_len <= len);
			if (!gets_done)
				gets_done = nb_take_answer(h, first_seq, k, answers);
			if (!step_done && nb_ack_of(h, first_seq, k, &j, &err)) {
				assert(j < k);
				step_done = j == k - 1;
				if (err)
					rcs[j] = nb_rc_from_ack(err);
			}
		}
		free(buf);
	}
	for (j = 0; j < k; j++) {
		/* what attach and the counters compare: a bounded string, an
		 * errno, a library rc */
		assert(memchr(answers[j].kind, '\0', sizeof(answers[j].kind)));
		assert(answers[j].error >= 0 && answers[j].error < 4096);
		assert(rcs[j] <= 0);
	}
	return 0;
}
