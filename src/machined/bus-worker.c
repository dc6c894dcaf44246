/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus-worker.h"
#include "fd-util.h"
#include "log.h"
#include "machine1-bus.h"
#include "manager.h"
#include "process-util.h"
#include "string-util.h"

struct BusWorker {
        Manager *manager;
        sd_bus_message *message;       /* NULL once answered */
        BusWorkerReply reply;
        char *subject, *name;
        uint64_t tag;
        pid_t pid;
        int pidfd;
        int out_fd;
        char *buf;
        size_t size;
        int error;                     /* set when we stopped the worker ourselves */
        sd_event_source *exit_source, *out_source, *timer;
        BusWorker *prev, *next;
};

static BusWorker *bus_worker_free(BusWorker *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->exit_source);
        sd_event_source_disable_unref(w->out_source);
        sd_event_source_disable_unref(w->timer);
        /* Only reached with a live worker when berthd exits. It is not waited for: a
         * request a FUSE server has read but not answered keeps it in an uninterruptible
         * sleep, SIGKILL or not, until that server answers or goes away. */
        if (w->pidfd >= 0)
                (void) pidfd_signal(w->pidfd, SIGKILL);
        safe_close(w->pidfd);
        safe_close(w->out_fd);
        if (w->manager) {
                if (w->prev)
                        w->prev->next = w->next;
                else
                        w->manager->bus_workers = w->next;
                if (w->next)
                        w->next->prev = w->prev;
                w->manager->n_bus_workers--;
        }
        sd_bus_message_unref(w->message);
        free(w->subject);
        free(w->name);
        free(w->buf);
        free(w);
        return NULL;
}

void bus_workers_free(Manager *m) {
        while (m->bus_workers)
                bus_worker_free(m->bus_workers);
}

static void bus_worker_answer(BusWorker *w, int r) {
        if (!w->message)
                return;
        (void) w->reply(w->manager, w->message, r, w->buf ?: "", w->size,
                        &(BusWorkerSubject) { .subject = w->subject, .name = w->name, .tag = w->tag });
        w->message = sd_bus_message_unref(w->message);
}

/* Drain the worker's output; returns 0 at end of file, -EAGAIN when more may come. */
static int bus_worker_read(BusWorker *w) {
        for (;;) {
                char chunk[16384];
                ssize_t n = read(w->out_fd, chunk, sizeof(chunk));

                if (n < 0)
                        return errno == EINTR ? -EAGAIN : -errno;
                if (n == 0)
                        return 0;
                if (w->size + (size_t) n > BUS_WORKER_OUTPUT_MAX)
                        return -EMSGSIZE;
                char *p = realloc(w->buf, w->size + (size_t) n + 1);
                if (!p)
                        return -ENOMEM;
                memcpy(p + w->size, chunk, (size_t) n);
                w->buf = p;
                w->size += (size_t) n;
                w->buf[w->size] = 0;
        }
}

static void bus_worker_stop(BusWorker *w, int error) {
        /* Answer now; the worker is reaped when its pidfd says it is gone. */
        w->error = error;
        bus_worker_answer(w, error);
        w->out_source = sd_event_source_disable_unref(w->out_source);
        w->timer = sd_event_source_disable_unref(w->timer);
        (void) pidfd_signal(w->pidfd, SIGKILL);
}

static int on_worker_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        BusWorker *w = userdata;
        int r;

        r = bus_worker_read(w);
        if (r == -EAGAIN)
                return 0;
        /* End of output (or too much of it): the exit is handled by on_worker_exit. */
        w->out_source = sd_event_source_disable_unref(w->out_source);
        if (r < 0)
                bus_worker_stop(w, r);
        return 0;
}

static int on_worker_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        BusWorker *w = userdata;

        log_warning("Reading from %s took too long; its worker (PID %i) was killed.", w->subject, (int) w->pid);
        bus_worker_stop(w, -ETIMEDOUT);
        return 0;
}

static int on_worker_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        BusWorker *w = userdata;
        siginfo_t si = {};
        int r;

        /* Unregister before the pidfd is closed (its number may be reused at once). */
        w->exit_source = sd_event_source_disable_unref(w->exit_source);
        r = pidfd_wait(w->pidfd, &si);
        w->pidfd = safe_close(w->pidfd);

        if (w->message) {
                /* The worker is gone, so its end of the pipe is closed: what it wrote is
                 * all there. */
                if (r >= 0 && w->out_source) {
                        r = bus_worker_read(w);
                        if (r == -EAGAIN)
                                r = -EIO;
                }
                if (r >= 0)
                        r = si.si_code == CLD_EXITED ? -si.si_status : -EIO;
                bus_worker_answer(w, r);
        }
        bus_worker_free(w);
        return 0;
}

int bus_worker_start(Manager *m, sd_bus_message *message, BusWorkerFunc f, void *userdata,
                     uint64_t timeout_usec, BusWorkerReply reply, const BusWorkerSubject *s,
                     sd_bus_error *error) {
        _cleanup_close_pair_ int pair[2] = EBADF_PAIR;
        BusWorker *w;
        pid_t parent = getpid(), pid;
        int pidfd = -EBADF, r;

        if (m->n_bus_workers >= BUS_WORKERS_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                         "Too many reads of machines and images in progress, try again later.");
        if (pipe2(pair, O_CLOEXEC) < 0)
                return -errno;

        /* berthd is single-threaded, so forking without exec is safe. */
        pid = clone_with_flags(CLONE_PIDFD, -EBADF, &pidfd);
        if (pid < 0)
                return pid;
        if (pid == 0) {
                pair[0] = safe_close(pair[0]);
                if (worker_child_setup(parent) < 0)
                        _exit(EIO);
                r = f(userdata, pair[1]);
                /* the exit code carries the errno (they all fit in 1..255) */
                _exit(r < 0 ? MIN(-r, 255) : EXIT_SUCCESS);
        }
        pair[1] = safe_close(pair[1]);

        w = calloc(1, sizeof(BusWorker));
        if (!w) {
                (void) pidfd_signal(pidfd, SIGKILL);
                siginfo_t si;
                (void) pidfd_wait(pidfd, &si);
                safe_close(pidfd);
                return -ENOMEM;
        }
        *w = (BusWorker) {
                .reply = reply,
                .pid = pid,
                .pidfd = pidfd,
                .out_fd = TAKE_FD(pair[0]),
        };
        w->manager = m;
        w->next = m->bus_workers;
        if (m->bus_workers)
                m->bus_workers->prev = w;
        m->bus_workers = w;
        m->n_bus_workers++;

        w->subject = strdup(s->subject);
        w->name = strdup(s->name);
        w->tag = s->tag;
        if (!w->subject || !w->name) {
                bus_worker_free(w);
                return -ENOMEM;
        }
        if (fcntl(w->out_fd, F_SETFL, O_NONBLOCK) < 0) {
                r = -errno;
                bus_worker_free(w);
                return r;
        }
        r = sd_event_add_io(m->event, &w->out_source, w->out_fd, EPOLLIN, on_worker_output, w);
        if (r >= 0)
                r = sd_event_add_io(m->event, &w->exit_source, w->pidfd, EPOLLIN, on_worker_exit, w);
        if (r >= 0)
                r = sd_event_add_time_relative(m->event, &w->timer, CLOCK_MONOTONIC, timeout_usec, 0,
                                               on_worker_timeout, w);
        if (r < 0) {
                bus_worker_free(w);
                return r;
        }
        w->message = sd_bus_message_ref(message);
        return 1;
}

int strv_write_nul(int fd, char **l) {
        for (size_t i = 0; l && l[i]; i++) {
                int r = loop_write(fd, l[i], strlen(l[i]) + 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

int strv_from_nul(const char *buf, size_t size, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;
        int r;

        if (size > 0 && buf[size - 1] != 0)
                return -EBADMSG;
        for (const char *p = buf; p < buf + size; p += strlen(p) + 1) {
                char *s = strdup(p);

                if (!s)
                        return -ENOMEM;
                r = strv_push(&l, s);
                if (r < 0)
                        return r;
                n++;
        }
        if (n % 2 != 0)
                return -EBADMSG;
        if (!l && !(l = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = TAKE_PTR(l);
        return 0;
}

int bus_worker_reply_os_release(Manager *m, sd_bus_message *message, int r, const char *buf, size_t size,
                                const BusWorkerSubject *s) {
        _cleanup_strv_free_ char **l = NULL;

        if (r >= 0)
                r = strv_from_nul(buf, size, &l);
        if (r >= 0)
                return bus_reply_os_release(message, l);
        return bus_worker_reply_error(message, r, s->subject);
}

int bus_worker_reply_error(sd_bus_message *message, int r, const char *subject) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        if (r == -ENOENT)
                (void) sd_bus_error_setf(&error, BUS_ERROR_NO_OS_RELEASE,
                                         "%c%s does not contain OS release information.",
                                         toupper((unsigned char) subject[0]), subject + 1);
        else if (r == -ETIMEDOUT)
                (void) sd_bus_error_setf(&error, SD_BUS_ERROR_TIMEOUT,
                                         "Reading OS release information of %s timed out: its file system does not answer.",
                                         subject);
        else
                (void) sd_bus_error_set_errnof(&error, r, "Failed to read OS release of %s: %s", subject,
                                               strerror(-r));
        return sd_bus_reply_method_error(message, &error);
}

int bus_worker_start_os_release(Manager *m, sd_bus_message *message, BusWorkerFunc f, void *userdata,
                                BusWorkerReply reply, const BusWorkerSubject *s, sd_bus_error *error) {
        return bus_worker_start(m, message, f, userdata, BUS_WORKER_TIMEOUT_USEC,
                                reply ?: bus_worker_reply_os_release, s, error);
}
