/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "fd-util.h"
#include "notify-util.h"

int notify_send(const char *message) {
        const char *e = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        size_t l;

        if (!e || (e[0] != '/' && e[0] != '@'))
                return 0;
        l = strlen(e);
        if (l >= sizeof(sa.sun_path))
                return -EINVAL;
        memcpy(sa.sun_path, e, l);
        if (sa.sun_path[0] == '@')
                sa.sun_path[0] = 0;

        fd = socket(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (sendto(fd, message, strlen(message), MSG_NOSIGNAL, (struct sockaddr *) &sa,
                   (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l)) < 0)
                return -errno;
        return 1;
}
