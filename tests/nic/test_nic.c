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
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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

/*
 * Allocations made by this thread, counted by replacing glibc's malloc
 * family in this binary (which links the library statically): the
 * checkpoint steps promise none.  Not under a sanitizer, whose runtime
 * owns malloc: there the count stays 0.
 */
_Thread_local unsigned long thread_allocs; /* test_nl_errors.c reads it too */

#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

void *malloc(size_t n)
{
	thread_allocs++;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	thread_allocs++;
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	thread_allocs++;
	return __libc_realloc(p, n);
}

void free(void *p)
{
	__libc_free(p);
}
#endif

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

/* A devset of one NIC on the guest's vif, run by the given script with
 * the given timeout. */
static ckpt_devset *nic_set_timed(struct tloop *L, const char *script_file, unsigned timeout_ms)
{
	char script[PATH_MAX + 8], timeout[32];
	const char *params[] = {"vif=" GUESTNET_VIF, script, timeout, "limit=1048576", NULL};
	const ckpt_dev_spec spec = {"nic", 0, params};
	ckpt_devset *set = NULL;

	snprintf(script, sizeof(script), "script=%s", script_file);
	snprintf(timeout, sizeof(timeout), "timeout_ms=%u", timeout_ms);
	ASSERT_OK(ckpt_devset_new(tloop_ctx(L), 9, &spec, 1, &set));
	return set;
}

static ckpt_devset *nic_set_with(struct tloop *L, const char *script_file)
{
	return nic_set_timed(L, script_file, 60000);
}

static ckpt_devset *nic_set(struct tloop *L)
{
	return nic_set_with(L, script_path());
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
	/* the script ran and said why: a kernel without the plug qdisc is
	 * "not supported" (devices.md), not a script failure */
	ASSERT_RC(ckpt_devset_setup(set, NULL), CKPT_ERROR_NOTSUP);
	ASSERT_TRUE(tlog_contains(L, "remus-netbuf-setup setup for " GUESTNET_VIF " failed:"));
	ASSERT_TRUE(tlog_contains(L, "kernel has no plug qdisc (CONFIG_NET_SCH_PLUG"));
	ASSERT_TRUE(tlog_contains(L, "domain 9: nic 0: setup failed: not supported"));
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

/* Field 22 of /proc/PID/stat: the process's start time, which with its
 * pid names it for the script's owner record. */
static unsigned long long start_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	FILE *f;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	ASSERT_TRUE(f != NULL);
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	p = strrchr(buf, ')');
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	ASSERT_TRUE(p && sscanf(p, " %llu", &start) == 1);
	return start;
}

/*
 * ckpt_devset_cleanup (ckptdev teardown --domid) against a NIC the script
 * set up for a live process: refused, naming it, and its IFB stays; once
 * that process is gone, the same cleanup removes everything.  The
 * library's own process is the owner of what it set up: its cleanup
 * proceeds (it passes NETBUF_OWNER; the script's parent is the library's
 * supervisor, not the library).
 */
TEST_T(nic_noplug_cleanup_refuses_a_live_owners_nic, 60)
{
	struct guestnet g;
	struct tloop *L;
	ckpt_devset *set;
	char buf[256], says[128];
	pid_t owner;

	nic_begin(false, CKPT_LOOP_POLL, &g, &L, &set);
	owner = fork();
	ASSERT_TRUE(owner >= 0);
	if (owner == 0) {
		pause();
		_exit(0);
	}
	ASSERT_EQ(guestnet_sh("vifname=" GUESTNET_VIF " XENBUS_PATH=" XS_FOLDER
	                      " NETBUF_QDISC=bfifo NETBUF_OWNER=%d:%llu %s setup",
	                      (int)owner, start_of(owner), script_path()),
	          0);
	ASSERT_RC(ckpt_devset_cleanup(set, NULL), CKPT_ERROR_SCRIPT);
	snprintf(says, sizeof(says), GUESTNET_VIF " is protected by live process %d (", (int)owner);
	ASSERT_TRUE(tlog_contains(L, says));
	ASSERT_TRUE(guestnet_sh_out(buf, sizeof(buf), "ip -o link show type ifb")[0] != '\0');
	kill(owner, SIGKILL);
	ASSERT_EQ(waitpid(owner, NULL, 0), owner);
	ASSERT_OK(ckpt_devset_cleanup(set, NULL));
	assert_nothing_left(L);

	/* set up as if by this process: its own cleanup goes ahead */
	ASSERT_EQ(guestnet_sh("vifname=" GUESTNET_VIF " XENBUS_PATH=" XS_FOLDER
	                      " NETBUF_QDISC=bfifo NETBUF_OWNER=%d:%llu %s setup",
	                      (int)getpid(), start_of(getpid()), script_path()),
	          0);
	ASSERT_OK(ckpt_devset_cleanup(set, NULL));
	assert_nothing_left(L);
	nic_end(&g, L, set);
}

/* A datagram of the pretend guest as its buffer counts it: 64 bytes of
 * payload in UDP, IPv4 and Ethernet headers. */
#define GUEST_FRAME_BYTES (64 + 8 + 20 + 14)
#define COUNTS_MAX        256

/*
 * The counters of the set's n NICs, read in one call (ckpt_devset_nic_stats)
 * until they are what is expected, as a released frame is counted by a
 * softirq, maybe a little later: each NIC has released `released` frames
 * of frame_bytes each and holds `held`, none dropped; but a NIC i with
 * want_rcs[i] != 0 (want_rcs NULL: none) fails with it, its slot zeroed,
 * and the call returns the first such rc.  The reads allocate nothing.
 */
static void expect_set_counts(ckpt_devset *set, size_t n, uint64_t released, uint64_t held,
                              uint64_t frame_bytes, const int *want_rcs)
{
	static ckpt_nic_stats st[COUNTS_MAX];
	static int rcs[COUNTS_MAX];
	long long deadline = test_now_ms() + WAIT_MS;
	int rc, want_rc = 0;
	size_t bad;

	ASSERT_LE(n, COUNTS_MAX);
	for (size_t i = 0; i < n && want_rcs && !want_rc; i++)
		want_rc = want_rcs[i];
	for (;;) {
		rc = ckpt_devset_nic_stats(set, st, rcs, n);
		for (bad = 0; bad < n; bad++) {
			int want = want_rcs ? want_rcs[bad] : 0;
			uint64_t r = want ? 0 : released, h = want ? 0 : held;

			if (rcs[bad] != want || st[bad].packets_released != r ||
			    st[bad].bytes_released != r * frame_bytes ||
			    st[bad].packets_held != h || st[bad].bytes_held != h * frame_bytes ||
			    st[bad].drops)
				break;
		}
		if (bad == n || test_now_ms() > deadline)
			break;
		usleep(10000);
	}
	if (bad < n)
		FAIL("nic %zu (%s): rc %d, released %llu (%llu bytes), held %llu (%llu bytes), "
		     "dropped %llu; expected rc %d, %llu and %llu frames of %llu bytes",
		     bad, ckpt_nic_ifb(ckpt_devset_device(set, bad)), rcs[bad],
		     (unsigned long long)st[bad].packets_released,
		     (unsigned long long)st[bad].bytes_released,
		     (unsigned long long)st[bad].packets_held,
		     (unsigned long long)st[bad].bytes_held, (unsigned long long)st[bad].drops,
		     want_rcs ? want_rcs[bad] : 0, (unsigned long long)released,
		     (unsigned long long)held, (unsigned long long)frame_bytes);
	ASSERT_RC(rc, want_rc);
}

/* The one NIC of a guestnet bench. */
static void expect_guest_counts(ckpt_devset *set, uint64_t released, uint64_t held)
{
	expect_set_counts(set, 1, released, held, GUEST_FRAME_BYTES, NULL);
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

	/* a new buffer holds everything; the counters, read for the whole
	 * set at each step, say so epoch by epoch */
	guestnet_send(&g, 5); /* 1..5 */
	ASSERT_EQ(guestnet_receive(&g, 0, GRACE_MS), 0);
	expect_guest_counts(set, 0, 5);

	/* checkpoint 1: the barrier goes after 1..5; 6..8 come later */
	ASSERT_OK(ckpt_devset_postsuspend(set));
	expect_guest_counts(set, 0, 5); /* the epoch just closed */
	guestnet_send(&g, 3);           /* 6..8 */
	ASSERT_OK(ckpt_devset_preresume(set));
	ASSERT_EQ(guestnet_receive(&g, 0, GRACE_MS), 0); /* not acknowledged yet */
	expect_guest_counts(set, 0, 8);
	ASSERT_OK(ckpt_devset_commit(set));
	expect_released(&g, 5, 1);
	expect_guest_counts(set, 5, 3);
	/* and one NIC's read says the same */
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
	expect_guest_counts(set, 8, 2);

	/* more epochs, of different sizes: each commit lets out the epoch
	 * its postsuspend closed, which is what was open before it */
	uint32_t open_first = 9;
	int open_count = 2;
	uint64_t released = 8;
	for (int k = 1; k <= 4; k++) {
		uint32_t first = g.next_seq + 1;
		ASSERT_OK(ckpt_devset_postsuspend(set));
		expect_guest_counts(set, released, (uint64_t)open_count);
		guestnet_send(&g, k);
		ASSERT_OK(ckpt_devset_preresume(set));
		ASSERT_OK(ckpt_devset_commit(set));
		expect_released(&g, open_count, open_first);
		released += (uint64_t)open_count;
		expect_guest_counts(set, released, (uint64_t)k);
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

/*
 * What the guest sent has reached its NICs' buffers: each NIC whose
 * counters read has taken (released, held or dropped) sent[i] frames in
 * all.  A datagram is on its way when send() returns: the veth hands it
 * to the softirq backlog, which a loaded machine may run later (in
 * ksoftirqd), so a barrier put right after a send can land before it.
 * Wait for this between sending what an epoch must hold and the
 * postsuspend that closes it.
 */
static void expect_arrived(ckpt_devset *set, size_t n, const int *sent)
{
	static ckpt_nic_stats st[COUNTS_MAX];
	static int rcs[COUNTS_MAX];
	long long deadline = test_now_ms() + WAIT_MS;
	size_t i;

	ASSERT_LE(n, COUNTS_MAX);
	for (;;) {
		ckpt_devset_nic_stats(set, st, rcs, n);
		for (i = 0; i < n; i++)
			if (!rcs[i] && st[i].packets_released + st[i].packets_held + st[i].drops !=
			                       (uint64_t)sent[i])
				break;
		if (i == n)
			return;
		if (test_now_ms() > deadline)
			FAIL("nic %zu: %llu released, %llu held and %llu dropped of %d sent", i,
			     (unsigned long long)st[i].packets_released,
			     (unsigned long long)st[i].packets_held,
			     (unsigned long long)st[i].drops, sent[i]);
		usleep(5000);
	}
}

/* The same for the one NIC of a guestnet's set. */
static void expect_guest_arrived(ckpt_devset *set, const struct guestnet *g)
{
	int sent = (int)g->next_seq;

	expect_arrived(set, 1, &sent);
}

/* What the IFB's root qdisc holds now, in packets (-1: cannot read it). */
static int ifb_backlog(const char *ifb)
{
	char buf[64];

	guestnet_sh_out(buf, sizeof(buf),
	                "tc -s qdisc show dev %s root | "
	                "sed -n 's/.* backlog [0-9]*b \\([0-9]*\\)p.*/\\1/p'",
	                ifb);
	return buf[0] ? atoi(buf) : -1;
}

/* The guest's n packets have all crossed the redirect and wait in the
 * plug of ifb; none was delivered. */
static void expect_held(struct guestnet *g, const char *ifb, int n)
{
	long long deadline = test_now_ms() + WAIT_MS;

	while (ifb_backlog(ifb) != n) {
		if (test_now_ms() > deadline)
			FAIL("%s holds %d packets, not %d", ifb, ifb_backlog(ifb), n);
		usleep(20 * 1000);
	}
	ASSERT_EQ(guestnet_receive(g, 0, GRACE_MS), 0);
}

/* The IFB the script wrote down (read by xenstore-read: the library's
 * own reads may have a fault armed). */
static const char *script_ifb(char *buf, size_t len)
{
	guestnet_sh_out(buf, len, "xenstore-read " XS_FOLDER "/ifb");
	ASSERT_TRUE(strncmp(buf, "ifb", 3) == 0);
	return buf;
}

/*
 * A hotplug script that pauses the setup at its very end: it runs the real
 * script and, when setup succeeded, creates DIR/ready and waits (60 s at
 * most) for DIR/sent before it exits 0.  Meanwhile the test has the guest
 * send into the redirect and sees the packets held: the library then goes
 * on from where a guest that sent during the script would leave it.
 */
struct holding_script {
	char dir[32];
	char path[64], ready[64], sent[64];
};

static void holding_script_make(struct holding_script *h)
{
	char body[1024];

	snprintf(h->dir, sizeof(h->dir), "/tmp/ckpt-hold.XXXXXX");
	if (!mkdtemp(h->dir))
		FAIL("mkdtemp: %s", strerror(errno));
	snprintf(h->path, sizeof(h->path), "%s/script", h->dir);
	snprintf(h->ready, sizeof(h->ready), "%s/ready", h->dir);
	snprintf(h->sent, sizeof(h->sent), "%s/sent", h->dir);
	snprintf(body, sizeof(body),
	         "%s \"$@\" || exit\n"
	         "[ \"$1\" = setup ] || exit 0\n"
	         ": >%s\n"
	         "i=0\n"
	         "until [ -e %s ]; do\n"
	         "\t[ $i -lt 1200 ] || exit 1\n"
	         "\tsleep 0.05\n"
	         "\ti=$((i + 1))\n"
	         "done",
	         script_path(), h->ready, h->sent);
	test_write_script(h->path, body);
}

static void holding_script_dispose(struct holding_script *h)
{
	unlink(h->ready);
	unlink(h->sent);
	unlink(h->path);
	rmdir(h->dir);
}

static void create_file(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		FAIL("cannot create %s: %s", path, strerror(errno));
	fclose(f);
}

/* Run the loop until the script has created path. */
static void run_until_file(struct tloop *L, const char *path)
{
	long long deadline = test_now_ms() + WAIT_MS;

	while (access(path, F_OK)) {
		if (test_now_ms() > deadline)
			FAIL("the script never created %s", path);
		tloop_run_once(L, 20);
	}
}

/*
 * A setup that fails after the script put the redirect in place (the
 * library cannot attach to the plug, or cannot read which IFB it is):
 * what the guest sent meanwhile is held in a plug the library never
 * attached to.  The rollback's teardown (the script's: release, remove
 * the redirect, wait for the queue, delete) delivers all of it, in order.
 */
TEST_T(nic_plug_setup_failing_after_the_script_delivers_what_was_held, 240)
{
	static const struct {
		const char *fault, *says;
	} cases[] = {
	        {"nl.attach", "cannot attach to ifb-"},
	        {"xs.read", "xenstore read " XS_FOLDER "/ifb: injected fault"},
	};
	struct holding_script h;
	struct guestnet g;
	struct tloop *L;
	ckpt_devset *set;
	char ifb[64];

	need_plug(true);
	xsd_fixture_start();
	guestnet_setup(&g);
	L = tloop_new(CKPT_LOOP_LIBEV);
	holding_script_make(&h);
	set = nic_set_with(L, h.path);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tdone d = {0};
		ckpt_async_how how = tdone_how(&d);
		uint32_t first = g.next_seq + 1;

		unlink(h.ready);
		unlink(h.sent);
		tlog_clear(L);
		ASSERT_OK(ckpt_devset_setup(set, &how));
		run_until_file(L, h.ready);
		/* the script's setup is done: the redirect is in place */
		guestnet_send(&g, 8);
		expect_held(&g, script_ifb(ifb, sizeof(ifb)), 8);
		/* armed now, so that it hits the step after the script (the
		 * setup's reads before it have been made) */
		ASSERT_OK(ckpt_fault_arm(tloop_ctx(L), cases[i].fault, 1, 0));
		create_file(h.sent); /* the script goes on */
		ASSERT_TRUE(tloop_run_until(L, &d.done, WAIT_MS));
		ASSERT_RC(d.rc, CKPT_ERROR_FAULT);
		ASSERT_TRUE(tlog_contains(L, cases[i].says));
		/* 8 sent, 8 delivered, in order, none lost */
		expect_released(&g, 8, first);
		assert_nothing_left(L);
	}
	ASSERT_EQ(g.ngot, (int)g.next_seq);
	ASSERT_OK(ckpt_devset_free(set));
	holding_script_dispose(&h);
	tloop_free(L);
	guestnet_dispose(&g);
	xsd_fixture_stop();
}

/*
 * ckpt_devset_cleanup of what a crashed run left: the script alone set up
 * the NIC (no library ever attached to the plug, so none releases it),
 * and the plug holds the guest's packets.  The script's teardown lets
 * them out before it deletes the IFB.
 */
TEST_T(nic_plug_cleanup_of_a_crashed_run_delivers_what_was_held, 240)
{
	struct guestnet g;
	struct tloop *L;
	ckpt_devset *set;
	char ifb[64];

	nic_begin(true, CKPT_LOOP_HOOKS, &g, &L, &set);
	ASSERT_EQ(guestnet_sh("vifname=" GUESTNET_VIF " XENBUS_PATH=" XS_FOLDER
	                      " NETBUF_LIMIT=1048576 %s setup",
	                      script_path()),
	          0);
	guestnet_send(&g, 8);
	expect_held(&g, script_ifb(ifb, sizeof(ifb)), 8);
	ASSERT_OK(ckpt_devset_cleanup(set, NULL));
	/* 8 sent, 8 delivered, in order, none lost */
	expect_released(&g, 8, 1);
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

	/* the release at teardown fails: the rest of the teardown still runs,
	 * and the script's own release still lets the 2 held packets out */
	guestnet_send(&g, 2);
	ASSERT_OK(ckpt_fault_arm(ctx, "nl.release", 1, 0));
	ASSERT_RC(ckpt_devset_teardown(set, NULL), CKPT_ERROR_FAULT);
	ASSERT_EQ(guestnet_receive(&g, 2, WAIT_MS), 2);
	assert_nothing_left(L);
	nic_end(&g, L, set);
}

/* ------------------------------------------------ devsets of many NICs */

/* A devset of n NICs on vifs named by vif_fmt (with the index), each
 * devid its index, run by script. */
static ckpt_devset *many_nics_set(struct tloop *L, int n, const char *vif_fmt, const char *script)
{
	ckpt_dev_spec *specs = calloc((size_t)n, sizeof(*specs));
	char **strs = calloc((size_t)n * 2, sizeof(*strs));
	const char **params = calloc((size_t)n * 5, sizeof(*params));
	ckpt_devset *set = NULL;
	char vif[32];

	for (int i = 0; i < n; i++) {
		snprintf(vif, sizeof(vif), vif_fmt, i);
		if (asprintf(&strs[2 * i], "vif=%s", vif) < 0 ||
		    asprintf(&strs[2 * i + 1], "script=%s", script) < 0)
			FAIL("asprintf");
		params[5 * i] = strs[2 * i];
		params[5 * i + 1] = strs[2 * i + 1];
		params[5 * i + 2] = "timeout_ms=600000"; /* hundreds of scripts at once */
		params[5 * i + 3] = "limit=1048576";
		specs[i] = (ckpt_dev_spec){"nic", i, &params[5 * i]};
	}
	ASSERT_OK(ckpt_devset_new(tloop_ctx(L), 9, specs, (size_t)n, &set));
	for (int i = 0; i < 2 * n; i++)
		free(strs[i]);
	free(strs);
	free(params);
	free(specs);
	return set;
}

/* Each NIC's last rc is want[i]. */
static void expect_last_rcs(ckpt_devset *set, const int *want)
{
	for (size_t i = 0; i < ckpt_devset_count(set); i++) {
		int got = ckpt_dev_last_rc(ckpt_devset_device(set, i));

		if (got != want[i])
			FAIL("nic %zu: last rc %d (%s), expected %d (%s)", i, got,
			     ckpt_strerror(got), want[i], ckpt_strerror(want[i]));
	}
}

#define BATCH_NICS 8

/*
 * One batch, 8 NICs, the real hotplug script and real guest traffic: two
 * NICs lose their plug behind the library's back, one in the middle of the
 * batch (its IFB's root qdisc deleted: the kernel answers ENOENT) and then
 * the last (its plug replaced by a pfifo with the same handle: EINVAL).
 * Each failing NIC gets its own rc from its own error answer, every other
 * NIC's is 0, and the others' plugs really took every barrier and release:
 * their counters show exactly the epochs committed.  Those counters are
 * read for all 8 NICs at once (ckpt_devset_nic_stats): the NICs whose plug
 * has gone fail in their own slots, NOTFOUND, and the others are read.
 */
TEST_T(nic_plug_batch_a_failing_nic_gets_its_own_rc, 600)
{
	int want[BATCH_NICS] = {0}, stats_want[BATCH_NICS] = {0};
	struct guestnics g;
	struct tloop *L;
	ckpt_devset *set;
	char ifb3[16], ifb7[16], handle[32], buf[256], *v = NULL;
	int r;

	need_plug(true);
	xsd_fixture_start();
	guestnics_setup(&g, BATCH_NICS);
	L = tloop_new(CKPT_LOOP_LIBEV);
	set = many_nics_set(L, BATCH_NICS, "vif9.%d", script_path());
	ASSERT_OK(ckpt_devset_setup(set, NULL));
	snprintf(ifb3, sizeof(ifb3), "%s", ckpt_nic_ifb(ckpt_devset_device(set, 3)));
	snprintf(ifb7, sizeof(ifb7), "%s", ckpt_nic_ifb(ckpt_devset_device(set, 7)));

	/* checkpoint 1, nic 3's plug gone: epoch A (2 each) closed and
	 * released, B (1 each) open */
	for (int i = 0; i < BATCH_NICS; i++)
		guestnics_send(&g, i, 2);
	expect_arrived(set, BATCH_NICS, g.sent);
	ASSERT_EQ(guestnet_sh("tc qdisc del dev %s root", ifb3), 0);
	want[3] = CKPT_ERROR_NOTFOUND;
	ASSERT_RC(ckpt_devset_postsuspend(set), CKPT_ERROR_NOTFOUND);
	expect_last_rcs(set, want);
	snprintf(buf, sizeof(buf), "domain 9: nic 3: plug buffer on %s failed", ifb3);
	ASSERT_TRUE(tlog_contains(L, buf));
	for (int i = 0; i < BATCH_NICS; i++)
		guestnics_send(&g, i, 1);
	ASSERT_OK(ckpt_devset_preresume(set));
	ASSERT_RC(ckpt_devset_commit(set), CKPT_ERROR_NOTFOUND);
	expect_last_rcs(set, want);
	/* the counters of all 8 in one read: nic 3's slot alone fails */
	stats_want[3] = CKPT_ERROR_NOTFOUND;
	expect_set_counts(set, BATCH_NICS, 2, 1, GUEST_FRAME_BYTES, stats_want);
	snprintf(buf, sizeof(buf), "domain 9: nic 3: %s has lost its plug qdisc", ifb3);
	ASSERT_TRUE(tlog_contains(L, buf));
	ASSERT_RC(ckpt_nic_get_stats(ckpt_devset_device(set, 3), &(ckpt_nic_stats){0}),
	          CKPT_ERROR_NOTFOUND);

	/* the last NIC's plug becomes a pfifo of the same handle */
	guestnet_sh_out(handle, sizeof(handle), "tc qdisc show dev %s root | cut -d' ' -f3", ifb7);
	ASSERT_TRUE(handle[0] != '\0');
	ASSERT_EQ(guestnet_sh("tc qdisc del dev %s root && "
	                      "tc qdisc add dev %s root handle %s pfifo",
	                      ifb7, ifb7, handle),
	          0);

	/* checkpoint 2: B and C (2 each) closed and released, D open */
	tlog_clear(L);
	for (int i = 0; i < BATCH_NICS; i++)
		guestnics_send(&g, i, 1);
	expect_arrived(set, BATCH_NICS, g.sent); /* but 3's and 7's: no plug to count them */
	want[7] = CKPT_ERROR_NETLINK;
	ASSERT_RC(ckpt_devset_postsuspend(set), CKPT_ERROR_NOTFOUND); /* the first error */
	expect_last_rcs(set, want);
	for (int i = 0; i < BATCH_NICS; i++)
		guestnics_send(&g, i, 1);
	ASSERT_OK(ckpt_devset_preresume(set));
	ASSERT_RC(ckpt_devset_commit(set), CKPT_ERROR_NOTFOUND);
	expect_last_rcs(set, want);
	snprintf(buf, sizeof(buf), "domain 9: nic 7: plug release_one on %s failed: Invalid", ifb7);
	ASSERT_TRUE(tlog_contains(L, buf));
	ASSERT_TRUE(!tlog_contains(L, "outcome unknown"));
	/* nic 7's root is a pfifo now, even with the plug's handle */
	stats_want[7] = CKPT_ERROR_NOTFOUND;
	expect_set_counts(set, BATCH_NICS, 4, 1, GUEST_FRAME_BYTES, stats_want);
	snprintf(buf, sizeof(buf),
	         "domain 9: nic 7: %s has lost its plug qdisc (its root is now pfifo)", ifb7);
	ASSERT_TRUE(tlog_contains(L, buf));

	/* teardown fails on those two (their release_indefinite) but removes
	 * everything */
	r = ckpt_devset_teardown(set, NULL);
	ASSERT_TRUE(r == CKPT_ERROR_NOTFOUND || r == CKPT_ERROR_NETLINK);
	ASSERT_STR_EQ(guestnet_sh_out(buf, sizeof(buf), "ip -o link show type ifb"), "");
	ASSERT_STR_EQ(guestnet_sh_out(buf, sizeof(buf), "tc qdisc show | grep -v noqueue"), "");
	ASSERT_RC(top_xs_read(tloop_ctx(L), "/libxl/9/remus", &v), CKPT_ERROR_NOTFOUND);
	ASSERT_OK(ckpt_devset_free(set));
	tloop_free(L);
	guestnics_dispose(&g);
	xsd_fixture_stop();
}

#define GONE_NICS 3

/* Run the loop until the log says text; false if it has not after
 * WAIT_MS (an upper bound: the kernel queues its notification before the
 * deletion returns, so the first run finds it). */
static bool loop_until_logged(struct tloop *L, const char *text)
{
	long long deadline = test_now_ms() + WAIT_MS;

	while (!tlog_contains(L, text) && test_now_ms() < deadline)
		tloop_run_once(L, 100);
	return tlog_contains(L, text);
}

/*
 * Issue 8: the guest's vif deleted behind the library's back, in a devset
 * of 3 NICs with the real script and real traffic, while the plugs hold
 * an epoch of every NIC.  The kernel takes the vif's clsact and redirect
 * with it and leaves the IFB and its plug, so every plug request would
 * still succeed: the devset's link watch must say it.  Once the loop has
 * run, the log names the vif, once; every later postsuspend and commit
 * returns NOTFOUND, the middle NIC's last rc is NOTFOUND and the others'
 * 0; its counters fail NOTFOUND in their own slot, and the other NICs'
 * plugs hold and release exactly the epochs committed, frame by frame.
 * The teardown completes with 0 and leaves no IFB, qdisc, filter or
 * xenstore record, the deleted vif's included.
 */
TEST_T(nic_plug_a_deleted_vif_fails_its_nic_alone_and_teardown_completes, 300)
{
	const int want[GONE_NICS] = {0, CKPT_ERROR_NOTFOUND, 0};
	struct guestnics g;
	struct tloop *L;
	ckpt_devset *set;
	char buf[256], *v = NULL;
	uint64_t released = 2;

	need_plug(true);
	xsd_fixture_start();
	guestnics_setup(&g, GONE_NICS);
	L = tloop_new(CKPT_LOOP_LIBEV);
	set = many_nics_set(L, GONE_NICS, "vif9.%d", script_path());
	ASSERT_OK(ckpt_devset_setup(set, NULL));

	/* epoch A (2 each) committed and out; B (1 each) held */
	for (int i = 0; i < GONE_NICS; i++)
		guestnics_send(&g, i, 2);
	expect_arrived(set, GONE_NICS, g.sent);
	ASSERT_OK(ckpt_devset_postsuspend(set));
	for (int i = 0; i < GONE_NICS; i++)
		guestnics_send(&g, i, 1);
	ASSERT_OK(ckpt_devset_preresume(set));
	ASSERT_OK(ckpt_devset_commit(set));
	expect_set_counts(set, GONE_NICS, released, 1, GUEST_FRAME_BYTES, NULL);

	/* the middle vif goes, the guest's eth1 with it */
	ASSERT_EQ(guestnet_sh("ip link del vif9.1"), 0);
	ASSERT_TRUE(loop_until_logged(L, "domain 9: nic 1: vif9.1 has been deleted: its output "
	                                 "is no longer buffered"));
	tlog_clear(L);

	/* two checkpoints: each closes what the others hold (1) and what
	 * they sent before it (1), and their commits let exactly that out */
	for (int c = 0; c < 2; c++) {
		guestnics_send(&g, 0, 1);
		guestnics_send(&g, 2, 1);
		expect_arrived(set, GONE_NICS, g.sent);
		ASSERT_RC(ckpt_devset_postsuspend(set), CKPT_ERROR_NOTFOUND);
		expect_last_rcs(set, want);
		guestnics_send(&g, 0, 1);
		guestnics_send(&g, 2, 1);
		ASSERT_OK(ckpt_devset_preresume(set));
		ASSERT_RC(ckpt_devset_commit(set), CKPT_ERROR_NOTFOUND);
		expect_last_rcs(set, want);
		released += 2;
		expect_set_counts(set, GONE_NICS, released, 1, GUEST_FRAME_BYTES, want);
		ASSERT_RC(ckpt_nic_get_stats(ckpt_devset_device(set, 1), &(ckpt_nic_stats){0}),
		          CKPT_ERROR_NOTFOUND);
		tloop_run_for(L, 50);
	}
	ASSERT_TRUE(tlog_contains(L, "domain 9: nic 1: postsuspend failed: not found"));
	ASSERT_TRUE(!tlog_contains(L, "vif9.1 has been deleted")); /* said once */
	ASSERT_TRUE(!tlog_contains(L, "nic 0:"));
	ASSERT_TRUE(!tlog_contains(L, "nic 2:"));

	/* teardown: the others' last epoch released, everything removed,
	 * and the IFBs going are no news */
	ASSERT_OK(ckpt_devset_teardown(set, NULL));
	ASSERT_TRUE(!tlog_contains(L, "has been deleted"));
	ASSERT_STR_EQ(guestnet_sh_out(buf, sizeof(buf), "ip -o link show type ifb"), "");
	ASSERT_STR_EQ(guestnet_sh_out(buf, sizeof(buf), "tc qdisc show | grep -v noqueue"), "");
	guestnet_sh_out(buf, sizeof(buf),
	                "for v in vif9.0 vif9.2; do "
	                "tc filter show dev $v ingress 2>/dev/null; done");
	ASSERT_STR_EQ(buf, "");
	ASSERT_RC(top_xs_read(tloop_ctx(L), "/libxl/9/remus", &v), CKPT_ERROR_NOTFOUND);
	ASSERT_OK(ckpt_devset_free(set));
	tloop_free(L);
	guestnics_dispose(&g);
	xsd_fixture_stop();
}

#define MANY_NICS   256
#define MANY_CYCLES 20

/* The test's stand-in for remus-netbuf-setup: there is no guest, so each
 * NIC's vif is the IFB ibN the test made (attach wants the vif to exist),
 * which it reports as the protocol says, and nothing more (one exec per
 * setup instead of the real script's 6). */
static const char many_script[] = "case $1 in\n"
                                  "setup) exec xenstore-write \"$XENBUS_PATH/ifb\" "
                                  "\"$vifname\" ;;\n"
                                  "teardown) exit 0 ;;\n"
                                  "*) exit 2 ;;\n"
                                  "esac";

/* n IFBs ib0.. with a root plug, in a network namespace of the test's
 * own (gone with the test process), IPv6 off so they send nothing. */
static void make_plugged_ifbs(int n)
{
	FILE *f;

	if (unshare(CLONE_NEWNET))
		SKIP("cannot make a network namespace (%s): needs root", strerror(errno));
	guestnet_sh("echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6; "
	            "echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6");
	f = popen("ip -batch -", "w");
	ASSERT_TRUE(f != NULL);
	for (int i = 0; i < n; i++)
		fprintf(f, "link add ib%d type ifb\nlink set ib%d up\n", i, i);
	ASSERT_EQ(pclose(f), 0);
	f = popen("tc -batch -", "w");
	ASSERT_TRUE(f != NULL);
	for (int i = 0; i < n; i++)
		fprintf(f, "qdisc add dev ib%d root plug limit 1048576\n", i);
	ASSERT_EQ(pclose(f), 0);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

/*
 * How many NICs the many-NIC test puts in its devset: CKPT_n, 64
 * by default (make check), 256 in make check-vm-long.
 */
static int many_nics(void)
{
	const char *v = getenv("CKPT_MANY_NICS");
	int n = v ? atoi(v) : 64;

	if (n < 1 || n > MANY_NICS)
		FAIL("CKPT_MANY_NICS=%s: 1..%d", v, MANY_NICS);
	return n;
}

/*
 * Many NICs (many_nics(); up to 256) in one devset (pre-made IFBs and
 * plugs, a fast script), 20
 * checkpoints: every step succeeds on every NIC, allocates nothing, and
 * every plug took every barrier and release: a frame queued on each before
 * each checkpoint is out after its commit, and nothing else: their
 * counters, read for all 256 in one call that allocates nothing, say so.
 * The setup and teardown times and the steps' medians are printed (not
 * asserted).
 */
TEST_T(nic_plug_many_nics_checkpoint_in_one_devset, 1500)
{
	char dir[] = "/tmp/ckpt-many.XXXXXX", script[64], *v = NULL;
	long long t, post_us[MANY_CYCLES], commit_us[MANY_CYCLES];
	int want[MANY_NICS] = {0}, ifindex[MANY_NICS], pkt;
	struct rlimit rl;
	struct tloop *L;
	const int n = many_nics();
	ckpt_devset *set;
	unsigned long allocs;

	need_plug(true);
	/* hundreds of scripts at once, each with a pidfd and two pipes */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 8192) {
		rl.rlim_cur = rl.rlim_max = rl.rlim_max > 8192 ? rl.rlim_max : 8192;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			FAIL("setrlimit RLIMIT_NOFILE: %s", strerror(errno));
	}
	xsd_fixture_start();
	make_plugged_ifbs(n);
	for (int i = 0; i < n; i++) {
		char name[16];
		snprintf(name, sizeof(name), "ib%d", i);
		ifindex[i] = (int)if_nametoindex(name);
		ASSERT_GT(ifindex[i], 0);
	}
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	snprintf(script, sizeof(script), "%s/netbuf-setup", dir);
	test_write_script(script, many_script);
	L = tloop_new(CKPT_LOOP_LIBEV);
	set = many_nics_set(L, n, "ib%d", script);

	t = test_now_ms();
	ASSERT_OK(ckpt_devset_setup(set, NULL));
	printf("measured: setup of %d NICs %lld ms\n", n, test_now_ms() - t);
	ASSERT_TRUE(!tlog_contains(L, "hold the answers of")); /* sized for all of them */
	pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	ASSERT_TRUE(pkt >= 0);

	for (int c = 0; c < MANY_CYCLES; c++) {
		struct timespec a, b, d;

		for (int i = 0; i < n; i++)
			ASSERT_EQ(guestnet_send_frame(pkt, ifindex[i]), 0);
		allocs = thread_allocs;
		clock_gettime(CLOCK_MONOTONIC, &a);
		ASSERT_OK(ckpt_devset_postsuspend(set));
		clock_gettime(CLOCK_MONOTONIC, &b);
		ASSERT_OK(ckpt_devset_preresume(set));
		clock_gettime(CLOCK_MONOTONIC, &d);
		ASSERT_OK(ckpt_devset_commit(set));
		ASSERT_EQ(thread_allocs - allocs, 0);
		post_us[c] = (b.tv_sec - a.tv_sec) * 1000000LL + (b.tv_nsec - a.tv_nsec) / 1000;
		clock_gettime(CLOCK_MONOTONIC, &a);
		commit_us[c] = (a.tv_sec - d.tv_sec) * 1000000LL + (a.tv_nsec - d.tv_nsec) / 1000;
	}
	qsort(post_us, MANY_CYCLES, sizeof(post_us[0]), cmp_ll);
	qsort(commit_us, MANY_CYCLES, sizeof(commit_us[0]), cmp_ll);
	printf("measured: %d NICs, postsuspend median %lld us (min %lld), "
	       "preresume + commit median %lld us (min %lld)\n",
	       n, post_us[MANY_CYCLES / 2], post_us[0], commit_us[MANY_CYCLES / 2], commit_us[0]);
	expect_last_rcs(set, want);
	ASSERT_TRUE(!tlog_contains(L, "plug buffer on"));
	ASSERT_TRUE(!tlog_contains(L, "outcome unknown"));
	/* the counters of all of them in one call, which allocates nothing either */
	allocs = thread_allocs;
	expect_set_counts(set, n, MANY_CYCLES, 0, GUESTNET_FRAME_BYTES, NULL);
	ASSERT_EQ(thread_allocs - allocs, 0);

	t = test_now_ms();
	ASSERT_OK(ckpt_devset_teardown(set, NULL));
	printf("measured: teardown of %d NICs %lld ms\n", n, test_now_ms() - t);
	ASSERT_GT(thread_allocs - allocs, 0); /* the counter counts: teardown allocates */
	ASSERT_RC(top_xs_read(tloop_ctx(L), "/libxl/9/remus", &v), CKPT_ERROR_NOTFOUND);
	close(pkt);
	ASSERT_OK(ckpt_devset_free(set));
	tloop_free(L);
	unlink(script);
	rmdir(dir);
	xsd_fixture_stop();
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
	expect_guest_arrived(set, &g);
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

/* ------------------------------------ teardowns the script does not finish */

/*
 * A hotplug script whose setup is the real one and whose teardown is
 * `teardown` (a shell fragment) instead; its path, in path.
 */
static void unfinished_script(char *path, size_t len, const char *name, const char *teardown)
{
	char body[PATH_MAX + 512];

	snprintf(path, len, "%s", test_tmp_path(name));
	snprintf(body, sizeof(body), "[ \"$1\" = teardown ] || exec %s \"$@\"\n%s", script_path(),
	         teardown);
	test_write_script(path, body);
}

/* The real script's setup, run by hand as a crashed run's would have
 * been: no library is attached to the buffer.  On a kernel without
 * sch_plug, a bfifo stands in for the plug (the script's test knob). */
static void setup_by_hand(bool plug)
{
	ASSERT_EQ(guestnet_sh("vifname=" GUESTNET_VIF " XENBUS_PATH=" XS_FOLDER
	                      " NETBUF_LIMIT=1048576 NETBUF_QDISC=%s %s setup",
	                      plug ? "plug" : "bfifo", script_path()),
	          0);
}

/* CAP_NET_ADMIN in this process's effective set, or not (it stays
 * permitted, so it can come back; children get it back at exec). */
static void net_admin(bool on)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		FAIL("capget: %s", strerror(errno));
	if (on)
		data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective |= CAP_TO_MASK(CAP_NET_ADMIN);
	else
		data[CAP_TO_INDEX(CAP_NET_ADMIN)].effective &= ~CAP_TO_MASK(CAP_NET_ADMIN);
	if (syscall(SYS_capset, &hdr, data))
		FAIL("capset: %s", strerror(errno));
}

#define SWEPT_ALL(n)                                                                               \
	"domain 9: nic 0: teardown of " GUESTNET_VIF " finished by the library: " n                \
	" object(s) removed, 0 of ours left"

/*
 * The teardown script hangs past its timeout (and is killed for it) in
 * the cleanup of a crashed run's NIC, whose buffer holds the guest's
 * packets and which no library is attached to: the library lets them
 * out, removes the redirect, the clsact and the IFB itself, then the
 * record; the cleanup says TIMEDOUT, the script's error.
 */
static void hanging_teardown_is_finished(bool plug)
{
	char script[PATH_MAX], ifb[64];
	struct guestnet g;
	struct tloop *L;
	ckpt_devset *set;

	need_plug(plug);
	xsd_fixture_start();
	guestnet_setup(&g);
	L = tloop_new(CKPT_LOOP_LIBEV);
	unfinished_script(script, sizeof(script), "hang", "exec sleep 600");
	set = nic_set_timed(L, script, 1000);
	setup_by_hand(plug);
	guestnet_send(&g, 8);
	if (plug)
		expect_held(&g, script_ifb(ifb, sizeof(ifb)), 8);
	ASSERT_RC(ckpt_devset_cleanup(set, NULL), CKPT_ERROR_TIMEDOUT);
	ASSERT_EQ(ckpt_devset_state(set), CKPT_DEV_DOWN);
	ASSERT_TRUE(tlog_contains(L, "remus-netbuf-setup["));
	ASSERT_TRUE(tlog_contains(L, SWEPT_ALL("3")));
	/* 8 sent, 8 delivered, in order, none lost; nothing left */
	expect_released(&g, 8, 1);
	assert_nothing_left(L);
	ASSERT_OK(ckpt_devset_free(set));
	unlink(script);
	tloop_free(L);
	guestnet_dispose(&g);
	xsd_fixture_stop();
}

TEST_T(nic_noplug_teardown_script_hanging_is_finished_by_the_library, 60)
{
	hanging_teardown_is_finished(false);
}

TEST_T(nic_plug_teardown_script_hanging_is_finished_by_the_library, 240)
{
	hanging_teardown_is_finished(true);
}

/*
 * The teardown script fails and the library cannot remove what is left
 * either (it lacks CAP_NET_ADMIN): the record stays, saying which IFB, and
 * the log says so; a later cleanup finds it there, and removes it all,
 * letting out what the buffer held.
 */
static void unfinishable_teardown_keeps_the_record(bool plug)
{
	char script[PATH_MAX], ifb[64], buf[256], *v = NULL;
	struct guestnet g;
	struct tloop *L;
	ckpt_devset *set;

	need_plug(plug);
	xsd_fixture_start();
	guestnet_setup(&g);
	L = tloop_new(CKPT_LOOP_POLL);
	unfinished_script(script, sizeof(script), "fail", "exit 1");
	set = nic_set_with(L, script);
	setup_by_hand(plug);
	script_ifb(ifb, sizeof(ifb));
	guestnet_send(&g, 4);
	if (plug)
		expect_held(&g, ifb, 4);
	net_admin(false);
	ASSERT_RC(ckpt_devset_cleanup(set, NULL), CKPT_ERROR_SCRIPT);
	net_admin(true);
	ASSERT_EQ(ckpt_devset_state(set), CKPT_DEV_DOWN);
	snprintf(buf, sizeof(buf),
	         "domain 9: nic 0: teardown of " GUESTNET_VIF
	         ": cannot remove the redirect filter into %s: Operation not permitted",
	         ifb);
	ASSERT_TRUE(tlog_contains(L, buf));
	snprintf(buf, sizeof(buf), "teardown of " GUESTNET_VIF ": cannot delete %s", ifb);
	ASSERT_TRUE(tlog_contains(L, buf));
	ASSERT_TRUE(tlog_contains(L, "0 object(s) removed, 2 of ours left"));
	ASSERT_TRUE(
	        tlog_contains(L, XS_FOLDER " keeps what is left of the buffer of " GUESTNET_VIF));
	ASSERT_OK(top_xs_read(tloop_ctx(L), XS_FOLDER "/ifb", &v));
	ASSERT_STR_EQ(v, ifb);
	free(v);
	ASSERT_TRUE(strstr(guestnet_sh_out(buf, sizeof(buf), "ip -o link show type ifb"), ifb));
	ASSERT_OK(ckpt_devset_free(set));

	/* later, a cleanup with the real script */
	set = nic_set(L);
	ASSERT_OK(ckpt_devset_cleanup(set, NULL));
	expect_released(&g, 4, 1);
	assert_nothing_left(L);
	ASSERT_OK(ckpt_devset_free(set));
	unlink(script);
	tloop_free(L);
	guestnet_dispose(&g);
	xsd_fixture_stop();
}

TEST_T(nic_noplug_teardown_the_library_cannot_finish_keeps_the_record, 60)
{
	unfinishable_teardown_keeps_the_record(false);
}

TEST_T(nic_plug_teardown_the_library_cannot_finish_keeps_the_record, 240)
{
	unfinishable_teardown_keeps_the_record(true);
}

/*
 * The teardown script of a NIC the library set up and attached to dies by
 * SIGKILL after it removed the redirect: the library removes the clsact
 * and the IFB itself, then the record; what the buffer held (a closed
 * epoch and an open one) is delivered, none lost; the teardown says
 * SCRIPT, the script's error.
 */
TEST_T(nic_plug_teardown_script_killed_midway_is_finished_by_the_library, 240)
{
	char script[PATH_MAX];
	struct guestnet g;
	struct tloop *L;
	ckpt_devset *set;

	need_plug(true);
	xsd_fixture_start();
	guestnet_setup(&g);
	L = tloop_new(CKPT_LOOP_HOOKS);
	unfinished_script(script, sizeof(script), "killed",
	                  "tc filter del dev \"$vifname\" ingress pref 49152 || exit 3\n"
	                  "kill -KILL $$");
	set = nic_set_with(L, script);
	ASSERT_OK(ckpt_devset_setup(set, NULL));
	guestnet_send(&g, 5);
	ASSERT_OK(ckpt_devset_postsuspend(set));
	guestnet_send(&g, 3);
	ASSERT_OK(ckpt_devset_preresume(set));
	ASSERT_EQ(guestnet_receive(&g, 0, GRACE_MS), 0);
	ASSERT_RC(ckpt_devset_teardown(set, NULL), CKPT_ERROR_SCRIPT);
	ASSERT_EQ(ckpt_devset_state(set), CKPT_DEV_DOWN);
	ASSERT_TRUE(tlog_contains(L, "killed by signal 9"));
	ASSERT_TRUE(tlog_contains(L, SWEPT_ALL("2")));
	expect_released(&g, 8, 1);
	ASSERT_EQ(g.ngot, (int)g.next_seq);
	assert_nothing_left(L);
	ASSERT_OK(ckpt_devset_free(set));
	unlink(script);
	tloop_free(L);
	guestnet_dispose(&g);
	xsd_fixture_stop();
}

/* ---------------------------------------------------------- ownership */

/* "PID:START" for a process, START read from /proc as a user would. */
static void owner_record(pid_t pid, char *buf, size_t len)
{
	snprintf(buf, len, "%d:%llu", (int)pid, start_of(pid));
}

/* The record of a NIC another process protects: its owner still runs,
 * so neither a setup nor a cleanup of ours may touch it; once that
 * process has gone, it is a leftover, and cleanup removes it. */
TEST_T(nic_owner_a_running_protector_is_left_alone, 60)
{
	struct guestnet g;
	struct tloop *L;
	ckpt_devset *set, *cleanup;
	char rec[64], want[256], *v = NULL;
	pid_t owner;

	xsd_fixture_start();
	guestnet_setup(&g);
	L = tloop_new(CKPT_LOOP_POLL);
	owner = fork();
	ASSERT_TRUE(owner >= 0);
	if (owner == 0) {
		pause();
		_exit(0);
	}
	owner_record(owner, rec, sizeof(rec));
	ASSERT_OK(top_xs_write(tloop_ctx(L), XS_FOLDER "/vif", GUESTNET_VIF));
	ASSERT_OK(top_xs_write(tloop_ctx(L), XS_FOLDER "/owner", rec));

	set = nic_set(L);
	ASSERT_RC(ckpt_devset_setup(set, NULL), CKPT_ERROR_BUSY);
	snprintf(want, sizeof(want),
	         "not setting it up: " GUESTNET_VIF " is protected by process %d, which is still "
	         "running (" XS_FOLDER "/owner = \"%s\")",
	         (int)owner, rec);
	ASSERT_TRUE(tlog_contains(L, want));
	ASSERT_OK(top_xs_read(tloop_ctx(L), XS_FOLDER "/owner", &v));
	ASSERT_STR_EQ(v, rec);
	free(v);
	ASSERT_OK(ckpt_devset_free(set));

	cleanup = nic_set(L);
	ASSERT_RC(ckpt_devset_cleanup(cleanup, NULL), CKPT_ERROR_BUSY);
	ASSERT_TRUE(
	        tlog_contains(L, "not tearing it down: " GUESTNET_VIF " is protected by process"));
	ASSERT_OK(top_xs_read(tloop_ctx(L), XS_FOLDER "/owner", &v));
	ASSERT_STR_EQ(v, rec);
	free(v);
	ASSERT_OK(ckpt_devset_free(cleanup));

	/* the owner dies: what it left is a leftover now */
	kill(owner, SIGKILL);
	ASSERT_EQ(waitpid(owner, NULL, 0), owner);
	cleanup = nic_set(L);
	ASSERT_OK(ckpt_devset_cleanup(cleanup, NULL));
	assert_nothing_left(L);
	nic_end(&g, L, cleanup);
}

/* The sample driver, next to the tests (build/ckptdev). */
static const char *tool_path(void)
{
	static char path[PATH_MAX];
	char rel[PATH_MAX];

	snprintf(rel, sizeof(rel), "%s/../ckptdev", test_bin_dir());
	if (!realpath(rel, path))
		FAIL("no ckptdev at %s", rel);
	return path;
}

/*
 * The protecting process is killed (SIGKILL: nothing of its own runs)
 * while the guest's output is held.  While it ran, `ckptdev teardown
 * --domid` refused to touch its NIC; now that it has gone, the same
 * command finds the NIC from its xenstore record alone, lets out what the
 * plug held and removes everything.
 */
TEST_T(nic_plug_a_killed_driver_is_recovered_by_teardown_domid, 240)
{
	struct guestnet g;
	struct tloop *L;
	char ifb[64], buf[2048];
	const char *tool, *log = test_tmp_path("driver.log");
	long long deadline;
	pid_t driver;

	need_plug(true);
	xsd_fixture_start();
	guestnet_setup(&g);
	L = tloop_new(CKPT_LOOP_POLL);
	tool = tool_path();
	driver = fork();
	ASSERT_TRUE(driver >= 0);
	if (driver == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(tool, "ckptdev", "run", "--domid", "9", "--nic", GUESTNET_VIF, "--script",
		      script_path(), "--interval", "50", "--limit", "1048576", "--timeout", "60000",
		      (char *)NULL);
		_exit(127);
	}
	/* wait for the driver's checkpoints (a whole setup first: a slow VM
	 * on a busy host has taken 30 s) */
	deadline = test_now_ms() + 6 * WAIT_MS;
	while (guestnet_sh("grep -q '^epoch *3:' %s", log)) {
		if (test_now_ms() > deadline || waitpid(driver, NULL, WNOHANG) == driver)
			FAIL("the driver never reached epoch 3: %s",
			     guestnet_sh_out(buf, sizeof(buf), "tail -c 1500 %s | tr '\\n' '|'",
			                     log));
		usleep(20 * 1000);
	}
	script_ifb(ifb, sizeof(ifb));

	/* a running owner's NIC is not touched */
	ASSERT_EQ(guestnet_sh("%s teardown --domid 9 --script %s --timeout 60000 >/dev/null 2>&1",
	                      tool, script_path()),
	          1);
	ASSERT_TRUE(if_nametoindex(ifb) != 0);

	kill(driver, SIGKILL);
	ASSERT_EQ(waitpid(driver, NULL, 0), driver);
	guestnet_send(&g, 8);
	expect_held(&g, ifb, 8);
	ASSERT_EQ(guestnet_sh("%s status --domid 9 | grep -q 'holds 8 (848 bytes)'", tool), 0);
	ASSERT_EQ(guestnet_sh("%s teardown --domid 9 --script %s --timeout 60000 | "
	                      "grep -q 'nic 0 (%s): removed'",
	                      tool, script_path(), GUESTNET_VIF),
	          0);
	/* 8 sent, 8 delivered, in order, none lost */
	expect_released(&g, 8, 1);
	assert_nothing_left(L);
	unlink(log);
	tloop_free(L);
	guestnet_dispose(&g);
	xsd_fixture_stop();
}
