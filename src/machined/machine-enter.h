/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "cgroup-setup.h"
#include "init-kind.h"
#include "seccomp-util.h"
#include "user-util.h"

/* Running something inside a machine from berthd: a pty of the machine's own devpts, and
 * a process on it that is entirely the machine's: it joins the leader's namespaces
 * through its pidfd (setns(), user namespace included), is cloned straight into the
 * leader's cgroup, chroots to the leader's root, and takes the machine's capability
 * bounding set, no_new_privs and system call filter, as berth-spawn gave them to the
 * payload. Nothing of berthd goes along: the process starts with only its pty open, and
 * berthd never executes a file of the machine itself (the process that does is inside). */

#define SPAWN_STATE_DIR "/run/berth/spawn"

/* What berth-spawn recorded about a machine in /run/berth/spawn/NAME. */
typedef struct MachineRestrictions {
        bool known;               /* a state file of this machine's supervisor was found */
        InitKind init_kind;
        uint64_t bounding_set;
        bool no_new_privileges;
        char **syscall_allow;
        char **syscall_deny;
} MachineRestrictions;

void machine_restrictions_done(MachineRestrictions *r);
/* Parse the state file text; supervisor > 0: only if its SUPERVISOR= is that PID (else
 * the file belongs to another machine of the same name, and -ESTALE is returned). */
int machine_restrictions_parse(const char *text, pid_t supervisor, MachineRestrictions *ret);
/* Read 'dir'/name; -ENOENT when berth-spawn did not start this machine. */
int machine_restrictions_load(const char *dir, const char *name, pid_t supervisor, MachineRestrictions *ret);

typedef enum EnterMode {
        ENTER_PTY,        /* only the pty: OpenMachinePTY */
        ENTER_LOGIN,      /* the machine's /bin/login on it */
        ENTER_SHELL,      /* a command as a user */
} EnterMode;

typedef struct EnterRequest {
        EnterMode mode;
        const char *path;         /* ENTER_SHELL: absolute path inside the machine */
        char **argv;
        char **env;
        const UserRecord *user;   /* ENTER_SHELL */
} EnterRequest;

#define MACHINE_ENTRY_V1_MAX 16U

/* Everything needed to enter one machine, gathered by berthd before forking. */
typedef struct MachineEntry {
        pid_t leader;
        int leader_pidfd;         /* borrowed */
        int rootfd;               /* the leader's root, O_PATH */
        int cgroup_fd;            /* the leader's cgroup v2 directory */
        int v1_cgroup_fds[MACHINE_ENTRY_V1_MAX]; /* hybrid hosts: its cgroups in v1 hierarchies */
        size_t n_v1_cgroup_fds;
        int ns_flags;             /* CLONE_NEW* of the namespaces that differ from berthd's */
        uint64_t bounding_set;
        bool no_new_privileges;
        SeccompFilter filter;
        bool have_filter;
} MachineEntry;

#define MACHINE_ENTRY_NULL { .leader_pidfd = -EBADF, .rootfd = -EBADF, .cgroup_fd = -EBADF }

void machine_entry_done(MachineEntry *e);
/* The cgroups are looked up below the hierarchies of 'cgroups' (berthd's layout). The restrictions come from 'r' when known, else
 * from the leader (its bounding set and no_new_privs; a leader with a system call filter
 * berthd cannot reproduce is refused with -EPERM). */
int machine_entry_prepare(pid_t leader, int leader_pidfd, const CgroupLayout *cgroups, const MachineRestrictions *r,
                          MachineEntry *ret);

/* Fork the process in the machine. Returns the pty master and its path inside the machine;
 * for ENTER_LOGIN and ENTER_SHELL, also a pidfd of berthd's child, whose exit status is
 * the command's (128+N for a death by signal N). The caller must be single-threaded. */
int machine_entry_run(const MachineEntry *e, const EnterRequest *req, int *ret_master, char **ret_pty_path,
                      int *ret_pidfd);
