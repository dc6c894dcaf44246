/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* The one owner of machines' cgroups, for berth-spawn and berthd: where the hierarchies
 * are, what a machine's scope is called and where it lives, and creating, killing and
 * removing it. Used when systemd is not PID 1 (under systemd, scopes come from systemd).
 *
 * Paths are relative to the cgroup2 root ("machine.slice/machine-NAME.scope") unless they
 * say otherwise. On a pure cgroup v2 host the root is /sys/fs/cgroup; on a hybrid host it
 * is /sys/fs/cgroup/unified, with v1 controllers beside it, and the name=systemd v1
 * hierarchy at /sys/fs/cgroup/systemd is kept in step by berthd, so that tools reading
 * either see the machine. */

/* One rule of a device cgroup (v1 devices.allow/devices.deny, an OCI
 * linux.resources.devices entry): type 'a', 'c' or 'b', -1 for any major or minor,
 * access a subset of "rwm". */
typedef struct CgroupDeviceRule {
        bool allow;
        char type;
        int64_t major, minor;
        char access[4];
} CgroupDeviceRule;

#define CGROUP_DEVICE_RULES_MAX 128U
#define CGROUP_CPUSET_MAX 256U    /* the longest cpuset.cpus/mems list taken, NUL included */

typedef struct CgroupLayout {
        int unified_fd;           /* cgroup2 root, or -EBADF */
        const char *unified_path; /* its path, or NULL */
        int named_fd;             /* name=systemd v1 root on hybrid hosts, or -EBADF */
        bool has_kill;            /* cgroup.kill (Linux 5.14+) */
} CgroupLayout;

#define CGROUP_LAYOUT_NULL { .unified_fd = -EBADF, .named_fd = -EBADF }

/* -EOPNOTSUPP: no cgroup2 hierarchy. */
int cgroup_layout_open(CgroupLayout *ret);
void cgroup_layout_done(CgroupLayout *l);

/* "machine-NAME.scope", NAME escaped as systemd escapes unit names ("a-b" gives
 * "machine-a\x2db.scope"), so that berth, systemd and machined agree on it. */
char *machine_scope_name(const char *machine);
/* "machine.slice/machine-NAME.scope": where a machine's scope lives by default. */
char *machine_scope_cgroup(const char *machine);
/* --slice=a-b.slice -> "a.slice/a-b.slice", as systemd nests slices; -EINVAL if invalid. */
int slice_to_path(const char *slice, char **ret);

/* By absolute path: create path and its missing parents; returns an O_DIRECTORY fd usable
 * for clone3(CLONE_INTO_CGROUP). EEXIST is passed on for the last component. */
int cgroup_create(const char *path, int *ret_fd);
/* By absolute path, v2 or v1: cgroup_create(), but a leftover of that name is removed and
 * made anew if no process runs in it; -EBUSY if one does. ret_fd may be NULL. */
int cgroup_create_fresh(const char *path, bool v2, int *ret_fd);
/* By absolute path: write value to the cgroup's file attr; -ENOENT if the kernel has no
 * such file there. */
int cgroup_write_attr(const char *dir, const char *attr, const char *value);
/* By absolute path: kill everything in the cgroup, wait for it, remove it with its children. */
int cgroup_destroy(const char *path);
/* By absolute path, v2 or v1: remove the cgroup with its children, killing nothing (a
 * cgroup with processes fails with -EBUSY). Gone already is success. */
int cgroup_remove_tree(const char *path);
/* By absolute path: cgroup2 "populated" (processes in it or below). */
bool cgroup_is_populated(const char *path);
/* By absolute path, v1 or v2: no process in the cgroup itself. */
bool cgroup_has_no_procs(const char *path);

/* Create the scope (and machine.slice; a leftover scope of that name is reclaimed if empty,
 * -EBUSY if not) and move pid into it. */
int cgroup_create_scope(const CgroupLayout *l, const char *path, pid_t pid);
/* Signal every process in the scope; SIGKILL uses cgroup.kill when available. */
int cgroup_kill_scope(const CgroupLayout *l, const char *path, int sig);
/* Remove the scope (machine.slice stays). -EBUSY while populated. */
int cgroup_remove_scope(const CgroupLayout *l, const char *path);
/* Whether the scope exists and has processes: 1 populated, 0 empty, -ENOENT gone. */
int cgroup_scope_populated(const CgroupLayout *l, const char *path);
/* The cgroup v2 path of pid, relative to the root, without leading slash ("" for root). */
int cgroup_pid_get_path(pid_t pid, char **ret);
