/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "macro.h"

/* btrfs subvolumes through the kernel's ioctls (no btrfs-progs at run time). */

bool btrfs_is_subvolume(const char *path);
/* Snapshot the subvolume at 'source' to 'dest' (which must not exist). */
int btrfs_snapshot(const char *source, const char *dest, bool read_only);
/* Create an empty subvolume at 'path' (which must not exist); -ENOTTY off btrfs. No
 * quota group is set up for it: nothing here enables quotas. */
int btrfs_subvolume_make(const char *path);
/* Delete the subvolume at 'path' (and subvolumes nested in it). */
int btrfs_subvolume_remove(const char *path);

/* The read-only flag of the subvolume at fd (BTRFS_SUBVOL_RDONLY). */
int btrfs_subvolume_get_read_only_fd(int fd);
int btrfs_subvolume_set_read_only_fd(int fd, bool read_only);

/* Quota groups, read from /sys/fs/btrfs/<fsid>/qgroups/ (present only while quotas are
 * enabled: nothing here ever enables them). Returns -ENOTCONN when quotas are off. */
int btrfs_subvolume_get_id_fd(int fd, uint64_t *ret);
int btrfs_qgroup_get_fd(int fd, uint64_t *ret_referenced, uint64_t *ret_max_referenced);
/* Limit the referenced size of the subvolume at fd (UINT64_MAX: no limit). */
int btrfs_qgroup_set_limit_fd(int fd, uint64_t limit);
