/*
 * test_disk.c - the disk stub kind with its optional script: arguments and
 * environment, failure, timeout, and the counts it keeps.
 */
#include <unistd.h>

#include "../harness/test.h"
#include "../harness/tloop.h"
#include "ckptdev/devices.h"

#include <stdarg.h>

#define SCRIPT test_tmp_path("disk.sh")
#define TRACE  test_tmp_path("disk.trace")

/* The disk script, its body a format whose %1$s is the trace file. */
static void write_disk_script(const char *fmt)
{
	char body[512];

	snprintf(body, sizeof(body), fmt, TRACE);
	test_write_script(SCRIPT, body);
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static ckpt_devset *disk_set(struct tloop *L, const char *timeout)
{
	static char script[160];
	const char *params[] = {"target=/dev/vg0/guest7", script, timeout, NULL};
	const ckpt_dev_spec spec = {"disk", 2, params};
	ckpt_devset *set = NULL;

	snprintf(script, sizeof(script), "script=%s", SCRIPT);
	ASSERT_OK(ckpt_devset_new(tloop_ctx(L), 7, &spec, 1, &set));
	return set;
}

static void cleanup(struct tloop *L, ckpt_devset *set)
{
	ASSERT_OK(ckpt_devset_free(set));
	tloop_free(L);
	unlink(SCRIPT);
	unlink(TRACE);
}

TEST_LOOPS(disk_script_runs_at_setup_and_teardown)
{
	struct tloop *L = tloop_new(loop);
	ckpt_devset *set;
	ckpt_disk_stats st;

	unlink(TRACE);
	write_disk_script("echo \"$1 $DOMID $DEVID $TARGET\" >> %1$s; "
	                  "echo \"disk script says $1\"");
	set = disk_set(L, "timeout_ms=5000");
	ASSERT_OK(ckpt_devset_setup(set, NULL));
	ASSERT_STR_EQ(slurp(TRACE), "setup 7 2 /dev/vg0/guest7\n");
	char started[200];
	snprintf(started, sizeof(started), "%s[", SCRIPT);
	ASSERT_TRUE(tlog_contains(L, started));
	ASSERT_TRUE(tlog_contains(L, "]: disk script says setup"));
	ASSERT_OK(ckpt_devset_postsuspend(set));
	ASSERT_OK(ckpt_devset_preresume(set));
	ASSERT_OK(ckpt_devset_commit(set));
	ASSERT_OK(ckpt_devset_teardown(set, NULL));
	ASSERT_STR_EQ(slurp(TRACE), "setup 7 2 /dev/vg0/guest7\nteardown 7 2 /dev/vg0/guest7\n");
	ASSERT_OK(ckpt_disk_get_stats(ckpt_devset_device(set, 0), &st));
	ASSERT_EQ(st.setups, 1);
	ASSERT_EQ(st.teardowns, 1);
	ASSERT_EQ(st.postsuspend, 1);
	ASSERT_EQ(st.preresume, 1);
	ASSERT_EQ(st.commit, 1);
	cleanup(L, set);
}

TEST_LOOPS(disk_script_failure_fails_setup_and_still_tears_down)
{
	struct tloop *L = tloop_new(loop);
	ckpt_devset *set;

	unlink(TRACE);
	write_disk_script("echo \"$1\" >> %1$s; "
	                  "[ \"$1\" = setup ] && { echo 'no such volume' >&2; exit 3; }; "
	                  "exit 0");
	set = disk_set(L, "timeout_ms=5000");
	ASSERT_RC(ckpt_devset_setup(set, NULL), CKPT_ERROR_SCRIPT);
	ASSERT_TRUE(tlog_contains(L, "]: no such volume"));
	ASSERT_TRUE(tlog_contains(L, "exited with status 3"));
	ASSERT_TRUE(tlog_contains(L, "domain 7: disk 2: setup failed: script failed"));
	/* teardown ran after the failed setup, to clear what it half made */
	ASSERT_STR_EQ(slurp(TRACE), "setup\nteardown\n");
	ASSERT_EQ(ckpt_devset_state(set), CKPT_DEV_DOWN);
	cleanup(L, set);
}

TEST_LOOPS(disk_script_timeout_fails_setup)
{
	struct tloop *L = tloop_new(loop);
	ckpt_devset *set;
	long long start = test_now_ms();

	test_write_script(SCRIPT, "[ \"$1\" = setup ] && exec sleep 30; exit 0");
	set = disk_set(L, "timeout_ms=100");
	ASSERT_RC(ckpt_devset_setup(set, NULL), CKPT_ERROR_TIMEDOUT);
	ASSERT_LT(test_now_ms() - start, 3000);
	ASSERT_TRUE(tlog_contains(L, "timed out after 100 ms"));
	cleanup(L, set);
}
