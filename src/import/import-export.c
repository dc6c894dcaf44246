/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "btrfs-util.h"
#include "copy-util.h"
#include "fd-util.h"
#include "import-common.h"
#include "import-export.h"
#include "log.h"
#include "string-util.h"

int import_fs_fd(int src_fd, const ImagePool *pool, const char *name, bool force, bool read_only) {
        _cleanup_(import_target_done) ImportTarget t = {};
        char src[64];
        int r;

        r = import_target_begin_empty(&t, pool, name, IMPORT_TREE, force, read_only);
        if (r < 0)
                return r;
        snprintf(src, sizeof(src), "/proc/self/fd/%d", src_fd);
        r = btrfs_snapshot(src, t.tmp_path, /* read_only= */ false);
        if (r >= 0)
                log_info("Snapshotted the subvolume into %s.", name);
        else {
                log_debug_errno(r, "Cannot snapshot (not a subvolume on the pool's file system), copying: %m");
                r = copy_tree(src, t.tmp_path);
                if (r < 0)
                        return log_error_errno(r, "Failed to copy the directory: %m");
                log_info("Copied the directory into %s.", name);
        }
        if (import_cancelled)
                return -ECANCELED;
        return import_target_finish(&t);
}

typedef struct Format {
        const char *name;
        int (*add_filter)(struct archive *);
} Format;

static int add_none(struct archive *a) {
        return ARCHIVE_OK;
}

static const Format formats[] = {
        { "",             add_none },
        { "uncompressed", add_none },
        { "gzip",         archive_write_add_filter_gzip },
        { "xz",           archive_write_add_filter_xz },
        { "bzip2",        archive_write_add_filter_bzip2 },
        { "zstd",         archive_write_add_filter_zstd },
};

static const Format *format_find(const char *name) {
        for (size_t k = 0; k < ELEMENTSOF(formats); k++)
                if (streq(formats[k].name, name))
                        return &formats[k];
        return NULL;
}

bool export_format_is_valid(const char *format) {
        return format_find(format);
}

static void archive_writep(struct archive **a) {
        if (*a)
                archive_write_free(*a);
}

static void archive_readp(struct archive **a) {
        if (*a)
                archive_read_free(*a);
}

static int open_writer(const char *format, bool raw, int fd, struct archive **ret) {
        _cleanup_(archive_writep) struct archive *w = archive_write_new();
        const Format *f = format_find(format);

        if (!f)
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Unknown format '%s'.", format);
        if (!w)
                return log_oom();
        if ((raw ? archive_write_set_format_raw(w) : archive_write_set_format_pax_restricted(w)) != ARCHIVE_OK ||
            f->add_filter(w) != ARCHIVE_OK)
                return log_error_errno(SYNTHETIC_ERRNO(EOPNOTSUPP), "Cannot write format '%s': %s", format,
                                       archive_error_string(w));
        /* Whole blocks to a pipe or file; libarchive pads the last one. */
        archive_write_set_bytes_in_last_block(w, 1);
        if (archive_write_open_fd(w, fd) != ARCHIVE_OK)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to open the output: %s", archive_error_string(w));
        *ret = TAKE_PTR(w);
        return 0;
}

static int find_image(const ImagePool *pool, const char *name, bool raw, Image **ret) {
        int r = image_find(pool, name, ret);

        if (r == -ENOENT)
                return log_error_errno(r, "No image '%s'.", name);
        if (r < 0)
                return log_error_errno(r, "Failed to look up image '%s': %m", name);
        if (raw != ((*ret)->type == IMAGE_RAW))
                return log_error_errno(SYNTHETIC_ERRNO(EMEDIUMTYPE), "Image '%s' is %s; use export-%s.", name,
                                       raw ? "not a raw image" : "a raw image", raw ? "tar" : "raw");
        return 0;
}

/* File contents by read(): the tar writer takes data in order (holes as zeros). */
static int write_data(struct archive *w, const char *path, uint64_t *done) {
        _cleanup_close_ int fd = open(path, O_RDONLY|O_NOFOLLOW|O_CLOEXEC|O_NOCTTY);
        char buf[128 * 1024];
        ssize_t n;

        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        while ((n = read(fd, buf, sizeof(buf))) > 0) {
                if (import_cancelled)
                        return -ECANCELED;
                if (archive_write_data(w, buf, (size_t) n) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to write: %s", archive_error_string(w));
                *done += (uint64_t) n;
                import_report(*done, 0);
        }
        return n < 0 ? log_error_errno(errno, "Failed to read %s: %m", path) : 0;
}

int export_tar_fd(const ImagePool *pool, const char *name, const char *format, int fd) {
        _cleanup_(archive_writep) struct archive *w = NULL;
        _cleanup_(archive_readp) struct archive *d = NULL;
        _cleanup_(image_freep) Image *i = NULL;
        struct archive_entry *e;
        uint64_t done = 0;
        int r;

        r = find_image(pool, name, /* raw= */ false, &i);
        if (r < 0)
                return r;
        r = open_writer(format, /* raw= */ false, fd, &w);
        if (r < 0)
                return r;
        d = archive_read_disk_new();
        if (!d)
                return log_oom();
        /* Numeric owners only (no lookup), never into other mounts, never following symlinks. */
        archive_read_disk_set_symlink_physical(d);
        archive_read_disk_set_behavior(d, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS | ARCHIVE_READDISK_NO_FFLAGS);
        if (chdir(i->path) < 0)
                return log_error_errno(errno, "Failed to enter %s: %m", i->path);
        if (archive_read_disk_open(d, ".") != ARCHIVE_OK)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to open %s: %s", i->path, archive_error_string(d));
        for (;;) {
                if (import_cancelled)
                        return -ECANCELED;
                e = archive_entry_new();
                if (!e)
                        return log_oom();
                r = archive_read_next_header2(d, e);
                if (r == ARCHIVE_EOF) {
                        archive_entry_free(e);
                        break;
                }
                if (r < ARCHIVE_WARN) {
                        archive_entry_free(e);
                        return log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to read %s: %s", i->path,
                                               archive_error_string(d));
                }
                archive_read_disk_descend(d);
                r = archive_write_header(w, e) < ARCHIVE_WARN ? -EIO : 0;
                if (r >= 0 && archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0)
                        r = write_data(w, archive_entry_sourcepath(e), &done);
                archive_entry_free(e);
                if (r < 0)
                        return r == -EIO ? log_error_errno(r, "Failed to write the archive: %s", archive_error_string(w)) : r;
        }
        if (archive_write_close(w) != ARCHIVE_OK)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to complete the archive: %s", archive_error_string(w));
        log_info("Exported %s (%" PRIu64 " bytes of file data).", name, done);
        return 0;
}

int export_raw_fd(const ImagePool *pool, const char *name, const char *format, int fd) {
        _cleanup_(archive_writep) struct archive *w = NULL;
        _cleanup_(image_freep) Image *i = NULL;
        _cleanup_close_ int in = -EBADF;
        struct archive_entry *e;
        char buf[64 * 1024];
        uint64_t done = 0;
        struct stat st;
        ssize_t n;
        int r;

        r = find_image(pool, name, /* raw= */ true, &i);
        if (r < 0)
                return r;
        in = open(i->path, O_RDONLY|O_CLOEXEC|O_NOCTTY);
        if (in < 0 || fstat(in, &st) < 0)
                return log_error_errno(errno, "Failed to open %s: %m", i->path);
        r = open_writer(format, /* raw= */ true, fd, &w);
        if (r < 0)
                return r;
        archive_write_set_bytes_in_last_block(w, 1);
        e = archive_entry_new();
        if (!e)
                return log_oom();
        archive_entry_set_pathname(e, "image.raw");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_size(e, st.st_size);
        r = archive_write_header(w, e);
        archive_entry_free(e);
        if (r < ARCHIVE_WARN)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to start the output: %s", archive_error_string(w));
        while ((n = read(in, buf, sizeof(buf))) > 0) {
                if (import_cancelled)
                        return -ECANCELED;
                if (archive_write_data(w, buf, (size_t) n) < 0)
                        return log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to write: %s", archive_error_string(w));
                done += (uint64_t) n;
                import_report(done, (uint64_t) st.st_size);
        }
        if (n < 0)
                return log_error_errno(errno, "Failed to read %s: %m", i->path);
        if (archive_write_close(w) != ARCHIVE_OK)
                return log_error_errno(SYNTHETIC_ERRNO(EIO), "Failed to complete the output: %s", archive_error_string(w));
        log_info("Exported %s (%" PRIu64 " bytes).", name, done);
        return 0;
}
