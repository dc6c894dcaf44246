/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * berth-payload: a small static helper that the integration tests copy into
 * the busybox test tree as /usr/bin/berth-payload and run as the payload of
 * berth-spawn.  Each subcommand prints simple "key=value" style lines on
 * stdout, so the shell tests can parse them with grep/sed.
 *
 * Errno values are printed by symbolic name ("EPERM", "EROFS", ...), or as
 * "errno=N" for values not in the table below.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *errno_name(int e) {
        static char buf[32];

        switch (e) {
        case 0:          return "ok";
        case EPERM:      return "EPERM";
        case ENOENT:     return "ENOENT";
        case ESRCH:      return "ESRCH";
        case EINTR:      return "EINTR";
        case EIO:        return "EIO";
        case ENXIO:      return "ENXIO";
        case E2BIG:      return "E2BIG";
        case ENOEXEC:    return "ENOEXEC";
        case EBADF:      return "EBADF";
        case ECHILD:     return "ECHILD";
        case EAGAIN:     return "EAGAIN";
        case ENOMEM:     return "ENOMEM";
        case EACCES:     return "EACCES";
        case EFAULT:     return "EFAULT";
        case EBUSY:      return "EBUSY";
        case EEXIST:     return "EEXIST";
        case EXDEV:      return "EXDEV";
        case ENODEV:     return "ENODEV";
        case ENOTDIR:    return "ENOTDIR";
        case EISDIR:     return "EISDIR";
        case EINVAL:     return "EINVAL";
        case ENFILE:     return "ENFILE";
        case EMFILE:     return "EMFILE";
        case ENOTTY:     return "ENOTTY";
        case ETXTBSY:    return "ETXTBSY";
        case EFBIG:      return "EFBIG";
        case ENOSPC:     return "ENOSPC";
        case ESPIPE:     return "ESPIPE";
        case EROFS:      return "EROFS";
        case EMLINK:     return "EMLINK";
        case EPIPE:      return "EPIPE";
        case ERANGE:     return "ERANGE";
        case ENAMETOOLONG: return "ENAMETOOLONG";
        case ENOSYS:     return "ENOSYS";
        case ENOTEMPTY:  return "ENOTEMPTY";
        case ELOOP:      return "ELOOP";
        case ENOKEY:     return "ENOKEY";
        case EOPNOTSUPP: return "EOPNOTSUPP";
        case ENOPKG:     return "ENOPKG";
        default:
                snprintf(buf, sizeof buf, "errno=%d", e);
                return buf;
        }
}

static const struct {
        const char *name;
        int sig;
} signals[] = {
        { "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "ILL", SIGILL },
        { "TRAP", SIGTRAP }, { "ABRT", SIGABRT }, { "BUS", SIGBUS }, { "FPE", SIGFPE },
        { "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 },
        { "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM }, { "CHLD", SIGCHLD },
        { "CONT", SIGCONT }, { "STOP", SIGSTOP }, { "TSTP", SIGTSTP }, { "WINCH", SIGWINCH },
        { "SYS", SIGSYS },
};

static const char *signal_name(int sig) {
        static char buf[32];

        for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
                if (signals[i].sig == sig) {
                        snprintf(buf, sizeof buf, "SIG%s", signals[i].name);
                        return buf;
                }
        if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
                snprintf(buf, sizeof buf, "SIGRTMIN+%d", sig - SIGRTMIN);
                return buf;
        }
        snprintf(buf, sizeof buf, "SIG%d", sig);
        return buf;
}

static int parse_signal(const char *s) {
        char *end;
        long n;

        if (strncmp(s, "SIG", 3) == 0)
                s += 3;
        for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
                if (strcmp(signals[i].name, s) == 0)
                        return signals[i].sig;
        if (strncmp(s, "RTMIN+", 6) == 0) {
                n = strtol(s + 6, &end, 10);
                if (*end == 0 && n >= 0 && SIGRTMIN + n <= SIGRTMAX)
                        return SIGRTMIN + (int) n;
        }
        errno = 0;
        n = strtol(s, &end, 10);
        if (errno == 0 && *end == 0 && n > 0 && n < _NSIG)
                return (int) n;
        fprintf(stderr, "berth-payload: bad signal '%s'\n", s);
        exit(2);
}

static long parse_long(const char *s) {
        char *end;
        long n;

        errno = 0;
        n = strtol(s, &end, 0);
        if (errno != 0 || *s == 0 || *end != 0) {
                fprintf(stderr, "berth-payload: bad number '%s'\n", s);
                exit(2);
        }
        return n;
}

static void sleep_ms(long ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int cmd_pid(void) {
        printf("pid=%d ppid=%d\n", (int) getpid(), (int) getppid());
        return 0;
}

static int cmd_hostname(void) {
        struct utsname u;

        if (uname(&u) < 0) {
                printf("hostname-error=%s\n", errno_name(errno));
                return 1;
        }
        printf("hostname=%s\n", u.nodename);
        return 0;
}

/* print the lines of /proc/self/status that start with one of the prefixes */
static int print_status_lines(const char *const *prefixes) {
        char line[512];
        FILE *f = fopen("/proc/self/status", "re");

        if (!f) {
                printf("status-error=%s\n", errno_name(errno));
                return 1;
        }
        while (fgets(line, sizeof line, f))
                for (const char *const *p = prefixes; *p; p++)
                        if (strncmp(line, *p, strlen(*p)) == 0) {
                                fputs(line, stdout);
                                break;
                        }
        fclose(f);
        return 0;
}

static int cmd_caps(void) {
        static const char *const prefixes[] = { "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", NULL };
        return print_status_lines(prefixes);
}

static int cmd_status(void) {
        static const char *const prefixes[] = { "NoNewPrivs:", "Seccomp:", "Seccomp_filters:", "Uid:", "Gid:", "Groups:", NULL };
        return print_status_lines(prefixes);
}

/* "fds [PID]": the open fds of this process or of PID, with their targets */
static int cmd_fds(const char *pid) {
        char dir[64];
        DIR *d;
        struct dirent *de;
        int fds[1024], n = 0;

        snprintf(dir, sizeof dir, "/proc/%s/fd", pid ?: "self");
        d = opendir(dir);
        if (!d) {
                printf("fds-error=%s\n", errno_name(errno));
                return 1;
        }
        while ((de = readdir(d)))
                if (de->d_name[0] != '.') {
                        int fd = atoi(de->d_name);
                        if ((pid || fd != dirfd(d)) && n < 1024)
                                fds[n++] = fd;
                }
        closedir(d);
        /* sort for a stable output */
        for (int i = 1; i < n; i++)
                for (int j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
                        int t = fds[j];
                        fds[j] = fds[j - 1];
                        fds[j - 1] = t;
                }
        printf("fds=");
        for (int i = 0; i < n; i++)
                printf("%s%d", i ? " " : "", fds[i]);
        printf("\n");
        for (int i = 0; i < n; i++) {
                char p[96], target[PATH_MAX];
                ssize_t l;

                snprintf(p, sizeof p, "%s/%d", dir, fds[i]);
                l = readlink(p, target, sizeof target - 1);
                if (l < 0)
                        l = 0;
                target[l] = 0;
                printf("fd %d -> %s\n", fds[i], target);
        }
        return 0;
}

static int cmd_uid(void) {
        gid_t groups[256];
        int n = getgroups(256, groups);

        printf("uid=%d euid=%d gid=%d egid=%d groups=", (int) getuid(), (int) geteuid(),
               (int) getgid(), (int) getegid());
        for (int i = 0; i < n; i++)
                printf("%s%d", i ? "," : "", (int) groups[i]);
        printf("\n");
        return 0;
}

static int cmd_nnp(void) {
        int r = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);

        if (r < 0) {
                printf("nnp-error=%s\n", errno_name(errno));
                return 1;
        }
        printf("nnp=%d\n", r);
        return 0;
}

static int cmd_env(void) {
        for (char **e = environ; e && *e; e++)
                printf("%s\n", *e);
        return 0;
}

/* "ns NAME=TARGET" for each namespace, e.g. "mnt=mnt:[4026531841]" */
static int cmd_ns(void) {
        static const char *const names[] = { "cgroup", "ipc", "mnt", "net", "pid", "user", "uts", NULL };

        for (const char *const *n = names; *n; n++) {
                char p[64], target[256];
                ssize_t l;

                snprintf(p, sizeof p, "/proc/self/ns/%s", *n);
                l = readlink(p, target, sizeof target - 1);
                if (l < 0)
                        printf("%s=%s\n", *n, errno_name(errno));
                else {
                        target[l] = 0;
                        printf("%s=%s\n", *n, target);
                }
        }
        return 0;
}

static int cmd_cwd(void) {
        char buf[PATH_MAX];

        if (!getcwd(buf, sizeof buf)) {
                printf("cwd-error=%s\n", errno_name(errno));
                return 1;
        }
        printf("cwd=%s\n", buf);
        return 0;
}

/* "MOUNTPOINT FSTYPE MAJOR:MINOR MOUNT-OPTIONS SUPER-OPTIONS" per mount */
static int cmd_mounts(void) {
        char line[4096];
        FILE *f = fopen("/proc/self/mountinfo", "re");

        if (!f) {
                printf("mounts-error=%s\n", errno_name(errno));
                return 1;
        }
        while (fgets(line, sizeof line, f)) {
                char *fields[32], *save = NULL, *tok;
                int n = 0, sep = -1;

                line[strcspn(line, "\n")] = 0;
                for (tok = strtok_r(line, " ", &save); tok && n < 32; tok = strtok_r(NULL, " ", &save)) {
                        if (strcmp(tok, "-") == 0 && sep < 0)
                                sep = n;
                        fields[n++] = tok;
                }
                /* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
                if (sep < 0 || sep + 3 >= n || n < 6)
                        continue;
                printf("%s %s %s %s %s\n", fields[4], fields[sep + 1], fields[2], fields[5], fields[sep + 3]);
        }
        fclose(f);
        return 0;
}

static int cmd_tiocsti(void) {
        char c = 'x';

        if (ioctl(0, TIOCSTI, &c) < 0)
                printf("blocked errno=%d\n", errno);
        else
                printf("allowed\n");
        return 0;
}

static int cmd_tioclinux(void) {
        char subcode[2] = { 6 /* TIOCL_GETSHIFTSTATE */, 0 };

        if (ioctl(0, TIOCLINUX, subcode) < 0)
                printf("tioclinux blocked errno=%d %s\n", errno, errno_name(errno));
        else
                printf("tioclinux allowed\n");
        return 0;
}

/* Probes of syscalls the default filter denies.  The arguments are chosen so that
 * the call is harmless if it is allowed, and (where the kernel allows) fails with a
 * distinctive error (EINVAL, EBADF, ENOENT, ENOSYS...) before any capability check,
 * so that EPERM can only come from the seccomp filter.  Probes whose kernel path
 * checks a capability first are marked "capcheck" in the list output. */
#if defined(__x86_64__)
/* A system call through the i386 entry point, from this 64-bit process: the filter must
 * cover that ABI too. The entry clobbers r8-r11. */
static long int80(long nr, long a, long b) {
        long ret;

        __asm__ volatile ("int $0x80" : "=a"(ret) : "a"(nr), "b"(a), "c"(b) : "memory", "r8", "r9", "r10", "r11");
        if (ret < 0 && ret > -4096) {
                errno = (int) -ret;
                return -1;
        }
        return ret;
}
#define X32_SYSCALL_BIT 0x40000000L
#endif

static long probe(const char *name, int *known) {
        *known = 1;

        if (strcmp(name, "fanotify_init") == 0)
                return syscall(SYS_fanotify_init, ~0U, 0);                  /* bad flags: EINVAL */
#if defined(__x86_64__)
        /* i386 numbers: fanotify_init 338, getpid 20; x32 uses the x86-64 numbers */
        if (strcmp(name, "i386_fanotify_init") == 0)
                return int80(338, (long) ~0U, 0);
        if (strcmp(name, "i386_getpid") == 0)
                return int80(20, 0, 0);
        if (strcmp(name, "x32_fanotify_init") == 0)
                return syscall(X32_SYSCALL_BIT | SYS_fanotify_init, ~0U, 0);
        if (strcmp(name, "x32_getpid") == 0)
                return syscall(X32_SYSCALL_BIT | SYS_getpid);
#endif

        if (strcmp(name, "keyctl") == 0)
                return syscall(SYS_keyctl, 0x7fff, 0, 0, 0, 0);             /* bad command: EOPNOTSUPP */
        if (strcmp(name, "add_key") == 0)
                return syscall(SYS_add_key, "", "berth", "x", 1, -4);         /* empty type: EINVAL */
        if (strcmp(name, "request_key") == 0)
                return syscall(SYS_request_key, "", "berth", NULL, 0);        /* empty type: EINVAL */
        if (strcmp(name, "clock_settime") == 0) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                return syscall(SYS_clock_settime, 1000, &ts);               /* bad clock: EINVAL */
        }
        if (strcmp(name, "settimeofday") == 0) {
                struct timeval tv = { .tv_sec = time(NULL), .tv_usec = 2000000 };
                return syscall(SYS_settimeofday, &tv, NULL);                /* bad usec: EINVAL */
        }
        if (strcmp(name, "clock_adjtime") == 0) {
                struct timex tx = { .modes = 0 };
                return syscall(SYS_clock_adjtime, 1000, &tx);               /* bad clock: EINVAL */
        }
        if (strcmp(name, "adjtimex") == 0) {
                struct timex tx = { .modes = 0 };                           /* read-only query */
                return syscall(SYS_adjtimex, &tx);
        }
        if (strcmp(name, "kexec_load") == 0)
                return syscall(SYS_kexec_load, 0, 100000, NULL, 0);          /* too many segments: EINVAL */
        if (strcmp(name, "kexec_file_load") == 0)
                return syscall(SYS_kexec_file_load, -1, -1, 0, NULL, 0xffff0000UL); /* bad flags: EINVAL */
        if (strcmp(name, "open_by_handle_at") == 0)
                return syscall(SYS_open_by_handle_at, -1, NULL, O_RDONLY);   /* bad fd: EBADF */
        if (strcmp(name, "bpf") == 0)
                return syscall(SYS_bpf, 0x7fff, NULL, 0);                    /* bad command: EINVAL */
        if (strcmp(name, "perf_event_open") == 0)
                return syscall(SYS_perf_event_open, NULL, 0, -1, -1, ~0UL);   /* bad flags: EINVAL */
        if (strcmp(name, "swapon") == 0)
                return syscall(SYS_swapon, "/nonexistent-berth-swap", 0);    /* ENOENT (needs CAP_SYS_ADMIN) */
        if (strcmp(name, "swapoff") == 0)
                return syscall(SYS_swapoff, "/nonexistent-berth-swap");      /* ENOENT (needs CAP_SYS_ADMIN) */
        if (strcmp(name, "init_module") == 0)
                return syscall(SYS_init_module, NULL, 0, "");                /* capcheck (CAP_SYS_MODULE) */
        if (strcmp(name, "finit_module") == 0)
                return syscall(SYS_finit_module, -1, "", 0);                 /* capcheck (CAP_SYS_MODULE) */
        if (strcmp(name, "delete_module") == 0)
                return syscall(SYS_delete_module, "berth_nonexistent_module", O_NONBLOCK); /* capcheck */
        if (strcmp(name, "acct") == 0)
                return syscall(SYS_acct, "/nonexistent-berth-acct");       /* capcheck (CAP_SYS_PACCT) */
        if (strcmp(name, "iopl") == 0)
                return syscall(SYS_iopl, 4);                                /* bad level: EINVAL */
        if (strcmp(name, "ioperm") == 0)
                return syscall(SYS_ioperm, 0x10000UL, 1UL, 1);               /* out of range: EINVAL */
        if (strcmp(name, "syslog") == 0)
                return syscall(SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
        if (strcmp(name, "lookup_dcookie") == 0)
                return syscall(SYS_lookup_dcookie, 0ULL, NULL, 0);           /* removed: ENOSYS */
        if (strcmp(name, "uselib") == 0)
                return syscall(SYS_uselib, "/nonexistent-berth-lib");       /* ENOENT or ENOSYS */
        if (strcmp(name, "nfsservctl") == 0)
                return syscall(SYS_nfsservctl, 0, NULL, NULL);               /* removed: ENOSYS */
        if (strcmp(name, "userfaultfd") == 0)
                return syscall(SYS_userfaultfd, ~0U);                       /* bad flags: EINVAL */
        if (strcmp(name, "reboot") == 0)
                return syscall(SYS_reboot, 0, 0, 0, NULL);                   /* bad magic: EINVAL */
        if (strcmp(name, "getpid") == 0)
                return syscall(SYS_getpid);
        if (strcmp(name, "fsync") == 0)
                return syscall(SYS_fsync, 9999);                            /* bad fd: EBADF */
        if (strcmp(name, "fdatasync") == 0)
                return syscall(SYS_fdatasync, 9999);                        /* bad fd: EBADF */
        if (strcmp(name, "syncfs") == 0)
                return syscall(SYS_syncfs, 9999);                           /* bad fd: EBADF */

        *known = 0;
        return -1;
}

static int cmd_syscall(int argc, char **argv) {
        int rc = 0;

        if (argc < 1) {
                fprintf(stderr, "berth-payload: syscall needs a name\n");
                return 2;
        }
        for (int i = 0; i < argc; i++) {
                int known;
                long r;

                errno = 0;
                r = probe(argv[i], &known);
                if (!known) {
                        fprintf(stderr, "berth-payload: unknown syscall probe '%s'\n", argv[i]);
                        rc = 2;
                        continue;
                }
                if (r < 0)
                        printf("%s=%s\n", argv[i], errno_name(errno));
                else
                        printf("%s=ok\n", argv[i]);
                fflush(stdout);
        }
        return rc;
}

static int cmd_write(const char *path, const char *content) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
        size_t len = strlen(content);

        if (fd < 0) {
                printf("%s\n", errno_name(errno));
                return 1;
        }
        if (len > 0 && write(fd, content, len) != (ssize_t) len) {
                printf("%s\n", errno_name(errno));
                close(fd);
                return 1;
        }
        if (close(fd) < 0) {
                printf("%s\n", errno_name(errno));
                return 1;
        }
        printf("ok\n");
        return 0;
}

/* devopen PATH r|w|rw: open a device node for that access (no I/O); "ok" or the errno
 * name, as the device cgroup answers (EPERM when it refuses). */
static int cmd_devopen(const char *path, const char *mode) {
        int flags = strcmp(mode, "rw") == 0 ? O_RDWR : strcmp(mode, "w") == 0 ? O_WRONLY : O_RDONLY;
        int fd = open(path, flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

        if (fd < 0) {
                printf("%s\n", errno_name(errno));
                return 1;
        }
        close(fd);
        printf("ok\n");
        return 0;
}

/* mknod PATH c|b MAJOR MINOR: "ok" or the errno name. */
static int cmd_mknod(const char *path, const char *type, const char *major, const char *minor) {
        mode_t m = (strcmp(type, "b") == 0 ? S_IFBLK : S_IFCHR) | 0600;

        if (mknod(path, m, makedev(parse_long(major), parse_long(minor))) < 0) {
                printf("%s\n", errno_name(errno));
                return 1;
        }
        printf("ok\n");
        return 0;
}

static int cmd_read(const char *path) {
        char buf[65536];
        size_t total = 0;
        ssize_t l;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

        if (fd < 0) {
                printf("%s\n", errno_name(errno));
                return 1;
        }
        while ((l = read(fd, buf, sizeof buf)) > 0) {
                total += (size_t) l;
                if (total > 64 * 1024 * 1024)   /* don't read /dev/zero forever */
                        break;
        }
        if (l < 0) {
                printf("%s\n", errno_name(errno));
                close(fd);
                return 1;
        }
        close(fd);
        printf("len=%zu\n", total);
        return 0;
}

/* lstat: "PATH type=chr mode=0666 uid=0 gid=0 rdev=1:3 size=0 [target=...]" */
static int cmd_stat(int argc, char **argv) {
        int rc = 0;

        for (int i = 0; i < argc; i++) {
                struct stat st;
                const char *type;

                if (lstat(argv[i], &st) < 0) {
                        printf("%s %s\n", argv[i], errno_name(errno));
                        rc = 1;
                        continue;
                }
                switch (st.st_mode & S_IFMT) {
                case S_IFREG:  type = "reg"; break;
                case S_IFDIR:  type = "dir"; break;
                case S_IFLNK:  type = "lnk"; break;
                case S_IFCHR:  type = "chr"; break;
                case S_IFBLK:  type = "blk"; break;
                case S_IFIFO:  type = "fifo"; break;
                case S_IFSOCK: type = "sock"; break;
                default:       type = "unknown"; break;
                }
                printf("%s type=%s mode=%04o uid=%d gid=%d rdev=%u:%u size=%lld dev=%u:%u", argv[i], type,
                       (unsigned) (st.st_mode & 07777), (int) st.st_uid, (int) st.st_gid,
                       major(st.st_rdev), minor(st.st_rdev), (long long) st.st_size,
                       major(st.st_dev), minor(st.st_dev));
                if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t l = readlink(argv[i], target, sizeof target - 1);
                        if (l < 0)
                                l = 0;
                        target[l] = 0;
                        printf(" target=%s", target);
                }
                printf("\n");
        }
        return rc;
}

static int cmd_ls(const char *path) {
        DIR *d = opendir(path);
        struct dirent *de;
        int n = 0;

        if (!d) {
                printf("%s\n", errno_name(errno));
                return 1;
        }
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
                        printf("entry=%s\n", de->d_name);
                        n++;
                }
        closedir(d);
        printf("count=%d\n", n);
        return 0;
}

static void print_tty(int fd) {
        struct winsize ws;
        char name[PATH_MAX];
        int is = isatty(fd);

        printf("tty%d=%d", fd, is);
        if (is && ttyname_r(fd, name, sizeof name) == 0)
                printf(" name=%s", name);
        if (is && ioctl(fd, TIOCGWINSZ, &ws) == 0)
                printf(" rows=%u cols=%u", ws.ws_row, ws.ws_col);
        printf("\n");
}

/* "notify MESSAGE": one sd_notify(3) datagram to $NOTIFY_SOCKET ("\n" in MESSAGE separates
 * assignments, as the shell cannot pass a newline easily) */
static int cmd_notify(const char *msg) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *path = getenv("NOTIFY_SOCKET");
        char buf[4096];
        size_t n = 0;
        int fd;

        if (!path || strlen(path) >= sizeof sa.sun_path) {
                printf("notify-error=NOSOCKET\n");
                return 1;
        }
        for (const char *p = msg; *p && n < sizeof buf - 1; p++)
                if (p[0] == '\\' && p[1] == 'n') {
                        buf[n++] = '\n';
                        p++;
                } else
                        buf[n++] = *p;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC, 0);
        if (fd < 0 || sendto(fd, buf, n, 0, (struct sockaddr *) &sa, sizeof sa) < 0) {
                printf("notify-error=%s\n", errno_name(errno));
                return 1;
        }
        close(fd);
        printf("notify=OK\n");
        return 0;
}

static int cmd_tty(void) {
        for (int fd = 0; fd <= 2; fd++)
                print_tty(fd);
        return 0;
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig) {
        got_signal = sig;
}

static void install_handler(int sig) {
        struct sigaction sa = { .sa_handler = on_signal };

        sigemptyset(&sa.sa_mask);
        if (sigaction(sig, &sa, NULL) < 0) {
                fprintf(stderr, "berth-payload: sigaction(%d): %m\n", sig);
                exit(2);
        }
}

/* winsize [wait [TIMEOUT]]: print the size of the terminal on fd 1 (or 0); with
 * "wait", print "ready", wait for SIGWINCH, and print the size again. */
static int cmd_winsize(int argc, char **argv) {
        struct winsize ws;
        int fd = isatty(1) ? 1 : 0;
        long timeout = argc >= 2 ? parse_long(argv[1]) : 10;
        sigset_t block, old;

        if (argc >= 1 && strcmp(argv[0], "wait") == 0) {
                install_handler(SIGWINCH);
                sigemptyset(&block);
                sigaddset(&block, SIGWINCH);
                sigprocmask(SIG_BLOCK, &block, &old);
        }
        if (ioctl(fd, TIOCGWINSZ, &ws) < 0) {
                printf("winsize-error=%s\n", errno_name(errno));
                return 1;
        }
        printf("rows=%u cols=%u\n", ws.ws_row, ws.ws_col);
        if (argc < 1 || strcmp(argv[0], "wait") != 0)
                return 0;
        printf("ready\n");
        fflush(stdout);
        alarm((unsigned) timeout);
        install_handler(SIGALRM);
        while (got_signal != SIGWINCH && got_signal != SIGALRM)
                sigsuspend(&old);
        if (got_signal == SIGALRM) {
                printf("timeout\n");
                return 1;
        }
        if (ioctl(fd, TIOCGWINSZ, &ws) < 0) {
                printf("winsize-error=%s\n", errno_name(errno));
                return 1;
        }
        printf("winch rows=%u cols=%u\n", ws.ws_row, ws.ws_col);
        return 0;
}

/* sigwait [COUNT [TIMEOUT]]: handle SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGRTMIN+3;
 * print "ready", then "got SIGNAME" for each that arrives; exit 0 after COUNT (default 1)
 * signals, or print "timeout" and exit 1 after TIMEOUT seconds (default 30). */
static int cmd_sigwait(int argc, char **argv) {
        static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
        long count = argc >= 1 ? parse_long(argv[0]) : 1;
        long timeout = argc >= 2 ? parse_long(argv[1]) : 30;
        sigset_t block, old;
        time_t deadline = time(NULL) + timeout;

        sigemptyset(&block);
        for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
                install_handler(sigs[i]);
                sigaddset(&block, sigs[i]);
        }
        install_handler(SIGRTMIN + 3);
        sigaddset(&block, SIGRTMIN + 3);
        install_handler(SIGALRM);
        sigaddset(&block, SIGALRM);
        sigprocmask(SIG_BLOCK, &block, &old);

        printf("ready pid=%d\n", (int) getpid());
        fflush(stdout);
        for (long n = 0; n < count;) {
                time_t now = time(NULL);

                if (now >= deadline) {
                        printf("timeout\n");
                        return 1;
                }
                alarm((unsigned) (deadline - now));
                got_signal = 0;
                sigsuspend(&old);
                if (got_signal == SIGALRM || got_signal == 0)
                        continue;
                printf("got %s\n", signal_name(got_signal));
                fflush(stdout);
                n++;
        }
        return 0;
}

static int cmd_kill_self(const char *name) {
        int sig = parse_signal(name);
        struct rlimit rl = { 0, 0 };
        struct sigaction sa = { .sa_handler = SIG_DFL };

        /* never leave a core file in the tree */
        setrlimit(RLIMIT_CORE, &rl);
        sigemptyset(&sa.sa_mask);
        sigaction(sig, &sa, NULL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, sig);
        sigprocmask(SIG_UNBLOCK, &set, NULL);

        fflush(stdout);
        kill(getpid(), sig);
        sleep_ms(200);

        /* Still alive: as PID 1 of a PID namespace, signals a process sends itself
         * are ignored unless it has a handler.  Synchronous faults still kill it. */
        switch (sig) {
        case SIGSEGV: {
                volatile int *volatile bad = NULL;
                *bad = 1;
                break;
        }
        case SIGILL:
                __builtin_trap();
                break;
        case SIGFPE: {
                volatile int zero = 0;
                printf("%d\n", 1 / zero);
                break;
        }
        case SIGTRAP:
                __asm__ volatile("int3");
                break;
        default:
                break;
        }
        printf("survived %s\n", signal_name(sig));
        return 99;
}

/* zombies: create an orphan (a grandchild whose parent exited, so it is reparented
 * to PID 1 of the namespace) that then exits; report whether PID 1 reaped it:
 * "orphan=PID reaped" or "orphan=PID zombie" (or "orphan=PID alive"). */
/* tcpsink PORT: accept one TCP connection, read it to the end, print the byte count */
static int cmd_tcpsink(const char *port) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) parse_long(port)) };
        static char buf[1 << 18];
        long long total = 0;
        ssize_t n;
        int fd, c, one = 1;

        fd = socket(AF_INET, SOCK_STREAM, 0);
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
                printf("tcpsink: %s\n", strerror(errno));
                return 1;
        }
        printf("listening\n");
        fflush(stdout);
        c = accept(fd, NULL, NULL);
        if (c < 0) {
                printf("tcpsink: %s\n", strerror(errno));
                return 1;
        }
        while ((n = read(c, buf, sizeof(buf))) > 0)
                total += n;
        printf("bytes=%lld\n", total);
        return 0;
}

/* udprecv PORT SECONDS: print the first datagram that arrives on UDP port PORT */
static int cmd_udprecv(const char *port, const char *secs) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) parse_long(port)) };
        struct timeval tv = { .tv_sec = parse_long(secs) };
        char buf[512];
        ssize_t n;
        int fd;

        fd = socket(AF_INET, SOCK_DGRAM, 0);
        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                printf("udprecv: %s\n", strerror(errno));
                return 1;
        }
        printf("listening\n");
        fflush(stdout);
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n < 0) {
                printf("udprecv: %s\n", strerror(errno));
                return 1;
        }
        buf[n] = 0;
        printf("%s%s", buf, n > 0 && buf[n - 1] == '\n' ? "" : "\n");
        return 0;
}

/* forkbomb MILLISECONDS: fork children that just wait, for that long; report how many
 * forks worked and how many the kernel refused. The children die with the machine. */
static int cmd_forkbomb(const char *ms) {
        long limit = parse_long(ms);
        struct timespec start, now;
        long forked = 0, failed = 0;

        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                pid_t pid;

                clock_gettime(CLOCK_MONOTONIC, &now);
                if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 > limit)
                        break;
                pid = fork();
                if (pid == 0) {
                        pause();
                        _exit(0);
                }
                if (pid > 0)
                        forked++;
                else
                        failed++;
        }
        printf("forked=%ld failed=%ld\n", forked, failed);
        return 0;
}

static int cmd_zombies(void) {
        int p[2];
        pid_t child, grandchild = 0;
        char path[64];

        if (pipe(p) < 0)
                return 2;
        child = fork();
        if (child < 0)
                return 2;
        if (child == 0) {
                pid_t g = fork();
                if (g == 0) {
                        close(p[1]);
                        close(p[0]);
                        /* wait until reparented, then exit and become a zombie */
                        for (int i = 0; i < 500 && getppid() != 1; i++)
                                sleep_ms(10);
                        _exit(0);
                }
                if (write(p[1], &g, sizeof g) != (ssize_t) sizeof g)
                        _exit(1);
                _exit(0);
        }
        close(p[1]);
        if (read(p[0], &grandchild, sizeof grandchild) != (ssize_t) sizeof grandchild) {
                printf("zombies-error=read\n");
                return 2;
        }
        close(p[0]);
        waitpid(child, NULL, 0);

        snprintf(path, sizeof path, "/proc/%d/stat", (int) grandchild);
        /* give PID 1 up to 3 s to reap it */
        for (int i = 0; i < 300; i++) {
                char buf[512], state = '?', *rp;
                FILE *f = fopen(path, "re");

                if (!f) {
                        printf("orphan=%d reaped\n", (int) grandchild);
                        return 0;
                }
                if (fgets(buf, sizeof buf, f) && (rp = strrchr(buf, ')')) && rp[1] == ' ')
                        state = rp[2];
                fclose(f);
                if (i == 299) {
                        printf("orphan=%d %s\n", (int) grandchild, state == 'Z' ? "zombie" : "alive");
                        return 1;
                }
                sleep_ms(10);
        }
        return 1;
}

static int cmd_sleep(const char *arg) {
        char *end;
        double secs = strtod(arg, &end);

        if (*end != 0 || secs < 0) {
                fprintf(stderr, "berth-payload: bad duration '%s'\n", arg);
                return 2;
        }
        sleep_ms((long) (secs * 1000));
        printf("slept\n");
        return 0;
}

/* A hostile payload's FUSE mount over DIR that never answers: the kernel's FUSE_INIT is
 * left unread, so every lookup below DIR blocks for as long as this process lives. Tests
 * that berthd, reading the machine's files from the host, does not hang with it. */
static int cmd_fuse_hang(const char *dir) {
        char opts[128];
        int fd;

        if (mknod("/dev/berth-fuse", S_IFCHR|0600, makedev(10, 229)) < 0 && errno != EEXIST) {
                fprintf(stderr, "berth-payload: mknod /dev/berth-fuse: %s\n", strerror(errno));
                return 1;
        }
        fd = open("/dev/berth-fuse", O_RDWR|O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "berth-payload: open /dev/berth-fuse: %s\n", strerror(errno));
                return 1;
        }
        snprintf(opts, sizeof(opts), "fd=%i,rootmode=40000,user_id=0,group_id=0", fd);
        if (mount("berth-fuse", dir, "fuse", MS_NOSUID|MS_NODEV, opts) < 0) {
                fprintf(stderr, "berth-payload: mount fuse on %s: %s\n", dir, strerror(errno));
                return 1;
        }
        printf("fuse mounted\n");
        fflush(stdout);
        for (;;)
                pause();
}

static void usage(void) {
        fprintf(stderr,
                "usage: berth-payload COMMAND [ARGS]\n"
                "commands: pid hostname caps status fds uid nnp env cwd ns mounts tiocsti tioclinux\n"
                "          syscall NAME... | write PATH [CONTENT] | read PATH | stat PATH... | ls DIR\n"
                "          devopen PATH r|w|rw | mknod PATH c|b MAJOR MINOR\n"
                "          notify MESSAGE | tty | winsize [wait [TIMEOUT]] | sleep SECS | exit N | kill-self SIG\n"
                "          zombies | sigwait [COUNT [TIMEOUT]] | echo WORDS... | fuse-hang DIR\n");
}

int main(int argc, char **argv) {
        const char *cmd;
        int r;

        if (argc < 2) {
                usage();
                return 2;
        }
        cmd = argv[1];
        argc -= 2;
        argv += 2;

#define NEED(n) do { if (argc < (n)) { usage(); return 2; } } while (0)
        if (strcmp(cmd, "pid") == 0)
                r = cmd_pid();
        else if (strcmp(cmd, "hostname") == 0)
                r = cmd_hostname();
        else if (strcmp(cmd, "caps") == 0)
                r = cmd_caps();
        else if (strcmp(cmd, "status") == 0)
                r = cmd_status();
        else if (strcmp(cmd, "fds") == 0)
                r = cmd_fds(argc >= 1 ? argv[0] : NULL);
        else if (strcmp(cmd, "uid") == 0)
                r = cmd_uid();
        else if (strcmp(cmd, "nnp") == 0)
                r = cmd_nnp();
        else if (strcmp(cmd, "env") == 0)
                r = cmd_env();
        else if (strcmp(cmd, "cwd") == 0)
                r = cmd_cwd();
        else if (strcmp(cmd, "ns") == 0)
                r = cmd_ns();
        else if (strcmp(cmd, "mounts") == 0)
                r = cmd_mounts();
        else if (strcmp(cmd, "tiocsti") == 0)
                r = cmd_tiocsti();
        else if (strcmp(cmd, "tioclinux") == 0)
                r = cmd_tioclinux();
        else if (strcmp(cmd, "syscall") == 0)
                r = cmd_syscall(argc, argv);
        else if (strcmp(cmd, "write") == 0) {
                NEED(1);
                r = cmd_write(argv[0], argc >= 2 ? argv[1] : "berth-payload\n");
        } else if (strcmp(cmd, "devopen") == 0) {
                NEED(2);
                r = cmd_devopen(argv[0], argv[1]);
        } else if (strcmp(cmd, "mknod") == 0) {
                NEED(4);
                r = cmd_mknod(argv[0], argv[1], argv[2], argv[3]);
        } else if (strcmp(cmd, "read") == 0) {
                NEED(1);
                r = cmd_read(argv[0]);
        } else if (strcmp(cmd, "stat") == 0) {
                NEED(1);
                r = cmd_stat(argc, argv);
        } else if (strcmp(cmd, "ls") == 0) {
                NEED(1);
                r = cmd_ls(argv[0]);
        } else if (strcmp(cmd, "notify") == 0) {
                NEED(1);
                r = cmd_notify(argv[0]);
        } else if (strcmp(cmd, "tty") == 0)
                r = cmd_tty();
        else if (strcmp(cmd, "winsize") == 0)
                r = cmd_winsize(argc, argv);
        else if (strcmp(cmd, "sleep") == 0) {
                NEED(1);
                r = cmd_sleep(argv[0]);
        } else if (strcmp(cmd, "exit") == 0) {
                NEED(1);
                r = (int) parse_long(argv[0]);
        } else if (strcmp(cmd, "kill-self") == 0) {
                NEED(1);
                r = cmd_kill_self(argv[0]);
        } else if (strcmp(cmd, "tcpsink") == 0) {
                NEED(1);
                r = cmd_tcpsink(argv[0]);
        } else if (strcmp(cmd, "udprecv") == 0) {
                NEED(2);
                r = cmd_udprecv(argv[0], argv[1]);
        } else if (strcmp(cmd, "forkbomb") == 0) {
                NEED(1);
                r = cmd_forkbomb(argv[0]);
        } else if (strcmp(cmd, "fuse-hang") == 0) {
                NEED(1);
                r = cmd_fuse_hang(argv[0]);
        } else if (strcmp(cmd, "zombies") == 0)
                r = cmd_zombies();
        else if (strcmp(cmd, "sigwait") == 0)
                r = cmd_sigwait(argc, argv);
        else if (strcmp(cmd, "echo") == 0) {
                for (int i = 0; i < argc; i++)
                        printf("%s%s", i ? " " : "", argv[i]);
                printf("\n");
                r = 0;
        } else {
                fprintf(stderr, "berth-payload: unknown command '%s'\n", cmd);
                usage();
                r = 2;
        }
#undef NEED
        fflush(stdout);
        return r;
}
