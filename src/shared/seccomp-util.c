/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <seccomp.h>
#include <sys/ioctl.h>

#include "seccomp-util.h"
#include "string-util.h"

#define SYSCALLS(...) ((const char *const[]) { __VA_ARGS__, NULL })

static const SyscallGroup groups[] = {
        { "@clock", "Change the system time",
          SYSCALLS("adjtimex", "clock_adjtime", "clock_adjtime64", "clock_settime", "clock_settime64",
                   "settimeofday", "stime") },
        { "@cpu-emulation", "CPU emulation",
          SYSCALLS("modify_ldt", "subpage_prot", "switch_endian", "vm86", "vm86old") },
        { "@debug", "Debugging and tracing",
          SYSCALLS("lookup_dcookie", "perf_event_open", "pidfd_getfd", "ptrace", "rtas",
                   "s390_runtime_instr", "sys_debug_setcontext") },
        { "@keyring", "Kernel keyring",
          SYSCALLS("add_key", "keyctl", "request_key") },
        { "@module", "Kernel modules",
          SYSCALLS("delete_module", "finit_module", "init_module") },
        { "@mount", "Mounting",
          SYSCALLS("chroot", "fsconfig", "fsmount", "fsopen", "fspick", "mount", "mount_setattr",
                   "move_mount", "open_tree", "pivot_root", "umount", "umount2") },
        { "@obsolete", "Unusual, obsolete or unimplemented calls",
          SYSCALLS("_sysctl", "afs_syscall", "bdflush", "break", "create_module", "ftime",
                   "get_kernel_syms", "getpmsg", "gtty", "idle", "lock", "mpx", "nfsservctl",
                   "prof", "profil", "putpmsg", "query_module", "security", "sgetmask",
                   "ssetmask", "stty", "sysfs", "tuxcall", "ulimit", "uselib", "ustat", "vserver") },
        { "@raw-io", "Raw I/O port access",
          SYSCALLS("ioperm", "iopl", "pciconfig_iobase", "pciconfig_read", "pciconfig_write",
                   "s390_pci_mmio_read", "s390_pci_mmio_write") },
        { "@reboot", "Reboot and kexec",
          SYSCALLS("kexec_file_load", "kexec_load", "reboot") },
        { "@swap", "Swap devices",
          SYSCALLS("swapoff", "swapon") },
};

/* What a machine may not do by default, like systemd-nspawn's filter: these need
 * capabilities the container does not get, or act on the whole host. */
static const char *const default_deny[] = {
        "@clock", "@keyring", "@module", "@obsolete", "@raw-io", "@swap",
        "kexec_file_load", "kexec_load", "open_by_handle_at", "bpf", "perf_event_open",
        "acct", "syslog", "lookup_dcookie", "vm86", "vm86old", "quotactl_fd",
        NULL,
};

const SyscallGroup *syscall_group_table(size_t *ret_n) {
        *ret_n = ELEMENTSOF(groups);
        return groups;
}

const SyscallGroup *syscall_group_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(groups); i++)
                if (streq(groups[i].name, name))
                        return &groups[i];
        return NULL;
}

static int expand_name(const char *name, char ***l, char **ret_bad) {
        const SyscallGroup *g;
        int r;

        if (name[0] == '@') {
                g = syscall_group_find(name);
                if (!g)
                        goto bad;
                for (const char *const *s = g->syscalls; *s; s++) {
                        r = strv_extend(l, *s);
                        if (r < 0)
                                return r;
                }
                return 0;
        }

        if (seccomp_syscall_resolve_name(name) == __NR_SCMP_ERROR)
                goto bad;
        return strv_extend(l, name);

bad:
        if (ret_bad)
                *ret_bad = strdup(name);
        return -EINVAL;
}

int syscall_filter_parse(const char *value, char ***allow, char ***deny, char **ret_bad) {
        _cleanup_strv_free_ char **words = NULL;
        bool negate = false;
        int r;

        if (value[0] == '~') {
                negate = true;
                value++;
        }

        r = strv_split_full(value, " \t", false, &words);
        if (r < 0)
                return r;

        STRV_FOREACH(w, words) {
                if (isempty(*w))
                        continue;
                r = expand_name(*w, negate ? deny : allow, ret_bad);
                if (r < 0)
                        return r;
        }
        return 0;
}

int seccomp_default_deny(char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        for (const char *const *n = default_deny; *n; n++) {
                r = expand_name(*n, &l, NULL);
                if (r == -EINVAL)
                        continue;   /* not known to this libseccomp: nothing to deny */
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static void seccomp_releasep(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}

static int add_deny(scmp_filter_ctx ctx, const char *name) {
        int nr = seccomp_syscall_resolve_name(name);
        int r;

        if (nr == __NR_SCMP_ERROR)
                return 0;
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
        /* A call that does not exist on one of the architectures is fine to skip. */
        if (r < 0 && r != -EFAULT && r != -EDOM && r != -EEXIST)
                return r;
        return 0;
}

int seccomp_load_filter(char * const *allow, char * const *deny) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        _cleanup_strv_free_ char **defaults = NULL;
        int r;

        ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return -ENOMEM;

        /* libseccomp would otherwise set no_new_privs as a side effect of loading the
         * filter; whether the payload gets it is --no-new-privileges='s business alone. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r < 0)
                return r;

        /* Cover the compat ABIs too, or a payload could just switch to them. */
#if defined(__x86_64__)
        (void) seccomp_arch_add(ctx, SCMP_ARCH_X86);
        (void) seccomp_arch_add(ctx, SCMP_ARCH_X32);
#elif defined(__aarch64__)
        (void) seccomp_arch_add(ctx, SCMP_ARCH_ARM);
#endif

        r = seccomp_default_deny(&defaults);
        if (r < 0)
                return r;

        STRV_FOREACH(s, defaults)
                if (!strv_contains(allow, *s) && !strv_contains(deny, *s)) {
                        r = add_deny(ctx, *s);
                        if (r < 0)
                                return r;
                }
        STRV_FOREACH(s, deny) {
                r = add_deny(ctx, *s);
                if (r < 0)
                        return r;
        }

        /* The ioctl request is an int: compare the low 32 bits only. */
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                             SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, (scmp_datum_t) TIOCSTI));
        if (r < 0)
                return r;
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                             SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, (scmp_datum_t) TIOCLINUX));
        if (r < 0)
                return r;

        return seccomp_load(ctx);
}
