/*
 * tkind.h - device kinds for tests, driven by their parameters:
 *   setup=ok|fail|hang|sync-ok|sync-fail    (default ok)
 *   teardown=ok|fail|sync-ok                (default ok)
 *   postsuspend=ok|fail, preresume=..., commit=..., release=..., rearm=...
 *                (default ok)
 *   delay_ms=N   asynchronous steps end after N ms (default 1)
 *   rc=N         the rc of a "fail" (default CKPT_ERROR_FAIL)
 * "test" runs the checkpoint steps one device at a time; "tbatch" has
 * only the batched forms.  "hang" ends only through abort.
 */
#ifndef CKPT_TKIND_H
#define CKPT_TKIND_H

#include "ckptdev/devices.h"

struct tkind_stats {
	int setups, teardowns, aborts;
	int postsuspend, preresume, commit, release, rearm;
	int batch_calls; /* tbatch: batched calls seen */
};

extern const ckpt_dev_kind tkind_test, tkind_batch;
/* subkind init/cleanup calls, over both kinds, in this process */
extern int tkind_subkind_inits, tkind_subkind_cleanups;

/* Register both kinds on ctx. */
void tkind_register(ckpt_ctx *ctx);
const struct tkind_stats *tkind_stats(const ckpt_dev *dev);

#endif /* CKPT_TKIND_H */
