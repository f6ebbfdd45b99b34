/*
 * exec.c - run a script as part of an ao, with a timeout.
 *
 * The script's stdin is /dev/null; its stdout and stderr are read through
 * pipes and each line goes to the log as "what[pid]: line" (stdout at
 * info level, stderr at warning level).
 *
 * At most ctx->scripts_max scripts run at once (ckpt_ctx_opts.max_scripts):
 * a script started beyond that waits, in order, for a running one to end;
 * its timeout starts when it does.  So 64 NICs torn down together on one
 * CPU do not all run out of time together.
 *
 * States (enum ao_exec_state):
 *   IDLE     not started, or finished (the callback has been called).
 *   WAITING  started, waiting for a slot (no child yet); on abort or
 *            ao_exec_stop() -> the callback comes at once, IDLE.
 *   RUNNING  the child is alive; on timeout or ao_exec_stop() -> SIGTERM
 *            to its group, KILLING; on abort of x->ao -> SIGKILL to its
 *            group, KILLING.
 *   KILLING  the child was signalled; waiting for it to exit, and (after a
 *            timeout) for the grace period, at whose end the group gets
 *            SIGKILL.
 *   REAPED   the child exited after SIGTERM but other members of its group
 *            (a grandchild ignoring SIGTERM) remain: wait out the grace
 *            period, SIGKILL the group, finish.
 * The callback comes once, after the child has been reaped and every fd
 * and timer of the exec has been released.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

#define EXEC_LINE_MAX         1024
#define EXEC_DEFAULT_GRACE_MS 2000

extern char **environ;

static void exec_stdout_cb(ao_egc *egc, ao_fd *ev, int fd, short events, short revents);
static void exec_stderr_cb(ao_egc *egc, ao_fd *ev, int fd, short events, short revents);
static void exec_child_cb(ao_egc *egc, ao_child *ch, int status);
static void exec_timer_cb(ao_egc *egc, ao_time *ev);
static void exec_abort_cb(ao_egc *egc, ao_abortable *a, int rc);
static void exec_finish(ao_egc *egc, ao_exec *x);
static void exec_unqueue(ao_egc *egc, ao_exec *x, int rc);

void ao_exec_init(ao_exec *x)
{
	x->status = 0;
	x->pid = 0;
	x->state = EXEC_IDLE;
	x->rc = 0;
	x->hard_killed = false;
	ao_child_init(&x->child);
	for (int i = 0; i < 2; i++) {
		ao_fd_init(&x->out[i]);
		x->line[i] = NULL;
		x->line_len[i] = 0;
	}
	ao_time_init(&x->timer);
	ao_abortable_init(&x->abrt);
	ao_list_init(&x->waiting);
}

bool ao_exec_is_running(const ao_exec *x)
{
	return x->state != EXEC_IDLE;
}

/* The child's environment: ours, with x->env's NAME=value entries added or
 * replacing ours.  Only the pointer array is allocated. */
static char **build_env(char *const *extra)
{
	size_t n_env = 0, n_extra = 0, k = 0;
	char **envp;

	while (environ && environ[n_env])
		n_env++;
	while (extra && extra[n_extra])
		n_extra++;
	envp = ao_calloc(n_env + n_extra + 1, sizeof(*envp));
	for (size_t i = 0; i < n_env; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t name_len = eq ? (size_t)(eq - environ[i]) + 1 : strlen(environ[i]);
		bool replaced = false;
		for (size_t j = 0; j < n_extra && !replaced; j++)
			replaced = !strncmp(environ[i], extra[j], name_len);
		if (!replaced)
			envp[k++] = environ[i];
	}
	for (size_t j = 0; j < n_extra; j++)
		envp[k++] = extra[j];
	envp[k] = NULL;
	return envp;
}

static void emit_line(ckpt_ctx *ctx, ao_exec *x, int stream)
{
	if (!x->line_len[stream])
		return;
	x->line[stream][x->line_len[stream]] = '\0';
	ao_log(ctx, stream ? XTL_WARN : XTL_INFO, -1, "%s[%d]: %s", x->what, (int)x->pid,
	       x->line[stream]);
	x->line_len[stream] = 0;
}

static void close_stream(ckpt_ctx *ctx, ao_exec *x, int stream)
{
	ao_fd *ev = &x->out[stream];

	if (ev->fd >= 0) {
		ao_fd_deregister(ctx, ev);
		close(ev->fd);
		ev->fd = -1;
	}
	emit_line(ctx, x, stream);
	free(x->line[stream]);
	x->line[stream] = NULL;
}

/* Read what is there now; at end of file, or on error, close the stream. */
static void read_stream(ckpt_ctx *ctx, ao_exec *x, int stream)
{
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = read(x->out[stream].fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				emit_line(ctx, x, stream);
				continue;
			}
			if (x->line_len[stream] == EXEC_LINE_MAX)
				emit_line(ctx, x, stream);
			x->line[stream][x->line_len[stream]++] = buf[i];
		}
	}
	if (n < 0)
		LOGE(ctx, WARN, "%s[%d]: reading its output", x->what, (int)x->pid);
	close_stream(ctx, x, stream);
}

/* Fork and exec x now (it holds a slot).  0: RUNNING; else nothing runs,
 * the abortable is gone and the slot is given back. */
static int exec_launch(ao_egc *egc, ao_exec *x)
{
	ckpt_ctx *ctx = egc->ctx;
	int pipes[2][2] = {{-1, -1}, {-1, -1}};
	struct ao_spawn sp;
	char **envp;
	unsigned timeout_ms = x->timeout_ms;
	int rc;

	ctx->scripts_running++;
	for (int i = 0; i < 2; i++) {
		if (pipe2(pipes[i], O_CLOEXEC)) {
			LOGE(ctx, ERROR, "%s: cannot make a pipe", x->what);
			rc = CKPT_ERROR_SYSTEM;
			goto fail;
		}
		fcntl(pipes[i][0], F_SETFL, O_NONBLOCK);
		x->line[i] = ao_malloc(EXEC_LINE_MAX + 1);
		x->line_len[i] = 0;
	}

	envp = build_env(x->env);
	sp.path = x->argv[0];
	sp.argv = x->argv;
	sp.envp = envp;
	sp.stdout_fd = pipes[0][1];
	sp.stderr_fd = pipes[1][1];
	rc = ao_child_spawn(ctx, &x->child, exec_child_cb, &sp, x->what);
	free(envp);
	for (int i = 0; i < 2; i++) {
		close(pipes[i][1]);
		pipes[i][1] = -1;
	}
	if (rc)
		goto fail;
	x->pid = x->child.pid;
	x->state = EXEC_RUNNING;
	LOG(ctx, DEBUG, "%s[%d]: started %s", x->what, (int)x->pid, x->argv[0]);

	for (int i = 0; i < 2; i++) {
		x->out[i].fd = pipes[i][0];
		pipes[i][0] = -1;
		rc = ao_fd_register(ctx, &x->out[i], i ? exec_stderr_cb : exec_stdout_cb,
		                    x->out[i].fd, POLLIN);
		if (rc)
			goto kill;
	}
	if (ao_fault(ctx, FP_EXEC_TIMEOUT)) {
		LOG(ctx, DEBUG, "%s[%d]: injected fault: the timeout expires at once", x->what,
		    (int)x->pid);
		timeout_ms = 1;
	}
	if (timeout_ms) {
		rc = ao_time_register_rel(ctx, &x->timer, exec_timer_cb, timeout_ms);
		if (rc)
			goto kill;
	}
	return 0;

kill:
	ao_child_deregister(ctx, &x->child);
	x->state = EXEC_IDLE;
fail:
	for (int i = 0; i < 2; i++) {
		if (pipes[i][0] >= 0)
			close(pipes[i][0]);
		if (pipes[i][1] >= 0)
			close(pipes[i][1]);
		close_stream(ctx, x, i);
	}
	ao_abortable_deregister(&x->abrt);
	ctx->scripts_running--;
	return rc;
}

int ao_exec_start(ao_egc *egc, ao_exec *x)
{
	ckpt_ctx *ctx = egc->ctx;
	int rc;

	assert(x->state == EXEC_IDLE);
	x->rc = 0;
	x->pid = 0;
	x->hard_killed = false;
	x->abrt.ao = x->ao;
	x->abrt.callback = exec_abort_cb;
	rc = x->ao ? ao_abortable_register(&x->abrt) : 0;
	if (rc) {
		LOG(ctx, ERROR, "%s: not started: the operation is being aborted", x->what);
		return rc;
	}
	if (ctx->scripts_running < ctx->scripts_max)
		return exec_launch(egc, x);
	LOG(ctx, DEBUG, "%s: waiting for one of the %u scripts running to end", x->what,
	    ctx->scripts_running);
	x->state = EXEC_WAITING;
	ao_list_add_tail(&ctx->scripts_waiting, &x->waiting);
	return 0;
}

/* A slot is free: start the scripts waiting for one, oldest first; one
 * that cannot start ends with its error. */
static void exec_start_waiting(ao_egc *egc)
{
	ckpt_ctx *ctx = egc->ctx;
	struct ao_list *pos;
	int rc;

	while (ctx->scripts_running < ctx->scripts_max &&
	       (pos = ao_list_first(&ctx->scripts_waiting))) {
		ao_exec *x = CONTAINER_OF(pos, ao_exec, waiting);
		ao_list_del(&x->waiting);
		x->state = EXEC_IDLE;
		rc = exec_launch(egc, x);
		if (rc)
			x->callback(egc, x, rc);
	}
}

/* Take a waiting exec out of the queue: it ends with rc, never started. */
static void exec_unqueue(ao_egc *egc, ao_exec *x, int rc)
{
	ao_list_del(&x->waiting);
	ao_abortable_deregister(&x->abrt);
	x->state = EXEC_IDLE;
	LOG(egc->ctx, DEBUG, "%s: ended before its turn came: %s", x->what, ckpt_strerror(rc));
	x->callback(egc, x, rc);
}

static void exec_stdout_cb(ao_egc *egc, ao_fd *ev, int fd, short events, short revents)
{
	(void)fd;
	(void)events;
	(void)revents;
	read_stream(egc->ctx, CONTAINER_OF(ev, ao_exec, out[0]), 0);
}

static void exec_stderr_cb(ao_egc *egc, ao_fd *ev, int fd, short events, short revents)
{
	(void)fd;
	(void)events;
	(void)revents;
	read_stream(egc->ctx, CONTAINER_OF(ev, ao_exec, out[1]), 1);
}

/* Signal the group, logging a failure other than "already gone". */
static void signal_group(ckpt_ctx *ctx, ao_exec *x, int sig)
{
	if (ao_child_signal_group(&x->child, sig) && errno != ESRCH)
		LOGE(ctx, WARN, "%s[%d]: cannot send signal %d to its process group", x->what,
		     (int)x->pid, sig);
	if (sig == SIGKILL)
		x->hard_killed = true;
}

static void exec_child_cb(ao_egc *egc, ao_child *ch, int status)
{
	ao_exec *x = CONTAINER_OF(ch, ao_exec, child);
	ckpt_ctx *ctx = egc->ctx;

	x->status = status;
	/* Whatever the child wrote is in the pipes now; members of its
	 * group still holding them open do not keep us waiting. */
	for (int i = 0; i < 2; i++)
		if (x->out[i].fd >= 0)
			read_stream(ctx, x, i);
	for (int i = 0; i < 2; i++)
		close_stream(ctx, x, i);

	if (x->state == EXEC_KILLING && !x->hard_killed && ao_child_signal_group(ch, 0) == 0 &&
	    ao_time_is_registered(&x->timer)) {
		/* Others in the group outlived SIGTERM: they get the rest
		 * of the grace period. */
		x->state = EXEC_REAPED;
		return;
	}
	if (x->state == EXEC_KILLING && x->hard_killed)
		signal_group(ctx, x, SIGKILL); /* late forks of the group */
	exec_finish(egc, x);
}

/* Ask the group to end: SIGTERM now, SIGKILL when the grace is over. */
static void exec_terminate(ao_egc *egc, ao_exec *x, int rc)
{
	ckpt_ctx *ctx = egc->ctx;
	unsigned grace = x->grace_ms ? x->grace_ms : EXEC_DEFAULT_GRACE_MS;

	x->rc = rc;
	x->state = EXEC_KILLING;
	signal_group(ctx, x, SIGTERM);
	ao_time_deregister(ctx, &x->timer);
	if (ao_time_register_rel(ctx, &x->timer, exec_timer_cb, grace) == 0)
		return;
	signal_group(ctx, x, SIGKILL); /* no grace timer: do not wait at all */
}

static void exec_timer_cb(ao_egc *egc, ao_time *ev)
{
	ao_exec *x = CONTAINER_OF(ev, ao_exec, timer);
	ckpt_ctx *ctx = egc->ctx;

	if (x->state == EXEC_RUNNING) {
		LOG(ctx, ERROR,
		    "%s[%d]: timed out after %u ms; sending SIGTERM to its process group", x->what,
		    (int)x->pid, x->timeout_ms);
		exec_terminate(egc, x, CKPT_ERROR_TIMEDOUT);
		return;
	}
	LOG(ctx, WARN, "%s[%d]: process group still alive %u ms after SIGTERM; sending SIGKILL",
	    x->what, (int)x->pid, x->grace_ms ? x->grace_ms : EXEC_DEFAULT_GRACE_MS);
	signal_group(ctx, x, SIGKILL);
	if (x->state == EXEC_REAPED)
		exec_finish(egc, x);
	/* KILLING: the child's exit finishes the exec. */
}

void ao_exec_stop(ao_egc *egc, ao_exec *x, int rc)
{
	if (x->state == EXEC_WAITING) {
		exec_unqueue(egc, x, rc);
		return;
	}
	if (x->state != EXEC_RUNNING)
		return; /* not started, finished, or already being stopped */
	LOG(egc->ctx, DEBUG, "%s[%d]: stopping it (SIGTERM, then SIGKILL after %u ms)", x->what,
	    (int)x->pid, x->grace_ms ? x->grace_ms : EXEC_DEFAULT_GRACE_MS);
	exec_terminate(egc, x, rc);
}

static void exec_abort_cb(ao_egc *egc, ao_abortable *a, int rc)
{
	ao_exec *x = CONTAINER_OF(a, ao_exec, abrt);
	ckpt_ctx *ctx = egc->ctx;

	if (x->state == EXEC_WAITING) {
		exec_unqueue(egc, x, rc);
		return;
	}
	LOG(ctx, DEBUG, "%s[%d]: aborted; killing its process group", x->what, (int)x->pid);
	x->rc = rc;
	ao_time_deregister(ctx, &x->timer);
	signal_group(ctx, x, SIGKILL);
	if (x->state == EXEC_REAPED) {
		exec_finish(egc, x);
		return;
	}
	x->state = EXEC_KILLING;
}

static void exec_finish(ao_egc *egc, ao_exec *x)
{
	ckpt_ctx *ctx = egc->ctx;
	char text[96];
	int rc = x->rc;

	ao_time_deregister(ctx, &x->timer);
	ao_abortable_deregister(&x->abrt);
	ao_child_deregister(ctx, &x->child);
	for (int i = 0; i < 2; i++)
		close_stream(ctx, x, i);
	x->state = EXEC_IDLE;
	if (!rc && x->status != 0) {
		LOG(ctx, ERROR, "%s[%d]: %s", x->what, (int)x->pid,
		    ao_wait_status_text(x->status, text, sizeof(text)));
		rc = CKPT_ERROR_SCRIPT;
	}
	ctx->scripts_running--;
	exec_start_waiting(egc); /* the waiting go before anything the callback starts */
	x->callback(egc, x, rc);
}
