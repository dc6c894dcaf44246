/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* berth-spawn's leftovers (spawn-reclaim.h) when berthd sees a machine's leader die: if the
 * berth-spawn that ran it was killed too, nothing else would remove its firewall rules,
 * address and UID-range locks and cgroups before the next start of berth-spawn. Tried at
 * once and then every 100 ms for up to 10 s, while the machine's last processes die or
 * its berth-spawn (if alive) tears down by itself. Best effort; logs what it reclaims. */
void machine_reclaim_schedule(Manager *m, const char *name);

/* At berthd's start: the leftovers of every machine whose berth-spawn was killed while
 * berthd was not watching. */
void machine_reclaim_all(void);
