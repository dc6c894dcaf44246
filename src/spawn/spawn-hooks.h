/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "spawn-config.h"

/* The OCI hook points inside the container's init (berth-runc): berth-spawn's pipeline
 * pivots into the tree first and mounts after, so the init stops once its namespaces and
 * mounts exist and the launcher runs prestart, createRuntime and createContainer
 * (runc-hooks.c); startContainer runs in the init itself, at start. */

/* Stop for the create-time hooks, if the config has any (or startContainer hooks, whose
 * state the launcher sends back): *ret_state_fd is that state or -EBADF. A failing hook
 * is the launcher's to report; it kills us. Logs. */
int inner_hooks_creating(const SpawnConfig *c, int sock, int *ret_state_fd);

/* At start, "berth-runc start" having opened the FIFO (fifo_fd, our end): the
 * startContainer hooks, with the user's credentials the init has by then. The FIFO
 * carries the outcome: "0" and the exec follows (its close-on-exec end tells start the
 * program runs), or "E" and the error, which start reports, and the init exits. */
int inner_hooks_start_container(const SpawnConfig *c, int state_fd, int fifo_fd);
