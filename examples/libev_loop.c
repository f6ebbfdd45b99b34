/*
 * libev_loop.c - embedding ckptdev in a libev program: the default binding
 * (CKPT_LOOP_LIBEV), on the application's own ev_loop.
 *
 * Build against an installed ckptdev:
 *	cc libev_loop.c $(pkg-config --cflags --libs ckptdev) -o libev_loop
 *
 * It protects the disks of a pretend domain 7 with the "disk" stub kind
 * (the first one runs a setup and teardown script, /bin/true, through the
 * library's asynchronous exec), sets them up, runs a checkpoint every
 * 20 ms from an ev_timer as a toolstack would, five times, tears down,
 * and exits 0 only if every call and every operation succeeded.
 *
 * The steps, in the order they run:
 *   main           make the loop, the context and the devset; start the
 *                  setup; ev_run until the last step breaks the loop
 *   setup_done     the devices are up: start the checkpoint timer
 *   tick           one checkpoint (postsuspend, preresume, commit); after
 *                  the fifth, or a failure, start the teardown
 *   teardown_done  break the loop; main checks the counters and frees
 */
#include <ckptdev.h>
#include <ev.h>
#include <stdio.h>

#define DOMID         7
#define N_CHECKPOINTS 5

struct app {
	struct ev_loop *loop;
	ckpt_ctx *ctx;
	ckpt_devset *set;
	ckpt_async_how setup_how, teardown_how;
	ev_timer tick;
	int checkpoints;
	int rc; /* the first error */
};

static void setup_done(ckpt_ctx *ctx, int rc, void *user);
static void tick(struct ev_loop *loop, ev_timer *w, int revents);
static void teardown_done(ckpt_ctx *ctx, int rc, void *user);

/* Keep the first error, say what failed; returns rc. */
static int check(struct app *app, const char *what, int rc)
{
	if (rc) {
		fprintf(stderr, "libev_loop: %s: %s\n", what, ckpt_strerror(rc));
		if (!app->rc)
			app->rc = rc;
	}
	return rc;
}

static void start_teardown(struct app *app)
{
	ev_timer_stop(app->loop, &app->tick);
	if (check(app, "ckpt_devset_teardown", ckpt_devset_teardown(app->set, &app->teardown_how)))
		ev_break(app->loop, EVBREAK_ALL); /* no callback will come */
}

static void setup_done(ckpt_ctx *ctx, int rc, void *user)
{
	struct app *app = user;

	(void)ctx;
	printf("setup: %s\n", ckpt_strerror(rc));
	if (check(app, "setup", rc)) {
		ev_break(app->loop, EVBREAK_ALL); /* the devset is DOWN again */
		return;
	}
	ev_timer_start(app->loop, &app->tick);
}

static void tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct app *app = w->data;

	(void)loop;
	(void)revents;
	/* the guest would be paused here, and its state sent to the backup */
	if (check(app, "postsuspend", ckpt_devset_postsuspend(app->set)) ||
	    check(app, "preresume", ckpt_devset_preresume(app->set)) ||
	    check(app, "commit", ckpt_devset_commit(app->set))) {
		start_teardown(app);
		return;
	}
	if (++app->checkpoints == N_CHECKPOINTS)
		start_teardown(app);
}

static void teardown_done(ckpt_ctx *ctx, int rc, void *user)
{
	struct app *app = user;

	(void)ctx;
	printf("teardown: %s\n", ckpt_strerror(rc));
	check(app, "teardown", rc);
	ev_break(app->loop, EVBREAK_ALL);
}

/* Every disk was set up and torn down once and saw every checkpoint. */
static void check_disks(struct app *app)
{
	for (size_t i = 0; i < ckpt_devset_count(app->set); i++) {
		ckpt_disk_stats st;

		if (check(app, "ckpt_disk_get_stats",
		          ckpt_disk_get_stats(ckpt_devset_device(app->set, i), &st)))
			return;
		printf("disk %zu: %lu setup, %lu commits, %lu teardown\n", i, st.setups, st.commit,
		       st.teardowns);
		if (st.setups != 1 || st.teardowns != 1 || st.postsuspend != N_CHECKPOINTS ||
		    st.preresume != N_CHECKPOINTS || st.commit != N_CHECKPOINTS)
			check(app, "disk counters", CKPT_ERROR_FAIL);
	}
}

int main(void)
{
	static const char *const disk0[] = {"target=vg0/dom7-root", "script=/bin/true", NULL};
	static const char *const disk1[] = {"target=vg0/dom7-swap", NULL};
	const ckpt_dev_spec specs[] = {{"disk", 0, disk0}, {"disk", 1, disk1}};
	struct app app = {0};
	ckpt_ctx_opts opts = {.loop = CKPT_LOOP_LIBEV};

	setvbuf(stdout, NULL, _IOLBF, 0);    /* in order with the library's log */
	app.loop = ev_loop_new(EVFLAG_AUTO); /* the application's own loop */
	if (!app.loop) {
		fprintf(stderr, "libev_loop: ev_loop_new failed\n");
		return 1;
	}
	opts.ev_loop = app.loop;
	app.setup_how = (ckpt_async_how){.callback = setup_done, .user = &app};
	app.teardown_how = (ckpt_async_how){.callback = teardown_done, .user = &app};
	ev_timer_init(&app.tick, tick, 0.020, 0.020);
	app.tick.data = &app;

	if (check(&app, "ckpt_ctx_new", ckpt_ctx_new(&app.ctx, &opts)) ||
	    check(&app, "ckpt_devset_new", ckpt_devset_new(app.ctx, DOMID, specs, 2, &app.set)) ||
	    check(&app, "ckpt_devset_setup", ckpt_devset_setup(app.set, &app.setup_how)))
		goto out;
	ev_run(app.loop, 0);
	printf("checkpoints: %d\n", app.checkpoints);
	if (app.checkpoints != N_CHECKPOINTS)
		check(&app, "checkpoints", CKPT_ERROR_FAIL);
	check_disks(&app);
out:
	check(&app, "ckpt_devset_free", ckpt_devset_free(app.set));
	check(&app, "ckpt_ctx_free", ckpt_ctx_free(app.ctx));
	ev_loop_destroy(app.loop);
	return app.rc ? 1 : 0;
}
