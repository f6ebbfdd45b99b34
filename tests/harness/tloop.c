/*
 * tloop.c - test event loops for each binding, and a capturing logger.
 */
#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <xentoollog.h>

#include "test.h"
#include "tloop.h"

/* ------------------------------------------------------------- logger */

struct tlog {
	xentoollog_logger vtable;
	pthread_mutex_t lock;
	char *text;
	size_t len;
};

static void tlog_vmessage(xentoollog_logger *lg, xentoollog_level level, int errnoval,
                          const char *context, const char *fmt, va_list ap)
{
	struct tlog *t = (struct tlog *)lg;
	char line[2048];
	int n;

	n = snprintf(line, sizeof(line), "%s: %s: ", context ? context : "-",
	             xtl_level_to_string(level));
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (errnoval >= 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, ": %s", strerror(errnoval));
	fprintf(stderr, "%s\n", line);
	pthread_mutex_lock(&t->lock);
	n = (int)strlen(line);
	t->text = realloc(t->text, t->len + (size_t)n + 2);
	memcpy(t->text + t->len, line, (size_t)n);
	t->len += (size_t)n;
	t->text[t->len++] = '\n';
	t->text[t->len] = '\0';
	pthread_mutex_unlock(&t->lock);
}

static void tlog_progress(xentoollog_logger *lg, const char *context, const char *doing_what,
                          int percent, unsigned long done, unsigned long total)
{
	(void)lg;
	(void)context;
	(void)doing_what;
	(void)percent;
	(void)done;
	(void)total;
}

static void tlog_destroy(xentoollog_logger *lg)
{
	(void)lg;
}

/* ---------------------------------------------------------- hooks loop */

/* One registration with the epoll loop.  Dead ones are kept until the loop
 * is freed, since another thread may still hold a pointer from epoll. */
struct hreg {
	int fd; /* the library's fd, or our timerfd */
	bool timer;
	bool dead;
	void *for_ckpt;
	struct hreg *next;
};

struct tloop {
	enum ckpt_loop_kind kind;
	ckpt_ctx *ctx;
	struct tlog log;
	/* libev */
	struct ev_loop *ev;
	/* hooks */
	int epfd;
	pthread_mutex_t hlock;
	struct hreg *regs;
	/* poll */
	struct pollfd *fds;
	int nfds_room;
};

static uint32_t epoll_events(short events)
{
	return ((events & POLLIN) ? EPOLLIN : 0) | ((events & POLLOUT) ? EPOLLOUT : 0);
}

static struct hreg *hreg_new(struct tloop *L, int fd, bool timer, void *for_ckpt)
{
	struct hreg *r = calloc(1, sizeof(*r));

	r->fd = fd;
	r->timer = timer;
	r->for_ckpt = for_ckpt;
	pthread_mutex_lock(&L->hlock);
	r->next = L->regs;
	L->regs = r;
	pthread_mutex_unlock(&L->hlock);
	return r;
}

static int h_fd_register(void *user, int fd, void **for_app_reg, short events, void *for_ckpt)
{
	struct tloop *L = user;
	struct hreg *r = hreg_new(L, fd, false, for_ckpt);
	struct epoll_event e = {.events = epoll_events(events), .data.ptr = r};

	if (epoll_ctl(L->epfd, EPOLL_CTL_ADD, fd, &e)) {
		r->dead = true;
		return -1;
	}
	*for_app_reg = r;
	return 0;
}

static int h_fd_modify(void *user, int fd, void **for_app_reg, short events)
{
	struct tloop *L = user;
	struct epoll_event e = {.events = epoll_events(events), .data.ptr = *for_app_reg};

	return epoll_ctl(L->epfd, EPOLL_CTL_MOD, fd, &e) ? -1 : 0;
}

static void h_fd_deregister(void *user, int fd, void *for_app_reg)
{
	struct tloop *L = user;
	struct hreg *r = for_app_reg;

	pthread_mutex_lock(&L->hlock);
	r->dead = true;
	epoll_ctl(L->epfd, EPOLL_CTL_DEL, fd, NULL);
	pthread_mutex_unlock(&L->hlock);
}

static int arm_timerfd(int tfd, struct timespec abs)
{
	struct itimerspec its = {.it_value = abs};

	if (abs.tv_sec == 0 && abs.tv_nsec == 0)
		its.it_value.tv_nsec = 1; /* zero would disarm */
	return timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static int h_timeout_register(void *user, void **for_app_reg, struct timespec abs, void *for_ckpt)
{
	struct tloop *L = user;
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct hreg *r;
	struct epoll_event e;

	if (tfd < 0)
		return -1;
	r = hreg_new(L, tfd, true, for_ckpt);
	e.events = EPOLLIN;
	e.data.ptr = r;
	if (arm_timerfd(tfd, abs) || epoll_ctl(L->epfd, EPOLL_CTL_ADD, tfd, &e)) {
		r->dead = true;
		close(tfd);
		return -1;
	}
	*for_app_reg = r;
	return 0;
}

static int h_timeout_modify(void *user, void **for_app_reg, struct timespec abs)
{
	struct hreg *r = *for_app_reg;

	(void)user;
	return arm_timerfd(r->fd, abs) ? -1 : 0;
}

/* Drop a timer registration; the caller holds hlock. */
static void timer_kill(struct tloop *L, struct hreg *r)
{
	if (r->dead)
		return;
	r->dead = true;
	epoll_ctl(L->epfd, EPOLL_CTL_DEL, r->fd, NULL);
	close(r->fd);
}

static void h_timeout_deregister(void *user, void *for_app_reg)
{
	struct tloop *L = user;

	pthread_mutex_lock(&L->hlock);
	timer_kill(L, for_app_reg);
	pthread_mutex_unlock(&L->hlock);
}

static const ckpt_osevent_hooks test_hooks = {
        .fd_register = h_fd_register,
        .fd_modify = h_fd_modify,
        .fd_deregister = h_fd_deregister,
        .timeout_register = h_timeout_register,
        .timeout_modify = h_timeout_modify,
        .timeout_deregister = h_timeout_deregister,
};

static void hooks_run_once(struct tloop *L, int max_ms)
{
	struct epoll_event evs[16];
	int n = epoll_wait(L->epfd, evs, 16, max_ms);

	for (int i = 0; i < n; i++) {
		struct hreg *r = evs[i].data.ptr;
		short revents = (short)(((evs[i].events & EPOLLIN) ? POLLIN : 0) |
		                        ((evs[i].events & EPOLLOUT) ? POLLOUT : 0) |
		                        ((evs[i].events & EPOLLERR) ? POLLERR : 0) |
		                        ((evs[i].events & EPOLLHUP) ? POLLHUP : 0));
		void *for_ckpt;
		int fd;

		pthread_mutex_lock(&L->hlock);
		if (r->dead) {
			pthread_mutex_unlock(&L->hlock);
			continue;
		}
		for_ckpt = r->for_ckpt;
		fd = r->fd;
		if (r->timer)
			timer_kill(L, r); /* a timeout is reported once */
		pthread_mutex_unlock(&L->hlock);
		if (r->timer)
			ckpt_osevent_occurred_timeout(L->ctx, for_ckpt);
		else
			ckpt_osevent_occurred_fd(L->ctx, for_ckpt, fd, POLLIN | POLLOUT, revents);
	}
}

/* ----------------------------------------------------------- poll loop */

static void poll_run_once(struct tloop *L, int max_ms)
{
	int nfds = L->nfds_room, timeout = max_ms, rc, r;

	while ((rc = ckpt_osevent_beforepoll(L->ctx, &nfds, L->fds, &timeout)) ==
	       CKPT_ERROR_BUFFERFULL) {
		L->fds = realloc(L->fds, (size_t)nfds * sizeof(*L->fds));
		L->nfds_room = nfds;
	}
	if (rc)
		FAIL("ckpt_osevent_beforepoll: %s", ckpt_strerror(rc));
	r = poll(L->fds, (nfds_t)nfds, timeout);
	if (r < 0 && errno != EINTR)
		FAIL("poll: %s", strerror(errno));
	ckpt_osevent_afterpoll(L->ctx, r < 0 ? 0 : nfds, L->fds);
}

/* ---------------------------------------------------------- libev loop */

static void libev_wakeup_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
}

static void libev_run_once(struct tloop *L, int max_ms)
{
	ev_timer guard;

	ev_timer_init(&guard, libev_wakeup_cb, max_ms / 1000.0, 0.);
	ev_timer_start(L->ev, &guard);
	ev_run(L->ev, EVRUN_ONCE);
	ev_timer_stop(L->ev, &guard);
}

/* -------------------------------------------------------------- common */

struct tloop *tloop_new(enum ckpt_loop_kind kind)
{
	return tloop_new_max_scripts(kind, 0);
}

struct tloop *tloop_new_max_scripts(enum ckpt_loop_kind kind, unsigned max_scripts)
{
	struct tloop *L = calloc(1, sizeof(*L));
	ckpt_ctx_opts opts = {.loop = kind, .max_scripts = max_scripts};
	int rc;

	L->kind = kind;
	L->epfd = -1;
	L->log.vtable.vmessage = tlog_vmessage;
	L->log.vtable.progress = tlog_progress;
	L->log.vtable.destroy = tlog_destroy;
	pthread_mutex_init(&L->log.lock, NULL);
	pthread_mutex_init(&L->hlock, NULL);
	opts.logger = &L->log.vtable;
	switch (kind) {
	case CKPT_LOOP_LIBEV:
		L->ev = ev_loop_new(EVFLAG_AUTO);
		opts.ev_loop = L->ev;
		break;
	case CKPT_LOOP_HOOKS:
		L->epfd = epoll_create1(EPOLL_CLOEXEC);
		opts.hooks = &test_hooks;
		opts.hooks_user = L;
		break;
	case CKPT_LOOP_POLL:
		L->nfds_room = 1;
		L->fds = calloc(1, sizeof(*L->fds));
		break;
	}
	rc = ckpt_ctx_new(&L->ctx, &opts);
	if (rc)
		FAIL("ckpt_ctx_new: %s", ckpt_strerror(rc));
	return L;
}

void tloop_free(struct tloop *L)
{
	int rc;

	if (!L)
		return;
	rc = L->ctx ? ckpt_ctx_free(L->ctx) : 0;
	if (rc)
		FAIL("ckpt_ctx_free: %s", ckpt_strerror(rc));
	if (L->ev)
		ev_loop_destroy(L->ev);
	if (L->epfd >= 0)
		close(L->epfd);
	while (L->regs) {
		struct hreg *r = L->regs;
		L->regs = r->next;
		if (!r->dead)
			FAIL("the library left a %s registered with the hooks loop",
			     r->timer ? "timeout" : "fd");
		free(r);
	}
	free(L->fds);
	free(L->log.text);
	pthread_mutex_destroy(&L->log.lock);
	pthread_mutex_destroy(&L->hlock);
	free(L);
}

ckpt_ctx *tloop_ctx(struct tloop *L)
{
	return L->ctx;
}

void tloop_forget_ctx(struct tloop *L)
{
	L->ctx = NULL;
}

enum ckpt_loop_kind tloop_kind(struct tloop *L)
{
	return L->kind;
}

void tloop_run_once(struct tloop *L, int max_ms)
{
	switch (L->kind) {
	case CKPT_LOOP_LIBEV:
		libev_run_once(L, max_ms);
		break;
	case CKPT_LOOP_HOOKS:
		hooks_run_once(L, max_ms);
		break;
	case CKPT_LOOP_POLL:
		poll_run_once(L, max_ms);
		break;
	}
}

bool tloop_run_until(struct tloop *L, atomic_int *flag, unsigned timeout_ms)
{
	long long deadline = test_now_ms() + test_scale_ms(timeout_ms);

	while (!atomic_load(flag)) {
		long long left = deadline - test_now_ms();
		if (left <= 0)
			return false;
		tloop_run_once(L, left > 100 ? 100 : (int)left);
	}
	return true;
}

void tloop_run_for(struct tloop *L, unsigned ms)
{
	long long deadline = test_now_ms() + ms;
	long long left;

	while ((left = deadline - test_now_ms()) > 0)
		tloop_run_once(L, (int)left);
}

bool tlog_contains(struct tloop *L, const char *text)
{
	bool found;

	pthread_mutex_lock(&L->log.lock);
	found = L->log.text && strstr(L->log.text, text);
	pthread_mutex_unlock(&L->log.lock);
	return found;
}

void tlog_clear(struct tloop *L)
{
	pthread_mutex_lock(&L->log.lock);
	L->log.len = 0;
	if (L->log.text)
		L->log.text[0] = '\0';
	pthread_mutex_unlock(&L->log.lock);
}

void tdone_cb(ckpt_ctx *ctx, int rc, void *user)
{
	struct tdone *d = user;

	(void)ctx;
	d->rc = rc;
	d->at_ms = test_now_ms();
	atomic_fetch_add(&d->done, 1);
}

ckpt_async_how tdone_how(struct tdone *d)
{
	ckpt_async_how how = {.callback = tdone_cb, .user = d};
	return how;
}
