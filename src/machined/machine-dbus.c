/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>
#include <signal.h>
#include <sys/socket.h>
#include <string.h>

#include "log.h"
#include "machine-dbus.h"
#include "machine-files.h"
#include "machine-query.h"
#include "manager.h"
#include "string-util.h"
#include "time-util.h"

char *machine_bus_path(const Machine *machine) {
        return machine1_machine_path(machine->info.name);
}

int machine_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                        void **found, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *name = NULL;
        Machine *machine;
        int r;

        r = sd_bus_path_decode(path, MACHINE_OBJECT_PREFIX, &name);
        if (r <= 0)
                return 0;
        machine = manager_get_machine(m, name);
        if (!machine)
                return 0;
        *found = machine;
        return 1;
}

int machine_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_strv_free_ char **l = NULL;
        int r;

        for (Machine *machine = m->machines; machine; machine = machine->next) {
                char *p = machine_bus_path(machine);
                if (!p)
                        return -ENOMEM;
                r = strv_push(&l, p);
                if (r < 0)
                        return r;
        }
        *nodes = TAKE_PTR(l);
        return 1;
}

int bus_check_privileged(Manager *m, sd_bus_message *message, sd_bus_error *error) {
        return bus_check_privileged_for(m, message, POLKIT_ACTION_MANAGE_MACHINES,
                                        "register, terminate or kill machines", error);
}

int bus_check_privileged_for(Manager *m, sd_bus_message *message, const char *action, const char *what,
                             sd_bus_error *error) {
        return bus_verify_polkit_async(&m->polkit, message, action, what, error);
}

int bus_machine_method_terminate(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine = userdata;
        int r;

        r = bus_check_privileged(machine->manager, message, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: asking polkit, we run again with its answer */

        r = machine_terminate(machine);
        if (r == -EOPNOTSUPP)
                return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED, "The host cannot be terminated.");
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to terminate machine '%s': %m", machine->info.name);

        log_info("Terminating machine '%s'.", machine->info.name);
        return sd_bus_reply_method_return(message, NULL);
}

int bus_machine_method_kill(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine = userdata;
        const char *swho;
        KillWho who;
        int32_t sig;
        int r;

        r = sd_bus_message_read(message, "si", &swho, &sig);
        if (r < 0)
                return r;

        if (isempty(swho))
                who = KILL_ALL;
        else {
                who = kill_who_from_string(swho);
                if (who < 0)
                        return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                                "Invalid kill target, expected \"leader\" or \"all\".");
        }
        if (sig <= 0 || sig >= _NSIG)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid signal %" PRIi32 ".", sig);

        r = bus_check_privileged(machine->manager, message, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: asking polkit, we run again with its answer */

        r = machine_kill(machine, who, sig);
        if (r == -EOPNOTSUPP)
                return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED, "Refusing to send signals to the host.");
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to kill machine '%s': %m", machine->info.name);

        return sd_bus_reply_method_return(message, NULL);
}

int machine_read_addresses(const Machine *machine, MachineAddress **ret, size_t *ret_n) {
        return machine_get_addresses(machine_is_host(machine) ? -EBADF : machine->leader_pidfd, ret, ret_n);
}

int bus_append_addresses(sd_bus_message *reply, const MachineAddress *l, size_t n) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(iay)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = sd_bus_message_open_container(reply, 'r', "iay");
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "i", l[i].family);
                if (r < 0)
                        return r;
                r = sd_bus_message_append_array(reply, 'y', l[i].bytes, l[i].family == AF_INET ? 4 : 16);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

int bus_machine_method_get_addresses(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ MachineAddress *l = NULL;
        Machine *machine = userdata;
        size_t n = 0;
        int r;

        r = machine_read_addresses(machine, &l, &n);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to get addresses of machine '%s': %m",
                                               machine->info.name);

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = bus_append_addresses(reply, l, n);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int machine_os_release_worker(void *userdata, int out_fd) {
        const Machine *machine = userdata;
        _cleanup_strv_free_ char **l = NULL;
        int r;

        r = machine_read_os_release(machine->info.leader, machine->leader_pidfd, &l);
        if (r < 0)
                return r;
        return strv_write_nul(out_fd, l);
}

/* Kept for a while after a worker read it: `list` of a thousand machines asks for every
 * machine's OS, and a worker each (a fork of berthd) makes that call take seconds (longer
 * than 5 s with a thousand); a `list` again soon after, or `status` of each, need not pay
 * it again. A change inside (an upgrade) shows after this long. */
#define MACHINE_OS_RELEASE_CACHE_USEC (30ULL * USEC_PER_SEC)

static int machine_os_release_reply(Manager *m, sd_bus_message *message, int r, const char *buf, size_t size,
                                    const BusWorkerSubject *s) {
        _cleanup_strv_free_ char **l = NULL;
        Machine *machine;

        if (r >= 0)
                r = strv_from_nul(buf, size, &l);
        if (r < 0)
                return bus_worker_reply_error(message, r, s->subject);

        /* Still the machine the worker read (not a new one of the same name)? Keep it. */
        machine = manager_get_machine(m, s->name);
        if (machine && (uint64_t) machine->info.leader == s->tag) {
                char **copy = strv_copy(l);

                if (copy) {
                        strv_free(machine->os_release);
                        machine->os_release = copy;
                        machine->os_release_usec = now_usec(CLOCK_MONOTONIC);
                }
        }
        return bus_reply_os_release(message, l);
}

/* The host's own /etc is read here; a machine's in a worker: its payload may have mounted
 * a FUSE file system over its /etc that never answers (bus-worker.h). */
int bus_machine_method_get_os_release(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_free_ char *subject = NULL;
        _cleanup_strv_free_ char **l = NULL;
        Machine *machine = userdata;
        int r;

        if (asprintf(&subject, "machine '%s'", machine->info.name) < 0)
                return -ENOMEM;
        if (machine_is_host(machine)) {
                r = machine_read_os_release(0, -EBADF, &l);
                if (r < 0)
                        return bus_worker_reply_error(message, r, subject);
                return bus_reply_os_release(message, l);
        }
        if (machine->os_release && now_usec(CLOCK_MONOTONIC) - machine->os_release_usec < MACHINE_OS_RELEASE_CACHE_USEC)
                return bus_reply_os_release(message, machine->os_release);
        return bus_worker_start_os_release(machine->manager, message, machine_os_release_worker, machine,
                                           machine_os_release_reply,
                                           &(BusWorkerSubject) { .subject = subject, .name = machine->info.name,
                                                                 .tag = (uint64_t) machine->info.leader },
                                           error);
}

int bus_machine_method_get_uid_shift(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Machine *machine = userdata;
        uint32_t shift;
        int r;

        if (machine_is_host(machine))
                return sd_bus_reply_method_return(message, "u", (uint32_t) 0);

        r = machine_get_uid_shift(machine->info.leader, machine->leader_pidfd, &shift);
        if (r == -ENXIO)
                return sd_bus_error_setf(error, BUS_ERROR_NO_UID_MAP,
                                         "Machine '%s' does not map its root user.", machine->info.name);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to read UID shift of machine '%s': %m",
                                               machine->info.name);
        return sd_bus_reply_method_return(message, "u", shift);
}

static int property_get_id(sd_bus *bus, const char *path, const char *interface, const char *property,
                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Machine *machine = userdata;

        return sd_bus_message_append_array(reply, 'y', machine->info.id.bytes, 16);
}

static int property_get_string(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Machine *machine = userdata;
        const char *v;

        if (streq(property, "Name"))
                v = machine->info.name;
        else if (streq(property, "Service"))
                v = machine->info.service;
        else if (streq(property, "Unit"))
                v = machine->info.unit;
        else if (streq(property, "RootDirectory"))
                v = machine->info.root_directory;
        else if (streq(property, "Class"))
                v = machine_class_to_string(machine->info.class);
        else if (streq(property, "State"))
                v = machine_state_to_string(machine->state);
        else
                return -EINVAL;

        return sd_bus_message_append(reply, "s", strempty(v));
}

static int property_get_u64(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Machine *machine = userdata;

        return sd_bus_message_append(reply, "t", streq(property, "Timestamp") ?
                                     machine->info.timestamp_realtime : machine->info.timestamp_monotonic);
}

static int property_get_leader(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Machine *machine = userdata;

        return sd_bus_message_append(reply, "u", (uint32_t) machine->info.leader);
}

static int property_get_netif(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Machine *machine = userdata;

        return sd_bus_message_append_array(reply, 'i', machine->info.netif, machine->info.n_netif * sizeof(int));
}

const sd_bus_vtable machine_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Name", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Id", "ay", property_get_id, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Timestamp", "t", property_get_u64, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("TimestampMonotonic", "t", property_get_u64, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Service", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Unit", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Leader", "u", property_get_leader, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Class", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("RootDirectory", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("NetworkInterfaces", "ai", property_get_netif, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("State", "s", property_get_string, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD("Terminate", NULL, NULL, bus_machine_method_terminate, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Kill",
                                SD_BUS_ARGS("s", who, "i", signal),
                                SD_BUS_NO_RESULT,
                                bus_machine_method_kill, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetAddresses",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(iay)", addresses),
                                bus_machine_method_get_addresses, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetOSRelease",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a{ss}", fields),
                                bus_machine_method_get_os_release, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetUIDShift",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("u", shift),
                                bus_machine_method_get_uid_shift, SD_BUS_VTABLE_UNPRIVILEGED),
        MACHINE_FILES_METHODS,
        SD_BUS_VTABLE_END
};
