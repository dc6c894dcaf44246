/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <poll.h>
#include <stdint.h>
#include <termios.h>
#include <unistd.h>

#include "macro.h"

/* Forwarding between a local terminal and a pty master: berth-spawn's side of a machine's
 * console, and a client's side of a shell or login in a machine.
 *
 * Output of the pty goes to out_fd; in interactive mode, input from in_fd goes to the pty
 * with in_fd in raw mode (restored by pty_forward_done()), and ^] typed three times within
 * a second sets 'escaped' (the caller ends the session: berth-spawn kills the machine, a
 * client leaves). The caller keeps the pty's window size in step by calling
 * pty_forward_update_size() on SIGWINCH.
 *
 * Two ways to drive it: inside a caller's own poll loop (pty_forward_poll_fill() and
 * pty_forward_poll_dispatch(), as berth-spawn does next to its other fds), or on its own
 * with pty_forward_run(), which also handles SIGWINCH. */

typedef enum PtyForwardMode {
        PTY_FORWARD_INTERACTIVE,   /* both ways, in_fd in raw mode */
        PTY_FORWARD_READ_ONLY,     /* the pty's output only */
        PTY_FORWARD_PASSIVE,       /* the pty is drained, nothing is shown */
        _PTY_FORWARD_MODE_MAX,
        _PTY_FORWARD_MODE_INVALID = -EINVAL,
} PtyForwardMode;

typedef struct PtyForward {
        PtyForwardMode mode;
        int in_fd;             /* the local terminal: STDIN_FILENO and STDOUT_FILENO by default */
        int out_fd;
        int master;
        int peer;              /* our own open slave: the master never sees EIO/HUP mid-run */
        bool raw;
        struct termios saved;
        bool in_done;
        char in_buf[4096];     /* in_fd -> master, when the pty's input queue is full */
        size_t in_len;
        unsigned escapes;
        uint64_t escape_start;
        bool escaped;          /* ^] pressed three times within a second */
        bool eof_to_pty;       /* at the end of a non-terminal in_fd, type the EOF character */
        char in_last;          /* the last byte forwarded */
} PtyForward;

#define PTY_FORWARD_NULL { .in_fd = STDIN_FILENO, .out_fd = STDOUT_FILENO, .master = -EBADF, .peer = -EBADF }

/* Take over 'master' (also on failure), make it non-blocking, copy the window size and,
 * when interactive and in_fd is a terminal, put in_fd into raw mode. With hold_peer, keep
 * the slave open ourselves: for a console whose other side may close and reopen it (a
 * booting machine); without, for a session that ends when the other side hangs up.
 * Non-logging. */
int pty_forward_attach(PtyForward *f, int master, PtyForwardMode mode, bool hold_peer);
/* Restore the terminal, close the master. */
void pty_forward_done(PtyForward *f);
void pty_forward_update_size(PtyForward *f);

/* Fill poll slots for the master and in_fd; returns how many were used (at most 2). */
size_t pty_forward_poll_fill(PtyForward *f, struct pollfd *p);
void pty_forward_poll_dispatch(PtyForward *f, const struct pollfd *p, size_t n);
/* Copy everything the other side wrote before it ended. */
void pty_forward_drain(PtyForward *f);

/* Forward until the other side hangs up (the last holder of the slave closed it; returns
 * 0) or the escape sequence was typed (returns 1), for a PtyForward attached without
 * hold_peer. SIGWINCH is blocked meanwhile and handled through a signalfd. Returns a
 * negative errno on failure. */
int pty_forward_run(PtyForward *f);
/* The same, but also stop (after copying what the pty has buffered) once stop_fd polls
 * readable: a client whose command ended although something else still holds the pty. */
int pty_forward_run_until(PtyForward *f, int stop_fd);
