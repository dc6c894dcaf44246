/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The runtime state file's text (spawn_state_serialize): keys, escaping, lists, and the
 * keys left out when they do not apply. No root, nothing written. */

#include <arpa/inet.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "spawn-state.h"
#include "string-util.h"
#include "tap.h"

static void test_minimal(void) {
        SpawnConfig c = { .machine = (char *) "m1", .directory = (char *) "/srv/t" };
        SpawnState s;
        char *text = NULL;

        spawn_state_init(&s);
        s.directory = (char *) "/srv/t";
        char want[256];

        CHECK(spawn_state_serialize(&c, &s, 42, &text) == 0);
        snprintf(want, sizeof(want), "NAME=m1\nSUPERVISOR=42\nROOT=/srv/t\nDIRECTORY=/srv/t\n"
                 "INIT=none\nBOUNDING_SET=0x%" PRIx64 "\nNO_NEW_PRIVILEGES=0\n", spawn_config_bounding_set(&c));
        CHECK_STREQ(text, want);
        free(text);
}

/* what berthd reads back for a shell in the machine and for poweroff */
static void test_restrictions(void) {
        char *allow[] = { (char *) "add_key", (char *) "keyctl", NULL }, *deny[] = { (char *) "mount", NULL };
        SpawnConfig c = { .machine = (char *) "m3", .no_new_privileges = true, .syscall_allow = allow,
                          .syscall_deny = deny, .boot = true, .capability_drop = UINT64_C(1) << 21 };
        SpawnState s;
        char *text = NULL, want[512];

        spawn_state_init(&s);
        s.init_kind = INIT_BUSYBOX;
        CHECK(spawn_state_serialize(&c, &s, 42, &text) == 0);
        CHECK(!(spawn_config_bounding_set(&c) & (UINT64_C(1) << 21)));
        snprintf(want, sizeof(want), "NAME=m3\nSUPERVISOR=42\nINIT=busybox\nBOUNDING_SET=0x%" PRIx64 "\n"
                 "NO_NEW_PRIVILEGES=1\nSYSCALL_ALLOW=add_key keyctl\nSYSCALL_DENY=mount\n",
                 spawn_config_bounding_set(&c));
        CHECK_STREQ(text, want);
        free(text);
}

static void test_full(void) {
        char *work[] = { NULL, (char *) "/w/.#up.berth-work-1", NULL };
        char *v1[] = { (char *) "/sys/fs/cgroup/pids/machine.slice/x", (char *) "/sys/fs/cgroup/memory/m", NULL };
        SpawnConfig c = { .machine = (char *) "m2", .image = (char *) "/i.raw", .n_mounts = 3 };
        char want[1024];
        char *devices[] = { (char *) "/dev/loop3", (char *) "berth-a-root", NULL };
        SpawnState s;
        char *text = NULL;

        spawn_state_init(&s);
        s.directory = (char *) "/run/berth/image-root";
        s.leader = 7;
        s.userns_fd = 3;               /* any fd: only its presence is written */
        s.uid_shift = 524288;
        s.uid_range = 65536;
        s.users_ownership = USERS_OWNERSHIP_MAP;
        s.overlay_work_dirs = work;
        s.image.devices = devices;
        s.cgroup.v2_path = (char *) "/sys/fs/cgroup/machine.slice/machine-m\\x2d2 x.scope";
        s.cgroup.v1_paths = v1;
        strcpy(s.net.host_ifname, "ve-m2");
        s.net.host_ifindex = 9;
        s.net.firewall = true;
        inet_pton(AF_INET, "10.0.0.0", &s.net.subnet);
        s.net.prefixlen = 28;
        inet_pton(AF_INET, "10.0.0.1", &s.net.gateway);
        CHECK(spawn_state_serialize(&c, &s, 42, &text) == 0);
        snprintf(want, sizeof(want),
                    "NAME=m2\n"
                    "SUPERVISOR=42\n"
                    "LEADER=7\n"
                    "ROOT=/run/berth/image-root\n"
                    "IMAGE=/i.raw\n"
                    "DEVICES=/dev/loop3 berth-a-root\n"
                    "OVERLAY_WORK_DIRS=/w/.#up.berth-work-1\n"
                    "UID_SHIFT=524288\nUID_RANGE=65536\n"
                    "USERS_OWNERSHIP=map\n"
                    "CGROUP=/sys/fs/cgroup/machine.slice/machine-m\\x5cx2d2\\x20x.scope\n"
                    "CGROUP_V1=/sys/fs/cgroup/pids/machine.slice/x /sys/fs/cgroup/memory/m\n"
                    "HOST_IFNAME=ve-m2\n"
                    "HOST_IFINDEX=9\n"
                    "SUBNET=10.0.0.0/28\n"
                    "GATEWAY=10.0.0.1\n"
                    "FIREWALL=m2\n"
                    "INIT=none\n"
                    "BOUNDING_SET=0x%" PRIx64 "\n"
                    "NO_NEW_PRIVILEGES=0\n", spawn_config_bounding_set(&c));
        CHECK_STREQ(text, want);
        free(text);
}

int main(void) {
        test_minimal();
        test_full();
        test_restrictions();
        return tap_done();
}
