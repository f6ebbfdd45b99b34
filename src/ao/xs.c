/*
 * xs.c - the ctx's xenstore connection: opened on first use, through
 * libxenstore (which finds the daemon via XENSTORED_PATH or
 * XENSTORED_RUNDIR), and forgotten when the daemon goes away.
 *
 * libxenstore does not tell a watching client that the daemon died: its
 * reader thread just stops.  So, when the daemon is reached through a unix
 * socket, the ctx keeps a second, silent connection to the same socket
 * open; the daemon closing it (dying) makes it readable, and every watch
 * then fails with CKPT_ERROR_XENSTORE instead of waiting forever.  A
 * request that fails as a dead connection does is handled the same way.
 * The next use opens a new connection.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xenstore.h>

#include "internal.h"

static void watch_fd_cb(ao_egc *egc, ao_fd *ev, int fd, short events, short revents);
static void daemon_gone_cb(ao_egc *egc, ao_fd *ev, int fd, short events, short revents);
static void lost_work(ao_egc *egc, ao_work *w);

/* The socket libxenstore will use, as it chooses it. */
static void daemon_socket(char *buf, size_t len)
{
	const char *path = getenv("XENSTORED_PATH");
	const char *dir = getenv("XENSTORED_RUNDIR");

	if (path)
		snprintf(buf, len, "%s", path);
	else
		snprintf(buf, len, "%s/socket", dir ? dir : "/var/run/xenstored");
}

/* A second connection whose only use is to see the daemon close it. */
static void open_liveness(ckpt_ctx *ctx)
{
	struct sockaddr_un sa;
	int s;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	daemon_socket(sa.sun_path, sizeof(sa.sun_path));
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		LOGE(ctx, DEBUG, "xenstore at %s: no liveness watch", sa.sun_path);
		close(s);
		return;
	}
	if (ao_fd_register(ctx, &ctx->xs_live_fd, daemon_gone_cb, s, POLLIN)) {
		close(s);
		return;
	}
	ctx->xs_live_sock = s;
}

int ao_xs_handle(ckpt_ctx *ctx, struct xs_handle **xsh_out)
{
	int rc, fd;

	if (ctx->xsh) {
		*xsh_out = ctx->xsh;
		return 0;
	}
	rc = ao_fault(ctx, FP_XS_OPEN);
	if (rc) {
		LOG(ctx, ERROR, "cannot connect to xenstore: %s", ckpt_strerror(rc));
		return rc;
	}
	ctx->xsh = xs_open(0);
	if (!ctx->xsh) {
		char where[108];
		daemon_socket(where, sizeof(where));
		LOGE(ctx, ERROR, "cannot connect to xenstore (socket %s)", where);
		return CKPT_ERROR_XENSTORE;
	}
	fd = xs_fileno(ctx->xsh);
	if (fd < 0) {
		LOGE(ctx, ERROR, "cannot get xenstore's watch fd");
		rc = CKPT_ERROR_XENSTORE;
		goto fail;
	}
	rc = ao_fd_register(ctx, &ctx->xs_watch_fd, watch_fd_cb, fd, POLLIN);
	if (rc)
		goto fail;
	open_liveness(ctx);
	*xsh_out = ctx->xsh;
	return 0;
fail:
	xs_close(ctx->xsh);
	ctx->xsh = NULL;
	return rc;
}

void ao_xs_close(ckpt_ctx *ctx)
{
	ao_fd_deregister(ctx, &ctx->xs_watch_fd);
	ao_fd_deregister(ctx, &ctx->xs_live_fd);
	ao_work_cancel(ctx, &ctx->xs_lost_work);
	if (ctx->xs_live_sock >= 0)
		close(ctx->xs_live_sock);
	ctx->xs_live_sock = -1;
	if (ctx->xsh)
		xs_close(ctx->xsh);
	ctx->xsh = NULL;
}

void ao_xs_lost(ao_egc *egc, const char *why)
{
	ckpt_ctx *ctx = egc->ctx;
	struct ao_list *pos;

	if (!ctx->xsh)
		return;
	LOG(ctx, ERROR, "xenstore connection lost: %s", why);
	ao_xs_close(ctx);
	while ((pos = ao_list_first(&ctx->xswatches))) {
		ao_xswatch *w = CONTAINER_OF(pos, ao_xswatch, entry);
		ao_xswatch_forget(w);
		w->func(egc, w, NULL, CKPT_ERROR_XENSTORE);
	}
}

/* A request failed with errno e: a dead connection is handled from a
 * later egc, so that no watch callback runs inside the caller. */
static int request_failed(ckpt_ctx *ctx, int e)
{
	switch (e) {
	case EBADF:
	case EIO:
	case EPIPE:
	case ECONNRESET:
	case ENOTCONN:
	case ECONNREFUSED:
		ao_work_post(ctx, &ctx->xs_lost_work, lost_work);
		break;
	}
	return ao_rc_from_xs_errno(e);
}

static void lost_work(ao_egc *egc, ao_work *w)
{
	(void)w;
	ao_xs_lost(egc, "a request failed");
}

static void daemon_gone_cb(ao_egc *egc, ao_fd *ev, int fd, short events, short revents)
{
	char c;
	ssize_t n;

	(void)ev;
	(void)events;
	(void)revents;
	n = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	ao_xs_lost(egc, "the daemon closed its socket");
}

static void watch_fd_cb(ao_egc *egc, ao_fd *ev, int fd, short events, short revents)
{
	(void)ev;
	(void)fd;
	(void)events;
	(void)revents;
	ao_xswatch_dispatch(egc);
}

int ao_xs_read(ckpt_ctx *ctx, const char *path, char **val_out)
{
	struct xs_handle *xsh;
	unsigned len;
	char *v;
	int rc;

	*val_out = NULL;
	rc = ao_xs_handle(ctx, &xsh);
	if (rc)
		return rc;
	rc = ao_fault(ctx, FP_XS_READ);
	if (rc) {
		LOG(ctx, ERROR, "xenstore read %s: %s", path, ckpt_strerror(rc));
		return rc;
	}
	v = xs_read(xsh, XBT_NULL, path, &len);
	if (!v) {
		int e = errno;
		if (e != ENOENT)
			LOGEV(ctx, ERROR, e, "xenstore read %s failed", path);
		return request_failed(ctx, e);
	}
	*val_out = v;
	return 0;
}

int ao_xs_write(ckpt_ctx *ctx, const char *path, const char *value)
{
	struct xs_handle *xsh;
	int rc;

	rc = ao_xs_handle(ctx, &xsh);
	if (rc)
		return rc;
	rc = ao_fault(ctx, FP_XS_WRITE);
	if (rc) {
		LOG(ctx, ERROR, "xenstore write %s: %s", path, ckpt_strerror(rc));
		return rc;
	}
	if (!xs_write(xsh, XBT_NULL, path, value, (unsigned)strlen(value))) {
		int e = errno;
		LOGEV(ctx, ERROR, e, "xenstore write %s failed", path);
		return request_failed(ctx, e);
	}
	return 0;
}

int ao_xs_rm(ckpt_ctx *ctx, const char *path)
{
	struct xs_handle *xsh;
	int rc;

	rc = ao_xs_handle(ctx, &xsh);
	if (rc)
		return rc;
	rc = ao_fault(ctx, FP_XS_WRITE);
	if (rc) {
		LOG(ctx, ERROR, "xenstore rm %s: %s", path, ckpt_strerror(rc));
		return rc;
	}
	if (!xs_rm(xsh, XBT_NULL, path) && errno != ENOENT) {
		int e = errno;
		LOGEV(ctx, ERROR, e, "xenstore rm %s failed", path);
		return request_failed(ctx, e);
	}
	return 0;
}

int ao_xs_directory(ckpt_ctx *ctx, const char *path, char ***list_out, unsigned *n_out)
{
	struct xs_handle *xsh;
	char **list;
	int rc;

	*list_out = NULL;
	*n_out = 0;
	rc = ao_xs_handle(ctx, &xsh);
	if (rc)
		return rc;
	rc = ao_fault(ctx, FP_XS_READ);
	if (rc) {
		LOG(ctx, ERROR, "xenstore directory %s: %s", path, ckpt_strerror(rc));
		return rc;
	}
	list = xs_directory(xsh, XBT_NULL, path, n_out);
	if (!list) {
		int e = errno;
		if (e != ENOENT)
			LOGEV(ctx, ERROR, e, "xenstore directory %s failed", path);
		return request_failed(ctx, e);
	}
	*list_out = list;
	return 0;
}
