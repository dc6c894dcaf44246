/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include <systemd/sd-bus.h>

/* Files into and out of a running machine: CopyTo/CopyFrom(WithFlags), BindMount and
 * OpenRootDirectory, on the Machine object (userdata: the Machine, message positioned
 * after the machine name for the Manager's variants).
 *
 * The work happens in a forked worker (operation.c) that opens the host side first, then
 * joins the machine's mount namespace through the leader's pidfd and resolves every path
 * inside the machine with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) relative to the
 * leader's root: a symlink the guest planted (even "/etc" → "/" or "../../..") is resolved
 * inside the machine, never on the host. */

#define MACHINE_COPY_REPLACE (UINT64_C(1) << 0)   /* systemd's public flag, same value */

int bus_machine_method_copy_to(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_machine_method_copy_from(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_machine_method_copy_to_with_flags(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_machine_method_copy_from_with_flags(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_machine_method_bind_mount(sd_bus_message *message, void *userdata, sd_bus_error *error);
int bus_machine_method_open_root_directory(sd_bus_message *message, void *userdata, sd_bus_error *error);

/* The Machine object's vtable entries for the methods above. */
#define MACHINE_FILES_METHODS                                                                   \
        SD_BUS_METHOD_WITH_ARGS("BindMount",                                                    \
                                SD_BUS_ARGS("s", source, "s", destination, "b", read_only, "b", mkdir), \
                                SD_BUS_NO_RESULT,                                               \
                                bus_machine_method_bind_mount, SD_BUS_VTABLE_UNPRIVILEGED),     \
        SD_BUS_METHOD_WITH_ARGS("CopyFrom",                                                     \
                                SD_BUS_ARGS("s", source, "s", destination),                     \
                                SD_BUS_NO_RESULT,                                               \
                                bus_machine_method_copy_from, SD_BUS_VTABLE_UNPRIVILEGED),      \
        SD_BUS_METHOD_WITH_ARGS("CopyTo",                                                       \
                                SD_BUS_ARGS("s", source, "s", destination),                     \
                                SD_BUS_NO_RESULT,                                               \
                                bus_machine_method_copy_to, SD_BUS_VTABLE_UNPRIVILEGED),        \
        SD_BUS_METHOD_WITH_ARGS("CopyFromWithFlags",                                            \
                                SD_BUS_ARGS("s", source, "s", destination, "t", flags),         \
                                SD_BUS_NO_RESULT,                                               \
                                bus_machine_method_copy_from_with_flags, SD_BUS_VTABLE_UNPRIVILEGED), \
        SD_BUS_METHOD_WITH_ARGS("CopyToWithFlags",                                              \
                                SD_BUS_ARGS("s", source, "s", destination, "t", flags),         \
                                SD_BUS_NO_RESULT,                                               \
                                bus_machine_method_copy_to_with_flags, SD_BUS_VTABLE_UNPRIVILEGED), \
        SD_BUS_METHOD_WITH_ARGS("OpenRootDirectory",                                            \
                                SD_BUS_NO_ARGS,                                                 \
                                SD_BUS_RESULT("h", fd),                                         \
                                bus_machine_method_open_root_directory, SD_BUS_VTABLE_UNPRIVILEGED)

/* The Manager's by-name variants: defined in manager-dbus.c with its DEFINE_BY_NAME. */
#define MANAGER_FILES_METHODS(prefix)                                                           \
        SD_BUS_METHOD_WITH_ARGS("BindMountMachine",                                             \
                                SD_BUS_ARGS("s", name, "s", source, "s", destination, "b", read_only, "b", mkdir), \
                                SD_BUS_NO_RESULT,                                               \
                                prefix##bind_mount, SD_BUS_VTABLE_UNPRIVILEGED),                \
        SD_BUS_METHOD_WITH_ARGS("CopyFromMachine",                                              \
                                SD_BUS_ARGS("s", name, "s", source, "s", destination),          \
                                SD_BUS_NO_RESULT,                                               \
                                prefix##copy_from, SD_BUS_VTABLE_UNPRIVILEGED),                 \
        SD_BUS_METHOD_WITH_ARGS("CopyToMachine",                                                \
                                SD_BUS_ARGS("s", name, "s", source, "s", destination),          \
                                SD_BUS_NO_RESULT,                                               \
                                prefix##copy_to, SD_BUS_VTABLE_UNPRIVILEGED),                   \
        SD_BUS_METHOD_WITH_ARGS("CopyFromMachineWithFlags",                                     \
                                SD_BUS_ARGS("s", name, "s", source, "s", destination, "t", flags), \
                                SD_BUS_NO_RESULT,                                               \
                                prefix##copy_from_with_flags, SD_BUS_VTABLE_UNPRIVILEGED),      \
        SD_BUS_METHOD_WITH_ARGS("CopyToMachineWithFlags",                                       \
                                SD_BUS_ARGS("s", name, "s", source, "s", destination, "t", flags), \
                                SD_BUS_NO_RESULT,                                               \
                                prefix##copy_to_with_flags, SD_BUS_VTABLE_UNPRIVILEGED),        \
        SD_BUS_METHOD_WITH_ARGS("OpenMachineRootDirectory",                                     \
                                SD_BUS_ARGS("s", name),                                         \
                                SD_BUS_RESULT("h", fd),                                         \
                                prefix##open_root_directory, SD_BUS_VTABLE_UNPRIVILEGED),       \
        SD_BUS_METHOD_WITH_ARGS("MapFromMachineUser",                                           \
                                SD_BUS_ARGS("s", name, "u", uid_inner),                         \
                                SD_BUS_RESULT("u", uid_outer),                                  \
                                bus_method_map_from_machine_user, SD_BUS_VTABLE_UNPRIVILEGED),  \
        SD_BUS_METHOD_WITH_ARGS("MapToMachineUser",                                             \
                                SD_BUS_ARGS("u", uid_outer),                                    \
                                SD_BUS_RESULT("s", machine_name, "o", machine_path, "u", uid_inner), \
                                bus_method_map_to_machine_user, SD_BUS_VTABLE_UNPRIVILEGED),    \
        SD_BUS_METHOD_WITH_ARGS("MapFromMachineGroup",                                          \
                                SD_BUS_ARGS("s", name, "u", gid_inner),                         \
                                SD_BUS_RESULT("u", gid_outer),                                  \
                                bus_method_map_from_machine_group, SD_BUS_VTABLE_UNPRIVILEGED), \
        SD_BUS_METHOD_WITH_ARGS("MapToMachineGroup",                                            \
                                SD_BUS_ARGS("u", gid_outer),                                    \
                                SD_BUS_RESULT("s", machine_name, "o", machine_path, "u", gid_inner), \
                                bus_method_map_to_machine_group, SD_BUS_VTABLE_UNPRIVILEGED)
