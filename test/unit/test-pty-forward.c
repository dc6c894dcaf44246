/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* src/shared/pty-forward: a pty's output reaches out_fd, input from in_fd reaches the
 * pty, the session ends when the other side hangs up, and ^]^]^] ends it early. The
 * "terminal" is a pair of pipes; the other side is a child process on the pty's slave. */

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "pty-forward.h"
#include "tap.h"

/* A pty whose slave is used by a child running 'fn'; returns the master. */
static int pty_with_child(void (*fn)(int slave), pid_t *ret_pid) {
        int master, slave;
        pid_t pid;

        master = posix_openpt(O_RDWR|O_NOCTTY|O_CLOEXEC);
        if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
                return -1;
        slave = open(ptsname(master), O_RDWR|O_NOCTTY|O_CLOEXEC);
        if (slave < 0)
                return -1;
        pid = fork();
        if (pid == 0) {
                close(master);
                fn(slave);
                _exit(0);
        }
        close(slave);
        *ret_pid = pid;
        return master;
}

static void echo_one_line(int slave) {
        char buf[64] = {}, out[96];
        ssize_t n;

        (void) write(slave, "hello\n", 6);
        n = read(slave, buf, sizeof(buf) - 1);      /* canonical mode: one line */
        if (n > 0) {
                buf[strcspn(buf, "\n")] = 0;
                snprintf(out, sizeof(out), "got:%s\n", buf);
                (void) write(slave, out, strlen(out));
        }
}

static void sleep_long(int slave) {
        (void) slave;
        pause();
}

static char *read_all(int fd) {
        static char buf[4096];
        size_t n = 0;
        ssize_t k;

        while (n < sizeof(buf) - 1 && (k = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
                n += (size_t) k;
        buf[n] = 0;
        return buf;
}

static void test_forward_until_hangup(void) {
        PtyForward f = PTY_FORWARD_NULL;
        int in[2], out[2], master, r;
        pid_t pid;
        char *text;

        CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
        master = pty_with_child(echo_one_line, &pid);
        CHECK(master >= 0);
        f.in_fd = in[0];
        f.out_fd = out[1];
        CHECK(pty_forward_attach(&f, master, PTY_FORWARD_INTERACTIVE, false) == 0);
        CHECK(!f.raw);                        /* a pipe is no terminal */
        CHECK(write(in[1], "abc\n", 4) == 4);

        r = pty_forward_run(&f);
        CHECK(r == 0);                        /* the child closed the slave */
        pty_forward_done(&f);
        close(out[1]);
        text = read_all(out[0]);
        CHECK(strstr(text, "hello") != NULL);
        CHECK(strstr(text, "got:abc") != NULL);
        if (!strstr(text, "got:abc"))
                printf("# output: %s\n", text);
        (void) waitpid(pid, NULL, 0);
        close(in[0]);
        close(in[1]);
        close(out[0]);
}

static void test_escape(void) {
        PtyForward f = PTY_FORWARD_NULL;
        int in[2], out[2], master;
        pid_t pid;

        CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
        master = pty_with_child(sleep_long, &pid);
        f.in_fd = in[0];
        f.out_fd = out[1];
        CHECK(pty_forward_attach(&f, master, PTY_FORWARD_INTERACTIVE, false) == 0);
        CHECK(write(in[1], "\x1d\x1d\x1d", 3) == 3);
        CHECK(pty_forward_run(&f) == 1);      /* left, the other side still there */
        CHECK(f.escaped);
        pty_forward_done(&f);
        kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
}

static void test_read_only(void) {
        PtyForward f = PTY_FORWARD_NULL;
        struct pollfd p[2];
        int master;
        pid_t pid;

        master = pty_with_child(sleep_long, &pid);
        CHECK(pty_forward_attach(&f, master, PTY_FORWARD_READ_ONLY, true) == 0);
        CHECK(f.peer >= 0);                   /* held: no hang-up while the slave is closed */
        CHECK(pty_forward_poll_fill(&f, p) == 1);   /* the master only, never stdin */
        pty_forward_done(&f);
        CHECK(f.master < 0 && f.peer < 0);
        kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
}

int main(void) {
        alarm(20);
        test_forward_until_hangup();
        test_escape();
        test_read_only();
        return tap_done();
}
