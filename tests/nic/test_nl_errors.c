/*
 * test_nl_errors.c - the netlink backend (nb_nl.c) against a kernel
 * without sch_plug (make check-net runs nic_nl_*; built only with that
 * backend, not with NETBUF=no): the checkpoint batch's errors, attach, and
 * the counters.
 *
 * What a NIC's step returns when the kernel refuses its plug request needs
 * no plug: the translation of the answer's errno is checked on its own, and
 * the batch itself is sent to IFBs whose root qdisc is a pfifo standing in
 * for the plug.  The kernel refuses every plug request to a pfifo (EINVAL,
 * "Invalid qdisc name"), to a deleted IFB (ENODEV) and to an IFB without
 * its root qdisc (ENOENT), so every request of a batch gets an error answer
 * of its own: the worst case for the receive buffer, and a check that each
 * answer reaches its own NIC.  The batch's success path needs the real
 * plug: the VM tests (test_nic.c, nic_plug_*) check it.
 *
 * Attach and the counters read any root qdisc the same way, so the
 * stand-ins show them in full: what attach asks the kernel (counted from
 * outside, at the socket calls), and the counters of pfifos that frames
 * went through.
 */
#include <dlfcn.h>
#include <errno.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../src/netbuf/internal.h"
#include "../harness/test.h"
#include "../harness/tloop.h"
#include "ckptdev/devices.h"
#include "ckptdev/netbuf.h"
#include "guestnet.h"

/* Allocations by this thread, counted by test_nic.c's malloc. */
extern _Thread_local unsigned long thread_allocs;

/*
 * The process's netlink traffic, counted while nl_counting is set, from
 * outside the library: this binary links it statically, and its send,
 * sendmsg, recv and recvmsg are these wrappers, which count on AF_NETLINK
 * sockets the datagrams sent and the messages received, by type.  A dump
 * would show as every qdisc (or link) of the namespace coming back, and
 * NLMSG_DONE.
 */
static bool nl_counting;
static unsigned long nl_sent, nl_got[RTM_MAX + 1];

static void nl_count_start(void)
{
	nl_sent = 0;
	memset(nl_got, 0, sizeof(nl_got));
	nl_counting = true;
}

static bool is_netlink(int fd)
{
	int domain = 0;
	socklen_t len = sizeof(domain);

	return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_NETLINK;
}

static void count_received(int fd, const void *buf, ssize_t len, int flags)
{
	if (!nl_counting || len <= 0 || (flags & MSG_PEEK) || !is_netlink(fd))
		return;
	for (const struct nlmsghdr *h = buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
		if (h->nlmsg_type <= RTM_MAX)
			nl_got[h->nlmsg_type]++;
}

static void *next_fn(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);

	if (!fn)
		abort();
	return fn;
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	static ssize_t (*real)(int, const void *, size_t, int);

	if (!real)
		real = (ssize_t(*)(int, const void *, size_t, int))next_fn("send");
	if (nl_counting && is_netlink(fd))
		nl_sent++;
	return real(fd, buf, n, flags);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);

	if (!real)
		real = (ssize_t(*)(int, const struct msghdr *, int))next_fn("sendmsg");
	if (nl_counting && is_netlink(fd))
		nl_sent++;
	return real(fd, msg, flags);
}

ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	static ssize_t (*real)(int, void *, size_t, int);
	ssize_t r;

	if (!real)
		real = (ssize_t(*)(int, void *, size_t, int))next_fn("recv");
	r = real(fd, buf, n, flags);
	count_received(fd, buf, r, flags);
	return r;
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	static ssize_t (*real)(int, struct msghdr *, int);
	ssize_t r;

	if (!real)
		real = (ssize_t(*)(int, struct msghdr *, int))next_fn("recvmsg");
	r = real(fd, msg, flags);
	if (msg->msg_iovlen == 1)
		count_received(fd, msg->msg_iov[0].iov_base, r, flags);
	return r;
}

/* CKPT_ERROR_INVAL promises "refused before anything was done": a request
 * the kernel refused is a netlink error, whatever its errno. */
TEST(nic_nl_kernel_refusal_is_a_netlink_error)
{
	ASSERT_RC(nb_rc_from_ack(EINVAL), CKPT_ERROR_NETLINK); /* e.g. not a plug */
	ASSERT_RC(nb_rc_from_ack(EOPNOTSUPP), CKPT_ERROR_NETLINK);
	ASSERT_RC(nb_rc_from_ack(EEXIST), CKPT_ERROR_NETLINK);
	ASSERT_RC(nb_rc_from_ack(EBUSY), CKPT_ERROR_NETLINK);
	ASSERT_RC(nb_rc_from_ack(EPERM), CKPT_ERROR_NETLINK);
	ASSERT_RC(nb_rc_from_ack(ERANGE), CKPT_ERROR_NETLINK);
	ASSERT_RC(nb_rc_from_ack(ETIMEDOUT), CKPT_ERROR_NETLINK);
	ASSERT_RC(nb_rc_from_ack(E2BIG), CKPT_ERROR_NETLINK);
	ASSERT_RC(nb_rc_from_ack(EMSGSIZE), CKPT_ERROR_NETLINK); /* a send too large */
}

/* The two exceptions, as documented at nb_plug_request. */
TEST(nic_nl_kernel_out_of_memory_or_gone)
{
	ASSERT_RC(nb_rc_from_ack(ENOMEM), CKPT_ERROR_NOMEM);
	ASSERT_RC(nb_rc_from_ack(ENOBUFS), CKPT_ERROR_NOMEM);
	ASSERT_RC(nb_rc_from_ack(ENODEV), CKPT_ERROR_NOTFOUND); /* the IFB was deleted */
	ASSERT_RC(nb_rc_from_ack(ENOENT), CKPT_ERROR_NOTFOUND); /* its plug was replaced */
	ASSERT_RC(nb_rc_from_ack(ESRCH), CKPT_ERROR_NOTFOUND);
}

/* ------------------------------------------------- the batch, refused */

#define STANDINS 300 /* more answers than a default receive buffer holds (~256) */

/* n (up to STANDINS) IFBs sb0.. in a network namespace of the test's own,
 * IPv6 off (so they send nothing of their own), each with a pfifo root
 * qdisc, and a devset of as many NICs attached to them. */
struct standins {
	struct tloop *L;
	ckpt_devset *set;
	struct nb_backend *be;
	int n;
	ckpt_dev *devs[STANDINS];
	int rcs[STANDINS];
};

static void standins_setup(struct standins *s, int n, size_t sized_for)
{
	static char vifs[STANDINS][16];
	static const char *params[STANDINS][3];
	static ckpt_dev_spec specs[STANDINS];
	FILE *f;

	s->n = n;
	if (unshare(CLONE_NEWNET))
		SKIP("cannot make a network namespace (%s): needs root", strerror(errno));
	guestnet_sh("echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6; "
	            "echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6");
	f = popen("ip -batch -", "w");
	ASSERT_TRUE(f != NULL);
	for (int i = 0; i < n; i++)
		fprintf(f, "link add sb%d type ifb\n", i);
	ASSERT_EQ(pclose(f), 0);
	f = popen("tc -batch -", "w");
	ASSERT_TRUE(f != NULL);
	for (int i = 0; i < n; i++)
		fprintf(f, "qdisc add dev sb%d root handle 1: pfifo\n", i);
	ASSERT_EQ(pclose(f), 0);

	s->L = tloop_new(CKPT_LOOP_POLL);
	for (int i = 0; i < n; i++) {
		snprintf(vifs[i], sizeof(vifs[i]), "vif=sb%d", i);
		params[i][0] = vifs[i];
		params[i][1] = "script=/bin/true"; /* never run */
		params[i][2] = NULL;
		specs[i] = (ckpt_dev_spec){"nic", i, params[i]};
	}
	ASSERT_OK(ckpt_devset_new(tloop_ctx(s->L), 9, specs, (size_t)n, &s->set));
	ASSERT_OK(nb_backend_open(tloop_ctx(s->L), 9, sized_for, &s->be));
	for (int i = 0; i < n; i++) {
		s->devs[i] = ckpt_devset_device(s->set, (size_t)i);
		ASSERT_OK(nb_plug_attach_kind(s->be, s->devs[i], vifs[i] + 4, "pfifo",
		                              &nb_nic_of(s->devs[i])->plug));
	}
}

static void standins_dispose(struct standins *s)
{
	for (int i = 0; i < s->n; i++) {
		nb_plug_detach(s->be, nb_nic_of(s->devs[i])->plug);
		nb_nic_of(s->devs[i])->plug = NULL;
	}
	nb_backend_close(s->be);
	ASSERT_OK(ckpt_devset_free(s->set));
	tloop_free(s->L);
}

/* Break three stand-ins behind the backend's back: one early, one in the
 * middle, and the last (whose answer is the one that ends the read). */
static void break_three(void)
{
	ASSERT_EQ(guestnet_sh("tc qdisc del dev sb7 root && ip link del sb150 && "
	                      "ip link del sb%d",
	                      STANDINS - 1),
	          0);
}

static int expected_rc(int i)
{
	return i == 7 || i == 150 || i == STANDINS - 1 ? CKPT_ERROR_NOTFOUND : CKPT_ERROR_NETLINK;
}

static void expect_each_nic_its_own_rc(struct standins *s, enum nb_action action)
{
	ASSERT_RC(nb_plug_request(s->be, s->devs, STANDINS, action, s->rcs), CKPT_ERROR_NETLINK);
	for (int i = 0; i < STANDINS; i++)
		if (s->rcs[i] != expected_rc(i))
			FAIL("nic %d: rc %d (%s), expected %s", i, s->rcs[i],
			     ckpt_strerror(s->rcs[i]), ckpt_strerror(expected_rc(i)));
	ASSERT_TRUE(!tlog_contains(s->L, "outcome unknown"));
}

/* Sized for the whole devset: one sendmsg, and every answer (here, every
 * one an error) fits and reaches its NIC; the next step, in the same
 * sequence space, is not confused by anything of the first. */
TEST_T(nic_nl_batch_each_refusal_reaches_its_nic, 60)
{
	struct standins s;

	standins_setup(&s, STANDINS, STANDINS);
	ASSERT_EQ(nb_backend_batch_max(s.be), STANDINS); /* as root: SO_RCVBUFFORCE */
	ASSERT_TRUE(!tlog_contains(s.L, "hold the answers of"));
	break_three();
	expect_each_nic_its_own_rc(&s, NB_BUFFER);
	ASSERT_TRUE(tlog_contains(s.L, "domain 9: nic 150: plug buffer on sb150 failed"));
	ASSERT_TRUE(tlog_contains(s.L, "domain 9: nic 151: plug buffer on sb151 failed: Invalid"));
	tlog_clear(s.L);
	expect_each_nic_its_own_rc(&s, NB_RELEASE_ONE);
	ASSERT_TRUE(tlog_contains(s.L, "domain 9: nic 7: plug release_one on sb7 failed"));
	standins_dispose(&s);
}

/* Sized for 4: the same step goes in sendmsgs of 4, each read to its end
 * before the next, with the same results. */
TEST_T(nic_nl_batch_larger_than_the_buffers_goes_in_pieces, 60)
{
	struct standins s;

	standins_setup(&s, STANDINS, 4);
	ASSERT_EQ(nb_backend_batch_max(s.be), 4);
	break_three();
	expect_each_nic_its_own_rc(&s, NB_BUFFER);
	expect_each_nic_its_own_rc(&s, NB_RELEASE_ONE);
	standins_dispose(&s);
}

/* The receive buffer squeezed under what the batch was sized for: the
 * kernel drops the answers that do not fit (ENOBUFS).  Those that came are
 * used; for the rest the outcome is unknown, which counts as done and is
 * logged per NIC (see nb_nl.c for why not as failed).  Nothing is left
 * over: once the buffer is back, the next step is answered in full. */
TEST_T(nic_nl_lost_answers_count_as_done_and_are_logged, 60)
{
	struct standins s;
	int answered = 0;

	standins_setup(&s, STANDINS, STANDINS);
	nb_backend_set_rcvbuf(s.be, 16384); /* ~20 answers */
	ASSERT_RC(nb_plug_request(s.be, s.devs, STANDINS, NB_BUFFER, s.rcs), CKPT_ERROR_NETLINK);
	while (answered < STANDINS && s.rcs[answered] == CKPT_ERROR_NETLINK)
		answered++;
	ASSERT_GT(answered, 0);
	ASSERT_LT(answered, STANDINS / 2);
	for (int i = answered; i < STANDINS; i++)
		ASSERT_EQ(s.rcs[i], 0);
	ASSERT_TRUE(tlog_contains(s.L, "domain 9: nic 299: plug buffer on sb299: outcome unknown, "
	                               "the kernel's answer was lost (ENOBUFS"));
	ASSERT_TRUE(tlog_contains(s.L, "counted as done"));

	nb_backend_set_rcvbuf(s.be, STANDINS * 2048);
	tlog_clear(s.L);
	break_three();
	expect_each_nic_its_own_rc(&s, NB_RELEASE_ONE);
	standins_dispose(&s);
}

/* Without CAP_NET_ADMIN the receive buffer stops at net.core.rmem_max
 * (doubled): the backend says so when it opens, before any checkpoint,
 * and splits the steps to fit. */
TEST(nic_nl_small_buffers_are_reported_at_open)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	struct nb_backend *be;
	struct tloop *L;
	unsigned long rmem_max = 0;
	size_t fits, nics;
	char buf[128];
	FILE *f = fopen("/proc/sys/net/core/rmem_max", "r");

	if (!f || fscanf(f, "%lu", &rmem_max) != 1 || rmem_max > (1UL << 24))
		SKIP("cannot read a usable net.core.rmem_max");
	fclose(f);
	fits = 2 * rmem_max / 2048;
	nics = fits + 100;
	if (syscall(SYS_capget, &hdr, data))
		FAIL("capget: %s", strerror(errno));
	data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective &= ~CAP_TO_MASK(CAP_NET_ADMIN);
	if (syscall(SYS_capset, &hdr, data))
		FAIL("capset: %s", strerror(errno));

	L = tloop_new(CKPT_LOOP_POLL);
	ASSERT_OK(nb_backend_open(tloop_ctx(L), 9, nics, &be));
	ASSERT_EQ(nb_backend_batch_max(be), fits);
	snprintf(buf, sizeof(buf), "the answers of %zu plug requests, not %zu", fits, nics);
	ASSERT_TRUE(tlog_contains(L, buf));
	ASSERT_TRUE(tlog_contains(L, "domain 9: the netlink socket buffers"));
	nb_backend_close(be);
	tloop_free(L);
}

/* The plug's drop counter is 32 bits in the kernel (gnet_stats_queue):
 * ckpt_nic_stats.drops goes on in 64 across its wrap, by what came, and
 * never jumps by 2^32 or goes back. */
TEST(nic_nl_drop_counter_survives_the_kernels_32_bit_wrap)
{
	uint64_t d = 0;

	d = nb_counter32_extend(d, 5);
	ASSERT_EQ(d, 5);
	d = nb_counter32_extend(d, 0xfffffff0u);
	ASSERT_EQ(d, 0xfffffff0u);
	d = nb_counter32_extend(d, 3); /* wrapped: 16 + 3 more */
	ASSERT_EQ(d, 0x100000003ull);
	d = nb_counter32_extend(d, 3); /* nothing new */
	ASSERT_EQ(d, 0x100000003ull);
	d = nb_counter32_extend(d, 0xffffffffu); /* the next lap */
	ASSERT_EQ(d, 0x1ffffffffull);
	d = nb_counter32_extend(d, 0);
	ASSERT_EQ(d, 0x200000000ull);
}

/* The library finds the script's IFB by the CRC cksum(1) prints for the
 * vif's name (scripts/remus-netbuf-setup, IFB naming). */
TEST(nic_nl_ifb_name_crc_is_what_cksum_prints)
{
	static const char *const names[] = {"vif9.0", "v", "vif123.45", "a-very-long.vif"};
	char buf[64];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		guestnet_sh_out(buf, sizeof(buf), "printf %%s '%s' | cksum | cut -d' ' -f1",
		                names[i]);
		ASSERT_EQ(nb_cksum(names[i]), strtoul(buf, NULL, 10));
	}
}

/* ------------------------------------------------ attach, and the counters */

#define COUNTED 50

/* Attach asks the kernel about its own IFB and nothing else: one
 * RTM_GETLINK by name and one RTM_GETQDISC for the root, each answered
 * with that one object (and the ack that ends it).  A dump of the
 * namespace's qdiscs per attach, as before, brought 50 stand-ins' qdiscs
 * (and lo's) to each of the 50 attaches. */
TEST_T(nic_nl_attach_asks_for_its_ifb_not_a_dump, 60)
{
	struct standins s;

	nl_count_start();
	standins_setup(&s, COUNTED, COUNTED);
	nl_counting = false;
	ASSERT_EQ(nl_sent, 2 * COUNTED);
	ASSERT_EQ(nl_got[RTM_NEWLINK], 2 * COUNTED); /* the IFB and the vif (here the same) */
	ASSERT_EQ(nl_got[RTM_NEWQDISC], COUNTED);
	ASSERT_EQ(nl_got[NLMSG_ERROR], 2 * COUNTED); /* the acks, all 0 */
	ASSERT_EQ(nl_got[NLMSG_DONE], 0);            /* what ends a dump */
	standins_dispose(&s);
}

/* Attach still says what is wrong, in the same words: no such interface,
 * not an ifb, no root qdisc, a root qdisc that is not the plug. */
TEST_T(nic_nl_attach_says_what_is_wrong, 60)
{
	struct standins s;
	struct nb_plug *p = NULL;
	ckpt_dev *dev;

	standins_setup(&s, 1, 1);
	dev = s.devs[0];
	ASSERT_EQ(guestnet_sh("ip link add nb-veth type veth peer name nb-peer && "
	                      "ip link add nb-bare type ifb"),
	          0);
	ASSERT_RC(nb_plug_attach(s.be, dev, "nb-none", &p), CKPT_ERROR_NOTFOUND);
	ASSERT_TRUE(tlog_contains(s.L, "domain 9: nic 0: IFB nb-none: no such interface"));
	ASSERT_RC(nb_plug_attach(s.be, dev, "nb-veth", &p), CKPT_ERROR_INVAL);
	ASSERT_TRUE(tlog_contains(s.L, "domain 9: nic 0: nb-veth is of type veth, not an ifb"));
	ASSERT_RC(nb_plug_attach(s.be, dev, "lo", &p), CKPT_ERROR_INVAL);
	ASSERT_TRUE(tlog_contains(s.L, "lo is a plain interface, not an ifb device"));
	/* down and never given a qdisc: the kernel shows no root (its get is
	 * not answered at all) */
	ASSERT_RC(nb_plug_attach(s.be, dev, "nb-bare", &p), CKPT_ERROR_NOTSUP);
	ASSERT_TRUE(tlog_contains(s.L, "nb-bare has nothing set as its root qdisc, not plug"));
	ASSERT_RC(nb_plug_attach(s.be, dev, "sb0", &p), CKPT_ERROR_NOTSUP);
	ASSERT_TRUE(tlog_contains(s.L, "domain 9: nic 0: sb0 has pfifo as its root qdisc, not "
	                               "plug (a kernel without sch_plug? CONFIG_NET_SCH_PLUG"));
	ASSERT_TRUE(p == NULL);
	standins_dispose(&s);
}

/* out[i] is what NIC i's pfifo counted: i + 1 frames passed, none held,
 * none dropped; but NIC 7's pfifo (limit 0) dropped `dropped7`. */
static void expect_standin_counts(const struct standins *s, const ckpt_nic_stats *out,
                                  uint64_t dropped7)
{
	for (int i = 0; i < s->n; i++) {
		uint64_t passed = i == 7 ? 0 : (uint64_t)i + 1;
		const ckpt_nic_stats *st = &out[i];

		if (s->rcs[i] || st->packets_released != passed ||
		    st->bytes_released != passed * GUESTNET_FRAME_BYTES || st->packets_held ||
		    st->bytes_held || st->drops != (i == 7 ? dropped7 : 0))
			FAIL("nic %d: rc %d, released %llu (%llu bytes), held %llu (%llu bytes), "
			     "dropped %llu",
			     i, s->rcs[i], (unsigned long long)st->packets_released,
			     (unsigned long long)st->bytes_released,
			     (unsigned long long)st->packets_held,
			     (unsigned long long)st->bytes_held, (unsigned long long)st->drops);
	}
}

/*
 * The counters of 50 NICs in one sendmsg: each pfifo's own numbers reach
 * its own slot, a drop is a warning naming the NIC and its limit=, a
 * second read allocates nothing, and NICs that lost their IFB or its
 * qdisc behind the backend's back (one in the middle, the last) fail in
 * their own slots only.  A backend whose buffers hold 4 answers reads the
 * same in 13 sendmsgs.
 */
TEST_T(nic_nl_counters_of_50_nics_in_one_sendmsg, 60)
{
	static ckpt_nic_stats out[COUNTED];
	struct nb_backend *be4;
	struct standins s;
	unsigned long allocs;
	int pkt, ifindex[COUNTED];
	char name[16];
	FILE *f;

	standins_setup(&s, COUNTED, COUNTED);
	/* up, a pfifo passes each frame at once, and "released" counts it;
	 * NIC 7's refuses every frame */
	f = popen("ip -batch -", "w");
	ASSERT_TRUE(f != NULL);
	for (int i = 0; i < COUNTED; i++)
		fprintf(f, "link set sb%d up\n", i);
	ASSERT_EQ(pclose(f), 0);
	ASSERT_EQ(guestnet_sh("tc qdisc change dev sb7 root handle 1: pfifo limit 0"), 0);
	pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	ASSERT_TRUE(pkt >= 0);
	for (int i = 0; i < COUNTED; i++) {
		snprintf(name, sizeof(name), "sb%d", i);
		ifindex[i] = (int)if_nametoindex(name);
		ASSERT_GT(ifindex[i], 0);
		for (int j = 0; j <= i; j++)
			ASSERT_EQ(guestnet_send_frame(pkt, ifindex[i]), i == 7 ? ENOBUFS : 0);
	}

	nl_count_start();
	ASSERT_OK(nb_plug_stats(s.be, s.devs, COUNTED, out, s.rcs));
	nl_counting = false;
	ASSERT_EQ(nl_sent, 1);
	ASSERT_EQ(nl_got[RTM_NEWQDISC], COUNTED);
	expect_standin_counts(&s, out, 8);
	ASSERT_TRUE(tlog_contains(s.L, "domain 9: nic 7: the buffer of sb7 (sb7) was full: it "
	                               "dropped 8 packet(s) since the last read, 8 in all; raise "
	                               "the NIC's limit= parameter"));

	/* nothing new: no warning, and the read allocates nothing */
	tlog_clear(s.L);
	allocs = thread_allocs;
	ASSERT_OK(nb_plug_stats(s.be, s.devs, COUNTED, out, s.rcs));
	ASSERT_EQ(thread_allocs - allocs, 0);
	expect_standin_counts(&s, out, 8);
	ASSERT_TRUE(!tlog_contains(s.L, "was full"));
	ASSERT_EQ(guestnet_send_frame(pkt, ifindex[7]), ENOBUFS);
	ASSERT_OK(nb_plug_stats(s.be, s.devs, COUNTED, out, s.rcs));
	ASSERT_TRUE(tlog_contains(s.L, "nic 7: the buffer of sb7 (sb7) was full: it dropped 1 "
	                               "packet(s) since the last read, 9 in all"));

	/* in pieces, when the buffers hold fewer answers */
	ASSERT_OK(nb_backend_open(tloop_ctx(s.L), 9, 4, &be4));
	ASSERT_EQ(nb_backend_batch_max(be4), 4);
	nl_count_start();
	ASSERT_OK(nb_plug_stats(be4, s.devs, COUNTED, out, s.rcs));
	nl_counting = false;
	ASSERT_EQ(nl_sent, (COUNTED + 3) / 4);
	expect_standin_counts(&s, out, 9);

	/* behind the backend's back: IFB 20 deleted, IFB 30's qdisc deleted
	 * (its root is the default again), the last IFB deleted */
	ASSERT_EQ(guestnet_sh("ip link del sb20 && tc qdisc del dev sb30 root && "
	                      "ip link del sb%d",
	                      COUNTED - 1),
	          0);
	tlog_clear(s.L);
	for (int k = 0; k < 2; k++) {
		ASSERT_RC(nb_plug_stats(k ? be4 : s.be, s.devs, COUNTED, out, s.rcs),
		          CKPT_ERROR_NOTFOUND);
		for (int i = 0; i < COUNTED; i++) {
			bool gone = i == 20 || i == 30 || i == COUNTED - 1;
			uint64_t passed = i == 7 ? 0 : (uint64_t)i + 1;

			ASSERT_RC(s.rcs[i], gone ? CKPT_ERROR_NOTFOUND : 0);
			ASSERT_EQ(out[i].packets_released, gone ? 0 : passed);
		}
	}
	ASSERT_TRUE(tlog_contains(s.L, "domain 9: nic 20: counters: IFB sb20 has gone"));
	ASSERT_TRUE(tlog_contains(s.L, "domain 9: nic 30: sb30 has lost its pfifo qdisc"));
	ASSERT_TRUE(tlog_contains(s.L, "domain 9: nic 49: counters: IFB sb49 has gone"));
	ASSERT_TRUE(!tlog_contains(s.L, "nic 21:"));

	nb_backend_close(be4);
	close(pkt);
	standins_dispose(&s);
}

/* The public call's own refusals: a devset that is not READY (these
 * stand-ins' is NEW: a NIC devset becomes READY only with a real plug,
 * see nic_plug_* in test_nic.c), no devset. */
TEST_T(nic_nl_devset_counters_need_a_ready_devset, 60)
{
	ckpt_nic_stats out[2];
	struct standins s;

	standins_setup(&s, 2, 2);
	ASSERT_RC(ckpt_devset_nic_stats(s.set, out, s.rcs, 2), CKPT_ERROR_INVAL);
	ASSERT_TRUE(tlog_contains(s.L, "ckpt_devset_nic_stats: domain 9: the devset is new, not "
	                               "ready"));
	ASSERT_RC(ckpt_devset_nic_stats(NULL, out, s.rcs, 2), CKPT_ERROR_INVAL);
	ASSERT_RC(ckpt_devset_nic_stats(s.set, NULL, NULL, 2), CKPT_ERROR_INVAL);
	ASSERT_RC(ckpt_nic_get_stats(s.devs[0], out), CKPT_ERROR_INVAL);
	standins_dispose(&s);
}

/* ------------------------------------------------ a vif deleted behind our back */

#define WATCHED 3

/* WATCHED NICs on real vifs (veths vif9.I, their peers gst9.I) with IFBs
 * sbI standing in (pfifo roots), in a namespace of the test's own, the
 * devset's link watch started before they attach, as nic.c does. */
static void watched_setup(struct standins *s)
{
	static const char *params[WATCHED][3];
	static ckpt_dev_spec specs[WATCHED];
	static char vifs[WATCHED][16];

	s->n = WATCHED;
	if (unshare(CLONE_NEWNET))
		SKIP("cannot make a network namespace (%s): needs root", strerror(errno));
	for (int i = 0; i < WATCHED; i++)
		ASSERT_EQ(guestnet_sh("ip link add vif9.%d type veth peer name gst9.%d && "
		                      "ip link add sb%d type ifb && "
		                      "tc qdisc add dev sb%d root handle 1: pfifo",
		                      i, i, i, i),
		          0);
	s->L = tloop_new(CKPT_LOOP_POLL);
	for (int i = 0; i < WATCHED; i++) {
		snprintf(vifs[i], sizeof(vifs[i]), "vif=vif9.%d", i);
		params[i][0] = vifs[i];
		params[i][1] = "script=/bin/true"; /* never run */
		params[i][2] = NULL;
		specs[i] = (ckpt_dev_spec){"nic", i, params[i]};
	}
	ASSERT_OK(ckpt_devset_new(tloop_ctx(s->L), 9, specs, WATCHED, &s->set));
	ASSERT_OK(nb_backend_open(tloop_ctx(s->L), 9, WATCHED, &s->be));
	for (int i = 0; i < WATCHED; i++)
		s->devs[i] = ckpt_devset_device(s->set, (size_t)i);
	ASSERT_OK(nb_backend_watch_links(s->be, s->devs, WATCHED));
}

static void watched_attach(struct standins *s, int i)
{
	struct nb_nic *n = nb_nic_of(s->devs[i]);

	snprintf(n->ifb, sizeof(n->ifb), "sb%d", i); /* as nic.c's attach_ifb */
	ASSERT_OK(nb_plug_attach_kind(s->be, s->devs[i], n->ifb, "pfifo", &n->plug));
}

/* Run the loop until the log says text; false if it has not after 20 s
 * (an upper bound, not a timing: the kernel queues a notification before
 * the deletion returns). */
static bool loop_until_logged(struct tloop *L, const char *text)
{
	for (int i = 0; i < 200 && !tlog_contains(L, text); i++)
		tloop_run_once(L, 100);
	return tlog_contains(L, text);
}

/* Each NIC's rc for a step or a read is want[i]. */
static void expect_rcs(const struct standins *s, const int *want)
{
	for (int i = 0; i < s->n; i++)
		if (s->rcs[i] != want[i])
			FAIL("nic %d: rc %d (%s), expected %d (%s)", i, s->rcs[i],
			     ckpt_strerror(s->rcs[i]), want[i], ckpt_strerror(want[i]));
}

/*
 * Issue 8: the middle NIC's vif is deleted (its redirect goes with it,
 * its IFB stays).  Once the loop has run, its checkpoint steps fail with
 * NOTFOUND without a request (nothing is logged about its IFB: no request
 * was sent to it), the log names the vif once however many steps follow,
 * its counters fail NOTFOUND in their own slot, and the other NICs'
 * requests go to the kernel as before (here each refused by its pfifo:
 * NETLINK, which shows it was sent).  release_indefinite still goes to the
 * gone NIC's IFB: what it holds is let out at teardown.  Deleting an
 * interface that is none of theirs changes nothing.
 */
TEST_T(nic_nl_a_deleted_vif_fails_its_nic_alone, 60)
{
	static ckpt_nic_stats out[WATCHED];
	const int step_want[WATCHED] = {CKPT_ERROR_NETLINK, CKPT_ERROR_NOTFOUND,
	                                CKPT_ERROR_NETLINK};
	const int stats_want[WATCHED] = {0, CKPT_ERROR_NOTFOUND, 0};
	const int release_want[WATCHED] = {CKPT_ERROR_NETLINK, CKPT_ERROR_NETLINK,
	                                   CKPT_ERROR_NETLINK};
	const char *said = "domain 9: nic 1: vif9.1 has been deleted: its output is no longer "
	                   "buffered";
	struct standins s;

	watched_setup(&s);
	for (int i = 0; i < WATCHED; i++)
		watched_attach(&s, i);
	ASSERT_EQ(guestnet_sh("ip link add nb-other type ifb && ip link del nb-other"), 0);
	tloop_run_for(s.L, 50);
	ASSERT_OK(nb_plug_stats(s.be, s.devs, WATCHED, out, s.rcs));

	ASSERT_EQ(guestnet_sh("ip link del vif9.1"), 0);
	ASSERT_TRUE(loop_until_logged(s.L, said));
	ASSERT_TRUE(tlog_contains(s.L, "sb1's redirect went with it"));
	tlog_clear(s.L);
	for (int k = 0; k < 3; k++) {
		ASSERT_RC(nb_plug_request(s.be, s.devs, WATCHED, NB_BUFFER, s.rcs),
		          CKPT_ERROR_NETLINK);
		expect_rcs(&s, step_want);
		ASSERT_RC(nb_plug_request(s.be, s.devs, WATCHED, NB_RELEASE_ONE, s.rcs),
		          CKPT_ERROR_NETLINK);
		expect_rcs(&s, step_want);
		ASSERT_RC(nb_plug_stats(s.be, s.devs, WATCHED, out, s.rcs), CKPT_ERROR_NOTFOUND);
		expect_rcs(&s, stats_want);
		ASSERT_EQ(out[1].packets_released + out[1].packets_held, 0);
		tloop_run_for(s.L, 20);
	}
	ASSERT_TRUE(tlog_contains(s.L, "nic 0: plug buffer on sb0 failed"));
	ASSERT_TRUE(tlog_contains(s.L, "nic 2: plug release_one on sb2 failed"));
	ASSERT_TRUE(!tlog_contains(s.L, "on sb1"));           /* nothing was sent to it */
	ASSERT_TRUE(!tlog_contains(s.L, "has been deleted")); /* said once */
	ASSERT_RC(nb_plug_request(s.be, s.devs, WATCHED, NB_RELEASE_INDEFINITE, s.rcs),
	          CKPT_ERROR_NETLINK);
	expect_rcs(&s, release_want);
	ASSERT_TRUE(tlog_contains(s.L, "nic 1: plug release_indefinite on sb1 failed"));

	/* its IFB deleted too: said once more, for the IFB */
	ASSERT_EQ(guestnet_sh("ip link del sb1"), 0);
	ASSERT_TRUE(loop_until_logged(s.L, "domain 9: nic 1: IFB sb1 has been deleted: the "
	                                   "output of vif9.1 is no longer buffered"));

	/* attach refuses a vif that is not there */
	nb_plug_detach(s.be, nb_nic_of(s.devs[1])->plug);
	nb_nic_of(s.devs[1])->plug = NULL;
	ASSERT_EQ(guestnet_sh("ip link add sb1 type ifb"), 0);
	ASSERT_RC(nb_plug_attach_kind(s.be, s.devs[1], "sb1", "pfifo", &nb_nic_of(s.devs[1])->plug),
	          CKPT_ERROR_NOTFOUND);
	ASSERT_TRUE(tlog_contains(s.L, "domain 9: nic 1: vif vif9.1: no such interface"));
	ASSERT_TRUE(nb_nic_of(s.devs[1])->plug == NULL);
	standins_dispose(&s);
}

/*
 * Notifications lost: the watch's receive buffer is squeezed and filled
 * (interfaces made and deleted while the loop does not run) before the
 * last NIC's vif is deleted, so its RTM_DELLINK is dropped.  The watch
 * reads ENOBUFS, asks about each NIC's vif and IFB again by ifindex, and
 * finds that one gone, and only that one.
 */
TEST_T(nic_nl_a_deleted_vif_is_found_when_notifications_were_lost, 60)
{
	const int step_want[WATCHED] = {CKPT_ERROR_NETLINK, CKPT_ERROR_NETLINK,
	                                CKPT_ERROR_NOTFOUND};
	struct standins s;
	FILE *f;

	watched_setup(&s);
	for (int i = 0; i < WATCHED; i++)
		watched_attach(&s, i);
	tloop_run_for(s.L, 20);
	nb_backend_set_watch_rcvbuf(s.be, 4096);
	f = popen("ip -batch -", "w");
	ASSERT_TRUE(f != NULL);
	for (int i = 0; i < 40; i++)
		fprintf(f, "link add nb-flap%d type ifb\nlink del nb-flap%d\n", i, i);
	ASSERT_EQ(pclose(f), 0);
	ASSERT_EQ(guestnet_sh("ip link del vif9.2"), 0);
	ASSERT_TRUE(loop_until_logged(s.L, "domain 9: nic 2: vif9.2 has been deleted"));
	ASSERT_TRUE(tlog_contains(s.L, "interface notifications were lost (ENOBUFS)"));
	ASSERT_TRUE(!tlog_contains(s.L, "nic 0: vif9.0"));
	ASSERT_TRUE(!tlog_contains(s.L, "nic 1: vif9.1"));
	ASSERT_TRUE(!tlog_contains(s.L, "IFB sb"));
	ASSERT_RC(nb_plug_request(s.be, s.devs, WATCHED, NB_BUFFER, s.rcs), CKPT_ERROR_NETLINK);
	expect_rcs(&s, step_want);
	standins_dispose(&s);
}
