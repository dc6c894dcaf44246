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

/* Run f(userdata, fd) in a forked child (killed if we die, signals unblocked) and collect
 * what it writes to fd: at most 'max' bytes. The child has timeout_msec (-1: no limit)
 * to write something or exit, else it is killed (-ETIMEDOUT); after that we wait for it
 * to finish, so f should write all at once at its end. Returns f's negative errno (carried
 * in the exit code) or -EIO if the child died otherwise. For daemons that must look at
 * something from another namespace without entering it themselves; the caller must be
 * single-threaded (fork()). */
typedef int (*ForkCollectFunc)(void *userdata, int fd);

/* In a daemon's forked worker, first thing: signals unblocked (the daemon may block them
 * for its event loop, the worker must stay killable) and death with the parent. */
int worker_child_setup(pid_t parent);
int fork_collect(ForkCollectFunc f, void *userdata, size_t max, int timeout_msec, char **ret, size_t *ret_size);

/* Close every fd from 'from' up but those in 'keep' (any order; negative ones ignored). */
int close_all_fds_from_except(unsigned from, const int *keep, size_t n_keep);
int close_all_fds_except(const int *keep, size_t n_keep);

/* The CLONE_NEW* flags of the namespaces of 'pid' that are not ours (what setns() on its
 * pidfd should join); -ESRCH if it is gone. */
int namespaces_differing(pid_t pid, int *ret);

/* Remember main()'s argv so that a forked helper can show a name of its own in ps
 * (and not berth-spawn's full command line, with host paths, inside the machine). */
void process_save_argv(int argc, char **argv);
void process_rename(const char *name);
