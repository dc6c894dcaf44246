/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "macro.h"

/* Looking at a machine from the outside through its leader process: identity (pidfd +
 * start time), os-release through /proc/PID/root resolved inside that root, addresses
 * from inside its network namespace, and its UID shift. Everything read here comes from
 * a possibly hostile machine and is parsed defensively. Non-logging. */

/* Open a pidfd for pid and read its start time and real uid, race-free: the values are
 * only returned if the pidfd's process was still alive after they were read, i.e. they
 * belong to that process and not to a later one that reused the PID. */
int leader_open(pid_t pid, int *ret_pidfd, uint64_t *ret_starttime, uid_t *ret_uid, pid_t *ret_ppid);
bool pidfd_is_alive(int pidfd);

/* pid 0 and pidfd < 0: the host's own os-release. */
int machine_read_os_release(pid_t leader, int leader_pidfd, char ***ret);

typedef struct MachineAddress {
        int family;
        uint8_t bytes[16];   /* 4 used for AF_INET */
} MachineAddress;
/* leader_pidfd < 0: the host's addresses. Host-scope ones (loopback) are skipped. */
int machine_get_addresses(int leader_pidfd, MachineAddress **ret, size_t *ret_n);

/* Parse the first line of a uid_map: the host uid that the machine's root maps to. */
int uid_map_parse_shift(const char *text, uint32_t *ret);
int machine_get_uid_shift(pid_t leader, int leader_pidfd, uint32_t *ret);
