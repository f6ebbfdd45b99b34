/*
 * ckpt-fault - the fault-injection harness.
 *
 * For every fault point the library lists and every operation of the
 * sweep that passes it (see fault_ops in run.c), fail the 1st, 2nd, ...
 * pass of that point within the operation, and once more with the point
 * armed one pass beyond the last, where the operation must give what it
 * gives unarmed.  Then faults in the world the library depends on
 * (external.c).  After every run, from outside the library:
 *
 *   rc        the operation ended with its unarmed rc or an error code
 *             (never hung, never a code outside the table);
 *   once      every completion came exactly once;
 *   fds       the process has the fds it had before;
 *   procs     no child, grandchild or zombie is left (the harness is a
 *             subreaper: what a run leaves becomes its child);
 *   xenstore  every node below /libxl is what it was before (each domain's
 *             /libxl/<domid> exists, as a toolstack makes it);
 *   kernel    links, qdiscs and filters in the harness's namespace are
 *             what they were before;
 *   exit      the run's process exits 0 (in an ASan build LeakSanitizer
 *             fails it on a leak);
 *   again     the devset is set up again, runs checkpoints and tears down
 *             as it does unarmed, leaving the same world;
 *   packets   where the NIC gets READY (sch_plug): the frames the guest
 *             sent once it was READY all came out of the buffer, once and
 *             in order, by the time its IFB was gone, whether the run
 *             removed it or the cleanup after it did (frames.h).
 *
 * The table at the end has one row per point (or fault) and operation:
 * runs, runs where every invariant held, runs that violated one, and
 * which.  Exit status: 0 if nothing was violated, 1 otherwise, 2 on a
 * usage error, 4 if a part could not run here (with --no-skip: 1).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "harness.h"

struct harness H;

/* ------------------------------------------------------------- the table */

static const char *const invariant_names[V__COUNT] = {
        [V_RC] = "rc",       [V_ONCE] = "once",       [V_FDS] = "fds",         [V_PROCS] = "procs",
        [V_XS] = "xenstore", [V_KERNEL] = "kernel",   [V_EXIT] = "exit",       [V_AGAIN] = "again",
        [V_HUNG] = "hung",   [V_REACHED] = "reached", [V_PACKETS] = "packets",
};

struct row *table_row(const char *what, const char *op)
{
	for (int i = 0; i < H.nrows; i++)
		if (!strcmp(H.rows[i].what, what) && !strcmp(H.rows[i].op, op))
			return &H.rows[i];
	if (H.nrows == MAX_ROWS) {
		fprintf(stderr, "ckpt-fault: more than %d rows\n", MAX_ROWS);
		exit(3);
	}
	snprintf(H.rows[H.nrows].what, sizeof(H.rows[0].what), "%s", what);
	snprintf(H.rows[H.nrows].op, sizeof(H.rows[0].op), "%s", op);
	return &H.rows[H.nrows++];
}

static void print_table(void)
{
	int runs = 0, held = 0, left = 0, bad = 0;

	printf("\n%-26s %-19s %4s %4s %4s %8s %6s  %s\n", "point/fault", "operation", "runs",
	       "held", "left", "violated", "s", "failed invariants");
	for (int i = 0; i < H.nrows; i++) {
		struct row *r = &H.rows[i];
		char failed[160] = "";
		size_t used = 0;

		for (int v = 0; v < V__COUNT; v++)
			if (r->failed[v])
				used += (size_t)snprintf(failed + used, sizeof(failed) - used,
				                         "%s%s(%d)", used ? " " : "",
				                         invariant_names[v], r->failed[v]);
		printf("%-26s %-19s %4d %4d %4d %8d %6.1f  %s\n", r->what, r->op, r->runs,
		       r->runs - r->violated, r->left, r->violated, r->ms / 1000.0, failed);
		runs += r->runs;
		held += r->runs - r->violated;
		left += r->left;
		bad += r->violated;
	}
	printf("totals: %d rows, %d runs, %d held (%d of them after a cleanup), %d violated\n",
	       H.nrows, runs, held, left, bad);
	/* the line scripts/check-tiers adds up: a run is a test */
	printf("ckpt-fault: %d passed, %d failed\n", held, bad);
}

/* --------------------------------------------------------------- one run */

static void put_line(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) < 0)
		perror("ckpt-fault: write");
}

/* Read exactly len bytes within ms, acting on ext meanwhile; 0 or -1. */
static int get_exact(int fd, void *buf, size_t len, int ms, struct ext *ext, pid_t child)
{
	size_t got = 0;
	long long deadline = now_ms() + ms;

	while (got < len) {
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t n;

		if (now_ms() > deadline)
			return -1;
		if (ext && ext->act && !ext->acted && ext->ready(ext, child)) {
			ext->acted = true;
			ext->act(ext, child);
		}
		if (poll(&p, 1, 10) <= 0)
			continue;
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

void violation(struct outcome *o, enum invariant v, const char *fmt, ...)
{
	va_list ap;

	o->bad |= 1u << v;
	if (o->said++ > 3)
		return;
	fprintf(stderr, "VIOLATION %s / %s", o->what, o->op);
	if (o->nth)
		fprintf(stderr, " pass %u", o->nth);
	fprintf(stderr, ": %s: ", invariant_names[v]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* After a violation, put the namespace back as the harness made it, so
 * that the next runs are judged on their own. */
static void restore_netns(void)
{
	if (system("for i in $(ip -o link show type ifb | sed 's/^[0-9]*: \\([^:@]*\\).*/\\1/');"
	           " do ip link del \"$i\"; done 2>/dev/null;"
	           " tc qdisc del dev vif9.0 clsact 2>/dev/null; exit 0"))
		fprintf(stderr, "ckpt-fault: could not restore the namespace\n");
}

/* The world after a phase against the one before the run: the parts
 * that differ (WORLD_*), told as violations unless tolerated (then kept
 * in o->left).  Processes left running are never tolerated. */
static int check_world(struct outcome *o, const struct world *before, pid_t child,
                       const char *phase, bool tolerate, struct world *keep)
{
	struct world after;
	char diff[300], who[300];
	int bits;

	world_take(&after, before->kernel != NULL);
	bits = world_diff(before, &after, diff, sizeof(diff));
	if (bits && tolerate) {
		o->left = true;
		if (H.verbose)
			printf("%s / %s pass %u: left (for the cleanup): %s\n", o->what, o->op,
			       o->nth, diff);
	} else {
		if (bits & WORLD_XS)
			violation(o, V_XS, "%s: /libxl changed: %s", phase, diff);
		if (bits & WORLD_KERNEL) {
			violation(o, V_KERNEL, "%s: kernel objects changed: %s", phase, diff);
			restore_netns();
		}
	}
	if (keep && !bits)
		*keep = after; /* the next run's "before" */
	else
		world_dispose(&after);
	world_reap_dead_orphans(H.xsd.pid, child);
	/* a process the library SIGKILLed a moment ago dies when the kernel
	 * gets to it, which on a loaded machine may take a while: wait for it
	 * (bounded), then judge */
	for (long long end = now_ms() + 10000;
	     world_dying_children(getpid(), H.xsd.pid, child) && now_ms() < end;) {
		usleep(5000);
		world_reap_dead_orphans(H.xsd.pid, child);
	}
	world_reap_dead_orphans(H.xsd.pid, child); /* died since the last look */
	if (world_children(getpid(), H.xsd.pid, child, who, sizeof(who))) {
		violation(o, V_PROCS, "%s: processes left: %s", phase, who);
		world_reap_children(H.xsd.pid, child);
	}
	return bits;
}

int run_one(const struct fault_req *req, struct outcome *o, struct ext *ext)
{
	int up[2], down[2], status = 0;
	struct fault_res1 r1;
	struct fault_res2 r2;
	struct world before;
	const char *xs_path;
	char word[PATH_MAX + 2];
	int left;
	pid_t pid;

	o->start_ms = now_ms();
	/* the world as the last run left it, if it was found as before */
	if (H.last.xs && (H.last.kernel != NULL) == (req->op->profile == PROF_NIC)) {
		before = H.last;
		H.last = (struct world){0};
	} else {
		world_dispose(&H.last);
		world_take(&before, req->op->profile == PROF_NIC);
	}
	if (pipe2(up, O_CLOEXEC) || pipe2(down, O_CLOEXEC)) {
		perror("ckpt-fault: pipe");
		exit(3);
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("ckpt-fault: fork");
		exit(3);
	}
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		fault_child(req, up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);

	memset(&r1, 0, sizeof(r1));
	if (get_exact(up[0], &r1, sizeof(r1), 300000, ext, pid)) {
		if (!(ext && ext->after_kill && ext->acted))
			violation(o, V_HUNG,
			          "no report from the run (killed after 300 s or it crashed)");
		kill(pid, SIGKILL);
		r1.rc = FAULT_HUNG;
	}
	if (ext && ext->after_kill) {
		/* the run's process was killed by the fault itself */
		waitpid(pid, &status, 0);
		o->rc = FAULT_HUNG;
		ext->after_kill(ext, o);
		check_world(o, &before, 0, "after recovery", false, NULL);
		goto out;
	}
	o->rc = r1.rc;
	o->reached = r1.reached;
	memcpy(o->passes, r1.passes, sizeof(o->passes));
	if (r1.rc == FAULT_HUNG)
		violation(o, V_HUNG, "the operation never completed");
	if (r1.callbacks_bad)
		violation(o, V_ONCE, "%d completion(s) not called exactly once", r1.callbacks_bad);
	if (r1.fds_after != r1.fds_before)
		violation(o, V_FDS, "%d fds before, %d after", r1.fds_before, r1.fds_after);
	if (r1.children)
		violation(o, V_PROCS, "the run's own children left: %s", r1.detail);
	else if (r1.state_bad || r1.free_failed)
		violation(o, V_ONCE, "devset or ctx not back to rest: %s",
		          r1.detail[0] ? r1.detail : "free refused");
	else if (r1.detail[0])
		violation(o, V_RC, "%s", r1.detail);
	if (req->squeeze_watch && r1.rc != FAULT_HUNG && r1.watch_drops <= 0)
		violation(o, V_REACHED,
		          "the link watch lost no notification (drops: %ld): no ENOBUFS",
		          r1.watch_drops);
	if (req->packets_lost && r1.packets != PK_LOST)
		violation(o, V_PACKETS,
		          "frames that went with their IFB counted as delivered (%s): "
		          "the packets check is blind",
		          r1.packets_detail);
	else if (!req->packets_lost && r1.packets == PK_LOST)
		violation(o, V_PACKETS, "the guest's output: %s", r1.packets_detail);
	/* mend what the fault broke in the world (a new xenstored: then
	 * compare with what the new one holds) */
	xs_path = ext && ext->between ? ext->between(ext, o) : NULL;
	if (xs_path) {
		struct world fresh;

		world_take(&fresh, false);
		free(before.xs);
		before.xs = fresh.xs;
	}
	/* a failed operation may leave what ckpt_devset_cleanup removes (a
	 * fault in its own rollback): the second life starts with it */
	left = check_world(o, &before, pid, "after the run",
	                   r1.rc != 0 && req->op->profile != PROF_CORE, NULL);
	/* the NIC's second life (two script runs) only where the run left
	 * something or broke an invariant: elsewhere the world's listing
	 * already says the devset's ground is as before */
	if (!left && !o->bad && req->op->profile == PROF_NIC && !H.full && !ext &&
	    r1.packets != PK_HELD) {
		put_line(down[1], "S");
		waitpid(pid, &status, 0);
		goto waited;
	}
	snprintf(word, sizeof(word), "%c%s", left ? 'C' : '-', xs_path ? xs_path : "");
	put_line(down[1], word);
	if (get_exact(up[0], &r2, sizeof(r2), 300000, NULL, pid)) {
		violation(o, V_AGAIN, "no report from the second life");
		kill(pid, SIGKILL);
	} else {
		o->again_rc = r2.rc;
		if (r2.cleanup_failed)
			violation(o, V_AGAIN, "ckpt_devset_cleanup of what the run left: %s",
			          ckpt_strerror(r2.cleanup_failed));
		if (r2.rc != o->want_again)
			violation(o, V_AGAIN, "set up again: %s, unarmed it gives %s",
			          ckpt_strerror(r2.rc), ckpt_strerror(o->want_again));
		if (r1.packets == PK_HELD && r2.packets != PK_DELIVERED)
			violation(o, V_PACKETS, "the guest's output after the cleanup: %s",
			          r2.packets_detail);
		if (r2.callbacks_bad || r2.fds_after != r2.fds_before || r2.children)
			violation(o, V_AGAIN,
			          "second life: %d bad completions, fds %d -> %d, %d children",
			          r2.callbacks_bad, r2.fds_before, r2.fds_after, r2.children);
	}
	waitpid(pid, &status, 0);
waited:
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		violation(o, V_EXIT, "the run's process %s %d (in an ASan build: a report above)",
		          WIFEXITED(status) ? "exited" : "died of signal",
		          WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	check_world(o, &before, 0,
	            left ? "after the cleanup and the second life" : "after the second life", false,
	            &H.last);
out:
	close(up[0]);
	close(down[1]);
	world_dispose(&before);
	return o->bad ? -1 : 0;
}

void record(struct outcome *o)
{
	struct row *r = table_row(o->what, o->op);

	r->runs++;
	r->ms += now_ms() - o->start_ms;
	if (o->bad)
		r->violated++;
	else if (o->left)
		r->left++;
	for (int v = 0; v < V__COUNT; v++)
		if (o->bad & (1u << v))
			r->failed[v]++;
}

/* -------------------------------------------------------------- the sweep */

/* Is rc one a fault there may give?  The unarmed rc (a fault that does
 * not surface, e.g. a timeout armed after the script ended), the injected
 * code, or what a real failure at that point gives. */
static bool rc_allowed(int rc, int unarmed)
{
	return rc == unarmed || rc == CKPT_ERROR_FAULT || rc == CKPT_ERROR_SCRIPT ||
	       rc == CKPT_ERROR_TIMEDOUT || rc == CKPT_ERROR_XENSTORE || rc == CKPT_ERROR_NETLINK;
}

static bool op_wanted(const struct fault_op *op)
{
	if (op->profile == PROF_NIC && !H.net)
		return false;
	/* past the setup, a NIC's operations need it READY: sch_plug */
	if (op->profile == PROF_NIC && !H.plug && strcmp(op->name, "nic.setup")) {
		if (!H.only && !H.point)
			printf("not run here: %s (needs a READY NIC: sch_plug, the VM)\n",
			       op->name);
		return false;
	}
	if (op->profile == PROF_KIND && !fault_cfg.kind_register)
		return false;
	if (H.only && !strstr(op->name, H.only))
		return false;
	return true;
}

/* The NIC's sweep leaves out the points of the core's event registration
 * (timer.register, fd.register): the disk and core sweeps pass the same
 * code, and each NIC run costs two hotplug script runs. */
static bool point_wanted(const struct fault_op *op, const char *point)
{
	if (H.point && strcmp(H.point, point))
		return false;
	if (op->profile == PROF_NIC && !H.full && strchr("tf", point[0]))
		return false;
	return true;
}

static void sweep_op(const struct fault_op *op, unsigned *reached)
{
	struct fault_req req = {.op = op, .point = -1, .count = true, .abort_at = -1};
	struct outcome dry = {.what = "(unarmed)", .op = op->name};
	const char *const *names;
	size_t npoints;
	int unarmed;

	names = ckpt_fault_list(&npoints);
	/* the dry run: the unarmed rc, and how often each point is passed */
	dry.want_again = op->profile == PROF_NIC ? H.nic_setup_rc : 0;
	run_one(&req, &dry, NULL);
	record(&dry);
	unarmed = dry.rc;
	if (op->profile == PROF_NIC && unarmed != H.nic_setup_rc)
		fprintf(stderr, "ckpt-fault: %s gives %s unarmed, expected %s\n", op->name,
		        ckpt_strerror(unarmed), ckpt_strerror(H.nic_setup_rc));
	for (size_t p = 0; p < npoints && p < FAULT_MAX_POINTS; p++) {
		unsigned passes = dry.passes[p];

		if (!passes)
			continue;
		reached[p] += passes;
		if (!point_wanted(op, names[p]))
			continue;
		if (H.verbose)
			printf("%s: %s passed %u time(s)\n", op->name, names[p], passes);
		/* fail each pass, then arm one beyond the last (for the NIC
		 * only with --full: each run costs script runs, and the dry
		 * run passes the same code with every counter running) */
		unsigned last = passes + (op->profile == PROF_NIC && !H.full ? 0 : 1);

		for (unsigned nth = 1; nth <= last; nth++) {
			struct outcome o = {.what = names[p],
			                    .op = op->name,
			                    .nth = nth,
			                    .want_again = dry.want_again};

			req = (struct fault_req){
			        .op = op, .point = (int)p, .nth = nth, .abort_at = -1};
			run_one(&req, &o, NULL);
			if (o.rc != FAULT_HUNG) {
				if (nth <= passes && !o.reached)
					violation(&o, V_REACHED,
					          "pass %u not reached (%u in the dry run)", nth,
					          passes);
				if (nth > passes && o.rc != unarmed)
					violation(&o, V_RC,
					          "armed beyond the last pass: %s, unarmed %s",
					          ckpt_strerror(o.rc), ckpt_strerror(unarmed));
				else if (!rc_allowed(o.rc, unarmed))
					violation(&o, V_RC, "completed with %s (%d)",
					          ckpt_strerror(o.rc), o.rc);
			}
			record(&o);
		}
	}
}

/* Every operation; a point reached by none is a violation, except where
 * this machine cannot reach it (listed). */
static void sweep_points(void)
{
	unsigned reached[FAULT_MAX_POINTS] = {0};
	const char *const *names;
	size_t npoints;

	for (size_t i = 0; i < fault_n_ops; i++)
		if (op_wanted(&fault_ops[i]))
			sweep_op(&fault_ops[i], reached);
	if (H.only || H.point)
		return;
	names = ckpt_fault_list(&npoints);
	for (size_t p = 0; p < npoints; p++) {
		bool needs_plug = !strcmp(names[p], "nl.buffer") || !strcmp(names[p], "nl.release");
		bool needs_net = !strncmp(names[p], "nl.", 3);

		if (reached[p])
			continue;
		if ((needs_plug && !H.plug) || (needs_net && !H.net)) {
			printf("not reached here: %s (%s)\n", names[p],
			       needs_plug ? "needs a READY NIC: sch_plug, the VM tier"
			                  : "needs a netns");
			continue;
		}
		struct outcome o = {.what = names[p], .op = "(any)"};
		violation(&o, V_REACHED, "no operation of the sweep passes this point");
		record(&o);
	}
}

/* ---------------------------------------------------------------- setup */

/* Each domain's folder exists, as a toolstack's domain creation makes it:
 * what the library must leave is below it. */
void make_domains(void)
{
	static const char *const doms[] = {"/libxl/7", "/libxl/9", "/libxl/11", "/libxl/13"};
	struct xs_handle *xs = xs_open(0);

	for (size_t i = 0; xs && i < sizeof(doms) / sizeof(doms[0]); i++)
		xs_write(xs, XBT_NULL, doms[i], "", 0);
	if (xs)
		xs_close(xs);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ckpt-fault [options]\n"
	           "Sweeps every fault point of libckptdev over devset setup, teardown,\n"
	           "checkpoints, release_all/rearm, ckpt_exec and xswait, then injects\n"
	           "faults in the world (scripts, xenstored, the network), checking after\n"
	           "every run that nothing leaked and the devset works again.  Needs root\n"
	           "(a private network namespace) and xenstored (xen-utils-4.17).\n"
	           "  --kind-lib PATH   also sweep an application's device kind: a shared\n"
	           "                    object exporting\n"
	           "                      int ckpt_fault_harness_register(ckpt_ctx *ctx,\n"
	           "                          const char **kind_out,\n"
	           "                          const char *const **params_out);\n"
	           "                    which registers the kind on ctx and names it and one\n"
	           "                    device's parameters.  Do not link it with\n"
	           "                    -lckptdev: the harness carries the library.\n"
	           "  --only TEXT       only the operations whose name holds TEXT, and the\n"
	           "                    faults whose name or operation does\n"
	           "  --point NAME      only that fault point\n"
	           "  --skip NAME       leave out that fault of the world\n"
	           "  --full            the NIC sweep as thorough as the others: also the\n"
	           "                    core's timer and fd registrations, each point armed\n"
	           "                    beyond its last pass, and every run's second life\n"
	           "  --no-external     only the fault points, no faults in the world\n"
	           "  --no-sweep        only the faults in the world\n"
	           "  --script PATH     the NIC hotplug script (remus-netbuf-setup)\n"
	           "  --ckptdev PATH    the ckptdev tool (for the crash recovery)\n"
	           "  --no-skip         a part that cannot run here fails the run\n"
	           "  --verbose         the library's log at debug level, and every pass\n"
	           "Exit status: 0 all invariants held; 1 a violation; 2 usage; 4 skipped.\n");
}

static void load_kind_lib(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		fprintf(stderr, "ckpt-fault: --kind-lib %s: %s\n", path, dlerror());
		exit(2);
	}
	*(void **)&fault_cfg.kind_register = dlsym(h, "ckpt_fault_harness_register");
	if (!fault_cfg.kind_register) {
		fprintf(stderr,
		        "ckpt-fault: --kind-lib %s: no function ckpt_fault_harness_register in "
		        "it\n",
		        path);
		exit(2);
	}
}

/* A private network namespace with the vif the NIC profile uses. */
static bool make_netns(void)
{
	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "ckpt-fault: unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return false;
	}
	return !system("ip link set lo up && "
	               "ip link add vif9.0 type veth peer name eth9 && "
	               "ip link set vif9.0 up && ip link set eth9 up");
}

static void skip(const char *why)
{
	printf("skipped: %s\n", why);
	H.skipped = true;
}

static pid_t main_pid;

/* atexit: the folder goes with the harness, not with its runs' processes. */
static void rm_tmpdir(void)
{
	char cmd[PATH_MAX + 16];

	if (getpid() != main_pid)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", H.tmpdir);
	if (H.tmpdir[0] && system(cmd))
		fprintf(stderr, "ckpt-fault: could not remove %s\n", H.tmpdir);
}

void write_script(const char *path, const char *body)
{
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "#!/bin/sh\n%s\n", body) < 0 || fclose(f) || chmod(path, 0755)) {
		fprintf(stderr, "ckpt-fault: cannot write %s\n", path);
		exit(3);
	}
}

static const char *exe_dir(void)
{
	static char dir[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);

	if (n <= 0)
		return ".";
	dir[n] = 0;
	*strrchr(dir, '/') = 0;
	return dir;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"kind-lib", required_argument, NULL, 'k'},
	                                         {"only", required_argument, NULL, 'o'},
	                                         {"script", required_argument, NULL, 's'},
	                                         {"ckptdev", required_argument, NULL, 'c'},
	                                         {"no-skip", no_argument, NULL, 'n'},
	                                         {"no-external", no_argument, NULL, 'x'},
	                                         {"verbose", no_argument, NULL, 'v'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {"point", required_argument, NULL, 'p'},
	                                         {"full", no_argument, NULL, 'f'},
	                                         {"skip", required_argument, NULL, 'S'},
	                                         {"no-sweep", no_argument, NULL, 'W'},
	                                         {NULL, 0, NULL, 0}};
	static char script[PATH_MAX], ok_script[PATH_MAX + 16];
	bool no_skip = false, external = true, sweep = true;
	int c, bad = 0;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			load_kind_lib(optarg);
			break;
		case 'o':
			H.only = optarg;
			break;
		case 's':
			fault_cfg.netbuf_script = optarg;
			break;
		case 'c':
			H.ckptdev = optarg;
			break;
		case 'n':
			no_skip = true;
			break;
		case 'x':
			external = false;
			break;
		case 'W':
			sweep = false;
			break;
		case 'p':
			H.point = optarg;
			break;
		case 'f':
			H.full = true;
			break;
		case 'S':
			H.skip = optarg;
			break;
		case 'v':
			H.verbose = fault_cfg.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ckpt-fault: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!fault_cfg.netbuf_script) {
		snprintf(script, sizeof(script), "%s/../../scripts/remus-netbuf-setup", exe_dir());
		fault_cfg.netbuf_script = script;
	}
	if (access(fault_cfg.netbuf_script, X_OK)) {
		fprintf(stderr, "ckpt-fault: --script %s: %s\n", fault_cfg.netbuf_script,
		        strerror(errno));
		return 2;
	}

	snprintf(H.tmpdir, sizeof(H.tmpdir), "/tmp/ckpt-fault-XXXXXX");
	if (!mkdtemp(H.tmpdir)) {
		perror("ckpt-fault: mkdtemp");
		return 3;
	}
	main_pid = getpid();
	atexit(rm_tmpdir);
	fault_cfg.tmpdir = H.tmpdir;
	snprintf(ok_script, sizeof(ok_script), "%s/ok.sh", H.tmpdir);
	write_script(ok_script, "exit 0");
	fault_cfg.ok_script = ok_script;

	/* what a run leaves behind becomes our child, where we see it */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	H.net = make_netns();
	if (!H.net)
		skip("no private network namespace (root needed): the NIC parts do not run");
	H.plug = H.net && !system("ip link add ckpt-probe type ifb 2>/dev/null && "
	                          "tc qdisc add dev ckpt-probe root plug 2>/dev/null; r=$?; "
	                          "ip link del ckpt-probe 2>/dev/null; exit $r");
	/* where there is no plug, the script's test knob puts a bfifo in its
	 * place, which the library refuses: setup then ends in NOTSUP, and the
	 * sweep follows the setup and its rollback */
	if (!H.plug)
		setenv("NETBUF_QDISC", "bfifo", 1);
	H.nic_setup_rc = H.plug ? 0 : CKPT_ERROR_NOTSUP;
	fault_cfg.plug = H.plug;

	H.script = fault_cfg.netbuf_script;
	snprintf(H.stub, sizeof(H.stub), "%s/libxsd_stub.so", exe_dir());
	if (xsd_start(&H.xsd, H.stub, NULL)) {
		skip("xenstored cannot start (xen-utils-4.17, see above)");
		return no_skip ? 1 : 4;
	}

	make_domains();
	if (sweep)
		sweep_points();
	if (external)
		external_faults();
	xsd_stop(&H.xsd);

	print_table();
	for (int i = 0; i < H.nrows; i++)
		bad += H.rows[i].violated;
	if (bad)
		return 1;
	if (H.skipped)
		return no_skip ? 1 : 4;
	return 0;
}
