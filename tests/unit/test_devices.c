/*
 * test_devices.c - the device layer with the test kinds, under every loop
 * binding: parallel setup and teardown, rollback, abort, timeouts, the
 * checkpoint sequence, registration and spec errors, many devices.
 */
#include <stdio.h>
#include <unistd.h>

#include "../harness/test.h"
#include "../harness/tloop.h"
#include "../ops/tkind.h"
#include "ckptdev/devices.h"

#define P(...)                                                                                     \
	(const char *const[])                                                                      \
	{                                                                                          \
		__VA_ARGS__, NULL                                                                  \
	}

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define SLOW_SCRIPT test_tmp_path("slow-disk.sh")

static struct tloop *new_loop(enum ckpt_loop_kind loop)
{
	struct tloop *L = tloop_new(loop);

	tkind_register(tloop_ctx(L));
	return L;
}

static ckpt_devset *new_set(struct tloop *L, const ckpt_dev_spec *specs, size_t n)
{
	ckpt_devset *set = NULL;

	ASSERT_OK(ckpt_devset_new(tloop_ctx(L), 7, specs, n, &set));
	return set;
}

/* Start op asynchronously, run the loop until it completes, its rc. */
static int run_async(struct tloop *L, ckpt_devset *set,
                     int (*op)(ckpt_devset *, const ckpt_async_how *))
{
	struct tdone d = {0};
	ckpt_async_how how = tdone_how(&d);

	ASSERT_OK(op(set, &how));
	ASSERT_TRUE(tloop_run_until(L, &d.done, 10000));
	return d.rc;
}

static int run_setup(struct tloop *L, ckpt_devset *set)
{
	return run_async(L, set, ckpt_devset_setup);
}

static int run_teardown(struct tloop *L, ckpt_devset *set)
{
	return run_async(L, set, ckpt_devset_teardown);
}

static void finish(struct tloop *L, ckpt_devset *set)
{
	ASSERT_OK(ckpt_devset_free(set));
	tloop_free(L);
}

TEST_LOOPS(setup_and_teardown_every_device)
{
	struct tloop *L = new_loop(loop);
	const ckpt_dev_spec specs[] = {
	        {"test", 0, P("delay_ms=30")},
	        {"test", 1, P("setup=sync-ok", "teardown=sync-ok")},
	        {"tbatch", 0, NULL},
	        {"disk", 3, P("target=/dev/vg/guest-disk")},
	};
	ckpt_devset *set = new_set(L, specs, 4);
	int inits = tkind_subkind_inits;

	ASSERT_EQ(ckpt_devset_state(set), CKPT_DEV_NEW);
	ASSERT_OK(run_setup(L, set));
	ASSERT_EQ(ckpt_devset_state(set), CKPT_DEV_READY);
	ASSERT_EQ(tkind_subkind_inits, inits + 2); /* once per kind in use */
	for (size_t i = 0; i < 4; i++)
		ASSERT_EQ(ckpt_dev_state(ckpt_devset_device(set, i)), CKPT_DEV_READY);
	ASSERT_RC(ckpt_devset_free(set), CKPT_ERROR_BUSY);
	ASSERT_RC(ckpt_devset_setup(set, NULL), CKPT_ERROR_INVAL);

	ASSERT_OK(run_teardown(L, set));
	ASSERT_EQ(ckpt_devset_state(set), CKPT_DEV_DOWN);
	ASSERT_EQ(tkind_subkind_cleanups, tkind_subkind_inits);
	for (size_t i = 0; i < 3; i++) {
		ckpt_dev *dev = ckpt_devset_device(set, i);
		ASSERT_EQ(ckpt_dev_state(dev), CKPT_DEV_DOWN);
		ASSERT_EQ(tkind_stats(dev)->setups, 1);
		ASSERT_EQ(tkind_stats(dev)->teardowns, 1);
	}
	/* a DOWN set tears down as a no-op, and can be set up again */
	ASSERT_OK(ckpt_devset_teardown(set, NULL));
	ASSERT_EQ(tkind_stats(ckpt_devset_device(set, 0))->teardowns, 1);
	ASSERT_OK(ckpt_devset_setup(set, NULL));
	ASSERT_OK(ckpt_devset_teardown(set, NULL));
	finish(L, set);
}

TEST_LOOPS(failed_setup_tears_down_what_was_started)
{
	struct tloop *L = new_loop(loop);
	const ckpt_dev_spec specs[] = {
	        {"test", 0, P("delay_ms=400")},
	        {"test", 1, P("setup=fail", "delay_ms=300", "rc=-6")},
	        {"test", 2, P("setup=sync-ok")},
	        {"test", 3, P("setup=fail", "delay_ms=5", "rc=-12")},
	        {"test", 4, P("delay_ms=1")},
	};
	ckpt_devset *set = new_set(L, specs, 5);

	/* the first failure to happen wins, not the first listed (the gap
	 * is wide enough for a slow start of the five under valgrind) */
	ASSERT_RC(run_setup(L, set), CKPT_ERROR_EXISTS);
	ASSERT_EQ(ckpt_devset_state(set), CKPT_DEV_DOWN);
	for (size_t i = 0; i < 5; i++) {
		ckpt_dev *dev = ckpt_devset_device(set, i);
		ASSERT_EQ(ckpt_dev_state(dev), CKPT_DEV_DOWN);
		/* every device that was started saw a teardown, failed or not */
		ASSERT_EQ(tkind_stats(dev)->teardowns, 1);
	}
	ASSERT_TRUE(tlog_contains(L, "domain 7: test 3: setup failed: already exists"));
	ASSERT_TRUE(tlog_contains(L, "test 1 also failed"));
	ASSERT_TRUE(tlog_contains(L, "tearing down what was started"));
	ASSERT_EQ(tkind_subkind_cleanups, tkind_subkind_inits);
	finish(L, set);
}

TEST_LOOPS(failed_teardown_is_reported_but_reaches_every_device)
{
	struct tloop *L = new_loop(loop);
	const ckpt_dev_spec specs[] = {
	        {"test", 0, P("teardown=fail", "rc=-8")},
	        {"test", 1, NULL},
	};
	ckpt_devset *set = new_set(L, specs, 2);

	ASSERT_OK(run_setup(L, set));
	ASSERT_RC(run_teardown(L, set), CKPT_ERROR_NETLINK);
	ASSERT_EQ(tkind_stats(ckpt_devset_device(set, 1))->teardowns, 1);
	ASSERT_EQ(ckpt_devset_state(set), CKPT_DEV_DOWN);
	finish(L, set);
}

TEST_LOOPS(abort_during_setup_rolls_back)
{
	struct tloop *L = new_loop(loop);
	char slow[160];
	const ckpt_dev_spec specs[] = {
	        {"test", 0, P("setup=hang")},
	        {"test", 1, P("delay_ms=1")},
	        {"test", 2, P("setup=hang")},
	        {"disk", 0, P("target=d0", slow)},
	};
	ckpt_devset *set;
	struct tdone d = {0};
	ckpt_async_how how = tdone_how(&d);

	snprintf(slow, sizeof(slow), "script=%s", SLOW_SCRIPT);
	test_write_script(SLOW_SCRIPT, "[ \"$1\" = setup ] && exec sleep 30; exit 0");
	set = new_set(L, specs, 4);
	ASSERT_OK(ckpt_devset_setup(set, &how));
	tloop_run_for(L, 50);
	ASSERT_EQ(d.done, 0);
	ASSERT_OK(ckpt_ao_abort(tloop_ctx(L), &how));
	ASSERT_TRUE(tloop_run_until(L, &d.done, 5000));
	ASSERT_RC(d.rc, CKPT_ERROR_ABORTED);
	ASSERT_EQ(tkind_stats(ckpt_devset_device(set, 0))->aborts, 1);
	ASSERT_EQ(tkind_stats(ckpt_devset_device(set, 2))->aborts, 1);
	for (size_t i = 0; i < 3; i++)
		ASSERT_EQ(tkind_stats(ckpt_devset_device(set, i))->teardowns, 1);
	ASSERT_EQ(ckpt_devset_state(set), CKPT_DEV_DOWN);
	tloop_run_for(L, 20);
	ASSERT_EQ(d.done, 1);
	unlink(SLOW_SCRIPT);
	finish(L, set);
}

TEST_LOOPS(setup_timeout_fails_a_hanging_device)
{
	struct tloop *L = new_loop(loop);
	const ckpt_dev_spec specs[] = {
	        {"test", 0, P("setup=hang")},
	        {"test", 1, NULL},
	};
	ckpt_devset *set = new_set(L, specs, 2);
	long long start = test_now_ms();

	ckpt_devset_set_setup_timeout(set, 80);
	ASSERT_RC(run_setup(L, set), CKPT_ERROR_TIMEDOUT);
	ASSERT_GE(test_now_ms() - start, 79);
	ASSERT_TRUE(tlog_contains(L, "test 0: setup did not finish within 80 ms; aborting it"));
	ASSERT_EQ(ckpt_dev_last_rc(ckpt_devset_device(set, 0)), 0); /* its teardown went well */
	ASSERT_EQ(tkind_stats(ckpt_devset_device(set, 1))->teardowns, 1);
	finish(L, set);
}

TEST(checkpoint_steps_keep_their_order)
{
	struct tloop *L = new_loop(CKPT_LOOP_POLL);
	const ckpt_dev_spec specs[] = {{"test", 0, NULL}, {"disk", 1, P("target=x")}};
	ckpt_devset *set = new_set(L, specs, 2);
	ckpt_dev *dev = ckpt_devset_device(set, 0);
	ckpt_disk_stats ds;

	ASSERT_RC(ckpt_devset_postsuspend(set), CKPT_ERROR_INVAL); /* not set up */
	ASSERT_TRUE(tlog_contains(L, "the devset is new, not ready"));
	ASSERT_OK(ckpt_devset_setup(set, NULL));
	ASSERT_RC(ckpt_devset_commit(set), CKPT_ERROR_INVAL);
	ASSERT_TRUE(tlog_contains(L, "ckpt_devset_commit: domain 7: out of order: postsuspend "
	                             "comes next"));
	ASSERT_RC(ckpt_devset_preresume(set), CKPT_ERROR_INVAL);
	for (int epoch = 0; epoch < 3; epoch++) {
		ASSERT_OK(ckpt_devset_postsuspend(set));
		/* two barriers without a release would let output out early */
		ASSERT_RC(ckpt_devset_postsuspend(set), CKPT_ERROR_INVAL);
		ASSERT_RC(ckpt_devset_commit(set), CKPT_ERROR_INVAL);
		ASSERT_OK(ckpt_devset_preresume(set));
		ASSERT_RC(ckpt_devset_preresume(set), CKPT_ERROR_INVAL);
		ASSERT_OK(ckpt_devset_commit(set));
	}
	/* refused calls changed nothing */
	ASSERT_EQ(tkind_stats(dev)->postsuspend, 3);
	ASSERT_EQ(tkind_stats(dev)->preresume, 3);
	ASSERT_EQ(tkind_stats(dev)->commit, 3);
	ASSERT_OK(ckpt_disk_get_stats(ckpt_devset_device(set, 1), &ds));
	ASSERT_EQ(ds.postsuspend, 3);
	ASSERT_EQ(ds.commit, 3);
	ASSERT_RC(ckpt_disk_get_stats(dev, &ds), CKPT_ERROR_INVAL);
	ASSERT_OK(ckpt_devset_teardown(set, NULL));
	ASSERT_RC(ckpt_devset_postsuspend(set), CKPT_ERROR_INVAL);
	finish(L, set);
}

/*
 * devices.h: release_all, from any point of the cycle, takes the set out
 * of it (the steps say why they refuse) until rearm, after which
 * postsuspend comes next; each reaches every kind, batched or not.
 */
TEST_LOOPS(release_all_leaves_the_cycle_until_rearm)
{
	struct tloop *L = new_loop(loop);
	const ckpt_dev_spec specs[] = {
	        {"test", 0, NULL}, {"tbatch", 1, NULL}, {"disk", 2, P("target=x")}};
	ckpt_devset *set = new_set(L, specs, 3);
	int (*before[])(ckpt_devset *) = {NULL, ckpt_devset_postsuspend, ckpt_devset_preresume};
	ckpt_disk_stats ds;

	ASSERT_RC(ckpt_devset_release_all(set), CKPT_ERROR_INVAL); /* not set up */
	ASSERT_OK(ckpt_devset_setup(set, NULL));
	ASSERT_RC(ckpt_devset_rearm(set), CKPT_ERROR_INVAL);
	ASSERT_TRUE(tlog_contains(L, "ckpt_devset_rearm: domain 7: its output is not released"));
	/* from each point of the cycle: after commit, postsuspend, preresume */
	for (size_t k = 0; k < ARRAY_LEN(before); k++) {
		for (size_t j = 1; j <= k; j++)
			ASSERT_OK(before[j](set));
		ASSERT_OK(ckpt_devset_release_all(set));
		ASSERT_RC(ckpt_devset_release_all(set), CKPT_ERROR_INVAL);
		ASSERT_RC(ckpt_devset_postsuspend(set), CKPT_ERROR_INVAL);
		ASSERT_TRUE(tlog_contains(L, "ckpt_devset_postsuspend: domain 7: its output is "
		                             "released (ckpt_devset_release_all): re-arm it"));
		ASSERT_RC(ckpt_devset_preresume(set), CKPT_ERROR_INVAL);
		ASSERT_RC(ckpt_devset_commit(set), CKPT_ERROR_INVAL);
		ASSERT_OK(ckpt_devset_rearm(set));
		ASSERT_RC(ckpt_devset_commit(set), CKPT_ERROR_INVAL);
		ASSERT_OK(ckpt_devset_postsuspend(set));
		ASSERT_OK(ckpt_devset_preresume(set));
		ASSERT_OK(ckpt_devset_commit(set));
	}
	for (int d = 0; d < 2; d++) {
		ASSERT_EQ(tkind_stats(ckpt_devset_device(set, (size_t)d))->release, 3);
		ASSERT_EQ(tkind_stats(ckpt_devset_device(set, (size_t)d))->rearm, 3);
	}
	ASSERT_EQ(tkind_stats(ckpt_devset_device(set, 1))->batch_calls, 5 + 6 + 7);
	ASSERT_OK(ckpt_disk_get_stats(ckpt_devset_device(set, 2), &ds));
	ASSERT_EQ(ds.releases, 3);
	ASSERT_EQ(ds.rearms, 3);
	/* a released set tears down as any other; a new setup starts in the cycle */
	ASSERT_OK(ckpt_devset_release_all(set));
	ASSERT_OK(ckpt_devset_teardown(set, NULL));
	ASSERT_OK(ckpt_devset_setup(set, NULL));
	ASSERT_OK(ckpt_devset_postsuspend(set));
	ASSERT_OK(ckpt_devset_teardown(set, NULL));
	finish(L, set);
}

/* A device that fails release_all is named; the others are released and
 * the set leaves the cycle all the same. */
TEST(release_all_failure_names_the_device_and_releases_the_rest)
{
	struct tloop *L = new_loop(CKPT_LOOP_POLL);
	const ckpt_dev_spec specs[] = {{"test", 0, P("release=fail", "rc=-8")}, {"test", 1, NULL}};
	ckpt_devset *set = new_set(L, specs, 2);

	ASSERT_OK(ckpt_devset_setup(set, NULL));
	ASSERT_RC(ckpt_devset_release_all(set), CKPT_ERROR_NETLINK);
	ASSERT_TRUE(tlog_contains(L, "domain 7: test 0: release_all failed: netlink error"));
	ASSERT_RC(ckpt_dev_last_rc(ckpt_devset_device(set, 0)), CKPT_ERROR_NETLINK);
	ASSERT_OK(ckpt_dev_last_rc(ckpt_devset_device(set, 1)));
	ASSERT_EQ(tkind_stats(ckpt_devset_device(set, 1))->release, 1);
	ASSERT_RC(ckpt_devset_postsuspend(set), CKPT_ERROR_INVAL);
	ASSERT_OK(ckpt_devset_rearm(set));
	ASSERT_OK(ckpt_devset_teardown(set, NULL));
	finish(L, set);
}

TEST(checkpoint_failure_names_the_device_and_tries_the_rest)
{
	struct tloop *L = new_loop(CKPT_LOOP_POLL);
	const ckpt_dev_spec specs[] = {
	        {"test", 0, NULL},   {"test", 1, P("postsuspend=fail", "rc=-8")}, {"test", 2, NULL},
	        {"tbatch", 0, NULL}, {"tbatch", 1, P("commit=fail", "rc=-1")},
	};
	ckpt_devset *set = new_set(L, specs, 5);

	ASSERT_OK(ckpt_devset_setup(set, NULL));
	ASSERT_RC(ckpt_devset_postsuspend(set), CKPT_ERROR_NETLINK);
	ASSERT_TRUE(tlog_contains(L, "domain 7: test 1: postsuspend failed: netlink error"));
	for (size_t i = 0; i < 5; i++)
		ASSERT_EQ(tkind_stats(ckpt_devset_device(set, i))->postsuspend, 1);
	ASSERT_RC(ckpt_dev_last_rc(ckpt_devset_device(set, 1)), CKPT_ERROR_NETLINK);
	ASSERT_OK(ckpt_dev_last_rc(ckpt_devset_device(set, 0)));
	/* the cycle advanced: preresume is next */
	ASSERT_OK(ckpt_devset_preresume(set));
	ASSERT_RC(ckpt_devset_commit(set), CKPT_ERROR_FAIL);
	ASSERT_TRUE(tlog_contains(L, "tbatch 1: commit failed"));
	/* the batched kind got one call per step for both its devices */
	ASSERT_EQ(tkind_stats(ckpt_devset_device(set, 3))->batch_calls, 3);
	ASSERT_EQ(tkind_stats(ckpt_devset_device(set, 0))->batch_calls, 0);
	ASSERT_OK(ckpt_devset_teardown(set, NULL));
	finish(L, set);
}

TEST(registration_and_spec_errors_are_clear)
{
	struct tloop *L = new_loop(CKPT_LOOP_POLL);
	ckpt_ctx *ctx = tloop_ctx(L);
	ckpt_dev_kind disk_again = {.name = "disk"}, unnamed = {0};
	ckpt_devset *set = NULL;
	const ckpt_dev_spec unknown[] = {{"floppy", 0, NULL}};
	const ckpt_dev_spec twice[] = {{"test", 1, NULL}, {"test", 1, NULL}};
	const ckpt_dev_spec badparam[] = {{"test", 0, P("Bad Key=1")}};
	const ckpt_dev_spec dupparam[] = {{"test", 0, P("rc=1", "rc=2")}};
	const ckpt_dev_spec negative[] = {{"test", -1, NULL}};
	const ckpt_dev_spec nodisk[] = {{"disk", 0, NULL}};
	const ckpt_dev_spec baddisk[] = {{"disk", 0, P("target=a b")}};
	const ckpt_dev_spec badscript[] = {{"disk", 0, P("target=a", "script=relative.sh")}};
	const ckpt_dev_spec badtimeout[] = {{"disk", 0, P("target=a", "timeout_ms=soon")}};
	const ckpt_dev_spec novif[] = {{"nic", 0, NULL}};
	const ckpt_dev_spec onevif[] = {{"nic", 0, P("vif=vif3.0", "script=/bin/true")},
	                                {"nic", 4, P("vif=vif3.1", "script=/bin/true")},
	                                {"nic", 5, P("vif=vif3.0", "script=/bin/true")}};

	ASSERT_RC(ckpt_kind_register(ctx, &tkind_test), CKPT_ERROR_EXISTS);
	ASSERT_RC(ckpt_kind_register(ctx, &disk_again), CKPT_ERROR_EXISTS);
	ASSERT_TRUE(tlog_contains(L, "a device kind named \"disk\" exists already"));
	ASSERT_RC(ckpt_kind_register(ctx, &unnamed), CKPT_ERROR_INVAL);
	ASSERT_RC(ckpt_kind_register(ctx, NULL), CKPT_ERROR_INVAL);

	ASSERT_RC(ckpt_devset_new(ctx, 3, unknown, 1, &set), CKPT_ERROR_INVAL);
	ASSERT_TRUE(tlog_contains(L, "unknown device kind \"floppy\""));
	ASSERT_RC(ckpt_devset_new(ctx, 3, twice, 2, &set), CKPT_ERROR_INVAL);
	ASSERT_TRUE(tlog_contains(L, "domain 3: test 1 is listed twice"));
	ASSERT_RC(ckpt_devset_new(ctx, 3, badparam, 1, &set), CKPT_ERROR_INVAL);
	ASSERT_TRUE(tlog_contains(L, "parameter \"Bad Key=1\" is not key=value"));
	ASSERT_RC(ckpt_devset_new(ctx, 3, dupparam, 1, &set), CKPT_ERROR_INVAL);
	ASSERT_TRUE(tlog_contains(L, "parameter rc given twice"));
	ASSERT_RC(ckpt_devset_new(ctx, 3, negative, 1, &set), CKPT_ERROR_INVAL);
	ASSERT_RC(ckpt_devset_new(ctx, 3, nodisk, 1, &set), CKPT_ERROR_INVAL);
	ASSERT_TRUE(tlog_contains(L, "disk 0: needs a target=PATH-OR-NAME parameter"));
	ASSERT_RC(ckpt_devset_new(ctx, 3, baddisk, 1, &set), CKPT_ERROR_INVAL);
	ASSERT_TRUE(tlog_contains(L, "only letters, digits and /._:- are allowed"));
	ASSERT_RC(ckpt_devset_new(ctx, 3, badscript, 1, &set), CKPT_ERROR_INVAL);
	ASSERT_TRUE(tlog_contains(L, "not an absolute path to an executable file"));
	ASSERT_RC(ckpt_devset_new(ctx, 3, badtimeout, 1, &set), CKPT_ERROR_INVAL);
	ASSERT_RC(ckpt_devset_new(ctx, 3, novif, 1, &set), CKPT_ERROR_INVAL);
	ASSERT_TRUE(tlog_contains(L, "nic 0: needs a vif=NAME parameter"));
	ASSERT_RC(ckpt_devset_new(ctx, 3, onevif, 3, &set), CKPT_ERROR_INVAL);
	ASSERT_TRUE(tlog_contains(L, "domain 3: nic 5: vif \"vif3.0\" is nic 0's already"));
	ASSERT_TRUE(set == NULL);
	tloop_free(L);
}

TEST(ctx_and_devset_free_refuse_while_in_use)
{
	struct tloop *L = new_loop(CKPT_LOOP_LIBEV);
	const ckpt_dev_spec specs[] = {{"test", 0, NULL}};
	ckpt_devset *set = new_set(L, specs, 1);

	ASSERT_RC(ckpt_ctx_free(tloop_ctx(L)), CKPT_ERROR_BUSY);
	ASSERT_TRUE(tlog_contains(L, "1 object(s) made on it (devsets) still exist"));
	ASSERT_OK(ckpt_devset_setup(set, NULL));
	ASSERT_RC(ckpt_devset_free(set), CKPT_ERROR_BUSY);
	ASSERT_TRUE(tlog_contains(L, "the devset is ready; tear it down first"));
	ASSERT_OK(ckpt_devset_teardown(set, NULL));
	finish(L, set);
}

TEST_LOOPS_T(many_devices_in_parallel, 60)
{
	struct tloop *L = new_loop(loop);
	enum { N = 256 };
	static ckpt_dev_spec specs[N];
	static char delay[N][24];
	static const char *params[N][2];
	ckpt_devset *set;
	long long start;

	for (int i = 0; i < N; i++) {
		snprintf(delay[i], sizeof(delay[i]), "delay_ms=%d", 20 + (i * 7) % 30);
		specs[i].kind = i % 2 ? "test" : "tbatch";
		specs[i].devid = i;
		params[i][0] = delay[i];
		specs[i].params = params[i];
	}
	set = new_set(L, specs, N);
	start = test_now_ms();
	ASSERT_OK(run_setup(L, set));
	/* parallel: about one device's delay, not the sum of all of them */
	ASSERT_LT(test_now_ms() - start, test_scale_ms(3000));
	for (int epoch = 0; epoch < 10; epoch++) {
		ASSERT_OK(ckpt_devset_postsuspend(set));
		ASSERT_OK(ckpt_devset_preresume(set));
		ASSERT_OK(ckpt_devset_commit(set));
	}
	ASSERT_OK(run_teardown(L, set));
	for (int i = 0; i < N; i++) {
		ckpt_dev *dev = ckpt_devset_device(set, (size_t)i);
		ASSERT_EQ(tkind_stats(dev)->commit, 10);
		ASSERT_EQ(tkind_stats(dev)->teardowns, 1);
		ASSERT_EQ(ckpt_dev_state(dev), CKPT_DEV_DOWN);
	}
	finish(L, set);
}

TEST(device_fault_points_fail_cleanly)
{
	static const char *const points[] = {"dev.subkind_init", "dev.setup"};
	static const char *const steps[] = {"dev.postsuspend", "dev.preresume", "dev.commit"};
	struct tloop *L = new_loop(CKPT_LOOP_POLL);
	const ckpt_dev_spec specs[] = {{"test", 0, NULL}, {"disk", 0, P("target=t")}};
	ckpt_devset *set = new_set(L, specs, 2);
	ckpt_ctx *ctx = tloop_ctx(L);

	for (size_t i = 0; i < 2; i++) {
		ckpt_fault_reset(ctx);
		ASSERT_OK(ckpt_fault_arm(ctx, points[i], 1, 0));
		ASSERT_RC(ckpt_devset_setup(set, NULL), CKPT_ERROR_FAULT);
		ASSERT_EQ(ckpt_devset_state(set), CKPT_DEV_DOWN);
		ASSERT_EQ(tkind_subkind_cleanups, tkind_subkind_inits);
	}
	ckpt_fault_reset(ctx);
	ASSERT_OK(ckpt_devset_setup(set, NULL));
	ASSERT_OK(ckpt_fault_arm(ctx, steps[0], 1, 0));
	ASSERT_RC(ckpt_devset_postsuspend(set), CKPT_ERROR_FAULT);
	ASSERT_OK(ckpt_fault_arm(ctx, steps[1], 2, 0));
	ASSERT_RC(ckpt_devset_preresume(set), CKPT_ERROR_FAULT);
	ASSERT_OK(ckpt_fault_arm(ctx, steps[2], 1, 0));
	ASSERT_RC(ckpt_devset_commit(set), CKPT_ERROR_FAULT);
	ASSERT_OK(ckpt_fault_arm(ctx, "dev.teardown", 1, 0));
	ASSERT_RC(ckpt_devset_teardown(set, NULL), CKPT_ERROR_FAULT);
	ASSERT_EQ(ckpt_devset_state(set), CKPT_DEV_DOWN);
	finish(L, set);
}

TEST(cleanup_tears_down_what_a_crashed_run_left)
{
	struct tloop *L = new_loop(CKPT_LOOP_POLL);
	const ckpt_dev_spec specs[] = {{"test", 0, NULL}, {"tbatch", 1, NULL}};
	ckpt_devset *set = new_set(L, specs, 2);
	int inits = tkind_subkind_inits;

	/* a fresh devset: every device's teardown runs as if it were up */
	ASSERT_OK(ckpt_devset_cleanup(set, NULL));
	for (size_t i = 0; i < 2; i++) {
		ASSERT_EQ(tkind_stats(ckpt_devset_device(set, i))->teardowns, 1);
		ASSERT_EQ(tkind_stats(ckpt_devset_device(set, i))->setups, 0);
		ASSERT_EQ(ckpt_dev_state(ckpt_devset_device(set, i)), CKPT_DEV_DOWN);
	}
	ASSERT_EQ(tkind_subkind_inits, inits + 2);
	ASSERT_EQ(tkind_subkind_cleanups, tkind_subkind_inits);
	/* not while it is up */
	ASSERT_OK(ckpt_devset_setup(set, NULL));
	ASSERT_RC(ckpt_devset_cleanup(set, NULL), CKPT_ERROR_INVAL);
	ASSERT_TRUE(tlog_contains(L, "the devset is ready, not new or down"));
	ASSERT_OK(ckpt_devset_teardown(set, NULL));
	finish(L, set);
}
