/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fd-util.h"
#include "import-archive.h"
#include "import-common.h"
#include "import-qcow2.h"
#include "log.h"
#include "string-util.h"

static void archive_readp(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}

static void archive_writep(struct archive **a) {
        if (*a)
                archive_write_free(*a);
}

static uint64_t input_size(int fd) {
        struct stat st;

        return fstat(fd, &st) >= 0 && S_ISREG(st.st_mode) ? (uint64_t) st.st_size : 0;
}

/* Character devices a root file system may legitimately carry in /dev (berth-spawn
 * mounts its own /dev anyway): memory devices and the tty ones. Anything else — a disk,
 * /dev/mem, /dev/kmem, /dev/port — could hand the host's hardware to whoever can open
 * the file, so it is skipped. */
static bool char_device_is_harmless(dev_t d) {
        static const struct { unsigned ma, mi; } ok[] = {
                { 1, 3 }, { 1, 5 }, { 1, 7 }, { 1, 8 }, { 1, 9 },    /* null zero full random urandom */
                { 5, 0 }, { 5, 1 }, { 5, 2 },                        /* tty console ptmx */
        };

        for (size_t k = 0; k < ELEMENTSOF(ok); k++)
                if (major(d) == ok[k].ma && minor(d) == ok[k].mi)
                        return true;
        return false;
}

/* An entry path is fine if relative, without ".." components and of bounded length (the
 * same test for hard link targets). libarchive refuses these too with the SECURE flags;
 * the check here gives the message and does not depend on its version. */
static int check_relative_path(const char *kind, const char *p) {
        if (!p || !*p)
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Archive has an entry without a %s.", kind);
        if (strlen(p) > IMPORT_PATH_MAX)
                return log_error_errno(SYNTHETIC_ERRNO(ENAMETOOLONG), "Archive %s is longer than %d bytes: %.64s...",
                                       kind, IMPORT_PATH_MAX, p);
        if (p[0] == '/')
                return log_error_errno(SYNTHETIC_ERRNO(EPERM), "Archive %s '%s' is absolute; refusing the archive.",
                                       kind, p);
        for (const char *c = p; *c; ) {
                size_t n = strcspn(c, "/");

                if (n == 2 && c[0] == '.' && c[1] == '.')
                        return log_error_errno(SYNTHETIC_ERRNO(EPERM),
                                               "Archive %s '%s' contains '..'; refusing the archive.", kind, p);
                if (n > 255)
                        return log_error_errno(SYNTHETIC_ERRNO(ENAMETOOLONG),
                                               "Archive %s '%.64s...' has a component longer than 255 bytes.", kind, p);
                c += n;
                c += strspn(c, "/");
        }
        return 0;
}

/* A hard link may only point at a file already unpacked inside the tree, reached without
 * any symlink: resolved by the kernel, beneath the tree root. */
static int check_hardlink_target(int root_fd, const char *target) {
        struct open_how how = {
                .flags = O_PATH|O_NOFOLLOW|O_CLOEXEC,
                .resolve = RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV,
        };
        int fd, r;

        r = check_relative_path("hard link target", target);
        if (r < 0)
                return r;
        fd = (int) syscall(SYS_openat2, root_fd, target, &how, sizeof(how));
        if (fd < 0)
                return log_error_errno(errno, "Archive hard link to '%s' does not point at a file inside the image: %m",
                                       target);
        safe_close(fd);
        return 0;
}

/* 1: unpack, 0: skip, <0: refuse the archive. */
static int check_entry(struct archive_entry *e, int root_fd, bool private_pool) {
        const char *path = archive_entry_pathname(e), *link = archive_entry_hardlink(e);
        mode_t type = archive_entry_filetype(e);
        int r;

        r = check_relative_path("path", path);
        if (r < 0)
                return r;
        if (link) {
                r = check_hardlink_target(root_fd, link);
                if (r < 0)
                        return r;
        }
        if (type == AE_IFBLK || (type == AE_IFCHR && !char_device_is_harmless(archive_entry_rdev(e)))) {
                log_warning("Skipping device node %s (%u:%u): only /dev/null-like character devices are unpacked.",
                            path, major(archive_entry_rdev(e)), minor(archive_entry_rdev(e)));
                return 0;
        }
        if ((archive_entry_perm(e) & 06000) && !private_pool) {
                log_warning("Dropping the set-ID bits of %s: the pool is accessible to other users.", path);
                archive_entry_set_perm(e, archive_entry_perm(e) & ~(mode_t) 06000);
        }
        return 1;
}

int import_bomb_check(struct archive *a) {
        uint64_t packed = (uint64_t) archive_filter_bytes(a, -1), unpacked = (uint64_t) archive_filter_bytes(a, 0);

        if (unpacked > IMPORT_BOMB_FLOOR && unpacked / MAX(packed, 1) > IMPORT_BOMB_RATIO)
                return log_error_errno(SYNTHETIC_ERRNO(EFBIG),
                                       "Archive unpacks to more than %u times its size; refusing it as a decompression bomb.",
                                       IMPORT_BOMB_RATIO);
        return 0;
}

static int copy_entry_data(struct archive *a, struct archive *w, const char *path) {
        const void *buf;
        size_t size;
        la_int64_t offset;
        int r;

        for (;;) {
                if (import_cancelled)
                        return -ECANCELED;
                r = archive_read_data_block(a, &buf, &size, &offset);
                if (r == ARCHIVE_EOF)
                        return 0;
                if (r < ARCHIVE_WARN && import_cancelled)
                        return -ECANCELED;
                if (r < ARCHIVE_WARN)
                        return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Failed to read %s from the archive: %s",
                                               path, archive_error_string(a));
                /* libarchive reports a failed write(), ENOSPC included, as a mere warning. */
                if (archive_write_data_block(w, buf, size, offset) < ARCHIVE_OK) {
                        int e = archive_errno(w) > 0 ? archive_errno(w) : EIO;
                        return log_error_errno(e, "Failed to write %s: %s", path, archive_error_string(w));
                }
                /* Within an entry too: one huge file of zeros is the classic bomb. */
                r = import_bomb_check(a);
                if (r < 0)
                        return r;
        }
}

typedef struct Input {
        int fd;
        char buf[256 * 1024];
} Input;

/* libarchive's own fd reader retries a read() that a signal interrupted; this one stops
 * when the interruption was a cancellation, so a worker blocked on a stalled pipe ends at
 * once and removes its temporary. */
static la_ssize_t input_read(struct archive *a, void *userdata, const void **ret) {
        Input *in = userdata;
        ssize_t n;

        for (;;) {
                if (import_cancelled) {
                        archive_set_error(a, ECANCELED, "Transfer cancelled");
                        return -1;
                }
                n = read(in->fd, in->buf, sizeof(in->buf));
                if (n >= 0)
                        break;
                if (errno != EINTR) {
                        archive_set_error(a, errno, "Read error: %s", strerror(errno));
                        return -1;
                }
        }
        *ret = in->buf;
        return n;
}

static int input_close(struct archive *a, void *userdata) {
        free(userdata);
        return ARCHIVE_OK;
}

static int open_reader(int fd, bool raw, struct archive **ret) {
        _cleanup_(archive_readp) struct archive *a = archive_read_new();
        Input *in = malloc(sizeof(Input));

        if (!a || !in) {
                free(in);
                return log_oom();
        }
        in->fd = fd;
        archive_read_support_filter_all(a);
        if (raw)
                archive_read_support_format_raw(a);
        else
                archive_read_support_format_tar(a);
        /* From here libarchive owns 'in' (input_close frees it, also on failure). */
        if (archive_read_open(a, in, NULL, input_read, input_close) != ARCHIVE_OK) {
                if (import_cancelled)
                        return -ECANCELED;
                return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Failed to open the archive: %s",
                                       archive_error_string(a));
        }
        *ret = TAKE_PTR(a);
        return 0;
}

static int unpack_tree(struct archive *a, int root_fd, uint64_t total, bool private_pool, ImportEntryFilter filter,
                       void *userdata) {
        _cleanup_(archive_writep) struct archive *w = archive_write_disk_new();
        struct archive_entry *e;
        unsigned n = 0;
        int r;

        if (!w)
                return log_oom();
        /* Owners by number (no name lookup: the image has its own passwd), permissions,
         * times, ACLs and xattrs; and libarchive's own guards against writing outside. */
        archive_write_disk_set_options(w, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                          ARCHIVE_EXTRACT_ACL | ARCHIVE_EXTRACT_XATTR |
                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                          ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS);
        for (;;) {
                if (import_cancelled)
                        return -ECANCELED;
                r = archive_read_next_header(a, &e);
                if (r == ARCHIVE_EOF)
                        break;
                if (r < ARCHIVE_WARN && import_cancelled)
                        return -ECANCELED;
                if (r < ARCHIVE_WARN)
                        return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Failed to read the archive: %s",
                                               archive_error_string(a));
                if (++n > IMPORT_ENTRIES_MAX)
                        return log_error_errno(SYNTHETIC_ERRNO(EFBIG), "Archive has more than %u entries.",
                                               IMPORT_ENTRIES_MAX);
                r = check_entry(e, root_fd, private_pool);
                if (r > 0 && filter)
                        r = filter(e, root_fd, userdata);
                if (r < 0)
                        return r;
                if (r == 0)
                        continue;
                if (archive_write_header(w, e) < ARCHIVE_WARN) {
                        int err = archive_errno(w) > 0 ? archive_errno(w) : EPERM;
                        return log_error_errno(err, "Refusing the archive at %s: %s", archive_entry_pathname(e),
                                               archive_error_string(w));
                }
                if (archive_entry_size(e) > 0) {
                        r = copy_entry_data(a, w, archive_entry_pathname(e));
                        if (r < 0)
                                return r;
                }
                if (archive_write_finish_entry(w) < ARCHIVE_WARN)
                        return log_error_errno(archive_errno(w) > 0 ? archive_errno(w) : EIO,
                                               "Failed to complete %s: %s", archive_entry_pathname(e),
                                               archive_error_string(w));
                r = import_bomb_check(a);
                if (r < 0)
                        return r;
                if (total > 0)
                        import_report((uint64_t) archive_filter_bytes(a, -1), total);
        }
        /* Directory modes and times are applied last (so read-only directories can be filled). */
        if (archive_write_close(w) != ARCHIVE_OK)
                return log_error_errno(archive_errno(w) > 0 ? archive_errno(w) : EIO, "Failed to complete the tree: %s",
                                       archive_error_string(w));
        return 0;
}

int import_unpack_at(struct archive *a, int root_fd, uint64_t total, bool private_pool, ImportEntryFilter filter,
                     void *userdata) {
        _cleanup_close_ int old_cwd = open(".", O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        int r;

        if (old_cwd < 0)
                return log_error_errno(errno, "Failed to open the working directory: %m");
        /* libarchive's secure extraction works on paths relative to the working directory. */
        if (fchdir(root_fd) < 0)
                return log_error_errno(errno, "Failed to enter the image tree: %m");
        r = unpack_tree(a, root_fd, total, private_pool, filter, userdata);
        (void) fchdir(old_cwd);
        return r;
}

int import_tar_fd(int fd, const ImagePool *pool, const char *name, bool force, bool read_only) {
        _cleanup_(import_target_done) ImportTarget t = {};
        _cleanup_(archive_readp) struct archive *a = NULL;
        _cleanup_close_ int root_fd = -EBADF;
        uint64_t total = input_size(fd);
        int r;

        r = import_target_begin(&t, pool, name, IMPORT_TREE, force, read_only);
        if (r < 0)
                return r;
        r = open_reader(fd, /* raw= */ false, &a);
        if (r < 0)
                return r;
        root_fd = openat(t.pool_fd, t.tmp_name, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
        if (root_fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", t.tmp_path);
        r = import_unpack_at(a, root_fd, total, import_pool_is_private(pool), NULL, NULL);
        if (r < 0)
                return r;
        log_info("Unpacked %" PRIu64 " bytes into %s.", (uint64_t) archive_filter_bytes(a, 0), name);
        return import_target_finish(&t);
}

static bool all_zero(const void *p, size_t n) {
        const char *c = p;

        return n == 0 || (c[0] == 0 && memcmp(c, c + 1, n - 1) == 0);
}

/* Zero blocks become holes: a raw image is mostly empty, and sparse on disk it costs only
 * what it holds (which also bounds what a raw "bomb" of zeros can take). */
static int write_sparse(int out, const void *buf, size_t n) {
        if (all_zero(buf, n))
                return lseek(out, (off_t) n, SEEK_CUR) < 0 ? -errno : 0;
        return loop_write(out, buf, n);
}

static int decompress_to(struct archive *a, int out, uint64_t total) {
        char buf[64 * 1024];
        ssize_t n;
        int r;

        for (;;) {
                if (import_cancelled)
                        return -ECANCELED;
                n = archive_read_data(a, buf, sizeof(buf));
                if (n == 0)
                        break;
                if (n < 0 && import_cancelled)
                        return -ECANCELED;
                if (n < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Failed to decompress the image: %s",
                                               archive_error_string(a));
                r = write_sparse(out, buf, (size_t) n);
                if (r < 0)
                        return log_error_errno(r, "Failed to write the image: %m");
                import_report((uint64_t) archive_filter_bytes(a, -1), total);
        }
        /* The file ends where the data ends, also after a trailing hole. */
        off_t end = lseek(out, 0, SEEK_CUR);
        if (end < 0 || ftruncate(out, end) < 0 || fsync(out) < 0)
                return log_error_errno(errno, "Failed to complete the image: %m");
        return 0;
}

int import_raw_fd(int fd, const ImagePool *pool, const char *name, bool force, bool read_only) {
        _cleanup_(import_target_done) ImportTarget t = {};
        _cleanup_(archive_readp) struct archive *a = NULL;
        _cleanup_close_ int out = -EBADF;
        struct archive_entry *e;
        int r;

        r = import_target_begin(&t, pool, name, IMPORT_RAW, force, read_only);
        if (r < 0)
                return r;
        r = open_reader(fd, /* raw= */ true, &a);
        if (r < 0)
                return r;
        if (archive_read_next_header(a, &e) != ARCHIVE_OK)
                return import_cancelled ? -ECANCELED :
                        log_error_errno(SYNTHETIC_ERRNO(EBADMSG), "Failed to read the image: %s", archive_error_string(a));
        out = openat(t.pool_fd, t.tmp_name, O_RDWR|O_NOFOLLOW|O_CLOEXEC);
        if (out < 0)
                return log_error_errno(errno, "Failed to open %s: %m", t.tmp_path);
        r = decompress_to(a, out, input_size(fd));
        if (r < 0)
                return r;
        /* A qcow2 image (detected from the content, after decompression) becomes raw. */
        if (qcow2_detect(out)) {
                out = safe_close(out);
                r = qcow2_convert_in_place(t.pool_fd, t.tmp_name);
                if (r < 0)
                        return r;
        }
        out = safe_close(out);
        log_info("Wrote %" PRIu64 " bytes to %s.raw.", (uint64_t) archive_filter_bytes(a, 0), name);
        return import_target_finish(&t);
}
