/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "spawn-config.h"

/* /etc/resolv.conf and /etc/localtime of the machine, per --resolv-conf= and --timezone=.
 * Host files are read (or cloned, for bind modes) before pivot_root; they are written
 * into the machine afterwards, only through fds resolved inside it, and only when the
 * content actually differs, so an up-to-date tree is not touched. */

typedef struct HostFiles {
        ResolvConfMode resolv_mode;       /* resolved: never AUTO */
        char *resolv_data;                /* copy/replace modes */
        int resolv_bind_fd;               /* bind modes: detached read-only mount */
        TimezoneMode tz_mode;             /* resolved: never AUTO */
        char *tz_zone;                    /* symlink mode: "Europe/Berlin" */
        char *tz_data;                    /* copy mode */
        size_t tz_size;
        int tz_bind_fd;                   /* bind mode */
        char *os_release;                 /* the host's, for /run/host/os-release */
        bool read_only;                   /* the tree's root cannot be written (--read-only, or a read-only image) */
} HostFiles;

#define HOST_FILES_NULL { .resolv_bind_fd = -EBADF, .tz_bind_fd = -EBADF }

void host_files_done(HostFiles *h);
/* root: the tree the machine runs on, before pivot_root */
int host_files_prepare(const SpawnConfig *c, const char *root, HostFiles *h);
int host_files_apply(const SpawnConfig *c, HostFiles *h, int rootfd);
/* /run/host/{os-release,container-manager}: what systemd in a container looks for. */
int host_files_apply_run_host(const SpawnConfig *c, HostFiles *h, int rootfd);
