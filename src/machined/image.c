/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "btrfs-util.h"
#include "copy-util.h"
#include "fd-util.h"
#include "image-metadata.h"
#include "image.h"
#include "image-pool.h"
#include "machine-query.h"
#include "os-release.h"
#include "mount-util.h"
#include "path-util.h"
#include "string-util.h"

static char *image_entry(const Image *i, const char *name) {
        return i->type == IMAGE_RAW ? strjoin(name, ".raw") : strdup(name);
}

int image_rename(const ImagePool *pool, const Image *i, const char *new_name) {
        _cleanup_free_ char *from = NULL, *to = NULL;
        _cleanup_close_ int dirfd = -EBADF;

        if (!i->in_pool || image_is_host(i))
                return -EROFS;
        if (!image_name_is_valid(new_name) || streq(new_name, ".host"))
                return -EINVAL;
        from = image_entry(i, i->name);
        to = image_entry(i, new_name);
        if (!from || !to)
                return -ENOMEM;
        dirfd = open(pool->path, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (dirfd < 0)
                return -errno;
        return RET_NERRNO(renameat2(dirfd, from, dirfd, to, RENAME_NOREPLACE));
}

int image_set_read_only(const Image *i, bool read_only) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (!i->in_pool || image_is_host(i))
                return -EROFS;

        fd = open(i->path, (i->type == IMAGE_RAW ? O_RDONLY : O_RDONLY|O_DIRECTORY)|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY|O_NONBLOCK);
        if (fd < 0)
                return -errno;
        switch (i->type) {
        case IMAGE_SUBVOLUME:
                return btrfs_subvolume_set_read_only_fd(fd, read_only);
        case IMAGE_DIRECTORY:
                /* The mode of the top directory means something inside the machine; the
                 * immutable flag does not (machined does the same). */
                return fd_set_immutable(fd, read_only);
        case IMAGE_RAW:
                if (fstat(fd, &st) < 0)
                        return -errno;
                return RET_NERRNO(fchmod(fd, (st.st_mode & 07555) | (read_only ? 0 : 0200)));
        default:
                return -EOPNOTSUPP;
        }
}

int image_remove(const ImagePool *pool, const Image *i) {
        _cleanup_free_ char *entry = NULL;
        _cleanup_close_ int dirfd = -EBADF;

        if (!i->in_pool || image_is_host(i))
                return -EROFS;
        entry = image_entry(i, i->name);
        if (!entry)
                return -ENOMEM;
        dirfd = open(pool->path, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (dirfd < 0)
                return -errno;
        return image_pool_remove_entry_at(dirfd, pool->path, entry);
}

int image_read_os_release(const Image *i, char ***ret) {
        _cleanup_close_ int fd = -EBADF;

        if (i->type == IMAGE_RAW)
                return image_raw_read_os_release(i->path, ret);
        if (i->type != IMAGE_DIRECTORY && i->type != IMAGE_SUBVOLUME)
                return -EOPNOTSUPP;
        fd = open(i->path, O_PATH|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return os_release_read_at(fd, ret);
}

int image_set_limit(const Image *i, uint64_t limit) {
        _cleanup_close_ int fd = -EBADF;

        if (i->type != IMAGE_SUBVOLUME)
                return -EOPNOTSUPP;
        fd = open(i->path, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return btrfs_qgroup_set_limit_fd(fd, limit);
}

static int copy_file_to(const char *source, int dirfd, const char *name) {
        _cleanup_close_ int from = -EBADF, to = -EBADF;
        struct stat st;
        int r;

        from = open(source, O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY);
        if (from < 0 || fstat(from, &st) < 0)
                return -errno;
        to = openat(dirfd, name, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0600);
        if (to < 0)
                return -errno;
        r = copy_file_data(from, to, st.st_size);
        if (r < 0)
                return r;
        if (fchown(to, st.st_uid, st.st_gid) < 0 || fchmod(to, st.st_mode & 07777) < 0)
                return -errno;
        return 0;
}

int image_clone(const ImagePool *pool, const Image *src, const char *dst, const char *tmp_name,
                bool read_only, char *msg, size_t msg_size) {
        _cleanup_free_ char *tmp_path = NULL, *final = NULL;
        _cleanup_close_ int dirfd = -EBADF, fd = -EBADF;
        bool snapshot = false;
        int r;

        dirfd = open(pool->path, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (dirfd < 0) {
                r = -errno;
                snprintf(msg, msg_size, "Failed to open pool %s: %s", pool->path, strerror(-r));
                return r;
        }
        tmp_path = path_join(pool->path, tmp_name);
        final = image_entry(src, dst);
        if (!tmp_path || !final)
                return -ENOMEM;

        if (src->type == IMAGE_SUBVOLUME) {
                /* O(1) and atomic; another file system or no btrfs: copy instead. */
                r = btrfs_snapshot(src->path, tmp_path, read_only);
                if (r >= 0)
                        snapshot = true;
                else if (r != -EXDEV && r != -ENOTTY && r != -EOPNOTSUPP) {
                        snprintf(msg, msg_size, "Failed to snapshot image '%s': %s", src->name, strerror(-r));
                        goto fail;
                }
        }
        if (!snapshot) {
                r = src->type == IMAGE_RAW ? copy_file_to(src->path, dirfd, tmp_name) : copy_tree(src->path, tmp_path);
                if (r < 0) {
                        snprintf(msg, msg_size, "Failed to copy image '%s': %s", src->name, strerror(-r));
                        goto fail;
                }
                if (read_only && src->type == IMAGE_RAW) {
                        r = RET_NERRNO(fchmodat(dirfd, tmp_name, 0444, 0));
                        if (r < 0) {
                                snprintf(msg, msg_size, "Failed to mark the copy read-only: %s", strerror(-r));
                                goto fail;
                        }
                }
                /* The data must be on disk before the name says the image is complete. */
                if (syncfs(dirfd) < 0) {
                        r = -errno;
                        snprintf(msg, msg_size, "Failed to sync pool: %s", strerror(-r));
                        goto fail;
                }
        }

        r = RET_NERRNO(renameat2(dirfd, tmp_name, dirfd, final, RENAME_NOREPLACE));
        if (r < 0) {
                if (r == -EEXIST)
                        snprintf(msg, msg_size, "Image '%s' already exists.", dst);
                else
                        snprintf(msg, msg_size, "Failed to rename the copy to '%s': %s", dst, strerror(-r));
                goto fail;
        }

        /* An immutable directory cannot be renamed: mark it only under its final name
         * (the caller holds that name's lock, so nobody sees it writable meanwhile). */
        if (read_only && !snapshot && src->type != IMAGE_RAW) {
                fd = openat(dirfd, final, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
                r = fd < 0 ? -errno : fd_set_immutable(fd, true);
                if (r < 0) {
                        snprintf(msg, msg_size, "Failed to mark '%s' read-only: %s", dst, strerror(-r));
                        (void) image_pool_remove_entry_at(dirfd, pool->path, final);
                        return r;
                }
        }
        return 0;

fail:
        (void) image_pool_remove_entry_at(dirfd, pool->path, tmp_name);
        return r;
}

/* ".#NAME.XXXXXX" → NAME, or NULL when entry is no temporary of ours. */
static char *tmp_owner(const char *entry) {
        const char *s = startswith(entry, ".#"), *dot;
        char *name;

        if (!s)
                return NULL;
        dot = strrchr(s, '.');
        if (!dot || dot == s || strlen(dot) != 7)
                return NULL;
        name = strndup(s, (size_t) (dot - s));
        if (name && !image_name_is_valid(name)) {
                free(name);
                return NULL;
        }
        return name;
}

int image_pool_remove_stale_temporaries(const ImagePool *pool, char * const *skip, char ***ret_removed) {
        _cleanup_strv_free_ char **removed = NULL;
        _cleanup_closedir_ DIR *d = opendir(pool->path);
        struct dirent *de;
        int r, ret = 0;

        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *owner = tmp_owner(de->d_name);
                _cleanup_(lock_file_release) LockFile lock = LOCK_FILE_NULL;

                if (!owner || strv_contains(skip, de->d_name))
                        continue;
                /* A worker that is still copying holds the lock of the name it copies to
                 * (also one of a berthd that was SIGKILLed and not yet reaped). */
                if (image_name_lock(pool, owner, LOCK_EX, &lock) < 0)
                        continue;
                r = image_pool_remove_entry_at(dirfd(d), pool->path, de->d_name);
                if (r < 0) {
                        ret = ret ?: r;
                        continue;
                }
                if (ret_removed && strv_extend(&removed, de->d_name) < 0)
                        return -ENOMEM;
        }
        if (ret_removed)
                *ret_removed = TAKE_PTR(removed);
        return ret;
}
