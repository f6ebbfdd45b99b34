/*
 * test_fault.c - the fault sweep: a whole devset life (setup, checkpoints,
 * teardown) is run once with every pass of every fault point counted, then
 * again once per pass of each point with that pass failing.  After each
 * run: every operation completed exactly once, the devset is back to DOWN
 * (or never left it), and no fd, child process or memory (ASan, valgrind)
 * is left behind.  Every point is swept under the libev and poll loops
 * (hooks share all their code with poll but the registration hooks).
 */
#include <unistd.h>

#include "../harness/test.h"
#include "../harness/tloop.h"
#include "../ops/tkind.h"
#include "ckptdev/devices.h"

#define SCRIPT test_tmp_path("fault-disk.sh")

/* One devset life; returns the first error seen (0 if none). */
static int life(struct tloop *L, ckpt_devset *set)
{
	struct tdone s = {0}, t = {0};
	ckpt_async_how sh = tdone_how(&s), th = tdone_how(&t);
	int first = 0, rc;

	ASSERT_OK(ckpt_devset_setup(set, &sh));
	ASSERT_TRUE(tloop_run_until(L, &s.done, 10000));
	first = s.rc;
	if (!s.rc) {
		for (int i = 0; i < 4; i++) {
			if (i == 2) {
				/* the backup is lost, and a new one comes */
				if ((rc = ckpt_devset_release_all(set)) && !first)
					first = rc;
				if ((rc = ckpt_devset_rearm(set)) && !first)
					first = rc;
			}
			if ((rc = ckpt_devset_postsuspend(set)) && !first)
				first = rc;
			if ((rc = ckpt_devset_preresume(set)) && !first)
				first = rc;
			if ((rc = ckpt_devset_commit(set)) && !first)
				first = rc;
		}
		ASSERT_OK(ckpt_devset_teardown(set, &th));
		ASSERT_TRUE(tloop_run_until(L, &t.done, 10000));
		if (t.rc && !first)
			first = t.rc;
	}
	tloop_run_for(L, 5);
	/* each operation completed exactly once */
	ASSERT_EQ(s.done, 1);
	ASSERT_EQ(t.done, s.rc ? 0 : 1);
	ASSERT_EQ(ckpt_devset_state(set), CKPT_DEV_DOWN);
	return first;
}

static void sweep(enum ckpt_loop_kind loop)
{
	char script_param[160];
	const char *disk[] = {"target=/dev/vg0/f", script_param, "timeout_ms=5000", NULL};
	const ckpt_dev_spec specs[] = {{"test", 0, NULL}, {"tbatch", 0, NULL}, {"disk", 0, disk}};
	const char *const *names;
	size_t npoints;
	int reached = 0, runs = 0, failed_runs = 0;

	snprintf(script_param, sizeof(script_param), "script=%s", SCRIPT);
	test_write_script(SCRIPT, "exit 0");
	names = ckpt_fault_list(&npoints);
	for (size_t p = 0; p < npoints; p++) {
		unsigned passes = 0;
		struct tloop *L = tloop_new(loop);
		ckpt_devset *set;

		tkind_register(tloop_ctx(L));
		ASSERT_OK(ckpt_devset_new(tloop_ctx(L), 5, specs, 3, &set));
		/* dry run: how often does this life pass the point? */
		ckpt_fault_count(tloop_ctx(L), true);
		ASSERT_OK(life(L, set));
		ASSERT_OK(ckpt_fault_passes(tloop_ctx(L), names[p], &passes));
		ASSERT_OK(ckpt_devset_free(set));
		tloop_free(L);
		if (passes)
			reached++;
		/* this scenario must reach every point but xenstore's and
		 * netlink's (swept by the xs tier and the NIC tests) */
		if (!passes && strncmp(names[p], "xs.", 3) && strncmp(names[p], "nl.", 3))
			FAIL("fault point %s is never passed in a devset's life", names[p]);

		for (unsigned nth = 1; nth <= passes; nth++) {
			int fds = test_fd_count(), rc;

			L = tloop_new(loop);
			tkind_register(tloop_ctx(L));
			ASSERT_OK(ckpt_devset_new(tloop_ctx(L), 5, specs, 3, &set));
			ASSERT_OK(ckpt_fault_arm(tloop_ctx(L), names[p], nth, 0));
			/* the fault may surface as its own rc, as what a real
			 * failure there gives (exec.exec: SCRIPT), or not at all
			 * (a timeout that expires after the script is done) */
			rc = life(L, set);
			if (rc)
				failed_runs++;
			ASSERT_OK(ckpt_devset_free(set));
			tloop_free(L);
			if (test_fd_count() != fds)
				FAIL("%s pass %u: %d fds before, %d after", names[p], nth, fds,
				     test_fd_count());
			runs++;
		}
		printf("%-18s %u pass(es)\n", names[p], passes);
	}
	unlink(SCRIPT);
	printf("%d points reached, %d faulty runs, %d of them ended in an error\n", reached, runs,
	       failed_runs);
}

TEST_T(every_fault_point_fails_cleanly_libev, 120)
{
	sweep(CKPT_LOOP_LIBEV);
}

TEST_T(every_fault_point_fails_cleanly_poll, 120)
{
	sweep(CKPT_LOOP_POLL);
}
