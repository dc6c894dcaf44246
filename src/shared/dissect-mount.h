/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dissect.h"

/* Mounting what dissect.h found: the parts berth-spawn's -i and berthd's image readers
 * share. Non-logging. Mounts are made in the caller's mount namespace, which must be a
 * private one (berth-spawn's own, a berthd worker's): never the host's. */

/* Where an image's file systems are assembled inside such a private namespace; every
 * user can mount over the same empty directory. */
#define IMAGE_MOUNT_POINT "/run/berth/image-root"

/* Mount order: parents before children. */
extern const PartitionDesignator partition_mount_order[];
extern const size_t partition_mount_order_n;

/* File systems that cannot be written at all. */
bool fstype_read_only(const char *fstype);
/* Size of an image: a regular file or a block device; -EINVAL for anything else. */
int image_fd_size(int fd, uint64_t *ret);
/* Probe the file system of a whole block device node (a decrypted or verity device). */
int partition_probe_node(const char *node, char *fstype, size_t size);
/* Where partition d goes in the tree at rootfd (with root and, for the ESP, usr mounted):
 * the ESP goes to /efi, or to /boot when there is no XBOOTLDR partition and the tree has
 * /boot but no /efi. */
const char *partition_where(const DissectedImage *m, PartitionDesignator d, int rootfd);

typedef enum DissectMountFlags {
        /* Only root and /usr: what os-release and the rest of /etc need, as systemd's
         * image metadata readers do; the ESP's vfat may not even be in the kernel. */
        DISSECT_MOUNT_ROOT_AND_USR = 1 << 0,
} DissectMountFlags;

/* Attach the image at image_fd to a read-only loop device and mount its plain file systems
 * read-only at 'where' (a directory in a private mount namespace) in mount order, each on
 * its directory resolved inside the image (skipped if the image has none). The loop device
 * goes away with the mounts. Encrypted partitions: -EOPNOTSUPP (nobody to ask for a
 * passphrase); verity data is not checked (nothing trusted to check it against). An image
 * that cannot be dissected, or a partition without a supported file system: -EBADMSG.
 * Returns an O_PATH fd of the mounted root. */
int dissected_image_mount_read_only(int image_fd, const char *where, DissectMountFlags flags, int *ret_rootfd);
