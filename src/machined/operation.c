/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "manager.h"
#include "operation.h"
#include "process-util.h"
#include "string-util.h"

#define OPERATION_MSG_MAX 1024

typedef struct OperationResult {
        int32_t error;
        char msg[OPERATION_MSG_MAX];
} OperationResult;

/* Only once the worker is gone: it holds the locks too (it inherited them). */
static void operation_release_locks(Operation *o) {
        lock_file_pair_release(&o->locks);
}

static void operation_remove_tmp(Operation *o) {
        _cleanup_strv_free_ char **removed = NULL;

        if (!o->tmp_name)
                return;
        /* Our own lock fds are closed by now, so the temporary's lock is free. */
        (void) image_pool_remove_stale_temporaries(&o->manager->pool, NULL, &removed);
}

Operation *operation_free(Operation *o) {
        if (!o)
                return NULL;

        sd_event_source_disable_unref(o->source);
        if (o->pidfd >= 0) {
                siginfo_t si;

                (void) pidfd_signal(o->pidfd, SIGKILL);
                (void) pidfd_wait(o->pidfd, &si);
        }
        safe_close(o->pidfd);
        safe_close(o->msg_fd);
        operation_release_locks(o);
        if (o->manager) {
                if (o->prev)
                        o->prev->next = o->next;
                else
                        o->manager->operations = o->next;
                if (o->next)
                        o->next->prev = o->prev;
                o->manager->n_operations--;
                /* Whatever the worker did (or left undone), the pool may look different. */
                image_listing_invalidate(&o->manager->image_listing);
                operation_remove_tmp(o);
        }
        sd_bus_message_unref(o->message);
        free(o->description);
        free(o->tmp_name);
        free(o);
        return NULL;
}

static int on_worker_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        Operation *o = userdata;
        OperationResult res = {};
        siginfo_t si = {};
        ssize_t n;
        int r;

        /* Unregister from the event loop before the pidfd is closed: its number can be
         * reused by the next operation's pidfd, and sd-event must never see a closed or
         * recycled fd of a live source. */
        o->source = sd_event_source_disable_unref(o->source);
        r = pidfd_wait(o->pidfd, &si);
        o->pidfd = safe_close(o->pidfd);
        n = recv(o->msg_fd, &res, sizeof(res) - 1, MSG_DONTWAIT);

        if (r >= 0 && si.si_code == CLD_EXITED && si.si_status == 0)
                r = 0;
        else if (n >= (ssize_t) sizeof(int32_t) && res.error < 0) {
                r = res.error;
                res.msg[OPERATION_MSG_MAX - 1] = 0;
        } else {
                r = -EIO;
                snprintf(res.msg, sizeof(res.msg), "The worker process of the %s died unexpectedly.",
                         o->description);
        }

        /* Release the image locks before the caller can see the result. */
        operation_release_locks(o);
        if (r < 0) {
                log_info("The %s failed: %s", o->description, res.msg);
                (void) sd_bus_error_set_errnof(&error, r, "%s", res.msg);
                (void) sd_bus_reply_method_error(o->message, &error);
        } else {
                log_info("The %s finished.", o->description);
                free(o->tmp_name);
                o->tmp_name = NULL;
                (void) sd_bus_reply_method_return(o->message, NULL);
        }
        operation_free(o);
        return 0;
}

static _noreturn_ void worker_run(int msg_fd, pid_t parent, OperationWork work, void *userdata) {
        OperationResult res = {};
        int r;

        if (worker_child_setup(parent) < 0)
                _exit(EXIT_FAILURE);

        r = work(userdata, res.msg, sizeof(res.msg));
        if (r < 0) {
                res.error = r;
                if (!res.msg[0])
                        snprintf(res.msg, sizeof(res.msg), "%s", strerror(-r));
                (void) send(msg_fd, &res, sizeof(res), MSG_NOSIGNAL);
                _exit(EXIT_FAILURE);
        }
        _exit(EXIT_SUCCESS);
}

int operation_start(Manager *m, sd_bus_message *message, const char *description, const char *tmp_name,
                    LockFile locks[static 2], OperationWork work, void *userdata) {
        _cleanup_close_pair_ int pair[2] = EBADF_PAIR;
        Operation *o;
        pid_t parent = getpid(), pid;
        int pidfd = -EBADF, r;

        o = calloc(1, sizeof(Operation));
        if (!o) {
                lock_file_release(&locks[0]);
                lock_file_release(&locks[1]);
                return -ENOMEM;
        }
        *o = (Operation) {
                .pidfd = -EBADF,
                .msg_fd = -EBADF,
                .locks = { locks[0], locks[1] },
        };
        locks[0] = locks[1] = (LockFile) LOCK_FILE_NULL;
        o->description = strdup(description);
        o->tmp_name = tmp_name ? strdup(tmp_name) : NULL;
        if (!o->description || (tmp_name && !o->tmp_name)) {
                operation_free(o);
                return -ENOMEM;
        }

        if (socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0, pair) < 0) {
                r = -errno;
                operation_free(o);
                return r;
        }

        /* berthd is single-threaded, so forking without exec is safe. */
        pid = clone_with_flags(CLONE_PIDFD, -EBADF, &pidfd);
        if (pid < 0) {
                operation_free(o);
                return pid;
        }
        if (pid == 0) {
                pair[0] = safe_close(pair[0]);
                worker_run(pair[1], parent, work, userdata);
        }

        o->pid = pid;
        o->pidfd = pidfd;
        o->msg_fd = TAKE_FD(pair[0]);
        r = sd_event_add_io(m->event, &o->source, o->pidfd, EPOLLIN, on_worker_exit, o);
        if (r < 0) {
                operation_free(o);
                return r;
        }

        o->message = sd_bus_message_ref(message);
        o->manager = m;
        o->next = m->operations;
        if (m->operations)
                m->operations->prev = o;
        m->operations = o;
        m->n_operations++;
        log_info("Started the %s (worker PID %i).", description, (int) pid);
        return 0;
}
