/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <linux/bpf.h>

#include "cgroup-setup.h"

/* Device access control on cgroup2: the v1 devices controller's rules as an eBPF program
 * of type BPF_PROG_TYPE_CGROUP_DEVICE, attached to a machine's cgroup2 directory with
 * BPF_CGROUP_DEVICE (Linux 4.15+, CONFIG_CGROUP_BPF). The kernel runs it at every open
 * and mknod of a device node by a process in that cgroup or below, and refuses the
 * access with EPERM when it returns 0.
 *
 * Semantics (those of an OCI config's linux.resources.devices, as runc applies them):
 * for each access the process asks for (m, r, w; an O_RDWR open asks for two), the last
 * rule that names the device and that access decides; an access no rule decides gets
 * 'default_allow'. An access is granted only when every one it asks for is. */

/* The most instructions a program may have on every kernel (BPF_MAXINSNS). */
#define BPF_DEVICES_INSNS_MAX 4096U

/* The program for the ordered rules, as instructions (free() them); -E2BIG when too long. */
int bpf_devices_compile(const CgroupDeviceRule *rules, size_t n, bool default_allow,
                        struct bpf_insn **ret, size_t *ret_n);

/* Load the program and attach it with BPF_F_ALLOW_MULTI to the cgroup2 directory
 * cgroup_fd (opened O_RDONLY|O_DIRECTORY): programs attached before stay, and an access
 * passes only when all of them (and those of the parent cgroups) allow it. The
 * attachment lasts as long as the cgroup and goes with it. On failure, *ret_refused
 * tells whether the kernel refuses cgroup device programs to this process altogether (no
 * CONFIG_CGROUP_BPF, no privilege for bpf(), as in a user namespace) rather than this
 * program or this cgroup; the kernel's error is returned either way. */
int bpf_devices_attach(int cgroup_fd, const struct bpf_insn *insns, size_t n, bool *ret_refused);
