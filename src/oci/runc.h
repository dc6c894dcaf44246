/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

#include "runc-state.h"

/* berth-runc: runc's command line over berth-spawn's launch pipeline. One function per
 * verb; each returns 0 or a negative errno after logging (a runc-style message that
 * callers such as containerd's shim match: "does not exist", "container not running"). */

typedef struct RuncGlobals {
        const char *root;        /* --root, default /run/berth-runc */
        bool systemd_cgroup;
        bool debug;
} RuncGlobals;

int verb_create(const RuncGlobals *g, int argc, char *argv[]);
int verb_run(const RuncGlobals *g, int argc, char *argv[]);
int verb_exec(const RuncGlobals *g, int argc, char *argv[]);

/* Open a unix stream socket's peer by path (--console-socket). */
int console_socket_connect(const char *path);
/* Write the PID file atomically: the decimal PID, no newline. */
int pid_file_write(const char *path, pid_t pid);
/* start: release the init waiting on exec.fifo. */
int container_start(Container *c);
/* The files of a container's state directory: exec.fifo, state.json, and the compiled
 * linux.seccomp profile "exec" loads. */
#define RUNC_SECCOMP_FILE "seccomp.bpf"
void container_files_remove(const char *dir);
/* delete: kill what is left (force), remove the cgroups and the state directory. */
int container_destroy(Container *c, bool force);
