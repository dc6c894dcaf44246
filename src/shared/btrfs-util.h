/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* btrfs subvolumes through the kernel's ioctls (no btrfs-progs at run time). */

bool btrfs_is_subvolume(const char *path);
/* Snapshot the subvolume at 'source' to 'dest' (which must not exist). */
int btrfs_snapshot(const char *source, const char *dest, bool read_only);
/* Delete the subvolume at 'path' (and subvolumes nested in it). */
int btrfs_subvolume_remove(const char *path);
