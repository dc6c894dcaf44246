/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <systemd/sd-bus.h>

#include "machine1-bus.h"
#include "macro.h"

static char *object_path(const char *prefix, const char *name) {
        char *p = NULL;

        if (sd_bus_path_encode(prefix, name, &p) < 0)
                return NULL;
        return p;
}

char *machine1_machine_path(const char *name) {
        return object_path(MACHINE_OBJECT_PREFIX, name);
}

char *machine1_image_path(const char *name) {
        return object_path(IMAGE_OBJECT_PREFIX, name);
}

int bus_reply_os_release(sd_bus_message *message, char **l) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(message, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "{ss}");
        if (r < 0)
                return r;
        for (size_t i = 0; l && l[i] && l[i + 1]; i += 2) {
                r = sd_bus_message_append(reply, "{ss}", l[i], l[i + 1]);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}
