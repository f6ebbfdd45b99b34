/*
 * external.c - faults in the world the library depends on, each a row of
 * the table, each followed by the invariants of every run (run_one):
 *
 *   script.killed        a disk script killed by SIGKILL while it runs
 *   script.hung          a disk script past its timeout, with a grandchild;
 *                        both ignore SIGTERM
 *   xenstored.killed     xenstored killed while the NIC's hotplug script
 *                        sets up, then while it tears down (setup's
 *                        rollback; where the NIC gets READY, its
 *                        teardown), and a new one started
 *   ifb.deleted          the IFB deleted behind the library's back, right
 *                        after the script made it
 *   vif.removed          the vif removed right after the script ran
 *   app.abort            ckpt_ao_abort() after every turn of the loop of a
 *                        disk devset's setup, and after 1, 2, 4, 8, ...
 *                        turns of a NIC's
 *   process.killed       the application SIGKILLed while its NIC's script
 *                        holds the IFB made, then `ckptdev teardown --domid
 *                        9 --nic vif9.0` recovering everything; where the
 *                        NIC gets READY, the guest's frames sent after the
 *                        crash are held and then all delivered
 *
 * Where the NIC gets READY (sch_plug, the test VM), while it runs
 * checkpoints:
 *   ifb.deleted-run      its IFB deleted behind the library's back
 *   vif.removed-run      its vif removed (the guest destroyed)
 * Each must fail the checkpoint with NOTFOUND, and the teardown after it
 * must leave nothing (its rc: NOTFOUND where the IFB went, as its release
 * of the plug found none; 0 where the vif went).  The 8 frames the guest
 * sent before the IFB was deleted went with it: the packets invariant must
 * report them lost (the harness checking itself).
 *   netlink.enobufs-run  the library's link watch socket squeezed to the
 *                        least receive buffer and flooded with 200 link
 *                        notifications (ENOBUFS, /proc/net/netlink counts
 *                        the drops): the NIC stays READY and works
 *   netlink.enobufs-ifb-run  the same, and the IFB deleted among the lost
 *                        notifications: the NIC fails as in ifb.deleted-run
 *   process.killed-run   the application SIGKILLed while its READY NIC's
 *                        plug holds 8 frames of the guest's; `ckptdev
 *                        teardown --domid 9` finds the NIC in xenstore, and
 *                        those 8 and 8 more sent after the crash all come
 *                        out, once and in order
 *
 * The script faults use wrappers around the real scripts, written to the
 * harness's folder: they make a marker file when the moment comes, and
 * some wait for a go file; the parent acts when it sees the marker.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frames.h"
#include "harness.h"

static const struct fault_op *op_named(const char *name)
{
	for (size_t i = 0; i < fault_n_ops; i++)
		if (!strcmp(fault_ops[i].name, name))
			return &fault_ops[i];
	abort();
}

static char *tmp_path(const char *name)
{
	static char paths[8][PATH_MAX];
	static int next;
	char *p = paths[next++ % 8];

	snprintf(p, PATH_MAX, "%s/%s", H.tmpdir, name);
	return p;
}

static bool marker_ready(struct ext *x, pid_t child)
{
	(void)child;
	return !access(x->marker, F_OK);
}

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");

	if (f)
		fclose(f);
}

/* One run of an external fault; rc_ok says which rcs the run may give. */
static void ext_run(const char *what, const struct fault_req *req, struct ext *x,
                    bool (*rc_ok)(int rc), int want_again)
{
	struct outcome o = {.what = what, .op = req->op->name, .want_again = want_again};

	if (x && x->marker[0]) {
		char go[PATH_MAX + 4];

		snprintf(go, sizeof(go), "%s.go", x->marker);
		unlink(x->marker);
		unlink(go);
	}
	run_one(req, &o, x);
	if (x && x->act && !x->acted)
		violation(&o, V_REACHED, "the moment for the fault never came");
	if (rc_ok && o.rc != FAULT_HUNG && !rc_ok(o.rc))
		violation(&o, V_RC, "completed with %s (%d)", ckpt_strerror(o.rc), o.rc);
	record(&o);
}

static bool rc_script(int rc)
{
	return rc == CKPT_ERROR_SCRIPT;
}

static bool rc_timedout(int rc)
{
	return rc == CKPT_ERROR_TIMEDOUT;
}

static bool rc_error(int rc)
{
	return rc < 0;
}

static bool rc_notfound(int rc)
{
	return rc == CKPT_ERROR_NOTFOUND;
}

static bool rc_aborted_or_done(int rc)
{
	return rc == CKPT_ERROR_ABORTED || rc == 0 || rc == H.nic_setup_rc;
}

/* ------------------------------------------------------- script faults */

static void kill_script(struct ext *x, pid_t child)
{
	FILE *f = fopen(x->marker, "r");
	int pid = 0;

	(void)child;
	if (f && fscanf(f, "%d", &pid) == 1 && pid > 0)
		kill(pid, SIGKILL);
	if (f)
		fclose(f);
}

static void script_faults(void)
{
	char body[PATH_MAX * 6];
	struct ext x = {.ready = marker_ready, .act = kill_script};
	struct fault_req req = {.op = op_named("disk.setup"), .point = -1, .abort_at = -1};
	const char *killed = tmp_path("killed.sh"), *hung = tmp_path("hung.sh");

	/* killed by a signal while it runs: its pid in the marker, then wait */
	snprintf(x.marker, sizeof(x.marker), "%s", tmp_path("killed.pid"));
	snprintf(body, sizeof(body),
	         "[ \"$1\" = teardown ] && exit 0\n"
	         "echo $$ > %s.tmp && mv %s.tmp %s\nexec sleep 30",
	         x.marker, x.marker, x.marker);
	write_script(killed, body);
	req.disk_script = killed;
	ext_run("script.killed", &req, &x, rc_script, 0);

	/* past its timeout; it and its grandchild ignore SIGTERM (the
	 * library's SIGKILL follows after its grace) */
	write_script(hung, "[ \"$1\" = teardown ] && exit 0\n"
	                   "trap '' TERM\n"
	                   "sh -c \"trap '' TERM; sleep 30\" &\n"
	                   "sleep 30\nwait");
	req.disk_script = hung;
	req.script_timeout_ms = 200;
	ext_run("script.hung", &req, NULL, rc_timedout, 0);
}

/* ---------------------------------------------------- xenstored killed */

static void kill_xenstored(struct ext *x, pid_t child)
{
	char go[PATH_MAX + 4];

	(void)child;
	xsd_kill(&H.xsd);
	snprintf(go, sizeof(go), "%s.go", x->marker);
	touch(go);
}

static const char *restart_xenstored(struct ext *x, struct outcome *o)
{
	(void)x;
	xsd_stop(&H.xsd);
	if (xsd_start(&H.xsd, H.stub, NULL)) {
		violation(o, V_AGAIN, "xenstored does not start again");
		return NULL;
	}
	make_domains();
	return H.xsd.socket;
}

/* A wrapper that waits, at the step named (setup or teardown), for the
 * go file once it has made the marker, then runs the real script. */
static void write_waiting_wrapper(const char *path, const char *step, const char *marker)
{
	char body[PATH_MAX * 6];

	snprintf(body, sizeof(body),
	         "if [ \"$1\" = %s ]; then\n"
	         "  touch %s\n"
	         "  while [ ! -e %s.go ]; do sleep 0.02; done\n"
	         "fi\n"
	         "exec %s \"$@\"",
	         step, marker, marker, H.script);
	write_script(path, body);
}

static void xenstored_faults(void)
{
	struct fault_req req = {.op = op_named("nic.setup"), .point = -1, .abort_at = -1};
	struct ext x = {.ready = marker_ready, .act = kill_xenstored, .between = restart_xenstored};
	const char *steps[] = {"setup", "teardown"};

	for (int i = 0; i < 2; i++) {
		char what[64], *wrapper = tmp_path(i ? "xsd-td.sh" : "xsd-su.sh");

		snprintf(x.marker, sizeof(x.marker), "%s", tmp_path(i ? "xsd-td" : "xsd-su"));
		write_waiting_wrapper(wrapper, steps[i], x.marker);
		req.nic_script = wrapper;
		/* where the NIC gets READY its teardown is an operation of its
		 * own; elsewhere the teardown is the failed setup's rollback */
		if (i && H.plug)
			req.op = op_named("nic.teardown");
		x.acted = false;
		snprintf(what, sizeof(what), "xenstored.killed-%s", steps[i]);
		ext_run(what, &req, &x, rc_error, H.nic_setup_rc);
	}
}

/* ------------------------------------------------ the network under it */

static const char *recreate_vif(struct ext *x, struct outcome *o)
{
	(void)x;
	if (system("ip link add vif9.0 type veth peer name eth9 2>/dev/null; "
	           "ip link set vif9.0 up && ip link set eth9 up"))
		violation(o, V_AGAIN, "cannot make vif9.0 again");
	return NULL;
}

static void ifb_fault(void)
{
	struct fault_req req = {.op = op_named("nic.setup"), .point = -1, .abort_at = -1};
	char body[PATH_MAX * 6];
	const char *ifb_wrapper = tmp_path("ifb-del.sh");

	/* the script made the IFB and said so; it goes before the library
	 * looks at it */
	snprintf(body, sizeof(body),
	         "%s \"$@\"; rc=$?\n"
	         "if [ \"$1\" = setup ] && [ $rc = 0 ]; then\n"
	         "  ip link del \"$(xenstore-read \"$XENBUS_PATH/ifb\")\"\n"
	         "fi\n"
	         "exit $rc",
	         H.script);
	write_script(ifb_wrapper, body);
	req.nic_script = ifb_wrapper;
	ext_run("ifb.deleted", &req, NULL, rc_error, H.nic_setup_rc);
}

static void vif_fault(void)
{
	struct fault_req req = {.op = op_named("nic.setup"), .point = -1, .abort_at = -1};
	struct ext vif = {.between = recreate_vif};
	char body[PATH_MAX * 6];
	const char *vif_wrapper = tmp_path("vif-del.sh");

	/* the vif goes (the guest is destroyed) right after the script */
	snprintf(body, sizeof(body),
	         "%s \"$@\"; rc=$?\n"
	         "[ \"$1\" = setup ] && ip link del vif9.0\n"
	         "exit $rc",
	         H.script);
	write_script(vif_wrapper, body);
	req.nic_script = vif_wrapper;
	ext_run("vif.removed", &req, &vif, rc_error, H.nic_setup_rc);
}

/* ------------------------------------------- the network under a READY NIC */

/* The child made the marker: its NIC is READY.  Act, then let it go on. */
static void act_then_go(struct ext *x, const char *cmd)
{
	char go[PATH_MAX + 4];

	if (system(cmd))
		fprintf(stderr, "ckpt-fault: %s failed\n", cmd);
	snprintf(go, sizeof(go), "%s.go", x->marker);
	touch(go);
}

static void delete_ifb(struct ext *x, pid_t child)
{
	(void)child;
	act_then_go(x, "ip link del \"$(ip -o link show type ifb | "
	               "sed -n 's/^[0-9]*: \\([^:@]*\\).*/\\1/p' | head -n 1)\"");
}

static void delete_vif(struct ext *x, pid_t child)
{
	(void)child;
	act_then_go(x, "ip link del vif9.0");
}

static void run_faults(void)
{
	struct fault_req req = {.op = op_named("nic.checkpoints"), .point = -1, .abort_at = -1};
	struct ext ifb = {.ready = marker_ready, .act = delete_ifb};
	struct ext vif = {.ready = marker_ready, .act = delete_vif, .between = recreate_vif};

	snprintf(ifb.marker, sizeof(ifb.marker), "%s", tmp_path("run-ifb"));
	req.pause_marker = ifb.marker;
	/* the teardown's release of the plug finds none: its rc says so
	 * (docs/devices.md, "teardown's rc"), and nothing is left */
	req.teardown_rc = CKPT_ERROR_NOTFOUND;
	/* the frames it held go with it: the harness's own check that the
	 * packets invariant sees a loss */
	req.packets_lost = true;
	ext_run("ifb.deleted-run", &req, &ifb, rc_notfound, H.nic_setup_rc);
	req.packets_lost = false;
	/* what the IFB held goes nowhere once the vif is gone (nor is there a
	 * vif for the packet socket): no packets invariant */
	req.no_packets = true;
	snprintf(vif.marker, sizeof(vif.marker), "%s", tmp_path("run-vif"));
	req.pause_marker = vif.marker;
	req.teardown_rc = 0;
	ext_run("vif.removed-run", &req, &vif, rc_notfound, H.nic_setup_rc);
}

/* 200 notifications to the link group: more than a squeezed watch holds */
#define FLOOD                                                                                      \
	"for i in $(seq 100); do echo link add ckflood$i type ifb; echo link del ckflood$i; "      \
	"done | ip -batch -"

static void flood(struct ext *x, pid_t child)
{
	(void)child;
	act_then_go(x, FLOOD);
}

/* the IFB's deletion comes while the watch's socket is full: its
 * notification is lost with the others */
static void flood_then_delete_ifb(struct ext *x, pid_t child)
{
	(void)child;
	act_then_go(x, FLOOD "; ip link del \"$(ip -o link show type ifb | "
	                     "sed -n 's/^[0-9]*: \\([^:@]*\\).*/\\1/p' | head -n 1)\"");
}

static bool rc_ok(int rc)
{
	return rc == 0;
}

/* The link watch's socket squeezed and flooded: ENOBUFS, notifications
 * lost.  Its READY NIC must stay READY when nothing of its went (a false
 * "gone" would stop checkpoints that work), and fail as gone when its IFB
 * went among the lost ones. */
static void enobufs_faults(void)
{
	struct fault_req req = {.op = op_named("nic.checkpoints"),
	                        .point = -1,
	                        .abort_at = -1,
	                        .squeeze_watch = true};
	struct ext x = {.ready = marker_ready, .act = flood};

	snprintf(x.marker, sizeof(x.marker), "%s", tmp_path("flood"));
	req.pause_marker = x.marker;
	ext_run("netlink.enobufs-run", &req, &x, rc_ok, H.nic_setup_rc);
	x = (struct ext){.ready = marker_ready, .act = flood_then_delete_ifb};
	snprintf(x.marker, sizeof(x.marker), "%s", tmp_path("flood-ifb"));
	req.pause_marker = x.marker;
	req.teardown_rc = CKPT_ERROR_NOTFOUND;
	req.packets_lost = true;
	ext_run("netlink.enobufs-ifb-run", &req, &x, rc_notfound, H.nic_setup_rc);
}

static void kill_run(struct ext *x, pid_t child);
static void recover_run(struct ext *x, struct outcome *o);

/* The application SIGKILLed while its READY NIC holds the guest's output. */
static void kill_run_fault(void)
{
	struct fault_req req = {.op = op_named("nic.checkpoints"), .point = -1, .abort_at = -1};
	struct ext x = {.ready = marker_ready, .act = kill_run, .after_kill = recover_run};

	snprintf(x.marker, sizeof(x.marker), "%s", tmp_path("run-kill"));
	req.pause_marker = x.marker;
	ext_run("process.killed-run", &req, &x, NULL, 0);
}

/* ------------------------------------------------ the application aborts */

static void abort_faults(bool disk, bool nic)
{
	struct fault_req req = {.op = op_named("disk.setup"), .point = -1};

	/* every turn of the loop of a disk devset's setup, until the setup
	 * ends before the abort comes (at most 64 turns) */
	for (int k = 0; disk && k < 64; k++) {
		struct outcome o = {
		        .what = "app.abort", .op = req.op->name, .nth = (unsigned)k + 1};

		req.abort_at = k;
		run_one(&req, &o, NULL);
		if (o.rc != FAULT_HUNG && !rc_aborted_or_done(o.rc))
			violation(&o, V_RC, "completed with %s after an abort",
			          ckpt_strerror(o.rc));
		record(&o);
		if (o.rc == 0)
			break;
	}
	if (!nic || !H.net)
		return;
	/* a NIC's: after 1, 2, 4, ... turns (each run costs two script runs) */
	req.op = op_named("nic.setup");
	for (int k = 0; k < 256; k = k ? 2 * k : 1) {
		struct outcome o = {.what = "app.abort",
		                    .op = req.op->name,
		                    .nth = (unsigned)k + 1,
		                    .want_again = H.nic_setup_rc};

		req.abort_at = k;
		run_one(&req, &o, NULL);
		if (o.rc != FAULT_HUNG && !rc_aborted_or_done(o.rc))
			violation(&o, V_RC, "completed with %s after an abort",
			          ckpt_strerror(o.rc));
		record(&o);
		if (o.rc != CKPT_ERROR_ABORTED)
			break;
	}
}

/* ------------------------------------------- the application is killed */

/* The application dies; its script, which does not know, then ends (the
 * library's supervisor with it). */
static void kill_run(struct ext *x, pid_t child)
{
	char go[PATH_MAX + 4];

	kill(child, SIGKILL);
	snprintf(go, sizeof(go), "%s.go", x->marker);
	touch(go);
}

/* What an operator does after a crash: `ckptdev teardown ARGS`.  Where the
 * NIC gets READY, the guest goes on sending into the plug nobody drives
 * now, which holds it: 8 frames numbered on from held_before (what the
 * run sent before it died) must stay held until the recovery, and every
 * one of them come out after it, once and in order. */
static void recover_with(struct outcome *o, const char *args, unsigned held_before)
{
	struct frames guest;
	char cmd[PATH_MAX * 3], said[96], *ifbs, *said_by;
	bool counted;
	int r;

	/* the script's end, then its supervisor's, come to us (subreaper) */
	for (long long end = now_ms() + 10000; now_ms() < end;) {
		world_reap_dead_orphans(H.xsd.pid, 0);
		if (!world_children(getpid(), H.xsd.pid, 0, NULL, 0))
			break;
		usleep(20000);
	}
	/* the fault must have left something for the recovery to do */
	ifbs = world_sh("ip -o link show type ifb");
	if (!strstr(ifbs, "ifb-"))
		violation(o, V_REACHED, "no IFB was left by the killed process: nothing recovered");
	free(ifbs);
	counted = H.plug && frames_open(&guest, "eth9", "vif9.0");
	if (H.plug && !counted)
		violation(o, V_PACKETS, "cannot send the guest's frames");
	if (counted) {
		guest.sent = held_before;
		frames_send(&guest, 8);
		if (frames_collect(&guest, 200))
			violation(o, V_PACKETS, "the IFB left by the crash did not hold: %s",
			          frames_describe(&guest, said, sizeof(said)));
	}
	/* the script's timeout as for a loaded test VM (the tool's own is
	 * 10 s) */
	snprintf(cmd, sizeof(cmd), "%s teardown %s --script %s --timeout 120000 >%s 2>&1",
	         H.ckptdev, args, H.script, tmp_path("recover.log"));
	r = system(cmd);
	if (r) {
		snprintf(cmd, sizeof(cmd), "tail -c 600 %s", tmp_path("recover.log"));
		said_by = world_sh(cmd);
		violation(o, V_AGAIN, "`ckptdev teardown %s` exited %d: %s", args,
		          WIFEXITED(r) ? WEXITSTATUS(r) : -1, said_by);
		free(said_by);
	}
	if (counted) {
		frames_collect(&guest, 2000);
		if (!frames_all_delivered(&guest))
			violation(o, V_PACKETS, "after `ckptdev teardown %s`: %s", args,
			          frames_describe(&guest, said, sizeof(said)));
		frames_close(&guest);
	}
}

/* Killed in its NIC's setup: the operator names the NIC. */
static void recover(struct ext *x, struct outcome *o)
{
	(void)x;
	recover_with(o, "--domid 9 --nic vif9.0", 0);
}

/* Killed while its READY NIC held the 8 frames the run sent: the operator
 * names the domain only, and the tool finds the NIC in xenstore. */
static void recover_run(struct ext *x, struct outcome *o)
{
	(void)x;
	recover_with(o, "--domid 9", 8);
}

static void kill_faults(void)
{
	struct fault_req req = {.op = op_named("nic.setup"), .point = -1, .abort_at = -1};
	struct ext x = {.ready = marker_ready, .act = kill_run, .after_kill = recover};
	char body[PATH_MAX * 6];
	const char *wrapper = tmp_path("held.sh");

	if (!H.ckptdev) {
		printf("not run: process.killed (no --ckptdev)\n");
		return;
	}
	/* the script has made everything; the process dies before it ends */
	snprintf(x.marker, sizeof(x.marker), "%s", tmp_path("held"));
	snprintf(body, sizeof(body),
	         "%s \"$@\" || exit\n"
	         "[ \"$1\" = setup ] || exit 0\n"
	         "touch %s\n"
	         "while [ ! -e %s.go ]; do sleep 0.02; done",
	         H.script, x.marker, x.marker);
	write_script(wrapper, body);
	req.nic_script = wrapper;
	ext_run("process.killed", &req, &x, NULL, 0);
}

/* --only TEXT picks the faults whose names or operation hold TEXT;
 * --skip NAME leaves one out. */
static bool wanted(const char *names, const char *op)
{
	if (H.skip && !strcmp(names, H.skip)) {
		printf("skipped (--skip): %s\n", names);
		return false;
	}
	return !H.only || strstr(names, H.only) || strstr(op, H.only);
}

void external_faults(void)
{
	if (H.point)
		return;
	if (wanted("script.killed script.hung", "disk.setup"))
		script_faults();
	if (!(H.skip && !strcmp(H.skip, "app.abort")))
		abort_faults(wanted("app.abort", "disk.setup"), wanted("app.abort", "nic.setup"));
	else
		printf("skipped (--skip): app.abort\n");
	if (!H.net)
		return;
	if (wanted("xenstored.killed-setup xenstored.killed-teardown", "nic.setup"))
		xenstored_faults();
	if (wanted("ifb.deleted", "nic.setup"))
		ifb_fault();
	if (wanted("vif.removed", "nic.setup"))
		vif_fault();
	if (wanted("process.killed", "nic.setup"))
		kill_faults();
	if (!H.plug) {
		printf("not run here: ifb.deleted-run, vif.removed-run, netlink.enobufs-run, "
		       "netlink.enobufs-ifb-run, process.killed-run (need a READY NIC: sch_plug, "
		       "the "
		       "VM)\n");
		return;
	}
	if (wanted("ifb.deleted-run vif.removed-run", "nic.checkpoints"))
		run_faults();
	if (wanted("netlink.enobufs-run netlink.enobufs-ifb-run", "nic.checkpoints"))
		enobufs_faults();
	if (wanted("process.killed-run", "nic.checkpoints") && H.ckptdev)
		kill_run_fault();
}
