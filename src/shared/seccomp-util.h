/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <linux/filter.h>
#include <seccomp.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

typedef struct SyscallGroup {
        const char *name;        /* "@clock" */
        const char *help;
        const char *const *syscalls;
} SyscallGroup;

const SyscallGroup *syscall_group_find(const char *name);
const SyscallGroup *syscall_group_table(size_t *ret_n);

/* Parse one --system-call-filter= value: space-separated names or @groups, optionally
 * prefixed with '~' (deny list). Appends the expanded names to *allow or *deny. On an
 * unknown name returns -EINVAL and the name in *ret_bad. */
int syscall_filter_parse(const char *value, char ***allow, char ***deny, char **ret_bad);

/* The filter: an allow list like systemd-nspawn's (the defaults, with the groups and calls
 * that need a capability only if the bounding set has it), plus --system-call-filter='s
 * additions, minus its removals, for every ABI the host runs; any other call fails with
 * EPERM. ioctl(TIOCSTI) and ioctl(TIOCLINUX) are always denied so that a payload can never
 * push input into a terminal it shares with the caller. It is compiled to BPF programs once
 * (seccomp_filter_build(), or from the cache in seccomp-cache.h) and loaded by
 * seccomp_filter_load() in the machine. */
#define SECCOMP_FILTER_PROGRAMS 2      /* in load order: the ioctl denials, the allow list */
#define SECCOMP_PROGRAM_MAX 4096u      /* BPF_MAXINSNS */

typedef struct SeccompFilter {
        struct sock_filter *insns[SECCOMP_FILTER_PROGRAMS];
        size_t n_insns[SECCOMP_FILTER_PROGRAMS];
        unsigned flags;          /* SECCOMP_FILTER_FLAG_* the last program is loaded with */
} SeccompFilter;

#define SECCOMP_FILTER_NULL ((SeccompFilter) {})

/* The system call names the allow list gets rules for, in order. */
int seccomp_filter_rules(uint64_t capabilities, char * const *allow, char * const *deny, char ***ret);
/* The ABIs the filter covers on this host, e.g. "x86_64 x86". */
const char *seccomp_filter_abis(void);
/* Compile 'rules' with libseccomp into the programs. */
int seccomp_filter_build(char * const *rules, SeccompFilter *ret);
/* Load the programs exactly as libseccomp's seccomp_load() would; needs no_new_privs or
 * CAP_SYS_ADMIN. */
int seccomp_filter_load(const SeccompFilter *f);
void seccomp_filter_done(SeccompFilter *f);
bool seccomp_filter_is_set(const SeccompFilter *f);
int seccomp_filter_copy(const SeccompFilter *f, SeccompFilter *ret);

/* --suppress-sync (systemd-nspawn's): a program of its own in which the calls of @sync
 * succeed without doing anything; every other call passes on to the other programs. */
int seccomp_sync_suppress_build(struct sock_filter **ret, size_t *ret_n);
/* Load one program (as seccomp_filter_load() does each of its programs). */
int seccomp_program_load(const struct sock_filter *insns, size_t n, unsigned flags);
/* The first of the filter's programs alone: the denial of ioctl(TIOCSTI/TIOCLINUX). */
int seccomp_ioctl_deny_build(struct sock_filter **ret, size_t *ret_n);
/* A libseccomp context as a BPF program. */
int seccomp_program_export(scmp_filter_ctx ctx, struct sock_filter **ret, size_t *ret_n);

static inline void seccomp_releasep(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}
/* Build and load with libseccomp's own seccomp_load() (tests compare the two). */
int seccomp_load_filter_libseccomp(char * const *rules);

/* The expanded default allow list for a capability bounding set (for tests). */
int seccomp_default_allow(uint64_t capabilities, char ***ret);
