/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* io.berth.Import1 on berth-importd's manager object: OCI images, which importd 252's
 * org.freedesktop.import1 has no method for. The transfers are ordinary Transfer objects
 * (Type "pull-oci" or "import-oci"), listed, followed and cancelled as the others. */

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "importd.h"
#include "log.h"
#include "string-util.h"

/* What a reference may contain: [REGISTRY/]REPO[:TAG|@DIGEST] (the worker checks it in
 * detail; this only keeps the worker's argv sane). */
static bool reference_is_plausible(const char *ref) {
        return ref && *ref && ref[0] != '-' && strlen(ref) <= 512 && string_is_safe(ref) && !strpbrk(ref, " \t\r\n");
}

static int method_pull_oci(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *remote, *local;
        int force, read_only, r;
        Transfer *t;

        r = bus_verify_polkit_async(&m->polkit, message, POLKIT_ACTION_PULL, "download images", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read(message, "ssbb", &remote, &local, &force, &read_only);
        if (r < 0)
                return r;
        if (!reference_is_plausible(remote))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Image reference %s is invalid", remote);
        r = importd_check_local(local, true, error);
        if (r < 0)
                return r;
        r = importd_new_pull(m, TRANSFER_PULL_OCI, remote, local, force, &t, error);
        if (r < 0)
                return r;
        t->read_only = read_only;
        return importd_reply_started(message, t, error);
}

/* fd: an OCI image layout directory, or a file (an OCI layout or docker save archive). */
static int method_import_oci(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *local;
        int fd, force, read_only, r, copy;
        struct stat st;

        r = bus_verify_polkit_async(&m->polkit, message, POLKIT_ACTION_IMPORT, "import images", error);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = sd_bus_message_read(message, "hsbb", &fd, &local, &force, &read_only);
        if (r < 0)
                return r;
        r = importd_check_local(local, false, error);
        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0)
                return -errno;
        copy = importd_take_fd(fd, S_ISDIR(st.st_mode), error);
        if (copy < 0)
                return copy;
        return importd_start_import(m, message, TRANSFER_IMPORT_OCI, copy, local, force, read_only, error);
}

static const sd_bus_vtable oci_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_NAMES("PullOci", "ssbb", SD_BUS_PARAM(reference) SD_BUS_PARAM(local_name) SD_BUS_PARAM(force) SD_BUS_PARAM(read_only), "uo", SD_BUS_PARAM(transfer_id) SD_BUS_PARAM(transfer_path), method_pull_oci, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("ImportOci", "hsbb", SD_BUS_PARAM(fd) SD_BUS_PARAM(local_name) SD_BUS_PARAM(force) SD_BUS_PARAM(read_only), "uo", SD_BUS_PARAM(transfer_id) SD_BUS_PARAM(transfer_path), method_import_oci, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

int manager_bus_register_oci(Manager *m) {
        int r = sd_bus_add_object_vtable(m->bus, NULL, IMPORT1_MANAGER_PATH, BERTH_IMPORT1_INTERFACE, oci_vtable, m);

        return r < 0 ? log_error_errno(r, "Failed to register %s: %m", BERTH_IMPORT1_INTERFACE) : 0;
}
