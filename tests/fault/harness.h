/*
 * harness.h - the parent side of ckpt-fault: runs, outcomes, the table,
 * and the faults in the world (external.c).
 */
#ifndef CKPT_FAULT_HARNESS_H
#define CKPT_FAULT_HARNESS_H

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <time.h>

#include "../xs/xsd.h"
#include "fault.h"
#include "world.h"

/* The invariants checked after every run (see ckpt-fault.c). */
enum invariant {
	V_RC,
	V_ONCE,
	V_FDS,
	V_PROCS,
	V_XS,
	V_KERNEL,
	V_EXIT,
	V_AGAIN,
	V_HUNG,
	V_REACHED,
	V_PACKETS,
	V__COUNT
};

/* What one run gave, and which invariants it broke. */
struct outcome {
	const char *what, *op; /* the row: point or fault, operation */
	unsigned nth;          /* the pass failed (0: none) */
	int want_again;        /* what the second life must give */
	int rc, again_rc;
	bool reached;
	bool left; /* the failed run left what the cleanup then removed */
	unsigned passes[FAULT_MAX_POINTS];
	unsigned bad; /* 1 << enum invariant */
	int said;
	long long start_ms;
};

#define MAX_ROWS 256
struct row {
	char what[40], op[40];
	int runs, violated, left;
	long long ms; /* the runs' wall time */
	int failed[V__COUNT];
};

/*
 * A fault in the world, acted out by the parent while the run goes on.
 *   ready        polled every 10 ms until it says the moment has come;
 *   act          then called once;
 *   after_kill   set when act kills the run's process: called instead of
 *                the checks of the run's own report (it recovers, e.g. with
 *                `ckptdev teardown`), then the world is compared;
 *   between      before the second life: mend what the fault broke (a
 *                new xenstored: returns its socket path; else NULL).
 */
struct ext {
	bool (*ready)(struct ext *x, pid_t child);
	void (*act)(struct ext *x, pid_t child);
	void (*after_kill)(struct ext *x, struct outcome *o);
	const char *(*between)(struct ext *x, struct outcome *o);
	bool acted;
	char marker[PATH_MAX]; /* a file the run's script makes */
};

struct harness {
	struct xsd xsd;
	char tmpdir[64];
	const char *only, *point, *skip, *ckptdev;
	const char *script;  /* the NIC hotplug script */
	char stub[PATH_MAX]; /* libxsd_stub.so */
	bool net, plug, verbose, skipped, full;
	int nic_setup_rc;  /* what a NIC's setup gives here unarmed */
	struct world last; /* after the last run, when it was as before */
	struct row rows[MAX_ROWS];
	int nrows;
};
extern struct harness H;

static inline long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Run req in a child and check every invariant into o; 0 if all held. */
int run_one(const struct fault_req *req, struct outcome *o, struct ext *ext);
/* Add o to its row of the table. */
void record(struct outcome *o);
/* Report a broken invariant (printed, and kept in o). */
void violation(struct outcome *o, enum invariant v, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* An executable /bin/sh script. */
void write_script(const char *path, const char *body);

/* /libxl/<domid> for the harness's domains (after a new xenstored too). */
void make_domains(void);

/* The faults in the world, each a row of the table. */
void external_faults(void);

#endif /* CKPT_FAULT_HARNESS_H */
