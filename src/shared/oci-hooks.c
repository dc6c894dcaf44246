/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fd-util.h"
#include "oci-hooks.h"
#include "process-util.h"
#include "string-util.h"

/* what a failing hook printed, as much as goes into its error message */
#define HOOK_OUTPUT_MAX 4096

static const char *const point_names[_OCI_HOOK_MAX] = {
        [OCI_HOOK_PRESTART] = "prestart",
        [OCI_HOOK_CREATE_RUNTIME] = "createRuntime",
        [OCI_HOOK_CREATE_CONTAINER] = "createContainer",
        [OCI_HOOK_START_CONTAINER] = "startContainer",
        [OCI_HOOK_POSTSTART] = "poststart",
        [OCI_HOOK_POSTSTOP] = "poststop",
};

const char *oci_hook_point_to_string(OciHookPoint p) {
        return p >= 0 && p < _OCI_HOOK_MAX ? point_names[p] : NULL;
}

int oci_hook_point_from_string(const char *s) {
        for (int p = 0; p < _OCI_HOOK_MAX; p++)
                if (streq(point_names[p], s))
                        return p;
        return -EINVAL;
}

static void hook_done(OciHook *h) {
        free(h->path);
        strv_free(h->args);
        strv_free(h->env);
}

void oci_hooks_done(OciHooks *h) {
        for (int p = 0; p < _OCI_HOOK_MAX; p++) {
                for (size_t i = 0; i < h->n[p]; i++)
                        hook_done(&h->list[p][i]);
                free(h->list[p]);
        }
        *h = (OciHooks) {};
}

int oci_hooks_copy(const OciHooks *h, OciHooks *ret) {
        OciHooks c = {};

        for (int p = 0; p < _OCI_HOOK_MAX; p++) {
                if (h->n[p] == 0)
                        continue;
                c.list[p] = calloc(h->n[p], sizeof(OciHook));
                if (!c.list[p])
                        goto oom;
                for (size_t i = 0; i < h->n[p]; i++) {
                        const OciHook *s = &h->list[p][i];
                        OciHook *d = &c.list[p][i];

                        c.n[p] = i + 1;
                        *d = (OciHook) {
                                .path = strdup(s->path),
                                .args = s->args ? strv_copy(s->args) : NULL,
                                .env = s->env ? strv_copy(s->env) : NULL,
                                .timeout = s->timeout,
                        };
                        if (!d->path || (s->args && !d->args) || (s->env && !d->env))
                                goto oom;
                }
        }
        *ret = c;
        return 0;
oom:
        oci_hooks_done(&c);
        return -ENOMEM;
}

bool oci_hooks_has_creating(const OciHooks *h) {
        return oci_hooks_has(h, OCI_HOOK_PRESTART) || oci_hooks_has(h, OCI_HOOK_CREATE_RUNTIME) ||
               oci_hooks_has(h, OCI_HOOK_CREATE_CONTAINER) || oci_hooks_has(h, OCI_HOOK_START_CONTAINER);
}

static json_object *strv_to_json(char * const *l) {
        json_object *a = json_object_new_array();

        STRV_FOREACH(s, l)
                json_object_array_add(a, json_object_new_string(*s));
        return a;
}

char *oci_hooks_to_json(const OciHooks *h, unsigned mask) {
        json_object *o = json_object_new_object();
        char *s;

        for (int p = 0; p < _OCI_HOOK_MAX; p++) {
                json_object *a;

                if (!(mask & (1U << p)) || h->n[p] == 0)
                        continue;
                a = json_object_new_array();
                for (size_t i = 0; i < h->n[p]; i++) {
                        const OciHook *k = &h->list[p][i];
                        json_object *e = json_object_new_object();

                        json_object_object_add(e, "path", json_object_new_string(k->path));
                        if (k->args)
                                json_object_object_add(e, "args", strv_to_json(k->args));
                        if (k->env)
                                json_object_object_add(e, "env", strv_to_json(k->env));
                        if (k->timeout > 0)
                                json_object_object_add(e, "timeout", json_object_new_int64(k->timeout));
                        json_object_array_add(a, e);
                }
                json_object_object_add(o, point_names[p], a);
        }
        s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN|JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return s;
}

int oci_state_memfd(const char *json) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        fd = memfd_create("oci-state", MFD_CLOEXEC|MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        r = loop_write(fd, json, strlen(json));
        if (r < 0)
                return r;
        if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE|F_SEAL_SEAL) < 0)
                return -errno;
        return TAKE_FD(fd);
}

/* The hook's process: stdin the state (from its start), stdout and stderr the pipe we
 * read, nothing else open, signals as a fresh process has them. */
static _noreturn_ void hook_exec(const OciHook *h, int state_fd, int out_fd) {
        char *default_argv[] = { h->path, NULL };
        extern char **environ;
        sigset_t all;
        int in;

        sigfillset(&all);
        (void) sigprocmask(SIG_UNBLOCK, &all, NULL);
        (void) signal(SIGPIPE, SIG_DFL);
        in = state_fd >= 0 ? fcntl(state_fd, F_DUPFD_CLOEXEC, 3) : open("/dev/null", O_RDONLY|O_CLOEXEC);
        out_fd = fcntl(out_fd, F_DUPFD_CLOEXEC, 3);
        if (in < 0 || out_fd < 0 || lseek(in, 0, SEEK_SET) < 0 ||
            dup2(in, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 || dup2(out_fd, STDERR_FILENO) < 0)
                _exit(127);
        (void) fd_cloexec_from(3);
        execve(h->path, h->args ?: default_argv, h->env ?: environ);
        dprintf(STDERR_FILENO, "cannot execute %s: %s", h->path, strerror(errno));
        _exit(127);
}

static long long now_msec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whatever the pipe holds now, kept up to HOOK_OUTPUT_MAX; false once it reached EOF. */
static bool hook_read_output(int out_fd, char *buf, size_t *size) {
        char chunk[1024];
        ssize_t n;

        while ((n = read(out_fd, chunk, sizeof(chunk))) > 0) {
                size_t k = MIN((size_t) n, HOOK_OUTPUT_MAX - *size);

                memcpy(buf + *size, chunk, k);
                *size += k;
        }
        return n < 0 && (errno == EAGAIN || errno == EINTR);
}

/* Read what the hook prints until it exits (not until EOF: a daemon it started may hold
 * the pipe), or until its timeout, when it is killed. */
static int hook_wait(const OciHook *h, int pidfd, int out_fd, char *buf, size_t *size, siginfo_t *ret) {
        long long deadline = h->timeout > 0 ? now_msec() + h->timeout * 1000LL : -1;
        bool out_open = true;

        for (;;) {
                struct pollfd p[2] = {
                        { .fd = pidfd, .events = POLLIN },
                        { .fd = out_open ? out_fd : -1, .events = POLLIN },
                };
                int timeout = deadline < 0 ? -1 : (int) MAX(deadline - now_msec(), 0LL);
                int r = poll(p, 2, timeout);

                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r == 0) {
                        (void) pidfd_signal(pidfd, SIGKILL);
                        (void) pidfd_wait(pidfd, ret);
                        return -ETIME;
                }
                if (r > 0 && out_open && (p[1].revents || p[0].revents))
                        out_open = hook_read_output(out_fd, buf, size);
                if (r > 0 && p[0].revents)
                        return pidfd_wait(pidfd, ret);
        }
}

static int hook_run(const OciHook *h, int state_fd, char **ret_why) {
        _cleanup_close_pair_ int out[2] = EBADF_PAIR;
        _cleanup_close_ int pidfd = -EBADF;
        char buf[HOOK_OUTPUT_MAX + 1];
        size_t size = 0;
        siginfo_t si = {};
        pid_t pid;
        int r;

        if (pipe2(out, O_CLOEXEC) < 0)
                return -errno;
        fflush(stdout);
        fflush(stderr);
        pid = clone_with_flags(CLONE_PIDFD, -EBADF, &pidfd);
        if (pid == -ENOSYS) {
                /* startContainer runs under the container's system call filter, and
                 * Docker's default profile answers clone3() with ENOSYS */
                pid = fork();
                if (pid < 0)
                        return -errno;
                if (pid > 0 && (pidfd = (int) syscall(SYS_pidfd_open, pid, 0)) < 0) {
                        r = -errno;
                        (void) kill(pid, SIGKILL);
                        (void) waitpid(pid, NULL, 0);
                        return r;
                }
        }
        if (pid < 0)
                return pid;
        if (pid == 0)
                hook_exec(h, state_fd, out[1]);
        out[1] = safe_close(out[1]);
        (void) fd_nonblock(out[0], true);

        r = hook_wait(h, pidfd, out[0], buf, &size, &si);
        buf[size] = 0;
        while (size > 0 && strchr("\n ", buf[size - 1]))
                buf[--size] = 0;
        if (r == -ETIME) {
                if (asprintf(ret_why, "hook ran past its timeout of %us and was killed", h->timeout) < 0)
                        return -ENOMEM;
                return -ETIME;
        }
        if (r < 0)
                return r;
        if (si.si_code == CLD_EXITED && si.si_status == 0)
                return 0;
        if (asprintf(ret_why, "%s %i%s%s", si.si_code == CLD_EXITED ? "exit status" : "killed by signal",
                     si.si_status, size > 0 ? ": " : "", buf) < 0)
                return -ENOMEM;
        return -EPROTO;
}

int oci_hooks_run_one(const OciHooks *h, OciHookPoint p, size_t i, int state_fd, char **ret_error) {
        const OciHook *k = &h->list[p][i];
        _cleanup_free_ char *why = NULL;
        int r;

        r = hook_run(k, state_fd, &why);
        if (r >= 0)
                return 0;
        if (asprintf(ret_error, "error running %s hook #%zu (%s): %s", point_names[p], i, k->path,
                     why ?: strerror(-r)) < 0)
                return -ENOMEM;
        return r;
}

int oci_hooks_run(const OciHooks *h, OciHookPoint p, int state_fd, char **ret_error) {
        for (size_t i = 0; h && i < h->n[p]; i++) {
                int r = oci_hooks_run_one(h, p, i, state_fd, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}
