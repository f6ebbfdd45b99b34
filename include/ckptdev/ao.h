/*
 * ckptdev/ao.h - the library context, error codes, event-loop bindings,
 * asynchronous operations and fault injection.
 *
 * Every other ckptdev module builds on what is declared here.
 *
 * THE CONTEXT
 *   A ckpt_ctx holds one application's connection to the library: its
 *   logger, its event-loop binding, its xenstore connection (opened on first
 *   use), its running child processes and its armed fault points.  A program
 *   normally has one.
 *
 * THREADS
 *   The library is thread-safe: each entry point takes the context's lock
 *   (the checkpoint steps of devices.h take only their devset's lock).
 *   The application's callbacks (completions) are called with every lock
 *   released, so a callback may call into the library again, including
 *   starting a synchronous operation or freeing the context.
 *   Who may call what, by binding:
 *     CKPT_LOOP_HOOKS, CKPT_LOOP_POLL: every function, from any thread.
 *       Completion callbacks run on a thread that is inside the library
 *       for the loop: one running ckpt_osevent_occurred_* or
 *       ckpt_osevent_afterpoll, or one waiting in a synchronous call.
 *     CKPT_LOOP_LIBEV: libev's loop and its watchers belong to the thread
 *       that runs ev_run().  Start, abort and drive operations from that
 *       thread (from any callback, or before/after ev_run).  From ANY
 *       thread: ckpt_dev_done() (a kind reporting), the checkpoint steps
 *       (ckpt_devset_postsuspend/preresume/commit) and the read-only
 *       getters.  Completion callbacks run on the loop's thread.
 *   A report from a thread that is not inside the library (ckpt_dev_done
 *   from a kind's worker, say) never runs the rest of the operation or any
 *   callback on the reporting thread: the library hands it to the loop,
 *   waking it, and returns at once without waiting for the context's lock.
 *   The event-loop hooks of CKPT_LOOP_HOOKS are called WITH the lock held
 *   and must not call into the library; they may be called from any
 *   thread that calls into it.
 *   A synchronous call (how == NULL) cannot be made from inside the
 *   library on the same thread (from a kind's op or a hook): it returns
 *   CKPT_ERROR_INVAL and starts nothing.
 *
 * ERRORS
 *   Functions that can fail return int: 0 on success or a negative
 *   CKPT_ERROR_* code.  Every failure is logged once, where it is detected,
 *   with the reason; ckpt_strerror() names a code.  Allocation failure is not
 *   reported: the library prints a message and aborts.
 *
 *   NULL, one rule for every function of the public headers:
 *   - A function returning int returns CKPT_ERROR_INVAL, and does
 *     nothing, when the object it acts on or a pointer it needs is NULL.
 *     The refusal is logged when there is a context to log to (a ctx
 *     argument, or the object's own); a NULL ctx, devset or device has
 *     none, and nothing is logged.  This includes the int getters:
 *     ckpt_dev_devid(NULL) and ckpt_dev_last_rc(NULL) give
 *     CKPT_ERROR_INVAL, which is never a devid nor a step's result.
 *   - The destructors are the exception: ckpt_ctx_free(NULL) and
 *     ckpt_devset_free(NULL) do nothing and return 0.
 *   - Any other getter given a NULL object (or a NULL key) returns a
 *     neutral value: NULL for a pointer (ckpt_devset_device,
 *     ckpt_dev_kind_name, ckpt_dev_ctx, ckpt_dev_param, ckpt_dev_priv,
 *     ckpt_dev_subkind, ckpt_nic_ifb), 0 for a count (ckpt_devset_count),
 *     CKPT_DOMID_INVALID for a domid (ckpt_devset_domid, ckpt_dev_domid)
 *     and CKPT_DEV_DOWN for a state (ckpt_devset_state, ckpt_dev_state).
 *   - A void function given a NULL object does nothing.
 *   ckpt_strerror, ckpt_dev_state_name and ckpt_fault_list never return
 *   NULL.
 */
#ifndef CKPTDEV_AO_H
#define CKPTDEV_AO_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ev_loop;           /* libev */
struct xentoollog_logger; /* libxentoollog */

/* ------------------------------------------------------------------ errors */

enum {
	CKPT_OK = 0,
	CKPT_ERROR_FAIL = -1,        /* unspecified failure (see the log) */
	CKPT_ERROR_INVAL = -2,       /* invalid argument or call sequence */
	CKPT_ERROR_NOTSUP = -3,      /* not supported here or not built in */
	CKPT_ERROR_TIMEDOUT = -4,    /* a deadline passed */
	CKPT_ERROR_ABORTED = -5,     /* ckpt_ao_abort() ended the operation */
	CKPT_ERROR_SCRIPT = -6,      /* a script failed or could not run */
	CKPT_ERROR_XENSTORE = -7,    /* xenstore access failed */
	CKPT_ERROR_NETLINK = -8,     /* a netlink request failed */
	CKPT_ERROR_NOMEM = -9,       /* out of memory (kernel or daemon) */
	CKPT_ERROR_BUSY = -10,       /* the object is in use */
	CKPT_ERROR_NOTFOUND = -11,   /* no such object */
	CKPT_ERROR_EXISTS = -12,     /* the object exists already */
	CKPT_ERROR_BUFFERFULL = -13, /* the caller's buffer is too small */
	CKPT_ERROR_SYSTEM = -14,     /* a system call failed (see the log) */
	CKPT_ERROR_FAULT = -15,      /* an injected fault (fault_arm's default) */
	CKPT_ERROR_LAST = -15
};

/* The name of an error code, e.g. "timed out".  Never NULL; an unknown
 * code gives "unknown error". */
const char *ckpt_strerror(int rc);

/* ----------------------------------------------------------- the context */

typedef struct ckpt_ctx ckpt_ctx;

enum ckpt_loop_kind {
	CKPT_LOOP_LIBEV = 0, /* the default: watchers on a libev loop */
	CKPT_LOOP_HOOKS,     /* the application's loop, through ckpt_osevent_hooks */
	CKPT_LOOP_POLL,      /* the application polls: beforepoll/afterpoll */
};

/*
 * CKPT_LOOP_HOOKS: the application's loop watches what the library asks for
 * and reports back through ckpt_osevent_occurred_fd/_timeout.
 *
 * fd_register: watch fd for `events` (POLLIN, POLLOUT, ...).  Store whatever
 *   the application needs in *for_app_reg; it is handed back to modify and
 *   deregister.  When the fd is ready, call ckpt_osevent_occurred_fd() with
 *   for_ckpt.  Return 0, or a negative value to refuse (the library then
 *   fails the operation with CKPT_ERROR_SYSTEM).
 * fd_modify: change the events watched; may update *for_app_reg.
 * fd_deregister: stop watching.  Once it returns, the application must not
 *   report this registration any more.
 * timeout_register: call ckpt_osevent_occurred_timeout(for_ckpt) once when
 *   CLOCK_MONOTONIC reaches `abs`.  A timeout fires at most once; after the
 *   report its registration is gone (no deregister follows).
 * timeout_modify: optional and not called: the library moves a deadline
 *   by deregistering the timeout and registering a new one (a new
 *   for_ckpt), so that a report of the old deadline already on its way is
 *   recognised as stale.
 * timeout_deregister: cancel a timeout that has not been reported (the
 *   application may have fired it and not reported it yet: the late
 *   report is then ignored).
 * Each registration has a for_ckpt of its own, never reused in the
 * context's life; a report of a registration that is gone is ignored.
 *
 * The hooks are called with the context's lock held: they must not call
 * into the library.  They may be called from any thread that calls into it.
 */
typedef struct ckpt_osevent_hooks {
	int (*fd_register)(void *user, int fd, void **for_app_reg, short events, void *for_ckpt);
	int (*fd_modify)(void *user, int fd, void **for_app_reg, short events);
	void (*fd_deregister)(void *user, int fd, void *for_app_reg);
	int (*timeout_register)(void *user, void **for_app_reg, struct timespec abs,
	                        void *for_ckpt);
	int (*timeout_modify)(void *user, void **for_app_reg, struct timespec abs);
	void (*timeout_deregister)(void *user, void *for_app_reg);
} ckpt_osevent_hooks;

/* Options for ckpt_ctx_new().  A zeroed struct gives the defaults. */
typedef struct ckpt_ctx_opts {
	/* Where the library logs; NULL: stderr, warnings and worse. */
	struct xentoollog_logger *logger;
	enum ckpt_loop_kind loop;
	/* CKPT_LOOP_LIBEV: the loop to use; NULL: libev's default loop. */
	struct ev_loop *ev_loop;
	/* CKPT_LOOP_HOOKS: the hooks (copied) and their first argument. */
	const ckpt_osevent_hooks *hooks;
	void *hooks_user;
	/* How many scripts (hotplug and kind scripts) may run at once; those
	 * started beyond that wait for a slot, in order, and their timeout
	 * starts when they do.  0: twice the CPUs online, at least 4. */
	unsigned max_scripts;
} ckpt_ctx_opts;

/*
 * Create a context.  opts may be NULL for the defaults.
 * Returns 0 and sets *ctx_out, or:
 *   CKPT_ERROR_INVAL   a hooks binding without hooks, or an unknown loop kind;
 *   CKPT_ERROR_SYSTEM  the libev default loop or an internal fd could not be
 *                      created (the reason is logged).
 * The xenstore connection is not opened here but on first use; libxenstore
 * finds the daemon through XENSTORED_PATH or XENSTORED_RUNDIR.
 */
int ckpt_ctx_new(ckpt_ctx **ctx_out, const ckpt_ctx_opts *opts);

/*
 * Destroy a context.  NULL is accepted (returns 0).
 * Returns CKPT_ERROR_BUSY, logs how many operations are still running and
 * destroys nothing if any operation has not completed or its callback has
 * not yet been called: abort them (and let their callbacks run) first.
 * It may be called from a completion callback: from the last one due it
 * succeeds (the library touches the context no more once it returns).
 */
int ckpt_ctx_free(ckpt_ctx *ctx);

/* ----------------------------------------------- asynchronous operations */

/*
 * How an asynchronous operation reports its end.  Functions that start one
 * take `const ckpt_async_how *how`:
 *   how != NULL: the function returns 0 once the operation is under way, and
 *     how->callback(ctx, rc, how->user) is called exactly once, later, from
 *     the event loop (never from inside the starting call, even if the
 *     operation ends at once; see THREADS for which thread).  A negative
 *     return means nothing was started and no callback will come.  *how is
 *     copied; the pointer itself names the operation for ckpt_ao_abort(),
 *     so keep it unique while it runs.  how->callback must not be NULL
 *     (CKPT_ERROR_INVAL).
 *   how == NULL: the function runs the operation to its end before it
 *     returns, driving the library's events itself (whatever the binding;
 *     reports from other threads wake it), and returns its rc.  Callbacks
 *     of other operations that end meanwhile are called from inside that
 *     call.
 */
typedef void ckpt_callback(ckpt_ctx *ctx, int rc, void *user);

typedef struct ckpt_async_how {
	ckpt_callback *callback;
	void *user;
} ckpt_async_how;

/*
 * Ask the running operation started with `how` to end promptly.  Its work
 * is cleaned up (children stopped and reaped, watches removed, timers
 * cancelled) and its callback is called with CKPT_ERROR_ABORTED, unless it
 * had already finished with another rc.  Work that can stop at once does,
 * so the callback may run before ckpt_ao_abort() returns; a script is
 * stopped (SIGTERM to its process group, SIGKILL after a grace) and the
 * callback follows when it has been reaped.
 * Returns 0; CKPT_ERROR_NOTFOUND if no running operation has that how (it
 * has ended, or its callback is pending); CKPT_ERROR_NOTSUP (logged) if
 * the operation cannot be aborted: a teardown or cleanup is the cleanup
 * and runs to its end, its callback comes as usual.
 */
int ckpt_ao_abort(ckpt_ctx *ctx, const ckpt_async_how *how);

/* --------------------------------------------------------- programs */

/*
 * Run a program the way the library runs its own scripts (asynchronously,
 * see ckpt_async_how): argv[0] an absolute path; env's "NAME=value"
 * entries added to the environment (may be NULL); both copied.  stdin is
 * /dev/null; each line of stdout (info) and stderr (warning) goes to the
 * log as "argv0[pid]: line"; it runs in a process group of its own and
 * counts against ckpt_ctx_opts.max_scripts.  After timeout_ms (0: none)
 * its group gets SIGTERM, and SIGKILL 2 s later.  *status_out (may be
 * NULL) gets its wait status before the completion.
 * Completes with 0 (it exited 0); CKPT_ERROR_SCRIPT (another exit status
 * or a signal, logged; also a program that cannot be executed);
 * CKPT_ERROR_TIMEDOUT; CKPT_ERROR_ABORTED (ckpt_ao_abort kills its group
 * at once).  Returns CKPT_ERROR_INVAL (nothing started) for a NULL ctx,
 * a missing or relative argv[0], or a bad how.
 */
int ckpt_exec(ckpt_ctx *ctx, char *const argv[], char *const env[], unsigned timeout_ms,
              int *status_out, const ckpt_async_how *how);

/* ------------------------------------------------------ event-loop glue */

/* CKPT_LOOP_HOOKS: report a ready fd / an expired timeout (see the hooks).
 * Reports of registrations that no longer exist are ignored. */
void ckpt_osevent_occurred_fd(ckpt_ctx *ctx, void *for_ckpt, int fd, short events, short revents);
void ckpt_osevent_occurred_timeout(ckpt_ctx *ctx, void *for_ckpt);

/*
 * CKPT_LOOP_POLL: before each poll(), add the library's fds to the array
 * and lower the timeout.
 *   *nfds_io   in: room in fds[]; out: entries used (on BUFFERFULL: needed).
 *   fds        filled from index 0.
 *   *timeout_io in: the caller's timeout in ms (-1: none); out: lowered to
 *              the library's next deadline.
 * Returns 0, or CKPT_ERROR_BUFFERFULL when fds[] is too small (*nfds_io
 * then says how many entries are needed; nothing else is changed), or
 * CKPT_ERROR_INVAL if the context uses another binding.
 * One thread at a time may run the beforepoll/poll/afterpoll cycle; any
 * thread may start operations meanwhile (the library wakes the poll).
 */
int ckpt_osevent_beforepoll(ckpt_ctx *ctx, int *nfds_io, struct pollfd *fds, int *timeout_io);

/* CKPT_LOOP_POLL: after poll() returned, dispatch what is ready.  fds and
 * nfds are those of the matching beforepoll (revents filled by poll). */
void ckpt_osevent_afterpoll(ckpt_ctx *ctx, int nfds, const struct pollfd *fds);

/* ------------------------------------------------------- fault injection */

/*
 * Named fault points let a test make the library fail at a chosen place:
 * "exec.fork", "xs.read", ...  ckpt_fault_list() names them all.
 * Arming a point makes its nth pass (counting from 1, from the arming)
 * fail with rc (0 means CKPT_ERROR_FAULT; a point may translate it to what
 * a real failure there would give).  Unarmed points cost one branch.
 */

/* The names of all fault points; *n_out gets their number. */
const char *const *ckpt_fault_list(size_t *n_out);

/* Returns 0, CKPT_ERROR_NOTFOUND for an unknown name, CKPT_ERROR_INVAL for
 * nth < 1 or rc > 0. */
int ckpt_fault_arm(ckpt_ctx *ctx, const char *name, unsigned nth, int rc);

/* Disarm every point and reset every pass counter. */
void ckpt_fault_reset(ckpt_ctx *ctx);

/* How many times the point was passed since the last reset (counted
 * whenever any point of the context is armed, or counting was enabled). */
int ckpt_fault_passes(ckpt_ctx *ctx, const char *name, unsigned *passes_out);

/* Count passes without failing anything (for the harness's dry run). */
void ckpt_fault_count(ckpt_ctx *ctx, bool on);

#ifdef __cplusplus
}
#endif

#endif /* CKPTDEV_AO_H */
