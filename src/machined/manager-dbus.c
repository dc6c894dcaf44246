/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "image-dbus.h"
#include "log.h"
#include "cgroup-setup.h"
#include "machine-dbus.h"
#include "machine-files.h"
#include "machine-idmap.h"
#include "machine-pty.h"
#include "manager-batch.h"
#include "machine-name.h"
#include "machine-query.h"
#include "manager-dbus.h"
#include "string-util.h"
#include "time-util.h"

static int reply_machine_path(sd_bus_message *message, Machine *machine) {
        _cleanup_free_ char *p = machine_bus_path(machine);

        if (!p)
                return -ENOMEM;
        return sd_bus_reply_method_return(message, "o", p);
}

/* Read the machine name argument and find it, or fail the call with NoSuchMachine. */
static int read_machine(sd_bus_message *message, Manager *m, Machine **ret, sd_bus_error *error) {
        const char *name;
        Machine *machine;
        int r;

        r = sd_bus_message_read(message, "s", &name);
        if (r < 0)
                return r;
        machine = manager_get_machine(m, name);
        if (!machine)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_MACHINE, "No machine '%s' known.",
                                         machine_name_is_valid(name) ? name : "(invalid name)");
        *ret = machine;
        return 0;
}

static int method_list_machines(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        Manager *m = userdata;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(ssso)");
        if (r < 0)
                return r;
        for (Machine *machine = m->machines; machine; machine = machine->next) {
                _cleanup_free_ char *p = machine_bus_path(machine);

                if (!p)
                        return -ENOMEM;
                r = sd_bus_message_append(reply, "(ssso)", machine->info.name,
                                          machine_class_to_string(machine->info.class),
                                          strempty(machine->info.service), p);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_get_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine;
        int r;

        r = read_machine(message, userdata, &machine, error);
        if (r < 0)
                return r;
        return reply_machine_path(message, machine);
}

static int caller_pid(sd_bus_message *message, pid_t *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        int r;

        r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_PID, &creds);
        if (r < 0)
                return r;
        return sd_bus_creds_get_pid(creds, ret);
}

static int method_get_machine_by_pid(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        Machine *machine = NULL;
        uint32_t upid;
        pid_t pid;
        int r;

        r = sd_bus_message_read(message, "u", &upid);
        if (r < 0)
                return r;
        if (upid > INT_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid PID %" PRIu32 ".", upid);
        if (upid == 0) {
                r = caller_pid(message, &pid);
                if (r < 0)
                        return r;
        } else
                pid = (pid_t) upid;

        r = manager_get_machine_by_pid(m, pid, &machine);
        if (r == -ESRCH)
                return sd_bus_error_setf(error, SD_BUS_ERROR_UNIX_PROCESS_ID_UNKNOWN, "PID %i does not exist.", (int) pid);
        if (r < 0)
                return r;
        if (!machine)
                return sd_bus_error_setf(error, BUS_ERROR_NO_MACHINE_FOR_PID,
                                         "PID %i does not belong to any known machine.", (int) pid);
        return reply_machine_path(message, machine);
}

typedef struct RegisterArgs {
        const char *name;
        const void *id;
        size_t id_size;
        const char *service;
        const char *class;
        uint32_t leader;
        const char *root_directory;
        const int32_t *netif;
        size_t netif_size;
} RegisterArgs;

static int read_register_args(sd_bus_message *message, bool with_network, RegisterArgs *a, sd_bus_error *error) {
        int r;

        r = sd_bus_message_read(message, "s", &a->name);
        if (r < 0)
                return r;
        r = sd_bus_message_read_array(message, 'y', &a->id, &a->id_size);
        if (r < 0)
                return r;
        r = sd_bus_message_read(message, "ssus", &a->service, &a->class, &a->leader, &a->root_directory);
        if (r < 0)
                return r;
        if (with_network) {
                r = sd_bus_message_read_array(message, 'i', (const void **) &a->netif, &a->netif_size);
                if (r < 0)
                        return r;
        }

        if (!machine_name_is_valid(a->name))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "Invalid machine name (1-64 characters of [A-Za-z0-9-] in dot-separated labels).");
        if (a->id_size != 0 && a->id_size != 16)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid machine ID: expected 0 or 16 bytes.");
        if (!machine_service_is_valid(a->service))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid service name.");
        if (machine_class_from_string(a->class) < 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "Invalid machine class, expected \"container\" or \"vm\".");
        if (a->leader == 1 || a->leader > INT_MAX || (pid_t) a->leader == getpid())
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid leader PID %" PRIu32 ".", a->leader);
        if (!machine_root_directory_is_valid(a->root_directory))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "Root directory must be empty or an absolute, normalized path.");
        if (a->netif_size / sizeof(int32_t) > MACHINE_NETIF_MAX)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "Too many network interfaces.");
        for (size_t i = 0; i < a->netif_size / sizeof(int32_t); i++)
                if (a->netif[i] <= 0)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Invalid network interface index %" PRIi32 ".", a->netif[i]);
        return 0;
}

/* The unit a registered leader runs in, from its cgroup, as machined reports it. */
static char *leader_unit(pid_t pid) {
        _cleanup_free_ char *cgroup = NULL;
        char *unit = NULL;

        if (cgroup_pid_get_path(pid, &cgroup) < 0)
                return NULL;
        for (char *p = strtok(cgroup, "/"); p; p = strtok(NULL, "/"))
                if (machine_unit_is_valid(p)) {
                        free(unit);
                        unit = strdup(p);
                }
        return unit;
}

static int method_register_internal(sd_bus_message *message, Manager *m, bool with_network, bool create,
                                    sd_bus_error *error) {
        _cleanup_(machine_info_done) MachineInfo info = { .class = _MACHINE_CLASS_INVALID };
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        _cleanup_close_ int pidfd = -EBADF, supervisor_pidfd = -EBADF;
        RegisterArgs a = {};
        Machine *machine, *other;
        uid_t caller_uid, leader_uid;
        pid_t leader, sender, parent;
        int r;

        r = read_register_args(message, with_network, &a, error);
        if (r < 0)
                return r;

        r = bus_check_privileged(m, message, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: asking polkit, we run again with its answer */
        r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_EUID|SD_BUS_CREDS_PID, &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &caller_uid);
        if (r < 0)
                return r;

        if (manager_get_machine(m, a.name))
                return sd_bus_error_setf(error, BUS_ERROR_MACHINE_EXISTS, "Machine '%s' already exists.", a.name);

        r = sd_bus_creds_get_pid(creds, &sender);
        if (r < 0)
                return r;
        /* 0: the caller itself leads the machine, as with nspawn --keep-unit. */
        leader = a.leader == 0 ? sender : (pid_t) a.leader;

        other = manager_get_machine_by_leader(m, leader);
        if (other)
                return sd_bus_error_setf(error, BUS_ERROR_MACHINE_EXISTS,
                                         "PID %i already leads machine '%s'.", (int) leader, other->info.name);

        r = leader_open(leader, &pidfd, &info.leader_starttime, &leader_uid, &parent);
        if (r == -ESRCH || r == -EINVAL)
                return sd_bus_error_setf(error, SD_BUS_ERROR_UNIX_PROCESS_ID_UNKNOWN,
                                         "Leader PID %i does not exist.", (int) leader);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to open leader PID %i: %m", (int) leader);
        if (caller_uid != 0 && leader_uid != caller_uid)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Leader PID %i is not owned by the caller.", (int) leader);

        info.name = strdup(a.name);
        info.service = strdup(a.service);
        info.root_directory = strdup(a.root_directory);
        if (!info.name || !info.service || !info.root_directory)
                return -ENOMEM;
        if (a.id_size == 16)
                memcpy(info.id.bytes, a.id, 16);
        info.class = machine_class_from_string(a.class);
        info.leader = leader;
        info.timestamp_realtime = now_usec(CLOCK_REALTIME);
        info.timestamp_monotonic = now_usec(CLOCK_MONOTONIC);
        if (a.netif_size > 0) {
                info.netif = malloc(a.netif_size);
                if (!info.netif)
                        return -ENOMEM;
                memcpy(info.netif, a.netif, a.netif_size);
                info.n_netif = a.netif_size / sizeof(int32_t);
        }
        if (!create)
                info.unit = leader_unit(leader);

        /* A caller that started the leader itself (berth-spawn, systemd-nspawn) supervises
         * the machine: Terminate asks it, so that its kill signal applies. */
        if (parent == sender && sender != leader &&
            leader_open(sender, &supervisor_pidfd, &info.supervisor_starttime, NULL, NULL) >= 0)
                info.supervisor = sender;

        r = machine_new(m, &info, TAKE_FD(pidfd), &machine);
        if (r < 0)
                return r;
        machine->supervisor_pidfd = TAKE_FD(supervisor_pidfd);

        if (create) {
                r = machine_create_scope(machine, message, error);
                if (r < 0) {
                        machine_free(machine);
                        if (sd_bus_error_is_set(error))
                                return r;
                        return sd_bus_error_set_errnof(error, r, "Failed to create scope for machine '%s': %m", a.name);
                }
        }

        r = machine_save(machine);
        if (r < 0)
                log_warning_errno(r, "Failed to save state of machine '%s', it will not survive a restart: %m",
                                  machine->info.name);

        log_info("New machine '%s' (class %s, leader PID %i%s%s).", machine->info.name,
                 machine_class_to_string(machine->info.class), (int) leader,
                 machine->info.unit ? ", unit " : "", strempty(machine->info.unit));
        machine_announce(machine);
        return reply_machine_path(message, machine);
}

static int method_register_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_register_internal(message, userdata, false, false, error);
}

static int method_register_machine_with_network(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_register_internal(message, userdata, true, false, error);
}

static int method_create_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_register_internal(message, userdata, false, true, error);
}

static int method_create_machine_with_network(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return method_register_internal(message, userdata, true, true, error);
}

static int method_unregister_machine(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        Machine *machine;
        int r;

        r = read_machine(message, m, &machine, error);
        if (r < 0)
                return r;
        if (machine_is_host(machine))
                return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED, "The host cannot be unregistered.");
        r = bus_check_privileged(m, message, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: asking polkit, we run again with its answer */

        log_info("Unregistering machine '%s'.", machine->info.name);
        machine_unregister(machine);
        return sd_bus_reply_method_return(message, NULL);
}

#define DEFINE_BY_NAME(name, func)                                                                      \
        static int name(sd_bus_message *message, void *userdata, sd_bus_error *error) {                 \
                Machine *machine;                                                                       \
                int r = read_machine(message, userdata, &machine, error);                               \
                if (r < 0)                                                                              \
                        return r;                                                                       \
                return func(message, machine, error);                                                   \
        }

DEFINE_BY_NAME(method_terminate_machine, bus_machine_method_terminate)
DEFINE_BY_NAME(method_kill_machine, bus_machine_method_kill)
DEFINE_BY_NAME(method_get_machine_addresses, bus_machine_method_get_addresses)
DEFINE_BY_NAME(method_get_machine_os_release, bus_machine_method_get_os_release)
DEFINE_BY_NAME(method_get_machine_uid_shift, bus_machine_method_get_uid_shift)
DEFINE_BY_NAME(method_machine_files_bind_mount, bus_machine_method_bind_mount)
DEFINE_BY_NAME(method_machine_files_copy_from, bus_machine_method_copy_from)
DEFINE_BY_NAME(method_machine_files_copy_to, bus_machine_method_copy_to)
DEFINE_BY_NAME(method_machine_files_copy_from_with_flags, bus_machine_method_copy_from_with_flags)
DEFINE_BY_NAME(method_machine_files_copy_to_with_flags, bus_machine_method_copy_to_with_flags)
DEFINE_BY_NAME(method_machine_files_open_root_directory, bus_machine_method_open_root_directory)

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("PoolPath", "s", bus_property_get_pool_path, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("PoolUsage", "t", bus_property_get_pool_quota, 0, 0),
        SD_BUS_PROPERTY("PoolLimit", "t", bus_property_get_pool_quota, 0, 0),
        SD_BUS_METHOD_WITH_ARGS("GetMachine",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_RESULT("o", machine),
                                method_get_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetMachineByPID",
                                SD_BUS_ARGS("u", pid),
                                SD_BUS_RESULT("o", machine),
                                method_get_machine_by_pid, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListMachines",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(ssso)", machines),
                                method_list_machines, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateMachine",
                                SD_BUS_ARGS("s", name, "ay", id, "s", service, "s", class, "u", leader,
                                            "s", root_directory, "a(sv)", scope_properties),
                                SD_BUS_RESULT("o", path),
                                method_create_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateMachineWithNetwork",
                                SD_BUS_ARGS("s", name, "ay", id, "s", service, "s", class, "u", leader,
                                            "s", root_directory, "ai", ifindices, "a(sv)", scope_properties),
                                SD_BUS_RESULT("o", path),
                                method_create_machine_with_network, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RegisterMachine",
                                SD_BUS_ARGS("s", name, "ay", id, "s", service, "s", class, "u", leader,
                                            "s", root_directory),
                                SD_BUS_RESULT("o", path),
                                method_register_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RegisterMachineWithNetwork",
                                SD_BUS_ARGS("s", name, "ay", id, "s", service, "s", class, "u", leader,
                                            "s", root_directory, "ai", ifindices),
                                SD_BUS_RESULT("o", path),
                                method_register_machine_with_network, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("UnregisterMachine",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_NO_RESULT,
                                method_unregister_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("TerminateMachine",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_NO_RESULT,
                                method_terminate_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("KillMachine",
                                SD_BUS_ARGS("s", name, "s", who, "i", signal),
                                SD_BUS_NO_RESULT,
                                method_kill_machine, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetMachineAddresses",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_RESULT("a(iay)", addresses),
                                method_get_machine_addresses, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetMachineOSRelease",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_RESULT("a{ss}", fields),
                                method_get_machine_os_release, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetMachineUIDShift",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_RESULT("u", shift),
                                method_get_machine_uid_shift, SD_BUS_VTABLE_UNPRIVILEGED),
        MANAGER_FILES_METHODS(method_machine_files_),
        SD_BUS_METHOD_WITH_ARGS("ListImages",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(ssbttto)", images),
                                bus_method_list_images, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetImage",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_RESULT("o", image),
                                bus_method_get_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CloneImage",
                                SD_BUS_ARGS("s", name, "s", new_name, "b", read_only),
                                SD_BUS_NO_RESULT,
                                bus_method_clone_by_name, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RenameImage",
                                SD_BUS_ARGS("s", name, "s", new_name),
                                SD_BUS_NO_RESULT,
                                bus_method_rename_by_name, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveImage",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_NO_RESULT,
                                bus_method_remove_by_name, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("MarkImageReadOnly",
                                SD_BUS_ARGS("s", name, "b", read_only),
                                SD_BUS_NO_RESULT,
                                bus_method_mark_read_only_by_name, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetImageOSRelease",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_RESULT("a{ss}", fields),
                                bus_method_get_os_release_by_name, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetImageHostname",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_RESULT("s", hostname),
                                bus_method_get_hostname_by_name, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetImageMachineID",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_RESULT("ay", id),
                                bus_method_get_machine_id_by_name, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetImageMachineInfo",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_RESULT("a{ss}", machine_info),
                                bus_method_get_machine_info_by_name, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetImageLimit",
                                SD_BUS_ARGS("s", name, "t", limit),
                                SD_BUS_NO_RESULT,
                                bus_method_set_limit_by_name, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SetPoolLimit",
                                SD_BUS_ARGS("t", limit),
                                SD_BUS_NO_RESULT,
                                bus_method_set_pool_limit, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CleanPool",
                                SD_BUS_ARGS("s", mode),
                                SD_BUS_RESULT("a(st)", images),
                                bus_method_clean_pool, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("MachineNew",
                                SD_BUS_ARGS("s", machine, "o", path),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("MachineRemoved",
                                SD_BUS_ARGS("s", machine, "o", path),
                                0),
        SD_BUS_VTABLE_END
};

int manager_dbus_register(Manager *m) {
        int r;

        r = sd_bus_add_object_vtable(m->bus, NULL, MACHINE1_MANAGER_PATH,
                                     MACHINE1_MANAGER_INTERFACE, manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add manager object: %m");
        r = sd_bus_add_fallback_vtable(m->bus, NULL, MACHINE_OBJECT_PREFIX, MACHINE1_MACHINE_INTERFACE,
                                       machine_vtable, machine_object_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add machine objects: %m");
        r = sd_bus_add_node_enumerator(m->bus, NULL, MACHINE_OBJECT_PREFIX, machine_node_enumerator, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add machine enumerator: %m");
        r = sd_bus_add_fallback_vtable(m->bus, NULL, IMAGE_OBJECT_PREFIX, MACHINE1_IMAGE_INTERFACE,
                                       image_vtable, image_object_find, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add image objects: %m");
        r = sd_bus_add_node_enumerator(m->bus, NULL, IMAGE_OBJECT_PREFIX, image_node_enumerator, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add image enumerator: %m");
        r = manager_batch_register(m);
        if (r < 0)
                return r;
        return machine_pty_register(m);
}
