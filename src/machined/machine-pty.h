/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

typedef struct Manager Manager;
typedef struct MachineSession MachineSession;

/* OpenMachinePTY, OpenMachineLogin and OpenMachineShell (and the Machine object's OpenPTY,
 * OpenLogin, OpenShell), served without anything of systemd or D-Bus inside the machine
 * (see machine-enter.h), plus berth's own OpenMachineShellWithStatus on the
 * BERTH_MANAGER_INTERFACE, which also hands out a socket the command's exit status is
 * written to. */

/* A login or shell running in a machine: berthd's child, reaped when it ends. */
struct MachineSession {
        Manager *manager;
        char *machine;
        int pidfd;
        int status_fd;          /* berthd's end of the exit status socket, or -EBADF */
        sd_event_source *source;
        MachineSession *prev, *next;
};

MachineSession *machine_session_free(MachineSession *s);
void machine_sessions_free(Manager *m);

int machine_pty_register(Manager *m);
