/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* start, enable, disable and the console log in status: with systemd as the service
 * manager on the bus, through berth-spawn@NAME.service as machinectl does through
 * systemd-nspawn@NAME.service; without it, through berthd's io.berth.Supervisor1. */

#include <string.h>

#include "berthctl.h"
#include "log.h"
#include "machine1-bus.h"
#include "machine-name.h"
#include "string-util.h"

#define SYSTEMD_BUS_NAME "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"
#define SUPERVISOR_INTERFACE "io.berth.Supervisor1"
#define STATUS_LOG_LINES 10U

bool arg_now = false;

/* Is systemd the service manager behind this bus? Asked on the bus, not with sd_booted(),
 * so that -H asks the remote host. */
static bool have_systemd(sd_bus *bus) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int has = 0;

        if (sd_bus_call_method(bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                               "NameHasOwner", &error, &reply, "s", SYSTEMD_BUS_NAME) < 0 ||
            sd_bus_message_read(reply, "b", &has) < 0)
                return false;
        return has;
}

static int unit_name(const char *machine, char **ret) {
        if (!machine_name_is_valid(machine))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid machine name %s.", machine);
        *ret = strjoin("berth-spawn@", machine, ".service");
        return *ret ? 0 : log_oom();
}

static int supervisor_call(sd_bus *bus, const char *what, const char *member, const char *name,
                           sd_bus_message **ret_reply) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        int r;

        if (!machine_name_is_valid(name))
                return log_error_errno(SYNTHETIC_ERRNO(EINVAL), "Invalid machine name %s.", name);
        /* a boot may take long; berthd itself gives up after 90 s */
        r = sd_bus_call_method(bus, MACHINE1_BUS_NAME, MACHINE1_MANAGER_PATH, SUPERVISOR_INTERFACE, member,
                               &error, ret_reply, "s", name);
        if (r < 0 && sd_bus_error_has_names(&error, SD_BUS_ERROR_UNKNOWN_METHOD, SD_BUS_ERROR_UNKNOWN_INTERFACE))
                return log_error_errno(r, "%s: the machine manager on this bus is not berthd, and systemd is not "
                                       "on it to start units.", what);
        if (r < 0)
                return log_error_errno(r, "%s: %s", what, bus_error_text(&error, r));
        return 0;
}

/* --- with systemd ------------------------------------------------------------------------ */

typedef struct JobWait {
        char **jobs;            /* object paths still waited for */
        int failed;             /* first failure */
} JobWait;

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        JobWait *w = userdata;
        const char *path, *unit, *result;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        for (char **j = w->jobs; j && *j; j++) {
                if (!streq(*j, path))
                        continue;
                if (!streq(result, "done") && !streq(result, "skipped")) {
                        log_error("Job for %s failed (result: %s). See \"systemctl status %s\" and "
                                  "\"journalctl -xeu %s\" for details.", unit, result, unit, unit);
                        if (w->failed == 0)
                                w->failed = -EIO;
                }
                free(*j);
                /* move the last one here */
                for (char **k = j; *k; k++)
                        *k = k[1];
                return 0;
        }
        return 0;
}

/* StartUnit or StopUnit of every machine's unit, then wait for the jobs, as machinectl. */
static int systemd_units_job(sd_bus *bus, const char *method, int n, char **names) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        _cleanup_strv_free_ char **jobs = NULL;
        JobWait w = {};
        int r;

        r = sd_bus_match_signal(bus, &slot, SYSTEMD_BUS_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER, "JobRemoved",
                                on_job_removed, &w);
        if (r < 0)
                return log_error_errno(r, "Failed to watch systemd's jobs: %s", strerror(-r));
        (void) sd_bus_call_method(bus, SYSTEMD_BUS_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER, "Subscribe", NULL, NULL, "");

        for (int i = 0; i < n; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                _cleanup_free_ char *unit = NULL;
                const char *job;

                r = unit_name(names[i], &unit);
                if (r < 0)
                        return r;
                r = sd_bus_call_method(bus, SYSTEMD_BUS_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER, method, &error, &reply,
                                       "ss", unit, "replace");
                if (r >= 0)
                        r = sd_bus_message_read(reply, "o", &job);
                if (r < 0)
                        return log_error_errno(r, "Failed to %s machine %s: %s", streq(method, "StartUnit") ?
                                               "start" : "stop", names[i], bus_error_text(&error, r));
                if (strv_extend(&jobs, job) < 0)
                        return log_oom();
        }
        w.jobs = jobs;
        while (w.jobs && *w.jobs) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return log_error_errno(r, "Failed to wait for the jobs: %s", strerror(-r));
                if (r == 0 && (r = sd_bus_wait(bus, UINT64_MAX)) < 0)
                        return log_error_errno(r, "Failed to wait for the jobs: %s", strerror(-r));
        }
        return w.failed;
}

/* EnableUnitFiles/DisableUnitFiles and a Reload, as machinectl enable/disable. */
static int systemd_unit_files(sd_bus *bus, bool enable, int n, char **names) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        _cleanup_strv_free_ char **units = NULL;
        int r;

        for (int i = 0; i < n; i++) {
                char *u;

                r = unit_name(names[i], &u);
                if (r < 0)
                        return r;
                if (strv_push(&units, u) < 0)
                        return log_oom();
        }
        /* machinectl enables machines.target along with the machines */
        if (enable && strv_extend(&units, "machines.target") < 0)
                return log_oom();

        r = sd_bus_message_new_method_call(bus, &m, SYSTEMD_BUS_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER,
                                           enable ? "EnableUnitFiles" : "DisableUnitFiles");
        if (r >= 0)
                r = sd_bus_message_append_strv(m, units);
        if (r >= 0)
                r = enable ? sd_bus_message_append(m, "bb", false, true) : sd_bus_message_append(m, "b", false);
        if (r < 0)
                return log_oom();
        r = sd_bus_call(bus, m, 0, &error, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to %s unit: %s", enable ? "enable" : "disable",
                                       bus_error_text(&error, r));
        r = sd_bus_call_method(bus, SYSTEMD_BUS_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER, "Reload", &error, NULL, "");
        if (r < 0)
                return log_error_errno(r, "Failed to reload daemon: %s", bus_error_text(&error, r));
        return 0;
}

/* --- without systemd: berthd --------------------------------------------------------------- */

static int supervisor_each(sd_bus *bus, const char *what, const char *member, int n, char **names) {
        int r;

        for (int i = 0; i < n; i++) {
                r = supervisor_call(bus, what, member, names[i], NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* --- verbs ------------------------------------------------------------------------------- */

int verb_start(sd_bus *bus, int argc, char **argv) {
        if (have_systemd(bus))
                return systemd_units_job(bus, "StartUnit", argc - 1, argv + 1);
        return supervisor_each(bus, "Failed to start machine", "StartMachine", argc - 1, argv + 1);
}

int verb_enable(sd_bus *bus, int argc, char **argv) {
        int r;

        if (have_systemd(bus)) {
                r = systemd_unit_files(bus, true, argc - 1, argv + 1);
                return r < 0 || !arg_now ? r : systemd_units_job(bus, "StartUnit", argc - 1, argv + 1);
        }
        r = supervisor_each(bus, "Failed to enable machine", "EnableMachine", argc - 1, argv + 1);
        if (r < 0 || !arg_now)
                return r;
        return supervisor_each(bus, "Failed to start machine", "StartMachine", argc - 1, argv + 1);
}

int verb_disable(sd_bus *bus, int argc, char **argv) {
        int r;

        if (have_systemd(bus)) {
                r = systemd_unit_files(bus, false, argc - 1, argv + 1);
                return r < 0 || !arg_now ? r : systemd_units_job(bus, "StopUnit", argc - 1, argv + 1);
        }
        r = supervisor_each(bus, "Failed to disable machine", "DisableMachine", argc - 1, argv + 1);
        if (r < 0 || !arg_now)
                return r;
        return supervisor_each(bus, "Failed to stop machine", "StopMachine", argc - 1, argv + 1);
}

/* status: the last lines of the console, where machinectl shows the unit's journal.
 * Quietly nothing from a manager that keeps no log (systemd-machined) or may not show it. */
void print_machine_log(sd_bus *bus, const char *name) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_strv_free_ char **lines = NULL;

        if (!name || sd_bus_message_new_method_call(bus, &m, MACHINE1_BUS_NAME, MACHINE1_MANAGER_PATH,
                                                    SUPERVISOR_INTERFACE, "GetMachineLog") < 0 ||
            sd_bus_message_append(m, "su", name, STATUS_LOG_LINES) < 0)
                return;
        /* the log is for whom berthd allows without asking: status never prompts for it */
        (void) sd_bus_message_set_allow_interactive_authorization(m, false);
        if (sd_bus_call(bus, m, 0, NULL, &reply) < 0 ||
            sd_bus_message_read_strv(reply, &lines) < 0 || !lines || !*lines)
                return;
        fputc('\n', out);
        STRV_FOREACH(l, lines) {
                _cleanup_free_ char *safe = string_escape_controls(*l);

                fprintf(out, "%s\n", safe ?: "");
        }
}
