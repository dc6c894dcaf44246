/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The image pool without root: the search path and its order, what counts as an image and
 * which are read-only, hidden images, symlinks, and the image locks' protocol (in a
 * scratch lock directory). */

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "image-pool.h"
#include "mount-util.h"
#include "path-util.h"
#include "string-util.h"
#include "tap.h"

static char scratch[] = "/tmp/test-image-pool.XXXXXX";

static char *at(const char *rel) {
        static char buf[4][512];
        static unsigned k;

        k = (k + 1) % 4;
        snprintf(buf[k], sizeof(buf[k]), "%s/%s", scratch, rel);
        return buf[k];
}

static void make_dir(const char *rel) {
        (void) mkdir_parents_and_self(at(rel), 0755);
}

static void make_file(const char *rel, mode_t mode) {
        int fd = open(at(rel), O_WRONLY|O_CREAT|O_CLOEXEC, mode);

        if (fd >= 0)
                close(fd);
        (void) chmod(at(rel), mode);
}

static void test_default_search_path(void) {
        _cleanup_(image_pool_done) ImagePool p = {}, q = {};
        static const char * const systemd_order[] = {
                "/etc/machines", "/run/machines", "/var/lib/machines", "/var/lib/container",
                "/usr/local/lib/machines", "/usr/lib/machines",
        };

        CHECK(image_pool_init(&p, NULL, NULL) == 0);
        CHECK_STREQ(p.path, "/var/lib/machines");
        CHECK(strv_length(p.search) == ELEMENTSOF(systemd_order));
        for (size_t k = 0; k < ELEMENTSOF(systemd_order) && k < strv_length(p.search); k++)
                CHECK_STREQ(p.search[k], systemd_order[k]);
        CHECK(p.name_lock_dir == NULL);

        CHECK(image_pool_init(&q, "/srv/pool", "/run/x/image-locks") == 0);
        CHECK_STREQ(q.path, "/srv/pool");
        CHECK(strv_length(q.search) == 1);
        CHECK_STREQ(q.search[0], "/srv/pool");
        CHECK_STREQ(q.name_lock_dir, "/run/x/image-locks");
}

static void test_names(void) {
        CHECK(image_name_is_valid("debian"));
        CHECK(image_name_is_valid(".hidden"));
        CHECK(image_name_is_valid(".host"));
        CHECK(!image_name_is_valid(".#debian.abcdef"));
        CHECK(!image_name_is_valid(".."));
        CHECK(!image_name_is_valid("..x"));
        CHECK(!image_name_is_valid("a b"));
        CHECK(!image_name_is_valid("a/b"));
        CHECK(!image_name_is_valid(""));
        CHECK(!image_name_is_valid(NULL));
}

/* etc/ (symlinks followed), pool/ (the writable pool), usr/ (vendor images) */
static void make_images(ImagePool *p) {
        make_dir("etc/etcimg/usr");
        make_dir("elsewhere/usr");
        (void) symlink(at("elsewhere"), at("etc/link"));
        make_dir("pool/etcimg/usr");                       /* hidden by etc/etcimg */
        (void) symlink(at("elsewhere"), at("pool/link2"));  /* never followed in the pool */
        make_file("pool/disk.raw", 0644);
        make_file("pool/ro.raw", 0444);
        make_dir("pool/.hid");
        make_dir("pool/x.raw");                            /* a directory named x.raw */
        make_dir("pool/.#tmp.abcdef");
        make_dir("pool/bad name");
        make_file("pool/notraw.img", 0644);
        make_dir("usr/vendor");
        make_dir("usr/disk");                              /* hidden by pool/disk.raw */

        *p = (ImagePool) { .path = strdup(at("pool")) };
        (void) strv_extend(&p->search, at("etc"));
        (void) strv_extend(&p->search, at("pool"));
        (void) strv_extend(&p->search, at("nonexistent"));
        (void) strv_extend(&p->search, at("usr"));
}

static void test_find(const ImagePool *p) {
        Image *i = NULL;

        CHECK(image_find(p, "etcimg", &i) == 0);
        CHECK(i && streq(i->path, at("etc/etcimg")) && !i->in_pool && i->read_only && i->type == IMAGE_DIRECTORY);
        i = image_free(i);

        CHECK(image_find(p, "link", &i) == 0);
        CHECK(i && streq(i->path, at("etc/link")) && i->type == IMAGE_DIRECTORY);
        i = image_free(i);
        CHECK(image_find(p, "link2", &i) == -ENOENT);

        CHECK(image_find(p, "disk", &i) == 0);
        CHECK(i && streq(i->path, at("pool/disk.raw")) && i->in_pool && !i->read_only && i->type == IMAGE_RAW);
        i = image_free(i);

        /* for raw images the mode counts (root may write anyway) */
        CHECK(image_find(p, "ro", &i) == 0);
        CHECK(i && i->read_only && i->in_pool);
        i = image_free(i);

        CHECK(image_find(p, ".hid", &i) == 0);
        CHECK(i && image_is_hidden(i) && i->in_pool);
        i = image_free(i);

        CHECK(image_find(p, "x.raw", &i) == 0);
        CHECK(i && i->type == IMAGE_DIRECTORY);
        i = image_free(i);
        CHECK(image_find(p, "x", &i) == -ENOENT);

        CHECK(image_find(p, "vendor", &i) == 0);
        CHECK(i && !i->in_pool && i->read_only);
        i = image_free(i);

        CHECK(image_find(p, ".host", &i) == 0);
        CHECK(i && image_is_host(i) && !image_is_hidden(i) && i->read_only);
        i = image_free(i);

        CHECK(image_find(p, "notraw", &i) == -ENOENT);
        CHECK(image_find(p, "nosuch", &i) == -ENOENT);
        CHECK(image_find(p, "bad name", &i) == -EINVAL);
        CHECK(image_find(p, ".#tmp.abcdef", &i) == -EINVAL);
}

static void test_discover(const ImagePool *p) {
        static const char * const expected[] = {
                ".hid", ".host", "disk", "etcimg", "link", "ro", "vendor", "x.raw",
        };
        Image **l = NULL;
        size_t n = 0;

        CHECK(image_discover(p, &l, &n) == 0);
        CHECK(n == ELEMENTSOF(expected));
        for (size_t k = 0; k < n && k < ELEMENTSOF(expected); k++)
                CHECK_STREQ(l[k]->name, expected[k]);
        for (size_t k = 0; k < n; k++) {
                if (streq(l[k]->name, "etcimg"))
                        CHECK_STREQ(l[k]->path, at("etc/etcimg"));
                if (streq(l[k]->name, "disk"))
                        CHECK_STREQ(l[k]->path, at("pool/disk.raw"));
        }
        image_list_free(l, n);
}

static bool lock_file_exists(const LockFile *f) {
        return f->path && access(f->path, F_OK) >= 0;
}

static void test_path_locks(void) {
        LockFile a = LOCK_FILE_NULL, b = LOCK_FILE_NULL, c = LOCK_FILE_NULL, d = LOCK_FILE_NULL;
        _cleanup_free_ char *locks = strdup(at("locks")), *path = NULL;
        struct stat st;
        char key[128];

        /* two machines run from one image: both hold it shared, a change cannot start */
        CHECK(image_path_lock_at(locks, at("pool/disk.raw"), LOCK_SH|LOCK_NB, &a) == 0);
        CHECK(image_path_lock_at(locks, at("pool/disk.raw"), LOCK_SH|LOCK_NB, &b) == 0);
        CHECK(image_path_lock_at(locks, at("pool/disk.raw"), LOCK_EX|LOCK_NB, &c) == -EBUSY);
        CHECK(stat(at("pool/disk.raw"), &st) == 0);
        snprintf(key, sizeof(key), "inode-%llu:%llu", (unsigned long long) st.st_dev, (unsigned long long) st.st_ino);
        path = path_join(locks, key);
        CHECK_STREQ(a.path, path);
        CHECK(lock_file_exists(&a));

        /* the first to go leaves the file to the other; the last removes it */
        lock_file_release(&a);
        CHECK(!lock_file_is_held(&a));
        CHECK(lock_file_exists(&b));
        CHECK(image_path_lock_at(locks, at("pool/disk.raw"), LOCK_EX|LOCK_NB, &c) == -EBUSY);
        lock_file_release(&b);
        CHECK(access(path, F_OK) < 0 && errno == ENOENT);

        /* a change excludes machines, and removes its file too */
        CHECK(image_path_lock_at(locks, at("pool/disk.raw"), LOCK_EX|LOCK_NB, &c) == 0);
        CHECK(image_path_lock_at(locks, at("pool/disk.raw"), LOCK_SH|LOCK_NB, &a) == -EBUSY);
        lock_file_release(&c);
        CHECK(access(path, F_OK) < 0 && errno == ENOENT);
        lock_file_release(&c);      /* idempotent */

        /* one lock however the image is reached: through a symlink, or the target */
        CHECK(image_path_lock_at(locks, at("etc/link"), LOCK_SH|LOCK_NB, &a) == 0);
        CHECK(image_path_lock_at(locks, at("elsewhere"), LOCK_EX|LOCK_NB, &c) == -EBUSY);
        lock_file_release(&a);

        /* a lock file unlinked by its last holder while we wait for it is not used */
        CHECK(image_path_lock_at(locks, at("pool/ro.raw"), LOCK_EX|LOCK_NB, &c) == 0);
        d = (LockFile) { .fd = open(c.path, O_RDWR|O_CLOEXEC), .path = strdup(c.path), .operation = LOCK_SH, .ofd = true };
        lock_file_release(&c);
        CHECK(image_path_lock_at(locks, at("pool/ro.raw"), LOCK_EX|LOCK_NB, &c) == 0);
        CHECK(lock_file_exists(&c));
        lock_file_release(&c);
        safe_close(d.fd);
        free(d.path);

        /* the host's root: shared is a no-op, exclusive never */
        CHECK(image_path_lock_at(locks, "/", LOCK_SH|LOCK_NB, &a) == 0);
        CHECK(!lock_file_is_held(&a));
        CHECK(image_path_lock_at(locks, "/", LOCK_EX|LOCK_NB, &a) == -EBUSY);
        CHECK(image_path_lock_at(locks, at("nosuch"), LOCK_SH|LOCK_NB, &a) == -ENOENT);
}

static void test_name_locks(void) {
        _cleanup_free_ char *dir = strdup(at("names"));
        ImagePool p = { .name_lock_dir = dir }, none = {};
        LockFile a = LOCK_FILE_NULL, b = LOCK_FILE_NULL;

        CHECK(image_name_lock(&p, "foo", LOCK_SH, &a) == 0);
        CHECK(image_name_lock(&p, "foo", LOCK_SH, &b) == 0);
        lock_file_release(&b);
        CHECK(image_name_lock(&p, "foo", LOCK_EX, &b) == -EBUSY);
        lock_file_release(&a);
        CHECK(access(at("names/foo"), F_OK) < 0);
        CHECK(image_name_lock(&p, "foo", LOCK_EX, &a) == 0);
        CHECK(image_name_lock(&p, "bar", LOCK_EX, &b) == 0);
        lock_file_release(&a);
        lock_file_release(&b);
        CHECK(image_name_lock(&p, "../x", LOCK_EX, &a) == -EINVAL);
        CHECK(image_name_lock(&none, "foo", LOCK_EX, &a) == -EOPNOTSUPP);
}

int main(void) {
        ImagePool p = {};

        if (!mkdtemp(scratch)) {
                printf("Bail out! mkdtemp failed\n");
                return 1;
        }
        test_default_search_path();
        test_names();
        make_images(&p);
        test_find(&p);
        test_discover(&p);
        test_path_locks();
        test_name_locks();
        image_pool_done(&p);
        (void) rm_rf_at(AT_FDCWD, scratch);
        CHECK(access(scratch, F_OK) < 0);
        return tap_done();
}
