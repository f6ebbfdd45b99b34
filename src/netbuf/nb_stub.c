/*
 * nb_stub.c - the "nic" kind in a build without network buffering.
 *
 * Devsets that list NICs can be made and torn down; their setup fails with
 * CKPT_ERROR_NOTSUP and says why, so a toolstack learns at setup time, not
 * at the first checkpoint, that output cannot be held back.
 */
#include "../devices/internal.h"

static int nic_validate(ckpt_dev *dev)
{
	const char *vif = ckpt_dev_param(dev, "vif");

	if (!vif || !vif[0]) {
		DEV_LOG(dev, ERROR, "needs a vif=NAME parameter (the guest's backend interface)");
		return CKPT_ERROR_INVAL;
	}
	return 0;
}

static void nic_setup(ckpt_dev *dev)
{
	DEV_LOG(dev, ERROR,
	        "network buffering is not built into this ckptdev "
	        "(it needs libnl-route-3: build without NETBUF=no)");
	ckpt_dev_done(dev, CKPT_ERROR_NOTSUP);
}

const ckpt_dev_kind dev_nic_kind = {
    .name = "nic",
    .validate = nic_validate,
    .setup = nic_setup,
};
