/*
 * run.c - ckpt_exec(): the core's script runner as an operation of the
 * application's own, for programs it runs around the checkpoints (a
 * toolstack's suspend and resume commands, say).
 *
 * The operation owns copies of argv and env, so the caller's arrays need
 * not outlive the call; the wait status goes to *status_out just before
 * the completion.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct run_op {
	ao_op *ao;
	int *status_out;
	char **argv, **env;
	ao_exec x;
};

static void run_cb(ao_egc *egc, ao_exec *x, int rc);

/* A copy of a NULL-terminated string array (NULL stays NULL). */
static char **copy_strv(char *const *v)
{
	size_t n = 0;
	char **c;

	if (!v)
		return NULL;
	while (v[n])
		n++;
	c = ao_calloc(n + 1, sizeof(*c));
	for (size_t i = 0; i < n; i++)
		c[i] = ao_strdup(v[i]);
	return c;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void run_free(struct run_op *op)
{
	free_strv(op->argv);
	free_strv(op->env);
	free(op);
}

int ckpt_exec(ckpt_ctx *ctx, char *const argv[], char *const env[], unsigned timeout_ms,
              int *status_out, const ckpt_async_how *how)
{
	struct run_op *op;
	ao_egc egc;
	ao_op *ao;
	int rc;

	if (!ctx)
		return CKPT_ERROR_INVAL;
	ao_egc_enter(&egc, ctx);
	if (!argv || !argv[0] || argv[0][0] != '/') {
		LOG(ctx, ERROR, "ckpt_exec: argv[0] must be an absolute path (got %s%s%s)",
		    argv && argv[0] ? "\"" : "", argv && argv[0] ? argv[0] : "none",
		    argv && argv[0] ? "\"" : "");
		ao_egc_leave(&egc);
		return CKPT_ERROR_INVAL;
	}
	rc = ao_how_check(&egc, how, "ckpt_exec");
	if (rc) {
		ao_egc_leave(&egc);
		return rc;
	}
	op = ao_calloc(1, sizeof(*op));
	op->ao = ao = ao_create(&egc, how);
	op->status_out = status_out;
	op->argv = copy_strv(argv);
	op->env = copy_strv(env);
	ao_exec_init(&op->x);
	op->x.ao = op->ao;
	op->x.what = op->argv[0];
	op->x.argv = op->argv;
	op->x.env = op->env;
	op->x.timeout_ms = timeout_ms;
	op->x.callback = run_cb;
	rc = ao_exec_start(&egc, &op->x);
	if (rc) {
		run_free(op);
		ao_complete(&egc, ao, rc);
	}
	rc = ao_inprogress(&egc, ao);
	ao_egc_leave(&egc);
	return rc;
}

static void run_cb(ao_egc *egc, ao_exec *x, int rc)
{
	struct run_op *op = CONTAINER_OF(x, struct run_op, x);
	ao_op *ao = op->ao;

	if (op->status_out)
		*op->status_out = x->status;
	run_free(op);
	ao_complete(egc, ao, rc);
}
