/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "image-pool.h"
#include "macro.h"

/* Copy the directory open as src_fd into a new image NAME: a btrfs snapshot when it is a
 * subvolume on the pool's file system, else a copy (reflinked where possible). Logging. */
int import_fs_fd(int src_fd, const ImagePool *pool, const char *name, bool force, bool read_only);

/* Write image NAME (any image of the search path) to fd: a tree as a tar archive, a raw
 * image as itself; format is "", "uncompressed", "gzip", "xz", "bzip2" or "zstd".
 * Logging. */
int export_tar_fd(const ImagePool *pool, const char *name, const char *format, int fd);
int export_raw_fd(const ImagePool *pool, const char *name, const char *format, int fd);
bool export_format_is_valid(const char *format);
