/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd-util.h"
#include "mount-util.h"
#include "string-util.h"

static int openat2_in_root(int rootfd, const char *path, int *ret_fd) {
        struct open_how how = {
                .flags = O_PATH|O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS,
        };
        int fd;

        do
                fd = (int) syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
        while (fd < 0 && errno == EAGAIN);   /* a concurrent rename elsewhere: retry */
        if (fd < 0)
                return -errno;
        *ret_fd = fd;
        return 0;
}

int chase_in_root(int rootfd, const char *path, ChaseFlags flags, int *ret_fd) {
        _cleanup_free_ char *parent = NULL;
        _cleanup_close_ int parent_fd = -EBADF;
        const char *base;
        int r;

        r = openat2_in_root(rootfd, path, ret_fd);
        if (r != -ENOENT || !(flags & (CHASE_MKDIR|CHASE_MKFILE)))
                return r;

        /* Create the parent first (always as a directory), then the last component
         * without following anything: a dangling symlink makes mkdirat() fail with
         * EEXIST, and the re-resolution below then fails as it should. */
        base = strrchr(path, '/');
        if (!base || base[1] == 0)
                return -ENOENT;
        parent = strndup(path, (size_t) (base - path));
        if (!parent)
                return -ENOMEM;
        base++;

        r = chase_in_root(rootfd, isempty(parent) ? "/" : parent, CHASE_MKDIR, &parent_fd);
        if (r < 0)
                return r;

        /* O_PATH fds cannot be used as a dirfd for creation; reopen as a directory. */
        {
                _cleanup_close_ int dfd = openat(parent_fd, ".", O_RDONLY|O_DIRECTORY|O_CLOEXEC);
                if (dfd < 0)
                        return -errno;
                if (flags & CHASE_MKFILE) {
                        int fd = openat(dfd, base, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY, 0644);
                        if (fd < 0 && errno != EEXIST)
                                return -errno;
                        safe_close(fd);
                } else if (mkdirat(dfd, base, 0755) < 0 && errno != EEXIST)
                        return -errno;
        }

        return openat2_in_root(rootfd, path, ret_fd);
}

int read_regular_file_in_root(int rootfd, const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int pathfd = -EBADF, fd = -EBADF;
        char fn[64];
        struct stat st;
        int r;

        r = chase_in_root(rootfd, path, 0, &pathfd);
        if (r < 0)
                return r;
        if (fstat(pathfd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;

        /* Reopen the O_PATH fd itself: resolving 'path' again could land elsewhere. */
        snprintf(fn, sizeof(fn), "/proc/self/fd/%i", pathfd);
        fd = open(fn, O_RDONLY|O_CLOEXEC|O_NOCTTY|O_NONBLOCK);
        if (fd < 0)
                return -errno;
        return read_full_fd(fd, max, ret, ret_size);
}

/* The next comma-separated option of *p, cut out in place; a value in double quotes
 * (context="a,b") may hold commas and loses its quotes. NULL at the end. */
static char *next_option(char **p) {
        char *o = *p, *w = *p;
        bool quoted = false;

        if (!*o)
                return NULL;
        for (; **p && (quoted || **p != ','); (*p)++)
                if (**p == '"')
                        quoted = !quoted;
                else
                        *w++ = **p;
        if (**p)
                (*p)++;
        *w = 0;
        return o;
}

static int fs_configure(int fsfd, const char *source, const char *options) {
        _cleanup_free_ char *opts = NULL;
        char *p, *o;

        if (source && fsconfig(fsfd, FSCONFIG_SET_STRING, "source", source, 0) < 0)
                return -errno;

        if (!isempty(options)) {
                opts = strdup(options);
                if (!opts)
                        return -ENOMEM;
                p = opts;
                while ((o = next_option(&p))) {
                        char *eq = strchr(o, '=');
                        int r;

                        if (!*o)
                                continue;
                        if (eq) {
                                *eq = 0;
                                r = fsconfig(fsfd, FSCONFIG_SET_STRING, o, eq + 1, 0);
                        } else
                                r = fsconfig(fsfd, FSCONFIG_SET_FLAG, o, NULL, 0);
                        if (r < 0)
                                return -errno;
                }
        }

        return RET_NERRNO(fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
}

int fs_create_detached(const char *fstype, const char *source, const char *options, unsigned attr, int *ret_fd) {
        _cleanup_close_ int fsfd = -EBADF;
        int r, mfd;

        fsfd = fsopen(fstype, FSOPEN_CLOEXEC);
        if (fsfd < 0)
                return -errno;

        r = fs_configure(fsfd, source, options);
        if (r < 0)
                return r;

        mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attr);
        if (mfd < 0)
                return -errno;
        *ret_fd = mfd;
        return 0;
}

int mount_attach(int mount_fd, int target_fd) {
        return RET_NERRNO(move_mount(mount_fd, "", target_fd, "",
                                     MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH));
}

int mount_fs_fd(int target_fd, const char *fstype, const char *source, const char *options, unsigned attr) {
        _cleanup_close_ int mfd = -EBADF;
        int r;

        r = fs_create_detached(fstype, source, options, attr, &mfd);
        if (r < 0)
                return r;
        return mount_attach(mfd, target_fd);
}

int mount_set_attr(int fd, unsigned set, unsigned clear, bool recursive) {
        struct mount_attr a = {
                .attr_set = set,
                .attr_clr = clear,
        };

        return RET_NERRNO(mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof(a)));
}

int mount_make_private(int fd, bool recursive) {
        struct mount_attr a = { .propagation = MS_PRIVATE };

        return RET_NERRNO(mount_setattr(fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof(a)));
}

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U     /* Linux 6.8 */
#endif

int path_mount_id(const char *path, uint64_t *ret) {
        struct statx sx = {};

        /* both asked for: the kernel answers with the unique ID if it has one, so that a
         * recorded ID and a later one are always of the same kind on this kernel */
        if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_MNT_ID|STATX_MNT_ID_UNIQUE, &sx) < 0)
                return -errno;
        if (!(sx.stx_mask & (STATX_MNT_ID|STATX_MNT_ID_UNIQUE)))
                return -EOPNOTSUPP;
        *ret = sx.stx_mnt_id;
        return 0;
}

int mount_detach_if_id(const char *path, uint64_t id) {
        uint64_t now;
        int r;

        r = path_mount_id(path, &now);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        if (now != id)
                return 0;
        if (umount2(path, MNT_DETACH|UMOUNT_NOFOLLOW) < 0)
                return -errno;
        return 1;
}

int mount_clone_detached(int dirfd, const char *path, bool recursive, bool read_only, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = open_tree(dirfd, path, OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC |
                       (recursive ? AT_RECURSIVE : 0) | (isempty(path) ? AT_EMPTY_PATH : 0));
        if (fd < 0)
                return -errno;

        if (read_only) {
                r = mount_set_attr(fd, MOUNT_ATTR_RDONLY, 0, recursive);
                if (r < 0)
                        return r;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int mount_options_split(const char *options, char **ret_fs_options, unsigned *ret_attr) {
        static const struct {
                const char *name;
                unsigned attr;
        } attrs[] = {
                { "ro",          MOUNT_ATTR_RDONLY      },
                { "nosuid",      MOUNT_ATTR_NOSUID      },
                { "nodev",       MOUNT_ATTR_NODEV       },
                { "noexec",      MOUNT_ATTR_NOEXEC      },
                { "noatime",     MOUNT_ATTR_NOATIME     },
                { "relatime",    MOUNT_ATTR_RELATIME    },
                { "strictatime", MOUNT_ATTR_STRICTATIME },
                { "nodiratime",  MOUNT_ATTR_NODIRATIME  },
                { "rw",          0                      },
                { "suid",        0                      },
                { "dev",         0                      },
                { "exec",        0                      },
        };
        _cleanup_free_ char *copy = NULL, *fs = NULL;
        char *saveptr = NULL, *w;
        unsigned attr = 0;

        copy = strdup(strempty(options));
        fs = calloc(1, strlen(strempty(options)) + 1);
        if (!copy || !fs)
                return -ENOMEM;

        w = fs;
        for (char *o = strtok_r(copy, ",", &saveptr); o; o = strtok_r(NULL, ",", &saveptr)) {
                bool found = false;

                for (size_t i = 0; i < ELEMENTSOF(attrs); i++)
                        if (streq(o, attrs[i].name)) {
                                attr |= attrs[i].attr;
                                found = true;
                        }
                if (found)
                        continue;
                if (w != fs)
                        *w++ = ',';
                w = stpcpy(w, o);
        }

        *ret_fs_options = TAKE_PTR(fs);
        *ret_attr = attr;
        return 0;
}

int rm_rf_at(int parent_fd, const char *name) {
        _cleanup_closedir_ DIR *d = NULL;
        struct stat st;

        if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISDIR(st.st_mode))
                return RET_NERRNO(unlinkat(parent_fd, name, 0));

        d = opendir_at(parent_fd, name);
        if (!d)
                return -errno;

        FOREACH_DIRENT(de, d) {
                struct stat cst;
                int r;

                if (fstatat(dirfd(d), de->d_name, &cst, AT_SYMLINK_NOFOLLOW) < 0)
                        return -errno;
                if (S_ISDIR(cst.st_mode) && cst.st_dev != st.st_dev)
                        return -EXDEV;     /* never descend into another mount */
                r = rm_rf_at(dirfd(d), de->d_name);
                if (r < 0)
                        return r;
        }

        return RET_NERRNO(unlinkat(parent_fd, name, AT_REMOVEDIR));
}
