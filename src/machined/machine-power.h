/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "machine.h"

/* machinectl (and berthctl) power a machine off with KillMachine(NAME, "leader",
 * SIGRTMIN+4) and reboot it with SIGINT: systemd's signals. For a machine berth-spawn
 * booted, berthd knows its init (INIT= in /run/berth/spawn/NAME) and sends the signal that
 * init understands instead: busybox init powers off on SIGUSR2 and reboots on SIGTERM.
 * sysvinit has no signal for a poweroff: it is asked for runlevel 0 through /run/initctl.
 * Returns the signal to send to the leader for 'sig', 0 when the request was made without
 * one, or a negative errno. Any other signal, and every machine without a known init,
 * keeps 'sig'. */
int machine_leader_signal(Machine *machine, int sig);
