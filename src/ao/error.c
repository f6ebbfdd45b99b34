/*
 * error.c - the error table, and the single translation of errno values
 * (from the kernel and from libxenstore) into CKPT_ERROR_* codes.
 */
#include <errno.h>

#include "internal.h"

static const char *const error_text[] = {
        [0] = "success",
        [-CKPT_ERROR_FAIL] = "operation failed",
        [-CKPT_ERROR_INVAL] = "invalid argument",
        [-CKPT_ERROR_NOTSUP] = "not supported",
        [-CKPT_ERROR_TIMEDOUT] = "timed out",
        [-CKPT_ERROR_ABORTED] = "aborted",
        [-CKPT_ERROR_SCRIPT] = "script failed",
        [-CKPT_ERROR_XENSTORE] = "xenstore error",
        [-CKPT_ERROR_NETLINK] = "netlink error",
        [-CKPT_ERROR_NOMEM] = "out of memory",
        [-CKPT_ERROR_BUSY] = "busy",
        [-CKPT_ERROR_NOTFOUND] = "not found",
        [-CKPT_ERROR_EXISTS] = "already exists",
        [-CKPT_ERROR_BUFFERFULL] = "buffer too small",
        [-CKPT_ERROR_SYSTEM] = "system call failed",
        [-CKPT_ERROR_FAULT] = "injected fault",
};

const char *ckpt_strerror(int rc)
{
	if (rc > 0 || rc < CKPT_ERROR_LAST || !error_text[-rc])
		return "unknown error";
	return error_text[-rc];
}

int ao_rc_from_errno(int errnoval)
{
	switch (errnoval) {
	case 0:
		return CKPT_ERROR_FAIL;
	case ENOMEM:
	case ENOBUFS:
		return CKPT_ERROR_NOMEM;
	case EINVAL:
		return CKPT_ERROR_INVAL;
	case ENOENT:
	case ESRCH:
	case ENODEV:
		return CKPT_ERROR_NOTFOUND;
	case EEXIST:
		return CKPT_ERROR_EXISTS;
	case EBUSY:
		return CKPT_ERROR_BUSY;
	case ETIMEDOUT:
		return CKPT_ERROR_TIMEDOUT;
	case ENOSYS:
	case EOPNOTSUPP:
		return CKPT_ERROR_NOTSUP;
	default:
		return CKPT_ERROR_SYSTEM;
	}
}

int ao_rc_from_xs_errno(int errnoval)
{
	switch (errnoval) {
	case ENOENT:
		return CKPT_ERROR_NOTFOUND;
	case EEXIST:
		return CKPT_ERROR_EXISTS;
	case EINVAL:
		return CKPT_ERROR_INVAL;
	case ENOMEM:
		return CKPT_ERROR_NOMEM;
	default:
		return CKPT_ERROR_XENSTORE;
	}
}
