/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/btrfs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

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

int btrfs_subvolume_make(const char *path) {
        _cleanup_close_ int pfd = -EBADF;
        _cleanup_free_ char *name = NULL;
        struct btrfs_ioctl_vol_args args = {};
        int r;

        r = split_parent(path, &pfd, &name);
        if (r < 0)
                return r;
        strncpy(args.name, name, sizeof(args.name) - 1);
        return RET_NERRNO(ioctl(pfd, BTRFS_IOC_SUBVOL_CREATE, &args));
}

static int remove_nested_subvolumes(const char *path) {
        _cleanup_closedir_ DIR *d = opendir(path);
        int r;

        if (!d)
                return -errno;
        FOREACH_DIRENT(de, d) {
                _cleanup_free_ char *child = NULL;

                if (de->d_type != DT_DIR)
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

int btrfs_subvolume_get_read_only_fd(int fd) {
        uint64_t flags;

        if (!fd_is_subvolume(fd))
                return -ENOTTY;
        if (ioctl(fd, BTRFS_IOC_SUBVOL_GETFLAGS, &flags) < 0)
                return -errno;
        return !!(flags & BTRFS_SUBVOL_RDONLY);
}

int btrfs_subvolume_set_read_only_fd(int fd, bool read_only) {
        uint64_t flags, nflags;

        if (!fd_is_subvolume(fd))
                return -ENOTTY;
        if (ioctl(fd, BTRFS_IOC_SUBVOL_GETFLAGS, &flags) < 0)
                return -errno;
        nflags = read_only ? flags | BTRFS_SUBVOL_RDONLY : flags & ~(uint64_t) BTRFS_SUBVOL_RDONLY;
        if (nflags == flags)
                return 0;
        return RET_NERRNO(ioctl(fd, BTRFS_IOC_SUBVOL_SETFLAGS, &nflags));
}

int btrfs_subvolume_get_id_fd(int fd, uint64_t *ret) {
        struct btrfs_ioctl_ino_lookup_args args = {
                .objectid = BTRFS_FIRST_FREE_OBJECTID,
        };

        if (!fd_is_subvolume(fd))
                return -ENOTTY;
        if (ioctl(fd, BTRFS_IOC_INO_LOOKUP, &args) < 0)
                return -errno;
        *ret = args.treeid;
        return 0;
}

static int qgroup_sysfs_dir(int fd, uint64_t *ret_id, char **ret_dir) {
        struct btrfs_ioctl_fs_info_args info = {};
        char uuid[37], *dir;
        uint64_t id;
        int r;

        r = btrfs_subvolume_get_id_fd(fd, &id);
        if (r < 0)
                return r;
        if (ioctl(fd, BTRFS_IOC_FS_INFO, &info) < 0)
                return -errno;
        snprintf(uuid, sizeof(uuid),
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 info.fsid[0], info.fsid[1], info.fsid[2], info.fsid[3], info.fsid[4], info.fsid[5],
                 info.fsid[6], info.fsid[7], info.fsid[8], info.fsid[9], info.fsid[10], info.fsid[11],
                 info.fsid[12], info.fsid[13], info.fsid[14], info.fsid[15]);
        if (asprintf(&dir, "/sys/fs/btrfs/%s/qgroups/0_%" PRIu64, uuid, id) < 0)
                return -ENOMEM;
        if (access(dir, F_OK) < 0) {
                free(dir);
                return -ENOTCONN;   /* quotas are not enabled */
        }
        *ret_id = id;
        *ret_dir = dir;
        return 0;
}

static int read_u64_at(const char *dir, const char *name, uint64_t *ret) {
        _cleanup_free_ char *p = path_join(dir, name);
        _cleanup_fclose_ FILE *f = NULL;
        char buf[32];

        if (!p)
                return -ENOMEM;
        f = fopen(p, "re");
        if (!f)
                return -errno;
        if (!fgets(buf, sizeof(buf), f))
                return -EIO;
        if (startswith(buf, "none")) {
                *ret = UINT64_MAX;
                return 0;
        }
        errno = 0;
        *ret = strtoull(buf, NULL, 10);
        return errno > 0 ? -errno : 0;
}

int btrfs_qgroup_get_fd(int fd, uint64_t *ret_referenced, uint64_t *ret_max_referenced) {
        _cleanup_free_ char *dir = NULL;
        uint64_t id;
        int r;

        r = qgroup_sysfs_dir(fd, &id, &dir);
        if (r < 0)
                return r;
        if (ret_referenced) {
                r = read_u64_at(dir, "referenced", ret_referenced);
                if (r < 0)
                        return r;
        }
        if (ret_max_referenced) {
                r = read_u64_at(dir, "max_referenced", ret_max_referenced);
                if (r < 0)
                        return r;
                if (*ret_max_referenced == 0)   /* sysfs shows a removed limit as 0 */
                        *ret_max_referenced = UINT64_MAX;
        }
        return 0;
}

int btrfs_qgroup_set_limit_fd(int fd, uint64_t limit) {
        _cleanup_free_ char *dir = NULL;
        struct btrfs_ioctl_qgroup_limit_args args = {};
        uint64_t id;
        int r;

        /* Refuse rather than enable quotas: enabling them costs every write on the file system. */
        r = qgroup_sysfs_dir(fd, &id, &dir);
        if (r < 0)
                return r;
        args.qgroupid = id;
        args.lim.flags = BTRFS_QGROUP_LIMIT_MAX_RFER;
        args.lim.max_rfer = limit == UINT64_MAX ? (uint64_t) -1 : limit;
        return RET_NERRNO(ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, &args));
}
