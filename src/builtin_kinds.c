/*
 * builtin_kinds.c - the device kinds every context knows, as this build
 * puts them together: the one place that names them all.
 */
#include "netbuf/internal.h"

const ckpt_dev_kind *const dev_builtin_kinds[] = {
        &nb_nic_kind,
        &dev_disk_kind,
        NULL,
};
