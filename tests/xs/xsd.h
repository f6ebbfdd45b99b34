/*
 * xsd.h - a private xenstored for tests
 *
 * Each xsd_start() runs the real C xenstored 4.17 (with libxsd_stub.so
 * preloaded in place of the hypervisor, see xsd_stub.c) in a fresh run
 * folder of its own, so that any number of tests may run at once without
 * sharing a store.  libxenstore and the xenstore-* tools reach it through
 * XENSTORED_PATH / XENSTORED_RUNDIR, which xsd_start() and xsd_use() set in
 * the calling process's environment.
 *
 * States of a struct xsd:
 *
 *   Stopped   all-zero (e.g. "struct xsd d = {0};"), or after xsd_stop(),
 *             or after a failed xsd_start().  dir[0] == 0, pid == 0.
 *   Running   after a successful xsd_start().  dir, socket and pid valid.
 *   Killed    after xsd_kill(): the daemon is dead and reaped (pid == 0),
 *             its run folder (and the dead socket in it) still exists.
 *
 *   xsd_start   Stopped -> Running (or Stopped on failure)
 *   xsd_kill    Running -> Killed; no effect in the other states
 *   xsd_stop    any state -> Stopped; safe to call again
 *   xsd_use     Running or Killed; only changes the environment
 *
 * Daemon files inside dir: socket, xenstored.log (the daemon's stdout and
 * stderr, including its syslog messages), xsd_port and xsd_kva (made by
 * the stand-in), trace (only when CKPT_XSD_TRACE is set).  Nothing is
 * written outside dir.
 *
 * The daemon never outlives the process that started it: it is killed
 * with SIGKILL when the thread that called xsd_start() exits (this uses
 * PR_SET_PDEATHSIG, so call xsd_start() from the main thread, or from a
 * thread that lives as long as the daemon should).
 *
 * xsd_stop() and xsd_kill() reap the daemon with waitpid() on its pid; a
 * caller that reaps any child (waitpid(-1, ...)) or ignores SIGCHLD would
 * take that away from them.
 *
 * Environment read by xsd_start():
 *   TMPDIR           where run folders are made (default /tmp)
 *   CKPT_XSD_TRACE   if set and not "0": run the daemon with
 *                    "-T dir/trace -V" (logs every message)
 *   CKPT_XSD_STUB_TRACE   passed on: the stand-in logs each call
 */

#ifndef CKPT_TESTS_XSD_H
#define CKPT_TESTS_XSD_H

#include <limits.h>
#include <sys/types.h>

#define XSD_DEFAULT_DAEMON "/usr/lib/xen-4.17/bin/xenstored"

/* Upper bound on the time xsd_start() waits for the daemon to answer. */
#define XSD_START_TIMEOUT_MS 10000

/* Grace between SIGTERM and SIGKILL in xsd_stop(). */
#define XSD_STOP_GRACE_MS 2000

struct xsd {
	char dir[PATH_MAX];    /* run folder (mkdtemp under $TMPDIR or /tmp) */
	char socket[PATH_MAX]; /* dir + "/socket" */
	pid_t pid;             /* daemon's pid, 0 when none is running */
};

/*
 * Start a daemon in a fresh run folder and wait (at most
 * XSD_START_TIMEOUT_MS) until it has answered one request on its socket.
 * Then point XENSTORED_PATH and XENSTORED_RUNDIR of this process at it.
 *
 * @stub_path:   path of libxsd_stub.so (relative paths are resolved now)
 * @daemon_path: xenstored binary; NULL means XSD_DEFAULT_DAEMON
 *
 * Returns 0 (Running), or -1 (Stopped, nothing left behind) after printing
 * the reason on stderr, with the tail of the daemon's log when it had
 * started.  A missing daemon binary or stub gives -1 with errno ENOENT, so
 * a caller can report "skipped" for that case only.
 */
int xsd_start(struct xsd *d, const char *stub_path, const char *daemon_path);

/*
 * Stop the daemon (SIGTERM, then SIGKILL after XSD_STOP_GRACE_MS), reap it
 * and remove the run folder with everything in it.  Idempotent.  Leaves the
 * environment alone: XENSTORED_PATH may still name the dead socket, which
 * makes later connections fail rather than reach some other xenstored.
 */
void xsd_stop(struct xsd *d);

/*
 * SIGKILL the daemon and reap it, leaving the run folder in place (to see
 * how clients cope with a daemon dying under them).  When this returns the
 * daemon's sockets are closed.  xsd_stop() still removes the folder later.
 */
void xsd_kill(struct xsd *d);

/*
 * Point XENSTORED_PATH and XENSTORED_RUNDIR at @d (to pick one of several
 * daemons before xs_open()).  0, or -1 with errno from setenv().
 */
int xsd_use(const struct xsd *d);

#endif
