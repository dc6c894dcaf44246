/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "pty-forward.h"
#include "time-util.h"

#define ESCAPE_CHAR 0x1d          /* ^] */
#define ESCAPE_WINDOW_USEC 1000000ULL

void pty_forward_done(PtyForward *f) {
        if (f->raw) {
                (void) tcsetattr(f->in_fd, TCSANOW, &f->saved);
                f->raw = false;
        }
        f->master = safe_close(f->master);
        f->peer = safe_close(f->peer);
}

void pty_forward_update_size(PtyForward *f) {
        struct winsize ws;

        if (f->master < 0)
                return;
        if (ioctl(f->in_fd, TIOCGWINSZ, &ws) < 0 && ioctl(f->out_fd, TIOCGWINSZ, &ws) < 0)
                return;
        (void) ioctl(f->master, TIOCSWINSZ, &ws);
}

int pty_forward_attach(PtyForward *f, int master, PtyForwardMode mode, bool hold_peer) {
        int r;

        safe_close(f->master);
        f->master = master;
        f->mode = mode;
        r = fd_nonblock(master, true);
        if (r < 0)
                return r;

        if (hold_peer) {
                /* failure is harmless: the master may see EIO while the slave is closed */
                f->peer = ioctl(master, TIOCGPTPEER, O_RDWR|O_NOCTTY|O_CLOEXEC);
                if (f->peer < 0)
                        f->peer = -EBADF;
        }

        pty_forward_update_size(f);

        if (mode == PTY_FORWARD_INTERACTIVE && isatty(f->in_fd) && tcgetattr(f->in_fd, &f->saved) >= 0) {
                struct termios raw = f->saved;

                cfmakeraw(&raw);
                raw.c_oflag = f->saved.c_oflag;     /* keep output processing as it was */
                if (tcsetattr(f->in_fd, TCSANOW, &raw) >= 0)
                        f->raw = true;
        }
        if (mode != PTY_FORWARD_INTERACTIVE)
                f->in_done = true;
        return 0;
}

size_t pty_forward_poll_fill(PtyForward *f, struct pollfd *p) {
        size_t n = 0;

        if (f->master < 0)
                return 0;

        p[n++] = (struct pollfd) {
                .fd = f->master,
                .events = POLLIN | (f->in_len > 0 ? POLLOUT : 0),
        };
        if (!f->in_done && f->in_len == 0)
                p[n++] = (struct pollfd) { .fd = f->in_fd, .events = POLLIN };
        return n;
}

static void scan_escape(PtyForward *f, const char *buf, size_t n) {
        for (size_t i = 0; i < n; i++) {
                uint64_t t;

                if (buf[i] != ESCAPE_CHAR) {
                        f->escapes = 0;
                        continue;
                }
                t = now_usec(CLOCK_MONOTONIC);
                if (f->escapes == 0 || t - f->escape_start > ESCAPE_WINDOW_USEC) {
                        f->escapes = 1;
                        f->escape_start = t;
                } else if (++f->escapes >= 3)
                        f->escaped = true;
        }
}

/* Returns 0 when there is nothing more for now, -EIO once the slave side is closed. */
static int copy_master_to_out(PtyForward *f) {
        char buf[16384];

        for (;;) {
                ssize_t k = read(f->master, buf, sizeof(buf));

                if (k < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
                if (k == 0)
                        return 0;
                if (f->mode != PTY_FORWARD_PASSIVE)
                        (void) loop_write(f->out_fd, buf, (size_t) k);
        }
}

static void flush_input(PtyForward *f) {
        while (f->in_len > 0) {
                ssize_t k = write(f->master, f->in_buf, f->in_len);

                if (k <= 0)
                        return;     /* EAGAIN: poll for POLLOUT */
                memmove(f->in_buf, f->in_buf + k, f->in_len - (size_t) k);
                f->in_len -= (size_t) k;
        }
}

/* The end of a non-terminal input, told the way a terminal tells it: the pty's EOF
 * character, twice if the last line was not finished (the first only ends the line). */
static void send_eof(PtyForward *f) {
        struct termios t;
        char eof[2];

        if (isatty(f->in_fd) || tcgetattr(f->master, &t) < 0)
                return;
        eof[0] = eof[1] = (char) t.c_cc[VEOF];
        (void) loop_write(f->master, eof, f->in_last && f->in_last != '\n' ? 2 : 1);
}

static void read_input(PtyForward *f) {
        ssize_t k = read(f->in_fd, f->in_buf, sizeof(f->in_buf));

        if (k <= 0) {
                f->in_done = true;
                if (k == 0 && f->eof_to_pty)
                        send_eof(f);
                return;
        }
        f->in_len = (size_t) k;
        f->in_last = f->in_buf[k - 1];
        scan_escape(f, f->in_buf, f->in_len);
        flush_input(f);
}

void pty_forward_poll_dispatch(PtyForward *f, const struct pollfd *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (!p[i].revents)
                        continue;

                if (p[i].fd == f->master) {
                        if (p[i].revents & (POLLIN|POLLHUP|POLLERR))
                                (void) copy_master_to_out(f);
                        if (p[i].revents & POLLOUT)
                                flush_input(f);
                } else if (p[i].fd == f->in_fd)
                        read_input(f);
        }
}

void pty_forward_drain(PtyForward *f) {
        if (f->master >= 0)
                (void) copy_master_to_out(f);
}

int pty_forward_run(PtyForward *f) {
        return pty_forward_run_until(f, -EBADF);
}

int pty_forward_run_until(PtyForward *f, int stop_fd) {
        _cleanup_close_ int sigfd = -EBADF;
        sigset_t mask, old;
        int r = 0;

        sigemptyset(&mask);
        sigaddset(&mask, SIGWINCH);
        if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
                return -errno;
        sigfd = signalfd(-1, &mask, SFD_CLOEXEC|SFD_NONBLOCK);
        if (sigfd < 0) {
                r = -errno;
                goto finish;
        }

        while (!f->escaped) {
                struct pollfd p[4] = { { .fd = sigfd, .events = POLLIN } };
                size_t n = pty_forward_poll_fill(f, p + 1);
                struct signalfd_siginfo si;

                if (n == 0)
                        break;          /* not attached */
                /* the last slot: the caller's stop_fd (a negative fd is ignored by poll()) */
                p[n + 1] = (struct pollfd) { .fd = stop_fd, .events = POLLIN };
                if (poll(p, n + 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (p[0].revents) {
                        while (read(sigfd, &si, sizeof(si)) == (ssize_t) sizeof(si))
                                ;
                        pty_forward_update_size(f);
                }
                /* the slave's last holder closed it: show what is left and stop */
                if (p[1].revents & (POLLHUP|POLLERR)) {
                        pty_forward_drain(f);
                        break;
                }
                pty_forward_poll_dispatch(f, p + 1, n);
                if (p[n + 1].revents) {
                        pty_forward_drain(f);
                        break;
                }
        }
        if (r >= 0)
                r = f->escaped;
finish:
        (void) sigprocmask(SIG_SETMASK, &old, NULL);
        return r;
}
