/*
 * kind.c - the kind registry: the built-in kinds, and those an application
 * registers on its context.
 */
#include <string.h>

#include "internal.h"

static const ckpt_dev_kind *const builtin_kinds[] = {
        &dev_nic_kind,
        &dev_disk_kind,
};

const ckpt_dev_kind *dev_kind_find(ckpt_ctx *ctx, const char *name)
{
	struct ao_list *pos;

	for (size_t i = 0; i < ARRAY_SIZE(builtin_kinds); i++)
		if (!strcmp(builtin_kinds[i]->name, name))
			return builtin_kinds[i];
	AO_LIST_FOR_EACH(pos, &ctx->kinds)
	{
		const ckpt_dev_kind *kind = CONTAINER_OF(pos, struct ao_kind_node, entry)->kind;
		if (!strcmp(kind->name, name))
			return kind;
	}
	return NULL;
}

int ckpt_kind_register(ckpt_ctx *ctx, const ckpt_dev_kind *kind)
{
	struct ao_kind_node *node;
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
	node = ao_calloc(1, sizeof(*node));
	node->kind = kind;
	ao_list_add_tail(&ctx->kinds, &node->entry);
out:
	ao_ctx_unlock(ctx);
	return rc;
}
