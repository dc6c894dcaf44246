/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <signal.h>
#include <stdint.h>

#include "macro.h"

/* Messages from the machine's setup child (and later its stub init) to berth-spawn over a
 * SOCK_SEQPACKET socket pair. The child never prints: its log lines travel here, so the
 * user sees the real cause of a failed setup step, printed once by the parent. */

typedef enum SyncType {
        SYNC_LOG = 1,         /* level, error, text */
        SYNC_PTY_MASTER,      /* carries the console's pty master fd */
        SYNC_EXIT_STATUS,     /* from the --as-pid2 stub: the payload's si_code/si_status */
        SYNC_NOTIFY_SOCKET,   /* carries the bound /run/host/notify socket */
        SYNC_STARTED,         /* every check passed; the payload is being executed */
        SYNC_GO,              /* parent -> child: registered, go ahead and execute */
        SYNC_NETNS,           /* child -> parent: the machine's network namespace exists */
        SYNC_NET_CONFIG,      /* parent -> child: "ADDRESS/PREFIX GATEWAY" for host0 */
        SYNC_CREATED,         /* detached (berth-runc create): set up, waiting for start */
        SYNC_HOOKS,           /* child -> parent: namespaces and mounts exist, run the
                               * create-time OCI hooks (spawn-hooks.h) */
        SYNC_HOOKS_DONE,      /* parent -> child: they passed; carries the state memfd for
                               * the startContainer hooks, if any */
} SyncType;

typedef struct SyncMessage {
        SyncType type;
        int level;
        int error;
        int code;
        int status;
        int fd;               /* received fd or -EBADF */
        char text[2048];
} SyncMessage;

int sync_send(int sock, SyncType type, int a, int b, const char *text, int fd);
/* Block until a message of 'type' arrives (others are dropped); 0 on success, -EPIPE
 * on EOF. With ret, the message is returned, its fd (if any) the caller's to close. */
int sync_wait_for(int sock, SyncType type);
int sync_wait_for_message(int sock, SyncType type, SyncMessage *ret);

/* Returns 1 when a message was read, 0 on EOF, -EAGAIN when nothing is queued. */
int sync_receive(int sock, SyncMessage *ret);

/* Route the log API of this (child) process to the socket. */
void sync_log_to_socket(int sock);
/* Route it back to where it went before: once nobody reads the socket any more. */
void sync_log_restore(void);
