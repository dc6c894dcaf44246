/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "machine-info.h"

typedef struct Manager Manager;
typedef struct Machine Machine;

/* A registered machine at runtime: its persistent MachineInfo plus the leader's pidfd,
 * watched by the event loop. The host (".host") is a Machine too, without a pidfd. */
struct Machine {
        Manager *manager;
        MachineInfo info;
        MachineState state;

        int leader_pidfd;
        int supervisor_pidfd;           /* see MachineInfo.supervisor; -EBADF: none */
        sd_event_source *leader_source;
        sd_event_source *kill_timer;    /* escalates Terminate to SIGKILL */

        char **os_release;              /* as a worker last read it (machine-dbus.c) */
        uint64_t os_release_usec;       /* when, CLOCK_MONOTONIC */

        Machine *prev, *next;
};

#define MACHINE_TERMINATE_TIMEOUT_USEC (10ULL * 1000000ULL)

/* Takes ownership of *info and of leader_pidfd (also on failure). Adds it to the manager
 * and starts watching the leader; does not save or announce it. */
int machine_new(Manager *m, MachineInfo *info, int leader_pidfd, Machine **ret);
Machine *machine_free(Machine *machine);
DEFINE_TRIVIAL_CLEANUP_FUNC(Machine *, machine_free);

static inline bool machine_is_host(const Machine *machine) {
        return machine->info.class == MACHINE_HOST;
}

/* Put the leader into its own scope: a cgroup berthd creates, or a transient systemd
 * scope when systemd is PID 1. properties: the CreateMachine a(sv), positioned at the
 * array, or NULL. */
int machine_create_scope(Machine *machine, sd_bus_message *properties, sd_bus_error *error);
int machine_save(Machine *machine);
/* Announce a fully set-up machine (MachineNew). */
void machine_announce(Machine *machine);
/* The leader is gone: kill what is left in its scope, delete its state, emit
 * MachineRemoved, free it. */
void machine_remove(Machine *machine);
/* UnregisterMachine: forget it the same way, but leave its processes alone. */
void machine_unregister(Machine *machine);

typedef enum KillWho {
        KILL_LEADER,
        KILL_ALL,
        _KILL_WHO_MAX,
        _KILL_WHO_INVALID = -EINVAL,
} KillWho;
KillWho kill_who_from_string(const char *s) _pure_;

int machine_kill(Machine *machine, KillWho who, int sig);
int machine_terminate(Machine *machine);
void machine_set_state(Machine *machine, MachineState state);
