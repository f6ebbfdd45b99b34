/*
 * glib_loop.c - embedding ckptdev in a GLib program (the world of libvirt
 * and QEMU): the library's events on the application's GMainLoop, through
 * the CKPT_LOOP_HOOKS binding.
 *
 * Build against an installed ckptdev:
 *	cc glib_loop.c $(pkg-config --cflags --libs ckptdev glib-2.0) -o glib_loop
 *
 * The hooks (see ckpt_osevent_hooks in ckptdev/ao.h) map onto GSources:
 *   an fd      a GSource of ours with the fd added by
 *              g_source_add_unix_fd(), so fd_modify only changes the
 *              events (g_source_modify_unix_fd) and keeps the source;
 *   a timeout  a GSource of ours whose ready time is the deadline: the
 *              library's deadlines are absolute CLOCK_MONOTONIC times, and
 *              GLib's ready times are g_get_monotonic_time() values, which
 *              on Linux read the same clock (in microseconds).
 * Each registration gets a for_ckpt of its own, never reused: it is kept
 * in its source and handed back with every report, never looked up by fd.
 * A timeout is reported once and is then gone (no timeout_deregister
 * follows), so its source destroys itself when it reports.  timeout_modify
 * is left NULL: the library never calls it.
 * The main context owns every source: g_source_destroy() frees one once
 * GLib is done with it, also from inside its own dispatch.  The hooks are
 * called with the library's lock held and do not call into it; GLib's
 * source calls are thread-safe, so hooks called from another thread would
 * be fine too.
 *
 * The program first shows a deadline at work: a device of an application
 * kind ("stuck") that never comes up, bounded by the devset's setup
 * timeout, whose expiry reaches the library through timeout_register's
 * source.  Then it does what examples/libev_loop.c does: a devset of two
 * disk stubs for a pretend domain 7 (the first runs /bin/true as its
 * setup and teardown script: a child process, pipes and a timeout for the
 * hooks), setup, a checkpoint every 20 ms from a GLib timeout, five times,
 * teardown.  It exits 0 only if every call and every operation did what
 * it should.
 *
 * The steps, in the order they run:
 *   main           the context; start the stuck devset's setup; run the loop
 *   stuck_done     it timed out, as it should: free it, start the disks'
 *   setup_done     the disks are up: start the checkpoint timer
 *   tick           one checkpoint; after the fifth, or a failure, teardown
 *   teardown_done  quit the loop; main checks the counters and frees
 */
#include <ckptdev.h>
#include <glib.h>
#include <stdio.h>

#define DOMID         7
#define N_CHECKPOINTS 5

struct app {
	GMainLoop *main_loop;
	ckpt_ctx *ctx;
	ckpt_devset *stuck, *set;
	ckpt_async_how stuck_how, setup_how, teardown_how;
	guint tick_id;
	int checkpoints;
	int registrations; /* the library's fds and timeouts being watched */
	int rc;            /* the first error */
};

/* ------------------------------------------------------------ the hooks */

struct fd_source {
	GSource source; /* first: GLib allocates the struct */
	struct app *app;
	gpointer tag; /* g_source_add_unix_fd()'s */
	int fd;
	short events;
	void *for_ckpt;
};

struct timeout_source {
	GSource source;
	struct app *app;
	void *for_ckpt;
};

static GIOCondition to_glib(short events)
{
	return (events & POLLIN ? G_IO_IN : 0) | (events & POLLOUT ? G_IO_OUT : 0) |
	       (events & POLLPRI ? G_IO_PRI : 0);
}

static short from_glib(GIOCondition cond)
{
	return (short)((cond & G_IO_IN ? POLLIN : 0) | (cond & G_IO_OUT ? POLLOUT : 0) |
	               (cond & G_IO_PRI ? POLLPRI : 0) | (cond & G_IO_ERR ? POLLERR : 0) |
	               (cond & G_IO_HUP ? POLLHUP : 0) | (cond & G_IO_NVAL ? POLLNVAL : 0));
}

/* Called by GLib when the fd is ready (no prepare or check: a source with
 * unix fds is dispatched when one of them has events). */
static gboolean fd_dispatch(GSource *source, GSourceFunc callback, gpointer data)
{
	struct fd_source *s = (struct fd_source *)source;
	GIOCondition cond = g_source_query_unix_fd(source, s->tag);

	(void)callback;
	(void)data;
	/* may call fd_deregister on this source: GLib holds it until we return */
	ckpt_osevent_occurred_fd(s->app->ctx, s->for_ckpt, s->fd, s->events, from_glib(cond));
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs fd_funcs = {.dispatch = fd_dispatch};

static int fd_register(void *user, int fd, void **for_app_reg, short events, void *for_ckpt)
{
	GSource *source = g_source_new(&fd_funcs, sizeof(struct fd_source));
	struct fd_source *s = (struct fd_source *)source;

	s->app = user;
	s->fd = fd;
	s->events = events;
	s->for_ckpt = for_ckpt;
	s->tag = g_source_add_unix_fd(source, fd, to_glib(events));
	s->app->registrations++;
	g_source_attach(source, NULL); /* the default main context */
	g_source_unref(source);        /* the context holds it now */
	*for_app_reg = s;
	return 0;
}

static int fd_modify(void *user, int fd, void **for_app_reg, short events)
{
	struct fd_source *s = *for_app_reg;

	(void)user;
	(void)fd;
	s->events = events;
	g_source_modify_unix_fd(&s->source, s->tag, to_glib(events));
	return 0;
}

static void fd_deregister(void *user, int fd, void *for_app_reg)
{
	struct fd_source *s = for_app_reg;

	(void)user;
	(void)fd;
	s->app->registrations--;
	g_source_destroy(&s->source);
}

/* Ready time reached: report it once; the registration ends here. */
static gboolean timeout_dispatch(GSource *source, GSourceFunc callback, gpointer data)
{
	struct timeout_source *s = (struct timeout_source *)source;

	(void)callback;
	(void)data;
	s->app->registrations--;
	g_source_destroy(source); /* before the report: gone, whatever it does */
	ckpt_osevent_occurred_timeout(s->app->ctx, s->for_ckpt);
	return G_SOURCE_REMOVE;
}

static GSourceFuncs timeout_funcs = {.dispatch = timeout_dispatch};

static int timeout_register(void *user, void **for_app_reg, struct timespec abs, void *for_ckpt)
{
	GSource *source = g_source_new(&timeout_funcs, sizeof(struct timeout_source));
	struct timeout_source *s = (struct timeout_source *)source;

	s->app = user;
	s->for_ckpt = for_ckpt;
	s->app->registrations++;
	/* rounded up: never report a deadline before it has passed */
	g_source_set_ready_time(source,
	                        (gint64)abs.tv_sec * G_USEC_PER_SEC + (abs.tv_nsec + 999) / 1000);
	g_source_attach(source, NULL);
	g_source_unref(source);
	*for_app_reg = s;
	return 0;
}

/* Only for a timeout not reported yet (the library's contract). */
static void timeout_deregister(void *user, void *for_app_reg)
{
	struct timeout_source *s = for_app_reg;

	(void)user;
	s->app->registrations--;
	g_source_destroy(&s->source);
}

static const ckpt_osevent_hooks glib_hooks = {
        .fd_register = fd_register,
        .fd_modify = fd_modify,
        .fd_deregister = fd_deregister,
        .timeout_register = timeout_register,
        .timeout_modify = NULL, /* never called */
        .timeout_deregister = timeout_deregister,
};

/* ----------------------------------------- a kind that never comes up */

static void stuck_setup(ckpt_dev *dev)
{
	(void)dev; /* no report: only the abort below ends this setup */
}

static void stuck_abort(ckpt_dev *dev)
{
	ckpt_dev_done(dev, CKPT_ERROR_ABORTED);
}

static const ckpt_dev_kind stuck_kind = {
        .name = "stuck", .setup = stuck_setup, .abort = stuck_abort};

/* ------------------------------------------------------ the application */

static void stuck_done(ckpt_ctx *ctx, int rc, void *user);
static void setup_done(ckpt_ctx *ctx, int rc, void *user);
static gboolean tick(gpointer user);
static void teardown_done(ckpt_ctx *ctx, int rc, void *user);

/* Keep the first error, say what failed; returns rc. */
static int check(struct app *app, const char *what, int rc)
{
	if (rc) {
		fprintf(stderr, "glib_loop: %s: %s\n", what, ckpt_strerror(rc));
		if (!app->rc)
			app->rc = rc;
	}
	return rc;
}

/* Called from tick(), which then returns G_SOURCE_REMOVE. */
static void start_teardown(struct app *app)
{
	app->tick_id = 0;
	if (check(app, "ckpt_devset_teardown", ckpt_devset_teardown(app->set, &app->teardown_how)))
		g_main_loop_quit(app->main_loop); /* no callback will come */
}

static void stuck_done(ckpt_ctx *ctx, int rc, void *user)
{
	static const char *const disk0[] = {"target=vg0/dom7-root", "script=/bin/true", NULL};
	static const char *const disk1[] = {"target=vg0/dom7-swap", NULL};
	const ckpt_dev_spec specs[] = {{"disk", 0, disk0}, {"disk", 1, disk1}};
	struct app *app = user;

	printf("stuck device's setup: %s\n", ckpt_strerror(rc));
	if (rc != CKPT_ERROR_TIMEDOUT) {
		check(app, "the stuck setup did not time out", rc ? rc : CKPT_ERROR_FAIL);
		g_main_loop_quit(app->main_loop);
		return;
	}
	if (check(app, "ckpt_devset_free", ckpt_devset_free(app->stuck))) {
		g_main_loop_quit(app->main_loop);
		return;
	}
	app->stuck = NULL;
	if (check(app, "ckpt_devset_new", ckpt_devset_new(ctx, DOMID, specs, 2, &app->set)) ||
	    check(app, "ckpt_devset_setup", ckpt_devset_setup(app->set, &app->setup_how)))
		g_main_loop_quit(app->main_loop);
}

static void setup_done(ckpt_ctx *ctx, int rc, void *user)
{
	struct app *app = user;

	(void)ctx;
	printf("setup: %s\n", ckpt_strerror(rc));
	if (check(app, "setup", rc)) {
		g_main_loop_quit(app->main_loop); /* the devset is DOWN again */
		return;
	}
	app->tick_id = g_timeout_add(20, tick, app);
}

static gboolean tick(gpointer user)
{
	struct app *app = user;

	/* the guest would be paused here, and its state sent to the backup */
	if (check(app, "postsuspend", ckpt_devset_postsuspend(app->set)) ||
	    check(app, "preresume", ckpt_devset_preresume(app->set)) ||
	    check(app, "commit", ckpt_devset_commit(app->set))) {
		start_teardown(app);
		return G_SOURCE_REMOVE;
	}
	if (++app->checkpoints == N_CHECKPOINTS) {
		start_teardown(app);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static void teardown_done(ckpt_ctx *ctx, int rc, void *user)
{
	struct app *app = user;

	(void)ctx;
	printf("teardown: %s\n", ckpt_strerror(rc));
	check(app, "teardown", rc);
	g_main_loop_quit(app->main_loop);
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
	const ckpt_dev_spec stuck_spec = {"stuck", 0, NULL};
	struct app app = {0};
	ckpt_ctx_opts opts = {.loop = CKPT_LOOP_HOOKS, .hooks = &glib_hooks, .hooks_user = &app};

	setvbuf(stdout, NULL, _IOLBF, 0); /* in order with the library's log */
	app.main_loop = g_main_loop_new(NULL, FALSE);
	app.stuck_how = (ckpt_async_how){.callback = stuck_done, .user = &app};
	app.setup_how = (ckpt_async_how){.callback = setup_done, .user = &app};
	app.teardown_how = (ckpt_async_how){.callback = teardown_done, .user = &app};

	if (check(&app, "ckpt_ctx_new", ckpt_ctx_new(&app.ctx, &opts)) ||
	    check(&app, "ckpt_kind_register", ckpt_kind_register(app.ctx, &stuck_kind)) ||
	    check(&app, "ckpt_devset_new",
	          ckpt_devset_new(app.ctx, DOMID, &stuck_spec, 1, &app.stuck)))
		goto out;
	ckpt_devset_set_setup_timeout(app.stuck, 50);
	printf("a device that never comes up, bounded by a 50 ms setup timeout"
	       " (the library logs the timeout):\n");
	if (check(&app, "ckpt_devset_setup", ckpt_devset_setup(app.stuck, &app.stuck_how)))
		goto out;
	g_main_loop_run(app.main_loop);
	printf("checkpoints: %d\n", app.checkpoints);
	if (app.checkpoints != N_CHECKPOINTS)
		check(&app, "checkpoints", CKPT_ERROR_FAIL);
	if (app.set)
		check_disks(&app);
out:
	check(&app, "ckpt_devset_free", ckpt_devset_free(app.stuck));
	check(&app, "ckpt_devset_free", ckpt_devset_free(app.set));
	check(&app, "ckpt_ctx_free", ckpt_ctx_free(app.ctx));
	if (app.registrations) { /* a freed context watches nothing */
		fprintf(stderr, "glib_loop: %d registrations left\n", app.registrations);
		check(&app, "registrations", CKPT_ERROR_FAIL);
	}
	g_main_loop_unref(app.main_loop);
	return app.rc ? 1 : 0;
}
