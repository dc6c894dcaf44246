/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <systemd/sd-bus.h>

#include "macro.h"

/* A D-Bus call answered from a forked worker's output, without blocking the event loop.
 *
 * Whatever reads files of a machine or of an image on berthd's behalf can block for
 * ever: a machine's payload may mount a FUSE file system over its /etc and never answer,
 * and an image in the pool may sit on a stuck network or FUSE mount. Such reads run in a
 * worker; berthd keeps serving other calls, answers this one when the worker is done,
 * and SIGKILLs the worker and answers with a timeout error when it is not done in time.
 * The number of workers at once is bounded (BUS_WORKERS_MAX).
 *
 * A killed worker is reaped as soon as it is gone, which is not always at once: a request
 * a FUSE server has read but not answered holds the worker in an uninterruptible sleep,
 * SIGKILL or not, until that server answers or dies. Such a worker keeps its slot. */

typedef struct Manager Manager;
typedef struct BusWorker BusWorker;

#define BUS_WORKERS_MAX 32U
#define BUS_WORKER_OUTPUT_MAX (256U * 1024U)
#define BUS_WORKER_TIMEOUT_USEC (10ULL * 1000 * 1000)

/* In the worker: write the answer to out_fd; return 0 or a negative errno. */
typedef int (*BusWorkerFunc)(void *userdata, int out_fd);

/* What a worker is about: 'subject' names it in messages ("machine 'NAME'"), 'name' is
 * the machine's or image's name. */
typedef struct BusWorkerSubject {
        const char *subject;
        const char *name;
        uint64_t tag;          /* the caller's own, e.g. which machine of that name */
} BusWorkerSubject;

/* In berthd, once: r is the worker's result (negative errno, -ETIMEDOUT when it was
 * killed), buf/size what it wrote. Sends the reply (or error) to message. */
typedef int (*BusWorkerReply)(Manager *m, sd_bus_message *message, int r, const char *buf, size_t size,
                              const BusWorkerSubject *s);

/* Start f(userdata) in a worker (userdata is the worker's copy of the caller's memory, so
 * it may point to the stack); *s (copied) is passed to reply. Returns 1 when the call
 * will be answered later, or a negative errno (no worker started; with too many running
 * a LimitsExceeded error is set in 'error'). */
int bus_worker_start(Manager *m, sd_bus_message *message, BusWorkerFunc f, void *userdata,
                     uint64_t timeout_usec, BusWorkerReply reply, const BusWorkerSubject *s,
                     sd_bus_error *error);

/* Kill every worker (berthd is exiting); their calls are not answered. */
void bus_workers_free(Manager *m);

/* GetMachineOSRelease and GetImageOSRelease: f writes the pairs with strv_write_nul(). */
int bus_worker_start_os_release(Manager *m, sd_bus_message *message, BusWorkerFunc f, void *userdata,
                                BusWorkerReply reply, const BusWorkerSubject *s, sd_bus_error *error);
/* Sends the os-release reply or the error for r (see bus_worker_reply_error()). */
int bus_worker_reply_os_release(Manager *m, sd_bus_message *message, int r, const char *buf, size_t size,
                                const BusWorkerSubject *s);
/* The error for a worker's r: -ENOENT "... does not contain OS release information",
 * -ETIMEDOUT a Timeout error, else the errno. */
int bus_worker_reply_error(sd_bus_message *message, int r, const char *subject);

/* "KEY\0VALUE\0..." pairs: what the os-release workers write. */
int strv_write_nul(int fd, char **l);
int strv_from_nul(const char *buf, size_t size, char ***ret);
