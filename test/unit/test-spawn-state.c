/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The runtime state file's text (spawn_state_serialize): keys, escaping, lists, and the
 * keys left out when they do not apply. No root, nothing written. */

#include <arpa/inet.h>
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
        CHECK(spawn_state_serialize(&c, &s, 42, &text) == 0);
        CHECK_STREQ(text, "NAME=m1\nSUPERVISOR=42\nROOT=/srv/t\nDIRECTORY=/srv/t\n");
        free(text);
}

static void test_full(void) {
        char *work[] = { NULL, (char *) "/w/.#up.berth-work-1", NULL };
        char *v1[] = { (char *) "/sys/fs/cgroup/pids/machine.slice/x", (char *) "/sys/fs/cgroup/memory/m", NULL };
        SpawnConfig c = { .machine = (char *) "m2", .image = (char *) "/i.raw", .n_mounts = 3 };
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
        CHECK_STREQ(text,
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
                    "FIREWALL=m2\n");
        free(text);
}

int main(void) {
        test_minimal();
        test_full();
        return tap_done();
}
