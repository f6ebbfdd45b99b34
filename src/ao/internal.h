/*
 * internal.h - the asynchronous core, as the rest of the library sees it.
 *
 * Nothing here is exported from the shared library.
 *
 * ENTERING THE LIBRARY
 *   Every public entry point and every event from the loop runs inside an
 *   event-generation context (ao_egc) on its stack:
 *
 *	ao_egc egc;
 *	ao_egc_enter(&egc, ctx);	-- takes the ctx lock
 *	... library work: internal callbacks run at once ...
 *	ao_egc_leave(&egc);		-- drops the lock, THEN calls the
 *					   application's completion callbacks
 *
 *   So the application never sees half-updated state and is never called
 *   while the library is on the stack below it.
 *
 * ASYNCHRONOUS OPERATIONS (ao)
 *   A public function that takes a ckpt_async_how checks it
 *   (ao_how_check), creates an ao, starts sub-operations belonging to it,
 *   and returns ao_inprogress().  The ao ends with exactly one
 *   ao_complete().  States: RUNNING -> COMPLETE.
 *
 * THE KINDS' TOOLKIT
 *   Everything below is the core's toolkit for the device kinds built into
 *   the library, whether or not today's kinds use each piece (xswait, for
 *   a kind that waits for a backend's hotplug-status; the modify verbs);
 *   the unit and xs tiers test each one through tests/ops/top.c.
 *
 * EVENT PRIMITIVES
 *   Each primitive struct (ao_fd, ao_time, ao_child, ao_xswatch, ao_exec,
 *   ao_xswait, ao_join) is embedded by value in its owner.  Their states:
 *     Undefined  - raw memory; only _init may be called.
 *     Idle       - after _init, after _deregister, or after its callback
 *                  (for the one-shot ones); _deregister, _is_registered and
 *                  _register/_start may be called.
 *     Active     - registered; the callback may come at any egc.
 *   _init and _deregister may be called twice; _deregister of an Idle
 *   struct does nothing.  Callbacks get the owner back with CONTAINER_OF.
 *   All functions here are called with the ctx lock held (inside an egc),
 *   except those that say otherwise (ao_work_post, ao_fault).
 */
#ifndef CKPT_AO_INTERNAL_H
#define CKPT_AO_INTERNAL_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <xentoollog.h>

#include "ckptdev/ao.h"
#include "list.h"

#define HIDDEN            __attribute__((visibility("hidden")))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define ARRAY_SIZE(a)     (sizeof(a) / sizeof((a)[0]))

typedef struct ao_egc ao_egc;
typedef struct ao_op ao_op;

/* ------------------------------------------------------------- logging */

/* Log through the ctx's logger.  errnoval < 0: no errno text. */
HIDDEN void ao_log(ckpt_ctx *ctx, xentoollog_level level, int errnoval, const char *fmt, ...)
        PRINTF_LIKE(4, 5);

#define LOG(ctx, lvl, ...)             ao_log((ctx), XTL_##lvl, -1, __VA_ARGS__)
#define LOGE(ctx, lvl, ...)            ao_log((ctx), XTL_##lvl, errno, __VA_ARGS__)
#define LOGEV(ctx, lvl, errnoval, ...) ao_log((ctx), XTL_##lvl, (errnoval), __VA_ARGS__)

/* -------------------------------------------------------------- errors */

/* The one translation from errno to a CKPT_ERROR_* code. */
HIDDEN int ao_rc_from_errno(int errnoval);
/* The one translation of a failed libxenstore call's errno. */
HIDDEN int ao_rc_from_xs_errno(int errnoval);

/* Allocation that aborts with a message when memory runs out. */
HIDDEN void *ao_malloc(size_t n);
HIDDEN void *ao_calloc(size_t n, size_t size);
HIDDEN void *ao_realloc(void *p, size_t n);
HIDDEN char *ao_strdup(const char *s);
HIDDEN char *ao_sprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* ---------------------------------------------------------------- time */

HIDDEN struct timespec ao_now(void); /* CLOCK_MONOTONIC */
HIDDEN struct timespec ao_ts_add_ms(struct timespec t, unsigned ms);
HIDDEN int ao_ts_cmp(struct timespec a, struct timespec b);
/* Milliseconds from now until t, rounded up, 0 if past, capped to INT_MAX. */
HIDDEN int ao_ts_ms_until(struct timespec t, struct timespec now);

/* ------------------------------------------------------- fault points */

enum ao_fault_point {
	FP_EXEC_FORK,
	FP_EXEC_EXEC,
	FP_EXEC_PIDFD,
	FP_EXEC_TIMEOUT,
	FP_XS_OPEN,
	FP_XS_READ,
	FP_XS_WRITE,
	FP_XS_WATCH,
	FP_TIMER_REGISTER,
	FP_FD_REGISTER,
	FP_DEV_SUBKIND_INIT,
	FP_DEV_SETUP,
	FP_DEV_TEARDOWN,
	FP_DEV_POSTSUSPEND,
	FP_DEV_PRERESUME,
	FP_DEV_COMMIT,
	FP_DEV_RELEASE,
	FP_DEV_REARM,
	FP_NL_CONNECT,
	FP_NL_ATTACH,
	FP_NL_BUFFER,
	FP_NL_RELEASE,
	FP__COUNT
};

/* The ctx's fault table, under its own lock (see fault.c). */
struct ao_faults {
	pthread_mutex_t lock;
	atomic_bool on; /* a point is armed, or counting is on */
	bool counting;
	unsigned passes[FP__COUNT];
	unsigned fire_at[FP__COUNT]; /* the pass that fails; 0: unarmed */
	int rc[FP__COUNT];
};

/* 0, or the rc the armed point fails this pass with.  One load when no
 * point of the ctx is armed and counting is off.  Any thread. */
#define ao_fault(ctx, point)                                                                       \
	(atomic_load_explicit(&(ctx)->faults.on, memory_order_relaxed)                             \
	         ? ao_fault_pass((ctx), (point))                                                   \
	         : 0)
HIDDEN int ao_fault_pass(ckpt_ctx *ctx, enum ao_fault_point point);

/* ------------------------------------------------------ fd and timer */

typedef struct ao_fd ao_fd;
typedef void ao_fd_cb(ao_egc *egc, ao_fd *ev, int fd, short events, short revents);

/* Watches one fd.  Level-triggered: the callback comes at every egc in
 * which the fd is ready, until deregistered or modified. */
struct ao_fd {
	/* private */
	ckpt_ctx *ctx;
	ao_fd_cb *func;
	int fd;
	short events;
	short revents;                         /* set while on the ready list */
	int poll_index;                        /* where beforepoll put it, as a hint */
	bool weak;                             /* does not keep the loop running */
	uint64_t hook_id;                      /* CKPT_LOOP_HOOKS: this registration */
	struct ao_list entry;                  /* ctx->fds while registered */
	struct ao_list ready;                  /* a dispatcher's ready list */
	void *for_app_reg;                     /* CKPT_LOOP_HOOKS */
	alignas(16) unsigned char backend[64]; /* CKPT_LOOP_LIBEV watcher */
};

HIDDEN void ao_fd_init(ao_fd *ev);
HIDDEN int ao_fd_register(ckpt_ctx *ctx, ao_fd *ev, ao_fd_cb *func, int fd, short events);
HIDDEN int ao_fd_modify(ckpt_ctx *ctx, ao_fd *ev, short events);
HIDDEN void ao_fd_deregister(ckpt_ctx *ctx, ao_fd *ev);
HIDDEN bool ao_fd_is_registered(const ao_fd *ev);

typedef struct ao_time ao_time;
typedef void ao_time_cb(ao_egc *egc, ao_time *ev);

/* One-shot timer on CLOCK_MONOTONIC; Idle again when its callback runs. */
struct ao_time {
	/* private */
	ckpt_ctx *ctx;
	ao_time_cb *func;
	struct timespec abs;
	uint64_t hook_id;     /* CKPT_LOOP_HOOKS: this registration */
	struct ao_list entry; /* ctx->timers (sorted) while registered */
	struct ao_list ready;
	void *for_app_reg;
	alignas(16) unsigned char backend[64];
};

HIDDEN void ao_time_init(ao_time *ev);
HIDDEN int ao_time_register_abs(ckpt_ctx *ctx, ao_time *ev, ao_time_cb *func, struct timespec abs);
HIDDEN int ao_time_register_rel(ckpt_ctx *ctx, ao_time *ev, ao_time_cb *func, unsigned ms);
HIDDEN int ao_time_modify_abs(ckpt_ctx *ctx, ao_time *ev, struct timespec abs);
HIDDEN void ao_time_deregister(ckpt_ctx *ctx, ao_time *ev);
HIDDEN bool ao_time_is_registered(const ao_time *ev);

/* Called by the loop backends when the backend says an event happened.
 * They enter their own egc. */
HIDDEN void ao_fd_occurred(ckpt_ctx *ctx, ao_fd *ev, short revents);
HIDDEN void ao_time_occurred(ckpt_ctx *ctx, ao_time *ev);
/* Deregister a due timer and run its callback.  backend_knows: the
 * backend has already dropped its side of the registration. */
HIDDEN void ao_time_fire(ao_egc *egc, ao_time *ev, bool backend_knows);
/* The backend says ev is due (and has dropped its side of it): fire, in
 * deadline order, every timer due by now or by ev's deadline, ev among
 * them.  So the order never depends on the backend's own clock. */
HIDDEN void ao_time_fire_due(ao_egc *egc, ao_time *ev);

/* ----------------------------------------------------- loop backends */

/* What a binding does when the core's set of fds or timers changes.  All
 * are called with the lock held; NULL entries mean nothing to do. */
struct ao_loop_ops {
	int (*fd_register)(ckpt_ctx *ctx, ao_fd *ev);
	int (*fd_modify)(ckpt_ctx *ctx, ao_fd *ev, short events);
	void (*fd_deregister)(ckpt_ctx *ctx, ao_fd *ev);
	int (*time_register)(ckpt_ctx *ctx, ao_time *ev);
	int (*time_modify)(ckpt_ctx *ctx, ao_time *ev);
	void (*time_deregister)(ckpt_ctx *ctx, ao_time *ev);
	/* keep the application's loop running (operations are in flight)
	 * even if every watcher left is weak */
	void (*hold)(ckpt_ctx *ctx, bool on);
	void (*dispose)(ckpt_ctx *ctx);
};

HIDDEN extern const struct ao_loop_ops ao_loop_libev_ops;
HIDDEN extern const struct ao_loop_ops ao_loop_hooks_ops;
HIDDEN extern const struct ao_loop_ops ao_loop_poll_ops;
HIDDEN int ao_loop_libev_init(ckpt_ctx *ctx, struct ev_loop *loop);

/*
 * A poller is one thread's poll() over every registered fd and timer: the
 * application's (CKPT_LOOP_POLL) or a synchronous operation's.  Its wake fd
 * is written when the set changes while it is inside poll().
 */
struct ao_poller {
	int wake_fd;  /* eventfd */
	bool in_poll; /* between fill and dispatch */
	bool woken;
	struct ao_list entry; /* ctx->pollers while in_poll */
	struct pollfd *fds;   /* a synchronous poller's own array */
	int nfds_room;
};

HIDDEN int ao_poller_init(ckpt_ctx *ctx, struct ao_poller *p);
HIDDEN void ao_poller_dispose(struct ao_poller *p);
/* Fill fds (wake fd first); CKPT_ERROR_BUFFERFULL with *nfds_io = needed. */
HIDDEN int ao_poller_fill(ckpt_ctx *ctx, struct ao_poller *p, struct pollfd *fds, int *nfds_io,
                          int *timeout_io);
HIDDEN void ao_poller_dispatch(ao_egc *egc, struct ao_poller *p, const struct pollfd *fds,
                               int nfds);
/* Tell every poller inside poll() that the set changed. */
HIDDEN void ao_pollers_wake(ckpt_ctx *ctx);

/* ------------------------------------------------------------ egc, ao_op */

struct ao_egc {
	ckpt_ctx *ctx;
	struct ao_list done; /* aos whose application callback is due */
	struct ao_list work; /* ao_work queued to run before the lock goes */
	ao_egc *outer;       /* the thread's previous current egc */
};

HIDDEN void ao_egc_enter(ao_egc *egc, ckpt_ctx *ctx);
HIDDEN void ao_egc_leave(ao_egc *egc);
/* Run the egc's queued work now (until none is left). */
HIDDEN void ao_egc_run_work(ao_egc *egc);
/* Run its work and its due callbacks; back with the lock held.  Only for
 * a caller that keeps the ctx alive (a synchronous ao is running). */
HIDDEN void ao_egc_flush(ao_egc *egc);
/* Release the lock around a blocking wait (held once), and take it back. */
HIDDEN void ao_egc_pause(ao_egc *egc);
HIDDEN void ao_egc_resume(ao_egc *egc);

/* The egc this thread is running for ctx with the lock held, or NULL (no
 * library code of ctx below us on this thread's stack). */
HIDDEN ao_egc *ao_egc_current(ckpt_ctx *ctx);

/*
 * Deferred internal work: a function run later, in an egc, with the lock
 * held.  The one way the core defers anything:
 *   ao_work_queue(egc, ...)  later in the same egc, once the code that
 *                            queued it has returned (before the lock goes);
 *   ao_work_post(ctx, ...)   from ANY thread, holding the lock or not: in a
 *                            later egc, on a thread that runs the event loop
 *                            (or a synchronous call).  The ctx's doorbell, an
 *                            eventfd watched like any other fd, wakes it.
 * States: Idle (after _init, or once fn has been called), Queued.
 */
typedef struct ao_work ao_work;
typedef void ao_work_fn(ao_egc *egc, ao_work *w);

struct ao_work {
	/* private */
	struct ao_list entry; /* an egc's work list, or ctx->posted */
	ao_work_fn *fn;
};

HIDDEN void ao_work_init(ao_work *w);
HIDDEN void ao_work_queue(ao_egc *egc, ao_work *w, ao_work_fn *fn);
/* Posting a work item that is already posted does nothing. */
HIDDEN void ao_work_post(ckpt_ctx *ctx, ao_work *w, ao_work_fn *fn);
/* Move every posted item onto egc's work list (the doorbell does this;
 * so does a synchronous wait whose poll() fails). */
HIDDEN void ao_work_take_posted(ao_egc *egc);
/* Take a posted item back (with the lock held); Idle afterwards. */
HIDDEN void ao_work_cancel(ckpt_ctx *ctx, ao_work *w);
/* The doorbell's life: made with the ctx, ended by ckpt_ctx_free. */
HIDDEN int ao_doorbell_open(ckpt_ctx *ctx);
HIDDEN void ao_doorbell_close(ckpt_ctx *ctx);

enum ao_state {
	AO_RUNNING,
	AO_COMPLETE,
};

/*
 * An asynchronous operation.  RUNNING from ao_create() to ao_complete(),
 * then COMPLETE.  An async ao's application callback is counted in
 * ctx->callbacks_due from ao_complete() until just before it runs, on the
 * done list of the egc that completed it, or (if it completed inside its
 * initiator) posted to a later egc.  A synchronous ao is never queued: its
 * initiator, in ao_inprogress(), drives events until it is COMPLETE.
 */
struct ao_op {
	ckpt_ctx *ctx;
	enum ao_state state;
	int rc;
	bool sync;         /* how == NULL: the initiator waits */
	bool in_initiator; /* ao_create .. ao_inprogress */
	bool aborting;
	bool unabortable; /* ckpt_ao_abort says NOTSUP (a teardown) */
	ckpt_async_how how;
	const ckpt_async_how *how_ptr;
	struct ao_list entry; /* ctx->aos while RUNNING; then a done list */
	struct ao_list abortables;
	ao_work later; /* posts the callback of an ao ended in its initiator */
};

/*
 * Check the how of an API call about to start an ao (in egc): a how
 * without a callback, or a synchronous call made from inside the library
 * (from a kind's op or a hook, with the lock already held), is refused
 * with CKPT_ERROR_INVAL, logged with fn's name.
 */
HIDDEN int ao_how_check(ao_egc *egc, const ckpt_async_how *how, const char *fn);
/* Create an ao for the API call running in egc (how already checked). */
HIDDEN ao_op *ao_create(ao_egc *egc, const ckpt_async_how *how);
/* End the ao (once).  The application's callback comes when the
 * outermost egc ends, or from a later egc if the initiator has not yet
 * returned. */
HIDDEN void ao_complete(ao_egc *egc, ao_op *ao, int rc);
/* The initiator's return value: 0 for an async ao; for a synchronous one,
 * drive events until it completes, then free it and return its rc. */
HIDDEN int ao_inprogress(ao_egc *egc, ao_op *ao);

/*
 * A sub-operation that can be told to stop.  Register while running; on
 * ckpt_ao_abort() its callback comes once with CKPT_ERROR_ABORTED and it is
 * deregistered.  Registering on an ao that is being aborted fails with
 * CKPT_ERROR_ABORTED.
 */
typedef struct ao_abortable ao_abortable;
typedef void ao_abortable_cb(ao_egc *egc, ao_abortable *a, int rc);

struct ao_abortable {
	/* caller fills */
	ao_op *ao;
	ao_abortable_cb *callback;
	/* private */
	struct ao_list entry;
};

/* Abort an ao found some other way than by its how (inside an egc). */
HIDDEN void ao_abort_locked(ao_egc *egc, ao_op *ao);

HIDDEN void ao_abortable_init(ao_abortable *a);
HIDDEN int ao_abortable_register(ao_abortable *a);
HIDDEN void ao_abortable_deregister(ao_abortable *a);
HIDDEN bool ao_abortable_is_registered(const ao_abortable *a);

/* ------------------------------------------------------------ children */

typedef struct ao_child ao_child;
/* status: as from waitpid (WIFEXITED etc.) */
typedef void ao_child_cb(ao_egc *egc, ao_child *ch, int status);

/* A child process's exit, watched through its pidfd.  The library never
 * calls wait() on anything but its own pidfds. */
struct ao_child {
	/* private */
	pid_t pid;
	int pidfd;
	int report_fd; /* the program's wait status, written at its end */
	ao_child_cb *func;
	ao_fd fd;     /* the pidfd */
	ao_time poll; /* or, without pidfd support, a poll timer */
};

struct ao_spawn {
	const char *path;
	char *const *argv;
	char *const *envp;
	int stdout_fd; /* -1: /dev/null */
	int stderr_fd; /* -1: /dev/null */
};

HIDDEN void ao_child_init(ao_child *ch);
/* Start a child in a process group of its own.  On success the child is
 * running and ch is Active; an exec failure is reported here, with the
 * child already reaped. */
HIDDEN int ao_child_spawn(ckpt_ctx *ctx, ao_child *ch, ao_child_cb *func, const struct ao_spawn *sp,
                          const char *what);
/* Stop watching.  A child still running is killed (its whole process
 * group) and reaped first.  A process that has left the group (setsid,
 * setpgid) is not reached: the group is all the library knows. */
HIDDEN void ao_child_deregister(ckpt_ctx *ctx, ao_child *ch);
HIDDEN bool ao_child_is_registered(const ao_child *ch);
/* kill() the child's process group (also after the child was reaped, while
 * other members remain). */
HIDDEN int ao_child_signal_group(ao_child *ch, int sig);
/* "exited with status 3", "killed by signal 9" */
HIDDEN const char *ao_wait_status_text(int status, char *buf, size_t len);

/* ------------------------------------------------------- async_exec */

typedef struct ao_exec ao_exec;
/* rc: 0 (exited 0), CKPT_ERROR_SCRIPT (other exit or signal, logged),
 * CKPT_ERROR_TIMEDOUT, CKPT_ERROR_ABORTED.  status is in x->status. */
typedef void ao_exec_cb(ao_egc *egc, ao_exec *x, int rc);

enum ao_exec_state {
	EXEC_IDLE,
	EXEC_WAITING, /* for a slot: ctx->scripts_max are running */
	EXEC_RUNNING, /* child alive */
	EXEC_KILLING, /* SIGTERM sent, waiting for exit and grace */
	EXEC_REAPED,  /* child gone; waiting out the grace before SIGKILL */
};

struct ao_exec {
	/* caller fills */
	ao_op *ao;           /* NULL: not abortable (e.g. in a teardown) */
	const char *what;    /* name for the log, e.g. "remus-netbuf-setup" */
	char *const *argv;   /* argv[0] is the path */
	char *const *env;    /* "NAME=value" added to the environment; may be NULL */
	unsigned timeout_ms; /* 0: none */
	unsigned grace_ms;   /* after SIGTERM before SIGKILL; 0: 2000 */
	ao_exec_cb *callback;
	/* results */
	int status; /* wait status, valid once the child exited */
	pid_t pid;
	/* private */
	enum ao_exec_state state;
	int rc;
	bool hard_killed; /* the group has had SIGKILL */
	ao_child child;
	ao_fd out[2]; /* stdout, stderr */
	char *line[2];
	size_t line_len[2];
	ao_time timer; /* timeout, then grace */
	ao_abortable abrt;
	struct ao_list waiting; /* ctx->scripts_waiting while WAITING */
};

HIDDEN void ao_exec_init(ao_exec *x);
/* 0: running, the callback comes once.  <0: nothing runs, no callback. */
HIDDEN int ao_exec_start(ao_egc *egc, ao_exec *x);
HIDDEN bool ao_exec_is_running(const ao_exec *x);
/* Stop a running exec politely: SIGTERM to its group, SIGKILL after
 * grace_ms; the callback then comes with rc.  Nothing if it is not
 * running or already being stopped.  (A kind's abort op uses this; an
 * exec with x->ao set is also killed at once when that ao is aborted.) */
HIDDEN void ao_exec_stop(ao_egc *egc, ao_exec *x, int rc);

/* ----------------------------------------------------------- xenstore */

struct xs_handle;

/* The ctx's xenstore connection, opened on first use. */
HIDDEN int ao_xs_handle(ckpt_ctx *ctx, struct xs_handle **xsh_out);
/* *val_out: malloc'd, NUL-terminated.  CKPT_ERROR_NOTFOUND (not logged)
 * when the node does not exist. */
HIDDEN int ao_xs_read(ckpt_ctx *ctx, const char *path, char **val_out);
HIDDEN int ao_xs_write(ckpt_ctx *ctx, const char *path, const char *value);
/* Removing a missing node succeeds. */
HIDDEN int ao_xs_rm(ckpt_ctx *ctx, const char *path);
/* *list_out: malloc'd array of n names (one block). NOTFOUND as read. */
HIDDEN int ao_xs_directory(ckpt_ctx *ctx, const char *path, char ***list_out, unsigned *n_out);
/* Forget the connection after a failure that suggests the daemon is gone:
 * every watch's callback gets CKPT_ERROR_XENSTORE. */
HIDDEN void ao_xs_lost(ao_egc *egc, const char *why);
HIDDEN void ao_xs_close(ckpt_ctx *ctx);

typedef struct ao_xswatch ao_xswatch;
/* rc 0: something at or below the watched path changed (or this is the
 * first event, which comes once after registering); event_path says what.
 * rc < 0: the connection was lost; the watch is Idle now. */
typedef void ao_xswatch_cb(ao_egc *egc, ao_xswatch *w, const char *event_path, int rc);

struct ao_xswatch {
	/* private */
	ao_xswatch_cb *func;
	char *path;
	char token[32];
	struct ao_list entry; /* ctx->xswatches while registered */
};

HIDDEN void ao_xswatch_init(ao_xswatch *w);
HIDDEN int ao_xswatch_register(ckpt_ctx *ctx, ao_xswatch *w, ao_xswatch_cb *func, const char *path);
HIDDEN void ao_xswatch_deregister(ckpt_ctx *ctx, ao_xswatch *w);
HIDDEN bool ao_xswatch_is_registered(const ao_xswatch *w);
/* Make the watch Idle without telling the daemon (its connection is gone). */
HIDDEN void ao_xswatch_forget(ao_xswatch *w);
/* The xenstore fd is readable: dispatch pending watch events. */
HIDDEN void ao_xswatch_dispatch(ao_egc *egc);

typedef struct ao_xswait ao_xswait;
/* value: the node's value, NULL if it does not exist.  Return 0 when the
 * wait is over, 1 to keep waiting, <0 to fail the wait with that rc. */
typedef int ao_xswait_check(ao_egc *egc, ao_xswait *xw, const char *value);
/* rc: 0, the check's error, CKPT_ERROR_TIMEDOUT, CKPT_ERROR_ABORTED,
 * CKPT_ERROR_XENSTORE.  value: the last value read (may be NULL). */
typedef void ao_xswait_cb(ao_egc *egc, ao_xswait *xw, int rc, const char *value);

struct ao_xswait {
	/* caller fills */
	ao_op *ao;
	const char *what; /* for the log */
	const char *path;
	unsigned timeout_ms;
	ao_xswait_check *check;
	ao_xswait_cb *callback;
	/* private */
	ao_xswatch watch;
	ao_time timer;
	ao_abortable abrt;
};

HIDDEN void ao_xswait_init(ao_xswait *xw);
HIDDEN int ao_xswait_start(ao_egc *egc, ao_xswait *xw);
HIDDEN bool ao_xswait_is_running(const ao_xswait *xw);

/* --------------------------------------------------------------- join */

/*
 * Waits for N parallel sub-operations.  Use:
 *   ao_join_init(&j, ao, callback);
 *   for each sub-op: member = ao_join_add(&j, &m); start it, and when it
 *     ends (or fails to start) call ao_join_member_done(egc, m, rc);
 *   ao_join_prepared(egc, &j);   -- after the last add
 * The callback comes once, when every member is done and prepared was
 * called, with the first error (later errors are logged) or 0.
 */
typedef struct ao_join ao_join;
typedef struct ao_join_member ao_join_member;
typedef void ao_join_cb(ao_egc *egc, ao_join *j, int rc);

struct ao_join_member {
	ao_join *join;
	const char *name; /* for the log; may be NULL */
	bool done;
};

struct ao_join {
	ao_op *ao;
	ao_join_cb *callback;
	const char *what;
	unsigned pending;
	bool prepared;
	int rc;
};

HIDDEN void ao_join_init(ao_join *j, ao_op *ao, ao_join_cb *callback, const char *what);
HIDDEN void ao_join_add(ao_join *j, ao_join_member *m, const char *name);
HIDDEN void ao_join_member_done(ao_egc *egc, ao_join_member *m, int rc);
HIDDEN void ao_join_prepared(ao_egc *egc, ao_join *j);

/* ------------------------------------------------------------ the ctx */

struct ckpt_ctx {
	pthread_mutex_t lock; /* recursive */
	int lock_depth;       /* how often the holder has taken it */

	xentoollog_logger *lg;
	xentoollog_logger *own_lg; /* the default logger, if we made it */

	enum ckpt_loop_kind loop_kind;
	const struct ao_loop_ops *loop;
	struct ev_loop *ev_loop;
	ckpt_osevent_hooks hooks;
	void *hooks_user;
	uint64_t hook_serial; /* the last registration's number */

	struct ao_list fds;
	struct ao_list timers;
	struct ao_list pollers;
	struct ao_poller app_poller; /* CKPT_LOOP_POLL */

	struct ao_list aos;     /* RUNNING */
	unsigned callbacks_due; /* completed, callback not yet run */
	bool held;              /* the loop is kept running for us */

	/* ao_work_post: items posted from any thread, under post_lock */
	pthread_mutex_t post_lock;
	struct ao_list posted;
	int doorbell_fd; /* eventfd */
	ao_fd doorbell;

	struct xs_handle *xsh;
	ao_work xs_lost_work; /* handles a lost connection later */
	ao_fd xs_watch_fd;
	ao_fd xs_live_fd;
	int xs_live_sock;
	struct ao_list xswatches;
	uint64_t xswatch_serial;

	struct ao_faults faults;

	/* scripts (ao_exec): how many may run at once, how many do, and
	 * those waiting for a slot */
	unsigned scripts_max, scripts_running;
	struct ao_list scripts_waiting;

	/* For the layers above the core, which it knows nothing about:
	 * objects made on this ctx that must go before it (devsets), and
	 * one layer's per-ctx state (the device layer's kind registry),
	 * disposed of with the ctx. */
	unsigned dependents;
	void *layer;
	void (*layer_dispose)(void *layer);
};

HIDDEN void ao_ctx_lock(ckpt_ctx *ctx);
HIDDEN void ao_ctx_unlock(ckpt_ctx *ctx);

#endif /* CKPT_AO_INTERNAL_H */
