/*
 * xswatch.c - xenstore watches over the ctx's one connection.
 *
 * Each registered watch gets a token unique in the ctx ("ckpt<serial>");
 * events are dispatched by token, so an event still queued for a watch
 * that has since been deregistered (perhaps from inside its own callback)
 * finds no owner and is dropped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "internal.h"

void ao_xswatch_init(ao_xswatch *w)
{
	w->func = NULL;
	w->path = NULL;
	w->token[0] = '\0';
	ao_list_init(&w->entry);
}

bool ao_xswatch_is_registered(const ao_xswatch *w)
{
	return ao_list_linked(&w->entry);
}

void ao_xswatch_forget(ao_xswatch *w)
{
	ao_list_del(&w->entry);
	free(w->path);
	w->path = NULL;
}

int ao_xswatch_register(ckpt_ctx *ctx, ao_xswatch *w, ao_xswatch_cb *func, const char *path)
{
	struct xs_handle *xsh;
	int rc;

	rc = ao_xs_handle(ctx, &xsh);
	if (rc)
		return rc;
	rc = ao_fault(ctx, FP_XS_WATCH);
	if (rc) {
		LOG(ctx, ERROR, "cannot watch xenstore path %s: %s", path, ckpt_strerror(rc));
		return rc;
	}
	snprintf(w->token, sizeof(w->token), "ckpt%" PRIu64, ++ctx->xswatch_serial);
	if (!xs_watch(xsh, path, w->token)) {
		int e = errno;
		LOGEV(ctx, ERROR, e, "cannot watch xenstore path %s", path);
		return ao_rc_from_xs_errno(e);
	}
	w->func = func;
	w->path = ao_strdup(path);
	ao_list_add_tail(&ctx->xswatches, &w->entry);
	return 0;
}

void ao_xswatch_deregister(ckpt_ctx *ctx, ao_xswatch *w)
{
	if (!ao_xswatch_is_registered(w))
		return;
	if (ctx->xsh && !xs_unwatch(ctx->xsh, w->path, w->token))
		LOGE(ctx, DEBUG, "xenstore unwatch %s", w->path);
	ao_xswatch_forget(w);
}

static ao_xswatch *find_by_token(ckpt_ctx *ctx, const char *token)
{
	struct ao_list *pos;

	AO_LIST_FOR_EACH(pos, &ctx->xswatches)
	{
		ao_xswatch *w = CONTAINER_OF(pos, ao_xswatch, entry);
		if (!strcmp(w->token, token))
			return w;
	}
	return NULL;
}

void ao_xswatch_dispatch(ao_egc *egc)
{
	ckpt_ctx *ctx = egc->ctx;

	while (ctx->xsh) {
		char **ev = xs_check_watch(ctx->xsh);
		ao_xswatch *w;

		if (!ev) {
			if (errno != EAGAIN)
				ao_xs_lost(egc, "reading watch events failed");
			return;
		}
		w = find_by_token(ctx, ev[XS_WATCH_TOKEN]);
		if (w)
			w->func(egc, w, ev[XS_WATCH_PATH], 0);
		free(ev);
	}
}
