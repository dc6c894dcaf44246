/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "machine-dbus.h"
#include "manager-batch.h"
#include "manager.h"
#include "string-util.h"

/* berthd reads each machine's addresses in its own process (a netlink dump inside the
 * machine's network namespace, tens of microseconds), so the handler runs to the end in
 * one go: this bounds how long one call keeps berthd from its other clients. */
#define LIST_ADDRESSES_MAX 1024U

/* io.berth.Manager1.ListMachineAddresses(as names) → a(sa(iay)): what GetMachineAddresses
 * returns for each named machine, in one round trip instead of one per machine (`list`
 * of a thousand machines). Read now, as GetMachineAddresses reads them: nothing is kept.
 * A name with no machine (it went away since ListMachines) or whose addresses cannot be
 * read is left out, where the per-machine call would have answered with an error. */
static int method_list_machine_addresses(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_strv_free_ char **names = NULL;
        Manager *m = userdata;
        int r;

        r = sd_bus_message_read_strv(message, &names);
        if (r < 0)
                return r;
        if (strv_length(names) > LIST_ADDRESSES_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "At most %u machines per call.", LIST_ADDRESSES_MAX);

        r = sd_bus_message_new_method_return(message, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "(sa(iay))");
        if (r < 0)
                return r;
        STRV_FOREACH(name, names) {
                _cleanup_free_ MachineAddress *l = NULL;
                Machine *machine = manager_get_machine(m, *name);
                size_t n = 0;

                if (!machine || machine_read_addresses(machine, &l, &n) < 0)
                        continue;
                r = sd_bus_message_open_container(reply, 'r', "sa(iay)");
                if (r >= 0)
                        r = sd_bus_message_append(reply, "s", machine->info.name);
                if (r >= 0)
                        r = bus_append_addresses(reply, l, n);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static const sd_bus_vtable berth_manager_batch_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("ListMachineAddresses",
                                SD_BUS_ARGS("as", names),
                                SD_BUS_RESULT("a(sa(iay))", addresses),
                                method_list_machine_addresses, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END
};

int manager_batch_register(Manager *m) {
        int r;

        r = sd_bus_add_object_vtable(m->bus, NULL, MACHINE1_MANAGER_PATH, BERTH_MANAGER_INTERFACE,
                                     berth_manager_batch_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the batched machine queries: %m");
        return 0;
}
