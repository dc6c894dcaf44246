/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <time.h>
#include <unistd.h>

#include "btrfs-util.h"
#include "fd-util.h"
#include "import-common.h"
#include "import1-bus.h"
#include "log.h"
#include "notify-util.h"
#include "path-util.h"
#include "string-util.h"
#include "time-util.h"

volatile sig_atomic_t import_cancelled = 0;

static void on_cancel(int sig) {
        import_cancelled = 1;
}

void import_install_cancel_handler(void) {
        struct sigaction sa = { .sa_handler = on_cancel };

        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGTERM, &sa, NULL);
        (void) sigaction(SIGINT, &sa, NULL);
}

bool import_pool_is_btrfs(int pool_fd) {
        struct statfs fs;

        return fstatfs(pool_fd, &fs) >= 0 && fs.f_type == (typeof(fs.f_type)) BTRFS_SUPER_MAGIC;
}

bool import_pool_is_private(const ImagePool *pool) {
        struct stat st;

        return stat(pool->path, &st) >= 0 && (st.st_mode & 0007) == 0;
}

static int target_prepare(ImportTarget *t, const ImagePool *pool, const char *name, ImportKind kind,
                          bool force, bool read_only) {
        _cleanup_(image_freep) Image *existing = NULL;
        int r;

        *t = (ImportTarget) { .pool = pool, .pool_fd = -EBADF, .kind = kind, .force = force,
                              .read_only = read_only, .name_lock = LOCK_FILE_NULL };
        if (!image_name_is_valid(name) || streq(name, ".host"))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Image name '%s' is not valid.", name);
        t->name = strdup(name);
        t->entry = kind == IMPORT_RAW ? strjoin(name, ".raw") : strdup(name);
        if (!t->name || !t->entry)
                return log_oom();

        r = mkdir_parents_and_self(pool->path, 0700);
        if (r < 0)
                return log_error_errno(r, "Failed to create the pool %s: %m", pool->path);
        t->pool_fd = open(pool->path, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (t->pool_fd < 0)
                return log_error_errno(errno, "Failed to open the pool %s: %m", pool->path);

        r = image_name_lock(pool, name, LOCK_EX, &t->name_lock);
        if (r == -EBUSY)
                return log_error_errno(r, "Image '%s' is being created or renamed by someone else.", name);
        if (r < 0 && r != -EOPNOTSUPP)
                return log_error_errno(r, "Failed to lock image name '%s': %m", name);

        r = image_find(pool, name, &existing);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "Failed to look for image '%s': %m", name);
        if (r >= 0 && !force)
                return log_error_errno(SYNTHETIC_ERRNO(EEXIST), "Image '%s' already exists.", name);
        if (r >= 0 && !existing->in_pool)
                return log_error_errno(SYNTHETIC_ERRNO(EEXIST),
                                       "Image '%s' exists outside the pool (%s); it cannot be replaced.",
                                       name, existing->path);

        r = image_tmp_name(name, &t->tmp_name);
        if (r < 0)
                return log_error_errno(r, "Failed to make a temporary name: %m");
        t->tmp_path = path_join(pool->path, t->tmp_name);
        if (!t->tmp_path)
                return log_oom();
        return 0;
}

int import_target_begin_empty(ImportTarget *t, const ImagePool *pool, const char *name, ImportKind kind,
                              bool force, bool read_only) {
        return target_prepare(t, pool, name, kind, force, read_only);
}

int import_target_begin(ImportTarget *t, const ImagePool *pool, const char *name, ImportKind kind,
                        bool force, bool read_only) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = target_prepare(t, pool, name, kind, force, read_only);
        if (r < 0)
                return r;

        if (kind == IMPORT_RAW) {
                fd = openat(t->pool_fd, t->tmp_name, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0644);
                if (fd < 0)
                        return log_error_errno(errno, "Failed to create %s: %m", t->tmp_path);
                return 0;
        }
        /* A subvolume, so that it can be snapshotted and cloned for free later; never with a
         * quota group (importd enables quotas here; berth never does). */
        if (import_pool_is_btrfs(t->pool_fd)) {
                r = btrfs_subvolume_make(t->tmp_path);
                if (r >= 0)
                        return 0;
                log_debug_errno(r, "Failed to create subvolume %s, making a directory: %m", t->tmp_path);
        }
        if (mkdirat(t->pool_fd, t->tmp_name, 0755) < 0)
                return log_error_errno(errno, "Failed to create %s: %m", t->tmp_path);
        return 0;
}

/* Whether entry is already a read-only subvolume. */
static bool fd_is_read_only_at(int dirfd, const char *entry) {
        _cleanup_close_ int fd = openat(dirfd, entry, O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_DIRECTORY);

        return fd >= 0 && btrfs_subvolume_get_read_only_fd(fd) > 0;
}

static int set_read_only(ImportTarget *t, const char *entry) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = openat(t->pool_fd, entry, O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY|O_NONBLOCK);
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (S_ISREG(st.st_mode))
                return RET_NERRNO(fchmod(fd, st.st_mode & 07555));
        if (btrfs_subvolume_get_read_only_fd(fd) >= 0)
                return btrfs_subvolume_set_read_only_fd(fd, true);
        return fd_set_immutable(fd, true);
}

int import_target_finish(ImportTarget *t) {
        _cleanup_free_ char *other = NULL;
        int r;

        if (t->read_only && t->kind == IMPORT_TREE && !btrfs_is_subvolume(t->tmp_path)) {
                /* An immutable directory cannot be renamed: it is marked after the rename,
                 * below. A subvolume or a file is marked before, so it never shows writable. */
        } else if (t->read_only) {
                r = set_read_only(t, t->tmp_name);
                if (r < 0)
                        return log_error_errno(r, "Failed to mark %s read-only: %m", t->tmp_path);
        }
        if (t->force) {
                /* The image may exist as the other kind too (NAME vs NAME.raw): both go. */
                other = t->kind == IMPORT_RAW ? strdup(t->name) : strjoin(t->name, ".raw");
                if (!other)
                        return log_oom();
                r = image_pool_remove_entry_at(t->pool_fd, t->pool->path, t->entry);
                if (r >= 0)
                        r = image_pool_remove_entry_at(t->pool_fd, t->pool->path, other);
                if (r < 0)
                        return log_error_errno(r, "Failed to remove the existing image '%s': %m", t->name);
        }
        if (renameat2(t->pool_fd, t->tmp_name, t->pool_fd, t->entry, RENAME_NOREPLACE) < 0)
                return log_error_errno(errno, "Failed to move the new image into place as %s: %m", t->entry);
        t->tmp_name = mfree(t->tmp_name);
        if (t->read_only && t->kind == IMPORT_TREE && !fd_is_read_only_at(t->pool_fd, t->entry)) {
                r = set_read_only(t, t->entry);
                if (r < 0) {
                        /* Still under our name lock: take it back rather than leave it writable. */
                        (void) image_pool_remove_entry_at(t->pool_fd, t->pool->path, t->entry);
                        return log_error_errno(r, "Failed to mark %s read-only: %m", t->entry);
                }
        }
        return 0;
}

void import_target_done(ImportTarget *t) {
        if (t->tmp_name && t->pool_fd >= 0) {
                int r = image_pool_remove_entry_at(t->pool_fd, t->pool->path, t->tmp_name);
                if (r < 0)
                        log_warning_errno(r, "Failed to remove the temporary %s: %m", t->tmp_path);
        }
        lock_file_release(&t->name_lock);
        t->pool_fd = safe_close(t->pool_fd);
        t->name = mfree(t->name);
        t->entry = mfree(t->entry);
        t->tmp_name = mfree(t->tmp_name);
        t->tmp_path = mfree(t->tmp_path);
}

void import_report(uint64_t done, uint64_t total) {
        static uint64_t last_msec = 0;
        static unsigned last_percent = UINT32_MAX;
        unsigned percent = total > 0 ? (unsigned) MIN(done * 100 / total, 100) : 0;
        uint64_t now = now_usec(CLOCK_MONOTONIC) / 1000;
        char buf[128];

        /* At most 5 datagrams a second, and one whenever the percentage changes. */
        if (percent == last_percent && now - last_msec < 200)
                return;
        last_msec = now;
        last_percent = percent;
        snprintf(buf, sizeof(buf), "%s%u\n%s%" PRIu64, IMPORT_PROGRESS_KEY, percent, IMPORT_BYTES_KEY, done);
        (void) notify_send(buf);
}
