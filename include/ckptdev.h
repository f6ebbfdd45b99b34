/*
 * ckptdev.h - everything a toolstack needs from ckptdev, in one include.
 *
 * ckptdev protects a replicated VM's devices between checkpoints: nothing
 * the guest sends leaves the primary host before the backup holds the
 * checkpoint that produced it.  The modules:
 *   ckptdev/ao.h       context, errors, event loops, async operations, faults
 *   ckptdev/devices.h  devsets, device kinds, the checkpoint steps
 *   ckptdev/netbuf.h   the NIC kind's buffer counters
 */
#ifndef CKPTDEV_H
#define CKPTDEV_H

#include "ckptdev/ao.h"
#include "ckptdev/devices.h"
#include "ckptdev/netbuf.h"

#endif /* CKPTDEV_H */
