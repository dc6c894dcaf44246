/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "spawn-config.h"
#include "spawn-state.h"

/* Runs in the cloned child: PID 1 of the machine's new PID namespace, in new mount, UTS,
 * IPC and cgroup namespaces. Never returns: it executes the payload or exits non-zero
 * after sending the reason to the parent over 'sock'. */
_noreturn_ void spawn_inner(const SpawnConfig *c, const SpawnState *s, int sock);
