/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "machine-info.h"

/* systemd-machined's view of a machine, /run/systemd/machines/NAME, kept next to
 * berthd's own state: libsystemd reads it directly (sd_machine_get_class(),
 * sd_machine_get_ifindices(), the leader behind "systemctl -M NAME" and "machinectl -M"),
 * and so does nss-mymachines before it asks the bus for addresses. Without the file those
 * clients do not see berthd's machines at all. */

#define MACHINE_COMPAT_DIR "/run/systemd/machines"

/* The file's text, in the env-file syntax sd-login parses. Pure: unit tested. */
int machine_compat_serialize(const MachineInfo *i, char **ret);
/* Write it atomically (berthd's registration), or remove it (termination, leader death). */
int machine_compat_save(const MachineInfo *i);
void machine_compat_remove(const char *name);
