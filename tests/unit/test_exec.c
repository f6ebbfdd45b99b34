/*
 * test_exec.c - child processes and scripts: exit status, output to the
 * log, environment, process groups, timeouts, abort, and the promise that
 * the library and the application never reap each other's children.
 */
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness/test.h"
#include "../harness/tloop.h"
#include "../ops/top.h"

static int run_sh(struct tloop *L, const char *script, unsigned timeout_ms, int *status)
{
	char *argv[] = {"/bin/sh", "-c", (char *)script, "test-script", NULL};
	char *env[] = {"CKPT_TEST_VAR=forty two", NULL};

	return top_exec(tloop_ctx(L), argv, env, timeout_ms, 300, status, NULL);
}

TEST_LOOPS(exec_reports_the_exit_status)
{
	struct tloop *L = tloop_new(loop);
	int status = -1;

	ASSERT_OK(run_sh(L, "exit 0", 5000, &status));
	ASSERT_EQ(status, 0);
	ASSERT_RC(run_sh(L, "exit 3", 5000, &status), CKPT_ERROR_SCRIPT);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 3);
	ASSERT_TRUE(tlog_contains(L, "exited with status 3"));
	ASSERT_RC(run_sh(L, "kill -USR1 $$", 5000, &status), CKPT_ERROR_SCRIPT);
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(WTERMSIG(status), SIGUSR1);
	ASSERT_TRUE(tlog_contains(L, "killed by signal"));
	tloop_free(L);
}

TEST_LOOPS(exec_forwards_output_lines_to_the_log)
{
	struct tloop *L = tloop_new(loop);
	int status;

	ASSERT_OK(run_sh(L,
	                 "echo to-stdout; echo to-stderr >&2; printf 'no newline'; "
	                 "echo \"var=$CKPT_TEST_VAR\"",
	                 5000, &status));
	ASSERT_TRUE(tlog_contains(L, "info: test-script["));
	ASSERT_TRUE(tlog_contains(L, "]: to-stdout"));
	ASSERT_TRUE(tlog_contains(L, "warning: test-script["));
	ASSERT_TRUE(tlog_contains(L, "]: to-stderr"));
	ASSERT_TRUE(tlog_contains(L, "]: no newlinevar=forty two"));
	tloop_free(L);
}

TEST_LOOPS(exec_child_has_null_stdin_and_its_own_group)
{
	struct tloop *L = tloop_new(loop);
	char script[512];
	int status;

	/* stdin reads as empty; the script runs in a process group of its
	 * own, led by the library's supervisor (its parent), not in ours */
	snprintf(script, sizeof(script),
	         "read x && exit 10; "
	         "pgid=$(ps -o pgid= -p $$ | tr -d ' '); "
	         "[ \"$pgid\" = \"$PPID\" ] || exit 11; "
	         "[ \"$pgid\" != \"%d\" ] || exit 12; exit 0",
	         (int)getpgrp());
	ASSERT_OK(run_sh(L, script, 5000, &status));
	ASSERT_EQ(status, 0);
	tloop_free(L);
}

TEST_LOOPS(exec_of_a_missing_script_fails_at_once)
{
	struct tloop *L = tloop_new(loop);
	char *argv[] = {"/nonexistent/remus-script", NULL};
	struct tdone d = {0};
	ckpt_async_how how = tdone_how(&d);

	ASSERT_RC(top_exec(tloop_ctx(L), argv, NULL, 5000, 0, NULL, NULL), CKPT_ERROR_SCRIPT);
	ASSERT_TRUE(tlog_contains(L, "cannot execute /nonexistent/remus-script"));
	ASSERT_TRUE(tlog_contains(L, "No such file or directory"));
	/* async: the failure still arrives through the callback, once */
	ASSERT_OK(top_exec(tloop_ctx(L), argv, NULL, 5000, 0, NULL, &how));
	ASSERT_TRUE(tloop_run_until(L, &d.done, 2000));
	ASSERT_RC(d.rc, CKPT_ERROR_SCRIPT);
	tloop_free(L);
}

TEST_LOOPS(exec_timeout_terms_then_reports)
{
	struct tloop *L = tloop_new(loop);
	long long start = test_now_ms();
	int status = -1;

	ASSERT_RC(run_sh(L, "exec sleep 30", 100, &status), CKPT_ERROR_TIMEDOUT);
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(WTERMSIG(status), SIGTERM);
	ASSERT_LT(test_now_ms() - start, 5000);
	ASSERT_TRUE(tlog_contains(L, "timed out after 100 ms; sending SIGTERM"));
	tloop_free(L);
}

TEST_LOOPS(exec_timeout_kills_a_grandchild_that_ignores_term)
{
	struct tloop *L = tloop_new(loop);
	char pidfile[] = "/tmp/ckpt-gc-XXXXXX";
	int fd = mkstemp(pidfile), status = -1;
	char script[256], buf[32] = "";
	pid_t gc;
	long long start;

	ASSERT_GE(fd, 0);
	/* the grandchild becomes ours when its parent dies, so we can see
	 * how it ended */
	ASSERT_OK(prctl(PR_SET_CHILD_SUBREAPER, 1));
	snprintf(script, sizeof(script),
	         "sh -c 'trap \"\" TERM; echo $$ > %s; while :; do sleep 0.05; done' & "
	         "wait",
	         pidfile);
	start = test_now_ms();
	ASSERT_RC(run_sh(L, script, 300, &status), CKPT_ERROR_TIMEDOUT);
	ASSERT_GT(read(fd, buf, sizeof(buf) - 1), 0);
	gc = (pid_t)atoi(buf);
	ASSERT_GT(gc, 0);
	/* the grace period (300 ms) ended with SIGKILL to the whole group */
	ASSERT_EQ(waitpid(gc, &status, 0), gc);
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(WTERMSIG(status), SIGKILL);
	ASSERT_GE(test_now_ms() - start, 550);
	ASSERT_TRUE(tlog_contains(L, "still alive 300 ms after SIGTERM; sending SIGKILL"));
	/* reap the sleeps the grandchild had going */
	while (waitpid(-1, &status, __WALL) > 0)
		;
	close(fd);
	unlink(pidfile);
	tloop_free(L);
}

TEST_LOOPS(exec_abort_kills_and_reaps_promptly)
{
	struct tloop *L = tloop_new(loop);
	char *argv[] = {"/bin/sleep", "30", NULL};
	struct tdone d = {0};
	ckpt_async_how how = tdone_how(&d);
	long long start = test_now_ms();

	ASSERT_OK(top_exec(tloop_ctx(L), argv, NULL, 60000, 0, NULL, &how));
	tloop_run_for(L, 50);
	ASSERT_OK(ckpt_ao_abort(tloop_ctx(L), &how));
	ASSERT_TRUE(tloop_run_until(L, &d.done, 2000));
	ASSERT_RC(d.rc, CKPT_ERROR_ABORTED);
	ASSERT_LT(d.at_ms - start, 1500);
	tloop_free(L);
}

TEST_LOOPS(library_and_application_never_reap_each_others_children)
{
	struct tloop *L = tloop_new(loop);
	char *argv[] = {"/bin/sleep", "0.3", NULL};
	struct tdone d = {0};
	ckpt_async_how how = tdone_how(&d);
	int status = -1;
	pid_t mine;

	mine = fork();
	if (mine == 0)
		_exit(7);
	ASSERT_OK(top_exec(tloop_ctx(L), argv, NULL, 5000, 0, NULL, &how));
	/* the application's wait-for-anything, all through the library's
	 * run, sees only its own child (with clone3 or without: see
	 * test_child.c for the fallbacks) */
	while (!d.done) {
		int st;
		pid_t got = waitpid(-1, &st, WNOHANG);
		ASSERT_TRUE(got == 0 || got == mine || (got < 0 && errno == ECHILD));
		if (got == mine)
			status = st;
		tloop_run_once(L, 10);
	}
	ASSERT_TRUE(tloop_run_until(L, &d.done, 5000));
	ASSERT_OK(d.rc);
	/* and the library left the application's child alone */
	if (status == -1)
		ASSERT_EQ(waitpid(mine, &status, 0), mine);
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(WEXITSTATUS(status), 7);
	tloop_free(L);
}

TEST(exec_fault_points_fail_cleanly)
{
	static const char *const points[] = {"exec.fork", "exec.exec", "exec.pidfd", "fd.register",
	                                     "timer.register"};
	struct tloop *L = tloop_new(CKPT_LOOP_POLL);
	int status;

	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		ckpt_fault_reset(tloop_ctx(L));
		ASSERT_OK(ckpt_fault_arm(tloop_ctx(L), points[i], 1, 0));
		ASSERT_TRUE(run_sh(L, "exit 0", 5000, &status) < 0);
	}
	ckpt_fault_reset(tloop_ctx(L));
	ASSERT_OK(ckpt_fault_arm(tloop_ctx(L), "exec.timeout", 1, 0));
	ASSERT_RC(run_sh(L, "exec sleep 5", 5000, &status), CKPT_ERROR_TIMEDOUT);
	ASSERT_OK(run_sh(L, "exit 0", 5000, &status));
	tloop_free(L);
}
