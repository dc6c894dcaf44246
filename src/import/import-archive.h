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

/* Unpack the tar archive a (opened by the caller) into the tree open as root_fd, with the
 * same guards as import_tar_fd(). filter, when given, sees every entry that passed them:
 * 1 unpacks it, 0 skips it, <0 refuses the archive (OCI layers handle whiteouts there).
 * total: the input's size for progress, 0 to report none. Logging. */
struct archive;
struct archive_entry;
typedef int (*ImportEntryFilter)(struct archive_entry *e, int root_fd, void *userdata);
int import_unpack_at(struct archive *a, int root_fd, uint64_t total, bool private_pool, ImportEntryFilter filter,
                     void *userdata);
/* Refuse (-EFBIG, logged) when a's decompressed bytes exceed the bomb limits below. */
int import_bomb_check(struct archive *a);

/* Limits against hostile archives (see berth-importd(8), "Hostile archives"). */
#define IMPORT_PATH_MAX 4095                    /* bytes of an entry's path */
#define IMPORT_ENTRIES_MAX (16U * 1024 * 1024)  /* entries of one archive */
#define IMPORT_BOMB_FLOOR (256ULL << 20)        /* unpacked bytes before the ratio counts */
#define IMPORT_BOMB_RATIO 1024U                 /* unpacked / packed bytes, beyond the floor */
