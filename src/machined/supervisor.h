/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "macro.h"

/* berthd's own supervision of berth-spawn, for hosts where systemd is not PID 1: what
 * berth-spawn@.service does there. Served on berthd's bus name as io.berth.Supervisor1 at
 * /org/freedesktop/machine1 (berthd(8)); machine1's interfaces are not touched.
 *
 * A supervised berth-spawn runs in its own session and its own cgroup
 * (machine.slice/berth-spawn@NAME.service), so it outlives berthd. It is recorded in
 * <state-dir>/../supervise/NAME (PID and start time), from where a restarted berthd takes
 * it over again by pidfd. */

#define SUPERVISOR_INTERFACE "io.berth.Supervisor1"
#define SUPERVISOR_DEFAULT_ENABLED_DIR "/etc/berth/machines.d"
#define SUPERVISOR_DEFAULT_LOG_DIR "/var/log/berth"
#define SUPERVISOR_LOG_MAX (1024U * 1024U)   /* NAME.log is rotated to NAME.log.1 beyond this */

typedef struct Manager Manager;
typedef struct Supervisor Supervisor;

typedef struct SupervisorConfig {
        const char *spawn_path;       /* berth-spawn; NULL: the installed one */
        const char *enabled_dir;      /* NULL: SUPERVISOR_DEFAULT_ENABLED_DIR */
        const char *log_dir;          /* NULL: SUPERVISOR_DEFAULT_LOG_DIR */
        const char *bus_address;      /* passed on as DBUS_SYSTEM_BUS_ADDRESS, or NULL */
} SupervisorConfig;

int supervisor_new(Manager *m, const SupervisorConfig *config, Supervisor **ret);
Supervisor *supervisor_free(Supervisor *s);     /* leaves every machine running */
DEFINE_TRIVIAL_CLEANUP_FUNC(Supervisor *, supervisor_free);

/* On the bus before the name is requested: the interface. */
int supervisor_register(Supervisor *s);
/* Take over the machines a previous berthd started, then (from the event loop) start the
 * enabled ones that do not run. */
int supervisor_startup(Supervisor *s);
