/*
 * fault.h - the fault-injection harness (ckpt-fault): what its parts share.
 *
 * The harness (ckpt-fault.c) forks one child per run.  The child (run.c)
 * makes a ctx with the poll binding, runs one operation with at most one
 * fault point armed for that operation alone, checks what only it can see
 * (callbacks, its fds, its children), reports, waits for the parent's
 * word, runs the devset's life again with nothing armed, reports again and
 * exits (through exit(), so LeakSanitizer looks at it in an ASan build).
 * Between the two phases and after the second, the parent looks at the
 * world (world.h) and for processes left behind.
 */
#ifndef CKPT_FAULT_H
#define CKPT_FAULT_H

#include <stdbool.h>
#include <sys/types.h>

#include "ckptdev/devices.h"

#define FAULT_MAX_POINTS 64
#define FAULT_HUNG       (-1000) /* an operation that never completed */

/* What the devsets are made of. */
enum fault_profile {
	PROF_CORE, /* no devset: the core's own operations */
	PROF_DISK, /* two disks, one with a script */
	PROF_NIC,  /* a NIC on vif9.0 (in the harness's netns) and a disk */
	PROF_KIND, /* the application's kind (--kind-lib) and a disk */
};

struct fault_env;

/* An operation of the sweep: runs in the child, returns the rc of the part
 * between fault_window_open() and fault_window_close(). */
struct fault_op {
	const char *name;
	enum fault_profile profile;
	int (*run)(struct fault_env *e);
};

/* The harness's settings, the same in every child. */
struct fault_cfg {
	const char *netbuf_script; /* scripts/remus-netbuf-setup */
	const char *ok_script;     /* a disk script that exits 0 */
	const char *tmpdir;        /* the harness's folder for scripts and markers */
	bool verbose;
	bool plug; /* NICs get READY here (sch_plug): the packets invariant */
	/* --kind-lib */
	int (*kind_register)(ckpt_ctx *ctx, const char **kind_out, const char *const **params_out);
};
extern struct fault_cfg fault_cfg;

/* One run as the parent asks for it. */
struct fault_req {
	const struct fault_op *op;
	int point;                  /* index in ckpt_fault_list(), -1: none */
	unsigned nth;               /* fail that pass of it, counted from the window's start */
	bool count;                 /* the dry run: count every point's passes in the window */
	int abort_at;               /* >= 0: ckpt_ao_abort() after that many loop turns */
	const char *nic_script;     /* NULL: cfg's netbuf_script */
	const char *disk_script;    /* NULL: cfg's ok_script */
	unsigned script_timeout_ms; /* 0: the profile's */
	/* once the devset is READY, before the window: make this file and
	 * wait for <file>.go (the parent acts on the world meanwhile) */
	const char *pause_marker;
	bool no_packets;    /* the fault itself may lose the guest's output */
	bool packets_lost;  /* it does lose it: the check must see that */
	bool squeeze_watch; /* before the pause: the link watch's socket's
	                     * receive buffer to the least (see world.h) */
	int teardown_rc;    /* what the teardown after the window gives (0) */
};

/* The guest's output through a READY NIC (frames.h): sent after the
 * setup, judged when the IFB has gone. */
enum fault_packets {
	PK_NONE,      /* nothing sent */
	PK_DELIVERED, /* every frame once, in order */
	PK_HELD,      /* the rest still in an IFB that stays (judged after the cleanup) */
	PK_LOST,      /* missing with no IFB to hold them, twice, or out of order */
};

/* What the child saw in the first phase. */
struct fault_res1 {
	int rc;            /* the operation's rc, or FAULT_HUNG */
	int callbacks_bad; /* a completion that did not come exactly once */
	int fds_before, fds_after;
	int children;     /* its own children left after ctx_free */
	bool reached;     /* the armed pass was reached */
	bool state_bad;   /* a devset not DOWN at the end */
	bool free_failed; /* ckpt_devset_free / ckpt_ctx_free refused */
	unsigned passes[FAULT_MAX_POINTS];
	char detail[200];
	enum fault_packets packets;
	char packets_detail[96];
	long watch_drops; /* req->squeeze_watch: what the kernel dropped */
};

/* What it saw in the second: ckpt_devset_cleanup() if the parent asked
 * for it, then the devset's life again, nothing armed. */
struct fault_res2 {
	int cleanup_failed; /* the cleanup's rc when it failed */
	int rc;             /* the setup's rc (the op's, for the core profile) */
	int callbacks_bad;
	int fds_before, fds_after;
	int children;
	enum fault_packets packets; /* for a run whose frames were PK_HELD */
	char packets_detail[96];
};

/* The child: run req, talk to the parent over the two fds, exit. */
__attribute__((noreturn)) void fault_child(const struct fault_req *req, int to_parent,
                                           int from_parent);

/* Inside an operation: the part under test starts / ends. */
void fault_window_open(struct fault_env *e);
void fault_window_close(struct fault_env *e);

/* The operations of the sweep (run.c). */
extern const struct fault_op fault_ops[];
extern const size_t fault_n_ops;

#endif /* CKPT_FAULT_H */
