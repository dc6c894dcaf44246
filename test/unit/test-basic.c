/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "machine-name.h"
#include "mount-util.h"
#include "os-release.h"
#include "parse-util.h"
#include "path-util.h"
#include "string-util.h"
#include "tap.h"
#include "time-util.h"

static void test_paths(void) {
        char a[] = "//usr/./lib//", b[] = "/", c[] = "/a/.";
        _cleanup_free_ char *j = path_join("/foo/", "/bar"), *base = path_basename("/x/yz//");

        CHECK(path_is_normalized("/usr/lib"));
        CHECK(path_is_normalized("/"));
        CHECK(!path_is_normalized("usr"));
        CHECK(!path_is_normalized("/usr/../etc"));
        CHECK(!path_is_normalized("/usr/./etc"));
        CHECK(!path_is_normalized("/.."));
        CHECK(path_is_normalized("/usr/..x"));
        CHECK_STREQ(path_simplify(a), "/usr/lib");
        CHECK_STREQ(path_simplify(b), "/");
        CHECK_STREQ(path_simplify(c), "/a");
        CHECK_STREQ(j, "/foo/bar");
        CHECK_STREQ(base, "yz");
        CHECK(path_basename("///") == NULL);
}

static void test_strv(void) {
        _cleanup_strv_free_ char **l = NULL, **e = NULL;

        CHECK(strv_split_full("a\\:b:c::d", ":", true, &l) == 0);
        CHECK_STREQ(l[0], "a:b");
        CHECK_STREQ(l[1], "c");
        CHECK_STREQ(l[2], "");
        CHECK_STREQ(l[3], "d");
        CHECK(strv_split_full("trailing\\", ":", true, &e) == -EINVAL);

        e = NULL;
        CHECK(strv_env_set(&e, "A=1") == 0);
        CHECK(strv_env_set(&e, "B=2") == 0);
        CHECK(strv_env_set(&e, "A=3") == 0);
        CHECK(strv_length(e) == 2);
        CHECK_STREQ(strv_env_get(e, "A"), "3");
        CHECK(strv_env_get(e, "C") == NULL);
}

static void test_machine_names(void) {
        _cleanup_free_ char *a = machine_name_from_string("my_tree.v2.."), *b = machine_name_from_string("..."),
                *c = machine_name_from_string("_tree_.-x-"), *d = machine_name_from_string("--");
        char long_name[80];

        CHECK(machine_name_is_valid("debian-12"));
        CHECK(machine_name_is_valid("a.b.c"));
        CHECK(!machine_name_is_valid(""));
        CHECK(!machine_name_is_valid("."));
        CHECK(!machine_name_is_valid(".."));
        CHECK(!machine_name_is_valid("a..b"));
        CHECK(!machine_name_is_valid(".a"));
        CHECK(!machine_name_is_valid("a."));
        CHECK(!machine_name_is_valid("a/b"));
        CHECK(!machine_name_is_valid("a b"));
        CHECK(!machine_name_is_valid("\xc3\xa9t\xc3\xa9"));
        CHECK(!machine_name_is_valid("-"));
        CHECK(!machine_name_is_valid("--"));
        CHECK(!machine_name_is_valid("-x"));
        CHECK(!machine_name_is_valid("x-"));
        CHECK(!machine_name_is_valid("a-.b"));
        CHECK(!machine_name_is_valid("a.-b"));
        CHECK(machine_name_is_valid("a--b.c-d"));
        memset(long_name, 'x', 64);
        long_name[64] = 0;
        CHECK(machine_name_is_valid(long_name));
        long_name[64] = 'x';
        long_name[65] = 0;
        CHECK(!machine_name_is_valid(long_name));
        CHECK_STREQ(a, "my-tree.v2");
        CHECK(b == NULL);
        /* a directory called "_tree_" must not yield "-tree-", which the validator refuses */
        CHECK_STREQ(c, "tree.x");
        CHECK(d == NULL);
}

static void test_parse(void) {
        Id128 id, id2;
        char buf[37], sbuf[16];
        uid_t u;
        mode_t m;
        uint64_t v;

        CHECK(parse_boolean("yes") == 1);
        CHECK(parse_boolean("OFF") == 0);
        CHECK(parse_boolean("maybe") < 0);
        CHECK(signal_from_string("TERM") == SIGTERM);
        CHECK(signal_from_string("SIGKILL") == SIGKILL);
        CHECK(signal_from_string("9") == 9);
        CHECK(signal_from_string("SIGRTMIN+3") == SIGRTMIN + 3);
        CHECK(signal_from_string("RTMAX-1") == SIGRTMAX - 1);
        CHECK(signal_from_string("SIGFOO") < 0);
        CHECK(signal_from_string("0") < 0);
        CHECK(signal_from_string("RTMIN+99") < 0);
        CHECK_STREQ(signal_to_string(SIGTERM, sbuf), "SIGTERM");
        CHECK_STREQ(signal_to_string(SIGRTMIN + 3, sbuf), "SIGRTMIN+3");
        CHECK(parse_uid("1000", &u) == 0 && u == 1000);
        CHECK(parse_uid("-1", &u) < 0);
        CHECK(parse_uid("4294967295", &u) < 0);
        CHECK(parse_uid("12a", &u) < 0);
        CHECK(parse_mode("0755", &m) == 0 && m == 0755);
        CHECK(parse_mode("8", &m) < 0);
        CHECK(safe_atou64("18446744073709551615", &v) == 0 && v == UINT64_MAX);
        CHECK(safe_atou64("18446744073709551616", &v) == -ERANGE);
        CHECK(safe_atou64("0", &v) == 0 && v == 0);
        CHECK(safe_atou64("", &v) == -EINVAL);
        CHECK(safe_atou64(" 1", &v) == -EINVAL);
        CHECK(safe_atou64("+1", &v) == -EINVAL);
        CHECK(safe_atou64("-1", &v) == -EINVAL);
        CHECK(safe_atou64("1x", &v) == -EINVAL);
        CHECK(safe_atou64("0x10", &v) == -EINVAL);
        CHECK(now_usec(CLOCK_MONOTONIC) > 0 && now_usec(CLOCK_REALTIME) > 1600000000ULL * USEC_PER_SEC);

        CHECK(id128_from_string("0123456789abcdef0123456789ABCDEF", &id) == 0);
        CHECK_STREQ(id128_to_uuid_string(&id, buf), "01234567-89ab-cdef-0123-456789abcdef");
        CHECK(id128_from_string(buf, &id2) == 0 && memcmp(&id, &id2, sizeof(id)) == 0);
        CHECK(id128_from_string("01234567-89ab-cdef-0123-456789abcdeg", &id) < 0);
        CHECK(id128_from_string("0123456789abcdef", &id) < 0);
        CHECK(id128_randomize(&id) == 0 && (id.bytes[6] >> 4) == 4 && (id.bytes[8] & 0xc0) == 0x80);
        CHECK(utf8_is_valid("h\xc3\xa9llo"));
        CHECK(!utf8_is_valid("\xc3("));
        CHECK(!utf8_is_valid("\xc0\xaf"));
}

/* A tree that tries to make its reader leave it, block on a FIFO or read forever. */
static void test_read_in_root(void) {
        char dir[] = "/tmp/test-basic.XXXXXX", p[256];
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int rootfd = -EBADF;
        size_t size = 0;
        FILE *f;

        CHECK(mkdtemp(dir) != NULL);
        snprintf(p, sizeof(p), "%s/etc", dir);
        CHECK(mkdir(p, 0755) == 0);
        snprintf(p, sizeof(p), "%s/usr", dir);
        CHECK(mkdir(p, 0755) == 0);
        snprintf(p, sizeof(p), "%s/usr/os-release", dir);
        f = fopen(p, "we");
        CHECK(f && fputs("ID=inside\nPRETTY_NAME=\"In Side\"\n", f) >= 0 && fclose(f) == 0);
        /* absolute and ../ escapes both resolve inside the tree */
        snprintf(p, sizeof(p), "%s/etc/os-release", dir);
        CHECK(symlink("/../../../../usr/os-release", p) == 0);
        snprintf(p, sizeof(p), "%s/etc/fifo", dir);
        CHECK(mkfifo(p, 0600) == 0);
        snprintf(p, sizeof(p), "%s/etc/link", dir);
        CHECK(symlink("/etc/hostname", p) == 0);   /* the host's: must not be found */

        rootfd = open(dir, O_PATH|O_DIRECTORY|O_CLOEXEC);
        CHECK(rootfd >= 0);
        CHECK(read_regular_file_in_root(rootfd, "/etc/os-release", 4096, &text, &size) == 0);
        CHECK_STREQ(text, "ID=inside\nPRETTY_NAME=\"In Side\"\n");
        CHECK(size == strlen(text));
        CHECK(read_regular_file_in_root(rootfd, "etc/fifo", 4096, &text, NULL) == -EBADFD);
        CHECK(read_regular_file_in_root(rootfd, "/etc", 4096, &text, NULL) == -EBADFD);
        CHECK(read_regular_file_in_root(rootfd, "/etc/link", 4096, &text, NULL) == -ENOENT);
        CHECK(read_regular_file_in_root(rootfd, "/etc/os-release", 8, &text, NULL) == -EFBIG);
        CHECK(os_release_read_at(rootfd, &l) == 0);
        CHECK(l && strv_length(l) == 4 && streq(l[2], "PRETTY_NAME") && streq(l[3], "In Side"));

        snprintf(p, sizeof(p), "rm -rf '%s'", dir);
        CHECK(system(p) == 0);
}

static void test_base64(void) {
        static const struct {
                const char *in, *out;
        } good[] = {
                { "", "" }, { "Zg==", "f" }, { "Zm8=", "fo" }, { "Zm9v", "foo" }, { "Zm9vYg", "foob" },
                { "Zm9v\nYmFy", "foobar" }, { " Zm9vYmE= ", "fooba" }, { "+/+/", "\xfb\xff\xbf" },
        };
        static const char *const bad[] = { "Zg=a", "Z", "Zh==", "Zm9v@", "Zg===", "Zm9=" };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_free_ void *d = NULL;
                ssize_t n = base64_decode(good[i].in, &d);

                CHECK(n == (ssize_t) strlen(good[i].out) && memcmp(d, good[i].out, (size_t) n) == 0);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                void *d = NULL;

                CHECK(base64_decode(bad[i], &d) == -EINVAL && !d);
        }
}

int main(void) {
        test_paths();
        test_base64();
        test_strv();
        test_machine_names();
        test_parse();
        test_read_in_root();
        return tap_done();
}
