/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "btrfs-util.h"
#include "fd-util.h"
#include "path-util.h"
#include "string-util.h"

/* The root directory of every subvolume has this inode number. */
#define BTRFS_FIRST_FREE_OBJECTID 256

static bool fd_is_subvolume(int fd) {
        struct statfs fs;
        struct stat st;

        return fstatfs(fd, &fs) >= 0 && fs.f_type == (typeof(fs.f_type)) BTRFS_SUPER_MAGIC &&
               fstat(fd, &st) >= 0 && S_ISDIR(st.st_mode) && st.st_ino == BTRFS_FIRST_FREE_OBJECTID;
}

bool btrfs_is_subvolume(const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        return fd >= 0 && fd_is_subvolume(fd);
}

static int split_parent(const char *path, int *ret_parent_fd, char **ret_name) {
        _cleanup_free_ char *name = path_basename(path), *parent = NULL;
        const char *slash;
        int fd;

        if (!name || strlen(name) >= BTRFS_SUBVOL_NAME_MAX)
                return -EINVAL;
        slash = strrchr(path, '/');
        parent = slash == path ? strdup("/") : slash ? strndup(path, (size_t) (slash - path)) : strdup(".");
        if (!parent)
                return -ENOMEM;
        fd = open(parent, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (fd < 0)
                return -errno;
        *ret_parent_fd = fd;
        *ret_name = TAKE_PTR(name);
        return 0;
}

int btrfs_snapshot(const char *source, const char *dest, bool read_only) {
        _cleanup_close_ int sfd = -EBADF, pfd = -EBADF;
        _cleanup_free_ char *name = NULL;
        struct btrfs_ioctl_vol_args_v2 args = {
                .flags = read_only ? BTRFS_SUBVOL_RDONLY : 0,
        };
        int r;

        sfd = open(source, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (sfd < 0)
                return -errno;
        if (!fd_is_subvolume(sfd))
                return -ENOTTY;

        r = split_parent(dest, &pfd, &name);
        if (r < 0)
                return r;

        args.fd = sfd;
        strncpy(args.name, name, sizeof(args.name) - 1);
        return RET_NERRNO(ioctl(pfd, BTRFS_IOC_SNAP_CREATE_V2, &args));
}

static int remove_nested_subvolumes(const char *path) {
        _cleanup_closedir_ DIR *d = opendir(path);
        struct dirent *de;
        int r;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *child = NULL;

                if (de->d_type != DT_DIR || streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                child = path_join(path, de->d_name);
                if (!child)
                        return -ENOMEM;
                r = btrfs_is_subvolume(child) ? btrfs_subvolume_remove(child) : remove_nested_subvolumes(child);
                if (r < 0)
                        return r;
        }
        return 0;
}

int btrfs_subvolume_remove(const char *path) {
        _cleanup_close_ int pfd = -EBADF;
        _cleanup_free_ char *name = NULL;
        struct btrfs_ioctl_vol_args args = {};
        int r;

        r = split_parent(path, &pfd, &name);
        if (r < 0)
                return r;

        strncpy(args.name, name, sizeof(args.name) - 1);
        if (ioctl(pfd, BTRFS_IOC_SNAP_DESTROY, &args) >= 0)
                return 0;
        if (errno != ENOTEMPTY)
                return -errno;

        /* Nested subvolumes (systemd creates some, e.g. /var/lib/machines) must go first;
         * only in that rare case is the tree walked. */
        r = remove_nested_subvolumes(path);
        if (r < 0)
                return r;
        return RET_NERRNO(ioctl(pfd, BTRFS_IOC_SNAP_DESTROY, &args));
}
