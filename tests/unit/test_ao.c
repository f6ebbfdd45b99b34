/*
 * test_ao.c - contexts, errors, completions, sync mode, abort, timers, fds
 * and joins, under every loop binding.
 */
#include <ev.h>
#include <unistd.h>

#include "../harness/test.h"
#include "../harness/tloop.h"
#include "../ops/top.h"

TEST(strerror_names_every_code)
{
	for (int rc = 0; rc >= CKPT_ERROR_LAST; rc--)
		ASSERT_TRUE(strcmp(ckpt_strerror(rc), "unknown error") != 0);
	ASSERT_STR_EQ(ckpt_strerror(CKPT_ERROR_TIMEDOUT), "timed out");
	ASSERT_STR_EQ(ckpt_strerror(1), "unknown error");
	ASSERT_STR_EQ(ckpt_strerror(CKPT_ERROR_LAST - 1), "unknown error");
}

TEST(ctx_new_checks_its_options)
{
	ckpt_osevent_hooks partial = {0};
	ckpt_ctx_opts opts = {.loop = CKPT_LOOP_HOOKS, .hooks = &partial};
	ckpt_ctx *ctx = (ckpt_ctx *)1;

	ASSERT_RC(ckpt_ctx_new(NULL, NULL), CKPT_ERROR_INVAL);
	ASSERT_RC(ckpt_ctx_new(&ctx, &opts), CKPT_ERROR_INVAL);
	ASSERT_TRUE(ctx == NULL);
	opts.loop = (enum ckpt_loop_kind)42;
	ASSERT_RC(ckpt_ctx_new(&ctx, &opts), CKPT_ERROR_INVAL);
	ASSERT_OK(ckpt_ctx_free(NULL));
}

TEST(ctx_default_is_libev_default_loop)
{
	ckpt_ctx *ctx;
	int status = -1;
	char *argv[] = {"/bin/true", NULL};

	ASSERT_OK(ckpt_ctx_new(&ctx, NULL));
	/* a synchronous operation needs no loop from the caller */
	ASSERT_OK(top_exec(ctx, argv, NULL, 5000, 0, &status, NULL));
	ASSERT_EQ(status, 0);
	ASSERT_OK(ckpt_ctx_free(ctx));
	ev_loop_destroy(EV_DEFAULT); /* libev's, not the library's */
}

TEST_LOOPS(timer_completes_once_after_its_delay)
{
	struct tloop *L = tloop_new(loop);
	struct tdone d = {0};
	ckpt_async_how how = tdone_how(&d);
	long long start = test_now_ms();

	ASSERT_OK(top_timer(tloop_ctx(L), 50, CKPT_ERROR_INVAL, &how));
	ASSERT_EQ(d.done, 0);
	ASSERT_TRUE(tloop_run_until(L, &d.done, 5000));
	ASSERT_RC(d.rc, CKPT_ERROR_INVAL);
	ASSERT_GE(d.at_ms - start, 49);
	tloop_run_for(L, 30);
	ASSERT_EQ(d.done, 1);
	tloop_free(L);
}

TEST_LOOPS(timers_fire_in_deadline_order)
{
	struct tloop *L = tloop_new(loop);
	struct tdone d[3] = {{0}};
	ckpt_async_how how[3];
	const unsigned ms[3] = {60, 20, 40};

	for (int i = 0; i < 3; i++) {
		how[i] = tdone_how(&d[i]);
		ASSERT_OK(top_timer(tloop_ctx(L), ms[i], 0, &how[i]));
	}
	ASSERT_TRUE(tloop_run_until(L, &d[0].done, 5000));
	ASSERT_EQ(d[1].done, 1);
	ASSERT_EQ(d[2].done, 1);
	ASSERT_LE(d[1].at_ms, d[2].at_ms);
	ASSERT_LE(d[2].at_ms, d[0].at_ms);
	tloop_free(L);
}

TEST_LOOPS(callback_never_runs_inside_its_initiator)
{
	struct tloop *L = tloop_new(loop);
	struct tdone d = {0};
	ckpt_async_how how = tdone_how(&d);

	ASSERT_OK(top_immediate(tloop_ctx(L), CKPT_ERROR_BUSY, &how));
	ASSERT_EQ(d.done, 0); /* completed, but the caller has not seen it yet */
	ASSERT_TRUE(tloop_run_until(L, &d.done, 2000));
	ASSERT_RC(d.rc, CKPT_ERROR_BUSY);
	tloop_run_for(L, 20);
	ASSERT_EQ(d.done, 1);
	tloop_free(L);
}

TEST_LOOPS(synchronous_call_drives_events_itself)
{
	struct tloop *L = tloop_new(loop);
	struct tdone other = {0};
	ckpt_async_how how = tdone_how(&other);
	long long start = test_now_ms();

	/* an async op ending meanwhile gets its callback from inside */
	ASSERT_OK(top_timer(tloop_ctx(L), 10, 0, &how));
	ASSERT_RC(top_timer(tloop_ctx(L), 60, CKPT_ERROR_NOTSUP, NULL), CKPT_ERROR_NOTSUP);
	ASSERT_GE(test_now_ms() - start, 59);
	ASSERT_EQ(other.done, 1);
	ASSERT_RC(top_immediate(tloop_ctx(L), CKPT_ERROR_EXISTS, NULL), CKPT_ERROR_EXISTS);
	tloop_free(L);
}

struct chain {
	struct tloop *L;
	struct tdone second;
	ckpt_async_how second_how;
	atomic_int first_done;
	int sync_rc;
};

/* A completion callback that calls into the library again, both async and
 * synchronously: the lock is not held while it runs. */
static void chain_cb(ckpt_ctx *ctx, int rc, void *user)
{
	struct chain *c = user;

	(void)rc;
	c->sync_rc = top_timer(ctx, 5, CKPT_ERROR_SCRIPT, NULL);
	c->second_how = tdone_how(&c->second);
	if (top_timer(ctx, 5, 0, &c->second_how))
		abort();
	atomic_store(&c->first_done, 1);
}

TEST_LOOPS(callback_may_call_the_library_again)
{
	struct chain c = {0};
	ckpt_async_how how = {.callback = chain_cb, .user = &c};

	c.L = tloop_new(loop);
	ASSERT_OK(top_timer(tloop_ctx(c.L), 5, 0, &how));
	ASSERT_TRUE(tloop_run_until(c.L, &c.first_done, 5000));
	ASSERT_RC(c.sync_rc, CKPT_ERROR_SCRIPT);
	ASSERT_TRUE(tloop_run_until(c.L, &c.second.done, 5000));
	ASSERT_OK(c.second.rc);
	tloop_free(c.L);
}

TEST_LOOPS(abort_ends_the_operation_promptly)
{
	struct tloop *L = tloop_new(loop);
	ckpt_ctx *ctx = tloop_ctx(L);
	struct tdone d = {0};
	ckpt_async_how how = tdone_how(&d), other = tdone_how(&d);
	long long start = test_now_ms();

	ASSERT_OK(top_timer(ctx, 60000, 0, &how));
	ASSERT_RC(ckpt_ao_abort(ctx, &other), CKPT_ERROR_NOTFOUND);
	ASSERT_RC(ckpt_ao_abort(ctx, NULL), CKPT_ERROR_INVAL);
	ASSERT_OK(ckpt_ao_abort(ctx, &how));
	ASSERT_OK(ckpt_ao_abort(ctx, &how) == CKPT_ERROR_NOTFOUND ? 0 : 1);
	ASSERT_TRUE(tloop_run_until(L, &d.done, 2000));
	ASSERT_RC(d.rc, CKPT_ERROR_ABORTED);
	ASSERT_LT(d.at_ms - start, 1000);
	ASSERT_RC(ckpt_ao_abort(ctx, &how), CKPT_ERROR_NOTFOUND);
	tloop_free(L);
}

TEST_LOOPS(ctx_free_refuses_while_operations_run)
{
	struct tloop *L = tloop_new(loop);
	ckpt_ctx *ctx = tloop_ctx(L);
	struct tdone d = {0};
	ckpt_async_how how = tdone_how(&d);

	ASSERT_OK(top_timer(ctx, 60000, 0, &how));
	ASSERT_RC(ckpt_ctx_free(ctx), CKPT_ERROR_BUSY);
	ASSERT_TRUE(tlog_contains(L, "operation(s) still running"));
	ASSERT_OK(ckpt_ao_abort(ctx, &how));
	/* the abort ended it at once: its callback ran before abort returned */
	ASSERT_EQ(d.done, 1);
	tloop_free(L); /* now it succeeds */
}

TEST_LOOPS(fd_event_reaches_its_watcher)
{
	struct tloop *L = tloop_new(loop);
	struct tdone d = {0}, t = {0};
	ckpt_async_how how = tdone_how(&d), thow = tdone_how(&t);
	int p[2];
	char byte = 0;

	ASSERT_OK(pipe(p));
	ASSERT_OK(top_fd_read(tloop_ctx(L), p[0], 5000, &byte, &how));
	tloop_run_for(L, 20);
	ASSERT_EQ(d.done, 0);
	ASSERT_EQ(write(p[1], "x", 1), 1);
	ASSERT_TRUE(tloop_run_until(L, &d.done, 2000));
	ASSERT_OK(d.rc);
	ASSERT_EQ(byte, 'x');

	/* nothing written: the op's own timeout ends it */
	ASSERT_OK(top_fd_read(tloop_ctx(L), p[0], 30, &byte, &thow));
	ASSERT_TRUE(tloop_run_until(L, &t.done, 2000));
	ASSERT_RC(t.rc, CKPT_ERROR_TIMEDOUT);
	close(p[0]);
	close(p[1]);
	tloop_free(L);
}

TEST_LOOPS(timer_and_fd_watches_can_be_modified)
{
	struct tloop *L = tloop_new(loop);
	struct tdone t = {0}, f = {0}, idle = {0};
	ckpt_async_how th = tdone_how(&t), fh = tdone_how(&f), ih = tdone_how(&idle);
	long long start = test_now_ms();
	int p[2];

	/* a timer for 60 s, moved to 40 ms: fires at the new deadline */
	ASSERT_OK(top_timer_moved(tloop_ctx(L), 60000, 40, &th));
	ASSERT_TRUE(tloop_run_until(L, &t.done, 5000));
	ASSERT_OK(t.rc);
	ASSERT_GE(t.at_ms - start, 39);
	ASSERT_LT(t.at_ms - start, 5000);

	/* a pipe's write end never reads as readable, but is writable: the
	 * watch fires only because it was changed to POLLOUT */
	ASSERT_OK(pipe(p));
	ASSERT_OK(top_fd_modified(tloop_ctx(L), p[1], 5000, &fh));
	ASSERT_TRUE(tloop_run_until(L, &f.done, 2000));
	ASSERT_OK(f.rc);
	/* the same without the change would wait for POLLIN forever */
	ASSERT_OK(top_fd_read(tloop_ctx(L), p[1], 50, (char[1]){0}, &ih));
	ASSERT_TRUE(tloop_run_until(L, &idle.done, 2000));
	ASSERT_RC(idle.rc, CKPT_ERROR_TIMEDOUT);
	close(p[0]);
	close(p[1]);
	tloop_free(L);
}

TEST_LOOPS(join_reports_the_first_error_once)
{
	struct tloop *L = tloop_new(loop);
	struct tdone d = {0}, ok = {0}, none = {0};
	ckpt_async_how how = tdone_how(&d), okhow = tdone_how(&ok), nonehow = tdone_how(&none);
	const unsigned ms[4] = {40, 10, 25, 5};
	const int rc[4] = {CKPT_ERROR_SCRIPT, CKPT_ERROR_TIMEDOUT, CKPT_ERROR_BUSY, 0};
	const int zero[3] = {0, 0, 0};

	ASSERT_OK(top_join(tloop_ctx(L), 4, ms, rc, &how));
	ASSERT_TRUE(tloop_run_until(L, &d.done, 5000));
	ASSERT_RC(d.rc, CKPT_ERROR_TIMEDOUT); /* the first to fail, not the first listed */
	ASSERT_GE(d.at_ms, 0);
	ASSERT_TRUE(tlog_contains(L, "also failed"));

	ASSERT_OK(top_join(tloop_ctx(L), 3, ms, zero, &okhow));
	ASSERT_OK(top_join(tloop_ctx(L), 0, ms, zero, &nonehow));
	ASSERT_TRUE(tloop_run_until(L, &ok.done, 5000));
	ASSERT_TRUE(tloop_run_until(L, &none.done, 5000));
	ASSERT_OK(ok.rc);
	ASSERT_OK(none.rc);
	tloop_run_for(L, 20);
	ASSERT_EQ(d.done + ok.done + none.done, 3);
	tloop_free(L);
}

TEST_LOOPS(join_abort_reaches_every_member)
{
	struct tloop *L = tloop_new(loop);
	struct tdone d = {0};
	ckpt_async_how how = tdone_how(&d);
	const unsigned ms[3] = {60000, 60000, 60000};
	const int rc[3] = {0, 0, 0};

	ASSERT_OK(top_join(tloop_ctx(L), 3, ms, rc, &how));
	tloop_run_for(L, 10);
	ASSERT_OK(ckpt_ao_abort(tloop_ctx(L), &how));
	ASSERT_TRUE(tloop_run_until(L, &d.done, 2000));
	ASSERT_RC(d.rc, CKPT_ERROR_ABORTED);
	tloop_free(L);
}

TEST(poll_binding_reports_a_small_array)
{
	struct tloop *L = tloop_new(CKPT_LOOP_POLL);
	struct tloop *E = tloop_new(CKPT_LOOP_LIBEV);
	struct tdone d = {0};
	ckpt_async_how how = tdone_how(&d);
	struct pollfd fds[4];
	int p[2], nfds = 1, timeout = -1;
	char byte;

	ASSERT_OK(pipe(p));
	ASSERT_OK(top_fd_read(tloop_ctx(L), p[0], 5000, &byte, &how));
	ASSERT_RC(ckpt_osevent_beforepoll(tloop_ctx(L), &nfds, fds, &timeout),
	          CKPT_ERROR_BUFFERFULL);
	ASSERT_EQ(nfds, 3); /* the poller's wake fd, the ctx's doorbell, the pipe */
	ASSERT_EQ(timeout, -1);
	ASSERT_TRUE(tlog_contains(L, "room for 1 entries, 3 are needed"));
	nfds = 4;
	ASSERT_OK(ckpt_osevent_beforepoll(tloop_ctx(L), &nfds, fds, &timeout));
	ASSERT_EQ(nfds, 3);
	ASSERT_GE(timeout, 4000);
	ASSERT_LE(timeout, 5000);
	ASSERT_EQ(fds[2].fd, p[0]);
	ASSERT_EQ(write(p[1], "y", 1), 1);
	ASSERT_EQ(poll(fds, (nfds_t)nfds, 1000), 1);
	ckpt_osevent_afterpoll(tloop_ctx(L), nfds, fds);
	tloop_run_until(L, &d.done, 1000);
	ASSERT_EQ(byte, 'y');

	nfds = 4;
	ASSERT_RC(ckpt_osevent_beforepoll(tloop_ctx(E), &nfds, fds, &timeout), CKPT_ERROR_INVAL);
	ASSERT_TRUE(tlog_contains(E, "does not use CKPT_LOOP_POLL"));
	close(p[0]);
	close(p[1]);
	tloop_free(L);
	tloop_free(E);
}

TEST(fault_points_are_listed_and_armed)
{
	struct tloop *L = tloop_new(CKPT_LOOP_POLL);
	ckpt_ctx *ctx = tloop_ctx(L);
	const char *const *names;
	size_t n;
	unsigned passes;
	bool seen_fork = false;

	names = ckpt_fault_list(&n);
	ASSERT_GE(n, 9);
	for (size_t i = 0; i < n; i++)
		seen_fork |= !strcmp(names[i], "exec.fork");
	ASSERT_TRUE(seen_fork);
	ASSERT_RC(ckpt_fault_arm(ctx, "no.such.point", 1, 0), CKPT_ERROR_NOTFOUND);
	ASSERT_RC(ckpt_fault_arm(ctx, "timer.register", 0, 0), CKPT_ERROR_INVAL);
	ASSERT_RC(ckpt_fault_arm(ctx, "timer.register", 1, 5), CKPT_ERROR_INVAL);

	/* fail the second pass only */
	ASSERT_OK(ckpt_fault_arm(ctx, "timer.register", 2, CKPT_ERROR_NOMEM));
	ASSERT_OK(top_timer(ctx, 1, 0, NULL));
	ASSERT_RC(top_timer(ctx, 1, 0, NULL), CKPT_ERROR_NOMEM);
	ASSERT_OK(top_timer(ctx, 1, 0, NULL));
	ASSERT_OK(ckpt_fault_passes(ctx, "timer.register", &passes));
	ASSERT_EQ(passes, 3);
	ASSERT_TRUE(tlog_contains(L, "cannot register a timer: out of memory"));

	ckpt_fault_reset(ctx);
	ASSERT_OK(ckpt_fault_passes(ctx, "timer.register", &passes));
	ASSERT_EQ(passes, 0);
	ckpt_fault_count(ctx, true);
	ASSERT_OK(top_timer(ctx, 1, 0, NULL));
	ASSERT_OK(ckpt_fault_passes(ctx, "timer.register", &passes));
	ASSERT_EQ(passes, 1);
	ckpt_fault_count(ctx, false);
	tloop_free(L);
}
