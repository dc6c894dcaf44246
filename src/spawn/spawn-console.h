/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <poll.h>
#include <termios.h>

#include "spawn-config.h"

/* The parent's end of the machine's console: forwards the pty to the caller's terminal
 * (interactive), to stdout only (read-only), or drains it (passive). */

typedef struct Console {
        ConsoleMode mode;
        int master;
        int peer;              /* our own open slave: the master never sees EIO/HUP mid-run */
        bool raw;
        struct termios saved;
        bool stdin_done;
        char in_buf[4096];     /* stdin -> master, when the pty's input queue is full */
        size_t in_len;
        unsigned escapes;
        uint64_t escape_start;
        bool kill_requested;   /* ^] pressed three times within a second */
} Console;

#define CONSOLE_NULL { .master = -EBADF, .peer = -EBADF }

void console_done(Console *c);
int console_attach(Console *c, int master);
void console_update_size(Console *c);

/* Fill poll slots for stdin and the master; returns how many were used (at most 2). */
size_t console_poll_fill(Console *c, struct pollfd *p);
int console_poll_dispatch(Console *c, const struct pollfd *p, size_t n);
/* Copy everything the machine wrote before it ended. */
void console_drain(Console *c);
