/*
 * test_nic.c - the NIC kind end to end: the real hotplug script, the real
 * xenstored, real interfaces and qdiscs in the test's own network
 * namespaces, real packets from a pretend guest.
 *
 * nic_noplug_* run where the kernel has no sch_plug (this project's
 * development host: `make check-net`) and check that the failure is clear
 * and leaves nothing behind.  nic_plug_* need sch_plug and run inside the
 * test VM (`make check-vm`).  Each skips, saying why, on the other kind of
 * kernel.
 */
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness/test.h"
#include "../harness/tloop.h"
#include "../ops/top.h"
#include "../xs/xsd_fixture.h"
#include "ckptdev/devices.h"
#include "ckptdev/netbuf.h"
#include "guestnet.h"

#define GRACE_MS  300   /* "nothing more arrives" is watched this long */
#define WAIT_MS   20000 /* an upper bound on what must happen */
#define XS_FOLDER "/libxl/9/remus/netbuf/0"

/* Does this kernel have sch_plug?  Asked in a throwaway namespace. */
static bool kernel_has_plug(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		if (unshare(CLONE_NEWNET))
			_exit(2);
		_exit(system("ip link add ckpt-probe type ifb 2>/dev/null && "
		             "tc qdisc add dev ckpt-probe root plug 2>/dev/null") == 0
		              ? 0
		              : 1);
	}
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void need_plug(bool want)
{
	if (kernel_has_plug() != want)
		SKIP(want ? "this kernel has no sch_plug (run by make check-vm)"
		          : "this kernel has sch_plug (the no-plug checks run on one without)");
}

static const char *script_path(void)
{
	static char path[PATH_MAX];
	char rel[PATH_MAX];

	snprintf(rel, sizeof(rel), "%s/../../scripts/remus-netbuf-setup", test_bin_dir());
	if (!realpath(rel, path))
		FAIL("no hotplug script at %s", rel);
	return path;
}

static ckpt_devset *nic_set(struct tloop *L)
{
	static char script[PATH_MAX + 8];
	const char *params[] = {"vif=" GUESTNET_VIF, script, "timeout_ms=60000", "limit=1048576",
	                        NULL};
	const ckpt_dev_spec spec = {"nic", 0, params};
	ckpt_devset *set = NULL;

	snprintf(script, sizeof(script), "script=%s", script_path());
	ASSERT_OK(ckpt_devset_new(tloop_ctx(L), 9, &spec, 1, &set));
	return set;
}

/* Each test's bench: a private xenstored, a pretend guest, a ctx with
 * the given loop and a devset of one NIC on the guest's vif. */
static void nic_begin(bool plug, enum ckpt_loop_kind loop, struct guestnet *g, struct tloop **L,
                      ckpt_devset **set)
{
	need_plug(plug);
	xsd_fixture_start();
	guestnet_setup(g);
	*L = tloop_new(loop);
	*set = nic_set(*L);
}

static void nic_end(struct guestnet *g, struct tloop *L, ckpt_devset *set)
{
	ASSERT_OK(ckpt_devset_free(set));
	tloop_free(L);
	guestnet_dispose(g);
	xsd_fixture_stop();
}

/* Nothing of the buffer is left: no IFB, no clsact on the vif, no
 * xenstore folder. */
static void assert_nothing_left(struct tloop *L)
{
	char buf[256], *v = NULL;

	ASSERT_STR_EQ(guestnet_sh_out(buf, sizeof(buf), "ip -o link show type ifb"), "");
	ASSERT_STR_EQ(guestnet_sh_out(buf, sizeof(buf),
	                              "tc qdisc show dev " GUESTNET_VIF " | grep -v noqueue"),
	              "");
	ASSERT_RC(top_xs_read(tloop_ctx(L), "/libxl/9/remus", &v), CKPT_ERROR_NOTFOUND);
}

TEST_T(nic_noplug_setup_fails_clearly_and_leaves_nothing, 60)
{
	struct guestnet g;
	struct tloop *L;
	ckpt_devset *set;

	nic_begin(false, CKPT_LOOP_POLL, &g, &L, &set);
	ASSERT_RC(ckpt_devset_setup(set, NULL), CKPT_ERROR_SCRIPT);
	ASSERT_TRUE(tlog_contains(L, "remus-netbuf-setup setup for " GUESTNET_VIF " failed:"));
	ASSERT_TRUE(tlog_contains(L, "CONFIG_NET_SCH_PLUG"));
	ASSERT_TRUE(tlog_contains(L, "domain 9: nic 0: setup failed: script failed"));
	ASSERT_EQ(ckpt_devset_state(set), CKPT_DEV_DOWN);
	assert_nothing_left(L);
	/* and the guest's traffic flows as before */
	guestnet_send(&g, 3);
	ASSERT_EQ(guestnet_receive(&g, 3, WAIT_MS), 3);
	nic_end(&g, L, set);
}

TEST_T(nic_noplug_rejects_an_ifb_whose_root_qdisc_is_not_plug, 60)
{
	struct guestnet g;
	struct tloop *L;
	ckpt_devset *set;

	/* the script's test-only knob: a bfifo where the plug would be */
	setenv("NETBUF_QDISC", "bfifo", 1);
	nic_begin(false, CKPT_LOOP_LIBEV, &g, &L, &set);
	ASSERT_RC(ckpt_devset_setup(set, NULL), CKPT_ERROR_NOTSUP);
	ASSERT_TRUE(tlog_contains(L, "has bfifo as its root qdisc, not plug"));
	/* the rollback ran the script's teardown */
	assert_nothing_left(L);
	unsetenv("NETBUF_QDISC");
	nic_end(&g, L, set);
}

TEST_T(nic_noplug_netlink_fault_fails_before_the_script, 60)
{
	struct guestnet g;
	struct tloop *L;
	ckpt_devset *set;

	nic_begin(false, CKPT_LOOP_HOOKS, &g, &L, &set);
	ASSERT_OK(ckpt_fault_arm(tloop_ctx(L), "nl.connect", 1, 0));
	ASSERT_RC(ckpt_devset_setup(set, NULL), CKPT_ERROR_FAULT);
	ASSERT_TRUE(tlog_contains(L, "cannot open a netlink socket"));
	ASSERT_TRUE(!tlog_contains(L, "remus-netbuf-setup["));
	assert_nothing_left(L);
	nic_end(&g, L, set);
}

/* Receive what the plug lets out now: exactly `want`, then nothing. */
static void expect_released(struct guestnet *g, int want, uint32_t first)
{
	int before = g->ngot;

	ASSERT_EQ(guestnet_receive(g, want, WAIT_MS), want);
	ASSERT_EQ(guestnet_receive(g, 0, GRACE_MS), 0);
	for (int i = 0; i < want; i++)
		ASSERT_EQ(g->got[before + i], first + (uint32_t)i);
}

TEST_T(nic_plug_epochs_release_exactly_what_was_committed, 240)
{
	struct guestnet g;
	struct tloop *L;
	ckpt_devset *set;
	ckpt_nic_stats st;
	char buf[128];

	nic_begin(true, CKPT_LOOP_LIBEV, &g, &L, &set);
	ASSERT_OK(ckpt_devset_setup(set, NULL));
	ASSERT_TRUE(strncmp(guestnet_sh_out(buf, sizeof(buf), "xenstore-read " XS_FOLDER "/ifb"),
	                    "ifb", 3) == 0);

	/* a new buffer holds everything */
	guestnet_send(&g, 5); /* 1..5 */
	ASSERT_EQ(guestnet_receive(&g, 0, GRACE_MS), 0);

	/* checkpoint 1: the barrier goes after 1..5; 6..8 come later */
	ASSERT_OK(ckpt_devset_postsuspend(set));
	guestnet_send(&g, 3); /* 6..8 */
	ASSERT_OK(ckpt_devset_preresume(set));
	ASSERT_EQ(guestnet_receive(&g, 0, GRACE_MS), 0); /* not acknowledged yet */
	ASSERT_OK(ckpt_devset_commit(set));
	expect_released(&g, 5, 1);
	/* the kernel's own counters say the same */
	ASSERT_OK(ckpt_nic_get_stats(ckpt_devset_device(set, 0), &st));
	ASSERT_EQ(st.packets_released, 5);
	ASSERT_EQ(st.packets_held, 3);
	ASSERT_EQ(st.drops, 0);
	ASSERT_TRUE(strncmp(ckpt_nic_ifb(ckpt_devset_device(set, 0)), "ifb", 3) == 0);

	/* checkpoint 2 releases 6..8 and nothing sent after its barrier */
	ASSERT_OK(ckpt_devset_postsuspend(set));
	guestnet_send(&g, 2); /* 9..10 */
	ASSERT_OK(ckpt_devset_preresume(set));
	ASSERT_OK(ckpt_devset_commit(set));
	expect_released(&g, 3, 6);

	/* more epochs, of different sizes: each commit lets out the epoch
	 * its postsuspend closed, which is what was open before it */
	uint32_t open_first = 9;
	int open_count = 2;
	for (int k = 1; k <= 4; k++) {
		uint32_t first = g.next_seq + 1;
		ASSERT_OK(ckpt_devset_postsuspend(set));
		guestnet_send(&g, k);
		ASSERT_OK(ckpt_devset_preresume(set));
		ASSERT_OK(ckpt_devset_commit(set));
		expect_released(&g, open_count, open_first);
		open_first = first;
		open_count = k;
	}

	/* graceful teardown: what is still held comes out, nothing is lost */
	guestnet_send(&g, 6);
	ASSERT_OK(ckpt_devset_teardown(set, NULL));
	ASSERT_EQ(guestnet_receive(&g, open_count + 6, WAIT_MS), open_count + 6);
	ASSERT_EQ(g.ngot, (int)g.next_seq);
	for (int i = 0; i < g.ngot; i++)
		ASSERT_EQ(g.got[i], (uint32_t)i + 1);
	assert_nothing_left(L);
	nic_end(&g, L, set);
}

TEST_T(nic_plug_netlink_faults_fail_cleanly, 240)
{
	struct guestnet g;
	struct tloop *L;
	ckpt_devset *set;
	ckpt_ctx *ctx;

	nic_begin(true, CKPT_LOOP_POLL, &g, &L, &set);
	ctx = tloop_ctx(L);

	/* attaching to the IFB fails: the rollback removes what the script made */
	ASSERT_OK(ckpt_fault_arm(ctx, "nl.attach", 1, 0));
	ASSERT_RC(ckpt_devset_setup(set, NULL), CKPT_ERROR_FAULT);
	assert_nothing_left(L);

	/* a failed barrier or release is reported, names the device, and the
	 * next checkpoint works again */
	ASSERT_OK(ckpt_devset_setup(set, NULL));
	ASSERT_OK(ckpt_fault_arm(ctx, "nl.buffer", 1, 0));
	ASSERT_RC(ckpt_devset_postsuspend(set), CKPT_ERROR_FAULT);
	ASSERT_TRUE(tlog_contains(L, "domain 9: nic 0: postsuspend failed: injected fault"));
	ASSERT_OK(ckpt_devset_preresume(set));
	ASSERT_OK(ckpt_fault_arm(ctx, "nl.release", 1, 0));
	ASSERT_RC(ckpt_devset_commit(set), CKPT_ERROR_FAULT);
	ASSERT_OK(ckpt_devset_postsuspend(set));
	ASSERT_OK(ckpt_devset_preresume(set));
	ASSERT_OK(ckpt_devset_commit(set));

	/* the release at teardown fails: the rest of the teardown still runs */
	guestnet_send(&g, 2);
	ASSERT_OK(ckpt_fault_arm(ctx, "nl.release", 1, 0));
	ASSERT_RC(ckpt_devset_teardown(set, NULL), CKPT_ERROR_FAULT);
	assert_nothing_left(L);
	nic_end(&g, L, set);
}

/*
 * devices.h: when the backup is lost, release_all lets out everything the
 * buffer holds (the closed epoch and the open one), in order, none lost,
 * and new output passes straight through; the steps refuse until rearm,
 * which holds output again from a fresh epoch.
 */
TEST_T(nic_plug_release_all_lets_everything_out_and_rearm_holds_again, 240)
{
	struct guestnet g;
	struct tloop *L;
	ckpt_devset *set;
	ckpt_nic_stats st;

	nic_begin(true, CKPT_LOOP_POLL, &g, &L, &set);
	ASSERT_OK(ckpt_devset_setup(set, NULL));

	/* an epoch closed by postsuspend (1..4), one open after it (5..7) */
	guestnet_send(&g, 4);
	ASSERT_OK(ckpt_devset_postsuspend(set));
	guestnet_send(&g, 3);
	ASSERT_OK(ckpt_devset_preresume(set));
	ASSERT_EQ(guestnet_receive(&g, 0, GRACE_MS), 0);

	/* the backup died before it acknowledged: let it all out */
	ASSERT_OK(ckpt_devset_release_all(set));
	expect_released(&g, 7, 1);
	/* and what comes now passes at once */
	guestnet_send(&g, 2); /* 8..9 */
	expect_released(&g, 2, 8);
	ASSERT_RC(ckpt_devset_commit(set), CKPT_ERROR_INVAL);
	ASSERT_RC(ckpt_devset_postsuspend(set), CKPT_ERROR_INVAL);
	ASSERT_OK(ckpt_nic_get_stats(ckpt_devset_device(set, 0), &st));
	ASSERT_EQ(st.drops, 0);

	/* a new backup: output is held again, epoch by epoch */
	ASSERT_OK(ckpt_devset_rearm(set));
	guestnet_send(&g, 3); /* 10..12 */
	ASSERT_EQ(guestnet_receive(&g, 0, GRACE_MS), 0);
	ASSERT_OK(ckpt_devset_postsuspend(set));
	guestnet_send(&g, 1); /* 13 */
	ASSERT_OK(ckpt_devset_preresume(set));
	ASSERT_EQ(guestnet_receive(&g, 0, GRACE_MS), 0);
	ASSERT_OK(ckpt_devset_commit(set));
	expect_released(&g, 3, 10);

	/* graceful teardown lets out the open epoch */
	ASSERT_OK(ckpt_devset_teardown(set, NULL));
	ASSERT_EQ(guestnet_receive(&g, 1, WAIT_MS), 1);
	ASSERT_EQ(g.ngot, (int)g.next_seq);
	for (int i = 0; i < g.ngot; i++)
		ASSERT_EQ(g.got[i], (uint32_t)i + 1);
	assert_nothing_left(L);
	nic_end(&g, L, set);
}
