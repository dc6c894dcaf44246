/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <signal.h>
#include <stdlib.h>

#include "machine-name.h"
#include "parse-util.h"
#include "path-util.h"
#include "string-util.h"
#include "tap.h"

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
        CHECK(strv_length(l) == 4);
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

int main(void) {
        test_paths();
        test_strv();
        test_machine_names();
        test_parse();
        return tap_done();
}
