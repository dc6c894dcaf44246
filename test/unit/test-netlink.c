/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* The pure parts of src/shared/netlink-util (no root, no netlink). */

#include <string.h>

#include "netlink-util.h"
#include "tap.h"

static void test_ifname_valid(void) {
        char long_alt[200];

        CHECK(ifname_valid("eth0"));
        CHECK(ifname_valid("ve-foo.bar_1"));
        CHECK(ifname_valid("123456789012345"));
        CHECK(!ifname_valid("1234567890123456"));
        CHECK(!ifname_valid(""));
        CHECK(!ifname_valid(NULL));
        CHECK(!ifname_valid("."));
        CHECK(!ifname_valid(".."));
        CHECK(ifname_valid("..."));
        CHECK(!ifname_valid("a/b"));
        CHECK(!ifname_valid("a:b"));
        CHECK(!ifname_valid("a b"));
        CHECK(!ifname_valid("a\tb"));
        CHECK(!ifname_valid("eth%d"));
        CHECK(!ifname_valid("\xc3\xa9"));

        memset(long_alt, 'a', sizeof(long_alt));
        long_alt[127] = 0;
        CHECK(altifname_valid(long_alt));
        CHECK(!ifname_valid(long_alt));
        long_alt[127] = 'a';
        long_alt[128] = 0;
        CHECK(!altifname_valid(long_alt));
        CHECK(!altifname_valid("ve-a/b"));
}

static void test_ifname_short(void) {
        char n[IFNAMSIZ];

        CHECK(ifname_for_machine("ve-", "foo", n) == 0);
        CHECK_STREQ(n, "ve-foo");
        CHECK(ifname_for_machine("vb-", "debian-12", n) == 0);
        CHECK_STREQ(n, "vb-debian-12");
        CHECK(ifname_for_machine("", "foo", n) == 0);
        CHECK_STREQ(n, "foo");
        /* exactly 15 bytes: used as is */
        CHECK(ifname_for_machine("ve-", "123456789012", n) == 0);
        CHECK_STREQ(n, "ve-123456789012");
        CHECK(strlen(n) == IFNAMSIZ - 1);
        CHECK(ifname_for_machine("vz-", "abcdefghijkl", n) == 0);
        CHECK_STREQ(n, "vz-abcdefghijkl");
}

static bool hex_suffix(const char *s) {
        size_t l = strlen(s);

        if (l < IFNAME_HASH_DIGITS)
                return false;
        for (const char *p = s + l - IFNAME_HASH_DIGITS; *p; p++)
                if (!strchr("0123456789abcdef", *p))
                        return false;
        return true;
}

static void test_ifname_long(void) {
        char a[IFNAMSIZ], b[IFNAMSIZ], c[IFNAMSIZ], d[IFNAMSIZ], e[IFNAMSIZ];

        /* 16 bytes: shortened */
        CHECK(ifname_for_machine("ve-", "1234567890123", a) == 0);
        CHECK(strlen(a) == IFNAMSIZ - 1);
        CHECK(strncmp(a, "ve-123456", 9) == 0);
        CHECK(hex_suffix(a));
        CHECK(ifname_valid(a));

        CHECK(ifname_for_machine("ve-", "a-very-long-machine-name.example.com", a) == 0);
        CHECK(strlen(a) == IFNAMSIZ - 1);
        CHECK(strncmp(a, "ve-a-very", 9) == 0);
        CHECK(hex_suffix(a));
        CHECK(ifname_valid(a));

        /* deterministic */
        CHECK(ifname_for_machine("ve-", "a-very-long-machine-name.example.com", b) == 0);
        CHECK_STREQ(a, b);

        /* same machine, other prefix: same hash */
        CHECK(ifname_for_machine("vb-", "a-very-long-machine-name.example.com", c) == 0);
        CHECK(strncmp(c, "vb-a-very", 9) == 0);
        CHECK_STREQ(a + 9, c + 9);

        /* two long names sharing a 20-char prefix differ */
        CHECK(ifname_for_machine("ve-", "container-of-project-alpha", d) == 0);
        CHECK(ifname_for_machine("ve-", "container-of-project-beta", e) == 0);
        printf("# %s %s\n", d, e);
        CHECK(strncmp("container-of-project-alpha", "container-of-project-beta", 20) == 0);
        CHECK(strcmp(d, e) != 0);
        CHECK(strlen(d) == IFNAMSIZ - 1 && strlen(e) == IFNAMSIZ - 1);
        CHECK(ifname_valid(d) && ifname_valid(e));

        /* ... as do names differing only in the last character */
        CHECK(ifname_for_machine("vz-", "build-worker-node-0001", d) == 0);
        CHECK(ifname_for_machine("vz-", "build-worker-node-0002", e) == 0);
        CHECK(strcmp(d, e) != 0);

        /* a long prefix is fine as long as the name fits... */
        CHECK(ifname_for_machine("longpfx-", "abc", a) == 0);
        CHECK_STREQ(a, "longpfx-abc");
        /* ...and may be 8 bytes when shortening (one name character + the hash) */
        CHECK(ifname_for_machine("longpfx-", "abcdefgh", a) == 0);
        CHECK(strncmp(a, "longpfx-a", 9) == 0 && hex_suffix(a) && strlen(a) == IFNAMSIZ - 1);
        CHECK(ifname_for_machine("longpfx--", "abcdefgh", a) == -EINVAL);
}

static void test_ifname_invalid(void) {
        char n[IFNAMSIZ];

        CHECK(ifname_for_machine("ve-", "", n) == -EINVAL);
        CHECK(ifname_for_machine("ve-", "a/b", n) == -EINVAL);
        CHECK(ifname_for_machine("ve-", "a:b", n) == -EINVAL);
        CHECK(ifname_for_machine("ve-", "a b", n) == -EINVAL);
        CHECK(ifname_for_machine("ve-", "a\nb", n) == -EINVAL);
        CHECK(ifname_for_machine("ve-", "a%d", n) == -EINVAL);
        CHECK(ifname_for_machine("v/", "ab", n) == -EINVAL);
        CHECK(ifname_for_machine("", ".", n) == -EINVAL);
        CHECK(ifname_for_machine("", "..", n) == -EINVAL);
        CHECK(ifname_for_machine("ve-", "..", n) == 0);
        CHECK_STREQ(n, "ve-..");
        /* invalid characters are refused in long names too */
        CHECK(ifname_for_machine("ve-", "a-very-long-name/with-slash", n) == -EINVAL);
        CHECK(ifname_for_machine("ve-", "a-very-long-name with-space", n) == -EINVAL);
}

int main(void) {
        test_ifname_valid();
        test_ifname_short();
        test_ifname_long();
        test_ifname_invalid();
        return tap_done();
}
