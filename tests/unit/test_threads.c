/*
 * test_threads.c - one ctx driven by two threads: one runs the loop, the
 * other starts operations (async and synchronous) and waits for their
 * callbacks.  The hooks and poll bindings support this; libev's loop
 * belongs to one thread (see ckptdev/ao.h), so it is not run here.
 */
#include <pthread.h>
#include <sys/wait.h>

#include "../harness/test.h"
#include "../harness/tloop.h"
#include "../ops/top.h"

#define N_OPS 40

struct two {
	struct tloop *L;
	atomic_int stop;
	struct tdone d[N_OPS];
	ckpt_async_how how[N_OPS];
	int sync_rc, exec_status;
};

static void *loop_thread(void *arg)
{
	struct two *t = arg;

	tloop_run_until(t->L, &t->stop, 30000);
	return NULL;
}

static void two_threads(enum ckpt_loop_kind loop)
{
	struct two t = {0};
	char *argv[] = {"/bin/sh", "-c", "exit 5", NULL};
	pthread_t th;
	long long deadline;
	int done;

	t.L = tloop_new(loop);
	ASSERT_OK(pthread_create(&th, NULL, loop_thread, &t));
	/* async operations started here complete in the loop thread; the
	 * loop is woken for registrations it has not seen */
	for (int i = 0; i < N_OPS; i++) {
		t.how[i] = tdone_how(&t.d[i]);
		if (i % 4 == 3)
			ASSERT_OK(top_exec(tloop_ctx(t.L), argv, NULL, 5000, 0, NULL, &t.how[i]));
		else
			ASSERT_OK(top_timer(tloop_ctx(t.L), (unsigned)(i % 7) * 5, -i % 3,
			                    &t.how[i]));
	}
	/* a synchronous call from this thread while the other runs the loop */
	t.sync_rc = top_exec(tloop_ctx(t.L), argv, NULL, 5000, 0, &t.exec_status, NULL);
	deadline = test_now_ms() + test_scale_ms(20000);
	do {
		done = 0;
		for (int i = 0; i < N_OPS; i++)
			done += atomic_load(&t.d[i].done);
		if (done == N_OPS)
			break;
		usleep(2000);
	} while (test_now_ms() < deadline);
	atomic_store(&t.stop, 1);
	pthread_join(th, NULL);

	ASSERT_EQ(done, N_OPS);
	for (int i = 0; i < N_OPS; i++) {
		ASSERT_EQ(t.d[i].done, 1);
		ASSERT_RC(t.d[i].rc, i % 4 == 3 ? CKPT_ERROR_SCRIPT : -i % 3);
	}
	ASSERT_RC(t.sync_rc, CKPT_ERROR_SCRIPT);
	ASSERT_EQ(WEXITSTATUS(t.exec_status), 5);
	tloop_free(t.L);
}

TEST(two_threads_drive_one_ctx_hooks)
{
	two_threads(CKPT_LOOP_HOOKS);
}

TEST(two_threads_drive_one_ctx_poll)
{
	two_threads(CKPT_LOOP_POLL);
}
