/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* Loop devices, attached atomically with LOOP_CONFIGURE (backing file, flags and
 * partition scan in one call, so nobody sees a half-configured device) and with
 * autoclear: the kernel detaches the device once the last fd and mount of it are gone,
 * so nothing is left behind even if we are killed. No udev needed: the nodes come from
 * devtmpfs, and where /dev has none (a container's /dev) we make a private one, for the
 * device and for its partitions. */

typedef struct LoopDevice {
        int fd;
        int nr;
        dev_t devnum;
        char name[32];          /* /dev/loopN, the kernel's name for it (logs, state file) */
        char node[32];          /* a path that opens or mounts it: name, or /proc/self/fd/FD
                                 * of fd when /dev has no node for it */
} LoopDevice;

#define LOOP_DEVICE_NULL { .fd = -EBADF, .nr = -1 }

int loop_device_attach(int backing_fd, bool read_only, LoopDevice *ret);
void loop_device_done(LoopDevice *d);

/* Open partition 'partno' of the loop device, after checking that the kernel's view of
 * it is the one we dissected (same offset and size: -EUCLEAN if not, -ENXIO if the kernel
 * has no such partition). *ret_node is a path naming it for mounting (its /dev node, or
 * /proc/self/fd/N of the returned fd). */
int loop_device_open_partition(const LoopDevice *d, unsigned partno, uint64_t offset, uint64_t size,
                               bool read_only, int *ret_fd, char **ret_node);
