/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "spawn-console.h"

#define ESCAPE_CHAR 0x1d          /* ^] */
#define ESCAPE_WINDOW_USEC 1000000ULL

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

void console_done(Console *c) {
        if (c->raw) {
                (void) tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
                c->raw = false;
        }
        c->master = safe_close(c->master);
        c->peer = safe_close(c->peer);
}

void console_update_size(Console *c) {
        struct winsize ws;

        if (c->master < 0)
                return;
        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
                return;
        (void) ioctl(c->master, TIOCSWINSZ, &ws);
}

int console_attach(Console *c, int master) {
        int r;

        safe_close(c->master);
        c->master = master;
        r = fd_nonblock(master, true);
        if (r < 0)
                return log_error_errno(r, "Failed to make the console pty non-blocking: %m");

        c->peer = ioctl(master, TIOCGPTPEER, O_RDWR|O_NOCTTY|O_CLOEXEC);
        if (c->peer < 0)
                log_debug_errno(errno, "Failed to open the console pty's peer, ignoring: %m");

        console_update_size(c);

        if (c->mode == CONSOLE_INTERACTIVE && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &c->saved) >= 0) {
                struct termios raw = c->saved;

                cfmakeraw(&raw);
                raw.c_oflag = c->saved.c_oflag;     /* keep output processing as it was */
                if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) >= 0)
                        c->raw = true;
        }
        if (c->mode != CONSOLE_INTERACTIVE)
                c->stdin_done = true;
        return 0;
}

size_t console_poll_fill(Console *c, struct pollfd *p) {
        size_t n = 0;

        if (c->master < 0)
                return 0;

        p[n++] = (struct pollfd) {
                .fd = c->master,
                .events = POLLIN | (c->in_len > 0 ? POLLOUT : 0),
        };
        if (!c->stdin_done && c->in_len == 0)
                p[n++] = (struct pollfd) { .fd = STDIN_FILENO, .events = POLLIN };
        return n;
}

static void scan_escape(Console *c, const char *buf, size_t n) {
        for (size_t i = 0; i < n; i++) {
                uint64_t t;

                if (buf[i] != ESCAPE_CHAR) {
                        c->escapes = 0;
                        continue;
                }
                t = now_usec();
                if (c->escapes == 0 || t - c->escape_start > ESCAPE_WINDOW_USEC) {
                        c->escapes = 1;
                        c->escape_start = t;
                } else if (++c->escapes >= 3)
                        c->kill_requested = true;
        }
}

static int copy_master_to_stdout(Console *c) {
        char buf[16384];

        for (;;) {
                ssize_t k = read(c->master, buf, sizeof(buf));

                if (k < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
                if (k == 0)
                        return 0;
                if (c->mode != CONSOLE_PASSIVE)
                        (void) loop_write(STDOUT_FILENO, buf, (size_t) k);
        }
}

static void flush_input(Console *c) {
        while (c->in_len > 0) {
                ssize_t k = write(c->master, c->in_buf, c->in_len);

                if (k <= 0)
                        return;     /* EAGAIN: poll for POLLOUT */
                memmove(c->in_buf, c->in_buf + k, c->in_len - (size_t) k);
                c->in_len -= (size_t) k;
        }
}

int console_poll_dispatch(Console *c, const struct pollfd *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (!p[i].revents)
                        continue;

                if (p[i].fd == c->master) {
                        if (p[i].revents & (POLLIN|POLLHUP|POLLERR))
                                (void) copy_master_to_stdout(c);
                        if (p[i].revents & POLLOUT)
                                flush_input(c);
                } else if (p[i].fd == STDIN_FILENO) {
                        ssize_t k = read(STDIN_FILENO, c->in_buf, sizeof(c->in_buf));

                        if (k <= 0) {
                                c->stdin_done = true;
                                continue;
                        }
                        c->in_len = (size_t) k;
                        scan_escape(c, c->in_buf, c->in_len);
                        flush_input(c);
                }
        }
        return 0;
}

void console_drain(Console *c) {
        if (c->master >= 0)
                (void) copy_master_to_stdout(c);
}
