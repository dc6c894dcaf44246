/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <linux/capability.h>

#include "spawn-config.h"
#include "spawn-state.h"

/* The stub init of --as-pid2 keeps only this capability (to forward signals). */
#define STUB_BOUNDING_SET (UINT64_C(1) << CAP_KILL)

/* Runs in the cloned child: PID 1 of the machine's new PID namespace, in new mount, UTS,
 * IPC and cgroup namespaces. Never returns: it executes the payload or exits non-zero
 * after sending the reason to the parent over 'sock'. */
_noreturn_ void spawn_inner(const SpawnConfig *c, const SpawnState *s, int sock);
