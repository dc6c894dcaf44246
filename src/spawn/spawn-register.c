/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "cgroup-setup.h"
#include "fd-util.h"
#include "log.h"
#include "machine1-bus.h"
#include "spawn-cgroup.h"
#include "spawn-device-policy.h"
#include "spawn-register.h"
#include "string-util.h"

#define SYSTEM_BUS_SOCKET "/run/dbus/system_bus_socket"

/* The few sd-bus calls we make, resolved at run time. */
typedef struct BusApi {
        typeof(sd_bus_open_system) *open_system;
        typeof(sd_bus_message_new_method_call) *new_method_call;
        typeof(sd_bus_message_append) *append;
        typeof(sd_bus_message_append_array) *append_array;
        typeof(sd_bus_message_open_container) *open_container;
        typeof(sd_bus_message_close_container) *close_container;
        typeof(sd_bus_call) *call;
        typeof(sd_bus_message_unref) *message_unref;
        typeof(sd_bus_flush_close_unref) *flush_close_unref;
        typeof(sd_bus_error_free) *error_free;
        typeof(sd_bus_error_has_name) *error_has_name;
} BusApi;

static int bus_api_load(void *dl, BusApi *api) {
#define SYM(field, name) if (!(api->field = (typeof(api->field)) dlsym(dl, name))) return -ELIBBAD
        SYM(open_system, "sd_bus_open_system");
        SYM(new_method_call, "sd_bus_message_new_method_call");
        SYM(append, "sd_bus_message_append");
        SYM(append_array, "sd_bus_message_append_array");
        SYM(open_container, "sd_bus_message_open_container");
        SYM(close_container, "sd_bus_message_close_container");
        SYM(call, "sd_bus_call");
        SYM(message_unref, "sd_bus_message_unref");
        SYM(flush_close_unref, "sd_bus_flush_close_unref");
        SYM(error_free, "sd_bus_error_free");
        SYM(error_has_name, "sd_bus_error_has_name");
#undef SYM
        return 0;
}

bool registration_wanted(const SpawnConfig *c) {
        if (c->register_mode == REGISTER_NO)
                return false;
        if (c->register_mode == REGISTER_YES)
                return true;
        /* auto: only when there is a system bus to ask */
        return getenv("DBUS_SYSTEM_BUS_ADDRESS") || access(SYSTEM_BUS_SOCKET, F_OK) >= 0;
}

static bool registry_absent(const BusApi *api, const sd_bus_error *e) {
        return api->error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
               api->error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER);
}

static int call(const BusApi *api, sd_bus *bus, const char *method, sd_bus_error *error,
                const SpawnConfig *c, const char *root, pid_t leader, int ifindex) {
        sd_bus_message *m = NULL, *reply = NULL;
        int r;

        r = api->new_method_call(bus, &m, MACHINE1_BUS_NAME, MACHINE1_MANAGER_PATH, MACHINE1_MANAGER_INTERFACE, method);
        if (r < 0)
                return r;
        if (leader > 0) {
                r = api->append(m, "s", c->machine);
                if (r >= 0)
                        r = api->append_array(m, 'y', c->uuid.bytes, sizeof(c->uuid.bytes));
                if (r >= 0)
                        r = api->append(m, "ssus", "berth", "container", (uint32_t) leader, c->image ?: root);
                /* the machine's network interfaces on the host side */
                if (r >= 0)
                        r = ifindex > 0 ? api->append(m, "ai", 1, (int32_t) ifindex) : api->append(m, "ai", 0);
        } else
                r = api->append(m, "s", c->machine);
        if (r >= 0)
                r = api->call(bus, m, 0, error, &reply);
        api->message_unref(m);
        api->message_unref(reply);
        return r;
}

int spawn_register_machine(const SpawnConfig *c, const char *root, pid_t leader, int host_ifindex, Registration *reg) {
        bool must = c->register_mode == REGISTER_YES;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus *bus = NULL;
        BusApi api;
        int r;

        if (!registration_wanted(c))
                return 0;

        reg->dl = dlopen("libsystemd.so.0", RTLD_NOW|RTLD_LOCAL);
        if (!reg->dl || bus_api_load(reg->dl, &api) < 0) {
                if (!must)
                        return 0;
                return log_error_errno(SYNTHETIC_ERRNO(ELIBACC),
                                       "--register=yes needs libsystemd.so.0, which could not be loaded: %s", dlerror());
        }

        r = api.open_system(&bus);
        if (r < 0) {
                if (!must)
                        return 0;
                return log_error_errno(r, "--register=yes: failed to connect to the system bus: %m");
        }
        reg->bus = bus;

        r = call(&api, bus, "RegisterMachineWithNetwork", &error, c, root, leader, host_ifindex);
        if (r < 0) {
                /* auto: a missing registry is normal; a refusal is worth a warning, not a
                 * machine that does not start */
                if (!must) {
                        if (!registry_absent(&api, &error))
                                log_warning_errno(r, "Failed to register machine '%s', continuing unregistered: %s",
                                                  c->machine, strempty(error.message));
                        api.error_free(&error);
                        return 0;
                }
                log_error_errno(r, "Failed to register machine '%s' with " MACHINE1_BUS_NAME ": %s",
                                c->machine, error.message ?: "no registry on the bus");
                api.error_free(&error);
                return r;
        }
        reg->registered = true;
        log_debug("Registered machine '%s'.", c->machine);
        return 1;
}

void spawn_unregister_machine(const SpawnConfig *c, Registration *reg) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        BusApi api;

        if (!reg->dl)
                return;
        if (bus_api_load(reg->dl, &api) >= 0 && reg->bus) {
                /* the registry also notices the leader's death; this just makes it prompt */
                if (reg->registered && call(&api, reg->bus, "UnregisterMachine", &error, c, NULL, 0, 0) < 0 &&
                    !api.error_has_name(&error, BUS_ERROR_NO_SUCH_MACHINE))
                        log_debug("Failed to unregister machine '%s', ignoring: %s", c->machine, strempty(error.message));
                api.error_free(&error);
                api.flush_close_unref(reg->bus);
        }
        dlclose(reg->dl);
        *reg = (Registration) {};
}

/* Is berth-spawn in the cgroup2 cgroup whose last component is SCOPE? */
static bool self_in_scope(const char *scope) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
        char line[4096];

        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                const char *e;

                line[strcspn(line, "\n")] = 0;
                if (!startswith(line, "0::"))
                        continue;
                e = strrchr(line, '/');
                return e && streq(e + 1, scope);
        }
        return false;
}

/* DevicePolicy=closed and DeviceAllow= of the machine's scope, as systemd-nspawn asks
 * for them: the same list berth applies in a cgroup of its own (spawn-device-policy.h). */
static int append_device_policy(const BusApi *api, sd_bus_message *m, const SpawnConfig *c) {
        DeviceAllow allow[DEVICE_ALLOW_MAX];
        size_t n;
        int r;

        r = device_policy_list(c, allow, ELEMENTSOF(allow), &n);
        if (r < 0)
                return r;
        r = api->append(m, "(sv)", "DevicePolicy", "s", c->device_policy == DEVICE_POLICY_STRICT ? "strict" : "closed");
        if (r >= 0)
                r = api->open_container(m, 'r', "sv");
        if (r >= 0)
                r = api->append(m, "s", "DeviceAllow");
        if (r >= 0)
                r = api->open_container(m, 'v', "a(ss)");
        if (r >= 0)
                r = api->open_container(m, 'a', "(ss)");
        /* one entry per node or class: systemd resolves a class's majors itself */
        for (size_t i = 0; i < n && r >= 0; i++)
                if (i == 0 || allow[i].path != allow[i - 1].path)
                        r = api->append(m, "(ss)", allow[i].path, allow[i].rule.access);
        for (int i = 0; i < 3 && r >= 0; i++)
                r = api->close_container(m);
        return r;
}

static int start_transient_scope(const BusApi *api, sd_bus *bus, const SpawnConfig *c, const char *scope,
                                 sd_bus_error *error) {
        _cleanup_free_ char *description = strjoin("Container ", c->machine);
        const ResourceLimits *l = &c->limits;
        sd_bus_message *m = NULL, *reply = NULL;
        int r;

        if (!description)
                return -ENOMEM;
        r = api->new_method_call(bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                 "org.freedesktop.systemd1.Manager", "StartTransientUnit");
        if (r < 0)
                return r;
        /* as systemd-machined asks for a machine's scope: in the slice, delegated (the
         * machine's systemd manages its subtree), with berth-spawn in it, and the
         * --property= limits (UINT64_MAX is systemd's "infinity" or "unset" for each) */
        r = api->append(m, "ss", scope, "fail");
        if (r >= 0)
                r = api->open_container(m, 'a', "(sv)");
        if (r >= 0)
                r = api->append(m, "(sv)(sv)(sv)(sv)(sv)(sv)(sv)(sv)(sv)(sv)",
                                "Description", "s", description,
                                "Slice", "s", c->slice ?: "machine.slice",
                                "Delegate", "b", 1,
                                "PIDs", "au", 1, (uint32_t) getpid(),
                                "MemoryMax", "t", l->memory_max_set ? l->memory_max : UINT64_MAX,
                                "MemoryHigh", "t", l->memory_high_set ? l->memory_high : UINT64_MAX,
                                "TasksMax", "t", l->tasks_max_set ? l->tasks_max : UINT64_MAX,
                                "CPUQuotaPerSecUSec", "t", l->cpu_quota_set ? l->cpu_quota_per_sec_usec : UINT64_MAX,
                                "CPUWeight", "t", l->cpu_weight > 0 ? l->cpu_weight : UINT64_MAX,
                                "IOWeight", "t", l->io_weight > 0 ? l->io_weight : UINT64_MAX);
        if (r >= 0 && device_policy_wanted(c))
                r = append_device_policy(api, m, c);
        if (r >= 0)
                r = api->close_container(m);
        if (r >= 0)
                r = api->append(m, "a(sa(sv))", 0);
        if (r >= 0)
                r = api->call(bus, m, 0, error, &reply);
        api->message_unref(m);
        api->message_unref(reply);
        return r;
}

int spawn_systemd_scope(const SpawnConfig *c) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_free_ char *scope = NULL;
        sd_bus *bus = NULL;
        void *dl;
        BusApi api;
        int r;

        if (c->keep_unit || c->cgroup_path || !machine_cgroup_needed(c) || access("/run/systemd/system/", F_OK) < 0)
                return 0;
        scope = machine_scope_name(c->machine);
        if (!scope)
                return log_oom();

        /* Without the library or a bus to reach systemd, the scope is made as on hosts
         * without systemd (cgroup_create_fresh() under the slice). */
        dl = dlopen("libsystemd.so.0", RTLD_NOW|RTLD_LOCAL);
        if (!dl || bus_api_load(dl, &api) < 0) {
                log_debug("libsystemd.so.0 not loaded, making the machine's scope without systemd: %s", strempty(dlerror()));
                if (dl)
                        dlclose(dl);
                return 0;
        }
        r = api.open_system(&bus);
        if (r < 0) {
                log_warning_errno(r, "systemd runs, but the system bus cannot be reached; making the machine's scope without it: %m");
                dlclose(dl);
                return 0;
        }
        r = start_transient_scope(&api, bus, c, scope, &error);
        if (r < 0)
                log_error_errno(r, "systemd refused the machine's scope %s: %s", scope, strempty(error.message));
        api.error_free(&error);
        api.flush_close_unref(bus);
        dlclose(dl);
        if (r < 0)
                return r;

        /* The reply comes when the job is queued; systemd moves us when it runs. */
        for (int i = 0; i < 500; i++) {
                if (self_in_scope(scope)) {
                        log_debug("In the scope %s that systemd made.", scope);
                        return 1;
                }
                usleep(10000);
        }
        return log_error_errno(SYNTHETIC_ERRNO(ETIMEDOUT), "systemd did not move berth-spawn into %s within 5 s.", scope);
}
