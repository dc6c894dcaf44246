/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <sys/mount.h>
#include <sys/types.h>

#include "macro.h"

/* Safe path resolution inside a root (openat2 RESOLVE_IN_ROOT, no magic links) and
 * mounting through the new mount API, so no mount target is ever looked up by a path
 * string that an untrusted tree could redirect. */

typedef enum ChaseFlags {
        CHASE_MKDIR  = 1 << 0,   /* create missing components (and the last as a directory) */
        CHASE_MKFILE = 1 << 1,   /* create missing parents as directories, the last as an empty file */
} ChaseFlags;

/* Returns an O_PATH fd of 'path' resolved with 'rootfd' as the root. */
int chase_in_root(int rootfd, const char *path, ChaseFlags flags, int *ret_fd);
/* Read a regular file of at most 'max' bytes at 'path' resolved inside 'rootfd' (a tree
 * that may be hostile): -EBADFD for anything else (FIFO, device, socket, directory),
 * which is never opened for reading, so opening it has no side effects and nothing
 * blocks. -EFBIG past 'max'. */
int read_regular_file_in_root(int rootfd, const char *path, size_t max, char **ret, size_t *ret_size);

/* Mount a fresh file system of 'fstype' on target_fd. 'options' is a comma-separated
 * list of key[=value] superblock options; 'attr' are MOUNT_ATTR_* flags. */
int mount_fs_fd(int target_fd, const char *fstype, const char *source, const char *options, unsigned attr);
/* Create a detached mount of a fresh file system. */
int fs_create_detached(const char *fstype, const char *source, const char *options, unsigned attr, int *ret_fd);

/* Clone the mount (tree) at dirfd/path into a detached mount, optionally read-only. */
int mount_clone_detached(int dirfd, const char *path, bool recursive, bool read_only, int *ret_fd);
/* Attach a detached mount onto target_fd. */
int mount_attach(int mount_fd, int target_fd);
/* Set or clear MOUNT_ATTR_* flags on the mount at fd (recursively if asked). */
int mount_set_attr(int fd, unsigned set, unsigned clear, bool recursive);
/* Make the mount (tree) at fd private: nothing mounted on it propagates anywhere. */
int mount_make_private(int fd, bool recursive);

/* The ID of the mount on top at 'path' (statx(): the 64-bit unique ID where the kernel has
 * it, else the mountinfo ID), so that a mount can be recognized later by another process. */
int path_mount_id(const char *path, uint64_t *ret);
/* Detach the mount on top at 'path' and everything below it, if it is still mount 'id'
 * (path_mount_id()): 1 if detached, 0 if another mount is there now. */
int mount_detach_if_id(const char *path, uint64_t id);

/* Split "mode=0755,nosuid,ro,size=1M" into superblock options for fsconfig() and the
 * per-mount MOUNT_ATTR_* flags (nosuid, nodev, noexec, ro, noatime...). */
int mount_options_split(const char *options, char **ret_fs_options, unsigned *ret_attr);

/* Remove a directory tree below dirfd/name without following symlinks or crossing mounts. */
int rm_rf_at(int dirfd, const char *name);
