/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* berth-import's unpacking without a daemon: hostile archives written with libarchive
 * (which writes whatever entries it is given) are unpacked into a scratch pool; each must
 * be refused or defused and leave nothing behind. Also the names pulls derive from URLs,
 * and the qcow2 header check that keeps backing and data files from qemu-img. */

#include <archive.h>
#include <archive_entry.h>
#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fd-util.h"
#include "image-pool.h"
#include "import-archive.h"
#include "import-pull.h"
#include "import-qcow2.h"
#include "log.h"
#include "mount-util.h"
#include "string-util.h"
#include "tap.h"

typedef struct Entry {
        const char *path;
        mode_t type;
        const char *link;          /* symlink or hard link target */
        mode_t perm;
        dev_t rdev;
} Entry;

/* A tar archive of the entries (regular files hold "x"), as a memfd at offset 0. */
static int make_tar(const Entry *e, size_t n) {
        int fd = memfd_create("tar", MFD_CLOEXEC);
        struct archive *a = archive_write_new();

        archive_write_set_format_pax_restricted(a);
        archive_write_open_fd(a, fd);
        for (size_t k = 0; k < n; k++) {
                struct archive_entry *ae = archive_entry_new();

                archive_entry_set_pathname(ae, e[k].path);
                archive_entry_set_perm(ae, e[k].perm ?: 0644);
                if (e[k].type == 0 && e[k].link)
                        archive_entry_set_hardlink(ae, e[k].link);
                else {
                        archive_entry_set_filetype(ae, e[k].type ?: AE_IFREG);
                        if (e[k].type == AE_IFLNK)
                                archive_entry_set_symlink(ae, e[k].link);
                        archive_entry_set_rdev(ae, e[k].rdev);
                        archive_entry_set_size(ae, (e[k].type ?: AE_IFREG) == AE_IFREG ? 1 : 0);
                }
                archive_write_header(a, ae);
                if (archive_entry_size(ae) > 0)
                        archive_write_data(a, "x", 1);
                archive_entry_free(ae);
        }
        archive_write_close(a);
        archive_write_free(a);
        lseek(fd, 0, SEEK_SET);
        return fd;
}

static bool pool_is_clean(const char *pool, const char *name) {
        char p[512];
        bool clean = true;
        DIR *d = opendir(pool);

        snprintf(p, sizeof(p), "%s/%s", pool, name);
        if (access(p, F_OK) >= 0)
                clean = false;
        FOREACH_DIRENT(de, d)
                if (startswith(de->d_name, ".#"))
                        clean = false;
        closedir(d);
        return clean;
}

static void check_refused(const ImagePool *pool, const char *what, const Entry *e, size_t n) {
        int fd = make_tar(e, n), r;

        r = import_tar_fd(fd, pool, "hostile", false, false);
        printf("# %s: %s\n", what, r < 0 ? strerror(-r) : "accepted");
        CHECK(r < 0);
        CHECK(pool_is_clean(pool->path, "hostile"));
        close(fd);
}

static void test_hostile(const ImagePool *pool, const char *scratch) {
        char longpath[4200] = "", outside[600];

        for (size_t k = 0; k < 2050; k++)
                strcat(longpath, "a/");
        strcat(longpath, "f");
        snprintf(outside, sizeof(outside), "%s/outside", scratch);

        check_refused(pool, "dotdot", (Entry[]) { { "../escape" } }, 1);
        check_refused(pool, "dotdot inside", (Entry[]) { { "a/b/../../../escape" } }, 1);
        check_refused(pool, "absolute", (Entry[]) { { outside } }, 1);
        check_refused(pool, "symlink then entry",
                      (Entry[]) { { "l", AE_IFLNK, "/tmp" }, { "l/escape" } }, 2);
        check_refused(pool, "relative symlink then entry",
                      (Entry[]) { { "l", AE_IFLNK, "../.." }, { "l/escape" } }, 2);
        check_refused(pool, "hard link outside", (Entry[]) { { "pw", 0, "../../etc/passwd" } }, 1);
        check_refused(pool, "hard link absolute", (Entry[]) { { "pw", 0, "/etc/passwd" } }, 1);
        check_refused(pool, "hard link through a symlink",
                      (Entry[]) { { "e", AE_IFLNK, "/etc" }, { "pw", 0, "e/passwd" } }, 2);
        check_refused(pool, "path too long", (Entry[]) { { longpath } }, 1);
        CHECK(access(outside, F_OK) < 0);
        CHECK(access("/tmp/escape", F_OK) < 0);
}

static void test_defused(const ImagePool *pool) {
        Entry e[] = {
                { "dev", AE_IFDIR, NULL, 0755 },
                { "dev/sda", AE_IFBLK, NULL, 0600, makedev(8, 0) },
                { "dev/mem", AE_IFCHR, NULL, 0600, makedev(1, 1) },
                { "dev/null", AE_IFCHR, NULL, 0666, makedev(1, 3) },
                { "suid", AE_IFREG, NULL, 04755 },
                { "f" }, { "hl", 0, "f" },
        };
        char p[512];
        struct stat st, st2;
        int fd = make_tar(e, ELEMENTSOF(e));

        CHECK(import_tar_fd(fd, pool, "defused", false, false) == 0);
        close(fd);
        snprintf(p, sizeof(p), "%s/defused/dev/sda", pool->path);
        CHECK(access(p, F_OK) < 0);
        snprintf(p, sizeof(p), "%s/defused/dev/mem", pool->path);
        CHECK(access(p, F_OK) < 0);
        snprintf(p, sizeof(p), "%s/defused/dev/null", pool->path);
        CHECK(stat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3));
        /* the scratch pool is 0700: set-ID bits stay */
        snprintf(p, sizeof(p), "%s/defused/suid", pool->path);
        CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 04755);
        snprintf(p, sizeof(p), "%s/defused/hl", pool->path);
        CHECK(stat(p, &st2) == 0);
        snprintf(p, sizeof(p), "%s/defused/f", pool->path);
        CHECK(stat(p, &st) == 0 && st.st_ino == st2.st_ino);
}

static void test_names(void) {
        static const char *const cases[][2] = {
                { "https://example.invalid/a/debian-12.tar.xz", "debian-12" },
                { "http://h/x/fedora.raw.zst?token=1", "fedora" },
                { "http://h/img.qcow2", "img" },
        };
        char *n;

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                n = NULL;
                CHECK(pull_name_from_url(cases[k][0], &n) == 0);
                CHECK_STREQ(n, cases[k][1]);
                free(n);
        }
        CHECK(pull_name_from_url("http://h/..", &n) < 0);
        CHECK(import_verify_from_string("signature") == IMPORT_VERIFY_SIGNATURE);
        CHECK(import_verify_from_string("maybe") < 0);
}

/* A qcow2 v3 header of 'size' bytes virtual, with a backing file offset, incompatible
 * features and encryption method as given, in a memfd. */
static int qcow2_header(uint64_t backing, uint64_t incompat, uint32_t crypt, uint64_t size) {
        uint8_t h[104] = { 'Q', 'F', 'I', 0xfb };
        uint32_t v32;
        uint64_t v64;
        int fd = memfd_create("qcow2", MFD_CLOEXEC);

        v32 = htobe32(3), memcpy(h + 4, &v32, 4);
        v64 = htobe64(backing), memcpy(h + 8, &v64, 8);
        v32 = htobe32(16), memcpy(h + 20, &v32, 4);          /* 64 KiB clusters */
        v64 = htobe64(size), memcpy(h + 24, &v64, 8);
        v32 = htobe32(crypt), memcpy(h + 32, &v32, 4);
        v64 = htobe64(incompat), memcpy(h + 72, &v64, 8);
        if (fd >= 0 && write(fd, h, sizeof(h)) != (ssize_t) sizeof(h))
                fd = safe_close(fd);
        return fd;
}

static void test_qcow2_header(void) {
        static const struct { uint64_t backing, incompat; uint32_t crypt; uint64_t size; int ret; } cases[] = {
                { 0, 0, 0, 1 << 20, 0 },
                { 0, 1 | 8 | 16, 0, 1 << 20, 0 },                  /* dirty, zstd, extended L2 */
                { 512, 0, 0, 1 << 20, -EPERM },                    /* backing file */
                { 0, 4, 0, 1 << 20, -EPERM },                      /* external data file */
                { 0, 2, 0, 1 << 20, -EBADMSG },                    /* corrupt */
                { 0, 32, 0, 1 << 20, -EOPNOTSUPP },                /* unknown feature */
                { 0, 0, 2, 1 << 20, -EOPNOTSUPP },                 /* LUKS */
                { 0, 0, 0, IMPORT_QCOW2_SIZE_MAX + 1, -EFBIG },
        };
        uint64_t size;

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                _cleanup_close_ int fd = qcow2_header(cases[k].backing, cases[k].incompat, cases[k].crypt,
                                                      cases[k].size);

                CHECK(fd >= 0 && qcow2_detect(fd));
                CHECK(qcow2_check_header(fd, &size) == cases[k].ret);
                if (cases[k].ret == 0)
                        CHECK(size == cases[k].size);
        }
        _cleanup_close_ int fd = memfd_create("short", MFD_CLOEXEC);
        CHECK(fd >= 0 && write(fd, "QFI\xfb\0\0\0\3", 8) == 8);
        CHECK(qcow2_check_header(fd, &size) == -EBADMSG);
}

int main(void) {
        char scratch[] = "/tmp/test-import.XXXXXX", pool_path[64];
        ImagePool pool = {};

        log_set_max_level(LOG_ERR);
        test_names();
        test_qcow2_header();
        if (getuid() != 0) {
                tap_skip("hostile archives", "not root (owners and device nodes)");
                return tap_done();
        }
        if (!mkdtemp(scratch))
                return 1;
        snprintf(pool_path, sizeof(pool_path), "%s/pool", scratch);
        (void) mkdir(pool_path, 0700);
        CHECK(image_pool_init(&pool, pool_path, NULL) == 0);
        test_hostile(&pool, scratch);
        test_defused(&pool);
        image_pool_done(&pool);
        (void) rm_rf_at(AT_FDCWD, scratch);
        return tap_done();
}
