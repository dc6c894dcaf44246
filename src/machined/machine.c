/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "machine-compat.h"
#include "machine-dbus.h"
#include "machine-power.h"
#include "machine-query.h"
#include "machine-reclaim.h"
#include "machine.h"
#include "manager.h"
#include "process-util.h"
#include "string-util.h"

KillWho kill_who_from_string(const char *s) {
        if (s && streq(s, "leader"))
                return KILL_LEADER;
        if (s && streq(s, "all"))
                return KILL_ALL;
        return _KILL_WHO_INVALID;
}

static int on_leader_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Machine *machine = userdata;

        log_info("Machine '%s' is gone: its leader (PID %i) exited.",
                 machine->info.name, (int) machine->info.leader);
        /* what its berth-spawn made, should that have been killed with it */
        machine_reclaim_schedule(machine->manager, machine->info.name);
        machine_remove(machine);
        return 0;
}

int machine_new(Manager *m, MachineInfo *info, int leader_pidfd, Machine **ret) {
        _cleanup_close_ int pidfd = leader_pidfd;
        Machine *machine;
        int r;

        machine = calloc(1, sizeof(Machine));
        if (!machine) {
                machine_info_done(info);
                return -ENOMEM;
        }
        machine->manager = m;
        machine->info = *info;
        *info = (MachineInfo) { .class = _MACHINE_CLASS_INVALID };
        machine->state = MACHINE_RUNNING;
        machine->leader_pidfd = TAKE_FD(pidfd);
        machine->supervisor_pidfd = -EBADF;

        /* Append, keeping the host first and ListMachines in registration order. */
        if (!m->machines)
                m->machines = machine;
        else {
                Machine *last = m->machines;
                while (last->next)
                        last = last->next;
                last->next = machine;
                machine->prev = last;
        }
        m->n_machines++;

        if (machine->leader_pidfd >= 0) {
                r = sd_event_add_io(m->event, &machine->leader_source, machine->leader_pidfd,
                                    EPOLLIN, on_leader_exit, machine);
                if (r < 0) {
                        machine_free(machine);
                        return r;
                }
                (void) sd_event_source_set_description(machine->leader_source, "machine-leader");
        }

        if (ret)
                *ret = machine;
        return 0;
}

Machine *machine_free(Machine *machine) {
        Manager *m;

        if (!machine)
                return NULL;

        m = machine->manager;
        if (machine->prev)
                machine->prev->next = machine->next;
        else if (m->machines == machine)
                m->machines = machine->next;
        if (machine->next)
                machine->next->prev = machine->prev;
        m->n_machines--;
        if (m->host == machine)
                m->host = NULL;

        sd_event_source_disable_unref(machine->leader_source);
        sd_event_source_disable_unref(machine->kill_timer);
        safe_close(machine->leader_pidfd);
        safe_close(machine->supervisor_pidfd);
        strv_free(machine->os_release);
        machine_info_done(&machine->info);
        free(machine);
        return NULL;
}

static int systemd_call(Manager *m, const char *method, sd_bus_error *error, const char *types, ...) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *req = NULL;
        va_list ap;
        int r;

        r = sd_bus_message_new_method_call(m->bus, &req, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", method);
        if (r < 0)
                return r;
        va_start(ap, types);
        r = sd_bus_message_appendv(req, types, ap);
        va_end(ap);
        if (r < 0)
                return r;
        return sd_bus_call(m->bus, req, 0, error, NULL);
}

static int machine_start_systemd_scope(Machine *machine, sd_bus_message *properties, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *req = NULL;
        _cleanup_free_ char *scope = NULL, *description = NULL;
        Manager *m = machine->manager;
        int r;

        scope = machine_scope_name(machine->info.name);
        description = strjoin("Virtual Machine and Container: ", machine->info.name);
        if (!scope || !description)
                return -ENOMEM;

        r = sd_bus_message_new_method_call(m->bus, &req, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", "StartTransientUnit");
        if (r < 0)
                return r;
        r = sd_bus_message_append(req, "ss", scope, "fail");
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(req, 'a', "(sv)");
        if (r < 0)
                return r;
        r = sd_bus_message_append(req, "(sv)(sv)(sv)(sv)(sv)",
                                  "Slice", "s", "machine.slice",
                                  "Description", "s", description,
                                  "PIDs", "au", 1, (uint32_t) machine->info.leader,
                                  "Delegate", "b", 1,
                                  "CollectMode", "s", "inactive-or-failed");
        if (r < 0)
                return r;
        if (properties) {
                /* The caller's unit properties go to systemd unchanged, as with machined. */
                r = sd_bus_message_enter_container(properties, 'a', "(sv)");
                if (r < 0)
                        return r;
                do
                        r = sd_bus_message_copy(req, properties, false);
                while (r > 0);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(properties);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(req);
        if (r < 0)
                return r;
        r = sd_bus_message_append(req, "a(sa(sv))", 0);
        if (r < 0)
                return r;

        r = sd_bus_call(m->bus, req, 0, error, NULL);
        if (r < 0)
                return r;

        free(machine->info.unit);
        machine->info.unit = TAKE_PTR(scope);
        machine->info.systemd_scope = true;
        return 0;
}

static int skip_unit_properties(Machine *machine, sd_bus_message *properties) {
        int r;

        r = sd_bus_message_enter_container(properties, 'a', "(sv)");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(properties, 'r', "sv")) > 0) {
                const char *name;

                r = sd_bus_message_read(properties, "s", &name);
                if (r < 0)
                        return r;
                r = sd_bus_message_skip(properties, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(properties);
                if (r < 0)
                        return r;
                log_warning("Machine '%s': unit property '%s' needs systemd as PID 1, ignoring.",
                            machine->info.name, string_is_safe(name) ? name : "(unprintable)");
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(properties);
}

int machine_create_scope(Machine *machine, sd_bus_message *properties, sd_bus_error *error) {
        Manager *m = machine->manager;
        _cleanup_free_ char *path = NULL;
        int r;

        if (m->use_systemd)
                return machine_start_systemd_scope(machine, properties, error);

        if (properties) {
                r = skip_unit_properties(machine, properties);
                if (r < 0)
                        return r;
        }

        path = machine_scope_cgroup(machine->info.name);
        if (!path)
                return -ENOMEM;

        r = cgroup_create_scope(&m->cgroups, path, machine->info.leader);
        if (r < 0)
                return r;

        /* The leader could have died and its PID been reused right before the move. */
        if (!pidfd_is_alive(machine->leader_pidfd)) {
                (void) cgroup_remove_scope(&m->cgroups, path);
                return -ESRCH;
        }

        free(machine->info.unit);
        machine->info.unit = machine_scope_name(machine->info.name);
        if (!machine->info.unit)
                return -ENOMEM;
        machine->info.cgroup = TAKE_PTR(path);
        return 0;
}

int machine_save(Machine *machine) {
        Manager *m = machine->manager;
        _cleanup_free_ char *text = NULL;
        int r;

        if (machine_is_host(machine))
                return 0;

        r = machine_info_serialize(&machine->info, &text);
        if (r < 0)
                return r;

        /* Dot files (the temporary one) are ignored when loading. */
        r = write_file_atomic_at(m->state_dir_fd, machine->info.name, text, 0644);
        if (r < 0)
                return r;
        r = machine_compat_save(&machine->info);
        if (r < 0)
                log_warning_errno(r, "Failed to write %s/%s, sd_machine_*() and nss-mymachines will not see "
                                  "machine '%s': %m", MACHINE_COMPAT_DIR, machine->info.name, machine->info.name);
        return 0;
}

void machine_announce(Machine *machine) {
        _cleanup_free_ char *path = machine_bus_path(machine);
        int r;

        if (!path) {
                log_oom();
                return;
        }
        r = sd_bus_emit_signal(machine->manager->bus, MACHINE1_MANAGER_PATH,
                               MACHINE1_MANAGER_INTERFACE, "MachineNew", "so",
                               machine->info.name, path);
        if (r < 0)
                log_warning_errno(r, "Failed to emit MachineNew for '%s', ignoring: %m", machine->info.name);
}

static void machine_finalize(Machine *machine, bool stop) {
        Manager *m = machine->manager;
        _cleanup_free_ char *path = machine_bus_path(machine);
        int r;

        if (machine_is_host(machine))
                return;

        if (machine->info.cgroup) {
                /* With stop, what is left in the scope goes with the leader; without, the
                 * scope is removed once its processes have exited by themselves. */
                if (stop)
                        (void) cgroup_kill_scope(&m->cgroups, machine->info.cgroup, SIGKILL);
                manager_release_cgroup(m, machine->info.cgroup, stop);
        } else if (machine->info.systemd_scope && stop)
                (void) sd_bus_call_method_async(m->bus, NULL, "org.freedesktop.systemd1",
                                                "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                                "StopUnit", NULL, NULL, "ss", machine->info.unit, "fail");

        if (unlinkat(m->state_dir_fd, machine->info.name, 0) < 0 && errno != ENOENT)
                log_warning_errno(errno, "Failed to remove state file of '%s', ignoring: %m", machine->info.name);
        machine_compat_remove(machine->info.name);

        if (path) {
                r = sd_bus_emit_signal(m->bus, MACHINE1_MANAGER_PATH,
                                       MACHINE1_MANAGER_INTERFACE, "MachineRemoved", "so",
                                       machine->info.name, path);
                if (r < 0)
                        log_warning_errno(r, "Failed to emit MachineRemoved for '%s', ignoring: %m",
                                          machine->info.name);
        }

        machine_free(machine);
}

int machine_kill(Machine *machine, KillWho who, int sig) {
        Manager *m = machine->manager;

        if (machine_is_host(machine))
                return -EOPNOTSUPP;

        if (who == KILL_ALL) {
                if (machine->info.cgroup)
                        return cgroup_kill_scope(&m->cgroups, machine->info.cgroup, sig);
                if (machine->info.systemd_scope)
                        return systemd_call(m, "KillUnit", NULL, "ssi", machine->info.unit, "all", sig);
                /* A registered machine without a scope of ours: the leader is all we know. */
        } else {
                /* poweroff and reboot: in the language of the machine's init */
                sig = machine_leader_signal(machine, sig);
                if (sig <= 0)
                        return sig;
        }
        return pidfd_signal(machine->leader_pidfd, sig);
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Machine *machine = userdata;

        log_warning("Machine '%s' did not stop within %llu s of SIGTERM, killing it.",
                    machine->info.name, MACHINE_TERMINATE_TIMEOUT_USEC / 1000000ULL);
        (void) machine_kill(machine, KILL_ALL, SIGKILL);
        (void) pidfd_signal(machine->leader_pidfd, SIGKILL);
        return 0;
}

int machine_terminate(Machine *machine) {
        Manager *m = machine->manager;
        int r;

        if (machine_is_host(machine))
                return -EOPNOTSUPP;

        /* The machine's supervisor knows how its machine stops: berth-spawn and
         * systemd-nspawn apply their --kill-signal= (SIGKILL for a command, SIGRTMIN+3 for
         * a booted systemd). A SIGTERM to the leader would do nothing for a plain command:
         * as PID 1 of its namespace it ignores signals it has no handler for. */
        if (machine->supervisor_pidfd >= 0 && pidfd_is_alive(machine->supervisor_pidfd))
                r = pidfd_signal(machine->supervisor_pidfd, SIGTERM);
        else if (machine->info.systemd_scope)
                r = systemd_call(m, "StopUnit", NULL, "ss", machine->info.unit, "fail");
        else if (machine->info.cgroup)
                r = cgroup_kill_scope(&m->cgroups, machine->info.cgroup, SIGTERM);
        else
                r = pidfd_signal(machine->leader_pidfd, SIGTERM);
        if (r < 0)
                return r;
        /* what does not stop in time is killed (systemd's scopes have their own timeout) */
        if (!machine->info.systemd_scope && !machine->kill_timer) {
                r = sd_event_add_time_relative(m->event, &machine->kill_timer, CLOCK_MONOTONIC,
                                               MACHINE_TERMINATE_TIMEOUT_USEC, 0, on_kill_timer, machine);
                if (r < 0)
                        return r;
        }

        machine_set_state(machine, MACHINE_CLOSING);
        return 0;
}

void machine_set_state(Machine *machine, MachineState state) {
        _cleanup_free_ char *path = NULL;

        if (machine->state == state)
                return;
        machine->state = state;

        path = machine_bus_path(machine);
        if (path)
                (void) sd_bus_emit_properties_changed(machine->manager->bus, path,
                                                      MACHINE1_MACHINE_INTERFACE, "State", NULL);
}

void machine_remove(Machine *machine) {
        machine_finalize(machine, true);
}

void machine_unregister(Machine *machine) {
        machine_finalize(machine, false);
}
