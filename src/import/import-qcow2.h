/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

/* qcow2 images are converted to raw by qemu-img (Debian's qemu-utils), run as a sandboxed
 * child, after the header was checked here: no backing file, no external data file, no
 * encryption, a bounded virtual size (see berth-importd(8), "qcow2 images"). */

#define IMPORT_QCOW2_SIZE_MAX (UINT64_C(16) << 40)   /* virtual size: 16 TiB */

/* Whether the file open as fd starts with the qcow2 magic. */
bool qcow2_detect(int fd);

/* Check the header of the qcow2 image open as fd; its virtual size into *ret_size.
 * -EPERM for a backing or external data file, -EOPNOTSUPP for encryption or unknown
 * incompatible features, -EFBIG beyond IMPORT_QCOW2_SIZE_MAX, -EBADMSG if malformed.
 * Logging. */
int qcow2_check_header(int fd, uint64_t *ret_size);

/* Convert the pool entry dirfd/name (a qcow2 image) in place into a raw image: the qcow2
 * data stays reachable through an unlinked fd only, a new empty file takes the name and
 * qemu-img fills it. Cancelled (-ECANCELED) when import_cancelled is set. Logging. */
int qcow2_convert_in_place(int dirfd, const char *name);
