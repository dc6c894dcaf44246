/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "macro.h"

/* Which init a booted tree runs, and the signals that init understands. systemd-machined
 * (and machinectl) send systemd's signals to every machine; other inits ignore them or do
 * something else: busybox init takes SIGRTMIN+4 for nothing and SIGINT for its ctrlaltdel
 * action. berth-spawn detects the kind when it starts a booted machine and records it in
 * its state file (INIT=), and berthd translates poweroff and reboot requests with it. */

typedef enum InitKind {
        INIT_NONE,          /* no init: the machine runs a command */
        INIT_SYSTEMD,
        INIT_BUSYBOX,
        INIT_SYSVINIT,
        INIT_UNKNOWN,       /* some other init: treated like systemd, as machined does */
        _INIT_KIND_MAX,
        _INIT_KIND_INVALID = -EINVAL,
} InitKind;

const char *init_kind_to_string(InitKind k) _pure_;
InitKind init_kind_from_string(const char *s) _pure_;

/* The init berth-spawn --boot would start in the tree at rootfd (the same search order:
 * /usr/lib/systemd/systemd, /lib/systemd/systemd, /sbin/init), classified by the
 * contents of the binary that is found, resolved inside the tree. Never runs it. */
InitKind init_kind_detect(int rootfd);

typedef enum InitAction {
        INIT_ACTION_POWEROFF,
        INIT_ACTION_REBOOT,
        INIT_ACTION_HALT,
        _INIT_ACTION_MAX,
} InitAction;

/* The signal that asks init of 'kind' to do 'action', or -EOPNOTSUPP (sysvinit has no
 * signal for a power-off: it is asked through /run/initctl instead). */
int init_kind_signal(InitKind kind, InitAction action);

/* Which action the signals that machinectl sends stand for: SIGRTMIN+4 (poweroff) and
 * SIGINT (reboot); -EINVAL for any other signal. */
int init_action_from_systemd_signal(int sig);
