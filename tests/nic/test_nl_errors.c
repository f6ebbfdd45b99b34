/*
 * test_nl_errors.c - what a NIC's checkpoint step returns when the kernel
 * refuses its plug request.
 *
 * The refusal itself needs a plug qdisc to aim at, which only the VM's
 * kernel has; the translation of the ack's errno does not, so it is
 * tested here, on any kernel (make check-net runs nic_nl_*).  Built only
 * with the libnl backend (not with NETBUF=no).
 */
#include <errno.h>

#include "../../src/netbuf/internal.h"
#include "../harness/test.h"

/* CKPT_ERROR_INVAL promises "refused before anything was done": a request
 * the kernel refused is a netlink error, whatever its errno. */
TEST(nic_nl_kernel_refusal_is_a_netlink_error)
{
	ASSERT_RC(nb_rc_from_ack(EINVAL), CKPT_ERROR_NETLINK); /* e.g. not a plug */
	ASSERT_RC(nb_rc_from_ack(EOPNOTSUPP), CKPT_ERROR_NETLINK);
	ASSERT_RC(nb_rc_from_ack(EEXIST), CKPT_ERROR_NETLINK);
	ASSERT_RC(nb_rc_from_ack(EBUSY), CKPT_ERROR_NETLINK);
	ASSERT_RC(nb_rc_from_ack(EPERM), CKPT_ERROR_NETLINK);
	ASSERT_RC(nb_rc_from_ack(ERANGE), CKPT_ERROR_NETLINK);
	ASSERT_RC(nb_rc_from_ack(ETIMEDOUT), CKPT_ERROR_NETLINK);
	ASSERT_RC(nb_rc_from_ack(E2BIG), CKPT_ERROR_NETLINK);
}

/* The two exceptions, as documented at nb_plug_request. */
TEST(nic_nl_kernel_out_of_memory_or_gone)
{
	ASSERT_RC(nb_rc_from_ack(ENOMEM), CKPT_ERROR_NOMEM);
	ASSERT_RC(nb_rc_from_ack(ENOBUFS), CKPT_ERROR_NOMEM);
	ASSERT_RC(nb_rc_from_ack(ENODEV), CKPT_ERROR_NOTFOUND); /* the IFB was deleted */
	ASSERT_RC(nb_rc_from_ack(ENOENT), CKPT_ERROR_NOTFOUND); /* its plug was replaced */
	ASSERT_RC(nb_rc_from_ack(ESRCH), CKPT_ERROR_NOTFOUND);
}
