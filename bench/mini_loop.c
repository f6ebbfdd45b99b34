/*
 * mini_loop.c - see mini_loop.h.
 */
#include <poll.h>
#include <stdint.h>

#include "mini_loop.h"

void mini_loop_init(struct mini_loop *L)
{
	*L = (struct mini_loop){.ctx = NULL};
}

int mini_fd_add(struct mini_loop *L, int fd, short events, mini_fd_cb *cb, void *arg)
{
	for (int i = 0; i < ML_SLOTS; i++)
		if (!L->fds[i].used) {
			L->fds[i].used = true;
			L->fds[i].fd = fd;
			L->fds[i].events = events;
			L->fds[i].cb = cb;
			L->fds[i].arg = arg;
			return i;
		}
	return -1;
}

void mini_fd_del(struct mini_loop *L, int slot)
{
	L->fds[slot].used = false;
}

int mini_timer_add(struct mini_loop *L, struct timespec abs, mini_timer_cb *cb, void *arg)
{
	for (int i = 0; i < ML_SLOTS; i++)
		if (!L->timers[i].used) {
			L->timers[i].used = true;
			L->timers[i].fired = false;
			L->timers[i].abs = abs;
			L->timers[i].cb = cb;
			L->timers[i].arg = arg;
			return i;
		}
	return -1;
}

void mini_timer_del(struct mini_loop *L, int slot)
{
	L->timers[slot].used = false;
}

static long long ns_of(struct timespec t)
{
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

void mini_loop_run_once(struct mini_loop *L, int max_ms)
{
	struct pollfd pfd[ML_SLOTS];
	int slot_of[ML_SLOTS], nfds = 0, ntimers = 0, timeout = max_ms;
	int due[ML_SLOTS];
	struct timespec now;
	long long now_ns, first = -1;

	for (int i = 0; i < ML_SLOTS; i++) {
		if (L->fds[i].used) {
			pfd[nfds] = (struct pollfd){L->fds[i].fd, L->fds[i].events, 0};
			slot_of[nfds++] = i;
		}
		if (L->timers[i].used && (first < 0 || ns_of(L->timers[i].abs) < first))
			first = ns_of(L->timers[i].abs);
	}
	if (first >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		now_ns = ns_of(now);
		if (first <= now_ns)
			timeout = 0;
		else if (timeout < 0 || (first - now_ns + 999999) / 1000000 < timeout)
			timeout = (int)((first - now_ns + 999999) / 1000000);
	}
	poll(pfd, (nfds_t)nfds, timeout);

	/* collect, then call back: a callback may change the tables */
	if (first >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		now_ns = ns_of(now);
		for (int i = 0; i < ML_SLOTS; i++)
			if (L->timers[i].used && ns_of(L->timers[i].abs) <= now_ns) {
				L->timers[i].fired = true;
				due[ntimers++] = i;
			}
	}
	/* a fired timer keeps its slot until reported (so that a callback
	 * cannot reuse it), and is skipped if a callback dropped it */
	for (int t = 0; t < ntimers; t++) {
		int i = due[t];

		if (L->timers[i].used && L->timers[i].fired) {
			L->timers[i].used = L->timers[i].fired = false;
			L->timers[i].cb(L, L->timers[i].arg);
		}
	}
	for (int n = 0; n < nfds; n++) {
		int i = slot_of[n];

		/* still the same registration (not dropped by a callback) */
		if (pfd[n].revents && L->fds[i].used && L->fds[i].fd == pfd[n].fd)
			L->fds[i].cb(L, L->fds[i].arg, pfd[n].fd, pfd[n].events, pfd[n].revents);
	}
}

/* ------------------------------------------------ behind the hooks binding */

static void report_fd(struct mini_loop *L, void *for_ckpt, int fd, short events, short revents)
{
	ckpt_osevent_occurred_fd(L->ctx, for_ckpt, fd, events, revents);
}

static void report_timeout(struct mini_loop *L, void *for_ckpt)
{
	ckpt_osevent_occurred_timeout(L->ctx, for_ckpt);
}

/* *for_app_reg holds the slot + 1 (never NULL). */
static int hook_fd_register(void *user, int fd, void **for_app_reg, short events, void *for_ckpt)
{
	int slot = mini_fd_add(user, fd, events, report_fd, for_ckpt);

	if (slot < 0)
		return -1;
	*for_app_reg = (void *)(intptr_t)(slot + 1);
	return 0;
}

static int hook_fd_modify(void *user, int fd, void **for_app_reg, short events)
{
	struct mini_loop *L = user;

	(void)fd;
	L->fds[(intptr_t)*for_app_reg - 1].events = events;
	return 0;
}

static void hook_fd_deregister(void *user, int fd, void *for_app_reg)
{
	(void)fd;
	mini_fd_del(user, (int)((intptr_t)for_app_reg - 1));
}

static int hook_timeout_register(void *user, void **for_app_reg, struct timespec abs,
                                 void *for_ckpt)
{
	int slot = mini_timer_add(user, abs, report_timeout, for_ckpt);

	if (slot < 0)
		return -1;
	*for_app_reg = (void *)(intptr_t)(slot + 1);
	return 0;
}

/* The library deregisters only timeouts not yet reported, whose slots
 * the loop has not given to anyone else. */
static void hook_timeout_deregister(void *user, void *for_app_reg)
{
	mini_timer_del(user, (int)((intptr_t)for_app_reg - 1));
}

const ckpt_osevent_hooks mini_loop_hooks = {
        .fd_register = hook_fd_register,
        .fd_modify = hook_fd_modify,
        .fd_deregister = hook_fd_deregister,
        .timeout_register = hook_timeout_register,
        .timeout_deregister = hook_timeout_deregister,
};
