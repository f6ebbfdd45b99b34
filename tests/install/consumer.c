/*
 * consumer.c - a program outside the tree, built only from the installed
 * headers and pkg-config: proves the install is usable.
 */
#include <ckptdev.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	ckpt_ctx_opts opts = {.loop = CKPT_LOOP_POLL};
	ckpt_ctx *ctx;
	size_t n;
	int rc;

	rc = ckpt_ctx_new(&ctx, &opts);
	if (rc) {
		fprintf(stderr, "ckpt_ctx_new: %s\n", ckpt_strerror(rc));
		return 1;
	}
	ckpt_fault_list(&n);
	printf("ckptdev: context created; %zu fault points; %s\n", n,
	       ckpt_strerror(CKPT_ERROR_TIMEDOUT));
	rc = ckpt_ctx_free(ctx);
	return rc || strcmp(ckpt_strerror(0), "success");
}
