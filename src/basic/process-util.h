/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

/* fork-like clone3(): returns 0 in the child, the child's PID in the parent (with a pidfd
 * in *ret_pidfd when CLONE_PIDFD is in flags), or a negative errno. With cgroup_fd >= 0
 * the child starts in that cgroup (CLONE_INTO_CGROUP), so a new cgroup namespace is
 * rooted there from its first instruction. */
pid_t clone_with_flags(uint64_t flags, int cgroup_fd, int *ret_pidfd);

int pidfd_signal(int pidfd, int sig);
/* Reap the child behind pidfd, blocking; returns the siginfo code/status. */
int pidfd_wait(int pidfd, siginfo_t *ret);

/* Exit status convention for a child's end: the exit code, or 128+N for death by signal N. */
int exit_status_from_siginfo(const siginfo_t *si);

int close_all_fds_except(const int *keep, size_t n_keep);

/* Remember main()'s argv so that a forked helper can show a name of its own in ps
 * (and not berth-spawn's full command line, with host paths, inside the machine). */
void process_save_argv(int argc, char **argv);
void process_rename(const char *name);
