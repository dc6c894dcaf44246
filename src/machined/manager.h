/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus-polkit.h"
#include "bus-worker.h"
#include "caller-limit.h"
#include "image.h"
#include "image-listing.h"
#include "cgroup-setup.h"
#include "machine.h"
#include "machine1-bus.h"
#include "operation.h"

#define POLKIT_ACTION_MANAGE_MACHINES "org.freedesktop.machine1.manage-machines"
#define POLKIT_ACTION_MANAGE_IMAGES "org.freedesktop.machine1.manage-images"

#define MACHINED_DEFAULT_BUS_NAME MACHINE1_BUS_NAME
#define MACHINED_DEFAULT_STATE_DIR "/run/berth/machines"
#define MACHINED_POOL_PATH IMAGE_POOL_DEFAULT
#define MACHINED_IMAGE_LOCK_DIR "image-locks"   /* image name locks, next to the state directory */

typedef struct ManagerConfig {
        const char *bus_name;
        const char *state_dir;
        const char *pool;             /* NULL: the image search path, with /var/lib/machines as the pool */
} ManagerConfig;

struct Manager {
        sd_event *event;
        sd_bus *bus;
        char *bus_name;
        char *state_dir;
        int state_dir_fd;

        bool use_systemd;             /* systemd is PID 1: ask it for transient scopes */
        CgroupLayout cgroups;

        Machine *machines;            /* the host first, then in registration order */
        size_t n_machines;
        Machine *host;

        char **stale_cgroups;         /* killed scopes waiting for their last process to go */
        char **drain_cgroups;         /* scopes of unregistered machines, removed when empty */
        unsigned stale_attempts;
        sd_event_source *stale_timer;

        ImagePool pool;
        Operation *operations;        /* image workers in progress */
        unsigned n_operations;
        BusWorker *bus_workers;       /* calls answered from a worker's output (bus-worker.h) */
        unsigned n_bus_workers;
        Image **image_cache;          /* images looked up for the current D-Bus call */
        size_t n_image_cache;
        sd_event_source *image_cache_flush;
        ImageListing image_listing;   /* what ListImages answers, while it is current */
        CallerLimit list_limit;       /* unprivileged ListImages calls per UID */
        struct DeferredCall *deferred_calls; /* over the limit: answered later */

        struct MachineSession *sessions; /* logins and shells running in machines */

        PolkitRegistry polkit;        /* authorization checks of non-root callers */

        struct Supervisor *supervisor; /* io.berth.Supervisor1 (supervisor.h) */
};

int manager_new(const ManagerConfig *config, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Load /run/berth/machines, connect and acquire the bus name, then run until SIGTERM. */
int manager_startup(Manager *m, const char *bus_address);
int manager_run(Manager *m);

Machine *manager_get_machine(Manager *m, const char *name);
Machine *manager_get_machine_by_leader(Manager *m, pid_t pid);
int manager_get_machine_by_pid(Manager *m, pid_t pid, Machine **ret);

/* Remove a scope cgroup now, or keep retrying in the background while it drains: with
 * kill, SIGKILLing stragglers for up to 10 s; without, for as long as berthd runs. */
void manager_release_cgroup(Manager *m, const char *path, bool kill);
