/*
 * ckptdev - the sample driver: protect one domain's devices and run a
 * Remus-style checkpoint loop on a libev loop, printing what each epoch
 * held back and let out.
 *
 *   ckptdev run --domid N [--nic VIF]... [--disk TARGET]... [options]
 *   ckptdev teardown --domid N [--nic VIF]... [--disk TARGET]...
 *   ckptdev status --domid N [--json]
 *
 * Each epoch: suspend the guest (--pause-pid: SIGSTOP a process standing
 * in for it; --suspend-cmd: e.g. "xl pause 3", run by the library's own
 * script runner, ckpt_exec), postsuspend, a simulated
 * transfer (--transfer-ms), preresume, resume the guest, a simulated wait
 * for the backup's acknowledgement (--ack-ms), commit.  SIGINT or SIGTERM
 * ends the loop with a graceful teardown: every held packet is released.
 * A checkpoint step, or a suspend or resume command, that fails ends it
 * the same way (the guest is resumed first), after saying which step of
 * which epoch failed for the domain.
 * `teardown` removes what a crashed run left (IFBs, qdiscs, xenstore):
 * of the devices named, or, with none named, of every NIC the domain's
 * xenstore records (ckpt_nic_survey) whose owner has gone; a NIC another
 * live process protects is left alone (and the exit status is 1).
 * `status` shows what protects the domain's NICs: each record's vif, IFB,
 * owner and, where the IFB exists, its buffer's counters.
 *
 * Exit status: 0 when the run ended as asked (--count reached, a signal)
 * or the cleanup succeeded, or status was read; 1 when setup, a checkpoint
 * step or teardown failed, a NIC to clean up is another live process's,
 * or status could not be read; 2 for a usage error.
 *
 * --fault NAME[:NTH], for tests, arms the library's fault point NAME
 * (ckpt_fault_arm) so that its NTH pass (default 1) fails: e.g.
 * --fault dev.postsuspend:3 makes the third checkpoint's postsuspend fail.
 *
 * Only the public API is used: this file is also an example of embedding
 * ckptdev in a libev program.
 */
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xentoollog.h>

#include "ckptdev.h"

#define MAX_DEVS 64
/* How long a --suspend-cmd or --resume-cmd may take. */
#define GUEST_CMD_TIMEOUT_MS 10000
#define MAX_FAULTS           8
#define MAX_DOMID            32751        /* Xen reserves 0x7FF0 (DOMID_FIRST_RESERVED) and up */
#define MAX_MS               3600000      /* an hour: the library's bound on a script's timeout */
#define MAX_LIMIT            2147483648UL /* the NIC kind's bound on limit= */

enum command { CMD_RUN, CMD_TEARDOWN, CMD_STATUS };

struct opts {
	enum command cmd;
	unsigned domid;
	bool have_domid;
	const char *nics[MAX_DEVS], *disks[MAX_DEVS];
	int nic_devids[MAX_DEVS]; /* a NIC's devid: its position, or its record's */
	int n_nics, n_disks;
	unsigned interval_ms, count, transfer_ms, ack_ms, timeout_ms;
	unsigned long limit;
	pid_t pause_pid;
	const char *suspend_cmd, *resume_cmd, *script;
	bool verbose, json;
	bool run_opts; /* an option only run and teardown take */
	struct {
		const char *name; /* from ckpt_fault_list() */
		unsigned nth;
	} faults[MAX_FAULTS];
	int n_faults;
};

/* Per-step latencies, in microseconds: every sample, for percentiles. */
struct lat {
	double *v;
	size_t n, room;
};

struct driver {
	struct opts o;
	struct ev_loop *loop;
	ckpt_ctx *ctx;
	ckpt_devset *set;
	ckpt_async_how setup_how, teardown_how;
	ev_timer tick;
	ev_signal sigint, sigterm;
	unsigned epoch;     /* checkpoints completed */
	FILE *human;        /* stdout, or stderr when stdout carries JSON */
	double start_us;    /* CLOCK_MONOTONIC, where the run's times start */
	double teardown_us; /* when the teardown started; 0 before */
	bool setting_up, stopping;
	int rc;
	struct lat lat[3];
	uint64_t released_before[MAX_DEVS];
	ckpt_nic_stats stats[MAX_DEVS]; /* this epoch's, one slot per NIC */
	ckpt_nic_record recs[MAX_DEVS]; /* status, and teardown without devices */
	size_t n_recs;
	int stats_rc[MAX_DEVS];
	uint64_t max_held, drops;
	/* params storage */
	char params[2 * MAX_DEVS][4][300];
	const char *param_ptrs[2 * MAX_DEVS][5];
	ckpt_dev_spec specs[2 * MAX_DEVS];
};

static const char *const step_names[3] = {"postsuspend", "preresume", "commit"};

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void lat_add(struct lat *l, double us)
{
	if (l->n == l->room) {
		l->room = l->room ? 2 * l->room : 1024;
		l->v = realloc(l->v, l->room * sizeof(*l->v));
		if (!l->v) {
			fprintf(stderr, "ckptdev: out of memory\n");
			exit(1);
		}
	}
	l->v[l->n++] = us;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The p-th percentile (0..100) of the samples, nearest rank; sorts them. */
static double lat_pct(struct lat *l, double p)
{
	size_t rank;

	qsort(l->v, l->n, sizeof(*l->v), cmp_double);
	rank = (size_t)(p / 100.0 * (double)l->n + 0.999999);
	return l->v[rank ? rank - 1 : 0];
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: ckptdev run --domid N [--nic VIF]... [--disk TARGET]... [options]\n"
	        "       ckptdev teardown --domid N [--nic VIF]... [--disk TARGET]...\n"
	        "       ckptdev status --domid N [--json]\n"
	        "teardown without devices removes every NIC the domain's xenstore records\n"
	        "whose owner has gone; status shows what protects the domain's NICs.\n"
	        "options:\n"
	        "  --domid N          the guest's domain, 0..32751\n"
	        "  --interval MS      time from one checkpoint to the next, 1..3600000 (default "
	        "100)\n"
	        "  --count K          stop after K >= 1 checkpoints; without --count, run until\n"
	        "                     SIGINT/SIGTERM (--count 0 is refused)\n"
	        "  --transfer-ms MS   simulated checkpoint transfer while suspended, 0..3600000\n"
	        "                     (default 5)\n"
	        "  --ack-ms MS        simulated wait for the backup's ack, 0..3600000 (default 2)\n"
	        "  --pause-pid PID    SIGSTOP/SIGCONT this process as the guest (it must exist)\n"
	        "  --suspend-cmd CMD  run CMD (sh -c) to suspend the guest (e.g. \"xl pause 3\");\n"
	        "                     a failure or 10 s without an end stops the run\n"
	        "  --resume-cmd CMD   run CMD to resume it\n"
	        "  --script PATH      the NIC hotplug script\n"
	        "  --limit BYTES      each NIC buffer's byte limit, 1..2147483648\n"
	        "  --timeout MS       hotplug script timeout, 1..3600000\n"
	        "  --verbose          log everything the library says\n"
	        "  --json             one JSON object per epoch and a final summary object\n"
	        "                     on stdout (other messages go to stderr)\n"
	        "  --fault NAME[:NTH] for tests: make the NTH pass (default 1) of the library's\n"
	        "                     fault point NAME fail (e.g. dev.postsuspend:3)\n"
	        "Numbers are decimal digits only.  A failed checkpoint step ends the run with a\n"
	        "graceful teardown.\n"
	        "exit status: 0 done (--count reached, SIGINT/SIGTERM, cleanup done);\n"
	        "             1 setup, a checkpoint step or teardown failed; 2 usage error\n");
}

/* The number in s, for option what: decimal digits only (strtoul alone
 * would take " 5", "+5" and "-1"), in min..max; else exit 2, naming the
 * option and the value, with hint (if any) after the range. */
static unsigned long parse_num(const char *what, const char *s, unsigned long min,
                               unsigned long max, const char *hint)
{
	unsigned long v;

	if (!s[0] || strspn(s, "0123456789") != strlen(s)) {
		fprintf(stderr, "ckptdev: %s \"%s\": not a number (decimal digits only)\n", what,
		        s);
		exit(2);
	}
	errno = 0;
	v = strtoul(s, NULL, 10);
	if (errno == ERANGE || v < min || v > max) {
		fprintf(stderr, "ckptdev: %s %s: out of range (%lu..%lu%s%s)\n", what, s, min, max,
		        hint ? "; " : "", hint ? hint : "");
		exit(2);
	}
	return v;
}

static unsigned parse_ms(const char *what, const char *s, unsigned long min)
{
	return (unsigned)parse_num(what, s, min, MAX_MS, NULL);
}

/* --pause-pid: a process that exists, that we may signal, not ourselves
 * (SIGSTOP would stop the loop that sends the SIGCONT). */
static pid_t parse_pid(const char *s)
{
	pid_t pid = (pid_t)parse_num("--pause-pid", s, 0, INT_MAX, NULL);
	const char *why = NULL;

	if (pid == 0)
		why = "not a process (kill(0) would stop ckptdev's own process group)";
	else if (pid == getpid())
		why = "that is ckptdev itself";
	else if (kill(pid, 0) && errno == ESRCH)
		why = "no such process";
	else if (kill(pid, 0))
		why = "not allowed to signal it";
	if (why) {
		fprintf(stderr, "ckptdev: --pause-pid %s: %s\n", s, why);
		exit(2);
	}
	return pid;
}

/* --fault NAME[:NTH]: a fault point the library knows, and a pass >= 1. */
static void parse_fault(struct opts *o, const char *arg)
{
	const char *colon = strchr(arg, ':');
	size_t len = colon ? (size_t)(colon - arg) : strlen(arg), n;
	const char *const *names = ckpt_fault_list(&n);
	unsigned nth =
	        colon ? (unsigned)parse_num("--fault's NTH", colon + 1, 0, UINT_MAX, NULL) : 1;
	size_t i;

	if (o->n_faults == MAX_FAULTS) {
		fprintf(stderr, "ckptdev: at most %d --fault options\n", MAX_FAULTS);
		exit(2);
	}
	for (i = 0; i < n; i++)
		if (strlen(names[i]) == len && !strncmp(names[i], arg, len))
			break;
	if (nth == 0) {
		fprintf(stderr, "ckptdev: --fault \"%s\": NTH counts from 1\n", arg);
		exit(2);
	}
	if (i == n) {
		fprintf(stderr, "ckptdev: --fault \"%s\": no such fault point; there are:", arg);
		for (i = 0; i < n; i++)
			fprintf(stderr, " %s", names[i]);
		fprintf(stderr, "\n");
		exit(2);
	}
	o->faults[o->n_faults].name = names[i];
	o->faults[o->n_faults++].nth = nth;
}

static void parse(struct opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
	        {"domid", required_argument, NULL, 'd'},
	        {"nic", required_argument, NULL, 'n'},
	        {"disk", required_argument, NULL, 'k'},
	        {"interval", required_argument, NULL, 'i'},
	        {"count", required_argument, NULL, 'c'},
	        {"transfer-ms", required_argument, NULL, 't'},
	        {"ack-ms", required_argument, NULL, 'a'},
	        {"pause-pid", required_argument, NULL, 'p'},
	        {"suspend-cmd", required_argument, NULL, 'S'},
	        {"resume-cmd", required_argument, NULL, 'R'},
	        {"script", required_argument, NULL, 's'},
	        {"limit", required_argument, NULL, 'l'},
	        {"timeout", required_argument, NULL, 'T'},
	        {"verbose", no_argument, NULL, 'v'},
	        {"json", no_argument, NULL, 'j'},
	        {"fault", required_argument, NULL, 'f'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	int c;

	o->interval_ms = 100;
	o->transfer_ms = 5;
	o->ack_ms = 2;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (!strchr("djvh", c))
			o->run_opts = true;
		switch (c) {
		case 'd':
			o->domid = (unsigned)parse_num("--domid", optarg, 0, MAX_DOMID,
			                               "Xen reserves 32752 (0x7ff0) and up");
			o->have_domid = true;
			break;
		case 'n':
		case 'k':
			if ((c == 'n' ? o->n_nics : o->n_disks) == MAX_DEVS) {
				fprintf(stderr, "ckptdev: at most %d of each device\n", MAX_DEVS);
				exit(2);
			}
			if (c == 'n') {
				o->nic_devids[o->n_nics] = o->n_nics;
				o->nics[o->n_nics++] = optarg;
			} else
				o->disks[o->n_disks++] = optarg;
			break;
		case 'i':
			o->interval_ms = parse_ms("--interval", optarg, 1);
			break;
		case 'c':
			o->count = (unsigned)parse_num(
			        "--count", optarg, 1, UINT_MAX,
			        "leave --count out to run until SIGINT/SIGTERM");
			break;
		case 't':
			o->transfer_ms = parse_ms("--transfer-ms", optarg, 0);
			break;
		case 'a':
			o->ack_ms = parse_ms("--ack-ms", optarg, 0);
			break;
		case 'p':
			o->pause_pid = parse_pid(optarg);
			break;
		case 'S':
			o->suspend_cmd = optarg;
			break;
		case 'R':
			o->resume_cmd = optarg;
			break;
		case 's':
			o->script = optarg;
			break;
		case 'l':
			o->limit = parse_num("--limit", optarg, 1, MAX_LIMIT, NULL);
			break;
		case 'T':
			o->timeout_ms = parse_ms("--timeout", optarg, 1);
			break;
		case 'j':
			o->json = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'f':
			parse_fault(o, optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ckptdev: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		exit(2);
	}
	if (!o->have_domid) {
		fprintf(stderr, "ckptdev: --domid is needed\n");
		usage(stderr);
		exit(2);
	}
	if (o->cmd == CMD_RUN && !o->n_nics && !o->n_disks) {
		fprintf(stderr, "ckptdev: run needs at least one --nic or --disk\n");
		usage(stderr);
		exit(2);
	}
	if (o->cmd == CMD_STATUS && o->run_opts) {
		fprintf(stderr, "ckptdev: status takes only --domid, --json and --verbose\n");
		usage(stderr);
		exit(2);
	}
}

/* Build the device specs from the options. */
static size_t make_specs(struct driver *d)
{
	size_t n = 0;

	for (int i = 0; i < d->o.n_nics + d->o.n_disks; i++, n++) {
		bool nic = i < d->o.n_nics;
		int k = 0;

		if (nic) {
			snprintf(d->params[n][k++], 300, "vif=%s", d->o.nics[i]);
			if (d->o.script)
				snprintf(d->params[n][k++], 300, "script=%s", d->o.script);
			if (d->o.limit)
				snprintf(d->params[n][k++], 300, "limit=%lu", d->o.limit);
		} else {
			snprintf(d->params[n][k++], 300, "target=%s", d->o.disks[i - d->o.n_nics]);
		}
		if (d->o.timeout_ms)
			snprintf(d->params[n][k++], 300, "timeout_ms=%u", d->o.timeout_ms);
		for (int j = 0; j < k; j++)
			d->param_ptrs[n][j] = d->params[n][j];
		d->param_ptrs[n][k] = NULL;
		d->specs[n].kind = nic ? "nic" : "disk";
		d->specs[n].devid = nic ? d->o.nic_devids[i] : i - d->o.n_nics;
		d->specs[n].params = d->param_ptrs[n];
	}
	return n;
}

/* Suspend (run false) or resume the guest: SIGSTOP/SIGCONT to the
 * stand-in, and the command through the library's own runner (its
 * timeout, its clean kill, its output in the log).  0 or an rc. */
static int guest(struct driver *d, bool run)
{
	const char *cmd = run ? d->o.resume_cmd : d->o.suspend_cmd;
	char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};

	if (d->o.pause_pid && kill(d->o.pause_pid, run ? SIGCONT : SIGSTOP)) {
		fprintf(stderr, "ckptdev: cannot %s process %d: %s\n", run ? "resume" : "suspend",
		        (int)d->o.pause_pid, strerror(errno));
		return CKPT_ERROR_SYSTEM;
	}
	return cmd ? ckpt_exec(d->ctx, argv, NULL, GUEST_CMD_TIMEOUT_MS, NULL, NULL) : 0;
}

/* Print what each NIC's buffer did in this epoch: a line for people, or
 * with --json one object: {"epoch", "postsuspend_at_s", "commit_at_s",
 * "latency_us": {step: us}, "nics": [{"vif", "ifb", "released", "held",
 * "dropped"}]} (times from the start of the run). */
static void report_epoch(struct driver *d, const double us[3], const double at[3])
{
	char line[8192];
	uint64_t drops = 0;
	size_t len;
	bool first = true;

	if (d->o.json)
		len = (size_t)snprintf(
		        line, sizeof(line),
		        "{\"epoch\": %u, \"postsuspend_at_s\": %.6f, "
		        "\"commit_at_s\": %.6f, \"latency_us\": {\"postsuspend\": %.1f, "
		        "\"preresume\": %.1f, \"commit\": %.1f}, \"nics\": [",
		        d->epoch, (at[0] - d->start_us) / 1e6, (at[2] - d->start_us) / 1e6, us[0],
		        us[1], us[2]);
	else
		len = (size_t)snprintf(line, sizeof(line),
		                       "epoch %4u: postsuspend %6.0f us  preresume %4.0f us"
		                       "  commit %6.0f us",
		                       d->epoch, us[0], us[1], us[2]);
	/* every NIC's counters in one request (the NICs come first in the
	 * set, in --nic order: make_specs) */
	for (int i = 0; i < d->o.n_nics; i++)
		d->stats_rc[i] = CKPT_ERROR_FAIL; /* until read */
	if (d->o.n_nics)
		ckpt_devset_nic_stats(d->set, d->stats, d->stats_rc, MAX_DEVS);
	for (size_t i = 0; i < (size_t)d->o.n_nics; i++) {
		ckpt_dev *dev = ckpt_devset_device(d->set, i);
		const char *vif = d->o.nics[i];
		const ckpt_nic_stats st = d->stats[i];

		if (d->stats_rc[i])
			continue; /* logged by the library, naming the NIC */
		if (len < sizeof(line) && d->o.json)
			len += (size_t)snprintf(
			        line + len, sizeof(line) - len,
			        "%s{\"vif\": \"%s\", \"ifb\": \"%s\", \"released\": %" PRIu64
			        ", \"held\": %" PRIu64 ", \"dropped\": %" PRIu64 "}",
			        first ? "" : ", ", vif, ckpt_nic_ifb(dev),
			        st.packets_released - d->released_before[i], st.packets_held,
			        st.drops);
		else if (len < sizeof(line))
			len += (size_t)snprintf(line + len, sizeof(line) - len,
			                        " | %s: released %4" PRIu64 " held %4" PRIu64
			                        " dropped %" PRIu64,
			                        vif, st.packets_released - d->released_before[i],
			                        st.packets_held, st.drops);
		first = false;
		d->released_before[i] = st.packets_released;
		if (st.packets_held > d->max_held)
			d->max_held = st.packets_held;
		drops += st.drops; /* cumulative per NIC: their sum is the total */
	}
	d->drops = drops;
	printf("%s%s\n", line, d->o.json ? "]}" : "");
	fflush(stdout);
}

static void teardown_done(ckpt_ctx *ctx, int rc, void *user);

/* End the loop (completion callbacks come from inside ev_run). */
static void finish(struct driver *d)
{
	ev_break(d->loop, EVBREAK_ALL);
}

static void stop(struct driver *d)
{
	int rc;

	if (d->stopping)
		return;
	d->stopping = true;
	if (d->setting_up) {
		ckpt_ao_abort(d->ctx, &d->setup_how); /* setup_done follows */
		return;
	}
	ev_timer_stop(d->loop, &d->tick);
	fprintf(d->human, "tearing down (held packets are released)\n");
	d->teardown_us = now_us();
	rc = ckpt_devset_teardown(d->set, &d->teardown_how);
	if (rc)
		teardown_done(d->ctx, rc, d);
}

/* One checkpoint.  A step that fails ends the run: the guest runs again
 * and the teardown lets out what the buffers hold. */
static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct driver *d = w->data;
	int (*const steps[3])(ckpt_devset *) = {ckpt_devset_postsuspend, ckpt_devset_preresume,
	                                        ckpt_devset_commit};
	unsigned epoch = d->epoch + 1;
	double us[3], at[3];
	const char *failed = NULL;
	int rc = 0, s;

	(void)loop;
	(void)revents;

	for (s = 0; s < 3; s++) {
		double t0;
		if (s == 0 && (rc = guest(d, false))) {
			failed = "suspending the guest";
			break;
		}
		if (s == 1)
			usleep(d->o.transfer_ms * 1000);
		if (s == 2) {
			if ((rc = guest(d, true))) {
				failed = "resuming the guest";
				break;
			}
			usleep(d->o.ack_ms * 1000);
		}
		at[s] = t0 = now_us();
		rc = steps[s](d->set);
		us[s] = now_us() - t0;
		lat_add(&d->lat[s], us[s]);
		if (rc) {
			failed = step_names[s];
			break;
		}
	}
	if (rc) {
		fprintf(stderr, "ckptdev: domain %u: epoch %u: %s failed: %s; stopping\n",
		        d->o.domid, epoch, failed, ckpt_strerror(rc));
		d->rc = rc;
		if (s < 2)
			guest(d, true); /* it is still suspended (or half so) */
		stop(d);
		return;
	}
	d->epoch = epoch;
	report_epoch(d, us, at);
	if (d->o.count && d->epoch >= d->o.count)
		stop(d);
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct driver *d = w->data;

	(void)loop;
	(void)revents;
	fprintf(d->human, "signal %d\n", w->signum);
	stop(d);
}

static void setup_done(ckpt_ctx *ctx, int rc, void *user)
{
	struct driver *d = user;

	(void)ctx;
	d->setting_up = false;
	if (rc) {
		fprintf(stderr, "ckptdev: setup failed: %s (see the messages above)\n",
		        ckpt_strerror(rc));
		d->rc = rc;
		finish(d);
		return;
	}
	fprintf(d->human, "domain %u: %zu device(s) protected; checkpoint every %u ms\n",
	        d->o.domid, ckpt_devset_count(d->set), d->o.interval_ms);
	for (size_t i = 0; i < ckpt_devset_count(d->set); i++) {
		ckpt_dev *dev = ckpt_devset_device(d->set, i);
		if (ckpt_nic_ifb(dev))
			fprintf(d->human, "  %s buffered through %s\n",
			        d->o.nics[ckpt_dev_devid(dev)], ckpt_nic_ifb(dev));
	}
	fflush(stdout);
	if (d->stopping) { /* a signal came while setting up, too late to abort */
		d->stopping = false;
		stop(d);
		return;
	}
	ev_timer_start(d->loop, &d->tick);
}

static void teardown_done(ckpt_ctx *ctx, int rc, void *user)
{
	struct driver *d = user;

	(void)ctx;
	if (rc) {
		fprintf(stderr, "ckptdev: teardown failed: %s\n", ckpt_strerror(rc));
		if (!d->rc)
			d->rc = rc;
	}
	finish(d);
}

/* The end of the run: for people, or with --json one object
 * {"summary": {"epochs", "max_held", "dropped", "start_monotonic_s",
 * "teardown_at_s", "steps": {step: {"n", "p50_us", "p99_us", "max_us"}}}}.
 * start_monotonic_s is CLOCK_MONOTONIC at the start of the run, so that
 * the "_at_s" times can be joined with other programs' logs (the demo's);
 * teardown_at_s is when the teardown started (null if none did). */
static void summary(struct driver *d)
{
	char teardown_at[32] = "null";

	if (d->teardown_us)
		snprintf(teardown_at, sizeof(teardown_at), "%.6f",
		         (d->teardown_us - d->start_us) / 1e6);
	if (d->o.json)
		printf("{\"summary\": {\"epochs\": %u, \"max_held\": %" PRIu64
		       ", \"dropped\": %" PRIu64 ", \"start_monotonic_s\": %.6f"
		       ", \"teardown_at_s\": %s, \"steps\": {",
		       d->epoch, d->max_held, d->drops, d->start_us / 1e6, teardown_at);
	else
		printf("%u checkpoint(s); most packets held at once %" PRIu64 "; dropped %" PRIu64
		       "\n",
		       d->epoch, d->max_held, d->drops);
	for (int s = 0; s < 3 && d->lat[s].n; s++) {
		struct lat *l = &d->lat[s];
		double p50 = lat_pct(l, 50), p99 = lat_pct(l, 99), max = l->v[l->n - 1];
		if (d->o.json)
			printf("%s\"%s\": {\"n\": %zu, \"p50_us\": %.1f, \"p99_us\": %.1f, "
			       "\"max_us\": %.1f}",
			       s ? ", " : "", step_names[s], l->n, p50, p99, max);
		else
			printf("  %-11s p50 %7.1f us  p99 %7.1f us  max %7.1f us  (%zu)\n",
			       step_names[s], p50, p99, max, l->n);
	}
	if (d->o.json)
		printf("}}}\n");
	for (int s = 0; s < 3; s++)
		free(d->lat[s].v);
}

/* The domain's NIC records (ckpt_nic_survey) into d->recs. */
static int survey(struct driver *d)
{
	int rc = ckpt_nic_survey(d->ctx, d->o.domid, d->recs, MAX_DEVS, &d->n_recs);

	if (rc == CKPT_ERROR_BUFFERFULL)
		fprintf(stderr, "ckptdev: domain %u has %zu NIC records, this tool handles %d\n",
		        d->o.domid, d->n_recs, MAX_DEVS);
	else if (rc)
		fprintf(stderr, "ckptdev: cannot read domain %u's NIC records: %s\n", d->o.domid,
		        ckpt_strerror(rc));
	return rc;
}

static const char *owner_state(const ckpt_nic_record *r)
{
	if (!r->owner_pid)
		return "unrecorded";
	return r->owner_alive ? "running" : "gone";
}

/* ckptdev status: what protects the domain's NICs. */
static int status(struct driver *d)
{
	int rc = survey(d);

	if (rc)
		return rc;
	if (d->o.json)
		printf("{\"domid\": %u, \"nics\": [", d->o.domid);
	else if (!d->n_recs)
		printf("domain %u: no NIC is protected (no record in xenstore)\n", d->o.domid);
	else
		printf("domain %u: %zu NIC record(s)\n", d->o.domid, d->n_recs);
	for (size_t i = 0; i < d->n_recs; i++) {
		const ckpt_nic_record *r = &d->recs[i];
		const ckpt_nic_stats *st = &r->stats;

		if (d->o.json) {
			printf("%s{\"devid\": %d, \"vif\": \"%s\", \"ifb\": \"%s\", "
			       "\"owner_pid\": %d, \"owner\": \"%s\", \"ifb_exists\": %s, "
			       "\"qdisc\": \"%s\"",
			       i ? ", " : "", r->devid, r->vif, r->ifb, r->owner_pid,
			       owner_state(r), r->ifb_exists ? "true" : "false", r->qdisc);
			if (!r->stats_rc)
				printf(", \"released_packets\": %" PRIu64
				       ", \"released_bytes\": %" PRIu64
				       ", \"held_packets\": %" PRIu64 ", \"held_bytes\": %" PRIu64
				       ", \"dropped\": %" PRIu64,
				       st->packets_released, st->bytes_released, st->packets_held,
				       st->bytes_held, st->drops);
			printf("}");
			continue;
		}
		printf("  nic %d: vif %s, IFB %s%s, owner %d (%s)\n", r->devid,
		       r->vif[0] ? r->vif : "(unrecorded)", r->ifb[0] ? r->ifb : "(none yet)",
		       r->ifb[0] && !r->ifb_exists ? " (gone)" : "", r->owner_pid, owner_state(r));
		if (!r->stats_rc)
			printf("    %s qdisc: released %" PRIu64 " packets (%" PRIu64
			       " bytes), holds %" PRIu64 " (%" PRIu64 " bytes), dropped %" PRIu64
			       "\n",
			       r->qdisc, st->packets_released, st->bytes_released, st->packets_held,
			       st->bytes_held, st->drops);
		if (r->owner_pid && !r->owner_alive)
			printf("    a crashed run's leftover: `ckptdev teardown --domid %u` "
			       "removes "
			       "it\n",
			       d->o.domid);
	}
	if (d->o.json)
		printf("]}\n");
	return 0;
}

/* ckptdev teardown without devices: clean up every recorded NIC whose
 * owner has gone; *refused counts those left alone. */
static int discover(struct driver *d, int *refused)
{
	int rc = survey(d);

	*refused = 0;
	if (rc)
		return rc;
	for (size_t i = 0; i < d->n_recs; i++) {
		const ckpt_nic_record *r = &d->recs[i];

		if (r->owner_alive && r->owner_pid != getpid()) {
			fprintf(stderr,
			        "ckptdev: domain %u: nic %d (%s) is protected by process %d, which "
			        "is running: not touched\n",
			        d->o.domid, r->devid, r->vif, r->owner_pid);
			++*refused;
		} else if (!r->vif[0]) {
			fprintf(stderr,
			        "ckptdev: domain %u: nic %d's record names no vif (not "
			        "ckptdev's?): "
			        "not touched\n",
			        d->o.domid, r->devid);
			++*refused;
		} else {
			d->o.nic_devids[d->o.n_nics] = r->devid;
			d->o.nics[d->o.n_nics++] = r->vif;
		}
	}
	if (!d->n_recs)
		fprintf(d->human, "domain %u: no NIC record: nothing to clean up\n", d->o.domid);
	return 0;
}

/* After a cleanup: one line per device. */
static void report_cleanup(struct driver *d)
{
	for (size_t i = 0; i < ckpt_devset_count(d->set); i++) {
		const ckpt_dev *dev = ckpt_devset_device(d->set, i);
		const char *vif = ckpt_dev_param(dev, "vif");
		int rc = ckpt_dev_last_rc(dev);

		fprintf(d->human, "domain %u: %s %d (%s): %s\n", d->o.domid,
		        ckpt_dev_kind_name(dev), ckpt_dev_devid(dev),
		        vif ? vif : ckpt_dev_param(dev, "target"),
		        rc ? ckpt_strerror(rc) : "removed");
	}
}

static int run(struct driver *d)
{
	xentoollog_logger_stdiostream *lg;
	ckpt_ctx_opts copts = {0};
	int refused = 0;
	size_t n;
	int rc;

	d->human = d->o.json ? stderr : stdout;
	d->start_us = now_us();
	lg = xtl_createlogger_stdiostream(stderr, d->o.verbose ? XTL_DEBUG : XTL_WARN, 0);
	copts.logger = (xentoollog_logger *)lg;
	/* libev's default loop, as most libev programs have: it reaps every
	 * child that reports with SIGCHLD, which the library's children never
	 * do (they are supervisors that do not exec; see src/ao/child.c) */
	d->loop = EV_DEFAULT;
	copts.ev_loop = d->loop;
	rc = ckpt_ctx_new(&d->ctx, &copts);
	for (int i = 0; !rc && i < d->o.n_faults; i++) {
		rc = ckpt_fault_arm(d->ctx, d->o.faults[i].name, d->o.faults[i].nth, 0);
		if (rc)
			fprintf(stderr, "ckptdev: --fault %s: %s\n", d->o.faults[i].name,
			        ckpt_strerror(rc));
	}
	if (!rc && d->o.cmd == CMD_STATUS) {
		rc = status(d);
		goto out;
	}
	if (!rc && d->o.cmd == CMD_TEARDOWN && !d->o.n_nics && !d->o.n_disks) {
		rc = discover(d, &refused);
		if (!rc && !d->o.n_nics)
			goto out;
	}
	n = make_specs(d);
	if (!rc)
		rc = ckpt_devset_new(d->ctx, d->o.domid, d->specs, n, &d->set);
	if (rc)
		goto out;

	if (d->o.cmd == CMD_TEARDOWN) {
		rc = ckpt_devset_cleanup(d->set, NULL);
		report_cleanup(d);
		fprintf(d->human, "domain %u: cleanup %s\n", d->o.domid,
		        rc ? ckpt_strerror(rc) : "done");
		goto out;
	}

	d->setup_how = (ckpt_async_how){.callback = setup_done, .user = d};
	d->teardown_how = (ckpt_async_how){.callback = teardown_done, .user = d};
	ev_timer_init(&d->tick, tick_cb, d->o.interval_ms / 1000.0, d->o.interval_ms / 1000.0);
	d->tick.data = d;
	ev_signal_init(&d->sigint, signal_cb, SIGINT);
	ev_signal_init(&d->sigterm, signal_cb, SIGTERM);
	d->sigint.data = d->sigterm.data = d;
	ev_signal_start(d->loop, &d->sigint);
	ev_signal_start(d->loop, &d->sigterm);

	d->setting_up = true;
	rc = ckpt_devset_setup(d->set, &d->setup_how);
	if (!rc) {
		ev_run(d->loop, 0);
		rc = d->rc;
		summary(d);
	}
	ev_signal_stop(d->loop, &d->sigint);
	ev_signal_stop(d->loop, &d->sigterm);
out:
	if (d->set && ckpt_devset_free(d->set))
		rc = rc ? rc : CKPT_ERROR_BUSY;
	ckpt_ctx_free(d->ctx);
	xtl_logger_destroy((xentoollog_logger *)lg);
	return rc || refused ? 1 : 0;
}

int main(int argc, char **argv)
{
	static struct driver d;
	const char *cmd = argc > 1 ? argv[1] : "";

	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "run")) {
		d.o.cmd = CMD_RUN;
	} else if (!strcmp(cmd, "teardown")) {
		d.o.cmd = CMD_TEARDOWN;
	} else if (!strcmp(cmd, "status")) {
		d.o.cmd = CMD_STATUS;
	} else {
		if (cmd[0])
			fprintf(stderr,
			        "ckptdev: unknown command \"%s\" (run, teardown or status)\n", cmd);
		else
			fprintf(stderr, "ckptdev: a command is needed (run, teardown or status)\n");
		usage(stderr);
		return 2;
	}
	parse(&d.o, argc - 1, argv + 1);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return run(&d);
}
