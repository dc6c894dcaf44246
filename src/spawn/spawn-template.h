/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "spawn-config.h"

/* --template=: a missing root directory is made from the template tree, as a btrfs
 * snapshot where possible, else as a copy (reflinked where possible). It is built under a
 * hidden name next to the target and renamed into place only when complete, so an
 * interrupted start never leaves half a tree under the machine's name. */
int template_instantiate(const SpawnConfig *c);
