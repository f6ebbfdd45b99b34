/*
 * tloop.h - a ckpt_ctx plus an event loop of the chosen binding, for tests.
 *
 *   CKPT_LOOP_LIBEV  a private libev loop (ev_loop_new), run with EVRUN_ONCE;
 *   CKPT_LOOP_HOOKS  a small epoll loop written here, one timerfd per
 *                    timeout, safe for several threads to run and register;
 *   CKPT_LOOP_POLL   poll() around ckpt_osevent_beforepoll/afterpoll,
 *                    starting with a tiny pollfd array so the BUFFERFULL
 *                    path is exercised.
 *
 * The ctx logs into a capture (tlog_*) and to stderr (shown when a test
 * fails).
 */
#ifndef CKPT_TLOOP_H
#define CKPT_TLOOP_H

#include <stdatomic.h>
#include <stdbool.h>

#include "ckptdev/ao.h"

struct tloop;

struct tloop *tloop_new(enum ckpt_loop_kind kind);
/* The same with ckpt_ctx_opts.max_scripts set. */
struct tloop *tloop_new_max_scripts(enum ckpt_loop_kind kind, unsigned max_scripts);
/* Frees the ctx (which must succeed) and the loop. */
void tloop_free(struct tloop *L);
ckpt_ctx *tloop_ctx(struct tloop *L);
/* The ctx has been freed by the test itself: tloop_free leaves it alone. */
void tloop_forget_ctx(struct tloop *L);
enum ckpt_loop_kind tloop_kind(struct tloop *L);

/* Run one iteration, waiting at most max_ms for something to happen. */
void tloop_run_once(struct tloop *L, int max_ms);
/* Run until *flag is set; false if timeout_ms passed first. */
bool tloop_run_until(struct tloop *L, atomic_int *flag, unsigned timeout_ms);
/* Run for ms milliseconds. */
void tloop_run_for(struct tloop *L, unsigned ms);

/* The captured log: does it contain the text? */
bool tlog_contains(struct tloop *L, const char *text);
void tlog_clear(struct tloop *L);

/* A completion recorder for ckpt_async_how. */
struct tdone {
	atomic_int done; /* times the callback ran */
	int rc;
	long long at_ms;
};

void tdone_cb(ckpt_ctx *ctx, int rc, void *user);
/* A how that records into d. */
ckpt_async_how tdone_how(struct tdone *d);

#endif /* CKPT_TLOOP_H */
