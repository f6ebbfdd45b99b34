/*
 * poll_loop.c - embedding ckptdev in a program with its own poll() loop
 * (the CKPT_LOOP_POLL binding), with an application-defined device kind.
 *
 * Build against an installed ckptdev:
 *	cc poll_loop.c $(pkg-config --cflags --libs ckptdev) -o poll_loop
 *
 * It makes a devset for a pretend domain 1 of two "counter" devices (a
 * kind defined below whose setup finishes at once and whose checkpoint
 * steps count) and two disk stubs (the built-in "disk" kind; the first
 * runs /bin/true as its setup and teardown script, a child process the
 * poll loop waits for), sets it up asynchronously, runs five checkpoints,
 * tears it down, and exits 0 only if every call and every operation
 * succeeded.
 */
#include <ckptdev.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

/* ----------------------------------------------- an application kind */

static int counts[2];

static void counter_setup(ckpt_dev *dev)
{
	ckpt_dev_done(dev, 0); /* may report from inside setup */
}

static int counter_commit(ckpt_dev *dev)
{
	counts[ckpt_dev_devid(dev)]++;
	return 0;
}

static const ckpt_dev_kind counter_kind = {
        .name = "counter", .setup = counter_setup, .commit = counter_commit,
        /* every other entry NULL: nothing to do */
};

/* ------------------------------------------------------ the loop */

static int pending, last_rc;

static void done(ckpt_ctx *ctx, int rc, void *user)
{
	(void)ctx;
	printf("%s: %s\n", (const char *)user, ckpt_strerror(rc));
	last_rc = rc;
	pending = 0;
}

/* Poll until the operation in flight calls done(). */
static int run_until_done(ckpt_ctx *ctx)
{
	struct pollfd fds[16];

	while (pending) {
		int nfds = 16, timeout = -1;
		int rc = ckpt_osevent_beforepoll(ctx, &nfds, fds, &timeout);

		if (rc) /* a real program would grow its array on BUFFERFULL */
			return rc;
		if (poll(fds, (nfds_t)nfds, timeout) < 0)
			return CKPT_ERROR_SYSTEM;
		ckpt_osevent_afterpoll(ctx, nfds, fds);
	}
	return last_rc;
}

/* Each disk was set up and torn down once and saw every checkpoint. */
static int check_disks(ckpt_devset *set, unsigned long n)
{
	for (size_t i = 0; i < ckpt_devset_count(set); i++) {
		ckpt_dev *dev = ckpt_devset_device(set, i);
		ckpt_disk_stats st;
		int rc;

		if (strcmp(ckpt_dev_kind_name(dev), "disk"))
			continue;
		if ((rc = ckpt_disk_get_stats(dev, &st)))
			return rc;
		printf("disk %d: %lu setup, %lu commits, %lu teardown\n", ckpt_dev_devid(dev),
		       st.setups, st.commit, st.teardowns);
		if (st.setups != 1 || st.teardowns != 1 || st.postsuspend != n ||
		    st.preresume != n || st.commit != n)
			return CKPT_ERROR_FAIL;
	}
	return 0;
}

int main(void)
{
	static const char *const disk0[] = {"target=vg0/dom1-root", "script=/bin/true", NULL};
	static const char *const disk1[] = {"target=vg0/dom1-swap", NULL};
	ckpt_ctx_opts opts = {.loop = CKPT_LOOP_POLL};
	const ckpt_dev_spec specs[] = {
	        {"counter", 0, NULL}, {"counter", 1, NULL}, {"disk", 0, disk0}, {"disk", 1, disk1}};
	ckpt_async_how setup = {.callback = done, .user = "setup"};
	ckpt_async_how teardown = {.callback = done, .user = "teardown"};
	ckpt_devset *set = NULL;
	ckpt_ctx *ctx = NULL;
	int rc, rc2;

	setvbuf(stdout, NULL, _IOLBF, 0); /* in order with the library's log */
	if ((rc = ckpt_ctx_new(&ctx, &opts)) || (rc = ckpt_kind_register(ctx, &counter_kind)) ||
	    (rc = ckpt_devset_new(ctx, 1, specs, 4, &set)))
		goto out;

	pending = 1;
	if ((rc = ckpt_devset_setup(set, &setup)) || (rc = run_until_done(ctx)))
		goto out;
	for (int i = 0; i < 5 && !rc; i++) {
		rc = ckpt_devset_postsuspend(set);
		rc = rc ? rc : ckpt_devset_preresume(set);
		rc = rc ? rc : ckpt_devset_commit(set);
	}
	printf("commits seen: %d and %d\n", counts[0], counts[1]);
	pending = 1;
	if (!(rc2 = ckpt_devset_teardown(set, &teardown))) /* also after a failed step */
		rc2 = run_until_done(ctx);
	rc = rc ? rc : rc2;
	if (!rc)
		rc = check_disks(set, 5);
out:
	rc2 = ckpt_devset_free(set);
	rc = rc ? rc : rc2;
	rc2 = ckpt_ctx_free(ctx);
	rc = rc ? rc : rc2;
	if (rc)
		fprintf(stderr, "poll_loop: %s\n", ckpt_strerror(rc));
	return rc || counts[0] != 5 || counts[1] != 5;
}
