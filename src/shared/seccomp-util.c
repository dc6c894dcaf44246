/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <linux/capability.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd-util.h"
#include "seccomp-util.h"
#include "string-util.h"

#define SYSCALLS(...) ((const char *const[]) { __VA_ARGS__, NULL })

/* The groups of systemd 252 (systemd-analyze syscall-filter), so that a --system-call-filter=
 * line written for systemd-nspawn means the same here. Names unknown to this libseccomp or
 * to an architecture are skipped when the filter is built. */
static const SyscallGroup groups[] = {
        { "@aio", "Asynchronous I/O",
          SYSCALLS("io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
                   "io_setup", "io_submit", "io_uring_enter", "io_uring_register", "io_uring_setup") },
        { "@basic-io", "Reading and writing file descriptors",
          SYSCALLS("_llseek", "close", "close_range", "dup", "dup2", "dup3", "lseek", "pread64", "preadv",
                   "preadv2", "pwrite64", "pwritev", "pwritev2", "read", "readv", "write", "writev") },
        { "@chown", "Changing file ownership",
          SYSCALLS("chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32") },
        { "@clock", "Change the system time",
          SYSCALLS("adjtimex", "clock_adjtime", "clock_adjtime64", "clock_settime", "clock_settime64",
                   "settimeofday", "stime") },
        { "@cpu-emulation", "CPU emulation",
          SYSCALLS("modify_ldt", "subpage_prot", "switch_endian", "vm86", "vm86old") },
        { "@debug", "Debugging and tracing",
          SYSCALLS("lookup_dcookie", "perf_event_open", "pidfd_getfd", "ptrace", "rtas",
                   "s390_runtime_instr", "sys_debug_setcontext") },
        { "@default", "What every program needs",
          SYSCALLS("arch_prctl", "brk", "cacheflush", "clock_getres", "clock_getres_time64", "clock_gettime",
                   "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "execve", "exit",
                   "exit_group", "futex", "futex_time64", "futex_waitv", "get_robust_list", "get_thread_area",
                   "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
                   "getgroups32", "getpgid", "getpgrp", "getpid", "getppid", "getrandom", "getresgid",
                   "getresgid32", "getresuid", "getresuid32", "getrlimit", "getsid", "gettid", "gettimeofday",
                   "getuid", "getuid32", "membarrier", "mmap", "mmap2", "mprotect", "munmap", "nanosleep",
                   "pause", "prlimit64", "restart_syscall", "rseq", "rt_sigreturn", "sched_getaffinity",
                   "sched_yield", "set_robust_list", "set_thread_area", "set_tid_address", "set_tls",
                   "sigreturn", "time", "ugetrlimit") },
        { "@file-system", "File system operations",
          SYSCALLS("access", "chdir", "chmod", "close", "creat", "faccessat", "faccessat2", "fallocate",
                   "fchdir", "fchmod", "fchmodat", "fchmodat2", "fcntl", "fcntl64", "fgetxattr", "flistxattr",
                   "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64",
                   "ftruncate", "ftruncate64", "futimesat", "getcwd", "getdents", "getdents64", "getxattr",
                   "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "lgetxattr",
                   "link", "linkat", "listxattr", "llistxattr", "lremovexattr", "lsetxattr", "lstat",
                   "lstat64", "mkdir", "mkdirat", "mknod", "mknodat", "newfstatat", "oldfstat", "oldlstat",
                   "oldstat", "open", "openat", "openat2", "readlink", "readlinkat", "removexattr", "rename",
                   "renameat", "renameat2", "rmdir", "setxattr", "stat", "stat64", "statfs", "statfs64",
                   "statx", "symlink", "symlinkat", "truncate", "truncate64", "unlink", "unlinkat", "utime",
                   "utimensat", "utimensat_time64", "utimes") },
        { "@io-event", "Waiting for events on file descriptors",
          SYSCALLS("_newselect", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
                   "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "poll", "ppoll",
                   "ppoll_time64", "pselect6", "pselect6_time64", "select") },
        { "@ipc", "Inter-process communication",
          SYSCALLS("ipc", "memfd_create", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
                   "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "msgctl",
                   "msgget", "msgrcv", "msgsnd", "pipe", "pipe2", "process_madvise", "process_vm_readv",
                   "process_vm_writev", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64",
                   "shmat", "shmctl", "shmdt", "shmget") },
        { "@keyring", "Kernel keyring",
          SYSCALLS("add_key", "keyctl", "request_key") },
        { "@memlock", "Locking memory",
          SYSCALLS("mlock", "mlock2", "mlockall", "munlock", "munlockall") },
        { "@module", "Kernel modules",
          SYSCALLS("delete_module", "finit_module", "init_module") },
        { "@mount", "Mounting",
          SYSCALLS("chroot", "fsconfig", "fsmount", "fsopen", "fspick", "mount", "mount_setattr",
                   "move_mount", "open_tree", "pivot_root", "umount", "umount2") },
        { "@network-io", "Sockets",
          SYSCALLS("accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt",
                   "listen", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "send",
                   "sendmmsg", "sendmsg", "sendto", "setsockopt", "shutdown", "socket", "socketcall",
                   "socketpair") },
        { "@obsolete", "Unusual, obsolete or unimplemented calls",
          SYSCALLS("_sysctl", "afs_syscall", "bdflush", "break", "create_module", "ftime",
                   "get_kernel_syms", "getpmsg", "gtty", "idle", "lock", "mpx", "nfsservctl",
                   "prof", "profil", "putpmsg", "query_module", "security", "sgetmask",
                   "ssetmask", "stty", "sysfs", "tuxcall", "ulimit", "uselib", "ustat", "vserver") },
        { "@process", "Processes, threads and namespaces",
          SYSCALLS("capget", "clone", "clone3", "execveat", "fork", "getrusage", "kill", "pidfd_open",
                   "pidfd_send_signal", "prctl", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "setns",
                   "swapcontext", "tgkill", "times", "tkill", "unshare", "vfork", "wait4", "waitid",
                   "waitpid") },
        { "@raw-io", "Raw I/O port access",
          SYSCALLS("ioperm", "iopl", "pciconfig_iobase", "pciconfig_read", "pciconfig_write",
                   "s390_pci_mmio_read", "s390_pci_mmio_write") },
        { "@reboot", "Reboot and kexec",
          SYSCALLS("kexec_file_load", "kexec_load", "reboot") },
        { "@resources", "Scheduling and resource limits",
          SYSCALLS("ioprio_set", "mbind", "migrate_pages", "move_pages", "nice", "sched_setaffinity",
                   "sched_setattr", "sched_setparam", "sched_setscheduler", "set_mempolicy",
                   "set_mempolicy_home_node", "setpriority", "setrlimit") },
        { "@setuid", "Changing user and group credentials",
          SYSCALLS("setgid", "setgid32", "setgroups", "setgroups32", "setregid", "setregid32", "setresgid",
                   "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setuid",
                   "setuid32") },
        { "@signal", "Signal handling",
          SYSCALLS("rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigsuspend", "rt_sigtimedwait",
                   "rt_sigtimedwait_time64", "sigaction", "sigaltstack", "signal", "signalfd", "signalfd4",
                   "sigpending", "sigprocmask", "sigsuspend") },
        { "@swap", "Swap devices",
          SYSCALLS("swapoff", "swapon") },
        { "@sync", "Syncing files to disk",
          SYSCALLS("fdatasync", "fsync", "msync", "sync", "sync_file_range", "sync_file_range2", "syncfs") },
        { "@timer", "Timers",
          SYSCALLS("alarm", "getitimer", "setitimer", "timer_create", "timer_delete", "timer_getoverrun",
                   "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create",
                   "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times") },
};

/* What a machine may do by default: systemd-nspawn 252's allow list. An entry with a
 * capability is allowed only when that capability is in the machine's bounding set
 * (--capability= grants it). Everything else fails with EPERM: notably @keyring and bpf
 * (not namespaced), @swap, @obsolete, @cpu-emulation, fanotify_init/fanotify_mark, kexec,
 * open_by_handle_at, perf_event_open, quotactl and lookup_dcookie. */
#define ALWAYS (-1)
static const struct {
        int capability;
        const char *name;
} default_allow[] = {
        { ALWAYS, "@aio" }, { ALWAYS, "@basic-io" }, { ALWAYS, "@chown" }, { ALWAYS, "@default" },
        { ALWAYS, "@file-system" }, { ALWAYS, "@io-event" }, { ALWAYS, "@ipc" }, { ALWAYS, "@mount" },
        { ALWAYS, "@network-io" }, { ALWAYS, "@process" }, { ALWAYS, "@resources" }, { ALWAYS, "@setuid" },
        { ALWAYS, "@signal" }, { ALWAYS, "@sync" }, { ALWAYS, "@timer" },

        { CAP_SYS_TIME, "@clock" }, { CAP_SYS_MODULE, "@module" }, { CAP_SYS_RAWIO, "@raw-io" },
        { CAP_IPC_LOCK, "@memlock" },

        /* calls outside those groups that ordinary programs and a booted init use */
        { ALWAYS, "arm_fadvise64_64" }, { ALWAYS, "brk" }, { ALWAYS, "capget" }, { ALWAYS, "capset" },
        { ALWAYS, "copy_file_range" }, { ALWAYS, "fadvise64" }, { ALWAYS, "fadvise64_64" },
        { ALWAYS, "flock" }, { ALWAYS, "get_mempolicy" }, { ALWAYS, "getcpu" }, { ALWAYS, "getpriority" },
        { ALWAYS, "getrandom" }, { ALWAYS, "ioctl" }, { ALWAYS, "ioprio_get" }, { ALWAYS, "kcmp" },
        { ALWAYS, "madvise" }, { ALWAYS, "mincore" }, { ALWAYS, "mprotect" }, { ALWAYS, "mremap" },
        { ALWAYS, "name_to_handle_at" }, { ALWAYS, "oldolduname" }, { ALWAYS, "olduname" },
        { ALWAYS, "personality" }, { ALWAYS, "readahead" }, { ALWAYS, "readdir" },
        { ALWAYS, "remap_file_pages" }, { ALWAYS, "sched_get_priority_max" },
        { ALWAYS, "sched_get_priority_min" }, { ALWAYS, "sched_getaffinity" }, { ALWAYS, "sched_getattr" },
        { ALWAYS, "sched_getparam" }, { ALWAYS, "sched_getscheduler" }, { ALWAYS, "sched_rr_get_interval" },
        { ALWAYS, "sched_rr_get_interval_time64" }, { ALWAYS, "sched_yield" }, { ALWAYS, "seccomp" },
        { ALWAYS, "sendfile" }, { ALWAYS, "sendfile64" }, { ALWAYS, "setdomainname" },
        { ALWAYS, "setfsgid" }, { ALWAYS, "setfsgid32" }, { ALWAYS, "setfsuid" }, { ALWAYS, "setfsuid32" },
        { ALWAYS, "sethostname" }, { ALWAYS, "setpgid" }, { ALWAYS, "setsid" }, { ALWAYS, "splice" },
        { ALWAYS, "sysinfo" }, { ALWAYS, "tee" }, { ALWAYS, "umask" }, { ALWAYS, "uname" },
        { ALWAYS, "userfaultfd" }, { ALWAYS, "vmsplice" },

        { CAP_SYS_PACCT, "acct" }, { CAP_SYS_PTRACE, "process_vm_readv" },
        { CAP_SYS_PTRACE, "process_vm_writev" }, { CAP_SYS_PTRACE, "ptrace" }, { CAP_SYS_BOOT, "reboot" },
        { CAP_SYSLOG, "syslog" }, { CAP_SYS_TTY_CONFIG, "vhangup" },
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

int seccomp_default_allow(uint64_t capabilities, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(default_allow); i++) {
                if (default_allow[i].capability != ALWAYS &&
                    !(capabilities & (UINT64_C(1) << default_allow[i].capability)))
                        continue;
                r = expand_name(default_allow[i].name, &l, NULL);
                if (r == -EINVAL)
                        continue;   /* not known to this libseccomp: cannot be allowed */
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static int add_rule(scmp_filter_ctx ctx, uint32_t action, const char *name) {
        int nr = seccomp_syscall_resolve_name(name);
        int r;

        if (nr == __NR_SCMP_ERROR)
                return 0;
        r = seccomp_rule_add(ctx, action, nr, 0);
        /* A call that does not exist on one of the architectures is fine to skip. */
        if (r < 0 && r != -EFAULT && r != -EDOM && r != -EEXIST)
                return r;
        return 0;
}

#if defined(__x86_64__)
static bool x32_supported(void) {
        /* getpid() in x32 numbering: ENOSYS where CONFIG_X86_X32_ABI is off */
        return syscall(0x40000000L | SYS_getpid) >= 0;
}
#endif

/* One context covering every ABI the host can run: a payload must not escape the filter
 * by switching to i386 (int 0x80) or x32 (__X32_SYSCALL_BIT) system call numbers. */
static int filter_new(uint32_t default_action, scmp_filter_ctx *ret) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        ctx = seccomp_init(default_action);
        if (!ctx)
                return -ENOMEM;

        /* libseccomp would otherwise set no_new_privs as a side effect of loading the
         * filter; whether the payload gets it is --no-new-privileges='s business alone. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r < 0)
                return r;
        /* a binary search over the allowed numbers instead of a linear chain of ~400 */
        (void) seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);

        /* A call of an ABI the filter does not list fails as a whole: that is what the
         * filter must do for an ABI the kernel cannot run anyway. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(EPERM));
        if (r < 0)
                return r;

#if defined(__x86_64__)
        r = seccomp_arch_add(ctx, SCMP_ARCH_X86);
        if (r < 0 && r != -EEXIST)
                return r;
        /* Each ABI makes building the filter slower (libseccomp generates its BPF per
         * ABI); most kernels are built without x32, which this call tells apart. */
        if (x32_supported()) {
                r = seccomp_arch_add(ctx, SCMP_ARCH_X32);
                if (r < 0 && r != -EEXIST)
                        return r;
        }
#elif defined(__aarch64__)
        r = seccomp_arch_add(ctx, SCMP_ARCH_ARM);
        if (r < 0 && r != -EEXIST)
                return r;
#endif
        *ret = TAKE_PTR(ctx);
        return 0;
}

/* The names the allow list gets rules for, in the order they are added: the defaults for
 * these capabilities plus 'allow', minus 'deny'. With the ABIs and the code that compiles
 * them, this is everything the program depends on (the cache's key). */
int seccomp_filter_rules(uint64_t capabilities, char * const *allow, char * const *deny, char ***ret) {
        _cleanup_strv_free_ char **defaults = NULL, **l = NULL;
        int r;

        r = seccomp_default_allow(capabilities, &defaults);
        if (r < 0)
                return r;
        STRV_FOREACH(s, defaults)
                if (!strv_contains(deny, *s)) {
                        r = strv_extend(&l, *s);
                        if (r < 0)
                                return r;
                }
        STRV_FOREACH(s, allow)
                if (!strv_contains(deny, *s)) {
                        r = strv_extend(&l, *s);
                        if (r < 0)
                                return r;
                }
        *ret = TAKE_PTR(l);
        return 0;
}

const char *seccomp_filter_abis(void) {
#if defined(__x86_64__)
        return x32_supported() ? "x86_64 x86 x32" : "x86_64 x86";
#elif defined(__aarch64__)
        return "aarch64 arm";
#else
        return "native";
#endif
}

static int allow_list_new(char * const *rules, scmp_filter_ctx *ret) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        r = filter_new(SCMP_ACT_ERRNO(EPERM), &ctx);
        if (r < 0)
                return r;
        STRV_FOREACH(s, rules) {
                r = add_rule(ctx, SCMP_ACT_ALLOW, *s);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(ctx);
        return 0;
}

/* ioctl() is allowed as a whole above; two of its requests are refused by a second,
 * small filter, since the kernel applies every filter loaded and the strictest wins. */
static int ioctl_deny_new(scmp_filter_ctx *ret) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        r = filter_new(SCMP_ACT_ALLOW, &ctx);
        if (r < 0)
                return r;
        /* The ioctl request is an int: compare the low 32 bits only. */
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                             SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, (scmp_datum_t) TIOCSTI));
        if (r < 0)
                return r;
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1,
                             SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, (scmp_datum_t) TIOCLINUX));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(ctx);
        return 0;
}

/* Both contexts in load order: the allow list last, since it may deny seccomp() itself
 * (--system-call-filter=~seccomp). */
static int filter_contexts_new(char * const *rules, scmp_filter_ctx ret[static SECCOMP_FILTER_PROGRAMS]) {
        int r;

        r = ioctl_deny_new(&ret[0]);
        if (r < 0)
                return r;
        r = allow_list_new(rules, &ret[1]);
        if (r < 0) {
                seccomp_release(ret[0]);
                ret[0] = NULL;
        }
        return r;
}

static void filter_contexts_release(scmp_filter_ctx ctx[static SECCOMP_FILTER_PROGRAMS]) {
        for (size_t k = 0; k < SECCOMP_FILTER_PROGRAMS; k++)
                seccomp_releasep(&ctx[k]);
}

int seccomp_load_filter_libseccomp(char * const *rules) {
        scmp_filter_ctx ctx[SECCOMP_FILTER_PROGRAMS] = {};
        int r;

        r = filter_contexts_new(rules, ctx);
        for (size_t k = 0; r >= 0 && k < SECCOMP_FILTER_PROGRAMS; k++)
                r = seccomp_load(ctx[k]);
        filter_contexts_release(ctx);
        return r;
}

void seccomp_filter_done(SeccompFilter *f) {
        for (size_t k = 0; k < SECCOMP_FILTER_PROGRAMS; k++) {
                free(f->insns[k]);
                f->insns[k] = NULL;
                f->n_insns[k] = 0;
        }
        f->flags = 0;
}

bool seccomp_filter_is_set(const SeccompFilter *f) {
        return f->n_insns[SECCOMP_FILTER_PROGRAMS - 1] > 0;
}

int seccomp_filter_copy(const SeccompFilter *f, SeccompFilter *ret) {
        SeccompFilter c = { .flags = f->flags };

        for (size_t k = 0; k < SECCOMP_FILTER_PROGRAMS; k++) {
                c.insns[k] = malloc(MAX(f->n_insns[k], (size_t) 1) * sizeof(struct sock_filter));
                if (!c.insns[k]) {
                        seccomp_filter_done(&c);
                        return -ENOMEM;
                }
                if (f->n_insns[k] > 0)
                        memcpy(c.insns[k], f->insns[k], f->n_insns[k] * sizeof(struct sock_filter));
                c.n_insns[k] = f->n_insns[k];
        }
        *ret = c;
        return 0;
}

/* libseccomp 2.5 exports only to a file descriptor. */
int seccomp_program_export(scmp_filter_ctx ctx, struct sock_filter **ret, size_t *ret_n) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        fd = memfd_create("berth-seccomp", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return r;
        if (lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        r = read_full_fd(fd, SECCOMP_PROGRAM_MAX * sizeof(struct sock_filter), &buf, &size);
        if (r < 0)
                return r;
        if (size == 0 || size % sizeof(struct sock_filter) != 0)
                return -EBADMSG;
        *ret = (struct sock_filter *) TAKE_PTR(buf);
        *ret_n = size / sizeof(struct sock_filter);
        return 0;
}

int seccomp_filter_build(char * const *rules, SeccompFilter *ret) {
        scmp_filter_ctx ctx[SECCOMP_FILTER_PROGRAMS] = {};
        SeccompFilter f = SECCOMP_FILTER_NULL;
        int r;

        r = filter_contexts_new(rules, ctx);
        for (size_t k = 0; r >= 0 && k < SECCOMP_FILTER_PROGRAMS; k++)
                r = seccomp_program_export(ctx[k], &f.insns[k], &f.n_insns[k]);
        filter_contexts_release(ctx);
        if (r < 0) {
                seccomp_filter_done(&f);
                return r;
        }
        *ret = f;
        return 0;
}

int seccomp_sync_suppress_build(struct sock_filter **ret, size_t *ret_n) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        const SyscallGroup *g = syscall_group_find("@sync");
        int r;

        if (!g)
                return -EINVAL;
        r = filter_new(SCMP_ACT_ALLOW, &ctx);
        if (r < 0)
                return r;
        for (const char *const *s = g->syscalls; *s; s++) {
                r = add_rule(ctx, SCMP_ACT_ERRNO(0), *s);
                if (r < 0)
                        return r;
        }
        return seccomp_program_export(ctx, ret, ret_n);
}

int seccomp_ioctl_deny_build(struct sock_filter **ret, size_t *ret_n) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        r = ioctl_deny_new(&ctx);
        if (r < 0)
                return r;
        return seccomp_program_export(ctx, ret, ret_n);
}

int seccomp_program_load(const struct sock_filter *insns, size_t n, unsigned flags) {
        struct sock_fprog prog = { .len = (unsigned short) n, .filter = (struct sock_filter *) insns };

        if (n == 0 || n > SECCOMP_PROGRAM_MAX)
                return -EINVAL;
        return RET_NERRNO((int) syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog));
}

/* What seccomp_load() does for the contexts above (libseccomp 2.5: no_new_privs off, no
 * TSYNC, no log, no SPEC_ALLOW, no listener): SECCOMP_SET_MODE_FILTER without flags; an
 * OCI profile's flags go with its own program, the last. */
int seccomp_filter_load(const SeccompFilter *f) {
        for (size_t k = 0; k < SECCOMP_FILTER_PROGRAMS; k++) {
                int r = seccomp_program_load(f->insns[k], f->n_insns[k],
                                             k == SECCOMP_FILTER_PROGRAMS - 1 ? f->flags : 0);

                if (r < 0)
                        return r;
        }
        return 0;
}
