/*
 * abort.c - ckpt_ao_abort(): asking a running operation to end promptly.
 *
 * An ao's sub-operations that can stop early register an ao_abortable
 * while they run.  Aborting the ao marks it aborting (later registrations
 * are refused with CKPT_ERROR_ABORTED) and calls each registered
 * abortable once; each then winds its work down and reports through its
 * usual callback, so the ao still completes exactly once, through the
 * code that owns it.  An ao marked unabortable (a teardown: it is the
 * cleanup) refuses with CKPT_ERROR_NOTSUP and runs on.
 */
#include <assert.h>

#include "internal.h"

void ao_abortable_init(ao_abortable *a)
{
	ao_list_init(&a->entry);
}

bool ao_abortable_is_registered(const ao_abortable *a)
{
	return ao_list_linked(&a->entry);
}

int ao_abortable_register(ao_abortable *a)
{
	assert(!ao_abortable_is_registered(a));
	assert(a->ao->state == AO_RUNNING);
	if (a->ao->aborting)
		return CKPT_ERROR_ABORTED;
	ao_list_add_tail(&a->ao->abortables, &a->entry);
	return 0;
}

void ao_abortable_deregister(ao_abortable *a)
{
	ao_list_del(&a->entry);
}

void ao_abort_locked(ao_egc *egc, ao_op *ao)
{
	struct ao_list *pos;

	if (ao->aborting || ao->unabortable)
		return;
	ao->aborting = true;
	while ((pos = ao_list_first(&ao->abortables))) {
		ao_abortable *a = CONTAINER_OF(pos, ao_abortable, entry);
		ao_list_del(&a->entry);
		a->callback(egc, a, CKPT_ERROR_ABORTED);
	}
}

int ckpt_ao_abort(ckpt_ctx *ctx, const ckpt_async_how *how)
{
	struct ao_list *pos;
	ao_egc egc;
	int rc = CKPT_ERROR_NOTFOUND;

	if (!ctx)
		return CKPT_ERROR_INVAL;
	if (!how) {
		LOG(ctx, ERROR, "ckpt_ao_abort: how is NULL");
		return CKPT_ERROR_INVAL;
	}
	ao_egc_enter(&egc, ctx);
	AO_LIST_FOR_EACH(pos, &ctx->aos)
	{
		ao_op *ao = CONTAINER_OF(pos, struct ao_op, entry);
		if (ao->how_ptr != how)
			continue;
		if (ao->unabortable) {
			LOG(ctx, ERROR,
			    "ckpt_ao_abort: the operation cannot be aborted (a "
			    "teardown runs to its end); its callback comes as usual");
			rc = CKPT_ERROR_NOTSUP;
		} else {
			ao_abort_locked(&egc, ao);
			rc = 0;
		}
		break;
	}
	if (rc == CKPT_ERROR_NOTFOUND)
		LOG(ctx, DEBUG, "abort: no running operation with that how");
	ao_egc_leave(&egc);
	return rc;
}
