/*
 * kind.c - the kind registry: the built-in kinds (a table the build puts
 * together, src/builtin_kinds.c, so this layer names none of them), and
 * those an application registers on its context (kept in the context's
 * layer slot, made on first registration, freed with the context).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct registry {
	size_t n;
	const ckpt_dev_kind **kinds;
};

static void registry_dispose(void *layer)
{
	struct registry *r = layer;

	free(r->kinds);
	free(r);
}

const ckpt_dev_kind *dev_kind_find(ckpt_ctx *ctx, const char *name)
{
	struct registry *r = ctx->layer;

	for (size_t i = 0; dev_builtin_kinds[i]; i++)
		if (!strcmp(dev_builtin_kinds[i]->name, name))
			return dev_builtin_kinds[i];
	for (size_t i = 0; r && i < r->n; i++)
		if (!strcmp(r->kinds[i]->name, name))
			return r->kinds[i];
	return NULL;
}

int ckpt_kind_register(ckpt_ctx *ctx, const ckpt_dev_kind *kind)
{
	struct registry *r;
	int rc = 0;

	if (!ctx)
		return CKPT_ERROR_INVAL;
	ao_ctx_lock(ctx);
	if (!kind || !kind->name || !kind->name[0]) {
		LOG(ctx, ERROR, "ckpt_kind_register: a kind needs a name");
		rc = CKPT_ERROR_INVAL;
		goto out;
	}
	if (dev_kind_find(ctx, kind->name)) {
		LOG(ctx, ERROR, "ckpt_kind_register: a device kind named \"%s\" exists already",
		    kind->name);
		rc = CKPT_ERROR_EXISTS;
		goto out;
	}
	if (!ctx->layer) {
		ctx->layer = ao_calloc(1, sizeof(struct registry));
		ctx->layer_dispose = registry_dispose;
	}
	r = ctx->layer;
	r->kinds = ao_realloc(r->kinds, (r->n + 1) * sizeof(*r->kinds));
	r->kinds[r->n++] = kind;
out:
	ao_ctx_unlock(ctx);
	return rc;
}
