/*
 * plug_smoke - the plug qdisc's epoch rules, checked with real packets.
 *
 * On the bench of plug_bench.h (guest -> veth -> vif ingress -> IFB with a
 * root plug qdisc -> receiver), numbered datagrams are sent from the guest
 * and what the receiver gets, and what the plug reports as held, released
 * and dropped, is compared with the rules of sch_plug:
 *   - a new plug holds everything;
 *   - BUFFER closes the current epoch; RELEASE_ONE lets out exactly the
 *     packets of the last closed epoch, and nothing more until the next
 *     BUFFER;
 *   - RELEASE_INDEFINITE lets out everything held and everything later,
 *     until the next BUFFER;
 *   - a packet that would take the backlog over the byte limit is dropped.
 *
 * Waits are bounded by WAIT_MS but end as soon as the expected packets are
 * seen, so the test does not depend on the speed of the machine (it runs
 * under software emulation). "Nothing more arrives" is watched for
 * GRACE_MS and backed by the plug's own queue length.
 *
 * Output is TAP, ending with "N passed, N failed". Exit status: 0 when all
 * passed, 1 when some failed, 4 ("skipped: <reason>") when this kernel has
 * no plug qdisc or the process may not make network namespaces.
 */
#include "plug_bench.h"
#include "tap.h"

#include <stdio.h>

#define WAIT_MS  20000 /* upper bound for anything expected to happen */
#define GRACE_MS 500   /* how long "nothing more" is watched */

static unsigned long long ull(uint64_t v)
{
	return (unsigned long long)v;
}

/* Before the first release, nothing leaves. */
static void check_new_plug(struct bench *b)
{
	struct plug_stats st = {0};
	uint64_t q;
	int n;

	bench_send(b, 5);
	q = bench_wait_qlen(b, 5, WAIT_MS);
	tap_ok(q == 5, "a new plug queues the 5 datagrams sent", "expected qlen 5, got %llu",
	       ull(q));
	n = bench_receive(b, 0, GRACE_MS);
	bench_stats(b, &st);
	tap_ok(n == 0 && st.packets == 0, "nothing passes before the first release",
	       "expected 0 received and 0 released, got %d and %llu", n, ull(st.packets));
}

/* Datagrams 1..5 are before the barrier, 6..8 after it. */
static void check_release_one(struct bench *b)
{
	uint64_t q;
	int n, mark;

	bench_plug(b, PLUG_BUFFER);
	bench_send(b, 3);
	q = bench_wait_qlen(b, 8, WAIT_MS);
	tap_ok(q == 8, "after a barrier, new datagrams still queue", "expected qlen 8, got %llu",
	       ull(q));

	mark = b->ngot;
	bench_plug(b, PLUG_RELEASE_ONE);
	n = bench_receive(b, 5, WAIT_MS);
	n += bench_receive(b, 0, GRACE_MS);
	tap_ok(n == 5, "release_one passes the 5 datagrams from before the barrier",
	       "expected 5 received, got %d", n);
	tap_ok(bench_in_order(b, mark, 1, 5), "they arrive in order, 1 to 5",
	       "expected 1..5, got %d datagrams, the first %u", b->ngot - mark,
	       b->ngot > mark ? b->got[mark] : 0);
	q = bench_wait_qlen(b, 3, WAIT_MS);
	tap_ok(q == 3, "the 3 datagrams sent after the barrier stay held",
	       "expected qlen 3, got %llu", ull(q));

	bench_plug(b, PLUG_RELEASE_ONE);
	n = bench_receive(b, 0, GRACE_MS);
	q = bench_wait_qlen(b, 3, WAIT_MS);
	tap_ok(n == 0 && q == 3, "a second release_one without a barrier releases nothing",
	       "expected 0 received and qlen 3, got %d and %llu", n, ull(q));
}

/* Datagrams 6..8 are held; 9..12 are sent after the release. */
static void check_release_indefinite(struct bench *b)
{
	struct plug_stats st = {0};
	uint64_t q;
	int n, mark;

	mark = b->ngot;
	bench_plug(b, PLUG_RELEASE_INDEFINITE);
	n = bench_receive(b, 3, WAIT_MS);
	tap_ok(n == 3 && bench_in_order(b, mark, 6, 8),
	       "release_indefinite passes the 3 held datagrams, in order",
	       "expected 6..8, got %d datagrams", n);
	mark = b->ngot;
	bench_send(b, 4);
	n = bench_receive(b, 4, WAIT_MS);
	tap_ok(n == 4 && bench_in_order(b, mark, 9, 12),
	       "after release_indefinite, new datagrams pass straight through",
	       "expected 9..12, got %d datagrams", n);
	bench_stats(b, &st);
	tap_ok(st.qlen == 0 && st.packets == 12 && st.drops == 0,
	       "the plug's counters agree: 12 released, none held or dropped",
	       "got qlen %llu, released %llu, dropped %llu", ull(st.qlen), ull(st.packets),
	       ull(st.drops));

	/* A barrier ends the indefinite release: 13 and 14 are held. */
	bench_plug(b, PLUG_BUFFER);
	bench_send(b, 2);
	q = bench_wait_qlen(b, 2, WAIT_MS);
	n = bench_receive(b, 0, GRACE_MS);
	tap_ok(q == 2 && n == 0, "a barrier after release_indefinite plugs again",
	       "expected qlen 2 and 0 received, got %llu and %d", ull(q), n);
	mark = b->ngot;
	bench_plug(b, PLUG_RELEASE_INDEFINITE);
	n = bench_receive(b, 2, WAIT_MS);
	tap_ok(n == 2 && bench_in_order(b, mark, 13, 14), "release_indefinite lets those 2 out",
	       "expected 13..14, got %d datagrams", n);
}

/*
 * With room for three datagrams, the next ones are dropped and counted.
 * Each is 64 bytes of payload plus UDP, IP and perhaps Ethernet headers
 * (92 to 106 bytes), so 350 bytes hold exactly three.
 */
static void check_limit(struct bench *b)
{
	struct plug_stats before = {0}, after = {0};
	uint64_t q;
	int n, mark;

	bench_stats(b, &before);
	bench_plug(b, PLUG_BUFFER);
	bench_limit(b, 350);
	bench_send(b, 5);
	q = bench_wait_qlen(b, 3, WAIT_MS);
	n = bench_receive(b, 0, GRACE_MS);
	bench_stats(b, &after);
	tap_ok(q == 3 && n == 0 && after.drops - before.drops == 2,
	       "with a 350-byte limit, 3 of 5 datagrams queue and 2 are dropped",
	       "expected qlen 3, 0 received, 2 drops; got %llu, %d, %llu", ull(q), n,
	       ull(after.drops - before.drops));

	mark = b->ngot;
	bench_limit(b, BENCH_PLUG_LIMIT);
	bench_plug(b, PLUG_RELEASE_INDEFINITE);
	n = bench_receive(b, 3, WAIT_MS);
	tap_ok(n == 3 && bench_in_order(b, mark, 15, 17),
	       "the 3 queued are the first 3 sent, released in order",
	       "expected 15..17, got %d datagrams", n);
}

int main(void)
{
	struct bench b;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	bench_init(&b);
	rc = bench_setup(&b);
	if (rc == BENCH_SKIP)
		tap_skip(b.skip);
	if (tap_ok(rc == 0, "veth, IFB, redirect and plug qdisc set up",
	           "setup failed; see the messages above")) {
		check_new_plug(&b);
		check_release_one(&b);
		check_release_indefinite(&b);
		check_limit(&b);
	}
	bench_dispose(&b);
	return tap_finish();
}
