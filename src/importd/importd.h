/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "bus-polkit.h"
#include "import1-bus.h"
#include "macro.h"

/* berth-importd: serves org.freedesktop.import1 and runs one berth-import worker per
 * transfer. The event loop only starts workers, relays their log lines and progress, and
 * reaps them: it keeps answering while any number of transfers run. */

#define IMPORTD_DEFAULT_STATE_DIR "/run/berth/import"
/* berthd's image name locks (MACHINED_DEFAULT_STATE_DIR/MACHINED_IMAGE_LOCK_DIR): shared,
 * so an import and a clone or rename never take the same name at once. */
#define IMPORTD_DEFAULT_NAME_LOCK_DIR "/run/berth/machines/image-locks"
#define TRANSFERS_MAX 64U
/* A cancelled worker has this long to remove its temporary before SIGKILL. */
#define TRANSFER_KILL_TIMEOUT_USEC (10ULL * 1000000ULL)

typedef enum TransferType {
        TRANSFER_IMPORT_TAR,
        TRANSFER_IMPORT_RAW,
        TRANSFER_IMPORT_FS,
        TRANSFER_EXPORT_TAR,
        TRANSFER_EXPORT_RAW,
        TRANSFER_PULL_TAR,
        TRANSFER_PULL_RAW,
        TRANSFER_IMPORT_OCI,
        TRANSFER_PULL_OCI,
        _TRANSFER_TYPE_MAX,
        _TRANSFER_TYPE_INVALID = -EINVAL,
} TransferType;

const char *transfer_type_to_string(TransferType t) _pure_;

typedef struct Manager Manager;
typedef struct Transfer Transfer;

struct Transfer {
        Manager *manager;
        uint32_t id;
        char *object_path;
        TransferType type;
        char *remote;          /* URL of a pull, else NULL */
        char *local;           /* image name (NULL: a pull derives it) */
        char *verify;          /* pulls: "no", "checksum", "signature"; else NULL */
        char *format;          /* exports */
        bool force;
        bool read_only;
        int io_fd;             /* the caller's file: the worker's stdin (import) or stdout (export) */

        unsigned progress;     /* percent, from X_IMPORT_PROGRESS= */
        uint64_t bytes;        /* read or downloaded so far, from X_BERTH_BYTES= */
        pid_t pid;
        sd_event_source *child_source;
        int log_fd;
        sd_event_source *log_source;
        char log_buf[2048];
        size_t log_len;
        bool cancelled;
        sd_event_source *kill_timer;
        Transfer *prev, *next;
};

struct Manager {
        sd_event *event;
        sd_bus *bus;
        char *state_dir;
        char *pool;
        char *name_lock_dir;
        char *worker;          /* berth-import */
        char *keyring;         /* NULL: the worker's default keyrings */
        char *notify_path;
        int notify_fd;
        sd_event_source *notify_source;
        Transfer *transfers;
        unsigned n_transfers;
        uint32_t last_id;
        PolkitRegistry polkit;
};

/* importd-transfer.c */
int transfer_new(Manager *m, TransferType type, Transfer **ret);
Transfer *transfer_free(Transfer *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Transfer *, transfer_free);
/* Fork the worker and announce TransferNew. */
int transfer_start(Transfer *t);
/* SIGTERM the worker (SIGKILL after a grace time); it ends as "canceled". */
int transfer_cancel(Transfer *t);
Transfer *manager_find_transfer(Manager *m, uint32_t id);
Transfer *manager_find_transfer_by_pid(Manager *m, pid_t pid);

/* importd-dbus.c */
int manager_bus_register(Manager *m);
/* Shared by the method handlers of importd-dbus.c and importd-oci.c. */
int importd_take_fd(int fd, bool directory, sd_bus_error *error);
int importd_check_local(const char *local, bool optional, sd_bus_error *error);
int importd_new_transfer(Manager *m, TransferType type, Transfer **ret, sd_bus_error *error);
/* A new pull Transfer of 'type' from 'remote' into image 'local' (optional), refused while
 * one of the same type pulls the same remote. Not started yet. */
int importd_new_pull(Manager *m, TransferType type, const char *remote, const char *local, bool force,
                     Transfer **ret, sd_bus_error *error);
int importd_reply_started(sd_bus_message *message, Transfer *t, sd_bus_error *error);
/* A new import Transfer of 'type' reading from 'fd' (taken, closed on failure) into image
 * 'local', started and answered with its id and path. */
int importd_start_import(Manager *m, sd_bus_message *message, TransferType type, int fd, const char *local,
                         bool force, bool read_only, sd_bus_error *error);

/* importd-oci.c: berth's own interface next to import1's (importd 252 has no OCI). */
int manager_bus_register_oci(Manager *m);
