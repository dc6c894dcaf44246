/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "image-pool.h"
#include "macro.h"

/* Unpack a tar archive (plain, gzip, xz, bzip2, zstd, lzip...: libarchive detects the
 * compression from the content) read from fd into a new image NAME of the pool, or
 * decompress a raw disk image into NAME.raw. The input's size, when it is a regular file,
 * gives the progress. Logging: every refusal says which entry and why. */
int import_tar_fd(int fd, const ImagePool *pool, const char *name, bool force, bool read_only);
int import_raw_fd(int fd, const ImagePool *pool, const char *name, bool force, bool read_only);

/* Limits against hostile archives (see berth-importd(8), "Hostile archives"). */
#define IMPORT_PATH_MAX 4095                    /* bytes of an entry's path */
#define IMPORT_ENTRIES_MAX (16U * 1024 * 1024)  /* entries of one archive */
#define IMPORT_BOMB_FLOOR (256ULL << 20)        /* unpacked bytes before the ratio counts */
#define IMPORT_BOMB_RATIO 1024U                 /* unpacked / packed bytes, beyond the floor */
