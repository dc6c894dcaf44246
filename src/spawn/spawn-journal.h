/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "spawn-config.h"

/* --link-journal=: make the machine's journal visible on the host, under
 * /var/log/journal/MACHINE-ID, as systemd-nspawn does:
 *   host:  the journal lives on the host and is bind-mounted into the machine;
 *   guest: it lives in the tree and the host gets a symlink to it;
 *   try-*: the same, but no error when the host keeps no persistent journal;
 *   auto:  bind the host directory if it exists (a link made earlier), else nothing. */

typedef struct SpawnState SpawnState;

int link_journal_setup(const SpawnConfig *c, SpawnState *s);
