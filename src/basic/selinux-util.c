/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "fd-util.h"
#include "selinux-util.h"

#define SELINUX_MAGIC 0xf97cff8cU

bool selinux_enabled(void) {
        struct statfs sfs;

        return statfs("/sys/fs/selinux", &sfs) >= 0 && (unsigned) sfs.f_type == SELINUX_MAGIC;
}

int selinux_set_exec_context(const char *context) {
        _cleanup_close_ int fd = -EBADF;
        size_t l = strlen(context);
        ssize_t n;

        fd = open("/proc/thread-self/attr/exec", O_WRONLY|O_CLOEXEC|O_NOCTTY);
        if (fd < 0)
                return -errno;
        /* one write, with the terminating NUL as libselinux sends it */
        n = write(fd, context, l + 1);
        if (n < 0)
                return -errno;
        return (size_t) n == l + 1 ? 0 : -EIO;
}
