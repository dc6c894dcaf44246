/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* Copy a directory tree with everything a machine image needs to stay intact: file
 * types (devices, FIFOs, sockets, symlinks), ownership, modes including set-ID bits,
 * timestamps, extended attributes (ACLs, capabilities) and hard links. File contents are
 * reflinked where the file system can, else copied in the kernel (copy_file_range).
 * Never follows symlinks and never crosses into another mounted file system. 'dest'
 * must not exist. */
int copy_tree(const char *source, const char *dest);
