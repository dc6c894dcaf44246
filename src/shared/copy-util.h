/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "macro.h"

/* Copy a directory tree with everything a machine image needs to stay intact: file
 * types (devices, FIFOs, sockets, symlinks), ownership, modes including set-ID bits,
 * timestamps, extended attributes (ACLs, capabilities) and hard links. File contents are
 * reflinked where the file system can, else copied in the kernel (copy_file_range).
 * Never follows symlinks and never crosses into another mounted file system. 'dest'
 * must not exist. */
int copy_tree(const char *source, const char *dest);

/* Maps a copied inode's owner (e.g. into or out of a machine's user namespace). */
typedef void (*CopyMapOwner)(void *userdata, uid_t *uid, gid_t *gid);

typedef struct CopyOptions {
        CopyMapOwner map_owner;   /* NULL: ownership as in the source */
        void *userdata;
        bool replace;             /* replace an existing destination (file or tree) */
} CopyOptions;

/* Copy the file or tree from_dir/from_name (not following a symlink there) to
 * to_dir/to_name with the same care as copy_tree(), holes in sparse files kept. The copy
 * is made under a temporary name next to the destination and renamed into place at the
 * end, so a failed copy leaves nothing and an existing destination is replaced (with
 * o->replace) atomically or not touched (-EEXIST). */
int copy_tree_at(int from_dir, const char *from_name, int to_dir, const char *to_name, const CopyOptions *o);

/* The contents of regular file 'from' (of 'size' bytes) into 'to': a reflink where the
 * file system can, else in the kernel, holes kept. */
int copy_file_data(int from, int to, off_t size);
