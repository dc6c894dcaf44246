/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "init-kind.h"
#include "mount-util.h"
#include "string-util.h"

/* An init binary is a few MB at most (busybox ~2 MB, systemd's is small: its code is in
 * libsystemd-shared); anything larger is not recognised. */
#define INIT_BINARY_MAX (32U * 1024U * 1024U)

static const char *const init_kind_table[_INIT_KIND_MAX] = {
        [INIT_NONE] = "none",
        [INIT_SYSTEMD] = "systemd",
        [INIT_BUSYBOX] = "busybox",
        [INIT_SYSVINIT] = "sysvinit",
        [INIT_UNKNOWN] = "unknown",
};

const char *init_kind_to_string(InitKind k) {
        return k >= 0 && k < _INIT_KIND_MAX ? init_kind_table[k] : NULL;
}

InitKind init_kind_from_string(const char *s) {
        if (!s)
                return _INIT_KIND_INVALID;
        for (InitKind k = 0; k < _INIT_KIND_MAX; k++)
                if (streq(s, init_kind_table[k]))
                        return k;
        return _INIT_KIND_INVALID;
}

static bool exists_in_root(int rootfd, const char *path) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        if (chase_in_root(rootfd, path, 0, &fd) < 0 || fstat(fd, &st) < 0)
                return false;
        return S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

static bool contains(const char *buf, size_t size, const char *s) {
        return memmem(buf, size, s, strlen(s)) != NULL;
}

InitKind init_kind_detect(int rootfd) {
        _cleanup_free_ char *buf = NULL;
        size_t size;

        if (exists_in_root(rootfd, "/usr/lib/systemd/systemd") || exists_in_root(rootfd, "/lib/systemd/systemd"))
                return INIT_SYSTEMD;

        /* Resolved inside the tree: /sbin/init is usually a symlink (to busybox, to
         * ../lib/systemd/systemd). Marker strings every build of each init carries. */
        if (read_regular_file_in_root(rootfd, "/sbin/init", INIT_BINARY_MAX, &buf, &size) < 0)
                return INIT_UNKNOWN;
        if (contains(buf, size, "BusyBox v"))
                return INIT_BUSYBOX;
        if (contains(buf, size, "INIT_VERSION=sysvinit"))
                return INIT_SYSVINIT;
        if (contains(buf, size, "org.freedesktop.systemd1"))
                return INIT_SYSTEMD;
        return INIT_UNKNOWN;
}

int init_kind_signal(InitKind kind, InitAction action) {
        switch (kind) {
        case INIT_BUSYBOX:
                /* busybox init/init.c: SIGUSR1 halt, SIGUSR2 poweroff, SIGTERM reboot */
                return action == INIT_ACTION_POWEROFF ? SIGUSR2 :
                       action == INIT_ACTION_REBOOT ? SIGTERM : SIGUSR1;
        case INIT_SYSVINIT:
                /* SIGINT runs inittab's ctrlaltdel action (Debian's: shutdown -r now);
                 * there is no signal for halting or powering off. */
                return action == INIT_ACTION_REBOOT ? SIGINT : -EOPNOTSUPP;
        default:
                /* systemd(1), "SIGNALS" */
                return action == INIT_ACTION_POWEROFF ? SIGRTMIN + 4 :
                       action == INIT_ACTION_REBOOT ? SIGINT : SIGRTMIN + 3;
        }
}

int init_action_from_systemd_signal(int sig) {
        if (sig == SIGRTMIN + 4)
                return INIT_ACTION_POWEROFF;
        if (sig == SIGINT)
                return INIT_ACTION_REBOOT;
        return -EINVAL;
}
