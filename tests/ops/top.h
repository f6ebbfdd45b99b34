/*
 * top.h - test operations: small asynchronous operations built from the
 * core's internal primitives, so the primitives can be driven through the
 * public ao machinery (async how, sync, abort) exactly as the device layer
 * drives them.
 */
#ifndef CKPT_TOP_H
#define CKPT_TOP_H

#include "ckptdev/ao.h"

/* Complete after ms, with rc.  Abortable. */
int top_timer(ckpt_ctx *ctx, unsigned ms, int rc, const ckpt_async_how *how);

/* A timer registered for first_ms, then moved (ao_time_modify_abs) to
 * moved_ms from now; completes with 0 when it fires. */
int top_timer_moved(ckpt_ctx *ctx, unsigned first_ms, unsigned moved_ms, const ckpt_async_how *how);

/* Watch fd for POLLIN, then change the watch (ao_fd_modify) to POLLOUT;
 * completes with 0 when fd is writable, TIMEDOUT after timeout_ms. */
int top_fd_modified(ckpt_ctx *ctx, int fd, unsigned timeout_ms, const ckpt_async_how *how);

/* Complete inside the initiator, with rc. */
int top_immediate(ckpt_ctx *ctx, int rc, const ckpt_async_how *how);

/* Run argv (argv[0] a path) with extra env; *status_out gets the wait
 * status when the child exited. */
int top_exec(ckpt_ctx *ctx, char *const *argv, char *const *env, unsigned timeout_ms,
             unsigned grace_ms, int *status_out, const ckpt_async_how *how);

/* Wait for fd to become readable, read one byte into *byte_out. */
int top_fd_read(ckpt_ctx *ctx, int fd, unsigned timeout_ms, char *byte_out,
                const ckpt_async_how *how);

/* n timers in parallel through a join: timer i waits ms[i], ends with rc[i]. */
int top_join(ckpt_ctx *ctx, unsigned n, const unsigned *ms, const int *rc,
             const ckpt_async_how *how);

/* Wait until xenstore path holds want (want NULL: until it is absent).
 * *value_out (if not NULL) gets a copy of the last value read. */
int top_xswait(ckpt_ctx *ctx, const char *path, const char *want, unsigned timeout_ms,
               char **value_out, const ckpt_async_how *how);

/* Watch path; count events until `events` have been seen (counting the
 * first), then complete with 0; paths_out (if not NULL) gets the event
 * paths joined by '\n'.  If dereg_in_cb, the watch is deregistered from
 * inside the callback that sees the last event. */
int top_xswatch(ckpt_ctx *ctx, const char *path, unsigned events, unsigned timeout_ms,
                char **paths_out, const ckpt_async_how *how);

/* Run `cycles` checkpoint cycles (postsuspend, preresume, commit) on a
 * READY set, from any thread; 0 or the first step's error. */
struct ckpt_devset;
int top_checkpoints(struct ckpt_devset *set, int cycles);

/* xenstore write / read through the ctx's connection (synchronous). */
int top_xs_write(ckpt_ctx *ctx, const char *path, const char *value);
int top_xs_read(ckpt_ctx *ctx, const char *path, char **value_out);

#endif /* CKPT_TOP_H */
