/*
 * join.c - one callback when N parallel sub-operations have all ended.
 *
 * The join is "prepared" once the owner has added every member; until then
 * members finishing early cannot end it.  The first error is kept; later
 * ones are logged, since their own failure was logged where it happened
 * and only the fact that it was not reported needs saying.
 */
#include <assert.h>

#include "internal.h"

void ao_join_init(ao_join *j, ao_op *ao, ao_join_cb *callback, const char *what)
{
	j->ao = ao;
	j->callback = callback;
	j->what = what;
	j->pending = 0;
	j->prepared = false;
	j->rc = 0;
}

void ao_join_add(ao_join *j, ao_join_member *m, const char *name)
{
	assert(!j->prepared);
	m->join = j;
	m->name = name;
	m->done = false;
	j->pending++;
}

static void join_check(ao_egc *egc, ao_join *j)
{
	if (j->prepared && j->pending == 0) {
		j->prepared = false;
		j->callback(egc, j, j->rc);
	}
}

void ao_join_member_done(ao_egc *egc, ao_join_member *m, int rc)
{
	ao_join *j = m->join;

	assert(!m->done);
	assert(j->pending > 0);
	m->done = true;
	j->pending--;
	if (rc) {
		if (!j->rc)
			j->rc = rc;
		else
			LOG(egc->ctx, INFO, "%s: %s also failed (%s)", j->what,
			    m->name ? m->name : "a member", ckpt_strerror(rc));
	}
	join_check(egc, j);
}

void ao_join_prepared(ao_egc *egc, ao_join *j)
{
	assert(!j->prepared);
	j->prepared = true;
	join_check(egc, j);
}
