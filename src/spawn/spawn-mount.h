/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "spawn-config.h"

typedef struct SpawnState SpawnState;

/* The machine's file systems, as data: one table of API mounts applied in order by one
 * function, then the user's custom mounts. Every target is resolved inside the machine's
 * root (openat2 RESOLVE_IN_ROOT, no magic links) and mounted through the fd. */

typedef enum MountKind {
        MOUNT_FS,           /* a fresh file system */
        MOUNT_READ_ONLY,    /* re-bind a path onto itself read-only */
        MOUNT_MASK,         /* hide a file (empty file) or directory (empty directory) */
} MountKind;

typedef struct MountEntry {
        MountKind kind;
        const char *where;
        const char *fstype;
        const char *options;
        unsigned attr;      /* MOUNT_ATTR_* */
        bool optional;      /* skip if the target does not exist */
} MountEntry;

const MountEntry *mount_api_table(size_t *ret_n);
/* The table's file system mounted at 'where', or NULL. */
const MountEntry *mount_api_entry(const char *where);
bool mount_sysfs_writable(const SpawnConfig *c);

typedef struct MountContext {
        int rootfd;         /* the machine's root, after pivot_root */
        int hidden_fd;      /* a detached tmpfs with the empty nodes used for masking */
        int journal_fd;     /* --link-journal=host: the host's journal directory, cloned */
        int *custom_fds;    /* per custom mount: a prepared detached mount, or -EBADF */
        size_t n_custom;
        bool userns;        /* the machine gets a user namespace: hand what we create to its root */
        const char *apifs_context; /* -L: SELinux context= of tmpfs and devpts mounts */
        uint32_t uid_shift;
        uint32_t gid_shift;
        const IdMap *uid_map, *gid_map; /* OCI's own maps (PRIVATE_USERS_MAPPED), else empty */
} MountContext;

void mount_context_done(MountContext *m);
/* The host ID of the machine's ID 'id' for what we create for it: id itself without a user
 * namespace, shifted under -U, through OCI's maps (their root where 'id' is not mapped). */
uid_t mount_host_uid(const MountContext *m, uid_t id);
gid_t mount_host_gid(const MountContext *m, gid_t id);

/* Before pivot_root: everything that refers to host paths (bind sources, overlay layers)
 * is opened here, while the host's tree is still visible. */
int mount_prepare_custom(const SpawnConfig *c, const SpawnState *s, MountContext *m);
/* Bind the tree onto itself, pivot_root into it, detach the host (or, sharing the
 * runtime's mount namespace, chroot into it). */
int mount_switch_root(const SpawnConfig *c, const SpawnState *s, MountContext *m);
int mount_api_filesystems(const SpawnConfig *c, MountContext *m);
int mount_custom(const SpawnConfig *c, const SpawnState *s, MountContext *m);

/* Stack an overlay on the mount at dirfd: the mount is the lower layer, changes go to a
 * tmpfs that disappears with the mount namespace. */
int mount_overlay_tmpfs(int dirfd);

/* Overlay work directories live next to the upper directory; the parent creates them
 * before the machine starts and removes them afterwards. */
int overlay_workdirs_create(const SpawnConfig *c, SpawnState *s);
void overlay_workdirs_remove(const SpawnConfig *c, SpawnState *s);

/* OCI without a mount namespace: detach the machine's mount of its tree (and everything
 * mounted on it) from ours, if mount *id is still there; *id becomes 0. Logs. */
int mount_root_release(const char *directory, uint64_t *id);
