/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "machine.h"
#include "machine-query.h"
#include "machine1-bus.h"

extern const sd_bus_vtable machine_vtable[];

char *machine_bus_path(const Machine *machine);
int machine_object_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                        void **found, sd_bus_error *error);
int machine_node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error);

/* Callers that change anything must be root (euid from the bus driver's credentials,
 * recorded when the caller connected, not looked up in /proc: no PID race), or be
 * authorized by polkit for the action (manage-machines for bus_check_privileged()).
 * Returns 1: go on; <0: refused (error set; "Only root may <what>..." when polkit is not
 * running); 0: polkit is being asked: the handler must return 1 at once, without a
 * reply and without having changed anything, and runs again with polkit's answer. */
int bus_check_privileged(Manager *m, sd_bus_message *message, sd_bus_error *error);
int bus_check_privileged_for(Manager *m, sd_bus_message *message, const char *action, const char *what,
                             sd_bus_error *error);

/* Shared by the Machine object and the Manager's *Machine(name, …) methods: the message
 * is positioned after the machine name (if any). */
int bus_machine_method_terminate(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_machine_method_kill(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_machine_method_get_addresses(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_machine_method_get_os_release(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_machine_method_get_uid_shift(sd_bus_message *message, void *userdata, sd_bus_error *error);

/* The addresses GetMachineAddresses returns (the host's for .host), and their a(iay)
 * form in a reply; shared with io.berth.Manager1.ListMachineAddresses (manager-batch.c). */
int machine_read_addresses(const Machine *machine, MachineAddress **ret, size_t *ret_n);
int bus_append_addresses(sd_bus_message *reply, const MachineAddress *l, size_t n);
