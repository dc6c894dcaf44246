/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fd-util.h"
#include "machine-dbus.h"
#include "machine-idmap.h"
#include "machine-name.h"
#include "machine-query.h"
#include "manager.h"
#include "string-util.h"

int id_map_parse(const char *text, IdMap *ret) {
        IdMap map = {};

        for (const char *p = text; p && *p; ) {
                unsigned long inside, outside, count;
                const char *nl = strchr(p, '\n');
                int n = 0;

                if (sscanf(p, " %lu %lu %lu%n", &inside, &outside, &count, &n) != 3 ||
                    inside > UINT32_MAX || outside > UINT32_MAX || count == 0 || count > UINT32_MAX ||
                    map.n >= ID_MAP_LINES_MAX)
                        return -EBADMSG;
                map.entries[map.n++] = (IdMapEntry) { inside, outside, count };
                p = nl ? nl + 1 : NULL;
        }
        *ret = map;
        return 0;
}

bool id_map_is_identity(const IdMap *map) {
        return map->n == 1 && map->entries[0].inside == 0 && map->entries[0].outside == 0 &&
               map->entries[0].count == UINT32_MAX;
}

static int id_map_translate(const IdMap *map, bool to_outside, uint32_t id, uint32_t *ret) {
        for (size_t i = 0; i < map->n; i++) {
                const IdMapEntry *e = &map->entries[i];
                uint32_t from = to_outside ? e->inside : e->outside, to = to_outside ? e->outside : e->inside;

                if (id >= from && (uint64_t) id < (uint64_t) from + e->count) {
                        *ret = to + (id - from);
                        return 0;
                }
        }
        return -ESRCH;
}

int id_map_to_outside(const IdMap *map, uint32_t inside, uint32_t *ret) {
        return id_map_translate(map, true, inside, ret);
}

int id_map_to_inside(const IdMap *map, uint32_t outside, uint32_t *ret) {
        return id_map_translate(map, false, outside, ret);
}

int machine_read_id_map(pid_t leader, int leader_pidfd, const char *which, IdMap *ret) {
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        char fn[64];
        int r;

        snprintf(fn, sizeof(fn), "/proc/%i/%s", (int) leader, which);
        fd = open(fn, O_RDONLY|O_CLOEXEC|O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? -ESRCH : -errno;
        r = read_full_fd(fd, 64 * 1024, &text, NULL);
        if (r < 0)
                return r;
        /* Still the same process (see leader_open())? Then this is its map. */
        if (leader_pidfd >= 0 && !pidfd_is_alive(leader_pidfd))
                return -ESRCH;
        return id_map_parse(text, ret);
}

static int map_from_machine(sd_bus_message *message, Manager *m, bool user, sd_bus_error *error) {
        const char *name;
        Machine *machine;
        uint32_t id, converted;
        IdMap map;
        int r;

        r = sd_bus_message_read(message, "su", &name, &id);
        if (r < 0)
                return r;
        machine = manager_get_machine(m, name);
        if (!machine)
                return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_MACHINE, "No machine '%s' known.",
                                         machine_name_is_valid(name) ? name : "(invalid name)");
        if (id == UINT32_MAX || id == UINT32_MAX - 1)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid %s ID %" PRIu32 ".",
                                         user ? "user" : "group", id);
        if (machine_is_host(machine))
                return sd_bus_reply_method_return(message, "u", id);
        if (machine->info.class != MACHINE_CONTAINER)
                return sd_bus_error_set(error, SD_BUS_ERROR_NOT_SUPPORTED, "Not supported for non-container machines.");

        r = machine_read_id_map(machine->info.leader, machine->leader_pidfd, user ? "uid_map" : "gid_map", &map);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to read the ID map of machine '%s': %m",
                                               machine->info.name);
        if (id_map_to_outside(&map, id, &converted) < 0)
                return sd_bus_error_setf(error, user ? BUS_ERROR_NO_SUCH_USER_MAPPING : BUS_ERROR_NO_SUCH_GROUP_MAPPING,
                                         "Machine '%s' has no matching %s mappings.", machine->info.name,
                                         user ? "user" : "group");
        return sd_bus_reply_method_return(message, "u", converted);
}

int bus_method_map_from_machine_user(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return map_from_machine(message, userdata, true, error);
}

int bus_method_map_from_machine_group(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return map_from_machine(message, userdata, false, error);
}

static int map_to_machine(sd_bus_message *message, Manager *m, bool user, sd_bus_error *error) {
        const char *kind = user ? "User" : "Group";
        uint32_t id;
        int r;

        r = sd_bus_message_read(message, "u", &id);
        if (r < 0)
                return r;
        if (id == UINT32_MAX || id == UINT32_MAX - 1)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Invalid %s ID %" PRIu32 ".", kind, id);
        /* As machined: the first 64K IDs are the host's own. */
        if (id < 0x10000)
                return sd_bus_error_setf(error, user ? BUS_ERROR_NO_SUCH_USER_MAPPING : BUS_ERROR_NO_SUCH_GROUP_MAPPING,
                                         "%s %" PRIu32 " belongs to host %s range.", kind, id, user ? "UID" : "GID");

        for (Machine *machine = m->machines; machine; machine = machine->next) {
                _cleanup_free_ char *path = NULL;
                uint32_t converted;
                IdMap map;

                if (machine->info.class != MACHINE_CONTAINER)
                        continue;
                if (machine_read_id_map(machine->info.leader, machine->leader_pidfd,
                                        user ? "uid_map" : "gid_map", &map) < 0)
                        continue;       /* gone meanwhile, or unreadable: not this one */
                /* Without a user namespace a machine shares the host's IDs: it owns none. */
                if (id_map_is_identity(&map) || id_map_to_inside(&map, id, &converted) < 0)
                        continue;

                path = machine_bus_path(machine);
                if (!path)
                        return -ENOMEM;
                return sd_bus_reply_method_return(message, "sou", machine->info.name, path, converted);
        }

        return sd_bus_error_setf(error, user ? BUS_ERROR_NO_SUCH_USER_MAPPING : BUS_ERROR_NO_SUCH_GROUP_MAPPING,
                                 "No matching %s mapping for %" PRIu32 ".", user ? "user" : "group", id);
}

int bus_method_map_to_machine_user(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return map_to_machine(message, userdata, true, error);
}

int bus_method_map_to_machine_group(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        return map_to_machine(message, userdata, false, error);
}
