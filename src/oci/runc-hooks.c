/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fd-util.h"
#include "log.h"
#include "oci-config.h"
#include "path-util.h"
#include "process-util.h"
#include "runc-hooks.h"
#include "string-util.h"

/* what a hook's stdin holds: the state JSON exactly as "berth-runc state" prints it */
static int state_memfd(const Container *c, ContainerStatus s) {
        _cleanup_free_ char *json = container_state_json_as(c, s, RUNC_STATE_JSON_FLAGS);
        int fd;

        if (!json)
                return log_oom();
        fd = oci_state_memfd(json);
        if (fd < 0)
                return log_error_errno(fd, "Failed to prepare the state for the hooks: %m");
        return fd;
}

typedef struct InContainer {
        const OciHooks *hooks;
        const char *rootfs;
        int pidfd;
        int mask;
        int state_fd;
} InContainer;

/* In a child of ours (fork_collect()): join the init's namespaces, keep the host's root,
 * run the createContainer hooks; what goes to 'fd' is the error, nothing on success.
 * runc runs these hooks in its init before pivot_root, where the runtime's paths still
 * resolve (runtime-spec: "path MUST resolve in the runtime namespace"); berth's init has
 * pivoted by now, so the root is the host's, opened before setns() moves us. */
static int container_hooks_child(void *userdata, int fd) {
        InContainer *x = userdata;
        _cleanup_close_ int root = open("/", O_PATH|O_DIRECTORY|O_CLOEXEC);
        _cleanup_free_ char *error = NULL;
        int r;

        if (root < 0 || setns(x->pidfd, x->mask) < 0 || fchdir(root) < 0 || chroot(".") < 0) {
                dprintf(fd, "Failed to enter the container's namespaces for the createContainer hooks: %s", strerror(errno));
                return 0;
        }
        (void) chdir(x->rootfs);        /* runc's working directory for them */
        r = oci_hooks_run(x->hooks, OCI_HOOK_CREATE_CONTAINER, x->state_fd, &error);
        if (r < 0)
                dprintf(fd, "%s", error ?: strerror(-r));
        return 0;
}

static int run_in_container(const RuncHooks *x, int pidfd, int state_fd) {
        InContainer in = {
                .hooks = x->hooks,
                .rootfs = x->record->rootfs,
                .pidfd = pidfd,
                .state_fd = state_fd,
        };
        _cleanup_free_ char *error = NULL;
        int r;

        if (!oci_hooks_has(x->hooks, OCI_HOOK_CREATE_CONTAINER))
                return 0;
        r = namespaces_differing(x->record->pid, &in.mask);
        if (r < 0)
                return log_error_errno(r, "Failed to find the container's namespaces: %m");
        r = fork_collect(container_hooks_child, &in, 4096 + 1024, -1, &error, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to run the createContainer hooks: %m");
        if (!isempty(error))
                return log_error_errno(SYNTHETIC_ERRNO(EPROTO), "%s", error);
        return 0;
}

static int run_here(const OciHooks *h, OciHookPoint p, int state_fd) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = oci_hooks_run(h, p, state_fd, &error);
        if (r == -ENOMEM && !error)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "%s", error ?: "hook failed");
        return 0;
}

int runc_hooks_creating(void *userdata, pid_t pid, int pidfd, int *ret_state_fd) {
        RuncHooks *x = userdata;
        _cleanup_close_ int fd = -EBADF;
        int r;

        *ret_state_fd = -EBADF;
        x->started = true;
        x->record->pid = pid;
        x->record->pid_start = process_start_time(pid, NULL);

        fd = state_memfd(x->record, STATUS_CREATING);
        if (fd < 0)
                return fd;
        /* runc's order: prestart (deprecated) at the createRuntime point, before it */
        r = run_here(x->hooks, OCI_HOOK_PRESTART, fd);
        if (r >= 0)
                r = run_here(x->hooks, OCI_HOOK_CREATE_RUNTIME, fd);
        if (r >= 0)
                r = run_in_container(x, pidfd, fd);
        if (r < 0)
                return r;
        if (oci_hooks_has(x->hooks, OCI_HOOK_START_CONTAINER)) {
                *ret_state_fd = state_memfd(x->record, STATUS_CREATED);
                if (*ret_state_fd < 0)
                        return *ret_state_fd;
        }
        return 0;
}

int runc_hooks_save(const char *dir, const OciHooks *h) {
        _cleanup_free_ char *json = NULL;
        _cleanup_close_ int dfd = -EBADF;
        int r;

        if (!oci_hooks_has(h, OCI_HOOK_POSTSTART) && !oci_hooks_has(h, OCI_HOOK_POSTSTOP))
                return 0;
        json = oci_hooks_to_json(h, 1U << OCI_HOOK_POSTSTART | 1U << OCI_HOOK_POSTSTOP);
        if (!json)
                return log_oom();
        dfd = open(dir, O_DIRECTORY|O_CLOEXEC);
        r = dfd < 0 ? -errno : write_file_atomic_at(dfd, RUNC_HOOKS_FILE, json, 0600);
        if (r < 0)
                return log_error_errno(r, "Failed to write %s/" RUNC_HOOKS_FILE ": %m", dir);
        return 0;
}

int runc_hooks_load(const Container *c, OciHooks *ret) {
        _cleanup_free_ char *path = path_join(c->dir, RUNC_HOOKS_FILE), *text = NULL, *error = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t size;
        int r;

        *ret = (OciHooks) {};
        if (!path)
                return log_oom();
        fd = open(path, O_RDONLY|O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
                return 0;
        if (fd < 0)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        r = read_full_fd(fd, 16 * 1024 * 1024, &text, &size);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", path);
        r = oci_hooks_parse(text, size, ret, &error);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "Corrupt %s: %s", path, strna(error));
        return 0;
}

int runc_hooks_poststart(const Container *c, const OciHooks *h) {
        _cleanup_close_ int fd = -EBADF;

        if (!oci_hooks_has(h, OCI_HOOK_POSTSTART))
                return 0;
        fd = state_memfd(c, container_status(c));
        if (fd < 0)
                return fd;
        return run_here(h, OCI_HOOK_POSTSTART, fd);
}

void runc_hooks_poststop(const Container *c, const OciHooks *h) {
        _cleanup_close_ int fd = -EBADF;

        if (!oci_hooks_has(h, OCI_HOOK_POSTSTOP))
                return;
        fd = state_memfd(c, STATUS_STOPPED);
        if (fd < 0)
                return;
        /* runtime-spec: a failing poststop hook is a warning, the remaining hooks and the
         * lifecycle go on (runc stops at the first, and delete drops its error) */
        for (size_t i = 0; i < h->n[OCI_HOOK_POSTSTOP]; i++) {
                _cleanup_free_ char *error = NULL;
                int r = oci_hooks_run_one(h, OCI_HOOK_POSTSTOP, i, fd, &error);

                if (r < 0)
                        log_warning("%s", error ?: strerror(-r));
        }
}
