/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fd-util.h"
#include "importd.h"
#include "log.h"
#include "string-util.h"

static const char *const transfer_type_table[_TRANSFER_TYPE_MAX] = {
        [TRANSFER_IMPORT_TAR] = "import-tar",
        [TRANSFER_IMPORT_RAW] = "import-raw",
        [TRANSFER_IMPORT_FS] = "import-fs",
        [TRANSFER_EXPORT_TAR] = "export-tar",
        [TRANSFER_EXPORT_RAW] = "export-raw",
        [TRANSFER_PULL_TAR] = "pull-tar",
        [TRANSFER_PULL_RAW] = "pull-raw",
        [TRANSFER_IMPORT_OCI] = "import-oci",
        [TRANSFER_PULL_OCI] = "pull-oci",
};

/* The worker's verb for each type. */
static const char *const worker_verb_table[_TRANSFER_TYPE_MAX] = {
        [TRANSFER_IMPORT_TAR] = "tar",
        [TRANSFER_IMPORT_RAW] = "raw",
        [TRANSFER_IMPORT_FS] = "fs",
        [TRANSFER_EXPORT_TAR] = "export-tar",
        [TRANSFER_EXPORT_RAW] = "export-raw",
        [TRANSFER_PULL_TAR] = "pull-tar",
        [TRANSFER_PULL_RAW] = "pull-raw",
        [TRANSFER_IMPORT_OCI] = "oci",
        [TRANSFER_PULL_OCI] = "pull-oci",
};

const char *transfer_type_to_string(TransferType t) {
        return t >= 0 && t < _TRANSFER_TYPE_MAX ? transfer_type_table[t] : NULL;
}

static bool transfer_is_export(const Transfer *t) {
        return t->type == TRANSFER_EXPORT_TAR || t->type == TRANSFER_EXPORT_RAW;
}

int transfer_new(Manager *m, TransferType type, Transfer **ret) {
        _cleanup_(transfer_freep) Transfer *t = NULL;
        char path[128];

        if (m->n_transfers >= TRANSFERS_MAX)
                return -EUSERS;
        t = calloc(1, sizeof(Transfer));
        if (!t)
                return -ENOMEM;
        t->manager = m;
        t->type = type;
        t->io_fd = -EBADF;
        t->log_fd = -EBADF;
        /* Ids are never reused while berth-importd runs (importd's are not either). */
        t->id = ++m->last_id;
        snprintf(path, sizeof(path), IMPORT1_TRANSFER_PREFIX "/_%" PRIu32, t->id);
        t->object_path = strdup(path);
        if (!t->object_path)
                return -ENOMEM;
        t->next = m->transfers;
        if (t->next)
                t->next->prev = t;
        m->transfers = t;
        m->n_transfers++;
        *ret = TAKE_PTR(t);
        return 0;
}

Transfer *transfer_free(Transfer *t) {
        if (!t)
                return NULL;
        if (t->prev)
                t->prev->next = t->next;
        else if (t->manager->transfers == t)
                t->manager->transfers = t->next;
        if (t->next)
                t->next->prev = t->prev;
        t->manager->n_transfers--;

        if (t->pid > 0) {
                /* berth-importd is going away: the worker stops and cleans up (it also
                 * has PR_SET_PDEATHSIG). */
                (void) kill(t->pid, SIGTERM);
        }
        sd_event_source_disable_unref(t->child_source);
        sd_event_source_disable_unref(t->log_source);
        sd_event_source_disable_unref(t->kill_timer);
        safe_close(t->log_fd);
        safe_close(t->io_fd);
        free(t->object_path);
        free(t->remote);
        free(t->local);
        free(t->verify);
        free(t->format);
        free(t);
        return NULL;
}

Transfer *manager_find_transfer(Manager *m, uint32_t id) {
        for (Transfer *t = m->transfers; t; t = t->next)
                if (t->id == id)
                        return t;
        return NULL;
}

Transfer *manager_find_transfer_by_pid(Manager *m, pid_t pid) {
        for (Transfer *t = m->transfers; t; t = t->next)
                if (t->pid == pid)
                        return t;
        return NULL;
}

static void emit_log_line(Transfer *t, const char *line) {
        _cleanup_free_ char *safe = string_escape_controls(line);

        if (!safe)
                return;
        log_info("Transfer %" PRIu32 ": %s", t->id, safe);
        (void) sd_bus_emit_signal(t->manager->bus, t->object_path, IMPORT1_TRANSFER_INTERFACE, "LogMessage", "us",
                                  (uint32_t) LOG_INFO, safe);
}

/* Whole lines become LogMessage signals; an overlong one is cut at the buffer's size. */
static void flush_log_lines(Transfer *t, bool all) {
        char *start = t->log_buf, *nl;

        while ((nl = memchr(start, '\n', t->log_len - (size_t) (start - t->log_buf)))) {
                *nl = 0;
                if (*start)
                        emit_log_line(t, start);
                start = nl + 1;
        }
        t->log_len -= (size_t) (start - t->log_buf);
        memmove(t->log_buf, start, t->log_len);
        if (t->log_len > 0 && (all || t->log_len >= sizeof(t->log_buf) - 1)) {
                t->log_buf[t->log_len] = 0;
                emit_log_line(t, t->log_buf);
                t->log_len = 0;
        }
}

static int drain_log(Transfer *t) {
        ssize_t n;

        for (;;) {
                n = read(t->log_fd, t->log_buf + t->log_len, sizeof(t->log_buf) - 1 - t->log_len);
                if (n < 0)
                        return errno == EAGAIN || errno == EINTR ? 0 : -errno;
                if (n == 0)
                        return -EPIPE;
                t->log_len += (size_t) n;
                flush_log_lines(t, false);
        }
}

static int on_log(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Transfer *t = userdata;

        if (drain_log(t) < 0) {
                flush_log_lines(t, true);
                t->log_source = sd_event_source_disable_unref(t->log_source);
                t->log_fd = safe_close(t->log_fd);
        }
        return 0;
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        Transfer *t = userdata;
        const char *result;

        /* Lines still in the pipe belong before the end of the transfer. */
        if (t->log_fd >= 0) {
                (void) drain_log(t);
                flush_log_lines(t, true);
        }
        t->pid = 0;
        if (t->cancelled)
                result = "canceled";
        else if (si->si_code == CLD_EXITED && si->si_status == 0)
                result = "done";
        else
                result = "failed";
        log_info("Transfer %" PRIu32 " (%s %s) %s.", t->id, transfer_type_to_string(t->type),
                 t->remote ?: strempty(t->local), result);
        (void) sd_bus_emit_signal(t->manager->bus, IMPORT1_MANAGER_PATH, IMPORT1_MANAGER_INTERFACE,
                                  "TransferRemoved", "uos", t->id, t->object_path, result);
        transfer_free(t);
        return 0;
}

static int build_argv(const Transfer *t, char *argv[static 16]) {
        Manager *m = t->manager;
        size_t n = 0;

        argv[n++] = m->worker;
        argv[n++] = strjoin("--pool=", m->pool);
        argv[n++] = strjoin("--name-lock-dir=", m->name_lock_dir);
        if (t->force)
                argv[n++] = strdup("--force");
        if (t->read_only)
                argv[n++] = strdup("--read-only");
        if (t->format)
                argv[n++] = strjoin("--format=", t->format);
        if (t->verify)
                argv[n++] = strjoin("--verify=", t->verify);
        if (m->keyring)
                argv[n++] = strjoin("--keyring=", m->keyring);
        argv[n++] = (char *) worker_verb_table[t->type];
        if (t->remote)
                argv[n++] = t->remote;
        argv[n++] = t->local ?: (char *) "";
        argv[n] = NULL;
        for (size_t k = 0; k < n; k++)
                if (!argv[k])
                        return -ENOMEM;
        return 0;
}

static _noreturn_ void worker_exec(const Transfer *t, int log_write_fd, char **argv) {
        int null = open("/dev/null", O_RDWR|O_CLOEXEC);
        sigset_t all;

        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
        sigemptyset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, NULL);
        if (null < 0)
                _exit(126);
        if (dup2(transfer_is_export(t) ? null : (t->io_fd >= 0 ? t->io_fd : null), STDIN_FILENO) < 0 ||
            dup2(transfer_is_export(t) ? t->io_fd : null, STDOUT_FILENO) < 0 ||
            dup2(log_write_fd, STDERR_FILENO) < 0)
                _exit(126);
        (void) syscall(SYS_close_range, 3U, ~0U, 0U);
        if (setenv("NOTIFY_SOCKET", t->manager->notify_path, 1) < 0)
                _exit(126);
        (void) unsetenv("JOURNAL_STREAM");
        execv(argv[0], argv);
        fprintf(stderr, "Failed to execute %s: %m\n", argv[0]);
        _exit(127);
}

int transfer_start(Transfer *t) {
        _cleanup_close_pair_ int pipefd[2] = EBADF_PAIR;
        char *argv[16] = {};
        pid_t pid;
        int r;

        r = build_argv(t, argv);
        if (r >= 0 && pipe2(pipefd, O_CLOEXEC) < 0)
                r = -errno;
        if (r >= 0) {
                pid = fork();
                if (pid < 0)
                        r = -errno;
                else if (pid == 0)
                        worker_exec(t, pipefd[1], argv);
                else
                        t->pid = pid;
        }
        /* argv[1..] from strjoin/strdup: the verb, remote and local are borrowed. */
        for (size_t k = 1; argv[k]; k++)
                if (argv[k] != worker_verb_table[t->type] && argv[k] != t->remote && argv[k] != t->local &&
                    !streq(argv[k], ""))
                        free(argv[k]);
        if (r < 0)
                return r;

        t->io_fd = safe_close(t->io_fd);
        t->log_fd = TAKE_FD(pipefd[0]);
        (void) fd_nonblock(t->log_fd, true);
        r = sd_event_add_child(t->manager->event, &t->child_source, t->pid, WEXITED, on_child, t);
        if (r < 0)
                return r;
        r = sd_event_add_io(t->manager->event, &t->log_source, t->log_fd, EPOLLIN, on_log, t);
        if (r < 0)
                return r;
        /* Log lines before the exit, so LogMessage signals precede TransferRemoved. */
        (void) sd_event_source_set_priority(t->log_source, SD_EVENT_PRIORITY_NORMAL - 5);
        log_info("Transfer %" PRIu32 " (%s %s) started, worker PID %d.", t->id, transfer_type_to_string(t->type),
                 t->remote ?: strempty(t->local), (int) t->pid);
        return sd_bus_emit_signal(t->manager->bus, IMPORT1_MANAGER_PATH, IMPORT1_MANAGER_INTERFACE, "TransferNew",
                                  "uo", t->id, t->object_path);
}

static int on_kill_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Transfer *t = userdata;

        if (t->pid > 0) {
                log_warning("Transfer %" PRIu32 ": worker did not stop in time, killing it.", t->id);
                (void) kill(t->pid, SIGKILL);
        }
        return 0;
}

int transfer_cancel(Transfer *t) {
        int r;

        if (t->pid <= 0 || t->cancelled)
                return 0;
        t->cancelled = true;
        if (kill(t->pid, SIGTERM) < 0)
                return -errno;
        r = sd_event_add_time_relative(t->manager->event, &t->kill_timer, CLOCK_MONOTONIC,
                                       TRANSFER_KILL_TIMEOUT_USEC, 0, on_kill_timer, t);
        return r < 0 ? r : 0;
}
