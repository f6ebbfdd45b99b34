/*
 * poller.c - one poll() over all the ctx's fds and timers.
 *
 * Used by the CKPT_LOOP_POLL binding (the application's poller, one per
 * ctx) and by every synchronous operation (a private poller for the
 * duration of the call, whatever the binding).
 *
 * A poller is Idle, or "in poll" between ao_poller_fill() and
 * ao_poller_dispatch().  While it is in poll, any change to the ctx's set
 * of fds or timers writes its wake eventfd, which fill put first in the
 * array, so poll() returns and the next fill sees the change.
 *
 * Dispatch collects everything ready first and then calls back, one at a
 * time; a callback that deregisters an event still waiting its turn takes
 * it off the ready list, so it is never called after deregistration.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"

int ao_poller_init(ckpt_ctx *ctx, struct ao_poller *p)
{
	p->in_poll = false;
	p->woken = false;
	p->fds = NULL;
	p->nfds_room = 0;
	ao_list_init(&p->entry);
	p->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->wake_fd < 0) {
		LOGE(ctx, ERROR, "cannot create an eventfd for polling");
		return ao_rc_from_errno(errno);
	}
	return 0;
}

void ao_poller_dispose(struct ao_poller *p)
{
	ao_list_del(&p->entry);
	if (p->wake_fd >= 0)
		close(p->wake_fd);
	p->wake_fd = -1;
	free(p->fds);
	p->fds = NULL;
	p->nfds_room = 0;
}

void ao_pollers_wake(ckpt_ctx *ctx)
{
	struct ao_list *pos;
	uint64_t one = 1;

	AO_LIST_FOR_EACH(pos, &ctx->pollers)
	{
		struct ao_poller *p = CONTAINER_OF(pos, struct ao_poller, entry);
		if (p->woken || p->wake_fd < 0)
			continue;
		if (write(p->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			LOGE(ctx, WARN, "cannot wake a poller");
		p->woken = true;
	}
}

int ao_poller_fill(ckpt_ctx *ctx, struct ao_poller *p, struct pollfd *fds, int *nfds_io,
                   int *timeout_io)
{
	struct ao_list *pos;
	int needed = 1 + (int)ao_list_count(&ctx->fds);
	int i = 0;

	if (*nfds_io < needed) {
		*nfds_io = needed;
		return CKPT_ERROR_BUFFERFULL;
	}
	fds[i].fd = p->wake_fd;
	fds[i].events = POLLIN;
	fds[i].revents = 0;
	i++;
	AO_LIST_FOR_EACH(pos, &ctx->fds)
	{
		ao_fd *ev = CONTAINER_OF(pos, ao_fd, entry);
		fds[i].fd = ev->fd;
		fds[i].events = ev->events;
		fds[i].revents = 0;
		ev->poll_index = i;
		i++;
	}
	*nfds_io = i;

	if (!ao_list_empty(&ctx->timers)) {
		ao_time *first = CONTAINER_OF(ctx->timers.next, ao_time, entry);
		int ms = ao_ts_ms_until(first->abs, ao_now());
		if (*timeout_io < 0 || ms < *timeout_io)
			*timeout_io = ms;
	}

	if (!p->in_poll) {
		p->in_poll = true;
		ao_list_add_tail(&ctx->pollers, &p->entry);
	}
	return 0;
}

/* The revents poll() gave this fd, if fill put it in the array. */
static short fd_revents(const ao_fd *ev, const struct pollfd *fds, int nfds)
{
	short mask = ev->events | POLLERR | POLLHUP | POLLNVAL;
	int i = ev->poll_index;

	if (i > 0 && i < nfds && fds[i].fd == ev->fd)
		return fds[i].revents & mask;
	for (i = 1; i < nfds; i++)
		if (fds[i].fd == ev->fd)
			return fds[i].revents & mask;
	return 0;
}

void ao_poller_dispatch(ao_egc *egc, struct ao_poller *p, const struct pollfd *fds, int nfds)
{
	ckpt_ctx *ctx = egc->ctx;
	struct ao_list ready_fds, ready_timers, *pos;
	struct timespec now = ao_now();
	uint64_t count;

	if (p->in_poll) {
		ao_list_del(&p->entry);
		p->in_poll = false;
	}
	if (p->woken || (nfds > 0 && fds[0].revents)) {
		while (read(p->wake_fd, &count, sizeof(count)) > 0)
			;
		p->woken = false;
	}

	ao_list_init(&ready_fds);
	AO_LIST_FOR_EACH(pos, &ctx->fds)
	{
		ao_fd *ev = CONTAINER_OF(pos, ao_fd, entry);
		ev->revents = fd_revents(ev, fds, nfds);
		if (ev->revents)
			ao_list_add_tail(&ready_fds, &ev->ready);
	}
	ao_list_init(&ready_timers);
	AO_LIST_FOR_EACH(pos, &ctx->timers)
	{
		ao_time *ev = CONTAINER_OF(pos, ao_time, entry);
		if (ao_ts_cmp(ev->abs, now) > 0)
			break;
		ao_list_add_tail(&ready_timers, &ev->ready);
	}

	while ((pos = ao_list_first(&ready_fds))) {
		ao_fd *ev = CONTAINER_OF(pos, ao_fd, ready);
		ao_list_del(&ev->ready);
		ev->func(egc, ev, ev->fd, ev->events, ev->revents);
	}
	while ((pos = ao_list_first(&ready_timers))) {
		ao_time *ev = CONTAINER_OF(pos, ao_time, ready);
		ao_list_del(&ev->ready);
		ao_time_fire(egc, ev, false);
	}
}
