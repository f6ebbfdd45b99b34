/*
 * leaky_kind.c - a kind library that leaks on purpose, for the harness's
 * own test: each device's setup opens /dev/null and never closes it, so
 * `ckpt-fault --kind-lib libleakykind.so` must report the fds invariant
 * and exit 1 (make check-fault checks that it does).
 */
#include <fcntl.h>

#include "ckptdev/devices.h"

int ckpt_fault_harness_register(ckpt_ctx *ctx, const char **kind_out,
                                const char *const **params_out);

static void leaky_setup(ckpt_dev *dev)
{
	(void)open("/dev/null", O_RDONLY | O_CLOEXEC);
	ckpt_dev_done(dev, 0);
}

static void leaky_teardown(ckpt_dev *dev)
{
	ckpt_dev_done(dev, 0);
}

static const ckpt_dev_kind leaky_kind = {
        .name = "leaky",
        .setup = leaky_setup,
        .teardown = leaky_teardown,
};

int ckpt_fault_harness_register(ckpt_ctx *ctx, const char **kind_out,
                                const char *const **params_out)
{
	*kind_out = leaky_kind.name;
	*params_out = NULL;
	return ckpt_kind_register(ctx, &leaky_kind);
}
