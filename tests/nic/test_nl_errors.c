/*
 * test_nl_errors.c - the libnl backend's checkpoint batch against a kernel
 * without sch_plug (make check-net runs nic_nl_*; built only with the libnl
 * backend, not with NETBUF=no).
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
 */
#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../src/netbuf/internal.h"
#include "../harness/test.h"
#include "../harness/tloop.h"
#include "ckptdev/devices.h"
#include "guestnet.h"

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

/* STANDINS IFBs sb0.. in a network namespace of the test's own, each with
 * a pfifo root qdisc, and a devset of as many NICs attached to them. */
struct standins {
	struct tloop *L;
	ckpt_devset *set;
	struct nb_backend *be;
	ckpt_dev *devs[STANDINS];
	int rcs[STANDINS];
};

static void standins_setup(struct standins *s, size_t sized_for)
{
	static char vifs[STANDINS][16];
	static const char *params[STANDINS][3];
	static ckpt_dev_spec specs[STANDINS];
	FILE *f;

	if (unshare(CLONE_NEWNET))
		SKIP("cannot make a network namespace (%s): needs root", strerror(errno));
	f = popen("ip -batch -", "w");
	ASSERT_TRUE(f != NULL);
	for (int i = 0; i < STANDINS; i++)
		fprintf(f, "link add sb%d type ifb\n", i);
	ASSERT_EQ(pclose(f), 0);
	f = popen("tc -batch -", "w");
	ASSERT_TRUE(f != NULL);
	for (int i = 0; i < STANDINS; i++)
		fprintf(f, "qdisc add dev sb%d root handle 1: pfifo\n", i);
	ASSERT_EQ(pclose(f), 0);

	s->L = tloop_new(CKPT_LOOP_POLL);
	for (int i = 0; i < STANDINS; i++) {
		snprintf(vifs[i], sizeof(vifs[i]), "vif=sb%d", i);
		params[i][0] = vifs[i];
		params[i][1] = "script=/bin/true"; /* never run */
		params[i][2] = NULL;
		specs[i] = (ckpt_dev_spec){"nic", i, params[i]};
	}
	ASSERT_OK(ckpt_devset_new(tloop_ctx(s->L), 9, specs, STANDINS, &s->set));
	ASSERT_OK(nb_backend_open(tloop_ctx(s->L), 9, sized_for, &s->be));
	for (int i = 0; i < STANDINS; i++) {
		s->devs[i] = ckpt_devset_device(s->set, (size_t)i);
		ASSERT_OK(nb_plug_attach_kind(s->be, s->devs[i], vifs[i] + 4, "pfifo",
		                              &nb_nic_of(s->devs[i])->plug));
	}
}

static void standins_dispose(struct standins *s)
{
	for (int i = 0; i < STANDINS; i++) {
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

	standins_setup(&s, STANDINS);
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

	standins_setup(&s, 4);
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

	standins_setup(&s, STANDINS);
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
