/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "spawn-config.h"

/* Start the machine described by 'c', supervise it and tear it down. Returns the exit
 * status berth-spawn should end with (the payload's, or 128+N after death by signal N),
 * or a negative errno after the cause was logged. */
int spawn_run(const SpawnConfig *c);
