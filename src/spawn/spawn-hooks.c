/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <string.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "oci-hooks.h"
#include "spawn-hooks.h"
#include "spawn-sync.h"

int inner_hooks_creating(const SpawnConfig *c, int sock, int *ret_state_fd) {
        SyncMessage m;
        int r;

        *ret_state_fd = -EBADF;
        if (!oci_hooks_has_creating(&c->oci_hooks))
                return 0;
        r = sync_send(sock, SYNC_HOOKS, 0, 0, NULL, -EBADF);
        if (r < 0)
                return log_error_errno(r, "Failed to ask berth-runc to run the hooks: %m");
        r = sync_wait_for_message(sock, SYNC_HOOKS_DONE, &m);
        if (r < 0)
                return log_error_errno(r, "berth-runc did not run the hooks: %m");
        *ret_state_fd = m.fd;
        return 0;
}

int inner_hooks_start_container(const SpawnConfig *c, int state_fd, int fifo_fd) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = oci_hooks_run(&c->oci_hooks, OCI_HOOK_START_CONTAINER, state_fd, &error);
        if (r >= 0)
                return loop_write(fifo_fd, "0", 1);
        /* nobody reads our log by now: the FIFO is the one way to "berth-runc start" */
        (void) loop_write(fifo_fd, "E", 1);
        if (error)
                (void) loop_write(fifo_fd, error, strlen(error));
        return r;
}
