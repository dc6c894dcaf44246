/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "fd-util.h"
#include "log.h"
#include "spawn-sync.h"
#include "string-util.h"

typedef struct SyncHeader {
        int32_t type;
        int32_t a;
        int32_t b;
} SyncHeader;

int sync_send(int sock, SyncType type, int a, int b, const char *text, int fd) {
        SyncHeader h = { .type = type, .a = a, .b = b };
        struct iovec iov[2] = {
                { .iov_base = &h, .iov_len = sizeof(h) },
                { .iov_base = (void *) strempty(text), .iov_len = text ? MIN(strlen(text), (size_t) 2047) : 0 },
        };
        union {
                struct cmsghdr cmsg;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct msghdr mh = {
                .msg_iov = iov,
                .msg_iovlen = 2,
        };

        if (fd >= 0) {
                struct cmsghdr *cmsg;

                mh.msg_control = &control;
                mh.msg_controllen = sizeof(control);
                cmsg = CMSG_FIRSTHDR(&mh);
                cmsg->cmsg_level = SOL_SOCKET;
                cmsg->cmsg_type = SCM_RIGHTS;
                cmsg->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
        }

        return RET_NERRNO((int) sendmsg(sock, &mh, MSG_NOSIGNAL));
}

int sync_receive(int sock, SyncMessage *ret) {
        SyncHeader h = {};
        char text[2048];
        struct iovec iov[2] = {
                { .iov_base = &h, .iov_len = sizeof(h) },
                { .iov_base = text, .iov_len = sizeof(text) - 1 },
        };
        union {
                struct cmsghdr cmsg;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct msghdr mh = {
                .msg_iov = iov,
                .msg_iovlen = 2,
                .msg_control = &control,
                .msg_controllen = sizeof(control),
        };
        struct cmsghdr *cmsg;
        ssize_t n;

        n = recvmsg(sock, &mh, MSG_DONTWAIT|MSG_CMSG_CLOEXEC);
        if (n < 0)
                return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
        if (n == 0)
                return 0;

        *ret = (SyncMessage) { .fd = -EBADF };
        for (cmsg = CMSG_FIRSTHDR(&mh); cmsg; cmsg = CMSG_NXTHDR(&mh, cmsg))
                if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
                    cmsg->cmsg_len == CMSG_LEN(sizeof(int)))
                        memcpy(&ret->fd, CMSG_DATA(cmsg), sizeof(int));

        if ((size_t) n < sizeof(h)) {
                safe_close(ret->fd);
                return -EBADMSG;
        }
        n -= (ssize_t) sizeof(h);
        memcpy(ret->text, text, (size_t) n);
        ret->text[n] = 0;
        ret->type = h.type;
        switch (h.type) {
        case SYNC_LOG:
                ret->level = h.a;
                ret->error = h.b;
                break;
        case SYNC_EXIT_STATUS:
                ret->code = h.a;
                ret->status = h.b;
                break;
        default:
                break;
        }
        return 1;
}

static void log_sink_socket(int level, int error, const char *msg, void *userdata) {
        (void) sync_send((int) (intptr_t) userdata, SYNC_LOG, level, error, msg, -EBADF);
}

static log_sink_t sink_before;
static void *sink_before_userdata;

void sync_log_to_socket(int sock) {
        log_get_sink(&sink_before, &sink_before_userdata);
        log_set_sink(log_sink_socket, (void *) (intptr_t) sock);
}

void sync_log_restore(void) {
        log_set_sink(sink_before, sink_before_userdata);
}

int sync_wait_for(int sock, SyncType type) {
        SyncMessage m;
        int r = sync_wait_for_message(sock, type, &m);

        if (r >= 0)
                safe_close(m.fd);
        return r;
}

int sync_wait_for_message(int sock, SyncType type, SyncMessage *ret) {
        for (;;) {
                struct pollfd p = { .fd = sock, .events = POLLIN };
                SyncMessage m;
                int r;

                if (poll(&p, 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                r = sync_receive(sock, &m);
                if (r == -EAGAIN)
                        continue;
                if (r < 0)
                        return r;
                if (r == 0)
                        return -EPIPE;
                if (m.type == type) {
                        *ret = m;          /* with its fd, now the caller's */
                        return 0;
                }
                safe_close(m.fd);
        }
}
