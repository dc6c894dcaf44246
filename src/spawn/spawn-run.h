/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <sys/types.h>

#include "spawn-config.h"

typedef struct SpawnState SpawnState;

/* Start the machine described by 'c', supervise it and tear it down. Returns the exit
 * status berth-spawn should end with (the payload's, or 128+N after death by signal N),
 * or a negative errno after the cause was logged. */
int spawn_run(const SpawnConfig *c);

/* berth-runc create: set the machine up in its cgroup (st->cgroup, kept on success) and
 * leave its init waiting on st->start_fifo_fd, as a child of our own parent
 * (CLONE_PARENT, with 'sibling'), so that no berth process stays between the caller and the container.
 * With terminal set, the console's pty master is sent to console_socket (SCM_RIGHTS).
 * Returns the init's PID, or a negative errno after logging (then nothing is left). */
pid_t spawn_create_detached(const SpawnConfig *c, SpawnState *st, int console_socket, bool sibling);
