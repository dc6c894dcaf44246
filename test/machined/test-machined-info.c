/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Unit tests for berthd's parsers and validators: machine names and classes, the state
 * file format, /proc/PID/stat, os-release and uid_map. No root, no bus. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caller-limit.h"
#include "image-info.h"
#include "machine-compat.h"
#include "machine-idmap.h"
#include "init-kind.h"
#include "machine-enter.h"
#include "machine-info.h"
#include "machine-name.h"
#include "machine-query.h"
#include "os-release.h"
#include "string-util.h"
#include "tap.h"

static const char *strv_env_get_pair(char **l, const char *key) {
        for (size_t i = 0; l && l[i] && l[i + 1]; i += 2)
                if (streq(l[i], key))
                        return l[i + 1];
        return NULL;
}

static void test_names(void) {
        static const char *const bad[] = {
                "", "/", "..", ".", ".host", "a..b", "a/b", "foo bar", "x.", "\xff\xfe", "\xc3\xa9",
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 */
        };

        CHECK(machine_name_is_valid("foo"));
        CHECK(machine_name_is_valid("foo-bar.example"));
        CHECK(machine_name_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 64 */
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                CHECK(!machine_name_is_valid(bad[i]));
        CHECK(!machine_name_is_valid(NULL));
}

static void test_classes(void) {
        CHECK(machine_class_from_string("container") == MACHINE_CONTAINER);
        CHECK(machine_class_from_string("vm") == MACHINE_VM);
        CHECK(machine_class_from_string("host") < 0);      /* only the host's own entry */
        CHECK(machine_class_from_string("") < 0);
        CHECK(machine_class_from_string("Container") < 0);
        CHECK(machine_class_from_string(NULL) < 0);
        CHECK_STREQ(machine_class_to_string(MACHINE_HOST), "host");
        CHECK(machine_class_to_string(_MACHINE_CLASS_INVALID) == NULL);
        CHECK_STREQ(machine_state_to_string(MACHINE_CLOSING), "closing");
        CHECK(machine_state_to_string(_MACHINE_STATE_MAX) == NULL);
}

static void test_fields(void) {
        CHECK(machine_service_is_valid(""));
        CHECK(machine_service_is_valid("berth"));
        CHECK(!machine_service_is_valid("a\nb"));
        CHECK(!machine_service_is_valid("\xff"));
        CHECK(machine_root_directory_is_valid(""));
        CHECK(machine_root_directory_is_valid("/var/lib/machines/foo"));
        CHECK(!machine_root_directory_is_valid("relative"));
        CHECK(!machine_root_directory_is_valid("/a/../b"));
        CHECK(!machine_root_directory_is_valid("/a\n"));
        CHECK(machine_unit_is_valid("machine-foo.scope"));
        CHECK(!machine_unit_is_valid("../x.scope"));
        CHECK(!machine_unit_is_valid("foo.mount"));
}

static void test_state_roundtrip(void) {
        int netif[] = { 3, 17 };
        MachineInfo in = {
                .name = (char *) "web-1",
                .class = MACHINE_VM,
                .service = (char *) "berth",
                .unit = (char *) "machine-web-1.scope",
                .root_directory = (char *) "/var/lib/machines/web-1",
                .leader = 4242,
                .leader_starttime = 123456789,
                .supervisor = 4241,
                .supervisor_starttime = 123456700,
                .netif = netif,
                .n_netif = 2,
                .timestamp_realtime = 1700000000000000ULL,
                .timestamp_monotonic = 99,
                .cgroup = (char *) "machine.slice/machine-web-1.scope",
        };
        _cleanup_free_ char *text = NULL, *text2 = NULL;
        _cleanup_(machine_info_done) MachineInfo out = { .class = _MACHINE_CLASS_INVALID };

        for (unsigned i = 0; i < 16; i++)
                in.id.bytes[i] = (uint8_t) (i * 17);

        CHECK(machine_info_serialize(&in, &text) == 0);
        CHECK(text && startswith(text, "VERSION=1\n"));
        CHECK(machine_info_parse(text, &out) == 0);
        CHECK_STREQ(out.name, "web-1");
        CHECK(out.class == MACHINE_VM);
        CHECK(memcmp(out.id.bytes, in.id.bytes, 16) == 0);
        CHECK_STREQ(out.service, "berth");
        CHECK_STREQ(out.unit, "machine-web-1.scope");
        CHECK_STREQ(out.root_directory, "/var/lib/machines/web-1");
        CHECK(out.leader == 4242);
        CHECK(out.leader_starttime == 123456789);
        CHECK(out.supervisor == 4241 && out.supervisor_starttime == 123456700);
        CHECK(out.n_netif == 2 && out.netif[0] == 3 && out.netif[1] == 17);
        CHECK(out.timestamp_realtime == 1700000000000000ULL);
        CHECK(out.timestamp_monotonic == 99);
        CHECK_STREQ(out.cgroup, "machine.slice/machine-web-1.scope");
        CHECK(!out.systemd_scope);
        CHECK(machine_info_serialize(&out, &text2) == 0);
        CHECK_STREQ(text2, text);
}

static int parse(const char *text) {
        MachineInfo i = { .class = _MACHINE_CLASS_INVALID };
        int r = machine_info_parse(text, &i);

        machine_info_done(&i);
        return r;
}

#define GOOD "NAME=a\nCLASS=container\nLEADER=2\nLEADER_STARTTIME=5\n"

static void test_state_corrupt(void) {
        CHECK(parse("VERSION=1\n" GOOD) == 0);
        CHECK(parse("VERSION=1\n" GOOD "FUTURE_KEY=whatever\n") == 0);   /* unknown keys ignored */
        CHECK(parse("VERSION=2\n" GOOD) == -EPROTONOSUPPORT);
        CHECK(parse("VERSION=99999999999999999999999\n" GOOD) == -EBADMSG);
        CHECK(parse(GOOD) == -EBADMSG);                                  /* no version line */
        CHECK(parse("") == -EBADMSG);
        CHECK(parse("garbage\n") == -EBADMSG);
        CHECK(parse("VERSION=1\nNAME=a\nCLASS=container\nLEADER=2\nLEADER_STARTTIME=5") == -EBADMSG); /* torn */
        CHECK(parse("VERSION=1\nNAME=a\nCLASS=container\nLEADER=2\n") == -EBADMSG);   /* no start time */
        CHECK(parse("VERSION=1\n" GOOD "NAME=b\n") == -EBADMSG);        /* duplicate */
        CHECK(parse("VERSION=1\nNAME=../x\nCLASS=container\nLEADER=2\nLEADER_STARTTIME=5\n") == -EBADMSG);
        CHECK(parse("VERSION=1\nNAME=a\nCLASS=toaster\nLEADER=2\nLEADER_STARTTIME=5\n") == -EBADMSG);
        CHECK(parse("VERSION=1\nNAME=a\nCLASS=host\nLEADER=2\nLEADER_STARTTIME=5\n") == -EBADMSG);
        CHECK(parse("VERSION=1\nNAME=a\nCLASS=container\nLEADER=1\nLEADER_STARTTIME=5\n") == -EBADMSG);
        CHECK(parse("VERSION=1\nNAME=a\nCLASS=container\nLEADER=-5\nLEADER_STARTTIME=5\n") == -EBADMSG);
        CHECK(parse("VERSION=1\nNAME=a\nCLASS=container\nLEADER=99999999999\nLEADER_STARTTIME=5\n") == -EBADMSG);
        CHECK(parse("VERSION=1\n" GOOD "CGROUP=../../etc\n") == -EBADMSG);
        CHECK(parse("VERSION=1\n" GOOD "CGROUP=machine.slice/machine-a.scope/../../x\n") == -EBADMSG);
        CHECK(parse("VERSION=1\n" GOOD "NETIF=1 0\n") == -EBADMSG);
        CHECK(parse("VERSION=1\n" GOOD "NETIF=1  2\n") == -EBADMSG);
        CHECK(parse("VERSION=1\n" GOOD "NETIF=1 \n") == -EBADMSG);
        CHECK(parse("VERSION=1\n" GOOD "ID=xyz\n") == -EBADMSG);
        CHECK(parse("VERSION=1\n" GOOD "ROOT=relative\n") == -EBADMSG);
        CHECK(parse("VERSION=1\n" GOOD "SYSTEMD_SCOPE=1\n") == -EBADMSG);   /* without UNIT */
        CHECK(parse("VERSION=1\n" GOOD "=x\n") == -EBADMSG);
        CHECK(parse("VERSION=1\n" GOOD "SUPERVISOR=1\n") == -EBADMSG);
        CHECK(parse("VERSION=1\n" GOOD "SUPERVISOR=x\n") == -EBADMSG);
        CHECK(parse("VERSION=1\n" GOOD "SUPERVISOR=77\nSUPERVISOR_STARTTIME=9\n") == 0);
        CHECK(parse(NULL) == -EBADMSG);
}

static void test_proc_stat(void) {
        uint64_t t = 0;
        const char *fields = " S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 777 20 21\n";
        char buf[256];

        snprintf(buf, sizeof(buf), "42 (sleep)%s", fields);
        CHECK(proc_stat_parse_starttime(buf, &t) == 0 && t == 777);
        /* a hostile comm with spaces and parentheses */
        snprintf(buf, sizeof(buf), "42 (a) 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 999 (x)%s", fields);
        CHECK(proc_stat_parse_starttime(buf, &t) == 0 && t == 777);
        CHECK(proc_stat_parse_starttime("42 (sleep) S 1 2", &t) < 0);
        CHECK(proc_stat_parse_starttime("no paren", &t) < 0);
        CHECK(proc_stat_parse_starttime(NULL, &t) < 0);
        /* the parent PID, for the supervisor check */
        CHECK(proc_stat_parse_field(buf, 4, &t) == 0 && t == 1);
        CHECK(proc_stat_parse_field(buf, 3, &t) == -EINVAL);   /* the state letter */
        CHECK(proc_stat_parse_field(buf, 2, &t) == -EINVAL);
}

static void test_os_release(void) {
        _cleanup_strv_free_ char **l = NULL;

        CHECK(os_release_parse("# comment\nID=debian\nNAME=\"Debian GNU/Linux\"\n"
                               "PRETTY='single quoted'\nESC=\"a\\\"b\"\n  \nbad line\n9X=no\nID=override\n"
                               "SPACED=a b\nUTF=\"\xff\"\n", &l) == 0);
        CHECK(strv_length(l) == 8);
        CHECK_STREQ(strv_env_get_pair(l, "ID"), "override");
        CHECK_STREQ(strv_env_get_pair(l, "NAME"), "Debian GNU/Linux");
        CHECK_STREQ(strv_env_get_pair(l, "PRETTY"), "single quoted");
        CHECK_STREQ(strv_env_get_pair(l, "ESC"), "a\"b");
        CHECK(strv_env_get_pair(l, "SPACED") == NULL);
        CHECK(strv_env_get_pair(l, "UTF") == NULL);
        CHECK(strv_env_get_pair(l, "9X") == NULL);
}

static void test_uid_map(void) {
        uint32_t s = 1;

        CHECK(uid_map_parse_shift("         0          0 4294967295\n", &s) == 0 && s == 0);
        CHECK(uid_map_parse_shift("0 100000 65536\n", &s) == 0 && s == 100000);
        CHECK(uid_map_parse_shift("1000 0 1\n", &s) == -ENXIO);
        CHECK(uid_map_parse_shift("", &s) == -EBADMSG);
        CHECK(uid_map_parse_shift(NULL, &s) == -EBADMSG);
}

static void test_id_map(void) {
        IdMap m;
        uint32_t v = 0;

        CHECK(id_map_parse("         0          0 4294967295\n", &m) == 0 && id_map_is_identity(&m));
        CHECK(id_map_parse("0 100000 65536\n65536 300000 10\n", &m) == 0 && m.n == 2 && !id_map_is_identity(&m));
        CHECK(id_map_to_outside(&m, 1000, &v) == 0 && v == 101000);
        CHECK(id_map_to_outside(&m, 65537, &v) == 0 && v == 300001);
        CHECK(id_map_to_outside(&m, 65546, &v) == -ESRCH);
        CHECK(id_map_to_inside(&m, 101000, &v) == 0 && v == 1000);
        CHECK(id_map_to_inside(&m, 1000, &v) == -ESRCH);
        CHECK(id_map_to_inside(&m, 300009, &v) == 0 && v == 65545);
        CHECK(id_map_parse("0 100000\n", &m) == -EBADMSG);
        CHECK(id_map_parse("0 100000 0\n", &m) == -EBADMSG);
        CHECK(id_map_parse("", &m) == 0 && m.n == 0 && id_map_to_inside(&m, 0, &v) == -ESRCH);
        /* a range running to the end of the 32-bit space does not wrap */
        CHECK(id_map_parse("4294967295 0 1\n", &m) == 0 && id_map_to_outside(&m, 4294967295U, &v) == 0 && v == 0);
}

static void test_etc_hostname(void) {
        char *h;

        CHECK_STREQ((h = hostname_from_etc_hostname("# c\n\n  box-1.lan \n other\n")), "box-1.lan");
        free(h);
        CHECK(hostname_from_etc_hostname("") == NULL);
        CHECK(hostname_from_etc_hostname("# only a comment\n") == NULL);
        CHECK(hostname_from_etc_hostname("bad host\n") == NULL);
        CHECK(hostname_from_etc_hostname("-dash\n") == NULL);
        CHECK(hostname_from_etc_hostname("\x1b[31mred\n") == NULL);
        CHECK(hostname_from_etc_hostname("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n") == NULL);
        CHECK_STREQ((h = hostname_from_etc_hostname("nonl")), "nonl");
        free(h);
}

static void test_compat_state(void) {
        int netif[] = { 3, 12 };
        MachineInfo i = {
                .name = (char *) "m1",
                .class = MACHINE_CONTAINER,
                .service = (char *) "a \"b\" $c",
                .unit = (char *) "machine-m1.scope",
                .root_directory = (char *) "/var/lib/machines/m1",
                .leader = 42,
                .netif = netif,
                .n_netif = 2,
                .timestamp_realtime = 1700000000000000ULL,
                .timestamp_monotonic = 123,
        };
        char *text = NULL;

        i.id.bytes[0] = 0xab;
        i.id.bytes[15] = 0x01;
        CHECK(machine_compat_serialize(&i, &text) == 0);
        CHECK_STREQ(text,
                    "# This is private data. Do not parse.\n"
                    "NAME=m1\n"
                    "SCOPE=machine-m1.scope\n"
                    "SERVICE=\"a \\\"b\\\" \\$c\"\n"
                    "ROOT=/var/lib/machines/m1\n"
                    "ID=ab000000000000000000000000000001\n"
                    "CLASS=container\n"
                    "LEADER=42\n"
                    "REALTIME=1700000000000000\n"
                    "MONOTONIC=123\n"
                    "NETIF=3 12\n");
        free(text);
}

/* 2 a second, bursts of 3, 2 waiting at most; UIDs do not share a bucket. */
static void test_caller_limit(void) {
        CallerLimit l = { .rate_per_sec = 2, .burst = 3, .max_pending = 2 };
        uint64_t delay = 0, t = 1000000;

        for (int k = 0; k < 3; k++)
                CHECK(caller_limit_admit(&l, 1000, t, &delay) == 0);
        CHECK(caller_limit_admit(&l, 1000, t, &delay) == 1 && delay == 500000);
        CHECK(caller_limit_admit(&l, 1000, t, &delay) == 1 && delay == 1000000);   /* the token after */
        CHECK(caller_limit_admit(&l, 1000, t, &delay) == -EBUSY);
        CHECK(caller_limit_admit(&l, 1001, t, &delay) == 0);                        /* another UID */
        caller_limit_release(&l, 1000);
        caller_limit_release(&l, 1000);
        /* 1.5 s later: the two reserved tokens are back, one more is free */
        CHECK(caller_limit_admit(&l, 1000, t + 1500000, &delay) == 0);
        CHECK(caller_limit_admit(&l, 1000, t + 1500000, &delay) == 1);
        caller_limit_done(&l);
        CHECK(l.n_buckets == 0);
}

/* berth-spawn's state file as berthd reads it for shells and poweroff */
static void test_restrictions(void) {
        MachineRestrictions r = {};

        CHECK(machine_restrictions_parse("NAME=a\nSUPERVISOR=42\nINIT=busybox\nBOUNDING_SET=0xa80425fb\n"
                                         "NO_NEW_PRIVILEGES=1\nSYSCALL_ALLOW=add_key keyctl\nSYSCALL_DENY=mo\\x20unt\n",
                                         42, &r) == 0);
        CHECK(r.known && r.init_kind == INIT_BUSYBOX && r.bounding_set == 0xa80425fbULL && r.no_new_privileges);
        CHECK(strv_length(r.syscall_allow) == 2 && streq(r.syscall_allow[1], "keyctl"));
        CHECK(strv_length(r.syscall_deny) == 1 && streq(r.syscall_deny[0], "mo unt"));
        machine_restrictions_done(&r);

        /* another machine's file of the same name */
        CHECK(machine_restrictions_parse("SUPERVISOR=43\nBOUNDING_SET=0x1\nNO_NEW_PRIVILEGES=0\n", 42, &r) == -ESTALE);
        /* required keys missing or broken: never a shell with guessed restrictions */
        CHECK(machine_restrictions_parse("SUPERVISOR=42\nNO_NEW_PRIVILEGES=0\n", 42, &r) == -EBADMSG);
        CHECK(machine_restrictions_parse("SUPERVISOR=42\nBOUNDING_SET=12\nNO_NEW_PRIVILEGES=0\n", 42, &r) == -EBADMSG);
        CHECK(machine_restrictions_parse("SUPERVISOR=42\nBOUNDING_SET=0x1\nNO_NEW_PRIVILEGES=yes\n", 42, &r) == -EBADMSG);
        /* an older berth-spawn (no INIT=): no init known, systemd's signals stay */
        CHECK(machine_restrictions_parse("SUPERVISOR=42\nBOUNDING_SET=0x1\nNO_NEW_PRIVILEGES=0\n", 42, &r) == 0);
        CHECK(r.init_kind == INIT_NONE && !r.syscall_allow);
        machine_restrictions_done(&r);
}

static void test_init_signals(void) {
        CHECK(init_kind_signal(INIT_BUSYBOX, INIT_ACTION_POWEROFF) == SIGUSR2);
        CHECK(init_kind_signal(INIT_BUSYBOX, INIT_ACTION_REBOOT) == SIGTERM);
        CHECK(init_kind_signal(INIT_SYSTEMD, INIT_ACTION_POWEROFF) == SIGRTMIN + 4);
        CHECK(init_kind_signal(INIT_SYSTEMD, INIT_ACTION_REBOOT) == SIGINT);
        CHECK(init_kind_signal(INIT_SYSVINIT, INIT_ACTION_REBOOT) == SIGINT);
        CHECK(init_kind_signal(INIT_SYSVINIT, INIT_ACTION_POWEROFF) == -EOPNOTSUPP);
        CHECK(init_action_from_systemd_signal(SIGRTMIN + 4) == INIT_ACTION_POWEROFF);
        CHECK(init_action_from_systemd_signal(SIGINT) == INIT_ACTION_REBOOT);
        CHECK(init_action_from_systemd_signal(SIGTERM) == -EINVAL);
        CHECK(init_kind_from_string("busybox") == INIT_BUSYBOX);
        CHECK(init_kind_from_string("bogus") < 0);
}

int main(void) {
        test_restrictions();
        test_init_signals();
        test_caller_limit();
        test_names();
        test_classes();
        test_fields();
        test_state_roundtrip();
        test_state_corrupt();
        test_proc_stat();
        test_os_release();
        test_uid_map();
        test_id_map();
        test_compat_state();
        test_etc_hostname();
        return tap_done();
}
