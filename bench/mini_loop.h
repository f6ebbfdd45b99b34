/*
 * mini_loop.h - the least an application's own event loop does, for the
 * dispatch bench: poll() over a small fixed table of fds and timers, the
 * ready entries collected first and then called back (so a callback may
 * register or drop entries freely).  No allocation, no fd per timer.
 *
 * It serves twice: on its own, with the bench's callbacks (what the loop
 * itself costs per event), and behind the library's hooks binding
 * (mini_loop_hooks: the same loop plus the library's dispatch), so that
 * the difference of the two is the library's own overhead.
 *
 * Single-threaded: the hooks binding calls the hooks from whichever thread
 * calls into the library; the bench has one.
 */
#ifndef CKPT_BENCH_MINI_LOOP_H
#define CKPT_BENCH_MINI_LOOP_H

#include <stdbool.h>
#include <time.h>

#include "ckptdev/ao.h"

#define ML_SLOTS 16

struct mini_loop;

typedef void mini_fd_cb(struct mini_loop *L, void *arg, int fd, short events, short revents);
typedef void mini_timer_cb(struct mini_loop *L, void *arg);

struct mini_loop {
	struct {
		bool used;
		int fd;
		short events;
		mini_fd_cb *cb;
		void *arg;
	} fds[ML_SLOTS];
	struct {
		bool used, fired;
		struct timespec abs;
		mini_timer_cb *cb;
		void *arg;
	} timers[ML_SLOTS];
	/* set by mini_loop_hooks' users: the ctx the hooks report to */
	ckpt_ctx *ctx;
};

void mini_loop_init(struct mini_loop *L);
/* Slot index, or -1 if the table is full. */
int mini_fd_add(struct mini_loop *L, int fd, short events, mini_fd_cb *cb, void *arg);
void mini_fd_del(struct mini_loop *L, int slot);
int mini_timer_add(struct mini_loop *L, struct timespec abs, mini_timer_cb *cb, void *arg);
void mini_timer_del(struct mini_loop *L, int slot);
/* One iteration: poll at most max_ms (less if a timer is due sooner),
 * then call back every expired timer (it is removed first) and every
 * ready fd. */
void mini_loop_run_once(struct mini_loop *L, int max_ms);

/* The hooks for ckpt_ctx_opts (hooks_user: the struct mini_loop, whose
 * ctx field must be set before the first event is reported). */
extern const ckpt_osevent_hooks mini_loop_hooks;

#endif /* CKPT_BENCH_MINI_LOOP_H */
