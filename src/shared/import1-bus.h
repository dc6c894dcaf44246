/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The org.freedesktop.import1 API as systemd-importd 252 serves it (src/import/importd.c):
 * berth-importd serves exactly these names, so machinectl works against it, and berthctl
 * calls them. */

#define IMPORT1_BUS_NAME "org.freedesktop.import1"
#define IMPORT1_MANAGER_PATH "/org/freedesktop/import1"
#define IMPORT1_MANAGER_INTERFACE "org.freedesktop.import1.Manager"
/* Transfer N is IMPORT1_TRANSFER_PREFIX "/_N". */
#define IMPORT1_TRANSFER_PREFIX "/org/freedesktop/import1/transfer"
#define IMPORT1_TRANSFER_INTERFACE "org.freedesktop.import1.Transfer"

#define BUS_ERROR_NO_SUCH_TRANSFER "org.freedesktop.import1.NoSuchTransfer"
#define BUS_ERROR_TRANSFER_IN_PROGRESS "org.freedesktop.import1.TransferInProgress"

/* importd's polkit actions: Import*, Export* and Pull* (and cancelling, which importd
 * checks against the pull action). */
#define POLKIT_ACTION_IMPORT "org.freedesktop.import1.import"
#define POLKIT_ACTION_EXPORT "org.freedesktop.import1.export"
#define POLKIT_ACTION_PULL "org.freedesktop.import1.pull"

/* What a worker sends on $NOTIFY_SOCKET: "X_IMPORT_PROGRESS=N" (percent, importd's), and
 * berth's own "X_BERTH_BYTES=N" (bytes transferred so far) for berthctl's rate and ETA. */
#define IMPORT_PROGRESS_KEY "X_IMPORT_PROGRESS="
#define IMPORT_BYTES_KEY "X_BERTH_BYTES="
/* berth-importd's Transfer property with that count (systemd-importd has none). */
#define IMPORT1_BYTES_PROPERTY "BerthBytes"

/* berth's own methods on the same object (importd 252 has no OCI images): PullOci(ssbb)
 * and ImportOci(hsbb), answering (uo) and running as Transfers like the others. */
#define BERTH_IMPORT1_INTERFACE "io.berth.Import1"
