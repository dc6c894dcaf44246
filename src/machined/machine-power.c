/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "init-kind.h"
#include "mount-util.h"
#include "log.h"
#include "machine-enter.h"
#include "machine-power.h"

/* sysvinit's request on /run/initctl (initreq.h): change to a runlevel */
#define INITCTL_MAGIC 0x03091969
#define INITCTL_CMD_RUNLVL 1

struct init_request {
        int magic;
        int cmd;
        int runlevel;
        int sleeptime;
        char data[368];
};

/* The FIFO is found inside the machine's root (never following its symlinks out of it)
 * and must be a FIFO: only then is it opened for writing, without blocking. */
static int sysvinit_request_runlevel(Machine *machine, char runlevel) {
        struct init_request req = { .magic = INITCTL_MAGIC, .cmd = INITCTL_CMD_RUNLVL, .runlevel = runlevel };
        _cleanup_close_ int rootfd = -EBADF, pathfd = -EBADF, fd = -EBADF;
        char fn[64];
        struct stat st;
        int r;

        snprintf(fn, sizeof(fn), "/proc/%i/root", (int) machine->info.leader);
        rootfd = open(fn, O_PATH|O_DIRECTORY|O_CLOEXEC);
        if (rootfd < 0)
                return -errno;
        r = chase_in_root(rootfd, "/run/initctl", 0, &pathfd);
        if (r < 0)
                return r;
        if (fstat(pathfd, &st) < 0)
                return -errno;
        if (!S_ISFIFO(st.st_mode))
                return -ENOTSUP;
        snprintf(fn, sizeof(fn), "/proc/self/fd/%i", pathfd);
        fd = open(fn, O_WRONLY|O_NONBLOCK|O_CLOEXEC|O_NOCTTY);
        if (fd < 0)
                return -errno;
        return loop_write(fd, &req, sizeof(req));
}

int machine_leader_signal(Machine *machine, int sig) {
        _cleanup_(machine_restrictions_done) MachineRestrictions res = {};
        int action, translated, r;

        action = init_action_from_systemd_signal(sig);
        if (action < 0 || machine_is_host(machine))
                return sig;

        r = machine_restrictions_load(SPAWN_STATE_DIR, machine->info.name, machine->info.supervisor, &res);
        if (r < 0 || res.init_kind == INIT_NONE)
                return sig;     /* not booted by berth-spawn: as machined does */

        translated = init_kind_signal(res.init_kind, action);
        if (translated == -EOPNOTSUPP && res.init_kind == INIT_SYSVINIT && action == INIT_ACTION_POWEROFF) {
                r = sysvinit_request_runlevel(machine, '0');
                if (r < 0)
                        return log_warning_errno(r, "Failed to ask sysvinit of machine '%s' for runlevel 0: %m",
                                                 machine->info.name);
                log_info("Machine '%s' runs sysvinit: asked it for runlevel 0.", machine->info.name);
                return 0;
        }
        if (translated >= 0 && translated != sig)
                log_info("Machine '%s' runs %s init: sending signal %i instead of %i.",
                         machine->info.name, init_kind_to_string(res.init_kind), translated, sig);
        return translated;
}
