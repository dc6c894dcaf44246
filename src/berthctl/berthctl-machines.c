/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <string.h>

#include "berthctl-format.h"
#include "berthctl.h"
#include "log.h"
#include "machine1-bus.h"
#include "string-util.h"

/* --- list ---------------------------------------------------------------------------- */

typedef struct MachineRow {
        char *name, *class, *service;
        char *os_release[2];            /* ID, VERSION_ID */
        char **addresses;
} MachineRow;

static const char * const os_keys[] = { "ID", "VERSION_ID" };

/* How many calls may wait for their reply at once: enough to hide the round trips, well
 * below dbus-daemon's limit of pending replies per connection. */
#define LIST_WINDOW 64
/* Machines per io.berth.Manager1.ListMachineAddresses call (berthd takes up to 1024). */
#define LIST_ADDRESS_BATCH 256

typedef struct ListQuery {
        MachineRow *rows;
        size_t n_rows;
        size_t pending;
        /* rows whose addresses are asked one machine at a time: their batch failed (an
         * older berthd, systemd-machined: no such method) */
        size_t *fallback;
        size_t n_fallback;
} ListQuery;

typedef struct ListCall {
        ListQuery *query;
        size_t first, n;        /* rows: one, or a batch for ListMachineAddresses */
} ListCall;

static int on_os_release(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        ListCall *c = userdata;

        c->query->pending--;
        if (!sd_bus_message_is_method_error(m, NULL))
                (void) read_string_map(m, os_keys, c->query->rows[c->first].os_release, ELEMENTSOF(os_keys));
        return 0;
}

static int on_addresses(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        ListCall *c = userdata;

        c->query->pending--;
        if (!sd_bus_message_is_method_error(m, NULL))
                (void) read_addresses(m, 0, &c->query->rows[c->first].addresses);
        return 0;
}

/* a(sa(iay)): the batch's machines in the order asked, those that went away left out */
static void read_batch_addresses(sd_bus_message *m, ListQuery *q, size_t first, size_t n) {
        const char *name;
        size_t j = first;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "(sa(iay))");
        while (r >= 0 && (r = sd_bus_message_enter_container(m, 'r', "sa(iay)")) > 0) {
                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return;
                while (j < first + n && !streq(q->rows[j].name, name))
                        j++;
                if (j == first + n)
                        return;         /* not one we asked for, or out of order: leave the rest */
                r = read_addresses(m, 0, &q->rows[j].addresses);
                if (r >= 0)
                        r = sd_bus_message_exit_container(m);
                j++;
        }
}

static int on_batch_addresses(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        ListCall *c = userdata;
        ListQuery *q = c->query;

        q->pending--;
        if (!sd_bus_message_is_method_error(m, NULL)) {
                read_batch_addresses(m, q, c->first, c->n);
                return 0;
        }
        log_debug("ListMachineAddresses() failed (%s), asking each machine.", sd_bus_message_get_error(m)->name);
        for (size_t i = c->first; i < c->first + c->n; i++)
                q->fallback[q->n_fallback++] = i;
        return 0;
}

/* batch: the names of c's rows as "as", else the one row's as "s" */
static int list_send(sd_bus *bus, ListCall *c, bool batch, const char *interface, const char *member,
                     sd_bus_message_handler_t cb) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, MACHINE1_BUS_NAME, MACHINE1_MANAGER_PATH, interface, member);
        if (r >= 0 && !batch)
                r = sd_bus_message_append(m, "s", c->query->rows[c->first].name);
        else if (r >= 0) {
                r = sd_bus_message_open_container(m, 'a', "s");
                for (size_t i = c->first; r >= 0 && i < c->first + c->n; i++)
                        r = sd_bus_message_append(m, "s", c->query->rows[i].name);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
        }
        if (r >= 0)
                r = sd_bus_call_async(bus, NULL, m, cb, c, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to call %s(): %s", member, strerror(-r));
        c->query->pending++;
        return 0;
}

/* machinectl asks for each machine's OS and addresses one call after the other; these
 * answers are independent, so keep a window of them in flight on the one connection.
 * The addresses come from berthd in batches (one round trip for 256 machines; each
 * GetMachineAddresses reply was a message through dbus-daemon and a wakeup of berthd and
 * berthctl), and one machine at a time from a service without the batched call. */
static int list_query_details(sd_bus *bus, ListQuery *q) {
        bool addresses = arg_max_addresses > 0 || arg_json != JSON_FORMAT_OFF;
        size_t n_batches = addresses ? (q->n_rows + LIST_ADDRESS_BATCH - 1) / LIST_ADDRESS_BATCH : 0;
        size_t next_batch = 0, next_os = 0, next_fallback = 0;
        _cleanup_free_ ListCall *calls = calloc(2 * q->n_rows + n_batches + 1, sizeof(ListCall));
        ListCall *os_calls = calls, *batch_calls = calls + q->n_rows, *fallback_calls = batch_calls + n_batches;
        int r;

        q->fallback = calloc(MAX(q->n_rows, 1u), sizeof(size_t));
        if (!calls || !q->fallback)
                return log_oom();
        while (next_batch < n_batches || next_os < q->n_rows || next_fallback < q->n_fallback || q->pending > 0) {
                while (q->pending < LIST_WINDOW) {
                        ListCall *c;

                        if (next_batch < n_batches) {
                                c = &batch_calls[next_batch];
                                *c = (ListCall) { .query = q, .first = next_batch * LIST_ADDRESS_BATCH,
                                                  .n = MIN(LIST_ADDRESS_BATCH, q->n_rows - next_batch * LIST_ADDRESS_BATCH) };
                                r = list_send(bus, c, true, BERTH_MANAGER_INTERFACE, "ListMachineAddresses",
                                              on_batch_addresses);
                                next_batch++;
                        } else if (next_fallback < q->n_fallback) {
                                c = &fallback_calls[next_fallback];
                                *c = (ListCall) { .query = q, .first = q->fallback[next_fallback], .n = 1 };
                                r = list_send(bus, c, false, MACHINE1_MANAGER_INTERFACE, "GetMachineAddresses", on_addresses);
                                next_fallback++;
                        } else if (next_os < q->n_rows) {
                                c = &os_calls[next_os];
                                *c = (ListCall) { .query = q, .first = next_os, .n = 1 };
                                r = list_send(bus, c, false, MACHINE1_MANAGER_INTERFACE, "GetMachineOSRelease", on_os_release);
                                next_os++;
                        } else
                                break;
                        if (r < 0)
                                return r;
                }
                r = sd_bus_process(bus, NULL);
                if (r == 0)
                        r = sd_bus_wait(bus, UINT64_MAX);
                if (r < 0)
                        return log_error_errno(r, "Failed to talk to the machine manager: %s", strerror(-r));
        }
        return 0;
}

static int list_read_machines(sd_bus_message *reply, ListQuery *q) {
        const char *name, *class, *service;
        size_t allocated = 0;
        int r;

        r = sd_bus_message_enter_container(reply, 'a', "(ssso)");
        while (r >= 0 && (r = sd_bus_message_read(reply, "(ssso)", &name, &class, &service, NULL)) > 0) {
                if (name[0] == '.' && !arg_all)
                        continue;
                if (q->n_rows == allocated) {
                        MachineRow *n = realloc(q->rows, (allocated = MAX(allocated * 2, 64u)) * sizeof(MachineRow));
                        if (!n)
                                return log_oom();
                        q->rows = n;
                }
                q->rows[q->n_rows] = (MachineRow) {
                        .name = strdup(name), .class = strdup(class), .service = strdup(service),
                };
                if (!q->rows[q->n_rows++].service)
                        return log_oom();
        }
        if (r < 0)
                return log_error_errno(r, "Failed to parse ListMachines() reply: %s", strerror(-r));
        return 0;
}

static void list_query_done(ListQuery *q) {
        for (size_t i = 0; i < q->n_rows; i++) {
                free(q->rows[i].name);
                free(q->rows[i].class);
                free(q->rows[i].service);
                strv_array_free(q->rows[i].os_release, ELEMENTSOF(os_keys));
                strv_free(q->rows[i].addresses);
        }
        free(q->rows);
        free(q->fallback);
}

int verb_list(sd_bus *bus, int argc, char **argv) {
        static const char * const columns[] = { "machine", "class", "service", "os", "version", "addresses" };
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(list_query_done) ListQuery q = {};
        bool with_addresses = arg_max_addresses > 0 || arg_json != JSON_FORMAT_OFF;
        _cleanup_(table_freep) Table *t = table_new(columns, with_addresses ? 6 : 5);
        int r;

        if (!t)
                return log_oom();
        r = manager_call(bus, "Could not get machines", 0, &reply, "ListMachines", NULL);
        if (r < 0)
                return r;
        r = list_read_machines(reply, &q);
        if (r < 0)
                return r;
        r = list_query_details(bus, &q);
        if (r < 0)
                return r;

        for (size_t i = 0; i < q.n_rows; i++) {
                MachineRow *m = &q.rows[i];

                r = table_add_string(t, m->name);
                r = r ?: table_add_string(t, m->class);
                r = r ?: table_add_string(t, m->service);
                r = r ?: table_add_string(t, m->os_release[0]);
                r = r ?: table_add_string(t, m->os_release[1]);
                if (with_addresses)
                        r = r ?: table_add_lines(t, m->addresses,
                                                 arg_full || arg_json != JSON_FORMAT_OFF ? SIZE_MAX : arg_max_addresses);
                if (r < 0)
                        return log_oom();
        }
        return show_table(t, "machines");
}

/* --- status -------------------------------------------------------------------------- */

typedef struct MachineStatus {
        char *name, *class, *service, *unit, *root;
        uint8_t id[16];
        bool has_id;
        uint32_t leader;
        uint64_t timestamp;
        int *ifindex;
        size_t n_ifindex;
} MachineStatus;

static void machine_status_done(MachineStatus *s) {
        free(s->name);
        free(s->class);
        free(s->service);
        free(s->unit);
        free(s->root);
        free(s->ifindex);
}

static int read_string_property(sd_bus_message *m, char **ret) {
        const char *s;
        int r = sd_bus_message_read(m, "v", "s", &s);

        if (r < 0 || isempty(s))
                return r;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int read_array_property(sd_bus_message *m, char type, const void **ret, size_t *ret_size) {
        int r = sd_bus_message_enter_container(m, 'v', (char[]) { 'a', type, 0 });

        if (r >= 0)
                r = sd_bus_message_read_array(m, type, ret, ret_size);
        if (r >= 0)
                r = sd_bus_message_exit_container(m);
        return r;
}

static int machine_status_read_one(sd_bus_message *m, const char *name, void *userdata) {
        MachineStatus *s = userdata;
        const void *p;
        size_t sz;
        int r;

        if (streq(name, "Name"))
                return read_string_property(m, &s->name);
        if (streq(name, "Class"))
                return read_string_property(m, &s->class);
        if (streq(name, "Service"))
                return read_string_property(m, &s->service);
        if (streq(name, "Unit"))
                return read_string_property(m, &s->unit);
        if (streq(name, "RootDirectory"))
                return read_string_property(m, &s->root);
        if (streq(name, "Leader"))
                return sd_bus_message_read(m, "v", "u", &s->leader);
        if (streq(name, "Timestamp"))
                return sd_bus_message_read(m, "v", "t", &s->timestamp);
        if (streq(name, "Id")) {
                r = read_array_property(m, 'y', &p, &sz);
                if (r >= 0 && sz == sizeof(s->id)) {
                        memcpy(s->id, p, sz);
                        for (size_t i = 0; i < sz; i++)
                                s->has_id = s->has_id || s->id[i];
                }
                return r;
        }
        if (streq(name, "NetworkInterfaces")) {
                r = read_array_property(m, 'i', &p, &sz);
                if (r < 0 || sz == 0)
                        return r;
                s->ifindex = malloc(sz);
                if (!s->ifindex)
                        return -ENOMEM;
                memcpy(s->ifindex, p, sz);
                s->n_ifindex = sz / sizeof(int32_t);
                return 0;
        }
        return sd_bus_message_skip(m, "v");
}

static void print_leader(uint32_t leader) {
        _cleanup_free_ char *comm = NULL;
        char path[64];
        size_t n = 0;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%" PRIu32 "/comm", leader);
        f = fopen(path, "re");
        if (f) {
                if (getline(&comm, &n, f) > 0)
                        comm[strcspn(comm, "\n")] = 0;
                fclose(f);
        }
        fprintf(out, "\t  Leader: %" PRIu32, leader);
        if (!isempty(comm))
                fprintf(out, " (%s)", comm);
        fputc('\n', out);
}

/* The interface to scope link-local addresses with: the machine's only one, if it has one. */
static int print_interfaces(const MachineStatus *s) {
        int scope = -1;

        if (s->n_ifindex == 0)
                return 0;
        fputs("\t   Iface:", out);
        for (size_t i = 0; i < s->n_ifindex; i++) {
                char name[IF_NAMESIZE];

                if (if_indextoname((unsigned) s->ifindex[i], name)) {
                        fprintf(out, " %s", name);
                        scope = scope < 0 ? s->ifindex[i] : 0;
                } else
                        fprintf(out, " %i", s->ifindex[i]);
        }
        fputc('\n', out);
        return scope;
}

static void print_addresses(sd_bus *bus, const char *name, int scope) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **l = NULL;

        if (manager_call(bus, NULL, 0, &reply, "GetMachineAddresses", "s", name) < 0 ||
            read_addresses(reply, scope, &l) < 0)
                return;
        STRV_FOREACH(a, l)
                fprintf(out, "%s%s\n", a == l ? "\t Address: " : "\t          ", *a);
}

static void print_os(sd_bus *bus, const char *method, const char *name) {
        static const char * const keys[] = { "PRETTY_NAME" };
        char *pretty[1] = {};

        if (get_os_release(bus, method, name, keys, pretty, 1) >= 0 && pretty[0])
                fprintf(out, "\t      OS: %s\n", pretty[0]);
        free(pretty[0]);
}

static void print_uid_shift(sd_bus *bus, const char *name) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        uint32_t shift;

        if (manager_call(bus, NULL, 0, &reply, "GetMachineUIDShift", "s", name) < 0 ||
            sd_bus_message_read(reply, "u", &shift) < 0 || shift == 0)
                return;         /* no user namespace, or none worth showing */
        fprintf(out, "       UID Shift: %" PRIu32 "\n", shift);
}

static void print_machine_status(sd_bus *bus, const MachineStatus *s) {
        char ts[FORMAT_TIMESTAMP_MAX], rel[FORMAT_TIMESTAMP_MAX];
        const char *a = format_timestamp(ts, s->timestamp), *b = format_timestamp_relative(rel, s->timestamp);
        int scope;

        fputs(s->name ?: "n/a", out);
        if (s->has_id) {
                fputc('(', out);
                for (size_t i = 0; i < sizeof(s->id); i++)
                        fprintf(out, "%02x", s->id[i]);
                fputc(')', out);
        }
        fputc('\n', out);
        if (a)
                fprintf(out, "\t   Since: %s; %s\n", a, b);
        if (s->leader > 0)
                print_leader(s->leader);
        if (s->service)
                fprintf(out, "\t Service: %s%s%s\n", s->service, s->class ? "; class " : "", strempty(s->class));
        else if (s->class)
                fprintf(out, "\t   Class: %s\n", s->class);
        if (s->root)
                fprintf(out, "\t    Root: %s\n", s->root);
        scope = print_interfaces(s);
        print_addresses(bus, s->name, scope);
        print_os(bus, "GetMachineOSRelease", s->name);
        print_uid_shift(bus, s->name);
        if (s->unit)
                fprintf(out, "\t    Unit: %s\n", s->unit);
        print_machine_log(bus, s->name);
}

int verb_status(sd_bus *bus, int argc, char **argv) {
        int r;

        for (int i = 1; i < argc; i++) {
                _cleanup_(machine_status_done) MachineStatus s = {};
                _cleanup_free_ char *path = NULL;

                r = get_object_path(bus, "GetMachine", "Could not get path to machine", argv[i], &path);
                if (r < 0)
                        return r;
                r = read_all_properties(bus, path, MACHINE1_MACHINE_INTERFACE, machine_status_read_one, &s);
                if (r < 0)
                        return r;
                if (i > 1)
                        fputc('\n', out);
                print_machine_status(bus, &s);
        }
        return 0;
}

/* --- show ---------------------------------------------------------------------------- */

int verb_show(sd_bus *bus, int argc, char **argv) {
        return print_objects_properties(bus, argc, argv, "GetMachine", "Could not get path to machine");
}

/* --- terminate, kill, poweroff, reboot ----------------------------------------------- */

int verb_terminate(sd_bus *bus, int argc, char **argv) {
        int r;

        for (int i = 1; i < argc; i++) {
                r = manager_call(bus, "Could not terminate machine", 0, NULL, "TerminateMachine", "s", argv[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int kill_machines(sd_bus *bus, int argc, char **argv, const char *whom, int sig) {
        int r;

        for (int i = 1; i < argc; i++) {
                r = manager_call(bus, "Could not kill machine", 0, NULL, "KillMachine", "ssi", argv[i], whom, sig);
                if (r < 0)
                        return r;
        }
        return 0;
}

int verb_kill(sd_bus *bus, int argc, char **argv) {
        return kill_machines(bus, argc, argv, arg_kill_whom ?: "all", arg_signal);
}

int verb_poweroff(sd_bus *bus, int argc, char **argv) {
        /* what systemd as PID 1 of the machine takes as "power off" */
        return kill_machines(bus, argc, argv, "leader", SIGRTMIN + 4);
}

int verb_reboot(sd_bus *bus, int argc, char **argv) {
        /* sysvinit and systemd both reboot on SIGINT */
        return kill_machines(bus, argc, argv, "leader", SIGINT);
}
