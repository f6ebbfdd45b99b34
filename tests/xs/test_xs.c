/*
 * test_xs.c - the xenstore tier: watches, xswait and a dying daemon,
 * against the real xenstored (started per test by the xsd fixture, with
 * the stand-in for the hypervisor interfaces).
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness/test.h"
#include "../harness/tloop.h"
#include "../ops/top.h"
#include "ckptdev/devices.h"
#include "ckptdev/netbuf.h"
#include "xsd_fixture.h"

/* Run xenstore-write PATH VALUE from another process after delay_ms. */
static pid_t write_later(unsigned delay_ms, const char *path, const char *value)
{
	pid_t pid = fork();

	if (pid == 0) {
		usleep(delay_ms * 1000);
		execlp("xenstore-write", "xenstore-write", path, value, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void reap(pid_t pid, int want_status)
{
	int status;

	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), want_status);
}

TEST_LOOPS(xswatch_fires_on_write_and_on_rm_of_a_child)
{
	struct tloop *L;
	struct tdone d = {0};
	ckpt_async_how how = tdone_how(&d);
	char *paths = NULL;
	pid_t w1, w2;

	xsd_fixture_start();
	L = tloop_new(loop);
	ASSERT_OK(top_xs_write(tloop_ctx(L), "/test/dir/child", "1"));
	/* the first event, a write below the path, then an rm of a child */
	ASSERT_OK(top_xswatch(tloop_ctx(L), "/test/dir", 3, 10000, &paths, &how));
	w1 = write_later(50, "/test/dir/other", "2");
	tloop_run_for(L, 200);
	w2 = fork();
	if (w2 == 0) {
		execlp("xenstore-rm", "xenstore-rm", "/test/dir/child", (char *)NULL);
		_exit(127);
	}
	ASSERT_TRUE(tloop_run_until(L, &d.done, 10000));
	ASSERT_OK(d.rc);
	ASSERT_STR_EQ(paths, "/test/dir\n/test/dir/other\n/test/dir/child\n");
	reap(w1, 0);
	reap(w2, 0);
	free(paths);
	tloop_free(L);
	xsd_fixture_stop();
}

TEST_LOOPS(xswait_times_out)
{
	struct tloop *L;
	struct tdone d = {0};
	ckpt_async_how how = tdone_how(&d);
	char *value = NULL;
	long long start;

	xsd_fixture_start();
	L = tloop_new(loop);
	ASSERT_OK(top_xs_write(tloop_ctx(L), "/test/state", "1"));
	start = test_now_ms();
	ASSERT_OK(top_xswait(tloop_ctx(L), "/test/state", "4", 150, &value, &how));
	ASSERT_TRUE(tloop_run_until(L, &d.done, 5000));
	ASSERT_RC(d.rc, CKPT_ERROR_TIMEDOUT);
	ASSERT_GE(d.at_ms - start, 149);
	ASSERT_STR_EQ(value, "1"); /* what the node held at the end */
	ASSERT_TRUE(tlog_contains(L, "timed out after 150 ms waiting for /test/state"));
	free(value);
	tloop_free(L);
	xsd_fixture_stop();
}

TEST_LOOPS(xswait_sees_another_process_write)
{
	struct tloop *L;
	struct tdone d = {0};
	ckpt_async_how how = tdone_how(&d);
	char *value = NULL;
	pid_t w;

	xsd_fixture_start();
	L = tloop_new(loop);
	ASSERT_OK(top_xswait(tloop_ctx(L), "/test/ready", "yes", 10000, &value, &how));
	w = write_later(100, "/test/ready", "no");
	reap(w, 0);
	tloop_run_for(L, 50);
	ASSERT_EQ(d.done, 0); /* "no" is not what it waits for */
	w = write_later(50, "/test/ready", "yes");
	ASSERT_TRUE(tloop_run_until(L, &d.done, 10000));
	ASSERT_OK(d.rc);
	ASSERT_STR_EQ(value, "yes");
	reap(w, 0);
	free(value);

	/* already satisfied: ends on the watch's first event */
	ASSERT_OK(top_xswait(tloop_ctx(L), "/test/ready", "yes", 10000, NULL, NULL));
	/* waiting for absence */
	w = fork();
	if (w == 0) {
		usleep(50000);
		execlp("xenstore-rm", "xenstore-rm", "/test/ready", (char *)NULL);
		_exit(127);
	}
	ASSERT_OK(top_xswait(tloop_ctx(L), "/test/ready", NULL, 10000, NULL, NULL));
	reap(w, 0);
	tloop_free(L);
	xsd_fixture_stop();
}

TEST_LOOPS(xswait_abort_removes_the_watch)
{
	struct tloop *L;
	struct tdone d = {0};
	ckpt_async_how how = tdone_how(&d);

	xsd_fixture_start();
	L = tloop_new(loop);
	ASSERT_OK(top_xswait(tloop_ctx(L), "/test/never", "1", 60000, NULL, &how));
	tloop_run_for(L, 50);
	ASSERT_OK(ckpt_ao_abort(tloop_ctx(L), &how));
	ASSERT_TRUE(tloop_run_until(L, &d.done, 2000));
	ASSERT_RC(d.rc, CKPT_ERROR_ABORTED);
	/* the watch is gone: a write now reaches nobody, and nothing breaks */
	ASSERT_OK(top_xs_write(tloop_ctx(L), "/test/never", "1"));
	tloop_run_for(L, 50);
	ASSERT_EQ(d.done, 1);
	tloop_free(L);
	xsd_fixture_stop();
}

TEST_LOOPS(daemon_killed_mid_wait_gives_an_error_callback)
{
	struct tloop *L;
	struct tdone d = {0};
	ckpt_async_how how = tdone_how(&d);
	char *value = NULL;
	long long killed;

	xsd_fixture_start();
	L = tloop_new(loop);
	ASSERT_OK(top_xswait(tloop_ctx(L), "/test/never", "1", 60000, NULL, &how));
	tloop_run_for(L, 50);
	killed = test_now_ms();
	xsd_fixture_kill();
	ASSERT_TRUE(tloop_run_until(L, &d.done, 5000));
	ASSERT_RC(d.rc, CKPT_ERROR_XENSTORE);
	ASSERT_LT(d.at_ms - killed, 2000);
	ASSERT_TRUE(tlog_contains(L, "xenstore connection lost"));
	/* later requests fail cleanly (reconnecting finds no daemon) */
	ASSERT_RC(top_xs_read(tloop_ctx(L), "/test/never", &value), CKPT_ERROR_XENSTORE);
	ASSERT_TRUE(tlog_contains(L, "cannot connect to xenstore"));
	tloop_free(L);
	xsd_fixture_stop();
}

TEST(xs_reconnects_to_a_new_daemon)
{
	struct tloop *L;
	char *value = NULL;

	xsd_fixture_start();
	L = tloop_new(CKPT_LOOP_POLL);
	ASSERT_OK(top_xs_write(tloop_ctx(L), "/test/a", "1"));
	xsd_fixture_kill();
	/* the loss is noticed through the liveness socket */
	tloop_run_for(L, 100);
	ASSERT_TRUE(tlog_contains(L, "xenstore connection lost"));
	xsd_fixture_stop();
	xsd_fixture_start();
	ASSERT_RC(top_xs_read(tloop_ctx(L), "/test/a", &value), CKPT_ERROR_NOTFOUND);
	ASSERT_OK(top_xs_write(tloop_ctx(L), "/test/a", "2"));
	ASSERT_OK(top_xs_read(tloop_ctx(L), "/test/a", &value));
	ASSERT_STR_EQ(value, "2");
	free(value);
	tloop_free(L);
	xsd_fixture_stop();
}

TEST(xs_fault_points_fail_cleanly)
{
	static const char *const points[] = {"xs.open", "xs.watch", "xs.read"};
	struct tloop *L;

	xsd_fixture_start();
	L = tloop_new(CKPT_LOOP_POLL);
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		ckpt_fault_reset(tloop_ctx(L));
		ASSERT_OK(ckpt_fault_arm(tloop_ctx(L), points[i], 1, 0));
		ASSERT_RC(top_xswait(tloop_ctx(L), "/test/x", NULL, 5000, NULL, NULL),
		          CKPT_ERROR_FAULT);
	}
	ckpt_fault_reset(tloop_ctx(L));
	ASSERT_OK(ckpt_fault_arm(tloop_ctx(L), "xs.write", 1, CKPT_ERROR_NOMEM));
	ASSERT_RC(top_xs_write(tloop_ctx(L), "/test/x", "1"), CKPT_ERROR_NOMEM);
	ASSERT_OK(top_xs_write(tloop_ctx(L), "/test/x", "1"));
	tloop_free(L);
	xsd_fixture_stop();
}

/* A short xenstore life: write, wait for the value, read it back. */
static int xs_life(struct tloop *L)
{
	struct tdone d = {0};
	ckpt_async_how how = tdone_how(&d);
	char *v = NULL;
	int rc, first = 0;

	if ((rc = top_xs_write(tloop_ctx(L), "/test/sweep", "1")))
		first = rc;
	ASSERT_OK(top_xswait(tloop_ctx(L), "/test/sweep", "1", 5000, NULL, &how));
	ASSERT_TRUE(tloop_run_until(L, &d.done, 10000));
	if (d.rc && !first)
		first = d.rc;
	if ((rc = top_xs_read(tloop_ctx(L), "/test/sweep", &v)) && !first)
		first = rc;
	free(v);
	tloop_run_for(L, 5);
	ASSERT_EQ(d.done, 1);
	return first;
}

TEST(every_xs_fault_point_fails_cleanly)
{
	const char *const *names;
	size_t npoints;

	xsd_fixture_start();
	names = ckpt_fault_list(&npoints);
	for (size_t p = 0; p < npoints; p++) {
		struct tloop *L;
		unsigned passes = 0;

		if (strncmp(names[p], "xs.", 3))
			continue;
		L = tloop_new(CKPT_LOOP_POLL);
		ckpt_fault_count(tloop_ctx(L), true);
		ASSERT_OK(xs_life(L));
		ASSERT_OK(ckpt_fault_passes(tloop_ctx(L), names[p], &passes));
		tloop_free(L);
		if (!passes)
			FAIL("fault point %s is never passed in the xenstore life", names[p]);
		for (unsigned nth = 1; nth <= passes; nth++) {
			int fds = test_fd_count();

			L = tloop_new(CKPT_LOOP_LIBEV);
			ASSERT_OK(ckpt_fault_arm(tloop_ctx(L), names[p], nth, 0));
			ASSERT_RC(xs_life(L), CKPT_ERROR_FAULT);
			tloop_free(L);
			ASSERT_EQ(test_fd_count(), fds);
		}
		printf("%-10s %u pass(es), each failed cleanly\n", names[p], passes);
	}
	xsd_fixture_stop();
}

/* ----------------------------------------- checkpoint vs. a stuck setup */

struct stuck {
	ckpt_devset *set;
	int cycles, rc;
	atomic_int done, watchdog_fired;
};

static void *stuck_cycler(void *arg)
{
	struct stuck *s = arg;

	s->rc = top_checkpoints(s->set, s->cycles);
	atomic_store(&s->done, 1);
	xsd_fixture_freeze(false);
	return NULL;
}

/* If the cycler never gets through, thaw the daemon anyway (and say so),
 * so that a regression fails the test instead of hanging it. */
static void *stuck_watchdog(void *arg)
{
	struct stuck *s = arg;
	long long deadline = test_now_ms() + test_scale_ms(5000);

	while (!atomic_load(&s->done) && test_now_ms() < deadline)
		usleep(10000);
	if (!atomic_load(&s->done)) {
		atomic_store(&s->watchdog_fired, 1);
		xsd_fixture_freeze(false);
	}
	return NULL;
}

/*
 * devices.h: a READY devset's checkpoint steps never wait for another
 * devset's work.  Devset B (a NIC) starts its setup while xenstored does
 * not answer: its first xenstore request blocks inside the library.
 * Devset A's checkpoints, on another thread, must go through meanwhile;
 * they thaw the daemon when done.
 */
TEST_LOOPS(checkpoint_never_waits_for_a_setup_stuck_on_xenstore)
{
	char script[64], param[96];
	struct tloop *L;
	ckpt_devset *a, *b;
	struct stuck s = {.cycles = 50};
	struct tdone d = {0};
	ckpt_async_how how = tdone_how(&d);
	pthread_t cycler, watchdog;

	xsd_fixture_start();
	L = tloop_new(loop);
	snprintf(script, sizeof(script), "/tmp/ckpt-xs-%d-netbuf.sh", (int)getpid());
	test_write_script(script, "[ \"$1\" = teardown ] && exit 0\n"
	                          "echo 'no vif here' >&2; exit 1");
	snprintf(param, sizeof(param), "script=%s", script);
	const char *disk_params[] = {"target=vg/a", NULL};
	const char *nic_params[] = {"vif=vif9.0", param, NULL};
	const ckpt_dev_spec a_specs[] = {{"disk", 0, disk_params}};
	const ckpt_dev_spec b_specs[] = {{"nic", 0, nic_params}};
	ASSERT_OK(ckpt_devset_new(tloop_ctx(L), 1, a_specs, 1, &a));
	ASSERT_OK(ckpt_devset_new(tloop_ctx(L), 9, b_specs, 1, &b));
	ASSERT_OK(ckpt_devset_setup(a, NULL));
	s.set = a;

	xsd_fixture_freeze(true);
	ASSERT_OK(pthread_create(&cycler, NULL, stuck_cycler, &s));
	ASSERT_OK(pthread_create(&watchdog, NULL, stuck_watchdog, &s));
	/* blocks in its first xenstore request until the cycler thaws it */
	ASSERT_OK(ckpt_devset_setup(b, &how));
	pthread_join(cycler, NULL);
	pthread_join(watchdog, NULL);
	ASSERT_EQ(atomic_load(&s.watchdog_fired), 0);
	ASSERT_OK(s.rc);
	ASSERT_TRUE(tloop_run_until(L, &d.done, 10000));
	ASSERT_RC(d.rc, CKPT_ERROR_SCRIPT);

	ASSERT_OK(ckpt_devset_teardown(a, NULL));
	ASSERT_OK(ckpt_devset_free(a));
	ASSERT_OK(ckpt_devset_free(b));
	unlink(script);
	tloop_free(L);
	xsd_fixture_stop();
}

/*
 * devices.h: after the setup timeout a NIC still setting up is told to
 * abort: its hotplug script gets SIGTERM (so its trap can undo what it
 * did), SIGKILL after the grace, and the setup fails with TIMEDOUT within
 * the timeout plus that grace, not the script's own 10 s timeout.
 */
TEST_LOOPS(nic_setup_timeout_lets_the_script_undo)
{
	char script[64], mark[64], body[256], param[96];
	struct tloop *L;
	ckpt_devset *set;
	long long t0;

	xsd_fixture_start();
	L = tloop_new(loop);
	snprintf(script, sizeof(script), "/tmp/ckpt-xs-%d-hang.sh", (int)getpid());
	snprintf(mark, sizeof(mark), "/tmp/ckpt-xs-%d.undone", (int)getpid());
	unlink(mark);
	snprintf(body, sizeof(body),
	         "[ \"$1\" = teardown ] && exit 0\n"
	         "trap 'echo undone > %s; exit 1' TERM\n"
	         "sleep 30 & wait",
	         mark);
	test_write_script(script, body);
	snprintf(param, sizeof(param), "script=%s", script);
	const char *nic_params[] = {"vif=vif9.0", param, NULL};
	const ckpt_dev_spec specs[] = {{"nic", 0, nic_params}};
	ASSERT_OK(ckpt_devset_new(tloop_ctx(L), 9, specs, 1, &set));
	ckpt_devset_set_setup_timeout(set, 300);
	t0 = test_now_ms();
	ASSERT_RC(ckpt_devset_setup(set, NULL), CKPT_ERROR_TIMEDOUT);
	ASSERT_LT(test_now_ms() - t0, test_scale_ms(300 + 2000 + 1500));
	ASSERT_EQ(access(mark, F_OK), 0);
	ASSERT_EQ(ckpt_devset_state(set), CKPT_DEV_DOWN);
	ASSERT_OK(ckpt_devset_free(set));
	unlink(mark);
	unlink(script);
	tloop_free(L);
	xsd_fixture_stop();
}

/* ckpt_nic_survey: "from any thread" — the same answer from the loop's
 * thread and from another one, under every binding. */
struct survey_call {
	ckpt_ctx *ctx;
	ckpt_nic_record recs[4];
	size_t n;
	int rc;
};

static void *survey_thread(void *arg)
{
	struct survey_call *c = arg;

	c->rc = ckpt_nic_survey(c->ctx, 5, c->recs, 4, &c->n);
	return NULL;
}

static void expect_survey(const struct survey_call *c)
{
	ASSERT_OK(c->rc);
	ASSERT_EQ(c->n, 2);
	/* in devid order, whatever xenstore's */
	ASSERT_EQ(c->recs[0].devid, 1);
	ASSERT_STR_EQ(c->recs[0].vif, "vif5.1");
	ASSERT_EQ(c->recs[0].owner_pid, 0);
	ASSERT_EQ(c->recs[1].devid, 10);
	ASSERT_STR_EQ(c->recs[1].vif, "vif5.10");
	ASSERT_STR_EQ(c->recs[1].ifb, "ifb-nosuch");
	ASSERT_EQ(c->recs[1].owner_pid, 999999);
	ASSERT_TRUE(!c->recs[1].owner_alive && !c->recs[1].ifb_exists);
	ASSERT_RC(c->recs[1].stats_rc, CKPT_ERROR_NOTFOUND);
}

TEST_LOOPS(nic_survey_answers_from_any_thread)
{
	struct survey_call here = {0}, there = {0};
	struct tloop *L;
	pthread_t t;

	xsd_fixture_start();
	L = tloop_new(loop);
	ASSERT_OK(top_xs_write(tloop_ctx(L), "/libxl/5/remus/netbuf/10/vif", "vif5.10"));
	ASSERT_OK(top_xs_write(tloop_ctx(L), "/libxl/5/remus/netbuf/10/ifb", "ifb-nosuch"));
	ASSERT_OK(top_xs_write(tloop_ctx(L), "/libxl/5/remus/netbuf/10/owner", "999999:1"));
	ASSERT_OK(top_xs_write(tloop_ctx(L), "/libxl/5/remus/netbuf/1/vif", "vif5.1"));
	here.ctx = there.ctx = tloop_ctx(L);
	survey_thread(&here);
	expect_survey(&here);
	ASSERT_OK(pthread_create(&t, NULL, survey_thread, &there));
	ASSERT_OK(pthread_join(t, NULL));
	expect_survey(&there);
	/* no room for both: BUFFERFULL, and how many there are */
	ASSERT_RC(ckpt_nic_survey(tloop_ctx(L), 5, here.recs, 1, &here.n), CKPT_ERROR_BUFFERFULL);
	ASSERT_EQ(here.n, 2);
	/* another domain has none */
	ASSERT_OK(ckpt_nic_survey(tloop_ctx(L), 6, NULL, 0, &here.n));
	ASSERT_EQ(here.n, 0);
	tloop_free(L);
	xsd_fixture_stop();
}
