/*
 * nic_bench.c - the NIC kind's checkpoint path against the netlink floor
 * and against libxl's way, and what setting NICs up and down costs.
 *
 * checkpoint  K NICs (1, 8, 64, 256), on the same IFBs in the same run,
 *             the methods interleaved round by round, each phase timed on
 *             its own (postsuspend: a plug barrier on every NIC; commit:
 *             release_one on every NIC):
 *               library  ckpt_devset_postsuspend / _preresume / _commit
 *               libxl    libxl_netbuffer.c's way: per NIC
 *                        rtnl_qdisc_plug_buffer (or _release_one) and
 *                        rtnl_qdisc_add(NLM_F_REQUEST), which waits for
 *                        that request's ack before the next NIC
 *               floor    the least the kernel allows: the K requests built
 *                        beforehand, one sendmsg, an ack asked for the last
 *                        only (NETLINK_CAP_ACK), read until that ack
 *             With a real plug (the test VM), IFBs with a root plug and a
 *             devset set up through a stand-in script that only reports
 *             the IFB; the library's checkpoints must allocate nothing and
 *             fail on no NIC.  Without one (this project's host kernel),
 *             the IFBs' root is a pfifo, to which the kernel refuses every
 *             plug request: all three methods then do the same netlink
 *             work, each request answered by an error, and the library is
 *             its backend (nb_plug_request; a devset cannot be set up
 *             without a plug), its per-NIC error log lines discarded.
 *             Those rows are labelled host/pfifo.  There, libxl's way
 *             and the floor run once more ("accepted" rows) with requests
 *             of kind pfifo, which the stand-in accepts (each changes its
 *             limit): the ack traffic a real plug gets.  No qdisc on this
 *             kernel accepts a request of kind plug, the only kind the
 *             library sends, so its row there is an estimate, labelled:
 *             the floor's accepted time times the library/floor ratio of
 *             the refused run.
 *   setup     (real plug only) K = 1, 8, 64 NICs on veth "vifs", with the
 *             real hotplug script: the wall time of ckpt_devset_setup and
 *             of _teardown, and the tasks created meanwhile: the bench
 *             runs in a PID namespace of its own, in which nothing else
 *             runs, and reads the namespace's last PID before and after
 *             (every process the library and the scripts fork, and any
 *             thread, takes one).  Per NIC that is the library's
 *             supervisor, the script's shell and the programs the script
 *             runs; the target (at most 6) is on the last, which is how
 *             the net tier counts the script's processes under strace.
 *
 * BENCH_QUICK=1 or --quick: tiny counts (make bench-quick, make check);
 * it fails only if a step fails or a checkpoint allocates, never on a
 * ratio.
 */
#include <errno.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/fifo.h>
#include <netlink/route/qdisc/plug.h>
#include <netlink/route/tc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xentoollog.h>

#include "../src/netbuf/internal.h"
#include "../tests/harness/test.h"
#include "../tests/xs/xsd_fixture.h"
#include "bench_util.h"
#include "ckptdev.h"

#define KMAX      256
#define HANDLE    0x10000 /* 1: */
#define LIMIT     "1048576"
#define N_METHODS 3

enum method { LIBRARY, LIBXL, FLOOR };
static const char *const method_names[N_METHODS] = {"library", "libxl", "floor"};

static bool quick, have_plug;
static int rounds, cycles;

/* ------------------------------------------------------------- the kernel */

static int sh(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Does this kernel have sch_plug?  Asked in a throwaway namespace. */
static bool kernel_has_plug(void)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		if (unshare(CLONE_NEWNET))
			_exit(2);
		_exit(sh("ip link add ckpt-probe type ifb 2>/dev/null && "
		         "tc qdisc add dev ckpt-probe root plug 2>/dev/null") == 0
		              ? 0
		              : 1);
	}
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* n IFBs ib0.. with a root qdisc of handle 1: (the plug, or its pfifo
 * stand-in), in this process's own network namespace, IPv6 off. */
static void make_ifbs(int n, int ifindex[])
{
	FILE *f;

	if (sh("echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6 && "
	       "echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6"))
		bu_die("cannot switch IPv6 off");
	if (!(f = popen("ip -batch -", "w")))
		bu_die("popen ip: %s", strerror(errno));
	for (int i = 0; i < n; i++)
		fprintf(f, "link add ib%d type ifb\nlink set ib%d up\n", i, i);
	if (pclose(f))
		bu_die("ip -batch failed making %d IFBs", n);
	if (!(f = popen("tc -batch -", "w")))
		bu_die("popen tc: %s", strerror(errno));
	for (int i = 0; i < n; i++)
		fprintf(f, "qdisc add dev ib%d root handle 1: %s\n", i,
		        have_plug ? "plug limit " LIMIT : "pfifo");
	if (pclose(f))
		bu_die("tc -batch failed adding %d root qdiscs", n);
	for (int i = 0; i < n; i++) {
		char name[16];

		snprintf(name, sizeof(name), "ib%d", i);
		if (!(ifindex[i] = (int)if_nametoindex(name)))
			bu_die("no %s", name);
	}
}

/* ------------------------------------------------------------- the floor */

struct floor_req {
	struct nlmsghdr h;
	struct tcmsg tcm;
	struct rtattr kind_rta;
	char kind[8];
	struct rtattr opt_rta;
	struct tc_plug_qopt opt;
};

struct floor {
	int fd, k;
	uint32_t seq;
	struct floor_req reqs[KMAX];
	char rbuf[65536];
};

/* kind: "plug", or "pfifo" for requests the host's pfifo stand-in accepts
 * (the same bytes: pfifo reads the first word of the options as its
 * limit). */
static void floor_open(struct floor *f, const int ifindex[], int k, const char *kind)
{
	int one = 1, rcv = k * 2048, snd = k * (int)sizeof(struct floor_req) + 1024;

	f->k = k;
	f->seq = 0;
	f->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (f->fd < 0 || setsockopt(f->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one)) ||
	    setsockopt(f->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) ||
	    setsockopt(f->fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)))
		bu_die("floor: netlink socket: %s", strerror(errno));
	for (int j = 0; j < k; j++) {
		struct floor_req *r = &f->reqs[j];

		memset(r, 0, sizeof(*r));
		r->h.nlmsg_len = sizeof(*r);
		r->h.nlmsg_type = RTM_NEWQDISC;
		r->tcm.tcm_family = AF_UNSPEC;
		r->tcm.tcm_ifindex = ifindex[j];
		r->tcm.tcm_handle = HANDLE;
		r->tcm.tcm_parent = TC_H_ROOT;
		r->kind_rta.rta_type = TCA_KIND;
		r->kind_rta.rta_len = RTA_LENGTH(strlen(kind) + 1);
		memcpy(r->kind, kind, strlen(kind) + 1);
		r->opt_rta.rta_type = TCA_OPTIONS;
		r->opt_rta.rta_len = RTA_LENGTH(sizeof(r->opt));
	}
}

/* One step on every NIC; how many requests the kernel refused. */
static int floor_step(struct floor *f, int action)
{
	uint32_t last;
	int refused = 0;

	for (int j = 0; j < f->k; j++) {
		f->reqs[j].opt.action = action;
		f->reqs[j].h.nlmsg_seq = ++f->seq;
		f->reqs[j].h.nlmsg_flags = NLM_F_REQUEST | (j == f->k - 1 ? NLM_F_ACK : 0);
	}
	last = f->seq;
	if (send(f->fd, f->reqs, (size_t)f->k * sizeof(f->reqs[0]), 0) < 0)
		bu_die("floor: send: %s", strerror(errno));
	for (;;) {
		ssize_t len = recv(f->fd, f->rbuf, sizeof(f->rbuf), 0);

		if (len < 0)
			bu_die("floor: recv: %s", strerror(errno));
		for (struct nlmsghdr *h = (void *)f->rbuf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			struct nlmsgerr *e = NLMSG_DATA(h);

			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			if (e->error)
				refused++;
			if (h->nlmsg_seq == last)
				return refused;
		}
	}
}

/* ------------------------------------------------------------ libxl's way */

struct libxl_way {
	struct nl_sock *sk;
	int k;
	bool fifo;
	struct rtnl_qdisc *q[KMAX];
};

/* kind: "plug", or "pfifo" (accepted by the host's stand-in; each step
 * then changes the pfifo's limit). */
static void libxl_open(struct libxl_way *x, const int ifindex[], int k, const char *kind)
{
	x->k = k;
	x->fifo = strcmp(kind, "plug") != 0;
	x->sk = nl_socket_alloc();
	if (!x->sk || nl_connect(x->sk, NETLINK_ROUTE))
		bu_die("libxl: nl_connect failed");
	for (int j = 0; j < k; j++) {
		/* what libxl takes from its qdisc cache: the IFB's root plug */
		x->q[j] = rtnl_qdisc_alloc();
		if (!x->q[j])
			bu_die("rtnl_qdisc_alloc");
		rtnl_tc_set_ifindex(TC_CAST(x->q[j]), ifindex[j]);
		rtnl_tc_set_parent(TC_CAST(x->q[j]), TC_H_ROOT);
		rtnl_tc_set_handle(TC_CAST(x->q[j]), HANDLE);
		if (rtnl_tc_set_kind(TC_CAST(x->q[j]), kind))
			bu_die("rtnl_tc_set_kind %s", kind);
	}
}

static void libxl_close(struct libxl_way *x)
{
	for (int j = 0; j < x->k; j++)
		rtnl_qdisc_put(x->q[j]);
	nl_socket_free(x->sk);
}

static int libxl_step(struct libxl_way *x, bool buffer)
{
	int refused = 0;

	for (int j = 0; j < x->k; j++) {
		if (x->fifo  ? rtnl_qdisc_fifo_set_limit(x->q[j], buffer ? 1000 : 1001)
		    : buffer ? rtnl_qdisc_plug_buffer(x->q[j])
		             : rtnl_qdisc_plug_release_one(x->q[j]))
			bu_die("libxl: rtnl_qdisc_plug_* / fifo_set_limit");
		if (rtnl_qdisc_add(x->sk, x->q[j], NLM_F_REQUEST))
			refused++;
	}
	return refused;
}

/* ----------------------------------------------------------- the library */

static void null_vmessage(xentoollog_logger *lg, xentoollog_level level, int errnoval,
                          const char *context, const char *format, va_list al)
{
	(void)lg, (void)level, (void)errnoval, (void)context, (void)format, (void)al;
}

static void null_progress(xentoollog_logger *lg, const char *context, const char *doing_what,
                          int percent, unsigned long done, unsigned long total)
{
	(void)lg, (void)context, (void)doing_what, (void)percent, (void)done, (void)total;
}

static void null_destroy(xentoollog_logger *lg)
{
	(void)lg;
}

static xentoollog_logger null_logger = {null_vmessage, null_progress, null_destroy};

/* The stand-in for remus-netbuf-setup in the checkpoint bench: there is
 * no guest, so each NIC's vif is its IFB ibN itself (attach wants the vif
 * to exist), which it reports as the protocol says, nothing more. */
static const char standin_script[] = "case $1 in\n"
                                     "setup) exec xenstore-write \"$XENBUS_PATH/ifb\" "
                                     "\"$vifname\" ;;\n"
                                     "teardown) exit 0 ;;\n"
                                     "*) exit 2 ;;\n"
                                     "esac";

struct lib {
	ckpt_ctx *ctx;
	ckpt_devset *set;
	int k;
	/* host/pfifo: the backend on its own */
	struct nb_backend *be;
	ckpt_dev *devs[KMAX];
	int rcs[KMAX];
};

/* A devset of k NICs vif_fmt % i, devid i, params extra (NULL-ended). */
static ckpt_devset *nic_devset(ckpt_ctx *ctx, int k, const char *vif_fmt, const char *script)
{
	static char vifs[KMAX][32], scripts[KMAX][PATH_MAX + 8];
	static const char *params[KMAX][5];
	static ckpt_dev_spec specs[KMAX];
	ckpt_devset *set;
	int rc;

	for (int i = 0; i < k; i++) {
		snprintf(vifs[i], sizeof(vifs[i]), "vif=");
		snprintf(vifs[i] + 4, sizeof(vifs[i]) - 4, vif_fmt, i);
		snprintf(scripts[i], sizeof(scripts[i]), "script=%s", script);
		params[i][0] = vifs[i];
		params[i][1] = scripts[i];
		params[i][2] = "timeout_ms=600000";
		params[i][3] = "limit=" LIMIT;
		params[i][4] = NULL;
		specs[i] = (ckpt_dev_spec){"nic", i, params[i]};
	}
	rc = ckpt_devset_new(ctx, 9, specs, (size_t)k, &set);
	if (rc)
		bu_die("ckpt_devset_new of %d NICs: %s", k, ckpt_strerror(rc));
	return set;
}

static ckpt_ctx *new_ctx(xentoollog_logger *lg, unsigned max_scripts)
{
	ckpt_ctx_opts opts = {.logger = lg, .loop = CKPT_LOOP_POLL, .max_scripts = max_scripts};
	ckpt_ctx *ctx;

	if (ckpt_ctx_new(&ctx, &opts))
		bu_die("ckpt_ctx_new");
	return ctx;
}

static void lib_open(struct lib *l, int k, const char *script, xentoollog_logger *lg)
{
	int rc;

	memset(l, 0, sizeof(*l));
	l->k = k;
	l->ctx = new_ctx(have_plug ? lg : &null_logger, 0);
	l->set = nic_devset(l->ctx, k, "ib%d", script);
	if (have_plug) {
		rc = ckpt_devset_setup(l->set, NULL);
		if (rc)
			bu_die("setup of %d NICs: %s", k, ckpt_strerror(rc));
		return;
	}
	if ((rc = nb_backend_open(l->ctx, 9, (size_t)k, &l->be)))
		bu_die("nb_backend_open: %s", ckpt_strerror(rc));
	for (int i = 0; i < k; i++) {
		char ifb[16];

		snprintf(ifb, sizeof(ifb), "ib%d", i);
		l->devs[i] = ckpt_devset_device(l->set, (size_t)i);
		if ((rc = nb_plug_attach_kind(l->be, l->devs[i], ifb, "pfifo",
		                              &nb_nic_of(l->devs[i])->plug)))
			bu_die("attach %s: %s", ifb, ckpt_strerror(rc));
	}
}

static void lib_close(struct lib *l)
{
	int rc;

	if (have_plug) {
		if ((rc = ckpt_devset_teardown(l->set, NULL)))
			bu_die("teardown of %d NICs: %s", l->k, ckpt_strerror(rc));
	} else {
		for (int i = 0; i < l->k; i++) {
			nb_plug_detach(l->be, nb_nic_of(l->devs[i])->plug);
			nb_nic_of(l->devs[i])->plug = NULL;
		}
		nb_backend_close(l->be);
	}
	if (ckpt_devset_free(l->set) || ckpt_ctx_free(l->ctx))
		bu_die("freeing the devset or ctx");
}

/* ------------------------------------------------------ the checkpoint bench */

/* Each method's samples of one phase (0 postsuspend, 1 commit), in ns. */
static double samples[N_METHODS][2][64 * 64];
/* bench_checkpoint's library/floor medians, per phase, for the host's
 * accepted-requests rows */
static double last_lib_floor[2];

static void bench_checkpoint(int k, const int ifindex[], const char *script, xentoollog_logger *lg)
{
	static const char *const phase_names[2] = {"postsuspend", "commit"};
	struct lib lib;
	struct libxl_way lx;
	static struct floor fl;
	int n = 0, expect_refused = have_plug ? 0 : k;
	unsigned long allocs_lib = 0, allocs_libxl = 0;
	struct bu_stats st[N_METHODS][2];
	char what[64];

	lib_open(&lib, k, script, lg);
	libxl_open(&lx, ifindex, k, "plug");
	floor_open(&fl, ifindex, k, "plug");

	for (int r = 0; r < rounds; r++) {
		for (int mi = 0; mi < N_METHODS; mi++) {
			enum method m = (enum method)((mi + r) % N_METHODS);

			for (int c = 0; c < cycles; c++) {
				int idx = n + c, bad[2] = {0, 0};
				unsigned long a0 = bu_allocs();
				double t0 = bu_now_ns(), t1, t2, t3;

				switch (m) {
				case LIBRARY:
					if (have_plug) {
						bad[0] = ckpt_devset_postsuspend(lib.set) != 0;
						t1 = bu_now_ns();
						bad[1] = ckpt_devset_preresume(lib.set) != 0;
						t2 = bu_now_ns();
						bad[1] |= ckpt_devset_commit(lib.set) != 0;
					} else {
						nb_plug_request(lib.be, lib.devs, (size_t)k,
						                NB_BUFFER, lib.rcs);
						t1 = t2 = bu_now_ns();
						nb_plug_request(lib.be, lib.devs, (size_t)k,
						                NB_RELEASE_ONE, lib.rcs);
						for (int i = 0; i < k; i++)
							bad[1] += lib.rcs[i] != CKPT_ERROR_NETLINK;
					}
					t3 = bu_now_ns();
					allocs_lib += bu_allocs() - a0;
					if (bad[0] || bad[1])
						bu_die("library checkpoint of %d NICs failed", k);
					break;
				case LIBXL:
					bad[0] = libxl_step(&lx, true) != expect_refused;
					t1 = t2 = bu_now_ns();
					bad[1] = libxl_step(&lx, false) != expect_refused;
					t3 = bu_now_ns();
					allocs_libxl += bu_allocs() - a0;
					if (bad[0] || bad[1])
						bu_die("libxl's way: unexpected answers at %d NICs",
						       k);
					break;
				default:
					bad[0] = floor_step(&fl, TCQ_PLUG_BUFFER) != expect_refused;
					t1 = t2 = bu_now_ns();
					bad[1] = floor_step(&fl, TCQ_PLUG_RELEASE_ONE) !=
					         expect_refused;
					t3 = bu_now_ns();
					if (bad[0] || bad[1])
						bu_die("floor: unexpected answers at %d NICs", k);
					break;
				}
				samples[m][0][idx] = (t1 - t0) / 1e3;
				samples[m][1][idx] = (t3 - t2) / 1e3;
			}
		}
		n += cycles;
	}
	close(fl.fd);
	libxl_close(&lx);
	lib_close(&lib);

	for (int m = 0; m < N_METHODS; m++)
		for (int p = 0; p < 2; p++) {
			st[m][p] = bu_stats(samples[m][p], n);
			snprintf(what, sizeof(what), "checkpoint K=%d %s", k, phase_names[p]);
			bu_row(what, method_names[m], st[m][p], "us");
		}
	for (int p = 0; p < 2; p++) {
		double lib_floor = st[LIBRARY][p].med / st[FLOOR][p].med;
		double libxl_lib = st[LIBXL][p].med / st[LIBRARY][p].med;

		last_lib_floor[p] = lib_floor;
		snprintf(what, sizeof(what), "checkpoint K=%d %s", k, phase_names[p]);
		bu_ratio(what, "library/floor", lib_floor);
		bu_ratio(what, "libxl/library", libxl_lib);
		bu_ratio(what, "libxl/floor", st[LIBXL][p].med / st[FLOOR][p].med);
		snprintf(what, sizeof(what), "K=%d %s library/floor", k, phase_names[p]);
		bu_target(what, lib_floor, true, 1.1, "medians");
		if (k == 64) {
			snprintf(what, sizeof(what), "K=64 %s libxl/library", phase_names[p]);
			bu_target(what, libxl_lib, false, have_plug ? 2.7 : 10, "medians");
		}
	}
	snprintf(what, sizeof(what), "checkpoint K=%d allocations", k);
	bu_value(what, "library", (double)allocs_lib / n, "per checkpoint");
	bu_value(what, "libxl", (double)allocs_libxl / n, "per checkpoint");
	if (allocs_lib)
		bu_die("the library's checkpoints of %d NICs allocated (%lu in %d)", k, allocs_lib,
		       n);
}

/*
 * Host only: libxl's way and the floor again, with requests the pfifo
 * stand-in accepts (kind "pfifo", so each changes its limit): the ack
 * traffic of a real plug (one ack at the end of the floor's batch, not an
 * error per request), which the library cannot be measured on here, as it
 * only sends plug requests.  Its row is an estimate, said to be one:
 * the floor's time with accepted requests times the library/floor ratio
 * just measured with refused ones.
 */
static void bench_checkpoint_accepted(int k, const int ifindex[])
{
	static const char *const phase_names[2] = {"postsuspend", "commit"};
	struct libxl_way lx;
	static struct floor fl;
	struct bu_stats st[2][2];
	int n = 0;
	char what[64];

	libxl_open(&lx, ifindex, k, "pfifo");
	floor_open(&fl, ifindex, k, "pfifo");
	for (int r = 0; r < rounds; r++) {
		for (int mi = 0; mi < 2; mi++) {
			bool libxl = (mi + r) % 2 == 0;

			for (int c = 0; c < cycles; c++) {
				double t0 = bu_now_ns(), t1, t2;
				int bad;

				bad = libxl ? libxl_step(&lx, true) : floor_step(&fl, 0);
				t1 = bu_now_ns();
				bad += libxl ? libxl_step(&lx, false) : floor_step(&fl, 1);
				t2 = bu_now_ns();
				if (bad)
					bu_die("pfifo change refused (%d of %d NICs)", bad, k);
				samples[libxl][0][n + c] = (t1 - t0) / 1e3;
				samples[libxl][1][n + c] = (t2 - t1) / 1e3;
			}
		}
		n += cycles;
	}
	close(fl.fd);
	libxl_close(&lx);

	for (int p = 0; p < 2; p++) {
		snprintf(what, sizeof(what), "accepted K=%d %s", k, phase_names[p]);
		st[1][p] = bu_stats(samples[1][p], n);
		st[0][p] = bu_stats(samples[0][p], n);
		bu_row(what, "libxl", st[1][p], "us");
		bu_row(what, "floor", st[0][p], "us");
		bu_ratio(what, "libxl/floor", st[1][p].med / st[0][p].med);
		bu_ratio(what, "libxl/library (estimate)",
		         st[1][p].med / (st[0][p].med * last_lib_floor[p]));
	}
}

/* ------------------------------------------------------ setup and teardown */

/* The hotplug script next to this build: BUILD/bench/../../scripts. */
static const char *real_script(void)
{
	static char path[PATH_MAX];
	char rel[PATH_MAX];

	snprintf(rel, sizeof(rel), "%s/../../scripts/remus-netbuf-setup", test_bin_dir());
	if (!realpath(rel, path))
		bu_die("no hotplug script at %s", rel);
	return path;
}

static int threads_now(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[128];
	int n = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	if (f)
		fclose(f);
	return n;
}

static void bench_setup(int k, xentoollog_logger *lg)
{
	ckpt_ctx *ctx = new_ctx(lg, 0);
	ckpt_devset *set;
	FILE *f;
	long p0, p1, p2;
	int th0 = threads_now(), rc;
	double t0, t1, t2;
	char what[64];

	if (!(f = popen("ip -batch -", "w")))
		bu_die("popen ip: %s", strerror(errno));
	for (int i = 0; i < k; i++)
		fprintf(f, "link add vb%d type veth peer name gb%d\nlink set vb%d up\n", i, i, i);
	if (pclose(f))
		bu_die("ip -batch failed making %d veth pairs", k);
	set = nic_devset(ctx, k, "vb%d", real_script());

	p0 = bu_last_pid();
	t0 = bu_now_ns();
	if ((rc = ckpt_devset_setup(set, NULL)))
		bu_die("setup of %d NICs with the hotplug script: %s", k, ckpt_strerror(rc));
	t1 = bu_now_ns();
	p1 = bu_last_pid();
	if ((rc = ckpt_devset_teardown(set, NULL)))
		bu_die("teardown of %d NICs with the hotplug script: %s", k, ckpt_strerror(rc));
	t2 = bu_now_ns();
	p2 = bu_last_pid();
	if (ckpt_devset_free(set) || ckpt_ctx_free(ctx))
		bu_die("freeing the devset or ctx");
	if (threads_now() != th0)
		printf("  note: the bench process had %d threads before, %d after\n", th0,
		       threads_now());

	/* Per NIC, the tasks are the library's supervisor, the script's own
	 * shell, and the programs the script runs: those are what the
	 * script's process target is about (as the net tier counts them). */
	snprintf(what, sizeof(what), "setup K=%d (hotplug script)", k);
	bu_value(what, "wall", (t1 - t0) / 1e6, "ms");
	bu_value(what, "tasks per NIC", (double)(p1 - p0) / k, "");
	bu_value(what, "programs of the script", (double)(p1 - p0) / k - 2, "(tasks - 2)");
	snprintf(what, sizeof(what), "teardown K=%d (hotplug script)", k);
	bu_value(what, "wall", (t2 - t1) / 1e6, "ms");
	bu_value(what, "tasks per NIC", (double)(p2 - p1) / k, "");
	bu_value(what, "programs of the script", (double)(p2 - p1) / k - 2, "(tasks - 2)");
	snprintf(what, sizeof(what), "K=%d setup programs per NIC", k);
	bu_target(what, (double)(p1 - p0) / k - 2, true, 6, "tasks - supervisor - script");
	snprintf(what, sizeof(what), "K=%d teardown programs per NIC", k);
	bu_target(what, (double)(p2 - p1) / k - 2, true, 6, "tasks - supervisor - script");
	if (k == 64) {
		bu_target("K=64 setup wall (s)", (t1 - t0) / 1e9, true, 25, "");
		bu_target("K=64 teardown wall (s)", (t2 - t1) / 1e9, true, 35, "");
	}
	if (!(f = popen("ip -batch -", "w")))
		bu_die("popen ip: %s", strerror(errno));
	for (int i = 0; i < k; i++)
		fprintf(f, "link del vb%d\n", i);
	if (pclose(f))
		bu_die("ip -batch failed removing %d veth pairs", k);
}

int main(int argc, char **argv)
{
	static const int ks_full[] = {1, 8, 64, 256}, ks_quick[] = {1, 8};
	static const int sk_full[] = {1, 8, 64}, sk_quick[] = {1};
	const int *ks = ks_full, *sks = sk_full;
	int nks = 4, nsks = 3, ifindex[KMAX];
	char dir[] = "/tmp/ckpt-nic-bench.XXXXXX", script[PATH_MAX];
	xentoollog_logger *lg;
	struct rlimit rl;

	setvbuf(stdout, NULL, _IOLBF, 0);
	quick = bu_quick(argc, argv);
	rounds = quick ? 2 : 9;
	cycles = quick ? 2 : 12;
	if (quick) {
		ks = ks_quick, nks = 2;
		sks = sk_quick, nsks = 1;
	}
	have_plug = kernel_has_plug();
	bu_set_where(have_plug ? "vm/plug" : "host/pfifo");
	/* the setup bench counts the tasks of a namespace of its own */
	if (have_plug && !bu_pidns_enter())
		bu_die("cannot make a PID namespace (%s): needs root", strerror(errno));
	if (unshare(CLONE_NEWNET))
		bu_die("cannot make a network namespace (%s): needs root", strerror(errno));
	/* hundreds of scripts at once, each with a pidfd and pipes */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 8192) {
		rl.rlim_cur = rl.rlim_max = rl.rlim_max > 8192 ? rl.rlim_max : 8192;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	lg = (xentoollog_logger *)xtl_createlogger_stdiostream(stderr, XTL_WARN, 0);
	printf("nic_bench (%s): %d rounds of %d checkpoints per K, methods interleaved; "
	       "times per phase\n",
	       have_plug ? "kernel with sch_plug"
	                 : "no sch_plug here: pfifo stand-in, every "
	                   "request refused",
	       rounds, cycles);
	if (have_plug)
		xsd_fixture_start();
	make_ifbs(ks[nks - 1], ifindex);
	if (!mkdtemp(dir))
		bu_die("mkdtemp: %s", strerror(errno));
	snprintf(script, sizeof(script), "%s/netbuf-setup", dir);
	test_write_script(script, standin_script);
	for (int i = 0; i < nks; i++) {
		bench_checkpoint(ks[i], ifindex, script, lg);
		if (!have_plug)
			bench_checkpoint_accepted(ks[i], ifindex);
	}
	unlink(script);
	rmdir(dir);
	if (have_plug) {
		for (int i = 0; i < nsks; i++)
			bench_setup(sks[i], lg);
		printf("  note: no built-in script=none path: the 64 NICs <= 2x one NIC "
		       "target does not apply\n");
		xsd_fixture_stop();
	}
	xtl_logger_destroy(lg);
	return 0;
}
